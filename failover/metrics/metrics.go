// Package metrics writes Lifeboat's state in the Prometheus text
// exposition format (0.0.4), for node_exporter's textfile collector (a
// file per app, e.g. {textfile_dir}/lifeboat_{app}.prom, replaced
// atomically after every run) or an HTTP /metrics endpoint.
//
// Every metric is a gauge. The names are stable; alerts are built on them:
//
//	lifeboat_last_run_success{app,job}               1 if the job's last run succeeded, else 0
//	lifeboat_last_run_timestamp_seconds{app,job}     when the job's last run finished (Unix time)
//	lifeboat_last_success_timestamp_seconds{app,job} when the job last succeeded (Unix time)
//	lifeboat_phase_duration_seconds{app,job,phase}   how long each phase of the job's last run took
//	lifeboat_rto_seconds{app}                        RTO of the last drill: start to healthy (NaN if it did not get there)
//	lifeboat_rpo_seconds{app}                        RPO of the last drill: age of the data restored (NaN if not measured)
//	lifeboat_rto_target_seconds{app}                 the app's RTO target (rto_target)
//	lifeboat_rpo_target_seconds{app}                 the app's RPO target (rpo_target)
//	lifeboat_drill_checks{app,result}                the last drill's checks, by result (pass, fail)
//	lifeboat_archive_age_seconds{app}                age of the newest archive when the metrics were written
//	lifeboat_archive_captured_timestamp_seconds{app} when the newest archive was captured (Unix time): age that never goes stale
//	lifeboat_archive_size_bytes{app}                 size of the newest archive
//	lifeboat_check_success{app,check}                1 if the chain check's finding passed, else 0
//	lifeboat_standby_generation{app}                 the standby's current database generation
//	lifeboat_standby_data_captured_timestamp_seconds{app} when the standby's data was captured (Unix time)
//	lifeboat_serving{app}                            1 while the standby serves users after a failover
//	lifeboat_capture_last_success_timestamp_seconds{app,source} when the last capture succeeded (Unix time)
//	lifeboat_capture_duration_seconds{app,source}    how long the last successful capture took
//	lifeboat_capture_size_bytes{app,source}          size of the last captured archive
//
// job is refresh, drill, fetch, check, failover or capture. A file written by a
// scheduled job is only as fresh as the job's last run: alert on the
// timestamps, which do not go stale, rather than on ages, for example
//
//	time() - lifeboat_last_success_timestamp_seconds{job="drill"} > 8 * 86400
//	time() - lifeboat_archive_captured_timestamp_seconds > lifeboat_rpo_target_seconds
//	lifeboat_last_run_success == 0
//
// Write knows the help text of every metric above and uses it whatever a
// Sample says, so that files written by different jobs never disagree;
// other names keep their own.
package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// Metric names.
const (
	LastRunSuccess               = "lifeboat_last_run_success"
	LastRunTimestamp             = "lifeboat_last_run_timestamp_seconds"
	LastSuccessTimestamp         = "lifeboat_last_success_timestamp_seconds"
	PhaseDuration                = "lifeboat_phase_duration_seconds"
	RTOSeconds                   = "lifeboat_rto_seconds"
	RPOSeconds                   = "lifeboat_rpo_seconds"
	RTOTargetSeconds             = "lifeboat_rto_target_seconds"
	RPOTargetSeconds             = "lifeboat_rpo_target_seconds"
	DrillChecks                  = "lifeboat_drill_checks"
	ArchiveAge                   = "lifeboat_archive_age_seconds"
	ArchiveCapturedTimestamp     = "lifeboat_archive_captured_timestamp_seconds"
	ArchiveSize                  = "lifeboat_archive_size_bytes"
	CheckSuccess                 = "lifeboat_check_success"
	StandbyGeneration            = "lifeboat_standby_generation"
	StandbyDataCapturedTimestamp = "lifeboat_standby_data_captured_timestamp_seconds"
	Serving                      = "lifeboat_serving"
)

// Jobs, the values of the job label.
const (
	JobRefresh  = "refresh"
	JobDrill    = "drill"
	JobFetch    = "fetch"
	JobCheck    = "check"
	JobFailover = "failover"
)

