package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// egressTarget starts a listener on a network of the test's own (not
// internal): a drill's network must not reach it. It returns host:port.
func egressTarget(t *testing.T, w *appWorld) string {
	ctx := context.Background()
	name := fmt.Sprintf("lifeboat-test-egress-%d", time.Now().UnixNano()%1e9)
	labels := map[string]string{engine.LabelApp: "lifeboat-test"}
	if _, err := w.eng.EnsureNetwork(ctx, name, false, labels); err != nil {
		t.Fatal(err)
	}
	spec := engine.ContainerSpec{Name: name, Image: "lifeboat-test/exampleapp:e2e", Cmd: []string{"web"}, Network: name, Labels: labels,
		Env: []string{"PORT=8080", "DATABASE_URL=postgres://nobody@127.0.0.1:1/none"}}
	if _, err := w.eng.CreateContainer(ctx, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		w.eng.RemoveContainer(context.Background(), name, true)
		w.eng.RemoveNetwork(context.Background(), name)
	})
	if err := w.eng.StartContainer(ctx, name); err != nil {
		t.Fatal(err)
	}
	c, err := w.eng.InspectContainer(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	addr := c.IPs[name] + ":8080"
	// It answers from the host, so "blocked" from the drill means something.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/egress?addr=127.0.0.1:1")
		if err == nil {
			resp.Body.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("egress target %s does not answer: %v", addr, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

type hookReceiver struct {
	mu     sync.Mutex
	bodies []map[string]any
	fail   bool
}

func (h *hookReceiver) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var m map[string]any
	json.Unmarshal(b, &m)
	h.mu.Lock()
	h.bodies = append(h.bodies, m)
	fail := h.fail
	h.mu.Unlock()
	if fail {
		http.Error(w, "down", http.StatusInternalServerError)
	}
}

func (h *hookReceiver) count() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.bodies)
}

func drillLeftovers(t *testing.T, w *appWorld) []string {
	ctx := context.Background()
	f := map[string]string{engine.LabelApp: "shop", engine.LabelPurpose: "drill"}
	var out []string
	cs, _ := w.eng.ListContainers(ctx, f, true)
	for _, c := range cs {
		out = append(out, "container "+c.Name)
	}
	vs, _ := w.eng.ListVolumes(ctx, f)
	for _, v := range vs {
		out = append(out, "volume "+v.Name)
	}
	ns, _ := w.eng.ListNetworks(ctx, f)
	for _, n := range ns {
		out = append(out, "network "+n.Name)
	}
	return out
}

func TestDrillPassesFailsLoudlyAndLeavesNothing(t *testing.T) {
	w := newAppWorld(t, "")
	target := egressTarget(t, w)
	hooks := &hookReceiver{}
	recv := httptest.NewServer(hooks)
	defer recv.Close()
	hookURL := filepath.Join(t.TempDir(), "hook-url")
	os.WriteFile(hookURL, []byte(recv.URL+"/hook/SECRETTOKEN\n"), 0o600)
	cfg := mustRead(t, w.cfgPath)
	cfg = strings.Replace(cfg, "apps:\n", fmt.Sprintf("notify:\n  webhook: {url_file: %s}\n  on: [failure, success]\napps:\n", hookURL), 1)
	cfg += fmt.Sprintf("    rto_target: 10m\n    rpo_target: 26h\n    drill: {egress_probes: [\"%s\"]}\n", target)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	d := sourceDump(t)
	w.s3.Put(t, bucket, w.key(2*time.Hour, true), testenv.Gzip(t, d))

	// 1. A drill of a real archive passes; its report's row counts match the source.
	code, out, errOut := lb(t, "--config", w.cfgPath, "drill", "--json", "--triggered-by", "e2e")
	if code != 0 {
		t.Fatalf("drill: %d\n%s\n%s", code, out, errOut)
	}
	var rep report.Report
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.Result != "pass" || rep.TriggeredBy != "e2e" || !rep.RTO.Met || !rep.RPO.Met || !rep.AppHealth.Healthy || !rep.AppHealth.EgressBlocked {
		t.Fatalf("report: %s", out)
	}
	got := map[string]int64{}
	for _, tr := range rep.Tables {
		got[tr.Schema+"."+tr.Name] = tr.Rows
	}
	for table, n := range rowCounts {
		if got[table] != n {
			t.Errorf("%s: drill restored %d rows, source has %d", table, got[table], n)
		}
	}
	var names []string
	for _, p := range rep.Phases {
		names = append(names, p.Name)
	}
	if strings.Join(names, ",") != "locate,download,verify,database-start,restore,checks,release,app-boot,health,teardown" {
		t.Errorf("phases %v", names)
	}
	if left := drillLeftovers(t, w); len(left) > 0 {
		t.Fatalf("the drill left %v", left)
	}
	if hooks.count() != 1 || len(rep.Notifications) != 1 || !rep.Notifications[0].OK {
		t.Fatalf("notifications: %d received, report says %+v", hooks.count(), rep.Notifications)
	}
	if strings.Contains(fmt.Sprint(hooks.bodies[0]), "SECRETTOKEN") {
		t.Fatal("the webhook payload carries its own secret URL")
	}
	// The standby was never touched: no generation was made.
	if code, out, _ := lb(t, "--config", w.cfgPath, "generations", "--json"); code != 0 || strings.TrimSpace(out) != "[]" {
		t.Fatalf("generations after a drill: %s", out)
	}

	// 2. --keep: the drill's app cannot reach our target from inside.
	code, out, errOut = lb(t, "--config", w.cfgPath, "drill", "--keep", "--json")
	if code != 0 {
		t.Fatalf("drill --keep: %s %s", out, errOut)
	}
	json.Unmarshal([]byte(out), &rep)
	resp, err := http.Get(strings.TrimSuffix(rep.AppHealth.URL, "/health") + "/egress?addr=" + target)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.HasPrefix(string(body), "blocked") {
		t.Fatalf("from inside the drill's app container: %s", body)
	}
	if len(drillLeftovers(t, w)) == 0 {
		t.Fatal("--keep kept nothing")
	}

	// 3. A failing SQL check fails the drill with the reason; the next drill
	// removes the kept one's containers first.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(cfg, "      jobs: 2\n", "      jobs: 2\n      checks: [{name: too many accounts, sql: select count(*) > 1000000 from app.accounts}]\n", 1)), 0o600)
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || rep.Result != "fail" || !strings.Contains(strings.Join(rep.Failures, "\n"), "too many accounts") {
		t.Fatalf("failing check: %d %v", code, rep.Failures)
	}
	if left := drillLeftovers(t, w); len(left) > 0 {
		t.Fatalf("left after a failed drill: %v", left)
	}

	// 4. An app that never gets healthy.
	os.WriteFile(w.cfgPath, []byte(strings.Replace(cfg, "path: /health, timeout: 60s", "path: /nope, timeout: 5s", 1)), 0o600)
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || rep.AppHealth.Healthy || !strings.Contains(strings.Join(rep.Failures, "\n"), "healthy") {
		t.Fatalf("never healthy: %d %v", code, rep.Failures)
	}

	// 5. A notification that cannot be delivered fails the drill.
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	hooks.mu.Lock()
	hooks.fail = true
	hooks.mu.Unlock()
	code, out, errOut = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || rep.Result != "fail" || len(rep.Notifications) == 0 || rep.Notifications[0].OK {
		t.Fatalf("failed notification: %d %v %+v", code, rep.Failures, rep.Notifications)
	}
	if strings.Contains(errOut+out, "SECRETTOKEN") {
		t.Fatal("the secret webhook URL leaked into the output")
	}

	// 6. History: drills lists them; report renders HTML.
	code, out, _ = lb(t, "--config", w.cfgPath, "drills", "--json")
	var list []report.Report
	json.Unmarshal([]byte(out), &list)
	if code != 0 || len(list) != 5 {
		t.Fatalf("drills: %d, %d reports", code, len(list))
	}
	html := filepath.Join(t.TempDir(), "report.html")
	if code, _, errOut := lb(t, "--config", w.cfgPath, "report", list[len(list)-1].ID, "--html", html); code != 0 {
		t.Fatalf("report --html: %s", errOut)
	}
	page, _ := os.ReadFile(html)
	if !strings.Contains(string(page), list[len(list)-1].ID) || !strings.Contains(string(page), "PASS") {
		t.Fatalf("the HTML report lacks the drill id or its outcome")
	}

	// 7. A broken archive only: the drill fails at locate.
	w.s3.Put(t, bucket, w.key(time.Hour, true), []byte("not an archive"))
	code, out, _ = lb(t, "--config", w.cfgPath, "drill", "--json")
	json.Unmarshal([]byte(out), &rep)
	if code != exitFailed || !strings.Contains(strings.Join(rep.Failures, "\n"), "newer") {
		t.Fatalf("broken newer archive: %d %v", code, rep.Failures)
	}
}

