package s3store

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"sync"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
)

// Errors of the streaming upload, wrapped with detail; test with errors.Is.
var (
	// ErrExists: the key exists already and the store refused to overwrite
	// it (If-None-Match). Nothing was written.
	ErrExists = errors.New("object exists already")
	// ErrEmpty: the stream ended before its first byte; nothing is uploaded.
	ErrEmpty = errors.New("nothing to upload: the stream was empty")
	// ErrTooManyParts: the stream needs more than S3's 10,000 parts at the
	// configured part size.
	ErrTooManyParts = errors.New("object needs more than 10,000 parts")
)

// S3's multipart limits.
const (
	MinPartSize = 5 << 20
	MaxPartSize = 5 << 30
	maxParts    = 10000
)

// UploadOptions tune UploadStream.
type UploadOptions struct {
	// PartSize is the size of every part but the last (5MiB–5GiB; default
	// 16MiB). The largest object is 10,000 parts.
	PartSize int64
	// Concurrency is how many parts are uploaded at once (default 4). The
	// memory used is Concurrency × PartSize.
	Concurrency int
	// ContentType of the object ("" = application/octet-stream).
	ContentType string
	// Progress, when set, is called with the number of bytes read so far.
	Progress func(read int64)
}

// Uploaded describes an object written by UploadStream.
type Uploaded struct {
	Key  string `json:"key"`
	Size int64  `json:"size"`
	// SHA256 is the hex SHA-256 of the whole object, computed while it
	// streamed (S3 verified each part's own SHA-256).
	SHA256 string `json:"sha256"`
	Parts  int    `json:"parts"`
	ETag   string `json:"etag"`
	// ChecksumSHA256 is S3's composite checksum (base64 SHA-256 of the
	// parts' SHA-256s, "-N"), as the store returned it.
	ChecksumSHA256 string `json:"checksum_sha256,omitempty"`
	// NoOverwrite says the store honoured If-None-Match: the upload could
	// not have replaced an existing object.
	NoOverwrite bool `json:"no_overwrite"`
}

