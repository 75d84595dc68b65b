package archive

import (
	"archive/tar"
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/gzip"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/failover/dump"
)

// SniffSize is how many leading bytes of an object are read to decide
// whether it holds a pg_dump custom-format archive.
const SniffSize = 64 << 10

// ErrNotArchive is returned when an object or file does not hold a pg_dump
// custom-format archive (plain, gzip or tar.gz wrapped).
var ErrNotArchive = errors.New("not a pg_dump custom-format archive")

// ErrEncrypted is returned for encrypted objects (age, gpg) that cannot be
// opened: no key configured for them, or one that does not open them.
var ErrEncrypted = errors.New("encrypted archive")

// Sniffed is what the first bytes of an object say. A plain-SQL dump
// (pg_dump -Fp) sniffs too: its Header.Format is dump.FormatPlain, and it
// is used only where plain SQL is allowed (see PlainSQLNotAllowed).
type Sniffed struct {
	Wrap   string
	Header dump.Header
}

// PlainSQLNotAllowed is why a plain-SQL dump is skipped when
// database.allow_plain_sql is off.
const PlainSQLNotAllowed = "a plain-SQL dump (pg_dump -Fp): restored only with database.allow_plain_sql: true " +
	"(psql runs it as a script, so it cannot be verified before it runs; see the README)"

// IsPlain reports whether the sniffed object is a plain-SQL dump.
func (s Sniffed) IsPlain() bool { return s.Header.Format == dump.FormatPlain }

// Sniff inspects the leading bytes of an object. complete says whether b is
// the whole object (so running out of bytes means truncation). Errors wrap
// ErrNotArchive or ErrEncrypted and say what the bytes look like instead.
func Sniff(b []byte, complete bool) (Sniffed, error) { return SniffKeys(b, complete, nil) }

// SniffKeys is Sniff that also looks inside encrypted objects (age, gpg)
// with keys: the leading bytes are decrypted as far as they go (an age
// object needs its first 64 KiB chunk whole, see EncryptedSniffSize), and
// the wrap is the encryption and what it holds ("age", "age+gzip",
// "gpg+tar.gz"). Without a key for it, the error wraps ErrEncrypted and
// crypt.ErrNoKey and names the config key to set.
func SniffKeys(b []byte, complete bool, keys *crypt.Keys) (Sniffed, error) {
	if kind := crypt.Detect(b); kind != "" {
		return sniffEncrypted(b, complete, kind, keys)
	}
	switch {
	case len(b) == 0:
		return Sniffed{}, fmt.Errorf("%w: empty", ErrNotArchive)
	case bytes.HasPrefix(b, []byte("PGDMP")):
		h, err := dump.ReadHeader(bytes.NewReader(b))
		if err != nil {
			return Sniffed{}, fmt.Errorf("%w: bad pg_dump header: %v", ErrNotArchive, err)
		}
		return Sniffed{Wrap: WrapNone, Header: h}, nil
	case len(b) >= 2 && b[0] == 0x1f && b[1] == 0x8b:
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			return Sniffed{}, fmt.Errorf("%w: corrupt gzip header: %v", ErrNotArchive, err)
		}
		inner := make([]byte, SniffSize)
		n, err := io.ReadFull(zr, inner)
		inner = inner[:n]
		if n == 0 {
			if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
				return Sniffed{}, fmt.Errorf("%w: corrupt gzip stream: %v", ErrNotArchive, err)
			}
			return Sniffed{}, fmt.Errorf("%w: gzip of nothing", ErrNotArchive)
		}
		if isTar(inner) {
			s, err := sniffTar(inner)
			if err == nil {
				s.Wrap = WrapTarGz
			}
			return s, err
		}
		if dump.LooksPlain(inner) {
			h, err := dump.SniffPlain(inner)
			return Sniffed{Wrap: WrapGzip, Header: h}, err
		}
		if !bytes.HasPrefix(inner, []byte("PGDMP")) {
			return Sniffed{}, fmt.Errorf("%w: gzip holding %s", ErrNotArchive, describe(inner))
		}
		h, err := dump.ReadHeader(bytes.NewReader(inner))
		if err != nil {
			return Sniffed{}, fmt.Errorf("%w: bad pg_dump header inside gzip: %v", ErrNotArchive, err)
		}
		return Sniffed{Wrap: WrapGzip, Header: h}, nil
	case isTar(b):
		return Sniffed{}, fmt.Errorf("%w: an uncompressed tar file; Lifeboat reads .tar.gz/.tgz", ErrNotArchive)
	case dump.LooksPlain(b):
		h, err := dump.SniffPlain(b)
		return Sniffed{Wrap: WrapNone, Header: h}, err
	}
	return Sniffed{}, fmt.Errorf("%w: %s", ErrNotArchive, describe(b))
}

