package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// bucketServer is the demo's S3: gofakes3 (an S3 API over an in-memory
// backend) served from this process on 127.0.0.1. The demo plays the outside
// world, so it needs no MinIO (a quarter of an hour to build on two cores);
// the tests run against a real MinIO process.
//
// On top of gofakes3 it holds the line where Lifeboat relies on S3:
//
//   - requests must carry the demo's access key (AWS SigV4), so a wrong
//     credentials file fails as it would against S3 (the signature itself is
//     not recomputed);
//
//   - an upload's x-amz-checksum-sha256 must match its body (else BadDigest)
//     and is stored; HEAD and GET return it only when asked
//     (x-amz-checksum-mode: ENABLED) and not for a byte range, as S3 does;
//
//   - only object metadata is stored, not the request's signing headers;
//     objects carry no version id (the bucket is not versioned);
//
//   - a GET or HEAD with If-Match another ETag is refused (412), as Lifeboat
//     pins a download to the object it started with.
//
// Listing (ListObjectsV2 with pagination), ranged GETs, ETags (MD5 of a
// single-part upload) and deletes are gofakes3's.
type bucketServer struct {
	// Endpoint is "http://127.0.0.1:PORT".
	Endpoint  string
	accessKey string
	handler   http.Handler
	addr      string

	mu  sync.Mutex
	srv *http.Server // nil while stopped
}

// maxPutBytes bounds an upload's body, held in memory to check its checksum.
const maxPutBytes = 256 << 20

// startBucketServer serves an empty S3 on a free port of 127.0.0.1 that
// accepts requests signed with accessKey.
func startBucketServer(accessKey string) (*bucketServer, error) {
	fake := gofakes3.New(s3mem.New(), gofakes3.WithoutVersioning())
	b := &bucketServer{accessKey: accessKey, handler: fake.Server()}
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	b.addr = ln.Addr().String()
	b.Endpoint = "http://" + b.addr
	b.serve(ln)
	return b, nil
}

func (b *bucketServer) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(b.ServeHTTP), ReadHeaderTimeout: 10 * time.Second}
	b.mu.Lock()
	b.srv = srv
	b.mu.Unlock()
	go srv.Serve(ln)
}

// Stop closes the listener and every connection: requests are refused, as
// during an outage. The objects are kept for Start.
func (b *bucketServer) Stop() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv == nil {
		return nil
	}
	err := b.srv.Close()
	b.srv = nil
	return err
}

// Start serves the same objects on the same address again.
func (b *bucketServer) Start() error {
	b.mu.Lock()
	running := b.srv != nil
	b.mu.Unlock()
	if running {
		return errors.New("already serving")
	}
	ln, err := net.Listen("tcp4", b.addr)
	if err != nil {
		return err
	}
	b.serve(ln)
	return nil
}

func (b *bucketServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if key := accessKeyOf(r); key != b.accessKey {
		s3Error(w, http.StatusForbidden, "InvalidAccessKeyId",
			fmt.Sprintf("The AWS Access Key Id %q does not exist in our records.", key))
		return
	}
	_, _, isObject := strings.Cut(strings.TrimPrefix(r.URL.Path, "/"), "/")
	switch {
	case isObject && r.Method == http.MethodPut:
		if !b.checkUpload(w, r) {
			return
		}
	case isObject && (r.Method == http.MethodGet || r.Method == http.MethodHead):
		if !b.checkIfMatch(w, r) {
			return
		}
		hf := &headFilter{ResponseWriter: w,
			send: strings.EqualFold(r.Header.Get("X-Amz-Checksum-Mode"), "ENABLED") && r.Header.Get("Range") == ""}
		b.handler.ServeHTTP(hf, r)
		if !hf.wroteHeader { // gofakes3 answers a HEAD without writing
			hf.WriteHeader(http.StatusOK)
		}
		return
	}
	b.handler.ServeHTTP(w, r)
}

