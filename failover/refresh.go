package failover

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrServing is returned by Refresh while the standby serves users after a
// failover: a refresh would throw away the data written since.
var ErrServing = errors.New("the standby is serving (failed over)")

// Refresh outcomes.
const (
	OutcomeRefreshed    = "refreshed"
	OutcomeUpToDate     = "up-to-date"
	OutcomeAppRestarted = "app-restarted"
	OutcomeFailed       = "failed"
	// OutcomeSkippedServing: the standby serves users; refreshing would
	// discard what they wrote, so the refresh did nothing, by design.
	OutcomeSkippedServing = "skipped-serving"
)

// RefreshOptions tune Refresh.
type RefreshOptions struct {
	// Force restores even when the archive is not newer, and runs even
	// while failed over.
	Force bool
	// AcceptDrift restores even when row counts drifted beyond
	// database.drift since the last verified restore (recorded, not failed).
	AcceptDrift bool
}

// RefreshResult says what Refresh did.
type RefreshResult struct {
	Outcome    string               `json:"outcome"`
	Generation *state.Generation    `json:"generation"`
	Fetch      *archive.FetchResult `json:"fetch"`
	App        *UpResult            `json:"app"`
	Run        *state.Run           `json:"run"`
	Warnings   []string             `json:"warnings"`
}

// Refresh is the scheduled job: fetch the newest archive, pull the app
// image, snapshot the config vars, restore a new generation, verify it,
// start the app on it, wait until healthy, then switch and retire the old
// app containers and database. If any step fails, the old standby keeps
// running exactly as it was. The caller holds the app's lock; the run's
// record is in the result, for the caller to record (Ops.Refresh).
func (s *Standby) Refresh(ctx context.Context, o RefreshOptions) (res *RefreshResult, err error) {
	res = &RefreshResult{Warnings: []string{}}
	run := newRun("refresh", time.Now())
	res.Run = run
	t := newPhases(nil)
	defer func() {
		run.FinishedAt = time.Now().UTC()
		run.Phases = t.records()
		run.OK = err == nil
		if err != nil {
			run.Outcome, run.Error = OutcomeFailed, err.Error()
		} else {
			run.Outcome = res.Outcome
		}
		res.Outcome = run.Outcome
		if res.Generation != nil {
			run.Details["generation"] = res.Generation.Number
		}
		run.Details["warnings"] = res.Warnings
	}()

	if sv, _ := s.State.Serving(); sv != nil && !o.Force {
		// Not a failure: the scheduled refresh keeps firing during an
		// outage, and saying "failed" every night would hide real ones.
		run.Skipped = true
		res.Outcome = OutcomeSkippedServing
		res.Warnings = append(res.Warnings, fmt.Sprintf("%v since %s: refresh did nothing, since it would overwrite the data written during the outage; "+
			"after `lifeboat failback --complete` it runs again (refresh --force discards that data)", ErrServing, sv.Since.Format(time.RFC3339)))
		return res, nil
	}

	// 0. Room on disk for what it will write, before anything starts; and
	// the most it takes at once, measured while it runs.
	plan, err := s.RoomPlan(ctx)
	if plan != nil {
		run.Details["disk_plan"] = plan
	}
	if err != nil {
		return res, fmt.Errorf("refused before it started, nothing was touched: %w (free space, or lower cache.min_free)", err)
	}
	watch := s.watchDisk(ctx)
	defer func() { run.Details["disk"] = watch.Stop() }()

	// 1. The newest archive.
	f, err := NewFetcher(ctx, s.App, s.Log)
	if err != nil {
		return res, err
	}
	fr, ferr := f.Fetch(ctx, archive.FetchRequest{})
	res.Fetch = fr
	res.Warnings = append(res.Warnings, fr.Warnings...)
	t.done("fetch")
	if ferr != nil {
		return res, fmt.Errorf("fetch: %w", ferr)
	}
	run.Details["archive"] = fr.Entry.Key
	run.Details["archive_captured_at"] = fr.Entry.CapturedAt

	cur, curErr := s.CurrentGeneration()
	newer := curErr != nil || cur.Archive.DumpSHA256 != fr.Entry.DumpSHA256 || o.Force

	// 2. The app image and 3. the config vars.
	var img engine.Image
	if s.App.Stack.Enabled() {
		var warnings []string
		img, warnings, err = s.appImage(ctx, true)
		res.Warnings = append(res.Warnings, warnings...)
		if err != nil {
			return res, err
		}
		run.Details["image_id"] = img.ID
		t.done("image")
		if w := s.snapshotConfigVars(ctx); w != "" {
			res.Warnings = append(res.Warnings, w)
		}
		t.done("config-vars")
	}

	if !newer {
		res.Generation = cur
		res.Outcome, err = s.refreshApp(ctx, res, cur, img, t)
		return res, err
	}

	// 4. A new generation, built beside the running one.
	br, err := s.Build(ctx, RestoreRequest{ArchivePath: fr.Entry.Path, AcceptDrift: o.AcceptDrift})
	res.Generation = br.Generation
	if br.Generation != nil {
		for _, w := range br.Generation.Drift.Warnings {
			res.Warnings = append(res.Warnings, w+", "+br.Generation.Drift.Between())
		}
		run.Details["drift"] = br.Generation.Drift.Summary()
	}
	t.done("restore")
	if err != nil {
		return res, err
	}
	g := br.Generation
	run.Details["restore_phases"] = g.Phases

	// 5. The app on it, healthy, before anything switches.
	if s.App.Stack.Enabled() {
		res.App, err = s.startApp(ctx, g, stack.ModeStandby, img, true)
		t.done("app")
		if err != nil {
			s.Discard(g, fmt.Errorf("the app did not start on it: %w", err))
			return res, fmt.Errorf("the app did not start on generation %d, the old standby keeps running: %w", g.Number, err)
		}
	}

	// 6. Switch, then retire the old app and database.
	if err := s.switchTo(ctx, g, res); err != nil {
		return res, err
	}
	t.done("switch")
	res.Outcome = OutcomeRefreshed
	return res, nil
}

