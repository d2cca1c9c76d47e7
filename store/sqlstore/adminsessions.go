package sqlstore

import (
	"context"
	"math"
	"time"

	"github.com/keygate/keygate/store"
)

// clientSessionKinds are the live records that make a client part of an
// SSO session, as ListSessionsClients counts them.
const clientSessionKinds = `t.kind IN ('refresh', 'offline', 'code') AND t.active = TRUE AND (t.expires = 0 OR t.expires > ?)
	AND ` + issuedToLiveClient

// issuedToLiveClient keeps the tokens issued to a client that still
// exists: not those of a deleted client, nor those of an earlier client a
// new one took the clientId of (the token endpoint refuses both).
const issuedToLiveClient = `EXISTS (SELECT 1 FROM clients c WHERE c.realm_id = t.realm_id AND c.client_id = t.client_id
	AND c.created <= t.requested)`

var (
	listClientSessionsSQL = `SELECT ` + qualify("s.", sessionCols) + `, ` + userCols + `
		FROM sessions s LEFT JOIN users u ON u.realm_id = s.realm_id AND u.id = s.user_id
		WHERE s.realm_id = ? AND EXISTS (SELECT 1 FROM tokens t WHERE t.session_id <> '' AND t.session_id = s.id
			AND t.realm_id = s.realm_id AND t.client_id = ? AND ` + clientSessionKinds + `)
		ORDER BY s.created, s.id LIMIT ? OFFSET ?`
	countClientSessionsSQL = `SELECT t.client_id, COUNT(DISTINCT s.id) FROM sessions s
		JOIN tokens t ON t.session_id <> '' AND t.session_id = s.id AND t.realm_id = s.realm_id
		WHERE s.realm_id = ? AND t.client_id <> '' AND ` + clientSessionKinds + `
		GROUP BY t.client_id`
	offlineTokensSQL = `SELECT ` + qualify("t.", tokenReadCols) + `, ` + qualify("s.", sessionCols) + `, ` + userCols + `
		FROM tokens t
		LEFT JOIN sessions s ON s.realm_id = t.realm_id AND s.id = t.session_id
		LEFT JOIN users u ON u.realm_id = t.realm_id AND u.id = t.subject
		WHERE t.kind = 'offline' AND t.realm_id = ? AND t.active = TRUE AND (t.expires = 0 OR t.expires > ?)
		AND ` + issuedToLiveClient
	// countOfflineSessionsSQL counts, by client, the offline sessions
	// ListOfflineTokens shows: those of live tokens of a user that still
	// exists.
	countOfflineSessionsSQL = `SELECT t.client_id, COUNT(DISTINCT t.session_id) FROM tokens t
		WHERE t.kind = 'offline' AND t.realm_id = ? AND t.active = TRUE AND (t.expires = 0 OR t.expires > ?)
		AND t.session_id <> '' AND ` + issuedToLiveClient + `
		AND EXISTS (SELECT 1 FROM users u WHERE u.realm_id = t.realm_id AND u.id = t.subject)
		GROUP BY t.client_id`
	offlineTokensOfUser = ` AND t.subject = ?`
	// offlineTokensOfClient keeps the sessions in which a client holds a
	// live offline token (the inner t shadows the outer one), through
	// tokens_offline's realm prefix.
	offlineTokensOfClient = ` AND t.session_id <> '' AND t.session_id IN (SELECT t.session_id FROM tokens t
		WHERE t.kind = 'offline' AND t.realm_id = ? AND t.client_id = ? AND t.session_id <> ''
		AND t.active = TRUE AND (t.expires = 0 OR t.expires > ?) AND ` + issuedToLiveClient + `)`
	offlineTokensOrder = ` ORDER BY t.session_id, t.client_id, t.signature`
	// offlineSessionUserSQL picks, through tokens_session, the user of
	// one offline session: its live offline tokens, as ListOfflineTokens
	// lists them, of a user that still exists.
	offlineSessionUserSQL = `SELECT t.subject FROM tokens t JOIN users u ON u.realm_id = t.realm_id AND u.id = t.subject
		WHERE t.session_id <> '' AND t.session_id = ? AND t.kind = 'offline' AND t.realm_id = ?
		AND t.active = TRUE AND (t.expires = 0 OR t.expires > ?) AND ` + issuedToLiveClient + ` LIMIT 1`
)

