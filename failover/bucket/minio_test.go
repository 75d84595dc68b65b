package bucket_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dr/lifeboat/failover/bucket"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
	"github.com/lifeboat-dr/lifeboat/internal/testenv/miniotest"
)

const prefix = "backups/shop/DATABASE_URL/"

// refused fails the test unless err is the server's AccessDenied.
func refused(t *testing.T, what string, err error) {
	t.Helper()
	var api smithy.APIError
	switch {
	case err == nil:
		t.Errorf("%s was allowed", what)
	case errors.As(err, &api) && (api.ErrorCode() == "AccessDenied" || api.ErrorCode() == "Forbidden"):
	default:
		t.Errorf("%s failed, but not as refused: %v", what, err)
	}
}

func allowed(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Errorf("%s was refused: %v", what, err)
	}
}

func put(ctx context.Context, c *s3.Client, b, key string, body []byte) error {
	_, err := c.PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(b), Key: aws.String(key), Body: bytes.NewReader(body),
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32})
	return err
}

func get(ctx context.Context, c *s3.Client, b, key string) error {
	out, err := c.GetObject(ctx, &s3.GetObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	if err == nil {
		out.Body.Close()
	}
	return err
}

func list(ctx context.Context, c *s3.Client, b, pfx string) ([]string, error) {
	out, err := c.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(b), Prefix: aws.String(pfx)})
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	return keys, nil
}

func del(ctx context.Context, c *s3.Client, b, key string) error {
	_, err := c.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: aws.String(b), Key: aws.String(key)})
	return err
}

// TestPoliciesOnMinIO: MinIO enforces IAM policies per user. The writer
// policy is a drop box (uploads, multipart too, and aborts its own
// uploads; cannot read, list or delete); the standby policy reads
// (lists the prefix, gets) and can neither write nor delete.
func TestPoliciesOnMinIO(t *testing.T) {
	t.Parallel()
	srv := testenv.StartS3(t)
	srv.CreateBucket(t, "backups")
	ctx := t.Context()
	in := bucket.PolicyInput{Bucket: "backups", Prefix: prefix}
	wp, err := bucket.Policy(bucket.Writer, in)
	if err != nil {
		t.Fatal(err)
	}
	sp, err := bucket.Policy(bucket.Standby, in)
	if err != nil {
		t.Fatal(err)
	}
	writer := miniotest.AddUser(t, srv, "lifeboat-writer", wp)
	standby := miniotest.AddUser(t, srv, "lifeboat-standby", sp)
	srv.Put(t, "backups", "other/secret.txt", []byte("not the standby's"))

	key := prefix + "2024-05-01_03-00_UTC__shop_DATABASE_URL.dump.gz"
	allowed(t, "writer PutObject", put(ctx, writer.Client, "backups", key, []byte("archive")))

	// A multipart upload of 11 MiB in 5 MiB parts, as the backup job's
	// uploader does for a large dump.
	big := filepath.Join(t.TempDir(), "big")
	if err := os.WriteFile(big, bytes.Repeat([]byte("0123456789abcdef"), 11<<16), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(big)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tm := transfermanager.New(writer.Client, func(o *transfermanager.Options) {
		o.PartSizeBytes, o.MultipartUploadThreshold = 5<<20, 5<<20
		o.RequestChecksumCalculation = aws.RequestChecksumCalculationWhenRequired
	})
	bigKey := prefix + "2024-05-02_03-00_UTC__shop_DATABASE_URL.dump.gz"
	up, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{Bucket: aws.String("backups"), Key: aws.String(bigKey), Body: f})
	allowed(t, "writer multipart upload", err)
	if err == nil && !strings.HasSuffix(aws.ToString(up.ETag), `-3"`) {
		t.Errorf("the upload was not multipart: ETag %s", aws.ToString(up.ETag))
	}
	// The writer may abort its own unfinished upload.
	mp, err := writer.Client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{Bucket: aws.String("backups"), Key: aws.String(prefix + "partial.dump.gz")})
	allowed(t, "writer CreateMultipartUpload", err)
	if err == nil {
		_, err = writer.Client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{Bucket: aws.String("backups"), Key: mp.Key, UploadId: mp.UploadId})
		allowed(t, "writer AbortMultipartUpload", err)
	}

	refused(t, "writer GetObject", get(ctx, writer.Client, "backups", key))
	_, err = list(ctx, writer.Client, "backups", prefix)
	refused(t, "writer ListObjectsV2", err)
	refused(t, "writer DeleteObject", del(ctx, writer.Client, "backups", key))
	refused(t, "writer PutObject outside the prefix", put(ctx, writer.Client, "backups", "other/x", []byte("x")))

	keys, err := list(ctx, standby.Client, "backups", prefix)
	allowed(t, "standby ListObjectsV2 of the prefix", err)
	if len(keys) != 2 {
		t.Errorf("standby lists %v, want the two archives", keys)
	}
	allowed(t, "standby GetObject", get(ctx, standby.Client, "backups", bigKey))
	_, err = standby.Client.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: aws.String("backups")})
	allowed(t, "standby GetBucketVersioning", err)

	refused(t, "standby PutObject", put(ctx, standby.Client, "backups", prefix+"evil.dump.gz", []byte("x")))
	refused(t, "standby DeleteObject", del(ctx, standby.Client, "backups", key))
	_, err = list(ctx, standby.Client, "backups", "other/")
	refused(t, "standby ListObjectsV2 outside the prefix", err)
	refused(t, "standby GetObject outside the prefix", get(ctx, standby.Client, "backups", "other/secret.txt"))
	_, err = standby.Client.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{Bucket: aws.String("backups"),
		LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{bucket.LifecycleSpec{Prefix: prefix, ExpireDays: 1}.Rule()}}})
	refused(t, "standby PutBucketLifecycleConfiguration", err)

	// Every refused delete left the archive in place.
	if got := srv.Get(t, "backups", key); string(got) != "archive" {
		t.Errorf("archive now %q", got)
	}
}

