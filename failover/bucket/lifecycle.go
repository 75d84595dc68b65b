package bucket

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

// LifecycleSpec is the lifecycle Lifeboat wants for the archives under
// Prefix, from the app's bucket.* keys. A zero number of days leaves that
// action out.
type LifecycleSpec struct {
	Prefix string `json:"prefix"`
	// TransitionDays after creation, archives move to TransitionClass
	// (GLACIER, DEEP_ARCHIVE…; on MinIO, the name of a remote tier).
	TransitionDays  int    `json:"transition_days"`
	TransitionClass string `json:"transition_class"`
	// ExpireDays after creation, archives are deleted (on a versioned
	// bucket: hidden behind a delete marker, and their old versions deleted
	// ExpireDays after they became noncurrent).
	ExpireDays int `json:"expire_days"`
	// AbortDays after it started, an unfinished multipart upload is
	// aborted (its parts cost money and are invisible).
	AbortDays int `json:"abort_days"`
}

// Empty reports whether the spec asks for nothing.
func (s LifecycleSpec) Empty() bool {
	return s.TransitionDays <= 0 && s.ExpireDays <= 0 && s.AbortDays <= 0
}

// RuleID is the ID of Lifeboat's rule for the archives under prefix: what
// the rule governs names it, so that several apps (and several VPSes) can
// share one bucket, each owning the rule of its own prefix.
func RuleID(prefix string) string {
	id := "lifeboat:" + prefix
	if len(id) > 255 { // S3's limit for a rule ID
		sum := sha256.Sum256([]byte(prefix))
		id = "lifeboat:sha256:" + hex.EncodeToString(sum[:])
	}
	return id
}

// Rule is the lifecycle rule of the spec.
func (s LifecycleSpec) Rule() types.LifecycleRule {
	r := types.LifecycleRule{
		ID:     aws.String(RuleID(s.Prefix)),
		Status: types.ExpirationStatusEnabled,
		Filter: &types.LifecycleRuleFilter{Prefix: aws.String(s.Prefix)},
	}
	if s.TransitionDays > 0 {
		r.Transitions = []types.Transition{{Days: aws.Int32(int32(s.TransitionDays)), StorageClass: types.TransitionStorageClass(s.TransitionClass)}}
	}
	if s.ExpireDays > 0 {
		r.Expiration = &types.LifecycleExpiration{Days: aws.Int32(int32(s.ExpireDays))}
		r.NoncurrentVersionExpiration = &types.NoncurrentVersionExpiration{NoncurrentDays: aws.Int32(int32(s.ExpireDays))}
	}
	if s.AbortDays > 0 {
		r.AbortIncompleteMultipartUpload = &types.AbortIncompleteMultipartUpload{DaysAfterInitiation: aws.Int32(int32(s.AbortDays))}
	}
	return r
}

// RuleChange says what Merge did with one rule.
type RuleChange struct {
	ID string `json:"id"`
	// Action is added, replaced, unchanged, removed (Lifeboat's own rule)
	// or kept (someone else's rule, never changed).
	Action string `json:"action"`
	// Note says how a kept rule touches the archives, if it does.
	Note string `json:"note,omitempty"`
}

// Merge returns the bucket's lifecycle rules with Lifeboat's rule for the
// spec's prefix added or replaced (removed when the spec is empty), and
// every other rule kept exactly as it was, in its place. Changes lists
// every rule, with what happened to it.
func Merge(existing []types.LifecycleRule, spec LifecycleSpec) ([]types.LifecycleRule, []RuleChange) {
	want := spec.Rule()
	id := aws.ToString(want.ID)
	var out []types.LifecycleRule
	var changes []RuleChange
	found := false
	for _, r := range existing {
		if aws.ToString(r.ID) != id {
			out = append(out, r)
			c := RuleChange{ID: aws.ToString(r.ID), Action: "kept"}
			if r.Status == types.ExpirationStatusEnabled && covers(r, spec.Prefix) {
				c.Note = "also applies to the archives: " + describeRule(r)
			}
			changes = append(changes, c)
			continue
		}
		found = true
		switch {
		case spec.Empty():
			changes = append(changes, RuleChange{ID: id, Action: "removed"})
		case sameRule(r, want):
			out = append(out, r)
			changes = append(changes, RuleChange{ID: id, Action: "unchanged"})
		default:
			out = append(out, want)
			changes = append(changes, RuleChange{ID: id, Action: "replaced", Note: "was: " + describeRule(r)})
		}
	}
	if !found && !spec.Empty() {
		out = append(out, want)
		changes = append(changes, RuleChange{ID: id, Action: "added"})
	}
	return out, changes
}

