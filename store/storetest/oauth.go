package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

func token(kind store.TokenKind, sig, requestID, sessionID string, expires time.Time) store.Token {
	return store.Token{Kind: kind, Signature: sig, RequestID: requestID, RealmID: "r1", ClientID: "app", Subject: "u1",
		SessionID: sessionID, Active: true, Requested: t0, Expires: expires, Request: raw(`{"scopes":["openid"]}`)}
}

func testSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	x := store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0, RememberMe: true,
		IPAddress: "192.0.2.1", Data: raw(`{"clients":["app"]}`)}
	ok(t, s.CreateSession(ctx, x))
	isErr(t, s.CreateSession(ctx, x), store.ErrConflict)
	eq(t, "GetSession", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")), x)
	_, err := s.GetSession(ctx, "r2", "s1")
	isErr(t, err, store.ErrNotFound)

	ok(t, s.TouchSession(ctx, "r1", "s1", t0.Add(time.Minute)))
	ok(t, s.TouchSession(ctx, "r1", "s1", t0.Add(time.Second))) // late and older: ignored
	x.LastSeen = t0.Add(time.Minute)
	eq(t, "touched", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")), x)
	isErr(t, s.TouchSession(ctx, "r1", "nope", t0), store.ErrNotFound)

	x2 := store.Session{ID: "s2", RealmID: "r1", UserID: "u1", Created: t0.Add(time.Second), LastSeen: t0, AuthTime: t0}
	ok(t, s.CreateSession(ctx, x2))
	ok(t, s.CreateSession(ctx, store.Session{ID: "s3", RealmID: "r1", UserID: "u2", Created: t0, LastSeen: t0, AuthTime: t0}))
	eq(t, "ListUserSessions", get[[]store.Session](t)(s.ListUserSessions(ctx, "r1", "u1")), []store.Session{x, x2})

	// Deleting a session revokes its tokens and only those.
	exp := t0.Add(time.Hour)
	for _, tk := range []store.Token{
		token(store.KindAccess, "a1", "q1", "s1", exp), token(store.KindRefresh, "r1", "q1", "s1", exp),
		token(store.KindRefresh, "r2", "q2", "s2", exp), token(store.KindAccess, "cc", "q3", "", exp),
		token(store.KindOffline, "o1", "q5", "s1", exp), token(store.KindOffline, "o2", "q6", "s2", exp),
	} {
		ok(t, s.CreateToken(ctx, tk))
	}
	tokenGone := func(kind store.TokenKind, sig string, gone bool) {
		t.Helper()
		_, err := s.GetToken(ctx, kind, sig)
		if gone {
			isErr(t, err, store.ErrNotFound)
		} else {
			ok(t, err)
		}
	}
	ok(t, s.DeleteSession(ctx, "r1", "s1"))
	_, err = s.GetSession(ctx, "r1", "s1")
	isErr(t, err, store.ErrNotFound)
	tokenGone(store.KindAccess, "a1", true)
	tokenGone(store.KindRefresh, "r1", true)
	tokenGone(store.KindRefresh, "r2", false)
	tokenGone(store.KindAccess, "cc", false)
	tokenGone(store.KindOffline, "o1", false) // an offline session outlives its SSO session
	isErr(t, s.DeleteSession(ctx, "r1", "s1"), store.ErrNotFound)

	ok(t, s.DeleteUserSessions(ctx, "r1", "u1"))
	eq(t, "after DeleteUserSessions", get[[]store.Session](t)(s.ListUserSessions(ctx, "r1", "u1")), []store.Session{})
	tokenGone(store.KindRefresh, "r2", true)
	tokenGone(store.KindOffline, "o2", false)
	get[store.Session](t)(s.GetSession(ctx, "r1", "s3"))

	// Expiry: idle too long, or too old, goes (with its tokens); a zero
	// limit disables its test.
	now := t0.Add(48 * time.Hour)
	for _, e := range []store.Session{
		{ID: "idle", Created: now.Add(-3 * time.Hour), LastSeen: now.Add(-2 * time.Hour)},
		{ID: "old", Created: now.Add(-40 * time.Hour), LastSeen: now},
		{ID: "fresh", Created: now.Add(-time.Hour), LastSeen: now},
	} {
		e.RealmID, e.UserID, e.AuthTime = "r1", "u9", e.Created
		ok(t, s.CreateSession(ctx, e))
	}
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "idle-token", "q4", "idle", exp)))
	ok(t, s.CreateToken(ctx, token(store.KindOffline, "idle-offline", "q7", "idle", exp)))
	n := get[int](t)(s.DeleteExpiredSessions(ctx, "r1", time.Time{}, time.Time{}))
	eq(t, "deleted with no limits", n, 0)
	n = get[int](t)(s.DeleteExpiredSessions(ctx, "r1", now.Add(-time.Hour), now.Add(-30*time.Hour)))
	eq(t, "deleted", n, 3) // idle, old and s3 (created at t0)
	eq(t, "left", ids(get[[]store.Session](t)(s.ListUserSessions(ctx, "r1", "u9")), func(x store.Session) string { return x.ID }),
		[]string{"fresh"})
	tokenGone(store.KindRefresh, "idle-token", true)
	tokenGone(store.KindOffline, "idle-offline", false)
}

