package postgres_test

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest"
)

const envDSN = "KEYGATE_TEST_POSTGRES"

// dsn returns the test server's DSN or skips the test.
func dsn(t testing.TB) string {
	d := os.Getenv(envDSN)
	if d == "" {
		t.Skipf("PostgreSQL tests are off: set %s to a DSN of a server the tests may create schemas on, e.g. "+
			"%s='postgres://postgres@127.0.0.1:5432/test?sslmode=disable'", envDSN, envDSN)
	}
	return d
}

// open opens a store in a fresh schema with a random name, dropped when the
// test ends.
func open(t testing.TB) *sqlstore.Store {
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	s := connect(t, schema)
	if err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dropSchema(t, s, schema) })
	return s
}

// connect connects to schema (creating it) without migrating.
func connect(t testing.TB, schema string) *sqlstore.Store {
	d := dsn(t)
	if u, err := url.Parse(d); err == nil && u.Scheme != "" {
		q := u.Query()
		q.Set("schema", schema)
		u.RawQuery = q.Encode()
		d = u.String()
	} else {
		d += " schema=" + schema
	}
	s, err := postgres.Connect(t.Context(), d)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// TestConformance runs the suite in one schema, emptied before each test:
// creating a schema per test costs most of a second of DDL.
func TestConformance(t *testing.T) {
	s := open(t)
	var tables []string
	rows, err := s.DB().QueryContext(t.Context(), `SELECT table_name FROM information_schema.tables
		WHERE table_schema = current_schema() AND table_name <> 'schema_migrations'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		tables = append(tables, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	storetest.Run(t, func(t *testing.T) store.Store {
		// One multi-statement exec is one implicit transaction: one fsync,
		// where TRUNCATE costs one per table.
		if _, err := s.DB().ExecContext(t.Context(), "DELETE FROM "+strings.Join(tables, "; DELETE FROM ")); err != nil {
			t.Fatal(err)
		}
		return s
	})
}

func TestMigrations(t *testing.T) {
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	admin := connect(t, schema)
	t.Cleanup(func() { dropSchema(t, admin, schema) })
	storetest.RunMigrations(t, func(t *testing.T) *sqlstore.Store { return connect(t, schema) }, os.DirFS("../../migrations/testdata"))
}

func TestFederationIDBackfill(t *testing.T) {
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	s := connect(t, schema)
	t.Cleanup(func() { dropSchema(t, s, schema) })
	storetest.RunFederationIDBackfill(t, s)
}

func TestDuplicateEmailsMigration(t *testing.T) {
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	s := connect(t, schema)
	t.Cleanup(func() { dropSchema(t, s, schema) })
	storetest.RunDuplicateEmailsMigration(t, s)
}

func dropSchema(t testing.TB, s *sqlstore.Store, schema string) {
	if _, err := s.DB().ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE"); err != nil {
		t.Errorf("dropping test schema: %v", err)
	}
}

func TestBackupRefused(t *testing.T) {
	err := open(t).Backup(t.Context(), filepath.Join(t.TempDir(), "backup"))
	if err == nil || !strings.Contains(err.Error(), "pg_dump") {
		t.Fatalf("Backup: got %v, want an error pointing at pg_dump", err)
	}
}

// TestCacheVersionsShared: another replica's writes reach this one's
// caches within the poll interval.
func TestCacheVersionsShared(t *testing.T) {
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	a := connect(t, schema)
	t.Cleanup(func() { dropSchema(t, a, schema) })
	if err := a.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	storetest.RunCacheVersionsShared(t, a, connect(t, schema))
}
