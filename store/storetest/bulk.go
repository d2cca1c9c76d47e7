package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/keygate/keygate/store"
)

// testBulkUsers covers BulkUserWriter: more users than one INSERT holds,
// every row readable through the ordinary methods, lookups by username,
// email and id, and all-or-nothing failures.
func testBulkUsers(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	ok(t, s.CreateRole(ctx, store.Role{ID: "admin", RealmID: "r1", Name: "admin"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: "viewer", RealmID: "r1", Name: "viewer"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: "other", RealmID: "r2", Name: "other"}))
	ok(t, s.CreateGroup(ctx, store.Group{ID: "staff", RealmID: "r1", Name: "staff"}))
	ok(t, s.CreateGroup(ctx, store.Group{ID: "g2", RealmID: "r2", Name: "staff"}))
	user(t, s, "r2", "taken-id", "someone")

	const n = 1203 // three INSERTs of users, the last one partial
	users := make([]store.NewUser, n)
	for i := range users {
		id := fmt.Sprintf("u%04d", i)
		users[i] = store.NewUser{
			User: store.User{ID: id, RealmID: "r1", Username: fmt.Sprintf("User%04d", i), Email: fmt.Sprintf("U%04d@Example.com", i),
				FirstName: "Ann", Enabled: i%2 == 0, Created: t0, Attributes: map[string][]string{"dept": {"x"}}},
			Credentials: []store.Credential{{ID: "c-" + id, Type: "password", Created: t0, SecretData: `{"value":"v"}`, CredentialData: `{"algorithm":"md5"}`}},
			RoleIDs:     []string{"viewer", "admin", "viewer"}, // a duplicate is one mapping
			GroupIDs:    []string{"staff"},
		}
	}
	ok(t, s.CreateUsers(ctx, users))
	ok(t, s.CreateUsers(ctx, nil))
	eq(t, "count", get[int](t)(s.CountUsers(ctx, "r1", store.UserQuery{})), n)
	u := get[store.User](t)(s.GetUserByUsername(ctx, "r1", "user1202"))
	want := users[1202].User
	want.Username, want.Email = "user1202", "u1202@example.com"
	eq(t, "user", u, want)
	cred := users[1202].Credentials[0]
	cred.UserID = u.ID
	eq(t, "credentials", get[[]store.Credential](t)(s.ListCredentials(ctx, u.ID)), []store.Credential{cred})
	eq(t, "roles", roleIDs(get[[]store.Role](t)(s.ListUserRoles(ctx, "r1", u.ID))), []string{"admin", "viewer"})
	eq(t, "groups", groupIDs(get[[]store.Group](t)(s.ListUserGroups(ctx, "r1", u.ID))), []string{"staff"})

	// Lookups: case-insensitive usernames and emails in the realm, ids in any.
	found := get[[]store.User](t)(s.LookupUsers(ctx, "r1", []string{"USER0001", "nobody", "someone"},
		[]string{"u0002@EXAMPLE.com", "", "u0001@example.com"}, []string{"taken-id", "u0003"}))
	eq(t, "lookup", sorted(ids(found, func(u store.User) string { return u.ID })), []string{"taken-id", "u0001", "u0002", "u0003"})
	eq(t, "empty lookup", len(get[[]store.User](t)(s.LookupUsers(ctx, "r1", nil, nil, nil))), 0)
	many := make([]string, 1100)
	for i := range many {
		many[i] = fmt.Sprintf("user%04d", i)
	}
	eq(t, "lookup in chunks", len(get[[]store.User](t)(s.LookupUsers(ctx, "r1", many, nil, nil))), 1100)

	// Failures write nothing: a conflict in the last INSERT of a batch, a
	// role or group of another realm.
	fresh := func(i int) store.NewUser {
		id := fmt.Sprintf("n%04d", i)
		return store.NewUser{User: store.User{ID: id, RealmID: "r1", Username: "new" + id, Created: t0},
			Credentials: []store.Credential{{ID: "c-" + id, Type: "password", Created: t0}}}
	}
	for name, tc := range map[string]struct {
		mutate func([]store.NewUser)
		want   error
	}{
		"duplicate username in batch": {func(us []store.NewUser) { us[600].User.Username = us[1].User.Username }, store.ErrConflict},
		"username taken":              {func(us []store.NewUser) { us[599].User.Username = "USER0005" }, store.ErrConflict},
		"email taken":                 {func(us []store.NewUser) { us[3].User.Email = "u0007@example.com" }, store.ErrConflict},
		"id taken in other realm":     {func(us []store.NewUser) { us[2].User.ID = "taken-id" }, store.ErrConflict},
		"role of other realm":         {func(us []store.NewUser) { us[4].RoleIDs = []string{"admin", "other"} }, store.ErrNotFound},
		"group of other realm":        {func(us []store.NewUser) { us[4].GroupIDs = []string{"g2"} }, store.ErrNotFound},
		"unknown role":                {func(us []store.NewUser) { us[4].RoleIDs = []string{"nope"} }, store.ErrNotFound},
	} {
		t.Run(name, func(t *testing.T) {
			batch := make([]store.NewUser, 601)
			for i := range batch {
				batch[i] = fresh(i)
			}
			tc.mutate(batch)
			err := s.CreateUsers(ctx, batch)
			if !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
			eq(t, "users after failure", get[int](t)(s.CountUsers(ctx, "r1", store.UserQuery{})), n)
		})
	}

	// Inside a transaction a later failure undoes earlier batches.
	err := s.Tx(ctx, func(ctx context.Context) error {
		ok(t, s.CreateUsers(ctx, []store.NewUser{fresh(1)}))
		if found := get[[]store.User](t)(s.LookupUsers(ctx, "r1", []string{"newn0001"}, nil, nil)); len(found) != 1 {
			t.Errorf("a batch is not visible to the next one in the same transaction: %v", found)
		}
		return s.CreateUsers(ctx, []store.NewUser{fresh(1)})
	})
	isErr(t, err, store.ErrConflict)
	if found := get[[]store.User](t)(s.LookupUsers(ctx, "r1", []string{"newn0001"}, nil, nil)); len(found) != 0 {
		t.Errorf("rolled-back batch left %v", found)
	}
	if !slices.Equal(usernames(get[[]store.User](t)(s.ListUsers(ctx, "r2", store.UserQuery{}))), []string{"someone"}) {
		t.Error("realm r2 changed")
	}
}
