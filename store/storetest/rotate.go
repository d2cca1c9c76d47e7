package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testRotateRefresh: a refresh grant's write is all or nothing, and of
// several refreshes racing with one token exactly one wins.
func testRotateRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	exp := t0.Add(time.Hour)
	sess := store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}
	ok(t, s.CreateSession(ctx, sess))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "r1", "q1", "s1", exp)))

	next := token(store.KindRefresh, "r2", "q1", "s1", exp)
	ok(t, s.RotateRefresh(ctx, "r1", 0, t0.Add(time.Minute), next))
	eq(t, "spent", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "r1")).Active, false)
	eq(t, "next", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "r2")), next)
	eq(t, "touched", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))

	// A spent token rotates no more, and nothing of the failed rotation stays.
	isErr(t, s.RotateRefresh(ctx, "r1", 0, t0.Add(2*time.Minute), token(store.KindRefresh, "r3", "q1", "s1", exp)), store.ErrNotFound)
	_, err := s.GetToken(ctx, store.KindRefresh, "r3")
	isErr(t, err, store.ErrNotFound)
	eq(t, "not touched", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))
	isErr(t, s.RotateRefresh(ctx, "nope", 0, time.Time{}, token(store.KindRefresh, "r4", "q1", "s1", exp)), store.ErrNotFound)

	// A touch never moves LastSeen back; a zero touch leaves it.
	ok(t, s.RotateRefresh(ctx, "r2", 0, t0.Add(time.Second), token(store.KindRefresh, "r5", "q1", "s1", exp)))
	ok(t, s.RotateRefresh(ctx, "r5", 0, time.Time{}, token(store.KindRefresh, "r6", "q1", "s1", exp)))
	eq(t, "LastSeen kept", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))

	// Offline tokens rotate too; with their session gone a touching
	// rotation fails, spends nothing and creates nothing.
	ok(t, s.CreateToken(ctx, token(store.KindOffline, "o1", "q2", "s1", exp)))
	ok(t, s.RotateRefresh(ctx, "o1", 0, time.Time{}, token(store.KindOffline, "o2", "q2", "s1", exp)))
	eq(t, "offline spent", get[store.Token](t)(s.GetToken(ctx, store.KindOffline, "o1")).Active, false)
	ok(t, s.DeleteSession(ctx, "r1", "s1"))
	isErr(t, s.RotateRefresh(ctx, "o2", 0, t0.Add(time.Hour), token(store.KindOffline, "o3", "q2", "s1", exp)), store.ErrNotFound)
	_, err = s.GetToken(ctx, store.KindOffline, "o3")
	isErr(t, err, store.ErrNotFound)
	eq(t, "o2 still active (all or nothing)", get[store.Token](t)(s.GetToken(ctx, store.KindOffline, "o2")).Active, true)

	// Inside a transaction it joins it: a rollback undoes it.
	ok(t, s.CreateSession(ctx, store.Session{ID: "s2", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "t1", "q3", "s2", exp)))
	errRollback := fmt.Errorf("roll back")
	isErr(t, s.Tx(ctx, func(ctx context.Context) error {
		if err := s.RotateRefresh(ctx, "t1", 0, t0.Add(time.Minute), token(store.KindRefresh, "t2", "q3", "s2", exp)); err != nil {
			return err
		}
		return errRollback
	}), errRollback)
	eq(t, "rolled back", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "t1")).Active, true)

	// Racing rotations of one token: exactly one wins.
	warm(t, s, 8)
	errs := parallel(8, func(i int) error {
		return s.RotateRefresh(ctx, "t1", 0, t0.Add(time.Minute), token(store.KindRefresh, fmt.Sprint("race", i), "q3", "s2", exp))
	})
	won := winners(t, "racing rotation", errs)
	eq(t, "racing rotations won", won, 1)
}

