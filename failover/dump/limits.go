package dump

import (
	"context"
	"fmt"
	"io"
	"unsafe"
)

// Limits bound what reading an archive may cost. The table of contents is
// kept in memory whole (restores need it), so whoever writes the archive
// chooses how much memory reading it takes: a few megabytes of gzip can
// hold gigabytes of TOC strings. A real TOC entry costs about 550 bytes, so
// the defaults hold some 60,000 entries (a schema of about 10,000 tables
// with their indexes, constraints and sequences, or as many large objects
// before PostgreSQL 17, which wrote one TOC entry per large object), and
// keep reading and describing any archive, JSON included, well under
// 256 MB of memory. What printing a string may add (JSON and terminal
// escapes of control characters) counts too.
type Limits struct {
	// MaxTOCSize caps the memory the table of contents may take: the bytes
	// of its strings plus the size of each entry's record. 0 means
	// DefaultLimits.MaxTOCSize.
	MaxTOCSize int64
	// MaxFieldSize caps any one string of the header or the table of
	// contents (a function body, a view definition). 0 means
	// DefaultLimits.MaxFieldSize. Strings are never longer than 1 GiB.
	MaxFieldSize int64
}

// DefaultLimits are the limits of Read, Verify and VerifyContext.
var DefaultLimits = Limits{MaxTOCSize: 32 << 20, MaxFieldSize: 16 << 20}

// Which limit a LimitError is about.
const (
	LimitTOCSize   = "toc-size"   // Limits.MaxTOCSize
	LimitFieldSize = "field-size" // Limits.MaxFieldSize
)

// LimitError is the error of an archive that exceeds a Limits; it wraps
// ErrTooLarge.
type LimitError struct {
	// Limit is LimitTOCSize or LimitFieldSize; Max its value.
	Limit string
	Max   int64
	// What was being read, and at which offset of the archive.
	What string
	At   int64
}

func (e *LimitError) Error() string {
	switch e.Limit {
	case LimitFieldSize:
		return fmt.Sprintf("%v: %s at offset %d is longer than the limit of %s for one field",
			ErrTooLarge, e.What, e.At, mib(e.Max))
	default:
		return fmt.Sprintf("%v: the table of contents needs more than the limit of %s of memory (reached at %s, offset %d)",
			ErrTooLarge, mib(e.Max), e.What, e.At)
	}
}

// Unwrap makes errors.Is(err, ErrTooLarge) true.
func (e *LimitError) Unwrap() error { return ErrTooLarge }

func mib(n int64) string {
	if n%(1<<20) == 0 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d bytes", n)
}

// withDefaults fills zero fields from DefaultLimits.
func (l Limits) withDefaults() Limits {
	if l.MaxTOCSize <= 0 {
		l.MaxTOCSize = DefaultLimits.MaxTOCSize
	}
	if l.MaxFieldSize <= 0 {
		l.MaxFieldSize = DefaultLimits.MaxFieldSize
	}
	l.MaxFieldSize = min(l.MaxFieldSize, maxStringLen)
	return l
}

// entryCost is what one TOC entry takes beyond its strings: its record in
// Archive.Entries and in the index by dump ID.
const entryCost = int64(unsafe.Sizeof(Entry{})) + 64

// Read is the package's Read under these limits.
func (l Limits) Read(r io.Reader) (*Archive, error) {
	d := newDecoder(r)
	d.lim = l.withDefaults()
	return read(d)
}

// Verify is the package's VerifyContext under these limits.
func (l Limits) Verify(ctx context.Context, r io.Reader) (*Archive, error) {
	d := newDecoder(r)
	d.lim = l.withDefaults()
	return verify(ctx, d)
}

// charge counts n more bytes of memory against MaxTOCSize.
func (d *decoder) charge(n int64, what string, at int64) error {
	d.charged += n
	if d.charged > d.lim.MaxTOCSize {
		return &LimitError{Limit: LimitTOCSize, Max: d.lim.MaxTOCSize, What: what, At: at}
	}
	return nil
}
