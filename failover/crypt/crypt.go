// Package crypt owns client-side encryption of archives: age
// (filippo.io/age, X25519 recipients) for the archives Lifeboat captures,
// so that the bucket and its provider only ever see ciphertext, and reading
// the symmetric gpg archives (`gpg -c`) that forks of heroku-database-backups
// write. Decryption is streamed and authenticated to the last byte; a wrong
// key, a truncated ciphertext and a tampered one each have their own error.
package crypt

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"filippo.io/age"
	"github.com/ProtonMail/go-crypto/openpgp"
	pgperrors "github.com/ProtonMail/go-crypto/openpgp/errors"
	"github.com/ProtonMail/go-crypto/openpgp/packet"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// Named errors; test with errors.Is.
var (
	// ErrNoKey: the archive is encrypted and no key for its kind is
	// configured; the message names the config key to set.
	ErrNoKey = errors.New("the archive is encrypted and no key is configured to open it")
	// ErrWrongKey: the configured key does not open the archive.
	ErrWrongKey = errors.New("the configured key does not open this archive")
	// ErrTruncated: the ciphertext ends before its authenticated end.
	ErrTruncated = errors.New("the encrypted archive is truncated")
	// ErrTampered: the ciphertext fails authentication: it was altered or
	// damaged after it was written.
	ErrTampered = errors.New("the encrypted archive fails authentication (altered or damaged)")
)

// Kinds of encryption.
const (
	Age = "age"
	GPG = "gpg"
)

var ageMagic = []byte("age-encryption.org/v1\n")

// Detect says which encryption the leading bytes b show: Age, GPG, or "".
func Detect(b []byte) string {
	switch {
	case bytes.HasPrefix(b, ageMagic), bytes.HasPrefix(b, []byte("-----BEGIN AGE ENCRYPTED FILE-----")):
		return Age
	case bytes.HasPrefix(b, []byte("-----BEGIN PGP MESSAGE")):
		return GPG
	}
	// Binary OpenPGP: an old-format symmetric-key session key packet (tag 3,
	// 0x8c/0x8d) or a new-format one (0xc3), as `gpg -c` writes.
	if len(b) > 2 && (b[0] == 0x8c || b[0] == 0x8d || b[0] == 0xc3) && (b[1] <= 0x20 || b[0] == 0xc3) {
		return GPG
	}
	return ""
}

// Keys open encrypted archives. The zero value opens none.
type Keys struct {
	identities []age.Identity
	passphrase []byte
	// IdentityFile and PassphraseFile are where the keys came from, for
	// messages.
	IdentityFile, PassphraseFile string
}

// LoadKeys reads the age identities (an age key file: AGE-SECRET-KEY-1…
// lines, # comments) and the gpg passphrase (the file's first line) from
// secret files of mode 0600; an empty path loads nothing.
func LoadKeys(identityFile, passphraseFile string) (*Keys, error) {
	k := &Keys{IdentityFile: identityFile, PassphraseFile: passphraseFile}
	if identityFile != "" {
		b, err := readSecret(identityFile)
		if err != nil {
			return nil, fmt.Errorf("s3.identity_file: %w", err)
		}
		ids, err := age.ParseIdentities(bytes.NewReader(b))
		if err != nil {
			// age's parse errors do not quote the key.
			return nil, fmt.Errorf("s3.identity_file %s: not an age identity file (age-keygen writes one): %v", identityFile, err)
		}
		k.identities = ids
	}
	if passphraseFile != "" {
		b, err := readSecret(passphraseFile)
		if err != nil {
			return nil, fmt.Errorf("s3.passphrase_file: %w", err)
		}
		line, _, _ := strings.Cut(string(b), "\n")
		line = strings.TrimRight(line, "\r")
		if line == "" {
			return nil, fmt.Errorf("s3.passphrase_file %s: empty", passphraseFile)
		}
		k.passphrase = []byte(line)
	}
	return k, nil
}

func readSecret(path string) ([]byte, error) {
	if err := fsutil.CheckSecretFile(path); err != nil {
		return nil, err
	}
	return os.ReadFile(path)
}

// Has reports whether k holds a key for kind.
func (k *Keys) Has(kind string) bool {
	if k == nil {
		return false
	}
	switch kind {
	case Age:
		return len(k.identities) > 0
	case GPG:
		return len(k.passphrase) > 0
	}
	return false
}

// NoKeyError is the ErrNoKey error for kind: what to configure.
func NoKeyError(kind string) error {
	if kind == GPG {
		return fmt.Errorf("%w: it is gpg-encrypted: set s3.passphrase_file to a file (mode 0600) holding its passphrase", ErrNoKey)
	}
	return fmt.Errorf("%w: it is age-encrypted: set s3.identity_file to the age identity file (mode 0600) whose public key is in capture.encrypt.recipients", ErrNoKey)
}

// Decrypt returns the plaintext of r, which is encrypted with kind. The
// plaintext is authenticated as it is read: read it to io.EOF, and treat
// any error as the archive's. Errors (of Decrypt and of the reader) wrap
// ErrNoKey, ErrWrongKey, ErrTruncated or ErrTampered.
func Decrypt(r io.Reader, kind string, keys *Keys) (io.Reader, error) {
	if !keys.Has(kind) {
		return nil, NoKeyError(kind)
	}
	switch kind {
	case Age:
		return decryptAge(r, keys)
	case GPG:
		return decryptGPG(r, keys)
	}
	return nil, fmt.Errorf("crypt: unknown kind %q", kind)
}

