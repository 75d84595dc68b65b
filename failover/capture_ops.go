package failover

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/capture"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/metrics"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// CaptureLock takes the app's capture lock without waiting: captures of one
// app never overlap, while a capture and a refresh may. The error wraps
// lock.ErrLocked when another capture of the app holds it.
func CaptureLock(app *config.App, command string) (*lock.Lock, error) {
	return StateOf(app).CaptureLock(command)
}

// CaptureApp takes the app's capture lock (lock.ErrLocked when another
// capture holds it) and captures into the app's bucket, recorded like
// Capture. An app without capture.source gives capture.ErrNotConfigured.
func (o *Ops) CaptureApp(ctx context.Context, app *config.App, eng *engine.Engine, progress io.Writer, command string) (*capture.Result, error) {
	l, err := CaptureLock(app, command)
	if err != nil {
		return nil, err
	}
	defer l.Release()
	store, err := OpenStore(ctx, app)
	if err != nil {
		return nil, err
	}
	c, err := capture.New(app, eng, store, o.Log, progress)
	if err != nil {
		return nil, err
	}
	return o.Capture(ctx, NewStandby(app, eng, o.Log, progress), c)
}

// Capture runs a capture (the caller holds the app's capture lock,
// CaptureLock) and records it.
func (o *Ops) Capture(ctx context.Context, s *Standby, c *capture.Capturer) (*capture.Result, error) {
	o.start(ctx, s.App.Name, capture.Kind)
	res, err := c.Run(ctx)
	if res == nil {
		return res, err
	}
	summary := fmt.Sprintf("capture of %s: %s", s.App.Name, res.Outcome)
	if err == nil {
		summary = fmt.Sprintf("capture of %s: s3://%s/%s, %s in %s", s.App.Name, res.Bucket, res.Key, report.Bytes(res.Size), report.Span(res.Seconds))
	}
	return res, o.record(ctx, s, res.Run(), err, summary, withErr(err, nil), res)
}

// captureMetrics are the samples of the app's last successful capture.
func captureMetrics(s *Standby) []metrics.Sample {
	runs, _ := s.State.Runs(capture.Kind)
	for _, r := range runs {
		if !r.OK {
			continue
		}
		source, _ := r.Details["source"].(string)
		size, _ := r.Details["size"].(float64)
		var secs float64
		for _, p := range r.Phases {
			secs += p.Seconds
		}
		return metrics.Capture(s.App.Name, source, r.FinishedAt, secs, int64(size))
	}
	return nil
}

// captureFinding is check's word on the last capture, when Lifeboat makes
// the archives (capture.source set).
func (s *Standby) captureFinding(now time.Time) (Finding, bool) {
	if !s.App.Capture.Enabled() {
		return Finding{}, false
	}
	f := Finding{Name: "last capture"}
	run, err := s.State.LastRun(capture.Kind)
	if err != nil || run == nil {
		f.Detail, f.Fix = "no capture has run", "run lifeboat capture, and schedule it (README: Capture)"
		return f, true
	}
	age := now.Sub(run.FinishedAt)
	key, _ := run.Details["key"].(string)
	switch {
	case !run.OK:
		f.Detail, f.Fix = fmt.Sprintf("failed %s ago: %s", age.Round(time.Minute), run.Error), "read the error, fix it, run lifeboat capture"
	case age > s.App.Capture.MaxAge.D():
		f.Detail, f.Fix = fmt.Sprintf("last succeeded %s ago (limit capture.max_age %s): %s", age.Round(time.Minute), s.App.Capture.MaxAge, key), "is the capture scheduled? run lifeboat capture"
	default:
		f.OK, f.Detail = true, fmt.Sprintf("%s %s ago", key, age.Round(time.Minute))
	}
	return f, true
}