// Help is the help text of every metric Lifeboat writes.
var Help = map[string]string{
	LastRunSuccess:               "1 if the last run of the job succeeded, else 0.",
	LastRunTimestamp:             "When the last run of the job finished, in Unix time.",
	LastSuccessTimestamp:         "When the job last succeeded, in Unix time.",
	PhaseDuration:                "How long each phase of the job's last run took.",
	RTOSeconds:                   "RTO of the last drill: seconds from its start until the app was healthy (NaN if it did not get there).",
	RPOSeconds:                   "RPO of the last drill: age of the restored data in seconds (NaN if not measured).",
	RTOTargetSeconds:             "The app's RTO target (rto_target).",
	RPOTargetSeconds:             "The app's RPO target (rpo_target).",
	DrillChecks:                  "The last drill's verification checks, by result.",
	ArchiveAge:                   "Age of the newest archive when the metrics were written, in seconds.",
	ArchiveCapturedTimestamp:     "When the newest archive was captured, in Unix time.",
	ArchiveSize:                  "Size of the newest archive, in bytes.",
	CheckSuccess:                 "1 if the chain check's finding passed, else 0.",
	StandbyGeneration:            "The standby's current database generation.",
	StandbyDataCapturedTimestamp: "When the data the standby holds was captured, in Unix time.",
	Serving:                      "1 while the standby serves users after a failover, else 0.",
}

// Sample is one value of one metric.
type Sample struct {
	Name string
	Help string
	// Type is "gauge" (also when empty), "counter" or "untyped".
	Type   string
	Labels map[string]string
	Value  float64

	err error // set by Gauge when called wrongly; Write reports it
}

// ErrInvalid is wrapped by Write's errors for samples that cannot be
// written: a bad metric or label name, a type this package cannot write.
var ErrInvalid = errors.New("invalid metric sample")

// Gauge returns a gauge sample; labels are name, value pairs:
// Gauge("lifeboat_serving", "…", 1, "app", "shop").
func Gauge(name, help string, value float64, labels ...string) Sample {
	s := Sample{Name: name, Help: help, Type: "gauge", Value: value, Labels: map[string]string{}}
	if len(labels)%2 != 0 {
		s.err = fmt.Errorf("%w: %s: odd number of label arguments %q", ErrInvalid, name, labels)
		return s
	}
	for i := 0; i < len(labels); i += 2 {
		s.Labels[labels[i]] = labels[i+1]
	}
	return s
}

// gauge is Gauge with the package's help text.
func gauge(name string, value float64, labels ...string) Sample {
	return Gauge(name, Help[name], value, labels...)
}

// LastRun returns the samples of a job's last run: whether it succeeded,
// when it finished, and when the job last succeeded (lastSuccess, zero if
// never: then 0, so that an alert on its age fires).
func LastRun(app, job string, finished time.Time, ok bool, lastSuccess time.Time) []Sample {
	if ok && (lastSuccess.IsZero() || finished.After(lastSuccess)) {
		lastSuccess = finished
	}
	return []Sample{
		gauge(LastRunSuccess, bool01(ok), "app", app, "job", job),
		gauge(LastRunTimestamp, unix(finished), "app", app, "job", job),
		gauge(LastSuccessTimestamp, unix(lastSuccess), "app", app, "job", job),
	}
}

// Phase returns the duration of one phase of a job's last run.
func Phase(app, job, phase string, seconds float64) Sample {
	return gauge(PhaseDuration, seconds, "app", app, "job", job, "phase", phase)
}

// Archive returns the samples of the newest archive: its age at now, its
// capture time and its size.
func Archive(app string, capturedAt time.Time, size int64, now time.Time) []Sample {
	return []Sample{
		gauge(ArchiveAge, now.Sub(capturedAt).Seconds(), "app", app),
		gauge(ArchiveCapturedTimestamp, unix(capturedAt), "app", app),
		gauge(ArchiveSize, float64(size), "app", app),
	}
}

