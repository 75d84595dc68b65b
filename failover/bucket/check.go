package bucket

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
)

// Finding is one result of a bucket check, with what to do when it failed.
type Finding struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Fix    string `json:"fix"`
}

// Report is the result of Checker.Run.
type Report struct {
	Bucket    string    `json:"bucket"`
	Prefix    string    `json:"prefix"`
	CheckedAt time.Time `json:"checked_at"`
	OK        bool      `json:"ok"`
	Findings  []Finding `json:"findings"`
}

// Finding names, stable for scripts and tests.
const (
	// FindingCredentials is only there when it fails: no credentials
	// were found, and the checks that need them did not run.
	FindingCredentials   = "credentials"
	FindingLifecycle     = "lifecycle"
	FindingVersioning    = "versioning"
	FindingObjectLock    = "object lock"
	FindingEncryption    = "encryption"
	FindingPublicAccess  = "public access"
	FindingStandbyWrite  = "standby cannot write"
	FindingStandbyDelete = "standby cannot delete"
)

// CheckAPI is the part of the S3 API a bucket check uses (an *s3.Client
// has it).
type CheckAPI interface {
	LifecycleAPI
	GetBucketVersioning(ctx context.Context, in *s3.GetBucketVersioningInput, opts ...func(*s3.Options)) (*s3.GetBucketVersioningOutput, error)
	GetObjectLockConfiguration(ctx context.Context, in *s3.GetObjectLockConfigurationInput, opts ...func(*s3.Options)) (*s3.GetObjectLockConfigurationOutput, error)
	GetBucketEncryption(ctx context.Context, in *s3.GetBucketEncryptionInput, opts ...func(*s3.Options)) (*s3.GetBucketEncryptionOutput, error)
	PutObject(ctx context.Context, in *s3.PutObjectInput, opts ...func(*s3.Options)) (*s3.PutObjectOutput, error)
	DeleteObject(ctx context.Context, in *s3.DeleteObjectInput, opts ...func(*s3.Options)) (*s3.DeleteObjectOutput, error)
	ReadAPI
}

// ReadAPI is what the public-access probe tries without credentials.
type ReadAPI interface {
	ListObjectsV2(ctx context.Context, in *s3.ListObjectsV2Input, opts ...func(*s3.Options)) (*s3.ListObjectsV2Output, error)
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
}

// Checker checks the settings of the bucket that protect the archives,
// with the standby's own credentials: it reads only what those may read,
// and its only writes are the probes that must be refused.
type Checker struct {
	// API uses the standby's credentials (the app's s3 settings).
	API CheckAPI
	// Anonymous uses no credentials: what anyone on the Internet can do.
	Anonymous ReadAPI
	Bucket    string
	Prefix    string
	// Lifecycle is the rule the config asks for.
	Lifecycle LifecycleSpec
}

// AnonymousClient returns a client like c that signs nothing.
func AnonymousClient(c *s3.Client) *s3.Client {
	return s3.New(c.Options(), func(o *s3.Options) { o.Credentials = aws.AnonymousCredentials{} })
}

const policyHint = "lifeboat bucket policy --role standby prints the policy that allows it"

// Run checks the bucket. It never fails as a whole: what cannot be read is
// a failing finding that says why.
func (c *Checker) Run(ctx context.Context) *Report {
	r := &Report{Bucket: c.Bucket, Prefix: c.Prefix, CheckedAt: time.Now().UTC(), Findings: []Finding{}}
	add := func(name string, ok bool, fix, format string, args ...any) {
		if ok {
			fix = ""
		}
		r.Findings = append(r.Findings, Finding{Name: name, OK: ok, Detail: fmt.Sprintf(format, args...), Fix: fix})
	}
	if c.noCredentials(ctx) {
		// What anyone may do needs no credentials: still checked.
		add(FindingCredentials, false, s3store.NoCredentialsFix,
			"no AWS credentials found (neither s3.credentials_file nor the AWS default chain gave any): the checks that need the standby's credentials did not run")
		c.checkPublic(ctx, add, false)
	} else {
		c.checkLifecycle(ctx, add)
		c.checkVersioning(ctx, add)
		c.checkObjectLock(ctx, add)
		c.checkEncryption(ctx, add)
		c.checkPublic(ctx, add, true)
		c.checkStandbyWrites(ctx, add)
	}
	r.OK = true
	for _, f := range r.Findings {
		r.OK = r.OK && f.OK
	}
	return r
}

