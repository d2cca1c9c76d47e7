package login

import (
	"bytes"
	"context"
	"net/http"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/templates"
)

// pageCSP is the policy of every page here: no script at all. (The
// form_post page, oidc's, allows its one script by hash.)
const pageCSP = "frame-src 'self'; frame-ancestors 'self'; object-src 'none'; script-src 'none'; base-uri 'self'"

// page is what every template needs about the realm, in the language
// resolveLocale picks for r (see withLocale for the hints it reads).
func (h *Handler) page(r *http.Request, realm *oidc.Realm) templates.Page {
	lang := resolveLocale(r, realm)
	return templates.Page{
		RealmName: realm.Row.Name, RealmDisplayName: realm.Settings.DisplayName, Lang: lang,
		StylesheetURL: oidc.PathPrefix(r.Context()) + templates.StylesheetPath,
		Loc:           localizer(realm, lang), Locales: localeMenu(r, realm),
	}
}

// render writes a page. Pages are never cached and never framed.
func (h *Handler) render(w http.ResponseWriter, status int, c templ.Component) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		h.log.Error("render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store, must-revalidate, max-age=0")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Security-Policy", pageCSP)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// ErrorPage shows keygate's error page with message msgKey
// (templates.Message) and status.
func (h *Handler) ErrorPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, status int, msgKey string) {
	h.errorPage(w, r, realm, status, msgKey)
}

// errorPage is ErrorPage with the message's arguments ({0}, {1}...).
func (h *Handler) errorPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, status int, msgKey string, args ...any) {
	p := h.page(r, realm)
	h.render(w, status, templates.Error(templates.ErrorView{
		Page: p, Title: p.T("errorTitle"), Message: p.T(msgKey, args...), Status: status,
	}))
}

// invalidParameter is the error page for a request parameter that is
// wrong, naming it as Keycloak does ("Invalid parameter: id_token_hint").
func (h *Handler) invalidParameter(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, name string) {
	h.errorPage(w, r, realm, http.StatusBadRequest, "invalidParameterMessage", name)
}

// RealmErrorPage shows keygate's error page with message msgKey for the
// realm named name (displayName shown), to middleware that has no
// resolved realm (sslRequired's "HTTPS required").
func (h *Handler) RealmErrorPage(w http.ResponseWriter, r *http.Request, name, displayName string, status int, msgKey string) {
	page := templates.Page{RealmName: name, RealmDisplayName: displayName, Lang: "en",
		StylesheetURL: oidc.PathPrefix(r.Context()) + templates.StylesheetPath}
	h.render(w, status, templates.Error(templates.ErrorView{
		Page: page, Title: templates.Message("errorTitle"), Message: templates.Message(msgKey), Status: status,
	}))
}

// expiredPage tells the person the login attempt they answered is gone
// (spent, expired or unknown).
func (h *Handler) expiredPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	p := h.page(r, realm)
	h.render(w, http.StatusBadRequest, templates.Info(templates.InfoView{
		Page: p, Title: p.T("pageExpiredTitle"), Message: p.T("pageExpiredMessage"),
	}))
}
