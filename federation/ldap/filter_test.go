package ldap

import (
	"testing"
	"time"

	goldap "github.com/go-ldap/ldap/v3"
)

func testConfig(t *testing.T, extra map[string]string) Config {
	t.Helper()
	raw := map[string][]string{
		"connectionUrl": {"ldap://127.0.0.1:1"}, "usersDn": {"ou=people,dc=example,dc=org"},
		"editMode": {"READ_ONLY"}, "bindDn": {"cn=admin,dc=example,dc=org"},
	}
	for k, v := range extra {
		raw[k] = []string{v}
	}
	cfg, err := ParseConfig(raw)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// Usernames are people's input: every filter metacharacter is escaped,
// so none of them can widen or break the user query.
func TestUserFilterEscapesValues(t *testing.T) {
	cfg := testConfig(t, map[string]string{"customUserSearchFilter": "(!(employeeType=disabled))"})
	for _, tc := range []struct{ name, want string }{
		{"jdoe", `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=jdoe)(!(employeeType=disabled)))`},
		{"*", `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=\2a)(!(employeeType=disabled)))`},
		{"a*)(uid=*", `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=a\2a\29\28uid=\2a)(!(employeeType=disabled)))`},
		{`x\`, `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=x\5c)(!(employeeType=disabled)))`},
		{"nul\x00byte", `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=nul\00byte)(!(employeeType=disabled)))`},
		{"*)(|(objectClass=*", `(&(objectClass=inetOrgPerson)(objectClass=organizationalPerson)(uid=\2a\29\28|\28objectClass=\2a)(!(employeeType=disabled)))`},
	} {
		got := userFilter(&cfg, eq(cfg.UsernameAttribute, tc.name))
		if got != tc.want {
			t.Errorf("%q:\n got %s\nwant %s", tc.name, got, tc.want)
		}
		if _, err := goldap.CompileFilter(got); err != nil {
			t.Errorf("%q: %s does not compile: %v", tc.name, got, err)
		}
	}
}

func TestUserFilterWithoutCustomFilterAndCustomClasses(t *testing.T) {
	cfg := testConfig(t, map[string]string{"userObjectClasses": "person, user", "vendor": "ad", "customUserSearchFilter": "(memberOf=cn=x,dc=y)"})
	got := userFilter(&cfg, eq(cfg.UsernameAttribute, "Ann"))
	want := `(&(objectClass=person)(objectClass=user)(cn=Ann)(memberOf=cn=x,dc=y))`
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestSubstringKeepsOnlyStarsAsWildcards(t *testing.T) {
	for in, want := range map[string]string{
		"jo*":     `(uid=jo*)`,
		"*":       `(uid=*)`,
		"**":      `(uid=*)`,
		"a**b*":   `(uid=a*b*)`,
		"*do(e)*": `(uid=*do\28e\29*)`,
		`x\y*`:    `(uid=x\5cy*)`,
		"exact":   `(uid=exact)`,
	} {
		got := substring("uid", in)
		if got != want {
			t.Errorf("%q: got %s, want %s", in, got, want)
		}
		if _, err := goldap.CompileFilter(got); err != nil {
			t.Errorf("%q: %s does not compile: %v", in, got, err)
		}
	}
}

func TestAndOrDropEmptyParts(t *testing.T) {
	if got := and("", "(a=1)", ""); got != "(a=1)" {
		t.Errorf("and of one: %s", got)
	}
	if got := or("(a=1)", "(b=2)"); got != "(|(a=1)(b=2))" {
		t.Errorf("or: %s", got)
	}
	if got := and(); got != "" {
		t.Errorf("and of nothing: %q", got)
	}
}

func TestChangedSince(t *testing.T) {
	got := changedSince(time.Date(2025, 3, 1, 12, 0, 5, 0, time.FixedZone("CET", 3600)))
	want := "(|(createTimestamp>=20250301110005.0Z)(modifyTimestamp>=20250301110005.0Z))"
	if got != want {
		t.Fatalf("got %s, want %s", got, want)
	}
}

func TestCheckAttrRefusesFilterSyntax(t *testing.T) {
	for _, ok := range []string{"uid", "sAMAccountName", "userCertificate;binary", "1.2.840.113556.1.4.221", "x-custom-1"} {
		if err := checkAttr("k", ok); err != nil {
			t.Errorf("%q refused: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "uid)(objectClass=*", "a b", "uid=", "*", "1.", "-x"} {
		if err := checkAttr("k", bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCustomFilterWrapsBareFilters(t *testing.T) {
	if got := customFilter(" employeeType=staff "); got != "(employeeType=staff)" {
		t.Errorf("got %s", got)
	}
	if got := customFilter("(a=1)"); got != "(a=1)" {
		t.Errorf("got %s", got)
	}
	if err := validFilter(customFilter("(a=1")); err == nil {
		t.Error("an unbalanced filter is accepted")
	}
}
