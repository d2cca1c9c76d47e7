package admin_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestRegistrationSyncsToDirectory: with a WRITABLE provider that syncs
// registrations, the browser's registration form creates the entry in
// slapd (with the password, no local credential), links the new user to
// it, and signs the user in; a name the directory has is refused in
// Keycloak's words; a directory that is down leaves no user.
func TestRegistrationSyncsToDirectory(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 2})
	e := newEnv(t)
	pid := writableRealm(e, s, map[string][]string{"syncRegistrations": {"true"}, "usePasswordModifyExtendedOp": {"true"}})
	const b = "/admin/realms/acme"
	e.must(204, "PUT", b, e.admin, map[string]any{"realm": "acme", "registrationAllowed": true, "sslRequired": "none"})
	e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app", "publicClient": true,
		"redirectUris": []string{"https://app.example.com/cb"}})

	register := func(username, email string) (int, string, string) {
		t.Helper()
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		get := func(u string) string {
			resp, err := c.Get(u)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return string(body)
		}
		q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
			"scope": {"openid"}, "state": {"st-1"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
			"code_challenge_method": {"S256"}}
		login := get(e.url + "/realms/acme/protocol/openid-connect/auth?" + q.Encode())
		m := regexp.MustCompile(`href="([^"]*login-actions/registration[^"]*)"`).FindStringSubmatch(login)
		if m == nil {
			t.Fatalf("no Register link:\n%s", login)
		}
		page := get(e.url + strings.ReplaceAll(m[1], "&amp;", "&"))
		action := regexp.MustCompile(`id="kc-register-form"[^>]*action="([^"]*)"`).FindStringSubmatch(page)
		csrf := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(page)
		if action == nil || csrf == nil {
			t.Fatalf("register page:\n%s", page)
		}
		resp, err := c.PostForm(e.url+strings.ReplaceAll(action[1], "&amp;", "&"), url.Values{"csrf_token": {csrf[1]},
			"firstName": {"New"}, "lastName": {"Bie"}, "email": {email}, "username": {username},
			"password": {"Newbie-pw1"}, "password-confirm": {"Newbie-pw1"}})
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, resp.Header.Get("Location"), string(body)
	}

	status, loc, body := register("newbie", "newbie@example.org")
	if status != http.StatusSeeOther && status != http.StatusFound || !strings.HasPrefix(loc, "https://app.example.com/cb?") {
		t.Fatalf("registration: %d %s\n%s", status, loc, body)
	}
	dn := "uid=newbie," + s.PeopleDN
	entry := dirEntry(t, s, dn)
	if entry == nil || entry.GetAttributeValue("mail") != "newbie@example.org" || entry.GetAttributeValue("sn") != "Bie" {
		t.Fatalf("directory entry: %v", entry)
	}
	rep := e.userRep(b + "/users/" + e.userID("acme", "newbie"))
	if rep["federationLink"] != pid {
		t.Errorf("not linked to the provider: %v", rep)
	}
	var creds []map[string]any
	e.must(200, "GET", b+"/users/"+e.userID("acme", "newbie")+"/credentials", e.admin, nil).json(t, &creds)
	if len(creds) != 0 {
		t.Errorf("a local credential for a directory user: %v", creds)
	}
	if st := e.grantStatus("acme", "newbie", "Newbie-pw1"); st != 200 {
		t.Errorf("password grant with the registered password: %d", st)
	}

	// The directory has user1 (never imported here).
	if status, _, body := register("user1", "u1@example.org"); status != 200 || !strings.Contains(body, "Username already exists.") {
		t.Errorf("a name the directory has: %d\n%s", status, body)
	}

	s.Stop(t)
	if status, _, body := register("downie", "downie@example.org"); status != http.StatusServiceUnavailable || !strings.Contains(body, "not reachable") {
		t.Errorf("directory down: %d\n%s", status, body)
	}
	var users []map[string]any
	e.must(200, "GET", b+"/users?username=downie&exact=true", e.admin, nil).json(t, &users)
	if len(users) != 0 {
		t.Errorf("a user created while the directory was down: %v", users)
	}
}
