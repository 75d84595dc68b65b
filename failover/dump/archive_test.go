package dump

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
	_ "time/tzdata" // dumpTZ, wherever the test runs
)

// expectedMinor is the archive format minor version each pg_dump major writes.
func expectedMinor(major int) int {
	switch {
	case major >= 17:
		return 16
	case major == 16:
		return 15
	case major >= 12:
		return 14
	default:
		return 13
	}
}

// hideLen hides a reader's Len and Seek, so the decoder cannot know the
// input's size: the situation of a network stream.
type hideLen struct{ r io.Reader }

func (h hideLen) Read(p []byte) (int, error) { return h.r.Read(p) }

func TestRealArchiveHeader(t *testing.T) {
	fx := getFixture(t)
	cases := []struct {
		name        string
		data        []byte
		compression string
		level       int
	}{
		{"file", fx.file, "gzip", -1},
		{"pipe", fx.pipe, "gzip", -1},
		{"uncompressed", fx.uncompress, "none", 0},
	}
	minor := expectedMinor(fx.major)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			h, err := ReadHeader(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("ReadHeader: %v", err)
			}
			want := fmt.Sprintf("1.%d.0", minor)
			if h.Version != want || h.VersionMajor != 1 || h.VersionMinor != minor || h.VersionRev != 0 {
				t.Errorf("version = %q (%d.%d.%d), want %s", h.Version, h.VersionMajor, h.VersionMinor, h.VersionRev, want)
			}
			if h.IntSize != 4 || h.OffSize != 8 || h.Format != "custom" {
				t.Errorf("int size %d, offset size %d, format %q; want 4, 8, custom", h.IntSize, h.OffSize, h.Format)
			}
			level := tc.level
			if minor >= 15 {
				level = -1 // 1.15+ record no level
			}
			if h.Compression != tc.compression || h.CompressionLevel != level {
				t.Errorf("compression %q level %d, want %q level %d", h.Compression, h.CompressionLevel, tc.compression, level)
			}
			if h.DatabaseName != fixtureDB {
				t.Errorf("database name %q, want %q", h.DatabaseName, fixtureDB)
			}
			if got, err := h.ServerMajor(); err != nil || got != fx.major {
				t.Errorf("ServerMajor() = %d, %v; want %d (server version %q)", got, err, fx.major, h.ServerVersion)
			}
			if got, err := h.PgDumpMajor(); err != nil || got != fx.major {
				t.Errorf("PgDumpMajor() = %d, %v; want %d (pg_dump version %q)", got, err, fx.major, h.PgDumpVersion)
			}
			if !strings.HasPrefix(h.ServerVersion, fmt.Sprintf("%d.", fx.major)) {
				t.Errorf("server version %q does not start with %d.", h.ServerVersion, fx.major)
			}

			// pg_dump ran in Asia/Kolkata (UTC+05:30): the header holds that
			// wall clock, which is 5h30 away from UTC's.
			loc, err := time.LoadLocation(dumpTZ)
			if err != nil {
				t.Fatal(err)
			}
			wall := func(at time.Time) time.Time {
				l := at.In(loc)
				return time.Date(l.Year(), l.Month(), l.Day(), l.Hour(), l.Minute(), l.Second(), 0, time.UTC)
			}
			lo, hi := wall(fx.started).Add(-2*time.Second), wall(time.Now()).Add(2*time.Second)
			if h.CreatedAt.Before(lo) || h.CreatedAt.After(hi) {
				t.Errorf("CreatedAt = %v, want the %s wall clock between %v and %v", h.CreatedAt, dumpTZ, lo, hi)
			}
			if h.CreatedAt.Location() != time.UTC {
				t.Errorf("CreatedAt location = %v, want UTC", h.CreatedAt.Location())
			}
			if h.CreatedAtDST != 0 {
				t.Errorf("CreatedAtDST = %d, want 0 (%s has no DST)", h.CreatedAtDST, dumpTZ)
			}
		})
	}
}

