// Package s3store implements archive.Store on Amazon S3 and S3-compatible
// stores (MinIO, R2, B2, Wasabi…) with the AWS SDK for Go v2.
package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/retry"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/feature/s3/transfermanager"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"
	"github.com/aws/smithy-go/logging"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
)

// Options configure a Store.
type Options struct {
	Bucket, Prefix, Region string
	// Endpoint and PathStyle select an S3-compatible service.
	Endpoint  string
	PathStyle bool
	// CredentialsFile is an AWS shared-credentials file; empty means the
	// default credential chain. Profile picks its section.
	CredentialsFile, Profile string
	// Timeout bounds each metadata request (list, head, restore) and the
	// wait for the first byte of a data request.
	Timeout time.Duration
	// MaxConns is the number of parallel connections expected.
	MaxConns int
}

// Store is an S3 bucket.
type Store struct {
	client *s3.Client
	opts   Options
}

// New builds a Store. It does not contact the service.
func New(ctx context.Context, o Options) (*Store, error) {
	if o.Timeout <= 0 {
		o.Timeout = 30 * time.Second
	}
	// A BuildableClient (not a bare http.Client) so that AWS_CA_BUNDLE and
	// the other SDK settings can still adjust the transport.
	conns := max(o.MaxConns, 16) * 2
	httpClient := awshttp.NewBuildableClient().
		WithDialerOptions(func(d *net.Dialer) {
			d.Timeout = min(o.Timeout, 10*time.Second)
			d.KeepAlive = 30 * time.Second
		}).
		WithTransportOptions(func(tr *http.Transport) {
			tr.MaxIdleConns = conns
			tr.MaxIdleConnsPerHost = conns
			tr.IdleConnTimeout = 90 * time.Second
			tr.TLSHandshakeTimeout = 10 * time.Second
			tr.ResponseHeaderTimeout = o.Timeout
			tr.ExpectContinueTimeout = time.Second
			// Archives are already compressed; asking for gzip would only
			// make Go transparently decompress a Content-Encoding: gzip object.
			tr.DisableCompression = true
		})
	loadOpts := []func(*awsconfig.LoadOptions) error{
		awsconfig.WithRegion(o.Region),
		awsconfig.WithHTTPClient(httpClient),
		// The SDK's own warnings (e.g. its IMDS fallback) would go to
		// stderr unformatted; its errors reach the operator through wrap.
		awsconfig.WithLogger(logging.Nop{}),
		awsconfig.WithRetryer(func() aws.Retryer {
			return retry.NewStandard(func(so *retry.StandardOptions) { so.MaxAttempts = 3 })
		}),
	}
	if o.CredentialsFile != "" {
		loadOpts = append(loadOpts,
			awsconfig.WithSharedCredentialsFiles([]string{o.CredentialsFile}),
			awsconfig.WithSharedConfigFiles([]string{}))
	}
	if o.Profile != "" {
		loadOpts = append(loadOpts, awsconfig.WithSharedConfigProfile(o.Profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, loadOpts...)
	if err != nil {
		return nil, fmt.Errorf("s3 credentials: %w: %v", archive.ErrDenied, err)
	}
	client := s3.NewFromConfig(cfg, func(so *s3.Options) {
		if o.Endpoint != "" {
			so.BaseEndpoint = aws.String(o.Endpoint)
		}
		so.UsePathStyle = o.PathStyle
		// Ranged GETs carry no full-object checksum; we verify ourselves.
		so.ResponseChecksumValidation = aws.ResponseChecksumValidationWhenRequired
	})
	return &Store{client: client, opts: o}, nil
}

// String names the store.
func (s *Store) String() string { return "s3://" + s.opts.Bucket + "/" + s.opts.Prefix }

// List returns every object under prefix (pages of 1,000 are followed).
func (s *Store) List(ctx context.Context, prefix string) ([]archive.Object, error) {
	var out []archive.Object
	p := s3.NewListObjectsV2Paginator(s.client, &s3.ListObjectsV2Input{
		Bucket: aws.String(s.opts.Bucket),
		Prefix: aws.String(prefix),
	})
	for p.HasMorePages() {
		rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
		page, err := p.NextPage(rctx)
		cancel()
		if err != nil {
			return nil, s.wrap("list "+s.String(), err)
		}
		for _, o := range page.Contents {
			out = append(out, archive.Object{
				Key:          aws.ToString(o.Key),
				Size:         aws.ToInt64(o.Size),
				LastModified: aws.ToTime(o.LastModified).UTC(),
				ETag:         strings.Trim(aws.ToString(o.ETag), `"`),
				StorageClass: storageClass(string(o.StorageClass)),
			})
		}
	}
	return out, nil
}

// Head returns metadata including the SHA-256 checksum and the restore state.
func (s *Store) Head(ctx context.Context, key string) (archive.Object, error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	h, err := s.client.HeadObject(rctx, &s3.HeadObjectInput{
		Bucket:       aws.String(s.opts.Bucket),
		Key:          aws.String(key),
		ChecksumMode: types.ChecksumModeEnabled,
	})
	if err != nil {
		return archive.Object{}, s.wrap("head s3://"+s.opts.Bucket+"/"+key, err)
	}
	o := archive.Object{
		Key:            key,
		Size:           aws.ToInt64(h.ContentLength),
		LastModified:   aws.ToTime(h.LastModified).UTC(),
		ETag:           strings.Trim(aws.ToString(h.ETag), `"`),
		VersionID:      versionID(h.VersionId),
		StorageClass:   storageClass(string(h.StorageClass)),
		ChecksumSHA256: aws.ToString(h.ChecksumSHA256),
		ChecksumType:   string(h.ChecksumType),
		PartsCount:     int(aws.ToInt32(h.PartsCount)),
		KMSEncrypted:   h.ServerSideEncryption == types.ServerSideEncryptionAwsKms || h.ServerSideEncryption == types.ServerSideEncryptionAwsKmsDsse || h.SSECustomerAlgorithm != nil,
	}
	if r := aws.ToString(h.Restore); r != "" {
		o.Restore = "restored"
		if strings.Contains(r, `ongoing-request="true"`) {
			o.Restore = "in-progress"
		}
	}
	if o.PartsCount == 0 {
		if i := strings.LastIndex(o.ETag, "-"); i > 0 {
			o.PartsCount, _ = strconv.Atoi(o.ETag[i+1:])
		}
	}
	return o, nil
}

// PartSize returns the size of upload part 1 of a multipart object, which
// is needed to recompute its ETag. It returns 0 when the store cannot say.
func (s *Store) PartSize(ctx context.Context, key string) (int64, error) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	h, err := s.client.HeadObject(rctx, &s3.HeadObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), PartNumber: aws.Int32(1),
	})
	if err != nil {
		return 0, s.wrap("head part 1 of "+key, err)
	}
	return aws.ToInt64(h.ContentLength), nil
}

