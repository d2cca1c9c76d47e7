package test

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// accountRealm is a realm for the account console's tests: ann may manage
// her account, vera only view it, nora has no account roles; one OIDC
// identity provider to link.
func accountRealm(t *testing.T) *server {
	t.Helper()
	user := func(name string, roles ...string) map[string]any {
		u := map[string]any{"username": name, "enabled": true, "email": name + "@example.com", "firstName": strings.ToUpper(name[:1]) + name[1:],
			"lastName": "Tester", "credentials": []map[string]any{{"type": "password", "value": name + "-pass-1"}}}
		if len(roles) > 0 {
			u["clientRoles"] = map[string][]string{"account": roles}
		}
		return u
	}
	realm := map[string]any{
		"realm": "acct", "enabled": true, "displayName": "Acme Account",
		"clients": []map[string]any{{"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
			"redirectUris": []string{"http://127.0.0.1:9999/*"}, "webOrigins": []string{"http://127.0.0.1:9999"}}},
		"users": []map[string]any{user("ann", "manage-account", "view-profile"), user("vera", "view-profile"), user("nora"),
			user("otto", "manage-account", "view-profile"), user("dora", "manage-account", "view-profile", "delete-account")},
		"identityProviders": []map[string]any{{"alias": "upstream", "displayName": "Upstream SSO", "providerId": "oidc", "enabled": true,
			"config": map[string]string{"clientId": "kg", "clientSecret": "s", "authorizationUrl": "http://127.0.0.1:1/auth",
				"tokenUrl": "http://127.0.0.1:1/token", "issuer": "http://127.0.0.1:1", "validateSignature": "false"}}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "acct.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"}, "--import-realm", file)
}

// consoleLogin opens the console without a session, follows it through
// the realm's login as account-console (PKCE) and back, and returns the
// console page.
func consoleLogin(t *testing.T, s *server, b *browser, username, password, path string) page {
	t.Helper()
	return consoleLoginIn(t, s, b, "acct", username, password, path)
}

func consoleLoginIn(t *testing.T, s *server, b *browser, realm, username, password, path string) page {
	t.Helper()
	acct := s.URL + "/realms/" + realm + "/account"
	p := b.get(acct + path)
	if p.status != http.StatusFound {
		t.Fatalf("console without a session: %d %q", p.status, p.location)
	}
	auth, err := url.Parse(p.location)
	if err != nil {
		t.Fatal(err)
	}
	q := auth.Query()
	if auth.Path != "/realms/"+realm+"/protocol/openid-connect/auth" || q.Get("client_id") != "account-console" ||
		q.Get("code_challenge_method") != "S256" || q.Get("code_challenge") == "" || q.Get("redirect_uri") != acct+"/login-redirect" {
		t.Fatalf("console sends the browser to %q, not to the realm's login as account-console with PKCE", p.location)
	}
	action, csrf := loginForm(t, s.URL, b.get(s.URL+p.location))
	done := b.post(action, url.Values{"username": {username}, "password": {password}, "csrf_token": {csrf}})
	if !isRedirect(done.status) || !strings.HasPrefix(done.location, acct+"/login-redirect?") {
		t.Fatalf("login: %d %q %.300s", done.status, done.location, done.body)
	}
	back := b.get(done.location)
	if !isRedirect(back.status) || back.location != "/realms/"+realm+"/account"+path {
		t.Fatalf("the console's redirect URI: %d %q %.300s (log %s)", back.status, back.location, back.body, lastLines(s.logs.String(), 5))
	}
	return b.get(s.URL + back.location)
}

func inputValue(p page, name string) string {
	return attr(find(p.doc, byName(name)), "value")
}

func csrfOf(t *testing.T, p page) string {
	t.Helper()
	c := inputValue(p, "csrf_token")
	if c == "" {
		t.Fatalf("page without a CSRF token: %.400s", p.body)
	}
	return c
}

func textOf(n *html.Node) string {
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n == nil {
			return
		}
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}

