package dump

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
)

// Header.Format values.
const (
	FormatCustom = "custom"
	// FormatPlain is a plain-SQL dump (pg_dump -Fp): a psql script. It has
	// no table of contents and no checksums: what it does is only known by
	// running it. ReadPlain learns what can be learnt by reading it whole.
	FormatPlain = "plain"
)

// The lines pg_dump -Fp writes first and last.
const (
	plainStart    = "-- PostgreSQL database dump"
	plainComplete = "-- PostgreSQL database dump complete"
	clusterStart  = "-- PostgreSQL database cluster dump"
)

// plainSniffSize is how far into a file the plain-SQL header is looked for.
const plainSniffSize = 4096

// plainLineBuffer is the longest line kept whole for classification;
// longer lines (a row of a huge value) stream through in pieces.
const plainLineBuffer = 1 << 20

// LooksPlain reports whether b, the first bytes of a file, start like the
// output of pg_dump -Fp (a pg_dumpall cluster dump does not).
func LooksPlain(b []byte) bool {
	head := b[:min(len(b), plainSniffSize)]
	head = bytes.TrimPrefix(head, []byte("\ufeff"))
	for _, line := range bytes.Split(head, []byte("\n")) {
		line = bytes.TrimRight(line, "\r")
		switch string(line) {
		case plainStart:
			return true
		case clusterStart:
			return false
		}
		// pg_dump starts with a few comment lines; anything else first is
		// some other SQL file.
		if len(line) > 0 && !bytes.HasPrefix(line, []byte("--")) {
			return false
		}
	}
	return false
}

// IsClusterDump reports whether b, the first bytes of a file, are the
// start of a pg_dumpall dump (roles, every database), which Lifeboat does
// not restore.
func IsClusterDump(b []byte) bool {
	return bytes.Contains(b[:min(len(b), plainSniffSize)], []byte("\n"+clusterStart+"\n")) ||
		bytes.HasPrefix(b, []byte(clusterStart+"\n"))
}

// SniffPlain reads what the first bytes of a plain-SQL dump say: the
// versions of the server dumped and of pg_dump. The error wraps
// ErrNotArchive when b is not the start of one.
func SniffPlain(b []byte) (Header, error) {
	if !LooksPlain(b) {
		return Header{}, fmt.Errorf("%w: not a plain-SQL pg_dump either", ErrNotArchive)
	}
	h := Header{Format: FormatPlain, Compression: "none", CompressionLevel: -1, CreatedAtDST: -1}
	for _, line := range strings.Split(string(b[:min(len(b), 2*plainSniffSize)]), "\n") {
		plainHeaderLine(&h, strings.TrimRight(line, "\r"))
	}
	return h, nil
}

// plainHeaderLine fills h from one of pg_dump's leading comment lines.
func plainHeaderLine(h *Header, line string) {
	if v, ok := strings.CutPrefix(line, "-- Dumped from database version "); ok {
		h.ServerVersion = versionText(v)
	}
	if v, ok := strings.CutPrefix(line, "-- Dumped by pg_dump version "); ok {
		h.PgDumpVersion = versionText(v)
	}
}

// versionText bounds a version string read from a comment.
func versionText(s string) string { return strings.TrimSpace(s[:min(len(s), 200)]) }

// ReadPlain reads a plain-SQL dump to its end, in bounded memory, and
// returns what it holds as an Archive: the header (Format "plain"), an
// entry per object pg_dump's "-- Name: …; Type: …" comments announce (with
// the SQL that follows, so that Summary works as for a custom archive),
// and CopyRows, the rows of every table's COPY data. It fails, wrapping
// ErrNotArchive when r is not a pg_dump -Fp dump, ErrTruncated when it
// ends before pg_dump's closing "dump complete" comment (an upload cut
// short) or inside a table's data, ErrUnsupportedFormat for psql
// meta-commands pg_dump does not write (\connect of pg_dump --create, \!
// …), ErrTooLarge past l.MaxTOCSize. Nothing in a plain dump says whether
// its SQL will run: only a restore tells.
func (l Limits) ReadPlain(ctx context.Context, r io.Reader) (*Archive, error) {
	p := &plainReader{lim: l.withDefaults(), a: &Archive{CopyRows: map[string]int64{}}}
	p.a.Header = Header{Format: FormatPlain, Compression: "none", CompressionLevel: -1, CreatedAtDST: -1}
	err := scanLines(ctx, r, p.chunk)
	if err != nil {
		return nil, err
	}
	return p.finish()
}

