package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"strings"
	"sync/atomic"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// ErrChecksum is returned when downloaded bytes do not match what the
// store (or a sidecar file) says they should be.
var ErrChecksum = errors.New("checksum mismatch")

// ErrCorrupt is returned when the object's wrapping (gzip, tar) or the
// pg_dump archive inside it is damaged or incomplete.
var ErrCorrupt = errors.New("archive is damaged")

// Expect is what the store knows about an object, to check a download against.
type Expect struct {
	Size int64
	// SHA256 is the store's full-object SHA-256 (raw digest), if any.
	SHA256 []byte
	// SidecarSHA256 / SidecarMD5 come from KEY.sha256 / KEY.md5 files.
	SidecarSHA256 []byte
	SidecarMD5    []byte
	// ETag is the object's ETag; it is an MD5 for single-part uploads and
	// md5(part md5s)-N for multipart ones. Leave empty when it is neither
	// (SSE-KMS, SSE-C).
	ETag string
	// UploadPartSize is the size of every part but the last of a multipart
	// upload, needed to recompute a multipart ETag; 0 when unknown.
	UploadPartSize int64
}

// Unpacked is the result of Unpack.
type Unpacked struct {
	// DumpPath is the file holding the plain pg_dump archive: the source
	// itself when it was not wrapped, else the destination.
	DumpPath     string        `json:"-"`
	ObjectSHA256 string        `json:"object_sha256"`
	DumpSize     int64         `json:"dump_size"`
	DumpSHA256   string        `json:"dump_sha256"`
	Archive      *dump.Archive `json:"-"`
	// Verified lists the checks that passed.
	Verified []string `json:"verified"`
}

// Unpack reads the downloaded object at src once, from start to end: it
// hashes it and compares it with exp, unwraps gzip or tar.gz into dst, and
// reads the pg_dump archive to its end (header, table of contents, every
// data block), within lim. Errors wrap ErrChecksum, ErrCorrupt,
// ErrDiskFull, ErrTooLarge or one of the dump package's errors; dst is
// removed when it fails.
func Unpack(ctx context.Context, src, dst, wrap string, exp Expect, lim Limits) (Unpacked, error) {
	f, err := os.Open(src)
	if err != nil {
		return Unpacked{DumpPath: src}, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return Unpacked{DumpPath: src}, err
	}
	if exp.Size > 0 && st.Size() != exp.Size {
		return Unpacked{DumpPath: src}, fmt.Errorf("%w: downloaded %d bytes, the store says %d", ErrChecksum, st.Size(), exp.Size)
	}
	exp.Size = st.Size()
	return unpackStream(ctx, bufio.NewReaderSize(&ctxReader{ctx: ctx, r: f}, 1<<20), src, dst, wrap, exp, lim)
}

// UnpackFollowing is Unpack reading the object from r (a download in
// progress, see Follower) instead of a finished file at src; it detects
// the wrapping from the first bytes. exp.Size must be the object's size.
func UnpackFollowing(ctx context.Context, r io.Reader, src, dst string, exp Expect, lim Limits) (Unpacked, string, error) {
	br := bufio.NewReaderSize(r, max(EncryptedSniffSize, 1<<20))
	head, err := br.Peek(int(min(int64(EncryptedSniffSize), exp.Size)))
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, bufio.ErrBufferFull) {
		return Unpacked{DumpPath: src}, "", err
	}
	sn, err := SniffKeys(head, int64(len(head)) >= exp.Size, lim.Keys)
	if err != nil {
		return Unpacked{DumpPath: src}, "", err
	}
	un, err := unpackStream(ctx, br, src, dst, sn.Wrap, exp, lim)
	return un, sn.Wrap, err
}

