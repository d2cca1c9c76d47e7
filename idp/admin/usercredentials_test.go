package admin_test

import (
	"slices"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// TestMoveCredentialAfter: POST .../credentials/{id}/moveAfter/{previous}
// puts the credential right after previous and renumbers the user's
// credentials, as Keycloak's moveStoredCredentialTo; a previous that is
// not another credential of the user moves nothing (204, as Keycloak).
// manage-users, not over a user who outranks the caller; an unknown user
// or credential is 404.
func TestMoveCredentialAfter(t *testing.T) {
	e := newEnv(t)
	helpdesk := e.realmWithUser("mv", "helpdesk", "manage-users")
	viewer := e.userWithRoles("mv", "viewer", "view-users")
	e.userWithRoles("mv", "boss", "realm-admin")
	e.userWithRoles("mv", "multi")
	e.userWithRoles("mv", "plain")
	b := "/admin/realms/mv/users/"
	multi, plain, boss := e.userID("mv", "multi"), e.userID("mv", "plain"), e.userID("mv", "boss")

	order := func(user string) []string {
		t.Helper()
		var creds []map[string]any
		e.must(200, "GET", b+user+"/credentials", e.admin, nil).json(t, &creds)
		var ids []string
		for _, c := range creds {
			ids = append(ids, c["id"].(string))
		}
		return ids
	}
	pw := order(multi)[0]
	otp := make([]string, 3)
	for i := range otp {
		otp[i] = uuid.NewString()
		if err := e.st.CreateCredential(t.Context(), store.Credential{ID: otp[i], UserID: multi, Type: "otp",
			UserLabel: "device", Created: time.Now().UTC(), SecretData: `{"value":"x"}`, Priority: 20 + 10*i,
			CredentialData: `{"subType":"totp","digits":6,"counter":0,"period":30,"algorithm":"HmacSHA1"}`}); err != nil {
			t.Fatal(err)
		}
	}
	if got := order(multi); !slices.Equal(got, []string{pw, otp[0], otp[1], otp[2]}) {
		t.Fatalf("initial order %v", got)
	}
	move := func(want int, token, user, cred, prev string) {
		t.Helper()
		e.must(want, "POST", b+user+"/credentials/"+cred+"/moveAfter/"+prev, token, nil)
	}
	move(204, helpdesk, multi, otp[2], pw)
	if got := order(multi); !slices.Equal(got, []string{pw, otp[2], otp[0], otp[1]}) {
		t.Fatalf("after moving otp2 after the password: %v", got)
	}
	move(204, helpdesk, multi, pw, otp[1])
	want := []string{otp[2], otp[0], otp[1], pw}
	if got := order(multi); !slices.Equal(got, want) {
		t.Fatalf("after moving the password last: %v", got)
	}
	// A previous that is not another credential of this user: nothing moves.
	plainCred := order(plain)[0]
	move(204, helpdesk, multi, otp[0], uuid.NewString())
	move(204, helpdesk, multi, otp[0], otp[0])
	move(204, helpdesk, multi, otp[0], plainCred)
	if got := order(multi); !slices.Equal(got, want) {
		t.Fatalf("order moved: %v", got)
	}

	move(403, viewer, multi, otp[0], pw)
	move(403, helpdesk, boss, order(boss)[0], uuid.NewString()) // boss outranks manage-users
	move(404, helpdesk, multi, uuid.NewString(), pw)
	move(404, helpdesk, multi, plainCred, pw) // another user's credential
	move(404, helpdesk, uuid.NewString(), otp[0], pw)
	if got := order(multi); !slices.Equal(got, want) {
		t.Fatalf("order moved: %v", got)
	}
}

// TestConfiguredUserStorageCredentialTypes: GET .../configured-user-
// storage-credential-types lists what the user's storage provider checks:
// "password" for a user linked to an enabled LDAP provider, nothing for a
// local user or one whose provider is disabled. view-users; an unknown
// user is 404.
func TestConfiguredUserStorageCredentialTypes(t *testing.T) {
	e := newEnv(t)
	viewer := e.realmWithUser("cs", "viewer", "view-users")
	clientsOnly := e.userWithRoles("cs", "clientsonly", "view-clients")
	e.userWithRoles("cs", "local")
	b := "/admin/realms/cs"
	corp := e.must(201, "POST", b+"/components", e.admin, ldapProvider("corp", ldapConfig(nil))).id()
	off := e.must(201, "POST", b+"/components", e.admin, ldapProvider("off", ldapConfig(map[string][]string{"enabled": {"false"}}))).id()
	r, err := e.st.GetRealmByName(t.Context(), "cs")
	if err != nil {
		t.Fatal(err)
	}
	linked := func(provider, username string) string {
		t.Helper()
		id := uuid.NewString()
		if err := e.st.CreateUser(t.Context(), store.User{ID: id, RealmID: r.ID, Username: username, Enabled: true,
			Created: time.Now().UTC(), FederationLink: provider, FederationID: id,
			Attributes: map[string][]string{"LDAP_ID": {id}}}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	types := func(user string) []string {
		t.Helper()
		var out []string
		e.must(200, "GET", b+"/users/"+user+"/configured-user-storage-credential-types", viewer, nil).json(t, &out)
		return out
	}
	if got := types(e.userID("cs", "local")); got == nil || len(got) != 0 {
		t.Fatalf("local user: %v", got) // [] rather than null
	}
	ldapUser := linked(corp, "ldapuser")
	if got := types(ldapUser); !slices.Equal(got, []string{"password"}) {
		t.Fatalf("LDAP user: %v", got)
	}
	if got := types(linked(off, "offuser")); len(got) != 0 {
		t.Fatalf("user of a disabled provider: %v", got)
	}
	e.must(403, "GET", b+"/users/"+ldapUser+"/configured-user-storage-credential-types", clientsOnly, nil)
	e.must(404, "GET", b+"/users/"+uuid.NewString()+"/configured-user-storage-credential-types", viewer, nil)

	// Keycloak 26 has no remove-totp (disable-credential-types ["otp"]
	// replaced it): 404 there, and here.
	e.must(404, "PUT", b+"/users/"+ldapUser+"/remove-totp", e.admin, nil)
}