// UploadStream writes everything r yields to key as a multipart upload,
// parts in parallel, each with a SHA-256 checksum that S3 verifies, and
// never more than Concurrency parts in memory: the stream is never held
// whole, in memory or on disk.
//
// The object becomes visible only when r ends with io.EOF and every part
// is stored: any other error from r (a dump that failed), a part that
// cannot be uploaded, or a cancelled ctx aborts the upload, so that no
// half object is ever visible. Completion asks If-None-Match: * so that an
// existing object is never replaced (ErrExists); a store that does not
// implement conditional writes is asked again without it.
//
// It needs s3:PutObject and s3:AbortMultipartUpload only (no List, Get or
// Delete), so the credentials may be a write-only drop box. Errors wrap
// ErrExists, ErrEmpty, ErrTooManyParts, the archive package's store errors
// (ErrDenied, ErrNoBucket, ErrUnreachable…), or r's error.
func (s *Store) UploadStream(ctx context.Context, key string, r io.Reader, o UploadOptions) (Uploaded, error) {
	if o.PartSize == 0 {
		o.PartSize = 16 << 20
	}
	if o.PartSize < MinPartSize || o.PartSize > MaxPartSize {
		return Uploaded{}, fmt.Errorf("upload: part size %d is outside S3's 5MiB–5GiB", o.PartSize)
	}
	if o.Concurrency <= 0 {
		o.Concurrency = 4
	}
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	where := "upload s3://" + s.opts.Bucket + "/" + key
	res := Uploaded{Key: key}

	// Read the first part before starting anything: an empty stream (a
	// source that failed at once) leaves no trace in the bucket.
	first := make([]byte, o.PartSize)
	n, rerr := io.ReadFull(r, first)
	if n == 0 {
		if rerr == io.EOF {
			return res, fmt.Errorf("%s: %w", where, ErrEmpty)
		}
		return res, fmt.Errorf("%s: %w", where, rerr)
	}

	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	created, err := s.client.CreateMultipartUpload(rctx, &s3.CreateMultipartUploadInput{
		Bucket:            aws.String(s.opts.Bucket),
		Key:               aws.String(key),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ContentType:       aws.String(o.ContentType),
	})
	cancel()
	if err != nil {
		return res, s.wrapWrite(where, err)
	}
	uploadID := aws.ToString(created.UploadId)
	completed := false
	defer func() {
		if !completed {
			s.abort(context.WithoutCancel(ctx), key, uploadID)
		}
	}()

	whole := sha256.New()
	var (
		mu       sync.Mutex
		parts    []types.CompletedPart
		firstErr error
		wg       sync.WaitGroup
	)
	pctx, stop := context.WithCancel(ctx)
	defer stop()
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
			stop()
		}
		mu.Unlock()
	}
	failed := func() error {
		mu.Lock()
		defer mu.Unlock()
		return firstErr
	}
	// Concurrency buffers at most: first, and the others allocated when
	// first needed; an upload returns its buffer when done.
	pool := make(chan []byte, o.Concurrency)
	for range o.Concurrency - 1 {
		pool <- nil
	}
	buf := first
	var read int64
	for num := int32(1); ; num++ {
		if num > 1 {
			select {
			case buf = <-pool:
			case <-pctx.Done():
			}
			if err := failed(); err != nil {
				break
			}
			if err := ctx.Err(); err != nil {
				fail(fmt.Errorf("%s: %w", where, err))
				break
			}
			if buf == nil {
				buf = make([]byte, o.PartSize)
			}
			n, rerr = io.ReadFull(r, buf)
		}
		if n > 0 {
			if num > maxParts {
				fail(fmt.Errorf("%s: %w: more than %d bytes at part_size %d: raise the part size", where, ErrTooManyParts, int64(maxParts)*o.PartSize, o.PartSize))
				break
			}
			part := buf[:n]
			whole.Write(part)
			read += int64(n)
			if o.Progress != nil {
				o.Progress(read)
			}
			wg.Add(1)
			go func(num int32, part, buf []byte) {
				defer wg.Done()
				defer func() { pool <- buf }()
				cp, err := s.uploadPart(pctx, key, uploadID, num, part)
				if err != nil {
					fail(s.wrapWrite(fmt.Sprintf("%s: part %d", where, num), err))
					return
				}
				mu.Lock()
				parts = append(parts, cp)
				mu.Unlock()
			}(num, part, buf)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			fail(fmt.Errorf("%s: reading the stream: %w", where, rerr))
			break
		}
	}
	wg.Wait()
	if err := failed(); err != nil {
		return res, err
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("%s: %w", where, err)
	}
	sort.Slice(parts, func(i, j int) bool { return *parts[i].PartNumber < *parts[j].PartNumber })
	res.Size, res.Parts, res.SHA256 = read, len(parts), hex.EncodeToString(whole.Sum(nil))

	out, noOverwrite, err := s.complete(ctx, key, uploadID, parts)
	if err != nil {
		return res, s.wrapWrite(where, err)
	}
	completed = true
	res.ETag = trimQuotes(aws.ToString(out.ETag))
	res.ChecksumSHA256 = aws.ToString(out.ChecksumSHA256)
	res.NoOverwrite = noOverwrite
	return res, nil
}

func (s *Store) uploadPart(ctx context.Context, key, uploadID string, num int32, part []byte) (types.CompletedPart, error) {
	sum := sha256.Sum256(part)
	b64 := base64.StdEncoding.EncodeToString(sum[:])
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket:            aws.String(s.opts.Bucket),
		Key:               aws.String(key),
		UploadId:          aws.String(uploadID),
		PartNumber:        aws.Int32(num),
		Body:              bytes.NewReader(part),
		ContentLength:     aws.Int64(int64(len(part))),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(b64),
	})
	if err != nil {
		return types.CompletedPart{}, err
	}
	cs := aws.ToString(out.ChecksumSHA256)
	if cs != "" && cs != b64 {
		return types.CompletedPart{}, fmt.Errorf("the store recorded SHA-256 %s for part %d, which hashes to %s", cs, num, b64)
	}
	return types.CompletedPart{PartNumber: aws.Int32(num), ETag: out.ETag, ChecksumSHA256: aws.String(b64)}, nil
}

