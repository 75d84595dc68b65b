package archive

import (
	"context"
	"crypto/md5"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

// ErrVerify is returned (together with the reason: ErrChecksum, ErrCorrupt,
// ErrNotArchive or a dump error) when a downloaded archive fails
// verification. Nothing is added to the cache then.
var ErrVerify = errors.New("archive failed verification")

// VerifyError is the error of an archive that was downloaded but failed
// verification; errors.Is(err, ErrVerify) holds for it.
type VerifyError struct {
	Key string
	Err error
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("archive %s failed verification, nothing was added to the cache: %v", e.Key, e.Err)
}

// Unwrap returns ErrVerify and the reason.
func (e *VerifyError) Unwrap() []error { return []error{ErrVerify, e.Err} }

// ErrNewerUnusable is returned by Fetch after it fetched the newest valid
// archive when newer objects in the bucket could not be used: the backup job
// may be failing, and someone should look.
var ErrNewerUnusable = errors.New("newer objects in the bucket could not be used")

// maxFallbacks bounds how many broken archives Fetch skips before giving up.
const maxFallbacks = 3

// ErrRestorePending is returned by Fetch when the archive is in GLACIER or
// DEEP_ARCHIVE and its restore has been requested but is not done yet.
var ErrRestorePending = errors.New("archive restore from GLACIER is pending")

// PartSizer is implemented by stores that can tell the size of upload part
// 1 of a multipart object, used to check multipart ETags.
type PartSizer interface {
	PartSize(ctx context.Context, key string) (int64, error)
}

// Fetcher gets archives from a Store into a Cache.
type Fetcher struct {
	Store  Store
	Cache  *Cache
	Prefix string
	// Keep is how many verified archives the cache keeps.
	Keep     int
	Download DownloadOptions
	Scan     ScanOptions
	// Limits bound what one archive may cost in memory and disk.
	Limits Limits
	// RestoreTier and RestoreDays are used for archived objects.
	RestoreTier string
	RestoreDays int
	// AfterVerify, when set, is given every archive a fetch verified (or
	// found already verified in the cache), before the cache is pruned:
	// the vault keeps it, the mirror copies it. Entry.Object is the
	// downloaded object when the fetch just verified it. What it returns are
	// warnings of the fetch: it never fails it.
	AfterVerify func(ctx context.Context, e Entry) (warnings []string)
	// PollInterval is how often a pending restore is checked with Wait.
	PollInterval time.Duration
	Log          *slog.Logger
}

// FetchRequest says what to fetch.
type FetchRequest struct {
	// Key fetches this object; empty fetches the newest valid archive.
	Key string
	// Wait polls a pending GLACIER restore until the object is readable.
	Wait bool
}

// Fetch outcomes.
const (
	FetchFetched        = "fetched"
	FetchAlreadyCached  = "already-cached"
	FetchRestorePending = "restore-pending"
)

// FetchResult says what Fetch did.
type FetchResult struct {
	Status   string         `json:"status"`
	Key      string         `json:"key"`
	Entry    *Entry         `json:"archive,omitempty"`
	Listing  *Listing       `json:"-"`
	Download DownloadResult `json:"download"`
	// Seconds is the wall time of the whole fetch; Throughput is bytes of
	// object per second of transfer.
	Seconds    float64 `json:"seconds"`
	Throughput float64 `json:"throughput_bytes_per_second"`
	// DownloadSeconds and VerifySeconds split the fetch of the archive
	// (the transfer; the unwrap-and-verify pass).
	DownloadSeconds float64  `json:"download_seconds"`
	VerifySeconds   float64  `json:"verify_seconds"`
	Pruned          []string `json:"pruned"`
	Warnings        []string `json:"warnings"`
}

func (f *Fetcher) log() *slog.Logger {
	if f.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return f.Log
}

// Fetch downloads, verifies and caches an archive, then prunes the cache.
// The cache only ever changes by gaining a fully verified archive (and
// then losing the oldest beyond Keep). Errors wrap the Store's errors,
// ErrNoArchive, ErrRestorePending, ErrChecksum, ErrCorrupt, ErrDiskFull,
// ErrTooLarge, ErrChanged (overwritten during two attempts in a row) or
// the dump package's.
func (f *Fetcher) Fetch(ctx context.Context, req FetchRequest) (*FetchResult, error) {
	start := time.Now()
	res := &FetchResult{Warnings: []string{}, Pruned: []string{}}
	if err := f.Cache.Init(); err != nil {
		return res, err
	}
	if removed, err := f.Cache.Clean(7 * 24 * time.Hour); err == nil && len(removed) > 0 {
		f.log().Info("removed leftovers of an interrupted run", "files", removed)
	}

	if req.Key != "" {
		cand := Candidate{Name: ParseName(req.Key)}
		cand.Key = req.Key
		err := f.fetchOne(ctx, cand, req, res)
		res.Seconds = time.Since(start).Seconds()
		return res, err
	}
	// The newest valid archive; when it fails the full verification, the
	// next one, saying so.
	so := f.Scan
	so.Cached = func(o Object) bool { _, ok := f.Cache.Find(o.Key, o.ETag); return ok }
	so.Exclude = map[string]string{}
	var failed []string
	var lastErr error
	for {
		l, err := Scan(ctx, f.Store, f.Prefix, so)
		if err != nil {
			return res, err
		}
		res.Listing = l
		if len(failed) == 0 {
			res.Warnings = append(res.Warnings, l.Notices...)
		}
		c, ok := l.NewestCandidate()
		if !ok && lastErr != nil {
			res.Warnings = append(res.Warnings, failed...)
			return res, fmt.Errorf("%w under %s that passes verification; the last one tried: %w", ErrNoArchive, f.Store, lastErr)
		}
		if !ok {
			return res, fmt.Errorf("%w under %s (%s): see `lifeboat archives` for why each object was skipped",
				ErrNoArchive, f.Store, summarize(l))
		}
		err = f.fetchOne(ctx, *c, req, res)
		if err == nil {
			break
		}
		if !errors.Is(err, ErrVerify) || len(so.Exclude) >= maxFallbacks-1 {
			res.Warnings = append(res.Warnings, failed...)
			return res, err
		}
		lastErr = err
		reason := err.Error()
		var ve *VerifyError
		if errors.As(err, &ve) {
			reason = ve.Err.Error()
		}
		so.Exclude[c.Key] = "downloaded, but failed verification: " + reason
		failed = append(failed, err.Error())
	}
	res.Seconds = time.Since(start).Seconds()
	// The listing's warnings name every newer object that was not used,
	// including those that failed verification here.
	res.Warnings = append(res.Warnings, res.Listing.Warnings...)
	if len(res.Listing.Warnings) > 0 {
		return res, fmt.Errorf("%w: fetched %s, but %d newer object(s) were skipped (see the warnings above): check the backup job",
			ErrNewerUnusable, res.Key, len(res.Listing.Warnings))
	}
	return res, nil
}

// fetchOne fetches the candidate c into the cache and fills res. An object
// overwritten during the download is fetched again, once.
func (f *Fetcher) fetchOne(ctx context.Context, cand Candidate, req FetchRequest, res *FetchResult) error {
	err := f.fetchVersion(ctx, cand, req, res)
	if errors.Is(err, ErrChanged) {
		f.log().Warn("the object was overwritten during the download: starting over", "key", cand.Key)
		err = f.fetchVersion(ctx, cand, req, res)
	}
	return err
}

// fetchVersion fetches the version of the candidate that Head finds.
func (f *Fetcher) fetchVersion(ctx context.Context, cand Candidate, req FetchRequest, res *FetchResult) error {
	res.Key = cand.Key
	res.Entry = nil
	res.Status = ""
	obj, err := f.Store.Head(ctx, cand.Key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return fmt.Errorf("no object %q in %s: %w (list them with `lifeboat archives`)", cand.Key, f.Store, err)
		}
		return err
	}
	if cand.CapturedAt.IsZero() {
		cand.CapturedAt, cand.TimeSource = obj.LastModified, TimeFromLastModified
		if !cand.Name.Time.IsZero() && cand.Name.ZoneKnown && !cand.Name.ArchiveCopy {
			if t, ok, _ := trustTime(cand.Name.Time, "name", obj); ok {
				cand.CapturedAt, cand.TimeSource = t, TimeFromName
			}
		}
	}
	if obj.Size == 0 {
		return fmt.Errorf("%w: %s is a zero-byte object (a failed upload?)", ErrNotArchive, obj.Key)
	}

	if obj.Archived() {
		if err := f.waitRestore(ctx, &obj, req.Wait); err != nil {
			if errors.Is(err, ErrRestorePending) {
				res.Status = FetchRestorePending
			}
			return err
		}
	}

	if e, ok := f.Cache.Find(obj.Key, obj.ETag); ok {
		res.Status, res.Entry = FetchAlreadyCached, &e
		f.afterVerify(ctx, e, res)
		res.Pruned, err = f.prune(e.Path)
		return err
	}

	exp := Expect{Size: obj.Size}
	if obj.ChecksumType != "COMPOSITE" {
		exp.SHA256 = DecodeS3SHA256(obj.ChecksumSHA256)
	}
	if !obj.KMSEncrypted {
		exp.ETag = obj.ETag
		if strings.Contains(obj.ETag, "-") && len(exp.SHA256) == 0 {
			if ps, ok := f.Store.(PartSizer); ok {
				exp.UploadPartSize, _ = ps.PartSize(ctx, obj.Key)
			}
		}
	}
	f.readSidecars(ctx, cand, &exp)

	partial := filepath.Join(f.Cache.PartialDir(), PartialName(obj.Key)+".part")
	unpackTo := filepath.Join(f.Cache.PartialDir(), PartialName(obj.Key)+".unpack")
	// The verification follows the download part by part instead of
	// starting after it: the fetch costs the longer of the two.
	dlStart := time.Now()
	dctx, cancelDownload := context.WithCancel(ctx)
	defer cancelDownload()
	opts := f.Download
	opts.Follow = NewFollower()
	opts.KeepFree = f.Limits.KeepFree
	// A multipart ETag is checked from per-part MD5s computed by the
	// download workers, in parallel, when download parts can be upload parts.
	multipartETag := ""
	if ups := exp.UploadPartSize; ups >= 1<<20 && ups <= 256<<20 && strings.Contains(exp.ETag, "-") {
		opts.PartSize, opts.PartMD5 = ups, true
		multipartETag, exp.UploadPartSize = exp.ETag, 0
	}
	var dlErr error
	dlDone := make(chan struct{})
	go func() {
		defer close(dlDone)
		res.Download, dlErr = Download(dctx, f.Store, obj, partial, opts)
		res.DownloadSeconds = time.Since(dlStart).Seconds()
	}()
	follow := opts.Follow.Reader(ctx, partial)
	un, wrap, err := UnpackFollowing(ctx, follow, partial, unpackTo, exp, f.Limits)
	follow.Close()
	if err != nil {
		// Bad bytes make the rest of the transfer pointless.
		cancelDownload()
	}
	<-dlDone
	res.VerifySeconds = max(0, time.Since(dlStart).Seconds()-res.DownloadSeconds)
	if res.DownloadSeconds > 0 {
		res.Throughput = float64(res.Download.FetchedBytes) / res.DownloadSeconds
	}
	if err != nil {
		os.Remove(unpackTo)
		if errors.Is(err, ErrDownloadStopped) || ctx.Err() != nil {
			if errors.Is(dlErr, ErrChanged) {
				// Parts of another version are worth nothing.
				DiscardPartial(partial)
				return fmt.Errorf("%s: %w: the download started over", obj.Key, dlErr)
			}
			// The download failed or was interrupted: what is on disk is
			// kept for the next run to resume.
			if dlErr != nil {
				return dlErr
			}
			return err
		}
		if errors.Is(err, ErrChecksum) || errors.Is(err, ErrCorrupt) || errors.Is(err, ErrNotArchive) || errors.Is(err, ErrEncrypted) ||
			errors.Is(err, ErrTooLarge) || isDumpError(err) {
			// The bytes are bad: resuming them would not help.
			DiscardPartial(partial)
			return &VerifyError{Key: obj.Key, Err: err}
		}
		return err
	}
	if errors.Is(dlErr, ErrChanged) {
		DiscardPartial(partial)
		os.Remove(unpackTo)
		return fmt.Errorf("%s: %w: the download started over", obj.Key, dlErr)
	}
	if dlErr != nil {
		return dlErr
	}
	if multipartETag != "" {
		if got := multipartETagOf(res.Download.PartMD5); got != multipartETag {
			DiscardPartial(partial)
			os.Remove(unpackTo)
			return &VerifyError{Key: obj.Key, Err: fmt.Errorf("%w: multipart ETag is %s, the download gives %s (with %d-byte parts)",
				ErrChecksum, multipartETag, got, opts.PartSize)}
		}
		un.Verified = append(un.Verified, "etag-multipart")
	}
	sn := Sniffed{Wrap: wrap, Header: un.Archive.Header}
	if !sn.Header.CreatedAt.IsZero() {
		t, ok, note := trustTime(sn.Header.CreatedAt.UTC(), "pg_dump header", obj)
		cand.CapturedAt, cand.TimeSource = t, TimeFromHeader
		if !ok {
			cand.TimeSource = TimeFromLastModified
			if !slices.Contains(res.Warnings, note) {
				res.Warnings = append(res.Warnings, note)
			}
		}
	}
	sum := un.Archive.Summary()
	m := Manifest{
		Store: f.Store.String(), Key: obj.Key, ETag: obj.ETag, LastModified: obj.LastModified,
		StorageClass: obj.StorageClass, ObjectSize: obj.Size, ObjectSHA256: un.ObjectSHA256, Wrap: sn.Wrap,
		DumpSize: un.DumpSize, DumpSHA256: un.DumpSHA256, CapturedAt: cand.CapturedAt, TimeSource: cand.TimeSource,
		Header: un.Archive.Header, TOCEntries: len(un.Archive.Entries), DataTables: len(sum.DataTables),
		Verified: un.Verified, FetchedAt: time.Now().UTC(),
	}
	e, err := f.Cache.Commit(un.DumpPath, m)
	if err != nil {
		return err
	}
	os.Remove(unpackTo)
	res.Status, res.Entry = FetchFetched, &e
	// The object itself is still there: the vault keeps an encrypted
	// archive's ciphertext, not the cache's decrypted dump.
	withObject := e
	withObject.Object = partial
	f.afterVerify(ctx, withObject, res)
	DiscardPartial(partial)
	res.Pruned, err = f.prune(e.Path)
	return err
}