// unpackStream is the single pass of Unpack over r, which holds exactly the
// object's exp.Size bytes.
func unpackStream(ctx context.Context, r io.Reader, src, dst, wrap string, exp Expect, lim Limits) (Unpacked, error) {
	res := Unpacked{DumpPath: src}
	res.Verified = append(res.Verified, "size")

	objSHA := sha256.New()
	hashers := []io.Writer{objSHA}
	var objMD5 hash.Hash
	needMD5 := len(exp.SidecarMD5) > 0 || (exp.ETag != "" && !strings.Contains(exp.ETag, "-") && len(exp.SHA256) == 0)
	if needMD5 {
		objMD5 = md5.New()
		hashers = append(hashers, objMD5)
	}
	var mp *multipartMD5
	if strings.Contains(exp.ETag, "-") && exp.UploadPartSize > 0 && len(exp.SHA256) == 0 && len(exp.SidecarSHA256) == 0 {
		mp = &multipartMD5{size: exp.UploadPartSize, cur: md5.New()}
		hashers = append(hashers, mp)
	}
	counted := &countWriter{}
	hashers = append(hashers, counted)
	// The object is read and hashed a few chunks ahead, on another core
	// than the unpack below.
	ahead := newReadAhead(io.TeeReader(r, io.MultiWriter(hashers...)))
	defer ahead.Close()
	obj := io.Reader(ahead)

	var verr error
	kind, inner := SplitWrap(wrap)
	switch {
	case kind != "":
		// Checksums are of the object (the ciphertext); the dump is its
		// authenticated plaintext, unwrapped into dst.
		dec, err := crypt.Decrypt(obj, kind, lim.Keys)
		if err != nil {
			return res, fmt.Errorf("%w: %w", ErrEncrypted, err)
		}
		plain := &firstError{r: dec}
		res.DumpPath = dst
		guard := &unpackGuard{lim: lim, path: dst}
		res.Archive, res.DumpSize, res.DumpSHA256, verr = unwrap(ctx, plain, dst, inner, lim, guard, func() int64 { return counted.n.Load() })
		if verr == nil {
			// Authenticate the ciphertext to its very end.
			_, _ = io.Copy(io.Discard, plain)
		}
		// The decryption's own error says best what is wrong (wrong key,
		// truncated, tampered), whatever the readers above made of it.
		if plain.err != nil {
			os.Remove(dst)
			verr = fmt.Errorf("%w: %w", ErrCorrupt, plain.err)
		}
	case wrap == WrapNone:
		if max := lim.MaxUnpackedSize; max > 0 && exp.Size > max {
			return res, fmt.Errorf("%w: the dump is %s, more than download.max_unpacked_size (%s)", ErrTooLarge, humanBytes(exp.Size), humanBytes(max))
		}
		res.Archive, verr = verifyDump(ctx, obj, lim)
		res.DumpSize = exp.Size
	case wrap == WrapGzip, wrap == WrapTarGz:
		res.DumpPath = dst
		guard := &unpackGuard{lim: lim, path: dst}
		res.Archive, res.DumpSize, res.DumpSHA256, verr = unwrap(ctx, obj, dst, wrap, lim, guard, func() int64 { return counted.n.Load() })
	default:
		return res, fmt.Errorf("%w: cannot unpack %q", ErrNotArchive, wrap)
	}
	if verr != nil {
		if ctx.Err() != nil {
			return res, ctx.Err()
		}
		if errors.Is(verr, ErrDownloadStopped) {
			return res, verr
		}
		if errors.Is(verr, ErrDiskFull) || errors.Is(verr, ErrCorrupt) || errors.Is(verr, ErrNotArchive) || errors.Is(verr, ErrTooLarge) {
			return res, verr
		}
		if errors.Is(verr, dump.ErrTooLarge) {
			return res, limitHint(verr)
		}
		return res, fmt.Errorf("%w: %w", ErrCorrupt, verr)
	}
	// Hash whatever follows (tar padding, a second tar member).
	if _, err := io.Copy(io.Discard, obj); err != nil {
		return res, err
	}
	if n := counted.n.Load(); n != exp.Size {
		return res, fmt.Errorf("%w: read %d bytes, the store says %d", ErrChecksum, n, exp.Size)
	}
	res.ObjectSHA256 = hex.EncodeToString(objSHA.Sum(nil))
	if wrap == WrapNone {
		res.DumpSHA256 = res.ObjectSHA256
	}
	res.Verified = append(res.Verified, "pg_dump-archive-complete")

	compare := func(name string, want, got []byte) error {
		if len(want) == 0 {
			return nil
		}
		if string(want) != string(got) {
			return fmt.Errorf("%w: %s says %x, the download hashes to %x", ErrChecksum, name, want, got)
		}
		res.Verified = append(res.Verified, name)
		return nil
	}
	sum := objSHA.Sum(nil)
	if err := compare("s3-sha256", exp.SHA256, sum); err != nil {
		return res, err
	}
	if err := compare("sidecar-sha256", exp.SidecarSHA256, sum); err != nil {
		return res, err
	}
	if objMD5 != nil {
		md := objMD5.Sum(nil)
		if err := compare("sidecar-md5", exp.SidecarMD5, md); err != nil {
			return res, err
		}
		if exp.ETag != "" && !strings.Contains(exp.ETag, "-") && len(exp.SHA256) == 0 {
			want, err := hex.DecodeString(exp.ETag)
			if err == nil && len(want) == md5.Size {
				if err := compare("etag-md5", want, md); err != nil {
					return res, err
				}
			}
		}
	}
	if mp != nil {
		if got := mp.etag(); got != exp.ETag {
			return res, fmt.Errorf("%w: multipart ETag is %s, the download gives %s (with %d-byte parts)", ErrChecksum, exp.ETag, got, exp.UploadPartSize)
		}
		res.Verified = append(res.Verified, "etag-multipart")
	}
	return res, nil
}

