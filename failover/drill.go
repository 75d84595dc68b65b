package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/stack"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// DrillOptions tune Drill.
type DrillOptions struct {
	// Offline uses the newest cached archive instead of S3's newest.
	Offline bool
	// Archive rehearses with this file (a vault entry's, say) instead of
	// S3's newest; the caller resolves vault:NAME (ResolveArchive).
	Archive string
	// Keep leaves the drill's containers running (the next drill removes them).
	Keep bool
	// KeepOnFailure leaves them running only when the drill failed, for
	// inspection (the next drill or `drill --cleanup` removes them).
	KeepOnFailure bool
	// AcceptDrift records row counts that drifted beyond database.drift
	// without failing the drill.
	AcceptDrift bool
	// Trigger is schedule, manual or webhook; TriggeredBy names who or what.
	Trigger     string
	TriggeredBy string
	// ToolVersion goes into the report.
	ToolVersion string
}

// Drill rehearses a failover, isolated and measured: it restores the newest
// archive (S3's, or the cache's with Offline) into a fresh database
// container and boots the app image against it, on a network of its own
// created internal (no egress: no real e-mail, no real payments), never
// touching the standby. Every phase is timed; RTO (start to healthy) and
// RPO (age of the data) are compared with the app's targets. It is
// fail-closed: every check that cannot run fails the drill. It always tears
// down (also when ctx is cancelled) unless Keep, and removes the leftovers
// of a killed drill first. The report is returned (and saved by the
// caller) whether the drill passed or not; the error says why it failed.
// The caller holds the app's lock.
func (s *Standby) Drill(ctx context.Context, o DrillOptions) (*report.Report, error) {
	start := s.drillStart(ctx)
	host, _ := os.Hostname()
	id := start.Format("20060102T150405Z")
	rep := report.New()
	rep.ID, rep.ToolVersion, rep.Host, rep.App = id+"-"+s.App.Name, o.ToolVersion, host, s.App.Name
	rep.Trigger, rep.TriggeredBy, rep.StartedAt = o.Trigger, o.TriggeredBy, start
	rep.RTO.TargetSeconds = s.App.RTOTarget.D().Seconds()
	rep.RPO.TargetSeconds = s.App.RPOTarget.D().Seconds()
	rep.Kept = o.Keep

	d := &drill{standby: s, opts: o, rep: rep, ph: newPhases(&rep.Phases),
		site: site{App: s.App, Engine: s.Engine, Log: s.Log, Progress: s.Progress,
			Names: names.Drill(s.App.Name, start), State: s.State.DrillWork(id), Rows: s.State,
			KeepFailedApp: o.Keep || o.KeepOnFailure}}
	if removed, err := s.cleanDrills(ctx); err != nil {
		return finish(rep, fmt.Errorf("removing the leftovers of earlier drills: %w", err))
	} else if len(removed) > 0 {
		s.say("removed leftovers of an earlier drill: %s", strings.Join(removed, ", "))
	}
	ph := d.ph
	runErr := d.run(ctx)
	switch {
	case o.Keep:
		s.say("drill containers kept (--keep): %s-*; the next drill removes them", d.Names.Prefix())
	case o.KeepOnFailure && failedSoFar(rep, runErr):
		rep.Kept = true
		rep.Inspect = d.keptAccess(ctx)
		s.say("the drill failed: its database and app are kept for inspection (--keep-on-failure):")
		for _, line := range rep.Inspect {
			s.say("  %s", line)
		}
	default:
		// Always, also after Ctrl-C: the drill's objects must not stay.
		ph.begin("teardown")
		tctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Minute)
		_, err := s.cleanDrills(tctx)
		cancel()
		if err == nil {
			err = os.RemoveAll(d.State.Dir)
		}
		ph.end(err)
		if err != nil {
			rep.Failures = append(rep.Failures, "teardown failed, the next drill removes the leftovers: "+err.Error())
		}
	}
	return finish(rep, runErr)
}

