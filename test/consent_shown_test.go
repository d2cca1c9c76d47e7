package test

import (
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestConsentGrantsWhatWasShown: Yes grants the client scopes the page
// listed, never more. A client that adds a scope to its defaults between
// the page and the click (its owner may, through client registration)
// gets the page again with that scope, not a consent nobody read.
func TestConsentGrantsWhatWasShown(t *testing.T) {
	s := seeded(t)
	const cb = "http://127.0.0.1:9999/shown/cb"
	if code := adminJSON(t, s, "POST", "/admin/realms/test/clients", map[string]any{"clientId": "shown-app",
		"secret": "shown-secret", "consentRequired": true, "redirectUris": []string{cb}, "standardFlowEnabled": true}, nil); code != 201 {
		t.Fatalf("create client: %d", code)
	}
	if code := adminJSON(t, s, "POST", "/admin/realms/test/client-scopes", map[string]any{"name": "shown-extra",
		"protocol": "openid-connect"}, nil); code != 201 {
		t.Fatalf("create client scope: %d", code)
	}
	var cls, scopes []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/clients?clientId=shown-app", nil, &cls)
	adminJSON(t, s, "GET", "/admin/realms/test/client-scopes", nil, &scopes)
	i := slices.IndexFunc(scopes, func(m map[string]any) bool { return m["name"] == "shown-extra" })
	if len(cls) != 1 || i < 0 {
		t.Fatalf("client %v, scope at %d", cls, i)
	}
	b := newBrowser(t)
	base, _ := url.Parse(s.URL)
	consentForm := func(p page) (string, string, []string) {
		t.Helper()
		form := find(p.doc, byID("kc-oauth-form"))
		if p.status != 200 || form == nil {
			t.Fatalf("want the consent page, got %d: %.300s", p.status, p.body)
		}
		var shown []string
		list := find(p.doc, byID("kc-oauth-scopes"))
		for li := list.FirstChild; li != nil; li = li.NextSibling {
			if li.FirstChild != nil && strings.TrimSpace(li.FirstChild.Data) != "" {
				shown = append(shown, li.FirstChild.Data)
			}
		}
		a, _ := base.Parse(attr(form, "action"))
		return a.String(), attr(find(form, byName("csrf_token")), "value"), shown
	}
	get := func(p page) page {
		t.Helper()
		if !isRedirect(p.status) {
			t.Fatalf("want a redirect, got %d: %.300s", p.status, p.body)
		}
		next, _ := base.Parse(p.location)
		return b.get(next.String())
	}
	p := b.get(authURL(s.URL, "test", codeQuery("shown-app", cb, "st1", "n1", "")))
	action, csrf := loginForm(t, s.URL, p)
	action, csrf, shown := consentForm(get(b.post(action, url.Values{"username": {"alice"}, "password": {"alice-pass"}, "csrf_token": {csrf}})))
	if slices.Contains(shown, "shown-extra") {
		t.Fatalf("the page already shows the new scope: %q", shown)
	}

	// The client's owner adds a scope while the page is open.
	if code := adminJSON(t, s, "PUT", "/admin/realms/test/clients/"+cls[0]["id"].(string)+"/default-client-scopes/"+scopes[i]["id"].(string),
		nil, nil); code != 204 {
		t.Fatalf("add default scope: %d", code)
	}
	res := b.post(action, url.Values{"accept": {"Yes"}, "csrf_token": {csrf}})
	if isRedirect(res.status) && strings.HasPrefix(res.location, cb) {
		t.Fatalf("Yes on a page that did not list shown-extra signed in: %s", res.location)
	}
	var users []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/test/users?username=alice&exact=true", nil, &users)
	var consents []struct {
		ClientID            string   `json:"clientId"`
		GrantedClientScopes []string `json:"grantedClientScopes"`
	}
	adminJSON(t, s, "GET", "/admin/realms/test/users/"+users[0]["id"].(string)+"/consents", nil, &consents)
	for _, c := range consents {
		if c.ClientID == "shown-app" && slices.Contains(c.GrantedClientScopes, "shown-extra") {
			t.Fatalf("a scope the page did not list was granted: %+v", c)
		}
	}
	// The page again, now listing it; Yes grants it.
	action, csrf, shown = consentForm(get(res))
	if !slices.Contains(shown, "shown-extra") {
		t.Fatalf("the page shown again lacks the new scope: %q", shown)
	}
	res = b.post(action, url.Values{"accept": {"Yes"}, "csrf_token": {csrf}})
	if !isRedirect(res.status) || !strings.HasPrefix(res.location, cb+"?") || !strings.Contains(res.location, "code=") {
		t.Fatalf("Yes on the page listing it: %d %q", res.status, res.location)
	}
}
