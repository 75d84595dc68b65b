package dump

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"unicode/utf8"
)

// Entry is one TOC entry: one object of the dump (a schema, a table, the
// data of a table, an index...), as pg_restore -l lists them.
type Entry struct {
	// DumpID identifies the entry within the archive; Deps refer to it.
	DumpID int `json:"dump_id"`
	// HadDumper is true for entries with a data block (TABLE DATA, BLOBS).
	HadDumper bool `json:"had_dumper"`
	// TableOID and OID are the catalog identity of the dumped object, as
	// decimal strings ("1259", "16493"); "0" for entries without one.
	TableOID string `json:"table_oid"`
	OID      string `json:"oid"`
	// Tag is the object's name ("users", "users_pkey", "pg_trgm").
	Tag string `json:"tag"`
	// Desc is the object type: "TABLE", "TABLE DATA", "SEQUENCE SET",
	// "EXTENSION", "SCHEMA", "INDEX", "BLOBS"...
	Desc string `json:"desc"`
	// Section is "PRE-DATA", "DATA", "POST-DATA" or "NONE" (comments, ACLs).
	Section string `json:"section"`
	// Defn is the SQL that creates the object; DropStmt the SQL that drops
	// it; CopyStmt the COPY ... FROM stdin for a TABLE DATA entry.
	Defn     string `json:"defn,omitempty"`
	DropStmt string `json:"drop_stmt,omitempty"`
	CopyStmt string `json:"copy_stmt,omitempty"`
	// Namespace is the schema the object lives in; empty for objects that
	// are not in a schema (schemas, extensions, large objects).
	Namespace  string `json:"namespace,omitempty"`
	Tablespace string `json:"tablespace,omitempty"`
	// TableAM is the table access method ("heap"), archives 1.14 and later.
	TableAM string `json:"table_am,omitempty"`
	// RelKind is pg_class.relkind ("r", "p", "v"...) for relations, archives
	// 1.16 and later; empty otherwise.
	RelKind string `json:"relkind,omitempty"`
	Owner   string `json:"owner,omitempty"`
	// WithOIDs is true for a table dumped WITH OIDS (before PG 12), which
	// current pg_restore can no longer restore.
	WithOIDs bool `json:"with_oids,omitempty"`
	// Deps are the DumpIDs this entry depends on.
	Deps []int `json:"deps,omitempty"`
	// DataOffsetState says whether the TOC records where this entry's data
	// block starts: "set" (pg_dump wrote to a seekable file), "not-set"
	// (it wrote to a pipe, or the entry has no data block) or "no-data".
	DataOffsetState string `json:"data_offset_state"`
	// DataOffset is the file offset of the entry's data block when
	// DataOffsetState is "set", else 0.
	DataOffset int64 `json:"data_offset,omitempty"`
	// DataSize is the number of stored (compressed) payload bytes of the
	// entry's data block. Only Verify sets it.
	DataSize int64 `json:"data_size,omitempty"`
	// LargeObjects is the number of large objects in a BLOBS entry's data
	// block. Only Verify sets it.
	LargeObjects int `json:"large_objects,omitempty"`
}

// Archive is an archive's header and table of contents, plus what Verify
// learnt by walking the data blocks.
type Archive struct {
	Header  Header  `json:"header"`
	Entries []Entry `json:"entries"`
	// DataStart is the offset of the first byte after the TOC, where the
	// data blocks begin.
	DataStart int64 `json:"data_start"`
	// DataBytes is the total of the data blocks' stored (compressed)
	// payload bytes. Only Verify sets it.
	DataBytes int64 `json:"data_bytes"`
	// DataBlocks is the number of data blocks. Only Verify sets it.
	DataBlocks int `json:"data_blocks"`
	// LargeObjects is the number of large objects in the data blocks.
	// Only Verify sets it.
	LargeObjects int `json:"large_objects"`
	// Size is the archive's size in bytes. Only Verify sets it.
	Size int64 `json:"size"`
	// CopyRows are the rows of each table's COPY data in a plain-SQL dump
	// ("schema.table": rows), set by ReadPlain; nil for custom archives,
	// whose compressed data blocks are not parsed.
	CopyRows map[string]int64 `json:"copy_rows,omitempty"`

	byID map[int]int // DumpID -> index in Entries
}

