package ldap

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jimlambrt/gldap"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
	"github.com/keygate/keygate/store"
)

// Active Directory-shaped entries on the in-process fake directory (it
// evaluates AD's in-chain matching rule; slapd does not): objectGUID,
// sAMAccountName, userAccountControl, memberOf, nested groups.

const adBase = "dc=corp,dc=example"

// adGUID is a 16-byte objectGUID whose bytes stay below 0x80 (the fake
// compares values as text).
func adGUID(i byte) string {
	b := make([]byte, 16)
	for j := range b {
		b[j] = i<<4 | byte(j)
	}
	return string(b)
}

func adUser(f *ldaptest.Fake, i byte, sam string, uac string, pwdLastSet string, memberOf ...string) string {
	dn := fmt.Sprintf("CN=%s Lee,OU=people,%s", strings.ToUpper(sam[:1])+sam[1:], adBase)
	f.AddEntry(dn, map[string][]string{
		"objectClass": {"top", "person", "organizationalPerson", "user"}, "cn": {sam + " Lee"}, "sAMAccountName": {sam},
		"objectGUID": {adGUID(i)}, "userAccountControl": {uac}, "pwdLastSet": {pwdLastSet}, "mail": {sam + "@corp.example"},
		"givenName": {strings.ToUpper(sam[:1]) + sam[1:]}, "sn": {"Lee"}, "userPassword": {"pw-" + sam}, "memberOf": memberOf,
	})
	return dn
}

func adGroup(f *ldaptest.Fake, cn string, members ...string) string {
	dn := "CN=" + cn + ",OU=groups," + adBase
	f.AddEntry(dn, map[string][]string{"objectClass": {"top", "group"}, "cn": {cn}, "member": members})
	return dn
}

func adMappers(extra ...store.Component) []store.Component {
	return append([]store.Component{
		attrMapper("m1", "username", "sAMAccountName"),
		attrMapper("m2", "firstName", "givenName"),
		attrMapper("m3", "lastName", "sn"),
		attrMapper("m4", "email", "mail"),
		comp("m5", mapperMSADAccount),
	}, extra...)
}

func adProvider(t *testing.T, f *ldaptest.Fake, editMode string, mappers ...store.Component) *Provider {
	t.Helper()
	return openProvider(t, f.URL(), "OU=people,"+adBase, f.AdminDN, f.AdminPassword, map[string]string{
		"vendor": "ad", "usernameLDAPAttribute": "sAMAccountName", "rdnLDAPAttribute": "cn", "uuidLDAPAttribute": "objectGUID",
		"userObjectClasses": "person, organizationalPerson, user", "editMode": editMode, "searchScope": "2",
	}, mappers...)
}

func TestADUsers(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	annDN := adUser(f, 1, "ann", "512", "0")
	adUser(f, 2, "bob", "514", "133500000000000000")
	p := adProvider(t, f, "WRITABLE", adMappers()...)
	ctx := t.Context()

	ann, err := p.LookupUser(ctx, "ANN", false)
	if err != nil {
		t.Fatal(err)
	}
	if ann.ExternalID != "13121110-1514-1716-1819-1a1b1c1d1e1f" || ann.DN != annDN || ann.Username != "ann" || ann.Disabled ||
		!slices.Equal(ann.RequiredActions, []string{"UPDATE_PASSWORD"}) || ann.FirstName != "Ann" {
		t.Fatalf("ann %+v", ann)
	}
	loaded, err := p.LoadUser(ctx, ann.ExternalID)
	if err != nil || loaded.DN != annDN {
		t.Fatalf("load by objectGUID: %+v, %v", loaded, err)
	}
	if ok, err := p.CheckPassword(ctx, ann, "pw-ann"); !ok || err != nil {
		t.Errorf("password: %v, %v", ok, err)
	}
	bob, err := p.LookupUser(ctx, "bob", false)
	if err != nil || !bob.Disabled || len(bob.RequiredActions) != 0 {
		t.Errorf("bob %+v, %v", bob, err)
	}
	f.DeleteEntry(annDN)
	if _, err := p.LoadUser(ctx, ann.ExternalID); !errors.Is(err, federation.ErrNotFound) {
		t.Errorf("deleted: %v", err)
	}
	if _, err := p.LoadUser(ctx, "not-a-guid"); !errors.Is(err, federation.ErrUnavailable) || errors.Is(err, federation.ErrNotFound) {
		t.Errorf("an LDAP_ID that is no GUID: %v", err)
	}
}

