package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/keygate/keygate/store"
)

// Rows per multi-row INSERT and values per IN list: 500 users are 8,000
// parameters, under SQLite's 32,766 and PostgreSQL's 65,535, and large
// enough that per-statement costs (parsing, planning, a round trip) vanish.
const (
	bulkRows = 500
	inChunk  = 500
)

// LookupUsers implements store.BulkUserWriter.
func (s *Store) LookupUsers(ctx context.Context, realmID string, usernames, emails, ids []string) ([]store.User, error) {
	if s.d.Name == "postgres" && s.txOf(ctx) != nil {
		if err := s.keepStatsFresh(ctx); err != nil {
			return nil, wrap(err, "look up users")
		}
	}
	seen := map[string]bool{}
	out := []store.User{}
	lookup := func(where string, realmArg bool, keys []string, lower bool) error {
		for chunk := range slices.Chunk(keys, inChunk) {
			args := make([]any, 0, len(chunk)+1)
			if realmArg {
				args = append(args, realmID)
			}
			for _, k := range chunk {
				if lower {
					k = strings.ToLower(k)
				}
				args = append(args, k)
			}
			us, err := list(ctx, s, scanUser, `SELECT `+userCols+` FROM users u WHERE `+where+` IN (`+placeholders(len(chunk))+`)`, args...)
			if err != nil {
				return err
			}
			for _, u := range us {
				if !seen[u.ID] {
					seen[u.ID] = true
					out = append(out, u)
				}
			}
		}
		return nil
	}
	if err := lookup(`u.realm_id = ? AND u.username`, true, usernames, true); err != nil {
		return nil, wrap(err, "look up users by username")
	}
	if err := lookup(`u.realm_id = ? AND u.email <> '' AND u.email`, true, nonEmpty(emails), true); err != nil {
		return nil, wrap(err, "look up users by email")
	}
	if err := lookup(`u.id`, false, ids, false); err != nil {
		return nil, wrap(err, "look up users by id")
	}
	return out, nil
}

// keepStatsFresh keeps PostgreSQL's lookups on the indexes while an import
// inserts, in one transaction, into the table it looks up in. Without
// statistics the planner takes an IN list of 500 usernames for most of the
// table and scans the whole realm per batch, which makes a million-user
// import quadratic (hours). So it runs ANALYZE users whenever the rows this
// transaction created have doubled: ANALYZE counts the transaction's own
// uncommitted rows, and new statistics invalidate cached plans. About 20
// runs for a million users.
func (s *Store) keepStatsFresh(ctx context.Context) error {
	b := &s.txOf(ctx).bulk
	b.Lock()
	analyze := b.created >= 2*max(b.analyzed, bulkRows)
	if analyze {
		b.analyzed = b.created
	}
	b.Unlock()
	if !analyze {
		return nil
	}
	_, err := s.exec(ctx, `ANALYZE users`)
	return err
}

// CreateUsers implements store.BulkUserWriter with multi-row INSERTs, one
// table after the other, in one transaction.
func (s *Store) CreateUsers(ctx context.Context, users []store.NewUser) error {
	if len(users) == 0 {
		return nil
	}
	var crows, rrows, grows, frows [][]any
	roles, groups := map[[2]string]bool{}, map[[2]string]bool{}
	realms := map[string]bool{}
	for _, nu := range users {
		u := nu.User
		realms[u.RealmID] = true
		for _, c := range nu.Credentials {
			crows = append(crows, []any{c.ID, u.RealmID, u.ID, c.Type, c.UserLabel, ms(c.Created), c.SecretData, c.CredentialData, c.Priority})
		}
		// Duplicates in a list would violate the mapping tables' keys; a
		// mapping is a set.
		for _, id := range uniq(nu.RoleIDs) {
			roles[[2]string{u.RealmID, id}] = true
			rrows = append(rrows, []any{u.RealmID, u.ID, id})
		}
		for _, f := range nu.FederatedIdentities {
			frows = append(frows, []any{u.RealmID, u.ID, f.Alias, f.ExternalID, f.ExternalName, f.Token})
		}
		for _, id := range uniq(nu.GroupIDs) {
			groups[[2]string{u.RealmID, id}] = true
			grows = append(grows, []any{u.RealmID, u.ID, id})
		}
	}
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		// Each row copies its realm's duplicate_emails (migration 0010),
		// read once per batch in the batch's transaction: SQLite's one
		// writer keeps it current; on PostgreSQL a concurrent flip makes the
		// rows' foreign-key check fail rather than store a stale copy.
		dup, err := s.duplicateEmails(ctx, realms)
		if err != nil {
			return err
		}
		urows := make([][]any, 0, len(users))
		for _, nu := range users {
			u := nu.User
			urows = append(urows, append(userArgs(u), u.ID, u.RealmID, ms(u.Created), dup[u.RealmID]))
		}
		// The foreign keys prove a role exists, not that it is in the user's
		// realm; one COUNT per realm does.
		if err := s.inRealm(ctx, "roles", roles); err != nil {
			return err
		}
		if err := s.inRealm(ctx, "groups", groups); err != nil {
			return err
		}
		for _, t := range []struct {
			table, cols string
			rows        [][]any
		}{
			{"users", `username, email, email_verified, first_name, last_name, first_lower, last_lower, enabled,
				federation_link, federation_id, service_account, attributes, required_actions, not_before, id, realm_id, created,
				duplicate_emails`, urows},
			{"credentials", `id, realm_id, user_id, type, user_label, created, secret_data, credential_data, priority`, crows},
			{"user_roles", `realm_id, user_id, role_id`, rrows},
			{"user_groups", `realm_id, user_id, group_id`, grows},
			{"federated_identities", fedCols, frows},
		} {
			if err := s.insertRows(ctx, t.table, t.cols, t.rows); err != nil {
				return fmt.Errorf("%s: %w", t.table, err)
			}
		}
		if t := s.txOf(ctx); t != nil {
			t.bulk.Lock()
			t.bulk.created += len(users)
			t.bulk.Unlock()
		}
		return nil
	}), "create %d users", len(users))
}

