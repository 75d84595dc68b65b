package dump

import (
	"bytes"
	"errors"
	"io"
	"math"
	"reflect"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestSyntheticVersions round-trips an archive of every supported format
// version through Read and Verify, from a file (offsets set) and a pipe.
func TestSyntheticVersions(t *testing.T) {
	for minor := byte(10); minor <= 16; minor++ {
		for _, seekable := range []bool{false, true} {
			s := newSynth(minor)
			s.Seekable = seekable
			data := s.Encode()
			a, err := Verify(bytes.NewReader(data))
			if err != nil {
				t.Fatalf("1.%d (seekable %v): %v", minor, seekable, err)
			}
			h := a.Header
			wantComp, wantLevel := "gzip", -1
			if h.Version != "1."+strconv.Itoa(int(minor))+".0" || h.VersionMinor != int(minor) || h.Compression != wantComp || h.CompressionLevel != wantLevel {
				t.Errorf("1.%d: header %+v", minor, h)
			}
			if want := time.Date(2024, 5, 1, 12, 34, 56, 0, time.UTC); !h.CreatedAt.Equal(want) || h.CreatedAtDST != 1 {
				t.Errorf("1.%d: created %v (DST %d), want %v (DST 1)", minor, h.CreatedAt, h.CreatedAtDST, want)
			}
			if h.DatabaseName != "heroku_db" || h.ServerVersion != "16.3 (Ubuntu 16.3-1.pgdg22.04+1)" || h.PgDumpVersion != "16.3" {
				t.Errorf("1.%d: header strings %+v", minor, h)
			}
			if m, err := h.ServerMajor(); m != 16 || err != nil {
				t.Errorf("1.%d: ServerMajor = %d, %v", minor, m, err)
			}
			if len(a.Entries) != len(s.Entries) {
				t.Fatalf("1.%d: %d entries, want %d", minor, len(a.Entries), len(s.Entries))
			}
			for i, e := range a.Entries {
				w := s.Entries[i]
				wantSection := [...]string{"", "NONE", "PRE-DATA", "DATA", "POST-DATA"}[w.Section]
				if minor < 11 {
					// No section field: ReadToc's rules, which know TABLE
					// DATA and BLOBS as data but not SEQUENCE SET.
					wantSection = "PRE-DATA"
					if w.Desc == "TABLE DATA" || w.Desc == "BLOBS" {
						wantSection = "DATA"
					}
				}
				wantAM, wantRelKind := w.AM, ""
				if minor < 14 {
					wantAM = ""
				}
				if minor >= 16 && w.RelKind != 0 {
					wantRelKind = string(rune(w.RelKind))
				}
				var wantDeps []int
				for _, d := range w.Deps {
					wantDeps = append(wantDeps, int(atoi(d)))
				}
				state := map[byte]string{offsetNotSet: "not-set", offsetSet: "set", offsetNoData: "no-data"}[w.OffFlag]
				if e.DumpID != int(w.ID) || e.HadDumper != (w.HadDumper == 1) || e.TableOID != w.TableOID || e.OID != w.OID ||
					e.Tag != w.Tag || e.Desc != w.Desc || e.Section != wantSection || e.Defn != w.Defn || e.DropStmt != w.Drop ||
					e.CopyStmt != w.Copy || e.Namespace != w.Namespace || e.TableAM != wantAM || e.RelKind != wantRelKind ||
					e.Owner != w.Owner || e.WithOIDs || !reflect.DeepEqual(e.Deps, wantDeps) || e.DataOffsetState != state {
					t.Errorf("1.%d entry %d:\n got %+v\nwant %+v", minor, i, e, w)
				}
				if seekable && w.OffFlag == offsetSet && e.DataOffset != w.Off {
					t.Errorf("1.%d entry %d: offset %d, want %d", minor, i, e.DataOffset, w.Off)
				}
			}
			if a.DataBlocks != 2 || a.LargeObjects != 2 || a.DataBytes != int64(len("1\n2\n3\n\\.\n\n\nhelloab")) || a.Size != int64(len(data)) {
				t.Errorf("1.%d: %d blocks, %d large objects, %d data bytes, size %d of %d",
					minor, a.DataBlocks, a.LargeObjects, a.DataBytes, a.Size, len(data))
			}
		}
	}
}

func atoi(s string) int64 {
	var v int64
	for _, c := range s {
		v = v*10 + int64(c-'0')
	}
	return v
}

// TestSyntheticCompression covers the 1.15+ algorithm byte and the older
// level int.
func TestSyntheticCompression(t *testing.T) {
	for alg, name := range []string{"none", "gzip", "lz4", "zstd"} {
		s := newSynth(15)
		s.Compression = alg
		h, err := ReadHeader(bytes.NewReader(s.Encode()))
		if err != nil || h.Compression != name || h.CompressionLevel != -1 {
			t.Errorf("1.15 algorithm %d: %q level %d, %v; want %q", alg, h.Compression, h.CompressionLevel, err, name)
		}
	}
	s := newSynth(16)
	s.Compression = 4
	if _, err := ReadHeader(bytes.NewReader(s.Encode())); !errors.Is(err, ErrCorrupt) {
		t.Errorf("algorithm 4: %v, want ErrCorrupt", err)
	}
	for level, name := range map[int]string{-1: "gzip", 0: "none", 1: "gzip", 6: "gzip", 9: "gzip"} {
		s := newSynth(14)
		s.Compression = level
		h, err := ReadHeader(bytes.NewReader(s.Encode()))
		if err != nil || h.Compression != name || h.CompressionLevel != level {
			t.Errorf("1.14 level %d: %q level %d, %v; want %q", level, h.Compression, h.CompressionLevel, err, name)
		}
	}
	for _, level := range []int{-2, 10, 1 << 20} {
		s := newSynth(13)
		s.Compression = level
		if _, err := ReadHeader(bytes.NewReader(s.Encode())); !errors.Is(err, ErrCorrupt) {
			t.Errorf("1.13 level %d: %v, want ErrCorrupt", level, err)
		}
	}
}

// TestSynthetic116 is PG 17's layout: relkind in every entry, BLOB
// METADATA entries, and large objects split over several BLOBS entries,
// each with its own block; OIDs above 2^31 come back negative from
// pg_dump's signed int.
func TestSynthetic116(t *testing.T) {
	s := newSynth(16)
	s.Seekable = true
	s.Entries = append(s.Entries[:len(s.Entries)-1],
		synthEntry{ID: 300, TableOID: "0", OID: "0", Tag: "16500..16501", Desc: "BLOB METADATA", Section: 2,
			Defn: "SELECT pg_catalog.lo_create('16500');\nSELECT pg_catalog.lo_create('16501');\n", Owner: "u1",
			WithOIDs: "false", OffFlag: offsetNoData},
		synthEntry{ID: 3002, TableOID: "0", OID: "0", Tag: "16500..16501", Desc: "BLOBS", HadDumper: 1, Section: 3,
			WithOIDs: "false", Deps: []string{"300"}, OffFlag: offsetNotSet},
		synthEntry{ID: 3003, TableOID: "0", OID: "0", Tag: "3000000000..3000000001", Desc: "BLOBS", HadDumper: 1, Section: 3,
			WithOIDs: "false", OffFlag: offsetNotSet},
		synthEntry{ID: 3100, TableOID: "1259", OID: "16410", Tag: "p", Desc: "TABLE", Section: 2, RelKind: 'p',
			Namespace: "app", Defn: "CREATE TABLE app.p (id int) PARTITION BY RANGE (id);\n", WithOIDs: "false", OffFlag: offsetNoData},
	)
	s.Blocks = append(s.Blocks, synthBlock{Type: blockBlobs, ID: 3003, LOs: []synthLO{
		{OID: 3000000000 - (1 << 32), Chunks: []string{"big"}}, {OID: 3000000001 - (1 << 32), Chunks: []string{"oids"}},
	}})
	a, err := Verify(bytes.NewReader(s.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	for _, e := range a.Entries {
		kinds[e.Desc+" "+e.Tag] = e.RelKind
	}
	if kinds["TABLE t"] != "r" || kinds["TABLE p"] != "p" || kinds["SEQUENCE t_id_seq"] != "S" || kinds["SCHEMA app"] != "" {
		t.Errorf("relkinds = %v", kinds)
	}
	if a.LargeObjects != 4 || a.DataBlocks != 3 {
		t.Errorf("%d large objects in %d blocks, want 4 in 3", a.LargeObjects, a.DataBlocks)
	}
	if e, _ := a.Entry(3003); e.LargeObjects != 2 || e.DataSize != 7 {
		t.Errorf("second BLOBS entry: %d large objects, %d bytes", e.LargeObjects, e.DataSize)
	}
	if c := a.Summary().CountsByType; c["BLOBS"] != 2 || c["BLOB METADATA"] != 1 {
		t.Errorf("CountsByType = %v", c)
	}
}

// TestSyntheticWideIntegers reads an archive from a platform with 8-byte
// ints and 16-byte offsets, which pg_restore accepts.
func TestSyntheticWideIntegers(t *testing.T) {
	s := newSynth(14)
	s.IntSize, s.OffSize = 8, 16
	s.Seekable = true
	a, err := Verify(bytes.NewReader(s.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if a.Header.IntSize != 8 || a.Header.OffSize != 16 || a.DataBlocks != 2 {
		t.Errorf("header %+v, %d blocks", a.Header, a.DataBlocks)
	}
}

func TestUnsupportedVersions(t *testing.T) {
	for _, v := range []struct {
		maj, min, rev byte
		name          string
	}{{1, 9, 0, "1.9.0"}, {1, 17, 0, "1.17.0"}, {2, 0, 0, "2.0.0"}, {1, 0, 0, "1.0.0"}, {0, 9, 0, "0.9.0"}, {1, 255, 3, "1.255.3"}} {
		s := newSynth(14)
		s.Vmaj, s.Vmin, s.Vrev = v.maj, v.min, v.rev
		data := s.Encode()
		if v.maj == 1 && v.min == 0 {
			data = append(data[:7], data[8:]...) // 1.0 had no revision byte
		}
		for name, f := range map[string]func(io.Reader) error{
			"ReadHeader": func(r io.Reader) error { _, err := ReadHeader(r); return err },
			"Verify":     func(r io.Reader) error { _, err := Verify(r); return err },
		} {
			err := f(bytes.NewReader(data))
			if !errors.Is(err, ErrUnsupportedVersion) || !strings.Contains(err.Error(), v.name) {
				t.Errorf("%s of version %s: %v, want ErrUnsupportedVersion naming it", name, v.name, err)
			}
		}
	}
	// Every revision of a supported version is read, as pg_restore does.
	s := newSynth(16)
	s.Vrev = 7
	if h, err := ReadHeader(bytes.NewReader(s.Encode())); err != nil || h.Version != "1.16.7" {
		t.Errorf("1.16.7: %v, %v", h.Version, err)
	}
}

func TestUnsupportedFormats(t *testing.T) {
	for _, f := range []byte{0, 2, formatTar, formatNull, formatDirectory, 200} {
		s := newSynth(14)
		s.Format = f
		if _, err := Read(bytes.NewReader(s.Encode())); !errors.Is(err, ErrUnsupportedFormat) {
			t.Errorf("format %d: %v, want ErrUnsupportedFormat", f, err)
		}
	}
}

// header14 is a valid 1.14 header, for archives whose TOC is hand-made.
func header14() *writer {
	s := newSynth(14)
	w := s.NewWriter()
	s.WriteHeader(w)
	return w
}

// TestSyntheticCorruption feeds archives that no pg_dump writes.
func TestSyntheticCorruption(t *testing.T) {
	mutate := func(f func(s *synth)) []byte {
		s := newSynth(16)
		f(s)
		return s.Encode()
	}
	raw := func(f func(w *writer)) []byte {
		w := header14()
		f(w)
		return w.Bytes()
	}
	for _, tc := range []struct {
		name   string
		data   []byte
		verify bool // the damage is in the data blocks: only Verify sees it
		want   error
	}{
		{"integer size 0", mutate(func(s *synth) { s.IntSize = 0 }), false, ErrCorrupt},
		{"integer size 9", mutate(func(s *synth) { s.IntSize = 9 }), false, ErrCorrupt},
		{"offset size 0", mutate(func(s *synth) { s.OffSize = 0 }), false, ErrCorrupt},
		{"offset size 17", mutate(func(s *synth) { s.OffSize = 17 }), false, ErrCorrupt},
		{"sign byte 2", raw(func(w *writer) { w.Write([]byte{2, 1, 0, 0, 0}) }), false, ErrCorrupt},
		{"negative entry count", raw(func(w *writer) { w.Int(-1) }), false, ErrCorrupt},
		{"entry count over the limit", raw(func(w *writer) { w.Int(maxTOCEntries + 1) }), false, ErrCorrupt},
		{"entry count over the entries", raw(func(w *writer) { w.Int(maxTOCEntries) }), false, ErrTruncated},
		{"string length -2", raw(func(w *writer) { w.Int(1); w.Int(1); w.Int(0); w.Int(-2) }), false, ErrCorrupt},
		{"string length over 1 GiB", raw(func(w *writer) { w.Int(1); w.Int(1); w.Int(0); w.Int(1<<30 + 1) }), false, ErrCorrupt},
		{"string length beyond the input", raw(func(w *writer) { w.Int(1); w.Int(1); w.Int(0); w.Int(16<<20 - 1); w.WriteString("0") }), false, ErrTruncated},
		{"string longer than the field limit", raw(func(w *writer) { w.Int(1); w.Int(1); w.Int(0); w.Int(16<<20 + 1); w.WriteString("0") }), false, ErrTooLarge},
		{"dump ID 0", mutate(func(s *synth) { s.Entries[1].ID = 0 }), false, ErrCorrupt},
		{"negative dump ID", mutate(func(s *synth) { s.Entries[1].ID = -5 }), false, ErrCorrupt},
		{"duplicate dump ID", mutate(func(s *synth) { s.Entries[2].ID = s.Entries[1].ID }), false, ErrCorrupt},
		{"had-dumper 2", mutate(func(s *synth) { s.Entries[1].HadDumper = 2 }), false, ErrCorrupt},
		{"section 0", mutate(func(s *synth) { s.Entries[1].Section = 0 }), false, ErrCorrupt},
		{"section 5", mutate(func(s *synth) { s.Entries[1].Section = 5 }), false, ErrCorrupt},
		{"NULL description", mutate(func(s *synth) { s.Entries[1].NullDesc = true }), false, ErrCorrupt},
		{"relkind 256", mutate(func(s *synth) { s.Entries[3].RelKind = 256 }), false, ErrCorrupt},
		{"dependency not a number", mutate(func(s *synth) { s.Entries[3].Deps = []string{"5x"} }), false, ErrCorrupt},
		{"dependency negative", mutate(func(s *synth) { s.Entries[3].Deps = []string{"-5"} }), false, ErrCorrupt},
		{"offset flag 0", mutate(func(s *synth) { s.Entries[1].OffFlag = 0 }), false, ErrCorrupt},
		{"offset flag 4", mutate(func(s *synth) { s.Entries[1].OffFlag = 4 }), false, ErrCorrupt},
		{"offset set for an entry without data", mutate(func(s *synth) { s.Entries[1].OffFlag = offsetSet }), false, ErrCorrupt},
		{"offset beyond 64 bits", mutate(func(s *synth) { s.OffSize = 9; s.Entries[1].Off = -1 }), false, ErrCorrupt},

		{"block type 2", mutate(func(s *synth) { s.Blocks[0].Type = 2 }), true, ErrCorrupt},
		{"block type 0", mutate(func(s *synth) { s.Blocks[0].Type = 0 }), true, ErrCorrupt},
		{"block of an unknown entry", mutate(func(s *synth) { s.Blocks[0].ID = 77 }), true, ErrCorrupt},
		{"block of an entry without data", mutate(func(s *synth) { s.Blocks[0].ID = 210 }), true, ErrCorrupt},
		{"block of an entry without data offset", mutate(func(s *synth) { s.Entry(3000).OffFlag = offsetNoData }), true, ErrCorrupt},
		{"two blocks for one entry", mutate(func(s *synth) { s.Blocks[1] = s.Blocks[0] }), true, ErrCorrupt},
		{"large-object block for table data", mutate(func(s *synth) { s.Blocks[0].Type = blockBlobs }), true, ErrCorrupt},
		{"table-data block for large objects", mutate(func(s *synth) { s.Blocks[1].Type = blockData }), true, ErrCorrupt},
		{"missing block (pipe)", mutate(func(s *synth) { s.Blocks = s.Blocks[:1] }), true, ErrTruncated},
		{"missing block (file)", mutate(func(s *synth) {
			s.Seekable = true
			s.Encode() // sets both entries' offsets
			s.Seekable = false
			s.Blocks = s.Blocks[:1]
		}), true, ErrTruncated},
		{"no blocks at all (pipe)", mutate(func(s *synth) { s.Blocks = nil }), true, ErrTruncated},
		{"block at the wrong offset", mutate(func(s *synth) {
			s.Seekable = true
			s.Encode()
			s.Seekable = false
			s.Entry(3000).Off++
		}), true, ErrCorrupt},
		{"block of an entry whose offset is not set, with offsets", mutate(func(s *synth) {
			s.Seekable = true
			s.Encode()
			s.Seekable = false
			s.Entry(3002).OffFlag, s.Entry(3002).Off = offsetNotSet, 0
		}), true, ErrCorrupt},
		{"blocks in the wrong order with offsets", mutate(func(s *synth) {
			s.Seekable = true
			s.Encode()
			s.Seekable = false
			s.Blocks[0], s.Blocks[1] = s.Blocks[1], s.Blocks[0]
		}), true, ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkErr(t, tc.data, tc.verify, tc.want)
		})
	}

	// A negative chunk length, and a large-object OID that is no OID: hand
	// written after a valid TOC.
	s := newSynth(14)
	s.IntSize = 8
	s.Blocks = nil
	w := s.NewWriter()
	s.WriteHeader(w)
	s.WriteTOC(w)
	toc := bytes.Clone(w.Bytes())
	w.WriteByte(blockData)
	w.Int(3000)
	w.Int(-4)
	checkErr(t, w.Bytes(), true, ErrCorrupt)

	w = &writer{IntSize: 8, OffSize: 8}
	w.Write(toc)
	w.WriteByte(blockData)
	w.Int(3000)
	w.Int(0)
	w.WriteByte(blockBlobs)
	w.Int(3002)
	w.Int(math.MaxUint32 + 1)
	checkErr(t, w.Bytes(), true, ErrCorrupt)
}

func checkErr(t *testing.T, data []byte, verifyOnly bool, want error) {
	t.Helper()
	if verifyOnly {
		if _, err := Read(bytes.NewReader(data)); err != nil {
			t.Errorf("Read: %v, want success (the damage is after the TOC)", err)
		}
	}
	for _, r := range []io.Reader{bytes.NewReader(data), hideLen{bytes.NewReader(data)}} {
		_, err := Verify(r)
		if !errors.Is(err, want) {
			t.Errorf("Verify(%T): %v, want %v", r, err, want)
		}
		if !verifyOnly {
			if _, err := Read(bytes.NewReader(data)); !errors.Is(err, want) {
				t.Errorf("Read: %v, want %v", err, want)
			}
		}
	}
}

// TestSeekableArchiveWithoutSomeData: when pg_dump could seek, entries
// whose offset stayed "not set" got no block (pg_dump wrote no data for
// them); that is not a truncation.
func TestSeekableArchiveWithoutSomeData(t *testing.T) {
	s := newSynth(14)
	s.Seekable = true
	s.Blocks = s.Blocks[:1] // the BLOBS entry keeps offset "not set"
	a, err := Verify(bytes.NewReader(s.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	if e, _ := a.Entry(3002); e.DataOffsetState != "not-set" || a.DataBlocks != 1 {
		t.Errorf("BLOBS entry %+v, %d blocks", e, a.DataBlocks)
	}
}

// TestLyingLengthsCostNothing: a length field that promises a gigabyte
// must not make the reader allocate one, whether or not it knows the
// input's size.
func TestLyingLengthsCostNothing(t *testing.T) {
	w := header14()
	w.Int(1)             // one entry
	w.Int(1)             // dump ID
	w.Int(0)             // no dumper
	w.Int(16<<20 - 1)    // a table OID string of 16 MiB (the limit)...
	w.WriteString("160") // ...of which 3 bytes are there
	data := w.Bytes()
	for _, r := range []func() io.Reader{
		func() io.Reader { return bytes.NewReader(data) },
		func() io.Reader { return hideLen{bytes.NewReader(data)} },
	} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		_, err := Read(r())
		runtime.ReadMemStats(&after)
		if !errors.Is(err, ErrTruncated) {
			t.Errorf("%T: %v, want ErrTruncated", r(), err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
			t.Errorf("%T: reading allocated %d bytes", r(), grew)
		}
	}

	// A count of ten million entries with nothing behind it.
	w = header14()
	w.Int(maxTOCEntries)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := Read(bytes.NewReader(w.Bytes()))
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTruncated) {
		t.Errorf("huge count: %v, want ErrTruncated", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 8<<20 {
		t.Errorf("huge count: reading allocated %d bytes", grew)
	}
}

func TestImpossibleCreationTime(t *testing.T) {
	s := newSynth(14)
	s.Tm = [7]int{0, 0, 25, 1, 0, 124, 0} // hour 25
	h, err := ReadHeader(bytes.NewReader(s.Encode()))
	if err != nil || !h.CreatedAt.IsZero() {
		t.Errorf("hour 25: %v, %v; want a zero time and no error (pg_restore only warns)", h.CreatedAt, err)
	}
	s.Tm = [7]int{0, 0, 0, 1, 0, -1901, 0} // year -1
	if h, err := ReadHeader(bytes.NewReader(s.Encode())); err != nil || !h.CreatedAt.IsZero() {
		t.Errorf("year -1: %v, %v; want a zero time and no error", h.CreatedAt, err)
	}
	w := &writer{IntSize: 8}
	w.Int(math.MaxInt32 + 1)
	s.IntSize = 8
	data := s.Encode()
	// Patch tm_sec to a value beyond 32 bits: right after the level int.
	at := 5 + 3 + 3 + 9
	copy(data[at:], w.Bytes())
	if _, err := ReadHeader(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("tm_sec beyond 32 bits: %v, want ErrCorrupt", err)
	}
}

func TestServerMajor(t *testing.T) {
	for v, want := range map[string]int{
		"15.18 (Debian 15.18-0+deb12u1)": 15, "9.6.24": 9, "10.23": 10, "17beta1": 17, "18rc1": 18, " 16.3": 16,
	} {
		if got, err := (Header{ServerVersion: v}).ServerMajor(); got != want || err != nil {
			t.Errorf("ServerMajor(%q) = %d, %v; want %d", v, got, err, want)
		}
	}
	for _, v := range []string{"", "PostgreSQL", "1234567.1"} {
		if _, err := (Header{ServerVersion: v}).ServerMajor(); !errors.Is(err, ErrCorrupt) {
			t.Errorf("ServerMajor(%q): %v, want ErrCorrupt", v, err)
		}
	}
	if got, err := (Header{PgDumpVersion: "17.2"}).PgDumpMajor(); got != 17 || err != nil {
		t.Errorf("PgDumpMajor = %d, %v", got, err)
	}
}
