package archive

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func newTestFetcher(t *testing.T, st Store, prefix string) *Fetcher {
	return &Fetcher{
		Store: st, Cache: &Cache{Dir: filepath.Join(t.TempDir(), "cache")}, Prefix: prefix, Keep: 1,
		Download:    DownloadOptions{Concurrency: 4, PartSize: 1 << 20, Retries: 2, Backoff: time.Millisecond},
		RestoreTier: "Standard", RestoreDays: 1, PollInterval: time.Millisecond,
	}
}

// cacheFiles lists the cache directory (not .partial) for before/after comparisons.
func cacheFiles(t *testing.T, c *Cache) []string {
	m, _ := filepath.Glob(filepath.Join(c.Dir, "*"))
	return m
}

func TestFetchNewestThenKeepsCacheTidy(t *testing.T) {
	st, p := mixedBucket(t)
	f := newTestFetcher(t, st, p)
	res, err := f.Fetch(context.Background(), FetchRequest{})
	// The bucket has newer broken objects: the newest valid archive is
	// fetched, and the run still fails so that someone looks.
	if !errors.Is(err, ErrNewerUnusable) {
		t.Fatalf("got %v, want ErrNewerUnusable", err)
	}
	want := p + "2024-05-01_09-00_PDT__app_DATABASE_URL.tgz"
	if res.Status != FetchFetched || res.Key != want {
		t.Fatalf("fetched %s (%s), want %s", res.Key, res.Status, want)
	}
	e := res.Entry
	b, err := os.ReadFile(e.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	if e.DumpSHA256 != hex.EncodeToString(sum[:]) || e.DumpSize != int64(len(b)) || e.Wrap != WrapTarGz {
		t.Fatalf("manifest disagrees with the file: %+v", e.Manifest)
	}
	if !e.CapturedAt.Equal(at("2024-05-01 16:00")) || e.TimeSource != TimeFromHeader || e.Header.DatabaseName != "app" {
		t.Fatalf("manifest capture facts: %s %s %q", e.CapturedAt, e.TimeSource, e.Header.DatabaseName)
	}
	if _, err := dump.Verify(bytes.NewReader(b)); err != nil {
		t.Fatalf("cached dump does not verify: %v", err)
	}
	if len(res.Warnings) < 4 {
		t.Fatalf("warnings about newer broken objects missing: %v", res.Warnings)
	}
	if !contains(e.Verified, "s3-sha256") || !contains(e.Verified, "pg_dump-archive-complete") {
		t.Fatalf("verified = %v", e.Verified)
	}

	// Again: nothing to do (but the broken objects are still there).
	res2, err := f.Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrNewerUnusable) || res2.Status != FetchAlreadyCached {
		t.Fatalf("second fetch: %v %v", res2.Status, err)
	}

	// A newer archive lands: it replaces the old one (keep: 1), and only
	// after it is in place.
	dumpBytes := fixtureDump(t)
	st.put(p+"2024-05-04_03-00_UTC__app_DATABASE_URL.dump.gz", testenv.Gzip(t, withCreatedAt(t, dumpBytes, at("2024-05-04 03:00"))), at("2024-05-04 03:05"))
	res3, err := f.Fetch(context.Background(), FetchRequest{})
	if err != nil || len(res3.Warnings) != 0 || res3.Status != FetchFetched || !strings.HasSuffix(res3.Key, "2024-05-04_03-00_UTC__app_DATABASE_URL.dump.gz") {
		t.Fatalf("third fetch: %+v %v", res3, err)
	}
	if len(res3.Pruned) != 1 || res3.Pruned[0] != want {
		t.Fatalf("pruned %v, want the old archive", res3.Pruned)
	}
	l, _ := f.Cache.List()
	if len(l) != 1 || l[0].Key != res3.Key {
		t.Fatalf("cache holds %v", l)
	}
	if files := cacheFiles(t, f.Cache); len(files) != 3 { // .dump, .json, .partial/
		t.Fatalf("cache dir holds %v", files)
	}
	// The partial area is empty again.
	if parts, _ := os.ReadDir(f.Cache.PartialDir()); len(parts) != 0 {
		t.Fatalf("leftovers in .partial: %v", parts)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestFetchBrokenArchiveLeavesCacheUntouched(t *testing.T) {
	dumpBytes := fixtureDump(t)
	good := testenv.Gzip(t, withCreatedAt(t, dumpBytes, at("2024-05-01 03:00")))
	st := newMemStore()
	st.put("p/2024-05-01_03-00_UTC__a_DB.dump.gz", good, at("2024-05-01 03:05"))
	f := newTestFetcher(t, st, "p/")
	if _, err := f.Fetch(context.Background(), FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	before := cacheFiles(t, f.Cache)

	cases := map[string][]byte{}
	// A gzip whose payload is damaged in the middle (the header sniff passes).
	bad := append([]byte(nil), good...)
	for i := len(bad) / 2; i < len(bad)/2+64; i++ {
		bad[i] ^= 0xff
	}
	cases["corrupt-gzip"] = bad
	// A truncated object: the gzip stream ends early.
	cases["truncated"] = good[:len(good)*2/3]
	// A dump cut short inside, gzipped cleanly: the gzip is fine, the archive is not.
	cases["truncated-dump"] = testenv.Gzip(t, withCreatedAt(t, dumpBytes, at("2024-05-01 03:00"))[:len(dumpBytes)-100])
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			key := "p/2024-05-09_03-00_UTC__a_DB_" + name + ".dump.gz"
			st.put(key, data, at("2024-05-09 03:05"))
			defer delete(st.objs, key)
			res, err := f.Fetch(context.Background(), FetchRequest{Key: key})
			if err == nil {
				t.Fatalf("fetch of a %s archive succeeded: %+v", name, res)
			}
			if !strings.Contains(err.Error(), "nothing was added to the cache") {
				t.Errorf("message does not say the cache is unchanged: %v", err)
			}
			if after := cacheFiles(t, f.Cache); strings.Join(after, ",") != strings.Join(before, ",") {
				t.Fatalf("cache changed: %v -> %v", before, after)
			}
			if parts, _ := os.ReadDir(f.Cache.PartialDir()); len(parts) != 0 {
				t.Fatalf("partial files left after a verification failure: %v", parts)
			}
			if e, err := f.Cache.Newest(); err != nil || e.Key != "p/2024-05-01_03-00_UTC__a_DB.dump.gz" {
				t.Fatalf("newest cached = %v %v", e.Key, err)
			}
		})
	}
}

