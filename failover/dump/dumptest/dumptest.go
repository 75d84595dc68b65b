// Package dumptest writes pg_dump custom-format archives for tests: the
// versions the installed pg_dump cannot produce (1.10, 1.15, 1.16...), and
// the impossible or hostile archives no pg_dump writes (huge tables of
// contents, lying lengths, strings full of control characters). It is
// written from the description of the format in the dump package's
// documentation, independently of the reader, and imports nothing of it.
//
// Start from [New], which returns a small valid archive, change what the
// test needs, then [Archive.Encode] it (or stream it with
// [Archive.EncodeTo]: entries may share one large string, so that a
// gigabyte-sized TOC costs the test no memory).
package dumptest

import (
	"bufio"
	"bytes"
	"io"
	"slices"
	"strconv"
)

// Format constants, as pg_backup_archiver.h and pg_backup.h define them.
const (
	FormatCustom = 1

	OffsetNotSet = 1 // K_OFFSET_POS_NOT_SET
	OffsetSet    = 2 // K_OFFSET_POS_SET
	OffsetNoData = 3 // K_OFFSET_NO_DATA

	BlockData  = 1 // BLK_DATA
	BlockBlobs = 3 // BLK_BLOBS

	vers1_11 = (1*256+11)*256 + 0
	vers1_14 = (1*256+14)*256 + 0
	vers1_15 = (1*256+15)*256 + 0
	vers1_16 = (1*256+16)*256 + 0
)

// Writer writes the archive's primitive types, into a buffer (the zero
// value) or, with NewWriter, to any io.Writer.
type Writer struct {
	bytes.Buffer
	IntSize, OffSize int
	out              *bufio.Writer // when set, bytes go there instead of the buffer
	n                int64
}

// NewWriter returns a Writer streaming to w; call Flush when done.
func NewWriter(w io.Writer, intSize, offSize int) *Writer {
	return &Writer{IntSize: intSize, OffSize: offSize, out: bufio.NewWriterSize(w, 1<<20)}
}

// Flush writes what a streaming Writer buffered.
func (w *Writer) Flush() error {
	if w.out == nil {
		return nil
	}
	return w.out.Flush()
}

// Written is the number of bytes written so far.
func (w *Writer) Written() int64 {
	if w.out == nil {
		return int64(w.Len())
	}
	return w.n
}

func (w *Writer) Write(p []byte) (int, error) {
	if w.out == nil {
		return w.Buffer.Write(p)
	}
	w.n += int64(len(p))
	return w.out.Write(p)
}

func (w *Writer) WriteString(s string) (int, error) {
	if w.out == nil {
		return w.Buffer.WriteString(s)
	}
	w.n += int64(len(s))
	return w.out.WriteString(s)
}

func (w *Writer) WriteByte(c byte) error {
	if w.out == nil {
		return w.Buffer.WriteByte(c)
	}
	w.n++
	return w.out.WriteByte(c)
}

// Int writes WriteInt: a sign byte, then the magnitude least significant
// byte first.
func (w *Writer) Int(v int64) {
	mag := uint64(v)
	if v < 0 {
		w.WriteByte(1)
		mag = uint64(-v)
	} else {
		w.WriteByte(0)
	}
	for i := 0; i < w.IntSize; i++ {
		w.WriteByte(byte(mag))
		mag >>= 8
	}
}

// Str writes WriteStr: the length, then the bytes.
func (w *Writer) Str(s string) {
	w.Int(int64(len(s)))
	w.WriteString(s)
}

// Null writes a NULL string.
func (w *Writer) Null() { w.Int(-1) }

// Offset writes WriteOffset: a flag byte, then OffSize bytes.
func (w *Writer) Offset(flag byte, v int64) {
	w.WriteByte(flag)
	for i := 0; i < w.OffSize; i++ {
		if i < 8 {
			w.WriteByte(byte(uint64(v) >> (8 * i)))
		} else {
			w.WriteByte(0)
		}
	}
}

// Archive describes an archive to encode.
type Archive struct {
	Vmaj, Vmin, Vrev byte
	IntSize, OffSize int
	Format           byte
	Compression      int // 1.15+: the algorithm byte; before: the zlib level
	Tm               [7]int
	DB, Server       string
	PgDump           string
	Entries          []Entry
	Blocks           []Block
	// Seekable sets the offset of every entry that has a block to where
	// the block lands, as pg_dump does when it can seek its output.
	Seekable bool
}

// Entry is one TOC entry, field by field as pg_dump writes them.
type Entry struct {
	ID, HadDumper             int64
	TableOID, OID, Tag, Desc  string
	NullDesc                  bool
	Section                   int64
	Defn, Drop, Copy          string
	Namespace, Tablespace, AM string
	RelKind                   int64
	Owner, WithOIDs           string
	Deps                      []string
	OffFlag                   byte
	Off                       int64
}

// Block is a data block.
type Block struct {
	Type   byte
	ID     int64
	Chunks []string
	LOs    []LargeObject
}

