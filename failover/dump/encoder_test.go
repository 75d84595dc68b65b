package dump

import (
	"bytes"
	"strconv"
)

// A test-only encoder of custom-format archives, written from the same
// description of the format as the reader (see doc.go) but independently
// of it. It produces the versions the installed pg_dump cannot (1.15,
// 1.16, 1.10...) and the impossible archives a real pg_dump never writes.

// writer writes the archive's primitive types.
type writer struct {
	bytes.Buffer
	intSize, offSize int
}

// int writes WriteInt: a sign byte, then the magnitude least significant
// byte first.
func (w *writer) int(v int64) {
	mag := uint64(v)
	if v < 0 {
		w.WriteByte(1)
		mag = uint64(-v)
	} else {
		w.WriteByte(0)
	}
	for i := 0; i < w.intSize; i++ {
		w.WriteByte(byte(mag))
		mag >>= 8
	}
}

func (w *writer) str(s string) {
	w.int(int64(len(s)))
	w.WriteString(s)
}

func (w *writer) null() { w.int(-1) }

func (w *writer) offset(flag byte, v int64) {
	w.WriteByte(flag)
	for i := 0; i < w.offSize; i++ {
		if i < 8 {
			w.WriteByte(byte(uint64(v) >> (8 * i)))
		} else {
			w.WriteByte(0)
		}
	}
}

// synth describes an archive to encode.
type synth struct {
	vmaj, vmin, vrev byte
	intSize, offSize int
	format           byte
	compression      int // 1.15+: the algorithm byte; before: the zlib level
	tm               [7]int
	db, server       string
	pgDump           string
	entries          []synthEntry
	blocks           []synthBlock
	// seekable sets the offset of every entry that has a block to where
	// the block lands, as pg_dump does when it can seek its output.
	seekable bool
}

type synthEntry struct {
	id, hadDumper             int64
	tableOID, oid, tag, desc  string
	nullDesc                  bool
	section                   int64
	defn, drop, copy          string
	namespace, tablespace, am string
	relkind                   int64
	owner, withOIDs           string
	deps                      []string
	offFlag                   byte
	off                       int64
}

type synthBlock struct {
	typ    byte
	id     int64
	chunks []string
	los    []synthLO
}

type synthLO struct {
	oid    int64
	chunks []string
}

func (s *synth) version() int { return (int(s.vmaj)*256+int(s.vmin))*256 + int(s.vrev) }

func (s *synth) newWriter() *writer { return &writer{intSize: s.intSize, offSize: s.offSize} }

func (s *synth) writeHeader(w *writer) {
	w.WriteString("PGDMP")
	w.WriteByte(s.vmaj)
	w.WriteByte(s.vmin)
	w.WriteByte(s.vrev)
	w.WriteByte(byte(s.intSize))
	w.WriteByte(byte(s.offSize))
	w.WriteByte(s.format)
	if s.version() >= vers1_15 {
		w.WriteByte(byte(s.compression))
	} else {
		w.int(int64(s.compression))
	}
	for _, v := range s.tm {
		w.int(int64(v))
	}
	w.str(s.db)
	w.str(s.server)
	w.str(s.pgDump)
}

func (s *synth) writeEntry(w *writer, e synthEntry) {
	v := s.version()
	w.int(e.id)
	w.int(e.hadDumper)
	w.str(e.tableOID)
	w.str(e.oid)
	w.str(e.tag)
	if e.nullDesc {
		w.null()
	} else {
		w.str(e.desc)
	}
	if v >= vers1_11 {
		w.int(e.section)
	}
	w.str(e.defn)
	w.str(e.drop)
	w.str(e.copy)
	if e.namespace == "" {
		w.null()
	} else {
		w.str(e.namespace)
	}
	w.str(e.tablespace)
	if v >= vers1_14 {
		w.str(e.am)
	}
	if v >= vers1_16 {
		w.int(e.relkind)
	}
	w.str(e.owner)
	w.str(e.withOIDs)
	for _, d := range e.deps {
		w.str(d)
	}
	w.null()
	w.offset(e.offFlag, e.off)
}

func (s *synth) writeTOC(w *writer) {
	w.int(int64(len(s.entries)))
	for _, e := range s.entries {
		s.writeEntry(w, e)
	}
}

func (s *synth) writeBlock(w *writer, b synthBlock) {
	w.WriteByte(b.typ)
	w.int(b.id)
	chunks := func(cs []string) {
		for _, c := range cs {
			w.str(c)
		}
		w.int(0)
	}
	if b.typ == blockBlobs {
		for _, lo := range b.los {
			w.int(lo.oid)
			chunks(lo.chunks)
		}
		w.int(0)
		return
	}
	chunks(b.chunks)
}

