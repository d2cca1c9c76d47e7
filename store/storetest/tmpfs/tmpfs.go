// Package tmpfs mounts a small tmpfs for the disk-full fault tests. It
// needs the right to mount (root, or CAP_SYS_ADMIN); without it the test
// is skipped and says so.
package tmpfs

import (
	"os"
	"path/filepath"
	"testing"
)

// Mount mounts a tmpfs of size bytes on a fresh directory, unmounted when t
// ends, and returns the directory; it skips t when mounting is not allowed.
func Mount(t testing.TB, size int64) string {
	t.Helper()
	dir := t.TempDir()
	if err := mount(dir, size); err != nil {
		t.Skipf("disk-full test skipped: cannot mount a tmpfs here (%v); run as root or with CAP_SYS_ADMIN to run it", err)
	}
	t.Cleanup(func() {
		if err := unmount(dir); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// Fill writes a file into dir until the file system is full and returns a
// function that deletes it again.
func Fill(t testing.TB, dir string) (free func()) {
	t.Helper()
	name := filepath.Join(dir, "filler")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64<<10)
	for len(buf) > 0 {
		if _, err := f.Write(buf); err != nil {
			buf = buf[:len(buf)/2] // top up the last blocks
		}
	}
	if err := f.Close(); err != nil {
		t.Logf("closing the filler: %v", err)
	}
	return func() {
		if err := os.Remove(name); err != nil {
			t.Fatal(err)
		}
	}
}

// ReadOnly remounts dir read-only (ro) or read-write.
func ReadOnly(t testing.TB, dir string, ro bool) {
	t.Helper()
	if err := remount(dir, ro); err != nil {
		t.Fatalf("remount %s: %v", dir, err)
	}
}
