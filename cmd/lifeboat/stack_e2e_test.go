package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/imagebuild"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// appWorld is a world with an app stack: a real S3, the example app image,
// a fake Heroku Platform API for config vars, and a config using them all.
type appWorld struct {
	*world
	appName string
	publish string
	heroku  *httptest.Server
	eng     *engine.Engine
}

func newAppWorld(t *testing.T, extraApp string) *appWorld {
	testenv.RequirePostgresImage(t)
	eng, err := engine.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	root, err := imagebuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tag := "lifeboat-test/exampleapp:e2e"
	if err := imagebuild.ExampleApp(context.Background(), eng, root, tag); err != nil {
		t.Fatal(err)
	}
	heroku := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer heroku-token" || r.URL.Path != "/apps/shop-prod/config-vars" {
			http.Error(w, `{"id":"unauthorized"}`, http.StatusUnauthorized)
			return
		}
		json.NewEncoder(w).Encode(map[string]string{
			"DATABASE_URL":               "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc",
			"HEROKU_POSTGRESQL_NAVY_URL": "postgres://u:p@ec2-1-2-3-4.compute-1.amazonaws.com:5432/d8abc",
			"SENDGRID_API_KEY":           "SG.secret",
			"GREETING":                   "from heroku",
		})
	}))
	t.Cleanup(heroku.Close)
	dir := t.TempDir()
	token := filepath.Join(dir, "heroku-token")
	os.WriteFile(token, []byte("heroku-token\n"), 0o600)
	envFile := filepath.Join(dir, "shop.env")
	os.WriteFile(envFile, []byte("# VPS-side vars\nGREETING=from the vps\n"), 0o600)
	port := testenv.FreePort(t)
	publish := fmt.Sprintf("127.0.0.1:%d", port)
	extra := fmt.Sprintf(`    database:
      image: auto
      jobs: 2
    app:
      image: %s
      port: 5000
      health: {path: /health, timeout: 60s}
      publish: %s
      env_file: %s
      heroku: {app: shop-prod, token_file: %s, api_url: %s}
      drop_vars: [SENDGRID_API_KEY]
%s`, tag, publish, envFile, token, heroku.URL, extraApp)
	w := newWorld(t, "")
	os.WriteFile(w.cfgPath, []byte(mustRead(t, w.cfgPath)+extra), 0o600)
	aw := &appWorld{world: w, appName: "shop", publish: publish, heroku: heroku, eng: eng}
	t.Cleanup(func() { removeAppObjects(t, "shop"); eng.Close() })
	return aw
}

func getJSON(t *testing.T, url string) map[string]any {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	return m
}

