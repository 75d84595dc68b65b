package archive

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/lifeboat-dr/lifeboat/failover/bandwidth"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// ErrDiskFull is returned when the download or the unpacked archive does
// not fit on the disk.
var ErrDiskFull = errors.New("not enough disk space")

// DownloadOptions tune Download.
type DownloadOptions struct {
	// Concurrency is the number of parts fetched at once.
	Concurrency int
	// PartSize is the size of each ranged GET.
	PartSize int64
	// Retries is how often a failed part is tried again (resuming within
	// the part from the last byte written).
	Retries int
	// Limiter caps the total rate; nil means unlimited.
	Limiter *bandwidth.Limiter
	// StallTimeout aborts (and retries) a part that receives no byte for
	// this long. Default one minute.
	StallTimeout time.Duration
	// Progress, when set, is advanced by every byte written.
	Progress *atomic.Int64
	// Backoff is the first retry delay, doubled each time. Default 500ms.
	Backoff time.Duration
	// OnStart, when set, is called once the object to transfer is known.
	OnStart func(Object)
	// Follow, when set, is told which parts are on disk as they land, so
	// that a reader can verify the object while it downloads.
	Follow *Follower
	// PartMD5 computes the MD5 of every part as it arrives (in parallel,
	// in the download workers): with parts the size of the upload's, they
	// give a multipart ETag without a second pass.
	PartMD5 bool
	// KeepFree is the room the download must leave on the file system
	// (cache.min_free); checked before the space is reserved.
	KeepFree FreeSpace
	Log      *slog.Logger
}

// DownloadResult says what a Download did.
type DownloadResult struct {
	Parts int `json:"parts"`
	// ResumedBytes were already on disk from an interrupted run.
	ResumedBytes int64 `json:"resumed_bytes"`
	// FetchedBytes were transferred by this run.
	FetchedBytes int64 `json:"fetched_bytes"`
	// Retries counts part attempts that failed and were retried.
	Retries int `json:"retries"`
	// PartMD5 are the parts' MD5 digests in order (with DownloadOptions.PartMD5).
	PartMD5 [][]byte `json:"-"`
}

// downloadState is persisted next to a partial download so that an
// interrupted download resumes with the parts already on disk. A part is
// only recorded after the data file was fsynced.
type downloadState struct {
	Key      string `json:"key"`
	ETag     string `json:"etag"`
	Size     int64  `json:"size"`
	PartSize int64  `json:"part_size"`
	Done     []int  `json:"done"`
	// MD5 of each done part, hex, when part MD5s are computed.
	MD5 map[int]string `json:"md5,omitempty"`
}

// Download fetches obj into the file dst with parallel ranged GETs, each
// pinned to obj's version (Store.OpenVersion). dst and dst+".state" are
// kept when it fails so that the next call resumes; they are discarded
// when the object changed in between (other ETag or size). On success dst
// holds the object's bytes (not yet verified). Errors wrap the Store's
// errors, ErrChanged when the object was overwritten during the download,
// ErrDiskFull, fsutil.ErrUnsafePath when dst is a symbolic link, or the
// context's.
func Download(ctx context.Context, st Store, obj Object, dst string, o DownloadOptions) (DownloadResult, error) {
	res, err := download(ctx, st, obj, dst, o)
	if err != nil && o.Follow != nil {
		o.Follow.Fail(err)
	}
	return res, err
}

