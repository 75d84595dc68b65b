// Package web is `lifeboat serve`: a small HTTP server on the VPS with a
// status page (each app's standby, data age, last refresh, last drill with
// its report), the Prometheus metrics, and hooks that trigger a refresh or
// a drill (for an S3 event notification or a deploy hook), authenticated
// with an HMAC-SHA256 signature of the body. Triggers are single-flight: a
// trigger while a run is going on is coalesced into at most one follow-up.
package web

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/metrics"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// Runner runs a job ("refresh" or "drill") for an app. It takes the app's
// lock itself; a run that finds it held fails and is logged.
type Runner func(ctx context.Context, app, job string) error

// Server serves the status page, the metrics and the hooks.
type Server struct {
	Config *config.Config
	// Engine may be nil (the page then cannot say whether containers run).
	Engine *engine.Engine
	Run    Runner
	// HookSecret signs hook requests; empty disables the hooks.
	HookSecret []byte
	Log        *slog.Logger

	mu      sync.Mutex
	flights map[string]*flight
	ctx     context.Context
}

// flight is the state of one app's job: running, and whether one more run
// was asked for meanwhile.
type flight struct {
	running, pending bool
	last             error
	lastAt           time.Time
}

// Trigger outcomes.
const (
	Started       = "started"        // a run began
	Queued        = "queued"         // a run is going on; one more will follow it
	AlreadyQueued = "already-queued" // a follow-up was already asked for: coalesced
)

// Handler returns the server's routes. ctx bounds the runs it starts.
func (s *Server) Handler(ctx context.Context) http.Handler {
	s.ctx = ctx
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", s.status)
	mux.HandleFunc("GET /status.json", s.statusJSON)
	mux.HandleFunc("GET /metrics", s.metrics)
	mux.HandleFunc("GET /apps/{app}/reports/{id}", s.report)
	mux.HandleFunc("POST /hooks/{app}/{job}", s.hook)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "ok") })
	return mux
}

// Trigger asks for a run of job for app, single-flight.
func (s *Server) Trigger(app, job string) string {
	key := app + "/" + job
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.flights == nil {
		s.flights = map[string]*flight{}
	}
	f := s.flights[key]
	if f == nil {
		f = &flight{}
		s.flights[key] = f
	}
	switch {
	case f.running && f.pending:
		return AlreadyQueued
	case f.running:
		f.pending = true
		return Queued
	}
	f.running = true
	go s.loop(app, job, f)
	return Started
}

func (s *Server) loop(app, job string, f *flight) {
	for {
		s.Log.Info("hook run starting", "app", app, "job", job)
		err := s.Run(s.ctx, app, job)
		if err != nil {
			s.Log.Error("hook run failed", "app", app, "job", job, "err", err)
		}
		s.mu.Lock()
		f.last, f.lastAt = err, time.Now()
		if f.pending && s.ctx.Err() == nil {
			f.pending = false
			s.mu.Unlock()
			continue
		}
		f.running, f.pending = false, false
		s.mu.Unlock()
		return
	}
}

