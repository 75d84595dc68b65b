package main

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/web"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// appStatus reads the app's line of lifeboat serve's /status.json, raw and
// decoded.
func appStatus(t *testing.T, cfgPath string) (map[string]json.RawMessage, web.AppStatus) {
	t.Helper()
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	srv := &web.Server{Config: cfg}
	rec := httptest.NewRecorder()
	srv.Handler(context.Background()).ServeHTTP(rec, httptest.NewRequest("GET", "/status.json", nil))
	var doc struct {
		Apps []json.RawMessage `json:"apps"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil || len(doc.Apps) != 1 {
		t.Fatalf("status.json: %v\n%s", err, rec.Body)
	}
	var raw map[string]json.RawMessage
	var st web.AppStatus
	json.Unmarshal(doc.Apps[0], &raw)
	json.Unmarshal(doc.Apps[0], &st)
	return raw, st
}

// TestMonitoringAfterAnOutage: a database container removed by hand gets
// one advice from check, db url and failover --dry-run, and failover then
// restores the cached archive; a refresh while serving is skipped, not
// failed, so that after failback --complete check, the metrics and the
// status page read as they are, with the failover and failback in the
// history.
func TestMonitoringAfterAnOutage(t *testing.T) {
	testenv.RequirePostgresImage(t)
	eng, err := engine.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { removeAppObjects(t, "shop"); eng.Close() })
	metricsDir := t.TempDir()
	w := newWorld(t, "    database: {image: auto, jobs: 2}\n")
	cfg := strings.Replace(mustRead(t, w.cfgPath), "log_level: warn\n", "log_level: warn\nmetrics:\n  textfile_dir: "+metricsDir+"\n", 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	w.s3.Put(t, bucket, w.key(2*time.Hour, true), testenv.Gzip(t, sourceDump(t)), testenv.WithSHA256Checksum())

	if code, out, errOut := lb(t, "--config", w.cfgPath, "refresh", "--json"); code != 0 {
		t.Fatalf("refresh: %d\n%s\n%s", code, out, errOut)
	}
	_, out, _ := lb(t, "--config", w.cfgPath, "generations", "--json")
	var gens []struct {
		Number    int    `json:"number"`
		Container string `json:"container"`
	}
	if err := json.Unmarshal([]byte(out), &gens); err != nil || len(gens) != 1 {
		t.Fatalf("generations: %v %s", err, out)
	}

	// Someone removes the database container by hand.
	if err := eng.RemoveContainer(context.Background(), gens[0].Container, true); err != nil {
		t.Fatal(err)
	}
	code, f := runCheck(t, w)
	if code != exitFailed || f["standby database"].OK || f["standby database"].Fix != failover.DatabaseGoneAdvice {
		t.Errorf("check: exit %d, %+v", code, f["standby database"])
	}
	code, _, errOut := lb(t, "--config", w.cfgPath, "db", "url")
	if code != exitFailed || !strings.Contains(errOut, failover.DatabaseGoneAdvice) {
		t.Errorf("db url: exit %d, %s", code, errOut)
	}
	code, _, errOut = lb(t, "--config", w.cfgPath, "db", "psql")
	if code != exitFailed || !strings.Contains(errOut, failover.DatabaseGoneAdvice) {
		t.Errorf("db psql: exit %d, %s", code, errOut)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "failover", "--dry-run")
	if code != 0 || !strings.Contains(out, failover.DatabaseGoneAdvice) || !strings.Contains(out, "will be restored") {
		t.Errorf("failover --dry-run: exit %d\n%s\n%s", code, out, errOut)
	}

	// The outage: failover restores the cached archive, S3 being gone.
	w.s3.Stop(t)
	code, out, errOut = lb(t, "--config", w.cfgPath, "failover", "--json")
	var fo struct {
		Warm       bool `json:"warm"`
		Generation int  `json:"generation"`
	}
	json.Unmarshal([]byte(out), &fo)
	if code != 0 || fo.Warm || fo.Generation != 2 {
		t.Fatalf("failover: exit %d\n%s\n%s", code, out, errOut)
	}

	// The nightly refresh while serving: skipped, and said so, not failed.
	code, out, errOut = lb(t, "--config", w.cfgPath, "refresh", "--json")
	var rr struct {
		Outcome string `json:"outcome"`
	}
	json.Unmarshal([]byte(out), &rr)
	if code != 0 || rr.Outcome != failover.OutcomeSkippedServing || !strings.Contains(errOut, "serving") {
		t.Fatalf("refresh while serving: exit %d\n%s\n%s", code, out, errOut)
	}
	if _, f := runCheck(t, w); !f["last refresh"].OK || !strings.Contains(f["last refresh"].Detail, "paused while serving") {
		t.Errorf("check while serving: %+v", f["last refresh"])
	}
	raw, st := appStatus(t, w.cfgPath)
	if !st.Serving || st.ServingSince == nil || len(st.History) != 1 || st.History[0].Kind != "failover" || st.History[0].Outcome != "served" {
		t.Errorf("status while serving: %s", mustJSON(raw))
	}

	// Failback: the state reads as it is.
	if code, _, errOut := lb(t, "--config", w.cfgPath, "failback", "--complete"); code != 0 {
		t.Fatalf("failback --complete: %s", errOut)
	}
	_, f = runCheck(t, w)
	if !f["last refresh"].OK || !strings.Contains(f["last refresh"].Detail, "refreshed") {
		t.Errorf("check after failback: last refresh %+v", f["last refresh"])
	}
	if !f["standby database"].OK {
		t.Errorf("check after failback: standby database %+v", f["standby database"])
	}
	prom := mustRead(t, filepath.Join(metricsDir, "lifeboat_shop.prom"))
	if !strings.Contains(prom, `lifeboat_last_run_success{app="shop",job="refresh"} 1`) {
		t.Errorf("metrics after failback:\n%s", prom)
	}
	raw, st = appStatus(t, w.cfgPath)
	if _, ok := raw["serving_since"]; ok || st.Serving {
		t.Errorf("status.json has serving_since when not serving: %s", mustJSON(raw))
	}
	if !st.LastRefreshOK || st.LastRefresh != failover.OutcomeRefreshed {
		t.Errorf("status: last refresh %q ok=%v", st.LastRefresh, st.LastRefreshOK)
	}
	if len(st.History) != 2 || st.History[0].Kind != "failback" || st.History[0].Outcome != "completed" || st.History[1].Kind != "failover" {
		t.Errorf("status history: %+v", st.History)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
