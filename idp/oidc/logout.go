package oidc

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, as
// Keycloak 18+ implements it), plus the back-channel form keycloak adapters
// use: a POST with a refresh_token and client credentials answers 204.
func (p *Provider) logout(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	p.CORS(w, r, realm)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	f := r.Form
	if r.Method == http.MethodPost && f.Get("refresh_token") != "" {
		p.BackchannelLogout(w, r, realm)
		return
	}
	var hintSID, hintClient string
	if hint := f.Get("id_token_hint"); hint != "" {
		claims, err := verify(realm.keys, hint, algAsym, now())
		if err != nil && !errors.Is(err, errTokenExpired) {
			p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidParameterMessage")
			return
		}
		hintSID, hintClient = strClaim(claims, "sid"), strClaim(claims, "azp")
	}
	clientID := f.Get("client_id")
	if clientID != "" && hintClient != "" && clientID != hintClient {
		p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidParameterMessage")
		return
	}
	if clientID == "" {
		clientID = hintClient
	}
	redirect := f.Get("post_logout_redirect_uri")
	if redirect != "" {
		// Only to a URI the client registered, and never without knowing the client.
		c, err := loadClient(ctx, p.models, realm, clientID)
		if err != nil || !c.allowsPostLogoutRedirect(realm, redirect) {
			p.browser.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRedirectUriMessage")
			return
		}
	}
	browserSID := p.cookieSID(r, realm)
	confirmed := r.Method == http.MethodPost && f.Get("confirmLogout") != "" && p.logoutCSRFValid(realm, browserSID, f.Get("csrf_token"))
	// Anyone can hold an ID token of their own session: one naming another
	// session than the browser's must not end the browser's unasked.
	foreign := hintSID != "" && browserSID != "" && hintSID != browserSID
	if (hintSID == "" || foreign) && !confirmed {
		if r.Method == http.MethodPost && f.Get("confirmLogout") != "" {
			p.browser.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
			return
		}
		hidden := map[string]string{}
		for _, k := range []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state", "ui_locales"} {
			if v := f.Get(k); v != "" {
				hidden[k] = v
			}
		}
		p.render(w, http.StatusOK, templates.LogoutConfirm(templates.LogoutConfirmView{
			Page: p.page(r, realm), FormAction: p.realmPath(r, realm) + "protocol/openid-connect/logout",
			CSRFToken: p.logoutCSRF(realm, browserSID), Hidden: hidden,
		}))
		return
	}
	// End the browser's session (and the hinted one, if it is another).
	for _, sid := range uniqueNonEmpty(browserSID, hintSID) {
		if err := p.st.DeleteSession(ctx, realm.Row.ID, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.ErrorContext(ctx, "logout", "err", err)
			p.browser.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
			return
		}
	}
	p.clearCookie(w, r, realm, cookieIdentity, true)
	p.clearCookie(w, r, realm, cookieSession, false)
	if redirect != "" {
		if st := f.Get("state"); st != "" {
			redirect = withQuery(redirect, "state", st)
		}
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	p.render(w, http.StatusOK, templates.Info(templates.InfoView{
		Page: p.page(r, realm), Title: templates.Message("successLogout"), Message: templates.Message("successLogout"),
	}))
}

// BackchannelLogout is the logout keycloak adapters send from their
// server: a POST to the logout endpoint with client credentials and a
// refresh token (its form already parsed). It ends the token's SSO session
// (and its offline session) and answers 204, or an OAuth error in JSON. A
// protocol endpoint, not a page: it stays here when the logout endpoint's
// browser side lives elsewhere.
func (p *Provider) BackchannelLogout(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	c, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm)
	if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client credentials"})
		return
	}
	rt := r.PostForm.Get("refresh_token")
	claims, err := verify(realm.keys, rt, algHS512, now())
	if err != nil || strClaim(claims, "azp") != c.GetID() {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Invalid refresh token"})
		return
	}
	if sid := strClaim(claims, "sid"); sid != "" {
		if err := p.st.DeleteSession(ctx, realm.Row.ID, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
	}
	// An offline token's logout ends its offline session too.
	if t, err := p.st.GetToken(ctx, store.KindOffline, signatureOf(rt)); err == nil && t.RealmID == realm.Row.ID {
		st := &storage{st: p.st, models: p.models}
		ctx := WithRealm(ctx, realm)
		if err := errors.Join(st.RevokeRefreshToken(ctx, t.RequestID), st.RevokeAccessToken(ctx, t.RequestID)); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func (p *Provider) cookieSID(r *http.Request, realm *Realm) string {
	if s := p.browser.Session(r, realm); s != nil {
		return s.ID
	}
	return ""
}

// logoutCSRF is a short-lived token bound to the browser's session: a
// signed claim of the sid (or "anonymous"), verified statelessly.
func (p *Provider) logoutCSRF(realm *Realm, browserSID string) string {
	tok, _, err := sign(realm.keys.hmac, map[string]any{
		"typ": "logout-csrf", "sid": browserSID, "exp": now().Add(realm.Settings.AccessCodeLifespanLogin).Unix(),
	})
	if err != nil {
		return ""
	}
	return tok
}

func (p *Provider) logoutCSRFValid(realm *Realm, browserSID, tok string) bool {
	claims, err := verify(realm.keys, tok, algHS512, now())
	if err != nil || strClaim(claims, "typ") != "logout-csrf" {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strClaim(claims, "sid")), []byte(browserSID)) == 1
}

func withQuery(u, k, v string) string {
	pu, err := url.Parse(u)
	if err != nil {
		return u
	}
	q := pu.Query()
	q.Set(k, v)
	pu.RawQuery = q.Encode()
	return pu.String()
}

func uniqueNonEmpty(vals ...string) []string {
	var out []string
	for _, v := range vals {
		if v != "" && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}
