package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// lb runs one lifeboat command line in-process.
func lb(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var o, e bytes.Buffer
	code = run(context.Background(), args, &o, &e)
	return code, o.String(), e.String()
}

type world struct {
	s3       *testenv.S3
	pg       *testenv.Postgres
	cfgPath  string
	stateDir string
	prefix   string
}

const bucket = "heroku-backups"

// newWorld starts a real S3 server and writes a config for app "shop".
func newWorld(t *testing.T, extra string) *world {
	w := &world{s3: testenv.StartS3(t), stateDir: t.TempDir(), prefix: "backups/shop/DATABASE_URL/"}
	w.s3.CreateBucket(t, bucket)
	creds := w.s3.WriteCredentialsFile(t, t.TempDir())
	w.cfgPath = filepath.Join(t.TempDir(), "lifeboat.yaml")
	cfg := fmt.Sprintf(`state_dir: %s
log_level: warn
apps:
  - name: shop
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      credentials_file: %s
      timeout: 5s
    download:
      concurrency: 4
      part_size: 1MiB
%s`, w.stateDir, bucket, w.prefix, w.s3.Endpoint, creds, extra)
	if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return w
}

func (w *world) key(ago time.Duration, gz bool) string {
	return w.prefix + filepath.Base(testenv.HerokuKey("shop", "DATABASE_URL", time.Now().UTC().Add(-ago), "UTC", gz))
}

var (
	dumpOnce  sync.Once
	dumpBytes []byte
	rowCounts map[string]int64
)

func sourceDump(t *testing.T) []byte {
	testenv.RequirePostgres(t)
	dumpOnce.Do(func() {
		p := testenv.StartPostgres(t)
		testenv.LoadHerokuLike(t, p, "shop", 3000)
		rowCounts = p.RowCounts(t, "shop")
		dumpBytes = p.Dump(t, "shop")
	})
	if dumpBytes == nil {
		t.Fatal("no source dump")
	}
	return dumpBytes
}

