package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// LatestID names the newest report in Load.
const LatestID = "latest"

const latestFile = "latest.json"

// ErrNotFound is returned (wrapped) by Load when there is no such report.
var ErrNotFound = errors.New("no such drill report")

// ErrInvalidID is returned (wrapped) for an ID that cannot be a file name
// in the drills directory.
var ErrInvalidID = errors.New("invalid drill report id")

// ErrCorrupt is wrapped in the error List returns for files it cannot read.
var ErrCorrupt = errors.New("unreadable drill report")

// staleTemp is how old a leftover temp file (from a run killed while
// writing) must be before Prune removes it.
const staleTemp = time.Hour

// Save writes r to {dir}/{id}.json (mode 0600) atomically (temp file,
// fsync, rename, fsync of the directory), creating dir (0700) if needed,
// and then {dir}/latest.json, a copy, unless a newer report is already the
// latest. Saving the same report again (after a second Finalize) replaces it.
func Save(dir string, r *Report) error {
	if r == nil {
		return fmt.Errorf("save drill report: %w: no report", ErrInvalidID)
	}
	if err := checkID(r.ID); err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save drill report: %w", err)
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("save drill report %s: %w", r.ID, err)
	}
	b = append(b, '\n')
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, r.ID+".json"), b, 0o600); err != nil {
		return fmt.Errorf("save drill report: %w", err)
	}
	if cur, err := latestID(dir); err == nil && cur > r.ID {
		return nil // an older drill saved again: latest stays on the newer one
	}
	if err := fsutil.WriteFileAtomic(filepath.Join(dir, latestFile), b, 0o600); err != nil {
		return fmt.Errorf("save drill report: %w", err)
	}
	return nil
}

// Load reads the report id from dir; id "latest" reads the newest. It
// returns an error wrapping ErrNotFound when there is none.
func Load(dir, id string) (*Report, error) {
	name := latestFile
	if id != LatestID {
		if err := checkID(id); err != nil {
			return nil, err
		}
		name = id + ".json"
	}
	r, err := readReport(filepath.Join(dir, name))
	if errors.Is(err, fs.ErrNotExist) {
		if id == LatestID {
			return nil, fmt.Errorf("no drill report in %s yet (run lifeboat drill): %w", dir, ErrNotFound)
		}
		return nil, fmt.Errorf("drill report %q in %s: %w", id, dir, ErrNotFound)
	}
	return r, err
}

// List returns every report in dir, newest first; an empty list when dir
// does not exist. A file that cannot be read does not hide the others:
// List returns the readable reports and an error (wrapping ErrCorrupt)
// naming the unreadable ones.
func List(dir string) ([]*Report, error) {
	ids, err := reportIDs(dir)
	if err != nil {
		return nil, err
	}
	out := []*Report{}
	var errs []error
	for _, id := range ids {
		r, err := readReport(filepath.Join(dir, id+".json"))
		if errors.Is(err, fs.ErrNotExist) {
			continue // pruned meanwhile
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, r)
	}
	sortNewestFirst(out)
	return out, errors.Join(errs...)
}

// Prune applies retention to dir: it keeps the newest keep reports (keep
// <= 0: no limit by count) and removes those that started more than maxAge
// ago (0: no limit by age). The latest report is never removed, whatever
// its age. It returns the IDs removed, newest first, and also removes
// temp files left by runs killed while writing.
func Prune(dir string, keep int, maxAge time.Duration) ([]string, error) {
	ids, err := reportIDs(dir)
	if err != nil {
		return nil, err
	}
	removed := []string{}
	if len(ids) == 0 {
		return removed, removeStaleTemps(dir)
	}
	protected := map[string]bool{ids[0]: true}
	if id, err := latestID(dir); err == nil {
		protected[id] = true
	}
	now := time.Now()
	var errs []error
	for i, id := range ids {
		if protected[id] {
			continue
		}
		drop := keep > 0 && i >= keep
		if !drop && maxAge > 0 {
			drop = now.Sub(startedAt(dir, id)) > maxAge
		}
		if !drop {
			continue
		}
		if err := os.Remove(filepath.Join(dir, id+".json")); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, fmt.Errorf("prune drill report %s: %w", id, err))
			continue
		}
		removed = append(removed, id)
	}
	if err := removeStaleTemps(dir); err != nil {
		errs = append(errs, err)
	}
	if len(removed) > 0 {
		if err := fsutil.SyncDir(dir); err != nil {
			errs = append(errs, err)
		}
	}
	return removed, errors.Join(errs...)
}

// reportIDs lists the IDs of the report files in dir, newest first.
func reportIDs(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list drill reports: %w", err)
	}
	var ids []string
	for _, e := range entries {
		name := e.Name()
		if !e.Type().IsRegular() || name == latestFile || !strings.HasSuffix(name, ".json") {
			continue
		}
		id := strings.TrimSuffix(name, ".json")
		if checkID(id) != nil {
			continue // temp files (".{name}.tmp-*") and strangers
		}
		ids = append(ids, id)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(ids)))
	return ids, nil
}

func readReport(path string) (*Report, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	r := &Report{}
	if err := json.Unmarshal(b, r); err != nil {
		return nil, fmt.Errorf("%s: %w: %v", path, ErrCorrupt, err)
	}
	r.normalize()
	return r, nil
}

// latestID is the ID latest.json holds.
func latestID(dir string) (string, error) {
	b, err := os.ReadFile(filepath.Join(dir, latestFile))
	if err != nil {
		return "", err
	}
	var head struct {
		ID string `json:"id"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return "", err
	}
	return head.ID, nil
}

// startedAt is when the drill id started: from its report, else from the
// time its ID starts with, else the file's modification time.
func startedAt(dir, id string) time.Time {
	path := filepath.Join(dir, id+".json")
	if r, err := readReport(path); err == nil && !r.StartedAt.IsZero() {
		return r.StartedAt
	}
	if len(id) >= 16 {
		if t, err := time.Parse("20060102T150405Z", id[:16]); err == nil {
			return t
		}
	}
	if st, err := os.Stat(path); err == nil {
		return st.ModTime()
	}
	return time.Now()
}

func removeStaleTemps(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil
		}
		return err
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), ".") || !strings.Contains(e.Name(), ".tmp-") {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < staleTemp {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
	return nil
}

// checkID accepts IDs that are plain file names: letters, digits and
// "-_.+", not starting with a dot, and not "latest".
func checkID(id string) error {
	if id == "" || id == LatestID || id[0] == '.' || len(id) > 200 {
		return fmt.Errorf("%w: %q", ErrInvalidID, id)
	}
	for _, c := range id {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("-_.+", c)
		if !ok {
			return fmt.Errorf("%w: %q (letters, digits and -_.+ only)", ErrInvalidID, id)
		}
	}
	return nil
}