// TestLifecycleOnMinIO: the rule is merged with someone else's, put, and
// read back; its transition goes to the remote tier GLACIER (a second
// MinIO), which MinIO requires to exist.
func TestLifecycleOnMinIO(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	cold := testenv.StartS3(t)
	cold.CreateBucket(t, "cold")
	srv := testenv.StartS3(t, testenv.WithDrives(4))
	miniotest.AddTier(t, srv, "GLACIER", cold, "cold")
	srv.CreateBucket(t, "backups")

	logs := types.LifecycleRule{ID: aws.String("logs-team"), Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")}, Expiration: &types.LifecycleExpiration{Days: aws.Int32(14)}}
	if err := bucket.PutLifecycle(ctx, srv.Client, "backups", []types.LifecycleRule{logs}); err != nil {
		t.Fatal(err)
	}
	apply := func(spec bucket.LifecycleSpec) ([]types.LifecycleRule, []bucket.RuleChange) {
		t.Helper()
		existing, err := bucket.GetLifecycle(ctx, srv.Client, "backups")
		if err != nil {
			t.Fatal(err)
		}
		merged, changes := bucket.Merge(existing, spec)
		if err := bucket.PutLifecycle(ctx, srv.Client, "backups", merged); err != nil {
			t.Fatalf("put %+v: %v", spec, err)
		}
		after, err := bucket.GetLifecycle(ctx, srv.Client, "backups")
		if err != nil {
			t.Fatal(err)
		}
		return after, changes
	}

	spec := bucket.LifecycleSpec{Prefix: prefix, TransitionDays: 30, TransitionClass: "GLACIER", ExpireDays: 365}
	after, changes := apply(spec)
	if gaps := bucket.Verify(after, spec); len(gaps) > 0 {
		t.Fatalf("read back: %v", gaps)
	}
	if len(changes) != 2 || changes[0].Action != "kept" || changes[1].Action != "added" {
		t.Errorf("changes %+v", changes)
	}
	foundLogs := false
	for _, r := range after {
		if aws.ToString(r.ID) == "logs-team" {
			foundLogs = r.Expiration != nil && aws.ToInt32(r.Expiration.Days) == 14
		}
	}
	if !foundLogs {
		t.Errorf("someone else's rule was dropped or changed: %+v", after)
	}

	// MinIO drops AbortIncompleteMultipartUpload: Verify says so.
	withAbort := spec
	withAbort.AbortDays = 7
	after, changes = apply(withAbort)
	if gaps := strings.Join(bucket.Verify(after, withAbort), "; "); !strings.Contains(gaps, "incomplete multipart uploads are not aborted") {
		t.Errorf("gaps %q", gaps)
	}
	if changes[1].Action != "replaced" {
		t.Errorf("changes %+v", changes)
	}

	// A transition to a class that is no tier is refused: the tier matters.
	noTier := spec
	noTier.TransitionClass = "DEEP_ARCHIVE"
	existing, _ := bucket.GetLifecycle(ctx, srv.Client, "backups")
	merged, _ := bucket.Merge(existing, noTier)
	if err := bucket.PutLifecycle(ctx, srv.Client, "backups", merged); err == nil {
		t.Error("a transition to DEEP_ARCHIVE, which is no tier of this MinIO, was accepted")
	}
}

func findings(r *bucket.Report) map[string]bucket.Finding {
	m := map[string]bucket.Finding{}
	for _, f := range r.Findings {
		m[f.Name] = f
	}
	return m
}

// TestCheckOnMinIO: an unprotected bucket checked with a key that may do
// everything fails each finding by name; a bucket with versioning, Object
// Lock (MinIO on four drives), encryption and the lifecycle, checked with
// the standby policy's key, passes; a public-read policy is caught.
func TestCheckOnMinIO(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	srv := testenv.StartS3(t, testenv.WithDrives(4), testenv.WithKMS())
	spec := bucket.LifecycleSpec{Prefix: prefix, ExpireDays: 400}

	srv.CreateBucket(t, "plain")
	srv.Put(t, "plain", prefix+"a.dump.gz", []byte("archive"))
	plain := (&bucket.Checker{API: srv.Client, Anonymous: bucket.AnonymousClient(srv.Client), Bucket: "plain", Prefix: prefix, Lifecycle: spec}).Run(ctx)
	f := findings(plain)
	if plain.OK {
		t.Error("an unprotected bucket passed")
	}
	for _, name := range []string{bucket.FindingLifecycle, bucket.FindingVersioning, bucket.FindingObjectLock, bucket.FindingEncryption, bucket.FindingStandbyWrite, bucket.FindingStandbyDelete} {
		if f[name].OK || f[name].Fix == "" {
			t.Errorf("%s: %+v", name, f[name])
		}
	}
	if !f[bucket.FindingPublicAccess].OK {
		t.Errorf("public access: %+v", f[bucket.FindingPublicAccess])
	}
	if keys, _ := list(ctx, srv.Client, "plain", prefix); len(keys) != 1 {
		t.Errorf("the probe was left behind though it could be deleted: %v", keys)
	}

	// The protected bucket.
	if _, err := srv.Client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String("vault"), ObjectLockEnabledForBucket: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	must := func(_ any, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(srv.Client.PutObjectLockConfiguration(ctx, &s3.PutObjectLockConfigurationInput{Bucket: aws.String("vault"),
		ObjectLockConfiguration: &types.ObjectLockConfiguration{ObjectLockEnabled: types.ObjectLockEnabledEnabled,
			Rule: &types.ObjectLockRule{DefaultRetention: &types.DefaultRetention{Mode: types.ObjectLockRetentionModeCompliance, Days: aws.Int32(1)}}}}))
	must(srv.Client.PutBucketEncryption(ctx, &s3.PutBucketEncryptionInput{Bucket: aws.String("vault"),
		ServerSideEncryptionConfiguration: &types.ServerSideEncryptionConfiguration{Rules: []types.ServerSideEncryptionRule{
			{ApplyServerSideEncryptionByDefault: &types.ServerSideEncryptionByDefault{SSEAlgorithm: types.ServerSideEncryptionAes256}}}}}))
	merged, _ := bucket.Merge(nil, spec)
	must(nil, bucket.PutLifecycle(ctx, srv.Client, "vault", merged))
	srv.Put(t, "vault", prefix+"a.dump.gz", []byte("archive"), testenv.WithSHA256Checksum())
	sp, err := bucket.Policy(bucket.Standby, bucket.PolicyInput{Bucket: "vault", Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	standby := miniotest.AddUser(t, srv, "lifeboat-standby", sp)
	vault := &bucket.Checker{API: standby.Client, Anonymous: bucket.AnonymousClient(standby.Client), Bucket: "vault", Prefix: prefix, Lifecycle: spec}
	r := vault.Run(ctx)
	for _, fd := range r.Findings {
		if !fd.OK {
			t.Errorf("protected bucket: %s: %s", fd.Name, fd.Detail)
		}
	}
	if f := findings(r)[bucket.FindingObjectLock]; !strings.Contains(f.Detail, "COMPLIANCE, 1 days") {
		t.Errorf("object lock: %+v", f)
	}

	// A lifecycle configured otherwise is named.
	vault.Lifecycle.ExpireDays = 30
	if f := findings(vault.Run(ctx))[bucket.FindingLifecycle]; f.OK || !strings.Contains(f.Detail, "no expiration after 30 days") {
		t.Errorf("changed lifecycle: %+v", f)
	}
	vault.Lifecycle.ExpireDays = 400

	// Anyone may read: caught.
	public := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":["*"]},"Action":["s3:GetObject"],"Resource":["arn:aws:s3:::vault/%s*"]}]}`, prefix)
	must(srv.Client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String("vault"), Policy: aws.String(public)}))
	if f := findings(vault.Run(ctx))[bucket.FindingPublicAccess]; f.OK || !strings.Contains(f.Detail, "anyone can download") {
		t.Errorf("public read: %+v", f)
	}
}