// drillStart is the new drill's start, which names it to the second (its
// report, its Docker objects): a drill started in the second of the
// previous one's report waits for the next second rather than replace it.
// (A cancelled ctx ends the wait; the drill then fails on it.)
func (s *Standby) drillStart(ctx context.Context) time.Time {
	for {
		start := time.Now().UTC()
		if _, err := os.Lstat(filepath.Join(s.State.DrillsDir(), report.NewID(s.App.Name, start)+".json")); err != nil || ctx.Err() != nil {
			return start
		}
		select {
		case <-ctx.Done():
		case <-time.After(time.Until(start.Truncate(time.Second).Add(time.Second))):
		}
	}
}

// drill is one drill: it builds its database and boots the app in a site
// of its own (its names, its records under the drills directory) and reads
// the app's standby (its config, archive cache and bucket) without
// changing it.
type drill struct {
	site
	standby *Standby // read only
	opts    DrillOptions
	rep     *report.Report
	ph      *phases
}

// run is the drill up to a healthy app.
func (d *drill) run(ctx context.Context) error {
	s, rep, ph := d.standby, d.rep, d.ph
	// locate (and, online, download + unwrap and verify).
	archivePath, err := d.archive(ctx)
	if err != nil {
		return err
	}

	// database-start, restore, checks: a fresh generation in the drill's
	// own records, never promoted.
	s.say("drill %s: restoring into a fresh database on an internal network", rep.ID)
	br, err := d.Build(ctx, RestoreRequest{ArchivePath: archivePath, AcceptDrift: d.opts.AcceptDrift, DrillID: rep.ID,
		KeepFailed: d.opts.Keep || d.opts.KeepOnFailure})
	var g *state.Generation
	if br != nil {
		g = br.Generation
	}
	if g != nil {
		ph.fromGeneration(g)
		rep.Restore.Errors = append(rep.Restore.Errors, g.Restore.Errors...)
		rep.Restore.ExpectedErrors = append(rep.Restore.ExpectedErrors, g.Restore.ExpectedErrors...)
		rep.Restore.Warnings = append(rep.Restore.Warnings, g.Restore.Warnings...)
		rep.Checks = append(rep.Checks, g.Checks...)
		rep.Tables = append(rep.Tables, g.Tables...)
		rep.Drift = g.Drift
	}
	// RTO and RPO are computed from the phases by report.Finalize.
	if err != nil {
		return err
	}
	rep.Checks = append(rep.Checks, d.egressCheck(ctx, g))

	// release, app-boot, health.
	if !s.App.Stack.Enabled() {
		rep.AppHealth.Detail = "no app image configured (app.image): only the database was rehearsed"
		return nil
	}
	return d.app(ctx, g)
}

// finish computes the result; the error is the drill's failure, if any.
func finish(rep *report.Report, err error) (*report.Report, error) {
	if err != nil {
		rep.Failures = append(rep.Failures, err.Error())
	}
	rep.FinishedAt = time.Now().UTC()
	rep.Finalize()
	if !rep.Pass() {
		return rep, fmt.Errorf("drill %s failed: %s", rep.ID, strings.Join(rep.Failures, "; "))
	}
	return rep, nil
}

// archive finds the archive to rehearse with and gets it into the
// standby's cache.
func (d *drill) archive(ctx context.Context) (string, error) {
	s, o, rep, ph := d.standby, d.opts, d.rep, d.ph
	ph.begin("locate")
	cache := Cache(s.App)
	if o.Archive != "" {
		return s.drillFile(o.Archive, rep, ph)
	}
	if o.Offline {
		e, err := cache.Newest()
		if err == nil {
			l, _ := cache.List()
			for _, c := range l {
				rep.Candidates = append(rep.Candidates, report.Candidate{Key: c.Key, Size: c.DumpSize, CapturedAt: c.CapturedAt, Status: "cached"})
			}
			setArchive(rep, e, "cache")
		}
		ph.end(err)
		ph.skip("download")
		return e.Path, err
	}
	f, err := NewFetcher(ctx, s.App, s.Log)
	if err != nil {
		ph.end(err)
		return "", err
	}
	so := f.Scan
	so.Cached = func(ob archive.Object) bool { _, ok := f.Cache.Find(ob.Key, ob.ETag); return ok }
	l, err := archive.Scan(ctx, f.Store, f.Prefix, so)
	if err != nil {
		ph.end(err)
		return "", err
	}
	for _, c := range l.Candidates {
		rep.Candidates = append(rep.Candidates, report.Candidate{Key: c.Key, Size: c.Size, CapturedAt: c.CapturedAt, Status: c.Status, SkipReason: c.SkipReason})
	}
	newest, ok := l.NewestCandidate()
	if !ok {
		err := fmt.Errorf("%w under %s: see the candidates for why each object was skipped", archive.ErrNoArchive, l.Store)
		ph.end(err)
		return "", err
	}
	for _, w := range l.Warnings {
		rep.Failures = append(rep.Failures, "the bucket holds a newer unusable object: "+w)
	}
	ph.end(nil)
	ph.begin("download")
	fr, wasted, bad, err := d.fetchNewestGood(ctx, f, l, newest)
	if err != nil {
		if errors.Is(err, archive.ErrVerify) {
			// The archive is broken, not the bucket: the verify phase
			// failed, and its advice speaks of the archive.
			ph.endWith(wasted, nil)
			ph.add("verify", 0, err)
			return "", err
		}
		ph.end(err)
		return "", err
	}
	ph.endWith(fr.DownloadSeconds+wasted, nil)
	ph.add("verify", fr.VerifySeconds, nil)
	setArchive(rep, *fr.Entry, "s3")
	d.rehearsedInstead(bad)
	return fr.Entry.Path, nil
}

