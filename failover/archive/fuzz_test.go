package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/dump/dumptest"
)

// fuzzLimits are small enough for fuzz inputs to reach every limit but
// the ratio's, whose grace (64 MiB) no fuzz input unpacks to.
var fuzzLimits = Limits{
	Dump:            dump.Limits{MaxTOCSize: 16 << 10, MaxFieldSize: 512},
	MaxUnpackedSize: 256 << 10,
}

// fetchErrors are the errors the verification of a download may end with.
var fetchErrors = []error{ErrCorrupt, ErrNotArchive, ErrEncrypted, ErrTooLarge, ErrChecksum,
	dump.ErrTruncated, dump.ErrCorrupt, dump.ErrNotArchive, dump.ErrUnsupportedVersion, dump.ErrUnsupportedFormat, dump.ErrTooLarge}

func fetchErrorKind(err error) error {
	for _, e := range fetchErrors {
		if errors.Is(err, e) {
			return e
		}
	}
	return nil
}

func gzipOf(b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

func tarGzOf(name string, b []byte) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600, Size: int64(len(b))})
	tw.Write(b)
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

// FuzzUnpack runs the whole verification of a downloaded object, as fetch
// does (wrapping sniffed from the first bytes, gzip or tar.gz unwrapped to
// disk, the pg_dump archive read to its end, all under limits), on any
// object. It never panics, fails only with a named error and then leaves
// no unpacked file behind, agrees with the file-based Unpack, and what it
// accepts is a complete archive within the limits whose hash it reports.
func FuzzUnpack(f *testing.F) {
	for minor := byte(10); minor <= 16; minor++ {
		s := dumptest.New(minor)
		f.Add(s.Encode())
		f.Add(gzipOf(s.Encode()))
	}
	f.Add(tarGzOf("backup.dump", dumptest.New(16).Encode()))
	f.Add(gzipOf(nil))
	f.Add([]byte("-----BEGIN PGP MESSAGE-----"))
	// The bounded cases: a TOC and a field over their limits, and a small
	// gzip whose dump unpacks past MaxUnpackedSize.
	s := dumptest.New(16)
	s.AddTables(40, strings.Repeat("x", 200), []string{"1\n"})
	f.Add(gzipOf(s.Encode()))
	s = dumptest.New(15)
	s.AddTables(1, strings.Repeat("\x00", 600), []string{"1\n"})
	f.Add(gzipOf(s.Encode()))
	s = dumptest.New(16)
	s.Blocks[0].Chunks = []string{strings.Repeat("\x00", 512<<10)}
	f.Add(gzipOf(s.Encode()))

	dir := f.TempDir() // one per worker process, whose inputs run one at a time
	f.Fuzz(func(t *testing.T, data []byte) {
		src := filepath.Join(dir, "object.part")
		if err := os.WriteFile(src, data, 0o600); err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, "object.unpack")
		un, wrap, err := UnpackFollowing(context.Background(), bytes.NewReader(data), src, dst, Expect{Size: int64(len(data))}, fuzzLimits)
		if err != nil {
			if fetchErrorKind(err) == nil {
				t.Fatalf("unnamed error: %v", err)
			}
			if _, serr := os.Stat(dst); serr == nil {
				t.Fatalf("a failed unpack left %s (%v)", dst, err)
			}
			return
		}
		b, err := os.ReadFile(un.DumpPath)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if int64(len(b)) != un.DumpSize || hex.EncodeToString(sum[:]) != un.DumpSHA256 || un.DumpSize > fuzzLimits.MaxUnpackedSize {
			t.Fatalf("dump %d bytes (sha256 %x), result says %d bytes (sha256 %s)", len(b), sum, un.DumpSize, un.DumpSHA256)
		}
		a, err := fuzzLimits.Dump.Verify(context.Background(), bytes.NewReader(b))
		if err != nil || len(a.Entries) != len(un.Archive.Entries) {
			t.Fatalf("the accepted dump does not verify on its own: %v", err)
		}
		objSum := sha256.Sum256(data)
		if un.ObjectSHA256 != hex.EncodeToString(objSum[:]) {
			t.Fatal("object hash")
		}
		if _, err := Unpack(context.Background(), src, filepath.Join(dir, "again.unpack"), wrap, Expect{Size: int64(len(data))}, fuzzLimits); err != nil {
			t.Fatalf("following accepts, the file-based Unpack does not: %v", err)
		}
		os.Remove(dst)
	})
}
