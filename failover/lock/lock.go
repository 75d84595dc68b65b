// Package lock keeps two Lifeboat runs from working on the same app at once.
// It is an flock(2) on a file in the app's state directory: the kernel drops
// it when the holder dies, so a killed run never leaves a stale lock, and the
// file records who holds it so the second run can say so.
package lock

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/lifeboat-dr/lifeboat/failover/fsutil"
)

// ErrLocked is returned by Acquire when another process holds the lock.
var ErrLocked = errors.New("another lifeboat run holds this app's lock")

// Holder describes the process that holds a lock.
type Holder struct {
	PID     int       `json:"pid"`
	Host    string    `json:"host"`
	Command string    `json:"command"`
	Since   time.Time `json:"since"`
}

func (h Holder) String() string {
	if h.PID == 0 {
		return "an unknown process"
	}
	return fmt.Sprintf("pid %d on %s running %q since %s (%s ago)", h.PID, h.Host, h.Command,
		h.Since.Format(time.RFC3339), time.Since(h.Since).Round(time.Second))
}

// Lock is a held lock; Release it when done.
type Lock struct {
	f    *os.File
	path string
}

// LockedError is the error returned when the lock is held; it wraps ErrLocked.
type LockedError struct {
	Path   string
	Holder Holder
}

func (e *LockedError) Error() string {
	return fmt.Sprintf("%v: held by %s (lock file %s); wait for it to finish, or stop it if it is stuck", ErrLocked, e.Holder, e.Path)
}

// Unwrap makes errors.Is(err, ErrLocked) true.
func (e *LockedError) Unwrap() error { return ErrLocked }

// Acquire takes the lock file at path without waiting. command describes
// this run for whoever finds the lock held. It returns a *LockedError
// (wrapping ErrLocked) when another process holds it, and an error
// wrapping fsutil.ErrUnsafePath when the lock's directory may be written
// by other users or the lock file is a symbolic link (which a process
// running as root must not follow: opening it would empty its target).
func Acquire(path, command string) (*Lock, error) {
	if err := fsutil.MkdirPrivate(filepath.Dir(path)); err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	f, err := fsutil.OpenNoFollow(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		defer f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			var h Holder
			b, _ := os.ReadFile(path)
			_ = json.Unmarshal(b, &h)
			return nil, &LockedError{Path: path, Holder: h}
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	host, _ := os.Hostname()
	h := Holder{PID: os.Getpid(), Host: host, Command: command, Since: time.Now().UTC().Truncate(time.Second)}
	b, _ := json.Marshal(h)
	// The holder record is advisory; the flock is what protects. Write it in
	// place (not by rename) so the locked inode stays the same.
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return &Lock{f: f, path: path}, nil
}

// Release drops the lock. It is safe to call more than once.
func (l *Lock) Release() error {
	if l == nil || l.f == nil {
		return nil
	}
	_ = l.f.Truncate(0)
	err := syscall.Flock(int(l.f.Fd()), syscall.LOCK_UN)
	cerr := l.f.Close()
	l.f = nil
	return errors.Join(err, cerr)
}

// CommandLine renders os.Args for the holder record, without values of
// flags that could carry secrets (there are none today; keep it short).
func CommandLine() string {
	return strings.Join(append([]string{filepath.Base(os.Args[0])}, os.Args[1:]...), " ")
}