// TestReadHeaderNeedsOnlyTheHeader reads the header from exactly its bytes.
func TestReadHeaderNeedsOnlyTheHeader(t *testing.T) {
	fx := getFixture(t)
	d := newDecoder(bytes.NewReader(fx.file))
	if _, err := readHeader(d); err != nil {
		t.Fatal(err)
	}
	n := int(d.off)
	if n < 60 || n > 300 {
		t.Fatalf("header is %d bytes, which is implausible", n)
	}
	if _, err := ReadHeader(bytes.NewReader(fx.file[:n])); err != nil {
		t.Errorf("ReadHeader on the %d header bytes: %v", n, err)
	}
	if _, err := ReadHeader(hideLen{bytes.NewReader(fx.file[:n])}); err != nil {
		t.Errorf("ReadHeader on the %d header bytes of a stream: %v", n, err)
	}
	for i := 1; i < n; i++ {
		if _, err := ReadHeader(bytes.NewReader(fx.file[:i])); !errors.Is(err, ErrTruncated) {
			t.Fatalf("ReadHeader on %d of %d header bytes: %v, want ErrTruncated", i, n, err)
		}
	}
}

// TestTOCMatchesPgRestore compares every entry with pg_restore -l's
// listing of the same archive, line by line.
func TestTOCMatchesPgRestore(t *testing.T) {
	fx := getFixture(t)
	a, err := Read(bytes.NewReader(fx.file))
	if err != nil {
		t.Fatal(err)
	}
	var want []string
	for _, line := range strings.Split(fx.restoreList, "\n") {
		if line != "" && !strings.HasPrefix(line, ";") {
			want = append(want, line)
		}
	}
	var got []string
	for _, e := range a.Entries {
		switch e.Desc {
		case "ENCODING", "STDSTRINGS", "SEARCHPATH", "DATABASE", "DATABASE PROPERTIES":
			continue // pg_restore -l leaves out these special entries
		}
		ns := e.Namespace
		if ns == "" {
			ns = "-"
		}
		got = append(got, fmt.Sprintf("%d; %s %s %s %s %s %s", e.DumpID, e.TableOID, e.OID, e.Desc, ns, e.Tag, e.Owner))
	}
	if len(want) < 40 {
		t.Fatalf("pg_restore -l listed only %d entries:\n%s", len(want), fx.restoreList)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("TOC differs from pg_restore -l\n got: %s\nwant: %s", strings.Join(got, "\n      "), strings.Join(want, "\n      "))
	}
	// And the special entries are there too, before everything else.
	for i, desc := range []string{"ENCODING", "STDSTRINGS", "SEARCHPATH"} {
		if a.Entries[i].Desc != desc || a.Entries[i].Section != "PRE-DATA" {
			t.Errorf("entry %d is %s (%s), want %s (PRE-DATA)", i, a.Entries[i].Desc, a.Entries[i].Section, desc)
		}
	}
	if e := a.Entries[0]; e.Defn != "SET client_encoding = 'UTF8';\n" {
		t.Errorf("ENCODING defn = %q", e.Defn)
	}
}