type plainReader struct {
	lim     Limits
	a       *Archive
	charged int64
	started bool // the "-- PostgreSQL database dump" line was seen
	// complete: pg_dump's closing comment was seen, and no SQL after it.
	complete bool
	// inCopy: inside a COPY's data, up to its "\." line; copyKey names
	// the table.
	inCopy  bool
	copyEnd bool
	copyKey string
	cur     *Entry // the entry whose SQL follows
	line    int64
	// The line being read, when longer than one chunk: its first chunk,
	// and its last bytes.
	first []byte
	tail  []byte
}

// chunk takes one piece of a line: first is the line's start, last its
// end (a line of one chunk has both).
func (p *plainReader) chunk(b []byte, first, last bool) error {
	p.a.Size += int64(len(b))
	if first {
		p.line++
	}
	if p.inCopy {
		// One line per row (COPY's text format escapes newlines in
		// values), up to "\.".
		if first {
			p.copyEnd = last && bytes.Equal(trimEOL(b), []byte(`\.`))
			if !p.copyEnd {
				p.a.CopyRows[p.copyKey]++
			}
		}
		if last && p.copyEnd {
			p.inCopy = false
		}
		return nil
	}
	if first {
		p.first = append(p.first[:0], b...)
		p.tail = p.tail[:0]
	} else {
		p.tail = append(p.tail[:0], b[max(0, len(b)-64):]...)
	}
	if !last {
		return nil
	}
	return p.statement(string(trimEOL(p.first)), len(p.tail) == 0, string(trimEOL(p.tail)))
}