func passwordToken(t *testing.T, s *server, username, password string) (int, map[string]any) {
	t.Helper()
	return postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"password"}, "username": {username}, "password": {password},
		"scope": {"openid"}}, "app", "app-secret")
}

// accountAPI calls the Account REST API with a bearer token.
func accountAPI(t *testing.T, s *server, method, path, token string, body any) (int, []byte, http.Header) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, s.URL+"/realms/acct/account"+path, rd)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	req.Header.Set("Origin", "http://127.0.0.1:9999")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, out, resp.Header
}

func TestAccountConsole(t *testing.T) {
	s := accountRealm(t)
	acct := s.URL + "/realms/acct/account"

	t.Run("no session redirects to the login, then the page", func(t *testing.T) {
		b := newBrowser(t)
		p := consoleLogin(t, s, b, "ann", "ann-pass-1", "/account-security/signing-in")
		if p.status != 200 || find(p.doc, byID("kc-password-form")) == nil {
			t.Fatalf("signing-in page: %d %.300s", p.status, p.body)
		}
		if got := textOf(find(p.doc, byID("kc-account-username"))); got != "ann" {
			t.Errorf("header names %q", got)
		}
		// A forged state or a missing cookie never signs anything in.
		if bad := newBrowser(t).get(acct + "/login-redirect?code=x&state=y"); bad.status != 400 {
			t.Errorf("login-redirect without its cookie: %d", bad.status)
		}
	})

	t.Run("forms refuse a missing or foreign CSRF token", func(t *testing.T) {
		b := newBrowser(t)
		p := consoleLogin(t, s, b, "ann", "ann-pass-1", "/")
		form := url.Values{"email": {"evil@example.com"}, "firstName": {"Ann"}, "lastName": {"Tester"}}
		if r := b.post(acct+"/", form); r.status != 403 {
			t.Errorf("profile form without CSRF: %d", r.status)
		}
		other := newBrowser(t)
		op := consoleLogin(t, s, other, "otto", "otto-pass-1", "/")
		form.Set("csrf_token", csrfOf(t, op)) // another session's token
		if r := b.post(acct+"/", form); r.status != 403 {
			t.Errorf("profile form with another session's CSRF token: %d", r.status)
		}
		for _, path := range []string{"/account-security/signing-in/password", "/account-security/device-activity/sign-out",
			"/account-security/linked-accounts/upstream/unlink"} {
			if r := b.post(acct+path, url.Values{"password": {"ann-pass-1"}}); r.status != 403 {
				t.Errorf("%s without CSRF: %d", path, r.status)
			}
		}
		if r := newBrowser(t).post(acct+"/", url.Values{"csrf_token": {csrfOf(t, p)}}); r.status != 403 || r.location != "" {
			t.Errorf("form without a session: %d %q", r.status, r.location)
		}
		// The real token works: a changed email is unverified.
		form.Set("csrf_token", csrfOf(t, p))
		form.Set("email", "ann.new@example.com")
		if r := b.post(acct+"/", form); r.status != http.StatusSeeOther {
			t.Fatalf("profile update: %d %.300s", r.status, r.body)
		}
		after := b.get(acct + "/")
		if inputValue(after, "email") != "ann.new@example.com" || find(after.doc, byID("email-unverified")) == nil {
			t.Errorf("after the update: email %q, unverified notice %v", inputValue(after, "email"), find(after.doc, byID("email-unverified")) != nil)
		}
		// Taken emails and a read-only username are refused, with the field named.
		form.Set("email", "vera@example.com")
		if r := b.post(acct+"/", form); r.status != 400 || !strings.Contains(r.body, "Email already exists.") {
			t.Errorf("a taken email: %d %.200s", r.status, r.body)
		}
		form.Set("email", "ann.new@example.com")
		form.Set("username", "someone-else")
		if r := b.post(acct+"/", form); r.status != 400 || attr(find(r.doc, byID("username")), "aria-invalid") != "true" {
			t.Errorf("a username change without editUsernameAllowed: %d %.200s", r.status, r.body)
		}
	})

	t.Run("change password: current one, policy, other sessions", func(t *testing.T) {
		if code, body := s.adminAPI(t, "PUT", "/acct", map[string]any{"passwordPolicy": "length(12) and digits(2)"}); code != 204 {
			t.Fatalf("set password policy: %d %s", code, body)
		}
		b := newBrowser(t)
		p := consoleLogin(t, s, b, "otto", "otto-pass-1", "/account-security/signing-in")
		post := func(cur, nu, confirm string) page {
			return b.post(acct+"/account-security/signing-in/password", url.Values{"csrf_token": {csrfOf(t, p)},
				"password": {cur}, "password-new": {nu}, "password-confirm": {confirm}})
		}
		if r := post("wrong-pass", "a-long-pass-99", "a-long-pass-99"); r.status != 400 || !strings.Contains(r.body, "Invalid existing password.") {
			t.Errorf("wrong current password: %d %.300s", r.status, r.body)
		}
		if r := post("otto-pass-1", "short1", "short1"); r.status != 400 || !strings.Contains(r.body, "Invalid password: minimum length 12.") {
			t.Errorf("too short: %d %.300s", r.status, r.body)
		}
		if r := post("otto-pass-1", "long-enough-pass-1", "long-enough-pass-1"); r.status != 400 ||
			!strings.Contains(r.body, "Invalid password: must contain at least 2 numerical digits.") {
			t.Errorf("too few digits: %d %.300s", r.status, r.body)
		}
		if r := post("otto-pass-1", "a-long-pass-99", "a-long-pass-98"); r.status != 400 {
			t.Errorf("confirmation differs: %d", r.status)
		}
		if code, _ := passwordToken(t, s, "otto", "otto-pass-1"); code != 200 {
			t.Fatalf("a refused change changed the password: %d", code)
		}
		if r := post("otto-pass-1", "a-long-pass-99", "a-long-pass-99"); r.status != http.StatusSeeOther {
			t.Fatalf("password change: %d %.300s", r.status, r.body)
		}
		if code, _ := passwordToken(t, s, "otto", "otto-pass-1"); code == 200 {
			t.Error("the old password still works")
		}
		if code, _ := passwordToken(t, s, "otto", "a-long-pass-99"); code != 200 {
			t.Error("the new password does not work")
		}
		if strings.Contains(s.logs.String(), "a-long-pass-99") {
			t.Error("the log contains the new password")
		}
	})

	t.Run("sign out another session: its refresh token dies", func(t *testing.T) {
		b := newBrowser(t)
		_ = consoleLogin(t, s, b, "ann", "ann-pass-1", "/account-security/device-activity")
		code, tok := passwordToken(t, s, "ann", "ann-pass-1")
		if code != 200 {
			t.Fatalf("password grant: %d %v", code, tok)
		}
		other := tok["session_state"].(string)
		p := b.get(acct + "/account-security/device-activity")
		row := find(p.doc, byID("session-"+other))
		if row == nil || find(p.doc, byID("current-session")) == nil {
			t.Fatalf("device activity lists no row for the other session or no current one: %.600s", p.body)
		}
		if !strings.Contains(textOf(row), "app") {
			t.Errorf("the other session's clients are not listed: %q", textOf(row))
		}
		form := find(row, func(n *html.Node) bool { return n.Data == "form" })
		action, _ := url.Parse(attr(form, "action"))
		r := b.post(s.URL+action.String(), url.Values{"csrf_token": {csrfOf(t, p)}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("sign out: %d %.300s", r.status, r.body)
		}
		code, body := postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {tok["refresh_token"].(string)}}, "app", "app-secret")
		if code != 400 || body["error"] != "invalid_grant" {
			t.Errorf("refresh after its session was signed out: %d %v", code, body)
		}
		// The console's own session lives on.
		if p := b.get(acct + "/"); p.status != 200 {
			t.Errorf("the current session ended too: %d", p.status)
		}
	})

	t.Run("REST API: roles, audience, CORS", func(t *testing.T) {
		_, nora := passwordToken(t, s, "nora", "nora-pass-1")
		if code, _, _ := accountAPI(t, s, "GET", "", nora["access_token"].(string), nil); code != 401 && code != 403 {
			t.Errorf("a token without any account role: %d", code)
		}
		_, vera := passwordToken(t, s, "vera", "vera-pass-1")
		vt := vera["access_token"].(string)
		code, body, hdr := accountAPI(t, s, "GET", "", vt, nil)
		var me map[string]any
		_ = json.Unmarshal(body, &me)
		if code != 200 || me["username"] != "vera" || me["email"] != "vera@example.com" {
			t.Fatalf("GET account with view-profile: %d %s", code, body)
		}
		if hdr.Get("Access-Control-Allow-Origin") != "http://127.0.0.1:9999" {
			t.Errorf("CORS for the token's allowed origin: %q", hdr.Get("Access-Control-Allow-Origin"))
		}
		if code, body, _ := accountAPI(t, s, "POST", "", vt, map[string]any{"firstName": "Vee"}); code != 403 {
			t.Errorf("POST account without manage-account: %d %s", code, body)
		}
		if code, _, _ := accountAPI(t, s, "DELETE", "/sessions", vt, nil); code != 403 {
			t.Errorf("DELETE sessions without manage-account: %d", code)
		}
		if code, _, _ := accountAPI(t, s, "GET", "/sessions", vt, nil); code != 200 {
			t.Errorf("GET sessions with view-profile: %d", code)
		}
		if code, _, _ := accountAPI(t, s, "GET", "", "", nil); code != 401 {
			t.Errorf("no token: %d", code)
		}

		_, ann := passwordToken(t, s, "ann", "ann-pass-1")
		at := ann["access_token"].(string)
		// Another user's session id is as good as unknown: 204, and it lives on.
		_, body, _ = accountAPI(t, s, "GET", "/sessions", vt, nil)
		var veraSessions []map[string]any
		_ = json.Unmarshal(body, &veraSessions)
		if len(veraSessions) == 0 {
			t.Fatalf("vera's sessions: %s", body)
		}
		if code, _, _ := accountAPI(t, s, "DELETE", "/sessions/"+veraSessions[0]["id"].(string), at, nil); code != 204 {
			t.Errorf("DELETE another user's session: %d", code)
		}
		if code, _, _ := accountAPI(t, s, "GET", "", vt, nil); code != 200 {
			t.Errorf("vera's session ended by ann's DELETE /sessions/{id}: %d", code)
		}
		if code, body, _ := accountAPI(t, s, "POST", "", at, map[string]any{"email": "not-an-email"}); code != 400 || !strings.Contains(string(body), `"field":"email"`) {
			t.Errorf("an invalid email: %d %s", code, body)
		}
		if code, body, _ := accountAPI(t, s, "POST", "", at, map[string]any{"firstName": "Annie"}); code != 204 {
			t.Errorf("POST account: %d %s", code, body)
		}
		_, body, _ = accountAPI(t, s, "GET", "", at, nil)
		_ = json.Unmarshal(body, &me)
		if me["firstName"] != "Annie" || me["emailVerified"] != false {
			t.Errorf("after POST: %s", body)
		}
		// With editUsernameAllowed the username changes, unless it is taken.
		if code, body := s.adminAPI(t, "PUT", "/acct", map[string]any{"editUsernameAllowed": true}); code != 204 {
			t.Fatalf("editUsernameAllowed: %d %s", code, body)
		}
		if code, body, _ := accountAPI(t, s, "POST", "", at, map[string]any{"username": "vera"}); code != 400 || !strings.Contains(string(body), "usernameExistsMessage") {
			t.Errorf("a taken username: %d %s", code, body)
		}
		if code, body, _ := accountAPI(t, s, "POST", "", at, map[string]any{"username": "ann2"}); code != 204 {
			t.Errorf("a new username: %d %s", code, body)
		}
		if code, _ := passwordToken(t, s, "ann2", "ann-pass-1"); code != 200 {
			t.Errorf("signing in with the new username: %d", code)
		}
		accountAPI(t, s, "POST", "", at, map[string]any{"username": "ann"})
		s.adminAPI(t, "PUT", "/acct", map[string]any{"editUsernameAllowed": false})
		code, body, _ = accountAPI(t, s, "GET", "/credentials", at, nil)
		var creds []map[string]any
		_ = json.Unmarshal(body, &creds)
		if code != 200 || len(creds) != 2 || creds[0]["type"] != "password" || creds[1]["type"] != "otp" ||
			len(creds[0]["userCredentialMetadatas"].([]any)) != 1 || strings.Contains(string(body), "secretData") {
			t.Errorf("credentials: %d %s", code, body)
		}
		code, body, _ = accountAPI(t, s, "GET", "/sessions", at, nil)
		var sessions []map[string]any
		_ = json.Unmarshal(body, &sessions)
		if code != 200 || len(sessions) < 1 {
			t.Fatalf("sessions: %d %s", code, body)
		}
		// DELETE /sessions signs out the others, then the token's own with ?current=true.
		_, second := passwordToken(t, s, "ann", "ann-pass-1")
		if code, _, _ := accountAPI(t, s, "DELETE", "/sessions", at, nil); code != 204 {
			t.Errorf("DELETE sessions: %d", code)
		}
		if code, _ := postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"refresh_token"},
			"refresh_token": {second["refresh_token"].(string)}}, "app", "app-secret"); code != 400 {
			t.Errorf("another session's refresh token after DELETE /sessions: %d", code)
		}
		if code, _, _ := accountAPI(t, s, "GET", "/sessions", at, nil); code != 200 {
			t.Errorf("the token's own session ended with DELETE /sessions: %d", code)
		}
		// A preflight is answered.
		req, _ := http.NewRequest("OPTIONS", acct+"/sessions", nil)
		req.Header.Set("Origin", "http://127.0.0.1:9999")
		req.Header.Set("Access-Control-Request-Method", "DELETE")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Access-Control-Allow-Methods"), "DELETE") {
			t.Errorf("preflight: %d %v", resp.StatusCode, resp.Header)
		}
	})

	t.Run("unlink, and not the only way in", func(t *testing.T) {
		var users []map[string]any
		_, raw := s.adminAPI(t, "GET", "/acct/users?username=ann&exact=true", nil)
		_ = json.Unmarshal(raw, &users)
		if len(users) != 1 {
			t.Fatalf("ann: %s", raw)
		}
		annID := users[0]["id"].(string)
		if code, body := s.adminAPI(t, "POST", "/acct/users/"+annID+"/federated-identity/upstream",
			map[string]any{"identityProvider": "upstream", "userId": "ext-ann", "userName": "ann@upstream"}); code != 204 {
			t.Fatalf("link ann: %d %s", code, body)
		}
		b := newBrowser(t)
		p := consoleLogin(t, s, b, "ann", "ann-pass-1", "/account-security/linked-accounts")
		row := find(p.doc, byID("linked-upstream"))
		if row == nil || !strings.Contains(textOf(row), "ann@upstream") || !strings.Contains(textOf(row), "Upstream SSO") {
			t.Fatalf("linked accounts page: %.600s", p.body)
		}
		r := b.post(acct+"/account-security/linked-accounts/upstream/unlink", url.Values{"csrf_token": {csrfOf(t, p)}})
		if r.status != http.StatusSeeOther {
			t.Fatalf("unlink: %d %.300s", r.status, r.body)
		}
		p = b.get(acct + "/account-security/linked-accounts")
		if find(p.doc, byID("linked-upstream")) != nil || find(p.doc, byID("unlinked-upstream")) == nil {
			t.Errorf("after unlinking: %.600s", p.body)
		}

		// Without a password, the only link stays (REST, as Keycloak).
		_, tok := passwordToken(t, s, "ann", "ann-pass-1")
		at := tok["access_token"].(string)
		s.adminAPI(t, "POST", "/acct/users/"+annID+"/federated-identity/upstream",
			map[string]any{"identityProvider": "upstream", "userId": "ext-ann", "userName": "ann@upstream"})
		var creds []map[string]any
		_, raw = s.adminAPI(t, "GET", "/acct/users/"+annID+"/credentials", nil)
		_ = json.Unmarshal(raw, &creds)
		for _, c := range creds {
			s.adminAPI(t, "DELETE", "/acct/users/"+annID+"/credentials/"+c["id"].(string), nil)
		}
		code, body, _ := accountAPI(t, s, "DELETE", "/linked-accounts/upstream", at, nil)
		if code != 400 || !strings.Contains(string(body), "last federated identity") {
			t.Errorf("removing the only way in: %d %s", code, body)
		}
		code, body, _ = accountAPI(t, s, "GET", "/linked-accounts", at, nil)
		if code != 200 || !strings.Contains(string(body), `"connected":true`) {
			t.Errorf("linked-accounts: %d %s", code, body)
		}
	})

	t.Run("delete account: the role and the realm's delete_account", func(t *testing.T) {
		b := newBrowser(t)
		p := consoleLogin(t, s, b, "dora", "dora-pass-1", "/")
		if find(p.doc, byID("delete-account-form")) != nil {
			t.Error("delete account offered while the realm's delete_account is disabled")
		}
		if r := b.post(acct+"/delete-account", url.Values{"csrf_token": {csrfOf(t, p)}}); r.status != 403 {
			t.Errorf("delete account with delete_account disabled: %d", r.status)
		}
		if code, body := s.adminAPI(t, "PUT", "/acct/authentication/required-actions/delete_account", map[string]any{
			"alias": "delete_account", "name": "Delete Account", "providerId": "delete_account", "enabled": true}); code != 204 {
			t.Fatalf("enable delete_account: %d %s", code, body)
		}
		other := newBrowser(t)
		if op := consoleLogin(t, s, other, "otto", "a-long-pass-99", "/"); find(op.doc, byID("delete-account-form")) != nil {
			t.Error("delete account offered to a user without the delete-account role")
		}
		p = b.get(acct + "/")
		if find(p.doc, byID("delete-account-form")) == nil {
			t.Fatalf("no delete account form: %.500s", p.body)
		}
		r := b.post(acct+"/delete-account", url.Values{"csrf_token": {csrfOf(t, p)}})
		if !isRedirect(r.status) {
			t.Fatalf("delete account: %d %.300s", r.status, r.body)
		}
		confirm := b.get(s.URL + r.location)
		form := find(confirm.doc, byID("kc-deleteaccount-form"))
		if form == nil {
			t.Fatalf("no confirmation page: %d %.400s", confirm.status, confirm.body)
		}
		action, _ := url.Parse(attr(form, "action"))
		done := b.post(s.URL+action.String(), url.Values{"csrf_token": {inputValue(confirm, "csrf_token")}})
		if done.status >= 400 {
			t.Fatalf("confirm: %d %.300s", done.status, done.body)
		}
		if code, _ := passwordToken(t, s, "dora", "dora-pass-1"); code == 200 {
			t.Error("the deleted user still signs in")
		}
	})

	t.Run("referrer link only for an exact redirect URI", func(t *testing.T) {
		b := newBrowser(t)
		good := "http://127.0.0.1:9999/app/home"
		p := consoleLogin(t, s, b, "otto", "a-long-pass-99", "/?"+url.Values{"referrer": {"app"}, "referrer_uri": {good}}.Encode())
		if attr(find(p.doc, byID("referrer")), "href") != good {
			t.Errorf("no back link for a registered URI: %.400s", p.body)
		}
		bad := b.get(acct + "/?" + url.Values{"referrer": {"app"}, "referrer_uri": {"https://evil.example/"}}.Encode())
		if find(bad.doc, byID("referrer")) != nil && attr(find(bad.doc, byID("referrer")), "href") == "https://evil.example/" {
			t.Error("a back link to an unregistered URI")
		}
	})
}