// noCredentials reports whether API (an *s3.Client) has no credentials
// to sign with. They are asked for first so that having none is said once,
// rather than as the failure of every signed check.
func (c *Checker) noCredentials(ctx context.Context) bool {
	client, ok := c.API.(interface{ Options() s3.Options })
	if !ok || client.Options().Credentials == nil {
		return false
	}
	_, err := client.Options().Credentials.Retrieve(ctx)
	return s3store.NoCredentials(err)
}

type addFunc func(name string, ok bool, fix, format string, args ...any)

func (c *Checker) bucketInput() *string { return aws.String(c.Bucket) }

func (c *Checker) checkLifecycle(ctx context.Context, add addFunc) {
	const fix = "lifeboat bucket lifecycle --apply (with credentials that may change the bucket) puts the configured rule, keeping the others"
	rules, err := GetLifecycle(ctx, c.API, c.Bucket)
	want := c.Lifecycle.Rule()
	switch {
	case errors.Is(err, ErrNoLifecycle) && c.Lifecycle.Empty():
		add(FindingLifecycle, true, "", "none configured (bucket.glacier_after, expire_after and abort_multipart_after are 0) and none on the bucket")
		return
	case errors.Is(err, ErrDenied):
		add(FindingLifecycle, false, "grant s3:GetLifecycleConfiguration to the standby: "+policyHint, "the standby's credentials may not read it: %v", err)
		return
	case err != nil && !errors.Is(err, ErrNoLifecycle):
		add(FindingLifecycle, false, "check the bucket's name, region and endpoint", "cannot read it: %v", err)
		return
	}
	var problems []string
	var ours *types.LifecycleRule
	for i := range rules {
		if aws.ToString(rules[i].ID) == RuleID(c.Prefix) {
			ours = &rules[i]
		}
	}
	switch {
	case c.Lifecycle.Empty() && ours != nil:
		problems = append(problems, fmt.Sprintf("rule %q is still on the bucket though none is configured: %s", RuleID(c.Prefix), describeRule(*ours)))
	case c.Lifecycle.Empty():
	case ours == nil:
		problems = append(problems, fmt.Sprintf("no rule %q (%s)", RuleID(c.Prefix), describeRule(want)))
	default:
		if gaps := ruleGaps(*ours, want); len(gaps) > 0 {
			problems = append(problems, fmt.Sprintf("rule %q differs: %s", RuleID(c.Prefix), strings.Join(gaps, "; ")))
		}
	}
	// Someone else's rule may delete the archives sooner than wanted.
	for _, other := range rules {
		if aws.ToString(other.ID) == RuleID(c.Prefix) || other.Status != types.ExpirationStatusEnabled || !covers(other, c.Prefix) {
			continue
		}
		if d := deletesAfter(other); d > 0 && (c.Lifecycle.ExpireDays == 0 || d < c.Lifecycle.ExpireDays) {
			problems = append(problems, fmt.Sprintf("rule %q deletes archives after %d days (%s)", aws.ToString(other.ID), d, describeRule(other)))
		}
	}
	if len(problems) > 0 {
		add(FindingLifecycle, false, fix+"; a rule of someone else that deletes archives must be changed by its owner", "%s", strings.Join(problems, "; "))
		return
	}
	if c.Lifecycle.Empty() {
		add(FindingLifecycle, true, "", "none configured; %d rule(s) of others, none deleting the archives", len(rules))
		return
	}
	add(FindingLifecycle, true, "", "rule %q: %s", RuleID(c.Prefix), describeRule(*ours))
}

func (c *Checker) checkVersioning(ctx context.Context, add addFunc) {
	const fix = "turn versioning on (aws s3api put-bucket-versioning --versioning-configuration Status=Enabled): an overwritten or deleted archive then stays as an old version"
	out, err := c.API.GetBucketVersioning(ctx, &s3.GetBucketVersioningInput{Bucket: c.bucketInput()})
	switch {
	case err != nil && denied(err):
		add(FindingVersioning, false, "grant s3:GetBucketVersioning to the standby: "+policyHint, "the standby's credentials may not read it: %s", shortError(err))
	case err != nil:
		add(FindingVersioning, false, "check the bucket's name, region and endpoint", "cannot read it: %v", err)
	case out.Status == types.BucketVersioningStatusEnabled:
		add(FindingVersioning, true, "", "enabled")
	case out.Status == "":
		add(FindingVersioning, false, fix, "never enabled: a key that may delete or overwrite archives destroys them for good")
	default:
		add(FindingVersioning, false, fix, "%s: new archives get no versions", out.Status)
	}
}

