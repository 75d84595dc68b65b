package failover

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrNotReadyToFailover is returned by a dry run (or a failover) when
// something a failover needs is missing.
var ErrNotReadyToFailover = errors.New("failover cannot work")

// FailoverResult says what Failover did (or, with DryRun, would do).
type FailoverResult struct {
	DryRun bool `json:"dry_run"`
	// Warm is true when the standby was running and healthy: failover only
	// switched it to serving.
	Warm       bool           `json:"warm"`
	Generation int            `json:"generation"`
	Checks     []report.Check `json:"checks"`
	// DataCapturedAt is when the served data was captured; RPOSeconds is
	// its age when serving began. RTOSeconds is how long failover took.
	DataCapturedAt time.Time     `json:"data_captured_at"`
	RPOSeconds     float64       `json:"rpo_seconds"`
	RTOSeconds     float64       `json:"rto_seconds"`
	Published      string        `json:"published"`
	WebURL         string        `json:"web_url"`
	NextSteps      []string      `json:"next_steps"`
	Phases         []state.Phase `json:"phases"`
	// RestorePhases are the phases of a cold failover's restore (its
	// "restore" phase broken down); empty when warm.
	RestorePhases []state.Phase `json:"restore_phases"`
	// Stack is how the app started: the release phase (cold), the
	// processes' start and the wait for web's health path.
	Stack *stack.Result `json:"stack,omitempty"`
}

// Failover makes the standby serve users, using only what is on this VPS:
// the current generation (or, when there is none, the newest cached
// archive), the local app image and the config-var snapshot. S3, the
// Heroku API and the registry are never contacted. A warm standby is only
// switched to serving; a cold one is restored from the cache first. With
// dryRun it checks what it would need and changes nothing.
func (s *Standby) Failover(ctx context.Context, dryRun bool) (*FailoverResult, error) {
	start := time.Now()
	t := newPhases(nil)
	res := &FailoverResult{DryRun: dryRun, Checks: []report.Check{}, NextSteps: []string{}, RestorePhases: []state.Phase{}}
	checks, g, warm := s.failoverChecks(ctx)
	res.Checks, res.Warm = checks, warm
	var failed []string
	for _, c := range checks {
		if !c.OK {
			failed = append(failed, c.Name+": "+c.Detail)
		}
	}
	if len(failed) > 0 {
		return res, fmt.Errorf("%w: %s", ErrNotReadyToFailover, strings.Join(failed, "; "))
	}
	if dryRun {
		return res, nil
	}
	t.done("checks")

	cold := g == nil
	if g == nil {
		// Cold: restore from the cache.
		s.say("cold failover: restoring the newest cached archive")
		// In an outage the newest cached data is all there is: drift is
		// recorded, it does not stop the failover.
		br, err := s.Restore(ctx, RestoreRequest{AcceptDrift: true})
		if err != nil {
			return res, err
		}
		g = br.Generation
		res.RestorePhases = g.Phases
		t.done("restore")
	} else if err := s.ensureDatabaseRunning(ctx, g); err != nil {
		return res, err
	}
	t.done("database")
	res.Generation = g.Number
	res.DataCapturedAt = g.Archive.CapturedAt

	sv := &state.Serving{Since: time.Now().UTC(), Generation: g.Number, DataCapturedAt: g.Archive.CapturedAt}
	if s.App.Stack.Enabled() {
		img, _, err := s.appImage(ctx, false)
		if err != nil {
			return res, err
		}
		// The release phase already ran on this data, unless it was just restored.
		up, err := s.startApp(ctx, g, stack.ModeServing, img, cold)
		t.done("app")
		if err != nil {
			return res, fmt.Errorf("the app did not start serving: %w", err)
		}
		res.WebURL, res.Published, res.Stack = up.Stack.WebURL, s.App.Stack.Publish, up.Stack
		sv.Published = res.Published
	}
	res.RTOSeconds = time.Since(start).Seconds()
	res.RPOSeconds = time.Since(g.Archive.CapturedAt).Seconds()
	sv.RTOSeconds = res.RTOSeconds
	if err := s.State.SetServing(sv); err != nil {
		return res, err
	}
	res.Phases = t.records()
	res.NextSteps = s.nextSteps(res)
	return res, nil
}