// LargeObject is one large object of a BLOBS block.
type LargeObject struct {
	OID    int64
	Chunks []string
}

// Version is the archive's MAKE_ARCHIVE_VERSION.
func (s *Archive) Version() int { return (int(s.Vmaj)*256+int(s.Vmin))*256 + int(s.Vrev) }

// NewWriter returns an in-memory Writer with the archive's integer sizes.
func (s *Archive) NewWriter() *Writer { return &Writer{IntSize: s.IntSize, OffSize: s.OffSize} }

// WriteHeader writes the header.
func (s *Archive) WriteHeader(w *Writer) {
	w.WriteString("PGDMP")
	w.WriteByte(s.Vmaj)
	w.WriteByte(s.Vmin)
	w.WriteByte(s.Vrev)
	w.WriteByte(byte(s.IntSize))
	w.WriteByte(byte(s.OffSize))
	w.WriteByte(s.Format)
	if s.Version() >= vers1_15 {
		w.WriteByte(byte(s.Compression))
	} else {
		w.Int(int64(s.Compression))
	}
	for _, v := range s.Tm {
		w.Int(int64(v))
	}
	w.Str(s.DB)
	w.Str(s.Server)
	w.Str(s.PgDump)
}

// WriteEntry writes one TOC entry.
func (s *Archive) WriteEntry(w *Writer, e Entry) {
	v := s.Version()
	w.Int(e.ID)
	w.Int(e.HadDumper)
	w.Str(e.TableOID)
	w.Str(e.OID)
	w.Str(e.Tag)
	if e.NullDesc {
		w.Null()
	} else {
		w.Str(e.Desc)
	}
	if v >= vers1_11 {
		w.Int(e.Section)
	}
	w.Str(e.Defn)
	w.Str(e.Drop)
	w.Str(e.Copy)
	if e.Namespace == "" {
		w.Null()
	} else {
		w.Str(e.Namespace)
	}
	w.Str(e.Tablespace)
	if v >= vers1_14 {
		w.Str(e.AM)
	}
	if v >= vers1_16 {
		w.Int(e.RelKind)
	}
	w.Str(e.Owner)
	w.Str(e.WithOIDs)
	for _, d := range e.Deps {
		w.Str(d)
	}
	w.Null()
	w.Offset(e.OffFlag, e.Off)
}

// WriteTOC writes the entry count and every entry.
func (s *Archive) WriteTOC(w *Writer) {
	w.Int(int64(len(s.Entries)))
	for _, e := range s.Entries {
		s.WriteEntry(w, e)
	}
}

// WriteBlock writes a data block.
func (s *Archive) WriteBlock(w *Writer, b Block) {
	w.WriteByte(b.Type)
	w.Int(b.ID)
	chunks := func(cs []string) {
		for _, c := range cs {
			w.Str(c)
		}
		w.Int(0)
	}
	if b.Type == BlockBlobs {
		for _, lo := range b.LOs {
			w.Int(lo.OID)
			chunks(lo.Chunks)
		}
		w.Int(0)
		return
	}
	chunks(b.Chunks)
}

// Encode writes the whole archive into memory.
func (s *Archive) Encode() []byte {
	var buf bytes.Buffer
	s.EncodeTo(&buf)
	return buf.Bytes()
}

// EncodeTo streams the whole archive to out and returns the bytes written
// and out's first error.
func (s *Archive) EncodeTo(out io.Writer) (int64, error) {
	if s.Seekable {
		// The TOC's size does not depend on the offsets' values: measure
		// it once to learn where the blocks land, then write it with them.
		c := &counter{}
		w := NewWriter(c, s.IntSize, s.OffSize)
		s.WriteHeader(w)
		s.WriteTOC(w)
		w.Flush()
		pos := c.n
		where := map[int64]int64{}
		for _, b := range s.Blocks {
			where[b.ID] = pos
			c := &counter{}
			bw := NewWriter(c, s.IntSize, s.OffSize)
			s.WriteBlock(bw, b)
			bw.Flush()
			pos += c.n
		}
		for i := range s.Entries {
			if p, ok := where[s.Entries[i].ID]; ok {
				s.Entries[i].OffFlag, s.Entries[i].Off = OffsetSet, p
			}
		}
	}
	w := NewWriter(out, s.IntSize, s.OffSize)
	s.WriteHeader(w)
	s.WriteTOC(w)
	for _, b := range s.Blocks {
		s.WriteBlock(w, b)
	}
	err := w.Flush()
	return w.n, err
}

