package storetest

import (
	"testing"

	"github.com/keygate/keygate/store"
)

func testRealms(t *testing.T, s store.Store) {
	ctx := t.Context()
	r := store.Realm{ID: "r1", Name: "alpha", Enabled: true, Settings: raw(`{"sslRequired":"external"}`), Created: t0}
	ok(t, s.CreateRealm(ctx, r))
	isErr(t, s.CreateRealm(ctx, r), store.ErrConflict)
	isErr(t, s.CreateRealm(ctx, store.Realm{ID: "r2", Name: "alpha", Created: t0}), store.ErrConflict)
	eq(t, "GetRealm", get[store.Realm](t)(s.GetRealm(ctx, "r1")), r)
	eq(t, "GetRealmByName", get[store.Realm](t)(s.GetRealmByName(ctx, "alpha")), r)
	_, err := s.GetRealm(ctx, "nope")
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetRealmByName(ctx, "nope")
	isErr(t, err, store.ErrNotFound)

	r2 := store.Realm{ID: "r2", Name: "beta", Created: t0}
	ok(t, s.CreateRealm(ctx, r2))
	eq(t, "ListRealms", get[[]store.Realm](t)(s.ListRealms(ctx)), []store.Realm{r, r2})

	r.Name, r.Enabled, r.Settings = "gamma", false, nil
	ok(t, s.UpdateRealm(ctx, r))
	eq(t, "renamed", get[store.Realm](t)(s.GetRealmByName(ctx, "gamma")), r)
	r2.Name = "gamma"
	isErr(t, s.UpdateRealm(ctx, r2), store.ErrConflict)
	isErr(t, s.UpdateRealm(ctx, store.Realm{ID: "nope", Name: "x"}), store.ErrNotFound)

	ok(t, s.DeleteRealm(ctx, "r1"))
	_, err = s.GetRealm(ctx, "r1")
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteRealm(ctx, "r1"), store.ErrNotFound)
}

func testClients(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	c := store.Client{ID: "c1", RealmID: "r1", ClientID: "app", Secret: "s3cret", RegistrationTokenHash: "abc",
		Config: raw(`{"publicClient":false}`), Created: t0}
	ok(t, s.CreateClient(ctx, c))
	isErr(t, s.CreateClient(ctx, c), store.ErrConflict)
	isErr(t, s.CreateClient(ctx, store.Client{ID: "c2", RealmID: "r1", ClientID: "app", Created: t0}), store.ErrConflict)
	isErr(t, s.CreateClient(ctx, store.Client{ID: "c9", RealmID: "nope", ClientID: "app", Created: t0}), store.ErrNotFound)
	eq(t, "GetClient", get[store.Client](t)(s.GetClient(ctx, "r1", "c1")), c)
	eq(t, "GetClientByClientID", get[store.Client](t)(s.GetClientByClientID(ctx, "r1", "app")), c)
	_, err := s.GetClientByClientID(ctx, "r1", "other")
	isErr(t, err, store.ErrNotFound)

	c2 := store.Client{ID: "c2", RealmID: "r1", ClientID: "admin-cli", Created: t0}
	ok(t, s.CreateClient(ctx, c2))
	eq(t, "ListClients", get[[]store.Client](t)(s.ListClients(ctx, "r1")), []store.Client{c2, c})

	// A registration update spends the token it was made with, once.
	c.RegistrationTokenHash = "def"
	isErr(t, s.UpdateClientFromToken(ctx, c, "stale"), store.ErrNotFound)
	isErr(t, s.UpdateClientFromToken(ctx, c, ""), store.ErrNotFound)
	ok(t, s.UpdateClientFromToken(ctx, c, "abc"))
	isErr(t, s.UpdateClientFromToken(ctx, c, "abc"), store.ErrNotFound)
	eq(t, "updated from its token", get[store.Client](t)(s.GetClient(ctx, "r1", "c1")), c)

	c.Secret, c.Config, c.RegistrationTokenHash = "rotated", raw(`{}`), ""
	ok(t, s.UpdateClient(ctx, c))
	eq(t, "updated", get[store.Client](t)(s.GetClient(ctx, "r1", "c1")), c)
	c2.ClientID = "app"
	isErr(t, s.UpdateClient(ctx, c2), store.ErrConflict)
	isErr(t, s.UpdateClient(ctx, store.Client{ID: "nope", RealmID: "r1", ClientID: "x"}), store.ErrNotFound)

	// Deleting a client deletes its roles and its service-account user.
	ok(t, s.CreateRole(ctx, store.Role{ID: "cr", RealmID: "r1", ClientID: "c1", Name: "view"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: "rr", RealmID: "r1", Name: "view"}))
	ok(t, s.CreateUser(ctx, store.User{ID: "sa", RealmID: "r1", Username: "service-account-app", ServiceAccount: "c1", Enabled: true, Created: t0}))
	ok(t, s.DeleteClient(ctx, "r1", "c1"))
	_, err = s.GetClient(ctx, "r1", "c1")
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetRole(ctx, "r1", "cr")
	isErr(t, err, store.ErrNotFound)
	_, err = s.GetServiceAccountUser(ctx, "r1", "c1")
	isErr(t, err, store.ErrNotFound)
	get[store.Role](t)(s.GetRole(ctx, "r1", "rr"))
	isErr(t, s.DeleteClient(ctx, "r1", "c1"), store.ErrNotFound)
}

