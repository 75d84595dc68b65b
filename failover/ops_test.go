package failover

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/notify"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// webhook records the events Lifeboat posts to it.
type webhook struct {
	mu     sync.Mutex
	events []map[string]any
}

func (w *webhook) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	var ev map[string]any
	json.Unmarshal(b, &ev)
	w.mu.Lock()
	w.events = append(w.events, ev)
	w.mu.Unlock()
}

func (w *webhook) kinds() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var out []string
	for _, ev := range w.events {
		k, _ := ev["kind"].(string)
		ok, _ := ev["ok"].(bool)
		if !ok {
			k += ":failed"
		}
		out = append(out, k)
	}
	return out
}

// Every state-changing command ends through one path: its run is recorded,
// its outcome notified, the metrics file rewritten; restore and up included.
func TestOpsRecordEveryRun(t *testing.T) {
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil)
	ctx := context.Background()
	hook := &webhook{}
	srv := httptest.NewServer(hook)
	defer srv.Close()
	metricsDir := t.TempDir()
	o := &Ops{MetricsDir: metricsDir, Log: slog.New(slog.DiscardHandler), Notifier: notify.New(notify.Config{
		Webhook: &notify.Webhook{URL: srv.URL}, On: []string{notify.OnFailure, notify.OnSuccess}})}

	res, err := o.Restore(ctx, s, RestoreRequest{ArchivePath: writeFile(t, dump)})
	if err != nil {
		t.Fatal(err)
	}
	run, err := s.State.LastRun("restore")
	if err != nil || run == nil || !run.OK || run.Outcome != OutcomeRestored || len(run.Phases) == 0 {
		t.Fatalf("restore run: %+v, %v", run, err)
	}
	if n, _ := run.Details["generation"].(float64); int(n) != res.Generation.Number {
		t.Errorf("restore run names generation %v, want %d", run.Details["generation"], res.Generation.Number)
	}

	// No app image configured: up fails, and that is recorded and told too.
	if _, err := o.Up(ctx, s); !errors.Is(err, ErrNoStack) {
		t.Fatalf("up without an image: %v, want ErrNoStack", err)
	}
	up, _ := s.State.LastRun("up")
	if up == nil || up.OK || up.Outcome != OutcomeFailed || !strings.Contains(up.Error, "no app image") {
		t.Fatalf("up run: %+v", up)
	}

	// Failback of a standby that is not serving: --complete fails, recorded.
	if _, err := o.Failback(ctx, s, FailbackOptions{Complete: true}); err == nil {
		t.Fatal("failback --complete while not failed over succeeded")
	}
	if fb, _ := s.State.LastRun("failback"); fb == nil || fb.OK {
		t.Fatalf("failback run: %+v", fb)
	}

	if got, want := strings.Join(hook.kinds(), " "), "restore up:failed failback:failed"; got != want {
		t.Errorf("notified %q, want %q", got, want)
	}
	b, err := os.ReadFile(filepath.Join(metricsDir, "lifeboat_"+s.App.Name+".prom"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`lifeboat_last_run_success{app="` + s.App.Name + `",job="restore"} 1`,
		`lifeboat_last_run_success{app="` + s.App.Name + `",job="up"} 0`,
		`lifeboat_last_run_success{app="` + s.App.Name + `",job="failback"} 0`,
		`lifeboat_standby_generation{app="` + s.App.Name + `"} 1`,
	} {
		if !strings.Contains(string(b), want) {
			t.Errorf("metrics lack %s:\n%s", want, b)
		}
	}

	// A notification that cannot be delivered fails the run.
	srv.Close()
	if _, err := o.Up(ctx, s); !errors.Is(err, notify.ErrDelivery) {
		t.Fatalf("up with an unreachable webhook: %v, want ErrDelivery too", err)
	}
}

// Drills are named to the second: two that start in one second (each
// fails at once here, on an archive that is not there) are two reports,
// the second a second later, not the first one replaced.
func TestDrillsInOneSecondAreTwoReports(t *testing.T) {
	s := newTestStandby(t, nil)
	o := &Ops{Log: slog.New(slog.DiscardHandler)}
	missing := filepath.Join(t.TempDir(), "missing.dump")
	var ids []string
	for range 3 {
		rep, err := o.Drill(context.Background(), s, DrillOptions{Archive: missing})
		if err == nil || rep == nil {
			t.Fatalf("a drill of a missing archive: %v", err)
		}
		ids = append(ids, rep.ID)
	}
	list, err := report.List(s.State.DrillsDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 3 || ids[0] == ids[1] || ids[1] == ids[2] || ids[0] >= ids[1] || ids[1] >= ids[2] {
		t.Errorf("drill ids %v, %d reports kept", ids, len(list))
	}
}