// Targets returns the app's RTO and RPO targets; a zero target (none) is
// left out.
func Targets(app string, rto, rpo time.Duration) []Sample {
	var out []Sample
	if rto > 0 {
		out = append(out, gauge(RTOTargetSeconds, rto.Seconds(), "app", app))
	}
	if rpo > 0 {
		out = append(out, gauge(RPOTargetSeconds, rpo.Seconds(), "app", app))
	}
	return out
}

// Check returns the result of one chain-check finding.
func Check(app, check string, ok bool) Sample {
	return gauge(CheckSuccess, bool01(ok), "app", app, "check", check)
}

// Standby returns the standby's generation and whether it serves users.
func Standby(app string, generation int, dataCapturedAt time.Time, serving bool) []Sample {
	out := []Sample{
		gauge(StandbyGeneration, float64(generation), "app", app),
		gauge(Serving, bool01(serving), "app", app),
	}
	if !dataCapturedAt.IsZero() {
		out = append(out, gauge(StandbyDataCapturedTimestamp, unix(dataCapturedAt), "app", app))
	}
	return out
}

// FromReport returns the samples of a drill: its outcome (job "drill"),
// its phases, RTO and RPO (NaN when the drill did not measure them) with
// their targets, and its checks by result. lifeboat_last_success_timestamp_seconds
// is only in it when the drill passed: use FromHistory to carry the last
// success over a failed drill.
func FromReport(r *report.Report) []Sample {
	app := r.App
	finished := r.FinishedAt
	if finished.IsZero() {
		finished = r.StartedAt
	}
	pass := r.Pass()
	out := []Sample{
		gauge(LastRunSuccess, bool01(pass), "app", app, "job", JobDrill),
		gauge(LastRunTimestamp, unix(finished), "app", app, "job", JobDrill),
	}
	if pass {
		out = append(out, gauge(LastSuccessTimestamp, unix(finished), "app", app, "job", JobDrill))
	}
	for _, p := range r.Phases {
		out = append(out, Phase(app, JobDrill, p.Name, p.Seconds))
	}
	rto, rpo := math.NaN(), math.NaN()
	if r.Recovered() {
		rto = r.RTO.Seconds
	}
	if r.RPOMeasured() {
		rpo = r.RPO.Seconds
	}
	out = append(out, gauge(RTOSeconds, rto, "app", app), gauge(RPOSeconds, rpo, "app", app))
	out = append(out, Targets(app, report.Seconds(r.RTO.TargetSeconds), report.Seconds(r.RPO.TargetSeconds))...)
	passed, failed := 0, 0
	for _, c := range r.Checks {
		if c.OK {
			passed++
		} else {
			failed++
		}
	}
	out = append(out,
		gauge(DrillChecks, float64(passed), "app", app, "result", "pass"),
		gauge(DrillChecks, float64(failed), "app", app, "result", "fail"))
	return out
}

// FromHistory returns FromReport of the newest drill of reports (in any
// order) and the time of the newest that passed as the drill's
// lifeboat_last_success_timestamp_seconds (0 when none did).
func FromHistory(reports []*report.Report) []Sample {
	var newest, lastPass *report.Report
	for _, r := range reports {
		if r == nil {
			continue
		}
		if newest == nil || r.ID > newest.ID {
			newest = r
		}
		if r.Pass() && (lastPass == nil || r.ID > lastPass.ID) {
			lastPass = r
		}
	}
	if newest == nil {
		return nil
	}
	out := FromReport(newest)
	var t time.Time
	if lastPass != nil {
		t = lastPass.FinishedAt
		if t.IsZero() {
			t = lastPass.StartedAt
		}
	}
	return append(out, gauge(LastSuccessTimestamp, unix(t), "app", newest.App, "job", JobDrill))
}

var (
	metricName = regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	labelName  = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
)

type family struct {
	name, help, typ string
	series          []series
	index           map[string]int // label string → position in series
}

type series struct {
	labels string // rendered {…}, "" without labels
	value  float64
}

