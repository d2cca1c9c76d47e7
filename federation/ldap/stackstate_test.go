package ldap

import (
	"slices"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// The StackState case end to end: a realm whose LDAP provider (as a
// realm export carries it) maps the directory groups stackstate-admin,
// stackstate-power-user and stackstate-guest to realm roles and to
// groups; a login through federation's service imports the user with
// them, and a later login follows the directory, leaving what an admin
// granted in keygate alone.
func TestStackStateEndToEnd(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 4})
	s.Add(t, stackstateGroups)
	ctx := t.Context()
	st := backends.SQLite(t)
	const realm = "r1"
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(st.CreateRealm(ctx, store.Realm{ID: realm, Name: "stackstate", Enabled: true, Settings: []byte(`{}`)}))
	must(st.CreateRole(ctx, store.Role{ID: "role-admin", RealmID: realm, Name: "stackstate-admin"}))
	must(st.CreateRole(ctx, store.Role{ID: "role-local", RealmID: realm, Name: "granted-in-keygate"}))
	provider := store.Component{ID: "ldap-1", RealmID: realm, ParentID: realm, Name: "corp-ldap", ProviderID: "ldap",
		ProviderType: federation.UserStorageType, Config: map[string][]string{
			"connectionUrl": {s.URL()}, "usersDn": {s.PeopleDN}, "bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword},
			"editMode": {"READ_ONLY"}, "vendor": {"other"}, "trustEmail": {"true"}, "enabled": {"true"}}}
	must(st.CreateComponent(ctx, provider))
	mappers := append(stackstateMappers("LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "READ_ONLY"),
		comp("z-guest", mapperHardcodedRole, "role", "granted-to-everyone"))
	for _, m := range mappers {
		m.RealmID, m.ParentID = realm, provider.ID
		must(st.CreateComponent(ctx, m))
	}
	must(st.CreateRole(ctx, store.Role{ID: "role-everyone", RealmID: realm, Name: "granted-to-everyone"}))
	reg := federation.NewRegistry(st, federation.Env{Logger: quiet}, map[string]federation.Factory{"ldap": Open})
	t.Cleanup(func() { _ = reg.Close() })
	svc := federation.NewService(reg, federation.NewLinker(st), quiet)

	roleNames := func(userID string) []string {
		rs, err := st.ListUserRoles(ctx, realm, userID)
		must(err)
		var out []string
		for _, r := range rs {
			out = append(out, r.Name)
		}
		slices.Sort(out)
		return out
	}
	groupNames := func(userID string) []string {
		gs, err := st.ListUserGroups(ctx, realm, userID)
		must(err)
		var out []string
		for _, g := range gs {
			out = append(out, g.Name)
		}
		slices.Sort(out)
		return out
	}

	acc, err := svc.Resolve(ctx, realm, federation.RealmDefaults{}, nil, "user0", false)
	must(err)
	if ok, err := svc.CheckPassword(ctx, &acc, ldaptest.DefaultUserPassword); !ok || err != nil {
		t.Fatalf("password: %v, %v", ok, err)
	}
	u := acc.User
	if u.FederationLink != provider.ID || u.Attributes[federation.AttrEntryDN][0] != s.UserDN(0) || !u.EmailVerified {
		t.Fatalf("imported %+v", u)
	}
	if got, want := roleNames(u.ID), []string{"granted-to-everyone", "stackstate-admin", "stackstate-guest"}; !slices.Equal(got, want) {
		t.Errorf("roles %v, want %v", got, want)
	}
	if got, want := groupNames(u.ID), []string{"stackstate-admin", "stackstate-guest"}; !slices.Equal(got, want) {
		t.Errorf("groups %v, want %v", got, want)
	}

	// An admin grants a role in keygate; the directory takes user0 out of
	// stackstate-admin and puts it into stackstate-power-user.
	must(st.GrantUserRoles(ctx, realm, u.ID, []string{"role-local"}))
	s.Modify(t, `dn: cn=stackstate-admin,ou=groups,dc=example,dc=org
add: member
member: uid=user3,ou=people,dc=example,dc=org
-
delete: member
member: uid=user0,ou=people,dc=example,dc=org
-

dn: cn=stackstate-power-user,ou=groups,dc=example,dc=org
add: member
member: uid=user0,ou=people,dc=example,dc=org
-
`)
	acc, err = svc.Resolve(ctx, realm, federation.RealmDefaults{}, &u, "user0", false)
	must(err)
	if got, want := roleNames(u.ID), []string{"granted-in-keygate", "granted-to-everyone", "stackstate-guest", "stackstate-power-user"}; !slices.Equal(got, want) {
		t.Errorf("roles after the change %v, want %v", got, want)
	}
	if got, want := groupNames(u.ID), []string{"stackstate-guest", "stackstate-power-user"}; !slices.Equal(got, want) {
		t.Errorf("groups after the change %v, want %v", got, want)
	}
	if acc.User.ID != u.ID {
		t.Errorf("revalidation made a new user")
	}
}
