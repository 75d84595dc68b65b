// Package archive owns where pg_dump archives live and how one gets from
// there onto the VPS: the Store interface that an object store implements,
// the naming schemes of Heroku backup jobs, the search for the newest valid
// archive, the resumable parallel download, the verification, and the local
// cache of verified archives with their manifests.
package archive

import (
	"context"
	"errors"
	"io"
	"time"
)

// Errors returned by Store implementations, wrapped with detail. Callers
// test them with errors.Is.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("object not found")
	// ErrNoBucket: the bucket does not exist.
	ErrNoBucket = errors.New("bucket not found")
	// ErrDenied: the credentials are missing, wrong or lack permission.
	ErrDenied = errors.New("access denied")
	// ErrWrongRegion: the bucket lives in another region than configured.
	ErrWrongRegion = errors.New("bucket is in another region")
	// ErrUnreachable: the store could not be reached at all (network, DNS,
	// timeouts, 5xx after retries). During an outage this is what you get.
	ErrUnreachable = errors.New("object store unreachable")
	// ErrArchived: the object is in GLACIER or DEEP_ARCHIVE and must be
	// restored before it can be read.
	ErrArchived = errors.New("object is archived (restore needed)")
	// ErrChanged: the object is no longer the version being read (it was
	// overwritten or deleted since Head): the parts read so far belong to
	// another version.
	ErrChanged = errors.New("object changed while it was read")
)

// Object describes one stored object.
type Object struct {
	Key          string    `json:"key"`
	Size         int64     `json:"size"`
	LastModified time.Time `json:"last_modified"`
	ETag         string    `json:"etag,omitempty"`
	// VersionID is the object's version in a versioned bucket (Head
	// only); empty when the bucket is not versioned.
	VersionID    string `json:"version_id,omitempty"`
	StorageClass string `json:"storage_class"`
	// ChecksumSHA256 is the base64 SHA-256 the store keeps for the object
	// (Head only), and ChecksumType is FULL_OBJECT or COMPOSITE.
	ChecksumSHA256 string `json:"checksum_sha256,omitempty"`
	ChecksumType   string `json:"checksum_type,omitempty"`
	// PartsCount is the number of upload parts (Head only; 0 when unknown).
	PartsCount int `json:"parts_count,omitempty"`
	// Restore is the state of a GLACIER restore: "", "in-progress" or "restored".
	Restore string `json:"restore,omitempty"`
	// Encrypted with SSE-KMS or SSE-C: the ETag is then not an MD5.
	KMSEncrypted bool `json:"-"`
}

// Archived reports whether the object is in a storage class that cannot be
// read without a restore, and has not been restored.
func (o Object) Archived() bool {
	switch o.StorageClass {
	case "GLACIER", "DEEP_ARCHIVE":
		return o.Restore != "restored"
	}
	return false
}

// Store is an object store holding archives, such as an S3 bucket.
type Store interface {
	// List returns every object under prefix, following pagination.
	// Errors wrap ErrNoBucket, ErrDenied, ErrWrongRegion or ErrUnreachable.
	List(ctx context.Context, prefix string) ([]Object, error)
	// Head returns the object's metadata including checksum and restore
	// state. Errors wrap ErrNotFound, ErrDenied or ErrUnreachable.
	Head(ctx context.Context, key string) (Object, error)
	// Open reads length bytes of the object from offset (length < 0: to
	// the end). Errors wrap ErrNotFound, ErrArchived, ErrDenied or
	// ErrUnreachable.
	Open(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// OpenVersion is Open pinned to the version obj describes (as Head
	// returned it): its VersionID when set, and its ETag either way, so
	// that the parts of one download can never come from two versions.
	// Errors are Open's, and ErrChanged when the object is no longer that
	// version.
	OpenVersion(ctx context.Context, obj Object, offset, length int64) (io.ReadCloser, error)
	// RequestRestore asks for a temporary readable copy of an archived
	// object; it succeeds when a restore is already under way.
	RequestRestore(ctx context.Context, key, tier string, days int) error
	// String names the store for messages, e.g. "s3://bucket/prefix".
	String() string
}
