package bucket

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
)

type policyDoc struct {
	Statement []struct {
		Sid       string
		Effect    string
		Action    []string
		Resource  []string
		Condition map[string]map[string][]string
	}
}

func parsePolicy(t *testing.T, b []byte) policyDoc {
	t.Helper()
	var d policyDoc
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, b)
	}
	return d
}

func (d policyDoc) actions() []string {
	var out []string
	for _, s := range d.Statement {
		if s.Effect == "Allow" {
			out = append(out, s.Action...)
		}
	}
	return out
}

func TestPoliciesAreLeastPrivilege(t *testing.T) {
	in := PolicyInput{Bucket: "b", Prefix: `backups/a"pp/DB/`}
	w, err := Policy(Writer, in)
	if err != nil {
		t.Fatal(err)
	}
	wd := parsePolicy(t, w)
	if got := wd.actions(); !slices.Equal(got, []string{"s3:PutObject", "s3:AbortMultipartUpload"}) {
		t.Errorf("writer actions = %v", got)
	}
	if r := wd.Statement[0].Resource; len(r) != 1 || r[0] != `arn:aws:s3:::b/backups/a"pp/DB/*` {
		t.Errorf("writer resource = %v (a quote in the prefix must stay a quote)", r)
	}

	s, err := Policy(Standby, in)
	if err != nil {
		t.Fatal(err)
	}
	sd := parsePolicy(t, s)
	for _, a := range sd.actions() {
		if strings.Contains(a, "Put") || strings.Contains(a, "Delete") || a == "s3:*" {
			t.Errorf("standby may %s", a)
		}
	}
	if !slices.Contains(sd.actions(), "s3:GetObject") || !slices.Contains(sd.actions(), "s3:RestoreObject") {
		t.Errorf("standby actions = %v", sd.actions())
	}
	if c := sd.Statement[0].Condition["StringLike"]["s3:prefix"]; !slices.Contains(c, `backups/a"pp/DB/*`) {
		t.Errorf("listing not limited to the prefix: %v", sd.Statement[0].Condition)
	}

	// A failback prefix adds writes there, and only there.
	in.FailbackPrefix = "failback/"
	in.Partition = "aws-cn"
	s, err = Policy(Standby, in)
	if err != nil {
		t.Fatal(err)
	}
	sd = parsePolicy(t, s)
	last := sd.Statement[len(sd.Statement)-1]
	if !slices.Contains(last.Action, "s3:PutObject") || last.Resource[0] != "arn:aws-cn:s3:::b/failback/*" {
		t.Errorf("failback statement = %+v", last)
	}
	if _, err := Policy("admin", in); !errors.Is(err, ErrUnknownRole) {
		t.Errorf("role admin: %v", err)
	}
}

func rule(id, prefix string, expireDays int32) types.LifecycleRule {
	r := types.LifecycleRule{ID: aws.String(id), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String(prefix)}}
	if expireDays > 0 {
		r.Expiration = &types.LifecycleExpiration{Days: aws.Int32(expireDays)}
	}
	return r
}

func TestMergeKeepsOthersRules(t *testing.T) {
	spec := LifecycleSpec{Prefix: "backups/app/DB/", TransitionDays: 30, TransitionClass: "GLACIER", AbortDays: 7}
	logs := rule("logs", "logs/", 14)
	broad := rule("everything", "", 400)
	stale := rule(RuleID(spec.Prefix), spec.Prefix, 3)

	for _, tc := range []struct {
		name     string
		existing []types.LifecycleRule
		spec     LifecycleSpec
		ids      []string
		actions  []string
	}{
		{"empty bucket", nil, spec, []string{RuleID(spec.Prefix)}, []string{"added"}},
		{"others kept in place", []types.LifecycleRule{logs, broad}, spec,
			[]string{"logs", "everything", RuleID(spec.Prefix)}, []string{"kept", "kept", "added"}},
		{"ours replaced", []types.LifecycleRule{logs, stale, broad}, spec,
			[]string{"logs", RuleID(spec.Prefix), "everything"}, []string{"kept", "replaced", "kept"}},
		{"ours unchanged", []types.LifecycleRule{spec.Rule()}, spec, []string{RuleID(spec.Prefix)}, []string{"unchanged"}},
		{"ours removed when nothing is asked", []types.LifecycleRule{logs, stale}, LifecycleSpec{Prefix: spec.Prefix},
			[]string{"logs"}, []string{"kept", "removed"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			merged, changes := Merge(tc.existing, tc.spec)
			var ids, actions []string
			for _, r := range merged {
				ids = append(ids, aws.ToString(r.ID))
			}
			for _, c := range changes {
				actions = append(actions, c.Action)
			}
			if !slices.Equal(ids, tc.ids) || !slices.Equal(actions, tc.actions) {
				t.Errorf("ids %v actions %v, want %v %v", ids, actions, tc.ids, tc.actions)
			}
			for _, r := range merged {
				if aws.ToString(r.ID) == "logs" && deletesAfter(r) != 14 {
					t.Errorf("someone else's rule was changed: %+v", r)
				}
			}
		})
	}
	// The broad rule touches the archives and is said to.
	_, changes := Merge([]types.LifecycleRule{logs, broad}, spec)
	if changes[0].Note != "" || !strings.Contains(changes[1].Note, "deletes after 400 days") {
		t.Errorf("notes: %+v", changes)
	}
}

func TestVerifyNamesEachGap(t *testing.T) {
	spec := LifecycleSpec{Prefix: "p/", TransitionDays: 30, TransitionClass: "GLACIER", ExpireDays: 365, AbortDays: 7}
	if gaps := Verify([]types.LifecycleRule{spec.Rule()}, spec); len(gaps) != 0 {
		t.Fatalf("the rule itself: %v", gaps)
	}
	got := spec.Rule()
	got.AbortIncompleteMultipartUpload = nil // what MinIO answers
	got.Transitions[0].StorageClass = "DEEP_ARCHIVE"
	gaps := strings.Join(Verify([]types.LifecycleRule{got}, spec), "; ")
	for _, want := range []string{"no transition to GLACIER after 30 days", "incomplete multipart uploads are not aborted"} {
		if !strings.Contains(gaps, want) {
			t.Errorf("gaps %q lack %q", gaps, want)
		}
	}
	if gaps := Verify(nil, spec); len(gaps) != 1 || !strings.Contains(gaps[0], "no rule") {
		t.Errorf("no rule: %v", gaps)
	}
	if long := RuleID(strings.Repeat("x", 300)); len(long) > 255 {
		t.Errorf("rule ID of %d chars", len(long))
	}
}
