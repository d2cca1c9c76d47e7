package test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestProfileChangeCannotTakeDirectoryNames: a local user's profile
// change (Account REST API, as the console's form and UPDATE_PROFILE do)
// cannot take the username or the email of a directory user who has not
// signed in yet. Found by renaming a local account to an LDAP uid (with
// editUsernameAllowed) and by moving its email to an LDAP user's address:
// the rename made the squatter that user in every token and the real
// user's login checked the squatter's local password; the email made the
// real user's first login fail (email taken). Keycloak's uniqueness
// checks ask the user storage providers too.
func TestProfileChangeCannotTakeDirectoryNames(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{Users: 3})
	realm := map[string]any{"realm": "corp3", "enabled": true, "editUsernameAllowed": true,
		"clients": []map[string]any{{"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
			"redirectUris": []string{"http://127.0.0.1:9999/*"}}},
		"users": []map[string]any{{"username": "mal", "enabled": true, "email": "mal@example.com", "firstName": "Mal", "lastName": "Lory",
			"credentials": []map[string]any{{"type": "password", "value": "mal-pass-1"}},
			"clientRoles": map[string][]string{"account": {"manage-account", "view-profile"}}}},
		"components": map[string]any{
			"org.keycloak.storage.UserStorageProvider": []any{map[string]any{"name": "corp-ldap", "providerId": "ldap",
				"config": map[string][]string{"connectionUrl": {dir.URL()}, "bindDn": {dir.AdminDN}, "bindCredential": {dir.AdminPassword},
					"usersDn": {dir.PeopleDN}, "editMode": {"READ_ONLY"}, "usernameLDAPAttribute": {"uid"}, "rdnLDAPAttribute": {"uid"},
					"uuidLDAPAttribute": {"entryUUID"}, "userObjectClasses": {"inetOrgPerson"}},
				"subComponents": map[string]any{"org.keycloak.storage.ldap.mappers.LDAPStorageMapper": []any{
					map[string]any{"name": "username", "providerId": "user-attribute-ldap-mapper",
						"config": map[string][]string{"ldap.attribute": {"uid"}, "user.model.attribute": {"username"}}},
					map[string]any{"name": "email", "providerId": "user-attribute-ldap-mapper",
						"config": map[string][]string{"ldap.attribute": {"mail"}, "user.model.attribute": {"email"}}},
				}}}}}}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "corp3.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	grant := func(user, pw string) (int, map[string]any) {
		return postForm(t, s.oc("corp3")+"/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw},
			"scope": {"openid"}}, "app", "app-secret")
	}
	code, tok := grant("mal", "mal-pass-1")
	if code != 200 {
		t.Fatalf("mal's token: %d %v", code, tok)
	}
	at, _ := tok["access_token"].(string)
	var retryAfter string // of the last update
	update := func(body map[string]string) (int, string) {
		b, _ := json.Marshal(body)
		req, _ := http.NewRequest(http.MethodPost, s.URL+"/realms/corp3/account", strings.NewReader(string(b)))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct {
			ErrorMessage string `json:"errorMessage"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&out)
		retryAfter = resp.Header.Get("Retry-After")
		return resp.StatusCode, out.ErrorMessage
	}
	profile := func(username, email string) map[string]string {
		return map[string]string{"username": username, "email": email, "firstName": "Mal", "lastName": "Lory"}
	}
	if st, msg := update(profile(ldaptest.Username(1), "mal@example.com")); st != http.StatusBadRequest || msg != "usernameExistsMessage" {
		t.Errorf("rename to the directory's %s: %d %q, want 400 usernameExistsMessage", ldaptest.Username(1), st, msg)
	}
	if st, msg := update(profile("mal", ldaptest.Username(2)+"@example.org")); st != http.StatusBadRequest || msg != "emailExistsMessage" {
		t.Errorf("email of the directory's %s: %d %q, want 400 emailExistsMessage", ldaptest.Username(2), st, msg)
	}
	if st, msg := update(profile("mal2", "mal2@example.com")); st != http.StatusNoContent {
		t.Errorf("free name and email: %d %q", st, msg)
	}
	// The directory's users sign in as themselves.
	for _, i := range []int{1, 2} {
		if code, body := grant(ldaptest.Username(i), ldaptest.DefaultUserPassword); code != 200 {
			t.Errorf("%s's login: %d %v", ldaptest.Username(i), code, body)
		}
	}
	// A directory that cannot answer whether it has the name is a 503
	// with Retry-After, neither "taken" nor a change let through.
	dir.Stop(t)
	if st, msg := update(profile("mal3", "mal2@example.com")); st != http.StatusServiceUnavailable || retryAfter == "" {
		t.Errorf("rename with the directory down: %d %q, Retry-After %q; want 503 with Retry-After", st, msg, retryAfter)
	}
	if code, _ := grant("mal3", "mal-pass-1"); code == 200 {
		t.Errorf("the rename went through while the directory was down")
	}
}
