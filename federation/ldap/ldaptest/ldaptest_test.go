package ldaptest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

func TestParseLDIF(t *testing.T) {
	recs, err := ParseLDIF(`# a comment
dn: uid=a,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
cn: A
 nna
description:: aMOpbGxv
objectClass: top

dn: uid=b,ou=people,dc=example,dc=org
changetype: modify
replace: mail
mail: b@example.org
mail: b2@example.org
-
delete: description
-

dn: uid=c,ou=people,dc=example,dc=org
changetype: delete
`, "add")
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 {
		t.Fatalf("%d records", len(recs))
	}
	a := recs[0]
	if a.ChangeType != "add" || fmt.Sprint(a.Attrs) != "[{objectClass [inetOrgPerson top]} {cn [Anna]} {description [héllo]}]" {
		t.Errorf("add record: %+v", a)
	}
	b := recs[1]
	if b.ChangeType != "modify" || len(b.Mods) != 2 || b.Mods[0].Operation != goldap.ReplaceAttribute ||
		fmt.Sprint(b.Mods[0].Modification.Vals) != "[b@example.org b2@example.org]" || b.Mods[1].Operation != goldap.DeleteAttribute {
		t.Errorf("modify record: %+v", b)
	}
	if recs[2].ChangeType != "delete" {
		t.Errorf("delete record: %+v", recs[2])
	}
	for _, bad := range []string{"cn: no dn first\n", "dn: x\nnocolon\n", "dn: x\nchangetype: modify\nfoo: bar\n", "dn: x\ndescription:: !!!\n"} {
		if _, err := ParseLDIF(bad, "add"); err == nil {
			t.Errorf("ParseLDIF(%q) accepted", bad)
		}
	}
}

func TestSSHA(t *testing.T) {
	h := SSHA("s3cret")
	if !strings.HasPrefix(h, "{SSHA}") || h == SSHA("s3cret") {
		t.Fatalf("SSHA = %q (salted hashes must differ)", h)
	}
	if !passwordMatches(h, "s3cret") || passwordMatches(h, "s3cre") || passwordMatches("{SSHA}AAAA", "x") {
		t.Fatal("passwordMatches")
	}
}

func TestSlapdHarness(t *testing.T) {
	var pid int
	var dir string
	t.Run("run", func(t *testing.T) {
		s := Start(t, Options{Users: 10, Groups: 3})
		pid, dir = s.cmd.Process.Pid, s.dir
		l := s.Conn(t)
		get := func(dn string, attrs ...string) *goldap.Entry {
			t.Helper()
			res, err := l.Search(goldap.NewSearchRequest(dn, goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", attrs, nil))
			if err != nil {
				t.Fatalf("%s: %v", dn, err)
			}
			return res.Entries[0]
		}
		// Groups added online: memberOf is maintained.
		if got := get(s.UserDN(4), "memberOf").GetAttributeValues("memberOf"); len(got) != 1 || !strings.EqualFold(got[0], s.GroupDN(1)) {
			t.Errorf("memberOf of user4 = %v, want %s", got, s.GroupDN(1))
		}
		s.Add(t, "dn: cn=stackstate-admin,"+s.GroupsDN+"\nobjectClass: groupOfNames\ncn: stackstate-admin\nmember: "+s.UserDN(4)+"\nmember: "+s.UserDN(5)+"\n")
		if got := get(s.UserDN(4), "memberOf").GetAttributeValues("memberOf"); len(got) != 2 {
			t.Errorf("memberOf after Add = %v", got)
		}
		s.Modify(t, "dn: "+s.UserDN(4)+"\nreplace: mail\nmail: four@example.org\n")
		if got := get(s.UserDN(4), "mail").GetAttributeValue("mail"); got != "four@example.org" {
			t.Errorf("mail after Modify = %q", got)
		}
		// Users bind with the generated password, then a new one.
		u, err := goldap.DialURL(s.URL())
		if err != nil {
			t.Fatal(err)
		}
		defer u.Close()
		if err := u.Bind(s.UserDN(2), DefaultUserPassword); err != nil {
			t.Fatal(err)
		}
		s.SetPassword(t, s.UserDN(2), "changed")
		if err := u.Bind(s.UserDN(2), DefaultUserPassword); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
			t.Errorf("old password: %v", err)
		}
		if err := u.Bind(s.UserDN(2), "changed"); err != nil {
			t.Errorf("new password: %v", err)
		}
		// The service account reads entries but not passwords.
		if err := u.Bind(s.ServiceDN, s.ServicePassword); err != nil {
			t.Fatal(err)
		}
		res, err := u.Search(goldap.NewSearchRequest(s.UserDN(3), goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"uid", "userPassword"}, nil))
		if err != nil || res.Entries[0].GetAttributeValue("uid") != Username(3) || res.Entries[0].GetAttributeValue("userPassword") != "" {
			t.Errorf("service account read: %v, %v", res, err)
		}
		// Delete (refint drops the membership, in the background).
		s.Delete(t, s.UserDN(4))
		var members []string
		for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if members = get("cn=stackstate-admin,"+s.GroupsDN, "member").GetAttributeValues("member"); len(members) == 1 {
				break
			}
		}
		if len(members) != 1 || !strings.EqualFold(members[0], s.UserDN(5)) {
			t.Errorf("member after delete = %v", members)
		}
		// LDAPS with the CA, and a failure with another.
		tl, err := goldap.DialURL(s.LDAPSURL(), goldap.DialWithTLSConfig(&tls.Config{RootCAs: s.CA.Pool, ServerName: "127.0.0.1"}))
		if err != nil {
			t.Fatalf("ldaps: %v", err)
		}
		tl.Close()
		if _, err := goldap.DialURL(s.LDAPSURL(), goldap.DialWithTLSConfig(&tls.Config{RootCAs: NewCA(t).Pool})); err == nil {
			t.Error("ldaps with another CA connected")
		}
		// Stop is an outage; Restart brings the same data back.
		s.Stop(t)
		if c, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "ldap://"), time.Second); err == nil {
			c.Close()
			t.Fatal("slapd still listens after Stop")
		}
		s.Restart(t)
		res, err = s.Conn(t).Search(goldap.NewSearchRequest(s.UserDN(3), goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"uid"}, nil))
		if err != nil || res.Entries[0].GetAttributeValue("uid") != Username(3) {
			t.Fatalf("after restart: %v, %v", res, err)
		}
	})
	if pid == 0 {
		t.Fatal("slapd did not start")
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("slapd %d still runs after the test: %v", pid, err)
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("%s left behind", dir)
	}
}