// checkUpload reads a PUT's body, checks its x-amz-checksum-sha256 and drops
// the headers gofakes3 would otherwise store as object metadata. It answers
// the request itself and returns false when the upload is refused.
func (b *bucketServer) checkUpload(w http.ResponseWriter, r *http.Request) bool {
	if strings.HasPrefix(r.Header.Get("X-Amz-Content-Sha256"), "STREAMING-") {
		s3Error(w, http.StatusNotImplemented, "NotImplemented", "aws-chunked uploads are not served by the demo's S3")
		return false
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxPutBytes+1))
	if err != nil {
		s3Error(w, http.StatusBadRequest, "IncompleteBody", err.Error())
		return false
	}
	if len(body) > maxPutBytes {
		s3Error(w, http.StatusBadRequest, "EntityTooLarge", fmt.Sprintf("the demo's S3 takes uploads of at most %d bytes", maxPutBytes))
		return false
	}
	if want := r.Header.Get("X-Amz-Checksum-Sha256"); want != "" {
		sum := sha256.Sum256(body)
		if got := base64.StdEncoding.EncodeToString(sum[:]); got != want {
			s3Error(w, http.StatusBadRequest, "BadDigest",
				fmt.Sprintf("The SHA256 you specified (%s) did not match the body's (%s).", want, got))
			return false
		}
	}
	for name := range r.Header {
		if !strings.HasPrefix(name, "X-Amz-") {
			continue
		}
		switch {
		case strings.HasPrefix(name, "X-Amz-Meta-"), name == "X-Amz-Checksum-Sha256", name == "X-Amz-Storage-Class",
			strings.HasPrefix(name, "X-Amz-Copy-Source"):
		default:
			r.Header.Del(name)
		}
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	return true
}

// checkIfMatch answers 412 Precondition Failed to a GET or HEAD whose
// If-Match names another ETag than the object's (gofakes3 checks If-Match on
// PUT only): Lifeboat pins a download to the ETag it started with. It
// answers the request itself and returns false then.
func (b *bucketServer) checkIfMatch(w http.ResponseWriter, r *http.Request) bool {
	want := r.Header.Get("If-Match")
	if want == "" {
		return true
	}
	hr := r.Clone(r.Context())
	hr.Method = http.MethodHead
	hr.Header.Del("If-Match")
	hr.Header.Del("Range")
	head := httptest.NewRecorder()
	b.handler.ServeHTTP(head, hr)
	if head.Code != http.StatusOK {
		return true // gofakes3 answers the missing object as it should
	}
	if etag := head.Header().Get("ETag"); want != "*" && strings.Trim(want, `"`) != strings.Trim(etag, `"`) {
		s3Error(w, http.StatusPreconditionFailed, "PreconditionFailed",
			"At least one of the pre-conditions you specified did not hold (If-Match "+want+", ETag "+etag+").")
		return false
	}
	r.Header.Del("If-Match") // checked: gofakes3 answers it 501 on a GET
	return true
}

// headFilter removes the stored checksum from a GET or HEAD response
// unless it is to be sent, and then says it covers the full object. It also
// removes the version id that gofakes3's memory backend gives every object:
// the bucket is not versioned, and S3 sends none then.
type headFilter struct {
	http.ResponseWriter
	send        bool
	wroteHeader bool
}

func (c *headFilter) WriteHeader(code int) {
	if !c.wroteHeader {
		c.wroteHeader = true
		h := c.Header()
		h.Del("X-Amz-Version-Id")
		if !c.send || h.Get("X-Amz-Checksum-Sha256") == "" {
			h.Del("X-Amz-Checksum-Sha256")
		} else {
			h.Set("X-Amz-Checksum-Type", "FULL_OBJECT")
		}
	}
	c.ResponseWriter.WriteHeader(code)
}

func (c *headFilter) Write(p []byte) (int, error) {
	if !c.wroteHeader {
		c.WriteHeader(http.StatusOK)
	}
	return c.ResponseWriter.Write(p)
}

// accessKeyOf returns the access key id a SigV4 request was signed with
// ("" when it is not signed).
func accessKeyOf(r *http.Request) string {
	auth := r.Header.Get("Authorization")
	_, cred, ok := strings.Cut(auth, "Credential=")
	if !ok {
		cred = r.URL.Query().Get("X-Amz-Credential") // a presigned URL
	}
	key, _, _ := strings.Cut(cred, "/")
	return key
}

func s3Error(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	xml.NewEncoder(w).Encode(struct {
		XMLName xml.Name `xml:"Error"`
		Code    string   `xml:"Code"`
		Message string   `xml:"Message"`
	}{Code: code, Message: msg})
}