// statement classifies one line outside COPY data; tail is the end of a
// line longer than one chunk (whole is false then).
func (p *plainReader) statement(line string, whole bool, tail string) error {
	switch {
	case line == plainStart:
		p.started = true
		return nil
	case line == plainComplete:
		p.complete = true
		return nil
	case !p.started && line == clusterStart:
		return fmt.Errorf("%w: a pg_dumpall cluster dump (roles and every database); dump the one database with pg_dump", ErrUnsupportedFormat)
	case strings.HasPrefix(line, "-- Name: ") || strings.HasPrefix(line, "-- Data for Name: "):
		return p.entry(line)
	case strings.HasPrefix(line, "--"):
		if len(p.a.Entries) == 0 {
			plainHeaderLine(&p.a.Header, line)
		}
		return nil
	case strings.HasPrefix(line, `\`):
		cmd, _, _ := strings.Cut(line, " ")
		switch cmd {
		case `\restrict`, `\unrestrict`:
			// pg_dump 17.6, 16.10, 15.14… and later fence the script.
			return nil
		case `\connect`, `\c`:
			return fmt.Errorf("%w: line %d connects to another database (%s): a dump made with pg_dump --create; dump without --create (-C) so that it restores into the database Lifeboat makes",
				ErrUnsupportedFormat, p.line, clip(line))
		}
		return fmt.Errorf("%w: line %d is the psql meta-command %s, which pg_dump does not write: Lifeboat runs only what pg_dump writes",
			ErrUnsupportedFormat, p.line, clip(cmd))
	case strings.TrimSpace(line) == "":
		return nil
	}
	if !p.started {
		return fmt.Errorf("%w: SQL before pg_dump's \"%s\" line (line %d): not a pg_dump -Fp dump", ErrNotArchive, plainStart, p.line)
	}
	// SQL after the closing comment: the dump goes on (two dumps in one
	// file?), so the comment did not close it.
	p.complete = false
	if strings.HasPrefix(line, "COPY ") && (whole && strings.HasSuffix(line, " FROM stdin;") || !whole && strings.HasSuffix(tail, " FROM stdin;")) {
		return p.copyStart(line)
	}
	if strings.HasPrefix(line, "SET client_encoding = ") {
		if err := p.add(Entry{Desc: "ENCODING", Tag: "ENCODING", Defn: line}); err != nil {
			return err
		}
	}
	if p.cur != nil && len(p.cur.Defn) < int(p.lim.MaxFieldSize) {
		add := line[:min(len(line), int(p.lim.MaxFieldSize)-len(p.cur.Defn))]
		if err := p.charge(int64(len(add)+1), "the SQL of "+p.cur.Desc+" "+p.cur.Tag); err != nil {
			return err
		}
		p.cur.Defn += add + "\n"
	}
	return nil
}

// entry starts the object that "-- Name: T; Type: D; Schema: S; Owner: O"
// announces.
func (p *plainReader) entry(line string) error {
	rest := strings.TrimPrefix(strings.TrimPrefix(line, "-- Data for Name: "), "-- Name: ")
	e := Entry{}
	var ok bool
	if e.Tag, rest, ok = strings.Cut(rest, "; Type: "); !ok {
		return nil
	}
	e.Desc, rest, _ = strings.Cut(rest, "; Schema: ")
	ns, rest, _ := strings.Cut(rest, "; Owner: ")
	if ns != "-" {
		e.Namespace = ns
	}
	owner, _, _ := strings.Cut(rest, "; ")
	if owner != "-" {
		e.Owner = owner
	}
	if e.Desc == "TABLE DATA" {
		e.HadDumper = true
	}
	return p.add(e)
}

func (p *plainReader) add(e Entry) error {
	if err := p.charge(entryCost+int64(len(e.Tag)+len(e.Desc)+len(e.Namespace)+len(e.Owner)+len(e.Defn)), "entry "+e.Desc+" "+e.Tag); err != nil {
		return err
	}
	e.DumpID = len(p.a.Entries) + 1
	e.Section, e.DataOffsetState = "NONE", "no-data"
	p.a.Entries = append(p.a.Entries, e)
	p.cur = &p.a.Entries[len(p.a.Entries)-1]
	if e.Desc == "ENCODING" {
		p.cur = nil
	}
	return nil
}

// copyStart begins a table's data: "COPY schema.table (cols) FROM stdin;".
func (p *plainReader) copyStart(line string) error {
	sc := newScanner(strings.TrimPrefix(line, "COPY "))
	parts, ok := sc.qualified()
	if !ok || len(parts) != 2 {
		return fmt.Errorf("%w: line %d: cannot read the table of %q", ErrCorrupt, p.line, clip(line))
	}
	ref := TableRef{Schema: parts[0], Name: parts[1]}
	if p.cur == nil || p.cur.Desc != "TABLE DATA" || p.cur.Namespace != ref.Schema || p.cur.Tag != ref.Name {
		// A dump made with --no-comments: the COPY names the table.
		if err := p.add(Entry{Desc: "TABLE DATA", Tag: ref.Name, Namespace: ref.Schema, HadDumper: true}); err != nil {
			return err
		}
	}
	p.cur.CopyStmt = line[:min(len(line), 4096)]
	p.copyKey = ref.Schema + "." + ref.Name
	if _, seen := p.a.CopyRows[p.copyKey]; !seen {
		if err := p.charge(int64(len(p.copyKey))+64, "the row count of "+p.copyKey); err != nil {
			return err
		}
	}
	p.a.CopyRows[p.copyKey] += 0
	p.a.DataBlocks++
	p.inCopy = true
	return nil
}

func (p *plainReader) charge(n int64, what string) error {
	p.charged += n
	if p.charged > p.lim.MaxTOCSize {
		return &LimitError{Limit: LimitTOCSize, Max: p.lim.MaxTOCSize, What: what, At: p.a.Size}
	}
	return nil
}

func (p *plainReader) finish() (*Archive, error) {
	switch {
	case !p.started:
		return nil, fmt.Errorf("%w: no %q line: not a pg_dump -Fp dump", ErrNotArchive, plainStart)
	case p.inCopy:
		return nil, fmt.Errorf("%w: the dump ends inside the data of %s (line %d): cut short (a failed upload?)", ErrTruncated, p.copyKey, p.line)
	case !p.complete:
		return nil, fmt.Errorf("%w: the dump does not end with pg_dump's %q comment (it has %d lines): cut short (a failed upload?)",
			ErrTruncated, plainComplete, p.line)
	}
	return p.a, nil
}

func trimEOL(b []byte) []byte {
	b = bytes.TrimSuffix(b, []byte("\n"))
	return bytes.TrimSuffix(b, []byte("\r"))
}

// scanLines reads r line by line in bounded memory, handing each line to
// f in chunks of at most plainLineBuffer bytes (first: the line's start,
// last: its end, newline included), and counts nothing itself.
func scanLines(ctx context.Context, r io.Reader, f func(b []byte, first, last bool) error) error {
	br := bufio.NewReaderSize(r, plainLineBuffer)
	first := true
	for n := 0; ; n++ {
		if n%4096 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		b, err := br.ReadSlice('\n')
		if len(b) > 0 {
			last := err == nil || err == io.EOF
			if ferr := f(b, first, last); ferr != nil {
				return ferr
			}
			first = last
		}
		switch {
		case err == nil, err == bufio.ErrBufferFull:
		case err == io.EOF:
			return nil
		default:
			return fmt.Errorf("reading the dump: %w", err)
		}
	}
}

// FilterPlain copies a plain-SQL dump from r to w for psql as pg_restore
// --no-owner --no-acl would restore it (Heroku's advice, and what Lifeboat
// does with custom archives): without the statements that give objects to
// their owners (ALTER … OWNER TO, SET SESSION AUTHORIZATION) or grant
// privileges (the ACL and DEFAULT ACL entries), whose roles do not exist
// on the standby. Everything else, COPY data included, passes unchanged,
// in bounded memory. It returns the number of statements left out.
func FilterPlain(ctx context.Context, w io.Writer, r io.Reader) (int, error) {
	var (
		inCopy, acl, drop bool
		dropped           int
	)
	err := scanLines(ctx, r, func(b []byte, first, last bool) error {
		if first {
			line := trimEOL(b)
			switch {
			case inCopy:
				drop = false
				if bytes.Equal(line, []byte(`\.`)) {
					inCopy = false
				}
			case bytes.HasPrefix(line, []byte("-- Name: ")) || bytes.HasPrefix(line, []byte("-- Data for Name: ")):
				acl = bytes.Contains(line, []byte("; Type: ACL;")) || bytes.Contains(line, []byte("; Type: DEFAULT ACL;"))
				drop = false
			case bytes.HasPrefix(line, []byte("--")) || len(bytes.TrimSpace(line)) == 0:
				drop = false
			case acl:
				drop = true
			case bytes.HasPrefix(line, []byte("ALTER ")) && bytes.Contains(line, []byte(" OWNER TO ")) && bytes.HasSuffix(line, []byte(";")),
				bytes.HasPrefix(line, []byte("SET SESSION AUTHORIZATION ")), bytes.Equal(line, []byte("RESET SESSION AUTHORIZATION;")):
				drop = true
			default:
				drop = false
				inCopy = bytes.HasPrefix(line, []byte("COPY ")) && bytes.HasSuffix(line, []byte(" FROM stdin;"))
			}
			if drop {
				dropped++
			}
		}
		if drop {
			return nil
		}
		_, err := w.Write(b)
		return err
	})
	return dropped, err
}
