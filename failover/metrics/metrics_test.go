package metrics

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// The text exposition format 0.0.4, line by line.
var (
	helpLine   = regexp.MustCompile(`^# HELP ([a-zA-Z_:][a-zA-Z0-9_:]*) ((?:[^\\\n]|\\[\\n])*)$`)
	typeLine   = regexp.MustCompile(`^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$`)
	labelPair  = `[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\"n])*"`
	value      = `(?:[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|NaN|[+-]Inf)`
	sampleLine = regexp.MustCompile(`^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:` + labelPair + `(?:,` + labelPair + `)*)?\})? (` + value + `)$`)
	labelRe    = regexp.MustCompile(`([a-zA-Z_][a-zA-Z0-9_]*)="`)
)

// checkExposition checks text against the format's rules: every line is a
// HELP, TYPE or sample line; HELP and TYPE once per metric, before its
// samples; a metric's samples together; no series twice; label names
// sorted; no timestamps (the textfile collector refuses them). It returns
// the samples by "name{labels}".
func expositionProblems(text string) (map[string]string, []string) {
	var problems []string
	errorf := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if text != "" && !strings.HasSuffix(text, "\n") {
		errorf("output does not end with a newline")
	}
	help, typ, done := map[string]bool{}, map[string]bool{}, map[string]bool{}
	seen := map[string]string{}
	current := ""
	for i, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" && text == "" {
			continue
		}
		n := i + 1
		switch {
		case strings.HasPrefix(line, "# HELP "):
			m := helpLine.FindStringSubmatch(line)
			if m == nil {
				errorf("line %d: bad HELP: %q", n, line)
				continue
			}
			if help[m[1]] {
				errorf("line %d: second HELP for %s", n, m[1])
			}
			help[m[1]] = true
			if current != "" && current != m[1] {
				done[current] = true
			}
			current = m[1]
		case strings.HasPrefix(line, "# TYPE "):
			m := typeLine.FindStringSubmatch(line)
			if m == nil {
				errorf("line %d: bad TYPE: %q", n, line)
				continue
			}
			if typ[m[1]] {
				errorf("line %d: second TYPE for %s", n, m[1])
			}
			if m[1] != current {
				errorf("line %d: TYPE of %s not right after its HELP", n, m[1])
			}
			typ[m[1]] = true
		case strings.HasPrefix(line, "#"):
			errorf("line %d: unexpected comment %q", n, line)
		default:
			m := sampleLine.FindStringSubmatch(line)
			if m == nil {
				errorf("line %d: not a sample line: %q", n, line)
				continue
			}
			name := m[1]
			if !typ[name] || !help[name] {
				errorf("line %d: sample of %s before its HELP and TYPE", n, name)
			}
			if name != current || done[name] {
				errorf("line %d: sample of %s away from the rest of its metric", n, name)
			}
			var names []string
			for _, l := range labelRe.FindAllStringSubmatch(m[2], -1) {
				names = append(names, l[1])
			}
			for j := 1; j < len(names); j++ {
				if names[j-1] >= names[j] {
					errorf("line %d: label names not sorted (or repeated): %q", n, names)
				}
			}
			key := name + m[2]
			if _, dup := seen[key]; dup {
				errorf("line %d: series %s twice", n, key)
			}
			seen[key] = m[3]
		}
	}
	return seen, problems
}

func checkExposition(t *testing.T, text string) map[string]string {
	t.Helper()
	seen, problems := expositionProblems(text)
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		t.Logf("output:\n%s", text)
	}
	return seen
}