// drillFile rehearses with the archive at path: a vault entry or a cached
// one carries its manifest's facts into the report; any other file its
// header's.
func (s *Standby) drillFile(path string, rep *report.Report, ph *phases) (string, error) {
	abs, err := filepath.Abs(path)
	if err == nil {
		_, err = os.Stat(abs)
	}
	switch e, ok := vaultEntry(s.App, abs); {
	case err != nil:
	case ok:
		setArchive(rep, archive.Entry{Manifest: e.Manifest.Manifest, Path: e.Path}, "vault")
	default:
		rep.Archive = report.Archive{Key: "file://" + abs, Source: "file"}
		if ce, found := cachedAt(s.App, abs); found {
			setArchive(rep, ce, "cache")
		}
	}
	ph.end(err)
	ph.skip("download")
	return abs, err
}

func setArchive(rep *report.Report, e archive.Entry, source string) {
	rep.Archive = report.Archive{Key: e.Key, Size: e.ObjectSize, SHA256: e.DumpSHA256, CapturedAt: e.CapturedAt,
		AgeSeconds: time.Since(e.CapturedAt).Seconds(), Source: source, Format: e.Header.Format}
}

// app boots the app on the drill's database and checks its health.
func (d *drill) app(ctx context.Context, g *state.Generation) error {
	o, rep, ph := d.opts, d.rep, d.ph
	img, err := d.Engine.InspectImage(ctx, d.App.Stack.Image)
	if errors.Is(err, engine.ErrNotFound) && !o.Offline {
		var warnings []string
		img, warnings, err = d.appImage(ctx, true)
		rep.Restore.Warnings = append(rep.Restore.Warnings, warnings...)
	}
	rep.AppHealth.Image, rep.AppHealth.ImageID = d.App.Stack.Image, img.ID
	if err != nil {
		ph.add("release", 0, err)
		return err
	}
	up, err := d.startApp(ctx, g, stack.ModeDrill, img, true)
	var sr *stack.Result
	if up != nil {
		sr = up.Stack
	}
	if sr != nil {
		if sr.Release != nil {
			ph.add("release", sr.Release.Seconds, releaseErr(sr.Release))
		} else {
			ph.skip("release")
		}
		ph.add("app-boot", sr.StartSeconds, nil)
		ph.add("health", sr.HealthSeconds, err)
		rep.AppHealth.URL = sr.WebURL
	}
	if err != nil {
		rep.AppHealth.Detail = err.Error()
		rep.Checks = append(rep.Checks, report.Check{Name: "app health", Kind: report.KindHealth, OK: false, Detail: err.Error()})
		return err
	}
	rep.AppHealth.Healthy = true
	rep.AppHealth.Detail = fmt.Sprintf("%s answered 2xx", d.App.Stack.Health.Path)
	rep.Checks = append(rep.Checks, report.Check{Name: "app health", Kind: report.KindHealth, OK: true,
		Detail: fmt.Sprintf("web answered %s with 2xx after %.1fs", d.App.Stack.Health.Path, sr.HealthSeconds)})
	return nil
}

