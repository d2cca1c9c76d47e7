package idp

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"

	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/templates"
)

// The front door: the welcome page at "/", JSON 404s under /admin/, and
// the error page for a browser at an unknown realm.

// registerFrontDoor adds "/" and the /admin/ fallback to mux.
func (s *Server) registerFrontDoor(mux *http.ServeMux) {
	mux.HandleFunc("GET /{$}", s.welcome)
	mux.HandleFunc("/admin/", adminNotFound)
	mux.HandleFunc("/admin", adminNotFound)
}

// welcomeCSP: the welcome page runs no script and is never framed.
const welcomeCSP = "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// welcome is the front page. ?realm=NAME (its form, without script)
// redirects to that realm's account console without looking the realm up,
// so the page cannot be used to learn which realms exist.
func (s *Server) welcome(w http.ResponseWriter, r *http.Request) {
	prefix := oidc.PathPrefix(r.Context())
	if r.URL.Query().Has("realm") {
		name := strings.TrimSpace(r.URL.Query().Get("realm"))
		if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\?#") || strings.ContainsFunc(name, isControl) {
			http.Redirect(w, r, prefix+"/", http.StatusSeeOther)
			return
		}
		http.Redirect(w, r, prefix+"/realms/"+url.PathEscape(name)+"/account", http.StatusSeeOther)
		return
	}
	base := s.oidc.BaseURL(r) + prefix
	v := templates.WelcomeView{
		Page: templates.Page{RealmName: "keygate", Lang: "en",
			StylesheetURL: prefix + templates.StylesheetPath},
		FormAction:       prefix + "/",
		MasterAccountURL: prefix + "/realms/" + MasterRealm + "/account",
		AdminURL:         base + "/admin/realms",
		DiscoveryPattern: base + "/realms/{realm}/.well-known/openid-configuration",
	}
	var buf bytes.Buffer
	if err := templates.Welcome(v).Render(context.Background(), &buf); err != nil {
		s.log.Error("render welcome page", "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("Content-Security-Policy", welcomeCSP)
	h.Set("X-Frame-Options", "DENY")
	_, _ = w.Write(buf.Bytes())
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// adminNotFound answers a path under /admin/ outside the admin API
// (admin.Register's routes) with Keycloak's JSON 404.
func adminNotFound(w http.ResponseWriter, _ *http.Request) {
	admin.WriteMiss(w, http.StatusNotFound)
}

// realmNotFoundPage answers a browser page of a realm that does not exist
// with the error page (in keygate's name: the path's realm name is the
// caller's text, not shown as a brand); APIs get the JSON 404.
func (s *Server) realmNotFoundPage(w http.ResponseWriter, r *http.Request, _ string) bool {
	if !browserPage(r) {
		return false
	}
	s.login.RealmErrorPage(w, r, "keygate", "", http.StatusNotFound, "pageNotFound")
	return true
}