// Entry returns the entry with the given DumpID.
func (a *Archive) Entry(dumpID int) (*Entry, bool) {
	if a.byID == nil {
		a.index()
	}
	i, ok := a.byID[dumpID]
	if !ok {
		return nil, false
	}
	return &a.Entries[i], true
}

func (a *Archive) index() {
	a.byID = make(map[int]int, len(a.Entries))
	for i, e := range a.Entries {
		a.byID[e.DumpID] = i
	}
}

// Read reads the header and the whole table of contents from r and stops
// there: it does not look at the data blocks, so it cannot tell a
// complete archive from a truncated one (Verify can). It may read a little
// beyond the TOC (it reads through a buffer).
//
// It returns the errors of ReadHeader, and for the TOC: ErrTruncated when r
// ends inside it, ErrCorrupt for impossible contents (a negative or huge
// entry count or length, a duplicate or non-positive DumpID, an unknown
// section or offset flag, a non-numeric dependency), ErrTooLarge when it
// exceeds DefaultLimits (use Limits.Read for others), or an I/O error from r.
func Read(r io.Reader) (*Archive, error) {
	d := newDecoder(r)
	return read(d)
}

func read(d *decoder) (*Archive, error) {
	h, err := readHeader(d)
	if err != nil {
		return nil, err
	}
	a := &Archive{Header: h}
	if err := readTOC(d, a); err != nil {
		return nil, err
	}
	a.DataStart = d.off
	return a, nil
}

func readTOC(d *decoder, a *Archive) error {
	at := d.off
	count, err := d.readInt("TOC entry count")
	if err != nil {
		return err
	}
	if count < 0 || count > maxTOCEntries {
		return corrupt(at, "TOC entry count %d (the limit is %d)", count, maxTOCEntries)
	}
	// Grow with the entries actually read, never from the count.
	a.Entries = make([]Entry, 0, min(count, 1024))
	a.byID = make(map[int]int, min(count, 1024))
	for i := 0; i < int(count); i++ {
		if err := d.charge(entryCost, "", d.off); err != nil {
			err.(*LimitError).What = fmt.Sprintf("TOC entry %d of %d", i+1, count)
			return err
		}
		e, err := readEntry(d, i, int(count))
		if err != nil {
			return err
		}
		if _, dup := a.byID[e.DumpID]; dup {
			return corrupt(d.off, "TOC entry %d of %d repeats dump ID %d", i+1, count, e.DumpID)
		}
		a.byID[e.DumpID] = len(a.Entries)
		a.Entries = append(a.Entries, e)
	}
	return nil
}

func readEntry(d *decoder, i, count int) (Entry, error) {
	e, err := readEntryFields(d)
	if err != nil {
		what := fmt.Sprintf("TOC entry %d of %d", i+1, count)
		if e.Desc != "" {
			what += fmt.Sprintf(" (%s %s)", clip(e.Desc), clip(e.Tag))
		}
		return e, fmt.Errorf("%s: %w", what, err)
	}
	return e, nil
}

