// Package mirror copies the archives Lifeboat verified to a second,
// S3-compatible provider (Linode Object Storage, Backblaze B2, Cloudflare
// R2, a MinIO at the office), with credentials of its own: byte for byte,
// under the same key, streamed from the source bucket as a multipart
// upload whose every part carries its SHA-256, and checked against the
// SHA-256 the fetch verified before the upload is completed.
//
// A ledger (a JSON file, written atomically) remembers every verified
// archive and whether the mirror has it, so that an archive the mirror
// missed (it was down) is copied on the next run, and `mirror check` can
// say what the mirror lacks. A mirror that fails never fails the caller's
// fetch: Sync reports, the caller warns.
package mirror

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"os"
	"sort"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// Named errors.
var (
	// ErrMismatch: the bytes streamed from the source are not the ones the
	// fetch verified (the object changed): nothing is completed.
	ErrMismatch = errors.New("the source object differs from the verified archive")
)

// SHA256Meta is the user metadata (x-amz-meta-lifeboat-sha256) holding the
// hex SHA-256 of a mirrored object, so that a HEAD tells whether the
// mirror holds the verified bytes.
const SHA256Meta = "lifeboat-sha256"

// Item is one verified archive in the ledger.
type Item struct {
	Key        string    `json:"key"`
	ETag       string    `json:"etag,omitempty"`
	Size       int64     `json:"size"`
	SHA256     string    `json:"sha256"`
	CapturedAt time.Time `json:"captured_at"`
	VerifiedAt time.Time `json:"verified_at"`
	// MirroredAt is when the mirror got it; zero while it lacks it.
	MirroredAt time.Time `json:"mirrored_at,omitzero"`
	Attempts   int       `json:"attempts"`
	LastError  string    `json:"last_error,omitempty"`
	LastTried  time.Time `json:"last_tried,omitzero"`
}

// Pending reports whether the mirror still lacks the item.
func (it Item) Pending() bool { return it.MirroredAt.IsZero() }

// ledger is the file's content.
type ledger struct {
	Version int    `json:"version"`
	Items   []Item `json:"items"`
}

// maxItems bounds the ledger: the oldest mirrored items go first.
const maxItems = 2000

// DestAPI is the part of the S3 API the mirror uses (an *s3.Client has it).
type DestAPI interface {
	HeadObject(ctx context.Context, in *s3.HeadObjectInput, opts ...func(*s3.Options)) (*s3.HeadObjectOutput, error)
	CreateMultipartUpload(ctx context.Context, in *s3.CreateMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CreateMultipartUploadOutput, error)
	UploadPart(ctx context.Context, in *s3.UploadPartInput, opts ...func(*s3.Options)) (*s3.UploadPartOutput, error)
	CompleteMultipartUpload(ctx context.Context, in *s3.CompleteMultipartUploadInput, opts ...func(*s3.Options)) (*s3.CompleteMultipartUploadOutput, error)
	AbortMultipartUpload(ctx context.Context, in *s3.AbortMultipartUploadInput, opts ...func(*s3.Options)) (*s3.AbortMultipartUploadOutput, error)
}

// Mirror copies verified archives from Source to Bucket at Dest.
type Mirror struct {
	// Source is the app's bucket (archive.Store), read pinned to the
	// verified version (If-Match its ETag).
	Source archive.Store
	Dest   DestAPI
	Bucket string
	// Name says where the mirror is, for messages ("s3://bucket at endpoint").
	Name string
	// PartSize of the upload (at least 5 MiB, S3's minimum); one part is
	// held in memory.
	PartSize int64
	// LedgerPath is the ledger's file.
	LedgerPath string
	Log        *slog.Logger

	// afterPart is called after each uploaded part (tests stop the
	// mirror there).
	afterPart func(key string, part int)
}

func (m *Mirror) log() *slog.Logger {
	if m.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return m.Log
}

func (m *Mirror) load() (*ledger, error) {
	var l ledger
	err := fsutil.ReadJSON(m.LedgerPath, &l)
	if errors.Is(err, os.ErrNotExist) {
		return &ledger{Version: 1}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("mirror ledger %s: %w", m.LedgerPath, err)
	}
	return &l, nil
}

func (m *Mirror) save(l *ledger) error {
	sort.SliceStable(l.Items, func(i, j int) bool { return l.Items[i].CapturedAt.Before(l.Items[j].CapturedAt) })
	for len(l.Items) > maxItems {
		drop := -1
		for i, it := range l.Items {
			if !it.Pending() {
				drop = i
				break
			}
		}
		if drop < 0 {
			drop = 0
		}
		l.Items = append(l.Items[:drop], l.Items[drop+1:]...)
	}
	l.Version = 1
	return fsutil.WriteJSONAtomic(m.LedgerPath, l, 0o600)
}

