package schedule

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/lifeboat-dr/lifeboat/failover/config"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// DefaultDir is where Install writes units.
const DefaultDir = "/etc/systemd/system"

// ErrForeignUnit is returned when a unit Install would write exists and
// was not written by Lifeboat (no Marker): it is never overwritten.
var ErrForeignUnit = errors.New("a unit of that name exists and was not written by lifeboat")

// InstallResult says what Install did. Changed is false when the units,
// the timers and the serve service were already as the config says.
type InstallResult struct {
	Dir       string   `json:"dir"`
	Written   []string `json:"written"`
	Removed   []string `json:"removed"`
	Started   []string `json:"started"`
	Restarted []string `json:"restarted"`
	Unchanged []string `json:"unchanged"`
	Changed   bool     `json:"changed"`
}

// Install makes dir hold exactly the given units among those Lifeboat
// manages: it writes the new and changed ones (atomically, mode 0644),
// stops and disables the timers of units no longer wanted and removes
// their files, reloads systemd, enables and starts every timer, restarts a
// timer whose file changed (so its new schedule applies), and enables and
// starts the serve service (restarting it when its unit changed). A run
// in progress is never stopped: a removed job's service is only deleted.
// Units without Marker are never touched; one in the way is ErrForeignUnit.
func Install(ctx context.Context, sc Systemctl, dir string, units []Unit) (*InstallResult, error) {
	res := &InstallResult{Dir: dir, Written: []string{}, Removed: []string{}, Started: []string{}, Restarted: []string{}, Unchanged: []string{}}
	existing, foreign, err := managedUnits(dir)
	if err != nil {
		return nil, err
	}
	// Refuse before changing anything.
	for _, u := range units {
		if foreign[u.Name] {
			return nil, fmt.Errorf("%w: %s: move it away (or into %s.d/ as a drop-in) and run again", ErrForeignUnit, filepath.Join(dir, u.Name), u.Name)
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	wanted := map[string]bool{}
	changed := map[string]bool{}
	for _, u := range units {
		wanted[u.Name] = true
		if old, ok := existing[u.Name]; ok && old == u.Content {
			res.Unchanged = append(res.Unchanged, u.Name)
			continue
		}
		if err := fsutil.WriteFileAtomic(filepath.Join(dir, u.Name), []byte(u.Content), 0o644); err != nil {
			return res, fmt.Errorf("writing %s: %w", u.Name, err)
		}
		res.Written = append(res.Written, u.Name)
		changed[u.Name] = true
	}

	var stale []string
	for name := range existing {
		if !wanted[name] {
			stale = append(stale, name)
		}
	}
	slices.Sort(stale)
	for _, name := range stale {
		if strings.HasSuffix(name, ".timer") {
			if _, err := sc.Run(ctx, "disable", "--now", name); err != nil {
				return res, err
			}
		}
	}
	for _, name := range stale {
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			return res, err
		}
		res.Removed = append(res.Removed, name)
	}
	if len(res.Written) > 0 || len(res.Removed) > 0 {
		if err := fsutil.SyncDir(dir); err != nil {
			return res, err
		}
		if _, err := sc.Run(ctx, "daemon-reload"); err != nil {
			return res, err
		}
	}

	// Enable and start what is not; restart what changed while running.
	var toActivate []string
	for _, u := range units {
		if strings.HasSuffix(u.Name, ".timer") || u.Name == ServeUnit {
			toActivate = append(toActivate, u.Name)
		}
	}
	states, err := show(ctx, sc, toActivate, "Id", "UnitFileState", "ActiveState")
	if err != nil {
		return res, err
	}
	var enable, start, restart []string
	for i, name := range toActivate {
		st := states[i]
		if st["UnitFileState"] != "enabled" {
			enable = append(enable, name)
		}
		active := st["ActiveState"] == "active" || st["ActiveState"] == "activating" || st["ActiveState"] == "reloading"
		switch {
		case changed[name] && active:
			restart = append(restart, name)
		case !active:
			start = append(start, name)
		}
	}
	if len(enable) > 0 {
		if _, err := sc.Run(ctx, append([]string{"enable", "--"}, enable...)...); err != nil {
			return res, err
		}
	}
	if len(start) > 0 {
		if _, err := sc.Run(ctx, append([]string{"start", "--"}, start...)...); err != nil {
			return res, err
		}
		res.Started = start
	}
	if len(restart) > 0 {
		if _, err := sc.Run(ctx, append([]string{"restart", "--"}, restart...)...); err != nil {
			return res, err
		}
		res.Restarted = restart
	}
	res.Changed = len(res.Written) > 0 || len(res.Removed) > 0 || len(enable) > 0 || len(start) > 0 || len(restart) > 0
	return res, nil
}

// managedUnits reads the lifeboat-* units in dir: those that begin with
// Marker (by name, with their content), and those that do not (foreign).
func managedUnits(dir string) (managed map[string]string, foreign map[string]bool, err error) {
	managed, foreign = map[string]string{}, map[string]bool{}
	entries, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return managed, foreign, nil
	}
	if err != nil {
		return nil, nil, err
	}
	for _, e := range entries {
		name := e.Name()
		if !strings.HasPrefix(name, "lifeboat-") || !e.Type().IsRegular() ||
			!(strings.HasSuffix(name, ".service") || strings.HasSuffix(name, ".timer")) {
			if strings.HasPrefix(name, "lifeboat-") && !e.IsDir() {
				foreign[name] = true // a symlink (e.g. to /dev/null: masked) is the admin's
			}
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return nil, nil, err
		}
		first, _, _ := strings.Cut(string(b), "\n")
		if first == Marker {
			managed[name] = string(b)
		} else {
			foreign[name] = true
		}
	}
	return managed, foreign, nil
}

// managedNames lists the names of the units Lifeboat manages in dir.
func managedNames(dir string) ([]string, error) {
	m, _, err := managedUnits(dir)
	if err != nil {
		return nil, err
	}
	var names []string
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names, nil
}

// calendarOf reads OnCalendar= from a unit's content.
func calendarOf(content string) string {
	sc := bufio.NewScanner(strings.NewReader(content))
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "OnCalendar="); ok {
			return v
		}
	}
	return ""
}

// Write writes the units into dir (made if missing), each as a file of
// mode 0644: `lifeboat schedule units --dir`, which installs nothing.
func Write(dir string, units []Unit) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, u := range units {
		if err := os.WriteFile(filepath.Join(dir, u.Name), []byte(u.Content), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// MakeStateDirs creates the directories the config names (state_dir, the
// caches; mode 0700) but node_exporter's textfile directory, which is not
// Lifeboat's: the sandboxed services may write there but cannot create
// them. Errors name the key.
func MakeStateDirs(cfg *config.Config) error {
	for _, p := range cfg.Paths() {
		if p.Dir && p.Key != "metrics.textfile_dir" {
			if err := fsutil.MkdirPrivate(p.Path); err != nil {
				return fmt.Errorf("%s: %w", p.Key, err)
			}
		}
	}
	return nil
}

// UnseenEnv are the LIFEBOAT_ variables of environ (KEY=VALUE) that the
// scheduled runs will not see (all but LIFEBOAT_CONFIG and LIFEBOAT_APP,
// which the units set themselves).
func UnseenEnv(environ []string) []string {
	var out []string
	for _, kv := range environ {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "LIFEBOAT_") && k != "LIFEBOAT_CONFIG" && k != "LIFEBOAT_APP" {
			out = append(out, k)
		}
	}
	return out
}
