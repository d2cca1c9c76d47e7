package admin_test

import (
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

func TestLocalizationTexts(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "l10n", "enabled": true, "sslRequired": "none",
		"internationalizationEnabled": true, "supportedLocales": []string{"en", "de"}, "defaultLocale": "en",
		"clients": []map[string]any{{"clientId": "app", "publicClient": true, "redirectUris": []string{"https://app.example.com/cb"}}}})
	base := "/admin/realms/l10n/localization"
	var locales []string
	e.must(200, "GET", base, e.admin, nil).json(t, &locales)
	if len(locales) != 0 {
		t.Fatalf("a new realm has texts for %v", locales)
	}
	e.must(204, "POST", base+"/de", e.admin, map[string]string{"doLogIn": "Los geht's", "loginAccountTitle": "Willkommen"})
	e.must(204, "PUT", base+"/de/rememberMe", e.admin, "Eingeloggt bleiben")
	e.must(204, "PUT", base+"/fr", e.admin, map[string]string{"doLogIn": "Allons-y"})
	e.must(200, "GET", base, e.admin, nil).json(t, &locales)
	if !slices.Equal(locales, []string{"de", "fr"}) {
		t.Errorf("locales = %v", locales)
	}
	var de map[string]string
	e.must(200, "GET", base+"/de", e.admin, nil).json(t, &de)
	if len(de) != 3 || de["doLogIn"] != "Los geht's" || de["rememberMe"] != "Eingeloggt bleiben" {
		t.Errorf("de = %v", de)
	}
	if r := e.must(200, "GET", base+"/de/doLogIn", e.admin, nil); string(r.body) != "Los geht's" || !strings.HasPrefix(r.header.Get("Content-Type"), "text/plain") {
		t.Errorf("one text: %q %s", r.body, r.header.Get("Content-Type"))
	}
	e.must(404, "GET", base+"/de/noSuchKey", e.admin, nil)
	e.must(400, "POST", base+"/de", e.admin, `["not", "an", "object"]`)
	e.must(400, "GET", base+"/de%20x", e.admin, nil)

	// The login page shows the realm's text for the chosen language.
	q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}, "kc_locale": {"de"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"},
		"code_challenge_method": {"S256"}}
	page := func() string {
		resp, err := http.Get(e.url + "/realms/l10n/protocol/openid-connect/auth?" + q.Encode())
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if p := page(); !strings.Contains(p, `value="Los geht&#39;s"`) || !strings.Contains(p, "Willkommen") {
		t.Errorf("login page ignores the realm's texts:\n%s", p)
	}

	e.must(204, "DELETE", base+"/de/doLogIn", e.admin, nil)
	e.must(404, "DELETE", base+"/de/doLogIn", e.admin, nil)
	if p := page(); !strings.Contains(p, `value="Anmelden"`) {
		t.Errorf("a deleted text still shows, or the German catalog does not:\n%s", p)
	}
	e.must(204, "DELETE", base+"/de", e.admin, nil)
	e.must(404, "DELETE", base+"/de", e.admin, nil)
	e.must(200, "GET", base, e.admin, nil).json(t, &locales)
	if !slices.Equal(locales, []string{"fr"}) {
		t.Errorf("after deleting de: %v", locales)
	}

	// A realm update without texts keeps them.
	e.must(204, "PUT", "/admin/realms/l10n", e.admin, map[string]any{"realm": "l10n", "displayName": "L10n"})
	e.must(200, "GET", base, e.admin, nil).json(t, &locales)
	if !slices.Equal(locales, []string{"fr"}) {
		t.Errorf("after a realm update: %v", locales)
	}

	// Reading needs view-realm, writing manage-realm.
	viewer := e.userWithRoles("l10n", "viewer", "view-realm")
	e.must(200, "GET", base+"/fr", viewer, nil)
	e.must(403, "PUT", base+"/fr/doLogIn", viewer, "x")
	e.must(403, "DELETE", base+"/fr", viewer, nil)
	nobody := e.userWithRoles("l10n", "nobody")
	e.must(403, "GET", base+"/fr", nobody, nil)
}
