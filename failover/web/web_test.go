package web

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
	"github.com/lifeboat-dr/lifeboat/failover/units"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func testConfig(t *testing.T) *config.Config {
	dir := t.TempDir()
	c := &config.Config{StateDir: dir, Apps: []config.App{{Name: "shop", StateDir: filepath.Join(dir, "shop")}}}
	return c
}

func post(t *testing.T, h http.Handler, path string, body []byte, sig string) (*httptest.ResponseRecorder, map[string]string) {
	req := httptest.NewRequest(http.MethodPost, path, bytes.NewReader(body))
	if sig != "" {
		req.Header.Set("X-Lifeboat-Signature", sig)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	var m map[string]string
	json.Unmarshal(rec.Body.Bytes(), &m)
	return rec, m
}

// sign signs a POST to path, made i seconds ago (distinct i: distinct
// signatures).
func sign(secret, path string, body []byte, i int) string {
	return Sign([]byte(secret), time.Now().Add(-time.Duration(i)*time.Second), http.MethodPost, path, body)
}

const testSecret = "0123456789abcdef-k3y"

func TestHooksNeedAValidSignature(t *testing.T) {
	var runs atomic.Int32
	s := &Server{Config: testConfig(t), HookSecret: []byte(testSecret), Run: func(ctx context.Context, app, job string) error {
		runs.Add(1)
		return nil
	}}
	h := s.Handler(context.Background())
	body := []byte(`{"Records":[{"s3":{"object":{"key":"backups/shop/x.dump.gz"}}}]}`)
	const path = "/hooks/shop/refresh"
	for name, sig := range map[string]string{
		"missing":                      "",
		"wrong key":                    sign("another-key-of-16-bytes", path, body, 0),
		"garbage":                      "t=1,v1=zz",
		"no timestamp":                 strings.Replace(sign(testSecret, path, body, 0), "t=", "x=", 1),
		"the old body-only scheme":     SignGitHub([]byte(testSecret), body),
		"another body":                 sign(testSecret, path, []byte("{}"), 0),
		"another path":                 sign(testSecret, "/hooks/shop/drill", body, 0),
		"another method":               Sign([]byte(testSecret), time.Now(), http.MethodPut, path, body),
		"made 6 minutes ago":           sign(testSecret, path, body, 360),
		"made 6 minutes in the future": sign(testSecret, path, body, -360),
	} {
		rec, _ := post(t, h, path, body, sig)
		if rec.Code != http.StatusUnauthorized {
			t.Errorf("%s signature: %d %s", name, rec.Code, rec.Body)
		}
	}
	if rec, _ := post(t, h, "/hooks/nope/refresh", body, sign(testSecret, "/hooks/nope/refresh", body, 0)); rec.Code != http.StatusNotFound {
		t.Errorf("unknown app: %d", rec.Code)
	}
	if rec, _ := post(t, h, "/hooks/shop/delete-everything", body, sign(testSecret, "/hooks/shop/delete-everything", body, 0)); rec.Code != http.StatusNotFound {
		t.Errorf("unknown job: %d", rec.Code)
	}
	sig := sign(testSecret, path, body, 0)
	rec, m := post(t, h, path, body, sig)
	if rec.Code != http.StatusAccepted || m["status"] != Started {
		t.Fatalf("signed hook: %d %v", rec.Code, m)
	}
	waitIdle(t, s)
	if runs.Load() != 1 {
		t.Fatalf("runs = %d", runs.Load())
	}
	// The same signed request again is a replay.
	if rec, _ := post(t, h, path, body, sig); rec.Code != http.StatusConflict {
		t.Errorf("replayed hook: %d %s", rec.Code, rec.Body)
	}
	waitIdle(t, s)
	if runs.Load() != 1 {
		t.Fatalf("a replay ran the job: runs = %d", runs.Load())
	}
	// Hooks are off without a secret.
	s2 := &Server{Config: testConfig(t), Run: s.Run}
	if rec, _ := post(t, s2.Handler(context.Background()), path, body, sign("", path, body, 0)); rec.Code != http.StatusNotFound {
		t.Errorf("hooks without a secret: %d", rec.Code)
	}
	// A body over the limit is refused before any signature check.
	if rec, _ := post(t, h, path, bytes.Repeat([]byte("x"), MaxBody+1), sig); rec.Code != http.StatusRequestEntityTooLarge {
		t.Errorf("a body over %d bytes: %d", MaxBody, rec.Code)
	}
}

func TestGitHubSignaturesOnlyWhenAsked(t *testing.T) {
	var runs atomic.Int32
	run := func(ctx context.Context, app, job string) error { runs.Add(1); return nil }
	body := []byte(`{"ref":"refs/heads/main"}`)
	gh := func(h http.Handler, delivery string) int {
		req := httptest.NewRequest(http.MethodPost, "/hooks/shop/drill", bytes.NewReader(body))
		req.Header.Set("X-Hub-Signature-256", SignGitHub([]byte(testSecret), body))
		if delivery != "" {
			req.Header.Set("X-GitHub-Delivery", delivery)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	off := (&Server{Config: testConfig(t), HookSecret: []byte(testSecret), Run: run}).Handler(context.Background())
	if code := gh(off, "d1"); code != http.StatusUnauthorized {
		t.Errorf("GitHub signature without serve.github_signatures: %d", code)
	}
	s := &Server{Config: testConfig(t), HookSecret: []byte(testSecret), GitHubSignatures: true, Run: run}
	on := s.Handler(context.Background())
	if code := gh(on, ""); code != http.StatusUnauthorized {
		t.Errorf("GitHub signature without a delivery id: %d", code)
	}
	if code := gh(on, "72d3162e-cc78-11e3-81ab-4c9367dc0958"); code != http.StatusAccepted {
		t.Errorf("GitHub delivery: %d", code)
	}
	waitIdle(t, s)
	if code := gh(on, "72d3162e-cc78-11e3-81ab-4c9367dc0958"); code != http.StatusConflict {
		t.Errorf("the same delivery again: %d", code)
	}
	waitIdle(t, s)
	if runs.Load() != 1 {
		t.Errorf("runs = %d, want 1", runs.Load())
	}
}

// TestReplayMemoryIsBounded: remembered signatures expire with their
// timestamps, and the set never grows past MaxRemembered.
func TestReplayMemoryIsBounded(t *testing.T) {
	var m remembered
	now := time.Now()
	for i := range MaxRemembered {
		if m.add(strconv.Itoa(i), now.Add(time.Minute), now, false) != added {
			t.Fatal("not added")
		}
	}
	if m.add("x", now.Add(time.Minute), now, false) != seenFull {
		t.Fatal("a full set took one more")
	}
	if m.add("x", now.Add(time.Minute), now, true) != added || len(m.keys) != MaxRemembered {
		t.Fatalf("evicting: %d keys", len(m.keys))
	}
	later := now.Add(2 * time.Minute)
	if m.add("y", later.Add(time.Minute), later, false) != added || len(m.keys) != 1 {
		t.Fatalf("expired keys are kept: %d", len(m.keys))
	}
	if m.add("y", later.Add(time.Minute), later, false) != seenBefore {
		t.Fatal("a key is accepted twice")
	}
}

func TestInvalidReportIDIsABadRequest(t *testing.T) {
	c := testConfig(t)
	seedState(t, c)
	h := (&Server{Config: c}).Handler(context.Background())
	for id, want := range map[string]int{"..%2f..%2fetc": http.StatusBadRequest, "a%20b": http.StatusBadRequest, "nope": http.StatusNotFound, "latest": http.StatusOK} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/apps/shop/reports/"+id, nil))
		if rec.Code != want || strings.Contains(rec.Body.String(), c.StateDir) {
			t.Errorf("report %q: %d %q, want %d without paths", id, rec.Code, rec.Body, want)
		}
	}
}

func waitIdle(t *testing.T, s *Server) {
	deadline := time.Now().Add(10 * time.Second)
	for !s.Idle() {
		if time.Now().After(deadline) {
			t.Fatal("runs did not finish")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestTriggersAreSingleFlight(t *testing.T) {
	release := make(chan struct{})
	var mu sync.Mutex
	var running, maxRunning, runs int
	s := &Server{Config: testConfig(t), HookSecret: []byte(testSecret), Run: func(ctx context.Context, app, job string) error {
		mu.Lock()
		running++
		runs++
		maxRunning = max(maxRunning, running)
		mu.Unlock()
		<-release
		mu.Lock()
		running--
		mu.Unlock()
		return nil
	}}
	h := s.Handler(context.Background())
	body := []byte("{}")
	var got []string
	for i := 0; i < 10; i++ {
		_, m := post(t, h, "/hooks/shop/refresh", body, sign(testSecret, "/hooks/shop/refresh", body, i))
		got = append(got, m["status"])
	}
	want := []string{Started, Queued}
	for i := 2; i < 10; i++ {
		want = append(want, AlreadyQueued)
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("statuses %v, want %v", got, want)
	}
	// Another job of the same app is its own flight.
	if _, m := post(t, h, "/hooks/shop/drill", body, sign(testSecret, "/hooks/shop/drill", body, 0)); m["status"] != Started {
		t.Fatalf("drill: %v", m)
	}
	close(release)
	waitIdle(t, s)
	if runs != 3 || maxRunning > 2 {
		t.Fatalf("runs %d (want 3: refresh, its one follow-up, the drill), max concurrent %d", runs, maxRunning)
	}
}

// seedState writes what the status page shows: a current generation, a
// refresh and a drill report.
func seedState(t *testing.T, c *config.Config) {
	app := &c.Apps[0]
	st := &state.Store{Dir: app.StateDir}
	g := &state.Generation{App: "shop", Number: 7, Status: state.StatusReady, Container: "lifeboat-shop-db-7",
		Archive: state.ArchiveRef{Key: "backups/shop/2026-11-25_03-00_UTC__shop_DATABASE_URL.dump.gz", CapturedAt: time.Now().Add(-5 * time.Hour)}}
	if err := st.Save(g); err != nil {
		t.Fatal(err)
	}
	st.SetCurrent(7)
	st.SaveRun(&state.Run{Kind: "refresh", StartedAt: time.Now().Add(-2 * time.Hour), FinishedAt: time.Now().Add(-2 * time.Hour), OK: true, Outcome: "refreshed"})
	rep := report.New()
	rep.ID, rep.App, rep.StartedAt, rep.FinishedAt = "20261125T040000Z-shop", "shop", time.Now().Add(-3*time.Hour), time.Now().Add(-3*time.Hour)
	rep.Result = "fail"
	rep.Failures = []string{"check <accounts exist> failed: returned false"}
	if err := report.Save(filepath.Join(app.StateDir, "drills"), rep); err != nil {
		t.Fatal(err)
	}
}

func TestStatusPageInABrowser(t *testing.T) {
	chromium := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			chromium = p
			break
		}
	}
	if chromium == "" {
		testenv.Missing(t, "chromium not found: run scripts/test-deps.sh (it installs Debian's chromium)")
	}
	c := testConfig(t)
	seedState(t, c)
	s := &Server{Config: c, Run: func(context.Context, string, string) error { return nil }}
	srv := httptest.NewServer(s.Handler(context.Background()))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+"/")
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v", err)
	}
	dom := string(out)
	for _, want := range []string{
		`id="app-shop"`, "generation 7", "refreshed", "FAIL", "/apps/shop/reports/20261125T040000Z-shop",
		"check &lt;accounts exist&gt; failed", "5h0m",
	} {
		if !strings.Contains(dom, want) {
			t.Errorf("the rendered page lacks %q", want)
		}
	}
	// The report link works.
	resp, err := http.Get(srv.URL + "/apps/shop/reports/20261125T040000Z-shop")
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("report link: %v %v", err, resp)
	}
	resp.Body.Close()
}

