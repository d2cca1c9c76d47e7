package ldap

import (
	"context"
	"io"
	"log/slog"
	"reflect"
	"slices"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

func comp(id, providerID string, kv ...string) store.Component {
	c := store.Component{ID: id, Name: id, ProviderID: providerID, ProviderType: federation.LDAPMapperType, Config: map[string][]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		c.Config[kv[i]] = []string{kv[i+1]}
	}
	return c
}

func attrMapper(id, model, ldapAttr string, kv ...string) store.Component {
	return comp(id, mapperUserAttribute, append([]string{"user.model.attribute", model, "ldap.attribute", ldapAttr}, kv...)...)
}

// defaultMappers are the mappers Keycloak adds to a new OpenLDAP provider.
func defaultMappers() []store.Component {
	return []store.Component{
		attrMapper("m1-username", "username", "uid", "is.mandatory.in.ldap", "true"),
		attrMapper("m2-email", "email", "mail"),
		attrMapper("m3-first", "firstName", "givenName"),
		attrMapper("m4-last", "lastName", "sn"),
		attrMapper("m5-created", "createTimestamp", "createTimestamp", "read.only", "true", "always.read.value.from.ldap", "true"),
		attrMapper("m6-modified", "modifyTimestamp", "modifyTimestamp", "read.only", "true", "always.read.value.from.ldap", "true"),
	}
}

func testProvider(t *testing.T, extra map[string]string, mappers ...store.Component) *Provider {
	t.Helper()
	p, err := newProvider(testConfig(t, extra), quiet, nil, mappers)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestSplitFullName(t *testing.T) {
	for _, tc := range []struct {
		in, first, last string
		ok              bool
	}{
		{"John Doe", "John", "Doe", true},
		{"  Mary Ann Smith ", "Mary Ann", "Smith", true},
		{"Madonna", "", "Madonna", true},
		{"John  Doe", "John", "Doe", true},
		{"   ", "", "", false},
		{"", "", "", false},
	} {
		f, l, ok := splitFullName(tc.in)
		if f != tc.first || l != tc.last || ok != tc.ok {
			t.Errorf("%q: got (%q, %q, %v), want (%q, %q, %v)", tc.in, f, l, ok, tc.first, tc.last, tc.ok)
		}
	}
}

func TestIdentityFromDefaultMappers(t *testing.T) {
	p := testProvider(t, map[string]string{"trustEmail": "true"}, defaultMappers()...)
	for _, a := range []string{"uid", "entryUUID", "mail", "givenName", "sn", "createTimestamp", "modifyTimestamp"} {
		if !slices.Contains(p.attrs, a) {
			t.Errorf("user searches do not ask for %s: %v", a, p.attrs)
		}
	}
	e := goldap.NewEntry("uid=jdoe,ou=people,dc=example,dc=org", map[string][]string{
		"uid": {"JDoe"}, "entryUUID": {"d5f85f66-82b6-1041-9ac4-ed33e01de4a5"}, "mail": {"JDoe@Example.org"},
		"givenName": {"John"}, "sn": {"Doe"}, "createTimestamp": {"20250101120000Z"},
	})
	id, err := p.identity(e)
	if err != nil {
		t.Fatal(err)
	}
	want := federation.Identity{
		ExternalID: "d5f85f66-82b6-1041-9ac4-ed33e01de4a5", DN: e.DN, Username: "JDoe", Email: "JDoe@Example.org",
		EmailVerified: true, FirstName: "John", LastName: "Doe",
		Attributes: map[string][]string{"createTimestamp": {"20250101120000Z"}, "modifyTimestamp": nil},
	}
	if !reflect.DeepEqual(id, want) {
		t.Fatalf("got  %+v\nwant %+v", id, want)
	}
}

func TestIdentityRefusesEntriesWithoutIDOrUsername(t *testing.T) {
	p := testProvider(t, nil, defaultMappers()...)
	for _, attrs := range []map[string][]string{
		{"uid": {"x"}},
		{"entryUUID": {"d5f85f66-82b6-1041-9ac4-ed33e01de4a5"}},
	} {
		if _, err := p.identity(goldap.NewEntry("uid=x,ou=people,dc=example,dc=org", attrs)); err == nil {
			t.Errorf("%v: accepted", attrs)
		}
	}
}

// Keycloak runs the user-attribute mappers after the others and the
// username mapper last: a user-attribute mapper overrides a full-name or
// hardcoded mapper that sets the same property.
func TestMapperImportOrder(t *testing.T) {
	p := testProvider(t, nil,
		attrMapper("a", "firstName", "givenName"),
		comp("b", mapperFullName, "ldap.full.name.attribute", "cn"),
		attrMapper("c", "username", "mailNickname"),
		attrMapper("d", "username", "uid"),
		comp("e", mapperHardcodedAttr, "user.model.attribute", "emailVerified", "attribute.value", "true"),
		attrMapper("f", "emailVerified", "verified"),
	)
	e := goldap.NewEntry("uid=x,dc=o", map[string][]string{"uid": {"x"}, "entryUUID": {"1"}, "cn": {"Anna Maria Lopez"},
		"givenName": {"Anna"}, "mailNickname": {"alias"}, "verified": {"FALSE"}})
	id, err := p.identity(e)
	if err != nil {
		t.Fatal(err)
	}
	if id.FirstName != "Anna" || id.LastName != "Lopez" {
		t.Errorf("names %q %q: the attribute mapper should override the full name's first name", id.FirstName, id.LastName)
	}
	if id.Username != "x" {
		t.Errorf("username %q: the mapper of usernameLDAPAttribute has the last word", id.Username)
	}
	if id.EmailVerified {
		t.Error("emailVerified: the attribute mapper runs after the hardcoded one")
	}
}

func TestAttributeMapperProperties(t *testing.T) {
	p := testProvider(t, nil,
		attrMapper("a", "ENABLED", "active"),
		attrMapper("b", "emailVerified", "verified"),
		attrMapper("c", "department", "ou"),
		attrMapper("d", "missing", "nothere"),
		attrMapper("e", "email", "mail"),
	)
	e := goldap.NewEntry("uid=x,dc=o", map[string][]string{"uid": {"x"}, "entryUUID": {"1"}, "active": {"false"},
		"verified": {"True"}, "ou": {"ops", "dev"}})
	id, err := p.identity(e)
	if err != nil {
		t.Fatal(err)
	}
	if !id.Disabled || !id.EmailVerified || id.Email != "" {
		t.Errorf("disabled %v, emailVerified %v, email %q", id.Disabled, id.EmailVerified, id.Email)
	}
	if got := id.Attributes["department"]; !slices.Equal(got, []string{"ops", "dev"}) {
		t.Errorf("department %v", got)
	}
	if v, ok := id.Attributes["missing"]; !ok || v != nil {
		t.Errorf("an attribute the entry lacks must be removed (nil), got %v, %v", v, ok)
	}
	if p.mappers.emailAt != "mail" {
		t.Errorf("email attribute %q", p.mappers.emailAt)
	}
}

func TestBinaryAttributeMapper(t *testing.T) {
	p := testProvider(t, map[string]string{"vendor": "ad", "usernameLDAPAttribute": "sAMAccountName"},
		attrMapper("a", "guid", "objectGUID", "is.binary.attribute", "true", "always.read.value.from.ldap", "true"),
		attrMapper("b", "photo", "thumbnailPhoto", "is.binary.attribute", "true", "always.read.value.from.ldap", "true"),
		attrMapper("c", "sidAsUUID", "objectSid", "is.binary.attribute", "true", "binary.attribute.decoder", "base64"),
		attrMapper("d", "email", "mailBinary", "is.binary.attribute", "true"),
	)
	guid := []byte{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	e := &goldap.Entry{DN: "CN=Ann,CN=Users,DC=corp", Attributes: []*goldap.EntryAttribute{
		{Name: "sAMAccountName", Values: []string{"ann"}, ByteValues: [][]byte{[]byte("ann")}},
		{Name: "objectGUID", Values: []string{string(guid)}, ByteValues: [][]byte{guid}},
		{Name: "thumbnailPhoto", Values: []string{"\xff\xd8"}, ByteValues: [][]byte{{0xff, 0xd8}}},
		{Name: "objectSid", Values: []string{string(guid)}, ByteValues: [][]byte{guid}},
		{Name: "mailBinary", Values: []string{"a@b"}, ByteValues: [][]byte{[]byte("a@b")}},
	}}
	id, err := p.identity(e)
	if err != nil {
		t.Fatal(err)
	}
	if id.ExternalID != "03020100-0504-0706-0809-0a0b0c0d0e0f" {
		t.Errorf("LDAP_ID %q", id.ExternalID)
	}
	want := map[string][]string{"guid": {"03020100-0504-0706-0809-0a0b0c0d0e0f"}, "photo": {"/9g="}, "sidAsUUID": {"AAECAwQFBgcICQoLDA0ODw=="}}
	if !reflect.DeepEqual(id.Attributes, want) {
		t.Errorf("attributes %v, want %v", id.Attributes, want)
	}
	if id.Email != "" {
		t.Errorf("a binary attribute must not become a user property, got email %q", id.Email)
	}
	f, err := p.idFilter(id.ExternalID)
	if err != nil || f != `(objectGUID=\00\01\02\03\04\05\06\07\08\09\0a\0b\0c\0d\0e\0f)` {
		t.Errorf("id filter %s, %v", f, err)
	}
	if _, err := p.idFilter("d5f85f66"); err == nil {
		t.Error("a malformed GUID gives a filter")
	}
}

func TestMSADMapper(t *testing.T) {
	entry := func(uac, pwdLastSet string) *goldap.Entry {
		attrs := map[string][]string{"cn": {"ann"}, "objectGUID": {"0123456789abcdef"}}
		if uac != "" {
			attrs["userAccountControl"] = []string{uac}
		}
		if pwdLastSet != "" {
			attrs["pwdLastSet"] = []string{pwdLastSet}
		}
		return goldap.NewEntry("CN=ann,DC=corp", attrs)
	}
	for _, tc := range []struct {
		editMode, uac, pwd string
		disabled           bool
		actions            []string
	}{
		{"READ_ONLY", "512", "133000000000000000", false, nil},
		{"READ_ONLY", "514", "133000000000000000", true, nil},
		{"READ_ONLY", "528", "1", true, nil}, // locked out
		{"READ_ONLY", "512", "0", false, nil},
		{"WRITABLE", "512", "0", false, []string{"UPDATE_PASSWORD"}},
		{"WRITABLE", "8389120", "1", false, []string{"UPDATE_PASSWORD"}}, // PASSWORD_EXPIRED
		{"WRITABLE", "512", "", false, nil},
		{"WRITABLE", "", "0", false, nil},
	} {
		p := testProvider(t, map[string]string{"vendor": "ad", "editMode": tc.editMode}, comp("m", mapperMSADAccount))
		id, err := p.identity(entry(tc.uac, tc.pwd))
		if err != nil {
			t.Fatal(err)
		}
		if id.Disabled != tc.disabled || !slices.Equal(id.RequiredActions, tc.actions) {
			t.Errorf("%+v: disabled %v, actions %v", tc, id.Disabled, id.RequiredActions)
		}
	}
}

func TestHardcodedMappers(t *testing.T) {
	p := testProvider(t, nil,
		comp("a", mapperHardcodedRole, "role", "grafana.viewer"),
		comp("b", mapperHardcodedGroup, "group", "everyone/staff"),
		comp("c", mapperHardcodedAttr, "user.model.attribute", "tenant", "attribute.value", "acme"),
		comp("d", mapperHardcodedAttr, "user.model.attribute", "enabled", "attribute.value", "false"),
		comp("e", mapperCertificate, "ldap.attribute", "userCertificate"),
		comp("f", "no-such-mapper"),
	)
	e := goldap.NewEntry("uid=x,dc=o", map[string][]string{"uid": {"x"}, "entryUUID": {"1"}})
	id, err := p.identity(e)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.withGrants(context.Background(), e, &id); err != nil {
		t.Fatal(err)
	}
	if !id.Disabled || !slices.Equal(id.Attributes["tenant"], []string{"acme"}) {
		t.Errorf("identity %+v", id)
	}
	// Mappers run by descending id: b before a.
	want := []federation.Grant{
		{Groups: []string{"/everyone/staff"}},
		{Roles: []federation.RoleRef{{Name: "grafana.viewer", Qualified: true}}},
	}
	if !reflect.DeepEqual(id.Grants, want) {
		t.Errorf("grants %+v, want %+v", id.Grants, want)
	}
	if !slices.Equal(p.mappers.stored, []string{"f (no-such-mapper)", "e (certificate-ldap-mapper)"}) {
		t.Errorf("stored-only mappers %v", p.mappers.stored)
	}
}

func TestMapperConfigErrors(t *testing.T) {
	for name, c := range map[string]store.Component{
		"no mode":           comp("g", mapperGroup, "groups.dn", "ou=groups,dc=o"),
		"bad mode":          comp("g", mapperGroup, "groups.dn", "ou=groups,dc=o", "mode", "SOMETIMES"),
		"no groups.dn":      comp("g", mapperGroup, "mode", "READ_ONLY"),
		"bad groups.dn":     comp("g", mapperGroup, "groups.dn", "not a dn", "mode", "READ_ONLY"),
		"bad strategy":      comp("g", mapperGroup, "groups.dn", "ou=groups,dc=o", "mode", "READ_ONLY", "user.roles.retrieve.strategy", "GUESS"),
		"bad filter":        comp("g", mapperGroup, "groups.dn", "ou=groups,dc=o", "mode", "READ_ONLY", "groups.ldap.filter", "(cn=a"),
		"uid inheritance":   comp("g", mapperGroup, "groups.dn", "ou=groups,dc=o", "mode", "READ_ONLY", "membership.attribute.type", "UID", "preserve.group.inheritance", "true"),
		"client no id":      comp("r", mapperRole, "roles.dn", "ou=roles,dc=o", "mode", "READ_ONLY", "use.realm.roles.mapping", "false"),
		"bad member attr":   comp("r", mapperRole, "roles.dn", "ou=roles,dc=o", "mode", "READ_ONLY", "membership.ldap.attribute", "member)(x=*"),
		"attr without ldap": comp("a", mapperUserAttribute, "user.model.attribute", "email"),
		"bad decoder":       attrMapper("a", "x", "y", "binary.attribute.decoder", "hex"),
	} {
		c.Name = "mapper " + name
		if _, err := newProvider(testConfig(t, nil), quiet, nil, []store.Component{c}); err == nil {
			t.Errorf("%s: accepted", name)
		} else if !strings.Contains(err.Error(), c.Name) {
			t.Errorf("%s: the error does not name the mapper: %v", name, err)
		}
	}
}

func TestMembershipMapperDefaults(t *testing.T) {
	p := testProvider(t, map[string]string{"vendor": "ad", "usernameLDAPAttribute": "sAMAccountName"},
		comp("g", mapperGroup, "groups.dn", "OU=Groups,DC=corp", "mode", "LDAP_ONLY", "groups.path", "/ldap/",
			"user.roles.retrieve.strategy", "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE"),
		comp("r", mapperRole, "roles.dn", "OU=Roles,DC=corp", "mode", "IMPORT", "use.realm.roles.mapping", "false", "client.id", "grafana",
			"membership.attribute.type", "UID"))
	// Mappers run by descending id: r before g.
	r := p.mappers.grant[0].(*membershipMapper)
	g := p.mappers.grant[1].(*membershipMapper)
	if g.role || !r.role {
		t.Fatal("mapper order")
	}
	if !slices.Equal(g.classes, []string{"group"}) || g.nameAttr != "cn" || g.memberAttr != "member" || g.pathPrefix != "/ldap" ||
		g.strategy != fromMemberOf || g.importOnly || g.filter != "" {
		t.Errorf("group mapper %+v", g)
	}
	if r.client != "grafana" || !r.importOnly || !r.memberUID || r.memberUserAttr != "sAMAccountName" {
		t.Errorf("role mapper %+v", r)
	}
	if got := g.groupFilter(eq("member", "CN=x*,DC=corp")); got != `(&(objectClass=group)(member=CN=x\2a,DC=corp))` {
		t.Errorf("group filter %s", got)
	}
	for _, a := range []string{"memberOf", "sAMAccountName"} {
		if !slices.Contains(p.attrs, a) {
			t.Errorf("user searches miss %s: %v", a, p.attrs)
		}
	}
}

func TestParseRange(t *testing.T) {
	for _, tc := range []struct {
		in       string
		attr     string
		lo, hi   int
		last, ok bool
	}{
		{"member;range=0-1499", "member", 0, 1499, false, true},
		{"member;Range=1500-*", "member", 1500, 0, true, true},
		{"member", "", 0, 0, false, false},
		{"member;range=10-5", "", 0, 0, false, false},
		{"member;range=x-5", "", 0, 0, false, false},
		{"member;binary;range=0-9", "member", 0, 9, false, true},
	} {
		attr, lo, hi, last, ok := parseRange(tc.in)
		if attr != tc.attr || lo != tc.lo || hi != tc.hi || last != tc.last || ok != tc.ok {
			t.Errorf("%q: got %q %d %d %v %v", tc.in, attr, lo, hi, last, ok)
		}
	}
}

func TestDNKey(t *testing.T) {
	same := [][2]string{
		{"cn=Admins,ou=Groups,dc=example,dc=org", "CN=admins, OU=groups, DC=Example, DC=ORG"},
		{`cn=a\,b,dc=o`, `cn=a\2cb,dc=o`},
		{"cn=x+uid=y,dc=o", "uid=y+cn=x,dc=o"},
	}
	for _, p := range same {
		if dnKey(p[0]) != dnKey(p[1]) {
			t.Errorf("%q and %q differ: %q %q", p[0], p[1], dnKey(p[0]), dnKey(p[1]))
		}
	}
	if dnKey("cn=a,dc=o") == dnKey("cn=a,dc=p") {
		t.Error("different DNs compare equal")
	}
}

func groupsMapper(t *testing.T, kv ...string) *membershipMapper {
	t.Helper()
	c := comp("g", mapperGroup, append([]string{"groups.dn", "ou=groups,dc=o", "mode", "READ_ONLY"}, kv...)...)
	cfg := testConfig(t, nil)
	m, err := newMembershipMapper(&cfg, nil, quiet, c)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func testUniverse(m *membershipMapper, members map[string][]string) *universe {
	u := &universe{byKey: map[string]*ldapGroup{}, withMembers: true}
	names := make([]string, 0, len(members))
	for n := range members {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		g := m.group(goldap.NewEntry("cn="+n+",ou=groups,dc=o", map[string][]string{"cn": {n}}))
		for _, x := range members[n] {
			g.members = append(g.members, "cn="+x+",ou=groups,dc=o")
		}
		g.members = append(g.members, "uid=someone,ou=people,dc=o")
		u.groups = append(u.groups, g)
		u.byKey[g.key] = g
	}
	m.nest(u)
	return u
}

// Nested groups become nested paths; a group with two parents and groups
// in a cycle go to the top of groups.path instead of failing every login.
func TestNestedGroupPaths(t *testing.T) {
	m := groupsMapper(t, "preserve.group.inheritance", "true", "groups.path", "/corp")
	u := testUniverse(m, map[string][]string{
		"eng":      {"backend", "frontend"},
		"backend":  {"db"},
		"frontend": {},
		"db":       {},
		"ops":      {"db2", "shared"},
		"sales":    {"shared"},
		"shared":   {},
		"db2":      {},
		"a":        {"b"},
		"b":        {"a"},
		"x/y":      {},
	})
	// The cycle a <-> b: a is visited first (by DN), its parent b, whose
	// parent a is in progress: b goes to the top and a under it. Any
	// finite answer would do; what matters is that none fails.
	want := map[string]string{
		"eng": "/corp/eng", "backend": "/corp/eng/backend", "frontend": "/corp/eng/frontend", "db": "/corp/eng/backend/db",
		"ops": "/corp/ops", "db2": "/corp/ops/db2", "sales": "/corp/sales", "shared": "/corp/shared",
		"a": "/corp/b/a", "b": "/corp/b", "x/y": "/corp/x~/y",
	}
	for _, g := range u.groups {
		if g.path != want[g.name] {
			t.Errorf("%s: path %q, want %q", g.name, g.path, want[g.name])
		}
	}
}

func TestMakeGrant(t *testing.T) {
	m := groupsMapper(t, "preserve.group.inheritance", "true")
	u := testUniverse(m, map[string][]string{"eng": {"backend"}, "backend": {}, "ops": {}})
	backend := u.byKey[dnKey("cn=backend,ou=groups,dc=o")]
	g := m.makeGrant(u, []*ldapGroup{backend, backend})
	want := federation.Grant{Groups: []string{"/eng/backend"}, OwnedGroups: []string{"/eng/backend", "/eng", "/ops"}, Create: true}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("group grant %+v, want %+v", g, want)
	}

	cfg := testConfig(t, nil)
	r, err := newMembershipMapper(&cfg, nil, quiet, comp("r", mapperRole, "roles.dn", "ou=groups,dc=o", "mode", "IMPORT"))
	if err != nil {
		t.Fatal(err)
	}
	g = r.makeGrant(nil, []*ldapGroup{{name: "stackstate-admin"}})
	want = federation.Grant{Roles: []federation.RoleRef{{Name: "stackstate-admin"}}, ImportOnly: true, Create: true}
	if !reflect.DeepEqual(g, want) {
		t.Errorf("role grant %+v, want %+v", g, want)
	}
}

// In a sync page an entry that cannot be a user stays, with its id when
// it has one, so the sync counts it as failed instead of taking its user
// for gone; an admin search leaves it out.
func TestIdentitiesKeepBadEntriesForSync(t *testing.T) {
	p := testProvider(t, nil, defaultMappers()...)
	p.log = quiet
	entries := []*goldap.Entry{
		goldap.NewEntry("uid=a,dc=o", map[string][]string{"uid": {"a"}, "entryUUID": {"1"}}),
		goldap.NewEntry("cn=nouid,dc=o", map[string][]string{"entryUUID": {"2"}}),
		goldap.NewEntry("uid=c,dc=o", map[string][]string{"uid": {"c"}, "entryUUID": {"3"}}),
	}
	ids, err := p.identities(context.Background(), entries, true)
	if err != nil || len(ids) != 3 || ids[1].ExternalID != "2" || ids[1].Username != "" || ids[1].DN != "cn=nouid,dc=o" || ids[2].Username != "c" {
		t.Errorf("sync page %+v, %v", ids, err)
	}
	ids, err = p.identities(context.Background(), entries, false)
	if err != nil || len(ids) != 2 || ids[1].Username != "c" {
		t.Errorf("search page %+v, %v", ids, err)
	}
}
