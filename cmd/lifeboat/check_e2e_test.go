package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

type findingJSON struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

func runCheck(t *testing.T, w *world) (int, map[string]findingJSON) {
	t.Helper()
	code, out, errOut := lb(t, "--config", w.cfgPath, "check", "--json")
	var r struct {
		OK       bool          `json:"ok"`
		Findings []findingJSON `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("check --json: %v\n%s\n%s", err, out, errOut)
	}
	m := map[string]findingJSON{}
	for _, f := range r.Findings {
		m[f.Name] = f
		if !f.OK && f.Fix == "" {
			t.Errorf("finding %s fails without saying what to do", f.Name)
		}
	}
	return code, m
}

func TestCheckFindsStaleAndSmallArchives(t *testing.T) {
	metricsDir := t.TempDir()
	w := newWorld(t, "")
	cfg := strings.Replace(mustRead(t, w.cfgPath), "log_level: warn\n", "log_level: warn\nmetrics:\n  textfile_dir: "+metricsDir+"\n", 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	d := sourceDump(t)
	now := time.Now().UTC()
	// Only archives older than 26 hours.
	for _, ago := range []time.Duration{50 * time.Hour, 74 * time.Hour, 98 * time.Hour} {
		w.s3.Put(t, bucket, w.key(ago, true), testenv.Gzip(t, testenv.WithCreatedAt(t, d, now.Add(-ago))))
	}
	code, f := runCheck(t, w)
	if code != exitFailed || f["archive age"].OK || !strings.Contains(f["archive age"].Detail, "50h") {
		t.Fatalf("stale archive: exit %d, %+v", code, f["archive age"])
	}
	if f["last refresh"].OK || f["last drill"].OK || f["standby database"].OK {
		t.Fatalf("a chain that never refreshed or drilled passes: %+v", f)
	}
	if !f["archive readable"].OK || !f["archive size"].OK {
		t.Fatalf("readable/size: %+v %+v", f["archive readable"], f["archive size"])
	}
	prom, err := os.ReadFile(filepath.Join(metricsDir, "lifeboat_shop.prom"))
	if err != nil || !strings.Contains(string(prom), `lifeboat_last_run_success{app="shop",job="check"} 0`) {
		t.Fatalf("metrics file: %v\n%s", err, prom)
	}

	// A fresh archive, but a tenth of the usual size.
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "shop", 10)
	small := p.Dump(t, "shop")
	w.s3.Put(t, bucket, w.key(time.Hour, true), testenv.Gzip(t, testenv.WithCreatedAt(t, small, now.Add(-time.Hour))))
	code, f = runCheck(t, w)
	if code != exitFailed || !f["archive age"].OK || f["archive size"].OK || !strings.Contains(f["archive size"].Detail, "median") {
		t.Fatalf("small archive: exit %d, age %+v, size %+v", code, f["archive age"], f["archive size"])
	}
}
