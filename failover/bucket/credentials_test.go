package bucket

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
)

// refusingReader is an anonymous client the bucket refuses.
type refusingReader struct{ calls int }

func (r *refusingReader) ListObjectsV2(context.Context, *s3.ListObjectsV2Input, ...func(*s3.Options)) (*s3.ListObjectsV2Output, error) {
	r.calls++
	return nil, &smithy.GenericAPIError{Code: "AccessDenied", Message: "Access Denied."}
}

func (r *refusingReader) HeadObject(context.Context, *s3.HeadObjectInput, ...func(*s3.Options)) (*s3.HeadObjectOutput, error) {
	r.calls++
	return nil, &smithy.GenericAPIError{Code: "AccessDenied"}
}

// TestCheckWithoutCredentials: a client with no credentials to sign with
// makes one failing finding that says where credentials come from,
// without the SDK's text; the unsigned probe still runs.
func TestCheckWithoutCredentials(t *testing.T) {
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(credentials.StaticCredentialsProvider{})})
	anon := &refusingReader{}
	r := (&Checker{API: client, Anonymous: anon, Bucket: "b", Prefix: "p/"}).Run(context.Background())
	if r.OK || len(r.Findings) != 2 {
		t.Fatalf("ok %v, findings %+v", r.OK, r.Findings)
	}
	creds, public := r.Findings[0], r.Findings[1]
	if creds.Name != FindingCredentials || creds.OK || !strings.Contains(creds.Detail, "no AWS credentials found") ||
		!strings.Contains(creds.Fix, "s3.credentials_file") || !strings.Contains(creds.Fix, "AWS_ACCESS_KEY_ID") {
		t.Errorf("credentials: %+v", creds)
	}
	if public.Name != FindingPublicAccess || !public.OK || anon.calls != 1 {
		t.Errorf("public access: %+v after %d unsigned requests", public, anon.calls)
	}
	for _, f := range r.Findings {
		if strings.Contains(f.Detail+f.Fix, "static credentials") || strings.Contains(f.Detail+f.Fix, "operation error") {
			t.Errorf("the SDK's own text in %+v", f)
		}
	}

	// The lifecycle commands say the same.
	_, err := GetLifecycle(context.Background(), client, "b")
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") || strings.Contains(err.Error(), "operation error") || denied(err) {
		t.Errorf("GetLifecycle: %v", err)
	}
}
