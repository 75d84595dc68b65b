// Package diskspace owns the room a run needs on disk: whether what it is
// estimated to write fits on each file system (grouped by device, so that
// two needs on one disk add up), the refusal with the numbers when it does
// not, and the high-water mark of a run, sampled while it runs.
package diskspace

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// ErrNoSpace is returned by Check when a file system cannot hold what is
// needed on it and still keep its reserve free.
var ErrNoSpace = errors.New("not enough disk space")

// Need is room one part of a run will take.
type Need struct {
	// What it is, for people ("the new database generation").
	What string `json:"what"`
	// Path is a directory on the file system that will hold it.
	Path  string `json:"path"`
	Bytes int64  `json:"bytes"`
}

// FS is one file system's side of a Plan.
type FS struct {
	// Path is the first needed path on it.
	Path  string `json:"path"`
	Free  int64  `json:"free_bytes"`
	Total int64  `json:"total_bytes"`
	// Keep is the reserve that must stay free.
	Keep int64 `json:"keep_free_bytes"`
	// Need is the sum of the needs on it, Needs their descriptions.
	Need  int64    `json:"need_bytes"`
	Needs []string `json:"needs"`
	Fits  bool     `json:"fits"`
	dev   uint64
}

// Plan says whether the needs fit.
type Plan struct {
	Filesystems []FS `json:"filesystems"`
	Fits        bool `json:"fits"`
}

// Probe returns the device holding path and its space. Statfs is the real
// one; tests inject others.
type Probe func(path string) (dev uint64, sp fsutil.Space, err error)

// Statfs is the Probe of this machine.
func Statfs(path string) (uint64, fsutil.Space, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return 0, fsutil.Space{}, fmt.Errorf("free space of %s: %w", path, err)
	}
	sp, err := fsutil.SpaceOf(path)
	return uint64(st.Dev), sp, err
}

// Check adds the needs up per file system and compares each sum with the
// free space less keep(total), the reserve. It returns the plan, and an
// error wrapping ErrNoSpace, naming every file system that is short with
// its numbers, when one is; or the probe's error.
func Check(needs []Need, keep func(total int64) int64, probe Probe) (*Plan, error) {
	if probe == nil {
		probe = Statfs
	}
	p := &Plan{Filesystems: []FS{}, Fits: true}
	for _, n := range needs {
		dev, sp, err := probe(n.Path)
		if err != nil {
			return p, err
		}
		i := -1
		for j := range p.Filesystems {
			if p.Filesystems[j].dev == dev {
				i = j
			}
		}
		if i < 0 {
			k := int64(0)
			if keep != nil {
				k = keep(sp.Total)
			}
			p.Filesystems = append(p.Filesystems, FS{Path: n.Path, Free: sp.Free, Total: sp.Total, Keep: k, Needs: []string{}, dev: dev})
			i = len(p.Filesystems) - 1
		}
		fs := &p.Filesystems[i]
		fs.Need += n.Bytes
		fs.Needs = append(fs.Needs, fmt.Sprintf("%s ~%s", n.What, Bytes(n.Bytes)))
	}
	var short []string
	for i := range p.Filesystems {
		fs := &p.Filesystems[i]
		fs.Fits = fs.Free-fs.Need >= fs.Keep
		if !fs.Fits {
			p.Fits = false
			short = append(short, fmt.Sprintf("%s needs ~%s (%s), %s is free and %s must stay free (short by %s)",
				fs.Path, Bytes(fs.Need), strings.Join(fs.Needs, ", "), Bytes(fs.Free), Bytes(fs.Keep), Bytes(fs.Need+fs.Keep-fs.Free)))
		}
	}
	if len(short) > 0 {
		return p, fmt.Errorf("%w: %s", ErrNoSpace, strings.Join(short, "; "))
	}
	return p, nil
}

// Mark is the high-water mark of one file system during a run.
type Mark struct {
	Path string `json:"path"`
	// FreeBefore is the free space when the watch began, LowestFree the
	// least seen; HighWater their difference: the most the run (and
	// whatever else wrote there meanwhile) took at once.
	FreeBefore int64 `json:"free_before_bytes"`
	LowestFree int64 `json:"lowest_free_bytes"`
	HighWater  int64 `json:"high_water_bytes"`
	dev        uint64
}

// Watcher samples the free space of some file systems until Stop.
type Watcher struct {
	mu    sync.Mutex
	marks []Mark
	probe Probe
	stop  chan struct{}
	done  chan struct{}
}

// Watch starts sampling the file systems of paths (each once, however
// many paths share it) every interval. A path that cannot be probed is
// left out.
func Watch(paths []string, every time.Duration, probe Probe) *Watcher {
	if probe == nil {
		probe = Statfs
	}
	w := &Watcher{probe: probe, stop: make(chan struct{}), done: make(chan struct{})}
	for _, p := range paths {
		dev, sp, err := probe(p)
		if err != nil {
			continue
		}
		dup := false
		for _, m := range w.marks {
			dup = dup || m.dev == dev
		}
		if !dup {
			w.marks = append(w.marks, Mark{Path: p, FreeBefore: sp.Free, LowestFree: sp.Free, dev: dev})
		}
	}
	go func() {
		defer close(w.done)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.sample()
			}
		}
	}()
	return w
}

func (w *Watcher) sample() {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range w.marks {
		if _, sp, err := w.probe(w.marks[i].Path); err == nil && sp.Free < w.marks[i].LowestFree {
			w.marks[i].LowestFree = sp.Free
		}
	}
}

// Stop takes a last sample, ends the watch and returns the marks.
func (w *Watcher) Stop() []Mark {
	close(w.stop)
	<-w.done
	w.sample()
	w.mu.Lock()
	defer w.mu.Unlock()
	out := make([]Mark, len(w.marks))
	for i, m := range w.marks {
		m.HighWater = m.FreeBefore - m.LowestFree
		out[i] = m
	}
	return out
}

// Bytes formats a size for people (1.5 GiB).
func Bytes(n int64) string { return report.Bytes(n) }
