package bucket

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/archive/s3store"
)

// ErrDenied is wrapped by errors of requests the credentials may not make
// (AccessDenied, HTTP 403).
var ErrDenied = errors.New("access denied")

// errorCode is the S3 error code of err ("AccessDenied", "NoSuchKey"…), or "".
func errorCode(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		return api.ErrorCode()
	}
	return ""
}

// denied reports whether the service refused the request for lack of
// permission (s3store's mapping of S3's answers): a request that was never
// sent for want of credentials was not refused.
func denied(err error) bool {
	return s3store.Classify(err) == archive.ErrDenied
}

// classify wraps err with what was being done, and ErrDenied when the
// service refused it, or s3store.ErrNoCredentials, with what to do, when
// there were no credentials to send it with.
func classify(doing string, err error) error {
	switch {
	case s3store.NoCredentials(err):
		return fmt.Errorf("%s: %w: %s", doing, s3store.ErrNoCredentials, s3store.NoCredentialsFix)
	case denied(err):
		return fmt.Errorf("%s: %w (%v)", doing, ErrDenied, shortError(err))
	}
	return fmt.Errorf("%s: %w", doing, err)
}

// shortError is the service's code and message without the SDK's request
// details.
func shortError(err error) string {
	var api smithy.APIError
	if errors.As(err, &api) {
		if msg := api.ErrorMessage(); msg != "" {
			return api.ErrorCode() + ": " + msg
		}
		return api.ErrorCode()
	}
	return err.Error()
}