func testClientScopes(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	sc := store.ClientScope{ID: "s1", RealmID: "r1", Name: "profile", Config: raw(`{"protocol":"openid-connect"}`)}
	ok(t, s.CreateClientScope(ctx, sc))
	isErr(t, s.CreateClientScope(ctx, store.ClientScope{ID: "s2", RealmID: "r1", Name: "profile"}), store.ErrConflict)
	eq(t, "GetClientScope", get[store.ClientScope](t)(s.GetClientScope(ctx, "r1", "s1")), sc)
	sc2 := store.ClientScope{ID: "s2", RealmID: "r1", Name: "email"}
	ok(t, s.CreateClientScope(ctx, sc2))
	eq(t, "ListClientScopes", get[[]store.ClientScope](t)(s.ListClientScopes(ctx, "r1")), []store.ClientScope{sc2, sc})
	sc.Name = "roles"
	ok(t, s.UpdateClientScope(ctx, sc))
	eq(t, "updated", get[store.ClientScope](t)(s.GetClientScope(ctx, "r1", "s1")), sc)
	sc2.Name = "roles"
	isErr(t, s.UpdateClientScope(ctx, sc2), store.ErrConflict)
	ok(t, s.DeleteClientScope(ctx, "r1", "s1"))
	_, err := s.GetClientScope(ctx, "r1", "s1")
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteClientScope(ctx, "r1", "s1"), store.ErrNotFound)
}

func testRoles(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	realm(t, s, "r2")
	ok(t, s.CreateClient(ctx, store.Client{ID: "c1", RealmID: "r1", ClientID: "app", Created: t0}))
	admin := store.Role{ID: "admin", RealmID: "r1", Name: "admin", Description: "all", Attributes: map[string][]string{"a": {"1", "2"}}}
	usr := store.Role{ID: "user", RealmID: "r1", Name: "user"}
	capp := store.Role{ID: "c-admin", RealmID: "r1", ClientID: "c1", Name: "admin"} // same name, client role
	for _, r := range []store.Role{admin, usr, capp} {
		ok(t, s.CreateRole(ctx, r))
	}
	ok(t, s.CreateRole(ctx, store.Role{ID: "other", RealmID: "r2", Name: "admin"}))
	isErr(t, s.CreateRole(ctx, store.Role{ID: "dup", RealmID: "r1", Name: "admin"}), store.ErrConflict)
	isErr(t, s.CreateRole(ctx, store.Role{ID: "dup", RealmID: "r1", ClientID: "c1", Name: "admin"}), store.ErrConflict)
	isErr(t, s.CreateRole(ctx, store.Role{ID: "admin", RealmID: "r1", Name: "x"}), store.ErrConflict)

	eq(t, "GetRole", get[store.Role](t)(s.GetRole(ctx, "r1", "admin")), admin)
	eq(t, "GetRoleByName realm", get[store.Role](t)(s.GetRoleByName(ctx, "r1", "", "admin")), admin)
	eq(t, "GetRoleByName client", get[store.Role](t)(s.GetRoleByName(ctx, "r1", "c1", "admin")), capp)
	_, err := s.GetRole(ctx, "r2", "admin")
	isErr(t, err, store.ErrNotFound)
	eq(t, "ListRoles realm", get[[]store.Role](t)(s.ListRoles(ctx, "r1", "")), []store.Role{admin, usr})
	eq(t, "ListRoles client", get[[]store.Role](t)(s.ListRoles(ctx, "r1", "c1")), []store.Role{capp})
	eq(t, "ListAllRoles", roleIDs(get[[]store.Role](t)(s.ListAllRoles(ctx, "r1"))), []string{"admin", "user", "c-admin"})

	admin.Description, admin.Attributes = "", nil
	ok(t, s.UpdateRole(ctx, admin))
	eq(t, "updated", get[store.Role](t)(s.GetRole(ctx, "r1", "admin")), admin)
	usr.Name = "admin"
	isErr(t, s.UpdateRole(ctx, usr), store.ErrConflict)
	isErr(t, s.UpdateRole(ctx, store.Role{ID: "nope", RealmID: "r1", Name: "x"}), store.ErrNotFound)

	// Composites: idempotent, realm-checked, cleaned up with the roles.
	ok(t, s.AddRoleComposites(ctx, "r1", "admin", []string{"user", "c-admin"}))
	ok(t, s.AddRoleComposites(ctx, "r1", "admin", []string{"user"}))
	isErr(t, s.AddRoleComposites(ctx, "r1", "admin", []string{"nope"}), store.ErrNotFound)
	isErr(t, s.AddRoleComposites(ctx, "r1", "admin", []string{"other"}), store.ErrNotFound)
	isErr(t, s.AddRoleComposites(ctx, "r2", "admin", []string{"user"}), store.ErrNotFound)
	eq(t, "ListRoleComposites", roleIDs(get[[]store.Role](t)(s.ListRoleComposites(ctx, "r1", "admin"))), []string{"user", "c-admin"})
	eq(t, "ListAllRoleComposites", get[[][2]string](t)(s.ListAllRoleComposites(ctx, "r1")),
		[][2]string{{"admin", "c-admin"}, {"admin", "user"}})
	ok(t, s.RemoveRoleComposites(ctx, "r1", "admin", []string{"c-admin", "never-added"}))
	eq(t, "after remove", roleIDs(get[[]store.Role](t)(s.ListRoleComposites(ctx, "r1", "admin"))), []string{"user"})
	ok(t, s.DeleteRole(ctx, "r1", "user"))
	eq(t, "after child deleted", get[[][2]string](t)(s.ListAllRoleComposites(ctx, "r1")), [][2]string{})
	_, err = s.GetRole(ctx, "r1", "user")
	isErr(t, err, store.ErrNotFound)
	isErr(t, s.DeleteRole(ctx, "r1", "user"), store.ErrNotFound)
	isErr(t, s.DeleteRole(ctx, "r2", "admin"), store.ErrNotFound)
}

