package main

import (
	"bytes"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awss3 "github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// startTestBucket starts the demo's S3 with bucket "bkt" and returns it and
// Lifeboat's own S3 client for it (the one fetch uses).
func startTestBucket(t *testing.T) (*testenv.S3, *s3store.Store) {
	t.Helper()
	srv, err := startBucketServer("demo-key")
	if err != nil {
		t.Fatal(err)
	}
	s3 := testenv.UseS3(t, srv.Endpoint, "demo-key", "demo-secret", srv)
	s3.CreateBucket(t, "bkt")
	return s3, newStore(t, s3, s3.WriteCredentialsFile(t, t.TempDir()))
}

func newStore(t *testing.T, s3 *testenv.S3, credentials string) *s3store.Store {
	t.Helper()
	st, err := s3store.New(t.Context(), s3store.Options{Bucket: "bkt", Region: s3.Region, Endpoint: s3.Endpoint, PathStyle: true,
		CredentialsFile: credentials, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// What Lifeboat's fetch needs from the demo's S3, through Lifeboat's own S3
// client: listing past the first page, HEAD with the SHA-256 checksum and
// the ETag, ranged GETs, the access key checked, an outage and a recovery.
func TestBucketServerServesWhatFetchNeeds(t *testing.T) {
	s3, st := startTestBucket(t)
	ctx := t.Context()

	const n = 1003 // ListObjectsV2 pages hold 1,000
	for i := range n {
		s3.Put(t, "bkt", fmt.Sprintf("backups/shop/%04d.sha256", i), []byte("x"))
	}
	body := []byte("PGDMP and then some archive bytes")
	s3.Put(t, "bkt", "backups/shop/newest.dump", body, testenv.WithSHA256Checksum())
	s3.Put(t, "bkt", "elsewhere/other.dump", body)

	objs, err := st.List(ctx, "backups/shop/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != n+1 {
		t.Fatalf("List: %d objects, want %d (pagination)", len(objs), n+1)
	}

	h, err := st.Head(ctx, "backups/shop/newest.dump")
	if err != nil {
		t.Fatal(err)
	}
	sum, md := sha256.Sum256(body), md5.Sum(body)
	if h.Size != int64(len(body)) || h.ChecksumSHA256 != base64.StdEncoding.EncodeToString(sum[:]) || h.ETag != hex.EncodeToString(md[:]) {
		t.Fatalf("Head: size %d, sha256 %q, etag %q", h.Size, h.ChecksumSHA256, h.ETag)
	}
	if h, _ := st.Head(ctx, "elsewhere/other.dump"); h.ChecksumSHA256 != "" {
		t.Errorf("an object uploaded without a checksum has one: %q", h.ChecksumSHA256)
	}
	if _, err := st.Head(ctx, "backups/shop/nope.dump"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("Head of a missing key: %v, want ErrNotFound", err)
	}

	rc, err := st.Open(ctx, "backups/shop/newest.dump", 6, 9)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "and then " {
		t.Fatalf("ranged GET: %q, %v", got, err)
	}
	// A download is pinned to the ETag it started with.
	if rc, err := st.OpenVersion(ctx, h, 0, 5); err != nil {
		t.Errorf("OpenVersion with the object's own ETag: %v", err)
	} else {
		rc.Close()
	}
	changed := h
	changed.ETag = hex.EncodeToString(make([]byte, 16))
	if _, err := st.OpenVersion(ctx, changed, 0, 5); !errors.Is(err, archive.ErrChanged) {
		t.Errorf("OpenVersion with another ETag: %v, want ErrChanged", err)
	}

	// A byte range carries no full-object checksum; the SDK's signing
	// headers were not stored as object metadata.
	out, err := s3.Client.GetObject(ctx, &awss3.GetObjectInput{Bucket: aws.String("bkt"), Key: aws.String("backups/shop/newest.dump"),
		Range: aws.String("bytes=0-4"), ChecksumMode: types.ChecksumModeEnabled})
	if err != nil {
		t.Fatal(err)
	}
	out.Body.Close()
	if out.ChecksumSHA256 != nil {
		t.Errorf("ranged GET returned the full object's checksum %q", *out.ChecksumSHA256)
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodHead, s3.Endpoint+"/bkt/backups/shop/newest.dump", nil)
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=demo-key/20260101/us-east-1/s3/aws4_request")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Nor, to a HEAD without x-amz-checksum-mode, the checksum; nor a version
	// id: the bucket is not versioned.
	for _, h := range []string{"X-Amz-Date", "X-Amz-Content-Sha256", "X-Amz-Sdk-Checksum-Algorithm", "X-Amz-Checksum-Sha256", "X-Amz-Version-Id"} {
		if v := resp.Header.Get(h); v != "" {
			t.Errorf("HEAD answered %s: %s", h, v)
		}
	}

	// An upload whose checksum does not match its body is refused.
	_, err = s3.Client.PutObject(ctx, &awss3.PutObjectInput{Bucket: aws.String("bkt"), Key: aws.String("backups/shop/bad.dump"),
		Body: bytesReader(body), ChecksumSHA256: aws.String(base64.StdEncoding.EncodeToString(make([]byte, 32)))})
	if err == nil {
		t.Error("an upload with a wrong x-amz-checksum-sha256 was accepted")
	}

	// Another access key is refused, as S3 would.
	other := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(other, []byte("[default]\naws_access_key_id = someone-else\naws_secret_access_key = x\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := newStore(t, s3, other).List(ctx, "backups/"); !errors.Is(err, archive.ErrDenied) {
		t.Errorf("List with another access key: %v, want ErrDenied", err)
	}

	// An outage, then the same objects again.
	s3.Stop(t)
	if _, err := st.List(ctx, "backups/shop/"); !errors.Is(err, archive.ErrUnreachable) {
		t.Errorf("List while stopped: %v, want ErrUnreachable", err)
	}
	s3.Start(t)
	if objs, err := st.List(ctx, "backups/shop/"); err != nil || len(objs) != n+1 {
		t.Errorf("List after a restart: %d objects, %v", len(objs), err)
	}
}

func bytesReader(b []byte) io.Reader { return bytes.NewReader(b) }
