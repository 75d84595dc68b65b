package dump

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

const magic = "PGDMP"

// Archive format versions, as pg_backup_archiver.h's K_VERS_1_x.
const (
	vers1_10 = (1*256+10)*256 + 0 // tablespace; server and pg_dump versions in the header
	vers1_11 = (1*256+11)*256 + 0 // section
	vers1_14 = (1*256+14)*256 + 0 // tableam
	vers1_15 = (1*256+15)*256 + 0 // compression algorithm byte replaces the level
	vers1_16 = (1*256+16)*256 + 0 // relkind; BLOB METADATA; several BLOBS entries

	minVersion = vers1_10
	maxVersion = (1*256+16)*256 + 255 // K_VERS_MAX: any revision of 1.16
)

// Archive formats (pg_backup.h's ArchiveFormat).
const (
	formatCustom    = 1
	formatTar       = 3
	formatNull      = 4
	formatDirectory = 5
)

// Offset flags (K_OFFSET_*).
const (
	offsetNotSet = 1
	offsetSet    = 2
	offsetNoData = 3
)

// Header is the archive header: the format's version and parameters and
// what pg_dump recorded about the dump.
type Header struct {
	// Version is the archive format version, "1.14.0" (not a Postgres version).
	Version      string `json:"version"`
	VersionMajor int    `json:"version_major"`
	VersionMinor int    `json:"version_minor"`
	VersionRev   int    `json:"version_rev"`
	// IntSize and OffSize are the byte widths of the archive's integers and
	// file offsets (4 and 8 on every common platform).
	IntSize int `json:"int_size"`
	OffSize int `json:"off_size"`
	// Format is "custom": the only format this package reads.
	Format string `json:"format"`
	// Compression is the data compression: "none", "gzip", "lz4" or "zstd".
	Compression string `json:"compression"`
	// CompressionLevel is the zlib level recorded by archives older than
	// 1.15 (0 none, 1-9, -1 zlib's default); -1 for 1.15 and later, which
	// record only the algorithm.
	CompressionLevel int `json:"compression_level"`
	// CreatedAt is when pg_dump started. pg_dump records the broken-down
	// local time of the host it ran on (struct tm, no zone), so these are
	// that host's wall-clock fields placed in time.UTC: they are UTC only if
	// that host ran in UTC. Zero when the recorded fields are impossible.
	CreatedAt time.Time `json:"created_at"`
	// CreatedAtDST is the recorded tm_isdst: 1 daylight saving time was in
	// effect, 0 it was not, negative unknown.
	CreatedAtDST int `json:"created_at_dst"`
	// DatabaseName is the name of the database that was dumped.
	DatabaseName string `json:"database_name"`
	// ServerVersion is the dumped server's version string,
	// e.g. "15.18 (Debian 15.18-0+deb12u1)".
	ServerVersion string `json:"server_version"`
	// PgDumpVersion is the version string of the pg_dump that wrote the archive.
	PgDumpVersion string `json:"pg_dump_version"`

	version int // MAKE_ARCHIVE_VERSION, for the TOC reader
}

// ServerMajor returns the major version of the server that was dumped:
// 15 for "15.18 (Debian ...)", 17 for "17beta1". Before PostgreSQL 10 a
// major version had two parts (9.6); for those it returns the first part,
// 9, so callers that need 9.x must look at ServerVersion themselves.
// It returns ErrCorrupt when the version string does not start with a number.
func (h Header) ServerMajor() (int, error) {
	return majorOf(h.ServerVersion, "server version")
}

// PgDumpMajor returns the major version of the pg_dump that wrote the
// archive, as ServerMajor does. A pg_restore older than this pg_dump may
// not read the archive. It returns ErrCorrupt for a version string that
// does not start with a number.
func (h Header) PgDumpMajor() (int, error) {
	return majorOf(h.PgDumpVersion, "pg_dump version")
}

func majorOf(v, what string) (int, error) {
	n, digits := 0, 0
	for _, c := range strings.TrimSpace(v) {
		if c < '0' || c > '9' {
			break
		}
		n = n*10 + int(c-'0')
		digits++
		if digits > 6 {
			return 0, fmt.Errorf("%w: %s %q has no plausible major version", ErrCorrupt, what, v)
		}
	}
	if digits == 0 {
		return 0, fmt.Errorf("%w: %s %q has no major version", ErrCorrupt, what, v)
	}
	return n, nil
}

// ReadHeader reads the archive header only. It is meant for sniffing: the
// first few hundred bytes of an S3 object are enough. It reads r through a
// buffer, so it may consume more of r than the header.
//
// It returns ErrNotArchive when r does not start with "PGDMP" (the message
// says what it looks like instead: empty, plain SQL, gzip, tar...),
// ErrTruncated when r ends inside the header, ErrUnsupportedVersion for a
// format version outside 1.10-1.16, ErrUnsupportedFormat for a tar or
// directory archive, ErrCorrupt for impossible header fields, or an I/O
// error from r.
func ReadHeader(r io.Reader) (Header, error) {
	return readHeader(newDecoder(r))
}

