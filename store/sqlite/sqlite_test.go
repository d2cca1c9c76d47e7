package sqlite_test

import (
	"os"
	"path/filepath"
	"testing"

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
