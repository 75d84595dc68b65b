package s3store

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
)

func httpError(status int) error {
	return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
		Response: &smithyhttp.Response{Response: &http.Response{StatusCode: status, Header: http.Header{}}},
		Err:      errors.New("answer"),
	}}
}

// TestClassify: S3's answers, and the SDK's own failures, each mean one
// named error; a client without credentials never sends the request.
func TestClassify(t *testing.T) {
	// The SDK's real error for a client with empty credentials: it fails
	// before sending (nothing listens on that port anyway).
	client := s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String("http://127.0.0.1:1"), UsePathStyle: true,
		Credentials: aws.NewCredentialsCache(credentials.StaticCredentialsProvider{})})
	_, noCreds := client.ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String("b")})
	if noCreds == nil {
		t.Fatal("a client without credentials listed")
	}
	for _, c := range []struct {
		name string
		err  error
		want error
	}{
		{"no credentials", noCreds, ErrNoCredentials},
		{"no credentials, wrapped here", fmt.Errorf("list: %w", ErrNoCredentials), ErrNoCredentials},
		{"AccessDenied", &smithy.GenericAPIError{Code: "AccessDenied"}, archive.ErrDenied},
		{"InvalidAccessKeyId", &smithy.GenericAPIError{Code: "InvalidAccessKeyId"}, archive.ErrDenied},
		{"ExpiredToken", &smithy.GenericAPIError{Code: "ExpiredToken"}, archive.ErrDenied},
		{"403 without a code", httpError(http.StatusForbidden), archive.ErrDenied},
		{"NoSuchBucket", &smithy.GenericAPIError{Code: "NoSuchBucket"}, archive.ErrNoBucket},
		{"NoSuchKey", &smithy.GenericAPIError{Code: "NoSuchKey"}, archive.ErrNotFound},
		{"404", httpError(http.StatusNotFound), archive.ErrNotFound},
		{"PreconditionFailed", &smithy.GenericAPIError{Code: "PreconditionFailed"}, archive.ErrChanged},
		{"InvalidObjectState", &smithy.GenericAPIError{Code: "InvalidObjectState"}, archive.ErrArchived},
		{"PermanentRedirect", &smithy.GenericAPIError{Code: "PermanentRedirect"}, archive.ErrWrongRegion},
		{"503", httpError(http.StatusServiceUnavailable), archive.ErrUnreachable},
		{"no answer", errors.New("dial tcp: connection refused"), archive.ErrUnreachable},
		{"an answer nothing fits", httpError(http.StatusTeapot), nil},
		{"cancelled", fmt.Errorf("list: %w", context.Canceled), nil},
		{"nil", nil, nil},
	} {
		if got := Classify(c.err); got != c.want {
			t.Errorf("%s: Classify = %v, want %v", c.name, got, c.want)
		}
	}
	// Callers that know only the archive package's errors see a denial.
	if !errors.Is(fmt.Errorf("x: %w", ErrNoCredentials), archive.ErrDenied) || errors.Is(archive.ErrDenied, ErrNoCredentials) {
		t.Error("ErrNoCredentials is not an archive.ErrDenied (or the reverse holds)")
	}
	if !NoCredentials(noCreds) || NoCredentials(&smithy.GenericAPIError{Code: "AccessDenied"}) || NoCredentials(nil) {
		t.Error("NoCredentials")
	}
}