// The checker itself catches what Write must never produce (most of it
// refused by node_exporter; comments other than HELP and TYPE are valid
// but never written).
func TestExpositionChecker(t *testing.T) {
	const ok = "# HELP a A.\n# TYPE a gauge\na{x=\"1\"} 1\n"
	if _, p := expositionProblems(ok); len(p) != 0 {
		t.Fatalf("valid text rejected: %q", p)
	}
	for name, bad := range map[string]string{
		"second HELP":      ok + "# HELP a A.\n",
		"second TYPE":      "# HELP a A.\n# TYPE a gauge\n# TYPE a gauge\na 1\n",
		"no TYPE":          "# HELP a A.\na 1\n",
		"unknown type":     "# HELP a A.\n# TYPE a gaug\na 1\n",
		"split family":     "# HELP a A.\n# TYPE a gauge\na 1\n# HELP b B.\n# TYPE b gauge\nb 1\na{x=\"2\"} 2\n",
		"duplicate series": ok + "a{x=\"1\"} 2\n",
		"unsorted labels":  "# HELP a A.\n# TYPE a gauge\na{y=\"1\",x=\"2\"} 1\n",
		"bad escape":       "# HELP a A.\n# TYPE a gauge\na{x=\"\\q\"} 1\n",
		"raw quote":        "# HELP a A.\n# TYPE a gauge\na{x=\"a\"b\"} 1\n",
		"timestamp":        "# HELP a A.\n# TYPE a gauge\na 1 1700000000000\n",
		"bad value":        "# HELP a A.\n# TYPE a gauge\na one\n",
		"bad name":         "# HELP a-b A.\n# TYPE a-b gauge\na-b 1\n",
		"no final newline": strings.TrimSuffix(ok, "\n"),
		"stray comment":    "# hello\n" + ok,
	} {
		if _, p := expositionProblems(bad); len(p) == 0 {
			t.Errorf("%s: not caught:\n%s", name, bad)
		}
	}
}

