package archive

import (
	"context"
	"errors"
	"io"
	"os"
	"sync"
)

// Follower lets the verification read a download while it is in progress:
// it hands out the object's bytes as far as the parts written so far form
// an unbroken prefix, so that verifying costs the longer of the transfer
// and the verification, not both added up.
type Follower struct {
	mu       sync.Mutex
	cond     *sync.Cond
	ready    bool
	size     int64
	partSize int64
	done     []bool
	next     int   // first part not yet in the prefix
	prefix   int64 // bytes [0, prefix) are on disk
	err      error // why the download stopped, once it failed
}

// NewFollower returns a Follower to pass to Download (DownloadOptions.Follow).
func NewFollower() *Follower {
	f := &Follower{}
	f.cond = sync.NewCond(&f.mu)
	return f
}

// start is called by Download once it knows the object and the parts on disk.
func (f *Follower) start(size, partSize int64, done []bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.size, f.partSize, f.ready = size, partSize, true
	f.done = append([]bool(nil), done...)
	f.advance()
	f.cond.Broadcast()
}

// part records that part i is written.
func (f *Follower) part(i int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if i < len(f.done) {
		f.done[i] = true
	}
	f.advance()
	f.cond.Broadcast()
}

func (f *Follower) advance() {
	for f.next < len(f.done) && f.done[f.next] {
		f.prefix += partLen(f.next, f.partSize, f.size)
		f.next++
	}
}

// Fail ends the wait of readers: the download stopped with err.
func (f *Follower) Fail(err error) {
	if err == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.err == nil {
		f.err = err
	}
	f.cond.Broadcast()
}

// ErrDownloadStopped is returned by a follow reader when the download it
// follows failed before delivering the bytes asked for.
var ErrDownloadStopped = errors.New("the download stopped")

// Reader reads the file at path as the download writes it, to its end.
func (f *Follower) Reader(ctx context.Context, path string) io.ReadCloser {
	r := &followReader{f: f, path: path}
	stop := context.AfterFunc(ctx, func() { f.Fail(ctx.Err()) })
	r.stop = stop
	return r
}

type followReader struct {
	f    *Follower
	path string
	stop func() bool
	// mu guards the file: Close may come from another goroutine than a
	// Read (the unpack reads ahead in one of its own).
	mu     sync.Mutex
	file   *os.File
	closed bool
	off    int64
}

func (r *followReader) Read(p []byte) (int, error) {
	f := r.f
	f.mu.Lock()
	for !f.ready && f.err == nil || f.ready && r.off >= f.prefix && r.off < f.size && f.err == nil {
		f.cond.Wait()
	}
	if f.ready && r.off >= f.size {
		f.mu.Unlock()
		return 0, io.EOF
	}
	if !f.ready || r.off >= f.prefix {
		err := f.err
		f.mu.Unlock()
		return 0, errors.Join(ErrDownloadStopped, err)
	}
	avail := f.prefix - r.off
	f.mu.Unlock()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return 0, os.ErrClosed
	}
	if r.file == nil {
		file, err := os.Open(r.path)
		if err != nil {
			return 0, err
		}
		r.file = file
	}
	if int64(len(p)) > avail {
		p = p[:avail]
	}
	n, err := r.file.ReadAt(p, r.off)
	r.off += int64(n)
	if err == io.EOF && n > 0 {
		err = nil
	}
	return n, err
}

func (r *followReader) Close() error {
	r.stop()
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closed = true
	if r.file != nil {
		return r.file.Close()
	}
	return nil
}