func readHeader(d *decoder) (Header, error) {
	var h Header

	var m [len(magic)]byte
	n, err := io.ReadFull(d.r, m[:])
	d.off += int64(n)
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return h, ioError(err, "magic", d.off)
	}
	if string(m[:n]) != magic {
		if n > 0 && n < len(magic) && strings.HasPrefix(magic, string(m[:n])) && err != nil {
			return h, fmt.Errorf("%w: input ends after %d bytes of the PGDMP magic", ErrTruncated, n)
		}
		return h, notArchive(d, m[:n])
	}

	vmaj, err := d.readByte("version")
	if err != nil {
		return h, err
	}
	vmin, err := d.readByte("version")
	if err != nil {
		return h, err
	}
	var vrev byte
	if vmaj > 1 || (vmaj == 1 && vmin > 0) { // as ReadHead: 1.0 had no revision byte
		if vrev, err = d.readByte("version"); err != nil {
			return h, err
		}
	}
	h.VersionMajor, h.VersionMinor, h.VersionRev = int(vmaj), int(vmin), int(vrev)
	h.Version = fmt.Sprintf("%d.%d.%d", vmaj, vmin, vrev)
	h.version = (int(vmaj)*256+int(vmin))*256 + int(vrev)
	if h.version < minVersion || h.version > maxVersion {
		return h, fmt.Errorf("%w: archive version %s (%s); this reader supports 1.10 to 1.16, written by pg_dump 8.0 to 18",
			ErrUnsupportedVersion, h.Version, writerOf(h.VersionMajor, h.VersionMinor))
	}
	d.version = h.version

	at := d.off
	intSize, err := d.readByte("integer size")
	if err != nil {
		return h, err
	}
	if intSize < 1 || intSize > 8 {
		return h, corrupt(at, "integer size %d (pg_dump writes 4)", intSize)
	}
	h.IntSize, d.intSize = int(intSize), int(intSize)

	at = d.off
	offSize, err := d.readByte("offset size")
	if err != nil {
		return h, err
	}
	if offSize < 1 || offSize > 16 {
		return h, corrupt(at, "offset size %d (pg_dump writes 8)", offSize)
	}
	h.OffSize, d.offSize = int(offSize), int(offSize)

	format, err := d.readByte("format")
	if err != nil {
		return h, err
	}
	if format != formatCustom {
		return h, fmt.Errorf("%w: %s (format byte %d); only the custom format (pg_dump -Fc) is read",
			ErrUnsupportedFormat, formatName(format), format)
	}
	h.Format = "custom"

	at = d.off
	if h.version >= vers1_15 {
		alg, err := d.readByte("compression algorithm")
		if err != nil {
			return h, err
		}
		switch alg {
		case 0:
			h.Compression = "none"
		case 1:
			h.Compression = "gzip"
		case 2:
			h.Compression = "lz4"
		case 3:
			h.Compression = "zstd"
		default:
			return h, corrupt(at, "unknown compression algorithm %d", alg)
		}
		h.CompressionLevel = -1
	} else {
		level, err := d.readInt("compression level")
		if err != nil {
			return h, err
		}
		if level < -1 || level > 9 {
			return h, corrupt(at, "compression level %d", level)
		}
		h.CompressionLevel = int(level)
		h.Compression = "gzip"
		if level == 0 {
			h.Compression = "none"
		}
	}

	var tm [7]int
	for i, name := range [...]string{"tm_sec", "tm_min", "tm_hour", "tm_mday", "tm_mon", "tm_year", "tm_isdst"} {
		if tm[i], err = d.readInt32("creation time " + name); err != nil {
			return h, err
		}
	}
	h.CreatedAt = createdAt(tm)
	h.CreatedAtDST = tm[6]

	if h.DatabaseName, _, err = d.readStr("database name"); err != nil {
		return h, err
	}
	if h.ServerVersion, _, err = d.readStr("server version"); err != nil {
		return h, err
	}
	if h.PgDumpVersion, _, err = d.readStr("pg_dump version"); err != nil {
		return h, err
	}
	return h, nil
}

// createdAt builds the creation time from struct tm fields, or the zero
// time when they are out of range (pg_restore only warns about those).
func createdAt(tm [7]int) time.Time {
	sec, min, hour, mday, mon, year := tm[0], tm[1], tm[2], tm[3], tm[4], tm[5]
	if sec < 0 || sec > 61 || min < 0 || min > 59 || hour < 0 || hour > 23 ||
		mday < 1 || mday > 31 || mon < 0 || mon > 11 || year < 0 || year > math.MaxInt16 {
		return time.Time{}
	}
	return time.Date(year+1900, time.Month(mon+1), mday, hour, min, sec, 0, time.UTC)
}

