package sqlstore

import (
	"context"
	"strings"

	"github.com/keygate/keygate/store"
)

var _ store.UserSearcher = (*Store)(nil)

// searchCap is the number of matches above which a prefix search counts as
// dense.
const searchCap = 500

// prefixBranches are the index range scans of a prefix search, one per
// column, each taking (realm, pattern).
var prefixBranches = []string{
	`SELECT id FROM users WHERE realm_id = ? AND username LIKE ? ESCAPE '\'`,
	`SELECT id FROM users WHERE realm_id = ? AND email <> '' AND email LIKE ? ESCAPE '\'`,
	`SELECT id FROM users WHERE realm_id = ? AND first_lower LIKE ? ESCAPE '\'`,
	`SELECT id FROM users WHERE realm_id = ? AND last_lower LIKE ? ESCAPE '\'`,
}

// SearchUsers answers a prefix search (Keycloak's default `search`) with
// ListUsers' results, choosing between two plans by how many users match,
// which no planner can tell from one query text (and SQLite without
// ANALYZE statistics guesses wrong):
//
//   - sparse (at most searchCap matches, counted first through the four
//     covering (realm_id, column) indexes): the matching ids drive the
//     query and only they are sorted by username;
//   - dense: the realm is walked in username order, testing the four
//     prefixes per row, and the walk stops after First+Max matches — with
//     that many matches it never goes far.
//
// In both, appending an empty string to a column keeps a planner from
// using that column's index, which is what forces the chosen plan. Other
// queries go to ListUsers.
func (s *Store) SearchUsers(ctx context.Context, realmID string, q store.UserQuery) ([]store.User, error) {
	if q.Search == "" || !q.Prefix || q.Username != "" || q.Email != "" || q.FirstName != "" || q.LastName != "" || len(q.Attributes) > 0 {
		return s.ListUsers(ctx, realmID, q)
	}
	p := likePattern(q.Search, true)
	var probe []string
	var args []any
	for i, b := range prefixBranches {
		probe = append(probe, `(SELECT COUNT(*) FROM (`+b+` LIMIT ?) c`+string(rune('0'+i))+`)`)
		args = append(args, realmID, p, searchCap+1)
	}
	n, err := get(ctx, s, scanInt, `SELECT `+strings.Join(probe, " + "), args...)
	if err != nil {
		return nil, wrap(err, "search users")
	}
	query := `SELECT ` + userCols + ` FROM users u WHERE `
	args = nil
	if n > searchCap {
		query += `u.realm_id = ?`
		args = append(args, realmID)
	} else {
		query += `(u.realm_id || '') = ? AND u.id IN (` + strings.Join(prefixBranches, " UNION ALL ") + `)`
		args = append(args, realmID, realmID, p, realmID, p, realmID, p, realmID, p)
	}
	if !q.IncludeServiceAccounts {
		query += ` AND u.service_account = ''`
	}
	if q.Enabled != nil {
		query += ` AND u.enabled = ?`
		args = append(args, *q.Enabled)
	}
	if n > searchCap {
		query += ` AND ((u.username || '') LIKE ? ESCAPE '\' OR (u.email || '') LIKE ? ESCAPE '\'` +
			` OR (u.first_lower || '') LIKE ? ESCAPE '\' OR (u.last_lower || '') LIKE ? ESCAPE '\')`
		args = append(args, p, p, p, p)
	}
	query += ` ORDER BY u.username LIMIT ? OFFSET ?`
	us, err := list(ctx, s, scanUser, query, append(args, limit(q.Max), offset(q.First))...)
	return us, wrap(err, "search users")
}