// testRenewRefresh: a reusable refresh token's family (next.Signature ==
// oldSig) is renewed in place, all or nothing, and racing renewals all win.
func testRenewRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	sess := store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}
	ok(t, s.CreateSession(ctx, sess))
	first := token(store.KindRefresh, "family:q1", "q1", "s1", t0.Add(time.Hour))
	ok(t, s.CreateToken(ctx, first))

	next := token(store.KindRefresh, "family:q1", "q1", "s1", t0.Add(2*time.Hour))
	next.Requested, next.Request = t0.Add(time.Minute), raw(`{"renewed":true}`)
	ok(t, s.RotateRefresh(ctx, "family:q1", 0, t0.Add(time.Minute), next))
	eq(t, "renewed", get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, "family:q1")), next)
	eq(t, "touched", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))
	// Renewed again with the same key: still one active row.
	ok(t, s.RotateRefresh(ctx, "family:q1", 0, time.Time{}, next))
	eq(t, "LastSeen kept", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))

	// Racing renewals all win: reuse is the point.
	warm(t, s, 8)
	errs := parallel(8, func(i int) error { return s.RotateRefresh(ctx, "family:q1", 0, t0.Add(2*time.Minute), next) })
	for _, err := range errs {
		if err != nil {
			t.Errorf("racing renewal: %v", err)
		}
	}

	// Another kind under that key is not renewed; a revoked family or a
	// missing one is ErrNotFound; so is a touching renewal whose session
	// is gone, which changes nothing.
	other := next
	other.Kind = store.KindOffline
	isErr(t, s.RotateRefresh(ctx, "family:q1", 0, time.Time{}, other), store.ErrNotFound)
	isErr(t, s.RotateRefresh(ctx, "family:nope", 0, time.Time{}, token(store.KindRefresh, "family:nope", "q9", "s1", t0.Add(time.Hour))), store.ErrNotFound)
	ok(t, s.CreateToken(ctx, token(store.KindOffline, "family:q2", "q2", "s1", t0.Add(time.Hour))))
	ok(t, s.DeleteSession(ctx, "r1", "s1"))
	late := token(store.KindOffline, "family:q2", "q2", "s1", t0.Add(3*time.Hour))
	isErr(t, s.RotateRefresh(ctx, "family:q2", 0, t0.Add(time.Hour), late), store.ErrNotFound)
	eq(t, "unchanged (all or nothing)", get[store.Token](t)(s.GetToken(ctx, store.KindOffline, "family:q2")), token(store.KindOffline, "family:q2", "q2", "s1", t0.Add(time.Hour)))
	ok(t, s.RotateRefresh(ctx, "family:q2", 0, time.Time{}, late)) // an offline family outlives its SSO session
	ok(t, s.DeactivateRequest(ctx, store.KindOffline, "q2"))
	isErr(t, s.RotateRefresh(ctx, "family:q2", 0, time.Time{}, late), store.ErrNotFound)
}