func TestRealArchiveEntries(t *testing.T) {
	fx := getFixture(t)
	a, err := Read(bytes.NewReader(fx.file))
	if err != nil {
		t.Fatal(err)
	}
	find := func(desc, ns, tag string) *Entry {
		t.Helper()
		for i := range a.Entries {
			if e := &a.Entries[i]; e.Desc == desc && e.Namespace == ns && e.Tag == tag {
				return e
			}
		}
		t.Fatalf("no %s %s.%s entry", desc, ns, tag)
		return nil
	}
	users := find("TABLE", "app", "users")
	if users.Section != "PRE-DATA" || users.HadDumper || users.Owner != "postgres" || users.TableAM != "heap" ||
		!strings.HasPrefix(users.Defn, "CREATE TABLE app.users (") || !strings.Contains(users.Defn, "email heroku_ext.citext NOT NULL") ||
		users.DropStmt != "DROP TABLE app.users;\n" || users.DataOffsetState != "no-data" {
		t.Errorf("TABLE app.users = %+v", *users)
	}
	data := find("TABLE DATA", "app", "users")
	if data.Section != "DATA" || !data.HadDumper || data.Defn != "" ||
		data.CopyStmt != "COPY app.users (id, email, name, attrs, updated_at) FROM stdin;\n" ||
		!reflect.DeepEqual(data.Deps, []int{users.DumpID}) || data.TableOID != "0" || data.OID != users.OID {
		t.Errorf("TABLE DATA app.users = %+v (table is dump ID %d, OID %s)", *data, users.DumpID, users.OID)
	}
	if idx := find("INDEX", "app", "users_name_trgm"); idx.Section != "POST-DATA" ||
		!strings.Contains(idx.Defn, "USING gin (name heroku_ext.gin_trgm_ops)") {
		t.Errorf("INDEX = %+v", *idx)
	}
	if tr := find("TRIGGER", "app", "users users_touch"); tr.Section != "POST-DATA" {
		t.Errorf("TRIGGER = %+v", *tr)
	}
	if c := find("COMMENT", "", "EXTENSION pg_trgm"); c.Section != "NONE" {
		t.Errorf("COMMENT = %+v", *c)
	}
	for _, e := range a.Entries {
		if e.RelKind != "" || e.WithOIDs {
			t.Errorf("entry %d %s %s: relkind %q, with OIDs %v in a 1.%d archive", e.DumpID, e.Desc, e.Tag, e.RelKind, e.WithOIDs, a.Header.VersionMinor)
		}
		if e.DumpID <= 0 {
			t.Errorf("entry %s %s has dump ID %d", e.Desc, e.Tag, e.DumpID)
		}
	}
	got, ok := a.Entry(users.DumpID)
	if !ok || got.Tag != "users" || got.Desc != "TABLE" {
		t.Errorf("Entry(%d) = %+v, %v", users.DumpID, got, ok)
	}
	if _, ok := a.Entry(1 << 30); ok {
		t.Error("Entry(1<<30) found something")
	}
}

// wantFullSummary is what the fixture database's full dump must summarise to.
func wantFullSequences() []SequenceRef {
	return []SequenceRef{
		{Schema: "app", Name: "audit_log_id_seq", HasValue: true, LastValue: 1, IsCalled: false,
			OwnedBy: &ColumnRef{Schema: "app", Table: "audit_log", Column: "id"}},
		{Schema: "app", Name: "events_id_seq", HasValue: true, LastValue: 200, IsCalled: true,
			OwnedBy: &ColumnRef{Schema: "app", Table: "events", Column: "id"}, Identity: true},
		{Schema: "app", Name: "users_id_seq", HasValue: true, LastValue: 50, IsCalled: true,
			OwnedBy: &ColumnRef{Schema: "app", Table: "users", Column: "id"}},
		{Schema: "billing", Name: "invoice_number_seq", HasValue: true, LastValue: 1029, IsCalled: true},
		{Schema: "billing", Name: "invoices_id_seq", HasValue: true, LastValue: 30, IsCalled: true,
			OwnedBy: &ColumnRef{Schema: "billing", Table: "invoices", Column: "id"}},
	}
}

var herokuExtensions = []ExtensionRef{
	{Name: "citext", Schema: "heroku_ext"},
	{Name: "hstore", Schema: "heroku_ext"},
	{Name: "pg_trgm", Schema: "heroku_ext"},
}

func TestRealArchiveSummary(t *testing.T) {
	fx := getFixture(t)
	for name, data := range map[string][]byte{"file": fx.file, "pipe": fx.pipe, "uncompressed": fx.uncompress} {
		t.Run(name, func(t *testing.T) {
			a, err := Read(bytes.NewReader(data))
			if err != nil {
				t.Fatal(err)
			}
			s := a.Summary()
			wantCounts := map[string]int{
				"SCHEMA": 3, "EXTENSION": 3, "COMMENT": 3,
				"TABLE": 5, "TABLE DATA": 5,
				"SEQUENCE": 5, "SEQUENCE SET": 5, "SEQUENCE OWNED BY": 3,
				"DEFAULT": 3, "VIEW": 2, "MATERIALIZED VIEW": 1, "MATERIALIZED VIEW DATA": 1,
				"FUNCTION": 1, "TRIGGER": 1, "INDEX": 1, "CONSTRAINT": 6, "FK CONSTRAINT": 2,
				"BLOB": 1, "BLOBS": 1,
				"ENCODING": 1, "STDSTRINGS": 1, "SEARCHPATH": 1, "DATABASE": 1,
			}
			if !reflect.DeepEqual(s.CountsByType, wantCounts) {
				t.Errorf("CountsByType =\n%v\nwant\n%v", s.CountsByType, wantCounts)
			}
			wantTables := []TableRef{
				{"app", "audit_log"}, {"app", "events"}, {"app", "users"},
				{"billing", "invoices"}, {"public", "schema_migrations"},
			}
			if !reflect.DeepEqual(s.DataTables, wantTables) {
				t.Errorf("DataTables = %v, want %v", s.DataTables, wantTables)
			}
			if !reflect.DeepEqual(s.Extensions, herokuExtensions) {
				t.Errorf("Extensions = %v, want %v", s.Extensions, herokuExtensions)
			}
			if want := []string{"app", "billing", "heroku_ext"}; !reflect.DeepEqual(s.SchemasCreated, want) {
				t.Errorf("SchemasCreated = %v, want %v", s.SchemasCreated, want)
			}
			if len(s.SchemasNeeded) != 0 {
				t.Errorf("SchemasNeeded = %v, want none: the archive creates them all", s.SchemasNeeded)
			}
			if want := wantFullSequences(); !reflect.DeepEqual(s.Sequences, want) {
				gotJSON, _ := json.Marshal(s.Sequences)
				wantJSON, _ := json.Marshal(want)
				t.Errorf("Sequences =\n%s\nwant\n%s", gotJSON, wantJSON)
			}
			if s.Encoding != "UTF8" {
				t.Errorf("Encoding = %q", s.Encoding)
			}
		})
	}
}

