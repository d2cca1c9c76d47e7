package login

import (
	"errors"
	"net/http"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// The pages keycloak-js loads in hidden iframes: the session-status iframe
// (OpenID Connect Session Management) and the third-party-cookie check.

func (h *Handler) loginStatusIframe(w http.ResponseWriter, _ *http.Request, _ *oidc.Realm) {
	writeHTML(w, templates.LoginStatusIframe())
}

// loginStatusInit answers 204 when the client may use the session iframe
// from origin, 403 otherwise (Keycloak's LoginStatusIframeEndpoint); 503
// with Retry-After when the client could not be read.
func (h *Handler) loginStatusInit(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	q := r.URL.Query()
	c, err := h.oidc.Client(r.Context(), realm, q.Get("client_id"))
	if errors.Is(err, store.ErrUnavailable) {
		h.log.WarnContext(r.Context(), "login status iframe: database unavailable", "err", err)
		oidc.WriteUnavailable(w)
		return
	}
	if err != nil {
		w.WriteHeader(http.StatusForbidden)
		return
	}
	origin := q.Get("origin")
	if c.AllowsOrigin(realm, origin) {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if origin != "" && origin == strings.TrimSuffix(h.oidc.BaseURL(r), "/") {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	w.WriteHeader(http.StatusForbidden)
}

func (h *Handler) cookiesStep1(w http.ResponseWriter, _ *http.Request, _ *oidc.Realm) {
	writeHTML(w, templates.ThirdPartyCookiesStep1())
}

func (h *Handler) cookiesStep2(w http.ResponseWriter, _ *http.Request, _ *oidc.Realm) {
	writeHTML(w, templates.ThirdPartyCookiesStep2())
}

// writeHTML serves an iframe page: no X-Frame-Options and no CSP, since
// the client's origin must be able to frame it.
func writeHTML(w http.ResponseWriter, body string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write([]byte(body))
}