func download(ctx context.Context, st Store, obj Object, dst string, o DownloadOptions) (DownloadResult, error) {
	if o.Concurrency < 1 {
		o.Concurrency = 4
	}
	if o.PartSize < 1 {
		o.PartSize = 16 << 20
	}
	if o.StallTimeout <= 0 {
		o.StallTimeout = time.Minute
	}
	if o.Backoff <= 0 {
		o.Backoff = 500 * time.Millisecond
	}
	if o.Log == nil {
		o.Log = slog.New(slog.DiscardHandler)
	}
	nparts := int((obj.Size + o.PartSize - 1) / o.PartSize)
	res := DownloadResult{Parts: nparts}
	statePath := dst + ".state"

	var state downloadState
	if err := fsutil.ReadJSON(statePath, &state); err != nil || state.Key != obj.Key || state.ETag != obj.ETag ||
		state.Size != obj.Size || state.PartSize != o.PartSize {
		if err == nil {
			o.Log.Info("discarding partial download of another version", "key", obj.Key)
		}
		os.Remove(dst)
		state = downloadState{Key: obj.Key, ETag: obj.ETag, Size: obj.Size, PartSize: o.PartSize}
	}
	f, err := fsutil.OpenNoFollow(dst, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return res, fmt.Errorf("download %s: %w", obj.Key, err)
	}
	defer f.Close()
	if err := checkFree(filepath.Dir(dst), obj.Size-allocated(f), o.KeepFree,
		fmt.Sprintf("downloading %s (%s)", obj.Key, humanBytes(obj.Size))); err != nil {
		return res, err
	}
	if err := preallocate(f, obj.Size); err != nil {
		return res, err
	}

	done := make([]bool, nparts)
	for _, i := range state.Done {
		if i >= 0 && i < nparts {
			done[i] = true
		}
	}
	var todo []int
	for i := range nparts {
		if done[i] {
			res.ResumedBytes += partLen(i, o.PartSize, obj.Size)
		} else {
			todo = append(todo, i)
		}
	}
	if o.Progress != nil {
		o.Progress.Add(res.ResumedBytes)
	}
	if o.OnStart != nil {
		o.OnStart(obj)
	}
	if o.Follow != nil {
		o.Follow.start(obj.Size, o.PartSize, done)
	}
	if res.ResumedBytes > 0 {
		o.Log.Info("resuming download", "key", obj.Key, "on_disk", res.ResumedBytes, "parts_left", len(todo))
	}

	if state.MD5 == nil {
		state.MD5 = map[int]string{}
	}
	digests := maps.Clone(state.MD5) // written by the workers, under mu
	var (
		mu        sync.Mutex
		completed []int // finished since the last state save
		fetched   atomic.Int64
		retries   atomic.Int64
	)
	save := func() error {
		mu.Lock()
		batch := completed
		completed = nil
		state.MD5 = maps.Clone(digests)
		mu.Unlock()
		if len(batch) == 0 {
			return nil
		}
		// Only parts whose bytes are on stable storage are recorded.
		if err := f.Sync(); err != nil {
			return diskErr(dst, err)
		}
		state.Done = append(state.Done, batch...)
		sort.Ints(state.Done)
		return fsutil.WriteJSONAtomic(statePath, state, 0o600)
	}

	parent := ctx
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	jobs := make(chan int)
	errc := make(chan error, o.Concurrency)
	var wg sync.WaitGroup
	for range min(o.Concurrency, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				n, r, sum, err := fetchPart(ctx, st, obj, f, i, o)
				fetched.Add(n)
				retries.Add(int64(r))
				if err != nil {
					errc <- err
					cancel()
					return
				}
				mu.Lock()
				completed = append(completed, i)
				if sum != nil {
					digests[i] = hex.EncodeToString(sum)
				}
				mu.Unlock()
				if o.Follow != nil {
					o.Follow.part(i)
				}
			}
		}()
	}
	saverDone := make(chan struct{})
	var saveErr error
	go func() {
		defer close(saverDone)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				if err := save(); err != nil {
					saveErr = err
					cancel()
					return
				}
			}
		}
	}()
feed:
	for _, i := range todo {
		select {
		case jobs <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	cancel()
	<-saverDone
	res.FetchedBytes, res.Retries = fetched.Load(), int(retries.Load())
	// Record what finished even when failing, so the next run resumes.
	finalErr := save()
	if err := parent.Err(); err != nil {
		return res, fmt.Errorf("download of %s interrupted (%d of %d parts on disk, the next run resumes): %w",
			obj.Key, len(state.Done), nparts, err)
	}
	var partErr error
	select {
	case partErr = <-errc:
	default:
	}
	switch {
	case partErr != nil:
		return res, partErr
	case saveErr != nil:
		return res, saveErr
	case finalErr != nil:
		return res, finalErr
	}
	if len(state.Done) != nparts {
		return res, fmt.Errorf("download %s: only %d of %d parts done", obj.Key, len(state.Done), nparts)
	}
	if o.PartMD5 {
		// Parts done by an earlier run without a recorded digest are hashed
		// from the disk.
		for i := range nparts {
			d, err := hex.DecodeString(state.MD5[i])
			if err != nil || len(d) != md5.Size {
				d, err = hashPart(f, i, o.PartSize, obj.Size)
				if err != nil {
					return res, err
				}
			}
			res.PartMD5 = append(res.PartMD5, d)
		}
	}
	return res, nil
}

// DiscardPartial removes a partial download and its state.
func DiscardPartial(dst string) {
	os.Remove(dst)
	os.Remove(dst + ".state")
}

func hashPart(f *os.File, i int, partSize, size int64) ([]byte, error) {
	h := md5.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, int64(i)*partSize, partLen(i, partSize, size))); err != nil {
		return nil, fmt.Errorf("hash part %d: %w", i, err)
	}
	return h.Sum(nil), nil
}