func write(t *testing.T, samples []Sample) string {
	t.Helper()
	var b bytes.Buffer
	if err := Write(&b, samples); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

func TestWriteFormat(t *testing.T) {
	samples := []Sample{
		Gauge("lifeboat_serving", "ignored: the package's help wins", 0, "app", "shop"),
		Gauge("lifeboat_last_run_success", "", 1, "job", "refresh", "app", "shop"),
		Gauge("lifeboat_last_run_success", "", 0, "app", "shop", "job", "drill"),
		Gauge("lifeboat_serving", "", 1, "app", "blog"),
		{Name: "custom_total", Help: "A counter.\nSecond line with a \\ backslash.", Type: "counter", Value: 42},
		{Name: "custom_ratio", Value: 0.000125, Labels: map[string]string{"zeta": "1", "alpha": "2"}},
		Gauge("lifeboat_rto_seconds", "", math.NaN(), "app", "shop"),
		Gauge("lifeboat_archive_size_bytes", "", 1.36e9, "app", "shop"),
		Gauge("edge", "", math.Inf(1), "sign", "plus"),
		Gauge("edge", "", math.Inf(-1), "sign", "minus"),
		Gauge("edge", "", 1764064800.123, "sign", "time"),
	}
	out := write(t, samples)
	got := checkExposition(t, out)
	for key, want := range map[string]string{
		`lifeboat_last_run_success{app="shop",job="refresh"}`: "1",
		`lifeboat_last_run_success{app="shop",job="drill"}`:   "0",
		`lifeboat_serving{app="blog"}`:                        "1",
		`custom_total`:                                        "42",
		`custom_ratio{alpha="2",zeta="1"}`:                    "0.000125",
		`lifeboat_rto_seconds{app="shop"}`:                    "NaN",
		`lifeboat_archive_size_bytes{app="shop"}`:             "1.36e+09",
		`edge{sign="plus"}`:                                   "+Inf",
		`edge{sign="minus"}`:                                  "-Inf",
		`edge{sign="time"}`:                                   "1.764064800123e+09",
	} {
		if got[key] != want {
			t.Errorf("%s = %q, want %q\n%s", key, got[key], want, out)
		}
	}
	for _, want := range []string{
		"# HELP lifeboat_serving " + Help[Serving] + "\n# TYPE lifeboat_serving gauge\n",
		"# HELP custom_total A counter.\\nSecond line with a \\\\ backslash.\n# TYPE custom_total counter\n",
		"# TYPE custom_ratio gauge\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// Every value parses back.
	for key, v := range got {
		if _, err := strconv.ParseFloat(strings.TrimPrefix(v, "+"), 64); err != nil {
			t.Errorf("%s: value %q does not parse: %v", key, v, err)
		}
	}
	// Deterministic: the same samples in another order give the same text.
	rev := append([]Sample{}, samples...)
	for i, j := 0, len(rev)-1; i < j; i, j = i+1, j-1 {
		rev[i], rev[j] = rev[j], rev[i]
	}
	if again := write(t, rev); again != out {
		t.Errorf("output depends on the order of the samples:\n%s\n---\n%s", out, again)
	}
}

func TestWriteEscapesLabelValues(t *testing.T) {
	nasty := "a\\b \"quoted\"\nnext line, } and = and , \xff"
	out := write(t, []Sample{Gauge("lifeboat_check_success", "", 1, "app", "shop", "check", nasty)})
	got := checkExposition(t, out)
	want := `lifeboat_check_success{app="shop",check="a\\b \"quoted\"\nnext line, } and = and , ` + "\uFFFD" + `"}`
	if _, ok := got[want]; !ok {
		t.Errorf("escaped series %s not found in:\n%s", want, out)
	}
	if strings.Count(out, "\n") != 3 {
		t.Errorf("a newline in a label value broke the line:\n%s", out)
	}
}

func TestWriteDuplicatesAndHelp(t *testing.T) {
	out := write(t, []Sample{
		Gauge("lifeboat_rpo_target_seconds", "from the report", 3600, "app", "shop"),
		Gauge("my_metric", "", 1, "app", "shop"),
		Gauge("my_metric", "first non-empty help", 2, "app", "blog"),
		Gauge("my_metric", "another help", 3, "app", "cms"),
		Gauge("lifeboat_rpo_target_seconds", "from the config", 7200, "app", "shop"),
	})
	got := checkExposition(t, out)
	if got[`lifeboat_rpo_target_seconds{app="shop"}`] != "7200" {
		t.Errorf("a later sample should replace an earlier one with the same labels:\n%s", out)
	}
	if !strings.Contains(out, "# HELP my_metric first non-empty help\n") || !strings.Contains(out, "# HELP lifeboat_rpo_target_seconds "+Help[RPOTargetSeconds]) {
		t.Errorf("help texts:\n%s", out)
	}
	// No help at all still gives a valid HELP line.
	out = write(t, []Sample{{Name: "bare", Value: 1}})
	checkExposition(t, out)
	if !strings.HasPrefix(out, "# HELP bare bare.\n# TYPE bare gauge\nbare 1\n") {
		t.Errorf("bare metric:\n%s", out)
	}
	if out := write(t, nil); out != "" {
		t.Errorf("no samples: %q", out)
	}
}

func TestWriteRejectsInvalid(t *testing.T) {
	for name, s := range map[string]Sample{
		"metric name":    Gauge("lifeboat-serving", "", 1),
		"empty name":     Gauge("", "", 1),
		"label name":     Gauge("x", "", 1, "bad-label", "v"),
		"reserved label": Gauge("x", "", 1, "__name__", "v"),
		"odd labels":     Gauge("x", "", 1, "app"),
		"histogram":      {Name: "x", Type: "histogram", Value: 1},
	} {
		t.Run(name, func(t *testing.T) {
			var b bytes.Buffer
			err := Write(&b, []Sample{Gauge("good", "", 1), s})
			if !errors.Is(err, ErrInvalid) {
				t.Errorf("Write = %v, want ErrInvalid", err)
			}
			if b.Len() != 0 {
				t.Errorf("Write wrote %q despite the error", b.String())
			}
		})
	}
}

func TestWriteFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "lifeboat_shop.prom")
	old := syscallUmask(0o077) // a strict umask must not make it unreadable for node_exporter
	defer syscallUmask(old)
	if err := WriteFile(path, LastRun("shop", JobRefresh, time.Unix(1764064800, 0), true, time.Time{})); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o644 {
		t.Errorf("mode %04o, want 0644", st.Mode().Perm())
	}
	b, _ := os.ReadFile(path)
	got := checkExposition(t, string(b))
	if got[`lifeboat_last_success_timestamp_seconds{app="shop",job="refresh"}`] != "1.7640648e+09" {
		t.Errorf("file content:\n%s", b)
	}
	// Replace it; a failing write leaves the old one.
	if err := WriteFile(path, []Sample{Gauge("lifeboat_serving", "", 1, "app", "shop")}); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []Sample{Gauge("bad name", "", 1)}); !errors.Is(err, ErrInvalid) {
		t.Errorf("WriteFile(bad) = %v, want ErrInvalid", err)
	}
	b, _ = os.ReadFile(path)
	if !strings.Contains(string(b), `lifeboat_serving{app="shop"} 1`) {
		t.Errorf("the file was changed by a failed write:\n%s", b)
	}
	es, _ := os.ReadDir(dir)
	if len(es) != 1 {
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		t.Errorf("files left in the directory: %q (temp files?)", names)
	}
	if err := WriteFile(filepath.Join(dir, "missing", "x.prom"), nil); err == nil {
		t.Error("WriteFile into a missing directory succeeded")
	}
}