// DeleteRealmSessions implements store.Store.
func (s *Store) DeleteRealmSessions(ctx context.Context, realmID string) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, `DELETE FROM tokens WHERE kind <> 'offline' AND session_id <> '' AND session_id IN
			(SELECT id FROM sessions WHERE realm_id = ?)`, realmID); err != nil {
			return err
		}
		_, err := s.exec(ctx, `DELETE FROM sessions WHERE realm_id = ?`, realmID)
		return err
	}), "delete sessions of realm %s", realmID)
}

// ListClientSessions implements store.Store. It walks the realm's sessions
// (sessions_user's realm_id prefix) and probes each one's tokens through
// the partial index on tokens(session_id): an admin read, never on a
// grant's path, so tokens carry no index by client.
func (s *Store) ListClientSessions(ctx context.Context, realmID, clientID string, at time.Time, first, limit int) ([]store.SessionUser, error) {
	if limit < 0 {
		limit = math.MaxInt32
	}
	xs, err := list(ctx, s, scanSessionUser, listClientSessionsSQL, realmID, clientID, ms(at), limit, max(first, 0))
	return xs, wrap(err, "list sessions of client %s", clientID)
}

// CountClientSessions implements store.Store.
func (s *Store) CountClientSessions(ctx context.Context, realmID string, at time.Time) (map[string]int, error) {
	out, err := countByClient(ctx, s, countClientSessionsSQL, realmID, at)
	return out, wrap(err, "count client sessions of realm %s", realmID)
}

// CountOfflineSessions implements store.Store, through tokens_offline.
func (s *Store) CountOfflineSessions(ctx context.Context, realmID string, at time.Time) (map[string]int, error) {
	out, err := countByClient(ctx, s, countOfflineSessionsSQL, realmID, at)
	return out, wrap(err, "count offline sessions of realm %s", realmID)
}

// countByClient reads query's (client_id, count) rows into a map.
func countByClient(ctx context.Context, s *Store, query, realmID string, at time.Time) (map[string]int, error) {
	type count struct {
		client string
		n      int
	}
	xs, err := list(ctx, s, func(r scanner) (c count, err error) {
		err = r.Scan(&c.client, &c.n)
		return c, err
	}, query, realmID, ms(at))
	if err != nil {
		return nil, err
	}
	out := make(map[string]int, len(xs))
	for _, c := range xs {
		out[c.client] = c.n
	}
	return out, nil
}

// ListOfflineTokens implements store.Store, through tokens_offline.
func (s *Store) ListOfflineTokens(ctx context.Context, realmID, userID string, at time.Time) ([]store.TokenSubject, error) {
	q := offlineTokensSQL
	args := []any{realmID, ms(at)}
	if userID != "" {
		q += offlineTokensOfUser
		args = append(args, userID)
	}
	xs, err := list(ctx, s, scanTokenSubject, q+offlineTokensOrder, args...)
	return xs, wrap(err, "list offline tokens of realm %s", realmID)
}

// OfflineSessionUser implements store.Store.
func (s *Store) OfflineSessionUser(ctx context.Context, realmID, id string, at time.Time) (string, error) {
	userID, err := get(ctx, s, func(r scanner) (u string, err error) {
		err = r.Scan(&u)
		return u, err
	}, offlineSessionUserSQL, id, realmID, ms(at))
	return userID, wrap(err, "get offline session %s", id)
}

// ListClientOfflineTokens implements store.Store.
func (s *Store) ListClientOfflineTokens(ctx context.Context, realmID, clientID string, at time.Time) ([]store.TokenSubject, error) {
	xs, err := list(ctx, s, scanTokenSubject, offlineTokensSQL+offlineTokensOfClient+offlineTokensOrder,
		realmID, ms(at), realmID, clientID, ms(at))
	return xs, wrap(err, "list offline tokens of client %s", clientID)
}

