package report

import (
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"
)

// jsonKeys lists the JSON keys of a struct type, failing on omitempty.
func jsonKeys(t *testing.T, typ reflect.Type) map[string]reflect.Type {
	t.Helper()
	keys := map[string]reflect.Type{}
	for i := 0; i < typ.NumField(); i++ {
		fld := typ.Field(i)
		if !fld.IsExported() {
			continue
		}
		tag := fld.Tag.Get("json")
		if tag == "" || tag == "-" {
			t.Errorf("%s.%s has no json tag", typ.Name(), fld.Name)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero") {
			t.Errorf("%s.%s is %s: every field must always be present", typ.Name(), fld.Name, tag)
		}
		keys[name] = fld.Type
	}
	return keys
}

// assertAllPresent checks that obj has every key of typ, that lists are
// [] and not null, and recurses into nested structs and list elements.
func assertAllPresent(t *testing.T, path string, obj map[string]any, typ reflect.Type) {
	t.Helper()
	for key, ft := range jsonKeys(t, typ) {
		v, ok := obj[key]
		if !ok {
			t.Errorf("%s.%s is missing from the JSON", path, key)
			continue
		}
		switch {
		case ft.Kind() == reflect.Slice:
			list, ok := v.([]any)
			if !ok {
				t.Errorf("%s.%s = %#v, want a list ([] when empty, never null)", path, key, v)
				continue
			}
			if el := ft.Elem(); el.Kind() == reflect.Struct {
				for i, item := range list {
					assertAllPresent(t, path+"."+key+"["+string(rune('0'+i))+"]", item.(map[string]any), el)
				}
			}
		case ft == reflect.TypeOf(time.Time{}):
			if _, ok := v.(string); !ok {
				t.Errorf("%s.%s = %#v, want a time string", path, key, v)
			}
		case ft.Kind() == reflect.Struct:
			m, ok := v.(map[string]any)
			if !ok {
				t.Errorf("%s.%s = %#v, want an object", path, key, v)
				continue
			}
			assertAllPresent(t, path+"."+key, m, ft)
		case v == nil:
			t.Errorf("%s.%s is null", path, key)
		}
	}
}

func TestZeroReportJSONHasEveryField(t *testing.T) {
	for name, r := range map[string]any{"zero value": Report{}, "zero pointer": &Report{}, "New": New()} {
		t.Run(name, func(t *testing.T) {
			b, err := json.Marshal(r)
			if err != nil {
				t.Fatal(err)
			}
			var m map[string]any
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatal(err)
			}
			assertAllPresent(t, "report", m, reflect.TypeOf(Report{}))
			// The keys the drill's consumers rely on, spelled out, so a
			// rename is noticed here and not by a monitoring script.
			for _, k := range []string{"id", "tool_version", "host", "app", "trigger", "triggered_by", "started_at",
				"finished_at", "result", "failures", "archive", "candidates", "rpo", "rto", "phases", "restore",
				"checks", "tables", "app_health", "notifications", "kept"} {
				if _, ok := m[k]; !ok {
					t.Errorf("key %q missing", k)
				}
			}
			if got := m["started_at"]; got != "0001-01-01T00:00:00Z" {
				t.Errorf("started_at = %v, want the zero time written out", got)
			}
			if !strings.Contains(string(b), `"errors":[]`) || !strings.Contains(string(b), `"failures":[]`) {
				t.Errorf("empty lists must be written as []: %s", b)
			}
			if strings.Contains(string(b), "null") {
				t.Errorf("JSON holds a null: %s", b)
			}
		})
	}
}

func TestFullReportJSONHasEveryNestedField(t *testing.T) {
	r := sample(0, true)
	r.Notifications = append(r.Notifications, Notification{Channel: "email"}) // empty strings stay
	b, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	assertAllPresent(t, "report", m, reflect.TypeOf(Report{}))
	// Round trip: nothing is lost.
	var back Report
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	back.derived, r.derived = nil, nil
	if !reflect.DeepEqual(&back, r) {
		t.Errorf("round trip changed the report:\n got %+v\nwant %+v", back, *r)
	}
}

// good is a drill where everything went right.
func good() *Report { return sample(3, true) }

func TestFinalizeAllGoodPasses(t *testing.T) {
	r := good()
	r.Finalize()
	if !r.Pass() || r.Result != ResultPass || len(r.Failures) != 0 {
		t.Fatalf("result %q, failures %q", r.Result, r.Failures)
	}
	if !r.RTO.Met || !r.RPO.Met {
		t.Errorf("RTO %+v RPO %+v, want both met", r.RTO, r.RPO)
	}
}

