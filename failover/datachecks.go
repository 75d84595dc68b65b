package failover

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
	"github.com/lifeboat-dr/lifeboat/failover/report"
	"github.com/lifeboat-dr/lifeboat/failover/state"
	"github.com/lifeboat-dr/lifeboat/failover/textsafe"
)

// rowsStore is where the app's verified row counts live: the app's own
// records, also for a drill (whose generation records are its own).
func (s *site) rowsStore() *state.Store {
	if s.Rows != nil {
		return s.Rows
	}
	return s.State
}

// previousRows is the row counts of the app's last verified restore: the
// recorded ones, else (records from before they were kept) those of the
// current generation; nil when there is none.
func previousRows(st *state.Store) (*drift.Snapshot, error) {
	snap, err := st.VerifiedRows()
	if err != nil || snap != nil {
		return snap, err
	}
	cur, err := st.Current()
	if err != nil {
		return nil, nil
	}
	g, err := st.Load(cur.Generation)
	if err != nil || g.Status != state.StatusReady || len(g.Tables) == 0 {
		return nil, nil
	}
	return &drift.Snapshot{Source: generationSource(g, ""), Tables: g.RowCounts()}, nil
}

func generationSource(g *state.Generation, drillID string) drift.Source {
	src := drift.Source{Kind: drift.KindGeneration, ID: strconv.Itoa(g.Number), ArchiveKey: g.Archive.Key,
		CapturedAt: g.Archive.CapturedAt, VerifiedAt: g.FinishedAt}
	if src.VerifiedAt.IsZero() {
		src.VerifiedAt = time.Now().UTC()
	}
	if drillID != "" {
		src.Kind, src.ID = drift.KindDrill, drillID
	}
	return src
}

// dataChecks compares generation g's exact row counts with the app's last
// verified restore (database.drift) and checks the declared minimums
// (database.expect). It records the comparison in g.Drift and as checks in
// g.Checks; its error wraps drift.ErrDrift when a table disappeared,
// emptied or shrank beyond the limit (unless req.AcceptDrift) or a
// minimum is not met.
func (s *site) dataChecks(g *state.Generation, req RestoreRequest) error {
	db := s.App.Database
	st := s.rowsStore()
	prev, err := previousRows(st)
	if err != nil {
		return fmt.Errorf("reading the previous restore's row counts: %w (remove %s to start over from this restore)", err, st.VerifiedRowsFile())
	}
	cur := drift.Snapshot{Source: generationSource(g, req.DrillID), Tables: g.RowCounts()}
	res := drift.Compare(prev, cur, drift.Limits{MaxShrink: db.Drift.Shrink(), MaxGrowth: float64(db.Drift.MaxGrowth), MinRows: db.Drift.Floor()})
	res.Accepted = req.AcceptDrift && len(res.Failures) > 0
	g.Drift = res
	if err := st.SaveDrift(res); err != nil {
		s.Log.Error("saving the row-count comparison", "err", err)
	}

	var failed []string
	check := report.Check{Name: "row counts against the previous restore", Kind: report.KindDrift, OK: !res.Failed(), Detail: res.Summary()}
	if res.Failed() {
		check.Detail = res.Explain()
		failed = append(failed, check.Detail)
	}
	g.Checks = append(g.Checks, check)
	for _, w := range res.Warnings {
		s.say("  WARNING: %s, %s", textsafe.Escape(w), textsafe.Escape(res.Between()))
	}
	for _, f := range drift.CheckExpect(cur.Tables, drift.Expect{Tables: db.Expect.Tables, Rows: db.Expect.Rows}) {
		g.Checks = append(g.Checks, report.Check{Name: f.Name, Kind: report.KindExpect, OK: f.OK, Detail: f.Detail})
		if !f.OK {
			failed = append(failed, f.Detail)
		}
	}
	if len(failed) == 0 {
		return nil
	}
	hint := ""
	if res.Failed() {
		hint = ". If the change is intended (a table dropped or purged on purpose), accept it once with --accept-drift"
	}
	return fmt.Errorf("%w: %s%s", drift.ErrDrift, strings.Join(failed, "; "), hint)
}

// recordVerified makes generation g's row counts the ones the app's next
// restore is compared with.
func (s *site) recordVerified(g *state.Generation, req RestoreRequest) {
	snap := drift.Snapshot{Source: generationSource(g, req.DrillID), Tables: g.RowCounts()}
	if err := s.rowsStore().SaveVerifiedRows(snap); err != nil {
		s.Log.Error("saving the verified row counts", "err", err)
	}
}

// driftFinding is `lifeboat check`'s view of the last row-count
// comparison, by a refresh, a restore or a drill.
func (s *Standby) driftFinding(now time.Time) Finding {
	f := Finding{Name: "row counts", OK: true}
	r, err := s.State.LastDrift()
	switch {
	case err != nil:
		f.OK, f.Detail = false, "cannot read the last row-count comparison: "+err.Error()
		f.Fix = "the next refresh or drill writes it again"
	case r == nil:
		f.Detail = "no restore has compared row counts yet"
	default:
		by := fmt.Sprintf("%s %s, %s ago", r.Current.Kind, r.Current.ID, now.Sub(r.Current.VerifiedAt).Round(time.Minute))
		if r.Failed() {
			f.OK = false
			f.Detail = fmt.Sprintf("%s: %s", by, r.Explain())
			f.Fix = "look at these tables at the source (a bad migration, a truncate, a backup job dumping the wrong database); " +
				"if the change is intended, run lifeboat refresh --accept-drift"
			break
		}
		f.Detail = by + ": " + r.Summary()
		for _, w := range r.Warnings {
			f.Detail += "; WARNING: " + w
		}
	}
	return f
}