// readEntryFields reads one TOC entry (ReadToc and the custom format's
// _ReadExtraToc). On error the entry holds the fields read so far.
func readEntryFields(d *decoder) (Entry, error) {
	var e Entry
	at := d.off

	id, err := d.readInt("dump ID")
	if err != nil {
		return e, err
	}
	if id <= 0 || id > math.MaxInt32 {
		return e, corrupt(at, "dump ID is %d", id)
	}
	e.DumpID = int(id)

	at = d.off
	had, err := d.readInt("had-dumper flag")
	if err != nil {
		return e, err
	}
	if had != 0 && had != 1 {
		return e, corrupt(at, "had-dumper flag is %d", had)
	}
	e.HadDumper = had == 1

	if e.TableOID, _, err = d.readStr("table OID"); err != nil {
		return e, err
	}
	if e.OID, _, err = d.readStr("OID"); err != nil {
		return e, err
	}
	if e.Tag, _, err = d.readStr("tag"); err != nil {
		return e, err
	}
	at = d.off
	desc, null, err := d.readStr("description")
	if err != nil {
		return e, err
	}
	if null {
		return e, corrupt(at, "description is NULL")
	}
	e.Desc = desc

	if d.version >= vers1_11 {
		at = d.off
		sec, err := d.readInt("section")
		if err != nil {
			return e, err
		}
		switch sec {
		case 1:
			e.Section = "NONE"
		case 2:
			e.Section = "PRE-DATA"
		case 3:
			e.Section = "DATA"
		case 4:
			e.Section = "POST-DATA"
		default:
			return e, corrupt(at, "section is %d", sec)
		}
	} else {
		e.Section = inferSection(e.Desc)
	}

	if e.Defn, _, err = d.readStr("definition"); err != nil {
		return e, err
	}
	if e.DropStmt, _, err = d.readStr("drop statement"); err != nil {
		return e, err
	}
	if e.CopyStmt, _, err = d.readStr("copy statement"); err != nil {
		return e, err
	}
	if e.Namespace, _, err = d.readStr("namespace"); err != nil {
		return e, err
	}
	if e.Tablespace, _, err = d.readStr("tablespace"); err != nil {
		return e, err
	}
	if d.version >= vers1_14 {
		if e.TableAM, _, err = d.readStr("table access method"); err != nil {
			return e, err
		}
	}
	if d.version >= vers1_16 {
		at = d.off
		rk, err := d.readInt("relkind")
		if err != nil {
			return e, err
		}
		if rk < 0 || rk > 255 {
			return e, corrupt(at, "relkind is %d", rk)
		}
		if rk != 0 {
			e.RelKind = string(rune(rk))
		}
	}
	if e.Owner, _, err = d.readStr("owner"); err != nil {
		return e, err
	}
	withOIDs, _, err := d.readStr("with-oids flag")
	if err != nil {
		return e, err
	}
	e.WithOIDs = withOIDs == "true"

	for n := 0; ; n++ {
		at = d.off
		dep, null, err := d.readStr("dependency")
		if err != nil {
			return e, err
		}
		if null {
			break
		}
		if n >= maxDeps {
			return e, corrupt(at, "more than %d dependencies", maxDeps)
		}
		if err := d.charge(8, "dependency", at); err != nil {
			return e, err
		}
		v, perr := strconv.Atoi(dep)
		if perr != nil || v < 0 || v > math.MaxInt32 {
			return e, corrupt(at, "dependency %q is not a dump ID", dep)
		}
		e.Deps = append(e.Deps, v)
	}

	at = d.off
	flag, off, err := d.readOffset("data offset")
	if err != nil {
		return e, err
	}
	switch flag {
	case offsetNotSet:
		e.DataOffsetState = "not-set"
	case offsetSet:
		if !e.HadDumper {
			return e, corrupt(at, "data offset is set for an entry without data")
		}
		e.DataOffsetState = "set"
		e.DataOffset = off
	case offsetNoData:
		e.DataOffsetState = "no-data"
	}
	return e, nil
}

// inferSection classifies entries of archives older than 1.11, which had no
// section field, the way ReadToc does.
func inferSection(desc string) string {
	switch desc {
	case "COMMENT", "ACL", "ACL LANGUAGE":
		return "NONE"
	case "TABLE DATA", "BLOBS", "BLOB COMMENTS":
		return "DATA"
	case "CONSTRAINT", "CHECK CONSTRAINT", "FK CONSTRAINT", "INDEX", "RULE", "TRIGGER":
		return "POST-DATA"
	}
	return "PRE-DATA"
}

// clip shortens a string from the archive for an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + fmt.Sprintf("… (%d bytes)", len(s))
}
