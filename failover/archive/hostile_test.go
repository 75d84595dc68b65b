package archive_test

// What a hostile or broken bucket can do to a fetch, reproduced against a
// real S3 server (MinIO) with archives built by dumptest: memory and disk
// exhaustion, capture times from the future, another app's backups under
// a prefix, objects overwritten during a download, foreign files in the
// cache directory.

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

const hostileBucket = "backups"

// bucket is a real S3 server with one bucket, and a Store on it.
type bucket struct {
	s3 *testenv.S3
	st *s3store.Store
}

func newBucket(t *testing.T) *bucket {
	t.Helper()
	s := testenv.StartS3(t)
	s.CreateBucket(t, hostileBucket)
	st, err := s3store.New(context.Background(), s3store.Options{
		Bucket: hostileBucket, Region: s.Region, Endpoint: s.Endpoint, PathStyle: true,
		CredentialsFile: s.WriteCredentialsFile(t, t.TempDir()), Timeout: 10 * time.Second, MaxConns: 4,
	})
	if err != nil {
		t.Fatal(err)
	}
	return &bucket{s3: s, st: st}
}

func (b *bucket) put(t *testing.T, key string, body []byte) {
	t.Helper()
	b.s3.Put(t, hostileBucket, key, body)
}

func (b *bucket) fetcher(t *testing.T, cacheDir, prefix string) *archive.Fetcher {
	if cacheDir == "" {
		cacheDir = filepath.Join(t.TempDir(), "cache")
	}
	return &archive.Fetcher{
		Store: b.st, Cache: &archive.Cache{Dir: cacheDir}, Prefix: prefix, Keep: 1,
		Download: archive.DownloadOptions{Concurrency: 2, PartSize: 1 << 20, Retries: 1, Backoff: time.Millisecond},
	}
}

// gz streams a dumptest archive through gzip, so that gigabytes of TOC or
// data cost the test no memory.
func gz(t *testing.T, s *dumptest.Archive) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	if _, err := s.EncodeTo(zw); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// capturedAt returns a synthetic archive whose header says it was made at
// ts (UTC wall clock, as on a Heroku dyno).
func capturedAt(ts time.Time) *dumptest.Archive {
	s := dumptest.New(16)
	ts = ts.UTC()
	s.Tm = [7]int{ts.Second(), ts.Minute(), ts.Hour(), ts.Day(), int(ts.Month()) - 1, ts.Year() - 1900, 0}
	return s
}

// bigData returns a valid archive whose one table holds size bytes of
// zeros: a gzip of it is tiny, the dump is not.
func bigData(ts time.Time, size int) *dumptest.Archive {
	s := capturedAt(ts)
	chunk := strings.Repeat("\x00", 1<<20)
	chunks := make([]string, size>>20)
	for i := range chunks {
		chunks[i] = chunk
	}
	s.Blocks[0].Chunks = chunks
	return s
}

func herokuKey(prefix string, ts time.Time, app string) string {
	return prefix + ts.UTC().Format("2006-01-02_15-04") + "_UTC__" + app + "_DATABASE_URL.dump.gz"
}

func cacheListing(t *testing.T, c *archive.Cache) []string {
	t.Helper()
	var out []string
	filepath.Walk(c.Dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			out = append(out, strings.TrimPrefix(p, c.Dir+"/"))
		}
		return nil
	})
	return out
}