// EncryptedSniffSize is how many leading bytes of an encrypted object are
// enough to read what it holds: age authenticates 64 KiB chunks whole.
const EncryptedSniffSize = SniffSize + 16<<10

func sniffEncrypted(b []byte, complete bool, kind string, keys *crypt.Keys) (Sniffed, error) {
	pr, err := crypt.Decrypt(bytes.NewReader(b), kind, keys)
	if err != nil {
		return Sniffed{}, fmt.Errorf("%w: %w", ErrEncrypted, err)
	}
	plain := make([]byte, SniffSize)
	n, err := io.ReadFull(pr, plain)
	plain = plain[:n]
	switch {
	case err == nil, err == io.EOF, err == io.ErrUnexpectedEOF:
	case errors.Is(err, crypt.ErrTruncated) && !complete && n > 0:
		// Only the leading bytes were read: what they hold is enough.
	default:
		return Sniffed{}, fmt.Errorf("%w: %w", ErrEncrypted, err)
	}
	s, err := Sniff(plain, complete && err != nil)
	if err != nil {
		return s, fmt.Errorf("%s-encrypted: %w", kind, err)
	}
	s.Wrap = EncryptedWrap(kind, s.Wrap)
	return s, nil
}

// EncryptedWrap is the wrap of an archive encrypted with kind holding inner.
func EncryptedWrap(kind, inner string) string {
	if inner == WrapNone {
		return kind
	}
	return kind + "+" + inner
}

// SplitWrap returns the encryption of a wrap ("" when none) and what it holds.
func SplitWrap(wrap string) (kind, inner string) {
	switch {
	case wrap == WrapAge || wrap == WrapGPG:
		return wrap, WrapNone
	case strings.HasPrefix(wrap, WrapAge+"+"), strings.HasPrefix(wrap, WrapGPG+"+"):
		kind, inner, _ = strings.Cut(wrap, "+")
		return kind, inner
	}
	return "", wrap
}

func sniffTar(b []byte) (Sniffed, error) {
	tr := tar.NewReader(bytes.NewReader(b))
	for {
		hdr, err := tr.Next()
		if err != nil {
			return Sniffed{}, fmt.Errorf("%w: tar.gz without a pg_dump archive in its first %d KiB", ErrNotArchive, SniffSize>>10)
		}
		if hdr.Typeflag != tar.TypeReg {
			continue
		}
		head := make([]byte, 5)
		if _, err := io.ReadFull(tr, head); err != nil || string(head) != "PGDMP" {
			continue
		}
		h, err := dump.ReadHeader(io.MultiReader(bytes.NewReader(head), tr))
		if err != nil {
			return Sniffed{}, fmt.Errorf("%w: bad pg_dump header in %s: %v", ErrNotArchive, hdr.Name, err)
		}
		return Sniffed{Header: h}, nil
	}
}

func isTar(b []byte) bool {
	return len(b) >= 262 && bytes.Equal(b[257:262], []byte("ustar"))
}

