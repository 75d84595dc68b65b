package dump

import (
	"context"
	"fmt"
	"io"
	"math"
)

// Data block types (pg_backup_archiver.h's BLK_*).
const (
	blockData  = 1 // table data: chunks ended by a zero length
	blockBlobs = 3 // large objects: (OID, chunks, 0)* ended by OID 0
)

// Verify reads the header and the TOC, then walks every data block to the
// end of r, skipping the chunk payloads without decompressing them. It
// proves that the archive is complete and structurally sound:
//
//   - every data block belongs to a TOC entry that has a data dumper, of
//     the right kind (large-object blocks for BLOBS entries), only once;
//   - when the TOC records offsets, every block is one whose offset it
//     records, and starts exactly there;
//   - every block the TOC promises is present: when pg_dump wrote to a
//     seekable file, those whose offset is set; when it wrote to a pipe
//     (no offset set anywhere), one for every entry with a data dumper;
//   - r ends exactly after the last block.
//
// On success the Archive carries DataBytes, DataBlocks, LargeObjects,
// Size and each entry's DataSize.
//
// It returns the errors of Read, and: ErrTruncated when r ends inside a
// data block or before every promised block was seen; ErrCorrupt for an
// unknown block type, a block that belongs to no entry or to the wrong
// one, a negative chunk length, a block at the wrong offset, or any byte
// after the last block; or an I/O error from r.
func Verify(r io.Reader) (*Archive, error) {
	return VerifyContext(context.Background(), r)
}

// VerifyContext is Verify that gives up when ctx is done, returning
// ctx.Err() wrapped; a multi-gigabyte archive takes a while to walk. Both
// read under DefaultLimits; use Limits.Verify for others.
func VerifyContext(ctx context.Context, r io.Reader) (*Archive, error) {
	return verify(ctx, newDecoder(r))
}

func verify(ctx context.Context, d *decoder) (*Archive, error) {
	a, err := read(d)
	if err != nil {
		return nil, err
	}
	if err := walkData(ctx, d, a); err != nil {
		return nil, err
	}
	a.Size = d.off
	return a, nil
}

