package admin_test

import (
	"strings"
	"testing"
)

// TestCredentialEndpointsHostile: the credential endpoints (userLabel,
// moveToFirst, disable-credential-types) need manage-users, and a
// manage-users caller may not touch the credentials of a user who
// outranks it (guardTarget), nor a user of another realm.
func TestCredentialEndpointsHostile(t *testing.T) {
	e := newEnv(t)
	helpdesk := e.realmWithUser("cr", "helpdesk", "manage-users")
	viewer := e.userWithRoles("cr", "viewer", "view-users")
	e.userWithRoles("cr", "boss", "realm-admin")
	e.userWithRoles("cr", "plain")
	e.realmWithUser("cr2", "stranger")
	base := "/admin/realms/cr/users/"
	boss, plain, stranger := e.userID("cr", "boss"), e.userID("cr", "plain"), e.userID("cr2", "stranger")

	credOf := func(realm, user string) (id, label string) {
		var creds []map[string]any
		e.must(200, "GET", "/admin/realms/"+realm+"/users/"+user+"/credentials", e.admin, nil).json(t, &creds)
		if len(creds) == 0 {
			t.Fatalf("%s has no credentials", user)
		}
		l, _ := creds[0]["userLabel"].(string)
		return creds[0]["id"].(string), l
	}
	bossCred, _ := credOf("cr", boss)
	plainCred, _ := credOf("cr", plain)
	strangerCred, _ := credOf("cr2", stranger)

	// A lesser role may not write at all.
	e.must(403, "PUT", base+plain+"/credentials/"+plainCred+"/userLabel", viewer, "x")
	e.must(403, "POST", base+plain+"/credentials/"+plainCred+"/moveToFirst", viewer, nil)
	e.must(403, "PUT", base+plain+"/disable-credential-types", viewer, []string{"otp"})

	// manage-users may not change the credentials of a realm-admin.
	e.must(403, "PUT", base+boss+"/credentials/"+bossCred+"/userLabel", helpdesk, "pwned")
	e.must(403, "POST", base+boss+"/credentials/"+bossCred+"/moveToFirst", helpdesk, nil)
	e.must(403, "PUT", base+boss+"/disable-credential-types", helpdesk, []string{"otp"})
	if _, l := credOf("cr", boss); l == "pwned" {
		t.Fatal("the realm-admin's credential label changed")
	}

	// Another realm's user, or its credential under a user of this realm.
	e.must(404, "PUT", base+stranger+"/credentials/"+strangerCred+"/userLabel", helpdesk, "x")
	e.must(404, "PUT", base+plain+"/credentials/"+strangerCred+"/userLabel", helpdesk, "x")
	e.must(404, "POST", base+plain+"/credentials/"+strangerCred+"/moveToFirst", helpdesk, nil)
	if _, l := credOf("cr2", stranger); l == "x" {
		t.Fatal("another realm's credential label changed")
	}

	// Within its rights: a label (too long is 400), and only otp can be
	// disabled (a password is not).
	e.must(400, "PUT", base+plain+"/credentials/"+plainCred+"/userLabel", helpdesk, strings.Repeat("a", 256))
	e.must(204, "PUT", base+plain+"/credentials/"+plainCred+"/userLabel", helpdesk, "laptop")
	if _, l := credOf("cr", plain); l != "laptop" {
		t.Fatalf("label = %q, want laptop", l)
	}
	e.must(400, "PUT", base+plain+"/disable-credential-types", helpdesk, []string{"password"})
	credOf("cr", plain) // the password is still there
}