// TestFetchBoundsMemoryOfAHugeTOC (issue 8, item 1): a .dump.gz of under a
// megabyte whose table of contents holds 512 MiB of strings. Fetch refuses
// it at the TOC limit, names the object and the config key, keeps its heap
// far below the TOC's size, and caches the previous valid archive instead.
func TestFetchBoundsMemoryOfAHugeTOC(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC().Truncate(time.Minute)
	good := herokuKey("shop/", now.Add(-2*time.Hour), "shop")
	b.put(t, good, gz(t, capturedAt(now.Add(-2*time.Hour))))
	hostile := capturedAt(now)
	hostile.AddTables(512, strings.Repeat("\x00", 1<<20), []string{"1\n"})
	bomb := gz(t, hostile)
	if len(bomb) > 2<<20 {
		t.Fatalf("the hostile object is %d bytes, want a small one", len(bomb))
	}
	bad := herokuKey("shop/", now, "shop")
	b.put(t, bad, bomb)

	f := b.fetcher(t, "", "shop/")
	f.Limits.MaxRatio = 1e6 // this test is about the TOC; the ratio has its own
	var res *archive.FetchResult
	var err error
	peak := testenv.PeakHeap(func() { res, err = f.Fetch(context.Background(), archive.FetchRequest{}) })
	if !errors.Is(err, archive.ErrNewerUnusable) {
		t.Fatalf("fetch: %v, want ErrNewerUnusable (the newest object is unusable)", err)
	}
	if res.Entry == nil || res.Entry.Key != good {
		t.Fatalf("cached %+v, want the older valid archive %s", res.Entry, good)
	}
	warned := strings.Join(res.Warnings, "\n")
	if !strings.Contains(warned, bad) || !strings.Contains(warned, "download.max_toc_size") || !strings.Contains(warned, "32 MiB") {
		t.Errorf("the warnings do not name the hostile object and the limit:\n%s", warned)
	}
	if peak > 256<<20 {
		t.Errorf("fetch peaked at %d MiB of heap on a %d KiB object", peak>>20, len(bomb)>>10)
	}

	// Asked for by key, the same object is refused with a VerifyError.
	_, err = f.Fetch(context.Background(), archive.FetchRequest{Key: bad})
	var ve *archive.VerifyError
	if !errors.As(err, &ve) || ve.Key != bad || !errors.Is(err, archive.ErrTooLarge) || !errors.Is(err, dump.ErrTooLarge) {
		t.Fatalf("fetch --key of the hostile object: %v", err)
	}
}

// TestFetchStopsAGzipBomb (item 1): the ratio of unpacked to object bytes is
// watched while reading; 256 MiB of zeros in a few hundred KiB is refused
// soon after the first 64 MiB, naming the key to raise.
func TestFetchStopsAGzipBomb(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC().Truncate(time.Minute)
	key := herokuKey("shop/", now, "shop")
	b.put(t, key, gz(t, bigData(now, 256<<20)))
	f := b.fetcher(t, "", "shop/")
	_, err := f.Fetch(context.Background(), archive.FetchRequest{Key: key})
	if !errors.Is(err, archive.ErrTooLarge) || !strings.Contains(err.Error(), "download.max_unpack_ratio") || !strings.Contains(err.Error(), key) {
		t.Fatalf("fetch of a gzip bomb: %v", err)
	}
	if files := cacheListing(t, f.Cache); len(files) != 0 {
		t.Errorf("left in the cache: %v", files)
	}
	f.Limits.MaxRatio = 10_000
	if _, err := f.Fetch(context.Background(), archive.FetchRequest{Key: key}); err != nil {
		t.Fatalf("with download.max_unpack_ratio raised: %v", err)
	}
}

// TestFetchStopsPastMaxUnpackedSize (item 2): a 64 MiB dump in a small .gz
// fetched exit 0 before; with download.max_unpacked_size set it is
// refused, the partial file removed, the limit named.
func TestFetchStopsPastMaxUnpackedSize(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC().Truncate(time.Minute)
	key := herokuKey("shop/", now, "shop")
	b.put(t, key, gz(t, bigData(now, 64<<20)))
	f := b.fetcher(t, "", "shop/")
	f.Limits.MaxUnpackedSize = 8 << 20
	f.Limits.MaxRatio = 1e6 // this test is about the size; the ratio has its own
	_, err := f.Fetch(context.Background(), archive.FetchRequest{})
	if !errors.Is(err, archive.ErrTooLarge) || !strings.Contains(err.Error(), "download.max_unpacked_size (8.00 MiB)") {
		t.Fatalf("fetch: %v, want ErrTooLarge naming download.max_unpacked_size", err)
	}
	if files := cacheListing(t, f.Cache); len(files) != 0 {
		t.Errorf("left in the cache: %v", files)
	}
	// A plain object over the limit is refused the same way.
	plain := "shop/" + now.Format("2006-01-02_15-04") + "_UTC__shop_DATABASE_URL.dump"
	b.put(t, plain, bigData(now, 16<<20).Encode())
	if _, err := f.Fetch(context.Background(), archive.FetchRequest{Key: plain}); !errors.Is(err, archive.ErrTooLarge) {
		t.Fatalf("a 16 MiB plain dump with an 8 MiB limit: %v", err)
	}
}

