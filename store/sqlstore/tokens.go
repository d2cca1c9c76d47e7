package sqlstore

import (
	"context"
	"time"

	"github.com/keygate/keygate/store"
)

const tokenCols = `kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request`

func scanToken(r scanner) (t store.Token, err error) {
	err = r.Scan(&t.Kind, &t.Signature, &t.RequestID, &t.RealmID, &t.ClientID, &t.Subject, &t.SessionID, &t.Active,
		msTime{&t.Requested}, msTime{&t.Expires}, rawCol{&t.Request})
	return t, err
}

// CreateToken stores t; ErrConflict when (kind, signature) exists. A zero
// Expires means the token never expires.
func (s *Store) CreateToken(ctx context.Context, t store.Token) error {
	_, err := s.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		string(t.Kind), t.Signature, t.RequestID, t.RealmID, t.ClientID, t.Subject, t.SessionID, t.Active,
		ms(t.Requested), ms(t.Expires), string(t.Request))
	return wrap(err, "create %s token", t.Kind)
}

func (s *Store) GetToken(ctx context.Context, kind store.TokenKind, signature string) (store.Token, error) {
	t, err := get(ctx, s, scanToken, `SELECT `+tokenCols+` FROM tokens WHERE kind = ? AND signature = ?`, string(kind), signature)
	return t, wrap(err, "get %s token", kind)
}

func (s *Store) DeleteToken(ctx context.Context, kind store.TokenKind, signature string) error {
	err := s.execOne(ctx, `DELETE FROM tokens WHERE kind = ? AND signature = ?`, string(kind), signature)
	return wrap(err, "delete %s token", kind)
}

func (s *Store) DeactivateToken(ctx context.Context, kind store.TokenKind, signature string) error {
	err := s.execOne(ctx, `UPDATE tokens SET active = FALSE WHERE kind = ? AND signature = ? AND active = TRUE`, string(kind), signature)
	return wrap(err, "deactivate %s token", kind)
}

// RevokeRequest implements store.Store. Revocations are idempotent, and
// DO NOTHING keeps a repeated one from aborting a PostgreSQL transaction.
func (s *Store) RevokeRequest(ctx context.Context, realmID, requestID string, until time.Time) error {
	t := time.Now()
	_, err := s.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, '', '', '', FALSE, ?, ?, '')
		ON CONFLICT (kind, signature) DO NOTHING`, string(store.KindRevoked), requestID, requestID, realmID, ms(t), ms(until))
	return wrap(err, "revoke request %s", requestID)
}

// A refresh chain keeps its request id and its rotated-out (inactive) rows,
// so revoking it must seek on (request_id, kind, active), never walk the
// chain: TestTokenQueryPlans pins it.
const deactivateRequestSQL = `UPDATE tokens SET active = FALSE WHERE request_id = ? AND kind = ? AND active = TRUE`

func (s *Store) DeactivateRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	_, err := s.exec(ctx, deactivateRequestSQL, requestID, string(kind))
	return wrap(err, "deactivate %s tokens of request %s", kind, requestID)
}

// DeleteExpiredTokens deletes tokens whose non-zero Expires is before t.
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	n, err := s.exec(ctx, `DELETE FROM tokens WHERE expires > 0 AND expires < ?`, ms(before))
	return int(n), wrap(err, "delete expired tokens")
}