// TestHerokuShapedArchive: Heroku owns heroku_ext, so its dumps create the
// extensions WITH SCHEMA heroku_ext without creating the schema. pg_dump
// -N heroku_ext produces the same shape; the restore must create the
// schema first.
func TestHerokuShapedArchive(t *testing.T) {
	fx := getFixture(t)
	a, err := Verify(bytes.NewReader(fx.noHerokuExt))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Summary()
	if !reflect.DeepEqual(s.Extensions, herokuExtensions) {
		t.Errorf("Extensions = %v, want %v (pg_dump -N keeps extensions)", s.Extensions, herokuExtensions)
	}
	if want := []string{"app", "billing"}; !reflect.DeepEqual(s.SchemasCreated, want) {
		t.Errorf("SchemasCreated = %v, want %v", s.SchemasCreated, want)
	}
	if want := []string{"heroku_ext"}; !reflect.DeepEqual(s.SchemasNeeded, want) {
		t.Errorf("SchemasNeeded = %v, want %v", s.SchemasNeeded, want)
	}
	if s.CountsByType["SCHEMA"] != 2 || s.CountsByType["TABLE DATA"] != 5 {
		t.Errorf("CountsByType = %v", s.CountsByType)
	}
}

// TestPartialArchive: pg_dump -n app leaves out the extensions entirely,
// yet app's tables use heroku_ext's types and operator classes.
func TestPartialArchive(t *testing.T) {
	fx := getFixture(t)
	a, err := Verify(bytes.NewReader(fx.appOnly))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Summary()
	if want := []TableRef{{"app", "audit_log"}, {"app", "events"}, {"app", "users"}}; !reflect.DeepEqual(s.DataTables, want) {
		t.Errorf("DataTables = %v, want %v", s.DataTables, want)
	}
	if len(s.Extensions) != 0 {
		t.Errorf("Extensions = %v, want none in a -n dump", s.Extensions)
	}
	if want := []string{"app"}; !reflect.DeepEqual(s.SchemasCreated, want) {
		t.Errorf("SchemasCreated = %v, want %v", s.SchemasCreated, want)
	}
	if want := []string{"heroku_ext"}; !reflect.DeepEqual(s.SchemasNeeded, want) {
		t.Errorf("SchemasNeeded = %v, want %v", s.SchemasNeeded, want)
	}
}

func TestSchemaOnlyArchive(t *testing.T) {
	fx := getFixture(t)
	a, err := Verify(bytes.NewReader(fx.schemaOnly))
	if err != nil {
		t.Fatal(err)
	}
	s := a.Summary()
	if len(s.DataTables) != 0 || a.DataBlocks != 0 || a.DataBytes != 0 || a.Size != int64(len(fx.schemaOnly)) || a.DataStart != a.Size {
		t.Errorf("schema-only: data tables %v, %d blocks, %d data bytes, size %d of %d, data start %d",
			s.DataTables, a.DataBlocks, a.DataBytes, a.Size, len(fx.schemaOnly), a.DataStart)
	}
	for _, q := range s.Sequences {
		if q.HasValue {
			t.Errorf("sequence %s.%s has a value in a schema-only dump", q.Schema, q.Name)
		}
	}
	if len(s.Sequences) != 4 { // the four serial/identity ones with owners
		t.Errorf("Sequences = %+v", s.Sequences)
	}
}

