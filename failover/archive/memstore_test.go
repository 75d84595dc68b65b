package archive

import (
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// memStore is an in-memory Store for fast tests and for the faults a real
// server does not produce on demand: dropped connections, truncated
// bodies, stalls, outages, Glacier.
type memStore struct {
	mu    sync.Mutex
	objs  map[string]*memObj
	opens int
	// bytesServed counts body bytes handed out by Open.
	bytesServed int64
	// unreachable makes every call fail like an outage.
	unreachable bool
	// dropAfter > 0 cuts every body after this many bytes, faults times.
	dropAfter int64
	faults    int
	// failOpens makes the next N Open calls fail like a 500.
	failOpens int
	// denyAfterOpens > 0 makes every Open after that many fail with ErrDenied.
	denyAfterOpens int
	// onOpen is called (unlocked) with the number of the Open call.
	onOpen func(n int)
	// restoreAfter is how many Head calls a requested restore takes.
	restoreAfter int
	restores     int
}

type memObj struct {
	data         []byte
	lastModified time.Time
	class        string
	etag         string
	sha256       string
	restore      string
	heads        int
}

func newMemStore() *memStore { return &memStore{objs: map[string]*memObj{}} }

func (m *memStore) put(key string, data []byte, lm time.Time) *memObj {
	m.mu.Lock()
	defer m.mu.Unlock()
	sum := md5.Sum(data)
	sh := sha256.Sum256(data)
	o := &memObj{data: data, lastModified: lm, class: "STANDARD", etag: fmt.Sprintf("%x", sum), sha256: base64.StdEncoding.EncodeToString(sh[:])}
	m.objs[key] = o
	return o
}

func (m *memStore) String() string { return "mem://bucket/" }

func (m *memStore) List(ctx context.Context, prefix string) ([]Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unreachable {
		return nil, fmt.Errorf("list: %w: dial tcp: connection refused", ErrUnreachable)
	}
	var out []Object
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			out = append(out, Object{Key: k, Size: int64(len(o.data)), LastModified: o.lastModified, ETag: o.etag, StorageClass: o.class})
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out, nil
}

func (m *memStore) Head(ctx context.Context, key string) (Object, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.unreachable {
		return Object{}, fmt.Errorf("head: %w", ErrUnreachable)
	}
	o, ok := m.objs[key]
	if !ok {
		return Object{}, fmt.Errorf("head %s: %w", key, ErrNotFound)
	}
	o.heads++
	if o.restore == "in-progress" && o.heads >= m.restoreAfter {
		o.restore = "restored"
	}
	return Object{Key: key, Size: int64(len(o.data)), LastModified: o.lastModified, ETag: o.etag, StorageClass: o.class,
		ChecksumSHA256: o.sha256, ChecksumType: "FULL_OBJECT", Restore: o.restore}, nil
}

func (m *memStore) Open(ctx context.Context, key string, off, n int64) (io.ReadCloser, error) {
	return m.open(ctx, key, "", off, n)
}

// OpenVersion serves only the version with the ETag obj names, like S3's
// If-Match.
func (m *memStore) OpenVersion(ctx context.Context, obj Object, off, n int64) (io.ReadCloser, error) {
	return m.open(ctx, obj.Key, obj.ETag, off, n)
}

func (m *memStore) open(ctx context.Context, key, ifMatch string, off, n int64) (io.ReadCloser, error) {
	m.mu.Lock()
	m.opens++
	count, hook := m.opens, m.onOpen
	m.mu.Unlock()
	if hook != nil {
		hook(count)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.denyAfterOpens > 0 && m.opens > m.denyAfterOpens {
		return nil, fmt.Errorf("get: %w", ErrDenied)
	}
	if m.unreachable {
		return nil, fmt.Errorf("get: %w", ErrUnreachable)
	}
	if m.failOpens > 0 {
		m.failOpens--
		return nil, fmt.Errorf("get: %w: the service answered 500 after retries", ErrUnreachable)
	}
	o, ok := m.objs[key]
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	if ifMatch != "" && o.etag != ifMatch {
		return nil, fmt.Errorf("get %s: %w (412 Precondition Failed)", key, ErrChanged)
	}
	if (o.class == "GLACIER" || o.class == "DEEP_ARCHIVE") && o.restore != "restored" {
		return nil, fmt.Errorf("get %s: %w", key, ErrArchived)
	}
	end := int64(len(o.data))
	if n >= 0 && off+n < end {
		end = off + n
	}
	if off > end {
		off = end
	}
	body := o.data[off:end]
	var r io.Reader = bytes.NewReader(body)
	if m.dropAfter > 0 && m.faults > 0 && int64(len(body)) > m.dropAfter {
		m.faults--
		r = io.MultiReader(bytes.NewReader(body[:m.dropAfter]), errReader{io.ErrUnexpectedEOF})
	}
	return &countingBody{r: r, m: m}, nil
}

func (m *memStore) RequestRestore(ctx context.Context, key, tier string, days int) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.restores++
	if o, ok := m.objs[key]; ok && o.restore == "" {
		o.restore = "in-progress"
		o.heads = 0
	}
	return nil
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

type countingBody struct {
	r io.Reader
	m *memStore
}

func (c *countingBody) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.m.mu.Lock()
	c.m.bytesServed += int64(n)
	c.m.mu.Unlock()
	return n, err
}

func (c *countingBody) Close() error { return nil }
