package failover

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/failover/bucket"
	"github.com/lifeboat-dr/lifeboat/failover/config"
)

// BucketLifecycle is the lifecycle rule the app's bucket.* keys ask for.
func BucketLifecycle(app *config.App) bucket.LifecycleSpec {
	return bucket.LifecycleSpec{
		Prefix:          app.S3.Prefix,
		TransitionDays:  app.Bucket.GlacierDays(),
		TransitionClass: app.Bucket.GlacierClass,
		ExpireDays:      app.Bucket.ExpireDays(),
		AbortDays:       app.Bucket.AbortMultipartDays(),
	}
}

// BucketPolicyInput is what the app's IAM policies are rendered for.
func BucketPolicyInput(app *config.App) bucket.PolicyInput {
	return bucket.PolicyInput{
		Bucket: app.S3.Bucket, Prefix: app.S3.Prefix,
		FailbackPrefix: app.Failback.S3Prefix, Partition: app.Bucket.ARNPartition,
	}
}

// CheckBucket checks the app's bucket with the app's own (the standby's)
// credentials; see bucket.Checker.
func CheckBucket(ctx context.Context, app *config.App) (*bucket.Report, error) {
	st, err := OpenStore(ctx, app)
	if err != nil {
		return nil, err
	}
	c := &bucket.Checker{
		API: st.Client(), Anonymous: bucket.AnonymousClient(st.Client()),
		Bucket: app.S3.Bucket, Prefix: app.S3.Prefix, Lifecycle: BucketLifecycle(app),
	}
	return c.Run(ctx), nil
}

// bucketFindings are the bucket check's findings for `lifeboat check`,
// each named "bucket: …".
func bucketFindings(ctx context.Context, app *config.App) []Finding {
	r, err := CheckBucket(ctx, app)
	if err != nil {
		return []Finding{{Name: "bucket", OK: false, Detail: fmt.Sprintf("cannot check it: %v", err), Fix: "check the s3 settings and credentials"}}
	}
	var out []Finding
	for _, f := range r.Findings {
		out = append(out, Finding{Name: "bucket: " + f.Name, OK: f.OK, Detail: f.Detail, Fix: f.Fix})
	}
	return out
}

// ApplyBucketLifecycle reads the bucket's lifecycle with the credentials
// in credentialsFile (profile; both empty: the app's own), merges the
// app's rule into it, writes it back unless dryRun, and reads it back to
// prove it. It never writes when the current rules cannot be read, so as
// not to drop someone else's rule.
func ApplyBucketLifecycle(ctx context.Context, app *config.App, credentialsFile, profile string, dryRun bool) (*LifecycleResult, error) {
	admin := *app
	if credentialsFile != "" {
		admin.S3.CredentialsFile = credentialsFile
	}
	if profile != "" {
		admin.S3.Profile = profile
	}
	st, err := OpenStore(ctx, &admin)
	if err != nil {
		return nil, err
	}
	spec := BucketLifecycle(app)
	res := &LifecycleResult{Bucket: app.S3.Bucket, Prefix: app.S3.Prefix, RuleID: bucket.RuleID(app.S3.Prefix), Spec: spec}
	existing, err := bucket.GetLifecycle(ctx, st.Client(), app.S3.Bucket)
	switch {
	case errors.Is(err, bucket.ErrNoLifecycle):
	case err != nil && dryRun:
		res.Warning = fmt.Sprintf("the rules already on the bucket could not be read (%v): only Lifeboat's rule is shown; --apply reads them first and keeps them", err)
	case err != nil:
		return res, fmt.Errorf("%w: nothing was changed, so that no rule of someone else is dropped", err)
	}
	res.Rules, res.Changes = bucket.Merge(existing, spec)
	if dryRun {
		return res, nil
	}
	if err := bucket.PutLifecycle(ctx, st.Client(), app.S3.Bucket, res.Rules); err != nil {
		if errors.Is(err, bucket.ErrDenied) {
			return res, fmt.Errorf("%w (the standby's own credentials should not be allowed this: pass an administrator's with --credentials-file)", err)
		}
		return res, err
	}
	res.Applied = true
	after, err := bucket.GetLifecycle(ctx, st.Client(), app.S3.Bucket)
	if err != nil && !(errors.Is(err, bucket.ErrNoLifecycle) && spec.Empty()) {
		return res, fmt.Errorf("written, but reading it back failed: %w", err)
	}
	if gaps := bucket.Verify(after, spec); len(gaps) > 0 {
		res.ReadBack = strings.Join(gaps, "; ")
		return res, fmt.Errorf("written, but the bucket's rules read back differ: %s", res.ReadBack)
	}
	res.ReadBack = "as written"
	return res, nil
}

// LifecycleResult is what ApplyBucketLifecycle did.
type LifecycleResult struct {
	Bucket  string                `json:"bucket"`
	Prefix  string                `json:"prefix"`
	RuleID  string                `json:"rule_id"`
	Spec    bucket.LifecycleSpec  `json:"spec"`
	Applied bool                  `json:"applied"`
	Changes []bucket.RuleChange   `json:"changes"`
	Rules   []types.LifecycleRule `json:"-"`
	Warning string                `json:"warning,omitempty"`
	// ReadBack is how the rules read back after writing compare.
	ReadBack string `json:"read_back,omitempty"`
}
