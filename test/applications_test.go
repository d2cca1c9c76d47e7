package test

import (
	"encoding/json"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestAccountApplications: the account console's Applications, page and
// REST API, over real grants: an application holding offline access and
// one the user consented to (through the consent screen) are listed with
// what they were granted, and removing access ends the offline token and
// the consent (the next login asks again); only manage-account removes.
func TestAccountApplications(t *testing.T) {
	s := accountRealm(t)
	acct := s.URL + "/realms/acct/account"
	const cb = "http://127.0.0.1:9999/consent/cb"
	if code := adminJSON(t, s, "POST", "/admin/realms/acct/clients", map[string]any{"clientId": "consent-app", "name": "Consent App",
		"secret": "consent-secret", "consentRequired": true, "redirectUris": []string{cb}}, nil); code != 201 {
		t.Fatalf("create client: %d", code)
	}
	// Offline access for app, by the password grant.
	var offlineRole map[string]any
	if code := adminJSON(t, s, "GET", "/admin/realms/acct/roles/offline_access", nil, &offlineRole); code != 200 {
		t.Fatalf("offline_access role: %d", code)
	}
	offline := func(name string) map[string]any {
		t.Helper()
		var users []map[string]any
		adminJSON(t, s, "GET", "/admin/realms/acct/users?username="+name+"&exact=true", nil, &users)
		if code := adminJSON(t, s, "POST", "/admin/realms/acct/users/"+users[0]["id"].(string)+"/role-mappings/realm", []any{offlineRole}, nil); code != 204 {
			t.Fatalf("grant offline_access: %d", code)
		}
		code, off := postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"password"}, "username": {name}, "password": {name + "-pass-1"},
			"scope": {"openid offline_access"}}, "app", "app-secret")
		if code != 200 {
			t.Fatalf("offline grant: %d %v", code, off)
		}
		return off
	}
	off := offline("ann")
	ottoOff := offline("otto") // another user's grant to the same client
	// Consent for consent-app, through the consent screen.
	b := newBrowser(t)
	consoleLogin(t, s, b, "ann", "ann-pass-1", "/")
	screen := b.get(s.URL + "/realms/acct/protocol/openid-connect/auth?" + url.Values{"client_id": {"consent-app"}, "redirect_uri": {cb},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"st"}}.Encode())
	u, _ := url.Parse(s.URL)
	next, _ := u.Parse(screen.location)
	page1 := b.get(next.String())
	form := find(page1.doc, byID("kc-oauth-form"))
	if form == nil {
		t.Fatalf("no consent screen: %d %.300s", page1.status, page1.body)
	}
	action, _ := u.Parse(attr(form, "action"))
	if r := b.post(action.String(), url.Values{"accept": {"Yes"}, "csrf_token": {attr(find(form, byName("csrf_token")), "value")}}); !strings.HasPrefix(r.location, cb) {
		t.Fatalf("consent: %d %q", r.status, r.location)
	}

	// The REST API.
	_, tok := passwordToken(t, s, "ann", "ann-pass-1")
	at := tok["access_token"].(string)
	code, body, _ := accountAPI(t, s, "GET", "/applications", at, nil)
	var apps []struct {
		ClientID      string `json:"clientId"`
		ClientName    string `json:"clientName"`
		InUse         bool   `json:"inUse"`
		OfflineAccess bool   `json:"offlineAccess"`
		Consent       *struct {
			GrantedScopes []struct{ Name, DisplayText string } `json:"grantedScopes"`
		} `json:"consent"`
	}
	if code != 200 || json.Unmarshal(body, &apps) != nil {
		t.Fatalf("GET /applications: %d %s", code, body)
	}
	index := map[string]int{}
	for i, a := range apps {
		index[a.ClientID] = i
	}
	app, ok := index["app"]
	if !ok || !apps[app].OfflineAccess || apps[app].Consent != nil {
		t.Errorf("app: %+v", apps)
	}
	ca, ok := index["consent-app"]
	if !ok || apps[ca].ClientName != "Consent App" || apps[ca].Consent == nil ||
		!slices.ContainsFunc(apps[ca].Consent.GrantedScopes, func(g struct{ Name, DisplayText string }) bool {
			return g.Name == "email" && g.DisplayText == "Email address"
		}) {
		t.Errorf("consent-app: %+v", apps)
	}

	// The page lists both, with Remove access.
	p := b.get(acct + "/applications")
	if p.status != 200 || find(p.doc, byID("remove-app")) == nil || find(p.doc, byID("remove-consent-app")) == nil ||
		!strings.Contains(textOf(find(p.doc, byID("application-consent-app"))), "Email address") {
		t.Fatalf("applications page: %d %.600s", p.status, p.body)
	}

	// Only manage-account removes: vera may only look.
	_, vt := passwordToken(t, s, "vera", "vera-pass-1")
	if code, _, _ := accountAPI(t, s, "DELETE", "/applications/app/consent", vt["access_token"].(string), nil); code != 403 {
		t.Errorf("view-profile removed access: %d", code)
	}
	// Which applications someone uses and consented to is not their
	// profile: view-profile alone does not list them (Keycloak asks
	// manage-account or view-applications), view-applications does.
	if code, body, _ := accountAPI(t, s, "GET", "/applications", vt["access_token"].(string), nil); code != 403 {
		t.Errorf("view-profile listed the applications: %d %.200s", code, body)
	}
	var accountClients, vera []map[string]any
	adminJSON(t, s, "GET", "/admin/realms/acct/clients?clientId=account", nil, &accountClients)
	adminJSON(t, s, "GET", "/admin/realms/acct/users?username=vera&exact=true", nil, &vera)
	var viewApps map[string]any
	if code := adminJSON(t, s, "GET", "/admin/realms/acct/clients/"+accountClients[0]["id"].(string)+"/roles/view-applications", nil, &viewApps); code != 200 {
		t.Fatalf("view-applications role: %d", code)
	}
	if code := adminJSON(t, s, "POST", "/admin/realms/acct/users/"+vera[0]["id"].(string)+"/role-mappings/clients/"+accountClients[0]["id"].(string),
		[]any{viewApps}, nil); code != 204 {
		t.Fatalf("grant view-applications: %d", code)
	}
	_, vt = passwordToken(t, s, "vera", "vera-pass-1")
	if code, body, _ := accountAPI(t, s, "GET", "/applications", vt["access_token"].(string), nil); code != 200 {
		t.Errorf("view-applications could not list the applications: %d %.200s", code, body)
	}
	if code, _, _ := accountAPI(t, s, "DELETE", "/applications/no-such-app/consent", at, nil); code != 404 {
		t.Errorf("unknown client: %d", code)
	}
	// REST removes app's offline access; the page's form removes the consent.
	if code, body, _ := accountAPI(t, s, "DELETE", "/applications/app/consent", at, nil); code != 204 {
		t.Fatalf("remove app's access: %d %s", code, body)
	}
	if code, _ := postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {off["refresh_token"].(string)}},
		"app", "app-secret"); code != 400 {
		t.Errorf("offline token after its access was removed: %d", code)
	}
	if code, _ := postForm(t, s.oc("acct")+"/token", url.Values{"grant_type": {"refresh_token"}, "refresh_token": {ottoOff["refresh_token"].(string)}},
		"app", "app-secret"); code != 200 {
		t.Errorf("ann's Remove access ended otto's offline token of the same client: %d", code)
	}
	p = b.get(acct + "/applications")
	rm := find(p.doc, byID("remove-consent-app"))
	if rm == nil {
		t.Fatalf("no Remove access for consent-app: %.400s", p.body)
	}
	f := rm.Parent
	fa, _ := u.Parse(attr(f, "action"))
	if r := b.post(fa.String(), url.Values{"csrf_token": {attr(find(f, byName("csrf_token")), "value")}}); r.status != 303 {
		t.Fatalf("remove access form: %d", r.status)
	}
	if again := b.get(s.URL + "/realms/acct/protocol/openid-connect/auth?" + url.Values{"client_id": {"consent-app"}, "redirect_uri": {cb},
		"response_type": {"code"}, "scope": {"openid email"}, "state": {"st2"}}.Encode()); !strings.Contains(again.location, "execution=OAUTH_GRANT") {
		t.Errorf("after removing access the login does not ask again: %d %q", again.status, again.location)
	}
}