// testTokenSubject: a refresh grant's one read finds the token of either
// kind with its session and user, and says plainly when they are gone.
func testTokenSubject(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	exp := t0.Add(time.Hour)
	u := store.User{ID: "u1", RealmID: "r1", Username: "alice", Email: "alice@example.com", EmailVerified: true, FirstName: "Alice",
		Enabled: true, Created: t0, Attributes: map[string][]string{"dept": {"ops"}}, RequiredActions: []string{"VERIFY_EMAIL"}, NotBefore: 7}
	ok(t, s.CreateUser(ctx, u))
	sess := store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0.Add(time.Minute), AuthTime: t0,
		RememberMe: true, IPAddress: "192.0.2.1", Data: raw(`{"k":"v"}`)}
	ok(t, s.CreateSession(ctx, sess))
	refresh := token(store.KindRefresh, "r1", "q1", "s1", exp)
	offline := token(store.KindOffline, "o1", "q2", "s1", exp)
	ok(t, s.CreateToken(ctx, refresh))
	ok(t, s.CreateToken(ctx, offline))

	got := get[store.TokenSubject](t)(s.GetTokenSubject(ctx, "r1", store.KindRefresh, store.KindOffline))
	eq(t, "refresh token", got, store.TokenSubject{Token: refresh, Session: &sess, User: &u})
	got = get[store.TokenSubject](t)(s.GetTokenSubject(ctx, "o1", store.KindRefresh, store.KindOffline))
	eq(t, "offline token", got.Token, offline)
	_, err := s.GetTokenSubject(ctx, "o1", store.KindRefresh)
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetTokenSubject(ctx, "nope", store.KindRefresh, store.KindOffline)
	isErr(t, err, store.ErrNotFound)

	// An inactive token is still found (reuse detection needs it).
	ok(t, s.DeactivateToken(ctx, store.KindRefresh, "r1"))
	refresh.Active = false
	eq(t, "spent", get[store.TokenSubject](t)(s.GetTokenSubject(ctx, "r1", store.KindRefresh)).Token, refresh)

	// Session and user gone: the token alone, with nil for them.
	ok(t, s.DeleteSession(ctx, "r1", "s1"))
	ok(t, s.DeleteUser(ctx, "r1", "u1"))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "r2", "q3", "s1", exp)))
	got = get[store.TokenSubject](t)(s.GetTokenSubject(ctx, "r2", store.KindRefresh))
	eq(t, "orphan", got, store.TokenSubject{Token: token(store.KindRefresh, "r2", "q3", "s1", exp)})

}

// testReuseRefresh: under a refreshTokenMaxReuse above 0 a single-use
// token makes maxReuse+1 refreshes, counted by the write itself (racing
// ones too), and each use makes the other active tokens of its request
// stale (Keycloak's "Stale token": older than the newest one used).
func testReuseRefresh(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	exp := t0.Add(time.Hour)
	ok(t, s.CreateSession(ctx, store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "a", "q1", "s1", exp)))
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "other", "q2", "s1", exp)))
	tok := func(sig string) store.Token { return get[store.Token](t)(s.GetToken(ctx, store.KindRefresh, sig)) }
	state := func(name, sig string, active bool, uses int) {
		t.Helper()
		got := tok(sig)
		eq(t, name+" active", got.Active, active)
		eq(t, name+" uses", got.Uses, uses)
	}

	ok(t, s.RotateRefresh(ctx, "a", 2, t0.Add(time.Minute), token(store.KindRefresh, "b1", "q1", "s1", exp)))
	state("a after one use", "a", true, 1)
	eq(t, "touched", get[store.Session](t)(s.GetSession(ctx, "r1", "s1")).LastSeen, t0.Add(time.Minute))
	ok(t, s.RotateRefresh(ctx, "a", 2, time.Time{}, token(store.KindRefresh, "b2", "q1", "s1", exp)))
	state("a after two uses", "a", true, 2)
	state("b1 (older than a's second use)", "b1", false, store.UsesStale)
	ok(t, s.RotateRefresh(ctx, "a", 2, time.Time{}, token(store.KindRefresh, "b3", "q1", "s1", exp)))
	state("a after three uses", "a", false, 3)
	state("b2", "b2", false, store.UsesStale)
	state("b3", "b3", true, 0)
	// A fourth use writes nothing.
	isErr(t, s.RotateRefresh(ctx, "a", 2, time.Time{}, token(store.KindRefresh, "b4", "q1", "s1", exp)), store.ErrNotFound)
	_, err := s.GetToken(ctx, store.KindRefresh, "b4")
	isErr(t, err, store.ErrNotFound)
	state("b3 after a's refused use", "b3", true, 0)
	// A stale token is used no more.
	isErr(t, s.RotateRefresh(ctx, "b1", 2, time.Time{}, token(store.KindRefresh, "b5", "q1", "s1", exp)), store.ErrNotFound)

	// The newest token's use leaves the spent one as it was; UseRefresh
	// counts as RotateRefresh does and makes the same tokens stale.
	ok(t, s.RotateRefresh(ctx, "b3", 2, time.Time{}, token(store.KindRefresh, "c1", "q1", "s1", exp)))
	state("a", "a", false, 3)
	ok(t, s.UseRefresh(ctx, "c1", 2))
	state("c1", "c1", true, 1)
	state("b3 (older than c1's use)", "b3", false, store.UsesStale)
	isErr(t, s.UseRefresh(ctx, "b3", 2), store.ErrNotFound)
	isErr(t, s.UseRefresh(ctx, "nope", 2), store.ErrNotFound)
	state("another request's token", "other", true, 0)

	// With its session gone a touching use writes nothing.
	ok(t, s.CreateSession(ctx, store.Session{ID: "s2", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}))
	ok(t, s.CreateToken(ctx, token(store.KindOffline, "o1", "q4", "s2", exp)))
	ok(t, s.DeleteSession(ctx, "r1", "s2"))
	isErr(t, s.RotateRefresh(ctx, "o1", 2, t0.Add(time.Hour), token(store.KindOffline, "o2", "q4", "s2", exp)), store.ErrNotFound)
	eq(t, "o1 unused", get[store.Token](t)(s.GetToken(ctx, store.KindOffline, "o1")).Uses, 0)
	ok(t, s.RotateRefresh(ctx, "o1", 2, time.Time{}, token(store.KindOffline, "o2", "q4", "s2", exp)))
	eq(t, "o1 used", get[store.Token](t)(s.GetToken(ctx, store.KindOffline, "o1")).Uses, 1)

	// Racing uses of one token: exactly maxReuse+1 win.
	ok(t, s.CreateToken(ctx, token(store.KindRefresh, "t1", "q3", "s1", exp)))
	warm(t, s, 8)
	errs := parallel(8, func(i int) error {
		return s.RotateRefresh(ctx, "t1", 2, t0.Add(time.Minute), token(store.KindRefresh, fmt.Sprint("race", i), "q3", "s1", exp))
	})
	won := winners(t, "racing use", errs)
	eq(t, "racing uses won", won, 3)
	state("t1", "t1", false, 3)
}

