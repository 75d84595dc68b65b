package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

// Candidate status values.
const (
	StatusValid     = "valid"     // its first bytes hold a pg_dump custom archive
	StatusSkipped   = "skipped"   // not usable; SkipReason says why
	StatusArchived  = "archived"  // in GLACIER/DEEP_ARCHIVE, not readable without a restore
	StatusUnchecked = "unchecked" // not opened: older than the newest valid archive
)

// Time sources for Candidate.CapturedAt, best first.
const (
	TimeFromHeader       = "archive-header" // the creation time pg_dump wrote
	TimeFromName         = "name"           // the time in the object key
	TimeFromLastModified = "last-modified"  // when the object was uploaded
)

// Candidate is one object under the prefix and what Lifeboat makes of it.
type Candidate struct {
	Object
	Name Name `json:"name"`
	// CapturedAt is the best known capture time of the data; TimeSource
	// says where it came from.
	CapturedAt time.Time `json:"captured_at"`
	TimeSource string    `json:"time_source"`
	Status     string    `json:"status"`
	SkipReason string    `json:"skip_reason,omitempty"`
	// Wrap is how the archive is packed, read from its first bytes.
	Wrap string `json:"wrap,omitempty"`
	// Header is the pg_dump header, for valid candidates.
	Header *dump.Header `json:"header,omitempty"`
	// Sidecars are checksum files stored next to the object.
	Sidecars []string `json:"sidecars,omitempty"`
	// Cached is true when a verified copy is in the local cache.
	Cached bool `json:"cached"`
	// TimeNote says why a capture time the object claims (in its pg_dump
	// header or its name) was not believed: it is later than the upload.
	TimeNote string `json:"time_note,omitempty"`

	bound time.Time // no data in the object can be newer than this
	guess time.Time // capture time estimated before opening (name or LastModified)
}

// Listing is the result of Scan.
type Listing struct {
	Store      string      `json:"store"`
	Prefix     string      `json:"prefix"`
	ScannedAt  time.Time   `json:"scanned_at"`
	Objects    int         `json:"objects"`
	Checked    int         `json:"checked"`
	Candidates []Candidate `json:"candidates"`
	// Newest is the key of the newest valid archive, empty when none.
	Newest string `json:"newest"`
	// Warnings name objects newer than Newest that were not usable: a newer
	// broken backup must never be passed over silently.
	Warnings []string `json:"warnings"`
	// Notices are worth a look but do not make a run fail: the prefix read
	// as a folder, a capture time that was not believed, an archive whose
	// name carries another app or database than its neighbours'.
	Notices []string `json:"notices"`
}

// NewestCandidate returns the candidate named by Newest.
func (l *Listing) NewestCandidate() (*Candidate, bool) {
	for i := range l.Candidates {
		if l.Candidates[i].Key == l.Newest && l.Newest != "" {
			return &l.Candidates[i], true
		}
	}
	return nil, false
}

// ErrNoArchive is returned by Scan's callers when a prefix holds no valid archive.
var ErrNoArchive = errors.New("no valid archive found")

// ScanOptions tune Scan.
type ScanOptions struct {
	// MaxChecked caps how many objects are opened to read their header.
	MaxChecked int
	// CheckAll opens every readable object (for `archives --check-all`).
	CheckAll bool
	// Cached reports whether an object is already in the local cache.
	Cached func(Object) bool
	// Keys open encrypted archives (s3.identity_file, s3.passphrase_file);
	// nil: encrypted objects are skipped, saying which key would open them.
	Keys *crypt.Keys
	// Exclude marks keys as unusable with the given reason without opening
	// them (archives that already failed a full verification).
	Exclude map[string]string
	// Subfolders makes objects in folders below the prefix candidates too
	// (s3.subfolders); by default only objects directly in the prefix's
	// folder are, so that "backups/shop/" never picks "backups/shop/old/"
	// or another app's folder.
	Subfolders bool
	// AllowPlainSQL makes plain-SQL dumps (pg_dump -Fp) candidates
	// (database.allow_plain_sql); by default they are skipped, saying why.
	AllowPlainSQL bool
	// Now is the clock (for tests).
	Now func() time.Time
}

