package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testAdminSessions: what the admin API's session endpoints read and
// delete. A client session is a live refresh, offline or code record of
// the client in an SSO session that still exists; spent, expired, access
// and other realms' records are not. Offline sessions are live offline
// tokens, kept after their SSO session ends and deleted with their user.
func testAdminSessions(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	alice, bob := user(t, s, "r1", "u1", "alice"), user(t, s, "r1", "u2", "bob")
	user(t, s, "r2", "v1", "alice") // the same name in another realm
	now := t0.Add(24 * time.Hour)
	live, dead := now.Add(time.Hour), now.Add(-time.Second)
	for _, c := range []store.Client{{ID: "k-web", RealmID: "r1", ClientID: "web"}, {ID: "k-app", RealmID: "r1", ClientID: "app"},
		{ID: "k-cli", RealmID: "r1", ClientID: "cli"}, {ID: "k-web2", RealmID: "r2", ClientID: "web"}, {ID: "k-cli2", RealmID: "r2", ClientID: "cli"},
		{ID: "k-reborn", RealmID: "r1", ClientID: "reborn", Created: t0.Add(time.Minute)}} {
		if c.Created.IsZero() {
			c.Created = t0.Add(-time.Hour)
		}
		ok(t, s.CreateClient(ctx, c))
	}
	sess := func(realmID, id, userID string, created time.Time) store.Session {
		x := store.Session{ID: id, RealmID: realmID, UserID: userID, Created: created, LastSeen: created, AuthTime: created,
			IPAddress: "192.0.2.9", Data: raw(`{}`)}
		ok(t, s.CreateSession(ctx, x))
		return x
	}
	s1 := sess("r1", "s1", "u1", t0.Add(2*time.Minute))
	sess("r1", "s2", "u2", t0.Add(time.Minute))
	sess("r1", "s3", "u1", t0.Add(3*time.Minute))
	sess("r2", "x1", "v1", t0)
	tok := func(kind store.TokenKind, sig, realmID, client, userID, session string, exp time.Time) store.Token {
		x := token(kind, sig, "q-"+sig, session, exp)
		x.RealmID, x.ClientID, x.Subject = realmID, client, userID
		ok(t, s.CreateToken(ctx, x))
		return x
	}
	tok(store.KindRefresh, "a1", "r1", "web", "u1", "s1", live)
	tok(store.KindCode, "a2", "r1", "app", "u1", "s1", live)
	tok(store.KindRefresh, "a3", "r1", "web", "u2", "s2", live)
	tok(store.KindRefresh, "a4", "r1", "app", "u2", "s2", dead) // expired
	tok(store.KindRefresh, "a5", "r1", "app", "u1", "s3", live) // spent below
	tok(store.KindAccess, "a6", "r1", "app", "u1", "s3", live)  // no client session
	tok(store.KindRefresh, "a7", "r2", "web", "v1", "x1", live)
	tok(store.KindRefresh, "a8", "r1", "web", "u1", "gone", live) // its session ended
	// Tokens (requested at t0) of a deleted client, and of the client
	// "reborn" replaced since: no client session, no offline session.
	tok(store.KindRefresh, "a9", "r1", "deleted", "u1", "s1", live)
	tok(store.KindRefresh, "a10", "r1", "reborn", "u1", "s1", live)
	tok(store.KindOffline, "o8", "r1", "reborn", "u2", "s2", live)
	ok(t, s.DeactivateToken(ctx, store.KindRefresh, "a5"))
	o1 := tok(store.KindOffline, "o1", "r1", "cli", "u1", "s1", live)
	tok(store.KindOffline, "o2", "r1", "cli", "u1", "old", live) // outlives its session
	tok(store.KindOffline, "o3", "r1", "web", "u2", "s2", live)
	tok(store.KindOffline, "o4", "r1", "cli", "u2", "s2", dead)
	tok(store.KindOffline, "o5", "r2", "cli", "v1", "x1", live)
	tok(store.KindOffline, "o6", "r1", "cli", "u1", "old", live) // spent below
	ok(t, s.DeactivateToken(ctx, store.KindOffline, "o6"))

	counts, err := s.CountClientSessions(ctx, "r1", now)
	ok(t, err)
	eq(t, "CountClientSessions", counts, map[string]int{"web": 2, "app": 1, "cli": 1})

	ids := func(xs []store.SessionUser) (out []string) {
		for _, x := range xs {
			if x.User == nil {
				t.Fatalf("session %s without its user", x.Session.ID)
			}
			out = append(out, x.Session.ID+"/"+x.User.Username)
		}
		return out
	}
	web, err := s.ListClientSessions(ctx, "r1", "web", now, 0, -1)
	ok(t, err)
	eq(t, "ListClientSessions web", ids(web), []string{"s2/bob", "s1/alice"}) // oldest first
	eq(t, "its session", web[1].Session, s1)
	page, err := s.ListClientSessions(ctx, "r1", "web", now, 1, 1)
	ok(t, err)
	eq(t, "second page", ids(page), []string{"s1/alice"})
	page, err = s.ListClientSessions(ctx, "r1", "web", now, 0, 1)
	ok(t, err)
	eq(t, "first page", ids(page), []string{"s2/bob"})
	app, err := s.ListClientSessions(ctx, "r1", "app", now, 0, -1)
	ok(t, err)
	eq(t, "ListClientSessions app", ids(app), []string{"s1/alice"})
	later, err := s.ListClientSessions(ctx, "r1", "web", live.Add(time.Second), 0, -1)
	ok(t, err)
	eq(t, "all expired", len(later), 0)

	off, err := s.ListOfflineTokens(ctx, "r1", "u1", now)
	ok(t, err)
	sigs := func(xs []store.TokenSubject) (out []string) {
		for _, x := range xs {
			out = append(out, x.Token.Signature)
		}
		return out
	}
	eq(t, "ListOfflineTokens u1", sigs(off), []string{"o2", "o1"}) // by session id
	if off[0].Session != nil || off[1].Session == nil || off[1].User == nil || off[0].User == nil {
		t.Fatalf("ListOfflineTokens joins: %+v", off)
	}
	eq(t, "the live session", *off[1].Session, s1)
	eq(t, "the user", *off[1].User, alice)
	eq(t, "its token", off[1].Token, o1)
	all, err := s.ListOfflineTokens(ctx, "r1", "", now)
	ok(t, err)
	eq(t, "ListOfflineTokens realm", sigs(all), []string{"o2", "o1", "o3"})

	of := func(client string) []string {
		xs, err := s.ListClientOfflineTokens(ctx, "r1", client, now)
		ok(t, err)
		return sigs(xs)
	}
	tok(store.KindOffline, "o9", "r1", "web", "u1", "old", live)                // goes with "old" below
	eq(t, "ListClientOfflineTokens cli", of("cli"), []string{"o2", "o9", "o1"}) // web's o9 shares a session of cli's
	r2, err := s.ListClientOfflineTokens(ctx, "r2", "cli", now)
	ok(t, err)
	eq(t, "ListClientOfflineTokens r2", sigs(r2), []string{"o5"})
	eq(t, "ListClientOfflineTokens web", of("web"), []string{"o2", "o9", "o3"}) // not o4 (expired) nor o8 (replaced client) of s2
	eq(t, "ListClientOfflineTokens app", of("app"), []string(nil))
	eq(t, "ListClientOfflineTokens reborn", of("reborn"), []string(nil))
	offCounts, err := s.CountOfflineSessions(ctx, "r1", now)
	ok(t, err)
	eq(t, "CountOfflineSessions", offCounts, map[string]int{"cli": 2, "web": 2}) // not o4 (expired), o6 (spent), o8 (replaced client)
	offCounts, err = s.CountOfflineSessions(ctx, "r2", now)
	ok(t, err)
	eq(t, "CountOfflineSessions r2", offCounts, map[string]int{"cli": 1})
	owner := func(realmID, id string, at time.Time) string {
		u, err := s.OfflineSessionUser(ctx, realmID, id, at)
		if errors.Is(err, store.ErrNotFound) {
			return "not found"
		}
		ok(t, err)
		return u
	}
	eq(t, "OfflineSessionUser old", owner("r1", "old", now), "u1") // outlives its session
	eq(t, "OfflineSessionUser s2", owner("r1", "s2", now), "u2")
	eq(t, "another realm's id", owner("r2", "old", now), "not found")
	eq(t, "no offline token", owner("r1", "s3", now), "not found")
	eq(t, "all expired", owner("r1", "s2", live.Add(time.Second)), "not found")
	eq(t, "no session id", owner("r1", "", now), "not found")
	isErr(t, s.DeleteOfflineSession(ctx, "r2", "old", live), store.ErrNotFound) // another realm's id
	isErr(t, s.DeleteOfflineSession(ctx, "r1", "s3", live), store.ErrNotFound)  // no offline token
	ok(t, s.DeleteOfflineSession(ctx, "r1", "old", live))
	isErr(t, s.DeleteOfflineSession(ctx, "r1", "old", live), store.ErrNotFound)
	eq(t, "OfflineSessionUser deleted", owner("r1", "old", now), "not found")
	for _, sig := range []string{"o2", "o6"} {
		_, err := s.GetToken(ctx, store.KindOffline, sig)
		isErr(t, err, store.ErrNotFound)
		// Its access tokens are revoked with it: they outlive SSO sessions.
		mark, err := s.GetToken(ctx, store.KindRevoked, "q-"+sig)
		ok(t, err)
		eq(t, "revocation of "+sig+" until", mark.Expires, live)
		eq(t, "revocation of "+sig+" realm", mark.RealmID, "r1")
	}
	_, err = s.GetToken(ctx, store.KindRevoked, "q-o3") // another session's
	isErr(t, err, store.ErrNotFound)

	// logout-all: every SSO session of the realm and its online tokens go;
	// offline tokens and other realms stay.
	ok(t, s.DeleteRealmSessions(ctx, "r1"))
	for _, id := range []string{"s1", "s2", "s3"} {
		_, err := s.GetSession(ctx, "r1", id)
		isErr(t, err, store.ErrNotFound)
	}
	for _, sig := range []string{"a1", "a3", "a5"} {
		_, err := s.GetToken(ctx, store.KindRefresh, sig)
		isErr(t, err, store.ErrNotFound)
	}
	_, err = s.GetSession(ctx, "r2", "x1")
	ok(t, err)
	_, err = s.GetToken(ctx, store.KindRefresh, "a7")
	ok(t, err)
	counts, err = s.CountClientSessions(ctx, "r1", now)
	ok(t, err)
	eq(t, "no client sessions", counts, map[string]int{})
	all, err = s.ListOfflineTokens(ctx, "r1", "", now)
	ok(t, err)
	eq(t, "offline tokens outlive logout-all", sigs(all), []string{"o1", "o3"})

	// Revoking a client's offline access: only that user's and client's.
	tok(store.KindOffline, "o7", "r1", "web", "u1", "s9", live)
	webClient := store.Client{ID: "k-web", RealmID: "r1", ClientID: "web"}
	sess("r1", "s10", "u1", now)
	tok(store.KindRefresh, "a11", "r1", "web", "u1", "s10", live)
	revoked, err := s.RevokeClientGrants(ctx, "r1", "u1", webClient, live)
	ok(t, err)
	eq(t, "offline token of u1 and web revoked", revoked, true)
	_, err = s.GetToken(ctx, store.KindOffline, "o7")
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetToken(ctx, store.KindRevoked, "q-o7")
	ok(t, err)
	// Without a consent the client's online session stays, as in Keycloak.
	_, err = s.GetToken(ctx, store.KindRefresh, "a11")
	ok(t, err)
	_, err = s.GetToken(ctx, store.KindRevoked, "q-a11")
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetToken(ctx, store.KindOffline, "o1") // u1's token of cli stays
	ok(t, err)
	revoked, err = s.RevokeClientGrants(ctx, "r1", "u1", webClient, live)
	ok(t, err)
	eq(t, "none left", revoked, false)

	// Deleting a user deletes its offline tokens, not another realm's.
	ok(t, s.DeleteUser(ctx, "r1", bob.ID))
	all, err = s.ListOfflineTokens(ctx, "r1", "", now)
	ok(t, err)
	eq(t, "bob's offline token went with him", sigs(all), []string{"o1"})
	all, err = s.ListOfflineTokens(ctx, "r2", "", now)
	ok(t, err)
	eq(t, "other realm", sigs(all), []string{"o5"})
}
