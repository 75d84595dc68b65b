// Command demo runs Lifeboat end to end on this machine against local
// stand-ins for the real services: a MinIO server playing the S3 bucket that
// heroku-database-backups fills, and a throwaway Postgres cluster playing the
// Heroku database whose archives land there. It narrates each lifeboat
// command it runs. Start it with `make demo`, which installs what it needs.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func main() {
	bin := flag.String("lifeboat", "bin/lifeboat", "the lifeboat binary to demonstrate")
	dir := flag.String("dir", ".cache/demo", "where the demo keeps its config, state and servers")
	flag.Parse()
	d := newDemoT(*dir)
	code := demo(d, *bin)
	d.runCleanups()
	os.Exit(code)
}

const bucket = "heroku-backups"

func demo(t *demoT, bin string) (code int) {
	defer func() {
		if r := recover(); r != nil {
			if _, ok := r.(fatal); !ok {
				panic(r)
			}
			code = 1
		}
	}()
	abs, err := filepath.Abs(bin)
	if err != nil {
		t.Fatal(err)
	}
	bin = abs
	step("Starting a local S3 server (MinIO) to stand in for the backup bucket")
	s3 := testenv.StartS3(t)
	s3.CreateBucket(t, bucket)
	fmt.Printf("  %s, bucket %s\n", s3.Endpoint, bucket)

	step("Making real pg_dump archives of a Heroku-shaped database (schemas app, billing; extensions in heroku_ext)")
	pg := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, pg, "shop", 5000)
	counts := pg.RowCounts(t, "shop")
	fmt.Printf("  source database: %d tables, %d rows in app.accounts\n", len(counts), counts["app.accounts"])
	archiveBytes := pg.Dump(t, "shop", "--exclude-schema=heroku_ext")

	step("Uploading them under heroku-database-backups keys, with the usual clutter")
	prefix := "backups/shop/DATABASE_URL/"
	now := time.Now().UTC()
	key := func(ago time.Duration, gz bool) string {
		return prefix + filepath.Base(testenv.HerokuKey("shop", "DATABASE_URL", now.Add(-ago), "UTC", gz))
	}
	// Each archive's pg_dump header says it was captured when its name says.
	captured := func(ago time.Duration) []byte {
		return testenv.Gzip(t, testenv.WithCreatedAt(t, archiveBytes, now.Add(-ago).Truncate(time.Minute)))
	}
	legacy := prefix + now.Add(-50*time.Hour).Format("2006-01-02-15-04") + "-shop-DATABASE_URL.dump.gz"
	newest := key(time.Hour, true)
	gz := captured(time.Hour)
	sum := sha256.Sum256(gz)
	cutShort := key(30*time.Minute, true)
	zeroByte := key(10*time.Minute, true)
	uploads := []struct {
		key  string
		body []byte
		note string
	}{
		{legacy, captured(50 * time.Hour), "legacy (pre-2020) naming scheme"},
		{key(26*time.Hour, true), captured(26 * time.Hour), "yesterday's backup"},
		{newest, gz, "the newest good backup"},
		{newest + ".sha256", []byte(hex.EncodeToString(sum[:]) + "  " + filepath.Base(newest) + "\n"), "its checksum sidecar"},
		{cutShort, captured(30 * time.Minute)[:len(gz)/3], "a newer upload that was cut short"},
		{zeroByte, nil, "a zero-byte object from a failed upload"},
	}
	for _, u := range uploads {
		s3.Put(t, bucket, u.key, u.body, testenv.WithSHA256Checksum())
		fmt.Printf("  %-80s %s\n", strings.TrimPrefix(u.key, prefix), u.note)
	}

	step("Writing lifeboat.yaml")
	state := filepath.Join(t.dir, "state")
	os.RemoveAll(state)
	creds := s3.WriteCredentialsFile(t, t.TempDir())
	cfg := filepath.Join(t.dir, "lifeboat.yaml")
	body := fmt.Sprintf(`state_dir: %s
apps:
  - name: shop
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      credentials_file: %s
      timeout: 5s
    cache:
      keep: 2
    download:
      concurrency: 4
      part_size: 1MiB
`, state, bucket, prefix, s3.Endpoint, creds)
	if err := os.WriteFile(cfg, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("  %s\n", cfg)

	lb := func(want int, args ...string) {
		t.Helper()
		args = append([]string{"--config", cfg}, args...)
		fmt.Printf("\n$ lifeboat %s\n", strings.Join(args[2:], " "))
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stdout
		err := cmd.Run()
		got := 0
		if ee, ok := err.(*exec.ExitError); ok {
			got = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		fmt.Printf("(exit %d)\n", got)
		if got != want {
			t.Fatalf("lifeboat %s exited %d, expected %d", strings.Join(args[2:], " "), got, want)
		}
	}
	step("Lifeboat: what is in the bucket, and which archive would it pick?")
	lb(0, "config", "check")
	lb(0, "archives")
	step("Lifeboat: fetch the newest valid archive, verified, into the local cache")
	fmt.Println("  (the cut-short upload looks like an archive until it is read to the end: fetch")
	fmt.Println("   falls back to the newest one that verifies, and exits 1 so that someone looks)")
	lb(1, "fetch")
	step("Someone removes the failed uploads; fetch has nothing left to do")
	for _, k := range []string{cutShort, zeroByte} {
		if _, err := s3.Client.DeleteObject(t.Context(), &awss3.DeleteObjectInput{Bucket: aws.String(bucket), Key: aws.String(k)}); err != nil {
			t.Fatal(err)
		}
	}
	cached, _ := filepath.Glob(filepath.Join(state, "shop", "archives", "*.dump"))
	if len(cached) != 1 {
		t.Fatalf("expected one cached archive, found %v", cached)
	}
	lb(0, "inspect", cached[0])
	lb(0, "fetch")
	step("S3 goes down: fetch says so, and names what the VPS already has")
	s3.Stop(t)
	lb(1, "fetch")

	step("Done")
	fmt.Printf("  The verified archive is %s\n  Config and state are under %s\n", cached[0], t.dir)
	return 0
}

func step(s string) { fmt.Printf("\n==> %s\n", s) }

// demoT lets the demo reuse the test environment's helpers (which take a
// testing.TB) outside of `go test`. Only the methods those helpers call are
// implemented; the embedded nil TB is never reached.
type demoT struct {
	testing.TB
	dir      string
	cleanups []func()
	ctx      context.Context
	cancel   context.CancelFunc
}

type fatal struct{}

func newDemoT(dir string) *demoT {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
	abs, _ := filepath.Abs(dir)
	ctx, cancel := context.WithCancel(context.Background())
	return &demoT{dir: abs, ctx: ctx, cancel: cancel}
}

func (d *demoT) Helper()                         {}
func (d *demoT) Name() string                    { return "demo" }
func (d *demoT) Context() context.Context        { return d.ctx }
func (d *demoT) Cleanup(f func())                { d.cleanups = append(d.cleanups, f) }
func (d *demoT) Logf(format string, args ...any) { fmt.Fprintf(os.Stderr, "  "+format+"\n", args...) }
func (d *demoT) Log(args ...any)                 { fmt.Fprintln(os.Stderr, args...) }
func (d *demoT) Error(args ...any)               { fmt.Fprintln(os.Stderr, append([]any{"demo:"}, args...)...) }
func (d *demoT) Errorf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "demo: "+format+"\n", args...)
}
func (d *demoT) Fatal(args ...any) { d.Error(args...); panic(fatal{}) }
func (d *demoT) Fatalf(format string, args ...any) {
	d.Errorf(format, args...)
	panic(fatal{})
}
func (d *demoT) TempDir() string {
	p, err := os.MkdirTemp(d.dir, "tmp-")
	if err != nil {
		d.Fatal(err)
	}
	// The local Postgres runs as the postgres user when we are root.
	os.Chmod(p, 0o755)
	d.Cleanup(func() { os.RemoveAll(p) })
	return p
}

func (d *demoT) runCleanups() {
	d.cancel()
	for i := len(d.cleanups) - 1; i >= 0; i-- {
		d.cleanups[i]()
	}
	d.cleanups = nil
}
