package state

import (
	"errors"
	"os"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// The app's row-count records, beside its generations:
//
//	{state_dir}/{app}/verified-rows.json  the last verified restore's row counts (generation or drill)
//	{state_dir}/{app}/last-drift.json     the last comparison with it, passed or failed

// VerifiedRowsFile is where the last verified restore's row counts are kept.
func (s *Store) VerifiedRowsFile() string { return s.path("verified-rows.json") }

// SaveVerifiedRows records snap as the row counts the next restore of the
// app is compared with.
func (s *Store) SaveVerifiedRows(snap drift.Snapshot) error {
	if snap.Tables == nil {
		snap.Tables = []drift.Count{}
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(s.VerifiedRowsFile(), snap, 0o600)
}

// VerifiedRows returns the last verified restore's row counts, or nil when
// none was recorded.
func (s *Store) VerifiedRows() (*drift.Snapshot, error) {
	var snap drift.Snapshot
	err := fsutil.ReadJSON(s.VerifiedRowsFile(), &snap)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &snap, nil
}

// SaveDrift records the last comparison (for `lifeboat check`).
func (s *Store) SaveDrift(r drift.Result) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(s.path("last-drift.json"), r, 0o600)
}

// LastDrift returns the last comparison, or nil when none ran.
func (s *Store) LastDrift() (*drift.Result, error) {
	var r drift.Result
	err := fsutil.ReadJSON(s.path("last-drift.json"), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// RowCounts returns g's table counts in drift's terms.
func (g *Generation) RowCounts() []drift.Count {
	out := make([]drift.Count, 0, len(g.Tables))
	for _, t := range g.Tables {
		out = append(out, drift.Count{Table: t.Schema + "." + t.Name, Rows: t.Rows})
	}
	return out
}
