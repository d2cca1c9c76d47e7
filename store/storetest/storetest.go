// Package storetest is the conformance suite every store.Store backend runs,
// after Dex's storage/conformance: one behaviour, tested once, for SQLite
// and PostgreSQL alike.
//
// A backend's test calls Run with a function that opens a fresh, empty,
// migrated store and registers its cleanup:
//
//	func TestStore(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) store.Store { ... })
//	}
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// Run runs every conformance test, each on a store of its own from open.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s store.Store)
	}{
		{"Realms", testRealms},
		{"Clients", testClients},
		{"ClientScopes", testClientScopes},
		{"Roles", testRoles},
		{"Groups", testGroups},
		{"Users", testUsers},
		{"DuplicateEmails", testDuplicateEmails},
		{"ConcurrentDuplicateEmails", testConcurrentDuplicateEmails},
		{"ListUsers", testListUsers},
		{"SearchUsers", testSearchUsers},
		{"Credentials", testCredentials},
		{"ConcurrentCredentialUpdate", testConcurrentCredentialUpdate},
		{"Sessions", testSessions},
		{"SessionsClients", testSessionsClients},
		{"AdminSessions", testAdminSessions},
		{"Consents", testConsents},
		{"Tokens", testTokens},
		{"Keys", testKeys},
		{"ConcurrentCreateActiveKey", testConcurrentCreateActiveKey},
		{"LoginFailures", testLoginFailures},
		{"ConcurrentLoginFailures", testConcurrentLoginFailures},
		{"LoginFailureReservations", testLoginFailureReservations},
		{"Components", testComponents},
		{"IdentityProviders", testIdentityProviders},
		{"FederatedIdentities", testFederatedIdentities},
		{"InitialAccessTokens", testInitialAccessTokens},
		{"Events", testEvents},
		{"RealmIsolation", testRealmIsolation},
		{"DeleteRealm", testDeleteRealm},
		{"Transactions", testTransactions},
		{"FositeTransactions", testFositeTransactions},
		{"RefreshInTransaction", testRefreshInTransaction},
		{"RotateRefresh", testRotateRefresh},
		{"RenewRefresh", testRenewRefresh},
		{"ReuseRefreshChainRace", testReuseRefreshChainRace},
		{"ReuseRefresh", testReuseRefresh},
		{"TokenSubject", testTokenSubject},
		{"Timezone", testTimezone},
		{"BulkUsers", testBulkUsers},
		{"CacheVersions", testCacheVersions},
		{"CacheVersionsInTx", testCacheVersionsInTx},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// RowCounter is implemented by backends that can count what each table holds
// for a realm; DeleteRealm then checks that nothing at all is left.
type RowCounter interface {
	CountRealmRows(ctx context.Context, realmID string) (map[string]int, error)
}

// Transactional is fosite's storage.Transactional, which SQL backends offer.
type Transactional interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// t0 is a fixed instant at millisecond precision, in UTC.
var t0 = time.Date(2024, 5, 6, 7, 8, 9, 123_000_000, time.UTC)

func raw(s string) json.RawMessage { return json.RawMessage(s) }

func ok(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// isErr fails unless errors.Is(err, want).
func isErr(t *testing.T, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("got error %v, want %v", err, want)
	}
}

func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%s:\n got  %+v\n want %+v", what, got, want)
	}
}

// get calls a getter and fails on error.
func get[T any](t *testing.T) func(v T, err error) T {
	return func(v T, err error) T {
		t.Helper()
		ok(t, err)
		return v
	}
}

// ids maps a list to the ids (or names) key picks.
func ids[T any](xs []T, key func(T) string) []string {
	out := []string{}
	for _, x := range xs {
		out = append(out, key(x))
	}
	return out
}

func roleIDs(rs []store.Role) []string   { return ids(rs, func(r store.Role) string { return r.ID }) }
func groupIDs(gs []store.Group) []string { return ids(gs, func(g store.Group) string { return g.ID }) }
func usernames(us []store.User) []string {
	return ids(us, func(u store.User) string { return u.Username })
}

func realm(t *testing.T, s store.Store, id string) store.Realm {
	t.Helper()
	r := store.Realm{ID: id, Name: "name-" + id, Enabled: true, Created: t0}
	ok(t, s.CreateRealm(t.Context(), r))
	return r
}