func TestFinalizeComputesRTOAndRPO(t *testing.T) {
	r := New()
	r.ID, r.App = "x", "shop"
	r.StartedAt = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	r.Archive = Archive{Key: "k", CapturedAt: r.StartedAt.Add(-2 * time.Hour)}
	at := 0.0
	for _, p := range []struct {
		n string
		s float64
	}{{PhaseLocate, 1}, {PhaseDownload, 10}, {PhaseVerify, 4}, {PhaseDatabaseStart, 3}, {PhaseRestore, 100},
		{PhaseChecks, 20}, {PhaseRelease, 0}, {PhaseAppBoot, 5}, {PhaseHealth, 7}, {PhaseTeardown, 50}} {
		r.Phases = append(r.Phases, Phase{Name: p.n, StartedOffsetSeconds: at, Seconds: p.s, OK: true})
		at += p.s
	}
	r.AppHealth = AppHealth{Image: "img", Healthy: true}
	r.Checks = []Check{{Name: "t", Kind: KindTable, OK: true}, {Name: "no egress", Kind: KindEgress, OK: true}}
	r.RTO.TargetSeconds, r.RPO.TargetSeconds = 200, 3*3600
	r.Finalize()
	if r.RTO.Seconds != 150 {
		t.Errorf("RTO = %v, want 150 (every phase but teardown)", r.RTO.Seconds)
	}
	// Restored at 10:00 + 118 s; captured at 08:00.
	if want := 2*3600 + 118.0; math.Abs(r.RPO.Seconds-want) > 1e-6 {
		t.Errorf("RPO = %v, want %v (capture to the end of the restore)", r.RPO.Seconds, want)
	}
	if r.Archive.AgeSeconds != 7200 {
		t.Errorf("archive age = %v, want 7200", r.Archive.AgeSeconds)
	}
	if !r.AppHealth.EgressBlocked {
		t.Error("EgressBlocked not derived from the passing egress check")
	}
	if !r.Pass() {
		t.Fatalf("failures: %q", r.Failures)
	}
	var names []string
	var sum float64
	for _, p := range r.RTOByPhase() {
		names = append(names, p.Name)
		sum += p.Seconds
	}
	if strings.Join(names, ",") != "locate,download,verify,database-start,restore,checks,release,app-boot,health" || sum != r.RTO.Seconds {
		t.Errorf("RTOByPhase = %v (sum %v)", names, sum)
	}
	if r.FinishedAt.IsZero() {
		t.Error("FinishedAt not filled from the phases")
	}
}