// testReuseRefreshChainRace: two different live tokens of one chain used at
// the same moment under a refreshTokenMaxReuse above 0: exactly one wins
// and the other finds itself stale. On PostgreSQL each use locked its own
// row, then the other's to make it stale: a deadlock in about 1 pair of 5,
// answered with an error after a second. Odd pairs use UseRefresh.
func testReuseRefreshChainRace(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	exp := t0.Add(time.Hour)
	ok(t, s.CreateSession(ctx, store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0}))
	warm(t, s, 2)
	for i := range 30 {
		req := fmt.Sprint("q", i)
		for _, sig := range []string{"x", "y"} {
			ok(t, s.CreateToken(ctx, token(store.KindRefresh, fmt.Sprint(sig, i), req, "s1", exp)))
		}
		errs := parallel(2, func(j int) error {
			sig := fmt.Sprint([]string{"x", "y"}[j], i)
			if i%2 == 1 { // a use with no new token (UseRefresh) takes the same lock
				return s.UseRefresh(ctx, sig, 5)
			}
			return s.RotateRefresh(ctx, sig, 5, t0.Add(time.Minute), token(store.KindRefresh, sig+"n", req, "s1", exp))
		})
		won := winners(t, fmt.Sprintf("pair %d", i), errs)
		eq(t, fmt.Sprint("pair ", i, " won"), won, 1)
	}
}

// winners counts the racing writes that succeeded; a loser must have found
// nothing to write (ErrNotFound), any other error fails the test.
func winners(t *testing.T, what string, errs []error) int {
	t.Helper()
	won := 0
	for _, err := range errs {
		switch {
		case err == nil:
			won++
		case !isNotFound(err):
			t.Fatalf("%s: %v", what, err)
		}
	}
	return won
}