// AD entries without a usable objectGUID are the directory answering
// garbage: the login is unavailable, not refused as a wrong password.
func TestADMalformedEntry(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	f.AddEntry("CN=odd,OU=people,"+adBase, map[string][]string{"objectClass": {"person", "organizationalPerson", "user"}, "sAMAccountName": {"odd"}, "objectGUID": {"short"}})
	p := adProvider(t, f, "READ_ONLY", adMappers()...)
	if _, err := p.LookupUser(t.Context(), "odd", false); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("lookup: %v", err)
	}
}

func TestADGroupStrategies(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	teamA := "CN=team-a,OU=groups," + adBase
	outside := "CN=admins,OU=elsewhere," + adBase
	ann := adUser(f, 1, "ann", "512", "1", teamA, outside)
	adUser(f, 2, "bob", "512", "1")
	adGroup(f, "team-a", ann)
	adGroup(f, "admins", teamA)
	f.AddEntry(outside, map[string][]string{"objectClass": {"group"}, "cn": {"admins"}, "member": {ann}})
	for strategy, want := range map[string][]string{
		"LOAD_ROLES_BY_MEMBER_ATTRIBUTE":             {"/team-a"},
		"GET_ROLES_FROM_USER_MEMBEROF_ATTRIBUTE":     {"/team-a"},
		"LOAD_ROLES_BY_MEMBER_ATTRIBUTE_RECURSIVELY": {"/admins", "/team-a"},
	} {
		p := adProvider(t, f, "READ_ONLY", adMappers(comp("r", mapperRole, "roles.dn", "OU=groups,"+adBase, "mode", "READ_ONLY",
			"user.roles.retrieve.strategy", strategy))...)
		id, err := p.LookupUser(t.Context(), "ann", false)
		if err != nil {
			t.Fatal(err)
		}
		roles, _, owned, _ := grantsOf(t, id)
		if !slices.Equal(roles, want) || !slices.Equal(owned, []string{"/admins", "/team-a"}) {
			t.Errorf("%s: roles %v, owned %v", strategy, roles, owned)
		}
		if strategy == "LOAD_ROLES_BY_MEMBER_ATTRIBUTE_RECURSIVELY" {
			var sent bool
			for _, s := range f.Searches() {
				sent = sent || strings.Contains(s.Filter, "(member:1.2.840.113556.1.4.1941:="+ann+")")
			}
			if !sent {
				t.Errorf("no in-chain search: %+v", f.Searches())
			}
		}
	}
}

// A page of users resolves the recursive strategy one user at a time on
// the directory, and the others from one load of the groups.
func TestADSyncRecursive(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	var members []string
	for i := range 30 {
		members = append(members, adUser(f, byte(i%8), fmt.Sprintf("u%02d", i), "512", "1"))
	}
	teamA := adGroup(f, "team-a", members[:15]...)
	adGroup(f, "admins", teamA)
	p := adProvider(t, f, "READ_ONLY", adMappers(comp("r", mapperRole, "roles.dn", "OU=groups,"+adBase, "mode", "READ_ONLY",
		"user.roles.retrieve.strategy", "LOAD_ROLES_BY_MEMBER_ATTRIBUTE_RECURSIVELY"))...)
	got := map[string][]string{}
	err := p.SyncUsers(t.Context(), time.Time{}, func(ids []federation.Identity) error {
		for _, id := range ids {
			roles, _, _, _ := grantsOf(t, id)
			got[id.Username] = roles
		}
		return nil
	})
	if err != nil || len(got) != 30 {
		t.Fatalf("sync: %v, %d users", err, len(got))
	}
	for i := range 30 {
		want := []string(nil)
		if i < 15 {
			want = []string{"/admins", "/team-a"}
		}
		if u := fmt.Sprintf("u%02d", i); !slices.Equal(got[u], want) {
			t.Errorf("%s: %v, want %v", u, got[u], want)
		}
	}
}