// Idle reports whether no run is going on (for tests and shutdown).
func (s *Server) Idle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, f := range s.flights {
		if f.running {
			return false
		}
	}
	return true
}

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	app, job := r.PathValue("app"), r.PathValue("job")
	if len(s.HookSecret) == 0 {
		http.Error(w, "hooks are disabled: set serve.hook_secret_file", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err != nil {
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	sig := r.Header.Get("X-Lifeboat-Signature")
	if sig == "" {
		sig = r.Header.Get("X-Hub-Signature-256")
	}
	if !hmac.Equal([]byte(sig), []byte(Sign(s.HookSecret, body))) {
		http.Error(w, "bad or missing signature (X-Lifeboat-Signature: sha256=<hex HMAC-SHA256 of the body>)", http.StatusUnauthorized)
		return
	}
	if job != "refresh" && job != "drill" {
		http.Error(w, "unknown job: use refresh or drill", http.StatusNotFound)
		return
	}
	if _, err := s.Config.App(app); err != nil || app == "" {
		http.Error(w, "unknown app", http.StatusNotFound)
		return
	}
	outcome := s.Trigger(app, job)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusAccepted)
	json.NewEncoder(w).Encode(map[string]string{"app": app, "job": job, "status": outcome})
}

// AppStatus is one app's line of the status page.
type AppStatus struct {
	Name              string    `json:"name"`
	Generation        int       `json:"generation"`
	DatabaseState     string    `json:"database_state"`
	DataCapturedAt    time.Time `json:"data_captured_at"`
	DataAgeSeconds    float64   `json:"data_age_seconds"`
	Serving           bool      `json:"serving"`
	ServingSince      time.Time `json:"serving_since"`
	LastRefresh       string    `json:"last_refresh"`
	LastRefreshAt     time.Time `json:"last_refresh_at"`
	LastRefreshOK     bool      `json:"last_refresh_ok"`
	LastRefreshError  string    `json:"last_refresh_error"`
	LastDrillID       string    `json:"last_drill_id"`
	LastDrillResult   string    `json:"last_drill_result"`
	LastDrillAt       time.Time `json:"last_drill_at"`
	LastDrillRTO      float64   `json:"last_drill_rto_seconds"`
	LastDrillRPO      float64   `json:"last_drill_rpo_seconds"`
	LastDrillFailures []string  `json:"last_drill_failures"`
	Running           []string  `json:"running"`
}

func (s *Server) appStatus(ctx context.Context, app *config.App) AppStatus {
	st := failover.NewStandby(app, s.Engine, nil, nil)
	a := AppStatus{Name: app.Name, DatabaseState: "none", LastDrillFailures: []string{}, Running: []string{}}
	if g, err := st.CurrentGeneration(); err == nil {
		a.Generation, a.DataCapturedAt = g.Number, g.Archive.CapturedAt
		a.DataAgeSeconds = time.Since(g.Archive.CapturedAt).Seconds()
		a.DatabaseState = "unknown"
		if s.Engine != nil {
			if c, err := s.Engine.InspectContainer(ctx, g.Container); err == nil {
				a.DatabaseState = c.State
			} else {
				a.DatabaseState = "missing"
			}
		}
	}
	if sv, _ := st.State.Serving(); sv != nil {
		a.Serving, a.ServingSince = true, sv.Since
	}
	if run, _ := st.State.LastRun("refresh"); run != nil {
		a.LastRefresh, a.LastRefreshAt, a.LastRefreshOK, a.LastRefreshError = run.Outcome, run.FinishedAt, run.OK, run.Error
	}
	if rep, err := report.Load(st.DrillsDir(), "latest"); err == nil {
		a.LastDrillID, a.LastDrillResult, a.LastDrillAt = rep.ID, rep.Result, rep.FinishedAt
		a.LastDrillRTO, a.LastDrillRPO, a.LastDrillFailures = rep.RTO.Seconds, rep.RPO.Seconds, rep.Failures
	}
	s.mu.Lock()
	for key, f := range s.flights {
		if f.running && strings.HasPrefix(key, app.Name+"/") {
			a.Running = append(a.Running, strings.TrimPrefix(key, app.Name+"/"))
		}
	}
	s.mu.Unlock()
	return a
}

func (s *Server) statuses(ctx context.Context) []AppStatus {
	out := []AppStatus{}
	for i := range s.Config.Apps {
		out = append(out, s.appStatus(ctx, &s.Config.Apps[i]))
	}
	return out
}

func (s *Server) statusJSON(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"time": time.Now().UTC(), "apps": s.statuses(r.Context())})
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	host := r.Host
	if err := statusPage.Execute(w, map[string]any{"Apps": s.statuses(r.Context()), "Now": time.Now().UTC(), "Host": host}); err != nil {
		s.Log.Error("status page", "err", err)
	}
}