// TestVerifyRealArchives walks the data blocks of archives written to a
// file (offsets set) and to a pipe (offsets not set).
func TestVerifyRealArchives(t *testing.T) {
	fx := getFixture(t)
	for _, tc := range []struct {
		name     string
		data     []byte
		seekable bool
	}{
		{"file", fx.file, true},
		{"pipe", fx.pipe, false},
		{"uncompressed", fx.uncompress, true},
		{"tiny-file", fx.tinyFile, true},
		{"tiny-pipe", fx.tinyPipe, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := Verify(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if a.Size != int64(len(tc.data)) {
				t.Errorf("Size = %d, want %d", a.Size, len(tc.data))
			}
			dumpers, sum := 0, int64(0)
			lastOff := int64(-1)
			for _, e := range a.Entries {
				sum += e.DataSize
				if !e.HadDumper {
					if e.DataOffsetState != "no-data" || e.DataSize != 0 {
						t.Errorf("entry %d %s %s: offset %s, data %d", e.DumpID, e.Desc, e.Tag, e.DataOffsetState, e.DataSize)
					}
					continue
				}
				dumpers++
				if tc.seekable {
					if e.DataOffsetState != "set" || e.DataOffset < a.DataStart || e.DataOffset <= lastOff {
						t.Errorf("entry %d %s %s: offset %s %d (data starts at %d, previous block at %d)",
							e.DumpID, e.Desc, e.Tag, e.DataOffsetState, e.DataOffset, a.DataStart, lastOff)
					}
					lastOff = e.DataOffset
				} else if e.DataOffsetState != "not-set" || e.DataOffset != 0 {
					t.Errorf("entry %d %s %s of a piped dump: offset %s %d", e.DumpID, e.Desc, e.Tag, e.DataOffsetState, e.DataOffset)
				}
				if e.Desc == "TABLE DATA" && e.Tag != "audit_log" && e.DataSize == 0 {
					t.Errorf("TABLE DATA %s has no data", e.Tag)
				}
			}
			if a.DataBlocks != dumpers || a.LargeObjects != 1 || sum != a.DataBytes || a.DataBytes == 0 {
				t.Errorf("%d blocks (%d entries have data), %d large objects, %d data bytes (entries sum to %d)",
					a.DataBlocks, dumpers, a.LargeObjects, a.DataBytes, sum)
			}

			// The same from a stream of unknown size.
			b, err := Verify(hideLen{bytes.NewReader(tc.data)})
			if err != nil {
				t.Fatalf("Verify of a stream: %v", err)
			}
			if !reflect.DeepEqual(a.Entries, b.Entries) || a.Size != b.Size || a.DataBytes != b.DataBytes {
				t.Error("Verify of a stream differs from Verify of a bytes.Reader")
			}
		})
	}
}

// TestUncompressedPayloads checks payload sizes against what the fixture
// stored: without compression a chunk holds the COPY text or the large
// object's bytes as they are.
func TestUncompressedPayloads(t *testing.T) {
	fx := getFixture(t)
	a, err := Verify(bytes.NewReader(fx.uncompress))
	if err != nil {
		t.Fatal(err)
	}
	var migrations, empty *Entry
	for i, e := range a.Entries {
		switch {
		case e.Desc == "BLOBS":
			if e.DataSize != int64(len("hello, large object")) || e.LargeObjects != 1 {
				t.Errorf("BLOBS: %d bytes in %d large objects, want 19 bytes in 1", e.DataSize, e.LargeObjects)
			}
		case e.Desc == "TABLE DATA" && e.Tag == "schema_migrations":
			migrations = &a.Entries[i]
		case e.Desc == "TABLE DATA" && e.Tag == "audit_log":
			empty = &a.Entries[i]
		}
	}
	// pg_dump stores COPY's end marker with the rows, so an empty table's
	// data is just that marker, and a table's data is its rows plus it.
	if empty == nil || migrations == nil {
		t.Fatal("TABLE DATA entries missing")
	}
	if empty.DataSize != int64(len("\\.\n\n\n")) {
		t.Errorf("empty table audit_log has %d data bytes, want the 5 of the end-of-COPY marker", empty.DataSize)
	}
	if rows := int64(len("20240101000000\n20240201000000\n")); migrations.DataSize != rows+empty.DataSize {
		t.Errorf("schema_migrations data: %d bytes, want %d of rows and %d of marker", migrations.DataSize, rows, empty.DataSize)
	}
}