func testTokens(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	exp := t0.Add(time.Hour)
	code := token(store.KindCode, "sig1", "req1", "s1", exp)
	ok(t, s.CreateToken(ctx, code))
	isErr(t, s.CreateToken(ctx, code), store.ErrConflict)
	eq(t, "GetToken", get[store.Token](t)(s.GetToken(ctx, store.KindCode, "sig1")), code)
	_, err := s.GetToken(ctx, store.KindAccess, "sig1")
	isErr(t, err, store.ErrNotFound)
	ok(t, s.CreateToken(ctx, token(store.KindPKCE, "sig1", "req1", "s1", exp))) // same signature, other kind

	ok(t, s.DeactivateToken(ctx, store.KindCode, "sig1"))
	code.Active = false
	eq(t, "deactivated", get[store.Token](t)(s.GetToken(ctx, store.KindCode, "sig1")), code)
	isErr(t, s.DeactivateToken(ctx, store.KindCode, "nope"), store.ErrNotFound)
	isErr(t, s.DeactivateToken(ctx, store.KindCode, "sig1"), store.ErrNotFound) // spent already: a racing second use loses

	for _, tk := range []store.Token{
		token(store.KindAccess, "a1", "req1", "s1", exp), token(store.KindAccess, "a2", "req1", "s1", exp),
		token(store.KindRefresh, "r1", "req1", "s1", exp), token(store.KindAccess, "a3", "req2", "s1", exp),
	} {
		ok(t, s.CreateToken(ctx, tk))
	}
	active := func(kind store.TokenKind, sig string) bool {
		t.Helper()
		return get[store.Token](t)(s.GetToken(ctx, kind, sig)).Active
	}
	ok(t, s.DeactivateRequest(ctx, store.KindAccess, "req1"))
	eq(t, "a1, a2, r1, a3 active", []bool{active(store.KindAccess, "a1"), active(store.KindAccess, "a2"),
		active(store.KindRefresh, "r1"), active(store.KindAccess, "a3")}, []bool{false, false, true, true})
	ok(t, s.DeactivateRequest(ctx, store.KindAccess, "no-such-request"))

	ok(t, s.DeleteToken(ctx, store.KindAccess, "a1"))
	isErr(t, s.DeleteToken(ctx, store.KindAccess, "a1"), store.ErrNotFound)

	// Revocation markers: idempotent, also inside a transaction (a repeated
	// INSERT must not abort a PostgreSQL transaction), swept at expiry.
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		if err := s.RevokeRequest(ctx, "r1", "req9", t0.Add(time.Hour)); err != nil {
			return err
		}
		if err := s.RevokeRequest(ctx, "r1", "req9", t0.Add(2*time.Hour)); err != nil {
			return err
		}
		return s.CreateToken(ctx, token(store.KindRefresh, "after-revoke", "req9", "", t0.Add(time.Hour)))
	}))
	rv := get[store.Token](t)(s.GetToken(ctx, store.KindRevoked, "req9"))
	eq(t, "revocation marker", []any{rv.RequestID, rv.RealmID, rv.Expires.Equal(t0.Add(time.Hour))}, []any{"req9", "r1", true})
	ok(t, s.DeleteToken(ctx, store.KindRefresh, "after-revoke"))
	ok(t, s.DeleteToken(ctx, store.KindRevoked, "req9"))

	// Expiry: zero Expires never expires.
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "old", "req3", "", t0.Add(-time.Minute))))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "forever", "req4", "", time.Time{})))
	n := get[int](t)(s.DeleteExpiredTokens(ctx, t0))
	eq(t, "expired", n, 1)
	_, err = s.GetToken(ctx, store.KindRefresh, "old")
	isErr(t, err, store.ErrNotFound)
	eq(t, "forever", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "forever")).Expires, time.Time{})
	n = get[int](t)(s.DeleteExpiredTokens(ctx, exp.Add(time.Second)))
	eq(t, "expired later", n, 5) // sig1 code and pkce, a2, a3, r1
	active(store.KindRefresh, "forever")

	// More than one batch goes, and only what expired.
	ok(t, s.Tx(ctx, func(ctx context.Context) error {
		for i := range 2345 {
			if err := s.CreateToken(ctx, token(store.KindLogin, fmt.Sprint("flood-", i), fmt.Sprint("fq-", i), "", t0)); err != nil {
				return err
			}
		}
		return s.CreateToken(ctx, token(store.KindLogin, "live", "lq", "", exp.Add(time.Hour)))
	}))
	n = get[int](t)(s.DeleteExpiredTokens(ctx, exp.Add(time.Second)))
	eq(t, "a flood of expired rows", n, 2345)
	active(store.KindLogin, "live")
	active(store.KindRefresh, "forever")
}

