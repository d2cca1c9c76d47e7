package storetest

import (
	"context"
	"database/sql"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
	"github.com/keygate/keygate/store/sqlstore"
)

// RunMigrations is the migration-fixture test, after Hydra's migratest.
// connect opens another connection (an unmigrated *sqlstore.Store) to one
// empty database; seeds holds <dialect>/NNNN.sql fixture files.
//
// Starting from nothing, for each migration in turn it: applies it from two
// connections at once (as two replicas starting together would); checks
// that every row seeded so far is still there, column by column; runs the
// step's seed file; and snapshots every table. Then it reads every stored
// row back through the store API, and checks that re-running is a no-op and
// that an edited or unknown migration stops start-up.
func RunMigrations(t *testing.T, connect func(t *testing.T) *sqlstore.Store, seeds fs.FS) {
	ctx := t.Context()
	s, s2 := connect(t), connect(t)
	dialect := s.Dialect().Name
	ms, err := s.Migrations()
	ok(t, err)
	// Each table's rows as the last seed left them: a migration must keep
	// them, while a later seed may change them (0011's service account
	// moves its realm's counter).
	snaps := map[string]tableSnapshot{}
	for _, m := range ms {
		noErrors(t, parallel(2, func(i int) error { return []*sqlstore.Store{s, s2}[i].MigrateTo(ctx, m.Version) }))
		for _, snap := range snaps {
			snap.check(t, s.DB(), m)
		}
		seed, err := fs.ReadFile(seeds, fmt.Sprintf("%s/%04d.sql", dialect, m.Version))
		if err != nil {
			t.Logf("migration %04d_%s has no seed file: %v", m.Version, m.Name, err)
			continue
		}
		_, err = s.DB().ExecContext(ctx, string(seed))
		ok(t, err)
		for _, table := range tables(t, s) {
			snaps[table] = snapshot(t, s.DB(), table)
		}
	}
	eq(t, "applied", count(t, s.DB(), "schema_migrations"), len(ms))

	// The fixtures cover every table, and the store reads every row.
	for _, table := range tables(t, s) {
		if count(t, s.DB(), table) == 0 {
			t.Errorf("no seed file fills table %s", table)
		}
	}
	readBack(t, s)

	ok(t, s.Migrate(ctx))
	eq(t, "applied after re-run", count(t, s.DB(), "schema_migrations"), len(ms))
	exec := func(q string, args ...any) {
		t.Helper()
		_, err := s.DB().ExecContext(ctx, q, args...)
		ok(t, err)
	}
	last := ms[len(ms)-1]
	exec(`UPDATE schema_migrations SET checksum = 'edited' WHERE version = ` + fmt.Sprint(last.Version))
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "changed") {
		t.Errorf("Migrate with an edited migration: got %v", err)
	}
	exec(`UPDATE schema_migrations SET checksum = '` + last.Checksum + `' WHERE version = ` + fmt.Sprint(last.Version))
	exec(`INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (99999, 'future', '', 0)`)
	if err := s.Migrate(ctx); err == nil || !strings.Contains(err.Error(), "newer") {
		t.Errorf("Migrate with an unknown applied migration: got %v", err)
	}
	exec(`DELETE FROM schema_migrations WHERE version = 99999`)
	ok(t, s.Migrate(ctx))
}

// tables lists the store's tables, schema_migrations excepted.
func tables(t *testing.T, s *sqlstore.Store) []string {
	t.Helper()
	q := `SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()`
	if s.Dialect().Name == "sqlite" {
		q = `SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'`
	}
	var out []string
	for _, row := range query(t, s.DB(), q) {
		if row[0] != "schema_migrations" {
			out = append(out, row[0])
		}
	}
	slices.Sort(out)
	return out
}

// tableSnapshot is a table's rows as text, after the step that seeded them.
type tableSnapshot struct {
	table   string
	columns []string
	rows    [][]string
}

var snapshots atomic.Int64

