package sqlstore

import (
	"context"
	"errors"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/keygate/keygate/store"
)

const userCols = `u.id, u.realm_id, u.username, u.email, u.email_verified, u.first_name, u.last_name, u.enabled,
	u.created, u.federation_link, u.federation_id, u.service_account, u.attributes, u.required_actions, u.not_before`

func scanUser(r scanner) (u store.User, err error) {
	err = r.Scan(&u.ID, &u.RealmID, &u.Username, &u.Email, &u.EmailVerified, &u.FirstName, &u.LastName, &u.Enabled,
		msTime{&u.Created}, &u.FederationLink, &u.FederationID, &u.ServiceAccount, jsonCol{&u.Attributes}, jsonCol{&u.RequiredActions}, &u.NotBefore)
	return u, err
}

// userArgs returns the mutable columns of u, lower-casing username and email
// and deriving the lower-cased name columns used by search.
func userArgs(u store.User) []any {
	return []any{strings.ToLower(u.Username), strings.ToLower(u.Email), u.EmailVerified, u.FirstName, u.LastName,
		strings.ToLower(u.FirstName), strings.ToLower(u.LastName), u.Enabled, u.FederationLink, u.FederationID, u.ServiceAccount,
		jsonText(u.Attributes), jsonText(u.RequiredActions), u.NotBefore}
}

// CreateUser stores u with username and email lower-cased. ErrConflict on a
// duplicate id, username, service-account client or non-empty email (the
// last unless the realm allows duplicate emails).
//
// The row copies its realm's duplicate_emails, read in the statement
// itself (see migration 0010). On PostgreSQL, a realm that flipped the
// setting between the statement's read and its foreign-key check fails
// that check (ErrNotFound, as for a missing realm): outside a transaction
// the insert runs once more, with the new setting.
func (s *Store) CreateUser(ctx context.Context, u store.User) error {
	insert := func(ctx context.Context) error {
		_, err := s.exec(ctx, `INSERT INTO users (username, email, email_verified, first_name, last_name, first_lower, last_lower,
		enabled, federation_link, federation_id, service_account, attributes, required_actions, not_before, id, realm_id, created,
		duplicate_emails) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,
		COALESCE((SELECT duplicate_emails FROM realms WHERE id = ?), FALSE))`,
			append(userArgs(u), u.ID, u.RealmID, ms(u.Created), u.RealmID)...)
		return err
	}
	err := insert(ctx)
	if errors.Is(err, store.ErrNotFound) && s.txOf(ctx) == nil {
		err = insert(ctx)
	}
	return wrap(err, "create user %q", u.Username)
}

func (s *Store) UpdateUser(ctx context.Context, u store.User) error {
	err := s.execOne(ctx, `UPDATE users SET username = ?, email = ?, email_verified = ?, first_name = ?, last_name = ?,
		first_lower = ?, last_lower = ?, enabled = ?, federation_link = ?, federation_id = ?, service_account = ?, attributes = ?,
		required_actions = ?, not_before = ? WHERE realm_id = ? AND id = ?`,
		append(userArgs(u), u.RealmID, u.ID)...)
	return wrap(err, "update user %s", u.ID)
}

func (s *Store) GetUser(ctx context.Context, realmID, id string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userCols+` FROM users u WHERE u.realm_id = ? AND u.id = ?`, realmID, id)
	return u, wrap(err, "get user %s", id)
}

func (s *Store) GetUserByFederationID(ctx context.Context, realmID, link, externalID string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userCols+` FROM users u
		WHERE u.realm_id = ? AND u.federation_link <> '' AND u.federation_link = ? AND u.federation_id = ?`, realmID, link, externalID)
	return u, wrap(err, "get user %s of provider %s", externalID, link)
}

