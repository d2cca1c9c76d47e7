package test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/html"
	"golang.org/x/oauth2"
)

// adminJSON calls the admin API as the bootstrap admin and decodes the answer into out.
func adminJSON(t *testing.T, s *server, method, path string, body, out any) int {
	t.Helper()
	_, tok := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	var rd bytes.Buffer
	if body != nil {
		_ = json.NewEncoder(&rd).Encode(body)
	}
	req, err := http.NewRequest(method, s.URL+path, &rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok["access_token"].(string))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil {
		_ = json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

// Issue 9 §2 against the real binary: the spa client registers
// http://localhost:3000/*, and neither the authorization endpoint (with a
// live SSO session, which would answer with a code at once) nor the logout
// endpoint (with no session at all, only an ID token of the attacker's own)
// sends the browser outside that path.
func TestRedirectAttacksRefusedAtAuthorizeAndLogout(t *testing.T) {
	s := seeded(t)
	var clients []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/clients?clientId=spa", nil, &clients)
	if len(clients) != 1 {
		t.Fatalf("spa client: %v", clients)
	}
	spa := clients[0]
	spa["attributes"] = map[string]string{"post.logout.redirect.uris": "+"}
	if code := adminJSON(t, s, "PUT", "/admin/realms/test/clients/"+spa["id"].(string), spa, nil); code != 204 {
		t.Fatalf("update spa: %d", code)
	}

	evil := []string{
		"http://localhost:3000/../../evil",
		"http://localhost:3000/%2e%2e/evil",
		"http://localhost:3000/..%2fevil",
		"http://localhost:3000/app/..%2F..%2Fevil",
		"http://localhost:3000/app/%252e%252e/evil",
		`http://localhost:3000/app\..\evil`,
		"http://localhost:3000@evil.example/",
		"http://localhost:3000.evil.example/",
		"http://localhost:3000/app#@evil.example",
	}
	b := newBrowser(t)
	v := oauth2.GenerateVerifier()
	chal := oauth2.S256ChallengeFromVerifier(v)
	action, csrf := loginForm(t, s.URL, b.get(authURL(s.URL, "test", codeQuery("spa", "http://localhost:3000/app", "st-login", "n", chal))))
	if p := b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); !isRedirect(p.status) {
		t.Fatalf("login: %d %.300s", p.status, p.body)
	}
	for _, ru := range evil {
		p := b.get(authURL(s.URL, "test", codeQuery("spa", ru, "st-evil", "n", chal)))
		if p.status != http.StatusBadRequest || p.location != "" || find(p.doc, byID("kc-error-message")) == nil {
			t.Errorf("authorize redirect_uri %q: %d, Location %q", ru, p.status, p.location)
		}
	}
	// keycloak-js's silent check-sso still gets its answer.
	q := codeQuery("spa", "http://localhost:3000/silent-check-sso.html", "st-silent", "n", chal)
	q.Set("prompt", "none")
	q.Set("response_mode", "fragment")
	if p := b.get(authURL(s.URL, "test", q)); !isRedirect(p.status) || !strings.HasPrefix(p.location, "http://localhost:3000/silent-check-sso.html#") {
		t.Errorf("silent check-sso: %d %q", p.status, p.location)
	}

	_, tok := postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"spa"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}})
	idToken, _ := tok["id_token"].(string)
	if idToken == "" {
		t.Fatalf("password grant: %v", tok)
	}
	lo := s.URL + "/realms/test/protocol/openid-connect/logout?"
	for _, ru := range evil {
		p := newBrowser(t).get(lo + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {ru}}.Encode())
		if p.status != http.StatusBadRequest || p.location != "" || find(p.doc, byID("kc-error-message")) == nil {
			t.Errorf("post_logout_redirect_uri %q: %d, Location %q", ru, p.status, p.location)
		}
	}
	// A refused parameter is named on the page, as Keycloak names it.
	for _, tc := range []struct {
		q    url.Values
		want string
	}{
		{url.Values{"id_token_hint": {idToken[:len(idToken)-4] + "AAAA"}}, "Invalid parameter: id_token_hint"},
		{url.Values{"id_token_hint": {idToken}, "client_id": {"webapp"}}, "Invalid parameter: client_id"},
	} {
		p := newBrowser(t).get(lo + tc.q.Encode())
		msg := find(p.doc, byID("kc-error-message"))
		if p.status != http.StatusBadRequest || msg == nil || !strings.Contains(textOf(msg), tc.want) || strings.Contains(p.body, "{0}") {
			t.Errorf("logout with %v: %d, want 400 saying %q; page %.300s", tc.q, p.status, tc.want, p.body)
		}
	}
	p := newBrowser(t).get(lo + url.Values{"id_token_hint": {idToken}, "post_logout_redirect_uri": {"http://localhost:3000/bye"}, "state": {"s"}}.Encode())
	if !isRedirect(p.status) || p.location != "http://localhost:3000/bye?state=s" {
		t.Errorf("legitimate post-logout redirect: %d %q", p.status, p.location)
	}
}