func snapshot(t *testing.T, db *sql.DB, table string) tableSnapshot {
	t.Helper()
	// A query text of its own: pgx caches prepared statements by text, and
	// a cached SELECT * fails once a migration adds a column.
	rows, err := db.QueryContext(t.Context(), fmt.Sprintf("SELECT * FROM %s /* %d */", table, snapshots.Add(1)))
	ok(t, err)
	cols, err := rows.Columns()
	rows.Close()
	ok(t, err)
	return tableSnapshot{table, cols, query(t, db, "SELECT "+strings.Join(cols, ", ")+" FROM "+table)}
}

// check fails unless every snapshot row is still there after migration m.
// Columns added since are ignored; dropping or renaming one fails, and
// needs this harness taught what the migration meant.
func (snap tableSnapshot) check(t *testing.T, db *sql.DB, m sqlstore.Migration) {
	t.Helper()
	now := query(t, db, "SELECT "+strings.Join(snap.columns, ", ")+" FROM "+snap.table)
	for _, row := range snap.rows {
		if !slices.ContainsFunc(now, func(r []string) bool { return slices.Equal(r, row) }) {
			t.Errorf("after migration %04d_%s, %s lost row %q", m.Version, m.Name, snap.table, row)
		}
	}
}

// query returns every row of q with each value formatted as text.
func query(t *testing.T, db *sql.DB, q string, args ...any) [][]string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), q, args...)
	ok(t, err)
	defer rows.Close()
	cols, err := rows.Columns()
	ok(t, err)
	var out [][]string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ok(t, rows.Scan(ptrs...))
		row := make([]string, len(cols))
		for i, v := range vals {
			if b, isBytes := v.([]byte); isBytes {
				v = string(b)
			}
			row[i] = fmt.Sprint(v)
		}
		out = append(out, row)
	}
	ok(t, rows.Err())
	return out
}

func count(t *testing.T, db *sql.DB, table string) int {
	t.Helper()
	var n int
	ok(t, db.QueryRowContext(t.Context(), "SELECT COUNT(*) FROM "+table).Scan(&n))
	return n
}

