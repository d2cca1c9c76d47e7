package storetest

import (
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testConsents: a user's consents to clients, replaced in place (Created
// kept, scopes sorted), refused for another realm's user or client, and
// gone with their user or client.
func testConsents(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	user(t, s, "r1", "u1", "alice")
	user(t, s, "r1", "u2", "bob")
	user(t, s, "r2", "v1", "alice")
	for _, c := range []store.Client{{ID: "c1", RealmID: "r1", ClientID: "app"}, {ID: "c2", RealmID: "r1", ClientID: "web"},
		{ID: "x1", RealmID: "r2", ClientID: "app"}} {
		c.Created = t0
		ok(t, s.CreateClient(ctx, c))
	}
	_, err := s.GetConsent(ctx, "r1", "u1", "c1")
	isErr(t, err, store.ErrNotFound)

	c := store.Consent{RealmID: "r1", UserID: "u1", ClientID: "c1", Scopes: []string{"s2", "s1"}, Created: t0, Updated: t0}
	ok(t, s.PutConsent(ctx, c))
	got, err := s.GetConsent(ctx, "r1", "u1", "c1")
	ok(t, err)
	c.Scopes = []string{"s1", "s2"}
	eq(t, "GetConsent", got, c)

	later := t0.Add(time.Hour)
	ok(t, s.PutConsent(ctx, store.Consent{RealmID: "r1", UserID: "u1", ClientID: "c1", Scopes: []string{"s3"}, Created: later, Updated: later}))
	got, err = s.GetConsent(ctx, "r1", "u1", "c1")
	ok(t, err)
	eq(t, "replaced", got, store.Consent{RealmID: "r1", UserID: "u1", ClientID: "c1", Scopes: []string{"s3"}, Created: t0, Updated: later})

	ok(t, s.PutConsent(ctx, store.Consent{RealmID: "r1", UserID: "u1", ClientID: "c2", Created: later, Updated: later}))
	ok(t, s.PutConsent(ctx, store.Consent{RealmID: "r1", UserID: "u2", ClientID: "c1", Created: t0, Updated: t0}))
	list, err := s.ListUserConsents(ctx, "r1", "u1")
	ok(t, err)
	if len(list) != 2 || list[0].ClientID != "c1" || list[1].ClientID != "c2" || list[1].Scopes != nil {
		t.Fatalf("ListUserConsents: %+v", list)
	}

	// Another realm's user or client, or one that does not exist.
	for _, x := range []store.Consent{
		{RealmID: "r1", UserID: "v1", ClientID: "c1"}, {RealmID: "r1", UserID: "u1", ClientID: "x1"},
		{RealmID: "r2", UserID: "u1", ClientID: "c1"}, {RealmID: "r1", UserID: "nobody", ClientID: "c1"},
	} {
		x.Created, x.Updated = t0, t0
		isErr(t, s.PutConsent(ctx, x), store.ErrNotFound)
	}
	_, err = s.GetConsent(ctx, "r2", "u1", "c1")
	isErr(t, err, store.ErrNotFound)

	// Revoking a consent logs the client out of the user's sessions too
	// (Keycloak's backchannelLogoutUserFromClient): its refresh tokens and
	// codes go, and their requests' access tokens are revoked; another
	// client's and another user's stay.
	until := t0.Add(48 * time.Hour)
	ok(t, s.CreateSession(ctx, store.Session{ID: "s1", RealmID: "r1", UserID: "u1", Created: t0, LastSeen: t0, AuthTime: t0, Data: raw(`{}`)}))
	ok(t, s.CreateSession(ctx, store.Session{ID: "s2", RealmID: "r1", UserID: "u2", Created: t0, LastSeen: t0, AuthTime: t0, Data: raw(`{}`)}))
	for _, x := range []struct {
		kind                       store.TokenKind
		sig, client, user, session string
	}{
		{store.KindRefresh, "w1", "web", "u1", "s1"}, {store.KindCode, "w2", "web", "u1", "s1"}, {store.KindOffline, "w3", "web", "u1", "s1"},
		{store.KindRefresh, "k1", "app", "u1", "s1"}, {store.KindRefresh, "w4", "web", "u2", "s2"},
	} {
		tk := token(x.kind, x.sig, "q-"+x.sig, x.session, until)
		tk.RealmID, tk.ClientID, tk.Subject = "r1", x.client, x.user
		ok(t, s.CreateToken(ctx, tk))
	}
	revoked, err := s.RevokeClientGrants(ctx, "r1", "u1", store.Client{ID: "c2", RealmID: "r1", ClientID: "web"}, until)
	ok(t, err)
	eq(t, "RevokeClientGrants of a consent", revoked, true)
	_, err = s.GetConsent(ctx, "r1", "u1", "c2")
	isErr(t, err, store.ErrNotFound)
	for _, x := range []struct {
		kind store.TokenKind
		sig  string
		gone bool
	}{{store.KindRefresh, "w1", true}, {store.KindCode, "w2", true}, {store.KindOffline, "w3", true},
		{store.KindRefresh, "k1", false}, {store.KindRefresh, "w4", false}} {
		_, err := s.GetToken(ctx, x.kind, x.sig)
		mark, merr := s.GetToken(ctx, store.KindRevoked, "q-"+x.sig)
		if x.gone {
			isErr(t, err, store.ErrNotFound)
			ok(t, merr)
			eq(t, "revoked until", mark.Expires, until)
		} else {
			ok(t, err)
			isErr(t, merr, store.ErrNotFound)
		}
	}
	ok(t, s.PutConsent(ctx, store.Consent{RealmID: "r1", UserID: "u1", ClientID: "c2", Created: later, Updated: later}))
	ok(t, s.DeleteConsent(ctx, "r1", "u1", "c2"))
	isErr(t, s.DeleteConsent(ctx, "r1", "u1", "c2"), store.ErrNotFound)
	isErr(t, s.DeleteConsent(ctx, "r2", "u1", "c1"), store.ErrNotFound)

	// They go with their client and with their user.
	ok(t, s.DeleteClient(ctx, "r1", "c1"))
	list, err = s.ListUserConsents(ctx, "r1", "u1")
	ok(t, err)
	eq(t, "after the client went", len(list), 0)
	ok(t, s.PutConsent(ctx, store.Consent{RealmID: "r1", UserID: "u2", ClientID: "c2", Created: t0, Updated: t0}))
	ok(t, s.DeleteUser(ctx, "r1", "u2"))
	list, err = s.ListUserConsents(ctx, "r1", "u2")
	ok(t, err)
	eq(t, "after the user went", len(list), 0)
}
