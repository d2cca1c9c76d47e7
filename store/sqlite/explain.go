package sqlite

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	sqlite3 "modernc.org/sqlite/lib"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
)

// Explain rewords an error met opening, migrating or first writing the
// database at path when its cause is the disk: full, read-only or failing.
// SQLite alone says "disk I/O error (4874)" for a -shm file that cannot
// grow on a full disk. The error stays in the chain; other errors pass
// unchanged.
func Explain(path string, err error) error {
	if err == nil || strings.HasPrefix(path, "file:") || path == ":memory:" {
		return err
	}
	c := code(err) & 0xff
	full := c == sqlite3.SQLITE_FULL || errors.Is(err, syscall.ENOSPC)
	free, ferr := freeSpace(path)
	if !full && ferr == nil && free < sqlstore.MinFreeSpace &&
		(c == sqlite3.SQLITE_IOERR || c == sqlite3.SQLITE_CANTOPEN || errors.Is(err, store.ErrUnavailable)) {
		full = true // a -wal or -shm file could not grow, or the write probe saw no room
	}
	switch {
	case full:
		left := ""
		if ferr == nil {
			left = fmt.Sprintf(" (%s free)", bytesText(free))
		}
		return fmt.Errorf("sqlite: the disk holding %s is full%s: free some space or move the database, then start again: %w", path, left, err)
	case c == sqlite3.SQLITE_READONLY || errors.Is(err, syscall.EROFS) || errors.Is(err, os.ErrPermission) ||
		((c == sqlite3.SQLITE_CANTOPEN || c == sqlite3.SQLITE_IOERR) && !writable(path)):
		return fmt.Errorf("sqlite: %s is read-only: keygate must write the database file and create its -wal and -shm files next to it in %s (a read-only file system, or no write permission for this user): %w",
			path, filepath.Dir(path), err)
	case c == sqlite3.SQLITE_IOERR:
		return fmt.Errorf("sqlite: the disk holding %s failed a read or write (I/O error): check the disk and file system: %w", path, err)
	}
	return err
}

func bytesText(n uint64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}
