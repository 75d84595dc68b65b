package fsutil

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// Space is the room on the file system holding a path.
type Space struct {
	// Free is what an unprivileged user may still write (f_bavail), Total
	// the file system's size, both in bytes.
	Free, Total int64
}

// SpaceOf returns the free and total bytes of the file system holding path.
func SpaceOf(path string) (Space, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		return Space{}, fmt.Errorf("free space of %s: %w", path, err)
	}
	return Space{Free: int64(st.Bavail) * int64(st.Bsize), Total: int64(st.Blocks) * int64(st.Bsize)}, nil
}
