package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSecretFileModes: the SQLite database, its -wal and -shm files and
// `keygate backup` output hold client secrets, password hashes and (without
// --db-key) signing keys: they are created 0600 under the usual 022 umask,
// and a start on a database others can read warns.
func TestSecretFileModes(t *testing.T) {
	dir := t.TempDir()
	old := syscall.Umask(0o022) // inherited by the server and the backup
	defer syscall.Umask(old)
	db := filepath.Join(dir, "keygate.db")
	s := startServer(t, db, []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"})
	if strings.Contains(s.logs.String(), "readable by other users") {
		t.Errorf("warned about a fresh database:\n%s", s.logs.String())
	}
	backup := filepath.Join(dir, "backup.db")
	if out, err := exec.Command(binary, "backup", "--db", "sqlite:"+db, "--out", backup).CombinedOutput(); err != nil {
		t.Fatalf("backup: %v %s", err, out)
	}
	for _, f := range []string{db, db + "-wal", db + "-shm", backup} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Errorf("%s: %v", filepath.Base(f), err)
		} else if m := fi.Mode().Perm(); m != 0o600 {
			t.Errorf("%s: mode %#o, want 0600", filepath.Base(f), m)
		}
	}
	s.stop(t)

	if err := os.Chmod(db, 0o644); err != nil {
		t.Fatal(err)
	}
	s = startServer(t, db, nil)
	if logs := s.logs.String(); !strings.Contains(logs, "readable by other users") || !strings.Contains(logs, "keygate.db mode=0644") {
		t.Errorf("no warning about a world-readable database:\n%s", logs)
	}
}
