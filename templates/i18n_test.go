package templates

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"testing"
)

var placeholder = regexp.MustCompile(`\{(\d+)`)

// placeholders are the argument indexes s uses ({0}, {1,choice,...}).
func placeholders(s string) []string {
	var out []string
	for _, m := range placeholder.FindAllStringSubmatch(s, -1) {
		if !slices.Contains(out, m[1]) {
			out = append(out, m[1])
		}
	}
	slices.Sort(out)
	return out
}

// Every shipped language has every English key, with the same
// placeholders. A key added to messages.go alone fails here: add its
// translation to each of messages_de.go, _fr, _nl and _es.
func TestCatalogsComplete(t *testing.T) {
	for _, lang := range Languages {
		cat, ok := Catalogs[lang]
		if !ok {
			t.Fatalf("no catalog for %s", lang)
		}
		if lang == "en" {
			continue
		}
		for key, en := range Messages {
			tr, ok := cat[key]
			switch {
			case !ok:
				t.Errorf("%s: missing %q (English: %q)", lang, key, en)
			case strings.TrimSpace(tr) == "":
				t.Errorf("%s: %q is empty", lang, key)
			case !slices.Equal(placeholders(tr), placeholders(en)):
				t.Errorf("%s: %q has placeholders %v, English %v", lang, key, placeholders(tr), placeholders(en))
			}
		}
		// A key only a translation has is harmless (a typo shows as the
		// right key missing above): one whose English text is on its way,
		// or one English dropped.
		for key := range cat {
			if _, ok := Messages[key]; !ok {
				t.Logf("%s: %q is not (yet) an English key", lang, key)
			}
		}
	}
	if len(Catalogs) != len(Languages) {
		t.Errorf("Catalogs has %d languages, Languages %d", len(Catalogs), len(Languages))
	}
}

// The translations are translations: most differ from English.
func TestCatalogsTranslated(t *testing.T) {
	for _, lang := range Languages[1:] {
		same := 0
		for key, en := range Messages {
			if Catalogs[lang][key] == en {
				same++
			}
		}
		if same*10 > len(Messages) {
			t.Errorf("%s: %d of %d texts are the English ones", lang, same, len(Messages))
		}
	}
}

func TestLocalizer(t *testing.T) {
	de := NewLocalizer("de", map[string]string{"doLogIn": "Los {0}"})
	if got := de.Message("doLogIn", "jetzt"); got != "Los jetzt" {
		t.Errorf("override: %q", got)
	}
	if got := de.Message("password"); got != "Passwort" {
		t.Errorf("German catalog: %q", got)
	}
	if got := de.Message("invalidPasswordMinLengthMessage", 12); got != "Ungültiges Passwort: Es muss mindestens 12 Zeichen lang sein." {
		t.Errorf("placeholder: %q", got)
	}
	if got := NewLocalizer("de-AT", nil).Message("password"); got != "Passwort" {
		t.Errorf("regional variant falls back to its language: %q", got)
	}
	if got := NewLocalizer("it", map[string]string{"password": "Parola d'ordine"}); got.Message("password") != "Parola d'ordine" || got.Message("username") != "Username" || got.Lang() != "it" {
		t.Errorf("a language without a catalog: its realm texts, then English")
	}
	var nilL *Localizer
	if nilL.Message("doLogIn") != "Sign In" || nilL.Lang() != "en" || nilL.Message("noSuchKey") != "noSuchKey" {
		t.Error("nil localizer is English")
	}
	ctx := WithLocalizer(context.Background(), NewLocalizer("fr", nil))
	if got := T(ctx, "doLogIn"); got != "Connexion" {
		t.Errorf("T(ctx): %q", got)
	}
	if got := T(context.Background(), "doLogIn"); got != "Sign In" {
		t.Errorf("T without localizer: %q", got)
	}
}

// Pages render in Page.Loc's language, <html lang> included, and show the
// language menu only with two or more languages.
func TestPagesLocalized(t *testing.T) {
	p := Page{RealmName: "acme", Loc: NewLocalizer("de", nil)}
	doc := renderDoc(t, Login(LoginView{Page: p, RegisterURL: "/realms/acme/login-actions/registration?x=1", RememberMe: true}))
	if got := attrOf(findAll(doc, tag("html"))[0], "lang"); got != "de" {
		t.Errorf("html lang = %q", got)
	}
	if got := attrOf(byID(t, doc, "kc-login"), "value"); got != "Anmelden" {
		t.Errorf("button = %q", got)
	}
	if got := text(byID(t, doc, "kc-registration")); !strings.Contains(got, "Neuer Benutzer?") || !strings.Contains(got, "Registrieren") {
		t.Errorf("register hint = %q", got)
	}
	if hasID(doc, "kc-locale-dropdown") {
		t.Error("language menu without languages")
	}
	p.Locales = []LocaleOption{{"en", "English", "/x?kc_locale=en"}, {"de", "Deutsch", "/x?kc_locale=de"}}
	doc = renderDoc(t, Register(RegisterView{Page: p}))
	if got := text(byID(t, doc, "kc-current-locale-link")); got != "Deutsch" {
		t.Errorf("current language = %q", got)
	}
	var current []string
	for _, a := range findAll(byID(t, doc, "kc-locale-dropdown"), tag("a")) {
		if attrOf(a, "aria-current") == "true" {
			current = append(current, attrOf(a, "hreflang"))
		}
	}
	if !slices.Equal(current, []string{"de"}) {
		t.Errorf("aria-current on %v", current)
	}
	if got := attrOf(byID(t, doc, "kc-register"), "value"); got != "Registrieren" {
		t.Errorf("register button = %q", got)
	}
	if got := attrOf(byID(t, doc, "password-confirm"), "name"); got != "password-confirm" {
		t.Errorf("password-confirm field = %q", got)
	}
}