func partLen(i int, partSize, size int64) int64 {
	off := int64(i) * partSize
	return min(partSize, size-off)
}

// fetchPart fetches part i, retrying from the last byte written. It returns
// the bytes written and the number of failed attempts.
func fetchPart(ctx context.Context, st Store, obj Object, f *os.File, i int, o DownloadOptions) (int64, int, []byte, error) {
	off := int64(i) * o.PartSize
	n := partLen(i, o.PartSize, obj.Size)
	var got int64
	fails := 0
	delay := o.Backoff
	// A retry goes on from the last byte written, so the bytes reach the
	// hash in order.
	var h hash.Hash
	if o.PartMD5 {
		h = md5.New()
	}
	digest := func() []byte {
		if h == nil {
			return nil
		}
		return h.Sum(nil)
	}
	for {
		if err := ctx.Err(); err != nil {
			return got, fails, nil, err
		}
		rc, err := st.OpenVersion(ctx, obj, off+got, n-got)
		if err == nil {
			var w int64
			w, err = copyAt(ctx, f, off+got, rc, n-got, o, h)
			rc.Close()
			got += w
			if err == nil && got < n {
				err = fmt.Errorf("short body: %w", io.ErrUnexpectedEOF)
			}
		}
		if got == n {
			return got, fails, digest(), nil
		}
		if errors.Is(err, ErrDiskFull) || errors.Is(err, ErrNotFound) || errors.Is(err, ErrDenied) ||
			errors.Is(err, ErrArchived) || errors.Is(err, ErrNoBucket) || errors.Is(err, ErrChanged) || ctx.Err() != nil {
			return got, fails, nil, err
		}
		fails++
		if fails > o.Retries {
			return got, fails, nil, fmt.Errorf("download %s: part %d (bytes %d-%d) failed %d times, last: %w",
				obj.Key, i, off, off+n-1, fails, err)
		}
		o.Log.Warn("part failed, retrying", "key", obj.Key, "part", i, "attempt", fails, "err", err)
		select {
		case <-time.After(delay):
		case <-ctx.Done():
			return got, fails, nil, ctx.Err()
		}
		delay = min(delay*2, 30*time.Second)
	}
}

// copyAt copies up to n bytes from r to f at off, through the bandwidth
// limiter, aborting when no byte arrives for o.StallTimeout.
func copyAt(ctx context.Context, f *os.File, off int64, r io.ReadCloser, n int64, o DownloadOptions, h hash.Hash) (int64, error) {
	stalled := atomic.Bool{}
	watchdog := time.AfterFunc(o.StallTimeout, func() { stalled.Store(true); r.Close() })
	defer watchdog.Stop()
	src := o.Limiter.Reader(ctx, io.LimitReader(r, n))
	buf := make([]byte, 256<<10)
	var written int64
	for {
		nr, rerr := src.Read(buf)
		if nr > 0 {
			watchdog.Reset(o.StallTimeout)
			nw, werr := f.WriteAt(buf[:nr], off+written)
			written += int64(nw)
			if h != nil {
				h.Write(buf[:nw])
			}
			if o.Progress != nil {
				o.Progress.Add(int64(nw))
			}
			if werr != nil {
				return written, diskErr(f.Name(), werr)
			}
		}
		if rerr == io.EOF {
			return written, nil
		}
		if rerr != nil {
			if stalled.Load() {
				return written, fmt.Errorf("no data for %v: %w", o.StallTimeout, rerr)
			}
			return written, rerr
		}
	}
}

// allocated returns the bytes of disk f already takes (a partial download
// reserved by an earlier run).
func allocated(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return sys.Blocks * 512
	}
	return st.Size()
}

// preallocate reserves the whole object on disk, so that a full disk is
// reported before the transfer rather than in the middle of it.
func preallocate(f *os.File, size int64) error {
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if size == 0 || st.Size() >= size {
		return nil
	}
	err = unix.Fallocate(int(f.Fd()), 0, 0, size)
	if errors.Is(err, unix.EOPNOTSUPP) || errors.Is(err, unix.ENOSYS) {
		err = f.Truncate(size)
	}
	if err != nil {
		return diskErr(f.Name(), err)
	}
	return nil
}

func diskErr(path string, err error) error {
	if errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EDQUOT) {
		return fmt.Errorf("%w for %s: free some space (or point cache.dir elsewhere) and run again; the parts already downloaded are kept: %v",
			ErrDiskFull, path, err)
	}
	return fmt.Errorf("write %s: %w", path, err)
}
