package ldap

import (
	"encoding/hex"
	"errors"
	"maps"
	"strings"
	"testing"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
	"github.com/keygate/keygate/store"
)

// TestADPassword: unicodePwd is the quoted password in UTF-16LE
// (Microsoft's "Setting a password" example encodes "newPassword" so),
// characters beyond the BMP as surrogate pairs, as Java's
// getBytes("UTF-16LE") writes them.
func TestADPassword(t *testing.T) {
	for _, tc := range []struct{ pw, hex string }{
		{"newPassword", "22006e0065007700500061007300730077006f00720064002200"},
		{"", "22002200"},
		{"é€😀", "2200e900ac203dd800de2200"},
	} {
		if got := hex.EncodeToString(adPassword(tc.pw)); got != tc.hex {
			t.Errorf("%q: %s, want %s", tc.pw, got, tc.hex)
		}
	}
}

func TestHardcodedLDAPAttributeValue(t *testing.T) {
	m := &hardcodedLDAPAttributeMapper{attr: "userPassword", value: "${RANDOM}"}
	a, b := m.computed(), m.computed()
	if len(a) != 30 || a == b || strings.Trim(a, randomChars) != "" {
		t.Errorf("${RANDOM}: %q, %q", a, b)
	}
	m.value = "x-${token}-y"
	if got := m.computed(); got != "x-token-y" {
		t.Errorf("other tokens: %q", got)
	}
}

// writableMappers are Keycloak's WRITABLE mappers for OpenLDAP with
// givenName for the first name (cn is the full name), plus a custom
// attribute, one the directory maps read-only, and one its schema
// refuses (uidNumber needs posixAccount).
func writableMappers(extra ...store.Component) []store.Component {
	return append([]store.Component{
		attrMapper("m1-username", "username", "uid", "is.mandatory.in.ldap", "true"),
		attrMapper("m2-email", "email", "mail"),
		attrMapper("m3-first", "firstName", "givenName"),
		attrMapper("m4-last", "lastName", "sn", "is.mandatory.in.ldap", "true", "attribute.default.value", "unknown"),
		comp("m5-full", mapperFullName, "ldap.full.name.attribute", "cn"),
		attrMapper("m6-phone", "phone", "telephoneNumber"),
		attrMapper("m7-dept", "department", "departmentNumber", "read.only", "true"),
		attrMapper("m8-created", "createTimestamp", "createTimestamp", "read.only", "true"),
	}, extra...)
}

func writableProvider(t *testing.T, s *ldaptest.Server, extra map[string]string, mappers ...store.Component) *Provider {
	t.Helper()
	cfg := map[string]string{"editMode": "WRITABLE"}
	for k, v := range extra {
		cfg[k] = v
	}
	return openProvider(t, s.URL(), s.PeopleDN, s.AdminDN, s.AdminPassword, cfg, mappers...)
}

// entry reads dn's attributes as the rootdn.
func entry(t *testing.T, s *ldaptest.Server, dn string, attrs ...string) *goldap.Entry {
	t.Helper()
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", attrs, nil))
	if goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		return nil
	}
	if err != nil || len(res.Entries) != 1 {
		t.Fatalf("read %s: %v", dn, err)
	}
	return res.Entries[0]
}

// with is attrs with name set to vals, attrs unchanged.
func with(attrs map[string][]string, name string, vals ...string) map[string][]string {
	out := maps.Clone(attrs)
	out[name] = vals
	return out
}

func refused(t *testing.T, err error, want string) {
	t.Helper()
	var re *federation.RefusedError
	if !errors.As(err, &re) || !errors.Is(err, federation.ErrRefused) || !strings.Contains(re.Reason, want) {
		t.Fatalf("err %v, want the directory's refusal with %q", err, want)
	}
}

