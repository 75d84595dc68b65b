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
	// Exclude marks keys as unusable with the given reason without opening
	// them (archives that already failed a full verification).
	Exclude map[string]string
	// Now is the clock (for tests).
	Now func() time.Time
}

// clockSkew is the slack allowed between a pg_dump host's clock and the
// object store's LastModified.
const clockSkew = 15 * time.Minute

// Scan lists prefix, classifies every object and finds the newest valid
// archive. Newest means the latest capture time, which is read from the
// pg_dump header of the objects most likely to be newest, not from the
// sort order of names. An object only counts once its first bytes show a
// pg_dump custom archive. Errors are the Store's.
func Scan(ctx context.Context, st Store, prefix string, o ScanOptions) (*Listing, error) {
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.MaxChecked <= 0 {
		o.MaxChecked = 20
	}
	objs, err := st.List(ctx, prefix)
	if err != nil {
		return nil, err
	}
	l := &Listing{Store: st.String(), Prefix: prefix, ScannedAt: o.Now().UTC(), Objects: len(objs), Warnings: []string{}}
	byKey := make(map[string]bool, len(objs))
	for _, ob := range objs {
		byKey[ob.Key] = true
	}
	var open []*Candidate
	for _, ob := range objs {
		c := Candidate{Object: ob, Name: ParseName(ob.Key), Status: StatusUnchecked}
		c.CapturedAt, c.TimeSource = ob.LastModified, TimeFromLastModified
		if !c.Name.Time.IsZero() && c.Name.ZoneKnown && !c.Name.ArchiveCopy {
			c.CapturedAt, c.TimeSource = c.Name.Time, TimeFromName
		}
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
		case IsSidecar(ob.Key):
			c.Status, c.SkipReason = StatusSkipped, "sidecar file ("+strings.TrimPrefix(path.Ext(ob.Key), ".")+"), not an archive"
		case ob.Size == 0:
			c.Status, c.SkipReason = StatusSkipped, "zero-byte object (a failed upload?)"
		case c.Name.Wrap == WrapGPG:
			c.Status, c.SkipReason = StatusSkipped, "gpg-encrypted: Lifeboat cannot read it without the passphrase"
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
		if err := check(ctx, st, c); err != nil {
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
			if c.Status == StatusValid || (c.Status == StatusUnchecked && !capped) || c.SkipReason == "folder marker" || IsSidecar(c.Key) {
				continue
			}
			if c.CapturedAt.After(bestAt) {
				l.Warnings = append(l.Warnings, fmt.Sprintf("%s is newer than the archive picked (%s) but was skipped: %s",
					c.Key, bestKey, c.SkipReason))
			}
		}
	}
	return l, nil
}

// check reads the first bytes of c and fills in its status, wrap, header
// and capture time. It returns an error only when c is not usable.
func check(ctx context.Context, st Store, c *Candidate) error {
	n := int64(SniffSize)
	if c.Size > 0 && c.Size < n {
		n = c.Size
	}
	rc, err := st.Open(ctx, c.Key, 0, n)
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, "cannot be read: "+err.Error()
		if errors.Is(err, ErrArchived) {
			c.Status = StatusArchived
		}
		return err
	}
	b, err := io.ReadAll(io.LimitReader(rc, n))
	rc.Close()
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, "cannot be read: "+err.Error()
		return fmt.Errorf("%w: %v", ErrUnreachable, err)
	}
	s, err := Sniff(b, int64(len(b)) >= c.Size)
	if err != nil {
		c.Status, c.SkipReason = StatusSkipped, err.Error()
		return err
	}
	h := s.Header
	c.Status, c.Wrap, c.Header = StatusValid, s.Wrap, &h
	if !h.CreatedAt.IsZero() {
		c.CapturedAt, c.TimeSource = h.CreatedAt.UTC(), TimeFromHeader
	}
	return nil
}