func testKeys(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	k1 := store.Key{ID: "k1", RealmID: "r1", Algorithm: "RS256", Use: "sig", Private: []byte{0x30, 0x82, 0, 1}, Created: t0}
	got := get[store.Key](t)(s.CreateActiveKey(ctx, k1))
	k1.Active = true
	eq(t, "first CreateActiveKey", got, k1)
	got = get[store.Key](t)(s.CreateActiveKey(ctx, store.Key{ID: "k2", RealmID: "r1", Algorithm: "RS256", Private: []byte{2}, Created: t0}))
	eq(t, "second CreateActiveKey", got, k1)
	hs := store.Key{ID: "k3", RealmID: "r1", Algorithm: "HS512", Use: "sig", Active: true, Private: []byte("secret"), Created: t0}
	eq(t, "other algorithm", get[store.Key](t)(s.CreateActiveKey(ctx, hs)), hs)
	_, err := s.CreateActiveKey(ctx, store.Key{ID: "k9", RealmID: "nope", Algorithm: "RS256", Private: []byte{1}, Created: t0})
	isErr(t, err, store.ErrNotFound)

	k4 := store.Key{ID: "k4", RealmID: "r1", Algorithm: "RS256", Use: "sig", Private: []byte{4}, Created: t0.Add(time.Hour)}
	ok(t, s.RotateKey(ctx, k4))
	k4.Active, k1.Active = true, false
	eq(t, "ListKeys", get[[]store.Key](t)(s.ListKeys(ctx, "r1")), []store.Key{hs, k4, k1})
	eq(t, "active after rotation", get[store.Key](t)(s.CreateActiveKey(ctx, store.Key{ID: "k5", RealmID: "r1", Algorithm: "RS256",
		Private: []byte{5}, Created: t0})), k4)
	isErr(t, s.RotateKey(ctx, store.Key{ID: "k1", RealmID: "r1", Algorithm: "RS256", Private: []byte{1}, Created: t0}), store.ErrConflict)
	eq(t, "failed rotation changed nothing", get[[]store.Key](t)(s.ListKeys(ctx, "r1")), []store.Key{hs, k4, k1})

	ok(t, s.DeleteKey(ctx, "r1", "k1"))
	isErr(t, s.DeleteKey(ctx, "r1", "k1"), store.ErrNotFound)
	eq(t, "after delete", get[[]store.Key](t)(s.ListKeys(ctx, "r1")), []store.Key{hs, k4})
}

