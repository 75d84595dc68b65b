package dump

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func TestReadPlainOfRealPgDump(t *testing.T) {
	f := getFixture(t)
	if !LooksPlain(f.plain) || LooksPlain(f.file) || IsClusterDump(f.plain) {
		t.Fatal("LooksPlain misjudges pg_dump -Fp / -Fc output")
	}
	h, err := SniffPlain(f.plain[:min(len(f.plain), 64<<10)])
	if err != nil || h.Format != FormatPlain || !strings.HasPrefix(h.ServerVersion, "1") || h.PgDumpVersion == "" {
		t.Fatalf("SniffPlain: %+v %v", h, err)
	}
	a, err := DefaultLimits.ReadPlain(context.Background(), bytes.NewReader(f.plain))
	if err != nil {
		t.Fatal(err)
	}
	if a.Header.ServerVersion != h.ServerVersion || a.Size != int64(len(f.plain)) {
		t.Errorf("header %+v, size %d of %d", a.Header, a.Size, len(f.plain))
	}
	// The rows pg_dump wrote, table by table, as the fixture inserted them.
	want := map[string]int64{"public.schema_migrations": 2, "app.users": 50, "app.events": 200, "billing.invoices": 30, "app.audit_log": 0}
	for table, n := range want {
		if got, ok := a.CopyRows[table]; !ok || got != n {
			t.Errorf("%s: %d rows (present %v), want %d", table, got, ok, n)
		}
	}
	// The summary a restore plans with is the custom archive's.
	custom, err := Read(bytes.NewReader(f.file))
	if err != nil {
		t.Fatal(err)
	}
	ps, cs := a.Summary(), custom.Summary()
	if got, want := refs(ps.DataTables), refs(cs.DataTables); got != want {
		t.Errorf("data tables: %s, want %s", got, want)
	}
	if strings.Join(ps.SchemasCreated, ",") != strings.Join(cs.SchemasCreated, ",") || len(ps.Extensions) != len(cs.Extensions) || ps.Encoding != cs.Encoding {
		t.Errorf("summary: %+v\nwant %+v", ps, cs)
	}
	for _, x := range ps.Extensions {
		if x.Schema != "heroku_ext" {
			t.Errorf("extension %+v", x)
		}
	}
}

func refs(ts []TableRef) string {
	var s []string
	for _, t := range ts {
		s = append(s, t.Schema+"."+t.Name)
	}
	return strings.Join(s, ",")
}

func TestReadPlainRefusesWhatIsNotAWholePgDump(t *testing.T) {
	plain := getFixture(t).plain
	ctx := context.Background()
	end := bytes.LastIndex(plain, []byte(plainComplete))
	inData := bytes.Index(plain, []byte("COPY app.events"))
	cases := map[string]struct {
		b    []byte
		want error
		text string
	}{
		"cut before the end":     {plain[:end-10], ErrTruncated, "does not end with pg_dump's"},
		"cut inside the data":    {plain[:inData+200], ErrTruncated, "ends inside the data of app.events"},
		"two dumps in one":       {append(append([]byte{}, plain...), "CREATE TABLE x (i int);\n"...), ErrTruncated, "does not end with"},
		"pg_dump --create":       {bytes.Replace(plain, []byte("SET statement_timeout = 0;\n"), []byte("\\connect shop\nSET statement_timeout = 0;\n"), 1), ErrUnsupportedFormat, "pg_dump --create"},
		"a shell escape":         {bytes.Replace(plain, []byte("SET statement_timeout = 0;\n"), []byte("\\! touch /tmp/x\nSET statement_timeout = 0;\n"), 1), ErrUnsupportedFormat, `meta-command \!`},
		"some other SQL file":    {[]byte("CREATE TABLE t (i int);\n"), ErrNotArchive, "not a pg_dump -Fp dump"},
		"a pg_dumpall dump":      {[]byte("--\n-- PostgreSQL database cluster dump\n--\n\nCREATE ROLE x;\n"), ErrUnsupportedFormat, "pg_dumpall"},
		"nothing at all":         {nil, ErrNotArchive, ""},
		"the header and no more": {plain[:bytes.Index(plain, []byte("SET "))], ErrTruncated, ""},
	}
	for name, c := range cases {
		_, err := DefaultLimits.ReadPlain(ctx, bytes.NewReader(c.b))
		if !errors.Is(err, c.want) || !strings.Contains(fmtErr(err), c.text) {
			t.Errorf("%s: %v, want %v with %q", name, err, c.want, c.text)
		}
	}
	// The table of contents' limit holds for plain dumps too.
	if _, err := (Limits{MaxTOCSize: 2048}).ReadPlain(ctx, bytes.NewReader(plain)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("MaxTOCSize: %v", err)
	}
}

