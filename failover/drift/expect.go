package drift

import (
	"fmt"
	"sort"
)

// Expect is what the app declares its data must hold at least
// (database.expect): a number of tables, and rows per table.
type Expect struct {
	// Tables is the least number of tables with data; 0: not checked.
	Tables int
	// Rows maps "schema.table" to its least number of rows.
	Rows map[string]int64
}

// Finding is one declared minimum, checked.
type Finding struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// CheckExpect checks the restored counts against the declared minimums,
// one finding per minimum, in a stable order (tables first, then rows by
// table name).
func CheckExpect(cur []Count, e Expect) []Finding {
	out := []Finding{}
	if e.Tables > 0 {
		f := Finding{Name: fmt.Sprintf("at least %d tables", e.Tables), OK: len(cur) >= e.Tables}
		if f.OK {
			f.Detail = fmt.Sprintf("%d tables restored (database.expect.tables: %d)", len(cur), e.Tables)
		} else {
			f.Detail = fmt.Sprintf("only %d tables restored, database.expect.tables declares at least %d: is the backup job dumping the right database?", len(cur), e.Tables)
		}
		out = append(out, f)
	}
	names := make([]string, 0, len(e.Rows))
	for n := range e.Rows {
		names = append(names, n)
	}
	sort.Strings(names)
	got := index(cur)
	for _, n := range names {
		want := e.Rows[n]
		f := Finding{Name: fmt.Sprintf("%s has at least %d rows", n, want)}
		rows, ok := got[n]
		switch {
		case !ok:
			f.Detail = fmt.Sprintf("%s is not in the archive (database.expect.rows declares at least %d rows): was it renamed or dropped?", n, want)
		case rows < want:
			f.Detail = fmt.Sprintf("%s has %d rows, database.expect.rows declares at least %d", n, rows, want)
		default:
			f.OK, f.Detail = true, fmt.Sprintf("%s has %d rows (at least %d declared)", n, rows, want)
		}
		out = append(out, f)
	}
	return out
}
