package failover

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/names"
	"github.com/lifeboat-dr/lifeboat/failover/state"
)

// ErrServingDestroy is returned by Destroy while the standby serves users,
// unless forced: destroying it takes the app down.
var ErrServingDestroy = errors.New("the standby is serving users")

// DestroyResult says what Destroy removed.
type DestroyResult struct {
	App        string   `json:"app"`
	Containers []string `json:"containers"`
	Volumes    []string `json:"volumes"`
	Networks   []string `json:"networks"`
	// StateDir is the directory removed ("" when there was none).
	StateDir string `json:"state_dir"`
	// Kept says what was left on purpose, and why.
	Kept []string `json:"kept"`
}

// Empty says whether there was nothing to remove.
func (r *DestroyResult) Empty() bool {
	return len(r.Containers) == 0 && len(r.Volumes) == 0 && len(r.Networks) == 0 && r.StateDir == ""
}

// Destroy removes the app's standby entirely: every Docker container,
// volume and network labelled io.lifeboat.app=APP (standby, drills and
// their leftovers alike, found by that exact label, so never another
// app's), then everything under the app's state directory (generations,
// records, drill reports, the cached archives when they are kept there)
// but the lock file, which the caller holds and removes after releasing
// it. Images are left (another app may use them), and so is a cache
// directory configured outside the state directory. While the standby
// serves users it refuses with ErrServingDestroy unless force.
func (s *Standby) Destroy(ctx context.Context, force bool) (*DestroyResult, error) {
	res := &DestroyResult{App: s.App.Name, Containers: []string{}, Volumes: []string{}, Networks: []string{}, Kept: []string{}}
	if sv, _ := s.State.Serving(); sv != nil && !force {
		return res, fmt.Errorf("%w since %s: destroying it takes the app down; run `lifeboat failback --complete` first, or add --force",
			ErrServingDestroy, sv.Since.Format(time.RFC3339))
	}
	filter := names.Standby(s.App.Name).AppFilter("")
	rm, err := s.Engine.RemoveLabelled(ctx, filter)
	res.Containers, res.Volumes, res.Networks = rm.Containers, rm.Volumes, rm.Networks
	errs := rm.Failed
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	sort.Strings(res.Containers)
	sort.Strings(res.Volumes)
	sort.Strings(res.Networks)
	if len(errs) > 0 {
		// The records stay while Docker objects do: they name them.
		return res, fmt.Errorf("the state under %s is kept, since some Docker objects could not be removed: %w", s.State.Dir, errors.Join(errs...))
	}

	if cache := s.App.Cache.Dir; !within(cache, s.State.Dir) {
		res.Kept = append(res.Kept, fmt.Sprintf("the archive cache %s (cache.dir, outside the state directory)", cache))
	}
	entries, err := os.ReadDir(s.State.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return res, nil
	}
	if err != nil {
		return res, err
	}
	for _, e := range entries {
		p := filepath.Join(s.State.Dir, e.Name())
		if p == s.State.LockFile() {
			continue
		}
		if err := os.RemoveAll(p); err != nil {
			return res, err
		}
		res.StateDir = s.State.Dir
	}
	return res, nil
}

// RemoveStateDir removes an app's state directory emptied by Destroy, and
// its lock file, once the lock is released.
func RemoveStateDir(st *state.Store) error {
	if err := os.Remove(st.LockFile()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if err := os.Remove(st.Dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// within says whether path is dir or below it.
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}
