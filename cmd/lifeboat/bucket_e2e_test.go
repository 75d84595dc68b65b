package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"

	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
	"github.com/lifeboat-dr/lifeboat/internal/testenv/miniotest"
)

// TestBucketCommands: bucket policy renders what MinIO accepts and
// enforces; with the standby policy's key Lifeboat still fetches, and
// bucket check names each gap of an unprotected bucket, also inside
// lifeboat check when bucket.check is on; bucket lifecycle --apply with an
// administrator's key keeps someone else's rule.
func TestBucketCommands(t *testing.T) {
	w := newWorld(t, `    bucket:
      glacier_after: 0
      expire_after: 400d
      abort_multipart_after: 0
      check: true
`)
	// policy --json: one document with both policies as objects.
	code, out, errOut := lb(t, "--config", w.cfgPath, "bucket", "policy", "--json")
	if code != 0 {
		t.Fatalf("bucket policy --json: exit %d: %s", code, errOut)
	}
	var doc struct {
		Policies map[string]json.RawMessage `json:"policies"`
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil || len(doc.Policies) != 2 {
		t.Fatalf("bucket policy --json: %v\n%s", err, out)
	}
	// --role standby: plain JSON, pasted into the IAM engine as it is.
	code, standbyPolicy, errOut := lb(t, "--config", w.cfgPath, "bucket", "policy", "--role", "standby")
	if code != 0 || !json.Valid([]byte(standbyPolicy)) {
		t.Fatalf("bucket policy --role standby: exit %d: %s\n%s", code, errOut, standbyPolicy)
	}
	if code, _, _ := lb(t, "--config", w.cfgPath, "bucket", "policy", "--role", "admin"); code != exitUsage {
		t.Errorf("--role admin: exit %d, want %d", code, exitUsage)
	}
	standby := miniotest.AddUser(t, w.s3, "lifeboat-standby", []byte(standbyPolicy))
	adminCreds := w.s3.WriteCredentialsFile(t, t.TempDir())
	cfg := regexp.MustCompile(`credentials_file: .*`).ReplaceAllString(mustRead(t, w.cfgPath),
		"credentials_file: "+standby.WriteCredentialsFile(t, t.TempDir()))
	if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}

	// The standby's key is enough for a fetch.
	a := dumptest.New(16)
	now := time.Now().UTC().Add(-time.Hour)
	a.Tm = [7]int{now.Second(), now.Minute(), now.Hour(), now.Day(), int(now.Month()) - 1, now.Year() - 1900, 0}
	a.AddTables(1, "CREATE TABLE x ();", []string{"1\n"})
	w.s3.Put(t, bucket, w.key(time.Hour, true), gzipBytes(t, a))
	if code, _, errOut := lb(t, "--config", w.cfgPath, "fetch"); code != 0 {
		t.Fatalf("fetch with the standby policy's key: exit %d: %s", code, errOut)
	}

	// bucket check: the gaps of a bare bucket, but the standby key is right.
	code, got := bucketCheck(t, w)
	if code != exitFailed {
		t.Errorf("bucket check of a bare bucket: exit %d", code)
	}
	for name, ok := range map[string]bool{"lifecycle": false, "versioning": false, "object lock": false, "encryption": false,
		"public access": true, "standby cannot write": true, "standby cannot delete": true} {
		if f, found := got[name]; !found || f.OK != ok {
			t.Errorf("%s: %+v, want ok=%v", name, f, ok)
		}
	}
	// … and inside lifeboat check.
	_, chain := runCheck(t, w)
	if f, found := chain["bucket: object lock"]; !found || f.OK {
		t.Errorf("lifeboat check with bucket.check: %+v", chain)
	}

	// lifecycle: dry run, then --apply with the root's key, which keeps the
	// rule already there; the standby's own key may not.
	if _, err := w.s3.Client.PutBucketLifecycleConfiguration(t.Context(), &s3.PutBucketLifecycleConfigurationInput{
		Bucket: aws.String(bucket), LifecycleConfiguration: &types.BucketLifecycleConfiguration{Rules: []types.LifecycleRule{{
			ID: aws.String("logs-team"), Status: types.ExpirationStatusEnabled, Filter: &types.LifecycleRuleFilter{Prefix: aws.String("logs/")},
			Expiration: &types.LifecycleExpiration{Days: aws.Int32(14)}}}}}); err != nil {
		t.Fatal(err)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "bucket", "lifecycle")
	if code != 0 || !strings.Contains(out, `"logs-team"`) || !strings.Contains(out, `"lifeboat:`+w.prefix+`"`) || !strings.Contains(errOut, "nothing changed") {
		t.Fatalf("bucket lifecycle: exit %d\n%s\n%s", code, out, errOut)
	}
	if code, _, errOut := lb(t, "--config", w.cfgPath, "bucket", "lifecycle", "--apply"); code != exitFailed || !strings.Contains(errOut, "--credentials-file") {
		t.Errorf("--apply with the standby's key: exit %d: %s", code, errOut)
	}
	code, out, errOut = lb(t, "--config", w.cfgPath, "bucket", "lifecycle", "--apply", "--credentials-file", adminCreds, "--json")
	var applied struct {
		Applied  bool   `json:"applied"`
		ReadBack string `json:"read_back"`
		Changes  []struct {
			ID     string `json:"id"`
			Action string `json:"action"`
		} `json:"changes"`
	}
	if err := json.Unmarshal([]byte(out), &applied); err != nil || code != 0 || !applied.Applied || len(applied.Changes) != 2 {
		t.Fatalf("--apply: exit %d %v\n%s\n%s", code, err, out, errOut)
	}
	if _, got := bucketCheck(t, w); !got["lifecycle"].OK {
		t.Errorf("after --apply the lifecycle finding still fails: %+v", got["lifecycle"])
	}
}