// revokeRequestsSQL marks revoked (as RevokeRequest does one) the
// requests of the tokens t that the WHERE clause it is completed with
// picks: run before those tokens are deleted, so that the access tokens
// of their requests stop with them.
const revokeRequestsSQL = `INSERT INTO tokens (` + tokenCols + `)
	SELECT DISTINCT 'revoked', t.request_id, t.request_id, t.realm_id, '', '', '', FALSE, CAST(? AS BIGINT), CAST(? AS BIGINT), ''
	FROM tokens t WHERE t.request_id <> '' AND `

const revokeRequestsEnd = ` ON CONFLICT (kind, signature) DO NOTHING`

// DeleteOfflineSession implements store.Store.
func (s *Store) DeleteOfflineSession(ctx context.Context, realmID, id string, until time.Time) error {
	const where = `t.kind = 'offline' AND t.session_id <> '' AND t.session_id = ? AND t.realm_id = ?`
	var n int64
	err := s.Tx(ctx, func(ctx context.Context) error {
		if _, err := s.exec(ctx, revokeRequestsSQL+where+revokeRequestsEnd, ms(time.Now()), ms(until), id, realmID); err != nil {
			return err
		}
		var err error
		n, err = s.exec(ctx, `DELETE FROM tokens AS t WHERE `+where, id, realmID)
		return err
	})
	if err == nil && n == 0 {
		err = store.ErrNotFound
	}
	return wrap(err, "delete offline session %s", id)
}

// RevokeClientGrants implements store.Store; the offline tokens go
// through tokens_offline.
func (s *Store) RevokeClientGrants(ctx context.Context, realmID, userID string, c store.Client, until time.Time) (bool, error) {
	// The online ones are found through the user's SSO sessions
	// (tokens_session): tokens have no index by user or client, and one
	// outside a live session is dead already.
	type pick struct {
		where string
		args  []any
	}
	offline := pick{`t.kind = 'offline' AND t.realm_id = ? AND t.subject = ? AND t.client_id = ?`, []any{realmID, userID, c.ClientID}}
	online := pick{`t.session_id <> '' AND t.session_id IN (SELECT id FROM sessions WHERE realm_id = ? AND user_id = ?)
		AND t.kind IN ('refresh', 'code') AND t.realm_id = ? AND t.subject = ? AND t.client_id = ?`,
		[]any{realmID, userID, realmID, userID, c.ClientID}}
	var n int64
	err := s.Tx(ctx, func(ctx context.Context) error {
		consents, err := s.exec(ctx, `DELETE FROM user_consents WHERE realm_id = ? AND user_id = ? AND client_id = ?`,
			realmID, userID, c.ID)
		if err != nil {
			return err
		}
		picks := []pick{offline}
		if consents > 0 {
			picks = append(picks, online)
		}
		for _, p := range picks {
			if _, err := s.exec(ctx, revokeRequestsSQL+p.where+revokeRequestsEnd, append([]any{ms(time.Now()), ms(until)}, p.args...)...); err != nil {
				return err
			}
			tokens, err := s.exec(ctx, `DELETE FROM tokens AS t WHERE `+p.where, p.args...)
			if err != nil {
				return err
			}
			n += tokens
		}
		n += consents
		return nil
	})
	return n > 0, wrap(err, "revoke grants of user %s to %s", userID, c.ClientID)
}

// scanSessionUser reads a session's columns and its LEFT JOINed user's.
func scanSessionUser(r scanner) (x store.SessionUser, err error) {
	vals, err := scanValues(r, sessionColCount+userColCount)
	if err != nil {
		return x, err
	}
	if x.Session, err = scanSession(values(vals[:sessionColCount])); err != nil {
		return x, err
	}
	u, err := scanUser(values(vals[sessionColCount:]))
	if err != nil {
		return x, err
	}
	if u.ID != "" {
		x.User = &u
	}
	return x, nil
}