func TestArchivesFetchInspectEndToEnd(t *testing.T) {
	w := newWorld(t, "")
	d := sourceDump(t)
	good := w.key(2*time.Hour, true)
	old := w.key(26*time.Hour, true)
	w.s3.Put(t, bucket, old, testenv.Gzip(t, d))
	w.s3.Put(t, bucket, good, testenv.Gzip(t, d), testenv.WithSHA256Checksum())
	broken := w.key(time.Hour, true)
	w.s3.Put(t, bucket, broken, []byte("<Error><Code>InternalError</Code></Error>"))
	zero := w.key(30*time.Minute, true)
	w.s3.Put(t, bucket, zero, nil)
	w.s3.Put(t, bucket, good+".sha256", []byte("not-a-digest\n"))

	code, out, errOut := lb(t, "--config", w.cfgPath, "archives", "--json")
	if code != 0 {
		t.Fatalf("archives exit %d: %s", code, errOut)
	}
	var listing struct {
		Newest     string `json:"newest"`
		Candidates []struct {
			Key        string `json:"key"`
			Status     string `json:"status"`
			SkipReason string `json:"skip_reason"`
			Newest     bool   `json:"newest"`
			AgeSeconds int64  `json:"age_seconds"`
		} `json:"candidates"`
		Warnings []string `json:"warnings"`
	}
	if err := json.Unmarshal([]byte(out), &listing); err != nil {
		t.Fatalf("archives --json is not one JSON document: %v\n%s", err, out)
	}
	if listing.Newest != good {
		t.Fatalf("newest = %s, want %s", listing.Newest, good)
	}
	if !strings.Contains(strings.Join(listing.Warnings, "\n"), broken) || !strings.Contains(errOut, "WARNING") {
		t.Fatalf("the newer broken archive was passed over silently: %v / %s", listing.Warnings, errOut)
	}

	// Human output marks the pick and explains skips.
	code, out, _ = lb(t, "--config", w.cfgPath, "archives")
	if code != 0 || !strings.Contains(out, "* newest candidate (not yet read to its end; fetch verifies it): "+good) || !strings.Contains(out, "zero-byte") {
		t.Fatalf("archives human output:\n%s", out)
	}

	// The sidecar holds garbage, which is not a digest: it is ignored and the
	// S3 SHA-256 decides.
	// The newer broken objects make fetch exit 1 after fetching the newest
	// valid archive: the backup job needs a look.
	code, out, errOut = lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != exitFailed || !strings.Contains(errOut, "newer objects in the bucket could not be used") {
		t.Fatalf("fetch exit %d: %s", code, errOut)
	}
	var fr archive.FetchResult
	if err := json.Unmarshal([]byte(out), &fr); err != nil {
		t.Fatal(err)
	}
	if fr.Status != archive.FetchFetched || fr.Key != good || fr.Entry == nil {
		t.Fatalf("fetch result %+v", fr)
	}
	if !strings.Contains(strings.Join(fr.Entry.Verified, ","), "s3-sha256") {
		t.Fatalf("verified = %v", fr.Entry.Verified)
	}
	cached, err := os.ReadFile(fr.Entry.Path)
	if err != nil || !bytes.Equal(cached, d) {
		t.Fatalf("cached dump differs from the pg_dump output (err %v)", err)
	}

	// inspect the cached file: the tables with data are the source's tables.
	code, out, errOut = lb(t, "inspect", "--json", fr.Entry.Path)
	if code != 0 {
		t.Fatalf("inspect: %s", errOut)
	}
	var ins inspectResult
	if err := json.Unmarshal([]byte(out), &ins); err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tr := range ins.Summary.DataTables {
		got[tr.Schema+"."+tr.Name] = true
	}
	for table := range rowCounts {
		if !got[table] {
			t.Errorf("inspect does not list %s among the tables with data (has %v)", table, got)
		}
	}
	if ins.Header.DatabaseName != "shop" {
		t.Errorf("database name %q", ins.Header.DatabaseName)
	}
	// inspect --key streams from S3 and unwraps gzip.
	code, out, errOut = lb(t, "--config", w.cfgPath, "inspect", "--key", old)
	if code != 0 || !regexp.MustCompile(`wrapped in:\s+gzip`).MatchString(out) {
		t.Fatalf("inspect --key: %d %s %s", code, out, errOut)
	}

	// Clean up the bucket; a second fetch has nothing to do.
	for _, k := range []string{broken, zero} {
		if _, err := w.s3.Client.DeleteObject(context.Background(), &s3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "fetch")
	if code != 0 || !strings.Contains(out, "already cached") {
		t.Fatalf("second fetch: %d %s", code, out)
	}
	// Once fetched, the pick is known good to its end.
	code, out, _ = lb(t, "--config", w.cfgPath, "archives")
	if code != 0 || !strings.Contains(out, "* newest valid archive (verified, in the local cache): "+good) || !strings.Contains(out, "verified") {
		t.Fatalf("archives after fetch:\n%s", out)
	}

	// Another run holds the lock: exit 75, naming the holder.
	cfg, _ := config.Load(w.cfgPath)
	l, err := lock.Acquire(filepath.Join(cfg.Apps[0].StateDir, "lock"), "lifeboat refresh (test)")
	if err != nil {
		t.Fatal(err)
	}
	code, _, errOut = lb(t, "--config", w.cfgPath, "fetch")
	l.Release()
	if code != exitLocked || !strings.Contains(errOut, "lifeboat refresh (test)") {
		t.Fatalf("locked: exit %d, %s", code, errOut)
	}

	// S3 goes away: exit 1, and the message names what the cache holds.
	w.s3.Stop(t)
	code, _, errOut = lb(t, "--config", w.cfgPath, "fetch")
	if code != exitFailed || !strings.Contains(errOut, "unreachable") || !strings.Contains(errOut, "newest archive in the local cache: "+good) {
		t.Fatalf("outage: exit %d, %s", code, errOut)
	}
}

func TestBadInputExitCodes(t *testing.T) {
	w := newWorld(t, "")
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--config", w.cfgPath, "fetch", "--app", "nope"}, exitUsage, "configured: shop"},
		{[]string{"--config", "/nonexistent.yaml", "archives"}, exitUsage, "no config file"},
		{[]string{"--config", w.cfgPath, "fetch", "--bogus"}, exitUsage, "unknown flag"},
		{[]string{"inspect"}, exitUsage, "give either a FILE or --key"},
		{[]string{"--config", w.cfgPath, "archives"}, exitFailed, "no valid archive"},
		{[]string{"--config", w.cfgPath, "fetch", "--key", "backups/none.dump"}, exitFailed, "no object"},
		{[]string{"inspect", w.cfgPath}, exitFailed, "not a pg_dump custom-format archive"},
	}
	for _, c := range cases {
		code, _, errOut := lb(t, c.args...)
		if code != c.code || !strings.Contains(errOut, c.want) {
			t.Errorf("%v: exit %d (want %d), stderr %q (want %q)", c.args, code, c.code, errOut, c.want)
		}
	}
	// Bucket missing altogether.
	bad := strings.Replace(mustRead(t, w.cfgPath), "bucket: "+bucket, "bucket: no-such-bucket", 1)
	os.WriteFile(w.cfgPath, []byte(bad), 0o600)
	code, _, errOut := lb(t, "--config", w.cfgPath, "fetch")
	if code != exitFailed || !strings.Contains(errOut, "bucket not found") {
		t.Errorf("missing bucket: %d %s", code, errOut)
	}
}

