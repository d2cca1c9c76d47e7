package oidc

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// lazyFixture is a storage on SQLite with realm "r" in the context and one
// stored token of kind at signature sig.
func lazyFixture(t *testing.T, kind store.TokenKind, sig string) (*storage, context.Context, fosite.Requester) {
	t.Helper()
	st := backends.SQLite(t)
	// A write outside the transaction would wait for SQLite's one writer:
	// fail instead of hanging.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	if err := st.CreateRealm(ctx, store.Realm{ID: "r", Name: "r", Enabled: true, Settings: []byte(`{}`)}); err != nil {
		t.Fatal(err)
	}
	s := &storage{st: st, tx: st}
	ctx = WithRealm(ctx, &Realm{Row: store.Realm{ID: "r", Name: "r"}})
	req := &fosite.Request{ID: "q", RequestedAt: time.Now(), Client: &fosite.DefaultClient{ID: "c"},
		Session: newSession("r"), Form: map[string][]string{}}
	if err := s.create(ctx, kind, sig, req); err != nil {
		t.Fatal(err)
	}
	return s, ctx, req
}

func active(t *testing.T, s *storage, kind store.TokenKind, sig string) bool {
	t.Helper()
	tok, err := s.st.GetToken(context.Background(), kind, sig)
	if err != nil {
		t.Fatalf("%s %s: %v", kind, sig, err)
	}
	return tok.Active
}

