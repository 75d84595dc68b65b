package dump

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"os"
	"strings"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
)

const (
	// maxStringLen caps a string's length field: nothing pg_dump writes
	// (a function body, a view definition) comes near it.
	maxStringLen = 1 << 30
	// maxTOCEntries caps the TOC's entry count. A database with millions
	// of large objects before PG 17 had one TOC entry per object, so the
	// cap is generous.
	maxTOCEntries = 10_000_000
	// maxDeps caps one entry's dependency list.
	maxDeps = 1_000_000
	// smallRead is the size below which a string is read into a buffer
	// allocated up front; longer strings of unknown-size inputs grow as
	// their bytes actually arrive.
	smallRead = 1 << 20

	readBufferSize = 64 << 10
)

// decoder reads the archive's primitive types and counts the bytes it
// consumed, so that offsets can be reported and compared with the TOC's.
type decoder struct {
	r   *bufio.Reader
	off int64 // bytes consumed from the start of the input
	// end is the input's total size when it is known (a bytes.Reader, a
	// regular file), else -1. It lets a length be rejected before any read.
	end int64

	version int // MAKE_ARCHIVE_VERSION(vmaj, vmin, vrev)
	intSize int
	offSize int

	lim     Limits
	charged int64 // memory taken so far by what was read, against lim.MaxTOCSize
}

func newDecoder(r io.Reader) *decoder {
	d := &decoder{end: -1, lim: DefaultLimits}
	d.end = knownSize(r)
	if br, ok := r.(*bufio.Reader); ok {
		d.r = br
		return d
	}
	size := readBufferSize
	if d.end >= 0 && d.end < int64(size) {
		size = max(int(d.end), 16) // a small input needs no 64 KiB buffer
	}
	d.r = bufio.NewReaderSize(r, size)
	return d
}

// knownSize reports how many bytes r has left, when that can be learned
// without consuming anything: in-memory readers and regular files; -1
// otherwise. Only concrete types are trusted, not any Len or Seek method.
func knownSize(r io.Reader) int64 {
	switch v := r.(type) {
	case *bytes.Reader:
		return int64(v.Len())
	case *bytes.Buffer:
		return int64(v.Len())
	case *strings.Reader:
		return int64(v.Len())
	case *io.SectionReader:
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil || cur > v.Size() {
			return -1
		}
		return v.Size() - cur
	case *os.File:
		fi, err := v.Stat()
		if err != nil || !fi.Mode().IsRegular() {
			return -1
		}
		cur, err := v.Seek(0, io.SeekCurrent)
		if err != nil || cur > fi.Size() {
			return -1
		}
		return fi.Size() - cur
	}
	return -1
}

// remaining is the number of bytes left, or -1 when unknown.
func (d *decoder) remaining() int64 {
	if d.end < 0 {
		return -1
	}
	return d.end - d.off
}

func (d *decoder) readByte(what string) (byte, error) {
	b, err := d.r.ReadByte()
	if err != nil {
		return 0, ioError(err, what, d.off)
	}
	d.off++
	return b, nil
}

// readInt reads pg_dump's int: a sign byte then intSize bytes, least
// significant first (WriteInt). pg_dump only writes 0 or 1 as the sign.
func (d *decoder) readInt(what string) (int64, error) {
	start := d.off
	sign, err := d.readByte(what)
	if err != nil {
		return 0, err
	}
	if sign > 1 {
		return 0, corrupt(start, "%s: sign byte is %d, want 0 or 1", what, sign)
	}
	var mag uint64
	for i := 0; i < d.intSize; i++ {
		b, err := d.readByte(what)
		if err != nil {
			return 0, err
		}
		mag |= uint64(b) << (8 * i)
	}
	if mag > math.MaxInt64 {
		return 0, corrupt(start, "%s: integer does not fit in 64 bits", what)
	}
	if sign == 1 {
		return -int64(mag), nil
	}
	return int64(mag), nil
}

// readInt32 reads an int that pg_dump wrote from a C int, so it must fit
// in 32 bits.
func (d *decoder) readInt32(what string) (int, error) {
	start := d.off
	v, err := d.readInt(what)
	if err != nil {
		return 0, err
	}
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0, corrupt(start, "%s: %d does not fit in 32 bits", what, v)
	}
	return int(v), nil
}