// Open returns a reader of the byte range [offset, offset+length).
func (s *Store) Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return s.get(ctx, &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(key)}, offset, length)
}

// OpenVersion is Open of the version obj describes: GetObject with its
// VersionId (versioned buckets) and If-Match its ETag, so that a download
// never stitches parts of two versions together. A 412 Precondition
// Failed (or a version that is gone) is ErrChanged.
func (s *Store) OpenVersion(ctx context.Context, obj archive.Object, offset, length int64) (io.ReadCloser, error) {
	in := &s3.GetObjectInput{Bucket: aws.String(s.opts.Bucket), Key: aws.String(obj.Key)}
	if obj.ETag != "" {
		in.IfMatch = aws.String(`"` + obj.ETag + `"`)
	}
	if obj.VersionID != "" {
		in.VersionId = aws.String(obj.VersionID)
	}
	return s.get(ctx, in, offset, length)
}

func (s *Store) get(ctx context.Context, in *s3.GetObjectInput, offset, length int64) (io.ReadCloser, error) {
	key := aws.ToString(in.Key)
	switch {
	case length > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		in.Range = aws.String(fmt.Sprintf("bytes=%d-", offset))
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.wrap("get s3://"+s.opts.Bucket+"/"+key, err)
	}
	return out.Body, nil
}

