package lock

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

func TestSecondAcquireFailsNamingTheHolder(t *testing.T) {
	path := filepath.Join(t.TempDir(), "app", "lock")
	l, err := Acquire(path, "lifeboat fetch")
	if err != nil {
		t.Fatal(err)
	}
	// flock locks are per open file description, so a second open in the
	// same process conflicts just like another process would.
	_, err = Acquire(path, "lifeboat restore")
	var le *LockedError
	if !errors.As(err, &le) || !errors.Is(err, ErrLocked) {
		t.Fatalf("second Acquire: got %v, want a LockedError", err)
	}
	if le.Holder.PID != os.Getpid() || le.Holder.Command != "lifeboat fetch" {
		t.Fatalf("holder = %+v", le.Holder)
	}
	if !strings.Contains(err.Error(), "lifeboat fetch") {
		t.Fatalf("message does not name the holder: %v", err)
	}
	if err := l.Release(); err != nil {
		t.Fatal(err)
	}
	l2, err := Acquire(path, "lifeboat restore")
	if err != nil {
		t.Fatalf("Acquire after Release: %v", err)
	}
	l2.Release()
}

func TestLockOfKilledProcessIsFree(t *testing.T) {
	// A child holds the lock with flock(1)-like behaviour via a shell: we use
	// our own test binary as the child to avoid depending on util-linux.
	// The child is killed, so it must not make a t.TempDir: nothing would
	// remove it.
	if os.Getenv("LOCK_CHILD") != "" {
		if _, err := Acquire(os.Getenv("LOCK_CHILD"), "child"); err != nil {
			os.Exit(3)
		}
		os.Stdout.Write([]byte("locked\n"))
		select {}
	}
	path := filepath.Join(t.TempDir(), "lock")
	cmd := exec.Command(os.Args[0], "-test.run=^TestLockOfKilledProcessIsFree$")
	cmd.Env = append(os.Environ(), "LOCK_CHILD="+path)
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 7)
	if _, err := out.Read(buf); err != nil || string(buf) != "locked\n" {
		t.Fatalf("child did not take the lock: %q %v", buf, err)
	}
	if _, err := Acquire(path, "parent"); !errors.Is(err, ErrLocked) {
		t.Fatalf("lock held by child: got %v", err)
	}
	cmd.Process.Kill()
	cmd.Wait()
	l, err := Acquire(path, "parent")
	if err != nil {
		t.Fatalf("lock of killed child should be free: %v", err)
	}
	l.Release()
}

// TestLockDoesNotFollowASymlink: a link planted at the lock's path (by a
// user who could write to the state directory once) must not make a root
// process truncate its target.
func TestLockDoesNotFollowASymlink(t *testing.T) {
	dir := t.TempDir()
	victim := filepath.Join(dir, "passwd")
	os.WriteFile(victim, []byte("root:x:0:0::/root:/bin/bash\n"), 0o644)
	appDir := filepath.Join(dir, "state", "shop")
	os.MkdirAll(appDir, 0o700)
	os.Symlink(victim, filepath.Join(appDir, "lock"))
	if l, err := Acquire(filepath.Join(appDir, "lock"), "lifeboat fetch"); !errors.Is(err, fsutil.ErrUnsafePath) {
		l.Release()
		t.Fatalf("lock at a symlink: %v, want ErrUnsafePath", err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "root:x:0:0::/root:/bin/bash\n" {
		t.Fatalf("the symlink's target was changed: %q", b)
	}
}

func TestLockRefusesAnOpenDirectory(t *testing.T) {
	appDir := filepath.Join(t.TempDir(), "shop")
	os.MkdirAll(appDir, 0o700)
	os.Chmod(appDir, 0o777)
	if l, err := Acquire(filepath.Join(appDir, "lock"), "lifeboat fetch"); !errors.Is(err, fsutil.ErrUnsafePath) {
		l.Release()
		t.Fatalf("lock in a world-writable directory: %v, want ErrUnsafePath", err)
	}
}