// failoverChecks checks what a failover needs, using nothing but this host.
// It returns the current generation (nil when a cold restore is needed)
// and whether the standby is warm.
func (s *Standby) failoverChecks(ctx context.Context) ([]report.Check, *state.Generation, bool) {
	var out []report.Check
	add := func(name string, ok bool, format string, args ...any) {
		out = append(out, report.Check{Name: name, Kind: report.KindPreflight, OK: ok, Detail: fmt.Sprintf(format, args...)})
	}
	if sv, _ := s.State.Serving(); sv != nil {
		add("not failed over yet", true, "already serving since %s (generation %d): failover again restarts the app", sv.Since.Format(time.RFC3339), sv.Generation)
	}
	warm := false
	// cold says the cached archive will be restored, because why.
	cold := func(why string) {
		e, cerr := Cache(s.App).Newest()
		if cerr != nil {
			add("data", false, "%s, and no cached archive (%v): nothing to serve; `lifeboat refresh` builds the standby from S3", why, cerr)
			return
		}
		add("data", true, "cold: %s; the cached archive %s (captured %s, %s old) will be restored",
			why, e.Key, e.CapturedAt.Format(time.RFC3339), time.Since(e.CapturedAt).Round(time.Minute))
	}
	g, err := s.CurrentGeneration()
	if err != nil {
		g = nil
		cold("no database generation")
	} else {
		c, err := s.Engine.InspectContainer(ctx, g.Container)
		switch {
		case errors.Is(err, engine.ErrNotFound):
			cold(fmt.Sprintf("generation %d's container %s was removed (by hand?): %s", g.Number, g.Container, DatabaseGoneAdvice))
			g = nil
		case err != nil:
			add("data", false, "generation %d cannot be inspected: %v", g.Number, err)
		case c.State == "running":
			warm = true
			add("data", true, "generation %d is running (captured %s, %s old)", g.Number, g.Archive.CapturedAt.Format(time.RFC3339),
				time.Since(g.Archive.CapturedAt).Round(time.Minute))
		default:
			add("data", true, "generation %d exists but is %s: it will be started", g.Number, c.State)
		}
	}
	if !s.App.Stack.Enabled() {
		add("app", true, "no app image configured: only the database is served")
		return out, g, warm
	}
	cfg := s.App.Stack
	img, err := s.Engine.InspectImage(ctx, cfg.Image)
	if err != nil {
		add("app image", false, "%s is not on this host (%v): it cannot be pulled during an outage", cfg.Image, err)
	} else {
		add("app image", true, "%s is on this host (%s)", cfg.Image, img.ID)
	}
	snap, err := stack.LoadSnapshot(s.State.ConfigVarsFile())
	switch {
	case err != nil:
		add("config vars", false, "the snapshot cannot be read: %v", err)
	case len(snap.Vars) > 0:
		add("config vars", true, "snapshot of %d vars from %s", len(snap.Vars), snap.Taken.Format(time.RFC3339))
	case cfg.EnvFile != "":
		if _, err := os.Stat(cfg.EnvFile); err != nil {
			add("config vars", false, "no snapshot, and the env file is unreadable: %v", err)
		} else {
			add("config vars", true, "from %s (no Heroku snapshot)", cfg.EnvFile)
		}
	default:
		add("config vars", cfg.Heroku.App == "", "no snapshot and no env file: the app gets only DATABASE_URL, PORT and DYNO")
	}
	host, port, _ := config.ParseHostPort(cfg.Publish)
	if held := s.publishedByUs(ctx, port); held {
		add("publish address", true, "%s is already held by this app's web container", cfg.Publish)
	} else if l, err := net.Listen("tcp", net.JoinHostPort(host, fmt.Sprint(port))); err != nil {
		add("publish address", false, "%s cannot be bound: %v (another server on that port?)", cfg.Publish, err)
	} else {
		l.Close()
		add("publish address", true, "%s is free", cfg.Publish)
	}
	return out, g, warm
}

func (s *Standby) publishedByUs(ctx context.Context, port int) bool {
	cs, err := s.Engine.ListContainers(ctx, s.Names.AppFilter(names.RoleWeb), false)
	if err != nil {
		return false
	}
	for _, c := range cs {
		for _, p := range c.Ports {
			if p.HostPort == port {
				return true
			}
		}
	}
	return false
}

func (s *Standby) nextSteps(r *FailoverResult) []string {
	steps := []string{}
	if r.Published != "" {
		steps = append(steps, fmt.Sprintf("Check the app yourself at http://%s (published on %s).", hostForHumans(r.Published), r.Published))
		steps = append(steps, "Point your domain's DNS records (or your CDN/load balancer origin) at this VPS; with a low TTL users arrive within minutes.")
	} else {
		steps = append(steps, "Point your app at the standby database: lifeboat db url --reveal")
	}
	steps = append(steps,
		fmt.Sprintf("Tell your users: data written after %s (the backup's capture time) is not on the standby.", r.DataCapturedAt.Format(time.RFC3339)),
		"`lifeboat refresh` does nothing while serving (it would discard the data written here): leave the timer be.",
		"When AWS and Heroku are back: lifeboat failback (dumps this database and prints how to restore it into Heroku Postgres).")
	return steps
}

func hostForHumans(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}
