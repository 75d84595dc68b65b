// Package web is `lifeboat serve`: a small HTTP server on the VPS with a
// status page (each app's standby, data age, last refresh, last drill with
// its report), the Prometheus metrics, and hooks that trigger a refresh or
// a drill (for an S3 event notification or a deploy hook). Triggers are
// single-flight: a trigger while a run is going on is coalesced into at
// most one follow-up.
//
// # Hook signatures
//
// A hook request carries
//
//	X-Lifeboat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256>
//
// where the HMAC, keyed with the hook secret, covers "<t>.<METHOD>.<path>.<body>"
// (e.g. "1767225600.POST./hooks/shop/refresh.{}"). A signature therefore
// triggers only the app and job it was made for, only within MaxSkew of
// the server's clock, and only once: each accepted signature is remembered
// until its timestamp expires. GitHub's X-Hub-Signature-256 (an HMAC of the
// body alone) is accepted only when the server is told to
// (GitHubSignatures), and then each X-GitHub-Delivery only once.
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
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover"
	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/engine"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/metrics"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
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
	// GitHubSignatures also accepts GitHub's X-Hub-Signature-256, which
	// signs the body only: it binds neither the app, the job nor a time,
	// so each X-GitHub-Delivery is accepted once, and a captured request
	// could be replayed once the server forgot it (after DeliveryMemory or
	// MaxRemembered later deliveries).
	GitHubSignatures bool
	Log              *slog.Logger
	// Now is the clock (tests); nil is time.Now.
	Now func() time.Time

	mu      sync.Mutex
	flights map[string]*flight
	ctx     context.Context
	seen    remembered
}

// flight is the state of one app's job: running (since when), and whether
// one more run was asked for meanwhile.
type flight struct {
	running, pending bool
	since            time.Time
	last             error
	lastAt           time.Time
}

// Trigger outcomes.
const (
	Started       = "started"        // a run began
	Queued        = "queued"         // a run is going on; one more will follow it
	AlreadyQueued = "already-queued" // a follow-up was already asked for: coalesced
	Skipped       = "skipped"        // a capture runs, or ran within capture.min_interval: nothing started
)

// Gate decides, for a trigger of a job that has a minimum interval
// (capture), whether it is skipped: it is called under the server's lock
// with whether a run is going on and since when, and returns the time of
// the last run that makes it skip.
type Gate func(app, job string, running bool, since time.Time) (last time.Time, skip bool)

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

// Timeouts are those of HTTPServer's server: a client that sends its
// request, or reads the answer, too slowly is cut off, so that no one can
// hold connections open (and memory) forever. A variable so that tests can
// shorten them.
var Timeouts = struct{ ReadHeader, Read, Write, Idle time.Duration }{
	ReadHeader: 10 * time.Second, Read: 30 * time.Second, Write: time.Minute, Idle: 2 * time.Minute,
}

// HTTPServer returns the server of `lifeboat serve`: Handler(ctx) with
// every timeout set (Timeouts) and request headers capped at 64 KiB.
func (s *Server) HTTPServer(ctx context.Context) *http.Server {
	return &http.Server{
		Handler:           s.Handler(ctx),
		ReadHeaderTimeout: Timeouts.ReadHeader,
		ReadTimeout:       Timeouts.Read,
		WriteTimeout:      Timeouts.Write,
		IdleTimeout:       Timeouts.Idle,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.logger().Handler(), slog.LevelWarn),
	}
}

func (s *Server) logger() *slog.Logger {
	if s.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Log
}

// Trigger asks for a run of job for app, single-flight.
func (s *Server) Trigger(app, job string) string {
	outcome, _ := s.TriggerGated(app, job, nil)
	return outcome
}

// TriggerGated is Trigger with a gate checked atomically with it: when the
// gate says skip, nothing starts or queues, and the time it gave is
// returned with Skipped.
func (s *Server) TriggerGated(app, job string, gate Gate) (string, time.Time) {
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
	if gate != nil {
		if last, skip := gate(app, job, f.running, f.since); skip {
			return Skipped, last
		}
	}
	switch {
	case f.running && f.pending:
		return AlreadyQueued, time.Time{}
	case f.running:
		f.pending = true
		return Queued, time.Time{}
	}
	f.running, f.since = true, time.Now()
	go s.loop(app, job, f)
	return Started, time.Time{}
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
			f.pending, f.since = false, time.Now()
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

// Sign returns the X-Lifeboat-Signature value of a request at time t:
// "t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<METHOD>.<path>.<body>">".
func Sign(secret []byte, t time.Time, method, path string, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, method, path, body))
}

