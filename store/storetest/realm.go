package storetest

import (
	"errors"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// testRealmIsolation: the same names live in two realms, and nothing of one
// realm is reachable through the other.
func testRealmIsolation(t *testing.T, s store.Store) {
	ctx := t.Context()
	seedRealm(t, s, "a")
	seedRealm(t, s, "b") // same username, clientId, role, group, scope and alias
	eq(t, "user a", get[store.User](t)(s.GetUserByUsername(ctx, "a", "alice")).ID, "a-user")
	eq(t, "user b", get[store.User](t)(s.GetUserByUsername(ctx, "b", "alice")).ID, "b-user")
	eq(t, "client b", get[store.Client](t)(s.GetClientByClientID(ctx, "b", "app")).ID, "b-client")
	eq(t, "role b", get[store.Role](t)(s.GetRoleByName(ctx, "b", "", "admin")).ID, "b-role")
	eq(t, "idp b", get[store.IdentityProvider](t)(s.GetIdentityProvider(ctx, "b", "corp")).InternalID, "b-idp")

	for name, err := range map[string]error{
		"GetUser":         second(s.GetUser(ctx, "b", "a-user")),
		"GetClient":       second(s.GetClient(ctx, "b", "a-client")),
		"GetRole":         second(s.GetRole(ctx, "b", "a-role")),
		"GetGroup":        second(s.GetGroup(ctx, "b", "a-group")),
		"GetClientScope":  second(s.GetClientScope(ctx, "b", "a-scope")),
		"GetSession":      second(s.GetSession(ctx, "b", "a-session")),
		"GetComponent":    second(s.GetComponent(ctx, "b", "a-ldap")),
		"UpdateUser":      s.UpdateUser(ctx, store.User{ID: "a-user", RealmID: "b", Username: "x"}),
		"DeleteUser":      s.DeleteUser(ctx, "b", "a-user"),
		"DeleteClient":    s.DeleteClient(ctx, "b", "a-client"),
		"DeleteGroup":     s.DeleteGroup(ctx, "b", "a-group"),
		"DeleteKey":       s.DeleteKey(ctx, "b", "a-key"),
		"GrantUserRoles":  s.GrantUserRoles(ctx, "b", "b-user", []string{"a-role"}),
		"AddUserToGroup":  s.AddUserToGroup(ctx, "b", "b-user", "a-group"),
		"GrantGroupRoles": s.GrantGroupRoles(ctx, "b", "b-group", []string{"a-role"}),
		"AddComposites":   s.AddRoleComposites(ctx, "b", "b-role", []string{"a-role"}),
	} {
		if !isNotFound(err) {
			t.Errorf("%s across realms: got %v, want ErrNotFound", name, err)
		}
	}
	eq(t, "composites of a", get[[][2]string](t)(s.ListAllRoleComposites(ctx, "a")), [][2]string{{"a-role", "a-crole"}})
	eq(t, "users of b", usernames(get[[]store.User](t)(s.ListUsers(ctx, "b", store.UserQuery{}))), []string{"alice"})
}

// testDeleteRealm: deleting a realm leaves no row of it in any table, and
// every row of another realm in place.
func testDeleteRealm(t *testing.T, s store.Store) {
	ctx := t.Context()
	gone := seedRealm(t, s, "a")
	kept := seedRealm(t, s, "b")
	ok(t, s.DeleteRealm(ctx, "a"))
	for _, kind := range slices.Sorted(maps.Keys(gone)) {
		if err := gone[kind](); !isNotFound(err) {
			t.Errorf("%s of the deleted realm: got %v, want ErrNotFound", kind, err)
		}
		if err := kept[kind](); err != nil {
			t.Errorf("%s of the other realm: %v", kind, err)
		}
	}
	rc, isCounter := s.(RowCounter)
	if !isCounter {
		return
	}
	for realm, wantRows := range map[string]bool{"a": false, "b": true} {
		counts := get[map[string]int](t)(rc.CountRealmRows(ctx, realm))
		for table, n := range counts {
			if (n > 0) != wantRows {
				t.Errorf("realm %s: table %s has %d rows", realm, table, n)
			}
		}
	}
}

// testTimezone: times come back in UTC at millisecond precision, whatever
// zone and precision they went in with (Dex's TimezoneSupport).
func testTimezone(t *testing.T, s store.Store) {
	ctx := t.Context()
	zone := time.FixedZone("UTC+5:30", 5*3600+1800)
	in := time.Date(2024, 1, 2, 3, 4, 5, 123_456_789, zone)
	want := time.Date(2024, 1, 1, 21, 34, 5, 123_000_000, time.UTC)
	ok(t, s.CreateRealm(ctx, store.Realm{ID: "r1", Name: "r1", Created: in}))
	ok(t, s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: "s", RequestID: "q", RealmID: "r1", Requested: in, Expires: in}))
	ok(t, s.CreateSession(ctx, store.Session{ID: "s", RealmID: "r1", UserID: "u", Created: in, LastSeen: in, AuthTime: in}))
	ok(t, s.UpdateLoginFailure(ctx, "r1", "u", func(f store.LoginFailure) (store.LoginFailure, error) {
		f.LastFailure = in
		return f, nil
	}))
	r := get[store.Realm](t)(s.GetRealm(ctx, "r1"))
	tk := get[store.Token](t)(s.GetToken(ctx, store.KindAccess, "s"))
	x := get[store.Session](t)(s.GetSession(ctx, "r1", "s"))
	f := get[store.LoginFailure](t)(s.GetLoginFailure(ctx, "r1", "u"))
	for what, got := range map[string]time.Time{
		"realm created": r.Created, "token requested": tk.Requested, "token expires": tk.Expires,
		"session created": x.Created, "session last seen": x.LastSeen, "session auth time": x.AuthTime,
		"last failure": f.LastFailure,
	} {
		if got != want { // == also compares the location: it must be UTC
			t.Errorf("%s: got %v (%s), want %v", what, got, got.Location(), want)
		}
	}
	if !f.FailedLoginNotBefore.IsZero() {
		t.Errorf("zero time came back as %v", f.FailedLoginNotBefore)
	}
}

func second[T any](_ T, err error) error { return err }

func isNotFound(err error) bool { return errors.Is(err, store.ErrNotFound) }
