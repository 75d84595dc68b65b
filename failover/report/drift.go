package report

import (
	"fmt"
	"math"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
)

// driftRow is one table of the row-count comparison, ready to print.
type driftRow struct {
	Table, Before, After, Change, Status string
	// Verdict is drift's: fail, warn, note or ok.
	Verdict string
}

// driftRows are the tables of r's row-count comparison, the biggest
// changes first (the order drift.Compare gives them), at most limit of
// them (0: all); the second result is how many were left out.
func driftRows(r *Report, limit int) ([]driftRow, int) {
	rows := []driftRow{}
	for i, c := range r.Drift.Tables {
		if limit > 0 && i == limit {
			return rows, len(r.Drift.Tables) - limit
		}
		row := driftRow{Table: c.Table, Before: thousands(c.Before), After: thousands(c.After), Status: c.Status, Verdict: c.Verdict}
		switch c.Status {
		case drift.StatusNew:
			row.Before, row.Change = "–", "new"
		case drift.StatusDisappeared:
			row.After, row.Change = "–", "gone"
		case drift.StatusUnchanged:
			row.Change = "="
		default:
			if c.Before == 0 {
				row.Change = "from empty"
			} else {
				row.Change = signedPercent(c.ChangePercent)
			}
		}
		rows = append(rows, row)
	}
	return rows, 0
}

// driftSummary says in one sentence what the comparison found.
func driftSummary(r *Report) string {
	if !r.Drift.Compared && r.Drift.Note == "" {
		return "Row counts were not compared: the restore did not get that far."
	}
	return r.Drift.Summary() + "."
}

func signedPercent(p float64) string {
	s := fmt.Sprintf("%+.1f%%", p)
	if math.Abs(p) >= 10 {
		s = fmt.Sprintf("%+.0f%%", p)
	}
	return s
}