func (c *Checker) checkObjectLock(ctx context.Context, add addFunc) {
	const fix = "enable Object Lock on the bucket with a default retention in COMPLIANCE mode (e.g. 30 days): then no key, not even the root's, can delete an archive before it expires"
	out, err := c.API.GetObjectLockConfiguration(ctx, &s3.GetObjectLockConfigurationInput{Bucket: c.bucketInput()})
	switch {
	case err != nil && errorCode(err) == "ObjectLockConfigurationNotFoundError":
		add(FindingObjectLock, false, fix, "not enabled: a leaked key with delete rights (or ransomware holding one) can empty the bucket")
		return
	case err != nil && denied(err):
		add(FindingObjectLock, false, "grant s3:GetBucketObjectLockConfiguration to the standby: "+policyHint, "the standby's credentials may not read it: %s", shortError(err))
		return
	case err != nil:
		add(FindingObjectLock, false, "check the bucket's name, region and endpoint", "cannot read it: %v", err)
		return
	}
	cfg := out.ObjectLockConfiguration
	if cfg == nil || cfg.ObjectLockEnabled != types.ObjectLockEnabledEnabled {
		add(FindingObjectLock, false, fix, "not enabled")
		return
	}
	if cfg.Rule == nil || cfg.Rule.DefaultRetention == nil || cfg.Rule.DefaultRetention.Mode == "" {
		add(FindingObjectLock, false, "set a default retention (COMPLIANCE mode, e.g. 30 days) so that every new archive is locked", "enabled, but no default retention: archives are not locked unless the writer asks for it")
		return
	}
	dr := cfg.Rule.DefaultRetention
	period := ""
	switch {
	case dr.Days != nil:
		period = fmt.Sprintf("%d days", *dr.Days)
	case dr.Years != nil:
		period = fmt.Sprintf("%d years", *dr.Years)
	}
	if dr.Mode == types.ObjectLockRetentionModeGovernance {
		add(FindingObjectLock, true, "", "default retention GOVERNANCE, %s (a key with s3:BypassGovernanceRetention can still delete: COMPLIANCE cannot be bypassed)", period)
		return
	}
	add(FindingObjectLock, true, "", "default retention %s, %s", dr.Mode, period)
}

func (c *Checker) checkEncryption(ctx context.Context, add addFunc) {
	const fix = "set default encryption on the bucket (SSE-S3 or SSE-KMS)"
	out, err := c.API.GetBucketEncryption(ctx, &s3.GetBucketEncryptionInput{Bucket: c.bucketInput()})
	switch {
	case err != nil && errorCode(err) == "ServerSideEncryptionConfigurationNotFoundError":
		add(FindingEncryption, false, fix, "no default encryption")
		return
	case err != nil && denied(err):
		add(FindingEncryption, false, "grant s3:GetEncryptionConfiguration to the standby: "+policyHint, "the standby's credentials may not read it: %s", shortError(err))
		return
	case err != nil:
		add(FindingEncryption, false, "check the bucket's name, region and endpoint", "cannot read it: %v", err)
		return
	}
	var algs []string
	if out.ServerSideEncryptionConfiguration != nil {
		for _, rule := range out.ServerSideEncryptionConfiguration.Rules {
			if d := rule.ApplyServerSideEncryptionByDefault; d != nil {
				algs = append(algs, string(d.SSEAlgorithm))
			}
		}
	}
	if len(algs) == 0 {
		add(FindingEncryption, false, fix, "a configuration without a default algorithm")
		return
	}
	add(FindingEncryption, true, "", "default %s", strings.Join(algs, ", "))
}

