package login

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// logout is RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0, as
// Keycloak 18+ implements it): it ends the browser's SSO session, asking
// first (a CSRF-protected confirmation page) unless an ID token of that
// session vouches for the request. The back-channel form keycloak adapters
// use on the same endpoint (a POST with a refresh_token and client
// credentials, answered 204) is oidc's BackchannelLogout.
func (h *Handler) logout(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	h.oidc.CORS(w, r, realm)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	f := r.Form
	if r.Method == http.MethodPost && f.Get("refresh_token") != "" {
		h.oidc.BackchannelLogout(w, r, realm)
		return
	}
	var hintSID, hintClient string
	if hint := f.Get("id_token_hint"); hint != "" {
		claims, err := realm.VerifyIDTokenHint(hint)
		if err != nil {
			h.invalidParameter(w, r, realm, "id_token_hint")
			return
		}
		hintSID, hintClient = strClaim(claims, "sid"), strClaim(claims, "azp")
	}
	clientID := f.Get("client_id")
	if clientID != "" && hintClient != "" && clientID != hintClient {
		h.invalidParameter(w, r, realm, "client_id")
		return
	}
	if clientID == "" {
		clientID = hintClient
	}
	redirect := f.Get("post_logout_redirect_uri")
	if redirect != "" {
		// Only to a URI the client registered, and never without knowing the client.
		c, err := h.oidc.Client(ctx, realm, clientID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "logout", err)
			return
		}
		if err != nil || !c.AllowsPostLogoutRedirect(realm, redirect) {
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRedirectUriMessage")
			return
		}
	}
	// A session the store cannot read is not "no session": logging out
	// without ending it would leave it alive behind a "logged out" page.
	browserSession, err := h.LiveSession(r, realm)
	if err != nil {
		h.storeError(w, r, realm, "logout", err)
		return
	}
	browserSID := ""
	if browserSession != nil {
		browserSID = browserSession.ID
	}
	confirmed := r.Method == http.MethodPost && f.Get("confirmLogout") != "" && logoutCSRFValid(realm, browserSID, f.Get("csrf_token"))
	// Anyone can hold an ID token of their own session: one naming another
	// session than the browser's must not end the browser's unasked.
	foreign := hintSID != "" && browserSID != "" && hintSID != browserSID
	if (hintSID == "" || foreign) && !confirmed {
		if r.Method == http.MethodPost && f.Get("confirmLogout") != "" {
			h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
			return
		}
		hidden := map[string]string{}
		for _, k := range []string{"client_id", "id_token_hint", "post_logout_redirect_uri", "state", "ui_locales"} {
			if v := f.Get(k); v != "" {
				hidden[k] = v
			}
		}
		h.render(w, http.StatusOK, templates.LogoutConfirm(templates.LogoutConfirmView{
			Page: h.page(r, realm), FormAction: realmPath(r, realm) + "protocol/openid-connect/logout",
			CSRFToken: logoutCSRF(realm, browserSID), Hidden: hidden,
		}))
		return
	}
	// End the browser's session (and the hinted one, if it is another).
	for _, sid := range uniqueNonEmpty(browserSID, hintSID) {
		userID := ""
		if s, err := h.st.GetSession(ctx, realm.Row.ID, sid); err == nil {
			userID = s.UserID
		}
		if err := h.oidc.EndSession(ctx, realm.Issuer, realm.Row.ID, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "logout", err)
			return
		}
		if userID != "" {
			det := map[string]string{}
			if redirect != "" {
				det["redirect_uri"] = redirect
			}
			h.oidc.Event(r, realm, store.Event{Type: events.Logout, ClientID: clientID, UserID: userID, SessionID: sid, Details: det})
		}
	}
	h.clearCookie(w, r, realm, cookieIdentity, true)
	h.clearCookie(w, r, realm, cookieSession, false)
	if redirect != "" {
		if st := f.Get("state"); st != "" {
			redirect = withQuery(redirect, "state", st)
		}
	}
	// A session that came through an identity provider with single logout
	// ends there too, and comes back to redirect.
	if h.startBrokerLogout(w, r, realm, browserSession, redirect) {
		return
	}
	h.loggedOut(w, r, realm, redirect)
}

// logoutCSRF is a short-lived token bound to the browser's session: a
// signed claim of the sid (or "anonymous"), verified statelessly.
func logoutCSRF(realm *oidc.Realm, browserSID string) string {
	tok, err := realm.SignInternal(map[string]any{
		"typ": "logout-csrf", "sid": browserSID, "exp": time.Now().Add(realm.Settings.AccessCodeLifespanLogin).Unix(),
	})
	if err != nil {
		return ""
	}
	return tok
}

func logoutCSRFValid(realm *oidc.Realm, browserSID, tok string) bool {
	claims, err := realm.VerifyInternal(tok)
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