// TestStandbyRefreshFailoverFailback is the whole story: archive in S3 →
// refresh → the app answers with the restored data; S3 and Heroku go away
// → failover serves; failback brings the data home.
func TestStandbyRefreshFailoverFailback(t *testing.T) {
	w := newAppWorld(t, "")
	d := sourceDump(t)
	w.s3.Put(t, bucket, w.key(2*time.Hour, true), testenv.Gzip(t, d), testenv.WithSHA256Checksum())

	code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--json")
	if code != 0 {
		t.Fatalf("refresh: %d\n%s\n%s", code, out, errOut)
	}
	var rr struct {
		Outcome string `json:"outcome"`
		App     struct {
			Stack struct {
				WebURL string `json:"web_url"`
			} `json:"stack"`
		} `json:"app"`
		Run struct {
			Details struct {
				Disk []struct {
					Path       string `json:"path"`
					FreeBefore int64  `json:"free_before_bytes"`
					HighWater  *int64 `json:"high_water_bytes"`
				} `json:"disk"`
			} `json:"details"`
		} `json:"run"`
	}
	json.Unmarshal([]byte(out), &rr)
	if rr.Outcome != "refreshed" || rr.App.Stack.WebURL == "" {
		t.Fatalf("refresh result: %s", out)
	}
	// The disk's high-water mark: the cache's and the volumes' file systems
	// (one, when they share it), measured.
	if d := rr.Run.Details.Disk; len(d) == 0 || d[0].Path == "" || d[0].FreeBefore <= 0 || d[0].HighWater == nil {
		t.Fatalf("disk high-water mark in the run record: %+v", d)
	}
	base := strings.TrimSuffix(rr.App.Stack.WebURL, "/health")
	got := getJSON(t, base+"/")
	if got["accounts"] != float64(rowCounts["app.accounts"]) || got["dyno"] != "web.1" || got["mode"] != "standby" || got["releases"] != float64(1) {
		t.Fatalf("the standby app answers %v (want %d accounts, web.1, standby, one release)", got, rowCounts["app.accounts"])
	}
	// Nothing is published while waiting.
	if _, err := http.Get("http://" + w.publish + "/health"); err == nil {
		t.Fatal("the standby web is published before any failover")
	}
	// Only web runs as a standby.
	code, out, _ = lb(t, "--config", w.cfgPath, "ps", "--json")
	var ps []struct {
		Role, State, Health string
		Current             bool
	}
	json.Unmarshal([]byte(out), &ps)
	roles := map[string]string{}
	for _, p := range ps {
		if p.Current {
			roles[p.Role] = p.State + "/" + p.Health
		}
	}
	if roles["web"] != "running/healthy" || roles["database"] != "running/healthy" || roles["worker"] != "" {
		t.Fatalf("ps: %v\n%s", roles, out)
	}

	// A second refresh with nothing new is a no-op; it planned its disk
	// from the archive now cached.
	code, out, _ = lb(t, "--config", w.cfgPath, "refresh", "--json")
	if code != 0 || !strings.Contains(out, `"outcome": "up-to-date"`) || !strings.Contains(out, `"disk_plan"`) {
		t.Fatalf("second refresh: %d %s", code, out)
	}

	// The outage: S3 and Heroku are gone.
	w.s3.Stop(t)
	w.heroku.Close()
	code, out, errOut = lb(t, "--config", w.cfgPath, "failover", "--dry-run")
	if code != 0 || !strings.Contains(out, "dry run") {
		t.Fatalf("dry run: %d %s %s", code, out, errOut)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "failover", "--json")
	if code != 0 {
		t.Fatalf("failover: %d %s %s", code, out, errOut)
	}
	var fo struct {
		Warm       bool    `json:"warm"`
		RTOSeconds float64 `json:"rto_seconds"`
		RPOSeconds float64 `json:"rpo_seconds"`
	}
	json.Unmarshal([]byte(out), &fo)
	if !fo.Warm || fo.RTOSeconds <= 0 || fo.RTOSeconds > 30 || fo.RPOSeconds <= 0 {
		t.Fatalf("failover result: %s", out)
	}
	got = getJSON(t, "http://"+w.publish+"/")
	// A warm failover does not run the release phase again.
	if got["mode"] != "serving" || got["accounts"] != float64(rowCounts["app.accounts"]) || got["releases"] != float64(1) {
		t.Fatalf("serving app answers %v", got)
	}
	// While serving, refresh does nothing, and says so: not a failure.
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh")
	if code != 0 || !strings.Contains(errOut, "serving") || !strings.Contains(out, "refresh: skipped-serving") {
		t.Fatalf("refresh while serving: %d %s", code, errOut)
	}
	// Data written during the outage goes home with failback.
	code, out, errOut = lb(t, "--config", w.cfgPath, "failback", "--json")
	if code != 0 {
		t.Fatalf("failback: %s", errOut)
	}
	var fb struct {
		File       string   `json:"file"`
		DataTables int      `json:"data_tables"`
		Commands   []string `json:"commands"`
	}
	json.Unmarshal([]byte(out), &fb)
	if _, err := os.Stat(fb.File); err != nil || fb.DataTables < len(rowCounts) || !strings.Contains(strings.Join(fb.Commands, "\n"), "pg_restore --verbose --clean --no-acl --no-owner") {
		t.Fatalf("failback: %s", out)
	}
	code, _, errOut = lb(t, "--config", w.cfgPath, "failback", "--complete")
	if code != 0 {
		t.Fatalf("failback --complete: %s", errOut)
	}
	if _, err := http.Get("http://" + w.publish + "/health"); err == nil {
		t.Fatal("still published after failback --complete")
	}

	// down removes the app (the database stays), up brings it back.
	if code, _, errOut := lb(t, "--config", w.cfgPath, "down"); code != 0 {
		t.Fatalf("down: %s", errOut)
	}
	webs, _ := w.eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRole: "web"}, true)
	dbs, _ := w.eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRole: "database"}, false)
	if len(webs) != 0 || len(dbs) != 1 {
		t.Fatalf("after down: %d web containers, %d running databases", len(webs), len(dbs))
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "up", "--json")
	if code != 0 {
		t.Fatalf("up: %s %s", out, errOut)
	}
	var up struct {
		Mode  string `json:"mode"`
		Stack struct {
			WebURL string `json:"web_url"`
		} `json:"stack"`
	}
	json.Unmarshal([]byte(out), &up)
	if got := getJSON(t, strings.TrimSuffix(up.Stack.WebURL, "/health")+"/"); up.Mode != "standby" || got["mode"] != "standby" {
		t.Fatalf("after up: %s %v", out, got)
	}
}