// TestSlapdUpdatePassword: both ways of setting a password against slapd;
// the new password binds, the old one does not; what slapd stores says
// which way it went (the extended operation hashes, a replace does not).
func TestSlapdUpdatePassword(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	for _, tc := range []struct {
		name, extOp, user string
		stored            func(string) bool
	}{
		{"userPassword", "false", "user1", func(v string) bool { return v == "N3w-secret" }},
		{"RFC 3062", "true", "user2", func(v string) bool { return strings.HasPrefix(v, "{SSHA}") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writableProvider(t, s, map[string]string{"usePasswordModifyExtendedOp": tc.extOp}, writableMappers()...)
			ctx := t.Context()
			id, err := p.LookupUser(ctx, tc.user, false)
			if err != nil {
				t.Fatal(err)
			}
			if err := p.UpdatePassword(ctx, id, "N3w-secret"); err != nil {
				t.Fatal(err)
			}
			if ok, err := p.CheckPassword(ctx, id, "N3w-secret"); !ok || err != nil {
				t.Errorf("new password: %v, %v", ok, err)
			}
			if ok, err := p.CheckPassword(ctx, id, ldaptest.DefaultUserPassword); ok || err != nil {
				t.Errorf("old password: %v, %v", ok, err)
			}
			if v := entry(t, s, id.DN, "userPassword").GetAttributeValue("userPassword"); !tc.stored(v) {
				t.Errorf("stored userPassword %q", v)
			}
		})
	}

	t.Run("refused", func(t *testing.T) {
		// The service account may read but not write passwords.
		p := openProvider(t, s.URL(), s.PeopleDN, s.ServiceDN, s.ServicePassword, map[string]string{"editMode": "WRITABLE"},
			writableMappers()...)
		ctx := t.Context()
		id, err := p.LookupUser(ctx, "user0", false)
		if err != nil {
			t.Fatal(err)
		}
		refused(t, p.UpdatePassword(ctx, id, "N3w-secret"), "Insufficient Access")
		if ok, err := p.CheckPassword(ctx, id, ldaptest.DefaultUserPassword); !ok || err != nil {
			t.Errorf("the old password after a refusal: %v, %v", ok, err)
		}
	})

	t.Run("READ_ONLY", func(t *testing.T) {
		p := openProvider(t, s.URL(), s.PeopleDN, s.AdminDN, s.AdminPassword, nil, writableMappers()...)
		id, err := p.LookupUser(t.Context(), "user0", false)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.UpdatePassword(t.Context(), id, "N3w-secret"); !errors.Is(err, federation.ErrReadOnly) {
			t.Errorf("READ_ONLY provider: %v", err)
		}
	})
}

// TestSlapdUpdateUser: an admin's changes land in the entry; what the
// directory's schema refuses, what a mapper maps read-only and a name the
// directory has are refused; a new username renames the entry.
func TestSlapdUpdateUser(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 3})
	p := writableProvider(t, s, nil, writableMappers(attrMapper("m9-badge", "badge", "uidNumber"))...)
	ctx := t.Context()
	id, err := p.LookupUser(ctx, "user1", false)
	if err != nil {
		t.Fatal(err)
	}
	old := store.User{Username: "user1", Email: "user1@example.org", FirstName: "User", LastName: "1", Enabled: true,
		Attributes: map[string][]string{"createTimestamp": id.Attributes["createTimestamp"]}}
	next := old
	next.Email, next.FirstName, next.LastName = "ann@example.org", "Ann", ""
	next.Attributes = map[string][]string{"createTimestamp": id.Attributes["createTimestamp"], "phone": {"+1 555 0100", "+1 555 0101"},
		"local-note": {"kept in keygate"}}
	got, err := p.UpdateUser(ctx, id, old, next)
	if err != nil || got.DN != id.DN {
		t.Fatalf("update: %+v, %v", got, err)
	}
	e := entry(t, s, id.DN, "mail", "givenName", "sn", "cn", "telephoneNumber")
	if e.GetAttributeValue("mail") != "ann@example.org" || e.GetAttributeValue("givenName") != "Ann" ||
		e.GetAttributeValue("sn") != "unknown" || e.GetAttributeValue("cn") != "Ann" || len(e.GetAttributeValues("telephoneNumber")) != 2 {
		t.Errorf("entry after the update: %v", e.Attributes)
	}
	reread, err := p.LoadUser(ctx, id.ExternalID)
	if err != nil || reread.Email != "ann@example.org" || reread.FirstName != "Ann" {
		t.Errorf("reread: %+v, %v", reread, err)
	}

	old = next
	for _, tc := range []struct {
		name   string
		change func(u *store.User)
		check  func(error)
	}{
		{"value slapd rejects", func(u *store.User) { u.Email = "jörg@example.org" }, func(err error) { refused(t, err, "Invalid Attribute Syntax") }},
		{"objectClass violation", func(u *store.User) { u.Attributes = with(u.Attributes, "badge", "42") }, func(err error) {
			refused(t, err, "Object Class Violation")
		}},
		{"read-only attribute", func(u *store.User) { u.Attributes = with(u.Attributes, "department", "ops") }, func(err error) {
			var ro *federation.ReadOnlyError
			if !errors.As(err, &ro) || ro.Field != "department" || !errors.Is(err, federation.ErrReadOnly) {
				t.Errorf("read-only attribute: %v", err)
			}
		}},
		{"name the directory has", func(u *store.User) { u.Username = "user2" }, func(err error) {
			if !errors.Is(err, federation.ErrConflict) {
				t.Errorf("rename onto user2: %v", err)
			}
		}},
	} {
		next := old
		next.Attributes = old.Attributes
		tc.change(&next)
		_, err := p.UpdateUser(ctx, id, old, next)
		tc.check(err)
	}
	if e := entry(t, s, id.DN, "mail", "uid"); e.GetAttributeValue("mail") != "ann@example.org" || e.GetAttributeValue("uid") != "user1" {
		t.Errorf("entry after refused changes: %v", e.Attributes)
	}

	// A new username renames the entry (uid is its RDN).
	next = old
	next.Username = "ann"
	got, err = p.UpdateUser(ctx, id, old, next)
	wantDN := "uid=ann," + s.PeopleDN
	if err != nil || got.DN != wantDN {
		t.Fatalf("rename: %+v, %v", got, err)
	}
	if entry(t, s, id.DN) != nil {
		t.Errorf("%s still there after the rename", id.DN)
	}
	ann, err := p.LookupUser(ctx, "ann", false)
	if err != nil || ann.ExternalID != id.ExternalID || ann.DN != wantDN {
		t.Fatalf("renamed entry: %+v, %v", ann, err)
	}
	if ok, err := p.CheckPassword(ctx, ann, ldaptest.DefaultUserPassword); !ok || err != nil {
		t.Errorf("password after the rename: %v, %v", ok, err)
	}
}

