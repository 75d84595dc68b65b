package state

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/lock"
)

func TestGenerationsAndCurrent(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if _, err := s.Current(); !errors.Is(err, ErrNoCurrent) {
		t.Fatalf("empty store: %v", err)
	}
	if _, err := s.Load(3); !errors.Is(err, ErrNoGeneration) {
		t.Fatalf("missing generation: %v", err)
	}
	for _, n := range []int{1, 2, 5} {
		if err := s.Save(&Generation{Number: n, Status: StatusReady}); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.Next(); n != 6 {
		t.Fatalf("next = %d, want 6", n)
	}
	if n, _ := s.Next(9); n != 10 {
		t.Fatalf("next with a Docker object of generation 9 = %d", n)
	}
	s.SetCurrent(2)
	s.SetCurrent(5)
	c, err := s.Current()
	if err != nil || c.Generation != 5 || c.Previous != 2 {
		t.Fatalf("current %+v %v", c, err)
	}
	// Setting the same generation again keeps the previous one.
	s.SetCurrent(5)
	if c, _ := s.Current(); c.Previous != 2 {
		t.Fatalf("previous lost: %+v", c)
	}
	list, _ := s.List()
	if len(list) != 3 || list[0].Number != 1 || list[2].Number != 5 {
		t.Fatalf("list %v", list)
	}
	st, _ := os.Stat(filepath.Join(s.Dir, "current.json"))
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("current.json mode %v", st.Mode())
	}
}

func TestRunsAndServing(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	if r, _ := s.LastRun("refresh"); r != nil {
		t.Fatal("a run before any")
	}
	base := time.Date(2026, 11, 25, 3, 0, 0, 0, time.UTC)
	for i := 0; i < 5; i++ {
		if err := s.SaveRun(&Run{Kind: "refresh", StartedAt: base.Add(time.Duration(i) * time.Hour), OK: i%2 == 0}); err != nil {
			t.Fatal(err)
		}
	}
	last, _ := s.LastRun("refresh")
	if last == nil || !last.StartedAt.Equal(base.Add(4*time.Hour)) {
		t.Fatalf("last %+v", last)
	}
	s.PruneRuns("refresh", 2)
	runs, _ := s.Runs("refresh")
	if len(runs) != 2 || !runs[0].StartedAt.After(runs[1].StartedAt) {
		t.Fatalf("runs after prune: %d", len(runs))
	}
	if sv, _ := s.Serving(); sv != nil {
		t.Fatal("serving before a failover")
	}
	s.SetServing(&Serving{Since: base, Generation: 3})
	if sv, _ := s.Serving(); sv == nil || sv.Generation != 3 {
		t.Fatalf("serving %+v", sv)
	}
	s.ClearServing()
	if sv, _ := s.Serving(); sv != nil {
		t.Fatal("still serving after ClearServing")
	}
}

// Every path under the state directory comes from the store, and stays under it.
func TestStorePaths(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop")
	s := &Store{Dir: dir}
	for _, p := range []string{s.LockFile(), s.CaptureLockFile(), s.DrillsDir(), s.DrillWork("20240501T030405Z").Dir, s.FailbackDir(),
		s.GenerationDir(3), s.PasswordFile(3), s.LogFile(3), s.ConfigVarsFile()} {
		if rel, err := filepath.Rel(dir, p); err != nil || strings.HasPrefix(rel, "..") || rel == "." {
			t.Errorf("%s is not under the state directory %s", p, dir)
		}
	}
	if w := s.DrillWork("x"); !strings.HasPrefix(w.Dir, s.DrillsDir()+string(filepath.Separator)) {
		t.Errorf("drill work %s is not under %s", w.Dir, s.DrillsDir())
	}
	l, err := s.Lock("test")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release()
	if st, err := os.Stat(dir); err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("state dir after Lock: %v %v", st, err)
	}
	if _, err := s.Lock("second"); !errors.Is(err, lock.ErrLocked) {
		t.Fatalf("second Lock: %v, want ErrLocked", err)
	}
}

func TestSkippedRunIsNotTheLastRun(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := s.SaveRun(&Run{Kind: "refresh", StartedAt: t0, FinishedAt: t0, OK: true, Outcome: "refreshed"}); err != nil {
		t.Fatal(err)
	}
	if err := s.SaveRun(&Run{Kind: "refresh", StartedAt: t0.Add(time.Hour), FinishedAt: t0.Add(time.Hour), OK: true, Outcome: "skipped-serving", Skipped: true}); err != nil {
		t.Fatal(err)
	}
	last, err := s.LastRun("refresh")
	if err != nil || last == nil || last.Outcome != "refreshed" {
		t.Fatalf("last run %+v (%v), want the refresh before the skipped one", last, err)
	}
	runs, err := s.Runs("refresh")
	if err != nil || len(runs) != 2 || !runs[0].Skipped {
		t.Fatalf("runs: %v %+v", err, runs)
	}
}

// Two runs of a kind started in the same second, or even the same
// nanosecond, are two records; they and the records named to the second
// by earlier versions list newest first, and pruning keeps the newest.
func TestRunIDsAreUnique(t *testing.T) {
	s := &Store{Dir: t.TempDir()}
	t0 := time.Date(2026, 12, 5, 21, 36, 3, 0, time.UTC)
	// Records of an earlier version, named to the second.
	if err := os.MkdirAll(filepath.Join(s.Dir, "runs"), 0o700); err != nil {
		t.Fatal(err)
	}
	for i, started := range []time.Time{t0.Add(-time.Second), t0.Add(time.Second)} {
		old := &Run{Kind: "refresh", ID: started.Format("20060102T150405Z"), StartedAt: started, Outcome: fmt.Sprintf("old-%d", i)}
		if err := fsutil.WriteJSONAtomic(filepath.Join(s.Dir, "runs", "refresh-"+old.ID+".json"), old, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	same := t0.Add(123 * time.Millisecond)
	var ids []string
	for i, started := range []time.Time{t0.Add(500 * time.Millisecond), same, same} {
		r := &Run{Kind: "refresh", StartedAt: started, Outcome: fmt.Sprintf("new-%d", i)}
		if err := s.SaveRun(r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	if ids[0] != "20261205T213603.500000000Z" || ids[1] == ids[2] {
		t.Errorf("ids %v", ids)
	}
	runs, err := s.Runs("refresh")
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range runs {
		got = append(got, r.Outcome)
	}
	if want := "old-1 new-0 new-2 new-1 old-0"; strings.Join(got, " ") != want {
		t.Errorf("runs newest first: %v, want %s", got, want)
	}
	// Saving a run again replaces its record.
	runs[1].OK = true
	if err := s.SaveRun(runs[1]); err != nil {
		t.Fatal(err)
	}
	if again, _ := s.Runs("refresh"); len(again) != 5 || !again[1].OK {
		t.Errorf("after saving a run again: %d runs", len(again))
	}
	if err := s.PruneRuns("refresh", 2); err != nil {
		t.Fatal(err)
	}
	runs, _ = s.Runs("refresh")
	if len(runs) != 2 || runs[0].Outcome != "old-1" || runs[1].Outcome != "new-0" {
		t.Errorf("after pruning to 2: %+v", runs)
	}
}