// complete finishes the upload with If-None-Match: *, or without it when
// the store says it does not implement conditional writes.
func (s *Store) complete(ctx context.Context, key, uploadID string, parts []types.CompletedPart) (*s3.CompleteMultipartUploadOutput, bool, error) {
	in := &s3.CompleteMultipartUploadInput{
		Bucket:          aws.String(s.opts.Bucket),
		Key:             aws.String(key),
		UploadId:        aws.String(uploadID),
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     aws.String("*"),
	}
	// Completing assembles the parts server-side: give it longer than a
	// metadata request.
	rctx, cancel := context.WithTimeout(ctx, 4*s.opts.Timeout)
	defer cancel()
	out, err := s.client.CompleteMultipartUpload(rctx, in)
	if err != nil && notImplemented(err) {
		in.IfNoneMatch = nil
		out, err = s.client.CompleteMultipartUpload(rctx, in)
		return out, false, err
	}
	return out, true, err
}

// abort drops an unfinished upload and its parts; failing that, a bucket
// lifecycle rule (AbortIncompleteMultipartUpload) is the safety net. An
// unfinished upload is never visible as an object either way.
func (s *Store) abort(ctx context.Context, key, uploadID string) {
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(rctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.opts.Bucket), Key: aws.String(key), UploadId: aws.String(uploadID),
	})
}

// PutSmall writes a small object (a sidecar) in one request, with its
// SHA-256 checked by S3 and If-None-Match: * (retried without it where the
// store does not implement it). Errors are UploadStream's.
func (s *Store) PutSmall(ctx context.Context, key string, body []byte, contentType string) error {
	sum := sha256.Sum256(body)
	in := &s3.PutObjectInput{
		Bucket:            aws.String(s.opts.Bucket),
		Key:               aws.String(key),
		Body:              bytes.NewReader(body),
		ContentLength:     aws.Int64(int64(len(body))),
		ContentType:       aws.String(contentType),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		ChecksumSHA256:    aws.String(base64.StdEncoding.EncodeToString(sum[:])),
		IfNoneMatch:       aws.String("*"),
	}
	rctx, cancel := context.WithTimeout(ctx, s.opts.Timeout)
	defer cancel()
	_, err := s.client.PutObject(rctx, in)
	if err != nil && notImplemented(err) {
		in.IfNoneMatch = nil
		in.Body = bytes.NewReader(body)
		_, err = s.client.PutObject(rctx, in)
	}
	return s.wrapWrite("put s3://"+s.opts.Bucket+"/"+key, err)
}

// wrapWrite is wrap for writes: a refused condition is ErrExists, and a
// denial names the permission a writer needs.
func (s *Store) wrapWrite(op string, err error) error {
	if err == nil {
		return nil
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		switch ae.ErrorCode() {
		case "PreconditionFailed", "ConditionalRequestConflict":
			return fmt.Errorf("%s: %w", op, ErrExists)
		case "AccessDenied", "Forbidden", "InvalidAccessKeyId", "SignatureDoesNotMatch", "ExpiredToken", "InvalidToken":
			return fmt.Errorf("%s: %w (%s): the credentials may not write here: a capture needs s3:PutObject and s3:AbortMultipartUpload on the prefix", op, archive.ErrDenied, ae.ErrorCode())
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) && re.HTTPStatusCode() == http.StatusPreconditionFailed {
		return fmt.Errorf("%s: %w", op, ErrExists)
	}
	return s.wrap(op, err)
}

// notImplemented reports whether the store refused a header it does not
// implement (If-None-Match on older S3-compatible servers).
func notImplemented(err error) bool {
	var ae smithy.APIError
	if errors.As(err, &ae) && ae.ErrorCode() == "NotImplemented" {
		return true
	}
	var re *awshttp.ResponseError
	return errors.As(err, &re) && re.HTTPStatusCode() == http.StatusNotImplemented
}

func trimQuotes(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}
