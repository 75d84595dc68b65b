package main

// Benchmarks of the verify pass of `lifeboat fetch` (archive.Unpack) and of
// each of its parts, on the archive the fetch benchmark made, to find where
// the time goes:
//
//	go test ./internal/bench -run '^$' -bench . -benchtime 1x -cpuprofile /tmp/cpu.out
//	go tool pprof -top -cum internal/bench/bench.test /tmp/cpu.out
//
// They use the largest archive cached under ~/.cache/lifeboat/bench/ (make
// one with scripts/bench.sh) and skip when there is none;
// LIFEBOAT_BENCH_SIZE=1GiB picks the one made with -size 1GiB.

import (
	"bufio"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"sync"
	"testing"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/archive"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

// uploadPartSize is the part size testenv.S3.PutFile uploads with.
const uploadPartSize = 8 << 20

func cachedArchive(b *testing.B) archiveSet {
	base, err := archiveCacheDir()
	if err != nil {
		b.Skip(err)
	}
	pattern := fmt.Sprintf("v%d-*", archiveVersion)
	if size := os.Getenv("LIFEBOAT_BENCH_SIZE"); size != "" {
		n, err := parseSize(size)
		if err != nil {
			b.Fatal(err)
		}
		pattern = fmt.Sprintf("v%d-%d", archiveVersion, n)
	}
	dirs, _ := filepath.Glob(filepath.Join(base, pattern))
	var best archiveSet
	for _, d := range dirs {
		var a archiveSet
		if readJSON(filepath.Join(d, "archive.json"), &a) == nil && a.DumpSize > best.DumpSize {
			a.Dir = d
			best = a
		}
	}
	if best.Dir == "" {
		b.Skip("no benchmark archive cached: run scripts/bench.sh first")
	}
	return best
}

var etags sync.Map // path → multipart ETag

// multipartETag is the ETag MinIO gives path uploaded in 8 MiB parts.
func multipartETag(b *testing.B, path string) string {
	if e, ok := etags.Load(path); ok {
		return e.(string)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	var sums []byte
	parts := 0
	for {
		h := md5.New()
		n, err := io.CopyN(h, f, uploadPartSize)
		if n > 0 {
			sums = h.Sum(sums)
			parts++
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
	}
	e := fmt.Sprintf("%x-%d", md5.Sum(sums), parts)
	etags.Store(path, e)
	return e
}

// benchUnpack runs archive.Unpack as fetch does (multipart ETag, no S3
// checksum), then the fsync that Cache.Commit does on the unpacked dump.
func benchUnpack(b *testing.B, src, wrap string) {
	exp := archive.Expect{Size: fileSize(src), ETag: multipartETag(b, src), UploadPartSize: uploadPartSize}
	dst := filepath.Join(b.TempDir(), "unpacked.dump")
	b.SetBytes(exp.Size)
	b.ResetTimer()
	for range b.N {
		un, err := archive.Unpack(context.Background(), src, dst, wrap, exp, archive.Limits{})
		if err != nil {
			b.Fatal(err)
		}
		if wrap != archive.WrapNone {
			syncFile(b, dst)
		}
		if un.Archive.DataBlocks == 0 {
			b.Fatal("no data blocks")
		}
	}
}

func BenchmarkUnpack(b *testing.B) {
	a := cachedArchive(b)
	b.Run("gzip", func(b *testing.B) { benchUnpack(b, a.gzipPath(), archive.WrapGzip) })
	b.Run("plain", func(b *testing.B) { benchUnpack(b, a.dumpPath(), archive.WrapNone) })
}

// BenchmarkParts times each thing the verify pass does to every byte, alone.
func BenchmarkParts(b *testing.B) {
	a := cachedArchive(b)
	read := func(b *testing.B, path string, w io.Writer) {
		b.SetBytes(fileSize(path))
		for range b.N {
			f, err := os.Open(path)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(w, bufio.NewReaderSize(f, 1<<20)); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	}
	b.Run("read", func(b *testing.B) { read(b, a.gzipPath(), io.Discard) })
	b.Run("sha256", func(b *testing.B) { read(b, a.gzipPath(), sha256.New()) })
	b.Run("md5", func(b *testing.B) { read(b, a.gzipPath(), md5.New()) })
	b.Run("gunzip", func(b *testing.B) {
		b.SetBytes(a.GzipSize)
		for range b.N {
			f, _ := os.Open(a.gzipPath())
			zr, err := gzip.NewReader(bufio.NewReaderSize(f, 1<<20))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, zr); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("dump.Verify", func(b *testing.B) {
		b.SetBytes(a.DumpSize)
		for range b.N {
			f, _ := os.Open(a.dumpPath())
			if _, err := dump.Verify(bufio.NewReaderSize(f, 1<<20)); err != nil {
				b.Fatal(err)
			}
			f.Close()
		}
	})
	b.Run("write+fsync", func(b *testing.B) {
		dst := filepath.Join(b.TempDir(), "copy")
		b.SetBytes(a.DumpSize)
		for range b.N {
			in, _ := os.Open(a.dumpPath())
			out, err := os.Create(dst)
			if err != nil {
				b.Fatal(err)
			}
			bw := bufio.NewWriterSize(out, 1<<20)
			if _, err := io.Copy(bw, in); err != nil {
				b.Fatal(err)
			}
			if err := bw.Flush(); err != nil {
				b.Fatal(err)
			}
			if err := out.Sync(); err != nil {
				b.Fatal(err)
			}
			out.Close()
			in.Close()
			os.Remove(dst)
		}
	})
}

func syncFile(b *testing.B, path string) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkUnpackPipelined is a sketch of the proposed fix, not Lifeboat's
// code: the same work as archive.Unpack (SHA-256 and multipart-ETag MD5 of
// the object; for .dump.gz gunzip, writing the dump and its SHA-256; the
// pg_dump walk), but each consumer in its own goroutine, fed the same 1 MiB
// blocks, so that the pass costs its slowest stage instead of the sum; and
// the MD5 of each upload part, which does not depend on the others, hashed
// on every core at once (in fetch, the download workers could hash the
// parts they write).
func BenchmarkUnpackPipelined(b *testing.B) {
	a := cachedArchive(b)
	run := func(b *testing.B, src string, gz bool) {
		size := fileSize(src)
		etag := multipartETag(b, src)
		dst := filepath.Join(b.TempDir(), "unpacked.dump")
		b.SetBytes(size)
		b.ResetTimer()
		for range b.N {
			f, err := os.Open(src)
			if err != nil {
				b.Fatal(err)
			}
			objSHA := sha256.New()
			etagc := make(chan string, 1)
			go func() { etagc <- parallelETag(b, src, size) }()
			sinks := []func(io.Reader) error{
				func(r io.Reader) error { _, err := io.Copy(objSHA, r); return err },
			}
			if gz {
				sinks = append(sinks, func(r io.Reader) error {
					zr, err := gzip.NewReader(r)
					if err != nil {
						return err
					}
					out, err := os.Create(dst)
					if err != nil {
						return err
					}
					defer out.Close()
					dumpSHA := sha256.New()
					err = fanout(zr,
						func(r io.Reader) error { _, err := io.Copy(out, r); return err },
						func(r io.Reader) error { _, err := io.Copy(dumpSHA, r); return err },
						func(r io.Reader) error { _, err := dump.Verify(r); return err },
					)
					if err != nil {
						return err
					}
					return out.Sync()
				})
			} else {
				sinks = append(sinks, func(r io.Reader) error { _, err := dump.Verify(r); return err })
			}
			if err := fanout(f, sinks...); err != nil {
				b.Fatal(err)
			}
			f.Close()
			if got := <-etagc; got != etag {
				b.Fatalf("multipart ETag %s, want %s", got, etag)
			}
		}
	}
	b.Run("gzip", func(b *testing.B) { run(b, a.gzipPath(), true) })
	b.Run("plain", func(b *testing.B) { run(b, a.dumpPath(), false) })
}

// fanout copies r to every sink, each running in its own goroutine and
// reading the whole stream; it returns the first error.
func fanout(r io.Reader, sinks ...func(io.Reader) error) error {
	var wg sync.WaitGroup
	errs := make([]error, len(sinks))
	ws := make([]io.Writer, len(sinks))
	pws := make([]*io.PipeWriter, len(sinks))
	for i, sink := range sinks {
		pr, pw := io.Pipe()
		ws[i], pws[i] = pw, pw
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = sink(bufio.NewReaderSize(pr, 1<<20))
			// Drain what the sink did not read (a dump's trailing bytes).
			io.Copy(io.Discard, pr)
			pr.CloseWithError(errs[i])
		}()
	}
	_, err := io.CopyBuffer(io.MultiWriter(ws...), r, make([]byte, 1<<20))
	for _, pw := range pws {
		pw.CloseWithError(err)
	}
	wg.Wait()
	if err != nil {
		return err
	}
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// parallelETag computes the multipart ETag of the file at path with one
// goroutine per CPU, each hashing whole upload parts.
func parallelETag(b *testing.B, path string, size int64) string {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	parts := int((size + uploadPartSize - 1) / uploadPartSize)
	sums := make([][md5.Size]byte, parts)
	next := make(chan int)
	var wg sync.WaitGroup
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 1<<20)
			for i := range next {
				h := md5.New()
				off := int64(i) * uploadPartSize
				r := io.NewSectionReader(f, off, min(uploadPartSize, size-off))
				if _, err := io.CopyBuffer(h, r, buf); err != nil {
					panic(err)
				}
				copy(sums[i][:], h.Sum(nil))
			}
		}()
	}
	for i := range parts {
		next <- i
	}
	close(next)
	wg.Wait()
	var all []byte
	for _, s := range sums {
		all = append(all, s[:]...)
	}
	return fmt.Sprintf("%x-%d", md5.Sum(all), parts)
}
