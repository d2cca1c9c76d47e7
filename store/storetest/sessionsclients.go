package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testSessionsClients: the clients of many SSO sessions in one read, as
// the account console lists them: live refresh, offline and code records
// count (each client once, sorted), spent ones, access tokens and other
// realms' do not; a session without any has no entry.
func testSessionsClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	exp := t0.Add(time.Hour)
	tok := func(kind store.TokenKind, sig, realmID, client, session string) store.Token {
		x := token(kind, sig, "q-"+sig, session, exp)
		x.RealmID, x.ClientID = realmID, client
		return x
	}
	for _, x := range []store.Token{
		tok(store.KindRefresh, "t1", "r1", "web", "s1"),
		tok(store.KindRefresh, "t2", "r1", "app", "s1"),
		tok(store.KindCode, "t3", "r1", "app", "s1"), // app once
		tok(store.KindOffline, "t4", "r1", "cli", "s2"),
		tok(store.KindAccess, "t5", "r1", "api", "s2"),  // access tokens are not client sessions
		tok(store.KindRefresh, "t6", "r1", "old", "s2"), // spent below
		tok(store.KindRefresh, "t7", "r2", "other", "s1"),
		tok(store.KindRefresh, "t8", "r1", "none", ""),
		tok(store.KindRefresh, "t9", "r1", "gone", "s4"), // not asked for
	} {
		ok(t, s.CreateToken(ctx, x))
	}
	ok(t, s.DeactivateToken(ctx, store.KindRefresh, "t6"))

	got, err := s.ListSessionsClients(ctx, "r1", []string{"s1", "s2", "s3"})
	ok(t, err)
	eq(t, "ListSessionsClients", got, map[string][]string{"s1": {"app", "web"}, "s2": {"cli"}})

	got, err = s.ListSessionsClients(ctx, "r1", nil)
	ok(t, err)
	eq(t, "no sessions", got, map[string][]string{})

	// More sessions than one statement takes.
	ids := []string{}
	for i := range 1200 {
		ids = append(ids, fmt.Sprintf("many-%04d", i))
	}
	ok(t, s.CreateToken(ctx, tok(store.KindRefresh, "m1", "r1", "app", ids[0])))
	ok(t, s.CreateToken(ctx, tok(store.KindRefresh, "m2", "r1", "app", ids[len(ids)-1])))
	got, err = s.ListSessionsClients(ctx, "r1", append(ids, "s2"))
	ok(t, err)
	eq(t, "chunked", got, map[string][]string{ids[0]: {"app"}, ids[len(ids)-1]: {"app"}, "s2": {"cli"}})
}