// unwrap decompresses a gzip (or tar.gz) stream into dst while reading the
// pg_dump archive to its end, and returns it with the dump's size and hash.
// guard sees every byte before it is written; compressed says how many
// bytes of r were read so far. dst is removed on failure.
func unwrap(ctx context.Context, r io.Reader, dst, wrap string, lim Limits, guard io.Writer, compressed func() int64) (a *dump.Archive, size int64, sha string, err error) {
	// zr is the plain dump stream: gzip's, or r itself for an encrypted
	// plain dump (whose gpg layer may decompress too: the ratio applies).
	var zr io.Reader = &ratioReader{r: r, max: lim.MaxRatio, compressed: compressed}
	if wrap != WrapNone {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return nil, 0, "", fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
		}
		// gzip is inflated a few chunks ahead, on a core of its own: the
		// dump's hash, its write and the archive walk run beside it.
		inflated := newReadAhead(gz)
		defer inflated.Close()
		// Every decompressed byte counts against the ratio, written or not.
		zr = &ratioReader{r: inflated, max: lim.MaxRatio, compressed: compressed}
	}
	var inner io.Reader = zr
	if wrap == WrapTarGz {
		tr := tar.NewReader(zr)
		found := false
		for !found {
			hdr, err := tr.Next()
			if errors.Is(err, ErrTooLarge) {
				return nil, 0, "", err
			}
			if err != nil {
				return nil, 0, "", fmt.Errorf("%w: no pg_dump archive in the tar file (%v)", ErrNotArchive, err)
			}
			if hdr.Typeflag != tar.TypeReg {
				continue
			}
			br := bufio.NewReader(tr)
			if head, _ := br.Peek(5); string(head) == "PGDMP" {
				inner, found = br, true
			}
		}
	}
	out, err := fsutil.OpenNoFollow(dst, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, 0, "", err
	}
	defer func() {
		out.Close()
		if err != nil {
			os.Remove(dst)
		}
	}()
	bw := bufio.NewWriterSize(out, spaceCheckEvery)
	sum := sha256.New()
	cw := &countWriter{}
	// The guard goes first: past a limit, nothing more reaches the disk.
	tee := io.TeeReader(inner, &failWriter{w: io.MultiWriter(guard, bw, sum, cw), path: dst})
	a, err = verifyDump(ctx, tee, lim)
	if err != nil {
		var fw *failWriteError
		if errors.As(err, &fw) {
			return nil, 0, "", fw.err
		}
		return nil, 0, "", err
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		var fw *failWriteError
		if errors.As(err, &fw) {
			return nil, 0, "", fw.err
		}
		if errors.Is(err, ErrTooLarge) {
			return nil, 0, "", err
		}
		return nil, 0, "", fmt.Errorf("%w: %v", ErrCorrupt, err)
	}
	// Read the gzip stream to its end so its CRC is checked too.
	if _, err := io.Copy(io.Discard, zr); err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, 0, "", err
		}
		return nil, 0, "", fmt.Errorf("%w: gzip: %v", ErrCorrupt, err)
	}
	if err := bw.Flush(); err != nil {
		return nil, 0, "", diskErr(dst, err)
	}
	return a, cw.n.Load(), hex.EncodeToString(sum.Sum(nil)), nil
}

