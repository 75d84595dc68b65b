package archive

import (
	"io"
	"sync"
)

// readAheadChunk and readAheadDepth bound what a readAhead holds: at most
// depth+2 chunks (those queued, the one being filled and the one being
// read), 5 MiB.
const (
	readAheadChunk = 1 << 20
	readAheadDepth = 3
)

// readAhead reads r in a goroutine of its own, a few chunks ahead of its
// reader, so that what reading r costs (hashing the object, inflating
// gzip) runs on another core than what its reader does with the bytes
// (inflating, hashing and writing the dump, walking the archive): the
// stages of an unpack become a pipeline. r's error (io.EOF included) is
// returned once the bytes before it are read. Close stops the goroutine;
// it must be called when the reader is done, however it ended. Writers fed
// by r (a TeeReader's hashes) are written by that goroutine: read them
// only after Read returned r's error, and counters read meanwhile must be
// atomic.
type readAhead struct {
	chunks chan []byte
	free   chan []byte
	stop   chan struct{}
	once   sync.Once
	err    error // r's error, set before chunks is closed
	cur    []byte
	buf    []byte // cur's whole buffer, returned to free once read
}

func newReadAhead(r io.Reader) *readAhead {
	ra := &readAhead{
		chunks: make(chan []byte, readAheadDepth),
		free:   make(chan []byte, readAheadDepth+2),
		stop:   make(chan struct{}),
	}
	for range readAheadDepth + 2 {
		ra.free <- make([]byte, readAheadChunk)
	}
	go ra.fill(r)
	return ra
}

func (ra *readAhead) fill(r io.Reader) {
	defer close(ra.chunks)
	for {
		var b []byte
		select {
		case b = <-ra.free:
		case <-ra.stop:
			return
		}
		n, err := io.ReadFull(r, b)
		if n > 0 {
			select {
			case ra.chunks <- b[:n]:
			case <-ra.stop:
				return
			}
		}
		if err != nil {
			if err == io.ErrUnexpectedEOF {
				err = io.EOF
			}
			ra.err = err
			return
		}
	}
}

func (ra *readAhead) Read(p []byte) (int, error) {
	if len(ra.cur) == 0 {
		if ra.buf != nil {
			ra.free <- ra.buf[:cap(ra.buf)]
			ra.buf = nil
		}
		b, ok := <-ra.chunks
		if !ok {
			return 0, ra.err
		}
		ra.cur, ra.buf = b, b
	}
	n := copy(p, ra.cur)
	ra.cur = ra.cur[n:]
	return n, nil
}

// Close tells the goroutine to stop; it returns at once. The goroutine
// ends once its current r.Read returns (the caller closes what r reads
// from, or cancels it).
func (ra *readAhead) Close() error {
	ra.once.Do(func() { close(ra.stop) })
	return nil
}
