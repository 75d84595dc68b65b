package drift

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
)

func snap(kind, id, key string, counts ...any) Snapshot {
	s := Snapshot{Source: Source{Kind: kind, ID: id, ArchiveKey: key,
		CapturedAt: time.Date(2026, 12, 1, 3, 0, 0, 0, time.UTC)}}
	for i := 0; i < len(counts); i += 2 {
		s.Tables = append(s.Tables, Count{Table: counts[i].(string), Rows: int64(counts[i+1].(int))})
	}
	return s
}

func TestFirstRestoreHasNothingToCompare(t *testing.T) {
	r := Compare(nil, snap(KindGeneration, "1", "a.dump", "public.users", 10), Limits{MaxShrink: 0.2})
	if r.Compared || r.Failed() || !strings.Contains(r.Note, "first verified restore") || r.Summary() != r.Note {
		t.Fatalf("%+v", r)
	}
	b, _ := json.Marshal(r)
	for _, k := range []string{`"tables":[]`, `"failures":[]`, `"warnings":[]`, `"new_tables":[]`} {
		if !strings.Contains(string(b), k) {
			t.Errorf("JSON lacks %s: %s", k, b)
		}
	}
}

func TestCompareFailsWarnsAndReports(t *testing.T) {
	prev := snap(KindDrill, "20261201T060000Z-shop", "old.dump",
		"public.users", 1000, "public.orders", 500, "public.sessions", 40, "public.audit", 10,
		"public.gone", 7, "public.small", 100, "public.big", 100, "public.empty", 0, "public.filled", 0)
	cur := snap(KindGeneration, "4", "new.dump",
		"public.users", 1000, "public.orders", 0, "public.sessions", 20, "public.audit", 9,
		"public.small", 80, "public.big", 450, "public.empty", 0, "public.filled", 5, "public.fresh", 3)
	r := Compare(&prev, cur, Limits{MaxShrink: 0.2, MaxGrowth: 2})
	if !r.Compared || !r.Failed() || r.MaxShrinkPercent != 20 || r.MaxGrowthPercent != 200 {
		t.Fatalf("%+v", r)
	}
	byTable := map[string]Change{}
	for _, c := range r.Tables {
		byTable[c.Table] = c
	}
	want := map[string][2]string{
		"public.users":    {StatusUnchanged, VerdictOK},
		"public.orders":   {StatusEmptied, VerdictFail},
		"public.sessions": {StatusShrank, VerdictFail}, // -50%
		"public.audit":    {StatusShrank, VerdictOK},   // -10%
		"public.small":    {StatusShrank, VerdictOK},   // exactly -20%: the limit itself passes
		"public.gone":     {StatusDisappeared, VerdictFail},
		"public.big":      {StatusGrew, VerdictWarn}, // +350% > 200%
		"public.empty":    {StatusUnchanged, VerdictOK},
		"public.filled":   {StatusGrew, VerdictWarn}, // from empty
		"public.fresh":    {StatusNew, VerdictNote},
	}
	for table, w := range want {
		c := byTable[table]
		if c.Status != w[0] || c.Verdict != w[1] {
			t.Errorf("%s: %s/%s, want %s/%s (%s)", table, c.Status, c.Verdict, w[0], w[1], c.Detail)
		}
	}
	if len(r.Tables) != len(want) {
		t.Errorf("%d tables, want %d", len(r.Tables), len(want))
	}
	if len(r.Failures) != 3 || len(r.Warnings) != 2 || strings.Join(r.NewTables, ",") != "public.fresh" {
		t.Fatalf("failures %q\nwarnings %q\nnew %q", r.Failures, r.Warnings, r.NewTables)
	}
	// A failure names both numbers and both archives.
	f := r.Explain()
	for _, s := range []string{"3 tables drifted between archive old.dump (drill 20261201T060000Z-shop, data of 2026-12-01 03:00 UTC) and archive new.dump (generation 4, data of",
		"public.sessions shrank from 40 to 20 rows (-50%, more than database.drift.max_shrink 20%)",
		"public.orders is empty (it held 500 rows)", "public.gone disappeared (it held 7 rows)"} {
		if !strings.Contains(f, s) {
			t.Errorf("failures lack %q:\n%s", s, f)
		}
	}
	if !strings.Contains(r.Warnings[0]+r.Warnings[1], "public.big grew from 100 to 450 rows (+350%, more than database.drift.max_growth 200%)") ||
		!strings.Contains(r.Warnings[0]+r.Warnings[1], "public.filled grew from 0 to 5 rows (from empty, more than") {
		t.Errorf("warnings: %q", r.Warnings)
	}
	// Biggest changes first: failures (emptied and vanished, the bigger first, before -50%), then
	// warnings, the new table, then the rest by size of change.
	var order []string
	for _, c := range r.Tables {
		order = append(order, c.Table)
	}
	if got := strings.Join(order, " "); got != "public.orders public.gone public.sessions public.filled public.big public.fresh public.small public.audit public.empty public.users" {
		t.Errorf("order: %s", got)
	}
	if b, ok := r.Before("public.sessions"); !ok || b != 40 {
		t.Errorf("Before(sessions) = %d, %v", b, ok)
	}
	if _, ok := r.Before("public.fresh"); ok {
		t.Error("a new table has a before")
	}
	if s := r.Summary(); !strings.Contains(s, "3 drifted beyond the limits") || !strings.Contains(s, "1 new: public.fresh") {
		t.Errorf("summary: %s", s)
	}
	r.Accepted = true
	if r.Failed() || !strings.Contains(r.Summary(), "accepted") {
		t.Errorf("accepted drift still fails: %s", r.Summary())
	}
}