// TestSlapdCreateAndDeleteUser: a registration creates the entry Keycloak
// would (RDN, object classes, mapped attributes, the hardcoded LDAP
// attribute), reads its entryUUID back and sets the password; deleting
// removes it.
func TestSlapdCreateAndDeleteUser(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2})
	p := writableProvider(t, s, map[string]string{"usePasswordModifyExtendedOp": "true", "syncRegistrations": "true"},
		writableMappers(comp("m9-desc", mapperHardcodedLDAPAttr, "ldap.attribute.name", "description",
			"ldap.attribute.value", "made by keygate"), attrMapper("m9-badge", "badge", "uidNumber"))...)
	ctx := t.Context()
	u := store.User{Username: "newbie", Email: "newbie@example.org", FirstName: "New", LastName: "Bie", Enabled: true,
		Attributes: map[string][]string{"phone": {"+1 555 0199"}, "department": {"ops"}}}
	id, err := p.CreateUser(ctx, u, "Newbie-pw1")
	if err != nil {
		t.Fatal(err)
	}
	wantDN := "uid=newbie," + s.PeopleDN
	e := entry(t, s, wantDN, "*", "entryUUID")
	if id.DN != wantDN || id.Username != "newbie" || id.ExternalID == "" || id.ExternalID != e.GetAttributeValue("entryUUID") {
		t.Fatalf("identity %+v, entry %v", id, e.Attributes)
	}
	for attr, want := range map[string]string{"cn": "New Bie", "sn": "Bie", "givenName": "New", "mail": "newbie@example.org",
		"telephoneNumber": "+1 555 0199", "departmentNumber": "ops", "description": "made by keygate", "objectClass": "inetOrgPerson"} {
		if got := e.GetAttributeValues(attr); len(got) == 0 || got[0] != want {
			t.Errorf("%s = %v, want %q", attr, got, want)
		}
	}
	if ok, err := p.CheckPassword(ctx, id, "Newbie-pw1"); !ok || err != nil {
		t.Errorf("password given at creation: %v, %v", ok, err)
	}

	if _, err := p.CreateUser(ctx, store.User{Username: "user1", LastName: "x", Enabled: true}, ""); !errors.Is(err, federation.ErrConflict) {
		t.Errorf("an entry the directory has: %v", err)
	}
	_, err = p.CreateUser(ctx, store.User{Username: "badge", LastName: "x", Attributes: map[string][]string{"badge": {"7"}}}, "pw")
	refused(t, err, "Object Class Violation")
	if entry(t, s, "uid=badge,"+s.PeopleDN) != nil {
		t.Error("a refused registration left an entry")
	}

	if err := p.DeleteUser(ctx, id); err != nil {
		t.Fatal(err)
	}
	if entry(t, s, wantDN) != nil {
		t.Errorf("%s still there after the delete", wantDN)
	}
	if err := p.DeleteUser(ctx, id); err != nil {
		t.Errorf("deleting an entry already gone: %v", err)
	}
}

