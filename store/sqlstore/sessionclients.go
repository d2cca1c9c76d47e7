package sqlstore

import "context"

// ListSessionClients names the clients holding a live refresh token (or
// an unredeemed code) of SSO session sessionID: Keycloak's client sessions
// of a user session, as the account console lists them. The partial index
// on tokens(session_id) serves it.
func (s *Store) ListSessionClients(ctx context.Context, realmID, sessionID string) ([]string, error) {
	ids, err := list(ctx, s, func(r scanner) (id string, err error) {
		err = r.Scan(&id)
		return id, err
	}, `SELECT DISTINCT client_id FROM tokens WHERE session_id = ? AND session_id <> '' AND realm_id = ?
		AND kind IN ('refresh', 'offline', 'code') AND active = TRUE AND client_id <> '' ORDER BY client_id`, sessionID, realmID)
	return ids, wrap(err, "list clients of session %s", sessionID)
}
