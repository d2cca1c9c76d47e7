package sqlstore

import "github.com/keygate/keygate/store"

// ListUsersSQL returns the statement ListUsers runs for q, in s's dialect.
func (s *Store) ListUsersSQL(realmID string, q store.UserQuery) (string, []any) {
	query, args := listUsers(realmID, q)
	return s.q(query), args
}

// TokenRequestSQL returns the statements DeactivateRequest and DeleteRequest
// run, in s's dialect.
func (s *Store) TokenRequestSQL() []string {
	return []string{s.q(deactivateRequestSQL), s.q(deleteRequestSQL)}
}
