package storetest

import (
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

func testUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	u := store.User{ID: "u1", RealmID: "r1", Username: "Alice", Email: "Alice@Example.COM", EmailVerified: true,
		FirstName: "Alice", LastName: "Liddell", Enabled: true, Created: t0, FederationLink: "ldap", FederationID: "ext-1",
		Attributes: map[string][]string{"locale": {"en"}}, RequiredActions: []string{"UPDATE_PASSWORD"}, NotBefore: 42}
	ok(t, s.CreateUser(ctx, u))
	u.Username, u.Email = "alice", "alice@example.com" // stored lower-cased; names keep their case
	eq(t, "GetUser", get[store.User](t)(s.GetUser(ctx, "r1", "u1")), u)
	eq(t, "GetUserByUsername", get[store.User](t)(s.GetUserByUsername(ctx, "r1", "ALICE")), u)
	eq(t, "GetUserByEmail", get[store.User](t)(s.GetUserByEmail(ctx, "r1", "ALICE@example.com")), u)
	_, err := s.GetUserByUsername(ctx, "r1", "bob")
	isErr(t, err, store.ErrNotFound)
	eq(t, "GetUserByFederationID", get[store.User](t)(s.GetUserByFederationID(ctx, "r1", "ldap", "ext-1")), u)
	for _, miss := range [][2]string{{"ldap", "ext-2"}, {"other", "ext-1"}, {"", ""}} {
		_, err = s.GetUserByFederationID(ctx, "r1", miss[0], miss[1])
		isErr(t, err, store.ErrNotFound)
	}
	eq(t, "ListFederationIDs", get[map[string]string](t)(s.ListFederationIDs(ctx, "r1", "ldap")), map[string]string{"ext-1": "u1"})
	eq(t, "ListFederationIDs of nobody", len(get[map[string]string](t)(s.ListFederationIDs(ctx, "r1", ""))), 0)

	isErr(t, s.CreateUser(ctx, store.User{ID: "u1", RealmID: "r1", Username: "other", Created: t0}), store.ErrConflict)
	isErr(t, s.CreateUser(ctx, store.User{ID: "u2", RealmID: "r1", Username: "ALICE", Created: t0}), store.ErrConflict)
	isErr(t, s.CreateUser(ctx, store.User{ID: "u2", RealmID: "r1", Username: "a2", Email: "alice@EXAMPLE.com", Created: t0}), store.ErrConflict)
	isErr(t, s.CreateUser(ctx, store.User{ID: "u2", RealmID: "nope", Username: "a2", Created: t0}), store.ErrNotFound)
	// Any number of users may have no email.
	user(t, s, "r1", "u2", "bob")
	user(t, s, "r1", "u3", "carol")
	_, err = s.GetUserByEmail(ctx, "r1", "")
	isErr(t, err, store.ErrNotFound)

	sa := store.User{ID: "sa", RealmID: "r1", Username: "service-account-app", ServiceAccount: "c1", Enabled: true, Created: t0}
	ok(t, s.CreateUser(ctx, sa))
	eq(t, "GetServiceAccountUser", get[store.User](t)(s.GetServiceAccountUser(ctx, "r1", "c1")), sa)
	_, err = s.GetServiceAccountUser(ctx, "r1", "")
	isErr(t, err, store.ErrNotFound)

	u.Username, u.Email, u.Attributes, u.RequiredActions, u.Enabled = "Alice2", "", nil, nil, false
	ok(t, s.UpdateUser(ctx, u))
	u.Username = "alice2"
	eq(t, "updated", get[store.User](t)(s.GetUser(ctx, "r1", "u1")), u)
	u.Username = "BOB"
	isErr(t, s.UpdateUser(ctx, u), store.ErrConflict)
	isErr(t, s.UpdateUser(ctx, store.User{ID: "nope", RealmID: "r1", Username: "x"}), store.ErrNotFound)

	// Role mappings: idempotent grants, realm-checked, direct only.
	ok(t, s.CreateRole(ctx, store.Role{ID: "ro", RealmID: "r1", Name: "ro"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: "rw", RealmID: "r1", Name: "rw"}))
	ok(t, s.GrantUserRoles(ctx, "r1", "u2", []string{"rw", "ro"}))
	ok(t, s.GrantUserRoles(ctx, "r1", "u2", []string{"ro"}))
	isErr(t, s.GrantUserRoles(ctx, "r1", "u2", []string{"nope"}), store.ErrNotFound)
	isErr(t, s.GrantUserRoles(ctx, "r1", "nope", []string{"ro"}), store.ErrNotFound)
	eq(t, "ListUserRoles", roleIDs(get[[]store.Role](t)(s.ListUserRoles(ctx, "r1", "u2"))), []string{"ro", "rw"})
	eq(t, "ListRoleMembers", usernames(get[[]store.User](t)(s.ListRoleMembers(ctx, "r1", "ro", 0, 0))), []string{u2name(t, s)})
	eq(t, "ListRoleMembers page", get[[]store.User](t)(s.ListRoleMembers(ctx, "r1", "ro", 1, 10)), []store.User{})
	eq(t, "ListRoleMembers of another realm", get[[]store.User](t)(s.ListRoleMembers(ctx, "r2", "ro", 0, 0)), []store.User{})
	ok(t, s.RevokeUserRoles(ctx, "r1", "u2", []string{"ro", "never"}))
	eq(t, "ListRoleMembers after revoke", get[[]store.User](t)(s.ListRoleMembers(ctx, "r1", "ro", 0, 0)), []store.User{})
	eq(t, "after revoke", roleIDs(get[[]store.Role](t)(s.ListUserRoles(ctx, "r1", "u2"))), []string{"rw"})

	// Deleting a user deletes its credentials, mappings, sessions and counters.
	ok(t, s.CreateGroup(ctx, store.Group{ID: "g", RealmID: "r1", Name: "g"}))
	ok(t, s.AddUserToGroup(ctx, "r1", "u2", "g"))
	ok(t, s.SetPassword(ctx, "u2", store.Credential{ID: "cred", Created: t0}))
	ok(t, s.CreateSession(ctx, store.Session{ID: "sess", RealmID: "r1", UserID: "u2", Created: t0, LastSeen: t0, AuthTime: t0}))
	ok(t, s.UpdateLoginFailure(ctx, "r1", "u2", func(f store.LoginFailure) (store.LoginFailure, error) { f.NumFailures = 1; return f, nil }))
	ok(t, s.DeleteUser(ctx, "r1", "u2"))
	_, err = s.GetUser(ctx, "r1", "u2")
	isErr(t, err, store.ErrNotFound)
	eq(t, "credentials", get[[]store.Credential](t)(s.ListCredentials(ctx, "u2")), []store.Credential{})
	eq(t, "roles", get[[]store.Role](t)(s.ListUserRoles(ctx, "r1", "u2")), []store.Role{})
	eq(t, "members", get[[]store.User](t)(s.ListGroupMembers(ctx, "r1", "g", 0, 0)), []store.User{})
	eq(t, "sessions", get[[]store.Session](t)(s.ListUserSessions(ctx, "r1", "u2")), []store.Session{})
	_, err = s.GetLoginFailure(ctx, "r1", "u2")
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteUser(ctx, "r1", "u2"), store.ErrNotFound)
}

func testListUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	for _, u := range []store.User{
		{ID: "1", Username: "alice", Email: "alice@example.com", FirstName: "Alice", LastName: "Liddell", Enabled: true,
			Attributes: map[string][]string{"team": {"platform", "Ops"}, "site": {"eu"}}},
		{ID: "2", Username: "bob", Email: "bob@example.org", FirstName: "Bob", LastName: "Builder",
			Attributes: map[string][]string{"site": {"platform"}}},
		{ID: "3", Username: "carol", Email: "carol@example.com", FirstName: "Carol", LastName: "Alison", Enabled: true,
			Attributes: map[string][]string{"team": {"ops"}}},
		{ID: "4", Username: "o'brien", FirstName: "Conan", LastName: "O'Brien", Enabled: true,
			Attributes: map[string][]string{"team": {`50% "off"`}}},
		{ID: "5", Username: "percent%user", Enabled: true},
		{ID: "6", Username: "under_score", Enabled: true},
		{ID: "7", Username: "underxscore", Enabled: true},
		{ID: "8", Username: `back\slash`, Enabled: true},
		{ID: "9", Username: "service-account-app", ServiceAccount: "c1", Enabled: true},
	} {
		u.RealmID, u.Created = "r1", t0
		ok(t, s.CreateUser(ctx, u))
	}
	yes, no := true, false
	all := []string{"alice", `back\slash`, "bob", "carol", "o'brien", "percent%user", "under_score", "underxscore"}
	for _, tc := range []struct {
		name string
		q    store.UserQuery
		want []string
	}{
		{"all", store.UserQuery{}, all},
		{"service accounts", store.UserQuery{IncludeServiceAccounts: true},
			[]string{"alice", `back\slash`, "bob", "carol", "o'brien", "percent%user", "service-account-app", "under_score", "underxscore"}},
		{"search any field", store.UserQuery{Search: "ALI"}, []string{"alice", "carol"}},
		{"search email", store.UserQuery{Search: "example.org"}, []string{"bob"}},
		{"search substring", store.UserQuery{Search: "ice"}, []string{"alice"}},
		{"search prefix", store.UserQuery{Search: "al", Prefix: true}, []string{"alice", "carol"}},
		{"search prefix only", store.UserQuery{Search: "ice", Prefix: true}, []string{}},
		{"username substring", store.UserQuery{Username: "a"}, []string{"alice", `back\slash`, "carol"}},
		{"username prefix", store.UserQuery{Username: "under_", Prefix: true}, []string{"under_score"}},
		{"first name substring", store.UserQuery{FirstName: "ARO"}, []string{"carol"}},
		{"exact username", store.UserQuery{Username: "ALICE", Exact: true}, []string{"alice"}},
		{"exact is not substring", store.UserQuery{Username: "ali", Exact: true}, []string{}},
		{"exact email", store.UserQuery{Email: "ALICE@example.com", Exact: true}, []string{"alice"}},
		{"exact first name", store.UserQuery{FirstName: "alice", Exact: true}, []string{"alice"}},
		{"exact last name", store.UserQuery{LastName: "o'brien", Exact: true}, []string{"o'brien"}},
		{"disabled", store.UserQuery{Enabled: &no}, []string{"bob"}},
		{"enabled", store.UserQuery{Enabled: &yes}, append(all[:2:2], all[3:]...)},
		{"max", store.UserQuery{Max: 2}, all[:2]},
		{"page", store.UserQuery{First: 2, Max: 2}, all[2:4]},
		{"first only", store.UserQuery{First: 6}, all[6:]},
		{"past the end", store.UserQuery{First: 100, Max: 5}, []string{}},
		// SQL and LIKE metacharacters match literally.
		{"percent", store.UserQuery{Search: "%"}, []string{"percent%user"}},
		{"underscore", store.UserQuery{Search: "_"}, []string{"under_score"}},
		{"underscore field", store.UserQuery{Username: "r_s"}, []string{"under_score"}},
		{"quote", store.UserQuery{Search: "'"}, []string{"o'brien"}},
		{"backslash", store.UserQuery{Search: `\`}, []string{`back\slash`}},
		{"injection", store.UserQuery{Search: `%' OR '1'='1`}, []string{}},
		{"combined", store.UserQuery{Search: "example", Enabled: &yes, Max: 1}, []string{"alice"}},
		// Attribute values match exactly, under their own key only.
		{"attribute", store.UserQuery{Attributes: map[string]string{"team": "platform"}}, []string{"alice"}},
		{"attribute case", store.UserQuery{Attributes: map[string]string{"team": "ops"}}, []string{"carol"}},
		{"attribute other key", store.UserQuery{Attributes: map[string]string{"site": "platform"}}, []string{"bob"}},
		{"attribute not under key", store.UserQuery{Attributes: map[string]string{"team": "eu"}}, []string{}},
		{"attribute partial value", store.UserQuery{Attributes: map[string]string{"team": "plat"}}, []string{}},
		{"attributes all", store.UserQuery{Attributes: map[string]string{"team": "platform", "site": "eu"}}, []string{"alice"}},
		{"attributes none", store.UserQuery{Attributes: map[string]string{"team": "platform", "site": "us"}}, []string{}},
		{"attribute metacharacters", store.UserQuery{Attributes: map[string]string{"team": `50% "off"`}}, []string{"o'brien"}},
		{"attribute like pattern", store.UserQuery{Attributes: map[string]string{"team": `5_% "off"`}}, []string{}},
		{"attribute and enabled", store.UserQuery{Attributes: map[string]string{"site": "platform"}, Enabled: &yes}, []string{}},
		{"attribute page", store.UserQuery{Attributes: map[string]string{"team": "ops"}, First: 1}, []string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			eq(t, "ListUsers", usernames(get[[]store.User](t)(s.ListUsers(ctx, "r1", tc.q))), tc.want)
			if tc.q.First == 0 && tc.q.Max == 0 {
				eq(t, "CountUsers", get[int](t)(s.CountUsers(ctx, "r1", tc.q)), len(tc.want))
			}
		})
	}
	eq(t, "other realm", get[[]store.User](t)(s.ListUsers(ctx, "nope", store.UserQuery{})), []store.User{})
}

func testCredentials(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	user(t, s, "r1", "u1", "alice")
	pw := store.Credential{ID: "c1", UserID: "u1", Type: "password", UserLabel: "my password", Created: t0,
		SecretData: `{"value":"x","salt":"y"}`, CredentialData: `{"hashIterations":27500,"algorithm":"pbkdf2-sha256"}`, Priority: 10}
	otp := store.Credential{ID: "c2", UserID: "u1", Type: "otp", Created: t0, Priority: 20}
	ok(t, s.CreateCredential(ctx, otp))
	ok(t, s.CreateCredential(ctx, pw))
	isErr(t, s.CreateCredential(ctx, pw), store.ErrConflict)
	isErr(t, s.CreateCredential(ctx, store.Credential{ID: "c3", UserID: "nope", Type: "password", Created: t0}), store.ErrNotFound)
	eq(t, "ListCredentials", get[[]store.Credential](t)(s.ListCredentials(ctx, "u1")), []store.Credential{pw, otp})

	// SetPassword replaces password credentials only.
	pw2 := store.Credential{ID: "c4", Created: t0, SecretData: "new", Priority: 10}
	ok(t, s.SetPassword(ctx, "u1", pw2))
	pw2.UserID, pw2.Type = "u1", "password"
	eq(t, "after SetPassword", get[[]store.Credential](t)(s.ListCredentials(ctx, "u1")), []store.Credential{pw2, otp})
	isErr(t, s.SetPassword(ctx, "nope", pw2), store.ErrNotFound)

	// UpdateCredential: write, abort, fail, missing.
	ok(t, s.UpdateCredential(ctx, "u1", "c4", func(old store.Credential) (store.Credential, error) {
		eq(t, "old", old, pw2)
		old.SecretData, old.ID = "rehashed", "ignored"
		return old, nil
	}))
	pw2.SecretData = "rehashed"
	ok(t, s.UpdateCredential(ctx, "u1", "c4", func(old store.Credential) (store.Credential, error) {
		return store.Credential{}, store.ErrAbort
	}))
	boom := errors.New("boom")
	isErr(t, s.UpdateCredential(ctx, "u1", "c4", func(old store.Credential) (store.Credential, error) {
		return store.Credential{SecretData: "lost"}, boom
	}), boom)
	eq(t, "after updates", get[[]store.Credential](t)(s.ListCredentials(ctx, "u1")), []store.Credential{pw2, otp})
	isErr(t, s.UpdateCredential(ctx, "u1", "nope", func(old store.Credential) (store.Credential, error) { return old, nil }), store.ErrNotFound)
	isErr(t, s.UpdateCredential(ctx, "u2", "c4", func(old store.Credential) (store.Credential, error) { return old, nil }), store.ErrNotFound)

	ok(t, s.DeleteCredential(ctx, "u1", "c2"))
	isErr(t, s.DeleteCredential(ctx, "u1", "c2"), store.ErrNotFound)
	eq(t, "after delete", get[[]store.Credential](t)(s.ListCredentials(ctx, "u1")), []store.Credential{pw2})
}

// testConcurrentCredentialUpdate is two (here twenty) logins re-hashing the
// same md5 password at once: the compare-and-swap lets exactly one rewrite
// it and leaves exactly one credential.
func testConcurrentCredentialUpdate(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	user(t, s, "r1", "u1", "alice")
	ok(t, s.SetPassword(ctx, "u1", store.Credential{ID: "c1", Created: t0, SecretData: "md5-hash", CredentialData: `{"algorithm":"md5"}`}))
	warm(t, s, 20)
	var writes atomic.Int32
	noErrors(t, parallel(20, func(i int) error {
		wrote := false
		err := s.UpdateCredential(ctx, "u1", "c1", func(old store.Credential) (store.Credential, error) {
			wrote = false
			if !strings.Contains(old.CredentialData, "md5") {
				return old, store.ErrAbort
			}
			time.Sleep(5 * time.Millisecond) // hashing takes a while: widen the race window
			old.SecretData, old.CredentialData = "pbkdf2-"+name(i), `{"algorithm":"pbkdf2-sha256"}`
			wrote = true
			return old, nil
		})
		if err == nil && wrote {
			writes.Add(1)
		}
		return err
	}))
	eq(t, "writes", writes.Load(), int32(1))
	cs := get[[]store.Credential](t)(s.ListCredentials(ctx, "u1"))
	if len(cs) != 1 || !strings.HasPrefix(cs[0].SecretData, "pbkdf2-") || !strings.Contains(cs[0].CredentialData, "pbkdf2") {
		t.Fatalf("credentials after concurrent re-hash: %+v", cs)
	}
}

func u2name(t *testing.T, s store.Store) string {
	t.Helper()
	return get[store.User](t)(s.GetUser(t.Context(), "r1", "u2")).Username
}