// TestVerifyTruncated cuts real archives short: at every byte of the
// header and TOC, around every data block boundary, at the last bytes and
// at a sample of the data region. Each cut must fail with ErrTruncated
// (ErrNotArchive for the empty input), and Read must fail exactly when the
// cut falls inside the header or TOC.
func TestVerifyTruncated(t *testing.T) {
	fx := getFixture(t)
	for _, tc := range []struct {
		name string
		data []byte
		// everyTOCByte cuts at every byte of the header and TOC; the
		// others, whose TOC is the same as file's, at a sample of them.
		everyTOCByte bool
	}{
		{"file", fx.file, true}, {"pipe", fx.pipe, false}, {"uncompressed", fx.uncompress, false}, {"tiny-pipe", fx.tinyPipe, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			full, err := Verify(bytes.NewReader(tc.data))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := Verify(bytes.NewReader(tc.data[:0])); !errors.Is(err, ErrNotArchive) {
				t.Errorf("empty input: %v, want ErrNotArchive", err)
			}
			cuts := map[int]bool{}
			for n := 1; n < len(tc.data); n++ {
				inTOC := int64(n) < full.DataStart+64
				if inTOC && (tc.everyTOCByte || n < 300 || n%7 == 0) || !inTOC && n%5 == 0 || n > len(tc.data)-16 {
					cuts[n] = true
				}
			}
			// Around the block boundaries (known from the offsets of a
			// file dump, from the block sizes otherwise).
			pos := full.DataStart
			for _, e := range full.Entries {
				if !e.HadDumper {
					continue
				}
				if e.DataOffsetState == "set" {
					pos = e.DataOffset
				}
				for k := -2; k <= 6; k++ {
					if n := int(pos) + k; n > 0 && n < len(tc.data) {
						cuts[n] = true
					}
				}
			}
			if len(cuts) < int(full.DataStart)/7 {
				t.Fatalf("only %d cuts", len(cuts))
			}
			for n := range cuts {
				cut := tc.data[:n]
				if _, err := Verify(bytes.NewReader(cut)); !errors.Is(err, ErrTruncated) {
					t.Fatalf("Verify of the first %d of %d bytes: %v, want ErrTruncated", n, len(tc.data), err)
				}
				// Streams of unknown size take other paths.
				if n < 300 || n%11 == 0 || int64(n) >= full.DataStart-2 && int64(n) <= full.DataStart+2 {
					if _, err := Verify(hideLen{bytes.NewReader(cut)}); !errors.Is(err, ErrTruncated) {
						t.Fatalf("Verify of a stream of the first %d of %d bytes: %v, want ErrTruncated", n, len(tc.data), err)
					}
				}
				_, err := Read(bytes.NewReader(cut))
				if int64(n) < full.DataStart && !errors.Is(err, ErrTruncated) {
					t.Fatalf("Read of the first %d bytes (TOC ends at %d): %v, want ErrTruncated", n, full.DataStart, err)
				}
				if int64(n) >= full.DataStart && err != nil {
					t.Fatalf("Read of the first %d bytes (TOC ends at %d): %v", n, full.DataStart, err)
				}
			}
		})
	}
}