// afterVerify hands the verified archive to AfterVerify; its failure is a
// warning of the fetch, never a failed fetch.
func (f *Fetcher) afterVerify(ctx context.Context, e Entry, res *FetchResult) {
	if f.AfterVerify == nil {
		return
	}
	res.Warnings = append(res.Warnings, f.AfterVerify(ctx, e)...)
}

func (f *Fetcher) prune(protect string) ([]string, error) {
	removed, err := f.Cache.Prune(max(f.Keep, 1), protect)
	out := []string{}
	for _, r := range removed {
		out = append(out, r.Key)
	}
	if err != nil {
		return out, fmt.Errorf("the new archive is in place, but pruning old ones failed: %w", err)
	}
	return out, nil
}

// waitRestore requests a restore of an archived object and, with wait,
// polls until it is readable.
func (f *Fetcher) waitRestore(ctx context.Context, obj *Object, wait bool) error {
	if obj.Restore == "" {
		if err := f.Store.RequestRestore(ctx, obj.Key, f.RestoreTier, f.RestoreDays); err != nil {
			return err
		}
		f.log().Info("requested restore", "key", obj.Key, "tier", f.RestoreTier, "days", f.RestoreDays)
	}
	if !wait {
		return fmt.Errorf("%w: %s is in %s; a %s restore was requested: run `lifeboat fetch --key %s --wait` to wait for it (Standard takes hours, Expedited minutes)",
			ErrRestorePending, obj.Key, obj.StorageClass, f.RestoreTier, obj.Key)
	}
	interval := f.PollInterval
	if interval <= 0 {
		interval = time.Minute
	}
	for {
		o, err := f.Store.Head(ctx, obj.Key)
		if err != nil {
			return err
		}
		if !o.Archived() {
			*obj = o
			return nil
		}
		f.log().Info("restore still in progress", "key", obj.Key, "next_check", interval)
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: stopped waiting: %w", ErrRestorePending, ctx.Err())
		case <-time.After(interval):
		}
	}
}

