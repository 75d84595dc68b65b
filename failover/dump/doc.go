// Package dump reads PostgreSQL pg_dump custom-format archives (the files
// pg_dump -Fc writes, magic "PGDMP") in pure Go, without pg_restore.
//
// Lifeboat uses it to prove that a downloaded archive is complete
// ([Verify]), to describe an archive (`lifeboat inspect`, [Read] and
// [Archive.Summary]) and to plan a restore: which Postgres major version
// made it, which schemas and extensions must exist first, which tables
// carry data.
//
// # The format
//
// Everything below is taken from PostgreSQL's src/bin/pg_dump
// (pg_backup_archiver.c: WriteHead/ReadHead, WriteToc/ReadToc,
// ReadInt/ReadStr/ReadOffset; pg_backup_custom.c: the data blocks).
//
//	int     sign byte (0 or 1) then intSize bytes, least significant first
//	string  int length (-1 = NULL) then that many bytes, no terminator
//	offset  flag byte (1 not set, 2 set, 3 no data) then offSize bytes, LSB first
//
//	header  "PGDMP" vmaj vmin vrev intSize offSize format
//	        compression: version >= 1.15: one algorithm byte (0 none, 1 gzip, 2 lz4, 3 zstd)
//	                     before:          int zlib level (-1 default, 0 none, 1..9)
//	        7 ints: tm_sec tm_min tm_hour tm_mday tm_mon(0-11) tm_year(-1900) tm_isdst
//	        string dbname, string server version, string pg_dump version
//	TOC     int count, then per entry:
//	        int dumpId, int hadDumper, string tableoid, string oid, string tag,
//	        string desc, int section (>= 1.11), string defn, string dropStmt,
//	        string copyStmt, string namespace, string tablespace,
//	        string tableam (>= 1.14), int relkind (>= 1.16), string owner,
//	        string withOids ("true"/"false"), dependency strings ended by a
//	        NULL string, offset of the entry's data block
//	data    blocks in TOC order, one per entry that has a data dumper:
//	        byte type (1 = table data, 3 = large objects), int dumpId, then
//	        type 1: chunks (int length > 0, bytes), ended by a length 0
//	        type 3: per large object an int OID then chunks ended by 0;
//	                the list is ended by an OID 0
//	        the archive ends right after the last block.
//
// When pg_dump writes to a seekable file it goes back and rewrites the TOC
// with each data block's file offset ("set"); written to a pipe, offsets stay
// "not set". Either way the blocks follow the TOC sequentially, so a reader
// can walk them from the front; this package never seeks.
//
// Archive versions 1.10 to 1.16 are read: that covers every pg_dump from 8.x
// to 18 (1.12: 9.0 to 10.2; 1.13: the February 2018 releases of 9.3 to 10,
// and 11; 1.14: 12 to 15; 1.15: 16; 1.16: 17 and 18).
//
// Only the custom format is read. The toc.dat inside a tar archive
// (pg_dump -Ft) and the toc.dat of a directory archive (-Fd) start with the
// same header but carry format byte 3, "tar", in both cases; they are
// reported as ErrUnsupportedFormat.
//
// # Hostile input
//
// Nothing in this package trusts a length field: string lengths are capped
// at 1 GiB and at the bytes left in the input when the input's size is
// known, the TOC at 10 million entries, and slices grow with the data that
// is actually present rather than from a count. What the table of contents
// may cost is bounded by [Limits]: one string at most MaxFieldSize, the
// whole TOC (its strings and entry records, counted as they are read) at
// most MaxTOCSize of memory, so that a few megabytes of gzip cannot make a
// reader hold gigabytes. Every failure is one of the named errors below
// (wrapped with details, test with errors.Is), except an I/O error from
// the caller's reader, which is returned wrapped as is.
package dump