func TestFetchChecksumMismatchFromSidecar(t *testing.T) {
	data := testenv.Gzip(t, fixtureDump(t))
	st := newMemStore()
	st.put("p/2024-05-01_03-00_UTC__a_DB.dump.gz", data, at("2024-05-01 03:05"))
	st.put("p/2024-05-01_03-00_UTC__a_DB.dump.gz.sha256", []byte(strings.Repeat("ab", 32)+"  x.dump.gz\n"), at("2024-05-01 03:05"))
	f := newTestFetcher(t, st, "p/")
	_, err := f.Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrChecksum) || !strings.Contains(err.Error(), "sidecar-sha256") {
		t.Fatalf("got %v, want a sidecar checksum mismatch", err)
	}
	// And with the right sidecar it passes and says so.
	sum := sha256.Sum256(data)
	st.put("p/2024-05-01_03-00_UTC__a_DB.dump.gz.sha256", []byte(hex.EncodeToString(sum[:])+"  x.dump.gz\n"), at("2024-05-01 03:05"))
	res, err := f.Fetch(context.Background(), FetchRequest{})
	if err != nil || !contains(res.Entry.Verified, "sidecar-sha256") {
		t.Fatalf("%v %+v", err, res)
	}
}

func TestFetchGlacier(t *testing.T) {
	st := newMemStore()
	o := st.put("p/2024-05-01_03-00_UTC__a_DB.dump", fixtureDump(t), at("2024-05-01 03:05"))
	o.class = "GLACIER"
	f := newTestFetcher(t, st, "p/")
	res, err := f.Fetch(context.Background(), FetchRequest{Key: "p/2024-05-01_03-00_UTC__a_DB.dump"})
	if !errors.Is(err, ErrRestorePending) || res.Status != FetchRestorePending || st.restores != 1 {
		t.Fatalf("got %v status %q restores %d", err, res.Status, st.restores)
	}
	st.restoreAfter = 3
	res, err = f.Fetch(context.Background(), FetchRequest{Key: "p/2024-05-01_03-00_UTC__a_DB.dump", Wait: true})
	if err != nil || res.Status != FetchFetched {
		t.Fatalf("with --wait: %v %+v", err, res)
	}
	if st.restores != 1 {
		t.Fatalf("restore requested %d times, want once (it was already in progress)", st.restores)
	}
}