// ErrNoLifecycle is returned by GetLifecycle when the bucket has no
// lifecycle configuration.
var ErrNoLifecycle = errors.New("the bucket has no lifecycle configuration")

// LifecycleAPI is the part of the S3 API the lifecycle needs (an
// *s3.Client has it).
type LifecycleAPI interface {
	GetBucketLifecycleConfiguration(ctx context.Context, in *s3.GetBucketLifecycleConfigurationInput, opts ...func(*s3.Options)) (*s3.GetBucketLifecycleConfigurationOutput, error)
	PutBucketLifecycleConfiguration(ctx context.Context, in *s3.PutBucketLifecycleConfigurationInput, opts ...func(*s3.Options)) (*s3.PutBucketLifecycleConfigurationOutput, error)
	DeleteBucketLifecycle(ctx context.Context, in *s3.DeleteBucketLifecycleInput, opts ...func(*s3.Options)) (*s3.DeleteBucketLifecycleOutput, error)
}

// GetLifecycle returns the bucket's lifecycle rules. Errors: ErrNoLifecycle
// (wrapped) when it has none, ErrDenied when the credentials may not read
// it, else the service's error.
func GetLifecycle(ctx context.Context, api LifecycleAPI, bucket string) ([]types.LifecycleRule, error) {
	out, err := api.GetBucketLifecycleConfiguration(ctx, &s3.GetBucketLifecycleConfigurationInput{Bucket: aws.String(bucket)})
	if err != nil {
		if errorCode(err) == "NoSuchLifecycleConfiguration" {
			return nil, fmt.Errorf("s3://%s: %w", bucket, ErrNoLifecycle)
		}
		return nil, classify("reading the lifecycle of s3://"+bucket, err)
	}
	return out.Rules, nil
}

// PutLifecycle replaces the bucket's lifecycle with rules (all of them:
// pass what Merge returned), or deletes it when rules is empty. Errors:
// ErrDenied when the credentials may not, else the service's error.
func PutLifecycle(ctx context.Context, api LifecycleAPI, bucket string, rules []types.LifecycleRule) error {
	var err error
	if len(rules) == 0 {
		_, err = api.DeleteBucketLifecycle(ctx, &s3.DeleteBucketLifecycleInput{Bucket: aws.String(bucket)})
	} else {
		_, err = api.PutBucketLifecycleConfiguration(ctx, &s3.PutBucketLifecycleConfigurationInput{
			Bucket:                 aws.String(bucket),
			LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: rules},
		})
	}
	if err != nil {
		return classify("writing the lifecycle of s3://"+bucket, err)
	}
	return nil
}

// rulePrefix is the key prefix a rule is limited to, and whether it has
// other conditions (tags, sizes) that make it apply to some objects only.
func rulePrefix(r types.LifecycleRule) (prefix string, partial bool) {
	if f := r.Filter; f != nil {
		switch {
		case f.And != nil:
			return aws.ToString(f.And.Prefix), len(f.And.Tags) > 0 || f.And.ObjectSizeGreaterThan != nil || f.And.ObjectSizeLessThan != nil
		case f.Tag != nil:
			return "", true
		case f.ObjectSizeGreaterThan != nil || f.ObjectSizeLessThan != nil:
			return aws.ToString(f.Prefix), true
		default:
			return aws.ToString(f.Prefix), false
		}
	}
	//lint:ignore SA1019 buckets still hold rules written with the old field
	return aws.ToString(r.Prefix), false //nolint:staticcheck
}

// covers reports whether rule r applies to some of the objects under prefix.
func covers(r types.LifecycleRule, prefix string) bool {
	p, _ := rulePrefix(r)
	return strings.HasPrefix(prefix, p) || strings.HasPrefix(p, prefix)
}

// deletesAfter is after how many days rule r deletes current objects (0: never).
func deletesAfter(r types.LifecycleRule) int {
	if r.Expiration != nil && r.Expiration.Days != nil {
		return int(*r.Expiration.Days)
	}
	return 0
}