// duplicateEmails reads the duplicate_emails setting of each realm; a
// missing realm is false (its users then fail their foreign key).
func (s *Store) duplicateEmails(ctx context.Context, realms map[string]bool) (map[string]bool, error) {
	ids := make([]any, 0, len(realms))
	for id := range realms {
		ids = append(ids, id)
	}
	type row struct {
		id  string
		dup bool
	}
	out := map[string]bool{}
	for chunk := range slices.Chunk(ids, inChunk) {
		rs, err := list(ctx, s, func(r scanner) (x row, err error) { return x, r.Scan(&x.id, &x.dup) },
			`SELECT id, duplicate_emails FROM realms WHERE id IN (`+placeholders(len(chunk))+`)`, chunk...)
		if err != nil {
			return nil, err
		}
		for _, r := range rs {
			out[r.id] = r.dup
		}
	}
	return out, nil
}

// inRealm checks that every (realm, id) of want is a row of table.
func (s *Store) inRealm(ctx context.Context, table string, want map[[2]string]bool) error {
	byRealm := map[string][]any{}
	for k := range want {
		byRealm[k[0]] = append(byRealm[k[0]], k[1])
	}
	for realmID, ids := range byRealm {
		for chunk := range slices.Chunk(ids, inChunk) {
			n, err := get(ctx, s, scanInt, `SELECT COUNT(*) FROM `+table+` WHERE realm_id = ? AND id IN (`+placeholders(len(chunk))+`)`,
				append([]any{realmID}, chunk...)...)
			if err != nil {
				return err
			}
			if n != len(chunk) {
				return fmt.Errorf("%w: %d of %d %s are not in realm %s", store.ErrNotFound, len(chunk)-n, len(chunk), table, realmID)
			}
		}
	}
	return nil
}

// insertRows inserts rows into table bulkRows at a time.
func (s *Store) insertRows(ctx context.Context, table, cols string, rows [][]any) error {
	if len(rows) == 0 {
		return nil
	}
	width := len(rows[0])
	args := make([]any, 0, min(len(rows), bulkRows)*width)
	for chunk := range slices.Chunk(rows, bulkRows) {
		args = args[:0]
		for _, r := range chunk {
			args = append(args, r...)
		}
		if err := s.bulkExec(ctx, insertText(table, cols, width, len(chunk)), args); err != nil {
			return err
		}
	}
	return nil
}

// bulkState is a transaction's bulk-write state. prepare does not cache
// statements first seen inside a transaction, and an import runs every batch
// inside one: re-parsing each 500-row INSERT cost an import a tenth of its
// time, so bulk statements are prepared once per transaction (database/sql
// closes them when it ends).
type bulkState struct {
	sync.Mutex
	stmts             map[string]*sql.Stmt
	created, analyzed int // users created, and at the last ANALYZE (see keepStatsFresh)
}

// bulkExec runs a bulk write, prepared once per transaction.
func (s *Store) bulkExec(ctx context.Context, query string, args []any) error {
	t := s.txOf(ctx)
	if t == nil {
		_, err := s.exec(ctx, query, args...)
		return err
	}
	t.bulk.Lock()
	st, ok := t.bulk.stmts[query]
	if !ok {
		var err error
		if st, err = t.tx.PrepareContext(ctx, s.q(query)); err != nil {
			t.bulk.Unlock()
			return s.classify(err)
		}
		if t.bulk.stmts == nil {
			t.bulk.stmts = map[string]*sql.Stmt{}
		}
		t.bulk.stmts[query] = st
	}
	t.bulk.Unlock()
	_, err := st.ExecContext(ctx, args...)
	if err == nil {
		s.wrote(ctx, query)
	}
	return s.classify(err)
}

// insertTexts caches multi-row INSERT texts: the same few shapes repeat for
// every batch, and s.q caches their dialect form by text.
var insertTexts sync.Map // [4]any{table, cols, width, rows} -> string

func insertText(table, cols string, width, rows int) string {
	key := [4]any{table, cols, width, rows}
	if v, ok := insertTexts.Load(key); ok {
		return v.(string)
	}
	row := "(" + placeholders(width) + ")"
	var b strings.Builder
	b.WriteString("INSERT INTO " + table + " (" + cols + ") VALUES ")
	for i := range rows {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(row)
	}
	q := b.String()
	insertTexts.Store(key, q)
	return q
}

// placeholders returns n comma-separated question marks.
func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?,", n), ",")
}

func uniq(xs []string) []string {
	if len(xs) < 2 {
		return xs
	}
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func nonEmpty(xs []string) []string {
	return slices.DeleteFunc(slices.Clone(xs), func(x string) bool { return x == "" })
}
