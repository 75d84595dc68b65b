package main

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestDrillKeepOnFailure: a failed drill keeps its database (listed by ps,
// reachable as printed) until drill --cleanup; a passing one keeps nothing.
func TestDrillKeepOnFailure(t *testing.T) {
	testenv.RequirePostgresImage(t)
	eng, err := engine.New(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	failing := "    database:\n      jobs: 2\n      checks: [{name: too many accounts, sql: select count(*) > 1000000 from app.accounts}]\n"
	w := newWorld(t, failing)
	t.Cleanup(func() { lb(t, "--config", w.cfgPath, "drill", "--cleanup") })
	leftovers := func() []string {
		var out []string
		f := map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "drill"}
		cs, _ := eng.ListContainers(context.Background(), f, true)
		for _, c := range cs {
			out = append(out, c.Name)
		}
		vs, _ := eng.ListVolumes(context.Background(), f)
		for _, v := range vs {
			out = append(out, v.Name)
		}
		return out
	}
	d := sourceDump(t)
	w.s3.Put(t, bucket, w.key(time.Hour, true), testenv.Gzip(t, testenv.WithCreatedAt(t, d, time.Now().UTC().Add(-time.Hour))))

	code, out, errOut := lb(t, "--config", w.cfgPath, "drill", "--keep-on-failure", "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || !rep.Kept || len(rep.Inspect) == 0 {
		t.Fatalf("failing drill: %d %v kept=%v inspect=%v\n%s", code, err, rep.Kept, rep.Inspect, errOut)
	}
	if len(leftovers()) == 0 {
		t.Fatal("a failed drill with --keep-on-failure kept nothing")
	}
	// The printed psql command works: the kept database holds the data.
	var psql string
	for _, l := range rep.Inspect {
		if i := strings.Index(l, "docker exec -it "); i >= 0 {
			psql = l[i:]
		}
	}
	if psql == "" || !strings.Contains(errOut, psql) || !strings.Contains(errOut, "lifeboat drill --cleanup --app shop") {
		t.Fatalf("how to connect is not printed: %q\n%s", rep.Inspect, errOut)
	}
	args := strings.Fields(strings.Replace(psql, "docker exec -it ", "docker exec ", 1))
	args = append(args, "-tAc", "select count(*) from app.accounts")
	res, err := exec.Command(args[0], args[1:]...).CombinedOutput()
	if err != nil || strings.TrimSpace(string(res)) != "3000" {
		t.Fatalf("%v: %v %s", args, err, res)
	}
	// ps lists the kept containers as the drill's.
	code, out, _ = lb(t, "--config", w.cfgPath, "ps", "--json")
	if code != 0 || !strings.Contains(out, `"purpose": "drill"`) {
		t.Fatalf("ps does not list the kept drill: %s", out)
	}

	// drill --cleanup removes it all, records included.
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--cleanup", "--json")
	var cl struct{ Removed []string }
	if err := json.Unmarshal([]byte(out), &cl); err != nil || code != 0 || len(cl.Removed) == 0 {
		t.Fatalf("cleanup: %d %v %s", code, err, out)
	}
	if left := leftovers(); len(left) > 0 {
		t.Fatalf("after cleanup: %v", left)
	}
	if work, _ := os.ReadDir(filepath.Join(w.stateDir, "shop", "drills", "work")); len(work) > 0 {
		t.Fatalf("the drills' working records stay: %v", work)
	}
	if code, out, _ := lb(t, "--config", w.cfgPath, "drill", "--cleanup"); code != 0 || !strings.Contains(out, "no drill leftovers") {
		t.Fatalf("second cleanup: %d %s", code, out)
	}

	// A passing drill with --keep-on-failure keeps nothing.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(mustRead(t, w.cfgPath), failing, "    database: {jobs: 2}\n", 1)), 0o600)
	code, out, errOut = lb(t, "--config", w.cfgPath, "drill", "--keep-on-failure", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != 0 || rep.Kept || len(rep.Inspect) != 0 {
		t.Fatalf("passing drill: %d kept=%v %v\n%s", code, rep.Kept, rep.Failures, errOut)
	}
	if left := leftovers(); len(left) > 0 {
		t.Fatalf("a passing drill kept %v", left)
	}
	// --keep and --keep-on-failure together are a usage error.
	if code, _, _ := lb(t, "--config", w.cfgPath, "drill", "--keep", "--keep-on-failure"); code != 2 {
		t.Fatalf("--keep --keep-on-failure: exit %d", code)
	}
}

// TestDrillKeepOnFailureKeepsAFailedApp: an app that starts but never
// answers its health path fails the drill; with --keep-on-failure its
// containers stay (labelled, listed by ps), the drill prints how to read
// their logs and reach the app, and drill --cleanup removes them. Without
// the flag they are removed as before.
func TestDrillKeepOnFailureKeepsAFailedApp(t *testing.T) {
	w := newAppWorld(t, "")
	cfg := strings.Replace(mustRead(t, w.cfgPath), "health: {path: /health, timeout: 60s}", "health: {path: /nope, timeout: 5s}", 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	t.Cleanup(func() { lb(t, "--config", w.cfgPath, "drill", "--cleanup") })
	d := sourceDump(t)
	w.s3.Put(t, bucket, w.key(time.Hour, true), testenv.Gzip(t, testenv.WithCreatedAt(t, d, time.Now().UTC().Add(-time.Hour))))

	code, out, errOut := lb(t, "--config", w.cfgPath, "drill", "--keep-on-failure", "--json")
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitFailed || rep.AppHealth.Healthy || !rep.Kept {
		t.Fatalf("unhealthy app: %d %v kept=%v %v\n%s", code, err, rep.Kept, rep.Failures, errOut)
	}
	var web string
	for _, l := range append(drillLeftovers(t, w), "") {
		if strings.HasPrefix(l, "container ") && strings.HasSuffix(l, "-web-1") {
			web = strings.TrimPrefix(l, "container ")
		}
	}
	if web == "" {
		t.Fatalf("the failed app's web container was not kept: %v", drillLeftovers(t, w))
	}
	inspect := strings.Join(rep.Inspect, "\n")
	if !strings.Contains(inspect, "logs of web: docker logs "+web) || !strings.Contains(errOut, "docker logs "+web) ||
		!strings.Contains(inspect, "the app (from this host; its network has no way out): http://") || !strings.Contains(inspect, ":5000/nope") {
		t.Fatalf("how to reach the kept app:\n%s\n%s", inspect, errOut)
	}
	// The printed command works.
	if res, err := exec.Command("docker", "logs", web).CombinedOutput(); err != nil {
		t.Fatalf("docker logs %s: %v %s", web, err, res)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "ps", "--json")
	if code != 0 || !strings.Contains(out, web) {
		t.Fatalf("ps does not list the kept app: %s", out)
	}
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--cleanup", "--json")
	if code != 0 || !strings.Contains(out, web) {
		t.Fatalf("cleanup: %d %s", code, out)
	}
	if left := drillLeftovers(t, w); len(left) > 0 {
		t.Fatalf("after cleanup: %v", left)
	}

	// Without --keep-on-failure the failed app is removed, as before.
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || rep.Kept {
		t.Fatalf("unhealthy app without the flag: %d kept=%v", code, rep.Kept)
	}
	if left := drillLeftovers(t, w); len(left) > 0 {
		t.Fatalf("a failed drill without --keep-on-failure left %v", left)
	}
}