// SignGitHub returns the X-Hub-Signature-256 value of body, as GitHub
// computes it: "sha256=<hex HMAC-SHA256 of the body>".
func SignGitHub(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func mac(secret []byte, ts, method, path string, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts + "." + method + "." + path + "."))
	m.Write(body)
	return m.Sum(nil)
}

// MaxSkew is how far a signature's timestamp may be from the server's clock.
const MaxSkew = 5 * time.Minute

// DeliveryMemory is how long a GitHub delivery ID is remembered.
const DeliveryMemory = 7 * 24 * time.Hour

// MaxRemembered bounds the signatures and deliveries remembered against
// replays. Only requests that carry a valid signature are remembered, so
// only the holder of the secret can fill it.
const MaxRemembered = 10_000

// MaxBody is the largest hook body read.
const MaxBody = 1 << 20

// MinSecretLen is the shortest hook secret serve accepts.
const MinSecretLen = 16

// CheckSecret refuses a hook secret too short to resist guessing.
func CheckSecret(secret []byte) error {
	if len(secret) < MinSecretLen {
		return fmt.Errorf("the hook secret is %d bytes; use at least %d random ones (openssl rand -hex 32 > FILE)", len(secret), MinSecretLen)
	}
	return nil
}

const schemeHelp = "X-Lifeboat-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of \"<t>.<METHOD>.<path>.<body>\"> (see lifeboat serve --help)"

// hookError is a refused hook: the status and what to tell the caller.
type hookError struct {
	status int
	msg    string
}

// authenticate checks the request's signature and remembers it, so that
// it is accepted once.
func (s *Server) authenticate(r *http.Request, body []byte) *hookError {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	sig := r.Header.Get("X-Lifeboat-Signature")
	if sig == "" && r.Header.Get("X-Hub-Signature-256") != "" {
		return s.authenticateGitHub(r, body, now)
	}
	if sig == "" {
		return &hookError{http.StatusUnauthorized, "missing signature: " + schemeHelp}
	}
	if strings.HasPrefix(sig, "sha256=") {
		return &hookError{http.StatusUnauthorized, "this signature scheme (sha256=<HMAC of the body>) is no longer accepted: it could be replayed and reused for any app: " + schemeHelp}
	}
	var ts string
	var sums [][]byte
	for _, part := range strings.Split(sig, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			if b, err := hex.DecodeString(v); err == nil && len(b) == sha256.Size {
				sums = append(sums, b)
			}
		}
	}
	t, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sums) == 0 {
		return &hookError{http.StatusUnauthorized, "malformed signature: " + schemeHelp}
	}
	want := mac(s.HookSecret, ts, r.Method, r.URL.Path, body)
	var match []byte
	for _, got := range sums {
		if hmac.Equal(got, want) {
			match = got
		}
	}
	if match == nil {
		return &hookError{http.StatusUnauthorized, "bad signature (wrong key, or not made for this method, path and body): " + schemeHelp}
	}
	// Only checked once the signature is known to be genuine: a forger
	// learns nothing about the clock.
	at := time.Unix(t, 0)
	if d := now.Sub(at); d > MaxSkew || d < -MaxSkew {
		return &hookError{http.StatusUnauthorized, fmt.Sprintf("signature timestamp %d is %s away from the server's clock (at most %s): sign each request when it is sent", t, d.Round(time.Second), MaxSkew)}
	}
	return s.remember("v1:"+hex.EncodeToString(match), at.Add(MaxSkew+time.Minute), now, false)
}

func (s *Server) authenticateGitHub(r *http.Request, body []byte, now time.Time) *hookError {
	if !s.GitHubSignatures {
		return &hookError{http.StatusUnauthorized, "GitHub signatures (X-Hub-Signature-256) are not accepted: set serve.github_signatures: true, or sign with " + schemeHelp}
	}
	delivery := r.Header.Get("X-GitHub-Delivery")
	if !hmac.Equal([]byte(r.Header.Get("X-Hub-Signature-256")), []byte(SignGitHub(s.HookSecret, body))) {
		return &hookError{http.StatusUnauthorized, "bad X-Hub-Signature-256 (sha256=<hex HMAC-SHA256 of the body>)"}
	}
	if delivery == "" || len(delivery) > 128 {
		return &hookError{http.StatusUnauthorized, "a GitHub-signed hook needs its X-GitHub-Delivery header"}
	}
	return s.remember("gh:"+delivery, now.Add(DeliveryMemory), now, true)
}

// remember records key until expires; it refuses a key it holds already.
func (s *Server) remember(key string, expires, now time.Time, evict bool) *hookError {
	switch s.seen.add(key, expires, now, evict) {
	case seenBefore:
		return &hookError{http.StatusConflict, "this signed request was already accepted once; sign a new one (a new timestamp) to trigger again"}
	case seenFull:
		return &hookError{http.StatusServiceUnavailable, "too many signed hooks in the last minutes; try again later"}
	}
	return nil
}