func (s *Store) ListFederationIDs(ctx context.Context, realmID, link string) (map[string]string, error) {
	type pair struct{ ext, id string }
	ps, err := list(ctx, s, func(r scanner) (p pair, err error) { return p, r.Scan(&p.ext, &p.id) },
		`SELECT federation_id, id FROM users WHERE realm_id = ? AND federation_link <> '' AND federation_link = ?`, realmID, link)
	if err != nil {
		return nil, wrap(err, "list users of provider %s", link)
	}
	out := make(map[string]string, len(ps))
	for _, p := range ps {
		out[p.ext] = p.id
	}
	return out, nil
}

func (s *Store) GetUserByUsername(ctx context.Context, realmID, username string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userCols+` FROM users u WHERE u.realm_id = ? AND u.username = ?`,
		realmID, strings.ToLower(username))
	return u, wrap(err, "get user %q", username)
}

// GetUserByEmail finds the one user with that email; "" finds nobody, and
// several are store.ErrAmbiguous. The "email is not empty" term lets the
// planners use the partial index users_email.
func (s *Store) GetUserByEmail(ctx context.Context, realmID, email string) (store.User, error) {
	us, err := list(ctx, s, scanUser, `SELECT `+userCols+` FROM users u WHERE u.realm_id = ? AND u.email <> '' AND u.email = ?
		LIMIT 2`, realmID, strings.ToLower(email))
	switch {
	case err != nil:
	case len(us) == 0:
		err = store.ErrNotFound
	case len(us) > 1:
		err = store.ErrAmbiguous
	default:
		return us[0], nil
	}
	return store.User{}, wrap(err, "get user by email %q", email)
}

func (s *Store) GetServiceAccountUser(ctx context.Context, realmID, clientID string) (store.User, error) {
	u, err := get(ctx, s, scanUser, `SELECT `+userCols+` FROM users u
		WHERE u.realm_id = ? AND u.service_account <> '' AND u.service_account = ?`, realmID, clientID)
	return u, wrap(err, "get service account of client %s", clientID)
}

// ListUsers lists the users matching q ordered by username.
//
// Cost: exact fields and the Prefix forms are index range scans on
// (realm_id, column); a Prefix Search is four of them, one per column, whose
// matches are then sorted. With no search, First/Max walk the
// (realm_id, username) index in order and stop after First+Max rows. A
// substring search (the default) cannot use an index: it reads the realm's
// users in username order, four LIKE tests each, until the page is full: one
// page for a common term, the whole realm for a rare one (tens of
// milliseconds per 100,000 users on SQLite; see BenchmarkListUsersSearch).
func (s *Store) ListUsers(ctx context.Context, realmID string, q store.UserQuery) ([]store.User, error) {
	if len(q.Attributes) > 0 {
		return s.listByAttributes(ctx, realmID, q)
	}
	query, args := listUsers(realmID, q)
	us, err := list(ctx, s, scanUser, query, args...)
	return us, wrap(err, "list users")
}

func listUsers(realmID string, q store.UserQuery) (string, []any) {
	where, args := userFilter(realmID, q)
	return `SELECT ` + userCols + ` FROM users u` + where + ` ORDER BY u.username LIMIT ? OFFSET ?`,
		append(args, limit(q.Max), offset(q.First))
}

// CountUsers counts the users matching q, ignoring First and Max.
func (s *Store) CountUsers(ctx context.Context, realmID string, q store.UserQuery) (int, error) {
	if len(q.Attributes) > 0 {
		q.First, q.Max = 0, 0
		us, err := s.listByAttributes(ctx, realmID, q)
		return len(us), err
	}
	where, args := userFilter(realmID, q)
	n, err := get(ctx, s, scanInt, `SELECT COUNT(*) FROM users u`+where, args...)
	return n, wrap(err, "count users")
}

