package testenv_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func TestS3PutGetWithSHA256Checksum(t *testing.T) {
	t.Parallel()
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")

	body := []byte("PGDMP pretend archive")
	s.Put(t, "backups", "with-sum.dump", body, testenv.WithSHA256Checksum())
	s.Put(t, "backups", "plain.dump", body)

	if got := s.Get(t, "backups", "with-sum.dump"); !bytes.Equal(got, body) {
		t.Fatalf("Get = %q, want %q", got, body)
	}
	head, err := s.Client.HeadObject(t.Context(), &s3.HeadObjectInput{
		Bucket:       aws.String("backups"),
		Key:          aws.String("with-sum.dump"),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(body)
	if want := base64.StdEncoding.EncodeToString(sum[:]); aws.ToString(head.ChecksumSHA256) != want {
		t.Errorf("ChecksumSHA256 = %q, want %q", aws.ToString(head.ChecksumSHA256), want)
	}

	head, err = s.Client.HeadObject(t.Context(), &s3.HeadObjectInput{
		Bucket:       aws.String("backups"),
		Key:          aws.String("plain.dump"),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if head.ChecksumSHA256 != nil || head.ChecksumCRC32 != nil || head.ChecksumCRC64NVME != nil {
		t.Errorf("plain Put: object carries a checksum (sha256 %v, crc32 %v, crc64nvme %v), want none",
			aws.ToString(head.ChecksumSHA256), aws.ToString(head.ChecksumCRC32), aws.ToString(head.ChecksumCRC64NVME))
	}
}

func TestS3PutFileMultipart(t *testing.T) {
	t.Parallel()
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")

	// 11 MiB in 5 MiB parts: 3 parts.
	data := bytes.Repeat([]byte("0123456789abcdef"), 11<<20/16)
	path := filepath.Join(t.TempDir(), "big.dump")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	s.PutFile(t, "backups", "big.dump", path, testenv.WithPartSize(5<<20), testenv.WithSHA256Checksum())
	s.PutFile(t, "backups", "small.dump", path) // below the default 16 MiB threshold: one PUT

	head, err := s.Client.HeadObject(t.Context(), &s3.HeadObjectInput{
		Bucket:       aws.String("backups"),
		Key:          aws.String("big.dump"),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); !strings.HasSuffix(etag, `-3"`) {
		t.Errorf("multipart ETag = %s, want one ending in -3", etag)
	}
	if sum := aws.ToString(head.ChecksumSHA256); !strings.HasSuffix(sum, "-3") {
		t.Errorf("multipart ChecksumSHA256 = %q, want a composite checksum ending in -3", sum)
	}
	if aws.ToInt64(head.ContentLength) != int64(len(data)) {
		t.Errorf("ContentLength = %d, want %d", aws.ToInt64(head.ContentLength), len(data))
	}
	if got := s.Get(t, "backups", "big.dump"); !bytes.Equal(got, data) {
		t.Error("big.dump: content differs")
	}

	head, err = s.Client.HeadObject(t.Context(), &s3.HeadObjectInput{Bucket: aws.String("backups"), Key: aws.String("small.dump")})
	if err != nil {
		t.Fatal(err)
	}
	if etag := aws.ToString(head.ETag); strings.Contains(etag, "-") {
		t.Errorf("single-part ETag = %s, want a plain MD5", etag)
	}
}

func TestS3StopStart(t *testing.T) {
	t.Parallel()
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	s.Put(t, "backups", "a", []byte("before the outage"))

	s.Stop(t)
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	_, err := s.Client.ListBuckets(ctx, &s3.ListBucketsInput{}, func(o *s3.Options) { o.RetryMaxAttempts = 1 })
	if err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("ListBuckets during the outage: err = %v, want connection refused", err)
	}

	s.Start(t)
	if got := s.Get(t, "backups", "a"); string(got) != "before the outage" {
		t.Fatalf("after restart: Get = %q", got)
	}
}

func TestS3StorageClass(t *testing.T) {
	t.Parallel()
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	s.Put(t, "backups", "rrs", []byte("x"), testenv.WithStorageClass("REDUCED_REDUNDANCY"))
	out, err := s.Client.ListObjectsV2(t.Context(), &s3.ListObjectsV2Input{Bucket: aws.String("backups")})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Contents) != 1 || out.Contents[0].StorageClass != types.ObjectStorageClassReducedRedundancy {
		t.Fatalf("listing: %+v", out.Contents)
	}
}

// The credentials file and Env work for the AWS CLI, which scripts use.
func TestS3CredentialsFileWithAWSCLI(t *testing.T) {
	t.Parallel()
	s := testenv.StartS3(t)
	s.CreateBucket(t, "backups")
	s.Put(t, "backups", "app/DATABASE_URL/x.dump", []byte("x"))

	dir := t.TempDir()
	path := s.WriteCredentialsFile(t, dir)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("credentials file mode = %v, want 0600", st.Mode().Perm())
	}

	aws, err := exec.LookPath("aws")
	if err != nil {
		testenv.Missing(t, "aws CLI not found: run scripts/test-deps.sh")
	}
	cmd := exec.Command(aws, "s3", "ls", "--recursive", "s3://backups/")
	// Keys only from the file: none of the caller's AWS_* variables.
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	cmd.Env = append(env,
		"AWS_SHARED_CREDENTIALS_FILE="+path,
		"AWS_CONFIG_FILE="+filepath.Join(dir, "no-config"),
		"AWS_ENDPOINT_URL="+s.Endpoint,
		"AWS_DEFAULT_REGION="+s.Region,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("aws s3 ls: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "app/DATABASE_URL/x.dump") {
		t.Fatalf("aws s3 ls: %s", out)
	}
}