func testGroups(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	top := store.Group{ID: "g1", RealmID: "r1", Name: "staff", Attributes: map[string][]string{"dept": {"ops"}}}
	sub := store.Group{ID: "g2", RealmID: "r1", ParentID: "g1", Name: "admins"}
	subsub := store.Group{ID: "g3", RealmID: "r1", ParentID: "g2", Name: "root"}
	other := store.Group{ID: "g4", RealmID: "r1", Name: "admins"} // same name, other parent
	for _, g := range []store.Group{top, sub, subsub, other} {
		ok(t, s.CreateGroup(ctx, g))
	}
	isErr(t, s.CreateGroup(ctx, store.Group{ID: "g5", RealmID: "r1", ParentID: "g1", Name: "admins"}), store.ErrConflict)
	isErr(t, s.CreateGroup(ctx, store.Group{ID: "g5", RealmID: "r1", Name: "staff"}), store.ErrConflict)
	eq(t, "GetGroup", get[store.Group](t)(s.GetGroup(ctx, "r1", "g1")), top)
	eq(t, "ListGroups", sorted(groupIDs(get[[]store.Group](t)(s.ListGroups(ctx, "r1")))), []string{"g1", "g2", "g3", "g4"})
	top.Name, top.Attributes = "people", nil
	ok(t, s.UpdateGroup(ctx, top))
	eq(t, "updated", get[store.Group](t)(s.GetGroup(ctx, "r1", "g1")), top)
	other.ParentID = "g1" // moving next to a sibling of the same name
	isErr(t, s.UpdateGroup(ctx, other), store.ErrConflict)
	isErr(t, s.UpdateGroup(ctx, store.Group{ID: "nope", RealmID: "r1", Name: "x"}), store.ErrNotFound)

	ok(t, s.CreateRole(ctx, store.Role{ID: "ro", RealmID: "r1", Name: "ro"}))
	ok(t, s.CreateRole(ctx, store.Role{ID: "rw", RealmID: "r1", Name: "rw"}))
	ok(t, s.GrantGroupRoles(ctx, "r1", "g2", []string{"ro", "rw"}))
	ok(t, s.GrantGroupRoles(ctx, "r1", "g2", []string{"rw"}))
	isErr(t, s.GrantGroupRoles(ctx, "r1", "g2", []string{"nope"}), store.ErrNotFound)
	isErr(t, s.GrantGroupRoles(ctx, "r1", "nope", []string{"ro"}), store.ErrNotFound)
	ok(t, s.RevokeGroupRoles(ctx, "r1", "g2", []string{"rw"}))
	eq(t, "ListGroupRoles", roleIDs(get[[]store.Role](t)(s.ListGroupRoles(ctx, "r1", "g2"))), []string{"ro"})

	for i, n := range []string{"dan", "ann", "cat", "bob"} {
		user(t, s, "r1", "u"+n, n)
		ok(t, s.AddUserToGroup(ctx, "r1", "u"+n, "g3"))
		if i == 0 {
			ok(t, s.AddUserToGroup(ctx, "r1", "u"+n, "g3")) // idempotent
			ok(t, s.AddUserToGroup(ctx, "r1", "u"+n, "g4"))
		}
	}
	isErr(t, s.AddUserToGroup(ctx, "r1", "udan", "nope"), store.ErrNotFound)
	isErr(t, s.AddUserToGroup(ctx, "r1", "nope", "g3"), store.ErrNotFound)
	members := func(first, max int) []string {
		return usernames(get[[]store.User](t)(s.ListGroupMembers(ctx, "r1", "g3", first, max)))
	}
	eq(t, "members", members(0, 0), []string{"ann", "bob", "cat", "dan"})
	eq(t, "members page 2", members(2, 1), []string{"cat"})
	eq(t, "members past the end", members(9, 2), []string{})
	eq(t, "ListUserGroups", groupIDs(get[[]store.Group](t)(s.ListUserGroups(ctx, "r1", "udan"))), []string{"g4", "g3"})
	ok(t, s.RemoveUserFromGroup(ctx, "r1", "udan", "g4"))
	ok(t, s.RemoveUserFromGroup(ctx, "r1", "udan", "g4"))
	eq(t, "after remove", groupIDs(get[[]store.Group](t)(s.ListUserGroups(ctx, "r1", "udan"))), []string{"g3"})

	// Deleting a group deletes its subtree, memberships and role mappings.
	ok(t, s.DeleteGroup(ctx, "r1", "g1"))
	eq(t, "after delete", groupIDs(get[[]store.Group](t)(s.ListGroups(ctx, "r1"))), []string{"g4"})
	eq(t, "memberships", groupIDs(get[[]store.Group](t)(s.ListUserGroups(ctx, "r1", "udan"))), []string{})
	eq(t, "group roles", get[[]store.Role](t)(s.ListGroupRoles(ctx, "r1", "g2")), []store.Role{})
	isErr(t, s.DeleteGroup(ctx, "r1", "g1"), store.ErrNotFound)
}