// userFilter builds the WHERE clause of a user query. Values are always bound
// and LIKE metacharacters in them are escaped; the clause text depends only
// on which fields are set, so the dialect rewrite cache stays small.
func userFilter(realmID string, q store.UserQuery) (string, []any) {
	var b strings.Builder
	args := []any{realmID}
	b.WriteString(` WHERE u.realm_id = ?`)
	if !q.IncludeServiceAccounts {
		b.WriteString(` AND u.service_account = ''`)
	}
	if q.Enabled != nil {
		b.WriteString(` AND u.enabled = ?`)
		args = append(args, *q.Enabled)
	}
	switch p := likePattern(q.Search, q.Prefix); {
	case q.Search == "":
	case q.Prefix:
		// One index range scan per column; OR-ing the four LIKEs instead
		// makes the planners walk the whole realm in username order.
		b.WriteString(` AND u.id IN (SELECT id FROM users WHERE realm_id = ? AND username LIKE ? ESCAPE '\'` +
			` UNION ALL SELECT id FROM users WHERE realm_id = ? AND email <> '' AND email LIKE ? ESCAPE '\'` +
			` UNION ALL SELECT id FROM users WHERE realm_id = ? AND first_lower LIKE ? ESCAPE '\'` +
			` UNION ALL SELECT id FROM users WHERE realm_id = ? AND last_lower LIKE ? ESCAPE '\')`)
		args = append(args, realmID, p, realmID, p, realmID, p, realmID, p)
	default:
		b.WriteString(` AND (u.username LIKE ? ESCAPE '\' OR u.email LIKE ? ESCAPE '\'` +
			` OR u.first_lower LIKE ? ESCAPE '\' OR u.last_lower LIKE ? ESCAPE '\')`)
		args = append(args, p, p, p, p)
	}
	for _, f := range []struct{ col, v string }{
		{"u.username", q.Username}, {"u.email", q.Email}, {"u.first_lower", q.FirstName}, {"u.last_lower", q.LastName},
	} {
		if f.v == "" {
			continue
		}
		if f.col == "u.email" { // lets the planner use the partial index on non-empty emails
			b.WriteString(` AND u.email <> ''`)
		}
		if q.Exact {
			b.WriteString(` AND ` + f.col + ` = ?`)
			args = append(args, strings.ToLower(f.v))
		} else {
			b.WriteString(` AND ` + f.col + ` LIKE ? ESCAPE '\'`)
			args = append(args, likePattern(f.v, q.Prefix))
		}
	}
	return b.String(), args
}

// listByAttributes serves an attribute search. Attributes are a JSON text
// column, so a LIKE per attribute on that text narrows the realm to a
// superset (the value may sit under a later key; SQLite's LIKE ignores
// case) and the exact match is made here, before First and Max.
func (s *Store) listByAttributes(ctx context.Context, realmID string, q store.UserQuery) ([]store.User, error) {
	first, max := q.First, q.Max
	q.First, q.Max = 0, 0
	where, args := userFilter(realmID, q)
	keys := slices.Sorted(maps.Keys(q.Attributes))
	for _, k := range keys {
		where += ` AND u.attributes LIKE ? ESCAPE '\'`
		args = append(args, "%"+likeEscaper.Replace(jsonText(k)+":[")+"%"+likeEscaper.Replace(jsonText(q.Attributes[k]))+"%")
	}
	us, err := list(ctx, s, scanUser, `SELECT `+userCols+` FROM users u`+where+` ORDER BY u.username`, args...)
	if err != nil {
		return nil, wrap(err, "search users by attribute")
	}
	us = slices.DeleteFunc(us, func(u store.User) bool {
		for _, k := range keys {
			if !slices.Contains(u.Attributes[k], q.Attributes[k]) {
				return true
			}
		}
		return false
	})
	if first >= len(us) {
		return []store.User{}, nil
	}
	us = us[first:]
	if max > 0 && max < len(us) {
		us = us[:max]
	}
	return us, nil
}

var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// likePattern lower-cases v and escapes LIKE's metacharacters so that v
// matches literally, as a prefix or anywhere.
func likePattern(v string, prefix bool) string {
	v = likeEscaper.Replace(strings.ToLower(v))
	if prefix {
		return v + "%"
	}
	return "%" + v + "%"
}