func isGPG(b []byte) bool {
	if bytes.HasPrefix(b, []byte("-----BEGIN PGP")) {
		return true
	}
	// Binary OpenPGP: an old-format symmetric-key session key packet (tag 3,
	// 0x8c/0x8d) or a new-format one (0xc3), as `gpg -c` writes.
	return len(b) > 2 && (b[0] == 0x8c || b[0] == 0x8d || b[0] == 0xc3) && (b[1] <= 0x20 || b[0] == 0xc3)
}

// describe says in a few words what some bytes look like.
func describe(b []byte) string {
	s := string(b[:min(len(b), 200)])
	switch {
	case dump.IsClusterDump(b):
		return "a pg_dumpall cluster dump (roles and every database); Lifeboat restores one database's pg_dump, custom format (pg_dump -Fc) or plain SQL"
	case dump.LooksPlain(b):
		return "a plain-SQL dump (pg_dump -Fp)"
	case strings.Contains(s, "PostgreSQL database dump"):
		return "a plain-SQL dump (pg_dump -Fp) that does not start as pg_dump writes it"
	case bytes.HasPrefix(b, []byte("PK\x03\x04")):
		return "a zip file"
	case bytes.HasPrefix(b, []byte("BZh")):
		return "a bzip2 file"
	case bytes.HasPrefix(b, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "a zstd file"
	case bytes.HasPrefix(b, []byte("<?xml")) || bytes.HasPrefix(b, []byte("<Error")):
		return "an XML document (an error page saved as an object?)"
	case bytes.HasPrefix(b, []byte("{")) || bytes.HasPrefix(b, []byte("[")):
		return "a JSON document"
	}
	printable := 0
	for _, c := range b[:min(len(b), 64)] {
		if c >= 0x20 && c < 0x7f || c == '\n' || c == '\r' || c == '\t' {
			printable++
		}
	}
	head := b[:min(len(b), 16)]
	if printable == min(len(b), 64) {
		return fmt.Sprintf("text starting %q", head)
	}
	return fmt.Sprintf("unknown binary data starting % x", head)
}

// Unwrapped returns a reader of the plain pg_dump archive inside r, which
// may be the archive itself, a gzip of it or a tar.gz holding it, and says
// which. A plain-SQL dump (pg_dump -Fp, or a gzip of one) is returned too:
// the caller tells it apart (dump.LooksPlain). Errors wrap ErrNotArchive
// or ErrEncrypted.
func Unwrapped(r io.Reader) (io.Reader, string, error) {
	br := bufio.NewReaderSize(r, 64<<10)
	head, _ := br.Peek(512)
	switch {
	case bytes.HasPrefix(head, []byte("PGDMP")), dump.LooksPlain(head):
		return br, WrapNone, nil
	case len(head) >= 2 && head[0] == 0x1f && head[1] == 0x8b:
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, "", fmt.Errorf("%w: corrupt gzip header: %v", ErrNotArchive, err)
		}
		zb := bufio.NewReaderSize(zr, 64<<10)
		inner, _ := zb.Peek(512)
		if bytes.HasPrefix(inner, []byte("PGDMP")) || dump.LooksPlain(inner) {
			return zb, WrapGzip, nil
		}
		if isTar(inner) {
			tr := tar.NewReader(zb)
			for {
				hdr, err := tr.Next()
				if err != nil {
					return nil, "", fmt.Errorf("%w: tar.gz without a pg_dump archive", ErrNotArchive)
				}
				if hdr.Typeflag != tar.TypeReg {
					continue
				}
				eb := bufio.NewReader(tr)
				if p, _ := eb.Peek(5); string(p) == "PGDMP" {
					return eb, WrapTarGz, nil
				}
			}
		}
		return nil, "", fmt.Errorf("%w: gzip holding %s", ErrNotArchive, describe(inner))
	case isGPG(head):
		return nil, "", fmt.Errorf("%w: decrypt it first", ErrEncrypted)
	}
	if len(head) == 0 {
		return nil, "", fmt.Errorf("%w: empty", ErrNotArchive)
	}
	return nil, "", fmt.Errorf("%w: %s", ErrNotArchive, describe(head))
}