func fmtErr(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func TestReadPlainLongRowsStreamInBoundedMemory(t *testing.T) {
	var b bytes.Buffer
	b.WriteString("--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.4\n-- Dumped by pg_dump version 15.4\n\n")
	b.WriteString("--\n-- Data for Name: blobs; Type: TABLE DATA; Schema: public; Owner: x\n--\n\nCOPY public.blobs (v) FROM stdin;\n")
	long := strings.Repeat("x", 3*plainLineBuffer+17) // a row longer than the reader's buffer
	b.WriteString(long + "\n" + "short\n" + long + "\n\\.\n\n")
	b.WriteString("--\n-- PostgreSQL database dump complete\n--\n\n")
	a, err := DefaultLimits.ReadPlain(context.Background(), bytes.NewReader(b.Bytes()))
	if err != nil || a.CopyRows["public.blobs"] != 3 {
		t.Fatalf("%v %+v", err, a)
	}
}

func TestFilterPlainLeavesOutOwnersAndGrants(t *testing.T) {
	in := `--
-- PostgreSQL database dump
--

--
-- Name: t; Type: TABLE; Schema: public; Owner: heroku_abc
--

CREATE TABLE public.t (
    id integer NOT NULL
);


ALTER TABLE public.t OWNER TO heroku_abc;

--
-- Data for Name: t; Type: TABLE DATA; Schema: public; Owner: heroku_abc
--

COPY public.t (id) FROM stdin;
ALTER TABLE public.t OWNER TO data_is_not_sql;
\.


--
-- Name: TABLE t; Type: ACL; Schema: public; Owner: heroku_abc
--

REVOKE ALL ON TABLE public.t FROM PUBLIC;
GRANT SELECT ON TABLE public.t TO reader;


--
-- PostgreSQL database dump complete
--

`
	var out bytes.Buffer
	n, err := FilterPlain(context.Background(), &out, strings.NewReader(in))
	if err != nil || n != 3 {
		t.Fatalf("%d statements left out, %v\n%s", n, err, out.String())
	}
	got := out.String()
	for _, gone := range []string{"OWNER TO heroku_abc", "REVOKE", "GRANT"} {
		if strings.Contains(got, gone) {
			t.Errorf("%q passed:\n%s", gone, got)
		}
	}
	for _, kept := range []string{"CREATE TABLE public.t (", "COPY public.t (id) FROM stdin;\nALTER TABLE public.t OWNER TO data_is_not_sql;\n\\.\n", "-- PostgreSQL database dump complete"} {
		if !strings.Contains(got, kept) {
			t.Errorf("%q lost:\n%s", kept, got)
		}
	}
}

// plainStream generates a plain-SQL dump of one table with rows rows of
// width bytes, without ever holding it.
type plainStream struct {
	parts [][]byte
	row   []byte
	rows  int
	stage int
	buf   []byte
}

func newPlainStream(rows, width int) *plainStream {
	return &plainStream{
		parts: [][]byte{
			[]byte("--\n-- PostgreSQL database dump\n--\n\n-- Dumped from database version 15.4\n-- Dumped by pg_dump version 15.4\n\n" +
				"--\n-- Name: big; Type: TABLE; Schema: public; Owner: someone\n--\n\nCREATE TABLE public.big (v text);\n\n" +
				"ALTER TABLE public.big OWNER TO someone;\n\n" +
				"--\n-- Data for Name: big; Type: TABLE DATA; Schema: public; Owner: someone\n--\n\nCOPY public.big (v) FROM stdin;\n"),
			[]byte("\\.\n\n\n--\n-- PostgreSQL database dump complete\n--\n\n"),
		},
		row: append(bytes.Repeat([]byte("x"), width-1), '\n'), rows: rows,
	}
}

func (s *plainStream) Read(p []byte) (int, error) {
	for len(s.buf) == 0 {
		switch {
		case s.stage == 0:
			s.buf, s.stage = s.parts[0], 1
		case s.stage == 1 && s.rows > 0:
			s.buf = s.row
			s.rows--
		case s.stage == 1:
			s.buf, s.stage = s.parts[1], 2
		default:
			return 0, io.EOF
		}
	}
	n := copy(p, s.buf)
	s.buf = s.buf[n:]
	return n, nil
}

// TestPlainBoundedMemory: a 256 MiB plain dump is read, and filtered for
// psql, in a few MiB of memory: nothing of it is held.
func TestPlainBoundedMemory(t *testing.T) {
	const rows, width = 256 << 10, 1 << 10
	var a *Archive
	var err error
	start := time.Now()
	peak := testenv.PeakHeap(func() { a, err = DefaultLimits.ReadPlain(context.Background(), newPlainStream(rows, width)) })
	took := time.Since(start)
	if err != nil || a.CopyRows["public.big"] != rows {
		t.Fatalf("%v %+v", err, a)
	}
	var n int
	var out countingWriter
	start = time.Now()
	fpeak := testenv.PeakHeap(func() { n, err = FilterPlain(context.Background(), &out, newPlainStream(rows, width)) })
	ftook := time.Since(start)
	if err != nil || n != 1 || out.n < rows*width {
		t.Fatalf("filter: %d left out, %d bytes, %v", n, out.n, err)
	}
	t.Logf("256 MiB plain dump: ReadPlain %v, peak heap %.1f MiB; FilterPlain %v, peak heap %.1f MiB",
		took.Round(time.Millisecond), float64(peak)/(1<<20), ftook.Round(time.Millisecond), float64(fpeak)/(1<<20))
	if peak > 16<<20 || fpeak > 16<<20 {
		t.Errorf("peak heap %d / %d bytes: the dump is being held", peak, fpeak)
	}
}

type countingWriter struct{ n int }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += len(p); return len(p), nil }

// FuzzReadPlain: whatever the bytes, ReadPlain and FilterPlain end with an
// archive or an error, never a panic, and FilterPlain passes COPY data on.
func FuzzReadPlain(f *testing.F) {
	var seed bytes.Buffer
	io.Copy(&seed, newPlainStream(3, 8))
	f.Add(seed.Bytes())
	f.Add([]byte("--\n-- PostgreSQL database dump\n--\n\\connect x\n"))
	f.Add([]byte("--\n-- PostgreSQL database dump\n--\nCOPY \"a\"\"b\".\"c\" (x) FROM stdin;\n1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		a, err := (Limits{MaxTOCSize: 1 << 20, MaxFieldSize: 1 << 10}).ReadPlain(context.Background(), bytes.NewReader(b))
		if (a == nil) == (err == nil) {
			t.Fatalf("archive %v, error %v", a, err)
		}
		var out bytes.Buffer
		if _, err := FilterPlain(context.Background(), &out, bytes.NewReader(b)); err != nil || out.Len() > len(b) {
			t.Fatalf("filter: %v, %d bytes of %d", err, out.Len(), len(b))
		}
	})
}