// limit turns "0 = no limit" into a bound both dialects accept.
func limit(n int) int64 {
	if n <= 0 {
		return math.MaxInt64
	}
	return int64(n)
}

func offset(first int) int64 { return int64(max(first, 0)) }

// DeleteUser deletes the user with everything that cascades from it
// (credentials, role and group mappings) and, explicitly, its sessions, their
// tokens and its brute-force counters.
func (s *Store) DeleteUser(ctx context.Context, realmID, id string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if err := s.execOne(ctx, `DELETE FROM users WHERE realm_id = ? AND id = ?`, realmID, id); err != nil {
			return err
		}
		if err := s.deleteUserSessions(ctx, realmID, id); err != nil {
			return err
		}
		// Offline tokens outlive sessions, not their user (tokens_offline).
		if _, err := s.exec(ctx, `DELETE FROM tokens WHERE kind = 'offline' AND realm_id = ? AND subject = ?`, realmID, id); err != nil {
			return err
		}
		_, err := s.exec(ctx, `DELETE FROM login_failures WHERE realm_id = ? AND user_id = ?`, realmID, id)
		return err
	}), "delete user %s", id)
}

func (s *Store) GrantUserRoles(ctx context.Context, realmID, userID string, roleIDs []string) error {
	err := s.link(ctx, `INSERT INTO user_roles (realm_id, user_id, role_id)
		SELECT u.realm_id, u.id, r.id FROM users u, roles r
		WHERE u.realm_id = ? AND u.id = ? AND r.id = ? AND r.realm_id = u.realm_id
		ON CONFLICT DO NOTHING`,
		`SELECT 1 FROM user_roles WHERE realm_id = ? AND user_id = ? AND role_id = ?`, realmID, userID, roleIDs)
	return wrap(err, "grant roles to user %s", userID)
}

func (s *Store) RevokeUserRoles(ctx context.Context, realmID, userID string, roleIDs []string) error {
	err := s.unlink(ctx, `DELETE FROM user_roles WHERE realm_id = ? AND user_id = ? AND role_id = ?`, realmID, userID, roleIDs)
	return wrap(err, "revoke roles from user %s", userID)
}

func (s *Store) ListUserRoles(ctx context.Context, realmID, userID string) ([]store.Role, error) {
	rs, err := list(ctx, s, scanRole, `SELECT `+roleCols+` FROM user_roles m JOIN roles r ON r.id = m.role_id
		WHERE m.realm_id = ? AND m.user_id = ? ORDER BY r.client_id, r.name`, realmID, userID)
	return rs, wrap(err, "list roles of user %s", userID)
}

func (s *Store) AddUserToGroup(ctx context.Context, realmID, userID, groupID string) error {
	err := s.link(ctx, `INSERT INTO user_groups (realm_id, user_id, group_id)
		SELECT u.realm_id, u.id, g.id FROM users u, groups g
		WHERE u.realm_id = ? AND u.id = ? AND g.id = ? AND g.realm_id = u.realm_id
		ON CONFLICT DO NOTHING`,
		`SELECT 1 FROM user_groups WHERE realm_id = ? AND user_id = ? AND group_id = ?`, realmID, userID, []string{groupID})
	return wrap(err, "add user %s to group %s", userID, groupID)
}

func (s *Store) RemoveUserFromGroup(ctx context.Context, realmID, userID, groupID string) error {
	err := s.unlink(ctx, `DELETE FROM user_groups WHERE realm_id = ? AND user_id = ? AND group_id = ?`,
		realmID, userID, []string{groupID})
	return wrap(err, "remove user %s from group %s", userID, groupID)
}

func (s *Store) ListUserGroups(ctx context.Context, realmID, userID string) ([]store.Group, error) {
	gs, err := list(ctx, s, scanGroup, `SELECT `+groupCols+` FROM user_groups m JOIN groups g ON g.id = m.group_id
		WHERE m.realm_id = ? AND m.user_id = ? ORDER BY g.name, g.id`, realmID, userID)
	return gs, wrap(err, "list groups of user %s", userID)
}