func TestMetricsEndpoint(t *testing.T) {
	c := testConfig(t)
	seedState(t, c)
	s := &Server{Config: c}
	rec := httptest.NewRecorder()
	s.Handler(context.Background()).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	for _, want := range []string{`lifeboat_standby_generation{app="shop"} 7`, `lifeboat_last_run_success{app="shop",job="refresh"} 1`, "# TYPE lifeboat_serving gauge"} {
		if !strings.Contains(body, want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestCaptureHookStorm: fifty signed capture triggers at once (an S3 event
// storm, a deploy hook gone mad) start exactly one capture; the rest are
// answered "skipped" with the time of the capture that runs. Once it
// succeeded, capture.min_interval keeps skipping; a failed capture does not
// hold the next one back.
func TestCaptureHookStorm(t *testing.T) {
	c := testConfig(t)
	c.Apps[0].Capture = config.Capture{Source: config.CapturePgDump, MinInterval: units.Duration(time.Hour)}
	release := make(chan struct{})
	var runs atomic.Int32
	s := &Server{Config: c, HookSecret: []byte(testSecret), Run: func(ctx context.Context, app, job string) error {
		runs.Add(1)
		<-release
		return nil
	}}
	h := s.Handler(context.Background())
	body := []byte("{}")
	const path = "/hooks/shop/capture"
	var wg sync.WaitGroup
	var mu sync.Mutex
	counts := map[string]int{}
	var lastAt []string
	for i := 0; i < 50; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			rec, m := post(t, h, path, body, sign(testSecret, path, body, i))
			mu.Lock()
			defer mu.Unlock()
			counts[m["status"]]++
			if m["status"] == Skipped {
				if rec.Code != http.StatusOK {
					t.Errorf("skipped answered %d", rec.Code)
				}
				lastAt = append(lastAt, m["last_capture_at"])
			}
		}(i)
	}
	wg.Wait()
	if counts[Started] != 1 || counts[Skipped] != 49 {
		t.Fatalf("answers %v, want 1 started and 49 skipped", counts)
	}
	if _, err := time.Parse(time.RFC3339, lastAt[0]); err != nil {
		t.Fatalf("last_capture_at %q", lastAt[0])
	}
	close(release)
	waitIdle(t, s)
	if runs.Load() != 1 {
		t.Fatalf("%d captures ran, want 1", runs.Load())
	}

	// The capture succeeded 10 minutes ago: within min_interval.
	st := &state.Store{Dir: c.Apps[0].StateDir}
	st.SaveRun(&state.Run{Kind: "capture", StartedAt: time.Now().Add(-10 * time.Minute), FinishedAt: time.Now().Add(-9 * time.Minute), OK: true, Outcome: "captured"})
	if _, m := post(t, h, path, body, sign(testSecret, path, body, 60)); m["status"] != Skipped || m["min_interval"] != "1h0m0s" {
		t.Fatalf("within min_interval: %v", m)
	}
	// A failed capture since does not hold the next one back, but the last
	// success still does; past min_interval, a trigger starts one.
	st.SaveRun(&state.Run{Kind: "capture", StartedAt: time.Now().Add(-time.Minute), FinishedAt: time.Now(), OK: false, Outcome: "failed"})
	if _, m := post(t, h, path, body, sign(testSecret, path, body, 61)); m["status"] != Skipped {
		t.Fatalf("after a failure, within min_interval of the last success: %v", m)
	}
	c.Apps[0].Capture.MinInterval = units.Duration(5 * time.Minute)
	if _, m := post(t, h, path, body, sign(testSecret, path, body, 62)); m["status"] != Started {
		t.Fatalf("past min_interval: %v", m)
	}
	waitIdle(t, s)

	// A capture started by hand or by a timer holds the capture lock:
	// skipped too, with its start.
	c.Apps[0].Capture.MinInterval = units.Duration(time.Minute)
	l, err := failover.CaptureLock(&c.Apps[0], "lifeboat capture")
	if err != nil {
		t.Fatal(err)
	}
	_, m := post(t, h, path, body, sign(testSecret, path, body, 64))
	l.Release()
	if m["status"] != Skipped || m["last_capture_at"] == "" {
		t.Fatalf("during a capture by hand: %v", m)
	}
	waitIdle(t, s)

	// An app without capture.source has no capture hook.
	c.Apps[0].Capture.Source = ""
	if rec, _ := post(t, h, path, body, sign(testSecret, path, body, 63)); rec.Code != http.StatusNotFound {
		t.Fatalf("capture hook of an app without capture: %d", rec.Code)
	}
}