// TestFetchKeepsMinFreeOnASmallDisk (item 2): on a 32 MiB file system, a
// 20 KiB-ish .gz that unpacks to 64 MiB used to fill it to the last byte
// before ENOSPC (and the database volumes sharing it with it). Now the
// unpack stops while cache.min_free is still free, says so, and removes
// its partial file.
func TestFetchKeepsMinFreeOnASmallDisk(t *testing.T) {
	b := newBucket(t)
	dir := smallDisk(t, "32m")
	now := time.Now().UTC().Truncate(time.Minute)
	key := herokuKey("shop/", now, "shop")
	obj := gz(t, bigData(now, 64<<20))
	b.put(t, key, obj)
	f := b.fetcher(t, filepath.Join(dir, "cache"), "shop/")
	f.Limits.KeepFree = archive.FreeSpace{Percent: 25}
	f.Limits.MaxRatio = 1e6

	var lowest atomic.Int64
	lowest.Store(1 << 62)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			if free := diskFree(dir); free < lowest.Load() {
				lowest.Store(free)
			}
			select {
			case <-stop:
				return
			case <-time.After(200 * time.Microsecond):
			}
		}
	}()
	_, err := f.Fetch(context.Background(), archive.FetchRequest{})
	close(stop)
	wg.Wait()
	if !errors.Is(err, archive.ErrDiskFull) || !strings.Contains(err.Error(), "cache.min_free (25%") {
		t.Fatalf("fetch on a small disk: %v, want ErrDiskFull naming cache.min_free", err)
	}
	if low, keep := lowest.Load(), int64(8<<20)-(2<<20); low < keep {
		t.Errorf("free space fell to %d KiB during the fetch; cache.min_free keeps 8 MiB", low>>10)
	}
	for _, p := range cacheListing(t, f.Cache) {
		if strings.HasSuffix(p, ".unpack") {
			t.Errorf("partial unpack left: %s", p)
		}
	}
	// Before the transfer: an object that does not fit beside min_free is
	// not even started.
	other := herokuKey("shop/", now.Add(-time.Hour), "shop")
	b.put(t, other, obj)
	f.Limits.KeepFree = archive.FreeSpace{Bytes: diskFree(dir) - int64(len(obj))/2}
	if _, err := f.Fetch(context.Background(), archive.FetchRequest{Key: other}); !errors.Is(err, archive.ErrDiskFull) ||
		!strings.Contains(err.Error(), "downloading "+other) {
		t.Fatalf("fetch that would cut into min_free: %v", err)
	}
}

// smallDisk mounts a tmpfs of the given size for the test.
func smallDisk(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size="+size+",mode=0700", "tmpfs", dir).CombinedOutput(); err != nil {
		t.Fatalf("mount a %s tmpfs (the test needs root, as CI runs): %v %s", size, err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v %s", dir, err, out)
		}
	})
	return dir
}

func diskFree(dir string) int64 {
	sp, err := fsutil.SpaceOf(dir)
	if err != nil {
		return 0
	}
	return sp.Free
}

