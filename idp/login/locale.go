package login

import (
	"context"
	"math"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// cookieLocale remembers the language a person picked (Keycloak's
// KEYCLOAK_LOCALE), so the next login in this browser starts in it.
const cookieLocale = "KEYCLOAK_LOCALE"

// paramLocale is Keycloak's kc_locale: the language menu's choice.
const paramLocale = "kc_locale"

// localeHints are what a page's language is chosen from besides the
// request itself; pages find them in the request context (withLocale).
type localeHints struct {
	requested string     // kc_locale of the login attempt's request
	client    string     // ui_locales of the authorization request
	user      string     // the user's "locale" attribute
	menu      *url.URL   // where the language menu's links point ("" = this GET request)
	form      url.Values // the authorization request the menu's links repeat
}

type localeHintsKey struct{}

// withLocale returns r carrying the language hints of the authorization
// request form (kc_locale, ui_locales) and of user (nil if none known),
// for h.page. The language menu's links repeat the authorization request
// with kc_locale, which starts the attempt again in that language, so
// they work from pages answering a POST too.
func (h *Handler) withLocale(r *http.Request, realm *oidc.Realm, form url.Values, user *store.User) *http.Request {
	var hints localeHints
	if old, ok := r.Context().Value(localeHintsKey{}).(*localeHints); ok {
		hints = *old
	}
	if form != nil {
		hints.requested, hints.client, hints.form = form.Get(paramLocale), form.Get("ui_locales"), form
		hints.menu = &url.URL{Path: realmPath(r, realm) + "protocol/openid-connect/auth"}
	}
	if user != nil {
		if v := user.Attributes["locale"]; len(v) > 0 {
			hints.user = v[0]
		}
	}
	return r.WithContext(context.WithValue(r.Context(), localeHintsKey{}, &hints))
}

// withUserLocale is withLocale for a page that is not the login form
// (a login step after the password, such as a required action): the
// language hints of the authorization request query and of user, while
// the language menu links to the page itself (this GET with kc_locale).
func (h *Handler) withUserLocale(r *http.Request, realm *oidc.Realm, query string, user *store.User) *http.Request {
	form, _ := url.ParseQuery(query)
	r = h.withLocale(r, realm, form, user)
	hints := r.Context().Value(localeHintsKey{}).(*localeHints)
	hints.menu, hints.form = nil, nil
	return r
}

// supportedLocales are the languages realm offers: its supportedLocales
// (with its defaultLocale), or every shipped language when it lists none.
func supportedLocales(realm *oidc.Realm) []string {
	s := realm.Settings
	if len(s.SupportedLocales) == 0 {
		return templates.Languages
	}
	if s.DefaultLocale == "" || slices.Contains(s.SupportedLocales, s.DefaultLocale) {
		return s.SupportedLocales
	}
	return append([]string{s.DefaultLocale}, s.SupportedLocales...)
}

// resolveLocale picks the page's language as Keycloak's default locale
// selector does: English when the realm has internationalization off;
// else the first supported one of the language menu's choice (kc_locale
// of this request or of the login attempt), the user's locale attribute,
// the client's ui_locales, the KEYCLOAK_LOCALE cookie, Accept-Language,
// the realm's defaultLocale, English. It reads only the request and the
// realm already loaded.
func resolveLocale(r *http.Request, realm *oidc.Realm) string {
	s := realm.Settings
	if !s.InternationalizationEnabled {
		return "en"
	}
	sup := supportedLocales(realm)
	hints, _ := r.Context().Value(localeHintsKey{}).(*localeHints)
	if hints == nil {
		hints = &localeHints{}
	}
	if l := matchLocale(sup, r.URL.Query().Get(paramLocale)); l != "" {
		return l
	}
	if l := matchLocale(sup, hints.requested); l != "" {
		return l
	}
	if l := matchLocale(sup, hints.user); l != "" {
		return l
	}
	// At most maxLocaleHints tags, as for Accept-Language: each is matched
	// against every supported locale, and the query string is large.
	for i, t := range strings.Fields(hints.client) {
		if i == maxLocaleHints {
			break
		}
		if l := matchLocale(sup, t); l != "" {
			return l
		}
	}
	if ck, err := r.Cookie(cookieLocale); err == nil {
		if l := matchLocale(sup, ck.Value); l != "" {
			return l
		}
	}
	if l := acceptLanguage(sup, r.Header.Get("Accept-Language")); l != "" {
		return l
	}
	if s.DefaultLocale != "" {
		return s.DefaultLocale
	}
	return "en"
}

// matchLocale is the supported tag that tag names: the same tag (case
// and "_" or "-" aside), else the supported base language ("de" for
// "de-AT"); "" for none.
func matchLocale(supported []string, tag string) string {
	tag = strings.TrimSpace(tag)
	if tag == "" || len(tag) > 35 {
		return ""
	}
	norm := func(s string) string { return strings.ToLower(strings.ReplaceAll(s, "_", "-")) }
	t := norm(tag)
	for _, s := range supported {
		if norm(s) == t {
			return s
		}
	}
	base, _, _ := strings.Cut(t, "-")
	for _, s := range supported {
		if norm(s) == base {
			return s
		}
	}
	return ""
}

// maxLocaleHints bounds the language tags read from one ui_locales or
// Accept-Language value.
const maxLocaleHints = 32

// acceptLanguage is the supported language the Accept-Language header
// ranks highest (RFC 9110 quality values; "*" and q=0 ignored).
func acceptLanguage(supported []string, header string) string {
	if header == "" {
		return ""
	}
	type pref struct {
		tag string
		q   float64
		i   int
	}
	var prefs []pref
	for i, part := range strings.SplitN(header, ",", maxLocaleHints) {
		tag, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		q := 1.0
		// "q" is case-insensitive, as every ABNF literal (RFC 9110 12.4.2).
		if p := strings.TrimSpace(params); len(p) >= 2 && (p[0] == 'q' || p[0] == 'Q') && p[1] == '=' {
			f, err := strconv.ParseFloat(strings.TrimSpace(p[2:]), 64)
			if err != nil || math.IsNaN(f) {
				// q=NaN compares false with every quality: sorted among
				// the others, it kept a lower one ahead of a higher one.
				continue
			}
			q = f
		}
		if tag = strings.TrimSpace(tag); tag == "" || tag == "*" || q <= 0 {
			continue
		}
		prefs = append(prefs, pref{tag, q, i})
	}
	sort.SliceStable(prefs, func(a, b int) bool { return prefs[a].q > prefs[b].q })
	for _, p := range prefs {
		if l := matchLocale(supported, p.tag); l != "" {
			return l
		}
	}
	return ""
}

// localizer is the page language's Localizer with the realm's own texts
// for it (localizationTexts: the exact tag, else its base language).
func localizer(realm *oidc.Realm, lang string) *templates.Localizer {
	texts := realm.Rep.LocalizationTexts
	over := texts[lang]
	if over == nil {
		if base, _, ok := strings.Cut(lang, "-"); ok {
			over = texts[base]
		}
	}
	return templates.NewLocalizer(lang, over)
}

// localeMenu is the language menu of a page in lang: every supported
// language, each linking to the same page with kc_locale; nil when the
// realm has internationalization off or offers one language.
func localeMenu(r *http.Request, realm *oidc.Realm) []templates.LocaleOption {
	if !realm.Settings.InternationalizationEnabled {
		return nil
	}
	sup := supportedLocales(realm)
	if len(sup) < 2 {
		return nil
	}
	var base url.URL
	var q url.Values
	if hints, _ := r.Context().Value(localeHintsKey{}).(*localeHints); hints != nil && hints.menu != nil {
		base, q = *hints.menu, url.Values{}
		for k, v := range hints.form {
			q[k] = v
		}
	} else if r.Method == http.MethodGet || r.Method == http.MethodHead {
		base, q = url.URL{Path: oidc.PathPrefix(r.Context()) + r.URL.Path}, r.URL.Query()
	} else {
		return nil
	}
	out := make([]templates.LocaleOption, 0, len(sup))
	for _, tag := range sup {
		q.Set(paramLocale, tag)
		u := base
		u.RawQuery = q.Encode()
		out = append(out, templates.LocaleOption{Tag: tag, Label: templates.LocaleName(tag), URL: u.String()})
	}
	return out
}

// stickLocale remembers a kc_locale the request carries in the
// KEYCLOAK_LOCALE cookie (session-long, as Keycloak's), when the realm
// supports it.
func (h *Handler) stickLocale(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, requested string) {
	if requested == "" || !realm.Settings.InternationalizationEnabled {
		return
	}
	if l := matchLocale(supportedLocales(realm), requested); l != "" {
		h.setCookie(w, r, realm, cookieLocale, l, 0, true)
	}
}

// PageFor is Page for a page shown to a known user (the account console,
// a step after the password): the user's locale attribute counts, after
// a kc_locale on the request, as in Keycloak.
func (h *Handler) PageFor(r *http.Request, realm *oidc.Realm, user *store.User) templates.Page {
	return h.page(h.withUserLocale(r, realm, "", user), realm)
}

// rememberLocale keeps the language the person picked on the login page
// (the attempt's kc_locale) as the user's locale attribute once the
// password is right, as Keycloak's locale updater does, so their next
// pages and mails speak it without the cookie. Directory users are left
// alone (their attributes are the directory's). Best effort: a failed
// write is logged and the login goes on.
func (h *Handler) rememberLocale(r *http.Request, realm *oidc.Realm, form url.Values, u *store.User) {
	if !realm.Settings.InternationalizationEnabled || u.FederationLink != "" {
		return
	}
	l := matchLocale(supportedLocales(realm), form.Get(paramLocale))
	if cur := u.Attributes["locale"]; l == "" || len(cur) == 1 && cur[0] == l {
		return
	}
	next := *u
	next.Attributes = make(map[string][]string, len(u.Attributes)+1)
	for k, v := range u.Attributes {
		next.Attributes[k] = v
	}
	next.Attributes["locale"] = []string{l}
	if err := h.st.UpdateUser(r.Context(), next); err != nil {
		h.log.WarnContext(r.Context(), "remember the user's language", "realm", realm.Row.Name, "err", err)
		return
	}
	*u = next
}