// TestRefreshFailuresKeepTheOldStandby: a broken newer archive, a failing
// release command and an app that never gets healthy all fail the refresh,
// while the old standby keeps answering.
func TestRefreshFailuresKeepTheOldStandby(t *testing.T) {
	w := newAppWorld(t, "")
	d := sourceDump(t)
	w.s3.Put(t, bucket, w.key(3*time.Hour, true), testenv.Gzip(t, d))
	code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--json")
	if code != 0 {
		t.Fatalf("refresh: %s %s", out, errOut)
	}
	var rr struct {
		App struct {
			Stack struct {
				WebURL string `json:"web_url"`
			} `json:"stack"`
		} `json:"app"`
	}
	json.Unmarshal([]byte(out), &rr)
	health := rr.App.Stack.WebURL
	answers := func(when string) {
		t.Helper()
		resp, err := http.Get(health)
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: the old standby does not answer: %v", when, err)
		}
		resp.Body.Close()
	}

	// A broken newer archive.
	full := testenv.Gzip(t, d)
	w.s3.Put(t, bucket, w.key(time.Hour, true), full[:len(full)/2])
	code, _, errOut = lb(t, "--config", w.cfgPath, "refresh")
	if code != exitFailed || !strings.Contains(errOut, "newer objects") {
		t.Fatalf("broken newer archive: %d %s", code, errOut)
	}
	answers("after a broken archive")

	// A release command that fails, on a newer good archive.
	w.s3.Put(t, bucket, w.key(30*time.Minute, true), testenv.Gzip(t, d))
	cfg := mustRead(t, w.cfgPath)
	const stripeKey = "sk_live_4eC39HqLyjWDarjtT1zdp7dc"
	os.WriteFile(w.cfgPath, []byte(cfg+"      vars: {RELEASE_FAIL: \""+stripeKey+"\"}\n"), 0o600)
	code, _, errOut = lb(t, "--config", w.cfgPath, "refresh", "--force")
	if code != exitFailed || !strings.Contains(errOut, "release command failed") {
		t.Fatalf("failing release: %d %s", code, errOut)
	}
	// Its last lines are in the error and the run record, with the
	// config-var values and the database password scrubbed (issue 8).
	record := mustRead(t, filepath.Join(w.stateDir, "shop", "last-refresh.json"))
	for where, text := range map[string]string{"error": errOut, "run record": record} {
		if strings.Contains(text, stripeKey) || strings.Contains(text, "postgres://") || !strings.Contains(text, "[redacted:RELEASE_FAIL]") ||
			!strings.Contains(text, "[redacted:DATABASE_URL]") {
			t.Errorf("the %s of a failing release leaks a secret or lost its excerpt:\n%s", where, text)
		}
	}
	answers("after a failing release")

	// A health check that never passes.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(cfg, "path: /health, timeout: 60s", "path: /nope, timeout: 5s", 1)), 0o600)
	code, _, errOut = lb(t, "--config", w.cfgPath, "refresh", "--force")
	if code != exitFailed || !strings.Contains(errOut, "did not become healthy") {
		t.Fatalf("never healthy: %d %s", code, errOut)
	}
	answers("after an app that never got healthy")
	// A refresh killed while starting the app leaves its containers: the
	// next run removes them.
	stray := engine.ContainerSpec{Name: "lifeboat-shop-g99-web-1", Image: "lifeboat-test/exampleapp:e2e", Cmd: []string{"web"},
		Labels: map[string]string{engine.LabelApp: "shop", engine.LabelRole: "web", engine.LabelPurpose: "standby", engine.LabelGeneration: "99"}}
	if _, err := w.eng.CreateContainer(context.Background(), stray); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh", "--force", "--json")
	if code != 0 {
		t.Fatalf("refresh after a killed one: %s", errOut)
	}
	if _, err := w.eng.InspectContainer(context.Background(), stray.Name); err == nil {
		t.Fatal("the killed refresh's app container is still there")
	}
	json.Unmarshal([]byte(out), &rr)
	health = rr.App.Stack.WebURL
	answers("after a refresh that cleaned up")
	// And nothing of the failed attempts is left running.
	cs, _ := w.eng.ListContainers(context.Background(), map[string]string{engine.LabelApp: "shop", engine.LabelRole: "web"}, true)
	if len(cs) != 1 {
		var names []string
		for _, c := range cs {
			names = append(names, c.Name)
		}
		t.Fatalf("web containers left: %v", names)
	}
}