func (s *Server) hook(w http.ResponseWriter, r *http.Request) {
	app, job := r.PathValue("app"), r.PathValue("job")
	if len(s.HookSecret) == 0 {
		http.Error(w, "hooks are disabled: set serve.hook_secret_file", http.StatusNotFound)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			http.Error(w, fmt.Sprintf("the body is larger than %d bytes", MaxBody), http.StatusRequestEntityTooLarge)
			return
		}
		http.Error(w, "cannot read the body", http.StatusBadRequest)
		return
	}
	if herr := s.authenticate(r, body); herr != nil {
		s.Log.Warn("hook refused", "path", r.URL.Path, "status", herr.status, "reason", herr.msg, "remote", r.RemoteAddr)
		http.Error(w, herr.msg, herr.status)
		return
	}
	if job != "refresh" && job != "drill" && job != "capture" {
		http.Error(w, "unknown job: use refresh, drill or capture", http.StatusNotFound)
		return
	}
	a, err := s.Config.App(app)
	if err != nil || app == "" {
		http.Error(w, "unknown app", http.StatusNotFound)
		return
	}
	var gate Gate
	if job == "capture" {
		if !a.Capture.Enabled() {
			http.Error(w, "capture is not configured for this app (capture.source)", http.StatusNotFound)
			return
		}
		gate = captureGate(a)
	}
	outcome, last := s.TriggerGated(app, job, gate)
	answer := map[string]string{"app": app, "job": job, "status": outcome}
	code := http.StatusAccepted
	if outcome == Skipped {
		code = http.StatusOK
		answer["last_capture_at"] = last.UTC().Format(time.RFC3339)
		answer["min_interval"] = a.Capture.MinInterval.String()
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(answer)
}

// captureGate skips a capture trigger while a capture runs (its start is
// the last capture), or within capture.min_interval of the start of the
// last successful one (by a hook, a timer or by hand), so that a storm of
// events never piles captures onto the database. A failed capture does not
// hold the next one back.
func captureGate(a *config.App) Gate {
	return func(app, job string, running bool, since time.Time) (time.Time, bool) {
		if running {
			return since, true
		}
		// A capture started elsewhere (by hand, by a timer) holds the
		// app's capture lock: skipped as well, with its start.
		l, err := failover.CaptureLock(a, "lifeboat serve: capture gate")
		var held *lock.LockedError
		if errors.As(err, &held) {
			return held.Holder.Since, true
		}
		l.Release()
		runs, _ := failover.StateOf(a).Runs("capture")
		for _, r := range runs {
			if r.OK {
				return r.StartedAt, time.Since(r.StartedAt) < a.Capture.MinInterval.D()
			}
		}
		return time.Time{}, false
	}
}

// AppStatus is one app's line of the status page.
type AppStatus struct {
	Name           string    `json:"name"`
	Generation     int       `json:"generation"`
	DatabaseState  string    `json:"database_state"`
	DataCapturedAt time.Time `json:"data_captured_at"`
	DataAgeSeconds float64   `json:"data_age_seconds"`
	Serving        bool      `json:"serving"`
	// ServingSince is left out when not serving.
	ServingSince      *time.Time `json:"serving_since,omitempty"`
	LastRefresh       string     `json:"last_refresh"`
	LastRefreshAt     time.Time  `json:"last_refresh_at"`
	LastRefreshOK     bool       `json:"last_refresh_ok"`
	LastRefreshError  string     `json:"last_refresh_error"`
	LastDrillID       string     `json:"last_drill_id"`
	LastDrillResult   string     `json:"last_drill_result"`
	LastDrillAt       time.Time  `json:"last_drill_at"`
	LastDrillRTO      float64    `json:"last_drill_rto_seconds"`
	LastDrillRPO      float64    `json:"last_drill_rpo_seconds"`
	LastDrillFailures []string   `json:"last_drill_failures"`
	Running           []string   `json:"running"`
	// History is the failovers and failbacks, newest first.
	History []Event `json:"history"`
}

// Event is one failover or failback in an app's history.
type Event struct {
	Kind    string    `json:"kind"`    // failover, failback
	Outcome string    `json:"outcome"` // served, dumped, completed, failed
	At      time.Time `json:"at"`
	OK      bool      `json:"ok"`
	Detail  string    `json:"detail"`
}

// historyLength is how many failovers and failbacks the page shows.
const historyLength = 10