// clockSkew is the slack allowed between a pg_dump host's clock and the
// object store's LastModified.
const clockSkew = 15 * time.Minute

// Folder returns prefix as a folder: with a trailing "/" (an empty prefix,
// the whole bucket, stays empty). "backups/shop" would also match
// "backups/shop-staging/...".
func Folder(prefix string) string {
	if prefix == "" || strings.HasSuffix(prefix, "/") {
		return prefix
	}
	return prefix + "/"
}

// trustTime returns the capture time an object's claim may be given: no
// data can be newer than the object's upload, so a claim later than its
// LastModified (plus clockSkew) is replaced by LastModified, and note says
// so. Whoever writes to the bucket writes the claims; only the store
// writes LastModified.
func trustTime(claim time.Time, what string, ob Object) (t time.Time, fromClaim bool, note string) {
	if !claim.After(ob.LastModified.Add(clockSkew)) {
		return claim, true, ""
	}
	return ob.LastModified, false, fmt.Sprintf("%s: the %s says it was captured %s, after it was uploaded (%s): using the upload time (a pg_dump host far east of UTC, or a forged header)",
		ob.Key, what, claim.UTC().Format(time.RFC3339), ob.LastModified.UTC().Format(time.RFC3339))
}

// Scan lists the folder prefix names (a missing trailing "/" is added, and
// a notice says so), classifies every object and finds the newest valid
// archive. Newest means the latest capture time, which is read from the
// pg_dump header of the objects most likely to be newest, not from the
// sort order of names, and is never later than the object's upload. An
// object only counts once its first bytes show a pg_dump custom archive.
// Errors are the Store's.
func Scan(ctx context.Context, st Store, prefix string, o ScanOptions) (*Listing, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxChecked <= 0 {
		o.MaxChecked = 20
	}
	folder := Folder(prefix)
	objs, err := st.List(ctx, folder)
	if err != nil {
		return nil, err
	}
	l := &Listing{Store: st.String(), Prefix: folder, ScannedAt: o.Now().UTC(), Objects: len(objs), Warnings: []string{}, Notices: []string{}}
	if folder != prefix {
		l.Notices = append(l.Notices, fmt.Sprintf("s3.prefix %q is read as the folder %q (a prefix without a trailing / would also match %s-staging/ and the like): add the / to the config to silence this",
			prefix, folder, prefix))
	}
	byKey := make(map[string]bool, len(objs))
	for _, ob := range objs {
		byKey[ob.Key] = true
	}
	var open []*Candidate
	for _, ob := range objs {
		c := Candidate{Object: ob, Name: ParseName(ob.Key), Status: StatusUnchecked}
		c.CapturedAt, c.TimeSource = ob.LastModified, TimeFromLastModified
		if !c.Name.Time.IsZero() && c.Name.ZoneKnown && !c.Name.ArchiveCopy {
			if t, ok, note := trustTime(c.Name.Time, "name", ob); ok {
				c.CapturedAt, c.TimeSource = t, TimeFromName
			} else {
				c.TimeNote = note
			}
		}
		sub, inSub := subfolder(folder, ob.Key)
		c.guess = c.CapturedAt
		// A backup cannot hold data from after its upload, nor (for names
		// written at capture or copy time) from after the time in its name.
		c.bound = ob.LastModified.Add(clockSkew)
		if !c.Name.Time.IsZero() && c.Name.ZoneKnown && c.Name.Time.Add(clockSkew).Before(c.bound) {
			c.bound = c.Name.Time.Add(clockSkew)
		}
		for _, ext := range []string{".sha256", ".sha256sum", ".md5"} {
			if byKey[ob.Key+ext] {
				c.Sidecars = append(c.Sidecars, ob.Key+ext)
			}
		}
		if o.Cached != nil {
			c.Cached = o.Cached(ob)
		}
		switch {
		case strings.HasSuffix(ob.Key, "/"):
			c.Status, c.SkipReason = StatusSkipped, "folder marker"
		case inSub && !o.Subfolders:
			c.Status, c.SkipReason = StatusSkipped, fmt.Sprintf("%s %q below the prefix: only objects directly in %q are candidates (set s3.subfolders: true to include subfolders)",
				subfolderReason, sub, folder)
		case IsSidecar(ob.Key):
			c.Status, c.SkipReason = StatusSkipped, "sidecar file ("+strings.TrimPrefix(path.Ext(ob.Key), ".")+"), not an archive"
		case ob.Size == 0:
			c.Status, c.SkipReason = StatusSkipped, "zero-byte object (a failed upload?)"
		case c.Name.Wrap == WrapGPG && !o.Keys.Has(crypt.GPG):
			c.Status, c.SkipReason = StatusSkipped, "gpg-encrypted: set s3.passphrase_file to read it"
		case o.Exclude[ob.Key] != "":
			c.Status, c.SkipReason = StatusSkipped, o.Exclude[ob.Key]
		case ob.Archived():
			c.Status = StatusArchived
			c.SkipReason = fmt.Sprintf("in %s: not readable until restored (lifeboat fetch --key %s --wait)", ob.StorageClass, ob.Key)
		}
		l.Candidates = append(l.Candidates, c)
	}
	for i := range l.Candidates {
		if l.Candidates[i].Status == StatusUnchecked {
			open = append(open, &l.Candidates[i])
		}
	}
	// Open candidates from the newest possible capture time down; stop as
	// soon as the best valid one is newer than anything the rest can hold.
	sort.SliceStable(open, func(i, j int) bool { return open[i].bound.After(open[j].bound) })
	var best *Candidate
	capped := false
	for _, c := range open {
		if !o.CheckAll {
			if best != nil && !best.CapturedAt.Before(c.bound) {
				break
			}
			if l.Checked >= o.MaxChecked {
				capped = true
				break
			}
		}
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		l.Checked++
		if err := check(ctx, st, c, o.Keys, o.AllowPlainSQL); err != nil {
			if errors.Is(err, ErrUnreachable) || errors.Is(err, ErrDenied) || errors.Is(err, context.Canceled) {
				return nil, err
			}
			continue
		}
		if best == nil || c.CapturedAt.After(best.CapturedAt) {
			best = c
		}
	}
	for _, c := range open {
		if c.Status == StatusUnchecked {
			c.SkipReason = "not opened: older than the newest valid archive"
			if best == nil {
				c.SkipReason = fmt.Sprintf("not opened: only the %d most recent objects are checked (download.checked_candidates)", o.MaxChecked)
			}
		}
	}
	// best points into l.Candidates, which is about to be reordered.
	// An unusable object is "newer" than the pick when it is newer by the
	// pick's header time or by the pick's name: either way someone should
	// look at it.
	var bestKey string
	var bestAt time.Time
	if best != nil {
		bestKey, bestAt = best.Key, best.CapturedAt
		if best.guess.Before(bestAt) {
			bestAt = best.guess
		}
	}
	sort.SliceStable(l.Candidates, func(i, j int) bool {
		a, b := l.Candidates[i], l.Candidates[j]
		if !a.CapturedAt.Equal(b.CapturedAt) {
			return a.CapturedAt.After(b.CapturedAt)
		}
		return a.Key > b.Key
	})
	if bestKey != "" {
		l.Newest = bestKey
		for _, c := range l.Candidates {
			if c.Status == StatusValid || (c.Status == StatusUnchecked && !capped) || c.SkipReason == "folder marker" || IsSidecar(c.Key) ||
				strings.HasPrefix(c.SkipReason, subfolderReason) {
				continue
			}
			if c.CapturedAt.After(bestAt) {
				l.Warnings = append(l.Warnings, fmt.Sprintf("%s is newer than the archive picked (%s) but was skipped: %s",
					c.Key, bestKey, c.SkipReason))
			}
		}
	}
	for _, c := range l.Candidates {
		if c.TimeNote != "" && c.Status != StatusSkipped {
			l.Notices = append(l.Notices, c.TimeNote)
		}
	}
	l.Notices = append(l.Notices, strangers(l.Candidates)...)
	return l, nil
}

