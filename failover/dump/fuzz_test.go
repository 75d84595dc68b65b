package dump

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
)

var namedErrors = []error{ErrNotArchive, ErrTruncated, ErrUnsupportedVersion, ErrUnsupportedFormat, ErrCorrupt, ErrTooLarge}

// errKind returns the named error err wraps, or nil.
func errKind(err error) error {
	for _, n := range namedErrors {
		if errors.Is(err, n) {
			return n
		}
	}
	return nil
}

// fuzzSeeds adds synthetic archives of every version and, in the process
// that owns the corpus, real pg_dump archives made at test time. (The
// committed seeds under testdata/fuzz are small real archives.)
func fuzzSeeds(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte("PGDMP"))
	f.Add([]byte("-- PostgreSQL database dump\n"))
	for minor := byte(10); minor <= 16; minor++ {
		s := newSynth(minor)
		f.Add(s.Encode())
		s.Seekable = true
		f.Add(s.Encode())
	}
	// The bounded cases, against fuzzLimits: one field over its limit, and
	// a TOC over its size through many entries.
	s := newSynth(16)
	s.AddTables(1, strings.Repeat("\x00", int(fuzzLimits.MaxFieldSize)+1), []string{"1\n"})
	f.Add(s.Encode())
	s = newSynth(14)
	s.AddTables(40, strings.Repeat("x", 200), []string{"1\n"})
	f.Add(s.Encode())
	if isFuzzWorker() {
		return // workers get their inputs from the coordinator
	}
	fx := getFixture(f)
	// Small archives: the fuzzer spends its time minimising large inputs
	// instead of mutating them (the full fixture archives are 15-25 KB).
	for _, b := range [][]byte{fx.tinyFile, fx.tinyPipe} {
		f.Add(bytes.Clone(b))
	}
}

// fuzzLimits are limits small enough for fuzz inputs to reach.
var fuzzLimits = Limits{MaxTOCSize: 16 << 10, MaxFieldSize: 512}

// sameUnderLimits checks that reading under fuzzLimits either gives what
// reading under the defaults gave, or stops at a limit.
func sameUnderLimits(t *testing.T, data []byte, want *Archive, wantErr error, verify bool) {
	var got *Archive
	var err error
	if verify {
		got, err = fuzzLimits.Verify(context.Background(), bytes.NewReader(data))
	} else {
		got, err = fuzzLimits.Read(bytes.NewReader(data))
	}
	switch {
	case errors.Is(err, ErrTooLarge):
		var le *LimitError
		if !errors.As(err, &le) || (le.Limit == LimitFieldSize && le.Max != fuzzLimits.MaxFieldSize) {
			t.Fatalf("ErrTooLarge without its LimitError: %v", err)
		}
	case errKind(err) != errKind(wantErr):
		t.Fatalf("under tight limits: %v; under the defaults: %v", err, wantErr)
	case err == nil && !reflect.DeepEqual(got.Entries, want.Entries):
		t.Fatal("tight limits and the defaults read different entries")
	}
}

// FuzzRead: Read never panics, fails only with a named error, reaches the
// same verdict whether or not it knows the input's size, and what it
// returns can be summarised and printed.
func FuzzRead(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Read(bytes.NewReader(data))
		if err != nil && errKind(err) == nil {
			t.Fatalf("Read: unnamed error %v", err)
		}
		b, err2 := Read(hideLen{bytes.NewReader(data)})
		if errKind(err) != errKind(err2) {
			t.Fatalf("Read of a sized input: %v; of a stream: %v", err, err2)
		}
		sameUnderLimits(t, data, a, err, false)
		if _, herr := ReadHeader(bytes.NewReader(data)); herr == nil && !Sniff(data) {
			t.Fatalf("ReadHeader accepts what Sniff rejects")
		}
		if err != nil {
			return
		}
		if !reflect.DeepEqual(a.Entries, b.Entries) || a.Header != b.Header {
			t.Fatal("Read of a sized input and of a stream differ")
		}
		if a.DataStart > int64(len(data)) {
			t.Fatalf("DataStart %d beyond %d bytes", a.DataStart, len(data))
		}
		if _, err := json.Marshal(a); err != nil {
			t.Fatal(err)
		}
		if _, err := json.Marshal(a.Summary()); err != nil {
			t.Fatal(err)
		}
	})
}

// FuzzVerify: Verify never panics, fails only with a named error, agrees
// between sized inputs and streams, and when it accepts an input it
// accounts for every byte: one byte less is truncated, one byte more is
// corrupt.
func FuzzVerify(f *testing.F) {
	fuzzSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Verify(bytes.NewReader(data))
		if err != nil && errKind(err) == nil {
			t.Fatalf("Verify: unnamed error %v", err)
		}
		_, err2 := Verify(hideLen{bytes.NewReader(data)})
		if errKind(err) != errKind(err2) {
			t.Fatalf("Verify of a sized input: %v; of a stream: %v", err, err2)
		}
		sameUnderLimits(t, data, a, err, true)
		if err != nil {
			return
		}
		if a.Size != int64(len(data)) {
			t.Fatalf("Size %d, input %d bytes", a.Size, len(data))
		}
		var sum int64
		for _, e := range a.Entries {
			sum += e.DataSize
		}
		if sum != a.DataBytes || a.DataBytes > a.Size-a.DataStart {
			t.Fatalf("data bytes %d, entries sum to %d, data region %d bytes", a.DataBytes, sum, a.Size-a.DataStart)
		}
		r, err := Read(bytes.NewReader(data))
		if err != nil || len(r.Entries) != len(a.Entries) || r.DataStart != a.DataStart {
			t.Fatalf("Verify accepts what Read does not: %v", err)
		}
		if _, err := Verify(bytes.NewReader(data[:len(data)-1])); !errors.Is(err, ErrTruncated) {
			t.Fatalf("one byte short: %v, want ErrTruncated", err)
		}
		if _, err := Verify(bytes.NewReader(append(bytes.Clone(data), 0))); !errors.Is(err, ErrCorrupt) {
			t.Fatalf("one byte more: %v, want ErrCorrupt", err)
		}
		a.Summary()
	})
}