// Add records a verified archive in the ledger (pending until copied). An
// archive already there with the same SHA-256 is left as it is.
func (m *Mirror) Add(e archive.Entry) error {
	l, err := m.load()
	if err != nil {
		return err
	}
	it := Item{Key: e.Key, ETag: e.ETag, Size: e.ObjectSize, SHA256: e.ObjectSHA256, CapturedAt: e.CapturedAt, VerifiedAt: e.FetchedAt}
	for i, have := range l.Items {
		if have.Key == it.Key {
			if have.SHA256 == it.SHA256 {
				return nil
			}
			// Overwritten in the source and verified again: the new
			// bytes are the ones to mirror.
			l.Items[i] = it
			return m.save(l)
		}
	}
	l.Items = append(l.Items, it)
	return m.save(l)
}

// Items returns the ledger, oldest capture first.
func (m *Mirror) Items() ([]Item, error) {
	l, err := m.load()
	if err != nil {
		return nil, err
	}
	return l.Items, nil
}

// SyncResult says what Sync did.
type SyncResult struct {
	Copied  []string `json:"copied"`
	Present []string `json:"present"`
	// Failed maps a key to why it was not copied; it stays pending.
	Failed  map[string]string `json:"failed"`
	Pending int               `json:"pending"`
}

// Sync copies every pending archive, oldest first, and records the
// outcome in the ledger. When the mirror cannot be reached the rest wait
// for the next run. The error is only the ledger's: copy failures are in
// the result.
func (m *Mirror) Sync(ctx context.Context) (*SyncResult, error) {
	res := &SyncResult{Copied: []string{}, Present: []string{}, Failed: map[string]string{}}
	l, err := m.load()
	if err != nil {
		return res, err
	}
	unreachable := ""
	for i := range l.Items {
		it := &l.Items[i]
		if !it.Pending() {
			continue
		}
		if unreachable != "" {
			res.Failed[it.Key] = unreachable
			continue
		}
		it.Attempts++
		it.LastTried = time.Now().UTC()
		present, err := m.Copy(ctx, *it)
		if err != nil {
			it.LastError = err.Error()
			res.Failed[it.Key] = err.Error()
			m.log().Warn("the mirror did not get the archive: retried next run", "key", it.Key, "mirror", m.Name, "err", err)
			if !errors.Is(err, ErrMismatch) && !isAPIError(err) {
				unreachable = "not tried: " + err.Error()
			}
			continue
		}
		it.MirroredAt, it.LastError = time.Now().UTC(), ""
		if present {
			res.Present = append(res.Present, it.Key)
		} else {
			res.Copied = append(res.Copied, it.Key)
			m.log().Info("mirrored", "key", it.Key, "mirror", m.Name)
		}
	}
	for _, it := range l.Items {
		if it.Pending() {
			res.Pending++
		}
	}
	return res, m.save(l)
}

// isAPIError reports whether the service answered (a refusal, a missing
// bucket), as opposed to not answering at all.
func isAPIError(err error) bool {
	var api smithy.APIError
	return errors.As(err, &api)
}

// Has reports whether the mirror holds the item's verified bytes: the
// same size and the SHA-256 in its metadata. Errors are the service's
// (a missing object is false, nil).
func (m *Mirror) Has(ctx context.Context, it Item) (bool, error) {
	h, err := m.Dest.HeadObject(ctx, &s3.HeadObjectInput{Bucket: aws.String(m.Bucket), Key: aws.String(it.Key)})
	if err != nil {
		var api smithy.APIError
		if errors.As(err, &api) && (api.ErrorCode() == "NotFound" || api.ErrorCode() == "NoSuchKey") {
			return false, nil
		}
		return false, fmt.Errorf("mirror %s: head %s: %w", m.Name, it.Key, err)
	}
	return aws.ToInt64(h.ContentLength) == it.Size && h.Metadata[SHA256Meta] == it.SHA256, nil
}