// subfolderReason starts the skip reason of objects below the prefix.
const subfolderReason = "in the subfolder"

// subfolder returns the first folder of key below folder, if any.
func subfolder(folder, key string) (string, bool) {
	rel := strings.TrimPrefix(key, folder)
	if i := strings.Index(rel, "/"); i >= 0 && i < len(rel)-1 {
		return folder + rel[:i+1], true
	}
	return "", false
}

// strangers names the candidates whose key carries another app or
// database than most of the others under the prefix: the prefix may span
// two apps' backups, and a refresh would restore the wrong one.
func strangers(cands []Candidate) []string {
	type pair struct{ app, db string }
	count := map[pair]int{}
	for _, c := range cands {
		if c.Name.App != "" && c.Status != StatusSkipped {
			count[pair{c.Name.App, c.Name.Database}]++
		}
	}
	if len(count) < 2 {
		return nil
	}
	var common pair
	for p, n := range count {
		if n > count[common] || (n == count[common] && (p.app+p.db) < (common.app+common.db)) {
			common = p
		}
	}
	var out []string
	for _, c := range cands {
		p := pair{c.Name.App, c.Name.Database}
		if c.Name.App == "" || c.Status == StatusSkipped || p == common {
			continue
		}
		out = append(out, fmt.Sprintf("%s names app %q and database %q, unlike the %d other archive(s) here (app %q, database %q): does s3.prefix hold another app's backups?",
			c.Key, p.app, p.db, count[common], common.app, common.db))
	}
	return out
}