// TestVerifyFile reads archives from files, whose size the reader learns
// from the file: complete, cut short, and with a pipe for comparison.
func TestVerifyFile(t *testing.T) {
	fx := getFixture(t)
	dir := t.TempDir()
	write := func(name string, b []byte) *os.File {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o600); err != nil {
			t.Fatal(err)
		}
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		return f
	}
	f := write("full.dump", fx.file)
	if got := knownSize(f); got != int64(len(fx.file)) {
		t.Errorf("knownSize(file) = %d, want %d", got, len(fx.file))
	}
	a, err := Verify(f)
	if err != nil || a.Size != int64(len(fx.file)) {
		t.Fatalf("Verify(file) = %v, size %d", err, a.Size)
	}
	cut := write("cut.dump", fx.file[:len(fx.file)-100])
	if _, err := Verify(cut); !errors.Is(err, ErrTruncated) {
		t.Errorf("Verify of a cut file: %v, want ErrTruncated", err)
	}
	// A lying string length in a file is refused before any read.
	data := bytes.Clone(fx.file[:200])
	d := newDecoder(bytes.NewReader(data))
	if _, err := readHeader(d); err != nil {
		t.Fatal(err)
	}
	lie := write("lie.dump", append(data[:d.off],
		0, 1, 0, 0, 0, // one entry
		0, 1, 0, 0, 0, // dump ID 1
		0, 0, 0, 0, 0, // no dumper
		0, 0xff, 0xff, 0xff, 0x00)) // a table OID of 16 MiB, the field limit)
	if _, err := Read(lie); !errors.Is(err, ErrTruncated) || !strings.Contains(err.Error(), "bytes are left") {
		t.Errorf("Read of a file with a lying length: %v, want ErrTruncated before reading", err)
	}

	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() { w.Write(fx.pipe); w.Close() }()
	if got := knownSize(r); got != -1 {
		t.Errorf("knownSize(pipe) = %d, want -1", got)
	}
	if _, err := Verify(r); err != nil {
		t.Errorf("Verify(pipe): %v", err)
	}
	r.Close()
}

func TestVerifyTrailingData(t *testing.T) {
	fx := getFixture(t)
	for name, tail := range map[string][]byte{
		"text":                         []byte("garbage"),
		"a zero":                       {0},
		"a block type":                 {blockData},
		"block header":                 {blockData, 0, 1, 0, 0, 0},
		"a second copy of the archive": fx.tinyFile,
	} {
		for _, src := range []struct {
			name string
			data []byte
		}{{"file", fx.file}, {"pipe", fx.pipe}} {
			data := append(append([]byte{}, src.data...), tail...)
			if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s archive followed by %s: %v, want ErrCorrupt", src.name, name, err)
			}
			if _, err := Verify(hideLen{bytes.NewReader(data)}); !errors.Is(err, ErrCorrupt) {
				t.Errorf("stream of %s archive followed by %s: %v, want ErrCorrupt", src.name, name, err)
			}
			if _, err := Read(bytes.NewReader(data)); err != nil {
				t.Errorf("Read of %s archive followed by %s: %v (Read stops after the TOC)", src.name, name, err)
			}
		}
	}
}

// TestVerifyDamagedRealArchive damages real archives where a byte-level
// corruption would go unnoticed by a reader that only counts lengths.
func TestVerifyDamagedRealArchive(t *testing.T) {
	fx := getFixture(t)
	a, err := Read(bytes.NewReader(fx.file))
	if err != nil {
		t.Fatal(err)
	}
	var first *Entry
	for i := range a.Entries {
		if a.Entries[i].DataOffsetState == "set" {
			first = &a.Entries[i]
			break
		}
	}
	if first == nil || first.DataOffset != a.DataStart {
		t.Fatalf("first data entry %+v does not start at the end of the TOC (%d)", first, a.DataStart)
	}

	// An unknown block type.
	data := bytes.Clone(fx.file)
	data[a.DataStart] = 2
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("block type 2: %v, want ErrCorrupt", err)
	}

	// A TOC offset that no longer points at the block: find the offset
	// field (flag 2 then 8 bytes) in the TOC and move it by one.
	field := make([]byte, 9)
	field[0] = offsetSet
	binary.LittleEndian.PutUint64(field[1:], uint64(first.DataOffset))
	i := bytes.Index(fx.file[:a.DataStart], field)
	if i < 0 {
		t.Fatalf("offset field %x not found in the TOC", field)
	}
	data = bytes.Clone(fx.file)
	data[i+1]++
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "the TOC says") {
		t.Errorf("offset moved by one: %v, want ErrCorrupt about the offset", err)
	}

	// A block whose dump ID is another entry's.
	data = bytes.Clone(fx.file)
	binary.LittleEndian.PutUint32(data[a.DataStart+2:], uint32(a.Entries[0].DumpID))
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("block of the ENCODING entry: %v, want ErrCorrupt", err)
	}

	// A negative chunk length (the sign byte of the first chunk length).
	data = bytes.Clone(fx.file)
	data[a.DataStart+1+5] = 1
	if _, err := Verify(bytes.NewReader(data)); !errors.Is(err, ErrCorrupt) {
		t.Errorf("negative chunk length: %v, want ErrCorrupt", err)
	}
}

