package fsutil

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWriteAtomicLeavesOldContentOnFailure(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f.json")
	if err := WriteFileAtomic(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteAtomic(p, 0o600, func(w io.Writer) error {
		w.Write([]byte("half-writ"))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("got %v", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Fatalf("content after a failed write: %q", b)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("temp files left: %v", entries)
	}
	if err := WriteFileAtomic(p, []byte("new"), 0o640); err != nil {
		t.Fatal(err)
	}
	st, _ := os.Stat(p)
	if b, _ := os.ReadFile(p); string(b) != "new" || st.Mode().Perm() != 0o640 {
		t.Fatalf("%q %v", b, st.Mode())
	}
}

func TestCheckSecretFile(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(p, []byte("x"), 0o644)
	if err := CheckSecretFile(p); !errors.Is(err, ErrTooOpen) {
		t.Fatalf("0644: %v", err)
	}
	os.Chmod(p, 0o600)
	if err := CheckSecretFile(p); err != nil {
		t.Fatalf("0600: %v", err)
	}
	if err := CheckSecretFile(p + ".missing"); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("missing: %v", err)
	}
}

// nobody is a uid that is not the one running the tests.
func nobody(t *testing.T) int {
	if os.Geteuid() != 0 {
		t.Fatal("this test changes file owners: run it as root (as CI does)")
	}
	return 65534
}

func TestCheckSecretFileOwner(t *testing.T) {
	p := filepath.Join(t.TempDir(), "hook-secret")
	os.WriteFile(p, []byte("k3y"), 0o600)
	if err := os.Chown(p, nobody(t), -1); err != nil {
		t.Fatal(err)
	}
	err := CheckSecretFile(p)
	if !errors.Is(err, ErrTooOpen) || !strings.Contains(err.Error(), "owned by uid 65534") {
		t.Fatalf("a 0600 secret owned by nobody: %v, want ErrTooOpen naming the owner", err)
	}
}

func TestCheckPrivateDir(t *testing.T) {
	base := t.TempDir()
	ok := filepath.Join(base, "ok")
	if err := MkdirPrivate(ok); err != nil {
		t.Fatalf("a fresh 0700 directory: %v", err)
	}
	os.Chmod(ok, 0o755)
	if err := CheckPrivateDir(ok); err != nil {
		t.Fatalf("0755 (others may read, not write): %v", err)
	}
	for name, setup := range map[string]func(p string) error{
		"world-writable":   func(p string) error { return os.Chmod(p, 0o777) },
		"sticky /tmp-like": func(p string) error { return os.Chmod(p, 0o1777) },
		"group-writable":   func(p string) error { return os.Chmod(p, 0o770) },
		"owned by nobody":  func(p string) error { return os.Chown(p, nobody(t), -1) },
	} {
		p := filepath.Join(base, strings.ReplaceAll(name, " ", "-"))
		if err := MkdirPrivate(p); err != nil {
			t.Fatal(err)
		}
		if err := setup(p); err != nil {
			t.Fatal(err)
		}
		if err := CheckPrivateDir(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("%s: %v, want ErrUnsafePath", name, err)
		}
		if err := MkdirPrivate(p); !errors.Is(err, ErrUnsafePath) {
			t.Errorf("MkdirPrivate of an existing %s directory: %v, want ErrUnsafePath", name, err)
		}
	}
	f := filepath.Join(base, "file")
	os.WriteFile(f, nil, 0o600)
	if err := CheckPrivateDir(f); !errors.Is(err, ErrUnsafePath) {
		t.Errorf("a file: %v", err)
	}
}

func TestOpenNoFollow(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "victim")
	os.WriteFile(victim, []byte("precious"), 0o644)
	link := filepath.Join(dir, "lock")
	os.Symlink(victim, link)
	if _, err := OpenNoFollow(link, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600); !errors.Is(err, ErrUnsafePath) {
		t.Fatalf("through a symlink: %v, want ErrUnsafePath", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious" {
		t.Fatalf("the link's target was changed: %q", b)
	}
	f, err := OpenNoFollow(filepath.Join(dir, "plain"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.Close()
}

func TestSpaceOf(t *testing.T) {
	sp, err := SpaceOf(t.TempDir())
	if err != nil || sp.Total <= 0 || sp.Free < 0 || sp.Free > sp.Total {
		t.Fatalf("%+v %v", sp, err)
	}
}