// Write writes samples in the text exposition format 0.0.4: one # HELP
// and # TYPE per metric name, the metrics sorted by name, each metric's
// series sorted by labels, label names sorted, label values escaped
// (\\, \", \n), values formatted with strconv 'g' (NaN, +Inf, -Inf as
// such). Help texts are the package's for the metrics it documents, else
// the first non-empty one given. A later sample with the same name and
// labels as an earlier one replaces it. It writes nothing and returns an
// error wrapping ErrInvalid when a sample has a bad name, label name or
// type.
func Write(w io.Writer, samples []Sample) error {
	fams := map[string]*family{}
	var errs []error
	for _, s := range samples {
		if s.err != nil {
			errs = append(errs, s.err)
			continue
		}
		if !metricName.MatchString(s.Name) {
			errs = append(errs, fmt.Errorf("%w: metric name %q", ErrInvalid, s.Name))
			continue
		}
		typ := s.Type
		if typ == "" {
			typ = "gauge"
		}
		if typ != "gauge" && typ != "counter" && typ != "untyped" {
			errs = append(errs, fmt.Errorf("%w: %s: type %q (gauge, counter or untyped)", ErrInvalid, s.Name, s.Type))
			continue
		}
		labels, err := renderLabels(s.Name, s.Labels)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		f := fams[s.Name]
		if f == nil {
			f = &family{name: s.Name, typ: typ, help: Help[s.Name], index: map[string]int{}}
			fams[s.Name] = f
		}
		if f.help == "" {
			f.help = s.Help
		}
		if i, ok := f.index[labels]; ok {
			f.series[i].value = s.Value
			continue
		}
		f.index[labels] = len(f.series)
		f.series = append(f.series, series{labels: labels, value: s.Value})
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	names := make([]string, 0, len(fams))
	for n := range fams {
		names = append(names, n)
	}
	sort.Strings(names)
	var b bytes.Buffer
	for _, n := range names {
		f := fams[n]
		help := f.help
		if help == "" {
			help = strings.ReplaceAll(n, "_", " ") + "."
		}
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", n, escapeHelp(help), n, f.typ)
		sort.SliceStable(f.series, func(i, j int) bool { return f.series[i].labels < f.series[j].labels })
		for _, s := range f.series {
			fmt.Fprintf(&b, "%s%s %s\n", n, s.labels, formatValue(s.value))
		}
	}
	_, err := w.Write(b.Bytes())
	return err
}

// WriteFile writes samples to path atomically (a temp file in the same
// directory, fsync, rename, fsync of the directory) with mode 0644, so
// node_exporter (another user) reads it and never sees half a file. The
// temp file's name does not end in .prom, so the textfile collector
// ignores it. Nothing is written when Write would fail.
func WriteFile(path string, samples []Sample) error {
	var b bytes.Buffer
	if err := Write(&b, samples); err != nil {
		return fmt.Errorf("metrics %s: %w", path, err)
	}
	return fsutil.WriteFileAtomic(path, b.Bytes(), 0o644)
}

func renderLabels(metric string, labels map[string]string) (string, error) {
	if len(labels) == 0 {
		return "", nil
	}
	keys := make([]string, 0, len(labels))
	for k := range labels {
		if !labelName.MatchString(k) || strings.HasPrefix(k, "__") {
			return "", fmt.Errorf("%w: %s: label name %q", ErrInvalid, metric, k)
		}
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	b.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(k)
		b.WriteString(`="`)
		b.WriteString(escapeLabel(labels[k]))
		b.WriteByte('"')
	}
	b.WriteByte('}')
	return b.String(), nil
}

var (
	labelEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	helpEscaper  = strings.NewReplacer(`\`, `\\`, "\n", `\n`)
)

func escapeLabel(s string) string {
	return labelEscaper.Replace(strings.ToValidUTF8(s, string(utf8.RuneError)))
}
func escapeHelp(s string) string {
	return helpEscaper.Replace(strings.ToValidUTF8(s, string(utf8.RuneError)))
}

func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

func bool01(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// unix is t in Unix seconds (with milliseconds), 0 for the zero time.
func unix(t time.Time) float64 {
	if t.IsZero() {
		return 0
	}
	return float64(t.UnixMilli()) / 1000
}