// TestDrillBootsLikeAFailover: a drill boots the app with the config vars
// a failover would use (the standby's snapshot: here one whose
// RELEASE_FAIL makes the release fail, named but not shown), and never
// publishes its database: with database.publish set and that port taken
// (as by the standby's database) the drill still passes.
func TestDrillBootsLikeAFailover(t *testing.T) {
	w := newAppWorld(t, "")
	held, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer held.Close()
	cfg := strings.Replace(mustRead(t, w.cfgPath), "      jobs: 2\n", "      jobs: 2\n      publish: "+held.Addr().String()+"\n", 1)
	os.WriteFile(w.cfgPath, []byte(cfg), 0o600)
	w.s3.Put(t, bucket, w.key(2*time.Hour, true), testenv.Gzip(t, sourceDump(t)))
	snapshot := filepath.Join(w.stateDir, "shop", "config-vars.json")
	const secret = "from-the-standby-snapshot"
	if err := os.MkdirAll(filepath.Dir(snapshot), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := stack.SaveSnapshot(snapshot, &stack.Snapshot{App: "shop-prod", Taken: time.Now().UTC(),
		Vars: map[string]string{"RELEASE_FAIL": secret}}); err != nil {
		t.Fatal(err)
	}

	drill := func() report.Report {
		t.Helper()
		_, out, errOut := lb(t, "--config", w.cfgPath, "drill", "--json")
		var rep report.Report
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("drill --json: %v\n%s\n%s", err, out, errOut)
		}
		for _, p := range rep.Phases {
			if p.Name == "publish" {
				t.Errorf("the drill published its database: %+v", p)
			}
		}
		return rep
	}
	rep := drill()
	failures := strings.Join(rep.Failures, "\n")
	if rep.Result != "fail" || !strings.Contains(failures, "release command failed") || !strings.Contains(failures, "[redacted:RELEASE_FAIL]") ||
		strings.Contains(failures, secret) {
		t.Errorf("a drill with the snapshot's RELEASE_FAIL: %s: %s", rep.Result, failures)
	}
	// Without a snapshot (no refresh took one yet) it boots on the rest.
	if err := os.Remove(snapshot); err != nil {
		t.Fatal(err)
	}
	if rep := drill(); rep.Result != "pass" || !rep.AppHealth.Healthy {
		t.Errorf("a drill with database.publish's port taken: %s: %v", rep.Result, rep.Failures)
	}
	if left := drillLeftovers(t, w); len(left) > 0 {
		t.Errorf("the drills left %v", left)
	}
}
