// Package scripts holds the tests of the shell helpers in lib.sh; the
// scripts themselves are bash.
package scripts

import (
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// holdFcntlLock takes a POSIX (fcntl) write lock on a new file, as apt and
// dpkg do on /var/lib/dpkg/lock-frontend, and returns the file's path and a
// function that releases the lock.
func holdFcntlLock(t *testing.T) (string, func()) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "lock-frontend")
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o640)
	if err != nil {
		t.Fatal(err)
	}
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_SETLK, &lk); err != nil {
		t.Fatal(err)
	}
	release := func() { f.Close() } // closing drops the process's fcntl locks on it
	t.Cleanup(release)
	return path, release
}

// waitLock runs apt_wait_lock from lib.sh against the given lock files.
func waitLock(t *testing.T, timeout int, files ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("bash", "-c", `. ./lib.sh && apt_wait_lock && echo "waited ${APT_LOCK_WAITED}s"`)
	cmd.Env = append(os.Environ(),
		"LIFEBOAT_APT_LOCK_FILES="+strings.Join(files, " "),
		"LIFEBOAT_APT_LOCK_TIMEOUT="+strconv.Itoa(timeout))
	return cmd
}

// A busy package manager (unattended-upgrades on a new machine) is waited
// for, with its pid and name said, and given up on after the timeout.
func TestAptWaitLock(t *testing.T) {
	free := filepath.Join(t.TempDir(), "lock")
	if err := os.WriteFile(free, nil, 0o640); err != nil {
		t.Fatal(err)
	}
	self := strconv.Itoa(os.Getpid())

	t.Run("free", func(t *testing.T) {
		out, err := waitLock(t, 5, free, "/nonexistent/lock").CombinedOutput()
		if err != nil || strings.TrimSpace(string(out)) != "waited 0s" {
			t.Fatalf("no lock held: %v\n%s", err, out)
		}
	})

	t.Run("timeout", func(t *testing.T) {
		held, _ := holdFcntlLock(t)
		start := time.Now()
		out, err := waitLock(t, 2, free, held).CombinedOutput()
		if err == nil {
			t.Fatalf("apt_wait_lock returned while the lock was held:\n%s", out)
		}
		for _, want := range []string{"waiting for the package manager", held + " is held by pid " + self, "still busy after 2s"} {
			if !strings.Contains(string(out), want) {
				t.Errorf("output lacks %q:\n%s", want, out)
			}
		}
		if d := time.Since(start); d < 2*time.Second {
			t.Errorf("gave up after %v, before the 2s timeout", d)
		}
	})

	t.Run("released", func(t *testing.T) {
		held, release := holdFcntlLock(t)
		cmd := waitLock(t, 30, held)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2500 * time.Millisecond)
		release()
		if err := cmd.Wait(); err != nil {
			t.Fatalf("apt_wait_lock failed after the lock was released: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), "is held by pid "+self) || strings.Contains(out.String(), "waited 0s") {
			t.Errorf("did not wait, or did not say for whom:\n%s", out.String())
		}
	})
}
