// Package report owns a drill's evidence: what was restored from which
// archive, how long every phase took, what was checked, and whether the
// recovery met its RTO and RPO targets. It stores the reports of an app
// (one JSON file per drill, atomically written, with retention) and renders
// them for people: a self-contained HTML page for auditors (no scripts, no
// external resources; inline CSS and SVG charts of the last drills) and a
// Markdown summary for a ticket, a pull request or an e-mail.
//
//	{state_dir}/{app}/drills/{id}.json   one drill (mode 0600)
//	{state_dir}/{app}/drills/latest.json a copy of the newest drill
//
// Every field of a Report is always present in its JSON: no omitempty,
// empty lists are [] (never null), zero times are written as zero times.
// A consumer (a monitoring script, jq, an auditor's spreadsheet) never has
// to guess whether a missing key means "no" or "unknown".
//
// The drill fills a Report and calls Finalize, which decides the result
// fail-closed: a failed or missing phase, a failed check, an unexpected
// restore error, a missed target, an unhealthy app, an egress that is not
// proven blocked, or a notification that was not delivered all fail the
// drill, each with a reason saying what to do.
package report

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
)

// Results.
const (
	ResultPass = "pass"
	ResultFail = "fail"
)

// Triggers.
const (
	TriggerSchedule = "schedule"
	TriggerManual   = "manual"
	TriggerWebhook  = "webhook"
)

// Archive sources.
const (
	SourceS3    = "s3"
	SourceCache = "cache"
)

// Phase names, in the order a drill runs them.
const (
	PhaseLocate        = "locate"
	PhaseDownload      = "download"
	PhaseVerify        = "verify" // unwrap and verify the archive
	PhaseDatabaseStart = "database-start"
	PhaseRestore       = "restore"
	PhaseChecks        = "checks"
	PhaseRelease       = "release"
	PhaseAppBoot       = "app-boot"
	PhaseHealth        = "health"
	PhaseTeardown      = "teardown"
)

// PhaseOrder lists every phase a drill may have, in order.
var PhaseOrder = []string{
	PhaseLocate, PhaseDownload, PhaseVerify, PhaseDatabaseStart, PhaseRestore,
	PhaseChecks, PhaseRelease, PhaseAppBoot, PhaseHealth, PhaseTeardown,
}

// CandidateBroken is the status of a candidate that was downloaded but
// failed verification.
const CandidateBroken = "broken"

// Check kinds the drill, a restore and a failover produce; others are allowed.
const (
	KindTable     = "table"
	KindSequence  = "sequence"
	KindSQL       = "sql"
	KindAmcheck   = "amcheck"
	KindEgress    = "egress"
	KindHealth    = "health"
	KindDrift     = "drift"     // row counts against the previous verified restore
	KindExpect    = "expect"    // database.expect minimums
	KindSettings  = "settings"  // the database server's durable settings
	KindPreflight = "preflight" // what a failover needs, checked on this host
)

// Report is one drill's evidence. Every field is always present in its
// JSON (no omitempty; empty slices are [] not null; zero times are still
// present).
type Report struct {
	// ID is "{UTC start, 20060102T150405Z}-{app}" (see NewID): sorting IDs
	// sorts drills by start time.
	ID          string    `json:"id"`
	ToolVersion string    `json:"tool_version"`
	Host        string    `json:"host"`
	App         string    `json:"app"`
	Trigger     string    `json:"trigger"` // schedule, manual, webhook
	TriggeredBy string    `json:"triggered_by"`
	StartedAt   time.Time `json:"started_at"`
	FinishedAt  time.Time `json:"finished_at"`
	// Result is "pass" or "fail", set by Finalize.
	Result string `json:"result"`
	// Failures say why the drill failed, each with what to do.
	Failures   []string    `json:"failures"`
	Archive    Archive     `json:"archive"`
	Candidates []Candidate `json:"candidates"`
	RPO        Target      `json:"rpo"`
	RTO        Target      `json:"rto"`
	// Phases in the order they ran (see PhaseOrder).
	Phases        []Phase        `json:"phases"`
	Restore       RestoreSummary `json:"restore"`
	Checks        []Check        `json:"checks"`
	Tables        []Table        `json:"tables"`
	AppHealth     AppHealth      `json:"app_health"`
	Notifications []Notification `json:"notifications"`
	// Kept is true when the drill's containers were left running (--keep,
	// or --keep-on-failure after a failure).
	Kept bool `json:"kept"`
	// Inspect says how to reach what a drill kept after a failure (psql,
	// logs, the app's URL) and how to remove it.
	Inspect []string `json:"inspect"`
	// Drift compares the restored row counts with the app's previous
	// verified restore (a standby generation or a drill).
	Drift drift.Result `json:"drift"`

	// derived are the failures the last Finalize added, so that calling it
	// again (after teardown, after the notifications) recomputes them
	// instead of piling them up.
	derived []string
}