// versionID is a HeadObject's version: empty when the bucket is not
// versioned (S3 then says "null").
func versionID(v *string) string {
	if id := aws.ToString(v); id != "null" {
		return id
	}
	return ""
}

// RequestRestore starts a GLACIER / DEEP_ARCHIVE restore of key.
func (s *Store) RequestRestore(ctx context.Context, key, tier string, days int) error {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	_, err := s.client.RestoreObject(rctx, &s3.RestoreObjectInput{
		Bucket: aws.String(s.opts.Bucket),
		Key:    aws.String(key),
		RestoreRequest: &types.RestoreRequest{
			Days:                 aws.Int32(int32(days)),
			GlacierJobParameters: &types.GlacierJobParameters{Tier: types.Tier(tier)},
		},
	})
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "RestoreAlreadyInProgress" {
		return nil
	}
	if err != nil {
		return s.wrap("restore s3://"+s.opts.Bucket+"/"+key, err)
	}
	return nil
}

func storageClass(c string) string {
	if c == "" {
		return "STANDARD"
	}
	return c
}

// ErrNoCredentials is wrapped by the errors of requests that were never
// sent because no credentials were found at all (neither
// s3.credentials_file nor the AWS default chain gave any): a setup to fix,
// not an outage. It is also an archive.ErrDenied (errors.Is), as callers
// that only know the archive package's errors treat it like one.
var ErrNoCredentials error = noCredentialsError{}

type noCredentialsError struct{}

func (noCredentialsError) Error() string        { return "no AWS credentials found" }
func (noCredentialsError) Is(target error) bool { return target == archive.ErrDenied }

// NoCredentialsFix says where the standby's credentials come from, for
// the operator who has none.
const NoCredentialsFix = "set s3.credentials_file to a shared-credentials file (mode 0600) holding the standby's key " +
	"(s3.profile picks its section), or give lifeboat AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in its environment " +
	"(the AWS default chain: also AWS_PROFILE with ~/.aws/credentials, or an instance role)"

// NoCredentials reports whether err (of the S3 client, or wrapped by this
// package) means that no credentials were found: the SDK then fails
// before sending anything.
func NoCredentials(err error) bool {
	if err == nil {
		return false
	}
	if errors.Is(err, ErrNoCredentials) {
		return true
	}
	msg := err.Error()
	for _, s := range []string{"get credentials", "failed to refresh cached credentials", "no EC2 IMDS role found", "static credentials are empty"} {
		if strings.Contains(msg, s) {
			return true
		}
	}
	return false
}

// Classify maps an error of the S3 client onto the named error it means:
// ErrNoCredentials, or archive's ErrDenied, ErrNoBucket, ErrNotFound,
// ErrChanged, ErrArchived, ErrWrongRegion or ErrUnreachable; nil for an
// answer of the service none of them fits (and for a nil or cancelled
// err). It is the one mapping of S3's answers, for the archive store and
// for what else talks to the bucket (failover/bucket).
func Classify(err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return nil
	}
	if NoCredentials(err) {
		return ErrNoCredentials
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "NoSuchBucket":
			return archive.ErrNoBucket
		case "PreconditionFailed", "NoSuchVersion":
			return archive.ErrChanged
		case "NoSuchKey", "NotFound":
			return archive.ErrNotFound
		case "InvalidObjectState":
			return archive.ErrArchived
		case "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken", "AllAccessDisabled", "Forbidden":
			return archive.ErrDenied
		case "PermanentRedirect", "AuthorizationHeaderMalformed", "IllegalLocationConstraintException", "301":
			return archive.ErrWrongRegion
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch code := re.HTTPStatusCode(); {
		case code == 0: // no response: the request was never answered
			return archive.ErrUnreachable
		case code == http.StatusMovedPermanently:
			return archive.ErrWrongRegion
		case code == http.StatusPreconditionFailed:
			return archive.ErrChanged
		case code == http.StatusNotFound:
			return archive.ErrNotFound
		case code == http.StatusForbidden:
			return archive.ErrDenied
		case code >= 500:
			return archive.ErrUnreachable
		}
		return nil
	}
	// No HTTP response at all: connection refused, DNS, timeouts.
	return archive.ErrUnreachable
}

