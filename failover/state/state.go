// Package state keeps an app's records under its state directory: the
// database generations (what was restored from which archive, how it
// verified) and the pointer to the current one. Every write is atomic.
//
//	{state_dir}/{app}/current.json              which generation serves
//	{state_dir}/{app}/generations/{N}/generation.json
//	{state_dir}/{app}/generations/{N}/password  (0600)
//	{state_dir}/{app}/generations/{N}/restore.log
//	{state_dir}/{app}/templates/{key}/data.tar   a data directory initialized once per image
package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/drift"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// ErrNoCurrent is returned by Current when no generation has been made current yet.
var ErrNoCurrent = errors.New("no current database generation")

// ErrNoGeneration is returned by Load for a generation that has no record.
var ErrNoGeneration = errors.New("no such generation")

// Generation statuses.
const (
	StatusBuilding = "building" // being restored; a killed run leaves this behind
	StatusReady    = "ready"    // verified; current, or kept for rollback
	StatusFailed   = "failed"   // restore or verification failed; containers removed, logs kept
	StatusRetired  = "retired"  // replaced and removed per keep_generations
)

// ArchiveRef names the archive a generation was restored from.
type ArchiveRef struct {
	Key           string    `json:"key"`
	Path          string    `json:"path"`
	DumpSHA256    string    `json:"dump_sha256"`
	DumpSize      int64     `json:"dump_size"`
	CapturedAt    time.Time `json:"captured_at"`
	DatabaseName  string    `json:"database_name"`
	ServerVersion string    `json:"server_version"`
	PgDumpVersion string    `json:"pg_dump_version"`
	// Compression is pg_dump's compression of the data ("none", "gzip"…).
	Compression string `json:"compression"`
	// Format is "plain" for a plain-SQL dump (pg_dump -Fp, restored with
	// psql); empty for a custom archive.
	Format string `json:"format,omitempty"`
}

// Phase is one timed step of building a generation.
type Phase struct {
	Name    string  `json:"name"`
	Seconds float64 `json:"seconds"`
}

// RestoreOutcome is what pg_restore did.
type RestoreOutcome struct {
	Jobs     int      `json:"jobs"`
	ExitCode int      `json:"exit_code"`
	Errors   []string `json:"errors"`
	// ExpectedErrors matched database.expected_errors and did not fail it.
	ExpectedErrors []string `json:"expected_errors"`
	Warnings       []string `json:"warnings"`
	LogFile        string   `json:"log_file"`
}