// readHead reads the first n bytes of c (all of it when smaller).
func readHead(ctx context.Context, st Store, c *Candidate, n int64) ([]byte, error) {
	if c.Size > 0 && c.Size < n {
		n = c.Size
	}
	rc, err := st.Open(ctx, c.Key, 0, n)
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, "cannot be read: "+err.Error()
		if errors.Is(err, ErrArchived) {
			c.Status = StatusArchived
		}
		return nil, err
	}
	b, err := io.ReadAll(io.LimitReader(rc, n))
	rc.Close()
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, "cannot be read: "+err.Error()
		return nil, fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	return b, nil
}

// check reads the first bytes of c and fills in its status, wrap, header
// and capture time. It returns an error only when c is not usable.
func check(ctx context.Context, st Store, c *Candidate, keys *crypt.Keys, allowPlain bool) error {
	b, err := readHead(ctx, st, c, SniffSize)
	if err != nil {
		return err
	}
	if crypt.Detect(b) != "" && keys.Has(crypt.Detect(b)) && int64(len(b)) < c.Size {
		// What an encrypted object holds takes a little more to read.
		if b, err = readHead(ctx, st, c, EncryptedSniffSize); err != nil {
			return err
		}
	}
	s, err := SniffKeys(b, int64(len(b)) >= c.Size, keys)
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, err.Error()
		return err
	}
	if s.IsPlain() && !allowPlain {
		c.Status, c.Wrap, c.SkipReason = StatusSkipped, s.Wrap, PlainSQLNotAllowed
		return fmt.Errorf("%w: %s", ErrNotArchive, PlainSQLNotAllowed)
	}
	h := s.Header
	c.Status, c.Wrap, c.Header = StatusValid, s.Wrap, &h
	if !h.CreatedAt.IsZero() {
		if t, ok, note := trustTime(h.CreatedAt.UTC(), "pg_dump header", c.Object); ok {
			c.CapturedAt, c.TimeSource, c.TimeNote = t, TimeFromHeader, ""
		} else {
			c.CapturedAt, c.TimeSource, c.TimeNote = t, TimeFromLastModified, note
		}
	}
	return nil
}
