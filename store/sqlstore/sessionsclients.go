package sqlstore

import (
	"context"
	"slices"
)

// ListSessionsClients names the clients holding a live refresh token (or
// an unredeemed code) of each of sessionIDs, in one read per chunk of
// sessions (the account console's session list). The partial index on
// tokens(session_id) serves it.
func (s *Store) ListSessionsClients(ctx context.Context, realmID string, sessionIDs []string) (map[string][]string, error) {
	out := map[string][]string{}
	type pair struct{ session, client string }
	for chunk := range slices.Chunk(sessionIDs, inChunk) {
		args := make([]any, 0, len(chunk)+1)
		args = append(args, realmID)
		for _, id := range chunk {
			args = append(args, id)
		}
		pairs, err := list(ctx, s, func(r scanner) (p pair, err error) {
			err = r.Scan(&p.session, &p.client)
			return p, err
		}, `SELECT DISTINCT session_id, client_id FROM tokens WHERE realm_id = ? AND session_id IN (`+placeholders(len(chunk))+`)
			AND session_id <> '' AND kind IN ('refresh', 'offline', 'code') AND active = TRUE AND client_id <> ''
			ORDER BY session_id, client_id`, args...)
		if err != nil {
			return nil, wrap(err, "list clients of %d sessions", len(chunk))
		}
		for _, p := range pairs {
			out[p.session] = append(out[p.session], p.client)
		}
	}
	return out, nil
}
