package report

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"
)

// drillAt is a passing drill started at t.
func drillAt(t time.Time) *Report {
	r := sample(0, true)
	r.ID, r.StartedAt = NewID("shop", t), t
	return r
}

func saveAll(t *testing.T, dir string, rs ...*Report) {
	t.Helper()
	for _, r := range rs {
		if err := Save(dir, r); err != nil {
			t.Fatal(err)
		}
	}
}

func filesIn(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	return names
}

func TestSaveLoad(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "shop", "drills") // Save creates it
	r := sample(2, false)
	if err := Save(dir, r); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{r.ID + ".json", "latest.json"} {
		st, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %04o, want 0600", name, st.Mode().Perm())
		}
	}
	if st, _ := os.Stat(dir); st.Mode().Perm() != 0o700 {
		t.Errorf("drills dir has mode %04o, want 0700", st.Mode().Perm())
	}
	if got := filesIn(t, dir); !reflect.DeepEqual(got, []string{r.ID + ".json", "latest.json"}) {
		t.Errorf("files = %q: a temp file was left behind?", got)
	}
	for _, id := range []string{r.ID, LatestID} {
		got, err := Load(dir, id)
		if err != nil {
			t.Fatal(err)
		}
		got.derived, r.derived = nil, nil
		if !reflect.DeepEqual(got, r) {
			t.Errorf("Load(%q) differs from what was saved:\n got %+v\nwant %+v", id, got, r)
		}
	}
}

func TestLoadNotFound(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"latest", "20261125T101500Z-shop"} {
		if _, err := Load(dir, id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Load(%q) = %v, want ErrNotFound", id, err)
		}
	}
	if _, err := Load(filepath.Join(dir, "nope"), "latest"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Load from a missing dir = %v, want ErrNotFound", err)
	}
}

func TestBadIDs(t *testing.T) {
	dir := t.TempDir()
	for _, id := range []string{"", "latest", "../escape", "a/b", ".hidden", "a b", `a\b`} {
		r := drillAt(base)
		r.ID = id
		if err := Save(dir, r); !errors.Is(err, ErrInvalidID) {
			t.Errorf("Save(id %q) = %v, want ErrInvalidID", id, err)
		}
		if id != "latest" {
			if _, err := Load(dir, id); !errors.Is(err, ErrInvalidID) {
				t.Errorf("Load(%q) = %v, want ErrInvalidID", id, err)
			}
		}
	}
	if fs := filesIn(t, dir); len(fs) != 0 {
		t.Errorf("files written for bad IDs: %q", fs)
	}
}

func TestLatestFollowsTheNewest(t *testing.T) {
	dir := t.TempDir()
	old, newer := drillAt(base), drillAt(base.Add(24*time.Hour))
	saveAll(t, dir, old, newer)
	// Saving the older one again (a second Finalize) must not move latest back.
	old.Kept = true
	saveAll(t, dir, old)
	got, err := Load(dir, LatestID)
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != newer.ID {
		t.Errorf("latest = %s, want %s", got.ID, newer.ID)
	}
	if again, _ := Load(dir, old.ID); !again.Kept {
		t.Error("saving a report again did not replace it")
	}
}

func TestListNewestFirst(t *testing.T) {
	dir := t.TempDir()
	if rs, err := List(filepath.Join(dir, "missing")); err != nil || len(rs) != 0 {
		t.Fatalf("List(missing dir) = %v, %v; want empty, nil", rs, err)
	}
	var want []string
	for _, d := range []int{3, 0, 2, 1} {
		r := drillAt(base.Add(time.Duration(d) * time.Hour))
		saveAll(t, dir, r)
	}
	for _, d := range []int{3, 2, 1, 0} {
		want = append(want, NewID("shop", base.Add(time.Duration(d)*time.Hour)))
	}
	// Strangers and leftovers are not reports.
	os.WriteFile(filepath.Join(dir, ".20261125T000000Z-shop.json.tmp-123"), []byte("{"), 0o600)
	os.WriteFile(filepath.Join(dir, "notes.txt"), []byte("hi"), 0o600)
	rs, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rs {
		got = append(got, r.ID)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("List = %q, want %q (newest first, latest.json not twice)", got, want)
	}

	// A corrupt file does not hide the others.
	os.WriteFile(filepath.Join(dir, "20200101T000000Z-shop.json"), []byte("{not json"), 0o600)
	rs, err = List(dir)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "20200101T000000Z-shop.json") {
		t.Errorf("List with a corrupt file: err = %v, want ErrCorrupt naming the file", err)
	}
	if len(rs) != 4 {
		t.Errorf("List with a corrupt file returned %d reports, want the 4 readable ones", len(rs))
	}
}

