package usermail

import (
	"testing"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// A mail's language: English with internationalization off, else the
// user's locale, else the realm's default; the realm's texts win.
func TestMailLanguage(t *testing.T) {
	fr := store.User{Attributes: map[string][]string{"locale": {"fr"}}}
	off := &oidc.Realm{Settings: rep.RealmSettings{DefaultLocale: "de"}}
	if l := localizer(off, fr); l.Lang() != "en" {
		t.Errorf("internationalization off: %s", l.Lang())
	}
	on := &oidc.Realm{Settings: rep.RealmSettings{InternationalizationEnabled: true, DefaultLocale: "de"},
		Rep: rep.Realm{LocalizationTexts: map[string]map[string]string{"fr": {"passwordResetSubject": "Nouveau mot de passe"}}}}
	if l := localizer(on, store.User{}); l.Lang() != "de" || l.Message("passwordResetSubject") != "Passwort zurücksetzen" {
		t.Errorf("realm default: %s %q", l.Lang(), l.Message("passwordResetSubject"))
	}
	if l := localizer(on, fr); l.Lang() != "fr" || l.Message("passwordResetSubject") != "Nouveau mot de passe" {
		t.Errorf("user's locale with the realm's text: %s %q", l.Lang(), l.Message("passwordResetSubject"))
	}
}