// testConcurrentCreateActiveKey is ten replicas signing their first token at
// once: they all agree on one key.
func testConcurrentCreateActiveKey(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	keys := make([]store.Key, 10)
	noErrors(t, parallel(10, func(i int) (err error) {
		keys[i], err = s.CreateActiveKey(ctx, store.Key{ID: "k" + name(i), RealmID: "r1", Algorithm: "RS256",
			Private: []byte(name(i)), Created: t0})
		return err
	}))
	for _, k := range keys {
		eq(t, "key", k, keys[0])
	}
	eq(t, "stored", get[[]store.Key](t)(s.ListKeys(ctx, "r1")), keys[:1])
}

func testLoginFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	_, err := s.GetLoginFailure(ctx, "r1", "u1")
	isErr(t, err, store.ErrNotFound)
	want := store.LoginFailure{RealmID: "r1", UserID: "u1", NumFailures: 1, NumTempLockouts: 1, LastFailure: t0,
		LastIPFailure: "192.0.2.1", FailedLoginNotBefore: t0.Add(time.Minute)}
	ok(t, s.UpdateLoginFailure(ctx, "r1", "u1", func(old store.LoginFailure) (store.LoginFailure, error) {
		eq(t, "zero row", old, store.LoginFailure{RealmID: "r1", UserID: "u1"})
		f := want
		f.RealmID, f.UserID = "ignored", "ignored"
		return f, nil
	}))
	eq(t, "GetLoginFailure", get[store.LoginFailure](t)(s.GetLoginFailure(ctx, "r1", "u1")), want)
	ok(t, s.UpdateLoginFailure(ctx, "r1", "u1", func(old store.LoginFailure) (store.LoginFailure, error) {
		eq(t, "old", old, want)
		return old, store.ErrAbort
	}))
	boom := errors.New("boom")
	isErr(t, s.UpdateLoginFailure(ctx, "r1", "u2", func(old store.LoginFailure) (store.LoginFailure, error) {
		return old, boom
	}), boom)
	_, err = s.GetLoginFailure(ctx, "r1", "u2")
	isErr(t, err, store.ErrNotFound)

	inc := func(old store.LoginFailure) (store.LoginFailure, error) { old.NumFailures++; return old, nil }
	ok(t, s.UpdateLoginFailure(ctx, "r1", "u2", inc))
	ok(t, s.UpdateLoginFailure(ctx, "r2", "u1", inc))
	ok(t, s.DeleteLoginFailure(ctx, "r1", "u1"))
	ok(t, s.DeleteLoginFailure(ctx, "r1", "u1")) // resetting nothing is fine
	_, err = s.GetLoginFailure(ctx, "r1", "u1")
	isErr(t, err, store.ErrNotFound)
	ok(t, s.DeleteLoginFailures(ctx, "r1"))
	_, err = s.GetLoginFailure(ctx, "r1", "u2")
	isErr(t, err, store.ErrNotFound)
	eq(t, "other realm", get[store.LoginFailure](t)(s.GetLoginFailure(ctx, "r2", "u1")).NumFailures, 1)
}

// testConcurrentLoginFailures is fifty wrong passwords at once, starting with
// no counter row: none is lost.
func testConcurrentLoginFailures(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	warm(t, s, 50)
	noErrors(t, parallel(50, func(int) error {
		return s.UpdateLoginFailure(ctx, "r1", "u1", func(old store.LoginFailure) (store.LoginFailure, error) {
			old.NumFailures++
			old.LastFailure = t0
			return old, nil
		})
	}))
	eq(t, "failures", get[store.LoginFailure](t)(s.GetLoginFailure(ctx, "r1", "u1")).NumFailures, 50)
}
