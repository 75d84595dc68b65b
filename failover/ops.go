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
		dur(rep.RTO.Seconds), dur(rep.RTO.TargetSeconds), dur(rep.RPO.Seconds), dur(rep.RPO.TargetSeconds))
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

// Refresh runs a refresh with notifications and metrics.
func (o *Ops) Refresh(ctx context.Context, s *Standby, opt RefreshOptions) (*RefreshResult, error) {
	o.start(ctx, s.App.Name, "refresh")
	res, err := s.Refresh(ctx, opt)
	summary := fmt.Sprintf("refresh of %s: %s", s.App.Name, res.Outcome)
	var details []string
	if err != nil {
		details = append(details, err.Error())
	}
	details = append(details, res.Warnings...)
	return res, o.finish(ctx, s, "refresh", err, summary, details, res.Run)
}

// Failover runs a failover (or its dry run) with notifications.
func (o *Ops) Failover(ctx context.Context, s *Standby, dryRun bool) (*FailoverResult, error) {
	res, err := s.Failover(ctx, dryRun)
	if dryRun {
		return res, err
	}
	summary := fmt.Sprintf("failover of %s: serving generation %d, RTO %s, RPO %s", s.App.Name, res.Generation, dur(res.RTOSeconds), dur(res.RPOSeconds))
	if err != nil {
		summary = fmt.Sprintf("failover of %s FAILED", s.App.Name)
	}
	var details []string
	if err != nil {
		details = append(details, err.Error())
	}
	details = append(details, res.NextSteps...)
	run := &state.Run{Kind: "failover", StartedAt: time.Now().Add(-time.Duration(res.RTOSeconds * float64(time.Second))).UTC(),
		FinishedAt: time.Now().UTC(), OK: err == nil, Outcome: "served", Phases: res.Phases, Details: map[string]any{"rpo_seconds": res.RPOSeconds}}
	if err != nil {
		run.Outcome, run.Error = OutcomeFailed, err.Error()
	}
	if serr := s.State.SaveRun(run); serr != nil && err == nil {
		err = serr
	}
	return res, o.finish(ctx, s, "failover", err, summary, details, res)
}

// Check checks the chain, notifies and writes the metrics.
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
	run := &state.Run{Kind: "check", StartedAt: r.CheckedAt, FinishedAt: time.Now().UTC(), OK: r.OK, Outcome: passWord(r.OK),
		Details: map[string]any{"findings": r.Findings}}
	if err != nil {
		run.Error = err.Error()
	}
	s.State.SaveRun(run)
	s.State.PruneRuns("check", 200)
	summary := fmt.Sprintf("chain check of %s %s", s.App.Name, passWord(r.OK))
	return r, o.finish(ctx, s, "check", err, summary, details, r)
}

// finish notifies the outcome of a run and writes the metrics; a failed
// notification fails the run.
func (o *Ops) finish(ctx context.Context, s *Standby, kind string, err error, summary string, details []string, payload any) error {
	results := o.notify(ctx, notify.Event{App: s.App.Name, Kind: kind, OK: err == nil, Summary: summary, Details: details, Payload: payload})
	o.WriteMetrics(s)
	if nerr := notify.Failed(results); nerr != nil {
		return errors.Join(err, nerr)
	}
	return err
}

func passWord(ok bool) string {
	if ok {
		return "passed"
	}
	return "FAILED"
}

func dur(secs float64) string {
	return time.Duration(secs * float64(time.Second)).Round(time.Second).String()
}

// AppMetrics are the app's samples, built from its records (names and
// meanings: see the metrics package).
func AppMetrics(s *Standby) []metrics.Sample {
	app := s.App.Name
	var out []metrics.Sample
	for _, kind := range []string{"refresh", "check", "failover", "capture"} {
		runs, _ := s.State.Runs(kind)
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