// verifyDump reads the dump in r to its end: a pg_dump custom archive,
// or a plain-SQL dump when lim allows them (its COPY data counted, its
// end found: nothing more can be known of a script before it runs).
func verifyDump(ctx context.Context, r io.Reader, lim Limits) (*dump.Archive, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(8 << 10)
	if !bytes.HasPrefix(head, []byte("PGDMP")) && dump.LooksPlain(head) {
		if !lim.AllowPlainSQL {
			return nil, fmt.Errorf("%w: %s", ErrNotArchive, PlainSQLNotAllowed)
		}
		return lim.Dump.ReadPlain(ctx, br)
	}
	return lim.Dump.Verify(ctx, br)
}

// DecodeS3SHA256 decodes a base64 S3 checksum.
func DecodeS3SHA256(b64 string) []byte {
	b, err := base64.StdEncoding.DecodeString(b64)
	if err != nil || len(b) != sha256.Size {
		return nil
	}
	return b
}

// ParseSidecar reads the digest from a sha256sum/md5sum-style file ("HEX  name").
func ParseSidecar(b []byte, size int) []byte {
	fields := strings.Fields(string(b))
	if len(fields) == 0 {
		return nil
	}
	d, err := hex.DecodeString(fields[0])
	if err != nil || len(d) != size {
		return nil
	}
	return d
}

type multipartMD5 struct {
	size   int64
	n      int64
	cur    hash.Hash
	digest []byte
	parts  int
}

func (m *multipartMD5) Write(p []byte) (int, error) {
	total := len(p)
	for len(p) > 0 {
		k := min(int64(len(p)), m.size-m.n)
		m.cur.Write(p[:k])
		m.n += k
		p = p[k:]
		if m.n == m.size {
			m.digest = m.cur.Sum(m.digest)
			m.parts++
			m.cur.Reset()
			m.n = 0
		}
	}
	return total, nil
}

func (m *multipartMD5) etag() string {
	d, parts := m.digest, m.parts
	if m.n > 0 {
		d = m.cur.Sum(d)
		parts++
	}
	s := md5.Sum(d)
	return fmt.Sprintf("%x-%d", s, parts)
}

// countWriter counts bytes; atomic, since the object's bytes are counted
// by a readAhead's goroutine while the unpack reads the count.
type countWriter struct{ n atomic.Int64 }

func (c *countWriter) Write(p []byte) (int, error) { c.n.Add(int64(len(p))); return len(p), nil }

// failWriter marks write errors so they are told apart from read errors
// after passing through the dump reader.
type failWriter struct {
	w    io.Writer
	path string
}

type failWriteError struct{ err error }

func (e *failWriteError) Error() string { return e.err.Error() }
func (e *failWriteError) Unwrap() error { return e.err }

func (f *failWriter) Write(p []byte) (int, error) {
	n, err := f.w.Write(p)
	if errors.Is(err, ErrDiskFull) || errors.Is(err, ErrTooLarge) {
		return n, &failWriteError{err: err} // a limit, already explained
	}
	if err != nil {
		return n, &failWriteError{err: diskErr(f.path, err)}
	}
	return n, nil
}

type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c *ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

// firstError remembers the first error other than io.EOF its reader gave.
type firstError struct {
	r   io.Reader
	err error
}

func (f *firstError) Read(p []byte) (int, error) {
	n, err := f.r.Read(p)
	if err != nil && err != io.EOF && f.err == nil {
		f.err = err
	}
	return n, err
}
