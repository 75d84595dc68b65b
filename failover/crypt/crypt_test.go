package crypt

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"filippo.io/age"
)

func plaintext(t *testing.T) []byte {
	b := make([]byte, 300<<10+17) // several age chunks and a partial one
	rand.Read(b[:len(b)/2])
	copy(b[len(b)/2:], bytes.Repeat([]byte("PGDMP rows "), len(b)/22))
	return b
}

func writeSecret(t *testing.T, name string, b []byte, mode os.FileMode) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, mode); err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, mode)
	return p
}

func ageKeys(t *testing.T) (*Keys, string) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	keys, err := LoadKeys(writeSecret(t, "identity", []byte("# created: now\n"+id.String()+"\n"), 0o600), "")
	if err != nil {
		t.Fatal(err)
	}
	return keys, id.Recipient().String()
}

func encryptAge(t *testing.T, plain []byte, recipient string) []byte {
	rs, err := Recipients([]string{recipient})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w, err := EncryptAge(&buf, rs)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(plain)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func readAll(kind string, ct []byte, keys *Keys) ([]byte, error) {
	r, err := Decrypt(bytes.NewReader(ct), kind, keys)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// faults checks that each damage gets its own error.
func faults(t *testing.T, kind string, ct []byte, keys, wrong *Keys, plain []byte) {
	got, err := readAll(kind, ct, keys)
	if err != nil || !bytes.Equal(got, plain) {
		t.Fatalf("round trip: %v (%d bytes, want %d)", err, len(got), len(plain))
	}
	if Detect(ct) != kind {
		t.Fatalf("Detect = %q, want %q", Detect(ct), kind)
	}
	if _, err := readAll(kind, ct, wrong); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v, want ErrWrongKey", err)
	}
	if _, err := readAll(kind, ct, &Keys{}); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v, want ErrNoKey", err)
	}
	for _, cut := range []int{len(ct) - 1, len(ct) - 100, len(ct) / 2} {
		if _, err := readAll(kind, ct[:cut], keys); !errors.Is(err, ErrTruncated) {
			t.Fatalf("truncated to %d of %d bytes: %v, want ErrTruncated", cut, len(ct), err)
		}
	}
	for _, at := range []int{len(ct) / 3, len(ct) / 2} {
		bad := append([]byte(nil), ct...)
		bad[at] ^= 0x40
		_, err := readAll(kind, bad, keys)
		if !errors.Is(err, ErrTampered) {
			t.Fatalf("byte %d of %d flipped: %v, want ErrTampered", at, len(ct), err)
		}
	}
}

func TestAgeRoundTripAndFaults(t *testing.T) {
	keys, recipient := ageKeys(t)
	wrong, _ := ageKeys(t)
	plain := plaintext(t)
	faults(t, Age, encryptAge(t, plain, recipient), keys, wrong, plain)
}

// TestGPGSymmetric reads what real `gpg -c` writes, as forks of
// heroku-database-backups do.
func TestGPGSymmetric(t *testing.T) {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatalf("gpg is needed (Debian's gpg package): %v", err)
	}
	plain := plaintext(t)
	dir := t.TempDir()
	in := filepath.Join(dir, "x.dump")
	os.WriteFile(in, plain, 0o600)
	pass := writeSecret(t, "passphrase", []byte("correct horse battery\n"), 0o600)
	cmd := exec.Command(gpg, "--batch", "--yes", "--homedir", dir, "--pinentry-mode", "loopback", "--passphrase-file", pass,
		"--symmetric", "--cipher-algo", "AES256", "-o", in+".gpg", in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	ct, _ := os.ReadFile(in + ".gpg")
	keys, err := LoadKeys("", pass)
	if err != nil {
		t.Fatal(err)
	}
	wrong, _ := LoadKeys("", writeSecret(t, "wrong", []byte("incorrect\n"), 0o600))
	faults(t, GPG, ct, keys, wrong, plain)
}

func TestKeyFilesMustBePrivate(t *testing.T) {
	id, _ := age.GenerateX25519Identity()
	if _, err := LoadKeys(writeSecret(t, "identity", []byte(id.String()), 0o644), ""); err == nil {
		t.Fatal("an identity file readable by others was accepted")
	}
	if _, err := LoadKeys("", writeSecret(t, "pass", []byte("x"), 0o640)); err == nil {
		t.Fatal("a passphrase file readable by the group was accepted")
	}
	if _, err := LoadKeys(writeSecret(t, "identity", []byte("not a key"), 0o600), ""); err == nil {
		t.Fatal("garbage accepted as identities")
	}
	if _, err := Recipients([]string{"age1notakey"}); err == nil {
		t.Fatal("a bad recipient was accepted")
	}
}