// Linking through the broker: the console's Link button sends the browser
// to a second keygate (the realm's link-only OpenID Connect provider),
// whose login links its account to the signed-in user, back on the
// console's linked-accounts page; the answer replayed is refused.
func TestAccountLinkThroughBroker(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("no second loopback address: %v", err)
	}
	down := l.Addr().String()
	l.Close()
	downURL := "http://" + down
	upRealm := map[string]any{"realm": "up", "enabled": true,
		"clients": []map[string]any{{"clientId": "down", "secret": "down-secret", "standardFlowEnabled": true,
			"redirectUris": []string{downURL + "/realms/acct2/broker/up/endpoint"}}},
		"users": []map[string]any{{"username": "uma", "enabled": true, "email": "uma@up.example", "emailVerified": true,
			"firstName": "Uma", "lastName": "Up", "credentials": []map[string]any{{"type": "password", "value": "uma-pass-1"}}}},
	}
	dir := t.TempDir()
	data, _ := json.Marshal(upRealm)
	if err := os.WriteFile(filepath.Join(dir, "up.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	up := startServer(t, "", nil, "--import-realm", filepath.Join(dir, "up.json"))
	oc := up.URL + "/realms/up/protocol/openid-connect"
	acct2 := map[string]any{"realm": "acct2", "enabled": true,
		"users": []map[string]any{{"username": "dan", "enabled": true, "email": "dan@example.com", "firstName": "Dan", "lastName": "Down",
			"credentials": []map[string]any{{"type": "password", "value": "dan-pass-1"}},
			"clientRoles": map[string][]string{"account": {"manage-account", "view-profile"}}}},
		"identityProviders": []map[string]any{{"alias": "up", "displayName": "Upstream", "providerId": "keycloak-oidc", "enabled": true,
			"linkOnly": true, "config": map[string]string{"issuer": up.URL + "/realms/up", "authorizationUrl": oc + "/auth",
				"tokenUrl": oc + "/token", "jwksUrl": oc + "/certs", "userInfoUrl": oc + "/userinfo", "clientId": "down",
				"clientSecret": "down-secret", "clientAuthMethod": "client_secret_post", "pkceEnabled": "true", "pkceMethod": "S256",
				"validateSignature": "true", "useJwksUrl": "true", "defaultScope": "openid profile email"}}},
	}
	data, _ = json.Marshal(acct2)
	if err := os.WriteFile(filepath.Join(dir, "acct2.json"), data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--http-addr", down, "--import-realm", filepath.Join(dir, "acct2.json"))
	acct := s.URL + "/realms/acct2/account"

	b := newBrowser(t)
	p := consoleLoginIn(t, s, b, "acct2", "dan", "dan-pass-1", "/account-security/linked-accounts")
	if find(p.doc, byID("unlinked-up")) == nil {
		t.Fatalf("the link-only provider is not offered for linking: %.600s", p.body)
	}
	start := b.post(acct+"/account-security/linked-accounts/up/link", url.Values{"csrf_token": {csrfOf(t, p)}})
	if !isRedirect(start.status) || !strings.HasPrefix(start.location, oc+"/auth?") {
		t.Fatalf("link: %d %q %.300s", start.status, start.location, start.body)
	}
	action, csrf := loginForm(t, up.URL, b.get(start.location))
	back := b.post(action, url.Values{"username": {"uma"}, "password": {"uma-pass-1"}, "csrf_token": {csrf}})
	if !isRedirect(back.status) || !strings.HasPrefix(back.location, downURL+"/realms/acct2/broker/up/endpoint?") {
		t.Fatalf("upstream login: %d %q", back.status, back.location)
	}
	done := b.get(back.location)
	if !isRedirect(done.status) || done.location != "/realms/acct2/account/account-security/linked-accounts?linked=up" {
		t.Fatalf("broker endpoint: %d %q %.300s (log %s)", done.status, done.location, done.body, lastLines(s.logs.String(), 8))
	}
	p = b.get(s.URL + done.location)
	row := find(p.doc, byID("linked-up"))
	if row == nil || !strings.Contains(textOf(row), "uma") || find(p.doc, byID("kc-account-notice")) == nil {
		t.Fatalf("after linking: %.800s", p.body)
	}
	// The answer again (a replay) links nothing more and is refused.
	if again := b.get(back.location); again.status < 400 {
		t.Errorf("the provider's answer replayed: %d %q", again.status, again.location)
	}
}

// A directory's user changes the password in the console: with a
// WRITABLE LDAP provider it is written to the directory (the current one
// checked by a bind), and the next login binds with the new one.
func TestAccountLDAPPassword(t *testing.T) {
	dir := ldaptest.Start(t, ldaptest.Options{Users: 2})
	realm := map[string]any{"realm": "corp2", "enabled": true,
		"clients": []map[string]any{{"clientId": "app", "secret": "app-secret", "directAccessGrantsEnabled": true,
			"redirectUris": []string{"http://127.0.0.1:9999/*"}}},
		"components": map[string]any{
			"org.keycloak.storage.UserStorageProvider": []any{map[string]any{"name": "corp-ldap", "providerId": "ldap",
				"config": map[string][]string{"connectionUrl": {dir.URL()}, "bindDn": {dir.AdminDN}, "bindCredential": {dir.AdminPassword},
					"usersDn": {dir.PeopleDN}, "editMode": {"WRITABLE"}, "usernameLDAPAttribute": {"uid"}, "rdnLDAPAttribute": {"uid"},
					"uuidLDAPAttribute": {"entryUUID"}, "userObjectClasses": {"inetOrgPerson"}},
				"subComponents": map[string]any{"org.keycloak.storage.ldap.mappers.LDAPStorageMapper": []any{
					map[string]any{"name": "username", "providerId": "user-attribute-ldap-mapper",
						"config": map[string][]string{"ldap.attribute": {"uid"}, "user.model.attribute": {"username"}}},
				}}}}}}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "corp2.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	user := ldaptest.Username(0)
	b := newBrowser(t)
	p := consoleLoginIn(t, s, b, "corp2", user, ldaptest.DefaultUserPassword, "/account-security/signing-in")
	if find(p.doc, byID("kc-password-form")) == nil {
		t.Fatalf("no password form for a WRITABLE directory's user: %.600s", p.body)
	}
	post := func(cur, nu string) page {
		return b.post(s.URL+"/realms/corp2/account/account-security/signing-in/password", url.Values{"csrf_token": {csrfOf(t, p)},
			"password": {cur}, "password-new": {nu}, "password-confirm": {nu}})
	}
	if r := post("not-the-password", "Directory-pass-2"); r.status != 400 || !strings.Contains(r.body, "Invalid existing password.") {
		t.Errorf("wrong current password of a directory user: %d %.300s", r.status, r.body)
	}
	if r := post(ldaptest.DefaultUserPassword, "Directory-pass-2"); r.status != http.StatusSeeOther {
		t.Fatalf("password change of a directory user: %d %.300s (log %s)", r.status, r.body, lastLines(s.logs.String(), 6))
	}
	grant := func(pw string) int {
		code, _ := postForm(t, s.oc("corp2")+"/token", url.Values{"grant_type": {"password"}, "username": {user}, "password": {pw}}, "app", "app-secret")
		return code
	}
	if grant("Directory-pass-2") != 200 || grant(ldaptest.DefaultUserPassword) == 200 {
		t.Errorf("after the change: new password %d, old password %d", grant("Directory-pass-2"), grant(ldaptest.DefaultUserPassword))
	}
}
