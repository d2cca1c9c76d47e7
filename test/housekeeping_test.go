package test

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// TestServeSwitchesOldSQLiteFile: serve started on a SQLite file made
// before auto_vacuum=incremental switches it before listening, with one
// VACUUM, and says so in one log line; the next start has nothing to say.
func TestServeSwitchesOldSQLiteFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "old.db")
	raw, err := sql.Open("sqlite", path+"?_pragma=auto_vacuum(0)&_pragma=journal_mode(WAL)")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`CREATE TABLE leftover (b BLOB)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()

	s := startServer(t, path, nil, "--log-level", "info")
	if n := strings.Count(s.logs.String(), "auto_vacuum=incremental with a one-time VACUUM"); n != 1 {
		t.Fatalf("%d log lines about the switch, want 1; log:\n%s", n, s.logs.String())
	}
	s.stop(t)

	raw, err = sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	var mode int
	if err := raw.QueryRow(`PRAGMA auto_vacuum`).Scan(&mode); err != nil || mode != 2 {
		t.Fatalf("auto_vacuum = %d, %v after serve; want 2 (incremental)", mode, err)
	}
	raw.Close()

	s = startServer(t, path, nil, "--log-level", "info")
	if strings.Contains(s.logs.String(), "VACUUM") {
		t.Errorf("second start logged a VACUUM again:\n%s", s.logs.String())
	}
}