func TestSlapdLargeDirectory(t *testing.T) {
	if testing.Short() {
		t.Skip("100,000 users: -short")
	}
	start := time.Now()
	s := Start(t, Options{Users: 100_000, Groups: 10, GroupsOffline: true})
	took := time.Since(start)
	t.Logf("100,000 users loaded and slapd started in %v", took)
	if took > time.Minute {
		t.Errorf("took %v", took)
	}
	res, err := s.Conn(t).Search(goldap.NewSearchRequest(s.UserDN(99_999), goldap.ScopeBaseObject, 0, 0, 0, false, "(objectClass=*)", []string{"uid"}, nil))
	if err != nil || res.Entries[0].GetAttributeValue("uid") != Username(99_999) {
		t.Fatalf("last user: %v, %v", res, err)
	}
}

func TestFake(t *testing.T) {
	f := NewFake(t, FakeOptions{LDIF: `dn: uid=ann,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: ann
cn: Ann Smith
mail: ann@example.org
modifyTimestamp: 20250301120000Z
userPassword: ` + SSHA("pw-ann") + `

dn: uid=bo,ou=people,dc=example,dc=org
objectClass: inetOrgPerson
uid: bo
cn: Bo
modifyTimestamp: 20240101000000Z
userPassword: pw-bo

dn: cn=devs,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: devs
member: uid=ann,ou=people,dc=example,dc=org

dn: cn=all,ou=groups,dc=example,dc=org
objectClass: groupOfNames
cn: all
member: cn=devs,ou=groups,dc=example,dc=org
member: uid=bo,ou=people,dc=example,dc=org
`})
	l, err := goldap.DialURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := l.Bind("uid=ann,ou=people,dc=example,dc=org", "pw-ann"); err != nil {
		t.Fatalf("SSHA bind: %v", err)
	}
	if err := l.Bind("uid=bo,ou=people,dc=example,dc=org", "pw-bo"); err != nil {
		t.Fatalf("plain bind: %v", err)
	}
	if err := l.Bind("uid=bo,ou=people,dc=example,dc=org", "nope"); !goldap.IsErrorWithCode(err, goldap.LDAPResultInvalidCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if err := l.Bind(f.AdminDN, f.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if f.Binds("uid=bo,ou=people,dc=example,dc=org") != 2 {
		t.Errorf("binds of bo = %d", f.Binds("uid=bo,ou=people,dc=example,dc=org"))
	}
	find := func(base string, scope int, filter string) string {
		t.Helper()
		res, err := l.Search(goldap.NewSearchRequest(base, scope, 0, 0, 0, false, filter, []string{"cn"}, nil))
		if err != nil {
			t.Fatalf("%s: %v", filter, err)
		}
		var cns []string
		for _, e := range res.Entries {
			cns = append(cns, e.GetAttributeValue("cn"))
		}
		return strings.Join(cns, ",")
	}
	for _, tc := range []struct {
		base   string
		scope  int
		filter string
		want   string
	}{
		{"dc=example,dc=org", 2, "(uid=ann)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(UID=ANN)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(&(objectClass=inetOrgPerson)(|(uid=ann)(uid=bo)))", "Ann Smith,Bo"},
		{"dc=example,dc=org", 2, "(&(objectClass=inetOrgPerson)(!(uid=ann)))", "Bo"},
		{"dc=example,dc=org", 2, "(cn=*smi*)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(cn=A*h)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(mail=*)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(modifyTimestamp>=20250101000000Z)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(uid=" + goldap.EscapeFilter("*") + ")", ""},
		{"dc=example,dc=org", 1, "(uid=ann)", ""},
		{"ou=people,dc=example,dc=org", 1, "(uid=ann)", "Ann Smith"},
		{"uid=ann,ou=people,dc=example,dc=org", 0, "(objectClass=*)", "Ann Smith"},
		{"dc=example,dc=org", 2, "(member=uid=ann,ou=people,dc=example,dc=org)", "devs"},
		{"dc=example,dc=org", 2, "(member:1.2.840.113556.1.4.1941:=uid=ann,ou=people,dc=example,dc=org)", "devs,all"},
	} {
		if got := find(tc.base, tc.scope, tc.filter); got != tc.want {
			t.Errorf("%s %d %s = %q, want %q", tc.base, tc.scope, tc.filter, got, tc.want)
		}
	}
	if _, err := l.Search(goldap.NewSearchRequest("ou=none,dc=example,dc=org", 2, 0, 0, 0, false, "(uid=ann)", nil, nil)); !goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject) {
		t.Errorf("missing base: %v", err)
	}
	// Paging and size limits.
	for i := range 23 {
		f.AddEntry(fmt.Sprintf("uid=p%d,ou=people,dc=example,dc=org", i), map[string][]string{"objectClass": {"person"}, "uid": {fmt.Sprint(i)}})
	}
	res, err := l.SearchWithPaging(goldap.NewSearchRequest("dc=example,dc=org", 2, 0, 0, 0, false, "(objectClass=person)", nil, nil), 10)
	if err != nil || len(res.Entries) != 23 {
		t.Fatalf("paged: %d entries, %v", len(res.Entries), err)
	}
	res, err = l.Search(goldap.NewSearchRequest("dc=example,dc=org", 2, 0, 5, 0, false, "(objectClass=person)", nil, nil))
	if !goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) || len(res.Entries) != 5 {
		t.Fatalf("size limit: %d entries, %v", len(res.Entries), err)
	}
	// Writes.
	if err := l.Modify(&goldap.ModifyRequest{DN: "uid=bo,ou=people,dc=example,dc=org", Changes: []goldap.Change{
		{Operation: goldap.ReplaceAttribute, Modification: goldap.PartialAttribute{Type: "cn", Vals: []string{"Bob"}}}}}); err != nil {
		t.Fatal(err)
	}
	if got := find("dc=example,dc=org", 2, "(uid=bo)"); got != "Bob" {
		t.Errorf("after modify: %q", got)
	}
	if err := l.Del(goldap.NewDelRequest("uid=bo,ou=people,dc=example,dc=org", nil)); err != nil {
		t.Fatal(err)
	}
	if got := find("dc=example,dc=org", 2, "(uid=bo)"); got != "" {
		t.Errorf("after delete: %q", got)
	}
	// StartTLS.
	tl, err := goldap.DialURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer tl.Close()
	if err := tl.StartTLS(&tls.Config{RootCAs: f.CA.Pool, ServerName: "127.0.0.1"}); err != nil {
		t.Fatal(err)
	}
	if err := tl.Bind("uid=ann,ou=people,dc=example,dc=org", "pw-ann"); err != nil {
		t.Fatalf("bind over StartTLS: %v", err)
	}
	// Down refuses and drops; Up serves again.
	if open, _, _ := f.Conns(); open != 2 {
		t.Errorf("open connections = %d, want 2", open)
	}
	f.Down()
	if _, err := goldap.DialURL(f.URL()); err == nil {
		t.Fatal("connected while down")
	}
	if err := l.Bind(f.AdminDN, f.AdminPassword); err == nil {
		t.Fatal("an old connection survived Down")
	}
	f.Up()
	l2, err := goldap.DialURL(f.URL())
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Close()
	if err := l2.Bind(f.AdminDN, f.AdminPassword); err != nil {
		t.Fatal(err)
	}
	// Stall: no answer until released.
	f.Stall(true)
	l2.SetTimeout(200 * time.Millisecond)
	if err := l2.Bind(f.AdminDN, f.AdminPassword); err == nil || !strings.Contains(err.Error(), "timed out") {
		t.Fatalf("stalled bind: %v", err)
	}
	f.Stall(false)
}
