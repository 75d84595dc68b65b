// Package drift answers "is the data there?" where a restore that runs
// without error cannot: it compares the exact row count of every table of
// a verified restore with the previous verified restore of the same app
// (a standby generation or a drill), and checks the minimums the app
// declares (database.expect). A table that held two million rows yesterday
// and none today restores and counts perfectly; only a comparison sees it.
//
// The package is pure: it reads no file and talks to no database. The
// caller supplies both snapshots and stores the new one once it verified.
package drift

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// ErrDrift is wrapped by the error of a restore whose row counts drifted
// beyond the limits, or fell below a declared minimum.
var ErrDrift = errors.New("data check failed")

// Table statuses.
const (
	StatusUnchanged   = "unchanged"
	StatusGrew        = "grew"
	StatusShrank      = "shrank"
	StatusEmptied     = "emptied"
	StatusDisappeared = "disappeared"
	StatusNew         = "new"
)

// Verdicts, most severe first.
const (
	VerdictFail = "fail"
	VerdictWarn = "warn"
	VerdictNote = "note" // new table: reported, not failed
	VerdictOK   = "ok"
)

// Kinds of Source.
const (
	KindGeneration = "generation"
	KindDrill      = "drill"
)

// Count is one table's exact row count; Table is "schema.name".
type Count struct {
	Table string `json:"table"`
	Rows  int64  `json:"rows"`
}

// Source names a verified restore: what it was, and from which archive.
type Source struct {
	// Kind is "generation" (the standby) or "drill".
	Kind string `json:"kind"`
	// ID is the generation number or the drill's id.
	ID         string    `json:"id"`
	ArchiveKey string    `json:"archive_key"`
	CapturedAt time.Time `json:"captured_at"`
	VerifiedAt time.Time `json:"verified_at"`
}

// String names the restore for people: "archive K (drill X, data of
// 2026-12-01 03:00 UTC)".
func (s Source) String() string {
	what := s.Kind + " " + s.ID
	if s.Kind == "" {
		what = "restore " + s.ID
	}
	key := s.ArchiveKey
	if key == "" {
		key = "(unnamed)"
	}
	if s.CapturedAt.IsZero() {
		return fmt.Sprintf("archive %s (%s)", key, what)
	}
	return fmt.Sprintf("archive %s (%s, data of %s)", key, what, s.CapturedAt.UTC().Format("2006-01-02 15:04 MST"))
}

// Snapshot is the row counts of one verified restore.
type Snapshot struct {
	Source Source  `json:"source"`
	Tables []Count `json:"tables"`
}

// Limits say how much a table may change between two restores.
type Limits struct {
	// MaxShrink is the share of its rows a table may lose (0.2: 20 %);
	// losing more fails. A table that disappears or becomes empty always
	// fails.
	MaxShrink float64
	// MaxGrowth is the share a table may grow by before a warning (3: it
	// may quadruple); 0 turns the warning off.
	MaxGrowth float64
	// MinRows is the floor of the relative limits: a table smaller than
	// this before and after (3 rows becoming 2 is -33 %) is not judged by
	// MaxShrink or MaxGrowth. A table that disappears or becomes empty is
	// judged whatever its size. 0 judges every table.
	MinRows int64
}

// Change is one table's before and after.
type Change struct {
	Table string `json:"table"`
	// Before and After are the row counts; 0 when the table was absent
	// (Status says so: new, disappeared).
	Before int64 `json:"before"`
	After  int64 `json:"after"`
	// ChangePercent is (after-before)/before in percent; 0 when the table
	// was empty or absent before.
	ChangePercent float64 `json:"change_percent"`
	Status        string  `json:"status"`
	Verdict       string  `json:"verdict"`
	Detail        string  `json:"detail"`
}

// Result is the comparison of a restore with the previous verified one.
// Every field is always present in its JSON (lists are [], never null).
type Result struct {
	// Compared is false for an app's first verified restore: Note says so.
	Compared bool   `json:"compared"`
	Previous Source `json:"previous"`
	Current  Source `json:"current"`
	Note     string `json:"note"`
	// MaxShrinkPercent and MaxGrowthPercent are the limits applied
	// (growth 0: not checked).
	MaxShrinkPercent float64 `json:"max_shrink_percent"`
	MaxGrowthPercent float64 `json:"max_growth_percent"`
	// MinRows is the floor applied: tables smaller before and after are
	// not judged in percent (emptied and disappeared ones still are).
	MinRows int64 `json:"min_rows"`
	// Tables are every table of either restore, the biggest changes first.
	Tables []Change `json:"tables"`
	// Failures and Warnings are one sentence per table, naming both counts
	// and both archives.
	Failures  []string `json:"failures"`
	Warnings  []string `json:"warnings"`
	NewTables []string `json:"new_tables"`
	// Accepted is set when the operator accepted the drift (--accept-drift):
	// the failures are recorded but do not fail the restore.
	Accepted bool `json:"accepted"`
}