// readSidecars loads KEY.sha256 / KEY.md5 files when the bucket has them.
func (f *Fetcher) readSidecars(ctx context.Context, c Candidate, exp *Expect) {
	names := c.Sidecars
	if names == nil {
		names = []string{c.Key + ".sha256", c.Key + ".md5"}
	}
	for _, k := range names {
		rc, err := f.Store.Open(ctx, k, 0, 4096)
		if err != nil {
			continue
		}
		b, _ := io.ReadAll(io.LimitReader(rc, 4096))
		rc.Close()
		switch {
		case strings.HasSuffix(k, ".md5"):
			exp.SidecarMD5 = ParseSidecar(b, md5.Size)
		default:
			exp.SidecarSHA256 = ParseSidecar(b, sha256.Size)
		}
	}
}

func summarize(l *Listing) string {
	counts := map[string]int{}
	for _, c := range l.Candidates {
		counts[c.Status]++
	}
	if l.Objects == 0 {
		return "the prefix is empty: check s3.prefix, and that the backup job runs"
	}
	s := fmt.Sprintf("%d objects: %d skipped, %d archived in Glacier, %d unchecked",
		l.Objects, counts[StatusSkipped], counts[StatusArchived], counts[StatusUnchecked])
	// Encrypted archives without their key, plain SQL while it is not
	// allowed: say which key to set, here, not only in the listing.
	for _, c := range l.Candidates {
		if c.Status == StatusSkipped && (strings.Contains(c.SkipReason, "s3.identity_file") || strings.Contains(c.SkipReason, "s3.passphrase_file") ||
			c.SkipReason == PlainSQLNotAllowed) {
			return s + "; " + c.Key + ": " + c.SkipReason
		}
	}
	return s
}

// multipartETagOf is S3's ETag of a multipart upload: the MD5 of the
// parts' MD5s, a dash, the number of parts.
func multipartETagOf(parts [][]byte) string {
	h := md5.New()
	for _, p := range parts {
		h.Write(p)
	}
	return fmt.Sprintf("%x-%d", h.Sum(nil), len(parts))
}

func isDumpError(err error) bool {
	return errors.Is(err, dump.ErrTruncated) || errors.Is(err, dump.ErrCorrupt) || errors.Is(err, dump.ErrNotArchive) ||
		errors.Is(err, dump.ErrUnsupportedVersion) || errors.Is(err, dump.ErrUnsupportedFormat) || errors.Is(err, dump.ErrTooLarge)
}