func decryptAge(r io.Reader, keys *Keys) (io.Reader, error) {
	src := &eofWatcher{r: bufio.NewReader(r)}
	if head, _ := src.r.(*bufio.Reader).Peek(len("-----BEGIN")); string(head) == "-----BEGIN" {
		return nil, fmt.Errorf("%w: ASCII-armored age files are not read; capture writes binary ones", ErrTampered)
	}
	pr, err := age.Decrypt(src, keys.identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			return nil, fmt.Errorf("%w: no identity in %s matches the archive's recipients", ErrWrongKey, keys.IdentityFile)
		}
		return nil, ageError(err, src.eof)
	}
	return &errReader{r: pr, classify: func(err error) error { return ageError(err, src.eof) }}, nil
}

// ageError classifies age's errors. A chunk that fails authentication
// after the ciphertext ended was cut short (the last chunk may be short,
// so a cut looks like one): truncated; one that fails with ciphertext still
// to come was altered. Damage inside the last 64 KiB therefore reads as
// truncation, which it cannot be told from.
func ageError(err error, sawEOF bool) error {
	switch {
	case err == nil, err == io.EOF:
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF), sawEOF:
		return fmt.Errorf("%w: it ends before its authenticated end (or its last part was altered): %v", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %v", ErrTampered, err)
}

// eofWatcher notes when its reader has ended.
type eofWatcher struct {
	r   io.Reader
	eof bool
}

func (e *eofWatcher) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		e.eof = true
	}
	return n, err
}

func decryptGPG(r io.Reader, keys *Keys) (io.Reader, error) {
	br := bufio.NewReader(r)
	in := &eofWatcher{r: br}
	if head, _ := br.Peek(len("-----BEGIN PGP")); string(head) == "-----BEGIN PGP" {
		return nil, fmt.Errorf("%w: ASCII-armored gpg files are not read; write them with gpg -c without --armor", ErrTampered)
	}
	tried := false
	prompt := func(_ []openpgp.Key, symmetric bool) ([]byte, error) {
		if !symmetric {
			return nil, fmt.Errorf("%w: it is encrypted to a public key; Lifeboat reads symmetric (gpg -c) archives", ErrWrongKey)
		}
		if tried {
			return nil, fmt.Errorf("%w: the passphrase in %s does not decrypt it", ErrWrongKey, keys.PassphraseFile)
		}
		tried = true
		return keys.passphrase, nil
	}
	md, err := openpgp.ReadMessage(in, openpgp.EntityList{}, prompt, &packet.Config{})
	if err != nil {
		return nil, gpgOpenError(err, keys)
	}
	return &errReader{r: &gpgBody{md: md}, classify: func(err error) error { return gpgBodyError(err, in.eof) }}, nil
}

// gpgBody reads a message's body and, at its end, its integrity check.
type gpgBody struct{ md *openpgp.MessageDetails }

func (g *gpgBody) Read(p []byte) (int, error) {
	n, err := g.md.UnverifiedBody.Read(p)
	if err == io.EOF && g.md.SignatureError != nil {
		return n, g.md.SignatureError
	}
	return n, err
}

// gpgOpenError classifies a failure to open a message. OpenPGP's
// symmetric encryption (SEIPDv1) cannot tell a wrong passphrase from a
// damaged first block, and go-crypto makes both the same error on purpose:
// a message that does not open is reported as the wrong passphrase.
func gpgOpenError(err error, keys *Keys) error {
	var dk pgperrors.DecryptWithSessionKeyError
	switch {
	case errors.Is(err, ErrWrongKey):
		return err
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return fmt.Errorf("%w: %v", ErrTruncated, err)
	case errors.Is(err, pgperrors.ErrKeyIncorrect), errors.As(err, &dk):
		return fmt.Errorf("%w: the passphrase in %s does not decrypt it (or its first bytes are damaged): %v", ErrWrongKey, keys.PassphraseFile, err)
	}
	return fmt.Errorf("%w: %v", ErrTampered, err)
}

// gpgBodyError classifies a failure while reading an opened message: a
// failed integrity check (MDC) is an alteration; any other failure once
// the ciphertext has ended is a cut.
func gpgBodyError(err error, sawEOF bool) error {
	var sig pgperrors.SignatureError
	switch {
	case err == nil, err == io.EOF:
		return err
	case errors.As(err, &sig):
		return fmt.Errorf("%w: %v", ErrTampered, err)
	case errors.Is(err, io.ErrUnexpectedEOF), sawEOF:
		return fmt.Errorf("%w: it ends before its integrity check: %v", ErrTruncated, err)
	}
	return fmt.Errorf("%w: %v", ErrTampered, err)
}

// errReader maps a decrypting reader's errors onto the package's.
type errReader struct {
	r        io.Reader
	classify func(error) error
}

func (e *errReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	return n, e.classify(err)
}

// Recipients parses age public keys (age1…). The error names the bad one
// by position only.
func Recipients(keys []string) ([]age.Recipient, error) {
	var out []age.Recipient
	for i, k := range keys {
		r, err := age.ParseX25519Recipient(strings.TrimSpace(k))
		if err != nil {
			return nil, fmt.Errorf("recipient %d: not an age public key (age1…): %v", i, err)
		}
		out = append(out, r)
	}
	if len(out) == 0 {
		return nil, errors.New("no recipient")
	}
	return out, nil
}

// EncryptAge returns a writer whose plaintext reaches w encrypted to the
// recipients; Close it to write the authenticated end.
func EncryptAge(w io.Writer, recipients []age.Recipient) (io.WriteCloser, error) {
	return age.Encrypt(w, recipients...)
}
