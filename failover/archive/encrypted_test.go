package archive

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/lifeboat-dr/lifeboat/failover/crypt"
	"github.com/lifeboat-dr/lifeboat/internal/testenv"
)

func secretFile(t *testing.T, name string, b []byte) string {
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// ageKeys returns keys holding a fresh identity, and its recipient.
func ageKeys(t *testing.T) (*crypt.Keys, age.Recipient) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	k, err := crypt.LoadKeys(secretFile(t, "identity", []byte(id.String()+"\n")), "")
	if err != nil {
		t.Fatal(err)
	}
	return k, id.Recipient()
}

func ageEncrypt(t *testing.T, b []byte, r age.Recipient) []byte {
	var buf bytes.Buffer
	w, err := crypt.EncryptAge(&buf, []age.Recipient{r})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func withKeys(f *Fetcher, k *crypt.Keys) *Fetcher {
	f.Scan.Keys, f.Limits.Keys = k, k
	return f
}

func TestFetchAgeEncrypted(t *testing.T) {
	d := fixtureDump(t)
	keys, rcpt := ageKeys(t)
	const p = "backups/app/DATABASE_URL/"
	st := newMemStore()
	older := p + "2024-05-01_03-00_UTC__app_DATABASE_URL.dump.gz"
	st.put(older, testenv.Gzip(t, withCreatedAt(t, d, at("2024-05-01 03:00"))), at("2024-05-01 03:05"))
	newer := p + "2024-05-02_03-00_UTC__app_DATABASE_URL.dump.gz.age"
	plainNewer := withCreatedAt(t, d, at("2024-05-02 03:00"))
	st.put(newer, ageEncrypt(t, testenv.Gzip(t, plainNewer), rcpt), at("2024-05-02 03:05"))

	// With the key: the newest, decrypted and verified.
	f := withKeys(newTestFetcher(t, st, p), keys)
	res, err := f.Fetch(context.Background(), FetchRequest{})
	if err != nil || res.Key != newer || res.Entry.Wrap != "age+gzip" {
		t.Fatalf("fetch: %v, %s (%+v)", err, res.Key, res.Entry)
	}
	got, _ := os.ReadFile(res.Entry.Path)
	if !bytes.Equal(got, plainNewer) {
		t.Fatal("the cached dump is not the plaintext")
	}

	// Without a key: the newer archive is not silently passed over, and
	// the message names the key to set.
	res, err = newTestFetcher(t, st, p).Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrNewerUnusable) || res.Key != older || !strings.Contains(strings.Join(res.Warnings, "\n"), "s3.identity_file") {
		t.Fatalf("without a key: %v, %s, %v", err, res.Key, res.Warnings)
	}

	// With another key: said so.
	other, _ := ageKeys(t)
	res, err = withKeys(newTestFetcher(t, st, p), other).Fetch(context.Background(), FetchRequest{})
	if !errors.Is(err, ErrNewerUnusable) || !strings.Contains(strings.Join(res.Warnings, "\n"), crypt.ErrWrongKey.Error()) {
		t.Fatalf("wrong key: %v, %v", err, res.Warnings)
	}
}

func TestUnpackEncryptedFaults(t *testing.T) {
	d := fixtureDump(t)
	keys, rcpt := ageKeys(t)
	ct := ageEncrypt(t, d, rcpt)
	dir := t.TempDir()
	unpack := func(b []byte, k *crypt.Keys) error {
		src := filepath.Join(dir, "obj")
		os.WriteFile(src, b, 0o600)
		dst := filepath.Join(dir, "dump")
		os.Remove(dst)
		_, err := Unpack(context.Background(), src, dst, WrapAge, Expect{}, Limits{Keys: k})
		if err != nil {
			if _, serr := os.Stat(dst); serr == nil {
				t.Fatalf("a failed unpack left %s", dst)
			}
		}
		return err
	}
	if err := unpack(ct, keys); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "dump")); !bytes.Equal(got, d) {
		t.Fatal("plaintext differs")
	}
	other, _ := ageKeys(t)
	if err := unpack(ct, other); !errors.Is(err, crypt.ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	if err := unpack(ct, nil); !errors.Is(err, crypt.ErrNoKey) || !strings.Contains(err.Error(), "s3.identity_file") {
		t.Fatalf("no key: %v", err)
	}
	if err := unpack(ct[:len(ct)-1000], keys); !errors.Is(err, crypt.ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	bad := append([]byte(nil), ct...)
	bad[len(bad)/3] ^= 1
	if err := unpack(bad, keys); !errors.Is(err, crypt.ErrTampered) || !errors.Is(err, ErrCorrupt) {
		t.Fatalf("tampered: %v", err)
	}
}

// TestFetchGPGSymmetric reads the .gpg archives forks of
// heroku-database-backups write (`gpg -c` of the gzipped dump).
func TestFetchGPGSymmetric(t *testing.T) {
	gpg, err := exec.LookPath("gpg")
	if err != nil {
		t.Fatalf("gpg is needed (Debian's gpg package): %v", err)
	}
	d := withCreatedAt(t, fixtureDump(t), at("2024-05-02 03:00"))
	dir := t.TempDir()
	in := filepath.Join(dir, "x.dump.gz")
	os.WriteFile(in, testenv.Gzip(t, d), 0o600)
	pass := secretFile(t, "passphrase", []byte("s3cret passphrase\n"))
	out, err := exec.Command(gpg, "--batch", "--yes", "--homedir", dir, "--pinentry-mode", "loopback",
		"--passphrase-file", pass, "-c", "-o", in+".gpg", in).CombinedOutput()
	if err != nil {
		t.Fatalf("gpg: %v\n%s", err, out)
	}
	ct, _ := os.ReadFile(in + ".gpg")
	const p = "backups/app/DATABASE_URL/"
	st := newMemStore()
	key := p + "2024-05-02_03-00_UTC__app_DATABASE_URL.dump.gz.gpg"
	st.put(key, ct, at("2024-05-02 03:05"))

	res, err := newTestFetcher(t, st, p).Fetch(context.Background(), FetchRequest{})
	if err == nil || res.Listing == nil || !strings.Contains(res.Listing.Candidates[0].SkipReason, "s3.passphrase_file") {
		t.Fatalf("without the passphrase: %v %+v", err, res.Listing)
	}
	keys, err := crypt.LoadKeys("", pass)
	if err != nil {
		t.Fatal(err)
	}
	res, err = withKeys(newTestFetcher(t, st, p), keys).Fetch(context.Background(), FetchRequest{})
	if err != nil || res.Key != key || res.Entry.Wrap != "gpg+gzip" {
		t.Fatalf("with the passphrase: %v %+v", err, res.Entry)
	}
	if got, _ := os.ReadFile(res.Entry.Path); !bytes.Equal(got, d) {
		t.Fatal("plaintext differs")
	}
}
