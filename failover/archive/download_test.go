package archive

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

func TestDownloadRetriesDroppedConnections(t *testing.T) {
	data := randomBytes(t, 5<<20+123)
	st := newMemStore()
	st.put("k", data, time.Now())
	st.dropAfter, st.faults = 100<<10, 3
	obj, _ := st.Head(context.Background(), "k")
	dst := filepath.Join(t.TempDir(), "k.part")
	res, err := Download(context.Background(), st, obj, dst, DownloadOptions{Concurrency: 3, PartSize: 1 << 20, Retries: 5, Backoff: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatal("downloaded bytes differ")
	}
	if res.Retries != 3 || res.Parts != 6 {
		t.Fatalf("retries %d parts %d, want 3 and 6", res.Retries, res.Parts)
	}
	// A retry resumes within the part: only the dropped tail is fetched again.
	if st.bytesServed != int64(len(data)) {
		t.Fatalf("served %d bytes for a %d-byte object: retries re-fetched data", st.bytesServed, len(data))
	}
}

func TestDownloadResumesAfterInterruption(t *testing.T) {
	data := randomBytes(t, 8<<20)
	st := newMemStore()
	st.put("k", data, time.Now())
	obj, _ := st.Head(context.Background(), "k")
	dst := filepath.Join(t.TempDir(), "k.part")
	opts := DownloadOptions{Concurrency: 1, PartSize: 1 << 20, Retries: 1, Backoff: time.Millisecond}

	// First run: after three parts the credentials stop working (a
	// permanent error), so the run fails with three parts on disk.
	st.denyAfterOpens = 3
	if _, err := Download(context.Background(), st, obj, dst, opts); err == nil {
		t.Fatal("first run should fail")
	}
	if _, err := os.Stat(dst + ".state"); err != nil {
		t.Fatalf("no state file after the failed run: %v", err)
	}
	st.denyAfterOpens = 0
	st.bytesServed = 0
	res, err := Download(context.Background(), st, obj, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if !bytes.Equal(got, data) {
		t.Fatal("resumed download differs")
	}
	if res.ResumedBytes != 3<<20 || st.bytesServed != 5<<20 {
		t.Fatalf("resumed %d bytes and fetched %d, want 3 MiB on disk and 5 MiB fetched", res.ResumedBytes, st.bytesServed)
	}
}

func TestDownloadInterruptedByCancelKeepsParts(t *testing.T) {
	data := randomBytes(t, 4<<20)
	st := newMemStore()
	st.put("k", data, time.Now())
	obj, _ := st.Head(context.Background(), "k")
	dst := filepath.Join(t.TempDir(), "k.part")
	ctx, cancel := context.WithCancel(context.Background())
	st.onOpen = func(n int) {
		if n == 3 {
			cancel()
		}
	}
	_, err := Download(ctx, st, obj, dst, DownloadOptions{Concurrency: 1, PartSize: 1 << 20})
	if err == nil || !errors.Is(err, context.Canceled) || !strings.Contains(err.Error(), "resumes") {
		t.Fatalf("got %v, want an interruption that says the next run resumes", err)
	}
	st.onOpen = nil
	res, err := Download(context.Background(), st, obj, dst, DownloadOptions{Concurrency: 1, PartSize: 1 << 20})
	if err != nil || res.ResumedBytes < 2<<20 {
		t.Fatalf("resume after cancel: %+v %v", res, err)
	}
}

func TestDownloadStartsOverWhenObjectChanged(t *testing.T) {
	st := newMemStore()
	st.put("k", randomBytes(t, 3<<20), time.Now())
	obj, _ := st.Head(context.Background(), "k")
	dst := filepath.Join(t.TempDir(), "k.part")
	opts := DownloadOptions{Concurrency: 2, PartSize: 1 << 20}
	if _, err := Download(context.Background(), st, obj, dst, opts); err != nil {
		t.Fatal(err)
	}
	data2 := randomBytes(t, 3<<20)
	st.put("k", data2, time.Now())
	obj2, _ := st.Head(context.Background(), "k")
	res, err := Download(context.Background(), st, obj2, dst, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(dst)
	if res.ResumedBytes != 0 || !bytes.Equal(got, data2) {
		t.Fatalf("changed object: resumed %d bytes, content equal=%v", res.ResumedBytes, bytes.Equal(got, data2))
	}
}

func TestDownloadGivesUpOnPersistentFailure(t *testing.T) {
	st := newMemStore()
	st.put("k", randomBytes(t, 2<<20), time.Now())
	obj, _ := st.Head(context.Background(), "k")
	st.failOpens = 100
	_, err := Download(context.Background(), st, obj, filepath.Join(t.TempDir(), "p"), DownloadOptions{Concurrency: 1, PartSize: 1 << 20, Retries: 2, Backoff: time.Millisecond})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("failed 3 times")) {
		t.Fatalf("got %v", err)
	}
}

// TestPartialFilesAreNotFollowed (issue 8, item 6): a symbolic link at the
// path of a download or of its unpacked dump must not make a root process
// write through it.
func TestPartialFilesAreNotFollowed(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	st := newMemStore()
	st.put("k", randomBytes(t, 3<<20), time.Now())
	obj, _ := st.Head(context.Background(), "k")
	part := filepath.Join(dir, "k.part")
	os.Symlink(victim, part)
	// A resumable download of this very object, as an interrupted run leaves.
	fsutil.WriteJSONAtomic(part+".state", downloadState{Key: obj.Key, ETag: obj.ETag, Size: obj.Size, PartSize: 1 << 20, Done: []int{0}}, 0o600)
	if _, err := Download(context.Background(), st, obj, part, DownloadOptions{PartSize: 1 << 20}); !errors.Is(err, fsutil.ErrUnsafePath) {
		t.Fatalf("download to a symlink: %v, want ErrUnsafePath", err)
	}
	gz := filepath.Join(dir, "k.gz")
	os.WriteFile(gz, gzipOf(dumptest.New(16).Encode()), 0o600)
	unpack := filepath.Join(dir, "k.unpack")
	os.Symlink(victim, unpack)
	if _, err := Unpack(context.Background(), gz, unpack, WrapGzip, Expect{}, Limits{}); !errors.Is(err, fsutil.ErrUnsafePath) {
		t.Fatalf("unpack to a symlink: %v, want ErrUnsafePath", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the symlinks' target was written: %q", b)
	}
}
