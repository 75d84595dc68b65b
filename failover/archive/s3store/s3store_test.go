package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func newStore(t *testing.T, s *testenv.S3, bucket string, mod ...func(*Options)) *Store {
	t.Helper()
	o := Options{Bucket: bucket, Region: s.Region, Endpoint: s.Endpoint, PathStyle: true,
		CredentialsFile: s.WriteCredentialsFile(t, t.TempDir()), Timeout: 5 * time.Second, MaxConns: 4}
	for _, m := range mod {
		m(&o)
	}
	st, err := New(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

var (
	dumpOnce sync.Once
	dumpData []byte
)

func realDump(t *testing.T) []byte {
	testenv.RequirePostgres(t)
	dumpOnce.Do(func() {
		p := testenv.StartPostgres(t)
		testenv.LoadHerokuLike(t, p, "app", 500)
		dumpData = p.Dump(t, "app")
	})
	if dumpData == nil {
		t.Fatal("no fixture dump")
	}
	return dumpData
}

func TestListFollowsPaginationAndHeadReadsChecksums(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	// More than one page of 1,000 keys.
	const n = 1205
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := 0; i < n; i++ {
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			s.Put(t, "backups", fmt.Sprintf("p/old/%04d.txt", i), []byte("x"))
		}(i)
	}
	wg.Wait()
	key := "p/" + testenv.HerokuKey("app", "DATABASE_URL", time.Date(2024, 5, 1, 3, 0, 0, 0, time.UTC), "UTC", false)
	s.Put(t, "backups", key, realDump(t), testenv.WithSHA256Checksum())
	st := newStore(t, s, "backups")
	objs, err := st.List(context.Background(), "p/")
	if err != nil {
		t.Fatal(err)
	}
	if len(objs) != n+1 {
		t.Fatalf("listed %d objects, want %d", len(objs), n+1)
	}
	o, err := st.Head(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	if o.ChecksumSHA256 == "" || archive.DecodeS3SHA256(o.ChecksumSHA256) == nil || o.Size != int64(len(realDump(t))) {
		t.Fatalf("head: %+v", o)
	}
	rc, err := st.Open(context.Background(), key, 5, 10)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != string(realDump(t)[5:15]) {
		t.Fatalf("range read %q", b)
	}
}

func TestErrorsAreNamed(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	ctx := context.Background()

	if _, err := newStore(t, s, "nope").List(ctx, ""); !errors.Is(err, archive.ErrNoBucket) || !strings.Contains(err.Error(), "s3.bucket") {
		t.Errorf("missing bucket: %v", err)
	}
	if _, err := newStore(t, s, "backups").Head(ctx, "missing"); !errors.Is(err, archive.ErrNotFound) {
		t.Errorf("missing key: %v", err)
	}
	bad := filepath.Join(t.TempDir(), "creds")
	os.WriteFile(bad, []byte("[default]\naws_access_key_id = wrong\naws_secret_access_key = wrongwrongwrong\n"), 0o600)
	st := newStore(t, s, "backups", func(o *Options) { o.CredentialsFile = bad })
	if _, err := st.List(ctx, ""); !errors.Is(err, archive.ErrDenied) || !strings.Contains(err.Error(), "credentials") {
		t.Errorf("wrong credentials: %v", err)
	}
	// Nothing listens on this port: an outage, reported fast.
	port := testenv.FreePort(t)
	st = newStore(t, s, "backups", func(o *Options) { o.Endpoint = fmt.Sprintf("http://127.0.0.1:%d", port) })
	start := time.Now()
	if _, err := st.List(ctx, ""); !errors.Is(err, archive.ErrUnreachable) {
		t.Errorf("unreachable: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("outage took %v to report", d)
	}
	// The server goes away mid-session.
	st = newStore(t, s, "backups")
	s.Stop(t)
	if _, err := st.List(ctx, ""); !errors.Is(err, archive.ErrUnreachable) {
		t.Errorf("stopped server: %v", err)
	}
}

func TestWrongRegionNamesTheKey(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	st := newStore(t, s, "backups", func(o *Options) { o.Region = "eu-west-3" })
	_, err := st.List(context.Background(), "")
	if !errors.Is(err, archive.ErrWrongRegion) || !strings.Contains(err.Error(), "s3.region") {
		t.Fatalf("wrong region: %v", err)
	}
}

// A multipart upload without a checksum has an "md5-N" ETag: the fetch
// checks it from per-part MD5s, and the resumed and fresh paths agree.
func TestFetchChecksMultipartETag(t *testing.T) {
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	// A real archive big enough for several 5 MiB upload parts.
	p := testenv.StartPostgres(t)
	testenv.LoadHerokuLike(t, p, "big", 60000)
	big := p.Dump(t, "big", "-Z0")
	if len(big) < 11<<20 {
		t.Fatalf("fixture too small for three parts: %d", len(big))
	}
	path := filepath.Join(t.TempDir(), "big.dump")
	os.WriteFile(path, big, 0o600)
	key := "p/" + testenv.HerokuKey("app", "DATABASE_URL", time.Now().UTC(), "UTC", false)
	s.PutFile(t, "backups", key, path, testenv.WithPartSize(5<<20))
	st := newStore(t, s, "backups")
	o, err := st.Head(context.Background(), key)
	if err != nil || !strings.Contains(o.ETag, "-") {
		t.Fatalf("want a multipart ETag, got %+v %v", o, err)
	}
	f := &archive.Fetcher{Store: st, Cache: &archive.Cache{Dir: t.TempDir()}, Prefix: "p/", Keep: 1,
		Download: archive.DownloadOptions{Concurrency: 3, PartSize: 1 << 20}}
	res, err := f.Fetch(context.Background(), archive.FetchRequest{Key: key})
	if err != nil {
		t.Fatal(err)
	}
	// The download used the upload's 5 MiB parts, not its own 1 MiB ones.
	if want := (len(big) + 5<<20 - 1) / (5 << 20); !strings.Contains(strings.Join(res.Entry.Verified, ","), "etag-multipart") || res.Download.Parts != want {
		t.Fatalf("verified %v with %d download parts", res.Entry.Verified, res.Download.Parts)
	}
}

// With no credentials anywhere the SDK fails before sending anything: that
// is a credentials problem to fix, not an outage.
func TestNoCredentialsIsNotAnOutage(t *testing.T) {
	s := testenv.StartS3(t)
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true") // no instance-metadata request off this host
	st := newStore(t, s, "backups", func(o *Options) { o.CredentialsFile = "" })
	_, err := st.List(context.Background(), "")
	if !errors.Is(err, ErrNoCredentials) || !errors.Is(err, archive.ErrDenied) || errors.Is(err, archive.ErrUnreachable) ||
		!strings.Contains(err.Error(), "s3.credentials_file") || !strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") {
		t.Fatalf("got %v", err)
	}
	for _, sdk := range []string{"IMDS", "operation error", "access denied"} {
		if strings.Contains(err.Error(), sdk) {
			t.Errorf("%q in %v", sdk, err)
		}
	}
}

// TestOpenVersionPinsTheObject: a read pinned to what Head saw fails with
// ErrChanged once the object is overwritten; in a versioned bucket it goes
// on reading the version it started with.
func TestOpenVersionPinsTheObject(t *testing.T) {
	s := testenv.StartS3(t)
	for _, versioned := range []bool{false, true} {
		bucket := map[bool]string{false: "plain", true: "versioned"}[versioned]
		s.CreateBucket(t, bucket)
		if versioned {
			_, err := s.Client.PutBucketVersioning(context.Background(), &s3.PutBucketVersioningInput{
				Bucket:                  aws.String(bucket),
				VersioningConfiguration: &types.VersioningConfiguration{Status: types.BucketVersioningStatusEnabled},
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		st := newStore(t, s, bucket)
		s.Put(t, bucket, "k.dump", []byte("version one"))
		obj, err := st.Head(context.Background(), "k.dump")
		if err != nil {
			t.Fatal(err)
		}
		if (obj.VersionID != "") != versioned {
			t.Fatalf("%s bucket: version id %q", bucket, obj.VersionID)
		}
		s.Put(t, bucket, "k.dump", []byte("version two"))
		rc, err := st.OpenVersion(context.Background(), obj, 8, 3)
		if !versioned {
			if !errors.Is(err, archive.ErrChanged) {
				t.Fatalf("plain bucket, overwritten object: %v, want ErrChanged", err)
			}
			continue
		}
		if err != nil {
			t.Fatalf("versioned bucket: %v", err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		if string(b) != "one" {
			t.Fatalf("versioned bucket: read %q, want the first version's bytes", b)
		}
	}
}
