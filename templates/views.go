// Package templates renders keygate's browser pages: the Keycloak-compatible
// login, logout-confirmation, error, info and form_post pages (templ
// components fed plain view structs), the hidden-iframe pages keycloak-js
// loads, and the stylesheet they share.
//
// Element ids and form field names follow Keycloak's login theme
// (kc-form-login, username, password, rememberMe, kc-login, kc-logout,
// input-error, kc-error-message, ...) so tooling written against Keycloak
// finds them. Every text comes from Messages.
package templates

import (
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/a-h/templ"
)

// Page is what every page needs about the realm.
type Page struct {
	RealmName        string
	RealmDisplayName string // shown when set, else RealmName
	Lang             string // <html lang>; "" = Loc's language
	StylesheetURL    string // where the server serves StylesheetPath (prefix included)
	// Loc is the page's language: views call v.T("key"), templates inside
	// the layout also T(ctx, "key"). nil = English.
	Loc *Localizer
	// Locales fill the language menu (Keycloak's kc-locale-dropdown);
	// shown when there are two or more.
	Locales []LocaleOption
}

// LocaleOption is one entry of the language menu: a link that shows the
// same page in another language (kc_locale).
type LocaleOption struct {
	Tag, Label, URL string
}

// T is the text for key in the page's language.
func (p Page) T(key string, args ...any) string { return p.Loc.Message(key, args...) }

// Text is a text from Keycloak's settings (a client scope's
// consent.screen.text, a client's name): "${key}" is key's message in the
// page's language, anything else itself.
func (p Page) Text(s string) string {
	if k := ClientNameKey(s); k != s {
		return p.T(k)
	}
	return s
}

// currentLocale is the menu's label for the page's language.
func (p Page) currentLocale() string { return LocaleName(p.lang()) }

// LoginView feeds Login.
type LoginView struct {
	Page
	FormAction        string // POST target of the form
	CSRFToken         string // posted back as csrf_token
	Username          string // re-displayed after a failed attempt, or login_hint
	Error             string // already-localized message, "" = none
	LoginWithEmail    bool   // label the field "Username or email"
	EmailOnly         bool   // label it "Email" (registrationEmailAsUsername)
	RememberMe        bool   // show the remember-me checkbox
	RememberMeChecked bool   // pre-tick it (re-display)
	ClientName        string // "to continue to ..." under the heading, "" = omitted
	// Info is an already-localized notice above the form ("Authenticate to
	// link your account with ..."), "" = none.
	Info string
	// UsernameReadOnly fixes the username (re-authentication to link an
	// identity-provider account).
	UsernameReadOnly bool
	// Providers are the identity providers offered under the form
	// (Keycloak's social providers), in guiOrder.
	Providers []SocialProvider
	// RegisterURL is the "New user? Register" link (kc-registration), ""
	// when the realm does not allow registration.
	RegisterURL string
	// ResetPasswordURL is the "Forgot Password?" link, "" when the realm
	// does not allow resetting passwords (resetPasswordAllowed).
	ResetPasswordURL string
}

// SocialProvider is one identity-provider button of the login page.
type SocialProvider struct {
	Alias, DisplayName, LoginURL string
}

// ReviewProfileView feeds ReviewProfile (Keycloak's idp-review-profile):
// a first broker login asks for what the identity provider did not give.
type ReviewProfileView struct {
	Page
	FormAction, CSRFToken                string
	Username, Email, FirstName, LastName string
	AskUsername                          bool // false when the realm names users by email
	Error                                string
	ErrorField                           string // "username", "email", ... the error is about
}

// LinkConfirmView feeds LinkConfirm (Keycloak's login-idp-link-confirm):
// the brokered account matches an existing user.
type LinkConfirmView struct {
	Page
	FormAction, CSRFToken string
	Message               string // already localized
}

// ErrorView feeds Error.
type ErrorView struct {
	Page
	Title, Message string
	BackURL        string // "" = no link back to the application
	Status         int    // HTTP status, shown as a small caption; 0 = none
}

// LogoutConfirmView feeds LogoutConfirm.
type LogoutConfirmView struct {
	Page
	FormAction, CSRFToken string
	// Hidden are re-posted with the confirmation: client_id,
	// post_logout_redirect_uri, state, id_token_hint, ui_locales...
	// Empty values are omitted (OAuth treats them as absent).
	Hidden  map[string]string
	BackURL string // "" = no link back to the application
}

// InfoView feeds Info ("You are logged out", "Page has expired", ...).
type InfoView struct {
	Page
	Title, Message string
	BackURL        string // "" = no link
}

// FormPostView feeds FormPost (OIDC response_mode=form_post).
type FormPostView struct {
	RedirectURI   string
	Params        [][2]string // name, value; order kept
	Lang          string      // "" = "en"
	StylesheetURL string      // optional; styles the no-JavaScript fallback
}

func (p Page) name() string {
	if p.RealmDisplayName != "" {
		return p.RealmDisplayName
	}
	return p.RealmName
}

func (p Page) lang() string {
	if p.Lang == "" {
		return p.Loc.Lang()
	}
	return p.Lang
}

func langOr(l string) string {
	if l == "" {
		return "en"
	}
	return l
}

// monogram is the first letter of the realm's name for the logo tile.
func (p Page) monogram() string {
	for _, r := range p.name() {
		if unicode.IsLetter(r) || unicode.IsDigit(r) {
			return string(unicode.ToUpper(r))
		}
	}
	return ""
}

// title is the document title: "<page> · <realm>".
func (p Page) title(page string) string {
	switch n := p.name(); {
	case n == "":
		return page
	case page == "":
		return n
	default:
		return page + " · " + n
	}
}

func (v LoginView) title() string {
	if n := v.name(); n != "" {
		return v.T("loginTitle", n)
	}
	return v.T("loginAccountTitle")
}

func (v LoginView) usernameLabel() string {
	switch {
	case v.EmailOnly:
		return v.T("email")
	case v.LoginWithEmail:
		return v.T("usernameOrEmail")
	}
	return v.T("username")
}

// statusText is "400 · Bad Request".
func statusText(code int) string {
	if code <= 0 {
		return ""
	}
	s := strconv.Itoa(code)
	if t := http.StatusText(code); t != "" {
		s += " · " + t
	}
	return s
}

type field struct{ Name, Value string }

func (v LogoutConfirmView) hiddenFields() []field {
	out := make([]field, 0, len(v.Hidden))
	for k, val := range v.Hidden {
		if k == "" || val == "" || k == "csrf_token" || k == "confirmLogout" {
			continue
		}
		out = append(out, field{k, val})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// postTarget allows any scheme a registered redirect_uri may use (custom
// schemes of native apps included) but never a script-running one; templ's
// default sanitizer would reject custom schemes.
func postTarget(s string) templ.SafeURL {
	if !utf8.ValidString(s) || strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
		return templ.FailedSanitizationURL
	}
	u, err := url.Parse(s)
	if err != nil {
		return templ.FailedSanitizationURL
	}
	switch strings.ToLower(u.Scheme) {
	case "javascript", "vbscript", "data", "blob", "file":
		return templ.FailedSanitizationURL
	}
	return templ.SafeURL(s)
}

// formPostScript is FormPost's inline script, verbatim.
const formPostScript = "document.forms[0].submit()"

// FormPostScriptHash is the CSP source for FormPost's inline script; send
// `Content-Security-Policy: script-src '` + FormPostScriptHash + `'`.
// templates_test.go fails when it drifts from the rendered script.
const FormPostScriptHash = "sha256-ePniVEkSivX/c7XWBGafqh8tSpiRrKiqYeqbG7N1TOE="
