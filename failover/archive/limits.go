package archive

import (
	"errors"
	"fmt"
	"io"
	"path/filepath"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
	"github.com/lifeboat-dr/lifeboat/failover/report"
)

// ErrTooLarge is returned (inside a VerifyError) when an archive goes past
// one of the Limits: its dump unpacks to more than MaxUnpackedSize, or to
// more than MaxRatio bytes per byte of the object, or its table of
// contents exceeds the dump reader's limits. The message names the config
// key. Whoever writes to the bucket chooses these sizes; a backup job gone
// wrong can too.
var ErrTooLarge = errors.New("archive exceeds a limit")

// Limits bound what fetching one archive may cost, whatever its content.
type Limits struct {
	// Dump bounds the pg_dump reader: the memory its table of contents
	// may take (download.max_toc_size, download.max_field_size).
	Dump dump.Limits
	// MaxUnpackedSize stops a fetch whose dump grows past it
	// (download.max_unpacked_size); 0: no limit.
	MaxUnpackedSize int64
	// MaxRatio stops unpacking once the dump is more than MaxRatio bytes
	// per byte of the object read so far (download.max_unpack_ratio),
	// checked past the first RatioGrace bytes; 0: DefaultMaxRatio.
	// Backups of real databases compress far less than a gzip bomb does.
	MaxRatio float64
	// KeepFree is the room left free on the cache's file system while
	// downloading and unpacking (cache.min_free), for the database volumes
	// that usually share it.
	KeepFree FreeSpace
	// Keys open encrypted archives (s3.identity_file, s3.passphrase_file);
	// nil opens none.
	Keys *crypt.Keys
	// AllowPlainSQL accepts plain-SQL dumps (database.allow_plain_sql):
	// read to their end (dump.ReadPlain) instead of refused.
	AllowPlainSQL bool
}

// DefaultMaxRatio is the unpack ratio refused when Limits.MaxRatio is 0.
// pg_dump's custom format compresses its data blocks already, so a gzip
// of one shrinks it little; even an uncompressed dump of repetitive
// tables stays far below this.
const DefaultMaxRatio = 200

// RatioGrace is how much an archive may unpack to before its ratio is
// checked: small archives of a few tables compress extremely well.
const RatioGrace = 64 << 20

// FreeSpace is room to keep free on a file system: a number of bytes, or a
// share of the file system's size.
type FreeSpace struct {
	Bytes   int64
	Percent float64 // 0-100; when set, Bytes is ignored
}

// Of returns the bytes to keep free on a file system of total bytes.
func (f FreeSpace) Of(total int64) int64 {
	if f.Percent > 0 {
		return int64(float64(total) * f.Percent / 100)
	}
	return f.Bytes
}

func (f FreeSpace) String() string {
	if f.Percent > 0 {
		return fmt.Sprintf("%g%%", f.Percent)
	}
	return humanBytes(f.Bytes)
}

// checkFree fails with ErrDiskFull when writing need more bytes under dir
// would leave less than keep free. what says what would be written.
func checkFree(dir string, need int64, keep FreeSpace, what string) error {
	sp, err := fsutil.SpaceOf(dir)
	if err != nil {
		return err
	}
	min := keep.Of(sp.Total)
	if sp.Free-need >= min {
		return nil
	}
	limit := keep.String()
	if keep.Percent > 0 {
		limit += " of " + humanBytes(sp.Total) + " = " + humanBytes(min)
	}
	return fmt.Errorf("%w: %s would leave %s free on the file system of %s, less than cache.min_free (%s): free some space, or lower cache.min_free; nothing in the cache was changed",
		ErrDiskFull, what, humanBytes(max(sp.Free-need, 0)), dir, limit)
}

// limitHint names the config key of a dump reader limit.
func limitHint(err error) error {
	var le *dump.LimitError
	if !errors.As(err, &le) {
		return err
	}
	key := "download.max_toc_size"
	if le.Limit == dump.LimitFieldSize {
		key = "download.max_field_size"
	}
	return fmt.Errorf("%w: %w (raise %s if this archive is genuine)", ErrTooLarge, err, key)
}

// humanBytes is the one byte formatter of Lifeboat's messages.
func humanBytes(n int64) string { return report.Bytes(n) }

// ratioReader reads a decompressed stream and fails with ErrTooLarge once
// it has given more than max bytes per compressed byte read (past
// RatioGrace).
type ratioReader struct {
	r          io.Reader
	max        float64
	compressed func() int64
	n          int64
}

func (z *ratioReader) Read(p []byte) (int, error) {
	n, err := z.r.Read(p)
	z.n += int64(n)
	ratio := z.max
	if ratio <= 0 {
		ratio = DefaultMaxRatio
	}
	if c := z.compressed(); z.n > RatioGrace && float64(z.n) > ratio*float64(max(c, 1)) {
		return n, fmt.Errorf("%w: %s of object unpack to more than %s, more than download.max_unpack_ratio (%g) times as much: a decompression bomb? (raise download.max_unpack_ratio if this archive is genuine)",
			ErrTooLarge, humanBytes(c), humanBytes(z.n), ratio)
	}
	return n, err
}

// unpackGuard watches the dump being written while it unpacks: its size
// against MaxUnpackedSize, and the file system's free space against
// KeepFree.
type unpackGuard struct {
	lim       Limits
	path      string
	written   int64
	nextCheck int64 // when to look at the free space again
}

// spaceCheckEvery is how many bytes are written between two looks at the
// free space; the write buffer holds no more than this either.
const spaceCheckEvery = 1 << 20

func (g *unpackGuard) Write(p []byte) (int, error) {
	g.written += int64(len(p))
	if max := g.lim.MaxUnpackedSize; max > 0 && g.written > max {
		return 0, fmt.Errorf("%w: the dump unpacks to more than download.max_unpacked_size (%s)", ErrTooLarge, humanBytes(max))
	}
	if g.written >= g.nextCheck {
		g.nextCheck = g.written + spaceCheckEvery
		// What the write buffer may hold counts as written already.
		if err := checkFree(filepath.Dir(g.path), min(g.written, spaceCheckEvery), g.lim.KeepFree, "unpacking the archive further"); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}
