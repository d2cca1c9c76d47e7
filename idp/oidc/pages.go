package oidc

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/a-h/templ"
	"github.com/ory/fosite"

	"github.com/keygate/keygate/templates"
)

// page is what every template needs about the realm.
func (p *Provider) page(r *http.Request, realm *Realm) templates.Page {
	return templates.Page{
		RealmName: realm.Row.Name, RealmDisplayName: realm.Settings.DisplayName, Lang: "en",
		StylesheetURL: PathPrefix(r.Context()) + templates.StylesheetPath,
	}
}

// pageCSP is the policy of every page but form_post's: no script at all.
const pageCSP = "frame-src 'self'; frame-ancestors 'self'; object-src 'none'; script-src 'none'; base-uri 'self'"

// formPostCSP allows the form_post page its one inline script, by hash, and
// nothing else but the stylesheet. form-action is left open on purpose: the
// form posts to the client, and browsers apply form-action to the client's
// own redirects after the POST as well.
const formPostCSP = "default-src 'none'; script-src '" + templates.FormPostScriptHash + "'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'self'; base-uri 'none'"

// render writes a page. Pages are never cached and never framed.
func (p *Provider) render(w http.ResponseWriter, status int, c templ.Component) {
	p.renderCSP(w, status, c, pageCSP)
}

func (p *Provider) renderCSP(w http.ResponseWriter, status int, c templ.Component, csp string) {
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		p.log.Error("render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, must-revalidate, max-age=0")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Security-Policy", csp)
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// formPost answers an authorization request whose response_mode is
// form_post (OAuth 2.0 Form Post Response Mode) with keygate's page: every
// value HTML-escaped by templ, posted by the page's one script or, without
// JavaScript, by its Continue button. params go in name order.
func (p *Provider) formPost(w http.ResponseWriter, r *http.Request, realm *Realm, ar fosite.AuthorizeRequester, params url.Values) {
	v := templates.FormPostView{RedirectURI: ar.GetRedirectURI().String(), StylesheetURL: p.page(r, realm).StylesheetURL}
	for _, k := range sortedKeys(params) {
		for _, val := range params[k] {
			v.Params = append(v.Params, [2]string{k, val})
		}
	}
	p.renderCSP(w, http.StatusOK, templates.FormPost(v), formPostCSP)
}