// Issue 9 §4, logout CSRF: a page that makes the browser open the logout
// endpoint with the attacker's own ID token must not end the victim's
// session without the victim confirming.
func TestLogoutHintOfAnotherSessionAsksFirst(t *testing.T) {
	s := seeded(t)
	const cb = "http://127.0.0.1:9999/cb"
	victim := newBrowser(t)
	chal := oauth2.S256ChallengeFromVerifier(oauth2.GenerateVerifier())
	action, csrf := loginForm(t, s.URL, victim.get(authURL(s.URL, "test", codeQuery("webapp", cb, "st-victim", "n", chal))))
	if p := victim.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}}); !isRedirect(p.status) {
		t.Fatalf("login: %d %.300s", p.status, p.body)
	}
	_, tok := postForm(t, s.URL+"/realms/test/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}}, "webapp", "webapp-secret")
	attackerHint, _ := tok["id_token"].(string)
	if attackerHint == "" {
		t.Fatalf("password grant: %v", tok)
	}
	lo := s.URL + "/realms/test/protocol/openid-connect/logout"
	confirm := victim.get(lo + "?" + url.Values{"id_token_hint": {attackerHint}, "post_logout_redirect_uri": {cb}}.Encode())
	form := find(confirm.doc, byID("kc-logout-confirm"))
	if confirm.status != http.StatusOK || confirm.location != "" || form == nil {
		t.Fatalf("a foreign id_token_hint: %d %q, want the confirmation page", confirm.status, confirm.location)
	}
	if p := victim.get(authURL(s.URL, "test", codeQuery("webapp", cb, "st-still", "n", chal))); !isRedirect(p.status) || !strings.HasPrefix(p.location, cb+"?") {
		t.Fatalf("the victim's session did not survive the unconfirmed logout: %d %q", p.status, p.location)
	}
	// Confirmed with the page's CSRF token, the logout ends the browser's session.
	fields := url.Values{"confirmLogout": {"Log out"}}
	var collect func(*html.Node)
	collect = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && attr(n, "type") == "hidden" {
			fields.Set(attr(n, "name"), attr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			collect(c)
		}
	}
	collect(form)
	forged := url.Values{}
	for k, v := range fields {
		forged[k] = v
	}
	forged.Set("csrf_token", "forged")
	if p := victim.post(lo, forged); p.status != http.StatusForbidden || p.location != "" {
		t.Errorf("confirmation with a forged CSRF token: %d %q", p.status, p.location)
	}
	if p := victim.post(lo, fields); !isRedirect(p.status) || p.location != cb {
		t.Fatalf("confirmed logout: %d %q %.200s", p.status, p.location, p.body)
	}
	loginForm(t, s.URL, victim.get(authURL(s.URL, "test", codeQuery("webapp", cb, "st-after", "n", chal))))
}

// Issue 9 §4: CORS headers follow the web origins of the client that the
// request authenticates or names, not those of any client in the realm.
func TestCORSFollowsTheRequestsClient(t *testing.T) {
	s := seeded(t)
	oc := s.URL + "/realms/test/protocol/openid-connect"
	send := func(method, u, origin string, form url.Values, auth func(*http.Request)) (string, map[string]any) {
		t.Helper()
		req, err := http.NewRequest(method, u, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Origin", origin)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != nil {
			auth(req)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&body)
		return resp.Header.Get("Access-Control-Allow-Origin"), body
	}
	basic := func(id, secret string) func(*http.Request) {
		return func(r *http.Request) { r.SetBasicAuth(id, secret) }
	}
	const spaOrigin, webappOrigin = "http://localhost:3000", "http://127.0.0.1:9999"
	pw := func(extra ...string) url.Values {
		v := url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}, "scope": {"openid"}}
		for i := 0; i+1 < len(extra); i += 2 {
			v.Set(extra[i], extra[i+1])
		}
		return v
	}

	// webapp's token requests are not readable from spa's origin, whichever way webapp authenticates.
	if got, body := send("POST", oc+"/token", spaOrigin, pw(), basic("webapp", "webapp-secret")); got != "" || body["access_token"] == nil {
		t.Errorf("webapp (Basic) from spa's origin: Allow-Origin %q, %v", got, body["error"])
	}
	if got, _ := send("POST", oc+"/token", spaOrigin, pw("client_id", "webapp", "client_secret", "webapp-secret"), nil); got != "" {
		t.Errorf("webapp (form) from spa's origin: Allow-Origin %q", got)
	}
	got, webappTok := send("POST", oc+"/token", webappOrigin, pw(), basic("webapp", "webapp-secret"))
	if got != webappOrigin {
		t.Errorf(`webapp from its "+" origin: Allow-Origin %q`, got)
	}
	got, spaTok := send("POST", oc+"/token", spaOrigin, pw("client_id", "spa"), nil)
	if got != spaOrigin {
		t.Errorf("spa from its origin: Allow-Origin %q", got)
	}
	if got, _ := send("POST", oc+"/token", webappOrigin, pw("client_id", "spa"), nil); got != "" {
		t.Errorf("spa from webapp's origin: Allow-Origin %q", got)
	}
	// userinfo: the bearer token's client decides.
	bearer := func(tok map[string]any) func(*http.Request) {
		return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok["access_token"].(string)) }
	}
	if got, _ := send("GET", oc+"/userinfo", spaOrigin, nil, bearer(webappTok)); got != "" {
		t.Errorf("userinfo with webapp's token from spa's origin: Allow-Origin %q", got)
	}
	if got, _ := send("GET", oc+"/userinfo", spaOrigin, nil, bearer(spaTok)); got != spaOrigin {
		t.Errorf("userinfo with spa's token from its origin: Allow-Origin %q", got)
	}
	// A request naming no client gets no CORS answer.
	if got, _ := send("POST", oc+"/token", spaOrigin, pw(), nil); got != "" {
		t.Errorf("token request without a client: Allow-Origin %q", got)
	}
	// A preflight carries no credentials: an origin some client lists may send.
	if got, _ := send("OPTIONS", oc+"/token", spaOrigin, nil, nil); got != spaOrigin {
		t.Errorf("preflight from spa's origin: Allow-Origin %q", got)
	}
	if got, _ := send("OPTIONS", oc+"/token", "https://evil.example", nil, nil); got != "" {
		t.Errorf("preflight from an unknown origin: Allow-Origin %q", got)
	}
}
