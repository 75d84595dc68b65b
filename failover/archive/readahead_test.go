package archive

import (
	"bytes"
	"errors"
	"io"
	"math/rand"
	"testing"
	"testing/iotest"
)

func TestReadAheadPassesBytesAndErrors(t *testing.T) {
	data := make([]byte, 5*readAheadChunk+12345)
	rand.New(rand.NewSource(1)).Read(data)
	// Byte for byte, in any read size, however r hands them out.
	ra := newReadAhead(iotest.OneByteReader(bytes.NewReader(data[:70000])))
	if err := iotest.TestReader(ra, data[:70000]); err != nil {
		t.Fatal(err)
	}
	ra.Close()
	ra = newReadAhead(bytes.NewReader(data))
	got, err := io.ReadAll(iotest.HalfReader(ra))
	ra.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read %d of %d bytes: %v", len(got), len(data), err)
	}
	// r's error comes after the bytes before it.
	boom := errors.New("boom")
	ra = newReadAhead(io.MultiReader(bytes.NewReader(data[:3*readAheadChunk+7]), iotest.ErrReader(boom)))
	got, err = io.ReadAll(ra)
	ra.Close()
	if !errors.Is(err, boom) || len(got) != 3*readAheadChunk+7 {
		t.Fatalf("read %d bytes, then %v", len(got), err)
	}
	// Closed early, its goroutine ends instead of waiting for a reader.
	pr, pw := io.Pipe()
	ra = newReadAhead(pr)
	go pw.Write(make([]byte, 20*readAheadChunk))
	io.ReadFull(ra, make([]byte, 10))
	ra.Close()
	pw.CloseWithError(io.ErrClosedPipe)
	for range ra.chunks { // closed once the goroutine returns
	}
}