func TestHelpers(t *testing.T) {
	now := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	var all []Sample
	all = append(all, LastRun("shop", JobCheck, now, false, now.Add(-48*time.Hour))...)
	all = append(all, Phase("shop", JobRefresh, "restore", 12.5))
	all = append(all, Archive("shop", now.Add(-90*time.Minute), 1_460_000_000, now)...)
	all = append(all, Targets("shop", time.Hour, 26*time.Hour)...)
	all = append(all, Targets("blog", 0, 0)...)
	all = append(all, Check("shop", "newest archive", true))
	all = append(all, Standby("shop", 7, now.Add(-2*time.Hour), true)...)
	got := checkExposition(t, write(t, all))
	ts := func(d time.Duration) string { return strconv.FormatInt(now.Add(d).Unix(), 10) }
	for key, want := range map[string]string{
		`lifeboat_last_run_success{app="shop",job="check"}`:                         "0",
		`lifeboat_last_run_timestamp_seconds{app="shop",job="check"}`:               ts(0),
		`lifeboat_last_success_timestamp_seconds{app="shop",job="check"}`:           ts(-48 * time.Hour),
		`lifeboat_phase_duration_seconds{app="shop",job="refresh",phase="restore"}`: "12.5",
		`lifeboat_archive_age_seconds{app="shop"}`:                                  "5400",
		`lifeboat_archive_captured_timestamp_seconds{app="shop"}`:                   ts(-90 * time.Minute),
		`lifeboat_archive_size_bytes{app="shop"}`:                                   "1.46e+09",
		`lifeboat_rto_target_seconds{app="shop"}`:                                   "3600",
		`lifeboat_rpo_target_seconds{app="shop"}`:                                   "93600",
		`lifeboat_check_success{app="shop",check="newest archive"}`:                 "1",
		`lifeboat_standby_generation{app="shop"}`:                                   "7",
		`lifeboat_serving{app="shop"}`:                                              "1",
		`lifeboat_standby_data_captured_timestamp_seconds{app="shop"}`:              ts(-2 * time.Hour),
	} {
		if g, ok := got[key]; !ok || mustFloat(t, g) != mustFloat(t, want) {
			t.Errorf("%s = %q, want %s", key, g, want)
		}
	}
	if _, ok := got[`lifeboat_rto_target_seconds{app="blog"}`]; ok {
		t.Error("a zero target should be left out")
	}
	// Never succeeded: 0, so that an alert on its age fires.
	got = checkExposition(t, write(t, LastRun("shop", JobFetch, now, false, time.Time{})))
	if got[`lifeboat_last_success_timestamp_seconds{app="shop",job="fetch"}`] != "0" {
		t.Errorf("never succeeded: %v", got)
	}
	// Every documented metric has help, and every helper's metric is documented.
	for _, s := range all {
		if Help[s.Name] == "" {
			t.Errorf("%s has no help text", s.Name)
		}
	}
}

func mustFloat(t *testing.T, s string) float64 {
	t.Helper()
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return f
}

