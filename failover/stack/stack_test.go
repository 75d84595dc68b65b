package stack

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// TestUpStartsEveryProcess starts processes of several types and counts
// (created side by side) on the real engine: every container runs, with
// its own DYNO, and Result lists them in the documented order (web first,
// then the others by type and number) whatever order they started in. The
// Postgres image stands in for an app: sh and sleep are all it needs, and
// without a web process Up checks that everything runs.
func TestUpStartsEveryProcess(t *testing.T) {
	image := testenv.RequirePostgresImage(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	eng, err := engine.New(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	rand.Read(b)
	app := "stacktest" + hex.EncodeToString(b)
	labels := map[string]string{engine.LabelApp: app}
	t.Cleanup(func() {
		ctx := context.Background()
		r := &Runner{Engine: eng}
		r.Remove(ctx, labels)
		eng.RemoveNetwork(ctx, app+"-net")
		eng.Close()
	})
	if _, err := eng.EnsureNetwork(ctx, app+"-net", true, labels); err != nil {
		t.Fatal(err)
	}
	p := &Plan{
		App: app, Prefix: app, Image: image, Shell: true, Network: app + "-net", Port: 5000,
		Processes: map[string]Process{
			"worker": {Command: "exec sleep 300", Count: 3},
			"clock":  {Command: "exec sleep 300", Count: 1},
		},
		Vars:   map[string]string{"GREETING": "hello"},
		Health: Health{Path: "/health", Timeout: 30 * time.Second, Interval: time.Second},
		Labels: labels,
	}
	res, err := (&Runner{Engine: eng}).Up(ctx, p)
	if err != nil {
		t.Fatalf("Up: %v", err)
	}
	want := []string{app + "-clock-1", app + "-worker-1", app + "-worker-2", app + "-worker-3"}
	if !slices.Equal(res.Containers, want) {
		t.Fatalf("Containers %v, want %v", res.Containers, want)
	}
	for _, name := range want {
		c, err := eng.InspectContainer(ctx, name)
		if err != nil || c.State != "running" {
			t.Fatalf("%s: %+v, %v", name, c, err)
		}
	}
	var out, errOut strings.Builder
	code, err := eng.Exec(ctx, app+"-worker-2", []string{"sh", "-c", "echo $DYNO $GREETING"}, engine.ExecOptions{Stdout: &out, Stderr: &errOut})
	if err != nil || code != 0 || out.String() != "worker.2 hello\n" {
		t.Fatalf("worker-2's environment: %q (exit %d, %v, %s)", out.String(), code, err, errOut.String())
	}
	t.Logf("start %.2fs", res.StartSeconds)
	if res.StartSeconds <= 0 || res.BootSeconds < res.StartSeconds {
		t.Errorf("StartSeconds %v BootSeconds %v", res.StartSeconds, res.BootSeconds)
	}
}