// refreshApp is a refresh that found no newer archive: the app is left
// alone when it runs healthy on the current generation and image, else
// restarted on it (with its release phase when the image is new).
func (s *Standby) refreshApp(ctx context.Context, res *RefreshResult, cur *state.Generation, img engine.Image, t *phases) (string, error) {
	rec, _ := s.State.Stack()
	if !s.App.Stack.Enabled() {
		return OutcomeUpToDate, nil
	}
	if rec != nil && rec.Generation == cur.Number && rec.ImageID == img.ID && s.webHealthy(ctx, rec) {
		return OutcomeUpToDate, nil
	}
	// Same data, but a new image or a stopped app: restart the app.
	if err := s.ensureDatabaseRunning(ctx, cur); err != nil {
		return "", err
	}
	// A new image is a new release: its release phase runs.
	var err error
	res.App, err = s.startApp(ctx, cur, stack.ModeStandby, img, rec == nil || rec.ImageID != img.ID)
	t.done("app")
	if err != nil {
		return "", err
	}
	return OutcomeAppRestarted, nil
}

// switchTo makes g current, then retires the other app containers and the
// previous database; what cannot be retired is a warning.
func (s *Standby) switchTo(ctx context.Context, g *state.Generation, res *RefreshResult) error {
	if _, err := s.Promote(ctx, g, true); err != nil {
		return err
	}
	if s.App.Stack.Enabled() {
		if err := s.removeOtherApps(ctx, g.Number); err != nil {
			res.Warnings = append(res.Warnings, "removing the old app containers: "+err.Error())
		}
	}
	if err := s.StopPrevious(ctx); err != nil {
		res.Warnings = append(res.Warnings, "stopping the old database: "+err.Error())
	}
	return nil
}

// snapshotConfigVars saves the Heroku config vars when configured; it
// returns a warning when they could not be fetched (the last snapshot stays).
func (s *Standby) snapshotConfigVars(ctx context.Context) string {
	h := s.App.Stack.Heroku
	if h.App == "" {
		return ""
	}
	snap, err := stack.FetchConfigVars(ctx, herokuAPI(h))
	if err != nil {
		prev, _ := stack.LoadSnapshot(s.State.ConfigVarsFile())
		age := "none"
		if prev != nil && !prev.Taken.IsZero() {
			age = "the one from " + prev.Taken.Format(time.RFC3339)
		}
		return fmt.Sprintf("config vars not refreshed (%v); using the last snapshot: %s", err, age)
	}
	if err := stack.SaveSnapshot(s.State.ConfigVarsFile(), snap); err != nil {
		return "config vars fetched but not saved: " + err.Error()
	}
	return ""
}

func (s *Standby) webHealthy(ctx context.Context, rec *state.StackRecord) bool {
	if rec.WebURL == "" {
		return false
	}
	return stack.Healthy(ctx, rec.WebURL) == nil
}