func bucketCheck(t *testing.T, w *world) (int, map[string]findingJSON) {
	t.Helper()
	code, out, errOut := lb(t, "--config", w.cfgPath, "bucket", "check", "--json")
	var rep struct {
		OK       bool          `json:"ok"`
		Findings []findingJSON `json:"findings"`
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("bucket check --json: %v\n%s\n%s", err, out, errOut)
	}
	got := map[string]findingJSON{}
	for _, f := range rep.Findings {
		got[f.Name] = f
		if !f.OK && f.Fix == "" {
			t.Errorf("finding %s fails without saying what to do", f.Name)
		}
	}
	if rep.OK != (code == 0) {
		t.Errorf("ok %v, exit %d", rep.OK, code)
	}
	return code, got
}

// TestBucketCheckCredentials: a key MinIO does not know is refused, which
// each finding says; no credentials at all is said once, with where they
// come from, and without the SDK's own text; what anyone may do is still
// checked.
func TestBucketCheckCredentials(t *testing.T) {
	w := newWorld(t, "")
	wrong := filepath.Join(t.TempDir(), "credentials")
	if err := os.WriteFile(wrong, []byte("[default]\naws_access_key_id = nobody-knows-me\naws_secret_access_key = not-the-secret-either\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	setCredentials := func(line string) {
		t.Helper()
		cfg := regexp.MustCompile(`(?m)^ *credentials_file: .*\n`).ReplaceAllString(mustRead(t, w.cfgPath), line)
		if err := os.WriteFile(w.cfgPath, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	setCredentials("      credentials_file: " + wrong + "\n")
	code, got := bucketCheck(t, w)
	if code != exitFailed {
		t.Errorf("wrong key: exit %d", code)
	}
	if _, found := got["credentials"]; found {
		t.Errorf("wrong key reported as no credentials: %+v", got["credentials"])
	}
	for _, name := range []string{"lifecycle", "versioning", "object lock", "encryption"} {
		if f := got[name]; f.OK || !strings.Contains(f.Detail, "may not read it") || !strings.Contains(f.Detail, "InvalidAccessKeyId") {
			t.Errorf("wrong key: %s: %+v", name, f)
		}
	}

	// No credentials anywhere: no file, nothing in the environment, no
	// instance role (metadata requests off).
	setCredentials("")
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_CONFIG_FILE"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	code, got = bucketCheck(t, w)
	if code != exitFailed || len(got) != 2 {
		t.Errorf("no credentials: exit %d, findings %+v, want credentials and public access", code, got)
	}
	if f := got["credentials"]; f.OK || !strings.Contains(f.Detail, "no AWS credentials found") ||
		!strings.Contains(f.Fix, "s3.credentials_file") || !strings.Contains(f.Fix, "AWS_ACCESS_KEY_ID") {
		t.Errorf("no credentials: %+v", f)
	}
	if f := got["public access"]; !f.OK {
		t.Errorf("no credentials: public access: %+v", f)
	}
	code, out, errOut := lb(t, "--config", w.cfgPath, "bucket", "check")
	if code != exitFailed || strings.Count(out, "no AWS credentials found") != 1 {
		t.Errorf("no credentials: exit %d, want one line saying so:\n%s\n%s", code, out, errOut)
	}
	for _, sdk := range []string{"IMDS", "operation error", "get credentials"} {
		if strings.Contains(out+errOut, sdk) {
			t.Errorf("no credentials: the SDK's own text %q is shown:\n%s\n%s", sdk, out, errOut)
		}
	}
}