func releaseErr(r *stack.ReleaseResult) error {
	if r.ExitCode != 0 {
		return fmt.Errorf("release command exited %d", r.ExitCode)
	}
	return nil
}

// egressCheck proves the drill's network has no way out: it is an internal
// Docker network, and a connection attempted from inside it fails.
func (d *drill) egressCheck(ctx context.Context, g *state.Generation) report.Check {
	c := report.Check{Name: "no egress", Kind: report.KindEgress}
	n, err := d.Engine.InspectNetwork(ctx, g.Network)
	if err != nil {
		c.Detail = "cannot inspect the drill network: " + err.Error()
		return c
	}
	if !n.Internal {
		c.Detail = fmt.Sprintf("network %s is not internal", g.Network)
		return c
	}
	var reached []string
	probes := d.App.Drill.EgressProbes
	for _, addr := range probes {
		host, port, _ := strings.Cut(addr, ":")
		script := fmt.Sprintf("timeout 3 bash -c 'exec 3<>/dev/tcp/%s/%s' 2>/dev/null && echo reached || echo blocked", host, port)
		res, err := d.Engine.ExecCapture(ctx, g.Container, []string{"bash", "-c", script}, engine.ExecOptions{User: "root"})
		if err != nil {
			c.Detail = "cannot probe from inside the drill network: " + err.Error()
			return c
		}
		if strings.Contains(res.Stdout, "reached") {
			reached = append(reached, addr)
		}
	}
	if len(reached) > 0 {
		c.Detail = "reached " + strings.Join(reached, ", ") + " from inside the drill network"
		if n, _ := d.Engine.InspectNetwork(ctx, g.Network); n.Internal {
			c.Detail += " (the network is internal: is a proxy or firewall rule letting it out?)"
		}
		return c
	}
	c.OK = true
	c.Detail = fmt.Sprintf("internal network %s; connections to %s from inside it fail", g.Network, strings.Join(probes, ", "))
	return c
}

// cleanDrills removes every drill container, volume and network of the app.
func (s *Standby) cleanDrills(ctx context.Context) ([]string, error) {
	rm, err := s.Engine.RemoveLabelled(ctx, s.Names.DrillsFilter())
	if err != nil {
		return rm.All(), err
	}
	return rm.All(), errors.Join(rm.Failed...)
}

// fromGeneration maps a generation's build phases onto the drill's.
func (p *phases) fromGeneration(g *state.Generation) {
	sum := map[string]float64{}
	for _, ph := range g.Phases {
		switch ph.Name {
		case "archive", "archive-verify":
			sum["verify"] += ph.Seconds
		case "image", "database-start":
			sum["database-start"] += ph.Seconds
		case "prepare", "restore", "durable-restart", "analyze":
			sum["restore"] += ph.Seconds
		case "verify":
			sum["checks"] += ph.Seconds
		}
	}
	// The archive re-read joins the verify phase of the download.
	for i := range *p.out {
		if (*p.out)[i].Name == "verify" {
			(*p.out)[i].Seconds += sum["verify"]
			p.at += sum["verify"]
			sum["verify"] = 0
		}
	}
	if sum["verify"] > 0 {
		p.add("verify", sum["verify"], nil)
	}
	var err error
	if g.Status == state.StatusFailed && g.Error != "" {
		err = errors.New(g.Error)
	}
	failedIn := failedPhase(g)
	for _, name := range []string{"database-start", "restore", "checks"} {
		var e error
		if name == failedIn {
			e = err
		}
		p.add(name, sum[name], e)
		if name == failedIn {
			break
		}
	}
}

// failedPhase says in which drill phase a failed generation failed: the
// one after its last completed build phase.
func failedPhase(g *state.Generation) string {
	if g.Status != state.StatusFailed {
		return ""
	}
	last := ""
	for _, ph := range g.Phases {
		last = ph.Name
	}
	switch last {
	case "", "archive", "image":
		return "database-start"
	case "database-start", "archive-verify", "prepare":
		return "restore"
	case "restore", "durable-restart", "analyze":
		return "checks"
	}
	return "checks"
}