// history lists the app's failovers and failbacks, newest first.
func history(st *state.Store) []Event {
	out := []Event{}
	for _, kind := range []string{"failover", "failback"} {
		runs, _ := st.Runs(kind)
		for _, r := range runs {
			e := Event{Kind: kind, Outcome: r.Outcome, At: r.FinishedAt, OK: r.OK, Detail: r.Error}
			if r.OK {
				e.Detail = eventDetail(r)
			}
			out = append(out, e)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	if len(out) > historyLength {
		out = out[:historyLength]
	}
	return out
}

func eventDetail(r *state.Run) string {
	num := func(k string) (float64, bool) { v, ok := r.Details[k].(float64); return v, ok }
	switch {
	case r.Kind == "failover" && r.OK:
		d := fmt.Sprintf("RTO %s", report.Span(r.FinishedAt.Sub(r.StartedAt).Seconds()))
		if rpo, ok := num("rpo_seconds"); ok {
			d += ", RPO " + report.Span(rpo)
		}
		return d
	case r.Outcome == failover.OutcomeDumped:
		if f, _ := r.Details["file"].(string); f != "" {
			return "dump " + f
		}
	case r.Outcome == failover.OutcomeCompleted:
		return "back to standby"
	}
	return ""
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
		since := sv.Since
		a.Serving, a.ServingSince = true, &since
	}
	a.History = history(st.State)
	if run, _ := st.State.LastRun("refresh"); run != nil {
		a.LastRefresh, a.LastRefreshAt, a.LastRefreshOK, a.LastRefreshError = run.Outcome, run.FinishedAt, run.OK, run.Error
	}
	if rep, err := report.Load(st.State.DrillsDir(), "latest"); err == nil {
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
	dir := failover.StateOf(app).DrillsDir()
	rep, err := report.Load(dir, r.PathValue("id"))
	switch {
	case errors.Is(err, report.ErrNotFound):
		http.NotFound(w, r)
		return
	case errors.Is(err, report.ErrInvalidID):
		http.Error(w, "invalid report id: use latest or a drill id (letters, digits and -_.+)", http.StatusBadRequest)
		return
	case err != nil:
		// The details (paths, parse errors) are for the log, not the caller.
		s.Log.Error("report page", "app", app.Name, "id", r.PathValue("id"), "err", err)
		http.Error(w, "the report cannot be read: see the server's log", http.StatusInternalServerError)
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

func deref(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}

var statusPage = template.Must(template.New("status").Funcs(template.FuncMap{"ago": ago, "secs": report.Span, "upper": strings.ToUpper, "deref": deref}).Parse(`<!doctype html>
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
{{if .Serving}}<span class="badge warn">SERVING since {{ago (deref .ServingSince)}}</span>{{else if .Generation}}<span class="badge info">standby</span>{{else}}<span class="badge fail">no standby</span>{{end}}
{{range .Running}}<span class="badge info">{{.}} running</span>{{end}}
</h2>
<dl>
<dt>Standby database</dt><dd>{{if .Generation}}generation {{.Generation}}, <span class="badge {{if eq .DatabaseState "running"}}ok{{else}}fail{{end}}">{{.DatabaseState}}</span>{{else}}none yet: run <code>lifeboat refresh</code>{{end}}</dd>
<dt>Data age</dt><dd>{{if .Generation}}{{secs .DataAgeSeconds}} (captured {{.DataCapturedAt.Format "2006-01-02 15:04 UTC"}}){{else}}–{{end}}</dd>
<dt>Last refresh</dt><dd>{{if .LastRefresh}}<span class="badge {{if .LastRefreshOK}}ok{{else}}fail{{end}}">{{.LastRefresh}}</span> {{ago .LastRefreshAt}}{{if .LastRefreshError}} — {{.LastRefreshError}}{{end}}{{else}}never{{end}}{{if .Serving}} <span class="badge info">paused while serving</span>{{end}}</dd>
<dt>Last drill</dt><dd>{{if .LastDrillID}}<span class="badge {{if eq .LastDrillResult "pass"}}ok{{else}}fail{{end}}">{{upper .LastDrillResult}}</span> {{ago .LastDrillAt}} — RTO {{secs .LastDrillRTO}}, RPO {{secs .LastDrillRPO}} — <a href="/apps/{{.Name}}/reports/{{.LastDrillID}}">report {{.LastDrillID}}</a>{{range .LastDrillFailures}}<br><span class="muted">{{.}}</span>{{end}}{{else}}never: run <code>lifeboat drill</code>{{end}}</dd>
<dt>Failovers</dt><dd>{{range .History}}<span class="badge {{if not .OK}}fail{{else if eq .Kind "failover"}}warn{{else}}ok{{end}}">{{.Kind}} {{.Outcome}}</span> {{.At.Format "2006-01-02 15:04 UTC"}} ({{ago .At}}){{if .Detail}} — {{.Detail}}{{end}}<br>{{else}}none{{end}}</dd>
</dl>
</section>
{{else}}
<p>No apps configured.</p>
{{end}}
</body>
</html>
`))
