package mirror

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// twoServers starts the source MinIO (bucket "backups") and the mirror
// (bucket "mirror"), and a Mirror between them with 5 MiB parts.
func twoServers(t *testing.T) (src, dst *testenv.S3, st *s3store.Store, m *Mirror) {
	t.Helper()
	src = testenv.StartS3(t)
	src.CreateBucket(t, "backups")
	dst = testenv.StartS3(t)
	dst.CreateBucket(t, "mirror")
	st, err := s3store.New(t.Context(), s3store.Options{Bucket: "backups", Endpoint: src.Endpoint, PathStyle: true, Region: src.Region,
		CredentialsFile: src.WriteCredentialsFile(t, t.TempDir()), Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	m = &Mirror{Source: st, Dest: dst.Client, Bucket: "mirror", Name: "test mirror", PartSize: 5 << 20,
		LedgerPath: filepath.Join(t.TempDir(), "mirror.json")}
	return src, dst, st, m
}

func verified(t *testing.T, st *s3store.Store, key string, body []byte) archive.Entry {
	t.Helper()
	obj, err := st.Head(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	return archive.Entry{Manifest: archive.Manifest{Key: key, ETag: obj.ETag, ObjectSize: obj.Size, ObjectSHA256: hex.EncodeToString(sum[:]),
		CapturedAt: obj.LastModified, FetchedAt: time.Now().UTC()}}
}

// TestMirrorStoppedMidCopyCatchesUp: the mirror (a second MinIO) is
// stopped after the first part of a multipart copy; the archive stays
// pending, nothing half-written is visible there; the next Sync, with the
// mirror back, copies it byte for byte under the same key.
func TestMirrorStoppedMidCopyCatchesUp(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst, st, m := twoServers(t)

	body := make([]byte, 12<<20)
	rand.Read(body)
	key := "backups/shop/DATABASE_URL/2026-01-05_03-00_UTC__shop_DATABASE_URL.dump.gz"
	src.Put(t, "backups", key, body)
	small := "backups/shop/DATABASE_URL/2026-01-04_03-00_UTC__shop_DATABASE_URL.dump.gz"
	src.Put(t, "backups", small, []byte("a small archive"))

	for _, e := range []archive.Entry{verified(t, st, small, []byte("a small archive")), verified(t, st, key, body)} {
		if err := m.Add(e); err != nil {
			t.Fatal(err)
		}
	}

	stopped := false
	m.afterPart = func(k string, part int) {
		if k == key && part == 1 && !stopped {
			stopped = true
			dst.Stop(t)
		}
	}
	res, err := m.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Copied) != 1 || res.Copied[0] != small || res.Failed[key] == "" || res.Pending != 1 {
		t.Fatalf("sync with the mirror stopped mid-copy: %+v", res)
	}
	dst.Start(t)
	if lacks, n, err := m.Lacks(ctx); err != nil || n != 2 || len(lacks) != 1 || lacks[0].Key != key || lacks[0].Why != "missing" {
		t.Fatalf("lacks after the failed run: %+v, %d, %v", lacks, n, err)
	}

	res, err = m.Sync(ctx)
	if err != nil || len(res.Copied) != 1 || res.Copied[0] != key || res.Pending != 0 || len(res.Failed) != 0 {
		t.Fatalf("catch-up sync: %+v %v", res, err)
	}
	if got := dst.Get(t, "mirror", key); !bytes.Equal(got, body) {
		t.Fatalf("the mirror holds %d different bytes", len(got))
	}
	if lacks, _, _ := m.Lacks(ctx); len(lacks) != 0 {
		t.Errorf("lacks after catch-up: %+v", lacks)
	}
	// Nothing left to do: a third run copies nothing.
	if res, _ := m.Sync(ctx); len(res.Copied)+len(res.Failed) != 0 {
		t.Errorf("third sync: %+v", res)
	}
	items, _ := m.Items()
	if items[1].Attempts != 2 || items[1].MirroredAt.IsZero() {
		t.Errorf("ledger: %+v", items[1])
	}
}

// TestMirrorRefusesOtherBytes: an object that is not the verified one
// (overwritten in the source since, or a wrong checksum) is never
// completed at the mirror.
func TestMirrorRefusesOtherBytes(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	src, dst, st, m := twoServers(t)

	src.Put(t, "backups", "a.dump", []byte("verified bytes"))
	e := verified(t, st, "a.dump", []byte("verified bytes"))
	e.ETag = "" // no pin: the hash alone must catch it
	e.ObjectSHA256 = strings.Repeat("0", 64)
	if _, err := m.Copy(ctx, Item{Key: e.Key, Size: e.ObjectSize, SHA256: e.ObjectSHA256}); !errors.Is(err, ErrMismatch) {
		t.Errorf("wrong checksum: %v", err)
	}
	e = verified(t, st, "a.dump", []byte("verified bytes"))
	src.Put(t, "backups", "a.dump", []byte("VERIFIED BYTES"))
	if _, err := m.Copy(ctx, Item{Key: e.Key, ETag: e.ETag, Size: e.ObjectSize, SHA256: e.ObjectSHA256}); err == nil {
		t.Error("an object overwritten since its verification was copied")
	}
	if _, err := dst.Client.HeadObject(ctx, headInput("mirror", "a.dump")); err == nil {
		t.Error("the mirror holds an object it must not")
	}
}

func headInput(bucket, key string) *s3.HeadObjectInput {
	return &s3.HeadObjectInput{Bucket: aws.String(bucket), Key: aws.String(key)}
}