func mustRead(t *testing.T, p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// buildBinary builds lifeboat once for tests that need a real process.
var (
	binOnce sync.Once
	binPath string
	binErr  error
)

func lifeboatBinary(t *testing.T) string {
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "lifeboat-bin")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "lifeboat")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			binErr = fmt.Errorf("%v: %s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

func TestKilledFetchResumes(t *testing.T) {
	// 4 MiB of archive at 512 KiB/s: killed after ~3s, about half is on disk.
	w := newWorld(t, "      bandwidth_limit: 512KiB\n")
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "big", 40000)
	big := p.Dump(t, "big", "-Z0")
	if len(big) < 4<<20 {
		t.Fatalf("fixture too small to show resuming: %d bytes", len(big))
	}
	key := w.key(time.Hour, false)
	w.s3.Put(t, bucket, key, big)

	bin := lifeboatBinary(t)
	cmd := exec.Command(bin, "--config", w.cfgPath, "fetch")
	// One part at a time, so that whole parts are done when it is killed.
	cmd.Env = append(os.Environ(), "LIFEBOAT_APP_DOWNLOAD_CONCURRENCY=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(3500 * time.Millisecond)
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()

	cfg, _ := config.Load(w.cfgPath)
	c := &archive.Cache{Dir: cfg.Apps[0].Cache.Dir}
	if _, err := c.Newest(); err == nil {
		t.Fatal("a killed fetch left something that is taken for an archive")
	}
	// Now without the limit, so it finishes quickly.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(mustRead(t, w.cfgPath), "bandwidth_limit: 512KiB", "bandwidth_limit: 0", 1)), 0o600)
	code, out, errOut := lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != 0 {
		t.Fatalf("fetch after kill: %s", errOut)
	}
	var fr archive.FetchResult
	json.Unmarshal([]byte(out), &fr)
	if fr.Download.ResumedBytes < 1<<20 {
		t.Fatalf("resumed only %d bytes after a 3.5s download at 512 KiB/s (stderr of the killed run: %s)", fr.Download.ResumedBytes, stderr.String())
	}
	if fr.Download.ResumedBytes+fr.Download.FetchedBytes != int64(len(big)) {
		t.Fatalf("resumed %d + fetched %d != %d", fr.Download.ResumedBytes, fr.Download.FetchedBytes, len(big))
	}
	if got, _ := os.ReadFile(fr.Entry.Path); !bytes.Equal(got, big) {
		t.Fatal("the resumed archive differs from the source")
	}
}

func TestDiskFullKeepsCache(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to mount a small tmpfs")
	}
	w := newWorld(t, "")
	d := sourceDump(t)
	small := w.key(3*time.Hour, true)
	w.s3.Put(t, bucket, small, testenv.Gzip(t, d))
	// A cache on a tmpfs just big enough for one archive.
	mnt := t.TempDir()
	size := 5*len(d)/2 + 64<<10
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0700", size), "tmpfs", mnt).CombinedOutput(); err != nil {
		t.Skipf("cannot mount tmpfs: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", mnt).Run() })
	os.WriteFile(w.cfgPath, []byte(mustRead(t, w.cfgPath)+"    cache:\n      dir: "+mnt+"\n"), 0o600)
	if code, _, errOut := lb(t, "--config", w.cfgPath, "fetch"); code != 0 {
		t.Fatalf("first fetch: %s", errOut)
	}
	// A bigger, newer archive does not fit next to it.
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "shop", 20000)
	w.s3.Put(t, bucket, w.key(time.Hour, false), p.Dump(t, "shop", "-Z0"))
	code, _, errOut := lb(t, "--config", w.cfgPath, "fetch")
	if code != exitFailed || !strings.Contains(errOut, "not enough disk space") {
		t.Fatalf("disk full: exit %d, %s", code, errOut)
	}
	c := &archive.Cache{Dir: mnt}
	if e, err := c.Newest(); err != nil || e.Key != small {
		t.Fatalf("cache after disk full: %v %v", e.Key, err)
	}
}
