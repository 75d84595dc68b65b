package failover

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/metrics"
	"github.com/lifeboat-dr/lifeboat/failover/notify"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// Ops runs the operations that report to the outside world: it pings
// healthchecks when one starts, sends its outcome to every configured
// channel (a notification that cannot be delivered fails the operation),
// keeps drill reports, and writes the metrics file.
type Ops struct {
	Notifier *notify.Notifier
	// MetricsDir is node_exporter's textfile directory ("" = none).
	MetricsDir string
	// PublicURL is lifeboat serve's address, for links to reports.
	PublicURL string
	Log       *slog.Logger
}

// NewOps builds the Ops of a config.
func NewOps(cfg *config.Config, log *slog.Logger) *Ops {
	o := &Ops{MetricsDir: cfg.Metrics.TextfileDir, PublicURL: strings.TrimRight(cfg.Serve.PublicURL, "/"), Log: log}
	if cfg.Notify.Enabled() {
		o.Notifier = notify.New(cfg.Notify)
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	return o
}

func (o *Ops) start(ctx context.Context, app, kind string) []notify.Result {
	if o.Notifier == nil {
		return nil
	}
	return o.Notifier.Start(ctx, app, kind)
}

func (o *Ops) notify(ctx context.Context, ev notify.Event) []notify.Result {
	if o.Notifier == nil {
		return []notify.Result{}
	}
	ev.Time = time.Now().UTC()
	// Deliver even when the operation was interrupted.
	return o.Notifier.Notify(context.WithoutCancel(ctx), ev)
}

// ReportURL links to a drill report on lifeboat serve, "" without a public URL.
func (o *Ops) ReportURL(app, id string) string {
	if o.PublicURL == "" {
		return ""
	}
	return o.PublicURL + "/apps/" + app + "/reports/" + id
}

// Drill runs a drill, notifies, keeps its report (with retention) and
// writes the metrics. The report's notifications are part of its verdict.
func (o *Ops) Drill(ctx context.Context, s *Standby, opt DrillOptions) (*report.Report, error) {
	starts := o.start(ctx, s.App.Name, "drill")
	rep, err := s.Drill(ctx, opt)
	for _, r := range starts {
		if !r.OK {
			rep.Notifications = append(rep.Notifications, toReportNote(r))
		}
	}
	summary := fmt.Sprintf("drill of %s %s: RTO %s (target %s), RPO %s (target %s)", s.App.Name, passWord(rep.Pass()),
		report.Span(rep.RTO.Seconds), report.Span(rep.RTO.TargetSeconds), report.Span(rep.RPO.Seconds), report.Span(rep.RPO.TargetSeconds))
	results := o.notify(ctx, notify.Event{App: s.App.Name, Kind: "drill", OK: rep.Pass(), Summary: summary,
		Details: rep.Failures, ReportURL: o.ReportURL(s.App.Name, rep.ID), Payload: rep})
	for _, r := range results {
		rep.Notifications = append(rep.Notifications, toReportNote(r))
	}
	rep.Finalize()
	if serr := report.Save(s.State.DrillsDir(), rep); serr != nil {
		return rep, errors.Join(err, fmt.Errorf("saving the drill report: %w", serr))
	}
	if _, perr := report.Prune(s.State.DrillsDir(), s.App.Drill.Retention, s.App.Drill.MaxAge.D()); perr != nil {
		o.Log.Warn("pruning drill reports", "err", perr)
	}
	o.WriteMetrics(s)
	if err == nil && !rep.Pass() {
		err = fmt.Errorf("drill %s failed: %s", rep.ID, strings.Join(rep.Failures, "; "))
	}
	return rep, err
}

func toReportNote(r notify.Result) report.Notification {
	return report.Notification{Channel: r.Channel, OK: r.OK, Error: r.Error, Seconds: r.Seconds}
}

// keepRuns is how many run records of a kind are kept.
const keepRuns = 200

// Run outcomes besides refresh's.
const (
	OutcomeRestored   = "restored"
	OutcomeRolledBack = "rolled-back"
	OutcomeStarted    = "started"
	OutcomeServed     = "served"
	OutcomeDumped     = "dumped"
	OutcomeCompleted  = "completed"
)

// newRun starts the record of a run of kind.
// begin tells the channels that a run of kind starts (healthchecks' /start)
// and returns its record, started now, for record to end.
func (o *Ops) begin(ctx context.Context, s *Standby, kind string) *state.Run {
	o.start(ctx, s.App.Name, kind)
	return newRun(kind, time.Now())
}

func newRun(kind string, started time.Time) *state.Run {
	return &state.Run{Kind: kind, StartedAt: started.UTC(), Phases: []state.Phase{}, Details: map[string]any{}}
}

// record is the one way a state-changing run ends: its record is saved
// under the state dir (the newest keepRuns of its kind are kept), its
// outcome is sent to every configured channel (summary and details: the
// error first, when there is one, then warnings or what to do), and the
// metrics file is rewritten. A record that cannot be saved or a
// notification that cannot be delivered fails the run.
func (o *Ops) record(ctx context.Context, s *Standby, run *state.Run, err error, summary string, details []string, payload any) error {
	if run.FinishedAt.IsZero() {
		run.FinishedAt = time.Now().UTC()
	}
	run.OK = err == nil
	if err != nil {
		run.Outcome, run.Error = OutcomeFailed, err.Error()
	}
	if serr := s.State.SaveRun(run); serr != nil {
		err = errors.Join(err, fmt.Errorf("saving the record of the %s run: %w", run.Kind, serr))
	}
	if perr := s.State.PruneRuns(run.Kind, keepRuns); perr != nil {
		o.Log.Warn("pruning run records", "kind", run.Kind, "err", perr)
	}
	results := o.notify(ctx, notify.Event{App: s.App.Name, Kind: run.Kind, OK: err == nil, Summary: summary, Details: details, Payload: payload})
	o.WriteMetrics(s)
	if nerr := notify.Failed(results); nerr != nil {
		return errors.Join(err, nerr)
	}
	return err
}

// withErr puts err, when there is one, before the details of a notification.
func withErr(err error, details []string) []string {
	if err == nil {
		return details
	}
	return append([]string{err.Error()}, details...)
}

// Refresh runs a refresh and records it.
func (o *Ops) Refresh(ctx context.Context, s *Standby, opt RefreshOptions) (*RefreshResult, error) {
	o.start(ctx, s.App.Name, "refresh")
	res, err := s.Refresh(ctx, opt)
	summary := fmt.Sprintf("refresh of %s: %s", s.App.Name, res.Outcome)
	return res, o.record(ctx, s, res.Run, err, summary, withErr(err, res.Warnings), res.Run)
}

// Restore builds, verifies and promotes a new generation and records the run.
func (o *Ops) Restore(ctx context.Context, s *Standby, req RestoreRequest) (*RestoreResult, error) {
	run := o.begin(ctx, s, "restore")
	res, err := s.Restore(ctx, req)
	run.Outcome = OutcomeRestored
	summary := fmt.Sprintf("restore of %s", s.App.Name)
	if g := res.Generation; g != nil {
		run.Phases = g.Phases
		run.Details["generation"], run.Details["archive"], run.Details["archive_captured_at"] = g.Number, g.Archive.Key, g.Archive.CapturedAt
		summary = fmt.Sprintf("restore of %s: generation %d from %s %s", s.App.Name, g.Number, g.Archive.Key, passWord(err == nil))
	}
	return res, o.record(ctx, s, run, err, summary, withErr(err, nil), res)
}

// Rollback makes the previous verified generation current again and records the run.
func (o *Ops) Rollback(ctx context.Context, s *Standby) (*state.Generation, error) {
	run := o.begin(ctx, s, "rollback")
	g, err := s.Rollback(ctx)
	run.Outcome = OutcomeRolledBack
	summary := fmt.Sprintf("rollback of %s FAILED", s.App.Name)
	if g != nil {
		run.Details["generation"] = g.Number
		summary = fmt.Sprintf("rollback of %s: generation %d is current", s.App.Name, g.Number)
	}
	return g, o.record(ctx, s, run, err, summary, withErr(err, nil), g)
}

// Up starts the app on the current generation and records the run.
func (o *Ops) Up(ctx context.Context, s *Standby) (*UpResult, error) {
	run := o.begin(ctx, s, "up")
	res, err := s.Up(ctx)
	run.Outcome = OutcomeStarted
	summary := fmt.Sprintf("up of %s FAILED", s.App.Name)
	var warnings []string
	if res != nil {
		warnings = res.Warnings
		run.Details["generation"], run.Details["mode"], run.Details["image_id"] = res.Generation, res.Mode, res.ImageID
		if err == nil {
			summary = fmt.Sprintf("up of %s: the app runs on generation %d (%s)", s.App.Name, res.Generation, res.Mode)
		}
	}
	return res, o.record(ctx, s, run, err, summary, withErr(err, warnings), res)
}

// Failover runs a failover (or its dry run, which is not recorded).
func (o *Ops) Failover(ctx context.Context, s *Standby, dryRun bool) (*FailoverResult, error) {
	res, err := s.Failover(ctx, dryRun)
	if dryRun {
		return res, err
	}
	summary := fmt.Sprintf("failover of %s: serving generation %d, RTO %s, RPO %s", s.App.Name, res.Generation, report.Span(res.RTOSeconds), report.Span(res.RPOSeconds))
	if err != nil {
		summary = fmt.Sprintf("failover of %s FAILED", s.App.Name)
	}
	run := newRun("failover", time.Now().Add(-report.Seconds(res.RTOSeconds)))
	run.Outcome, run.Phases, run.Details["rpo_seconds"] = OutcomeServed, res.Phases, res.RPOSeconds
	return res, o.record(ctx, s, run, err, summary, withErr(err, res.NextSteps), res)
}

// Failback dumps the serving database (or completes the failback) and
// records the run.
func (o *Ops) Failback(ctx context.Context, s *Standby, opt FailbackOptions) (*FailbackResult, error) {
	run := o.begin(ctx, s, "failback")
	res, err := s.Failback(ctx, opt)
	run.Outcome = OutcomeDumped
	summary := fmt.Sprintf("failback of %s", s.App.Name)
	if opt.Complete {
		run.Outcome = OutcomeCompleted
		summary = fmt.Sprintf("failback of %s: the standby is waiting again", s.App.Name)
	} else if res.File != "" {
		run.Details["file"], run.Details["sha256"], run.Details["uploaded"] = res.File, res.SHA256, res.Uploaded
		summary = fmt.Sprintf("failback of %s: generation %d dumped to %s", s.App.Name, res.Generation, res.File)
	}
	if err != nil {
		summary = fmt.Sprintf("failback of %s FAILED", s.App.Name)
	}
	return res, o.record(ctx, s, run, err, summary, withErr(err, nil), res)
}

// Check checks the chain and records it.
func (o *Ops) Check(ctx context.Context, s *Standby) (*ChainReport, error) {
	o.start(ctx, s.App.Name, "check")
	r := s.CheckChain(ctx)
	var details []string
	for _, f := range r.Findings {
		if !f.OK {
			details = append(details, f.Name+": "+f.Detail+" → "+f.Fix)
		}
	}
	var err error
	if !r.OK {
		err = fmt.Errorf("the chain check of %s failed: %s", s.App.Name, strings.Join(details, "; "))
	}
	run := newRun("check", r.CheckedAt)
	run.Outcome, run.Details["findings"] = passWord(r.OK), r.Findings
	summary := fmt.Sprintf("chain check of %s %s", s.App.Name, passWord(r.OK))
	return r, o.record(ctx, s, run, err, summary, details, r)
}

func passWord(ok bool) string {
	if ok {
		return "passed"
	}
	return "FAILED"
}

// AppMetrics are the app's samples, built from its records (names and
// meanings: see the metrics package).
func AppMetrics(s *Standby) []metrics.Sample {
	app := s.App.Name
	var out []metrics.Sample
	for _, kind := range []string{"refresh", "check", "failover", "restore", "rollback", "up", "failback", "capture"} {
		all, _ := s.State.Runs(kind)
		// A refresh skipped while serving is not the job's last run:
		// after failback, the last real refresh is what is true.
		runs := all[:0:0]
		for _, r := range all {
			if !r.Skipped {
				runs = append(runs, r)
			}
		}
		if len(runs) == 0 {
			continue
		}
		last := runs[0]
		var lastSuccess time.Time
		for _, r := range runs {
			if r.OK {
				lastSuccess = r.FinishedAt
				break
			}
		}
		out = append(out, metrics.LastRun(app, kind, last.FinishedAt, last.OK, lastSuccess)...)
		for _, p := range last.Phases {
			out = append(out, metrics.Phase(app, kind, p.Name, p.Seconds))
		}
		if kind == "check" {
			var fs []Finding
			if b, err := json.Marshal(last.Details["findings"]); err == nil && json.Unmarshal(b, &fs) == nil {
				for _, f := range fs {
					out = append(out, metrics.Check(app, f.Name, f.OK))
				}
			}
		}
	}
	out = append(out, captureMetrics(s)...)
	if drills, err := report.List(s.State.DrillsDir()); err == nil {
		out = append(out, metrics.FromHistory(drills)...)
	}
	serving := false
	if sv, _ := s.State.Serving(); sv != nil {
		serving = true
	}
	// Generation 0: no standby database yet.
	if g, err := s.CurrentGeneration(); err == nil {
		out = append(out, metrics.Standby(app, g.Number, g.Archive.CapturedAt, serving)...)
	} else {
		out = append(out, metrics.Standby(app, 0, time.Time{}, serving)...)
	}
	if e, err := Cache(s.App).Newest(); err == nil {
		out = append(out, metrics.Archive(app, e.CapturedAt, e.ObjectSize, time.Now())...)
	}
	return append(out, metrics.Targets(app, s.App.RTOTarget.D(), s.App.RPOTarget.D())...)
}

// WriteMetrics writes the app's metrics file when a textfile directory is configured.
func (o *Ops) WriteMetrics(s *Standby) {
	if o.MetricsDir == "" {
		return
	}
	if err := os.MkdirAll(o.MetricsDir, 0o755); err != nil {
		o.Log.Warn("metrics directory", "err", err)
		return
	}
	path := filepath.Join(o.MetricsDir, "lifeboat_"+s.App.Name+".prom")
	if err := metrics.WriteFile(path, AppMetrics(s)); err != nil {
		o.Log.Warn("writing metrics", "path", path, "err", err)
	}
}
