package oidc

import (
	"bytes"
	"context"
	"net/http"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/templates"
)

// page is what every template needs about the realm.
func (p *Provider) page(r *http.Request, realm *Realm) templates.Page {
	return templates.Page{
		RealmName: realm.Row.Name, RealmDisplayName: realm.Settings.DisplayName, Lang: "en",
		StylesheetURL: PathPrefix(r.Context()) + templates.StylesheetPath,
	}
}

// render writes a page. Pages are never cached and never framed.
func (p *Provider) render(w http.ResponseWriter, status int, c templ.Component) {
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
	h.Set("Content-Security-Policy", "frame-src 'self'; frame-ancestors 'self'; object-src 'none'; script-src 'none'; base-uri 'self'")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

func (p *Provider) errorPage(w http.ResponseWriter, r *http.Request, realm *Realm, status int, msgKey, back string) {
	p.render(w, status, templates.Error(templates.ErrorView{
		Page: p.page(r, realm), Title: templates.Message("errorTitle"), Message: templates.Message(msgKey), BackURL: back, Status: status,
	}))
}

func (p *Provider) expiredPage(w http.ResponseWriter, r *http.Request, realm *Realm) {
	p.render(w, http.StatusBadRequest, templates.Info(templates.InfoView{
		Page: p.page(r, realm), Title: templates.Message("pageExpiredTitle"), Message: templates.Message("pageExpiredMessage"),
	}))
}
