package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/jackc/pgx/v5"

	"github.com/lifeboat-dr/lifeboat/failover/capture"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/heroku/herokutest"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/web"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// captureWorld is a real Heroku-shaped source database, a real S3 server
// and a config whose app captures from the one into the other.
type captureWorld struct {
	s3       *testenv.S3
	pg       *testenv.Postgres
	counts   map[string]int64
	cfgPath  string
	stateDir string
	metrics  string
	urlFile  string
	prefix   string
}

const (
	captureApp    = "capshop"
	capturePW     = "pw-never-shown-9f2c"
	captureBucket = "capture-drop"
)

func newCaptureWorld(t *testing.T, s3Endpoint func(*testenv.S3) string) *captureWorld {
	testenv.RequirePostgresImage(t)
	w := &captureWorld{s3: testenv.StartS3(t), pg: testenv.StartPostgres(t), stateDir: t.TempDir(), metrics: t.TempDir(),
		prefix: "backups/capshop-prod/DATABASE_URL/"}
	w.s3.CreateBucket(t, captureBucket)
	testenv.LoadHerokuLike(t, w.pg, "shopdb", 2000)
	w.counts = w.pg.RowCounts(t, "shopdb")
	dir := t.TempDir()
	creds := w.s3.WriteCredentialsFile(t, dir)
	// Trust authentication ignores the password: it is there to be kept
	// out of every output.
	u := strings.Replace(w.pg.URL("shopdb"), "postgres@", "postgres:"+capturePW+"@", 1)
	w.urlFile = filepath.Join(dir, "database-url")
	if err := os.WriteFile(w.urlFile, []byte(u+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	endpoint := w.s3.Endpoint
	if s3Endpoint != nil {
		endpoint = s3Endpoint(w.s3)
	}
	w.cfgPath = filepath.Join(dir, "lifeboat.yaml")
	cfg := fmt.Sprintf(`state_dir: %s
log_level: warn
metrics:
  textfile_dir: %s
apps:
  - name: %s
    s3:
      bucket: %s
      prefix: %s
      endpoint: %s
      path_style: true
      credentials_file: %s
      timeout: 10s
    database:
      jobs: 2
    capture:
      source: pg_dump
      database_url_file: %s
      heroku_app: capshop-prod
      gzip: true
      part_size: 5MiB
`, w.stateDir, w.metrics, captureApp, captureBucket, w.prefix, endpoint, creds, w.urlFile)
	if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAppObjects(t, captureApp) })
	return w
}

// removeAppObjects removes the Docker objects a test made for app.
func removeAppObjects(t *testing.T, app string) {
	ctx := context.Background()
	eng, err := engine.New(ctx)
	if err != nil {
		return
	}
	defer eng.Close()
	cs, _ := eng.ListContainers(ctx, map[string]string{engine.LabelApp: app}, true)
	for _, c := range cs {
		eng.RemoveContainer(ctx, c.ID, true)
	}
	vs, _ := eng.ListVolumes(ctx, map[string]string{engine.LabelApp: app})
	for _, v := range vs {
		eng.RemoveVolume(ctx, v.Name)
	}
	ns, _ := eng.ListNetworks(ctx, map[string]string{engine.LabelApp: app})
	for _, n := range ns {
		eng.RemoveNetwork(ctx, n.Name)
	}
}

func captureContainers(t *testing.T) int {
	testenv.RequireDocker(t)
	ctx := context.Background()
	eng, err := engine.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	cs, err := eng.ListContainers(ctx, map[string]string{engine.LabelApp: captureApp, engine.LabelRole: capture.RoleCapture}, true)
	if err != nil {
		t.Fatal(err)
	}
	return len(cs)
}

