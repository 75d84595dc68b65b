package dump

import (
	"errors"
	"fmt"
	"io"
)

// The errors every function of this package returns, wrapped with details
// (an offset, the field being read, the TOC entry). Test with errors.Is.
var (
	// ErrNotArchive means the input does not start with the "PGDMP" magic:
	// an empty file, a plain-SQL dump, a gzip file, a tar file...
	ErrNotArchive = errors.New("not a pg_dump custom-format archive")
	// ErrTruncated means the input ended in the middle of something: the
	// header, a TOC entry, a data block, or before every data block the TOC
	// announces was seen.
	ErrTruncated = errors.New("archive is truncated")
	// ErrUnsupportedVersion means the archive format version is older than
	// 1.10 or newer than 1.16; the message names the version.
	ErrUnsupportedVersion = errors.New("unsupported archive version")
	// ErrUnsupportedFormat means a PGDMP header of another pg_dump format
	// (the toc.dat of a tar or directory archive) or a tar-format archive.
	ErrUnsupportedFormat = errors.New("unsupported archive format")
	// ErrCorrupt means the input is structurally impossible: an impossible
	// length or count, an unknown flag, block type or section, a data block
	// that belongs to no TOC entry or sits at the wrong offset, data after
	// the last block.
	ErrCorrupt = errors.New("archive is corrupt")
	// ErrTooLarge means the archive needs more than the reader's Limits
	// allow: a string of the header or the table of contents longer than
	// MaxFieldSize, or a table of contents that would take more than
	// MaxTOCSize of memory. The error is a *LimitError saying which.
	ErrTooLarge = errors.New("archive exceeds a reader limit")
)

// ioError turns an error from the underlying reader into this package's
// vocabulary: any kind of end of input is ErrTruncated; anything else is an
// I/O error and is returned wrapped as is.
func ioError(err error, what string, off int64) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return fmt.Errorf("%w: input ends at offset %d while reading %s", ErrTruncated, off, what)
	}
	return fmt.Errorf("reading %s at offset %d: %w", what, off, err)
}

func corrupt(off int64, format string, args ...any) error {
	return fmt.Errorf("%w: at offset %d: %s", ErrCorrupt, off, fmt.Sprintf(format, args...))
}