// TestSlapdWritesWhileDown: every write against a stopped directory is
// ErrUnavailable, never a refusal.
func TestSlapdWritesWhileDown(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 1})
	p := writableProvider(t, s, nil, writableMappers()...)
	ctx := t.Context()
	id, err := p.LookupUser(ctx, "user0", false)
	if err != nil {
		t.Fatal(err)
	}
	s.Stop(t)
	old := store.User{Username: "user0", Email: "user0@example.org"}
	next := old
	next.Email = "x@example.org"
	_, uerr := p.UpdateUser(ctx, id, old, next)
	_, cerr := p.CreateUser(ctx, store.User{Username: "x", LastName: "x"}, "pw")
	for what, err := range map[string]error{"password": p.UpdatePassword(ctx, id, "N3w-secret"), "update": uerr, "create": cerr,
		"delete": p.DeleteUser(ctx, id)} {
		if !errors.Is(err, federation.ErrUnavailable) || errors.Is(err, federation.ErrRefused) {
			t.Errorf("%s with the directory down: %v", what, err)
		}
	}
}

// TestADWrites: against the Active Directory-shaped fake over StartTLS, a
// reset replaces unicodePwd with the quoted UTF-16LE password, then the
// MSAD mapper clears PASSWD_NOTREQD and sets pwdLastSet -1; disabling a
// user sets ACCOUNTDISABLE. Without TLS the password never leaves.
func TestADWrites(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	dn := adUser(f, 1, "ann", "546", "0") // NORMAL_ACCOUNT | PASSWD_NOTREQD | ACCOUNTDISABLE
	open := func(startTLS string) *Provider {
		c := store.Component{ID: "ad-1", Name: "corp-ad", ProviderID: "ldap", ProviderType: federation.UserStorageType,
			Config: map[string][]string{"connectionUrl": {f.URL()}, "usersDn": {"OU=people," + adBase}, "bindDn": {f.AdminDN},
				"bindCredential": {f.AdminPassword}, "vendor": {"ad"}, "usernameLDAPAttribute": {"sAMAccountName"},
				"rdnLDAPAttribute": {"cn"}, "uuidLDAPAttribute": {"objectGUID"}, "userObjectClasses": {"person, organizationalPerson, user"},
				"editMode": {"WRITABLE"}, "searchScope": {"2"}, "startTls": {startTLS}}}
		us, err := Open(t.Context(), federation.Env{Logger: quiet, RootCAs: f.CA.Pool}, c, adMappers())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = us.Close() })
		return us.(*Provider)
	}
	read := func() *goldap.Entry {
		l, err := goldap.DialURL(f.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		if err := l.Bind(f.AdminDN, f.AdminPassword); err != nil {
			t.Fatal(err)
		}
		res, err := l.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
			"(objectClass=*)", []string{"unicodePwd", "userAccountControl", "pwdLastSet"}, nil))
		if err != nil || len(res.Entries) != 1 {
			t.Fatalf("read %s: %v", dn, err)
		}
		return res.Entries[0]
	}
	ctx := t.Context()

	plain := open("false")
	id, err := plain.LookupUser(ctx, "ann", false)
	if err != nil {
		t.Fatal(err)
	}
	refused(t, plain.UpdatePassword(ctx, id, "N3w-secret"), "LDAPS or StartTLS")
	if e := read(); len(e.GetRawAttributeValue("unicodePwd")) != 0 {
		t.Fatalf("unicodePwd written without TLS: %v", e.Attributes)
	}

	p := open("true")
	if err := p.UpdatePassword(ctx, id, "N3w-secret"); err != nil {
		t.Fatal(err)
	}
	e := read()
	if got := e.GetRawAttributeValue("unicodePwd"); string(got) != string(adPassword("N3w-secret")) {
		t.Errorf("unicodePwd %x", got)
	}
	if e.GetAttributeValue("userAccountControl") != "514" || e.GetAttributeValue("pwdLastSet") != "-1" {
		t.Errorf("after the reset: userAccountControl %s, pwdLastSet %s (want 514, -1)",
			e.GetAttributeValue("userAccountControl"), e.GetAttributeValue("pwdLastSet"))
	}

	old := store.User{Username: "ann", Email: "ann@corp.example", FirstName: "Ann", LastName: "Lee", Enabled: true}
	next := old
	next.Enabled = true
	old.Enabled = false
	if _, err := p.UpdateUser(ctx, id, old, next); err != nil {
		t.Fatal(err)
	}
	if got := read().GetAttributeValue("userAccountControl"); got != "512" {
		t.Errorf("enabled: userAccountControl %s, want 512", got)
	}
	old, next = next, old
	if _, err := p.UpdateUser(ctx, id, old, next); err != nil {
		t.Fatal(err)
	}
	if got := read().GetAttributeValue("userAccountControl"); got != "514" {
		t.Errorf("disabled: userAccountControl %s, want 514", got)
	}
}
