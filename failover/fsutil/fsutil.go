// Package fsutil holds the file-system primitives every piece of Lifeboat
// uses for state that must never be half-written: the temp-file + fsync +
// rename pattern, directory syncs, and the checks that keep a root process
// from being steered by other users of the machine: secret files only the
// running user can read, private directories, no symbolic link followed
// where Lifeboat writes.
package fsutil

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// ErrTooOpen is returned by CheckSecretFile when a secret file can be read
// by users other than its owner, or is owned by another user.
var ErrTooOpen = errors.New("file permissions too open")

// ErrUnsafePath is returned when a path Lifeboat writes to could be
// steered by another local user: a directory that others may write to or
// that another user owns, or a symbolic link where Lifeboat creates a file.
var ErrUnsafePath = errors.New("unsafe path")

// WriteFileAtomic writes data to path so that readers see either the old
// content or the new one, never a mix: it writes a temp file in the same
// directory, fsyncs it, renames it over path and fsyncs the directory.
func WriteFileAtomic(path string, data []byte, perm fs.FileMode) error {
	return WriteAtomic(path, perm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteJSONAtomic marshals v as indented JSON and writes it atomically.
func WriteJSONAtomic(path string, v any, perm fs.FileMode) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encode %s: %w", filepath.Base(path), err)
	}
	return WriteFileAtomic(path, append(b, '\n'), perm)
}

// WriteAtomic is WriteFileAtomic for content produced by a function.
func WriteAtomic(path string, perm fs.FileMode, write func(io.Writer) error) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = write(f); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: sync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return SyncDir(dir)
}

// SyncDir fsyncs a directory so that renames and removals in it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// CommitFile fsyncs the file at tmp, renames it to path and fsyncs the
// directory: the last step of writing a large file that was produced in place.
func CommitFile(tmp, path string) error {
	f, err := os.OpenFile(tmp, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("commit %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("commit %s: sync: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("commit %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("commit %s: %w", path, err)
	}
	return SyncDir(filepath.Dir(path))
}

// CheckSecretFile returns an error wrapping ErrTooOpen when the file at path
// is readable or writable by group or others, or is not owned by the user
// running Lifeboat (its owner could change it, or its mode, at any time),
// and the os error when it cannot be read at all.
func CheckSecretFile(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if st.IsDir() {
		return fmt.Errorf("%s is a directory, not a file", path)
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("%s is owned by uid %d, not by the user running lifeboat (uid %d): %w (run: chown %d %s)",
			path, uid, os.Geteuid(), ErrTooOpen, os.Geteuid(), path)
	}
	if mode := st.Mode().Perm(); mode&0o077 != 0 {
		return fmt.Errorf("%s has mode %04o: %w (run: chmod 600 %s)", path, mode, ErrTooOpen, path)
	}
	return nil
}

// CheckPrivateDir returns an error wrapping ErrUnsafePath unless path is a
// directory owned by the running user that neither its group nor others
// may write to: in a directory another user can write to, that user can
// plant a symbolic link or swap a file under Lifeboat's feet. The
// directory itself may be reached through a symbolic link (the operator's
// choice); what Lifeboat creates inside it never is.
func CheckPrivateDir(path string) error {
	st, err := os.Stat(path)
	if err != nil {
		return err
	}
	if !st.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafePath, path)
	}
	if uid, ok := owner(st); ok && uid != os.Geteuid() {
		return fmt.Errorf("%w: %s is owned by uid %d, not by the user running lifeboat (uid %d): run chown %d %s, or point the config elsewhere",
			ErrUnsafePath, path, uid, os.Geteuid(), os.Geteuid(), path)
	}
	if mode := st.Mode().Perm(); mode&0o022 != 0 {
		return fmt.Errorf("%w: %s has mode %04o: other users may write to it: run chmod go-w %s (0700 is best)",
			ErrUnsafePath, path, mode, path)
	}
	return nil
}

// MkdirPrivate creates the directory path (and its parents) with mode
// 0700 when missing, then checks it with CheckPrivateDir.
func MkdirPrivate(path string) error {
	if err := os.MkdirAll(path, 0o700); err != nil {
		return err
	}
	return CheckPrivateDir(path)
}

// OpenNoFollow is os.OpenFile that refuses to follow a symbolic link at
// path: it returns an error wrapping ErrUnsafePath instead. Use it for
// every file Lifeboat creates or rewrites in place.
func OpenNoFollow(path string, flag int, perm fs.FileMode) (*os.File, error) {
	f, err := os.OpenFile(path, flag|syscall.O_NOFOLLOW, perm)
	if errors.Is(err, syscall.ELOOP) {
		return nil, fmt.Errorf("%w: %s is a symbolic link; lifeboat does not follow links where it writes: remove it", ErrUnsafePath, path)
	}
	return f, err
}

func owner(st fs.FileInfo) (int, bool) {
	if sys, ok := st.Sys().(*syscall.Stat_t); ok {
		return int(sys.Uid), true
	}
	return 0, false
}

// ReadJSON decodes the JSON file at path into v.
func ReadJSON(path string, v any) error {
	b, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, v); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	return nil
}