// readStr reads pg_dump's string: an int length (-1 for NULL) then the
// bytes (WriteStr). null reports a NULL string.
func (d *decoder) readStr(what string) (s string, null bool, err error) {
	start := d.off
	n, err := d.readInt(what)
	if err != nil {
		return "", false, err
	}
	switch {
	case n == -1:
		return "", true, nil
	case n < -1:
		return "", false, corrupt(start, "%s: string length %d", what, n)
	case n > maxStringLen:
		return "", false, corrupt(start, "%s: string length %d exceeds the 1 GiB limit", what, n)
	case n > d.lim.MaxFieldSize:
		// Checked before the input's size, so that a stream and a file
		// get the same verdict.
		return "", false, &LimitError{Limit: LimitFieldSize, Max: d.lim.MaxFieldSize, What: what, At: start}
	case n == 0:
		return "", false, nil
	}
	if err := d.charge(n, what, start); err != nil {
		return "", false, err
	}
	if rem := d.remaining(); rem >= 0 && n > rem {
		return "", false, ioErrorTruncatedLength(what, start, n, rem)
	}
	if d.end >= 0 || n <= smallRead {
		buf := make([]byte, n)
		got, err := io.ReadFull(d.r, buf)
		d.off += int64(got)
		if err != nil {
			return "", false, ioError(err, what, d.off)
		}
		s = string(buf)
	} else {
		// Unknown input size and a large length: let the buffer grow with
		// the bytes that actually arrive, so a lying length costs nothing.
		var buf bytes.Buffer
		got, err := io.CopyN(&buf, d.r, n)
		d.off += got
		if err != nil {
			return "", false, ioError(err, what, d.off)
		}
		s = buf.String()
	}
	if err := d.charge(escapeCost(s), what, start); err != nil {
		return "", false, err
	}
	return s, false, nil
}

// escapeCost is how many bytes more than its length s may take once
// printed: JSON turns a control character (and <, > and &) into six bytes,
// a newline, tab, quote or backslash into two, a byte that is not UTF-8
// into \ufffd, and
// the terminal escaping turns a C1 or format character into six (twelve
// for one outside the BMP). Charging it against MaxTOCSize bounds what
// describing an archive prints and holds, not only what reading it holds:
// a TOC of control characters would otherwise cost six times its size
// again as JSON.
func escapeCost(s string) int64 {
	var extra int64
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '\n' || c == '\t' || c == '"' || c == '\\':
				extra++ // \n in JSON
			case c == '\r':
				extra += 3 // \x0d on a terminal
			case c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&':
				extra += 5
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			extra += 5
		case r <= 0x9f || r == '\u2028' || r == '\u2029' || unicode.Is(unicode.Cf, r):
			extra += int64(6*utf16.RuneLen(r) - size)
		}
		i += size
	}
	return extra
}

// skip discards n bytes.
func (d *decoder) skip(n int64, what string) error {
	if rem := d.remaining(); rem >= 0 && n > rem {
		// Consume what is there so the reported offset is the real end.
		got, _ := d.discard(rem)
		d.off += got
		return ioError(io.ErrUnexpectedEOF, what, d.off)
	}
	got, err := d.discard(n)
	d.off += got
	if err != nil {
		return ioError(err, what, d.off)
	}
	return nil
}

func (d *decoder) discard(n int64) (int64, error) {
	var total int64
	for n > 0 {
		step := n
		if step > math.MaxInt32 {
			step = math.MaxInt32
		}
		got, err := d.r.Discard(int(step))
		total += int64(got)
		n -= int64(got)
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// readOffset reads a data offset: a flag byte then offSize bytes
// (WriteOffset). Bytes beyond the eighth must be zero, as in ReadOffset.
func (d *decoder) readOffset(what string) (flag byte, off int64, err error) {
	start := d.off
	flag, err = d.readByte(what)
	if err != nil {
		return 0, 0, err
	}
	if flag != offsetNotSet && flag != offsetSet && flag != offsetNoData {
		return 0, 0, corrupt(start, "%s: unknown data offset flag %d", what, flag)
	}
	var v uint64
	for i := 0; i < d.offSize; i++ {
		b, err := d.readByte(what)
		if err != nil {
			return 0, 0, err
		}
		if i < 8 {
			v |= uint64(b) << (8 * i)
		} else if b != 0 {
			return 0, 0, corrupt(start, "%s: file offset does not fit in 64 bits", what)
		}
	}
	if v > math.MaxInt64 {
		return 0, 0, corrupt(start, "%s: file offset does not fit in 64 bits", what)
	}
	return flag, int64(v), nil
}

func ioErrorTruncatedLength(what string, at, n, rem int64) error {
	return fmt.Errorf("%w: %s at offset %d has length %d but only %d bytes are left",
		ErrTruncated, what, at, n, rem)
}