func TestFinalizeEachCauseFails(t *testing.T) {
	phase := func(name string) func(*Report) {
		return func(r *Report) {
			for i := range r.Phases {
				if r.Phases[i].Name == name {
					r.Phases[i].OK, r.Phases[i].Error = false, "boom in "+name
				}
			}
		}
	}
	drop := func(name string) func(*Report) {
		return func(r *Report) {
			var keep []Phase
			for _, p := range r.Phases {
				if p.Name != name {
					keep = append(keep, p)
				}
			}
			r.Phases = keep
		}
	}
	cases := []struct {
		name   string
		break_ func(*Report)
		want   []string // in the reason
	}{
		{"locate failed", phase(PhaseLocate), []string{"Phase locate failed: boom in locate", "lifeboat archives"}},
		{"download failed", phase(PhaseDownload), []string{"Phase download failed", "credentials"}},
		{"verify failed", phase(PhaseVerify), []string{"Phase verify failed", "lifeboat inspect"}},
		{"database-start failed", phase(PhaseDatabaseStart), []string{"Phase database-start failed", "database.image"}},
		{"restore failed", phase(PhaseRestore), []string{"Phase restore failed", "database.expected_errors"}},
		{"checks failed", phase(PhaseChecks), []string{"Phase checks failed", "failed checks"}},
		{"release failed", phase(PhaseRelease), []string{"Phase release failed", "app.release"}},
		{"app-boot failed", phase(PhaseAppBoot), []string{"Phase app-boot failed", "app.processes"}},
		{"health failed", phase(PhaseHealth), []string{"Phase health failed", "app.health.timeout"}},
		{"teardown failed", phase(PhaseTeardown), []string{"Phase teardown failed", "io.lifeboat.purpose=drill"}},
		{"phase without error", func(r *Report) { r.Phases[4].OK = false }, []string{"Phase restore failed: no error was recorded"}},
		{"restore missing", drop(PhaseRestore), []string{"Phase restore never ran", "--keep"}},
		{"health missing with an app", drop(PhaseHealth), []string{"Phase health never ran"}},
		{"table check failed", func(r *Report) { r.Checks[0].OK, r.Checks[0].Detail = false, "12 rows, 13 in the archive" },
			[]string{`Check "public.users" (table) failed: 12 rows, 13 in the archive`, "compare with the source"}},
		{"sequence check failed", func(r *Report) { r.Checks[8].OK = false }, []string{`Check "orders_id_seq" (sequence) failed`, "setval"}},
		{"sql check failed", func(r *Report) { r.Checks[9].OK = false }, []string{`Check "recent orders" (sql) failed`, "database.checks"}},
		{"amcheck failed", func(r *Report) { r.Checks[10].OK = false }, []string{`(amcheck) failed`, "REINDEX"}},
		{"egress check failed", func(r *Report) { r.Checks[11].OK, r.Checks[11].Detail = false, "reached 1.1.1.1:443" },
			[]string{`Check "no egress" (egress) failed: reached 1.1.1.1:443`, "real e-mail"}},
		{"no checks", func(r *Report) { r.Checks = nil }, []string{"No verification check ran"}},
		{"restore errors", func(r *Report) { r.Restore.Errors = []string{"ERROR: role \"x\" does not exist", "other"} },
			[]string{"pg_restore reported 2 unexpected errors", `role "x" does not exist`, "database.expected_errors"}},
		{"RTO over target", func(r *Report) { r.RTO.TargetSeconds = 60 },
			[]string{"exceeds the target of 1 min (rto_target)", "slowest phase was restore"}},
		{"RPO over target", func(r *Report) { r.RPO.TargetSeconds = 3600 },
			[]string{"RPO 1 h", "exceeds the target of 1 h (rpo_target)", "backup job"}},
		{"capture time unknown", func(r *Report) { r.Archive.CapturedAt = time.Time{} },
			[]string{"RPO cannot be measured", "lifeboat inspect"}},
		{"app unhealthy", func(r *Report) {
			r.AppHealth.Healthy, r.AppHealth.Detail = false, "503 from /healthz"
			r.Checks = r.Checks[:len(r.Checks)-1] // no failed health check explains it
		}, []string{"did not become healthy on the restored data: 503 from /healthz", "app.health.path"}},
		{"egress not proven", func(r *Report) {
			r.Checks = append(r.Checks[:11], r.Checks[12:]...) // no egress check
			r.AppHealth.EgressBlocked = false
		}, []string{"Nothing proved that the drill's network has no egress"}},
		{"notification failed", func(r *Report) { r.Notifications[0] = Notification{Channel: "slack", Error: "HTTP 404 from slack"} },
			[]string{"Notification via slack was not delivered: HTTP 404 from slack", "notify.slack"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := good()
			tc.break_(r)
			r.Finalize()
			if r.Pass() || r.Result != ResultFail {
				t.Fatalf("result %q, want fail; failures %q", r.Result, r.Failures)
			}
			all := strings.Join(r.Failures, "\n")
			for _, w := range tc.want {
				if !strings.Contains(all, w) {
					t.Errorf("failures do not say %q:\n%s", w, all)
				}
			}
			for _, f := range r.Failures {
				if len(f) < 40 || !strings.ContainsAny(f, ".:") {
					t.Errorf("reason %q is not a readable sentence", f)
				}
			}
		})
	}
}

func TestFinalizeIsIdempotentAndKeepsCallerFailures(t *testing.T) {
	r := good()
	r.Phases[4].OK, r.Phases[4].Error = false, "pg_restore exited 1"
	r.Failures = []string{"the bucket holds a newer unusable object: x.dump.gz", "pg_restore exited 1"}
	r.Finalize()
	first := append([]string{}, r.Failures...)
	if first[0] != "the bucket holds a newer unusable object: x.dump.gz" {
		t.Errorf("the caller's failure should come first: %q", first)
	}
	for _, f := range first {
		if f == "pg_restore exited 1" {
			t.Errorf("a caller failure quoted by a derived reason should be dropped: %q", first)
		}
	}
	r.Finalize()
	if !reflect.DeepEqual(first, r.Failures) {
		t.Errorf("a second Finalize changed the failures:\n%q\n%q", first, r.Failures)
	}
	// Teardown recorded after the first Finalize (the drill's defer) and a
	// failed notification: a second Finalize accounts for both.
	r.Notifications = append(r.Notifications, Notification{Channel: "email", Error: "timeout"})
	r.Finalize()
	if len(r.Failures) != len(first)+1 || !strings.Contains(r.Failures[len(r.Failures)-1], "email") {
		t.Errorf("failures after a failed notification: %q", r.Failures)
	}
	// Fixing the cause clears the derived reasons but keeps the caller's.
	r.Phases[4].OK, r.Phases[4].Error = true, ""
	r.Notifications = r.Notifications[:len(r.Notifications)-1]
	r.Finalize()
	if len(r.Failures) != 1 || r.Failures[0] != first[0] {
		t.Errorf("failures = %q, want only the caller's", r.Failures)
	}
}