func describeRule(r types.LifecycleRule) string {
	var parts []string
	p, partial := rulePrefix(r)
	scope := fmt.Sprintf("prefix %q", p)
	if partial {
		scope += " (with tag or size conditions)"
	}
	parts = append(parts, scope)
	if r.Status != types.ExpirationStatusEnabled {
		parts = append(parts, string(r.Status))
	}
	for _, t := range r.Transitions {
		switch {
		case t.Days != nil:
			parts = append(parts, fmt.Sprintf("to %s after %d days", t.StorageClass, *t.Days))
		case t.Date != nil:
			parts = append(parts, fmt.Sprintf("to %s on %s", t.StorageClass, t.Date.Format("2006-01-02")))
		}
	}
	if d := deletesAfter(r); d > 0 {
		parts = append(parts, fmt.Sprintf("deletes after %d days", d))
	} else if r.Expiration != nil && r.Expiration.Date != nil {
		parts = append(parts, "deletes on "+r.Expiration.Date.Format("2006-01-02"))
	}
	if r.NoncurrentVersionExpiration != nil && r.NoncurrentVersionExpiration.NoncurrentDays != nil {
		parts = append(parts, fmt.Sprintf("old versions deleted after %d days", *r.NoncurrentVersionExpiration.NoncurrentDays))
	}
	if r.AbortIncompleteMultipartUpload != nil && r.AbortIncompleteMultipartUpload.DaysAfterInitiation != nil {
		parts = append(parts, fmt.Sprintf("incomplete uploads aborted after %d days", *r.AbortIncompleteMultipartUpload.DaysAfterInitiation))
	}
	return strings.Join(parts, ", ")
}

// ruleGaps lists how the rule found differs from the one wanted, each as
// a short phrase; none means they do the same.
func ruleGaps(got, want types.LifecycleRule) []string {
	var gaps []string
	if got.Status != types.ExpirationStatusEnabled {
		gaps = append(gaps, "the rule is "+string(got.Status))
	}
	if p, _ := rulePrefix(got); p != aws.ToString(want.Filter.Prefix) {
		gaps = append(gaps, fmt.Sprintf("it applies to prefix %q, not %q", p, aws.ToString(want.Filter.Prefix)))
	}
	if d, c := transition(want); d != 0 {
		if gd, gc := transition(got); gd != d || gc != c {
			gaps = append(gaps, fmt.Sprintf("no transition to %s after %d days", c, d))
		}
	} else if gd, gc := transition(got); gd != 0 {
		gaps = append(gaps, fmt.Sprintf("it moves archives to %s after %d days, which is not configured", gc, gd))
	}
	if gd, wd := deletesAfter(got), deletesAfter(want); gd != wd {
		switch {
		case wd == 0:
			gaps = append(gaps, fmt.Sprintf("it deletes archives after %d days, which is not configured", gd))
		default:
			gaps = append(gaps, fmt.Sprintf("no expiration after %d days", wd))
		}
	}
	if wd, gd := noncurrentDays(want), noncurrentDays(got); wd != gd {
		gaps = append(gaps, fmt.Sprintf("old versions deleted after %d days, not %d", gd, wd))
	}
	if wd, gd := abortDays(want), abortDays(got); wd != gd {
		if gd == 0 {
			gaps = append(gaps, fmt.Sprintf("incomplete multipart uploads are not aborted after %d days (MinIO drops this action: it removes stale uploads itself; set bucket.abort_multipart_after: 0 there)", wd))
		} else {
			gaps = append(gaps, fmt.Sprintf("incomplete multipart uploads aborted after %d days, not %d", gd, wd))
		}
	}
	return gaps
}

func sameRule(got, want types.LifecycleRule) bool { return len(ruleGaps(got, want)) == 0 }

func transition(r types.LifecycleRule) (int, types.TransitionStorageClass) {
	for _, t := range r.Transitions {
		if t.Days != nil {
			return int(*t.Days), t.StorageClass
		}
	}
	return 0, ""
}

func noncurrentDays(r types.LifecycleRule) int {
	if r.NoncurrentVersionExpiration != nil && r.NoncurrentVersionExpiration.NoncurrentDays != nil {
		return int(*r.NoncurrentVersionExpiration.NoncurrentDays)
	}
	return 0
}

func abortDays(r types.LifecycleRule) int {
	if r.AbortIncompleteMultipartUpload != nil && r.AbortIncompleteMultipartUpload.DaysAfterInitiation != nil {
		return int(*r.AbortIncompleteMultipartUpload.DaysAfterInitiation)
	}
	return 0
}

// Verify returns how the rules differ from what spec asks for (nothing:
// Lifeboat's rule is there and as configured, or absent when the spec is
// empty).
func Verify(rules []types.LifecycleRule, spec LifecycleSpec) []string {
	id := RuleID(spec.Prefix)
	for _, r := range rules {
		if aws.ToString(r.ID) != id {
			continue
		}
		if spec.Empty() {
			return []string{fmt.Sprintf("rule %q is still there", id)}
		}
		return ruleGaps(r, spec.Rule())
	}
	if spec.Empty() {
		return nil
	}
	return []string{fmt.Sprintf("no rule %q", id)}
}
