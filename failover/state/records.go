package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// StackRecord is what the app stack runs now.
type StackRecord struct {
	Generation  int            `json:"generation"`
	Mode        string         `json:"mode"`
	Image       string         `json:"image"`
	ImageID     string         `json:"image_id"`
	Processes   map[string]int `json:"processes"`
	StartedAt   time.Time      `json:"started_at"`
	BootSeconds float64        `json:"boot_seconds"`
	WebURL      string         `json:"web_url"`
	Published   string         `json:"published"`
}

// Serving is recorded while the standby serves users after a failover.
type Serving struct {
	Since      time.Time `json:"since"`
	Generation int       `json:"generation"`
	// DataCapturedAt is when the data being served was captured (RPO).
	DataCapturedAt time.Time `json:"data_captured_at"`
	RTOSeconds     float64   `json:"rto_seconds"`
	Published      string    `json:"published"`
}

// Run is the record of one refresh, failover or failback.
type Run struct {
	Kind       string    `json:"kind"`
	ID         string    `json:"id"`
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
	OK         bool      `json:"ok"`
	// Outcome is a word: refreshed, up-to-date, failed, served, dumped…
	Outcome string `json:"outcome"`
	Error   string `json:"error"`
	// Skipped: the run declined to act by design (a refresh while the
	// standby serves users), which is neither a success nor a failure of
	// the job. It is kept under runs/ but is not the job's last run.
	Skipped bool    `json:"skipped,omitempty"`
	Phases  []Phase `json:"phases"`
	// Details depend on the kind.
	Details map[string]any `json:"details"`
}

func (s *Store) path(name string) string { return filepath.Join(s.Dir, name) }

// SaveStack records what the stack runs.
func (s *Store) SaveStack(r *StackRecord) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(s.path("stack.json"), r, 0o600)
}

// Stack returns what the stack runs, or nil when nothing was started.
func (s *Store) Stack() (*StackRecord, error) {
	var r StackRecord
	err := fsutil.ReadJSON(s.path("stack.json"), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// ClearStack forgets the stack record (after `down`).
func (s *Store) ClearStack() error {
	err := os.Remove(s.path("stack.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Serving returns the failover record, or nil when not failed over.
func (s *Store) Serving() (*Serving, error) {
	var r Serving
	err := fsutil.ReadJSON(s.path("serving.json"), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// SetServing records that the standby serves users.
func (s *Store) SetServing(r *Serving) error {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(s.path("serving.json"), r, 0o600)
}

// ClearServing records that the standby is back to waiting.
func (s *Store) ClearServing() error {
	err := os.Remove(s.path("serving.json"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// runIDLayout makes a run's ID of its UTC start, to the nanosecond: the
// IDs of a kind sort as the runs started, and two runs started in one
// second are two records. Records written before are named to the second
// ("20060102T150405Z"); they still read, and sort among these.
const runIDLayout = "20060102T150405.000000000Z"

// SaveRun writes a run record under runs/ and, unless it was skipped, as
// last-{kind}.json. A run without an ID gets one from its start, unique
// among the records of its kind; saving it again replaces its record.
func (s *Store) SaveRun(r *Run) error {
	dir := s.path("runs")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if r.ID == "" {
		// Runs of a kind are saved one at a time (under the app's or the
		// capture lock): a record of the same nanosecond is an earlier run.
		t := r.StartedAt.UTC()
		for r.ID = t.Format(runIDLayout); exists(runFile(dir, r.Kind, r.ID)); r.ID = t.Format(runIDLayout) {
			t = t.Add(time.Nanosecond)
		}
	}
	if err := fsutil.WriteJSONAtomic(runFile(dir, r.Kind, r.ID), r, 0o600); err != nil {
		return err
	}
	if r.Skipped {
		return nil
	}
	return fsutil.WriteJSONAtomic(s.path("last-"+r.Kind+".json"), r, 0o600)
}

func runFile(dir, kind, id string) string { return filepath.Join(dir, kind+"-"+id+".json") }

func exists(path string) bool {
	_, err := os.Lstat(path)
	return err == nil
}

// LastRun returns the last run of a kind that was not skipped, or nil.
func (s *Store) LastRun(kind string) (*Run, error) {
	var r Run
	err := fsutil.ReadJSON(s.path("last-"+kind+".json"), &r)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// Runs lists the runs of a kind, newest first.
func (s *Store) Runs(kind string) ([]*Run, error) {
	m, err := s.runFiles(kind)
	if err != nil {
		return nil, err
	}
	var out []*Run
	for _, p := range m {
		var r Run
		if err := fsutil.ReadJSON(p, &r); err != nil {
			return nil, fmt.Errorf("%s: %w", filepath.Base(p), err)
		}
		out = append(out, &r)
	}
	return out, nil
}

// PruneRuns keeps the newest keep records of a kind.
func (s *Store) PruneRuns(kind string, keep int) error {
	m, err := s.runFiles(kind)
	if err != nil {
		return err
	}
	for i, p := range m {
		if i >= keep && strings.HasSuffix(p, ".json") {
			os.Remove(p)
		}
	}
	return nil
}

// runFiles are the record files of a kind's runs, newest first.
func (s *Store) runFiles(kind string) ([]string, error) {
	m, err := filepath.Glob(filepath.Join(s.path("runs"), kind+"-*.json"))
	if err != nil {
		return nil, err
	}
	sort.SliceStable(m, func(i, j int) bool { return runSortKey(m[i]) > runSortKey(m[j]) })
	return m, nil
}

// runSortKey is a record's file name with an ID to the second written as
// one to the nanosecond, so that both kinds sort by start.
func runSortKey(path string) string {
	name := strings.TrimSuffix(filepath.Base(path), ".json")
	if len(name) >= len("20060102T150405Z") && strings.HasSuffix(name, "Z") && !strings.Contains(name, ".") {
		return name[:len(name)-1] + ".000000000Z"
	}
	return name
}

// ConfigVarsFile is where the Heroku config-var snapshot lives (0600).
func (s *Store) ConfigVarsFile() string { return s.path("config-vars.json") }

// ImageFactsFile keeps what was read out of the app image (its Procfile,
// whether it has a shell), for its image ID.
func (s *Store) ImageFactsFile() string { return s.path("image-facts.json") }

// MirrorLedgerFile is the mirror's ledger: every verified archive and
// whether the mirror has it (failover/mirror).
func (s *Store) MirrorLedgerFile() string { return s.path("mirror.json") }