// Archive is the archive the drill restored.
type Archive struct {
	Key    string `json:"key"`
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
	// CapturedAt is when the data was captured (the pg_dump header's time
	// when known).
	CapturedAt time.Time `json:"captured_at"`
	// AgeSeconds is the archive's age when the drill found it.
	AgeSeconds float64 `json:"age_seconds"`
	// Source is "s3" or "cache" (an offline drill).
	Source string `json:"source"`
	// Format is "custom" (pg_dump -Fc) or "plain" (pg_dump -Fp, restored
	// with psql: not verifiable before it ran); empty when not known.
	Format string `json:"format"`
	// InsteadOf are the newer archives that failed verification: the
	// drill rehearsed this one instead (and failed, the backup job needs a
	// look).
	InsteadOf []string `json:"instead_of"`
}

// Candidate is one object the drill considered, and why it was not used.
type Candidate struct {
	Key        string    `json:"key"`
	Size       int64     `json:"size"`
	CapturedAt time.Time `json:"captured_at"`
	Status     string    `json:"status"`
	SkipReason string    `json:"skip_reason"`
}

// Target is a measured duration against its target.
type Target struct {
	Seconds float64 `json:"seconds"`
	// TargetSeconds is 0 when no target is set.
	TargetSeconds float64 `json:"target_seconds"`
	// Met is set by Finalize: the value was measured (the drill got that
	// far) and is within the target.
	Met bool `json:"met"`
}

// Phase is one timed step of the drill.
type Phase struct {
	Name string `json:"name"`
	// StartedOffsetSeconds is when it began, counted from the drill's start.
	StartedOffsetSeconds float64 `json:"started_offset_seconds"`
	Seconds              float64 `json:"seconds"`
	OK                   bool    `json:"ok"`
	Error                string  `json:"error"`
}

// RestoreSummary is what pg_restore said.
type RestoreSummary struct {
	// Errors are the errors that fail the drill.
	Errors []string `json:"errors"`
	// ExpectedErrors matched database.expected_errors: recorded, not fatal.
	ExpectedErrors []string `json:"expected_errors"`
	Warnings       []string `json:"warnings"`
}