// The code exchange's writes are one transaction: a write that fails after
// InvalidateAuthorizeCodeSession, rolled back as fosite does, leaves the
// code unspent (the client may retry), and so does a nested Rollback
// followed by the owner's Commit.
func TestLazyTxCodeExchangeAtomic(t *testing.T) {
	s, ctx, req := lazyFixture(t, store.KindCode, "code")
	// A refresh token already stored under the new signature: its write fails.
	if err := s.create(ctx, store.KindRefresh, "dup", req); err != nil {
		t.Fatal(err)
	}

	tx, err := s.BeginTX(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.InvalidateAuthorizeCodeSession(tx, "code"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshTokenSession(tx, "dup", "", req); err == nil {
		t.Fatal("duplicate refresh token stored")
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if !active(t, s, store.KindCode, "code") {
		t.Fatal("a failed exchange spent the code")
	}

	tx, _ = s.BeginTX(ctx)
	if err := s.InvalidateAuthorizeCodeSession(tx, "code"); err != nil {
		t.Fatal(err)
	}
	inner, _ := s.BeginTX(tx)
	if err := s.Rollback(inner); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tx); !errors.Is(err, errRolledBack) {
		t.Fatalf("Commit after a nested Rollback: %v", err)
	}
	if !active(t, s, store.KindCode, "code") {
		t.Fatal("a nested Rollback did not undo the code's redemption")
	}

	// The exchange that succeeds spends the code and stores the refresh token together.
	tx, _ = s.BeginTX(ctx)
	if err := s.InvalidateAuthorizeCodeSession(tx, "code"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshTokenSession(tx, "rt", "", req); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if active(t, s, store.KindCode, "code") || !active(t, s, store.KindRefresh, "rt") {
		t.Fatal("committed exchange: code not spent or refresh token missing")
	}
	// A second redemption loses.
	tx, _ = s.BeginTX(ctx)
	if err := s.InvalidateAuthorizeCodeSession(tx, "code"); err == nil {
		t.Fatal("a spent code was redeemed again")
	}
	_ = s.Rollback(tx)
}

// A refresh's rotation is noted, not written, until the new token's write:
// a grant rolled back before it spends nothing; a spent token never
// rotates again; a rotation nothing followed still spends on Commit.
func TestLazyTxRefreshRotation(t *testing.T) {
	s, ctx, req := lazyFixture(t, store.KindRefresh, "old")

	tx, _ := s.BeginTX(ctx)
	if err := s.RotateRefreshToken(tx, "q", "old"); err != nil {
		t.Fatal(err)
	}
	if err := s.Rollback(tx); err != nil {
		t.Fatal(err)
	}
	if !active(t, s, store.KindRefresh, "old") {
		t.Fatal("a rolled back refresh spent the token")
	}

	tx, _ = s.BeginTX(ctx)
	if err := s.RotateRefreshToken(tx, "q", "old"); err != nil {
		t.Fatal(err)
	}
	if err := s.CreateRefreshTokenSession(tx, "new", "", req); err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if active(t, s, store.KindRefresh, "old") || !active(t, s, store.KindRefresh, "new") {
		t.Fatal("rotation: old token still active or new one missing")
	}

	// The spent token again: the new token's write fails, nothing is stored.
	tx, _ = s.BeginTX(ctx)
	_ = s.RotateRefreshToken(tx, "q", "old")
	if err := s.CreateRefreshTokenSession(tx, "fork", "", req); !errors.Is(err, fosite.ErrSerializationFailure) {
		t.Fatalf("rotating a spent token: %v", err)
	}
	_ = s.Rollback(tx)
	if _, err := s.st.GetToken(ctx, store.KindRefresh, "fork"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("a spent token forked the chain: %v", err)
	}

	// A rotation with no new token after it spends on Commit.
	tx, _ = s.BeginTX(ctx)
	_ = s.RotateRefreshToken(tx, "q", "new")
	if err := s.Commit(tx); err != nil {
		t.Fatal(err)
	}
	if active(t, s, store.KindRefresh, "new") {
		t.Fatal("Commit did not spend the noted token")
	}
}

// A reusable family's row is renewed by the new token's write, never
// spent: not on a Commit nothing else preceded, not when a transaction
// began before the refresh (bind), and its renewal rolls back with it.
func TestLazyTxRefreshFamily(t *testing.T) {
	const fam = familyPrefix + "q"
	s, ctx, req := lazyFixture(t, store.KindRefresh, fam)

	tx, _ := s.BeginTX(ctx)
	_ = s.RotateRefreshToken(tx, "q", fam)
	if err := s.Commit(tx); err != nil || !active(t, s, store.KindRefresh, fam) {
		t.Fatalf("a renewal nothing followed: %v, active %v", err, active(t, s, store.KindRefresh, fam))
	}

	for _, commit := range []bool{true, false} {
		tx, _ = s.BeginTX(ctx)
		if err := s.RotateRefreshToken(tx, "q", fam); err != nil {
			t.Fatal(err)
		}
		// Another write: the store's transaction begins (bind), which
		// spends a noted single-use token but must leave a family's row.
		if err := s.CreateAuthorizeCodeSession(tx, fmt.Sprint("code-", commit), req); err != nil {
			t.Fatal(err)
		}
		req.GetSession().(*Session).SetExpiresAt(fosite.RefreshToken, time.Now().Add(time.Hour).Truncate(time.Millisecond))
		if err := s.CreateRefreshTokenSession(tx, fam, "", req); err != nil {
			t.Fatal(err)
		}
		if commit {
			if err := s.Commit(tx); err != nil {
				t.Fatal(err)
			}
		} else {
			_ = s.Rollback(tx)
		}
		tok, err := s.st.GetToken(ctx, store.KindRefresh, fam)
		if err != nil || !tok.Active {
			t.Fatalf("commit %v: family row %v, %v", commit, tok.Active, err)
		}
		if renewed := tok.Expires.After(time.Now().Add(50 * time.Minute)); renewed != commit {
			t.Errorf("commit %v: row renewed %v (expires %v)", commit, renewed, tok.Expires)
		}
		req.GetSession().(*Session).SetExpiresAt(fosite.RefreshToken, time.Now().Add(time.Minute))
		if !commit {
			continue
		}
		// Undo the renewal's expiry for the rollback round.
		if err := s.st.RotateRefresh(ctx, fam, 0, time.Time{}, store.Token{Kind: store.KindRefresh, Signature: fam, Expires: time.Now().Add(time.Minute), Request: tok.Request}); err != nil {
			t.Fatal(err)
		}
	}
}

// Only a refresh token's jti names a family: the realm's internal tokens
// share its HMAC key and carry jtis of their own.
func TestRefreshKey(t *testing.T) {
	const tok = "h.p.sig"
	for _, c := range []struct{ jti, typ, want string }{
		{"q1.RANDOM", "Refresh", familyPrefix + "q1"},
		{"q1.RANDOM", "Offline", familyPrefix + "q1"},
		{"q1.RANDOM", "login-attempt", "sig"},
		{"q1.RANDOM", "", "sig"},
		{"2b7c-uuid", "Refresh", "sig"},
		{".RANDOM", "Refresh", "sig"},
	} {
		if got := refreshKey(c.jti, c.typ, tok); got != c.want {
			t.Errorf("refreshKey(%q, %q) = %q, want %q", c.jti, c.typ, got, c.want)
		}
	}
}
