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
	if serr := report.Save(s.DrillsDir(), rep); serr != nil {
		return rep, errors.Join(err, fmt.Errorf("saving the drill report: %w", serr))
	}
	if _, perr := report.Prune(s.DrillsDir(), s.App.Drill.Retention, s.App.Drill.MaxAge.D()); perr != nil {
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

// AppMetrics are the app's samples, built from its records.
func AppMetrics(s *Standby) []metrics.Sample {
	app := s.App.Name
	var out []metrics.Sample
	for _, kind := range []string{"refresh", "check", "failover"} {
		run, _ := s.State.LastRun(kind)
		if run == nil {
			continue
		}
		ok := 0.0
		if run.OK {
			ok = 1
		}
		out = append(out,
			metrics.Gauge("lifeboat_last_run_success", "1 if the last run of the job succeeded.", ok, "app", app, "job", kind),
			metrics.Gauge("lifeboat_last_run_timestamp_seconds", "When the last run of the job finished.", float64(run.FinishedAt.Unix()), "app", app, "job", kind))
		if run.OK {
			out = append(out, metrics.Gauge("lifeboat_last_success_timestamp_seconds", "When the job last succeeded.", float64(run.FinishedAt.Unix()), "app", app, "job", kind))
		}
		for _, p := range run.Phases {
			out = append(out, metrics.Gauge("lifeboat_phase_duration_seconds", "Duration of a phase of the job's last run.", p.Seconds, "app", app, "job", kind, "phase", p.Name))
		}
	}
	if last, err := report.Load(s.DrillsDir(), "latest"); err == nil {
		out = append(out, metrics.FromReport(last)...)
		if all, err := report.List(s.DrillsDir()); err == nil {
			for _, r := range all {
				if r.Pass() {
					out = append(out, metrics.Gauge("lifeboat_last_success_timestamp_seconds", "When the job last succeeded.", float64(r.FinishedAt.Unix()), "app", app, "job", "drill"))
					break
				}
			}
		}
	}
	if g, err := s.CurrentGeneration(); err == nil {
		out = append(out,
			metrics.Gauge("lifeboat_standby_generation", "The current database generation of the standby.", float64(g.Number), "app", app),
			metrics.Gauge("lifeboat_standby_data_captured_timestamp_seconds", "When the data the standby holds was captured.", float64(g.Archive.CapturedAt.Unix()), "app", app))
	}
	if e, err := Cache(s.App).Newest(); err == nil {
		out = append(out,
			metrics.Gauge("lifeboat_archive_age_seconds", "Age of the newest cached archive.", time.Since(e.CapturedAt).Seconds(), "app", app),
			metrics.Gauge("lifeboat_archive_size_bytes", "Size of the newest cached archive's object.", float64(e.ObjectSize), "app", app))
	}
	serving := 0.0
	if sv, _ := s.State.Serving(); sv != nil {
		serving = 1
	}
	out = append(out, metrics.Gauge("lifeboat_serving", "1 while the standby serves users after a failover.", serving, "app", app))
	if run, _ := s.State.LastRun("check"); run != nil {
		var fs []Finding
		if b, err := json.Marshal(run.Details["findings"]); err == nil && json.Unmarshal(b, &fs) == nil {
			for _, f := range fs {
				v := 0.0
				if f.OK {
					v = 1
				}
				out = append(out, metrics.Gauge("lifeboat_check_success", "1 if the chain check's finding passed.", v, "app", app, "check", f.Name))
			}
		}
	}
	out = append(out, metrics.Gauge("lifeboat_rpo_target_seconds", "The app's RPO target.", s.App.RPOTarget.D().Seconds(), "app", app),
		metrics.Gauge("lifeboat_rto_target_seconds", "The app's RTO target.", s.App.RTOTarget.D().Seconds(), "app", app))
	return out
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