func formatName(f byte) string {
	switch f {
	case formatTar:
		// pg_dump -Fd writes "tar" into its toc.dat too: the directory
		// layout is compatible with the tar format's members.
		return "tar or directory format (the toc.dat of pg_dump -Ft or -Fd)"
	case formatDirectory:
		return "directory format"
	case formatNull:
		return "plain format"
	}
	return "unknown format"
}

// writerOf names the pg_dump releases that wrote an archive version.
func writerOf(vmaj, vmin int) string {
	if vmaj != 1 {
		return "not written by any pg_dump"
	}
	switch {
	case vmin < 10:
		return "written by pg_dump 8.0 or older"
	case vmin == 10:
		return "written by pg_dump 8.0-8.3"
	case vmin == 11:
		return "written by pg_dump 8.4"
	case vmin == 12:
		return "written by pg_dump 9.0 to 10.2"
	case vmin == 13:
		return "written by pg_dump 9.3 to 11, from the February 2018 releases"
	case vmin == 14:
		return "written by pg_dump 12 to 15"
	case vmin == 15:
		return "written by pg_dump 16"
	case vmin == 16:
		return "written by pg_dump 17 and 18"
	}
	return "written by a pg_dump newer than 18"
}

// notArchive reads a little more of the input to say what it is instead,
// and returns ErrNotArchive (or ErrUnsupportedFormat for a tar-format
// pg_dump archive, whose first member toc.dat starts with PGDMP).
func notArchive(d *decoder, head []byte) error {
	if len(head) == 0 {
		return fmt.Errorf("%w: input is empty", ErrNotArchive)
	}
	buf := make([]byte, 1024)
	n := copy(buf, head)
	m, _ := io.ReadFull(d.r, buf[n:])
	buf = buf[:n+m]
	d.off += int64(m)

	what := "unrecognised content"
	switch {
	case bytes.HasPrefix(buf, []byte{0x1f, 0x8b}):
		what = "gzip-compressed data (decompress it first)"
	case bytes.HasPrefix(buf, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		what = "zstd-compressed data (decompress it first)"
	case bytes.HasPrefix(buf, []byte{0x04, 0x22, 0x4d, 0x18}):
		what = "lz4-compressed data (decompress it first)"
	case bytes.HasPrefix(buf, []byte("BZh")):
		what = "bzip2-compressed data (decompress it first)"
	case bytes.HasPrefix(buf, []byte{0xfd, '7', 'z', 'X', 'Z', 0}):
		what = "xz-compressed data (decompress it first)"
	case bytes.HasPrefix(buf, []byte("PK\x03\x04")):
		what = "a zip file"
	case len(buf) >= 262 && string(buf[257:262]) == "ustar":
		if len(buf) >= 517 && string(buf[512:517]) == magic {
			return fmt.Errorf("%w: a tar-format pg_dump archive (pg_dump -Ft); only the custom format is read", ErrUnsupportedFormat)
		}
		what = "a tar file (extract the dump from it first)"
	case bytes.HasPrefix(buf, []byte("-----BEGIN PGP")) || (len(buf) > 0 && (buf[0] == 0x8c || buf[0] == 0x85 || buf[0] == 0xc3)):
		what = "possibly gpg-encrypted data (decrypt it first)"
	case looksLikeSQL(buf):
		what = "a plain-SQL dump (restore it with psql, not pg_restore)"
	}
	return fmt.Errorf("%w: input starts with \"%s\": %s", ErrNotArchive, printable(buf[:min(len(buf), 24)]), what)
}

func looksLikeSQL(b []byte) bool {
	s := strings.TrimLeft(string(b), " \t\r\n\ufeff")
	for _, p := range []string{"--", "/*", "SET ", "CREATE ", "BEGIN", "\\connect", "\\restrict", "SELECT "} {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

func printable(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else {
			fmt.Fprintf(&sb, "\\x%02x", c)
		}
	}
	return sb.String()
}

// Sniff reports whether b, the first bytes of something, starts like a
// pg_dump custom-format archive: the "PGDMP" magic followed, as far as b
// goes, by a plausible header (format version 1.x, integer size 1-8,
// offset size 1-16, format byte "custom"). It does not check that the
// version is supported; ReadHeader does. Fewer than 5 bytes never sniff as
// an archive.
func Sniff(b []byte) bool {
	if len(b) < len(magic) || string(b[:len(magic)]) != magic {
		return false
	}
	b = b[len(magic):]
	if len(b) >= 1 && b[0] != 1 {
		return false
	}
	if len(b) >= 2 && b[1] < 7 {
		return true // archives before 1.7 laid the header out differently
	}
	if len(b) >= 4 && (b[3] < 1 || b[3] > 8) {
		return false
	}
	if len(b) >= 5 && (b[4] < 1 || b[4] > 16) {
		return false
	}
	if len(b) >= 6 && b[5] != formatCustom {
		return false
	}
	return true
}