func TestFetchUnreachableNamesNothingNew(t *testing.T) {
	st := newMemStore()
	st.put("p/2024-05-01_03-00_UTC__a_DB.dump", fixtureDump(t), at("2024-05-01 03:05"))
	f := newTestFetcher(t, st, "p/")
	if _, err := f.Fetch(context.Background(), FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	st.unreachable = true
	_, err := f.Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrUnreachable) {
		t.Fatalf("got %v", err)
	}
	if e, err := f.Cache.Newest(); err != nil || e.Key != "p/2024-05-01_03-00_UTC__a_DB.dump" {
		t.Fatalf("cache after outage: %v %v", e.Key, err)
	}
}

func TestCacheIgnoresAndCleansDumpWithoutManifest(t *testing.T) {
	c := &Cache{Dir: t.TempDir()}
	if err := c.Init(); err != nil {
		t.Fatal(err)
	}
	orphan := filepath.Join(c.Dir, "20240501T030000Z_deadbeef.dump")
	os.WriteFile(orphan, []byte("PGDMP half"), 0o600)
	if _, err := c.Newest(); !errors.Is(err, ErrCacheEmpty) {
		t.Fatalf("a dump without manifest was taken for an archive: %v", err)
	}
	removed, err := c.Clean(time.Hour)
	if err != nil || len(removed) != 1 || removed[0] != orphan {
		t.Fatalf("clean removed %v (%v)", removed, err)
	}
}

func TestFetchFallsBackWhenTheNewestFailsVerification(t *testing.T) {
	d := fixtureDump(t)
	st := newMemStore()
	older := "p/2024-05-01_03-00_UTC__a_DB.dump.gz"
	newer := "p/2024-05-02_03-00_UTC__a_DB.dump.gz"
	st.put(older, testenv.Gzip(t, withCreatedAt(t, d, at("2024-05-01 03:00"))), at("2024-05-01 03:05"))
	// Its first bytes are a fine archive, its end is missing.
	full := testenv.Gzip(t, withCreatedAt(t, d, at("2024-05-02 03:00")))
	st.put(newer, full[:len(full)/2], at("2024-05-02 03:05"))
	f := newTestFetcher(t, st, "p/")
	res, err := f.Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrNewerUnusable) || res.Entry == nil || res.Key != older {
		t.Fatalf("got %v, fetched %q; want the older archive and ErrNewerUnusable", err, res.Key)
	}
	if w := strings.Join(res.Warnings, "\n"); !strings.Contains(w, newer) || !strings.Contains(w, "failed verification") {
		t.Fatalf("warnings do not name the broken archive: %s", w)
	}
	if e, _ := f.Cache.Newest(); e.Key != older {
		t.Fatalf("cache holds %q", e.Key)
	}
}