// Active Directory answers a group with many members in ranges
// (member;range=0-1, then what is asked for as member;range=2-*); the
// nesting of groups is read from every range.
func TestADRangeRetrieval(t *testing.T) {
	f := ldaptest.NewFake(t, ldaptest.FakeOptions{BaseDN: adBase})
	var people []string
	for i := range 5 {
		people = append(people, adUser(f, byte(i), fmt.Sprintf("p%d", i), "512", "1"))
	}
	sub := adGroup(f, "sub", people[4])
	bigMembers := append(slices.Clone(people[:4]), sub) // the subgroup only in the last range
	big := adGroup(f, "big", bigMembers...)
	groupsDN := "OU=groups," + adBase
	var ranged []string
	f.OnSearch(func(w *gldap.ResponseWriter, r *gldap.Request, m *gldap.SearchMessage) bool {
		done := func() { _ = w.Write(r.NewSearchDoneResponse(gldap.WithResponseCode(gldap.ResultSuccess))) }
		switch {
		case strings.EqualFold(m.BaseDN, groupsDN) && slices.Contains(m.Attributes, "member") && m.Filter == "(objectClass=group)":
			// Loading every group with its members.
			_ = w.Write(r.NewSearchResponseEntry(big, gldap.WithAttributes(map[string][]string{"cn": {"big"}, "member;range=0-1": bigMembers[:2]})))
			_ = w.Write(r.NewSearchResponseEntry(sub, gldap.WithAttributes(map[string][]string{"cn": {"sub"}, "member": {people[4]}})))
			done()
			return true
		case strings.EqualFold(m.BaseDN, big) && m.Scope == gldap.BaseObject && len(m.Attributes) == 1:
			ranged = append(ranged, m.Attributes[0])
			switch m.Attributes[0] {
			case "member;range=2-*":
				_ = w.Write(r.NewSearchResponseEntry(big, gldap.WithAttributes(map[string][]string{"member;range=2-3": bigMembers[2:4]})))
			case "member;range=4-*":
				_ = w.Write(r.NewSearchResponseEntry(big, gldap.WithAttributes(map[string][]string{"member;range=4-*": bigMembers[4:]})))
			}
			done()
			return true
		}
		return false
	})
	p := adProvider(t, f, "READ_ONLY", adMappers(comp("g", mapperGroup, "groups.dn", groupsDN, "mode", "READ_ONLY",
		"preserve.group.inheritance", "true"))...)
	id, err := p.LookupUser(t.Context(), "p4", false)
	if err != nil {
		t.Fatal(err)
	}
	_, groups, _, owned := grantsOf(t, id)
	if !slices.Equal(groups, []string{"/big/sub"}) || !slices.Equal(owned, []string{"/big", "/big/sub"}) {
		t.Errorf("groups %v, owned %v", groups, owned)
	}
	if !slices.Equal(ranged, []string{"member;range=2-*", "member;range=4-*"}) {
		t.Errorf("range requests %v", ranged)
	}

	// Members that come in ranges also resolve a page of users at once.
	m := p.mappers.grant[0].(*membershipMapper)
	m.refresh()
	u, err := m.universe(t.Context(), true)
	if err != nil {
		t.Fatal(err)
	}
	if g := u.byKey[dnKey(big)]; g == nil || len(g.members) != 5 {
		t.Fatalf("big has %v", g)
	}
}