func testComponents(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	const storage, mapperType, keys = "org.keycloak.storage.UserStorageProvider",
		"org.keycloak.storage.ldap.mappers.LDAPStorageMapper", "org.keycloak.keys.KeyProvider"
	ldap := store.Component{ID: "ldap", RealmID: "r1", ParentID: "r1", Name: "corp", ProviderID: "ldap", ProviderType: storage,
		Config: map[string][]string{"connectionUrl": {"ldap://x"}, "bindDn": {"cn=admin"}}}
	mapper := store.Component{ID: "m1", RealmID: "r1", ParentID: "ldap", Name: "email", ProviderID: "user-attribute-ldap-mapper", ProviderType: mapperType}
	nested := store.Component{ID: "m2", RealmID: "r1", ParentID: "m1", Name: "nested", ProviderID: "x", ProviderType: mapperType}
	rsa := store.Component{ID: "k1", RealmID: "r1", ParentID: "r1", Name: "rsa", ProviderID: "rsa-generated", ProviderType: keys}
	for _, c := range []store.Component{ldap, mapper, nested, rsa} {
		ok(t, s.CreateComponent(ctx, c))
	}
	isErr(t, s.CreateComponent(ctx, ldap), store.ErrConflict)
	eq(t, "GetComponent", get[store.Component](t)(s.GetComponent(ctx, "r1", "ldap")), ldap)
	compIDs := func(parent, typ string) []string {
		cs := get[[]store.Component](t)(s.ListComponents(ctx, "r1", parent, typ))
		return sorted(ids(cs, func(c store.Component) string { return c.ID }))
	}
	eq(t, "all", compIDs("", ""), []string{"k1", "ldap", "m1", "m2"})
	eq(t, "by parent", compIDs("r1", ""), []string{"k1", "ldap"})
	eq(t, "by type", compIDs("", mapperType), []string{"m1", "m2"})
	eq(t, "by both", compIDs("ldap", mapperType), []string{"m1"})
	ldap.Name, ldap.Config = "corp2", map[string][]string{"enabled": {"false"}}
	ok(t, s.UpdateComponent(ctx, ldap))
	eq(t, "updated", get[store.Component](t)(s.GetComponent(ctx, "r1", "ldap")), ldap)
	isErr(t, s.UpdateComponent(ctx, store.Component{ID: "nope", RealmID: "r1"}), store.ErrNotFound)
	ok(t, s.DeleteComponent(ctx, "r1", "ldap"))
	eq(t, "after delete", compIDs("", ""), []string{"k1"})
	isErr(t, s.DeleteComponent(ctx, "r1", "ldap"), store.ErrNotFound)
}