// Failed reports whether the drift fails the restore.
func (r Result) Failed() bool { return len(r.Failures) > 0 && !r.Accepted }

// MarshalJSON writes empty lists as [].
func (r Result) MarshalJSON() ([]byte, error) {
	r.Normalize()
	type plain Result
	return json.Marshal(plain(r))
}

// Normalize makes nil lists empty, as they are written.
func (r *Result) Normalize() {
	if r.Tables == nil {
		r.Tables = []Change{}
	}
	r.Failures = nonNil(r.Failures)
	r.Warnings = nonNil(r.Warnings)
	r.NewTables = nonNil(r.NewTables)
}

// Before returns the previous count of table and whether it was there.
func (r Result) Before(table string) (int64, bool) {
	for _, c := range r.Tables {
		if c.Table == table {
			return c.Before, c.Status != StatusNew
		}
	}
	return 0, false
}

// Compare compares cur with prev (nil: nothing to compare with, the first
// verified restore of the app) under lim.
func Compare(prev *Snapshot, cur Snapshot, lim Limits) Result {
	r := Result{Current: cur.Source, MaxShrinkPercent: pct(lim.MaxShrink), MaxGrowthPercent: pct(lim.MaxGrowth), MinRows: max(lim.MinRows, 0)}
	r.Normalize()
	if prev == nil {
		r.Note = fmt.Sprintf("nothing to compare with: this is the first verified restore of the app; its %d tables' row counts are the baseline for the next", len(cur.Tables))
		return r
	}
	r.Compared, r.Previous = true, prev.Source
	before := index(prev.Tables)
	after := index(cur.Tables)
	for name, a := range after {
		b, was := before[name]
		c := Change{Table: name, Before: b, After: a, Verdict: VerdictOK}
		if !was {
			c.Status, c.Verdict, c.Before = StatusNew, VerdictNote, 0
			c.Detail = fmt.Sprintf("new table with %d rows", a)
			r.NewTables = append(r.NewTables, name)
			r.Tables = append(r.Tables, c)
			continue
		}
		if b > 0 {
			c.ChangePercent = 100 * float64(a-b) / float64(b)
		}
		// A handful of rows moves by large shares for no reason worth a
		// failed refresh: below the floor only emptied tables are judged.
		small := max(a, b) < lim.MinRows
		switch {
		case a == b:
			c.Status, c.Detail = StatusUnchanged, fmt.Sprintf("%d rows", a)
		case a == 0:
			c.Status, c.Verdict = StatusEmptied, VerdictFail
			c.Detail = fmt.Sprintf("%s is empty (it held %d rows)", name, b)
		case a < b:
			c.Status = StatusShrank
			c.Detail = fmt.Sprintf("%s shrank from %d to %d rows (%s)", name, b, a, signed(c.ChangePercent))
			if small && float64(b-a) > lim.MaxShrink*float64(b) {
				c.Detail = fmt.Sprintf("%s shrank from %d to %d rows (%s; not judged: fewer than database.drift.min_rows %d)",
					name, b, a, signed(c.ChangePercent), lim.MinRows)
			} else if float64(b-a) > lim.MaxShrink*float64(b) {
				c.Verdict = VerdictFail
				c.Detail = fmt.Sprintf("%s shrank from %d to %d rows (%s, more than database.drift.max_shrink %s)",
					name, b, a, signed(c.ChangePercent), pctText(lim.MaxShrink))
			}
		default:
			c.Status = StatusGrew
			change := "from empty"
			if b > 0 {
				change = signed(c.ChangePercent)
			}
			c.Detail = fmt.Sprintf("%s grew from %d to %d rows (%s)", name, b, a, change)
			if lim.MaxGrowth > 0 && !small && float64(a-b) > lim.MaxGrowth*float64(b) {
				c.Verdict = VerdictWarn
				c.Detail = fmt.Sprintf("%s grew from %d to %d rows (%s, more than database.drift.max_growth %s)", name, b, a, change, pctText(lim.MaxGrowth))
			}
		}
		r.Tables = append(r.Tables, c)
	}
	for name, b := range before {
		if _, ok := after[name]; ok {
			continue
		}
		r.Tables = append(r.Tables, Change{Table: name, Before: b, ChangePercent: -100, Status: StatusDisappeared, Verdict: VerdictFail,
			Detail: fmt.Sprintf("%s disappeared (it held %d rows)", name, b)})
	}
	sort.Slice(r.Tables, func(i, j int) bool { return biggerFirst(r.Tables[i], r.Tables[j]) < 0 })
	sort.Strings(r.NewTables)
	for _, c := range r.Tables {
		switch c.Verdict {
		case VerdictFail:
			r.Failures = append(r.Failures, c.Detail)
		case VerdictWarn:
			r.Warnings = append(r.Warnings, c.Detail)
		}
	}
	return r
}

