// Package backends opens scratch stores for tests: SQLite in a temporary
// directory and, when KEYGATE_TEST_POSTGRES names a server, PostgreSQL in
// a scratch schema dropped afterwards.
package backends

import (
	"context"
	"crypto/rand"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/postgres"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
)

// EnvDSN names the PostgreSQL server the tests may create schemas in.
const EnvDSN = "KEYGATE_TEST_POSTGRES"

// Each runs fn as a subtest against SQLite and against PostgreSQL (skipped
// without EnvDSN).
func Each(t *testing.T, fn func(t *testing.T, st store.Store)) {
	t.Run("sqlite", func(t *testing.T) { fn(t, SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { fn(t, Postgres(t)) })
}

// SQLite opens a fresh SQLite store closed when t ends.
func SQLite(t testing.TB) *sqlstore.Store {
	t.Helper()
	st, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Postgres opens a store in a fresh schema of EnvDSN's server, dropped
// when t ends; it skips t when EnvDSN is unset.
func Postgres(t testing.TB) *sqlstore.Store {
	t.Helper()
	dsn := os.Getenv(EnvDSN)
	if dsn == "" {
		t.Skip("set " + EnvDSN + " to run against PostgreSQL")
	}
	schema := "keygate_test_" + strings.ToLower(rand.Text()[:12])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	st, err := postgres.Open(t.Context(), u.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_, _ = st.DB().ExecContext(context.Background(), "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		st.Close()
	})
	return st
}
