package sqlite

import (
	"os"
	"path/filepath"
	"syscall"
)

// freeSpace is the space an unprivileged writer may still use on the file
// system holding path.
func freeSpace(path string) (uint64, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(filepath.Dir(path), &st); err != nil {
		return 0, err
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil
}

// writable says whether this process may write path's directory and, when
// it exists, path.
func writable(path string) bool {
	if syscall.Access(filepath.Dir(path), 2 /* W_OK */) != nil {
		return false
	}
	if _, err := os.Stat(path); err == nil {
		return syscall.Access(path, 2) == nil
	}
	return true
}