// wrap maps SDK errors onto the archive package's named errors (Classify),
// with a message that says what to do.
func (s *Store) wrap(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	apiErr := errors.As(err, &ae)
	var re *awshttp.ResponseError
	kind := Classify(err)
	switch kind {
	case nil:
		return fmt.Errorf("%s: %w", op, err)
	case ErrNoCredentials:
		return fmt.Errorf("%s: %w (neither s3.credentials_file nor the AWS default chain gave any): %s", op, ErrNoCredentials, NoCredentialsFix)
	case archive.ErrNoBucket:
		return fmt.Errorf("%s: %w: bucket %q does not exist (check s3.bucket and s3.endpoint)", op, kind, s.opts.Bucket)
	case archive.ErrChanged:
		switch {
		case apiErr && ae.ErrorCode() == "NoSuchVersion":
			return fmt.Errorf("%s: %w: the version the download started with is gone", op, kind)
		case apiErr:
			return fmt.Errorf("%s: %w: its ETag is no longer the one the download started with", op, kind)
		}
		return fmt.Errorf("%s: %w", op, kind)
	case archive.ErrArchived:
		return fmt.Errorf("%s: %w: run `lifeboat fetch --key KEY --wait` to restore it", op, kind)
	case archive.ErrDenied:
		if apiErr {
			return fmt.Errorf("%s: %w (%s): check the credentials (s3.credentials_file or the AWS default chain) and that they may s3:ListBucket and s3:GetObject", op, kind, ae.ErrorCode())
		}
		return fmt.Errorf("%s: %w: check the credentials and their permissions", op, kind)
	case archive.ErrWrongRegion:
		if r := bucketRegion(err); r != "" {
			return fmt.Errorf("%s: %w: the bucket is in %s, not %s: set s3.region: %s", op, kind, r, s.opts.Region, r)
		}
		if apiErr {
			return fmt.Errorf("%s: %w: set s3.region to the bucket's region (%s)", op, kind, ae.ErrorMessage())
		}
		return fmt.Errorf("%s: %w", op, kind)
	case archive.ErrUnreachable:
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			return fmt.Errorf("%s: %w: the service answered %d after retries", op, kind, re.HTTPStatusCode())
		}
		return fmt.Errorf("%s: %w: %v", op, kind, rootCause(err))
	}
	return fmt.Errorf("%s: %w", op, kind)
}

func bucketRegion(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.Response != nil {
		return re.Response.Header.Get("X-Amz-Bucket-Region")
	}
	return ""
}

func rootCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) {
		return op
	}
	var dns *net.DNSError
	if errors.As(err, &dns) {
		return dns
	}
	if errors.Is(err, context.DeadlineExceeded) {
		return errors.New("timed out")
	}
	return err
}

// Upload writes the file at path to key (multipart for large files) and
// returns a presigned GET URL valid for expires, for a one-off download
// such as Heroku's `pg:backups:restore`.
func (s *Store) Upload(ctx context.Context, key, path string, expires time.Duration) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	tm := transfermanager.New(s.client)
	if _, err := tm.UploadObject(ctx, &transfermanager.UploadObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), Body: f,
	}); err != nil {
		return "", s.wrap("upload s3://"+s.opts.Bucket+"/"+key, err)
	}
	req, err := s3.NewPresignClient(s.client).PresignGetObject(ctx, &s3.GetObjectInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key),
	}, s3.WithPresignExpires(expires))
	if err != nil {
		return "", fmt.Errorf("presign s3://%s/%s: %w", s.opts.Bucket, key, err)
	}
	return req.URL, nil
}

// Bucket is the store's bucket.
func (s *Store) Bucket() string { return s.opts.Bucket }

// Client is the store's S3 client, for the requests about the bucket
// itself that are not archive.Store's (failover/bucket).
func (s *Store) Client() *s3.Client { return s.client }