func TestPruneKeepsTheNewest(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	var ids []string
	for i := 9; i >= 0; i-- { // oldest first
		r := drillAt(now.Add(-time.Duration(i) * 24 * time.Hour))
		saveAll(t, dir, r)
		ids = append(ids, r.ID)
	}
	removed, err := Prune(dir, 3, 0)
	if err != nil {
		t.Fatal(err)
	}
	if want := reversed(ids[:7]); !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}
	rs, _ := List(dir)
	if len(rs) != 3 || rs[0].ID != ids[9] || rs[2].ID != ids[7] {
		t.Errorf("left %d reports, want the newest 3", len(rs))
	}
	if _, err := Load(dir, LatestID); err != nil {
		t.Errorf("latest gone after prune: %v", err)
	}
	// Nothing more to do.
	if removed, err := Prune(dir, 3, 0); err != nil || len(removed) != 0 {
		t.Errorf("second prune removed %q, %v", removed, err)
	}
}

func TestPruneByAgeNeverTheLatest(t *testing.T) {
	dir := t.TempDir()
	now := time.Now().UTC().Truncate(time.Second)
	old := []*Report{drillAt(now.Add(-40 * 24 * time.Hour)), drillAt(now.Add(-35 * 24 * time.Hour))}
	recent := drillAt(now.Add(-2 * 24 * time.Hour))
	saveAll(t, dir, append(old, recent)...)
	removed, err := Prune(dir, 100, 30*24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{old[1].ID, old[0].ID}; !reflect.DeepEqual(removed, want) {
		t.Errorf("removed %q, want %q", removed, want)
	}

	// Every drill is too old, and keep is 0 (no limit by count): the latest stays.
	dir = t.TempDir()
	saveAll(t, dir, old...)
	removed, err = Prune(dir, 0, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, []string{old[0].ID}) {
		t.Errorf("removed %q, want only the older one", removed)
	}
	if r, err := Load(dir, old[1].ID); err != nil || r.ID != old[1].ID {
		t.Errorf("the latest drill was pruned: %v", err)
	}
	if r, err := Load(dir, LatestID); err != nil || r.ID != old[1].ID {
		t.Errorf("latest.json = %v, %v", r, err)
	}

	// keep 1 keeps the latest even when latest.json names an older one
	// than the newest file (a newer report saved by hand, say).
	dir = t.TempDir()
	saveAll(t, dir, old[1])
	newestFile := drillAt(now.Add(-time.Hour))
	saveAll(t, dir, newestFile)
	saveAll(t, dir, old[0])
	if err := os.WriteFile(filepath.Join(dir, "latest.json"), mustJSON(t, old[1]), 0o600); err != nil {
		t.Fatal(err)
	}
	removed, err = Prune(dir, 1, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(removed, []string{old[0].ID}) {
		t.Errorf("removed %q, want only %s (the newest and the latest stay)", removed, old[0].ID)
	}
}

func TestPruneRemovesStaleTempFiles(t *testing.T) {
	dir := t.TempDir()
	saveAll(t, dir, drillAt(time.Now().UTC()))
	stale := filepath.Join(dir, ".x.json.tmp-1")
	fresh := filepath.Join(dir, ".y.json.tmp-2")
	os.WriteFile(stale, []byte("{"), 0o600)
	os.WriteFile(fresh, []byte("{"), 0o600)
	old := time.Now().Add(-2 * time.Hour)
	os.Chtimes(stale, old, old)
	if _, err := Prune(dir, 5, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(stale); !errors.Is(err, os.ErrNotExist) {
		t.Error("a stale temp file was kept")
	}
	if _, err := os.Stat(fresh); err != nil {
		t.Error("a fresh temp file (a write in progress) was removed")
	}
}

func TestPruneMissingDir(t *testing.T) {
	removed, err := Prune(filepath.Join(t.TempDir(), "none"), 3, time.Hour)
	if err != nil || len(removed) != 0 {
		t.Errorf("Prune(missing) = %q, %v", removed, err)
	}
}

func reversed(s []string) []string {
	out := make([]string, len(s))
	for i, v := range s {
		out[len(s)-1-i] = v
	}
	return out
}

func mustJSON(t *testing.T, r *Report) []byte {
	t.Helper()
	b, err := r.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	return b
}