func walkData(ctx context.Context, d *decoder, a *Archive) error {
	// Which blocks must be present. When pg_dump could seek, it rewrote
	// the TOC with the offset of every block it wrote, so the entries with
	// an offset are exactly the blocks. Otherwise every entry with a data
	// dumper got a block, in TOC order.
	seekable := false
	for _, e := range a.Entries {
		if e.DataOffsetState == "set" {
			seekable = true
			break
		}
	}
	expected := make(map[int]bool)
	for _, e := range a.Entries {
		if e.DataOffsetState == "set" || (!seekable && e.HadDumper && e.DataOffsetState == "not-set") {
			expected[e.DumpID] = true
		}
	}
	seen := make(map[int]bool, len(expected))
	missing := len(expected)

	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("verifying data blocks: %w", err)
		}
		start := d.off
		typ, err := d.r.ReadByte()
		if err == io.EOF {
			break // clean end at a block boundary
		}
		if err != nil {
			return ioError(err, "data block type", d.off)
		}
		d.off++
		if missing == 0 {
			return trailing(d, start, len(seen))
		}
		if typ != blockData && typ != blockBlobs {
			return corrupt(start, "unknown data block type %d after %d data blocks", typ, len(seen))
		}
		id, err := d.readInt("data block dump ID")
		if err != nil {
			return err
		}
		e, ok := a.Entry(int(clampInt(id)))
		if !ok || id != int64(e.DumpID) {
			return corrupt(start, "data block for dump ID %d, which is not in the TOC", id)
		}
		switch {
		case !e.HadDumper || e.DataOffsetState == "no-data":
			return corrupt(start, "data block for TOC entry %d (%s %s), which has no data", e.DumpID, clip(e.Desc), clip(e.Tag))
		case seen[e.DumpID]:
			return corrupt(start, "second data block for TOC entry %d (%s %s)", e.DumpID, clip(e.Desc), clip(e.Tag))
		case !expected[e.DumpID]:
			// pg_dump records the offset of every block it writes once it
			// can seek, so an entry without one has no block.
			return corrupt(start, "data block for TOC entry %d (%s %s), whose data offset is not set in an archive that records offsets",
				e.DumpID, clip(e.Desc), clip(e.Tag))
		case e.DataOffsetState == "set" && e.DataOffset != start:
			return corrupt(start, "data block for TOC entry %d (%s %s) starts at offset %d, the TOC says %d",
				e.DumpID, clip(e.Desc), clip(e.Tag), start, e.DataOffset)
		case (typ == blockBlobs) != (e.Desc == "BLOBS"):
			return corrupt(start, "data block of type %d for TOC entry %d (%s %s)", typ, e.DumpID, clip(e.Desc), clip(e.Tag))
		}
		seen[e.DumpID] = true
		missing--
		what := fmt.Sprintf("data block of TOC entry %d (%s %s)", e.DumpID, clip(e.Desc), clip(e.Tag))

		var size int64
		if typ == blockData {
			if size, err = skipChunks(ctx, d, what); err != nil {
				return err
			}
		} else {
			oidWhat := what + " large object OID"
			for {
				at := d.off
				oid, err := d.readInt(oidWhat)
				if err != nil {
					return err
				}
				if oid == 0 {
					break
				}
				// pg_dump writes the unsigned OID through a C int, so OIDs
				// above 2^31 come back negative; either way it fits 32 bits.
				if oid < math.MinInt32 || oid > math.MaxUint32 {
					return corrupt(at, "%s: large object OID %d", what, oid)
				}
				n, err := skipChunks(ctx, d, what)
				if err != nil {
					return err
				}
				size += n
				e.LargeObjects++
				a.LargeObjects++
			}
		}
		e.DataSize = size
		a.DataBytes += size
		a.DataBlocks++
	}

	if missing > 0 {
		for _, e := range a.Entries {
			if expected[e.DumpID] && !seen[e.DumpID] {
				return fmt.Errorf("%w: input ends at offset %d after %d data blocks, %d missing; the first missing is TOC entry %d (%s %s)",
					ErrTruncated, d.off, len(seen), missing, e.DumpID, clip(e.Desc), clip(e.Tag))
			}
		}
	}
	return nil
}

// skipChunks skips one data stream: chunks of (int length, bytes) ended by
// a zero length. It returns the payload bytes skipped.
func skipChunks(ctx context.Context, d *decoder, what string) (int64, error) {
	var total int64
	lengthWhat, chunkWhat := what+" chunk length", what+" chunk"
	for n := 0; ; n++ {
		if n%4096 == 4095 {
			if err := ctx.Err(); err != nil {
				return total, fmt.Errorf("verifying data blocks: %w", err)
			}
		}
		at := d.off
		l, err := d.readInt(lengthWhat)
		if err != nil {
			return total, err
		}
		if l == 0 {
			return total, nil
		}
		if l < 0 || l > math.MaxInt32 {
			return total, corrupt(at, "%s: chunk length %d", what, l)
		}
		if err := d.skip(l, chunkWhat); err != nil {
			return total, err
		}
		total += l
	}
}

// trailing reports bytes after the last expected data block.
func trailing(d *decoder, start int64, blocks int) error {
	extra := int64(1)
	if rem := d.remaining(); rem >= 0 {
		extra += rem
	} else {
		n, _ := io.CopyN(io.Discard, d.r, 1<<20)
		extra += n
	}
	more := ""
	if extra > 1<<20 {
		more = " or more"
	}
	return corrupt(start, "%d%s bytes of unexpected data after the last of %d data blocks", extra, more, blocks)
}

func clampInt(v int64) int64 {
	if v < math.MinInt32 || v > math.MaxInt32 {
		return 0
	}
	return v
}