func (s *Server) metrics(w http.ResponseWriter, r *http.Request) {
	var samples []metrics.Sample
	for i := range s.Config.Apps {
		samples = append(samples, failover.AppMetrics(failover.NewStandby(&s.Config.Apps[i], s.Engine, nil, nil))...)
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	if err := metrics.Write(w, samples); err != nil {
		s.Log.Error("metrics", "err", err)
	}
}

func (s *Server) report(w http.ResponseWriter, r *http.Request) {
	app, err := s.Config.App(r.PathValue("app"))
	if err != nil || r.PathValue("app") == "" {
		http.NotFound(w, r)
		return
	}
	dir := failover.NewStandby(app, nil, nil, nil).DrillsDir()
	rep, err := report.Load(dir, r.PathValue("id"))
	if errors.Is(err, report.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	history, _ := report.List(dir)
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	report.HTML(w, rep, history)
}

func ago(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm ago", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}

func secs(v float64) string {
	return time.Duration(v * float64(time.Second)).Round(time.Second).String()
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{"ago": ago, "secs": secs, "upper": strings.ToUpper}).Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>Lifeboat status</title>
<style>
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:2rem auto;max-width:72rem;padding:0 1rem;color:#1f2933;background:#fbfbfc}
h1{font-size:1.4rem;margin-bottom:.2rem} .muted{color:#616e7c;font-size:.9rem}
.app{border:1px solid #d9dde3;border-radius:8px;background:#fff;padding:1rem 1.25rem;margin:1rem 0}
.app h2{margin:.1rem 0 .6rem;font-size:1.2rem}
.badge{display:inline-block;padding:.1rem .55rem;border-radius:999px;font-size:.8rem;font-weight:600;vertical-align:middle}
.ok{background:#e3f9e5;color:#0e5a2a}.fail{background:#ffe3e3;color:#8a041a}.warn{background:#fff3c4;color:#7c5e10}.info{background:#e6f0ff;color:#1d3f8f}
dl{display:grid;grid-template-columns:max-content 1fr;gap:.35rem 1.2rem;margin:0} dt{color:#616e7c} dd{margin:0}
a{color:#1d4ed8}
</style>
</head>
<body>
<h1>Lifeboat</h1>
<p class="muted">Standbys on {{.Host}} — {{.Now.Format "2006-01-02 15:04:05 UTC"}} — this page reloads every minute. <a href="/metrics">metrics</a> · <a href="/status.json">status.json</a></p>
{{range .Apps}}
<section class="app" id="app-{{.Name}}">
<h2>{{.Name}}
{{if .Serving}}<span class="badge warn">SERVING since {{ago .ServingSince}}</span>{{else if .Generation}}<span class="badge info">standby</span>{{else}}<span class="badge fail">no standby</span>{{end}}
{{range .Running}}<span class="badge info">{{.}} running</span>{{end}}
</h2>
<dl>
<dt>Standby database</dt><dd>{{if .Generation}}generation {{.Generation}}, <span class="badge {{if eq .DatabaseState "running"}}ok{{else}}fail{{end}}">{{.DatabaseState}}</span>{{else}}none yet: run <code>lifeboat refresh</code>{{end}}</dd>
<dt>Data age</dt><dd>{{if .Generation}}{{secs .DataAgeSeconds}} (captured {{.DataCapturedAt.Format "2006-01-02 15:04 UTC"}}){{else}}–{{end}}</dd>
<dt>Last refresh</dt><dd>{{if .LastRefresh}}<span class="badge {{if .LastRefreshOK}}ok{{else}}fail{{end}}">{{.LastRefresh}}</span> {{ago .LastRefreshAt}}{{if .LastRefreshError}} — {{.LastRefreshError}}{{end}}{{else}}never{{end}}</dd>
<dt>Last drill</dt><dd>{{if .LastDrillID}}<span class="badge {{if eq .LastDrillResult "pass"}}ok{{else}}fail{{end}}">{{upper .LastDrillResult}}</span> {{ago .LastDrillAt}} — RTO {{secs .LastDrillRTO}}, RPO {{secs .LastDrillRPO}} — <a href="/apps/{{.Name}}/reports/{{.LastDrillID}}">report {{.LastDrillID}}</a>{{range .LastDrillFailures}}<br><span class="muted">{{.}}</span>{{end}}{{else}}never: run <code>lifeboat drill</code>{{end}}</dd>
</dl>
</section>
{{else}}
<p>No apps configured.</p>
{{end}}
</body>
</html>
`))
