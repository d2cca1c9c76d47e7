package login

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// resolveLocale's order is Keycloak's: kc_locale, the user's locale,
// ui_locales, the KEYCLOAK_LOCALE cookie, Accept-Language, the realm's
// default, English; only supported languages count.
func TestResolveLocaleOrder(t *testing.T) {
	realm := &oidc.Realm{Row: store.Realm{Name: "r"}, Settings: rep.RealmSettings{InternationalizationEnabled: true,
		SupportedLocales: []string{"en", "de", "fr", "nl", "es", "pt-BR"}, DefaultLocale: "es"}}
	h := &Handler{}
	user := func(l string) *store.User { return &store.User{Attributes: map[string][]string{"locale": {l}}} }
	for _, tc := range []struct {
		name   string
		query  string // of this request
		form   url.Values
		user   *store.User
		cookie string
		accept string
		want   string
	}{
		{name: "realm default", want: "es"},
		{name: "Accept-Language", accept: "fr-CA, de;q=0.5", want: "fr"},
		{name: "Accept-Language region", accept: "pt-br", want: "pt-BR"},
		{name: "cookie", cookie: "nl", accept: "fr", want: "nl"},
		{name: "ui_locales", form: url.Values{"ui_locales": {"xx de"}}, cookie: "nl", accept: "fr", want: "de"},
		{name: "user", form: url.Values{"ui_locales": {"de"}}, user: user("fr"), cookie: "nl", want: "fr"},
		{name: "user unsupported", form: url.Values{"ui_locales": {"de"}}, user: user("it"), want: "de"},
		{name: "kc_locale of the attempt", form: url.Values{"kc_locale": {"nl"}, "ui_locales": {"de"}}, user: user("fr"), want: "nl"},
		{name: "kc_locale of this request", query: "kc_locale=en", form: url.Values{"kc_locale": {"nl"}}, want: "en"},
		{name: "unsupported everything", query: "kc_locale=it", cookie: "ja", accept: "ru", want: "es"},
		// Only the first 32 ui_locales tags are read (each is matched
		// against every supported locale).
		{name: "ui_locales past the cap", form: url.Values{"ui_locales": {strings.Repeat("xx ", maxLocaleHints) + "de"}}, want: "es"},
		{name: "ui_locales at the cap", form: url.Values{"ui_locales": {strings.Repeat("xx ", maxLocaleHints-1) + "de"}}, want: "de"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/realms/r/x?"+tc.query, nil)
			if tc.cookie != "" {
				r.AddCookie(&http.Cookie{Name: cookieLocale, Value: tc.cookie})
			}
			if tc.accept != "" {
				r.Header.Set("Accept-Language", tc.accept)
			}
			if tc.form != nil || tc.user != nil {
				r = h.withUserLocale(r, realm, tc.form.Encode(), tc.user)
			}
			if got := resolveLocale(r, realm); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	off := &oidc.Realm{Settings: rep.RealmSettings{SupportedLocales: []string{"de"}, DefaultLocale: "de"}}
	r := httptest.NewRequest(http.MethodGet, "/realms/r/x?kc_locale=de", nil)
	r.Header.Set("Accept-Language", "de")
	if got := resolveLocale(h.withUserLocale(r, off, "ui_locales=de", user("de")), off); got != "en" {
		t.Errorf("internationalization off: %q, want en", got)
	}
}

func TestAcceptLanguage(t *testing.T) {
	sup := []string{"en", "de", "fr"}
	for header, want := range map[string]string{
		"":                             "",
		"*":                            "",
		"de;q=0":                       "",
		"it, fr;q=0.1":                 "fr",
		"en;q=0.5, de;q=0.9":           "de",
		"en;q=bad, fr":                 "fr",
		"DE-de":                        "de",
		"fr;q=0.8, de;q=0.8, en;q=0.1": "fr",
	} {
		if got := acceptLanguage(sup, header); got != want {
			t.Errorf("%q: got %q, want %q", header, got, want)
		}
	}
}