// readBack reads every row of every table through the store API: each
// table names the key columns that find its rows and the call that must
// find them. A table missing here fails, so new tables get a reader.
func readBack(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	nonEmpty := func(n int, err error) error {
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	}
	type reader struct {
		keys string
		read func(ctx context.Context, k []string) error
	}
	readers := map[string]reader{
		"realms":        {"id", func(ctx context.Context, k []string) error { return second(s.GetRealm(ctx, k[0])) }},
		"clients":       {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetClient(ctx, k[0], k[1])) }},
		"client_scopes": {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetClientScope(ctx, k[0], k[1])) }},
		"roles":         {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetRole(ctx, k[0], k[1])) }},
		"groups":        {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetGroup(ctx, k[0], k[1])) }},
		"users":         {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetUser(ctx, k[0], k[1])) }},
		"sessions":      {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetSession(ctx, k[0], k[1])) }},
		"components":    {"realm_id, id", func(ctx context.Context, k []string) error { return second(s.GetComponent(ctx, k[0], k[1])) }},
		"identity_providers": {"realm_id, alias", func(ctx context.Context, k []string) error {
			return second(s.GetIdentityProvider(ctx, k[0], k[1]))
		}},
		"federated_identities": {"realm_id, alias, external_id", func(ctx context.Context, k []string) error {
			return second(s.GetUserByFederatedIdentity(ctx, k[0], k[1], k[2]))
		}},
		"login_failures": {"realm_id, user_id", func(ctx context.Context, k []string) error {
			return second(s.GetLoginFailure(ctx, k[0], k[1]))
		}},
		"tokens": {"kind, signature", func(ctx context.Context, k []string) error {
			return second(s.GetToken(ctx, store.TokenKind(k[0]), k[1]))
		}},
		"keys": {"realm_id", func(ctx context.Context, k []string) error {
			x, err := s.ListKeys(ctx, k[0])
			return nonEmpty(len(x), err)
		}},
		"credentials": {"user_id", func(ctx context.Context, k []string) error {
			x, err := s.ListCredentials(ctx, k[0])
			return nonEmpty(len(x), err)
		}},
		"role_composites": {"realm_id, parent_id", func(ctx context.Context, k []string) error {
			x, err := s.ListRoleComposites(ctx, k[0], k[1])
			return nonEmpty(len(x), err)
		}},
		"group_roles": {"realm_id, group_id", func(ctx context.Context, k []string) error {
			x, err := s.ListGroupRoles(ctx, k[0], k[1])
			return nonEmpty(len(x), err)
		}},
		"user_roles": {"realm_id, user_id", func(ctx context.Context, k []string) error {
			x, err := s.ListUserRoles(ctx, k[0], k[1])
			return nonEmpty(len(x), err)
		}},
		"user_groups": {"realm_id, user_id", func(ctx context.Context, k []string) error {
			x, err := s.ListUserGroups(ctx, k[0], k[1])
			return nonEmpty(len(x), err)
		}},
		"initial_access_tokens": {"realm_id, token_hash", func(ctx context.Context, k []string) error {
			return second(s.GetInitialAccessTokenByHash(ctx, k[0], k[1]))
		}},
		"identity_provider_mappers": {"realm_id, alias", func(ctx context.Context, k []string) error {
			x, err := s.ListIdentityProviderMappers(ctx, k[0], k[1])
			return nonEmpty(len(x), err)
		}},
		"events": {"realm_id, user_id", func(ctx context.Context, k []string) error {
			x, err := s.ListEvents(ctx, k[0], store.EventQuery{User: k[1]})
			return nonEmpty(len(x), err)
		}},
		"admin_events": {"realm_id, auth_user_id", func(ctx context.Context, k []string) error {
			x, err := s.ListAdminEvents(ctx, k[0], store.AdminEventQuery{AuthUser: k[1]})
			return nonEmpty(len(x), err)
		}},
		"user_consents": {"realm_id, user_id, client_id", func(ctx context.Context, k []string) error {
			return second(s.GetConsent(ctx, k[0], k[1], k[2]))
		}},
		"realm_versions": {"realm_id", func(ctx context.Context, k []string) error {
			if cache.For(s).Current(ctx).Realm(k[0]) == (store.RealmVersion{}) {
				return store.ErrNotFound
			}
			return nil
		}},
		"health_heartbeat": {"instance", func(ctx context.Context, _ []string) error {
			return s.ProbeRead(ctx) // readiness reads the table, never a row by key
		}},
	}
	for _, table := range tables(t, s) {
		r, found := readers[table]
		if !found {
			t.Errorf("table %s has no reader in storetest.readBack", table)
			continue
		}
		for _, k := range query(t, s.DB(), "SELECT "+r.keys+" FROM "+table) {
			if err := r.read(ctx, k); err != nil {
				t.Errorf("reading %s row %q through the store: %v", table, k, err)
			}
		}
	}
}

// RunFederationIDBackfill checks migration 0004: a user imported by a
// user storage provider before it gets its federation_id from its LDAP_ID
// attribute, so logins and syncs still find it.
func RunFederationIDBackfill(t *testing.T, s *sqlstore.Store) {
	ctx := t.Context()
	ok(t, s.MigrateTo(ctx, 3))
	exec := func(q string) {
		t.Helper()
		_, err := s.DB().ExecContext(ctx, q)
		ok(t, err)
	}
	exec(`INSERT INTO realms (id, name, enabled, settings, created) VALUES ('bf', 'bf', TRUE, '{}', 0)`)
	exec(`INSERT INTO users (id, realm_id, username, enabled, created, federation_link, attributes) VALUES
		('u-ldap', 'bf', 'carol', TRUE, 0, 'ldap1', '{"LDAP_ID":["ext-carol"],"LDAP_ENTRY_DN":["uid=carol"]}'),
		('u-local', 'bf', 'dave', TRUE, 0, '', '{"LDAP_ID":["not-linked"]}'),
		('u-bare', 'bf', 'erin', TRUE, 0, 'ldap1', '')`)
	ok(t, s.Migrate(ctx))
	u, err := s.GetUserByFederationID(ctx, "bf", "ldap1", "ext-carol")
	ok(t, err)
	eq(t, "backfilled user", u.ID, "u-ldap")
	ids, err := s.ListFederationIDs(ctx, "bf", "ldap1")
	ok(t, err)
	eq(t, "provider's users", ids, map[string]string{"ext-carol": "u-ldap", "": "u-bare"})
}