// encode writes the whole archive.
func (s *synth) encode() []byte {
	if s.seekable {
		// The TOC's size does not depend on the offsets' values: write it
		// once to learn where the blocks land, then again with them.
		w := s.newWriter()
		s.writeHeader(w)
		s.writeTOC(w)
		pos := int64(w.Len())
		where := map[int64]int64{}
		for _, b := range s.blocks {
			where[b.id] = pos
			bw := s.newWriter()
			s.writeBlock(bw, b)
			pos += int64(bw.Len())
		}
		for i := range s.entries {
			if p, ok := where[s.entries[i].id]; ok {
				s.entries[i].offFlag, s.entries[i].off = offsetSet, p
			}
		}
		s.seekable = false
		defer func() { s.seekable = true }()
	}
	w := s.newWriter()
	s.writeHeader(w)
	s.writeTOC(w)
	for _, b := range s.blocks {
		s.writeBlock(w, b)
	}
	return w.Bytes()
}

// newSynth returns a small, valid archive of version 1.minor: the special
// entries, a schema, an extension, a table with data, a sequence and its
// value, and large objects.
func newSynth(minor byte) *synth {
	s := &synth{
		vmaj: 1, vmin: minor, vrev: 0, intSize: 4, offSize: 8, format: formatCustom,
		compression: -1,
		tm:          [7]int{56, 34, 12, 1, 4, 124, 1}, // 2024-05-01 12:34:56, DST
		db:          "heroku_db", server: "16.3 (Ubuntu 16.3-1.pgdg22.04+1)", pgDump: "16.3",
	}
	if s.version() >= vers1_15 {
		s.compression = 1 // gzip
	}
	noData := func(e synthEntry) synthEntry {
		e.offFlag = offsetNoData
		if e.withOIDs == "" {
			e.withOIDs = "false"
		}
		if e.tableOID == "" {
			e.tableOID, e.oid = "0", "0"
		}
		return e
	}
	s.entries = []synthEntry{
		noData(synthEntry{id: 4001, tag: "ENCODING", desc: "ENCODING", section: 2, defn: "SET client_encoding = 'UTF8';\n"}),
		noData(synthEntry{id: 5, tableOID: "2615", oid: "16385", tag: "app", desc: "SCHEMA", section: 2,
			defn: "CREATE SCHEMA app;\n", drop: "DROP SCHEMA app;\n", owner: "u1"}),
		noData(synthEntry{id: 2, tableOID: "3079", oid: "16390", tag: "pg_trgm", desc: "EXTENSION", section: 2,
			defn: "CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA heroku_ext;\n", drop: "DROP EXTENSION pg_trgm;\n"}),
		noData(synthEntry{id: 210, tableOID: "1259", oid: "16400", tag: "t", desc: "TABLE", section: 2,
			defn: "CREATE TABLE app.t (\n    id integer NOT NULL\n);\n", drop: "DROP TABLE app.t;\n",
			namespace: "app", am: "heap", relkind: 'r', owner: "u1", deps: []string{"5"}}),
		noData(synthEntry{id: 209, tableOID: "1259", oid: "16399", tag: "t_id_seq", desc: "SEQUENCE", section: 2,
			defn: "CREATE SEQUENCE app.t_id_seq;\n", namespace: "app", relkind: 'S', owner: "u1", deps: []string{"5"}}),
		{id: 3000, hadDumper: 1, tableOID: "0", oid: "16400", tag: "t", desc: "TABLE DATA", section: 3,
			copy: "COPY app.t (id) FROM stdin;\n", namespace: "app", owner: "u1", withOIDs: "false",
			deps: []string{"210"}, offFlag: offsetNotSet},
		noData(synthEntry{id: 3001, tag: "t_id_seq", desc: "SEQUENCE SET", section: 3,
			defn: "SELECT pg_catalog.setval('app.t_id_seq', 3, true);\n", namespace: "app", owner: "u1", deps: []string{"209"}}),
		{id: 3002, tableOID: "0", oid: "0", tag: "BLOBS", desc: "BLOBS", hadDumper: 1, section: 3,
			withOIDs: "false", offFlag: offsetNotSet},
	}
	s.blocks = []synthBlock{
		{typ: blockData, id: 3000, chunks: []string{"1\n2\n", "3\n", "\\.\n\n\n"}},
		{typ: blockBlobs, id: 3002, los: []synthLO{{oid: 16500, chunks: []string{"hello"}}, {oid: 16501, chunks: []string{"a", "b"}}}},
	}
	return s
}

func (s *synth) entry(id int64) *synthEntry {
	for i := range s.entries {
		if s.entries[i].id == id {
			return &s.entries[i]
		}
	}
	panic("no synthetic entry " + strconv.FormatInt(id, 10))
}
