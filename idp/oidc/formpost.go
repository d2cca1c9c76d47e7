package oidc

import (
	"bytes"
	"context"
	"net/http"
	"net/url"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/templates"
)

// formPostCSP allows the form_post page its one inline script, by hash, and
// nothing else but the stylesheet. form-action is left open on purpose: the
// form posts to the client, and browsers apply form-action to the client's
// own redirects after the POST as well.
const formPostCSP = "default-src 'none'; script-src '" + templates.FormPostScriptHash + "'; style-src 'self'; img-src 'self' data:; " +
	"frame-ancestors 'self'; base-uri 'none'"

// formPost answers an authorization request whose response_mode is
// form_post (OAuth 2.0 Form Post Response Mode) with keygate's page: every
// value HTML-escaped by templ, posted by the page's one script or, without
// JavaScript, by its Continue button. params go in name order. It is the
// authorization response, so it is the protocol's; every other page a
// person sees is idp/login's.
func (p *Provider) formPost(w http.ResponseWriter, r *http.Request, ar fosite.AuthorizeRequester, params url.Values) {
	v := templates.FormPostView{RedirectURI: ar.GetRedirectURI().String(), StylesheetURL: PathPrefix(r.Context()) + templates.StylesheetPath}
	for _, k := range sortedKeys(params) {
		for _, val := range params[k] {
			v.Params = append(v.Params, [2]string{k, val})
		}
	}
	var buf bytes.Buffer
	if err := templates.FormPost(v).Render(context.Background(), &buf); err != nil {
		p.log.Error("render page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	// Never cached and never framed, as every page.
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store, must-revalidate, max-age=0")
	h.Set("X-Frame-Options", "SAMEORIGIN")
	h.Set("Content-Security-Policy", formPostCSP)
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}