func TestGrowthOffByDefault(t *testing.T) {
	prev := snap(KindGeneration, "1", "a", "public.t", 1)
	cur := snap(KindGeneration, "2", "b", "public.t", 1_000_000)
	r := Compare(&prev, cur, Limits{MaxShrink: 0.2})
	if r.Failed() || len(r.Warnings) != 0 || r.Tables[0].Status != StatusGrew {
		t.Fatalf("%+v", r)
	}
	if !strings.Contains(r.Summary(), "none disappeared, emptied or lost more than 20% of its rows") {
		t.Errorf("summary: %s", r.Summary())
	}
}

func TestZeroShrinkToleranceFailsOnOneRow(t *testing.T) {
	prev := snap(KindGeneration, "1", "a", "public.t", 1000)
	cur := snap(KindGeneration, "2", "b", "public.t", 999)
	if r := Compare(&prev, cur, Limits{MaxShrink: 0}); !r.Failed() {
		t.Fatalf("max_shrink 0 let a row go: %+v", r)
	}
	if r := Compare(&prev, cur, Limits{MaxShrink: 0.001}); r.Failed() {
		t.Fatalf("0.1%% is exactly one row of 1000: %+v", r)
	}
}

func TestCheckExpect(t *testing.T) {
	cur := []Count{{Table: "public.users", Rows: 1500}, {Table: "public.orders", Rows: 10}}
	fs := CheckExpect(cur, Expect{Tables: 3, Rows: map[string]int64{"public.users": 1000, "public.orders": 100, "public.missing": 1}})
	if len(fs) != 4 {
		t.Fatalf("%+v", fs)
	}
	wantOK := []bool{false, false, false, true} // tables, then by name: missing, orders, users
	for i, f := range fs {
		if f.OK != wantOK[i] {
			t.Errorf("%d %s: ok=%v (%s)", i, f.Name, f.OK, f.Detail)
		}
	}
	if !strings.Contains(fs[0].Detail, "only 2 tables restored, database.expect.tables declares at least 3") ||
		!strings.Contains(fs[1].Detail, "public.missing is not in the archive") ||
		!strings.Contains(fs[2].Detail, "public.orders has 10 rows, database.expect.rows declares at least 100") {
		t.Errorf("details: %+v", fs)
	}
	if len(CheckExpect(cur, Expect{})) != 0 {
		t.Error("findings without declarations")
	}
}

func TestMinRowsFloor(t *testing.T) {
	prev := snap(KindGeneration, "1", "a",
		"public.tiny", 3, "public.few", 99, "public.emptied", 2, "public.gone", 1,
		"public.crossed", 150, "public.sprouted", 50, "public.seeded", 4)
	cur := snap(KindGeneration, "2", "b",
		"public.tiny", 2, "public.few", 1, "public.emptied", 0,
		"public.crossed", 60, "public.sprouted", 5000, "public.seeded", 40)
	r := Compare(&prev, cur, Limits{MaxShrink: 0.2, MaxGrowth: 2, MinRows: 100})
	if r.MinRows != 100 {
		t.Errorf("min_rows not reported: %+v", r)
	}
	by := map[string]Change{}
	for _, c := range r.Tables {
		by[c.Table] = c
	}
	want := map[string][2]string{
		"public.tiny":     {StatusShrank, VerdictOK},        // 3 -> 2, -33 %: below the floor
		"public.few":      {StatusShrank, VerdictOK},        // 99 -> 1: still below it on both sides
		"public.emptied":  {StatusEmptied, VerdictFail},     // empty is judged whatever the size
		"public.gone":     {StatusDisappeared, VerdictFail}, // and so is a table that vanished
		"public.crossed":  {StatusShrank, VerdictFail},      // 150 -> 60: it held more than the floor
		"public.sprouted": {StatusGrew, VerdictWarn},        // 50 -> 5000: it grew past the floor
		"public.seeded":   {StatusGrew, VerdictOK},          // 4 -> 40: below the floor
	}
	for table, w := range want {
		if c := by[table]; c.Status != w[0] || c.Verdict != w[1] {
			t.Errorf("%s: %s/%s, want %s/%s (%s)", table, c.Status, c.Verdict, w[0], w[1], c.Detail)
		}
	}
	if d := by["public.tiny"].Detail; !strings.Contains(d, "public.tiny shrank from 3 to 2 rows (-33.33%; not judged: fewer than database.drift.min_rows 100)") {
		t.Errorf("tiny: %s", d)
	}
	if len(r.Failures) != 3 {
		t.Errorf("failures: %q", r.Failures)
	}
	// min_rows 0 judges every table, as before.
	if r := Compare(&prev, cur, Limits{MaxShrink: 0.2}); len(r.Failures) != 5 {
		t.Errorf("without a floor: %q", r.Failures)
	}
}
