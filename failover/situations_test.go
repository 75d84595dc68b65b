package failover

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// newBucketStandby is a standby of a fresh app whose bucket (a real MinIO)
// holds one Heroku-shaped archive, its config read as lifeboat.yaml is.
func newBucketStandby(t *testing.T) *Standby {
	t.Helper()
	dump, _ := herokuArchive(t)
	s := newTestStandby(t, nil) // names, engine and the cleanup of its Docker objects
	s3 := testenv.StartS3(t)
	const bucket = "heroku-backups"
	s3.CreateBucket(t, bucket)
	prefix := "backups/" + s.App.Name + "/DATABASE_URL/"
	key := prefix + filepath.Base(testenv.HerokuKey(s.App.Name, "DATABASE_URL", time.Now().UTC().Add(-time.Hour), "UTC", true))
	s3.Put(t, bucket, key, testenv.Gzip(t, dump))
	dir := filepath.Dir(s.App.StateDir)
	cfgPath := filepath.Join(t.TempDir(), "lifeboat.yaml")
	yaml := fmt.Sprintf(`state_dir: %s
apps:
  - name: %s
    s3: {bucket: %s, prefix: %s, endpoint: %s, path_style: true, credentials_file: %s, timeout: 5s}
    database: {name: shop, jobs: 2, keep_generations: 1, ready_timeout: 2m, shm_size: 128MiB}
`, dir, s.App.Name, bucket, prefix, s3.Endpoint, s3.WriteCredentialsFile(t, t.TempDir()))
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	app, err := cfg.App(s.App.Name)
	if err != nil {
		t.Fatal(err)
	}
	return NewStandby(app, s.Engine, nil, nil)
}

// The three situations, each through the Ops path the commands use:
// refresh (and refresh again: up to date), failover from what is on the
// VPS, refresh skipped while serving, failback (a verified dump), failback
// --complete; every run recorded.
func TestRefreshFailoverFailback(t *testing.T) {
	s := newBucketStandby(t)
	ctx := context.Background()
	o := &Ops{Log: slog.New(slog.DiscardHandler)}

	res, err := o.Refresh(ctx, s, RefreshOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Outcome != OutcomeRefreshed || res.Generation == nil || res.Generation.Number != 1 {
		t.Fatalf("first refresh: %s, generation %+v", res.Outcome, res.Generation)
	}
	if got := query(t, s, res.Generation, "select count(*) from app.accounts"); fmt.Sprint(got) == "0" {
		t.Fatalf("refreshed database has no accounts")
	}
	res, err = o.Refresh(ctx, s, RefreshOptions{})
	if err != nil || res.Outcome != OutcomeUpToDate {
		t.Fatalf("second refresh: %s, %v", res.Outcome, err)
	}

	// Failover: served from generation 1, no bucket needed.
	fo, err := o.Failover(ctx, s, false)
	if err != nil {
		t.Fatal(err)
	}
	if fo.Generation != 1 || fo.RPOSeconds <= 0 {
		t.Fatalf("failover: generation %d, RPO %.0fs", fo.Generation, fo.RPOSeconds)
	}
	if sv, _ := s.State.Serving(); sv == nil || sv.Generation != 1 {
		t.Fatalf("serving record after failover: %+v", sv)
	}
	// A refresh while serving does nothing, by design: not a failure.
	if res, err := o.Refresh(ctx, s, RefreshOptions{}); err != nil || res.Outcome != OutcomeSkippedServing {
		t.Fatalf("refresh while serving: %s, %v; want %s", res.Outcome, err, OutcomeSkippedServing)
	}

	// Failback: a dump of the serving database, read back to its end.
	fb, err := o.Failback(ctx, s, FailbackOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(fb.File); err != nil || st.Size() != fb.Size || fb.DataTables == 0 || len(fb.SHA256) != 64 {
		t.Fatalf("failback dump %+v: %v", fb, err)
	}
	if filepath.Dir(fb.File) != s.State.FailbackDir() {
		t.Errorf("failback dump in %s, want the state's %s", filepath.Dir(fb.File), s.State.FailbackDir())
	}
	if _, err := o.Failback(ctx, s, FailbackOptions{Complete: true}); err != nil {
		t.Fatal(err)
	}
	if sv, _ := s.State.Serving(); sv != nil {
		t.Fatalf("still serving after failback --complete: %+v", sv)
	}

	// Run ids are start times to the second: runs of one second share one.
	for kind, want := range map[string]int{"refresh": 1, "failover": 1, "failback": 1} {
		runs, err := s.State.Runs(kind)
		if err != nil || len(runs) < want {
			t.Errorf("%d %s runs recorded (%v), want %d or more", len(runs), kind, err, want)
		}
	}
	// The skipped refresh is kept, but the job's last run is the real one.
	if last, _ := s.State.LastRun("refresh"); last == nil || last.Skipped || last.Outcome != OutcomeUpToDate {
		t.Errorf("last refresh: %+v, want the up-to-date one", last)
	}
	runs, _ := s.State.Runs("refresh")
	skipped := false
	for _, r := range runs {
		skipped = skipped || r.Skipped && r.Outcome == OutcomeSkippedServing
	}
	if !skipped {
		t.Errorf("the refresh skipped while serving is not recorded: %d runs", len(runs))
	}
	if last, _ := s.State.LastRun("failback"); last == nil || !last.OK || last.Outcome != OutcomeCompleted {
		t.Errorf("last failback run: %+v", last)
	}
	// The standby's database container is the one generation 1 named.
	if _, err := s.Engine.InspectContainer(ctx, s.Names.Database(1)); err != nil {
		t.Errorf("generation 1's container: %v", err)
	}
}