// Generation is the record of one database generation.
type Generation struct {
	App     string `json:"app"`
	Number  int    `json:"number"`
	Status  string `json:"status"`
	Purpose string `json:"purpose"`
	// Error says why a failed generation failed.
	Error      string     `json:"error"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt time.Time  `json:"finished_at"`
	Archive    ArchiveRef `json:"archive"`
	Image      string     `json:"image"`
	ImageID    string     `json:"image_id"`
	// ServerVersion is what the restored server reports.
	ServerVersion string `json:"server_version"`
	Container     string `json:"container"`
	Volume        string `json:"volume"`
	Network       string `json:"network"`
	Database      string `json:"database"`
	User          string `json:"user"`
	// Published is the host address the port is published on, if any.
	Published string         `json:"published"`
	Restore   RestoreOutcome `json:"restore"`
	Checks    []report.Check `json:"checks"`
	Tables    []report.Table `json:"tables"`
	// Drift compares Tables with the previous verified restore of the app.
	Drift  drift.Result `json:"drift"`
	Phases []Phase      `json:"phases"`
	// DataTemplate says how the data directory was initialized: "used" (copied
	// from the image's data template), "built" (the template was made first),
	// "none" (by the image's entrypoint); "" in records from before templates.
	DataTemplate string `json:"data_template"`
	// DataBytes is the data directory's size on disk once restored and
	// verified (0: not measured): what the next generation is expected to
	// take, per byte of archive.
	DataBytes int64 `json:"data_bytes"`
}

// Seconds is the total time of the generation's phases.
func (g *Generation) Seconds() float64 {
	var s float64
	for _, p := range g.Phases {
		s += p.Seconds
	}
	return s
}

// Current is the pointer to the serving generation.
type Current struct {
	Generation int       `json:"generation"`
	Since      time.Time `json:"since"`
	// Previous is the generation that was current before, 0 if none.
	Previous int `json:"previous"`
}

// Store reads and writes one app's records, and is the one owner of its
// state directory: every path under it (lock, generations, runs, drills,
// failback dumps, config-var snapshot) comes from a Store method.
type Store struct {
	Dir string // {state_dir}/{app}
}

// LockFile is the app's lock file (package lock).
func (s *Store) LockFile() string { return s.path("lock") }

// Lock takes the app's lock for a run of command, creating the state
// directory (0700) when missing. It returns a *lock.LockedError (wrapping
// lock.ErrLocked) when another run holds it.
func (s *Store) Lock(command string) (*lock.Lock, error) { return s.acquire(s.LockFile(), command) }

func (s *Store) acquire(file, command string) (*lock.Lock, error) {
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("state dir: %w (is state_dir writable by this user?)", err)
	}
	return lock.Acquire(file, command)
}

// CaptureLockFile is the app's capture lock: captures of one app never
// overlap, while a capture and a refresh may.
func (s *Store) CaptureLockFile() string { return s.path("capture.lock") }

// CaptureLock takes the capture lock as Lock takes the app's lock.
func (s *Store) CaptureLock(command string) (*lock.Lock, error) {
	return s.acquire(s.CaptureLockFile(), command)
}

// DrillsDir holds the app's drill reports (package report).
func (s *Store) DrillsDir() string { return s.path("drills") }

// DrillWork is the store of drill id's own records (its generation, its
// password), under DrillsDir; the drill removes it when it tears down.
func (s *Store) DrillWork(id string) *Store {
	return &Store{Dir: filepath.Join(s.DrillWorkRoot(), id)}
}

// DrillWorkRoot holds the working records of every drill (DrillWork).
func (s *Store) DrillWorkRoot() string { return filepath.Join(s.DrillsDir(), "work") }

// FailbackDir holds the failback dumps.
func (s *Store) FailbackDir() string { return s.path("failback") }

// TemplatesDir holds the app's data directory templates (package
// database's Templates): one per Postgres image, made once, copied into
// each new generation's volume.
func (s *Store) TemplatesDir() string { return s.path("templates") }

// GenerationDir is the directory of generation n.
func (s *Store) GenerationDir(n int) string {
	return filepath.Join(s.Dir, "generations", strconv.Itoa(n))
}

// PasswordFile is the 0600 file holding generation n's database password.
func (s *Store) PasswordFile(n int) string { return filepath.Join(s.GenerationDir(n), "password") }

// LogFile is generation n's pg_restore log.
func (s *Store) LogFile(n int) string { return filepath.Join(s.GenerationDir(n), "restore.log") }

// Save writes g's record atomically.
func (s *Store) Save(g *Generation) error {
	dir := s.GenerationDir(g.Number)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("state: %w", err)
	}
	return fsutil.WriteJSONAtomic(filepath.Join(dir, "generation.json"), g, 0o600)
}

// Load reads generation n's record; ErrNoGeneration when there is none.
func (s *Store) Load(n int) (*Generation, error) {
	var g Generation
	err := fsutil.ReadJSON(filepath.Join(s.GenerationDir(n), "generation.json"), &g)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %d", ErrNoGeneration, n)
	}
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// List returns every generation record, oldest first.
func (s *Store) List() ([]*Generation, error) {
	entries, err := os.ReadDir(filepath.Join(s.Dir, "generations"))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []*Generation
	for _, e := range entries {
		n, err := strconv.Atoi(e.Name())
		if err != nil || !e.IsDir() {
			continue
		}
		g, err := s.Load(n)
		if err != nil {
			continue
		}
		out = append(out, g)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Number < out[j].Number })
	return out, nil
}

// Next returns the number for a new generation: one more than any used
// before, by a record or by a Docker object (others may be passed in).
func (s *Store) Next(seen ...int) (int, error) {
	list, err := s.List()
	if err != nil {
		return 0, err
	}
	n := 0
	for _, g := range list {
		n = max(n, g.Number)
	}
	entries, _ := os.ReadDir(filepath.Join(s.Dir, "generations"))
	for _, e := range entries {
		if v, err := strconv.Atoi(e.Name()); err == nil {
			n = max(n, v)
		}
	}
	for _, v := range seen {
		n = max(n, v)
	}
	return n + 1, nil
}

// Current returns the pointer to the serving generation, or ErrNoCurrent.
func (s *Store) Current() (Current, error) {
	var c Current
	err := fsutil.ReadJSON(filepath.Join(s.Dir, "current.json"), &c)
	if errors.Is(err, os.ErrNotExist) || (err == nil && c.Generation == 0) {
		return Current{}, ErrNoCurrent
	}
	return c, err
}

// SetCurrent makes generation n current, atomically, remembering the previous one.
func (s *Store) SetCurrent(n int) error {
	prev := 0
	if c, err := s.Current(); err == nil {
		prev = c.Generation
	}
	if prev == n {
		if c, err := s.Current(); err == nil {
			prev = c.Previous
		}
	}
	if err := os.MkdirAll(s.Dir, 0o700); err != nil {
		return err
	}
	return fsutil.WriteJSONAtomic(filepath.Join(s.Dir, "current.json"),
		Current{Generation: n, Since: time.Now().UTC(), Previous: prev}, 0o600)
}