func TestNotAnArchive(t *testing.T) {
	fx := getFixture(t)
	var gz bytes.Buffer
	w := gzip.NewWriter(&gz)
	w.Write(fx.file)
	w.Close()

	for _, tc := range []struct {
		name    string
		data    []byte
		want    error
		message string
	}{
		{"empty", nil, ErrNotArchive, "empty"},
		{"plain SQL dump", fx.plain, ErrNotArchive, "plain-SQL"},
		{"gzipped archive", gz.Bytes(), ErrNotArchive, "gzip"},
		{"text", []byte("hello world, this is not a dump\n"), ErrNotArchive, "hello world"},
		{"one byte", []byte{0}, ErrNotArchive, `\x00`},
		{"tar-format archive", fx.tar, ErrUnsupportedFormat, "tar"},
		{"directory-format toc.dat", fx.dirTOC, ErrUnsupportedFormat, "directory"}, // pg_dump writes "tar" in it,
	} {
		t.Run(tc.name, func(t *testing.T) {
			for fn, f := range map[string]func(io.Reader) error{
				"ReadHeader": func(r io.Reader) error { _, err := ReadHeader(r); return err },
				"Read":       func(r io.Reader) error { _, err := Read(r); return err },
				"Verify":     func(r io.Reader) error { _, err := Verify(r); return err },
			} {
				err := f(bytes.NewReader(tc.data))
				if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.message) {
					t.Errorf("%s: %v, want %v mentioning %q", fn, err, tc.want, tc.message)
				}
			}
			if Sniff(tc.data) {
				t.Error("Sniff = true")
			}
		})
	}
}

func TestSniffRealArchive(t *testing.T) {
	fx := getFixture(t)
	for _, n := range []int{5, 6, 8, 11, 12, 64, 4096, len(fx.file)} {
		if !Sniff(fx.file[:min(n, len(fx.file))]) {
			t.Errorf("Sniff of the first %d bytes = false", n)
		}
	}
	for _, b := range []string{"", "P", "PGDM", "PGDMq", "PGDMP\x02", "PGDMP\x01\x0e\x00\x00", "PGDMP\x01\x0e\x00\x04\x00",
		"PGDMP\x01\x0e\x00\x04\x08\x03", "PGDMP\x01\x0e\x00\x04\x08\x05", "pgdmp\x01\x0e\x00\x04\x08\x01"} {
		if Sniff([]byte(b)) {
			t.Errorf("Sniff(%q) = true", b)
		}
	}
}

func TestVerifyContextCancelled(t *testing.T) {
	fx := getFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := VerifyContext(ctx, bytes.NewReader(fx.file)); !errors.Is(err, context.Canceled) {
		t.Errorf("VerifyContext with a cancelled context: %v, want context.Canceled", err)
	}
}

// TestReadJSON checks the JSON shape `lifeboat inspect --json` prints.
func TestReadJSON(t *testing.T) {
	fx := getFixture(t)
	a, err := Verify(bytes.NewReader(fx.tinyFile))
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(struct {
		Archive *Archive `json:"archive"`
		Summary Summary  `json:"summary"`
	}{a, a.Summary()})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	h, _ := m["archive"]["header"].(map[string]any)
	if h["database_name"] != "tiny" || h["compression"] != "gzip" || h["format"] != "custom" {
		t.Errorf("header JSON = %v", h)
	}
	for _, k := range []string{"counts_by_type", "data_tables", "extensions", "schemas_created", "schemas_needed", "sequences"} {
		if _, ok := m["summary"][k]; !ok {
			t.Errorf("summary JSON lacks %q: %s", k, b)
		}
	}
	if m["archive"]["size"] != float64(len(fx.tinyFile)) {
		t.Errorf("archive size in JSON = %v", m["archive"]["size"])
	}
}
