package ldap

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
	"github.com/keygate/keygate/store"
)

// openProvider opens the provider through Open, as the registry does.
func openProvider(t *testing.T, url, usersDN, bindDN, bindPW string, extra map[string]string, mappers ...store.Component) *Provider {
	t.Helper()
	cfg := map[string][]string{
		"connectionUrl": {url}, "usersDn": {usersDN}, "bindDn": {bindDN}, "bindCredential": {bindPW},
		"editMode": {"READ_ONLY"}, "vendor": {"other"},
	}
	for k, v := range extra {
		cfg[k] = []string{v}
	}
	c := store.Component{ID: "ldap-1", RealmID: "r1", Name: "corp-ldap", ProviderID: "ldap", ProviderType: federation.UserStorageType, Config: cfg}
	for i := range mappers {
		mappers[i].ParentID = c.ID
	}
	us, err := Open(t.Context(), federation.Env{Logger: quiet}, c, mappers)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = us.Close() })
	return us.(*Provider)
}

func slapdProvider(t *testing.T, s *ldaptest.Server, extra map[string]string, mappers ...store.Component) *Provider {
	t.Helper()
	return openProvider(t, s.URL(), s.PeopleDN, s.ServiceDN, s.ServicePassword, extra, mappers...)
}

func person(dn, uid string, extra ...string) string {
	var sb strings.Builder
	fmt.Fprintf(&sb, "dn: %s\nobjectClass: inetOrgPerson\nuid: %s\ncn: %s\nsn: %s\nuserPassword: %s\n", dn, uid, uid, uid, ldaptest.SSHA("secret"))
	for i := 0; i+1 < len(extra); i += 2 {
		fmt.Fprintf(&sb, "%s: %s\n", extra[i], extra[i+1])
	}
	return sb.String() + "\n"
}

func TestSlapdLookupLoadAndPassword(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	p := slapdProvider(t, s, map[string]string{"trustEmail": "true"}, defaultMappers()...)
	ctx := t.Context()

	id, err := p.LookupUser(ctx, "user1", false)
	if err != nil {
		t.Fatal(err)
	}
	if id.Username != "user1" || id.Email != "user1@example.org" || id.FirstName != "User" || id.LastName != "1" ||
		id.DN != s.UserDN(1) || !id.EmailVerified || len(id.ExternalID) != 36 || len(id.Attributes["createTimestamp"]) != 1 {
		t.Fatalf("identity %+v", id)
	}
	for _, name := range []string{"USER1", "User1"} {
		other, err := p.LookupUser(ctx, name, false)
		if err != nil || other.ExternalID != id.ExternalID {
			t.Errorf("%s: %v, %v", name, other.ExternalID, err)
		}
	}
	if byMail, err := p.LookupUser(ctx, "user2@example.org", true); err != nil || byMail.Username != "user2" {
		t.Errorf("by email: %+v, %v", byMail, err)
	}
	loaded, err := p.LoadUser(ctx, id.ExternalID)
	if err != nil || !reflect.DeepEqual(loaded, id) {
		t.Errorf("load: %+v, %v\nlookup gave %+v", loaded, err, id)
	}
	for pw, want := range map[string]bool{ldaptest.DefaultUserPassword: true, "wrong": false, "": false, "password ": false} {
		if ok, err := p.CheckPassword(ctx, id, pw); ok != want || err != nil {
			t.Errorf("password %q: %v, %v", pw, ok, err)
		}
	}
	for _, name := range []string{"nobody", ""} {
		if _, err := p.LookupUser(ctx, name, false); !errors.Is(err, federation.ErrNotFound) {
			t.Errorf("%q: %v", name, err)
		}
	}
	if _, err := p.LookupUser(ctx, "nobody@example.org", true); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
}