func testIdentityProviders(t *testing.T, s store.Store) {
	ctx := t.Context()
	realm(t, s, "r1")
	p := store.IdentityProvider{InternalID: "i1", RealmID: "r1", Alias: "corp", ProviderID: "saml", Enabled: true, Config: raw(`{"alias":"corp"}`)}
	ok(t, s.CreateIdentityProvider(ctx, p))
	isErr(t, s.CreateIdentityProvider(ctx, store.IdentityProvider{InternalID: "i2", RealmID: "r1", Alias: "corp", ProviderID: "oidc"}), store.ErrConflict)
	eq(t, "GetIdentityProvider", get[store.IdentityProvider](t)(s.GetIdentityProvider(ctx, "r1", "corp")), p)
	p2 := store.IdentityProvider{InternalID: "i2", RealmID: "r1", Alias: "azure", ProviderID: "oidc"}
	ok(t, s.CreateIdentityProvider(ctx, p2))
	eq(t, "ListIdentityProviders", get[[]store.IdentityProvider](t)(s.ListIdentityProviders(ctx, "r1")), []store.IdentityProvider{p2, p})
	p.Enabled, p.Config = false, raw(`{}`)
	ok(t, s.UpdateIdentityProvider(ctx, p))
	eq(t, "updated", get[store.IdentityProvider](t)(s.GetIdentityProvider(ctx, "r1", "corp")), p)
	isErr(t, s.UpdateIdentityProvider(ctx, store.IdentityProvider{RealmID: "r1", Alias: "nope"}), store.ErrNotFound)

	m := store.IdentityProviderMapper{ID: "m1", RealmID: "r1", Alias: "corp", Name: "email", Mapper: "saml-user-attribute-idp-mapper",
		Config: map[string]string{"attribute.name": "mail"}}
	ok(t, s.CreateIdentityProviderMapper(ctx, m))
	isErr(t, s.CreateIdentityProviderMapper(ctx, m), store.ErrConflict)
	isErr(t, s.CreateIdentityProviderMapper(ctx, store.IdentityProviderMapper{ID: "m9", RealmID: "r1", Alias: "nope", Name: "x"}), store.ErrNotFound)
	m2 := store.IdentityProviderMapper{ID: "m2", RealmID: "r1", Alias: "corp", Name: "a-first", Mapper: "hardcoded"}
	ok(t, s.CreateIdentityProviderMapper(ctx, m2))
	eq(t, "mappers", get[[]store.IdentityProviderMapper](t)(s.ListIdentityProviderMappers(ctx, "r1", "corp")), []store.IdentityProviderMapper{m2, m})
	m.Config = map[string]string{"attribute.name": "email"}
	ok(t, s.UpdateIdentityProviderMapper(ctx, m))
	isErr(t, s.UpdateIdentityProviderMapper(ctx, store.IdentityProviderMapper{ID: "nope", RealmID: "r1", Alias: "corp"}), store.ErrNotFound)
	ok(t, s.DeleteIdentityProviderMapper(ctx, "r1", "m2"))
	isErr(t, s.DeleteIdentityProviderMapper(ctx, "r1", "m2"), store.ErrNotFound)
	eq(t, "after mapper delete", get[[]store.IdentityProviderMapper](t)(s.ListIdentityProviderMappers(ctx, "r1", "corp")), []store.IdentityProviderMapper{m})

	ok(t, s.DeleteIdentityProvider(ctx, "r1", "corp"))
	_, err := s.GetIdentityProvider(ctx, "r1", "corp")
	isErr(t, err, store.ErrNotFound)
	eq(t, "mappers of deleted provider", get[[]store.IdentityProviderMapper](t)(s.ListIdentityProviderMappers(ctx, "r1", "corp")),
		[]store.IdentityProviderMapper{})
	isErr(t, s.DeleteIdentityProvider(ctx, "r1", "corp"), store.ErrNotFound)
}
