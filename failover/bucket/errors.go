package bucket

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
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
// permission.
func denied(err error) bool {
	switch errorCode(err) {
	case "AccessDenied", "AllAccessDisabled", "InvalidAccessKeyId", "SignatureDoesNotMatch":
		return true
	}
	var re *smithyhttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusForbidden
}

// classify wraps err with what was being done, and ErrDenied when the
// service refused it.
func classify(doing string, err error) error {
	if denied(err) {
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
