package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/keygate/keygate/store"
)

// tokenCols are the columns a token is written with; tokenReadCols also
// read its uses, which only RotateRefresh and UseRefresh write.
const (
	tokenCols     = `kind, signature, request_id, realm_id, client_id, subject, session_id, active, requested, expires, request`
	tokenReadCols = tokenCols + `, uses`
)

func scanToken(r scanner) (t store.Token, err error) {
	err = r.Scan(&t.Kind, &t.Signature, &t.RequestID, &t.RealmID, &t.ClientID, &t.Subject, &t.SessionID, &t.Active,
		msTime{&t.Requested}, msTime{&t.Expires}, rawCol{&t.Request}, &t.Uses)
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
	t, err := get(ctx, s, scanToken, `SELECT `+tokenReadCols+` FROM tokens WHERE kind = ? AND signature = ?`, string(kind), signature)
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

// rotateRefreshSQL is RotateRefresh in one PostgreSQL statement: the
// data-modifying CTEs run in one snapshot, each later one only when the
// token was spent (and the session touched), and the statement is atomic.
// A touching rotation spends nothing when its session is gone, as the
// SQLite transaction rolls back. Parameters are cast because INSERT ...
// SELECT cannot infer them.
const rotateRefreshSQL = `WITH spent AS (
	UPDATE tokens SET active = FALSE
	WHERE kind IN ('refresh', 'offline') AND signature = ?::text AND active = TRUE
		AND (NOT ?::boolean OR EXISTS (SELECT 1 FROM sessions WHERE realm_id = ?::text AND id = ?::text))
	RETURNING 1
` + rotateTailSQL

// rotateTailSQL ends rotateRefreshSQL and reuseRefreshSQL, after their
// spent CTE: the session's touch and the new token, each only once the
// token was spent (and the session touched).
const rotateTailSQL = `), touched AS (
	UPDATE sessions SET last_seen = GREATEST(last_seen, ?::bigint)
	WHERE ?::boolean AND realm_id = ?::text AND id = ?::text AND EXISTS (SELECT 1 FROM spent)
	RETURNING 1
), added AS (
	INSERT INTO tokens (` + tokenCols + `)
	SELECT ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::text, ?::boolean, ?::bigint, ?::bigint, ?::text
	WHERE EXISTS (SELECT 1 FROM spent) AND (NOT ?::boolean OR EXISTS (SELECT 1 FROM touched))
	RETURNING 1
)
SELECT count(*) FROM added`

// renewRefreshSQL is RotateRefresh's renewal in place, as one statement on
// PostgreSQL (rotateRefreshSQL's shape): the row must be active, and its
// session present when the session is touched.
const renewRefreshSQL = `WITH renewed AS (
	UPDATE tokens SET requested = ?::bigint, expires = ?::bigint, request = ?::text
	WHERE kind = ?::text AND signature = ?::text AND active = TRUE
		AND (NOT ?::boolean OR EXISTS (SELECT 1 FROM sessions WHERE realm_id = ?::text AND id = ?::text))
	RETURNING 1
), touched AS (
	UPDATE sessions SET last_seen = GREATEST(last_seen, ?::bigint)
	WHERE ?::boolean AND realm_id = ?::text AND id = ?::text AND EXISTS (SELECT 1 FROM renewed)
	RETURNING 1
)
SELECT count(*) FROM renewed`

const renewRefreshLiteSQL = `UPDATE tokens SET requested = ?, expires = ?, request = ? WHERE kind = ? AND signature = ? AND active = TRUE`

// reuseRefreshSQL is rotateRefreshSQL under a refreshTokenMaxReuse above
// 0: the spend counts a use and leaves the token active while uses remain,
// and the use makes every other active token of its request stale. The
// stale rows are found by (request_id, kind) (tokens_request).
//
// Two different tokens of one chain used at once would each lock its own
// row, then wait for the other's to make it stale: a deadlock, which
// PostgreSQL breaks after a second by aborting one (1 pair in 5 when
// tried). So the statement first locks the whole chain in signature order
// (chain, evaluated once before spent's first row): the second use waits,
// then finds its token stale. chainLockSQL is the same lock for UseRefresh.
const reuseRefreshSQL = `WITH chain AS (
	SELECT signature FROM tokens
	WHERE (request_id, kind) IN (SELECT request_id, kind FROM tokens WHERE kind IN ('refresh', 'offline') AND signature = ?::text)
	ORDER BY signature FOR UPDATE
), spent AS (
	UPDATE tokens SET active = (uses + 1 <= ?::integer), uses = uses + 1
	WHERE kind IN ('refresh', 'offline') AND signature = ?::text AND active = TRUE AND uses >= 0 AND uses <= ?::integer
		AND (SELECT count(*) FROM chain) > 0
		AND (NOT ?::boolean OR EXISTS (SELECT 1 FROM sessions WHERE realm_id = ?::text AND id = ?::text))
	RETURNING request_id, kind
), staled AS (
	UPDATE tokens SET active = FALSE, uses = -1
	WHERE (request_id, kind) IN (SELECT request_id, kind FROM spent) AND active = TRUE AND signature <> ?::text
	RETURNING 1
` + rotateTailSQL

// useRefreshSQL counts one use of an active single-use refresh token of
// either kind with uses left (refreshTokenMaxReuse above 0), and
// staleRefreshSQL makes the other active tokens of its request stale:
// UseRefresh, and RotateRefresh on SQLite.
const (
	useRefreshSQL = `UPDATE tokens SET active = (uses + 1 <= ?), uses = uses + 1
		WHERE kind IN ('refresh', 'offline') AND signature = ? AND active = TRUE AND uses >= 0 AND uses <= ?`
	staleRefreshSQL = `UPDATE tokens SET active = FALSE, uses = -1
		WHERE request_id = ? AND kind = ? AND active = TRUE AND signature <> ?`
	chainLockSQL = `SELECT signature FROM tokens
		WHERE (request_id, kind) IN (SELECT request_id, kind FROM tokens WHERE kind IN ('refresh', 'offline') AND signature = ?)
		ORDER BY signature FOR UPDATE`
)

// RotateRefresh implements store.Store.
func (s *Store) RotateRefresh(ctx context.Context, oldSig string, maxReuse int, touch time.Time, next store.Token) error {
	if next.Signature == oldSig {
		return wrap(s.renewRefresh(ctx, touch, next), "renew refresh token")
	}
	if s.d.Name == "postgres" {
		return wrap(s.rotateRefreshPG(ctx, oldSig, maxReuse, touch, next), "rotate refresh token")
	}
	return wrap(s.Tx(ctx, func(ctx context.Context) error {
		if err := s.useRefresh(ctx, oldSig, maxReuse); err != nil {
			return err
		}
		if !touch.IsZero() {
			if err := s.TouchSession(ctx, next.RealmID, next.SessionID, touch); err != nil {
				return err
			}
		}
		return s.CreateToken(ctx, next)
	}), "rotate refresh token")
}

// UseRefresh implements store.Store.
func (s *Store) UseRefresh(ctx context.Context, oldSig string, maxReuse int) error {
	return wrap(s.Tx(ctx, func(ctx context.Context) error { return s.useRefresh(ctx, oldSig, maxReuse) }), "use refresh token")
}

// useRefresh spends oldSig (maxReuse 0) or counts a use of it and makes
// the other tokens of its request stale, inside a transaction.
func (s *Store) useRefresh(ctx context.Context, oldSig string, maxReuse int) error {
	if maxReuse <= 0 {
		err := s.DeactivateToken(ctx, store.KindRefresh, oldSig)
		if errors.Is(err, store.ErrNotFound) {
			err = s.DeactivateToken(ctx, store.KindOffline, oldSig)
		}
		return err
	}
	if s.d.ForUpdate { // reuseRefreshSQL's lock order (SQLite has one writer)
		if _, err := list(ctx, s, func(r scanner) (sig string, err error) { return sig, r.Scan(&sig) }, chainLockSQL, oldSig); err != nil {
			return err
		}
	}
	if err := s.execOne(ctx, useRefreshSQL, maxReuse, oldSig, maxReuse); err != nil {
		return err
	}
	var t store.Token
	var err error
	for _, k := range [...]store.TokenKind{store.KindRefresh, store.KindOffline} {
		if t, err = s.GetToken(ctx, k, oldSig); !errors.Is(err, store.ErrNotFound) {
			break
		}
	}
	if err != nil {
		return err
	}
	_, err = s.exec(ctx, staleRefreshSQL, t.RequestID, string(t.Kind), oldSig)
	return err
}

func (s *Store) renewRefresh(ctx context.Context, touch time.Time, next store.Token) error {
	doTouch := !touch.IsZero()
	if s.d.Name != "postgres" {
		return s.Tx(ctx, func(ctx context.Context) error {
			if err := s.execOne(ctx, renewRefreshLiteSQL, ms(next.Requested), ms(next.Expires), string(next.Request), string(next.Kind), next.Signature); err != nil {
				return err
			}
			if doTouch {
				return s.TouchSession(ctx, next.RealmID, next.SessionID, touch)
			}
			return nil
		})
	}
	return s.countedWrite(ctx, renewRefreshSQL, ms(next.Requested), ms(next.Expires), string(next.Request),
		string(next.Kind), next.Signature, doTouch, next.RealmID, next.SessionID,
		ms(touch), doTouch, next.RealmID, next.SessionID)
}

// rotateRefreshPG runs rotateRefreshSQL, or reuseRefreshSQL under a
// maxReuse above 0.
func (s *Store) rotateRefreshPG(ctx context.Context, oldSig string, maxReuse int, touch time.Time, next store.Token) error {
	doTouch := !touch.IsZero()
	if maxReuse > 0 {
		return s.countedWrite(ctx, reuseRefreshSQL, oldSig, maxReuse, oldSig, maxReuse, doTouch, next.RealmID, next.SessionID,
			oldSig,
			ms(touch), doTouch, next.RealmID, next.SessionID,
			string(next.Kind), next.Signature, next.RequestID, next.RealmID, next.ClientID, next.Subject, next.SessionID,
			next.Active, ms(next.Requested), ms(next.Expires), string(next.Request), doTouch)
	}
	return s.countedWrite(ctx, rotateRefreshSQL, oldSig, doTouch, next.RealmID, next.SessionID,
		ms(touch), doTouch, next.RealmID, next.SessionID,
		string(next.Kind), next.Signature, next.RequestID, next.RealmID, next.ClientID, next.Subject, next.SessionID,
		next.Active, ms(next.Requested), ms(next.Expires), string(next.Request), doTouch)
}

// countedWrite runs a PostgreSQL write statement that answers how many
// rows it wrote as a write: finished even if the client hangs up, and
// never retried after a lost connection (it may have been applied), only
// after the database aborted it to break a conflict (as exec). Anything
// but one row is store.ErrNotFound.
func (s *Store) countedWrite(ctx context.Context, query string, args ...any) error {
	err := s.countedWrite1(ctx, query, args...)
	for i := 1; s.retryConflict(ctx, err, i); i++ {
		err = s.countedWrite1(ctx, query, args...)
	}
	return err
}

func (s *Store) countedWrite1(ctx context.Context, query string, args ...any) (err error) {
	defer s.observed(QueryWrite, time.Now(), &err)
	st, err := s.prepare(ctx, true, query)
	if err != nil {
		return err
	}
	var n int64
	if err := st.QueryRowContext(context.WithoutCancel(ctx), args...).Scan(&n); err != nil {
		return s.classify(err)
	}
	s.wrote(ctx, query)
	if n != 1 {
		return store.ErrNotFound
	}
	return nil
}

// RevokeRequest implements store.Store. Revocations are idempotent, and
// DO NOTHING keeps a repeated one from aborting a PostgreSQL transaction.
func (s *Store) RevokeRequest(ctx context.Context, realmID, requestID string, until time.Time) error {
	t := time.Now()
	_, err := s.exec(ctx, `INSERT INTO tokens (`+tokenCols+`) VALUES (?, ?, ?, ?, '', '', '', FALSE, ?, ?, '')
		ON CONFLICT (kind, signature) DO NOTHING`, string(store.KindRevoked), requestID, requestID, realmID, ms(t), ms(until))
	return wrap(err, "revoke request %s", requestID)
}

// A refresh chain keeps its request id and its rotated-out (inactive) rows.
// On SQLite revoking it seeks on (request_id, kind, active), never walking
// the chain: TestTokenQueryPlans pins it. On PostgreSQL it reads the chain
// by (request_id, kind): active is in no index there, so that the spend in
// every refresh is a heap-only update (migration 0013); revoking is rare.
const deactivateRequestSQL = `UPDATE tokens SET active = FALSE WHERE request_id = ? AND kind = ? AND active = TRUE`

func (s *Store) DeactivateRequest(ctx context.Context, kind store.TokenKind, requestID string) error {
	_, err := s.exec(ctx, deactivateRequestSQL, requestID, string(kind))
	return wrap(err, "deactivate %s tokens of request %s", kind, requestID)
}

// expiredBatch is how many expired tokens one statement deletes: after a
// flood of login attempts, one DELETE of them all would hold SQLite's
// single writer (and PostgreSQL's locks) while every login waited.
const expiredBatch = 1000

// DeleteExpiredTokens deletes tokens whose non-zero Expires is before t,
// a batch (through tokens_expires) per statement.
func (s *Store) DeleteExpiredTokens(ctx context.Context, before time.Time) (int, error) {
	total := 0
	for {
		n, err := s.exec(ctx, `DELETE FROM tokens WHERE (kind, signature) IN
			(SELECT kind, signature FROM tokens WHERE expires > 0 AND expires < ? LIMIT ?)`, ms(before), expiredBatch)
		total += int(n)
		if err != nil || n < expiredBatch {
			return total, wrap(err, "delete expired tokens")
		}
	}
}

// tokenSubjectSQL joins a token to its session and user: one statement, so
// a refresh on PostgreSQL makes one round trip to read and one to write.
var tokenSubjectSQL = `SELECT ` + qualify("t.", tokenReadCols) + `, ` + qualify("s.", sessionCols) + `, ` + userCols + `
	FROM tokens t
	LEFT JOIN sessions s ON s.realm_id = t.realm_id AND s.id = t.session_id
	LEFT JOIN users u ON u.realm_id = t.realm_id AND u.id = t.subject
	WHERE t.kind IN (%s) AND t.signature = ?`

// tokenSubjectQueries are tokenSubjectSQL for 1 to 4 kinds, built once:
// a refresh asks for two, and should not format its query each time.
var tokenSubjectQueries = func() (q [5]string) {
	for n := 1; n < len(q); n++ {
		q[n] = fmt.Sprintf(tokenSubjectSQL, placeholders(n))
	}
	return q
}()

func tokenSubjectQuery(n int) string {
	if n < len(tokenSubjectQueries) {
		return tokenSubjectQueries[n]
	}
	return fmt.Sprintf(tokenSubjectSQL, placeholders(n))
}

// GetTokenSubject implements store.Store.
func (s *Store) GetTokenSubject(ctx context.Context, signature string, kinds ...store.TokenKind) (store.TokenSubject, error) {
	if len(kinds) == 0 {
		return store.TokenSubject{}, wrap(store.ErrNotFound, "get token")
	}
	args := make([]any, 0, len(kinds)+1)
	for _, k := range kinds {
		args = append(args, string(k))
	}
	args = append(args, signature)
	x, err := get(ctx, s, scanTokenSubject, tokenSubjectQuery(len(kinds)), args...)
	return x, wrap(err, "get %s token", kinds[0])
}

var (
	tokenColCount   = strings.Count(tokenReadCols, ",") + 1
	sessionColCount = strings.Count(sessionCols, ",") + 1
	userColCount    = strings.Count(userCols, ",") + 1
)

// scanValues reads a row of n columns as they come, for scanners of a
// join to take their table's part each.
func scanValues(r scanner, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, r.Scan(ptrs...)
}

// scanTokenSubject reads the row once, then hands each table's columns to
// that table's own scanner; the LEFT JOINed ones may be NULL.
func scanTokenSubject(r scanner) (x store.TokenSubject, err error) {
	vals, err := scanValues(r, tokenColCount+sessionColCount+userColCount)
	if err != nil {
		return x, err
	}
	if x.Token, err = scanToken(values(vals[:tokenColCount])); err != nil {
		return x, err
	}
	sess, err := scanSession(values(vals[tokenColCount : tokenColCount+sessionColCount]))
	if err != nil {
		return x, err
	}
	if sess.ID != "" {
		x.Session = &sess
	}
	u, err := scanUser(values(vals[tokenColCount+sessionColCount:]))
	if err != nil {
		return x, err
	}
	if u.ID != "" {
		x.User = &u
	}
	return x, nil
}