type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// New returns a small, valid archive of version 1.minor: the special
// entries, a schema, an extension, a table with data, a sequence and its
// value, and large objects.
func New(minor byte) *Archive {
	s := &Archive{
		Vmaj: 1, Vmin: minor, Vrev: 0, IntSize: 4, OffSize: 8, Format: FormatCustom,
		Compression: -1,
		Tm:          [7]int{56, 34, 12, 1, 4, 124, 1}, // 2024-05-01 12:34:56, DST
		DB:          "heroku_db", Server: "16.3 (Ubuntu 16.3-1.pgdg22.04+1)", PgDump: "16.3",
	}
	if s.Version() >= vers1_15 {
		s.Compression = 1 // gzip
	}
	noData := func(e Entry) Entry {
		e.OffFlag = OffsetNoData
		if e.WithOIDs == "" {
			e.WithOIDs = "false"
		}
		if e.TableOID == "" {
			e.TableOID, e.OID = "0", "0"
		}
		return e
	}
	s.Entries = []Entry{
		noData(Entry{ID: 4001, Tag: "ENCODING", Desc: "ENCODING", Section: 2, Defn: "SET client_encoding = 'UTF8';\n"}),
		noData(Entry{ID: 5, TableOID: "2615", OID: "16385", Tag: "app", Desc: "SCHEMA", Section: 2,
			Defn: "CREATE SCHEMA app;\n", Drop: "DROP SCHEMA app;\n", Owner: "u1"}),
		noData(Entry{ID: 2, TableOID: "3079", OID: "16390", Tag: "pg_trgm", Desc: "EXTENSION", Section: 2,
			Defn: "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA heroku_ext;\n", Drop: "DROP EXTENSION pg_trgm;\n"}),
		noData(Entry{ID: 210, TableOID: "1259", OID: "16400", Tag: "t", Desc: "TABLE", Section: 2,
			Defn: "CREATE TABLE app.t (\n    id integer NOT NULL\n);\n", Drop: "DROP TABLE app.t;\n",
			Namespace: "app", AM: "heap", RelKind: 'r', Owner: "u1", Deps: []string{"5"}}),
		noData(Entry{ID: 209, TableOID: "1259", OID: "16399", Tag: "t_id_seq", Desc: "SEQUENCE", Section: 2,
			Defn: "CREATE SEQUENCE app.t_id_seq;\n", Namespace: "app", RelKind: 'S', Owner: "u1", Deps: []string{"5"}}),
		{ID: 3000, HadDumper: 1, TableOID: "0", OID: "16400", Tag: "t", Desc: "TABLE DATA", Section: 3,
			Copy: "COPY app.t (id) FROM stdin;\n", Namespace: "app", Owner: "u1", WithOIDs: "false",
			Deps: []string{"210"}, OffFlag: OffsetNotSet},
		noData(Entry{ID: 3001, Tag: "t_id_seq", Desc: "SEQUENCE SET", Section: 3,
			Defn: "SELECT pg_catalog.setval('app.t_id_seq', 3, true);\n", Namespace: "app", Owner: "u1", Deps: []string{"209"}}),
		{ID: 3002, TableOID: "0", OID: "0", Tag: "BLOBS", Desc: "BLOBS", HadDumper: 1, Section: 3,
			WithOIDs: "false", OffFlag: OffsetNotSet},
	}
	s.Blocks = []Block{
		{Type: BlockData, ID: 3000, Chunks: []string{"1\n2\n", "3\n", "\\.\n\n\n"}},
		{Type: BlockBlobs, ID: 3002, LOs: []LargeObject{{OID: 16500, Chunks: []string{"hello"}}, {OID: 16501, Chunks: []string{"a", "b"}}}},
	}
	return s
}

// Entry returns the entry with DumpID id; it panics when there is none.
func (s *Archive) Entry(id int64) *Entry {
	for i := range s.Entries {
		if s.Entries[i].ID == id {
			return &s.Entries[i]
		}
	}
	panic("no entry " + strconv.FormatInt(id, 10))
}

// AddTables appends n tables, each a TABLE entry whose definition is defn,
// with a TABLE DATA entry and a block of the given chunks. The strings are
// shared, so that n large definitions cost no memory until written.
func (s *Archive) AddTables(n int, defn string, chunks []string) {
	next := int64(100000)
	for _, e := range s.Entries {
		next = max(next, e.ID+1)
	}
	s.Entries = slices.Grow(s.Entries, 2*n)
	s.Blocks = slices.Grow(s.Blocks, n)
	for i := range n {
		id := next + 2*int64(i)
		tag := "t" + strconv.Itoa(i)
		s.Entries = append(s.Entries,
			Entry{ID: id, TableOID: "1259", OID: "0", Tag: tag, Desc: "TABLE", Section: 2, Defn: defn,
				Namespace: "public", AM: "heap", RelKind: 'r', WithOIDs: "false", OffFlag: OffsetNoData},
			Entry{ID: id + 1, HadDumper: 1, TableOID: "0", OID: "0", Tag: tag, Desc: "TABLE DATA", Section: 3,
				Namespace: "public", WithOIDs: "false", Deps: []string{strconv.FormatInt(id, 10)}, OffFlag: OffsetNotSet})
		s.Blocks = append(s.Blocks, Block{Type: BlockData, ID: id + 1, Chunks: chunks})
	}
}