// Between names both restores: "between archive A (generation 1, data
// of …) and archive B (drill …, data of …)".
func (r Result) Between() string {
	return fmt.Sprintf("between %s and %s", r.Previous, r.Current)
}

// Explain says why the comparison failed, naming both restores and every
// table that drifted with both of its counts.
func (r Result) Explain() string {
	return fmt.Sprintf("%d table%s drifted %s: %s", len(r.Failures), plural(len(r.Failures)), r.Between(), strings.Join(r.Failures, "; "))
}

// Summary says in one sentence what the comparison found.
func (r Result) Summary() string {
	if !r.Compared {
		return r.Note
	}
	s := fmt.Sprintf("%d tables compared with %s", len(r.Tables)-len(r.NewTables), r.Previous)
	switch {
	case len(r.Failures) > 0 && r.Accepted:
		s += fmt.Sprintf(": %d drifted beyond the limits, accepted by the operator (--accept-drift)", len(r.Failures))
	case len(r.Failures) > 0:
		s += fmt.Sprintf(": %d drifted beyond the limits", len(r.Failures))
	default:
		s += fmt.Sprintf(": none disappeared, emptied or lost more than %s of its rows", pctText(r.MaxShrinkPercent/100))
	}
	if n := len(r.Warnings); n > 0 {
		s += fmt.Sprintf("; %d grew beyond database.drift.max_growth", n)
	}
	if n := len(r.NewTables); n > 0 {
		s += fmt.Sprintf("; %d new: %s", n, strings.Join(r.NewTables, ", "))
	}
	return s
}

// severity orders verdicts: fail first.
func severity(v string) int {
	switch v {
	case VerdictFail:
		return 0
	case VerdictWarn:
		return 1
	case VerdictNote:
		return 2
	}
	return 3
}

// biggerFirst orders changes: the most severe, then the biggest relative
// change (a table that vanished before one that lost a row), then the
// biggest absolute one, then by name.
func biggerFirst(a, b Change) int {
	return cmp.Or(
		cmp.Compare(severity(a.Verdict), severity(b.Verdict)),
		-cmp.Compare(magnitude(a), magnitude(b)),
		-cmp.Compare(abs(a.After-a.Before), abs(b.After-b.Before)),
		cmp.Compare(a.Table, b.Table),
	)
}

// magnitude is the relative size of a change; a table that was empty or
// absent and now has rows changed "infinitely".
func magnitude(c Change) float64 {
	if c.Before == 0 {
		if c.After == 0 {
			return 0
		}
		return math.Inf(1)
	}
	return math.Abs(float64(c.After-c.Before)) / float64(c.Before)
}

func index(cs []Count) map[string]int64 {
	m := make(map[string]int64, len(cs))
	for _, c := range cs {
		m[c.Table] = c.Rows
	}
	return m
}

func abs(n int64) int64 {
	if n < 0 {
		return -n
	}
	return n
}

func pct(f float64) float64 { return math.Round(f*10000) / 100 }

// pctText writes a share as "20%" or "12.5%".
func pctText(f float64) string {
	return strings.TrimSuffix(strings.TrimRight(fmt.Sprintf("%.2f", 100*f), "0"), ".") + "%"
}

// signed writes a change in percent with its sign: "-50%", "+12.5%".
func signed(p float64) string {
	s := pctText(math.Abs(p) / 100)
	if p < 0 {
		return "-" + s
	}
	return "+" + s
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}