// Check is the result of one check: of a restored database (kept in its
// generation record, copied into a drill's report), of a drill's app and
// network, or of what a failover needs (KindPreflight).
type Check struct {
	Name   string `json:"name"`
	Kind   string `json:"kind"` // table, sequence, sql, amcheck, egress, health…
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Table is a restored table and its exact row count.
type Table struct {
	Schema string `json:"schema"`
	Name   string `json:"name"`
	Rows   int64  `json:"rows"`
}

// AppHealth is how the app booted on the restored data. Image is empty
// when the app has no image configured (a database-only drill).
type AppHealth struct {
	Image   string `json:"image"`
	ImageID string `json:"image_id"`
	Healthy bool   `json:"healthy"`
	URL     string `json:"url"`
	Detail  string `json:"detail"`
	// EgressBlocked: the drill's network was proven to have no way out.
	// Finalize derives it from the egress checks when there are any.
	EgressBlocked bool `json:"egress_blocked"`
}

// Notification is one channel the drill's outcome was sent to.
type Notification struct {
	Channel string  `json:"channel"`
	OK      bool    `json:"ok"`
	Error   string  `json:"error"`
	Seconds float64 `json:"seconds"`
}

// PhaseSeconds is one phase's share of the RTO.
type PhaseSeconds struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// New returns an empty report whose lists are empty, not nil.
func New() *Report {
	r := &Report{}
	r.normalize()
	return r
}

// NewID returns the ID of a drill of app started at t:
// "20261125T101500Z-shop". IDs sort by start time.
func NewID(app string, t time.Time) string {
	return t.UTC().Format("20060102T150405Z") + "-" + app
}

// Pass reports whether the drill was finalized and passed.
func (r *Report) Pass() bool {
	return r.Result == ResultPass && len(r.Failures) == 0
}

// RTOByPhase returns how the RTO splits into phases, in order: every phase
// but teardown.
func (r *Report) RTOByPhase() []PhaseSeconds {
	out := []PhaseSeconds{}
	for _, p := range r.Phases {
		if p.Name == PhaseTeardown {
			continue
		}
		out = append(out, PhaseSeconds{Name: p.Name, Seconds: nonNeg(p.Seconds)})
	}
	return out
}

// Phase returns the phase named name, if the drill ran it.
func (r *Report) Phase(name string) (Phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return Phase{}, false
}

// FailedChecks returns the checks that did not pass.
func (r *Report) FailedChecks() []Check {
	out := []Check{}
	for _, c := range r.Checks {
		if !c.OK {
			out = append(out, c)
		}
	}
	return out
}

// MarshalJSON writes every field, with empty lists as [].
func (r Report) MarshalJSON() ([]byte, error) {
	r.normalize()
	type plain Report
	return json.Marshal(plain(r))
}

// MarshalJSON writes empty lists as [].
func (s RestoreSummary) MarshalJSON() ([]byte, error) {
	s.normalize()
	type plain RestoreSummary
	return json.Marshal(plain(s))
}

func (r *Report) normalize() {
	r.Failures = nonNil(r.Failures)
	if r.Candidates == nil {
		r.Candidates = []Candidate{}
	}
	if r.Phases == nil {
		r.Phases = []Phase{}
	}
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	if r.Tables == nil {
		r.Tables = []Table{}
	}
	if r.Notifications == nil {
		r.Notifications = []Notification{}
	}
	r.Restore.normalize()
	r.Drift.Normalize()
	r.Archive.InsteadOf = nonNil(r.Archive.InsteadOf)
	r.Inspect = nonNil(r.Inspect)
}

func (s *RestoreSummary) normalize() {
	s.Errors = nonNil(s.Errors)
	s.ExpectedErrors = nonNil(s.ExpectedErrors)
	s.Warnings = nonNil(s.Warnings)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func nonNeg(f float64) float64 {
	if f < 0 || math.IsNaN(f) {
		return 0
	}
	return f
}

// requiredPhases are the phases every drill must run to prove anything.
// download is not among them (an offline drill restores the cache), nor
// release (an app may have none) nor teardown (--keep).
var requiredPhases = []string{PhaseLocate, PhaseVerify, PhaseDatabaseStart, PhaseRestore, PhaseChecks}

// appPhases are required when the app has an image.
var appPhases = []string{PhaseAppBoot, PhaseHealth}

// Finalize computes the RTO and RPO from the phases and the archive,
// derives EgressBlocked from the egress checks, and sets Result and
// Failures. Failures the caller added before are kept (first); Finalize
// adds one readable reason per cause, each saying what to do. It may be
// called again after more is known (teardown, notifications): its own
// earlier reasons are recomputed, not repeated.
//
// The drill fails when a phase failed, a required phase is missing, a
// check failed or none ran, pg_restore reported unexpected errors, RTO or
// RPO missed its target or could not be measured, the app (when it has an
// image) did not become healthy, its network was not proven to have no
// egress, or a notification was not delivered.
func (r *Report) Finalize() {
	r.normalize()
	r.computeTargets()
	r.deriveEgress()
	if r.FinishedAt.IsZero() && !r.StartedAt.IsZero() && len(r.Phases) > 0 {
		r.FinishedAt = r.StartedAt.Add(Seconds(r.phasesEnd()))
	}
	if r.Archive.AgeSeconds == 0 && !r.Archive.CapturedAt.IsZero() && !r.StartedAt.IsZero() {
		r.Archive.AgeSeconds = nonNeg(r.StartedAt.Sub(r.Archive.CapturedAt).Seconds())
	}

	// The caller's own failures, without the reasons an earlier Finalize added.
	var own []string
	for _, f := range r.Failures {
		if !contains(r.derived, f) {
			own = append(own, f)
		}
	}
	derived := r.reasons()
	// A caller's failure that a derived reason quotes verbatim (the drill's
	// error is usually the failed phase's error) adds nothing.
	failures := []string{}
	for _, f := range own {
		quoted := false
		for _, d := range derived {
			if f != "" && strings.Contains(d, f) {
				quoted = true
				break
			}
		}
		if !quoted && f != "" && !contains(failures, f) {
			failures = append(failures, f)
		}
	}
	for _, d := range derived {
		if !contains(failures, d) {
			failures = append(failures, d)
		}
	}
	r.Failures, r.derived = failures, derived
	if len(r.Failures) == 0 {
		r.Result = ResultPass
	} else {
		r.Result = ResultFail
	}
}

// computeTargets sets RTO (the sum of every phase but teardown) and RPO
// (the data's age when the restore finished) and whether each met its
// target.
func (r *Report) computeTargets() {
	var rto float64
	for _, p := range r.RTOByPhase() {
		rto += p.Seconds
	}
	r.RTO.Seconds = rto
	r.RTO.Met = r.Recovered() && (r.RTO.TargetSeconds <= 0 || rto <= r.RTO.TargetSeconds)

	measured := r.RPOMeasured()
	if measured {
		p, _ := r.Phase(PhaseRestore)
		restored := r.StartedAt.Add(Seconds(p.StartedOffsetSeconds + p.Seconds))
		r.RPO.Seconds = nonNeg(restored.Sub(r.Archive.CapturedAt).Seconds())
	}
	if r.Archive.CapturedAt.IsZero() {
		// Without a capture time there is no RPO, whatever was set.
		r.RPO.Seconds = 0
	}
	r.RPO.Met = measured && (r.RPO.TargetSeconds <= 0 || r.RPO.Seconds <= r.RPO.TargetSeconds)
}

// Recovered reports whether the drill got from the start to a usable
// service, so that its RTO was measured: every required phase (and, with
// an app, app-boot and health) ran and nothing before teardown failed.
func (r *Report) Recovered() bool {
	for _, p := range r.Phases {
		if p.Name != PhaseTeardown && !p.OK {
			return false
		}
	}
	return len(r.missingPhases()) == 0
}

// requiredPhaseNames are the phases this drill must have run.
func (r *Report) requiredPhaseNames() []string {
	want := append([]string{}, requiredPhases...)
	if r.AppHealth.Image != "" {
		want = append(want, appPhases...)
	}
	return want
}

// RPOMeasured reports whether the RPO is known: the archive's capture
// time is, and the restore finished.
func (r *Report) RPOMeasured() bool {
	p, ok := r.Phase(PhaseRestore)
	return ok && p.OK && !r.Archive.CapturedAt.IsZero() && !r.StartedAt.IsZero()
}

func (r *Report) missingPhases() []string {
	var missing []string
	for _, name := range r.requiredPhaseNames() {
		if _, ok := r.Phase(name); !ok {
			missing = append(missing, name)
		}
	}
	return missing
}

func (r *Report) deriveEgress() {
	found, all := false, true
	for _, c := range r.Checks {
		if c.Kind == KindEgress {
			found = true
			all = all && c.OK
		}
	}
	if found {
		r.AppHealth.EgressBlocked = all
	}
}

func (r *Report) phasesEnd() float64 {
	var end float64
	for _, p := range r.Phases {
		end = math.Max(end, nonNeg(p.StartedOffsetSeconds)+nonNeg(p.Seconds))
	}
	return end
}

// reasons returns one readable reason per cause of failure, most
// fundamental first.
func (r *Report) reasons() []string {
	var out []string
	add := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }

	failedPhase := ""
	for _, p := range r.Phases {
		if p.OK {
			continue
		}
		if failedPhase == "" && p.Name != PhaseTeardown {
			failedPhase = p.Name
		}
		msg := strings.TrimSpace(p.Error)
		if msg == "" {
			msg = "no error was recorded"
		}
		add("Phase %s failed: %s. %s", p.Name, strings.TrimSuffix(msg, "."), phaseAdvice(p.Name))
	}
	if failedPhase == "" {
		for _, name := range r.missingPhases() {
			add("Phase %s never ran, so the drill proves nothing past it: %s", name,
				"the drill stopped without recording why; run it again with --keep and read its log.")
		}
	}

	checksRan := false
	if p, ok := r.Phase(PhaseChecks); ok && p.OK {
		checksRan = true
	}
	for _, c := range r.Checks {
		if c.OK {
			continue
		}
		detail := strings.TrimSpace(c.Detail)
		if detail == "" {
			detail = "no detail recorded"
		}
		kind := c.Kind
		if kind == "" {
			kind = "check"
		}
		add("Check %q (%s) failed: %s. %s", c.Name, kind, strings.TrimSuffix(detail, "."), checkAdvice(c.Kind))
	}
	if len(r.Checks) == 0 && (failedPhase == "" || checksRan) {
		add("No verification check ran, so nothing proves the restored data is complete: " +
			"a drill must at least compare every table with the archive; check the restore log and database.checks.")
	}

	if n := len(r.Restore.Errors); n > 0 && r.Archive.Format == "plain" {
		add("psql stopped at the first error of the plain-SQL dump (%s): the dump's SQL does not run here as it is. "+
			"Fix the cause at the source or in the backup job (pg_dump -Fc archives restore with pg_restore, whose known errors database.expected_errors can accept).",
			oneLine(r.Restore.Errors[0]))
	} else if n > 0 {
		add("pg_restore reported %d unexpected error%s (first: %s). Fix the cause at the source database, or, "+
			"if the error is known to be harmless, add a regexp matching it to database.expected_errors.",
			n, plural(n), oneLine(r.Restore.Errors[0]))
	}

	if r.RTO.TargetSeconds > 0 && r.RTO.Seconds > r.RTO.TargetSeconds {
		slow := r.slowestPhase()
		add("RTO %s exceeds the target of %s (rto_target); the slowest phase was %s (%s). "+
			"Speed that phase up (a bigger VPS, database.jobs, a smaller database) or agree on a longer target.",
			Duration(r.RTO.Seconds), Duration(r.RTO.TargetSeconds), slow.Name, Duration(slow.Seconds))
	}
	if r.Archive.CapturedAt.IsZero() {
		if failedPhase == "" {
			add("RPO cannot be measured: the archive's capture time is unknown. " +
				"Check that the backup job writes pg_dump custom-format archives (lifeboat inspect shows their header).")
		}
	} else if r.RPO.TargetSeconds > 0 && r.RPO.Seconds > r.RPO.TargetSeconds {
		add("RPO %s exceeds the target of %s (rpo_target): the newest usable archive was captured %s. "+
			"Check that the backup job still runs (heroku-database-backups in Heroku Scheduler) and uploads to the bucket (lifeboat archives).",
			Duration(r.RPO.Seconds), Duration(r.RPO.TargetSeconds), r.Archive.CapturedAt.UTC().Format("2006-01-02 15:04 MST"))
	}

	if r.AppHealth.Image != "" {
		// A failed phase or health check already explains an unhealthy app.
		healthCheckFailed := false
		for _, c := range r.Checks {
			healthCheckFailed = healthCheckFailed || (c.Kind == KindHealth && !c.OK)
		}
		if !r.AppHealth.Healthy && failedPhase == "" && !healthCheckFailed {
			detail := strings.TrimSpace(r.AppHealth.Detail)
			if detail == "" {
				detail = "no health answer was recorded"
			}
			add("The app %s did not become healthy on the restored data: %s. "+
				"Check app.health.path and app.health.timeout, and the app's logs (lifeboat drill --keep leaves it running).",
				r.AppHealth.Image, strings.TrimSuffix(detail, "."))
		}
		booted := false
		if p, ok := r.Phase(PhaseAppBoot); ok && p.OK {
			booted = true
		}
		hasEgressCheck := false
		for _, c := range r.Checks {
			hasEgressCheck = hasEgressCheck || c.Kind == KindEgress
		}
		if booted && !r.AppHealth.EgressBlocked && !hasEgressCheck {
			add("Nothing proved that the drill's network has no egress while the app ran: it could have sent real e-mail " +
				"or charged real cards. The drill must run on an internal network and probe it (an egress check).")
		}
	}

	for _, n := range r.Notifications {
		if n.OK {
			continue
		}
		msg := strings.TrimSpace(n.Error)
		if msg == "" {
			msg = "no error was recorded"
		}
		add("Notification via %s was not delivered: %s. The next failure would go unnoticed: "+
			"fix the notify.%s settings and test them.", n.Channel, strings.TrimSuffix(msg, "."), n.Channel)
	}
	return out
}

func (r *Report) slowestPhase() PhaseSeconds {
	var s PhaseSeconds
	for _, p := range r.RTOByPhase() {
		if p.Seconds > s.Seconds {
			s = p
		}
	}
	return s
}

func phaseAdvice(name string) string {
	switch name {
	case PhaseLocate:
		return "No usable archive was found: see the candidates below for why each object was skipped, and check the backup job and s3.prefix (lifeboat archives)."
	case PhaseDownload:
		return "Check that the bucket is reachable from this host and the credentials work (lifeboat fetch shows the details)."
	case PhaseVerify:
		return "The archive is damaged or not a pg_dump custom-format archive: check the backup job, and inspect it (lifeboat inspect)."
	case PhaseDatabaseStart:
		return "The database container did not start: check Docker, free disk space and database.image."
	case PhaseRestore:
		return "Read the restore errors below; fix them at the source, or list known-harmless ones in database.expected_errors."
	case PhaseChecks:
		return "Verification of the restored data failed: see the failed checks below."
	case PhaseRelease:
		return "The app's release command failed on the restored data: check app.release and its output."
	case PhaseAppBoot:
		return "The app's processes did not start against the restored database: check app.image, app.processes and the app's logs."
	case PhaseHealth:
		return "The app did not answer app.health.path with 2xx in time: check the path, app.health.timeout and the app's logs."
	case PhaseTeardown:
		return "Drill containers may still be running: remove them (docker ps --filter label=io.lifeboat.purpose=drill); the next drill also removes them."
	}
	return "Fix the cause and run the drill again."
}

func checkAdvice(kind string) string {
	switch kind {
	case KindTable:
		return "A table the archive holds is missing or its rows differ after the restore: read the restore errors and compare with the source."
	case KindSequence:
		return "A sequence would hand out values its column already holds, so inserts would fail after a failover: fix it at the source (setval) or check the backup job."
	case KindSQL:
		return "The query in database.checks did not return true on the restored data: investigate the data at the source, or correct the query."
	case KindAmcheck:
		return "An index is corrupt in the restored database: check the same index at the source (bt_index_check) and REINDEX it there."
	case KindEgress:
		return "The drill's network could reach the outside: a drill could send real e-mail or charge real cards. Make it an internal network and remove any proxy or firewall rule that lets it out."
	case KindHealth:
		return "The app did not answer its health check on the restored data: check app.health.path and the app's logs."
	case KindDrift:
		return "The data shrank against the previous verified restore: look at those tables at the source (a bad migration, a truncate, a backup job dumping the wrong database); if the change is intended, run the drill once with --accept-drift."
	case KindExpect:
		return "The restored data holds less than database.expect declares: check the backup job and the source database, or correct database.expect."
	}
	return "Investigate it and run the drill again."
}

// Duration formats seconds for people: "850 ms", "42.5 s", "6 min 12 s",
// "7 h 12 min", "26 h", "3 d 4 h".
func Duration(secs float64) string {
	if math.IsNaN(secs) || math.IsInf(secs, 0) {
		return "unknown"
	}
	neg := ""
	if secs < 0 {
		neg, secs = "-", -secs
	}
	switch {
	case secs == 0:
		return "0 s"
	case secs < 1:
		return fmt.Sprintf("%s%.0f ms", neg, secs*1000)
	case secs < 10:
		return fmt.Sprintf("%s%.1f s", neg, secs)
	case secs < 60:
		return fmt.Sprintf("%s%.0f s", neg, secs)
	case secs < 3600:
		s := int64(math.Round(secs))
		if s%60 == 0 {
			return fmt.Sprintf("%s%d min", neg, s/60)
		}
		return fmt.Sprintf("%s%d min %d s", neg, s/60, s%60)
	case secs < 3*86400:
		m := int64(math.Round(secs / 60))
		if m%60 == 0 {
			return fmt.Sprintf("%s%d h", neg, m/60)
		}
		return fmt.Sprintf("%s%d h %d min", neg, m/60, m%60)
	default:
		h := int64(math.Round(secs / 3600))
		if h%24 == 0 {
			return fmt.Sprintf("%s%d d", neg, h/24)
		}
		return fmt.Sprintf("%s%d d %d h", neg, h/24, h%24)
	}
}

// Bytes formats a size in binary units: "512 B", "1.5 MiB", "12.3 GiB".
func Bytes(n int64) string {
	if n < 1024 {
		return fmt.Sprintf("%d B", n)
	}
	f := float64(n)
	for _, u := range []string{"KiB", "MiB", "GiB", "TiB"} {
		f /= 1024
		if f < 1024 || u == "TiB" {
			if f < 10 {
				return fmt.Sprintf("%.2f %s", f, u)
			}
			if f < 100 {
				return fmt.Sprintf("%.1f %s", f, u)
			}
			return fmt.Sprintf("%.0f %s", f, u)
		}
	}
	return fmt.Sprintf("%d B", n)
}

// Seconds turns a count of seconds, as records and reports keep them, into
// a time.Duration.
func Seconds(s float64) time.Duration { return time.Duration(s * float64(time.Second)) }

// Span renders a count of seconds for people, to the second ("1h2m3s"):
// the one formatter for RTO, RPO and run times in summaries, tables and
// the status page.
func Span(s float64) string { return Seconds(s).Round(time.Second).String() }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func oneLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i] + " …"
	}
	if rs := []rune(s); len(rs) > 300 {
		s = string(rs[:300]) + "…"
	}
	return s
}

// sortNewestFirst orders reports by ID (the start time), newest first.
func sortNewestFirst(rs []*Report) {
	sort.SliceStable(rs, func(i, j int) bool {
		if rs[i].ID != rs[j].ID {
			return rs[i].ID > rs[j].ID
		}
		return rs[i].StartedAt.After(rs[j].StartedAt)
	})
}