func TestFinalizeDatabaseOnlyDrillPasses(t *testing.T) {
	r := good()
	r.Phases = r.Phases[:6] // up to checks
	r.Phases = append(r.Phases, Phase{Name: PhaseTeardown, StartedOffsetSeconds: 400, Seconds: 2, OK: true})
	r.AppHealth = AppHealth{Detail: "no app image configured (app.image): only the database was rehearsed"}
	r.Checks = r.Checks[:len(r.Checks)-1] // no app health check
	r.Finalize()
	if !r.Pass() {
		t.Fatalf("a database-only drill should pass: %q", r.Failures)
	}
	if !r.AppHealth.EgressBlocked {
		t.Error("the egress check passed: EgressBlocked should be true")
	}
}

func TestFinalizeFailedDrillDoesNotPileUpConsequences(t *testing.T) {
	r := good()
	// The download failed: nothing after it ran.
	r.Phases = r.Phases[:2]
	r.Phases[1].OK, r.Phases[1].Error = false, "dial tcp: i/o timeout"
	r.Phases = append(r.Phases, Phase{Name: PhaseTeardown, StartedOffsetSeconds: 50, Seconds: 1, OK: true})
	r.Checks, r.Tables = nil, nil
	r.AppHealth.Healthy = false
	r.AppHealth.EgressBlocked = false
	r.Archive.CapturedAt = time.Time{}
	r.Finalize()
	if len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "Phase download failed: dial tcp: i/o timeout") {
		t.Errorf("failures = %q, want only the download's", r.Failures)
	}
	if r.RTO.Met || r.RPO.Met {
		t.Errorf("RTO %+v / RPO %+v cannot be met by a drill that failed", r.RTO, r.RPO)
	}
}

func TestPassNeedsFinalize(t *testing.T) {
	r := good()
	r.Result = ""
	if r.Pass() {
		t.Error("a report that was never finalized must not pass")
	}
	r.Result, r.Failures = ResultPass, []string{"x"}
	if r.Pass() {
		t.Error("a report with failures must not pass")
	}
}

func TestDuration(t *testing.T) {
	for secs, want := range map[float64]string{
		0: "0 s", 0.25: "250 ms", 4.44: "4.4 s", 42.4: "42 s", 60: "1 min", 372: "6 min 12 s",
		3600: "1 h", 26 * 3600: "26 h", 7*3600 + 12*60: "7 h 12 min", 4*86400 + 3*3600: "4 d 3 h", -5: "-5.0 s",
		math.NaN(): "unknown",
	} {
		if got := Duration(secs); got != want {
			t.Errorf("Duration(%v) = %q, want %q", secs, got, want)
		}
	}
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1536: "1.50 KiB", 1_460_000_000: "1.36 GiB", 150 << 20: "150 MiB"} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestNewID(t *testing.T) {
	a := NewID("shop", time.Date(2026, 11, 25, 10, 15, 0, 0, time.FixedZone("CET", 3600)))
	if a != "20261125T091500Z-shop" {
		t.Errorf("NewID = %q", a)
	}
	if b := NewID("shop", time.Date(2026, 11, 25, 10, 15, 1, 0, time.UTC)); !(a < b) {
		t.Errorf("IDs do not sort by time: %q, %q", a, b)
	}
}

func TestSpanRoundsToTheSecond(t *testing.T) {
	for in, want := range map[float64]string{0: "0s", 0.4: "0s", 59.6: "1m0s", 3723.2: "1h2m3s"} {
		if got := Span(in); got != want {
			t.Errorf("Span(%v) = %q, want %q", in, got, want)
		}
	}
	if Seconds(1.5) != 1500*time.Millisecond {
		t.Errorf("Seconds(1.5) = %v", Seconds(1.5))
	}
}
