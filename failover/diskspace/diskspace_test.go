package diskspace

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// fakeDisks is two file systems: /cache and /cache/x on device 1, /docker
// on device 2.
func fakeDisks(free1, free2 int64) Probe {
	return func(path string) (uint64, fsutil.Space, error) {
		switch {
		case strings.HasPrefix(path, "/cache"):
			return 1, fsutil.Space{Free: free1, Total: 100 << 30}, nil
		case path == "/docker":
			return 2, fsutil.Space{Free: free2, Total: 100 << 30}, nil
		}
		return 0, fsutil.Space{}, errors.New("no such path")
	}
}

func TestCheckAddsUpPerFileSystem(t *testing.T) {
	keep := func(total int64) int64 { return total / 10 } // 10 GiB
	needs := []Need{{"archive", "/cache", 6 << 30}, {"unpacked", "/cache/x", 6 << 30}, {"database", "/docker", 20 << 30}}
	// 12 GiB on device 1 with 21 GiB free and 10 GiB kept: short by 1 GiB.
	p, err := Check(needs, keep, fakeDisks(21<<30, 40<<30))
	if !errors.Is(err, ErrNoSpace) || p.Fits {
		t.Fatalf("want ErrNoSpace, got %v (fits %v)", err, p.Fits)
	}
	for _, want := range []string{"/cache needs ~12.0 GiB", "archive ~6.00 GiB, unpacked ~6.00 GiB", "21.0 GiB is free", "10.0 GiB must stay free", "short by 1.00 GiB"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
	if strings.Contains(err.Error(), "/docker") {
		t.Errorf("the disk that fits is named: %v", err)
	}
	if len(p.Filesystems) != 2 || p.Filesystems[0].Need != 12<<30 || !p.Filesystems[1].Fits {
		t.Errorf("plan %+v", p.Filesystems)
	}
	// With 1 GiB more it fits.
	if p, err := Check(needs, keep, fakeDisks(22<<30, 40<<30)); err != nil || !p.Fits {
		t.Fatalf("22 GiB free: %v", err)
	}
	if _, err := Check([]Need{{"x", "/elsewhere", 1}}, keep, fakeDisks(1, 1)); err == nil || errors.Is(err, ErrNoSpace) {
		t.Fatalf("a path that cannot be probed: %v", err)
	}
}

func TestWatcherHighWater(t *testing.T) {
	var free atomic.Int64
	free.Store(50 << 30)
	probe := func(path string) (uint64, fsutil.Space, error) {
		if path == "/docker" {
			return 2, fsutil.Space{Free: 80 << 30}, nil
		}
		return 1, fsutil.Space{Free: free.Load()}, nil
	}
	w := Watch([]string{"/cache", "/cache/parts", "/docker", "/nowhere"}, 5*time.Millisecond, probe)
	free.Store(42 << 30) // the run writes 8 GiB...
	time.Sleep(50 * time.Millisecond)
	free.Store(47 << 30) // ...then removes 5 GiB of it
	marks := w.Stop()
	if len(marks) != 2 {
		t.Fatalf("marks %+v: want one per file system", marks)
	}
	if marks[0].HighWater != 8<<30 || marks[0].LowestFree != 42<<30 || marks[0].FreeBefore != 50<<30 {
		t.Errorf("cache: %+v", marks[0])
	}
	if marks[1].HighWater != 0 {
		t.Errorf("docker: %+v", marks[1])
	}
}

// The real file system of this machine answers.
func TestStatfs(t *testing.T) {
	dir := t.TempDir()
	p, err := Check([]Need{{"a byte", dir, 1}}, nil, nil)
	if err != nil || !p.Fits || p.Filesystems[0].Free <= 0 {
		t.Fatalf("%+v %v", p, err)
	}
	if _, err := Check([]Need{{"a byte", dir, 1 << 60}}, nil, nil); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("an exabyte fits? %v", err)
	}
}
