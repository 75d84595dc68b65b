package s3store

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// recorder is a reverse proxy in front of the real S3 server that records
// which S3 operation each request is, and can fail chosen ones.
type recorder struct {
	mu   sync.Mutex
	ops  []string
	fail func(op string, r *http.Request) bool
}

func operation(r *http.Request) string {
	q := r.URL.Query()
	switch {
	case r.Method == http.MethodPost && q.Has("uploads"):
		return "CreateMultipartUpload"
	case r.Method == http.MethodPut && q.Has("partNumber"):
		return "UploadPart"
	case r.Method == http.MethodPost && q.Has("uploadId"):
		return "CompleteMultipartUpload"
	case r.Method == http.MethodDelete && q.Has("uploadId"):
		return "AbortMultipartUpload"
	case r.Method == http.MethodPut:
		return "PutObject"
	case r.Method == http.MethodGet && q.Has("list-type"), r.Method == http.MethodGet && strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0:
		return "List"
	case r.Method == http.MethodGet:
		return "GetObject"
	case r.Method == http.MethodHead:
		return "HeadObject"
	case r.Method == http.MethodDelete:
		return "DeleteObject"
	}
	return r.Method + " " + r.URL.String()
}

func startRecorder(t *testing.T, s *testenv.S3) (*recorder, string) {
	target, _ := url.Parse(s.Endpoint)
	rec := &recorder{}
	proxy := httputil.NewSingleHostReverseProxy(target)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		op := operation(r)
		rec.mu.Lock()
		rec.ops = append(rec.ops, op)
		fail := rec.fail
		rec.mu.Unlock()
		if fail != nil && fail(op, r) {
			io.Copy(io.Discard, r.Body)
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusInternalServerError)
			fmt.Fprint(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>InternalError</Code><Message>injected</Message></Error>`)
			return
		}
		proxy.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return rec, srv.URL
}

func (r *recorder) distinct() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	var out []string
	for _, op := range r.ops {
		if !seen[op] {
			seen[op] = true
			out = append(out, op)
		}
	}
	sort.Strings(out)
	return out
}

func randomBytes(t *testing.T, n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// assertNothingLeft checks that key is not an object and that no
// multipart upload of it is pending.
func assertNothingLeft(t *testing.T, s *testenv.S3, bucket, key string) {
	t.Helper()
	ctx := context.Background()
	if _, err := s.Client.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}); err == nil {
		t.Fatalf("%s is visible after a failed upload", key)
	}
	ups, err := s.Client.ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket), Prefix: aws.String(key)})
	if err != nil {
		t.Fatal(err)
	}
	if len(ups.Uploads) != 0 {
		t.Fatalf("%d multipart uploads of %s were left pending (not aborted)", len(ups.Uploads), key)
	}
}

func TestUploadStreamParallelPartsChecksummedWriteOnly(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "drop")
	rec, endpoint := startRecorder(t, s)
	st := newStore(t, s, "drop", func(o *Options) { o.Endpoint = endpoint })
	data := randomBytes(t, 23<<20+12345) // 5 parts of 5MiB
	var progress []int64
	up, err := st.UploadStream(context.Background(), "p/a.dump", io.MultiReader(bytes.NewReader(data)), UploadOptions{
		PartSize: MinPartSize, Concurrency: 3, Progress: func(n int64) { progress = append(progress, n) },
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if up.Size != int64(len(data)) || up.Parts != 5 || up.SHA256 != hex.EncodeToString(sum[:]) {
		t.Fatalf("uploaded %+v, want %d bytes in 5 parts, sha256 %x", up, len(data), sum)
	}
	if len(progress) != 5 || progress[4] != int64(len(data)) {
		t.Fatalf("progress %v", progress)
	}
	if got := s.Get(t, "drop", "p/a.dump"); !bytes.Equal(got, data) {
		t.Fatalf("the stored object differs from the stream (%d bytes, want %d)", len(got), len(data))
	}
	h, err := s.Client.HeadObject(context.Background(), &s3.HeadObjectInput{Bucket: aws.String("drop"), Key: aws.String("p/a.dump"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(h.ChecksumSHA256) == "" || !strings.HasSuffix(aws.ToString(h.ChecksumSHA256), "-5") && h.ChecksumType != types.ChecksumTypeComposite {
		t.Fatalf("the object carries no composite SHA-256 (%q, %q): S3 did not verify the parts", aws.ToString(h.ChecksumSHA256), h.ChecksumType)
	}
	if err := st.PutSmall(context.Background(), "p/a.dump.sha256", []byte(up.SHA256+"  a.dump\n"), "text/plain"); err != nil {
		t.Fatal(err)
	}
	// A drop box: nothing but writes.
	got := strings.Join(rec.distinct(), ",")
	if got != "CompleteMultipartUpload,CreateMultipartUpload,PutObject,UploadPart" {
		t.Fatalf("the upload used %s; it may use only the PutObject family (no List, Get, Head, Delete)", got)
	}

	// The same key again is never overwritten where the server honours
	// If-None-Match.
	_, err = st.UploadStream(context.Background(), "p/a.dump", bytes.NewReader([]byte("other")), UploadOptions{})
	if up.NoOverwrite {
		if !errors.Is(err, ErrExists) {
			t.Fatalf("second upload to the same key: %v, want ErrExists", err)
		}
		if got := s.Get(t, "drop", "p/a.dump"); !bytes.Equal(got, data) {
			t.Fatal("the existing object was replaced")
		}
		assertNothingLeft(t, s, "drop", "p/a.dump.none")
	} else {
		t.Logf("this S3 server does not implement If-None-Match on CompleteMultipartUpload")
	}
	if err := st.PutSmall(context.Background(), "p/a.dump.sha256", []byte("x"), "text/plain"); up.NoOverwrite && !errors.Is(err, ErrExists) {
		t.Fatalf("sidecar overwritten: %v", err)
	}
}

// failingReader yields n bytes of data, then fails.
type failingReader struct {
	r   io.Reader
	err error
}

func (f *failingReader) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err == io.EOF {
		return n, f.err
	}
	return n, err
}

func TestUploadStreamFailuresLeaveNoObject(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "drop")
	rec, endpoint := startRecorder(t, s)
	st := newStore(t, s, "drop", func(o *Options) { o.Endpoint = endpoint })
	ctx := context.Background()

	t.Run("source fails mid-way", func(t *testing.T) {
		dumpErr := errors.New("pg_dump exited 1")
		r := &failingReader{r: bytes.NewReader(randomBytes(t, 12<<20)), err: dumpErr}
		_, err := st.UploadStream(ctx, "p/source.dump", r, UploadOptions{PartSize: MinPartSize, Concurrency: 2})
		if !errors.Is(err, dumpErr) {
			t.Fatalf("err = %v, want the source's error", err)
		}
		assertNothingLeft(t, s, "drop", "p/source.dump")
	})

	t.Run("S3 fails a part", func(t *testing.T) {
		rec.mu.Lock()
		rec.ops = nil
		rec.fail = func(op string, r *http.Request) bool {
			return op == "UploadPart" && r.URL.Query().Get("partNumber") == "3"
		}
		rec.mu.Unlock()
		_, err := st.UploadStream(ctx, "p/s3.dump", bytes.NewReader(randomBytes(t, 22<<20)), UploadOptions{PartSize: MinPartSize, Concurrency: 2})
		rec.mu.Lock()
		rec.fail = nil
		rec.mu.Unlock()
		if err == nil || !strings.Contains(err.Error(), "part 3") {
			t.Fatalf("err = %v, want part 3's failure", err)
		}
		if !strings.Contains(strings.Join(rec.distinct(), ","), "AbortMultipartUpload") {
			t.Fatalf("no abort was sent: %v", rec.distinct())
		}
		assertNothingLeft(t, s, "drop", "p/s3.dump")
	})

	t.Run("cancelled", func(t *testing.T) {
		cctx, cancel := context.WithCancel(ctx)
		pr, pw := io.Pipe()
		go func() {
			pw.Write(randomBytes(t, 7<<20))
			cancel()
			pw.Write(randomBytes(t, 1<<20))
			pw.Close()
		}()
		_, err := st.UploadStream(cctx, "p/cancel.dump", pr, UploadOptions{PartSize: MinPartSize})
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want context.Canceled", err)
		}
		assertNothingLeft(t, s, "drop", "p/cancel.dump")
	})

	t.Run("empty", func(t *testing.T) {
		rec.mu.Lock()
		rec.ops = nil
		rec.mu.Unlock()
		_, err := st.UploadStream(ctx, "p/empty.dump", bytes.NewReader(nil), UploadOptions{})
		if !errors.Is(err, ErrEmpty) {
			t.Fatalf("err = %v, want ErrEmpty", err)
		}
		if ops := rec.distinct(); len(ops) != 0 {
			t.Fatalf("an empty stream sent %v", ops)
		}
	})
}