// TestFutureHeaderDoesNotStayNewest (item 4): an archive whose pg_dump
// header claims next year is believed no later than its upload, so a real
// newer archive wins in Scan (with and without --check-all) and in the
// cache, and a notice names the claim.
func TestFutureHeaderDoesNotStayNewest(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC()
	liar := "shop/liar.dump.gz"
	b.put(t, liar, gz(t, capturedAt(now.AddDate(1, 0, 0))))
	cacheDir := filepath.Join(t.TempDir(), "cache")
	f := b.fetcher(t, cacheDir, "shop/")
	f.Keep = 2
	if _, err := f.Fetch(context.Background(), archive.FetchRequest{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // a later upload time for the real one
	real := "shop/real.dump.gz"
	b.put(t, real, gz(t, capturedAt(time.Now())))

	for _, all := range []bool{false, true} {
		l, err := archive.Scan(context.Background(), b.st, "shop/", archive.ScanOptions{CheckAll: all})
		if err != nil {
			t.Fatal(err)
		}
		if l.Newest != real {
			t.Fatalf("check-all %v: newest %s, want %s", all, l.Newest, real)
		}
		for _, c := range l.Candidates {
			if c.Key == liar && (c.TimeSource != archive.TimeFromLastModified || c.CapturedAt.After(now.Add(time.Hour)) || c.TimeNote == "") {
				t.Errorf("the liar: captured %s from %s, note %q", c.CapturedAt, c.TimeSource, c.TimeNote)
			}
		}
		if !strings.Contains(strings.Join(l.Notices, "\n"), liar) || len(l.Warnings) != 0 {
			t.Errorf("notices %q, warnings %q", l.Notices, l.Warnings)
		}
	}
	res, err := f.Fetch(context.Background(), archive.FetchRequest{})
	if err != nil || res.Key != real {
		t.Fatalf("second fetch: %v %v", res.Key, err)
	}
	newest, err := f.Cache.Newest()
	if err != nil || newest.Key != real {
		t.Fatalf("newest in the cache: %s %v, want %s", newest.Key, err, real)
	}
	// A manifest written before the fix, with the claim in it, is bounded
	// when read.
	l, _ := f.Cache.List()
	for _, e := range l {
		if e.Key == liar {
			e.Manifest.CapturedAt = now.AddDate(1, 0, 0)
			if err := fsutil.WriteJSONAtomic(e.ManifestPath, e.Manifest, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	if newest, _ := f.Cache.Newest(); newest.Key != real {
		t.Fatalf("an old manifest claiming next year is newest: %s", newest.Key)
	}
}

// TestCacheCleanerLeavesForeignFiles (item 5): cache.dir pointing at a
// folder that also holds the operator's own files: fetching, pruning and
// cleaning leftovers never touch them.
func TestCacheCleanerLeavesForeignFiles(t *testing.T) {
	b := newBucket(t)
	dir := t.TempDir()
	foreign := map[string]string{"prod-2026.dump": "PGDMP mine", "settings.json": `{"mine": true}`, ".tmp-notes": "x", "19990101T000000Z_zz.dump": "close, but not ours"}
	for name, content := range foreign {
		os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600)
	}
	f := b.fetcher(t, dir, "shop/")
	now := time.Now().UTC()
	for i, ago := range []time.Duration{3 * time.Hour, 2 * time.Hour, time.Hour} {
		key := fmt.Sprintf("shop/a%d.dump.gz", i)
		b.put(t, key, gz(t, capturedAt(now.Add(-ago))))
		if _, err := f.Fetch(context.Background(), archive.FetchRequest{}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := f.Cache.Clean(0); err != nil {
		t.Fatal(err)
	}
	for name, content := range foreign {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != content {
			t.Errorf("%s: %q %v, want it untouched", name, got, err)
		}
	}
	if l, _ := f.Cache.List(); len(l) != 1 || l[0].Key != "shop/a2.dump.gz" {
		t.Errorf("cache holds %v", l)
	}
}

// TestDownloadPinsTheVersion (item 11): an object overwritten between two
// ranged GETs must not be stitched from two versions. The store here hides
// checksums and ETag checks, as SSE-KMS objects without a SHA-256 do, and
// the two versions differ only in data payload, so nothing else would
// notice. The fetch starts over and caches one version whole.
func TestDownloadPinsTheVersion(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC()
	version := func(fill string) []byte {
		s := capturedAt(now)
		s.Blocks[0].Chunks = []string{strings.Repeat(fill, 3<<20)}
		return s.Encode()
	}
	v1, v2 := version("a"), version("b")
	key := "shop/" + now.Format("2006-01-02_15-04") + "_UTC__shop_DATABASE_URL.dump"
	b.put(t, key, v1)
	ks := &kmsStore{Store: b.st, overwrite: func() { b.put(t, key, v2) }}
	f := b.fetcher(t, "", "shop/")
	f.Store = ks
	f.Download.Concurrency = 1
	res, err := f.Fetch(context.Background(), archive.FetchRequest{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(res.Entry.Path)
	if sha256.Sum256(got) != sha256.Sum256(v2) {
		mixed := bytes.Count(got, []byte("a")) > 0 && bytes.Count(got, []byte("b")) > 0
		t.Fatalf("the cached dump is not the new version (a mix of both: %v)", mixed)
	}
	if ks.gets.Load() < 4 {
		t.Errorf("only %d GETs: the download did not start over", ks.gets.Load())
	}
}

// kmsStore is a Store on a real bucket whose objects look SSE-KMS
// encrypted (no checksum, an ETag that is no MD5) and that overwrites its
// object once, after the first data GET.
type kmsStore struct {
	*s3store.Store
	overwrite func()
	gets      atomic.Int32
	once      sync.Once
}

func (k *kmsStore) Head(ctx context.Context, key string) (archive.Object, error) {
	o, err := k.Store.Head(ctx, key)
	o.ChecksumSHA256, o.KMSEncrypted = "", true
	return o, err
}

func (k *kmsStore) after() {
	if k.gets.Add(1) == 2 {
		k.once.Do(k.overwrite)
	}
}

func (k *kmsStore) Open(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	if off > 0 || n > archive.SniffSize {
		k.after()
	}
	return k.Store.Open(ctx, key, off, n)
}

func (k *kmsStore) OpenVersion(ctx context.Context, obj archive.Object, off, n int64) (io.ReadCloser, error) {
	k.after()
	return k.Store.OpenVersion(ctx, obj, off, n)
}

// TestPrefixIsAFolder (item 12): "backups/shop" must not pick the newer
// archives of "backups/shop-staging/", nor those of a subfolder unless
// asked; a candidate naming another app is pointed out.
func TestPrefixIsAFolder(t *testing.T) {
	b := newBucket(t)
	now := time.Now().UTC().Truncate(time.Minute)
	mine := herokuKey("backups/shop/", now.Add(-3*time.Hour), "shop")
	b.put(t, mine, gz(t, capturedAt(now.Add(-3*time.Hour))))
	staging := herokuKey("backups/shop-staging/", now.Add(-time.Hour), "shop-staging")
	b.put(t, staging, gz(t, capturedAt(now.Add(-time.Hour))))
	deeper := herokuKey("backups/shop/old/", now.Add(-2*time.Hour), "shop")
	b.put(t, deeper, gz(t, capturedAt(now.Add(-2*time.Hour))))

	l, err := archive.Scan(context.Background(), b.st, "backups/shop", archive.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if l.Newest != mine || l.Prefix != "backups/shop/" {
		t.Fatalf("newest %s under %s, want %s", l.Newest, l.Prefix, mine)
	}
	for _, c := range l.Candidates {
		if c.Key == staging {
			t.Errorf("another app's archive is listed: %+v", c)
		}
		if c.Key == deeper && (c.Status != archive.StatusSkipped || !strings.Contains(c.SkipReason, "s3.subfolders")) {
			t.Errorf("the subfolder's archive: %s %q", c.Status, c.SkipReason)
		}
	}
	if len(l.Warnings) != 0 || !strings.Contains(strings.Join(l.Notices, "\n"), `read as the folder "backups/shop/"`) {
		t.Errorf("warnings %q, notices %q", l.Warnings, l.Notices)
	}
	// Asked for, subfolders count.
	l, err = archive.Scan(context.Background(), b.st, "backups/shop/", archive.ScanOptions{Subfolders: true})
	if err != nil || l.Newest != deeper || len(l.Notices) != 0 {
		t.Fatalf("with subfolders: newest %s, notices %q, %v", l.Newest, l.Notices, err)
	}
	// An archive in the folder that names another app is pointed out.
	stray := herokuKey("backups/shop/", now.Add(-4*time.Hour), "shop-staging")
	b.put(t, stray, gz(t, capturedAt(now.Add(-4*time.Hour))))
	mine2 := herokuKey("backups/shop/", now.Add(-5*time.Hour), "shop")
	b.put(t, mine2, gz(t, capturedAt(now.Add(-5*time.Hour))))
	l, err = archive.Scan(context.Background(), b.st, "backups/shop/", archive.ScanOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Join(l.Notices, "\n"); !strings.Contains(n, stray) || !strings.Contains(n, `app "shop-staging"`) {
		t.Errorf("no notice about %s: %q", stray, l.Notices)
	}
}