// Usernames with filter metacharacters find exactly the entry of that
// name or nothing: "*" is not a wildcard, ")(" does not open a filter.
func TestSlapdMetacharactersFindNothing(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3, LDIF: person("uid=star*,ou=people,dc=example,dc=org", "star*") +
		person("uid=paren(x),ou=people,dc=example,dc=org", "paren(x)") + person(`uid=back\5cslash,ou=people,dc=example,dc=org`, `back\slash`)})
	p := slapdProvider(t, s, nil, defaultMappers()...)
	ctx := t.Context()
	for _, name := range []string{"*", "user*", "*)(uid=*", "*)(|(uid=*", "user1)", "(uid=user1)", `user1\`, `\2a`, "user1\x00", "user1\x00*", "star", "paren("} {
		id, err := p.LookupUser(ctx, name, false)
		if !errors.Is(err, federation.ErrNotFound) {
			t.Errorf("%q: %+v, %v", name, id, err)
		}
		if _, err := p.LookupUser(ctx, name, true); !errors.Is(err, federation.ErrNotFound) {
			t.Errorf("%q by email: %v", name, err)
		}
	}
	for _, name := range []string{"star*", "paren(x)", `back\slash`} {
		id, err := p.LookupUser(ctx, name, false)
		if err != nil || id.Username != name {
			t.Errorf("%q: %+v, %v", name, id, err)
		}
		if ok, err := p.CheckPassword(ctx, id, "secret"); !ok || err != nil {
			t.Errorf("%q: password %v, %v", name, ok, err)
		}
	}
	// Admin search keeps "*" as a wildcard (Keycloak's semantics) and
	// nothing else.
	ids, err := p.SearchUsers(ctx, "*)(uid=*", 10)
	if err != nil || len(ids) != 0 {
		t.Errorf("search with a filter in it: %d, %v", len(ids), err)
	}
}

func TestSlapdAmbiguousEntries(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2, LDIF: "dn: ou=staff,ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: staff\n\n" +
		person("uid=dup,ou=people,dc=example,dc=org", "dup", "mail", "shared@example.org") +
		person("uid=dup,ou=staff,ou=people,dc=example,dc=org", "dup") +
		person("uid=other,ou=people,dc=example,dc=org", "other", "mail", "shared@example.org")})
	ctx := t.Context()
	sub := slapdProvider(t, s, map[string]string{"searchScope": "2"}, defaultMappers()...)
	if _, err := sub.LookupUser(ctx, "dup", false); !errors.Is(err, federation.ErrAmbiguous) {
		t.Errorf("two entries in the subtree: %v", err)
	}
	if _, err := sub.LookupUser(ctx, "shared@example.org", true); !errors.Is(err, federation.ErrAmbiguous) {
		t.Errorf("two entries with one email: %v", err)
	}
	one := slapdProvider(t, s, map[string]string{"searchScope": "1"}, defaultMappers()...)
	if id, err := one.LookupUser(ctx, "dup", false); err != nil || id.DN != "uid=dup,ou=people,dc=example,dc=org" {
		t.Errorf("one level: %+v, %v", id, err)
	}
}

// Revalidation by the entry's UUID follows renames and moves; a deleted
// entry is gone (ErrNotFound); a search base that does not exist is the
// directory being unusable, never "the user is gone".
func TestSlapdRenameMoveDelete(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3, LDIF: "dn: ou=staff,ou=people,dc=example,dc=org\nobjectClass: organizationalUnit\nou: staff\n"})
	p := slapdProvider(t, s, map[string]string{"searchScope": "2"}, defaultMappers()...)
	ctx := t.Context()
	id, err := p.LookupUser(ctx, "user1", false)
	if err != nil {
		t.Fatal(err)
	}
	l := s.Conn(t)
	if err := l.ModifyDN(goldap.NewModifyDNRequest(s.UserDN(1), "uid=renamed1", true, "")); err != nil {
		t.Fatal(err)
	}
	got, err := p.LoadUser(ctx, id.ExternalID)
	if err != nil || got.Username != "renamed1" || got.DN != "uid=renamed1,"+s.PeopleDN || got.ExternalID != id.ExternalID {
		t.Fatalf("after rename: %+v, %v", got, err)
	}
	if err := l.ModifyDN(goldap.NewModifyDNRequest(got.DN, "uid=renamed1", true, "ou=staff,"+s.PeopleDN)); err != nil {
		t.Fatal(err)
	}
	got, err = p.LoadUser(ctx, id.ExternalID)
	if err != nil || got.DN != "uid=renamed1,ou=staff,"+s.PeopleDN {
		t.Fatalf("after move: %+v, %v", got, err)
	}
	if ok, err := p.CheckPassword(ctx, got, ldaptest.DefaultUserPassword); !ok || err != nil {
		t.Errorf("password after the move: %v, %v", ok, err)
	}
	s.Delete(t, got.DN)
	if _, err := p.LoadUser(ctx, id.ExternalID); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("after delete: %v", err)
	}
	if ok, err := p.CheckPassword(ctx, got, ldaptest.DefaultUserPassword); ok || err != nil {
		t.Errorf("password of a deleted entry: %v, %v", ok, err)
	}

	other, err := p.LookupUser(ctx, "user2", false)
	if err != nil {
		t.Fatal(err)
	}
	bad := slapdProvider(t, s, map[string]string{"usersDn": "ou=nowhere,dc=example,dc=org"}, defaultMappers()...)
	for what, err := range map[string]error{
		"load":   second(bad.LoadUser(ctx, other.ExternalID)),
		"lookup": second(bad.LookupUser(ctx, "user2", false)),
	} {
		if !errors.Is(err, federation.ErrUnavailable) || errors.Is(err, federation.ErrNotFound) {
			t.Errorf("%s under a missing base: %v", what, err)
		}
	}
}

func second[T any](_ T, err error) error { return err }

// The custom filter applies to revalidation too: an entry that no longer
// matches it is no longer a user of the provider.
func TestSlapdCustomFilter(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	p := slapdProvider(t, s, map[string]string{"customUserSearchFilter": "(!(employeeType=disabled))"}, defaultMappers()...)
	ctx := t.Context()
	id, err := p.LookupUser(ctx, "user1", false)
	if err != nil {
		t.Fatal(err)
	}
	s.Modify(t, fmt.Sprintf("dn: %s\nadd: employeeType\nemployeeType: disabled\n-\n", s.UserDN(1)))
	if _, err := p.LoadUser(ctx, id.ExternalID); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("load: %v", err)
	}
	if _, err := p.LookupUser(ctx, "user1", false); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("lookup: %v", err)
	}
}

const stackstateGroups = `dn: ou=other,dc=example,dc=org
objectClass: organizationalUnit
ou: other

dn: cn=stackstate-admin,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: stackstate-admin
member: uid=user0,ou=people,dc=example,dc=org

dn: cn=stackstate-power-user,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: stackstate-power-user
member: uid=user1,ou=people,dc=example,dc=org

dn: cn=stackstate-guest,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: stackstate-guest
member: uid=user0,ou=people,dc=example,dc=org
member: uid=user1,ou=people,dc=example,dc=org
member: uid=user2,ou=people,dc=example,dc=org

dn: cn=unrelated,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: unrelated
description: skip
member: uid=user0,ou=people,dc=example,dc=org

dn: cn=stackstate-admin,ou=other,dc=example,dc=org
objectClass: groupOfNames
cn: stackstate-admin
member: uid=user3,ou=people,dc=example,dc=org
`

func stackstateMappers(strategy string, mode string) []store.Component {
	return append(defaultMappers(),
		comp("r-roles", mapperRole, "roles.dn", "ou=groups,dc=example,dc=org", "mode", mode, "roles.ldap.filter", "(cn=stackstate-*)",
			"user.roles.retrieve.strategy", strings.ReplaceAll(strategy, "GROUPS", "ROLES")),
		comp("g-groups", mapperGroup, "groups.dn", "ou=groups,dc=example,dc=org", "mode", mode, "groups.ldap.filter", "(!(description=skip))",
			"user.roles.retrieve.strategy", strategy))
}

// grantsOf sorts a user's grants into what the role and group mappers
// gave, for comparison.
func grantsOf(t *testing.T, id federation.Identity) (roles, groups, ownedRoles, ownedGroups []string) {
	t.Helper()
	for _, g := range id.Grants {
		if !g.Create {
			t.Errorf("a membership grant that does not create: %+v", g)
		}
		for _, r := range g.Roles {
			roles = append(roles, r.Client+"/"+r.Name)
		}
		for _, r := range g.OwnedRoles {
			ownedRoles = append(ownedRoles, r.Client+"/"+r.Name)
		}
		groups = append(groups, g.Groups...)
		ownedGroups = append(ownedGroups, g.OwnedGroups...)
	}
	for _, s := range [][]string{roles, groups, ownedRoles, ownedGroups} {
		slices.Sort(s)
	}
	return
}

// The StackState case, with each strategy slapd can serve: directory
// groups become realm roles (role mapper) and groups (group mapper);
// each mapper's filter applies whatever the strategy, and memberOf values
// outside the mapper's base DN do not count.
func TestSlapdStackStateStrategies(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 4})
	s.Add(t, stackstateGroups) // online: memberOf is maintained
	allRoles := []string{"/stackstate-admin", "/stackstate-guest", "/stackstate-power-user"}
	for _, strategy := range []string{"LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"} {
		t.Run(strategy, func(t *testing.T) {
			p := slapdProvider(t, s, nil, stackstateMappers(strategy, "READ_ONLY")...)
			for user, want := range map[string][]string{
				"user0": {"/stackstate-admin", "/stackstate-guest"},
				"user1": {"/stackstate-guest", "/stackstate-power-user"},
				"user2": {"/stackstate-guest"},
				"user3": nil,
			} {
				id, err := p.LookupUser(t.Context(), user, false)
				if err != nil {
					t.Fatal(err)
				}
				roles, groups, ownedRoles, ownedGroups := grantsOf(t, id)
				if !slices.Equal(roles, want) || !slices.Equal(groups, want) {
					t.Errorf("%s: roles %v, groups %v, want %v", user, roles, groups, want)
				}
				if !slices.Equal(ownedRoles, allRoles) || !slices.Equal(ownedGroups, allRoles) {
					t.Errorf("%s: owned roles %v, owned groups %v", user, ownedRoles, ownedGroups)
				}
			}
		})
	}
	// IMPORT: the grant applies at import only and owns nothing.
	p := slapdProvider(t, s, nil, stackstateMappers("LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "IMPORT")...)
	id, err := p.LookupUser(t.Context(), "user0", false)
	if err != nil {
		t.Fatal(err)
	}
	for _, g := range id.Grants {
		if !g.ImportOnly || len(g.OwnedRoles)+len(g.OwnedGroups) != 0 {
			t.Errorf("IMPORT grant %+v", g)
		}
	}
}

func TestSlapdClientRolesAndUIDMembership(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3, LDIF: `dn: cn=viewers,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: viewers
gidNumber: 1000
memberUid: user1
memberUid: user2

dn: cn=editors,ou=groups,dc=example,dc=org
objectClass: posixGroup
cn: editors
gidNumber: 1001
memberUid: user2
`})
	p := slapdProvider(t, s, nil, append(defaultMappers(),
		comp("r", mapperRole, "roles.dn", s.GroupsDN, "mode", "LDAP_ONLY", "role.object.classes", "posixGroup",
			"membership.ldap.attribute", "memberUid", "membership.attribute.type", "UID",
			"use.realm.roles.mapping", "false", "client.id", "grafana"))...)
	for user, want := range map[string][]string{"user0": nil, "user1": {"grafana/viewers"}, "user2": {"grafana/editors", "grafana/viewers"}} {
		id, err := p.LookupUser(t.Context(), user, false)
		if err != nil {
			t.Fatal(err)
		}
		roles, _, owned, _ := grantsOf(t, id)
		if !slices.Equal(roles, want) || !slices.Equal(owned, []string{"grafana/editors", "grafana/viewers"}) {
			t.Errorf("%s: roles %v, owned %v", user, roles, owned)
		}
	}
}

// preserve.group.inheritance: an LDAP group that is a member of another
// becomes its subgroup; a user is in the groups it is a direct member of,
// at their nested paths.
func TestSlapdNestedGroups(t *testing.T) {
	for _, strategy := range []string{"LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"} {
		t.Run(strategy, func(t *testing.T) { testNestedGroups(t, strategy) })
	}
}

func testNestedGroups(t *testing.T, strategy string) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	s.Add(t, `dn: cn=eng,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: eng
member: uid=user0,ou=people,dc=example,dc=org
member: cn=backend,ou=groups,dc=example,dc=org

dn: cn=backend,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: backend
member: uid=user1,ou=people,dc=example,dc=org
member: cn=db,ou=groups,dc=example,dc=org

dn: cn=db,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: db
member: uid=user1,ou=people,dc=example,dc=org
`)
	p := slapdProvider(t, s, nil, append(defaultMappers(), comp("g", mapperGroup, "groups.dn", s.GroupsDN, "mode", "READ_ONLY",
		"preserve.group.inheritance", "true", "groups.path", "/ldap", "user.roles.retrieve.strategy", strategy))...)
	for user, want := range map[string][]string{
		"user0": {"/ldap/eng"}, "user1": {"/ldap/eng/backend", "/ldap/eng/backend/db"}, "user2": nil,
	} {
		id, err := p.LookupUser(t.Context(), user, false)
		if err != nil {
			t.Fatal(err)
		}
		_, groups, _, owned := grantsOf(t, id)
		if !slices.Equal(groups, want) || !slices.Equal(owned, []string{"/ldap/eng", "/ldap/eng/backend", "/ldap/eng/backend/db"}) {
			t.Errorf("%s: groups %v, owned %v", user, groups, owned)
		}
	}
	// A group added after the mapper cached the tree is found at its
	// nested place at once.
	s.Add(t, `dn: cn=late,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: late
member: uid=user2,ou=people,dc=example,dc=org
`)
	s.Modify(t, "dn: cn=db,ou=groups,dc=example,dc=org\nadd: member\nmember: cn=late,ou=groups,dc=example,dc=org\n-\n")
	id, err := p.LookupUser(t.Context(), "user2", false)
	if err != nil {
		t.Fatal(err)
	}
	if _, groups, _, _ := grantsOf(t, id); !slices.Equal(groups, []string{"/ldap/eng/backend/db/late"}) {
		t.Errorf("a new nested group: %v", groups)
	}
}

func TestSlapdSearchUsers(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 30})
	p := slapdProvider(t, s, nil, append(defaultMappers(), comp("full", mapperFullName))...)
	ctx := t.Context()
	names := func(ids []federation.Identity) []string {
		var out []string
		for _, id := range ids {
			out = append(out, id.Username)
		}
		slices.Sort(out)
		return out
	}
	for _, tc := range []struct {
		query string
		max   int
		want  []string
	}{
		{"user2", 100, []string{"user2", "user20", "user21", "user22", "user23", "user24", "user25", "user26", "user27", "user28", "user29"}},
		{`"user2"`, 100, []string{"user2"}},
		{"user1@example", 100, []string{"user1"}},
		{"*ser7", 100, []string{"user7"}},
		{"user 7", 100, []string{"user7"}}, // every word: "User" and "7" (cn "User 7", sn "7")
		{"nobody", 100, nil},
	} {
		ids, err := p.SearchUsers(ctx, tc.query, tc.max)
		if err != nil || !slices.Equal(names(ids), tc.want) {
			t.Errorf("%q: %v, %v; want %v", tc.query, names(ids), err, tc.want)
		}
	}
	ids, err := p.SearchUsers(ctx, "", 5)
	if err != nil || len(ids) != 5 {
		t.Errorf("max 5: %d, %v", len(ids), err)
	}
}

func TestSlapdSync(t *testing.T) {
	const users, groups = 250, 7
	s := ldaptest.Start(t, ldaptest.Options{Users: users, Groups: groups})
	for _, strategy := range []string{"LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"} {
		t.Run(strategy, func(t *testing.T) {
			p := slapdProvider(t, s, map[string]string{"batchSizeForSync": "100"}, append(defaultMappers(),
				comp("g", mapperGroup, "groups.dn", s.GroupsDN, "mode", "READ_ONLY", "user.roles.retrieve.strategy", strategy))...)
			var pages []int
			seen := map[string]bool{}
			err := p.SyncUsers(t.Context(), time.Time{}, func(ids []federation.Identity) error {
				pages = append(pages, len(ids))
				for _, id := range ids {
					var n int
					if _, err := fmt.Sscanf(id.Username, "user%d", &n); err != nil {
						t.Fatalf("username %q", id.Username)
					}
					_, gs, _, owned := grantsOf(t, id)
					if want := []string{"/" + ldaptest.GroupName(n%groups)}; !slices.Equal(gs, want) || len(owned) != groups {
						t.Fatalf("%s: groups %v (owned %d), want %v", id.Username, gs, len(owned), want)
					}
					seen[id.ExternalID] = true
				}
				return nil
			})
			if err != nil || len(seen) != users || !slices.Equal(pages, []int{100, 100, 50}) {
				t.Fatalf("sync: %v, %d users, pages %v", err, len(seen), pages)
			}
		})
	}

	p := slapdProvider(t, s, map[string]string{"batchSizeForSync": "100"}, defaultMappers()...)
	// A page that fails stops the sync with its own error.
	boom := errors.New("page refused")
	if err := p.SyncUsers(t.Context(), time.Time{}, func([]federation.Identity) error { return boom }); !errors.Is(err, boom) ||
		errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("failing page: %v", err)
	}

	// Changed users: timestamps have one-second resolution.
	time.Sleep(1100 * time.Millisecond)
	since := time.Now()
	s.Modify(t, fmt.Sprintf("dn: %s\nreplace: mail\nmail: changed@example.org\n-\n", s.UserDN(5)))
	s.Add(t, person("uid=newcomer,"+s.PeopleDN, "newcomer"))
	var changed []string
	if err := p.SyncUsers(t.Context(), since, func(ids []federation.Identity) error {
		for _, id := range ids {
			changed = append(changed, id.Username+" "+id.Email)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	slices.Sort(changed)
	if !slices.Equal(changed, []string{"newcomer ", "user5 changed@example.org"}) {
		t.Errorf("changed since %s: %v", since, changed)
	}
}

// Open reveals a sealed bindCredential with the server's Reveal; a value
// that cannot be revealed stops the provider from opening.
func TestOpenRevealsBindCredential(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 1})
	c := store.Component{ID: "ldap-1", Name: "corp", ProviderID: "ldap", Config: map[string][]string{
		"connectionUrl": {s.URL()}, "usersDn": {s.PeopleDN}, "bindDn": {s.ServiceDN}, "bindCredential": {"sealed:" + s.ServicePassword},
		"editMode": {"READ_ONLY"}}}
	env := federation.Env{Logger: quiet, Reveal: func(v string) (string, error) {
		if rest, ok := strings.CutPrefix(v, "sealed:"); ok {
			return rest, nil
		}
		return "", errors.New("not sealed")
	}}
	us, err := Open(context.Background(), env, c, defaultMappers())
	if err != nil {
		t.Fatal(err)
	}
	defer us.Close()
	if _, err := us.LookupUser(t.Context(), "user0", false); err != nil {
		t.Errorf("lookup with the revealed credential: %v", err)
	}
	c.Config["bindCredential"] = []string{s.ServicePassword}
	if _, err := Open(context.Background(), env, c, nil); err == nil || strings.Contains(err.Error(), s.ServicePassword) {
		t.Errorf("an unsealed credential: %v", err)
	}
	c.Config["editMode"] = nil
	if _, err := Open(context.Background(), federation.Env{}, c, nil); err == nil {
		t.Error("a configuration without editMode opens")
	}
}

// Without paging, a directory that applies a size limit cuts a full
// listing short; a sync then fails rather than hand over part of the
// users (a full sync takes the others for gone).
func TestSlapdSyncRefusesTruncatedListing(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 30, SizeLimit: 10})
	pages := 0
	count := func([]federation.Identity) error { pages++; return nil }
	p := slapdProvider(t, s, map[string]string{"pagination": "false"}, defaultMappers()...)
	if err := p.SyncUsers(t.Context(), time.Time{}, count); !errors.Is(err, federation.ErrUnavailable) || pages != 0 {
		t.Errorf("unpaged sync over a size limit: %v after %d pages", err, pages)
	}
	paged := slapdProvider(t, s, map[string]string{"batchSizeForSync": "8"}, defaultMappers()...)
	if err := paged.SyncUsers(t.Context(), time.Time{}, count); err != nil || pages != 4 {
		t.Errorf("paged sync: %v, %d pages", err, pages)
	}
}

// Logins at once share one load of the mapper's groups and each get
// their own memberships.
func TestSlapdConcurrentLogins(t *testing.T) {
	const users, groups = 24, 3
	s := ldaptest.Start(t, ldaptest.Options{Users: users, Groups: groups})
	p := slapdProvider(t, s, nil, append(defaultMappers(), comp("g", mapperGroup, "groups.dn", s.GroupsDN, "mode", "READ_ONLY",
		"preserve.group.inheritance", "true"))...)
	errs := make(chan error, users)
	for i := range users {
		go func() {
			id, err := p.LookupUser(t.Context(), ldaptest.Username(i), false)
			if err != nil {
				errs <- err
				return
			}
			if _, gs, _, owned := grantsOf(t, id); !slices.Equal(gs, []string{"/" + ldaptest.GroupName(i%groups)}) || len(owned) != groups {
				errs <- fmt.Errorf("%s: groups %v, owned %v", id.Username, gs, owned)
				return
			}
			ok, err := p.CheckPassword(t.Context(), id, ldaptest.DefaultUserPassword)
			if !ok && err == nil {
				err = errors.New(id.Username + ": password refused")
			}
			errs <- err
		}()
	}
	for range users {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
