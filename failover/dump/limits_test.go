package dump

import (
	"bytes"
	"context"
	"errors"
	"io"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

// streamed returns a reader of s's encoding produced on the fly, so that an
// archive of gigabytes costs the test no memory, and counts what was read.
func streamed(s *synth) (*countingReader, *atomic.Int64) {
	pr, pw := io.Pipe()
	go func() {
		_, err := s.EncodeTo(pw)
		pw.CloseWithError(err)
	}()
	c := &countingReader{r: pr}
	return c, &c.n
}

type countingReader struct {
	r *io.PipeReader
	n atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.r.Close() }

// TestHugeTOCIsRefused: a table of contents whose strings total far more
// than MaxTOCSize (1 GiB here, from an archive a gzip would squeeze into
// about a megabyte) is refused once the limit is reached, with the reader's
// memory staying near the limit, not the TOC's size.
func TestHugeTOCIsRefused(t *testing.T) {
	s := newSynth(16)
	s.AddTables(1024, strings.Repeat("\x00", 1<<20), []string{"1\n"}) // 1 GiB of definitions
	var err error
	var a *Archive
	var r *countingReader
	var wrote *atomic.Int64
	peak := testenv.PeakHeap(func() {
		r, wrote = streamed(s)
		a, err = Read(r)
		r.Close()
	})
	var le *LimitError
	if !errors.Is(err, ErrTooLarge) || !errors.As(err, &le) || le.Limit != LimitTOCSize || a != nil {
		t.Fatalf("Read of a 1 GiB TOC: %v, want a LimitError on the TOC size", err)
	}
	if !strings.Contains(err.Error(), "32 MiB") {
		t.Errorf("the error does not name the limit: %v", err)
	}
	if peak > 3*uint64(DefaultLimits.MaxTOCSize) {
		t.Errorf("reading took %d MiB of heap; the limit is %d MiB", peak>>20, DefaultLimits.MaxTOCSize>>20)
	}
	if wrote.Load() > 2*DefaultLimits.MaxTOCSize {
		t.Errorf("the reader consumed %d MiB before giving up", wrote.Load()>>20)
	}

	// The same archive passes with a limit that fits it, under Verify too.
	small := newSynth(16)
	small.AddTables(8, strings.Repeat("x", 1<<20), []string{"1\n"})
	data := small.Encode()
	if _, err := Verify(bytes.NewReader(data)); err != nil {
		t.Fatalf("an 8 MiB TOC under the defaults: %v", err)
	}
	tight := Limits{MaxTOCSize: 4 << 20}
	for _, r := range []io.Reader{bytes.NewReader(data), hideLen{bytes.NewReader(data)}} {
		if _, err := tight.Verify(context.Background(), r); !errors.Is(err, ErrTooLarge) {
			t.Errorf("Verify(%T) of an 8 MiB TOC with a 4 MiB limit: %v, want ErrTooLarge", r, err)
		}
	}
	if _, err := (Limits{MaxTOCSize: 16 << 20}).Read(bytes.NewReader(data)); err != nil {
		t.Errorf("an 8 MiB TOC with a 16 MiB limit: %v", err)
	}
}

// TestManySmallEntriesAreCounted: entries cost memory beyond their strings;
// a quarter of a million nearly empty ones are refused like one huge string.
func TestManySmallEntriesAreCounted(t *testing.T) {
	s := newSynth(16)
	s.AddTables(125_000, "", nil)
	r, _ := streamed(s)
	defer r.Close()
	_, err := Read(r)
	var le *LimitError
	if !errors.As(err, &le) || le.Limit != LimitTOCSize {
		t.Fatalf("250,000 entries: %v, want a LimitError on the TOC size", err)
	}
}

func TestFieldSizeLimit(t *testing.T) {
	s := newSynth(14)
	s.AddTables(1, strings.Repeat("y", 2<<20), []string{"1\n"})
	data := s.Encode()
	lim := Limits{MaxFieldSize: 1 << 20}
	for _, r := range []io.Reader{bytes.NewReader(data), hideLen{bytes.NewReader(data)}} {
		_, err := lim.Read(r)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != LimitFieldSize || le.Max != 1<<20 || !strings.Contains(err.Error(), "definition") {
			t.Errorf("Read(%T) of a 2 MiB definition with a 1 MiB field limit: %v", r, err)
		}
	}
	if _, err := Read(bytes.NewReader(data)); err != nil {
		t.Errorf("a 2 MiB definition under the defaults: %v", err)
	}
	// The header's strings are fields too.
	s = newSynth(16)
	s.DB = strings.Repeat("d", 17<<20)
	if _, err := ReadHeader(bytes.NewReader(s.Encode())); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a 17 MiB database name: %v, want ErrTooLarge", err)
	}
}

// TestEscapeCost: what printing a string may add is charged; plain text,
// including accented and CJK letters, costs its length only.
func TestEscapeCost(t *testing.T) {
	for s, want := range map[string]int64{
		"CREATE TABLE app.users (id int);\n": 1,
		"héllo 日本語":                          0,
		"\x00\x01\r":                         13,
		"a<b>&":                              15,
		`"\`:                                 2,
		"\u202e":                             3, // 3 bytes, escaped as 6
		"\u0085":                             4, // 2 bytes, escaped as 6
		"\U000E0041":                         8, // 4 bytes, escaped as 12
		"\xff":                               5,
	} {
		if got := escapeCost(s); got != want {
			t.Errorf("escapeCost(%q) = %d, want %d", s, got, want)
		}
	}
}

// TestControlCharactersCountMore: a TOC of names made of control
// characters, well under the limit in bytes, is refused because printing
// it would not be.
func TestControlCharactersCountMore(t *testing.T) {
	s := newSynth(16)
	s.AddTables(2000, "", []string{"1\n"})
	name := strings.Repeat("\x01", 8<<10)
	for i := range s.Entries {
		if s.Entries[i].Desc == "TABLE DATA" {
			s.Entries[i].Tag = name
		}
	}
	data := s.Encode() // 16 MiB of names
	if _, err := Read(bytes.NewReader(data)); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("16 MiB of control characters: %v, want ErrTooLarge", err)
	}
	for i := range s.Entries {
		if s.Entries[i].Desc == "TABLE DATA" {
			s.Entries[i].Tag = strings.Repeat("a", 8<<10)
		}
	}
	if _, err := Read(bytes.NewReader(s.Encode())); err != nil {
		t.Fatalf("16 MiB of plain names: %v", err)
	}
}