// checkPublic asks, without credentials, for a listing of the archives and
// for the first archive's metadata (when signed, the standby's credentials
// can name one): both must be refused.
func (c *Checker) checkPublic(ctx context.Context, add addFunc, signed bool) {
	const fix = "remove the bucket policy statements or ACLs that grant access to everyone (Principal \"*\"), and turn Block Public Access on"
	if c.Anonymous == nil {
		add(FindingPublicAccess, false, "", "not checked: no anonymous client")
		return
	}
	_, err := c.Anonymous.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: c.bucketInput(), Prefix: aws.String(c.Prefix), MaxKeys: aws.Int32(1)})
	switch {
	case err == nil:
		add(FindingPublicAccess, false, fix, "anyone can list the archives: an unsigned listing of %q was answered", c.Prefix)
		return
	case !denied(err):
		add(FindingPublicAccess, false, "check the endpoint and the network", "could not tell: an unsigned listing failed otherwise than refused: %v", err)
		return
	}
	// The first archive, as the standby sees it.
	key := ""
	if !signed {
		add(FindingPublicAccess, true, "", "an unsigned listing was refused (reading an archive not tried: without credentials none can be named)")
		return
	}
	if out, err := c.API.ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: c.bucketInput(), Prefix: aws.String(c.Prefix), MaxKeys: aws.Int32(1)}); err == nil && len(out.Contents) > 0 {
		key = aws.ToString(out.Contents[0].Key)
	}
	if key == "" {
		add(FindingPublicAccess, true, "", "an unsigned listing was refused (no object to try reading)")
		return
	}
	_, err = c.Anonymous.HeadObject(ctx, &s3.HeadObjectInput{Bucket: c.bucketInput(), Key: aws.String(key)})
	switch {
	case err == nil:
		add(FindingPublicAccess, false, fix, "anyone can download the archives: an unsigned read of %q was answered", key)
	case denied(err):
		add(FindingPublicAccess, true, "", "an unsigned listing and an unsigned read of %q were refused", key)
	default:
		add(FindingPublicAccess, false, "check the endpoint and the network", "could not tell: an unsigned read of %q failed otherwise than refused: %v", key, err)
	}
}

// checkStandbyWrites tries to write and to delete with the standby's
// credentials, under names of its own that hold no archive: both must be
// refused. A probe that was accepted is named, and removed when the
// credentials can also delete.
func (c *Checker) checkStandbyWrites(ctx context.Context, add addFunc) {
	const fix = "give the standby only the read policy (lifeboat bucket policy --role standby): a VPS that is broken into must not be able to touch the backups"
	probe := c.Prefix + ".lifeboat-probe-" + randomSuffix()
	_, putErr := c.API.PutObject(ctx, &s3.PutObjectInput{
		Bucket: c.bucketInput(), Key: aws.String(probe), Body: bytes.NewReader(nil), ContentLength: aws.Int64(0),
		// A checksum, as buckets with Object Lock require one on writes:
		// the probe must be refused for its rights, not its form.
		ChecksumAlgorithm: types.ChecksumAlgorithmCrc32,
	})
	wrote := putErr == nil
	switch {
	case wrote:
		add(FindingStandbyWrite, false, fix, "the standby's credentials wrote %q", probe)
	case denied(putErr):
		add(FindingStandbyWrite, true, "", "a write of %q was refused", probe)
	default:
		add(FindingStandbyWrite, false, "check the endpoint and the network", "could not tell: a write of %q failed otherwise than refused: %v", probe, putErr)
	}
	// Deleting a name that holds nothing harms nothing (on a versioned
	// bucket it leaves a delete marker), and needs the same right as
	// deleting an archive.
	_, delErr := c.API.DeleteObject(ctx, &s3.DeleteObjectInput{Bucket: c.bucketInput(), Key: aws.String(probe)})
	switch {
	case delErr == nil && wrote:
		add(FindingStandbyDelete, false, fix, "the standby's credentials deleted %q (the probe it had written)", probe)
	case delErr == nil:
		add(FindingStandbyDelete, false, fix, "the standby's credentials may delete: a delete of %q was accepted", probe)
	case denied(delErr) && wrote:
		add(FindingStandbyDelete, true, "", "a delete of %q was refused (the probe stays: remove it with other credentials)", probe)
	case denied(delErr):
		add(FindingStandbyDelete, true, "", "a delete of %q was refused", probe)
	default:
		add(FindingStandbyDelete, false, "check the endpoint and the network", "could not tell: a delete of %q failed otherwise than refused: %v", probe, delErr)
	}
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