func user(t *testing.T, s store.Store, realmID, id, username string) store.User {
	t.Helper()
	u := store.User{ID: id, RealmID: realmID, Username: username, Enabled: true, Created: t0}
	ok(t, s.CreateUser(t.Context(), u))
	return u
}

// seedRealm stores one row of every kind in realm id (prefixing every id
// with it) and returns a getter per kind, for DeleteRealm and isolation.
func seedRealm(t *testing.T, s store.Store, id string) map[string]func() error {
	t.Helper()
	ctx := t.Context()
	p := func(x string) string { return id + "-" + x }
	realm(t, s, id)
	ok(t, s.CreateClient(ctx, store.Client{ID: p("client"), RealmID: id, ClientID: "app", Created: t0}))
	ok(t, s.CreateClientScope(ctx, store.ClientScope{ID: p("scope"), RealmID: id, Name: "profile"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: p("role"), RealmID: id, Name: "admin"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: p("crole"), RealmID: id, ClientID: p("client"), Name: "admin"}))
	ok(t, s.AddRoleComposites(ctx, id, p("role"), []string{p("crole")}))
	ok(t, s.CreateGroup(ctx, store.Group{ID: p("group"), RealmID: id, Name: "staff"}))
	ok(t, s.GrantGroupRoles(ctx, id, p("group"), []string{p("role")}))
	user(t, s, id, p("user"), "alice")
	ok(t, s.GrantUserRoles(ctx, id, p("user"), []string{p("role")}))
	ok(t, s.AddUserToGroup(ctx, id, p("user"), p("group")))
	ok(t, s.SetPassword(ctx, p("user"), store.Credential{ID: p("cred"), Created: t0, SecretData: "{}"}))
	ok(t, s.CreateSession(ctx, store.Session{ID: p("session"), RealmID: id, UserID: p("user"), Created: t0, LastSeen: t0, AuthTime: t0}))
	ok(t, s.CreateToken(ctx, store.Token{Kind: store.KindRefresh, Signature: p("sig"), RequestID: p("req"), RealmID: id,
		ClientID: "app", SessionID: p("session"), Active: true, Requested: t0, Expires: t0.Add(time.Hour)}))
	ok(t, s.CreateToken(ctx, store.Token{Kind: store.KindAccess, Signature: p("cc"), RequestID: p("req2"), RealmID: id,
		ClientID: "app", Active: true, Requested: t0, Expires: t0.Add(time.Hour)}))
	get[store.Key](t)(s.CreateActiveKey(ctx, store.Key{ID: p("key"), RealmID: id, Algorithm: "RS256", Private: []byte{1}, Created: t0}))
	ok(t, s.UpdateLoginFailure(ctx, id, p("user"), func(f store.LoginFailure) (store.LoginFailure, error) {
		f.NumFailures++
		return f, nil
	}))
	ok(t, s.CreateComponent(ctx, store.Component{ID: p("ldap"), RealmID: id, ParentID: id, Name: "ldap",
		ProviderID: "ldap", ProviderType: "org.keycloak.storage.UserStorageProvider"}))
	ok(t, s.CreateIdentityProvider(ctx, store.IdentityProvider{InternalID: p("idp"), RealmID: id, Alias: "corp", ProviderID: "saml", Enabled: true}))
	ok(t, s.CreateIdentityProviderMapper(ctx, store.IdentityProviderMapper{ID: p("mapper"), RealmID: id, Alias: "corp", Name: "email", Mapper: "attr"}))
	ok(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: id, UserID: p("user"), Alias: "corp", ExternalID: p("ext")}))
	ok(t, s.CreateInitialAccessToken(ctx, store.InitialAccessToken{ID: p("iat"), RealmID: id, TokenHash: p("hash"), Created: t0, Count: 1, RemainingCount: 1}))
	ok(t, s.PutConsent(ctx, store.Consent{RealmID: id, UserID: p("user"), ClientID: p("client"), Scopes: []string{p("scope")},
		Created: t0, Updated: t0}))
	ok(t, s.AddEvents(ctx, []store.Event{{ID: p("event"), RealmID: id, Time: t0, Type: "LOGIN", UserID: p("user")}},
		[]store.AdminEvent{{ID: p("aevent"), RealmID: id, Time: t0, OperationType: "CREATE", AuthUserID: p("user")}}))

	// Each getter fails with store.ErrNotFound once the row is gone.
	first := func(n int, err error) error {
		if err == nil && n == 0 {
			err = store.ErrNotFound
		}
		return err
	}
	return map[string]func() error{
		"realm":     func() error { _, err := s.GetRealm(ctx, id); return err },
		"client":    func() error { _, err := s.GetClient(ctx, id, p("client")); return err },
		"scope":     func() error { _, err := s.GetClientScope(ctx, id, p("scope")); return err },
		"role":      func() error { _, err := s.GetRole(ctx, id, p("role")); return err },
		"crole":     func() error { _, err := s.GetRole(ctx, id, p("crole")); return err },
		"composite": func() error { c, err := s.ListAllRoleComposites(ctx, id); return first(len(c), err) },
		"group":     func() error { _, err := s.GetGroup(ctx, id, p("group")); return err },
		"groupRole": func() error { r, err := s.ListGroupRoles(ctx, id, p("group")); return first(len(r), err) },
		"user":      func() error { _, err := s.GetUser(ctx, id, p("user")); return err },
		"userRole":  func() error { r, err := s.ListUserRoles(ctx, id, p("user")); return first(len(r), err) },
		"userGroup": func() error { g, err := s.ListUserGroups(ctx, id, p("user")); return first(len(g), err) },
		"cred":      func() error { c, err := s.ListCredentials(ctx, p("user")); return first(len(c), err) },
		"session":   func() error { _, err := s.GetSession(ctx, id, p("session")); return err },
		"token":     func() error { _, err := s.GetToken(ctx, store.KindRefresh, p("sig")); return err },
		"ccToken":   func() error { _, err := s.GetToken(ctx, store.KindAccess, p("cc")); return err },
		"key":       func() error { k, err := s.ListKeys(ctx, id); return first(len(k), err) },
		"failure":   func() error { _, err := s.GetLoginFailure(ctx, id, p("user")); return err },
		"component": func() error { _, err := s.GetComponent(ctx, id, p("ldap")); return err },
		"consent":   func() error { _, err := s.GetConsent(ctx, id, p("user"), p("client")); return err },
		"federated": func() error { _, err := s.GetUserByFederatedIdentity(ctx, id, "corp", p("ext")); return err },
		"idp":       func() error { _, err := s.GetIdentityProvider(ctx, id, "corp"); return err },
		"iat":       func() error { _, err := s.GetInitialAccessTokenByHash(ctx, id, p("hash")); return err },
		"event":     func() error { e, err := s.ListEvents(ctx, id, store.EventQuery{}); return first(len(e), err) },
		"adminEvent": func() error {
			e, err := s.ListAdminEvents(ctx, id, store.AdminEventQuery{})
			return first(len(e), err)
		},
		"mapper": func() error {
			m, err := s.ListIdentityProviderMappers(ctx, id, "corp")
			return first(len(m), err)
		},
	}
}

// parallel runs fn(i) for i in [0, n) at once (released together) and
// returns their errors.
func parallel(n int, fn func(i int) error) []error {
	errs := make([]error, n)
	start := make(chan struct{})
	done := make(chan struct{})
	for i := range n {
		go func() {
			defer func() { done <- struct{}{} }()
			<-start
			errs[i] = fn(i)
		}()
	}
	close(start)
	for range n {
		<-done
	}
	return errs
}

// warm has n transactions open at once, so that a pooled backend has its
// connections ready: without it the first goroutine of a race test
// finishes while the others are still connecting, and no race happens.
func warm(t *testing.T, s store.Store, n int) {
	t.Helper()
	noErrors(t, parallel(n, func(int) error {
		return s.Tx(t.Context(), func(ctx context.Context) error {
			_, err := s.ListRealms(ctx)
			time.Sleep(10 * time.Millisecond)
			return err
		})
	}))
}

func noErrors(t *testing.T, errs []error) {
	t.Helper()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
}

func sorted(xs []string) []string { return slices.Sorted(slices.Values(xs)) }

func name(i int) string { return fmt.Sprintf("%02d", i) }
