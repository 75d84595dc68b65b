// Package bucket owns what Lifeboat says about the app's S3 bucket itself,
// as opposed to the archives in it: the least-privilege IAM policies of the
// backup job (the writer) and of the standby (the reader), the bucket's
// lifecycle rule (Glacier after N days, expiration, incomplete uploads
// aborted), merged with the rules others put there, and the check of the
// settings that protect backups from a leaked key: versioning, Object Lock
// with a default retention, encryption, no public access, and a standby key
// that can neither write nor delete.
//
// Everything it reads from the bucket is someone else's: rules it does not
// own are kept as they are, and nothing it prints is trusted to be short or
// clean (callers escape it).
package bucket
