package sqlstore

import "github.com/keygate/keygate/store"

// ListUsersSQL returns the statement ListUsers runs for q, in s's dialect.
func (s *Store) ListUsersSQL(realmID string, q store.UserQuery) (string, []any) {
	query, args := listUsers(realmID, q)
	return s.q(query), args
}

// DeactivateRequestSQL returns the statement DeactivateRequest runs, in s's
// dialect.
func (s *Store) DeactivateRequestSQL() string { return s.q(deactivateRequestSQL) }

// PreparedStatements is how many statements s has prepared and cached.
func (s *Store) PreparedStatements() int64 { return s.nstmts.Load() }

// AdminSessionsSQL returns the admin session reads, in s's dialect: the
// client sessions list and count, a user's offline tokens, and an
// offline session's user.
func (s *Store) AdminSessionsSQL() map[string]string {
	return map[string]string{"list": s.q(listClientSessionsSQL), "count": s.q(countClientSessionsSQL),
		"offline": s.q(offlineTokensSQL + offlineTokensOfUser + offlineTokensOrder), "offlineSession": s.q(offlineSessionUserSQL),
		"offlineCount":  s.q(countOfflineSessionsSQL),
		"offlineClient": s.q(offlineTokensSQL + offlineTokensOfClient + offlineTokensOrder)}
}