// drill builds a finalized drill report.
func drill(t time.Time, pass bool) *report.Report {
	r := report.New()
	r.ID, r.App, r.StartedAt = report.NewID("shop", t), "shop", t
	r.Archive = report.Archive{Key: "k", Size: 100, CapturedAt: t.Add(-time.Hour), Source: report.SourceS3}
	at := 0.0
	for _, n := range []string{"locate", "download", "verify", "database-start", "restore", "checks", "app-boot", "health", "teardown"} {
		r.Phases = append(r.Phases, report.Phase{Name: n, StartedOffsetSeconds: at, Seconds: 10, OK: true})
		at += 10
	}
	r.Checks = []report.Check{{Name: "t", Kind: "table", OK: true}, {Name: "no egress", Kind: "egress", OK: true}}
	r.AppHealth = report.AppHealth{Image: "img", Healthy: true}
	r.RTO.TargetSeconds, r.RPO.TargetSeconds = 3600, 26*3600
	if !pass {
		r.Phases = r.Phases[:5]
		r.Phases[4].OK, r.Phases[4].Error = false, "boom"
		r.Checks = append(r.Checks, report.Check{Name: "u", Kind: "table", Detail: "missing"})
	}
	r.Finalize()
	return r
}

func TestFromReport(t *testing.T) {
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r := drill(start, true)
	got := checkExposition(t, write(t, FromReport(r)))
	end := float64(start.Unix()) + 90
	for key, want := range map[string]float64{
		`lifeboat_last_run_success{app="shop",job="drill"}`:                        1,
		`lifeboat_last_run_timestamp_seconds{app="shop",job="drill"}`:              end,
		`lifeboat_last_success_timestamp_seconds{app="shop",job="drill"}`:          end,
		`lifeboat_phase_duration_seconds{app="shop",job="drill",phase="restore"}`:  10,
		`lifeboat_phase_duration_seconds{app="shop",job="drill",phase="teardown"}`: 10,
		`lifeboat_rto_seconds{app="shop"}`:                                         80,
		`lifeboat_rpo_seconds{app="shop"}`:                                         3600 + 50,
		`lifeboat_rto_target_seconds{app="shop"}`:                                  3600,
		`lifeboat_rpo_target_seconds{app="shop"}`:                                  26 * 3600,
		`lifeboat_drill_checks{app="shop",result="pass"}`:                          2,
		`lifeboat_drill_checks{app="shop",result="fail"}`:                          0,
	} {
		g, ok := got[key]
		if !ok || mustFloat(t, g) != want {
			t.Errorf("%s = %q, want %v", key, g, want)
		}
	}

	f := drill(start.Add(24*time.Hour), false)
	got = checkExposition(t, write(t, FromReport(f)))
	if got[`lifeboat_last_run_success{app="shop",job="drill"}`] != "0" ||
		got[`lifeboat_rto_seconds{app="shop"}`] != "NaN" || got[`lifeboat_rpo_seconds{app="shop"}`] != "NaN" ||
		got[`lifeboat_drill_checks{app="shop",result="fail"}`] != "1" {
		t.Errorf("failed drill: %v", got)
	}
	if _, ok := got[`lifeboat_last_success_timestamp_seconds{app="shop",job="drill"}`]; ok {
		t.Error("a failed drill must not claim a success")
	}

	// FromHistory carries the last success over the failed drill.
	got = checkExposition(t, write(t, FromHistory([]*report.Report{r, f})))
	if mustFloat(t, got[`lifeboat_last_success_timestamp_seconds{app="shop",job="drill"}`]) != end ||
		got[`lifeboat_last_run_success{app="shop",job="drill"}`] != "0" {
		t.Errorf("history: %v", got)
	}
	got = checkExposition(t, write(t, FromHistory([]*report.Report{f})))
	if got[`lifeboat_last_success_timestamp_seconds{app="shop",job="drill"}`] != "0" {
		t.Errorf("no drill ever passed: %v", got)
	}
	if FromHistory(nil) != nil {
		t.Error("FromHistory(nil) should be empty")
	}
}

// TestPackageDocListsEveryMetric keeps the package comment, which users
// read to write alerts, in step with the names.
func TestPackageDocListsEveryMetric(t *testing.T) {
	src, err := os.ReadFile("metrics.go")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(src[:strings.Index(string(src), "package metrics")])
	for name := range Help {
		if !strings.Contains(doc, "//\t"+name+"{") {
			t.Errorf("%s is not documented in the package comment", name)
		}
	}
}
