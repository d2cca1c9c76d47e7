package sqlite_test

import (
	"os"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest"
)

func openFile(t testing.TB) *sqlstore.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store { return openFile(t) })
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s, err := sqlite.Open(t.Context(), ":memory:")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	})
}

func TestMigrations(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	storetest.RunMigrations(t, func(t *testing.T) *sqlstore.Store {
		s, err := sqlite.Connect(t.Context(), path)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}, os.DirFS("../../migrations/testdata"))
}

func TestFederationIDBackfill(t *testing.T) {
	s, err := sqlite.Connect(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.RunFederationIDBackfill(t, s)
}

func TestDuplicateEmailsMigration(t *testing.T) {
	s, err := sqlite.Connect(t.Context(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	storetest.RunDuplicateEmailsMigration(t, s)
}

func TestPragmas(t *testing.T) {
	s := openFile(t)
	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1", "busy_timeout": "5000"} {
		var got string
		if err := s.DB().QueryRowContext(t.Context(), "PRAGMA "+pragma).Scan(&got); err != nil || got != want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", pragma, got, err, want)
		}
	}
}

// TestBackup copies a database that is being written to and checks the copy
// is whole and complete up to some point.
func TestBackup(t *testing.T) {
	for name, path := range map[string]string{"file": filepath.Join(t.TempDir(), "keygate.db"), "memory": ":memory:"} {
		t.Run(name, func(t *testing.T) {
			ctx := t.Context()
			s, err := sqlite.Open(ctx, path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if err := s.CreateRealm(ctx, store.Realm{ID: "r1", Name: "r1", Created: time.Now()}); err != nil {
				t.Fatal(err)
			}
			stop, done := make(chan struct{}), make(chan error)
			go func() { // keep writing while the backup runs
				for i := 0; ; i++ {
					select {
					case <-stop:
						done <- nil
						return
					default:
					}
					if err := s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: strconv.Itoa(i), RealmID: "r1",
						Requested: time.Now(), Expires: time.Now()}); err != nil {
						done <- err
						return
					}
				}
			}()
			dst := filepath.Join(t.TempDir(), "backup.db")
			err = s.Backup(ctx, dst)
			close(stop)
			if err := <-done; err != nil {
				t.Fatal(err)
			}
			if err != nil {
				t.Fatal(err)
			}
			if err := s.Backup(ctx, dst); err == nil {
				t.Error("Backup overwrote an existing file")
			}

			b, err := sqlite.Open(ctx, dst)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			var check string
			if err := b.DB().QueryRowContext(ctx, "PRAGMA integrity_check").Scan(&check); err != nil || check != "ok" {
				t.Fatalf("integrity_check: %q, %v", check, err)
			}
			if _, err := b.GetRealm(ctx, "r1"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// TestFileModes: the database, its -wal and -shm files and a backup hold
// client secrets, password hashes and (without --db-key) signing keys, so
// they are created 0600 whatever the umask: the usual 022 alone would give
// 0644, and 277 would leave the owner unable to write.
func TestFileModes(t *testing.T) {
	for _, umask := range []int{0o022, 0o277} {
		dir := t.TempDir()
		old := syscall.Umask(umask)
		path := filepath.Join(dir, "keygate.db")
		s, err := sqlite.Open(t.Context(), path)
		if err != nil {
			syscall.Umask(old)
			t.Fatal(err)
		}
		// A write makes sure the -wal and -shm files exist.
		err = s.CreateRealm(t.Context(), store.Realm{ID: "r1", Name: "r1", Created: time.Now()})
		dst := filepath.Join(dir, "backup.db")
		if err == nil {
			err = s.Backup(t.Context(), dst)
		}
		syscall.Umask(old)
		if err != nil {
			s.Close()
			t.Fatalf("umask %#o: %v", umask, err)
		}
		for _, f := range []string{path, path + "-wal", path + "-shm", dst} {
			fi, err := os.Stat(f)
			if err != nil {
				t.Errorf("umask %#o: %s: %v", umask, filepath.Base(f), err)
				continue
			}
			if m := fi.Mode().Perm(); m != 0o600 {
				t.Errorf("umask %#o: %s: mode %#o, want 0600", umask, filepath.Base(f), m)
			}
		}
		s.Close()
	}
}

// TestCacheVersionsShared: a second process on the same file (keygate
// users import, another serve) is seen by this one's caches.
func TestCacheVersionsShared(t *testing.T) {
	path := filepath.Join(t.TempDir(), "keygate.db")
	a, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	b, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	storetest.RunCacheVersionsShared(t, a, b)
}