func (w *captureWorld) objects(t *testing.T) []string {
	out, err := w.s3.Client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(captureBucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys
}

func (w *captureWorld) pendingUploads(t *testing.T) int {
	ups, err := w.s3.Client.ListMultipartUploads(context.Background(), &s3.ListMultipartUploadsInput{Bucket: aws.String(captureBucket)})
	if err != nil {
		t.Fatal(err)
	}
	return len(ups.Uploads)
}

func noSecret(t *testing.T, what string, texts ...string) {
	t.Helper()
	for _, s := range texts {
		if strings.Contains(s, capturePW) {
			t.Fatalf("%s shows the database password:\n%s", what, s)
		}
	}
}

type captureJSON struct {
	Outcome    string `json:"outcome"`
	Key        string `json:"key"`
	Size       int64  `json:"size"`
	SHA256     string `json:"sha256"`
	Sidecar    string `json:"sidecar"`
	DumpSize   int64  `json:"dump_size"`
	DataTables int    `json:"data_tables"`
	Error      string `json:"error"`
	Info       struct {
		ServerVersion string `json:"server_version"`
		Image         string `json:"image"`
	} `json:"source_info"`
}

// TestCaptureFetchRestoreRoundTrip is the proof: a real Heroku-shaped
// database → capture → fetch → restore gives the exact row counts.
func TestCaptureFetchRestoreRoundTrip(t *testing.T) {
	w := newCaptureWorld(t, nil)
	code, out, errOut := lb(t, "--config", w.cfgPath, "capture", "--json")
	if code != 0 {
		t.Fatalf("capture exit %d:\n%s\n%s", code, out, errOut)
	}
	noSecret(t, "capture", out, errOut)
	var res captureJSON
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("capture --json: %v\n%s", err, out)
	}
	keyRE := regexp.MustCompile(`^backups/capshop-prod/DATABASE_URL/\d{4}-\d\d-\d\d_\d\d-\d\d_UTC__capshop-prod_DATABASE_URL\.dump\.gz$`)
	if res.Outcome != "captured" || !keyRE.MatchString(res.Key) || res.DataTables < len(w.counts) || !strings.HasPrefix(res.Info.Image, "postgres:15") {
		t.Fatalf("capture result %+v", res)
	}
	obj := w.s3.Get(t, captureBucket, res.Key)
	sum := sha256.Sum256(obj)
	if int64(len(obj)) != res.Size || hex.EncodeToString(sum[:]) != res.SHA256 {
		t.Fatalf("object is %d bytes sha256 %x; capture said %d, %s", len(obj), sum, res.Size, res.SHA256)
	}
	side := string(w.s3.Get(t, captureBucket, res.Key+".sha256"))
	if side != res.SHA256+"  "+filepath.Base(res.Key)+"\n" {
		t.Fatalf("sidecar %q", side)
	}
	if captureContainers(t) != 0 {
		t.Fatal("the pg_dump container was left behind")
	}

	// fetch picks it (the sidecar and the part checksums verify), restore
	// gives the source's exact row counts.
	code, out, errOut = lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != 0 || !strings.Contains(out, res.Key) {
		t.Fatalf("fetch exit %d:\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(out, "sidecar-sha256") {
		t.Fatalf("fetch did not check the sidecar:\n%s", out)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "restore", "--json")
	if code != 0 {
		t.Fatalf("restore exit %d:\n%s\n%s", code, out, errOut)
	}
	var rr struct {
		Generation struct {
			Tables []struct {
				Schema, Name string
				Rows         int64
			} `json:"tables"`
		} `json:"generation"`
	}
	if err := json.Unmarshal([]byte(out), &rr); err != nil {
		t.Fatal(err)
	}
	got := map[string]int64{}
	for _, tr := range rr.Generation.Tables {
		got[tr.Schema+"."+tr.Name] = tr.Rows
	}
	for table, n := range w.counts {
		if got[table] != n {
			t.Fatalf("restored %s has %d rows, the source %d (all: %v)", table, got[table], n, got)
		}
	}

	// The run is recorded, measured and checked.
	prom := mustRead(t, filepath.Join(w.metrics, "lifeboat_"+captureApp+".prom"))
	for _, want := range []string{
		`lifeboat_last_run_success{app="capshop",job="capture"} 1`,
		fmt.Sprintf(`lifeboat_capture_size_bytes{app="capshop",source="pg_dump"} %d`, res.Size),
		`lifeboat_capture_last_success_timestamp_seconds{app="capshop",source="pg_dump"}`,
	} {
		if !strings.Contains(prom, want) {
			t.Fatalf("metrics lack %s:\n%s", want, prom)
		}
	}
	_, out, _ = lb(t, "--config", w.cfgPath, "check", "--json")
	var chk struct {
		Findings []struct {
			Name   string
			OK     bool
			Detail string
		}
	}
	json.Unmarshal([]byte(out), &chk)
	found := false
	for _, f := range chk.Findings {
		if f.Name == "last capture" {
			found = f.OK && strings.Contains(f.Detail, res.Key)
		}
	}
	if !found {
		t.Fatalf("check does not report the last capture:\n%s", out)
	}
	runs, _ := filepath.Glob(filepath.Join(w.stateDir, captureApp, "runs", "capture-*.json"))
	if len(runs) != 1 {
		t.Fatalf("run records %v", runs)
	}
	noSecret(t, "the run record", mustRead(t, runs[0]), prom)

	// Another capture in the same minute would reuse the name: the
	// existing archive is never replaced.
	code, out, errOut = lb(t, "--config", w.cfgPath, "capture", "--json")
	var again captureJSON
	json.Unmarshal([]byte(out), &again)
	if again.Key == res.Key {
		if code != exitFailed || !strings.Contains(errOut, "exists already") {
			t.Fatalf("a second capture to the same key: exit %d, %s", code, errOut)
		}
	} else if code != 0 {
		t.Fatalf("a second capture a minute later: exit %d, %s", code, errOut)
	}
	if got := w.s3.Get(t, captureBucket, res.Key); string(got) != string(obj) {
		t.Fatal("the first archive was replaced")
	}
}

func TestCaptureFailuresLeaveNothing(t *testing.T) {
	var failParts bool
	w := newCaptureWorld(t, func(s *testenv.S3) string {
		target, _ := url.Parse(s.Endpoint)
		proxy := httputil.NewSingleHostReverseProxy(target)
		srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
			if failParts && r.Method == http.MethodPut && r.URL.Query().Has("partNumber") {
				rw.WriteHeader(http.StatusServiceUnavailable)
				fmt.Fprint(rw, `<Error><Code>SlowDown</Code><Message>injected</Message></Error>`)
				return
			}
			proxy.ServeHTTP(rw, r)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	})

	t.Run("S3 fails mid-upload", func(t *testing.T) {
		failParts = true
		defer func() { failParts = false }()
		code, out, errOut := lb(t, "--config", w.cfgPath, "capture", "--json")
		if code != exitFailed || !strings.Contains(out, `"outcome": "failed"`) {
			t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
		}
		noSecret(t, "capture", out, errOut)
		if objs := w.objects(t); len(objs) != 0 || w.pendingUploads(t) != 0 {
			t.Fatalf("a failed upload left %v and %d pending uploads", objs, w.pendingUploads(t))
		}
		if captureContainers(t) != 0 {
			t.Fatal("the pg_dump container was left behind")
		}
		if !strings.Contains(mustRead(t, filepath.Join(w.stateDir, captureApp, "last-capture.json")), `"ok": false`) {
			t.Fatal("the failed capture is not recorded")
		}
	})

	t.Run("dump cancelled mid-way", func(t *testing.T) {
		// A transaction holds a lock pg_dump needs; once pg_dump waits on
		// it, its backend is terminated, as a follower's recovery conflict
		// or an operator would.
		ctx := context.Background()
		holder, err := pgx.Connect(ctx, w.pg.URL("shopdb"))
		if err != nil {
			t.Fatal(err)
		}
		defer holder.Close(ctx)
		tx, _ := holder.Begin(ctx)
		defer tx.Rollback(ctx)
		if _, err := tx.Exec(ctx, "LOCK TABLE app.accounts IN ACCESS EXCLUSIVE MODE"); err != nil {
			t.Fatal(err)
		}
		killed := make(chan bool, 1)
		go func() {
			admin, err := pgx.Connect(ctx, w.pg.URL("postgres"))
			if err != nil {
				killed <- false
				return
			}
			defer admin.Close(ctx)
			for deadline := time.Now().Add(90 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
				var n int
				admin.QueryRow(ctx, "select count(pg_terminate_backend(pid)) from pg_stat_activity where application_name = 'lifeboat-capture' and wait_event_type = 'Lock'").Scan(&n)
				if n > 0 {
					killed <- true
					return
				}
			}
			killed <- false
		}()
		code, out, errOut := lb(t, "--config", w.cfgPath, "capture")
		if !<-killed {
			t.Fatal("pg_dump never waited on the lock")
		}
		if code != exitFailed || !strings.Contains(errOut, "pg_dump failed") {
			t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
		}
		noSecret(t, "capture", out, errOut)
		if objs := w.objects(t); len(objs) != 0 || w.pendingUploads(t) != 0 || captureContainers(t) != 0 {
			t.Fatalf("a cancelled dump left %v, %d pending uploads, %d containers", objs, w.pendingUploads(t), captureContainers(t))
		}
	})

	t.Run("source unreachable", func(t *testing.T) {
		u := fmt.Sprintf("postgres://postgres:%s@127.0.0.1:%d/shopdb?sslmode=disable", capturePW, testenv.FreePort(t))
		os.WriteFile(w.urlFile, []byte(u), 0o600)
		code, out, errOut := lb(t, "--config", w.cfgPath, "capture")
		if code != exitFailed || !strings.Contains(errOut, "source database unreachable") {
			t.Fatalf("exit %d:\n%s\n%s", code, out, errOut)
		}
		noSecret(t, "capture", out, errOut)
		if objs := w.objects(t); len(objs) != 0 {
			t.Fatalf("left %v", objs)
		}
	})

	t.Run("URL file not 0600", func(t *testing.T) {
		os.Chmod(w.urlFile, 0o644)
		defer os.Chmod(w.urlFile, 0o600)
		code, _, errOut := lb(t, "--config", w.cfgPath, "capture")
		if code != exitUsage || !strings.Contains(errOut, "capture.database_url_file") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})

	t.Run("another capture runs", func(t *testing.T) {
		l, err := lock.Acquire(filepath.Join(w.stateDir, captureApp, "capture.lock"), "test")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release()
		code, _, errOut := lb(t, "--config", w.cfgPath, "capture")
		if code != exitLocked {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		// The app's own lock (refresh, restore…) is another one.
		l2, err := lock.Acquire(filepath.Join(w.stateDir, captureApp, "lock"), "test")
		if err != nil {
			t.Fatalf("a capture holds the app's refresh lock: %v", err)
		}
		l2.Release()
	})

	t.Run("not configured", func(t *testing.T) {
		cfg := strings.Replace(mustRead(t, w.cfgPath), "source: pg_dump", "source: ''", 1)
		os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
		code, _, errOut := lb(t, "--config", w.cfgPath, "capture")
		if code != exitUsage || !strings.Contains(errOut, "capture.source") {
			t.Fatalf("exit %d: %s", code, errOut)
		}
	})
}

// TestCaptureEncrypted: the bucket only ever sees ciphertext; fetch opens
// it with s3.identity_file, and says which key it needs without one.
func TestCaptureEncrypted(t *testing.T) {
	w := newCaptureWorld(t, nil)
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	identity := filepath.Join(t.TempDir(), "age-identity")
	os.WriteFile(identity, []byte(id.String()+"\n"), 0o600)
	base := mustRead(t, w.cfgPath)
	cfg := strings.Replace(base, "      gzip: true\n", fmt.Sprintf("      gzip: false\n      encrypt:\n        recipients: [%s]\n", id.Recipient()), 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)

	code, out, errOut := lb(t, "--config", w.cfgPath, "capture", "--json")
	if code != 0 {
		t.Fatalf("capture exit %d:\n%s\n%s", code, out, errOut)
	}
	var res captureJSON
	json.Unmarshal([]byte(out), &res)
	if !strings.HasSuffix(res.Key, "_capshop-prod_DATABASE_URL.dump.age") {
		t.Fatalf("key %s", res.Key)
	}
	obj := w.s3.Get(t, captureBucket, res.Key)
	if !bytes.HasPrefix(obj, []byte("age-encryption.org/v1\n")) || bytes.Contains(obj, []byte("PGDMP")) || bytes.Contains(obj, []byte("accounts")) {
		t.Fatal("the bucket holds plaintext")
	}

	// No identity: fetch says which key it needs.
	code, _, errOut = lb(t, "--config", w.cfgPath, "fetch")
	if code != exitFailed || !strings.Contains(errOut, "s3.identity_file") {
		t.Fatalf("fetch without the identity: exit %d, %s", code, errOut)
	}
	// A key file others may read is refused (exit 2, naming the key).
	withID := strings.Replace(cfg, "      timeout: 10s\n", "      timeout: 10s\n      identity_file: "+identity+"\n", 1)
	os.WriteFile(w.cfgPath, []byte(withID), 0o600)
	os.Chmod(identity, 0o644)
	if code, _, errOut = lb(t, "--config", w.cfgPath, "fetch"); code != exitUsage || !strings.Contains(errOut, "s3.identity_file") {
		t.Fatalf("identity file 0644: exit %d, %s", code, errOut)
	}
	os.Chmod(identity, 0o600)
	code, out, errOut = lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != 0 || !strings.Contains(out, `"wrap": "age"`) || !strings.Contains(out, "sidecar-sha256") || !strings.Contains(out, "pg_dump-archive-complete") {
		t.Fatalf("fetch with the identity: exit %d\n%s\n%s", code, out, errOut)
	}

	// A recipient that is not an age key is a config error.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(withID, id.Recipient().String(), "age1nope", 1)), 0o600)
	if code, _, errOut = lb(t, "--config", w.cfgPath, "capture"); code != exitUsage || !strings.Contains(errOut, "capture.encrypt.recipients") {
		t.Fatalf("bad recipient: exit %d, %s", code, errOut)
	}
}

// herokuConfig points the world's app at a fake Heroku (Platform and Data
// APIs) with the given capture source.
func (w *captureWorld) herokuConfig(t *testing.T, h *herokutest.Server, source string) {
	token := filepath.Join(t.TempDir(), "heroku-token")
	os.WriteFile(token, []byte(h.Token+"\n"), 0o600)
	cfg := mustRead(t, w.cfgPath)
	cfg = strings.Replace(cfg, "      source: pg_dump\n      database_url_file: "+w.urlFile+"\n",
		fmt.Sprintf("      source: %s\n      data_api_url: %s\n      poll: 100ms\n", source, h.URL), 1)
	cfg += fmt.Sprintf("    app:\n      heroku: {app: %s, token_file: %s, api_url: %s}\n", h.App, token, h.URL)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
}

// TestCaptureFromHerokuPGBackups: a backup made by (a stand-in for) Heroku
// PGBackups, started, followed and downloaded as the Heroku CLI does, lands
// in the bucket verified; a failed Heroku backup says why.
func TestCaptureFromHerokuPGBackups(t *testing.T) {
	w := newCaptureWorld(t, nil)
	d := w.pg.Dump(t, "shopdb", "--no-acl", "--no-owner", "--exclude-schema=heroku_ext")
	h := herokutest.Start(t, d)
	w.herokuConfig(t, h, "heroku")
	code, out, errOut := lb(t, "--config", w.cfgPath, "capture", "--json")
	if code != 0 {
		t.Fatalf("capture exit %d:\n%s\n%s", code, out, errOut)
	}
	var res captureJSON
	json.Unmarshal([]byte(out), &res)
	if got := w.s3.Get(t, captureBucket, res.Key); !bytes.Equal(gunzip(t, got), d) {
		t.Fatal("the stored archive is not Heroku's dump")
	}
	if h.TokenLeaked() || strings.Contains(out+errOut, h.Token) {
		t.Fatal("the Heroku token was sent with the download or shown")
	}
	if res.Info.ServerVersion == "" || !strings.Contains(out, `"backup": "b042"`) || !strings.Contains(out, `"source": "heroku"`) {
		t.Fatalf("result %s", out)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "fetch", "--json")
	if code != 0 || !strings.Contains(out, res.Key) {
		t.Fatalf("fetch exit %d:\n%s\n%s", code, out, errOut)
	}

	h.Fail = []string{"pg_dump: error: Dumping the contents of table \"events\" failed: PQgetResult() failed.", "pg_dump: error: Error message from server: ERROR:  canceling statement due to conflict with recovery"}
	objects := len(w.objects(t))
	code, _, errOut = lb(t, "--config", w.cfgPath, "capture")
	if code != exitFailed || !strings.Contains(errOut, "heroku backup failed") || !strings.Contains(errOut, "conflict with recovery") || !strings.Contains(errOut, "b042") {
		t.Fatalf("failed Heroku backup: exit %d\n%s", code, errOut)
	}
	if len(w.objects(t)) != objects {
		t.Fatal("a failed Heroku backup left an object")
	}
}

// TestCapturePgDumpURLFromHeroku: with no URL file, pg_dump's URL is the
// config var asked from the Heroku Platform API at each run.
func TestCapturePgDumpURLFromHeroku(t *testing.T) {
	w := newCaptureWorld(t, nil)
	h := herokutest.Start(t, nil)
	h.ConfigVars["DATABASE_URL"] = strings.TrimSpace(mustRead(t, w.urlFile))
	w.herokuConfig(t, h, "pg_dump")
	code, out, errOut := lb(t, "--config", w.cfgPath, "capture", "--json")
	if code != 0 || !strings.Contains(out, `"outcome": "captured"`) {
		t.Fatalf("capture exit %d:\n%s\n%s", code, out, errOut)
	}
	noSecret(t, "capture", out, errOut)
	if !strings.Contains(strings.Join(h.Requests(), ","), "GET /apps/shop-prod/config-vars") {
		t.Fatalf("the URL was not asked from Heroku: %v", h.Requests())
	}
	delete(h.ConfigVars, "DATABASE_URL")
	if code, _, errOut = lb(t, "--config", w.cfgPath, "capture"); code != exitFailed || !strings.Contains(errOut, "no config var DATABASE_URL") {
		t.Fatalf("missing config var: exit %d, %s", code, errOut)
	}
}

func gunzip(t *testing.T, b []byte) []byte {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	out, err := io.ReadAll(zr)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestCaptureHookStormRunsOneCapture: the real `lifeboat serve`, fifty
// signed POST /hooks/capshop/capture at once: exactly one capture reaches
// the bucket; the others are answered skipped.
func TestCaptureHookStormRunsOneCapture(t *testing.T) {
	w := newCaptureWorld(t, nil)
	secret := filepath.Join(t.TempDir(), "hook-secret")
	os.WriteFile(secret, []byte("3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b\n"), 0o600)
	addr := fmt.Sprintf("127.0.0.1:%d", testenv.FreePort(t))
	cfg := strings.Replace(mustRead(t, w.cfgPath), "log_level: warn\n",
		fmt.Sprintf("log_level: warn\nserve: {listen: \"%s\", hook_secret_file: %s}\n", addr, secret), 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() {
		code, _, _ := lb2(ctx, "--config", w.cfgPath, "serve")
		done <- code
	}()
	defer func() {
		cancel()
		<-done
	}()
	base := "http://" + addr
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if resp, err := http.Get(base + "/healthz"); err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("serve does not answer")
		}
	}
	const path = "/hooks/capshop/capture"
	var wg sync.WaitGroup
	var mu sync.Mutex
	statuses := map[string]int{}
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			body := fmt.Sprintf(`{"event":%d}`, i)
			req, _ := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
			req.Header.Set("X-Lifeboat-Signature", web.Sign([]byte("3f1c0e5b9a7d4e2f8c6b1a0d9e8f7a6b"), time.Now(), http.MethodPost, path, []byte(body)))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			defer resp.Body.Close()
			var m map[string]string
			json.NewDecoder(resp.Body).Decode(&m)
			mu.Lock()
			statuses[m["status"]]++
			mu.Unlock()
		}(i)
	}
	wg.Wait()
	if statuses["started"] != 1 || statuses["skipped"] != 49 {
		t.Fatalf("answers %v", statuses)
	}
	last := filepath.Join(w.stateDir, captureApp, "last-capture.json")
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		if _, err := os.Stat(last); err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the hook's capture did not finish")
		}
	}
	time.Sleep(time.Second) // nothing else may follow it
	var dumps []string
	for _, k := range w.objects(t) {
		if !strings.HasSuffix(k, ".sha256") {
			dumps = append(dumps, k)
		}
	}
	runs, _ := filepath.Glob(filepath.Join(w.stateDir, captureApp, "runs", "capture-*.json"))
	if len(dumps) != 1 || len(runs) != 1 || !strings.Contains(mustRead(t, last), `"ok": true`) {
		t.Fatalf("objects %v, runs %v, last %s", dumps, runs, mustRead(t, last))
	}
}