// Copy streams the item from the source to the mirror, unless the mirror
// has it already (present). The upload is completed only when the bytes
// read hash to the verified SHA-256; otherwise, and on any failure, it is
// aborted (when the mirror still answers).
func (m *Mirror) Copy(ctx context.Context, it Item) (present bool, err error) {
	if ok, err := m.Has(ctx, it); err != nil || ok {
		return ok, err
	}
	if it.SHA256 == "" {
		return false, fmt.Errorf("%s: no verified SHA-256 to check the copy against", it.Key)
	}
	src, err := m.Source.OpenVersion(ctx, archive.Object{Key: it.Key, ETag: it.ETag}, 0, -1)
	if err != nil {
		return false, fmt.Errorf("source: %w", err)
	}
	defer src.Close()
	up, err := m.Dest.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(m.Bucket), Key: aws.String(it.Key),
		ChecksumAlgorithm: types.ChecksumAlgorithmSha256,
		Metadata:          map[string]string{SHA256Meta: it.SHA256},
	})
	if err != nil {
		return false, fmt.Errorf("mirror %s: %w", m.Name, err)
	}
	completed := false
	defer func() {
		if !completed {
			actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			_, _ = m.Dest.AbortMultipartUpload(actx, &s3.AbortMultipartUploadInput{Bucket: aws.String(m.Bucket), Key: aws.String(it.Key), UploadId: up.UploadId})
		}
	}()
	parts, sum, n, err := m.uploadParts(ctx, src, up.UploadId, it.Key)
	if err != nil {
		return false, err
	}
	if n != it.Size || sum != it.SHA256 {
		return false, fmt.Errorf("%w: %s: read %d bytes with SHA-256 %s, verified %d bytes with %s", ErrMismatch, it.Key, n, sum, it.Size, it.SHA256)
	}
	_, err = m.Dest.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(m.Bucket), Key: aws.String(it.Key), UploadId: up.UploadId,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
	})
	if err != nil {
		return false, fmt.Errorf("mirror %s: completing %s: %w", m.Name, it.Key, err)
	}
	completed = true
	return false, nil
}

// uploadParts uploads src in parts of PartSize, each with its SHA-256,
// and returns the parts, the hex SHA-256 of everything and its length.
func (m *Mirror) uploadParts(ctx context.Context, src io.Reader, uploadID *string, key string) ([]types.CompletedPart, string, int64, error) {
	size := max(m.PartSize, 5<<20)
	buf := make([]byte, size)
	whole := sha256.New()
	var parts []types.CompletedPart
	var total int64
	for n := int32(1); ; n++ {
		k, rerr := io.ReadFull(src, buf)
		if k == 0 && n > 1 {
			break
		}
		if rerr != nil && rerr != io.ErrUnexpectedEOF && rerr != io.EOF {
			return nil, "", total, fmt.Errorf("source: reading %s: %w", key, rerr)
		}
		chunk := buf[:k]
		whole.Write(chunk)
		total += int64(k)
		out, err := m.Dest.UploadPart(ctx, &s3.UploadPartInput{
			Bucket: aws.String(m.Bucket), Key: aws.String(key), UploadId: uploadID, PartNumber: aws.Int32(n),
			Body: bytes.NewReader(chunk), ContentLength: aws.Int64(int64(k)),
			ChecksumAlgorithm: types.ChecksumAlgorithmSha256, ChecksumSHA256: aws.String(b64sum(sha256.New(), chunk)),
		})
		if err != nil {
			return nil, "", total, fmt.Errorf("mirror %s: part %d of %s: %w", m.Name, n, key, err)
		}
		parts = append(parts, types.CompletedPart{PartNumber: aws.Int32(n), ETag: out.ETag, ChecksumSHA256: out.ChecksumSHA256})
		if m.afterPart != nil {
			m.afterPart(key, int(n))
		}
		if rerr != nil { // the last, short part
			break
		}
	}
	return parts, hex.EncodeToString(whole.Sum(nil)), total, nil
}

func b64sum(h hash.Hash, b []byte) string {
	h.Write(b)
	return base64.StdEncoding.EncodeToString(h.Sum(nil))
}

// Lack is a verified archive the mirror does not hold.
type Lack struct {
	Item
	// Why: "missing", "differs" or what kept the mirror from answering.
	Why string `json:"why"`
}

// Lacks asks the mirror, for every archive in the ledger, whether it
// holds the verified bytes, and returns those it lacks, oldest first.
// The ledger is updated with what was found. An error is returned only
// when the ledger cannot be read or written.
func (m *Mirror) Lacks(ctx context.Context) ([]Lack, int, error) {
	l, err := m.load()
	if err != nil {
		return nil, 0, err
	}
	lacks := []Lack{}
	unreachable := ""
	for i := range l.Items {
		it := &l.Items[i]
		if unreachable != "" {
			lacks = append(lacks, Lack{Item: *it, Why: unreachable})
			continue
		}
		ok, err := m.Has(ctx, *it)
		switch {
		case err != nil:
			lacks = append(lacks, Lack{Item: *it, Why: err.Error()})
			if !isAPIError(err) {
				unreachable = "not asked: " + err.Error()
			}
		case !ok:
			why := "missing"
			if !it.Pending() {
				why = "missing (it had been mirrored: deleted or changed at the mirror since)"
			}
			it.MirroredAt = time.Time{}
			lacks = append(lacks, Lack{Item: *it, Why: why})
		case it.Pending():
			it.MirroredAt, it.LastError = time.Now().UTC(), ""
		}
	}
	return lacks, len(l.Items), m.save(l)
}
