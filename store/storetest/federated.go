package storetest

import (
	"testing"

	"github.com/keygate/keygate/store"
)

func testFederatedIdentities(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	user(t, s, "r1", "u1", "alice")
	user(t, s, "r1", "u2", "bob")
	user(t, s, "r2", "v1", "carol")
	for _, p := range []store.IdentityProvider{{InternalID: "i1", RealmID: "r1", Alias: "corp", ProviderID: "saml", Enabled: true, Config: []byte(`{}`)},
		{InternalID: "i2", RealmID: "r1", Alias: "github", ProviderID: "oidc", Enabled: true, Config: []byte(`{}`)},
		{InternalID: "i3", RealmID: "r2", Alias: "corp", ProviderID: "saml", Enabled: true, Config: []byte(`{}`)}} {
		ok(t, s.CreateIdentityProvider(ctx, p))
	}
	f := store.FederatedIdentity{RealmID: "r1", UserID: "u1", Alias: "corp", ExternalID: "ext-1", ExternalName: "alice@corp"}
	ok(t, s.AddFederatedIdentity(ctx, f))
	eq(t, "user by link", get[store.User](t)(s.GetUserByFederatedIdentity(ctx, "r1", "corp", "ext-1")).ID, "u1")
	isErr(t, s.AddFederatedIdentity(ctx, f), store.ErrConflict)
	isErr(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "u2", Alias: "corp", ExternalID: "ext-1"}), store.ErrConflict)
	isErr(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "u2", Alias: "nope", ExternalID: "x"}), store.ErrNotFound)
	isErr(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "ghost", Alias: "corp", ExternalID: "x"}), store.ErrNotFound)
	// A user of another realm is not this realm's.
	isErr(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "v1", Alias: "corp", ExternalID: "x"}), store.ErrNotFound)
	ok(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "u1", Alias: "github", ExternalID: "42", ExternalName: "alice-gh"}))
	ok(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r2", UserID: "v1", Alias: "corp", ExternalID: "ext-1"}))
	_, err := s.GetUserByFederatedIdentity(ctx, "r1", "corp", "ext-2")
	isErr(t, err, store.ErrNotFound)
	eq(t, "other realm's account", get[store.User](t)(s.GetUserByFederatedIdentity(ctx, "r2", "corp", "ext-1")).ID, "v1")

	f.ExternalName, f.Token = "alice2@corp", "tok"
	ok(t, s.UpdateFederatedIdentity(ctx, f))
	eq(t, "links", get[[]store.FederatedIdentity](t)(s.ListFederatedIdentities(ctx, "r1", "u1")), []store.FederatedIdentity{f,
		{RealmID: "r1", UserID: "u1", Alias: "github", ExternalID: "42", ExternalName: "alice-gh"}})
	isErr(t, s.UpdateFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "u2", Alias: "corp"}), store.ErrNotFound)

	ok(t, s.RemoveFederatedIdentity(ctx, "r1", "u1", "github"))
	isErr(t, s.RemoveFederatedIdentity(ctx, "r1", "u1", "github"), store.ErrNotFound)
	// Links go with their provider and with their user.
	ok(t, s.DeleteIdentityProvider(ctx, "r1", "corp"))
	_, err = s.GetUserByFederatedIdentity(ctx, "r1", "corp", "ext-1")
	isErr(t, err, store.ErrNotFound)
	ok(t, s.AddFederatedIdentity(ctx, store.FederatedIdentity{RealmID: "r1", UserID: "u2", Alias: "github", ExternalID: "7"}))
	ok(t, s.DeleteUser(ctx, "r1", "u2"))
	eq(t, "links of a deleted user", len(get[[]store.FederatedIdentity](t)(s.ListFederatedIdentities(ctx, "r1", "u2"))), 0)
	_, err = s.GetUserByFederatedIdentity(ctx, "r1", "github", "7")
	isErr(t, err, store.ErrNotFound)

	// Bulk imports carry links.
	if bw, isBulk := s.(store.BulkUserWriter); isBulk {
		ok(t, bw.CreateUsers(ctx, []store.NewUser{{User: store.User{ID: "u3", RealmID: "r1", Username: "dave", Enabled: true, Created: t0},
			FederatedIdentities: []store.FederatedIdentity{{Alias: "github", ExternalID: "99", ExternalName: "dave-gh"}}}}))
		eq(t, "bulk link", get[store.User](t)(s.GetUserByFederatedIdentity(ctx, "r1", "github", "99")).ID, "u3")
	}
}
