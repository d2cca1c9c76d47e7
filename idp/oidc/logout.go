package oidc

import (
	"errors"
	"net/http"

	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/store"
)

// BackchannelLogout is the logout keycloak adapters send from their
// server: a POST to the logout endpoint with client credentials and a
// refresh token (its form already parsed). It ends the token's SSO session,
// or an offline token's offline session, and answers 204, or an OAuth error in JSON.
// A protocol endpoint, not a page: idp/login's logout hands such POSTs
// here.
func (p *Provider) BackchannelLogout(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	c, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm)
	if errors.Is(err, store.ErrUnavailable) {
		p.logoutUnavailable(w, r, err)
		return
	} else if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "unauthorized_client", "error_description": "Invalid client credentials"})
		return
	}
	rt := r.PostForm.Get("refresh_token")
	claims, err := verify(realm.keys, rt, algHS512, now())
	typ := strClaim(claims, "typ")
	// Only a refresh token: the realm's internal tokens share its HMAC key.
	if err != nil || strClaim(claims, "azp") != c.GetID() || (typ != "Refresh" && typ != "Offline") {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "Invalid refresh token"})
		return
	}
	// An offline token's logout ends its offline session only, as
	// Keycloak's: the SSO session it began in is not its to end.
	if sid := strClaim(claims, "sid"); sid != "" && typ == "Refresh" {
		if err := p.EndSession(ctx, realm.Issuer, realm.Row.ID, sid); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.logoutFailed(w, r, err)
			return
		}
	}
	// An offline token's logout ends its offline session too.
	t, err := p.st.GetToken(ctx, store.KindOffline, refreshKey(strClaim(claims, "jti"), typ, rt))
	if err == nil && t.RealmID == realm.Row.ID {
		st := &storage{st: p.st, models: p.models}
		ctx := WithRealm(ctx, realm)
		err = errors.Join(st.RevokeRefreshToken(ctx, t.RequestID), st.RevokeAccessToken(ctx, t.RequestID))
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		p.logoutFailed(w, r, err)
		return
	}
	p.Event(r, realm, store.Event{Type: events.Logout, ClientID: c.GetID(), UserID: strClaim(claims, "sub"), SessionID: strClaim(claims, "sid")})
	w.WriteHeader(http.StatusNoContent)
}

// logoutFailed answers a logout the store could not carry out: 503 with
// Retry-After when the database did not answer (the client may retry and
// the session is not yet ended), else 500.
func (p *Provider) logoutFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		p.logoutUnavailable(w, r, err)
		return
	}
	p.log.ErrorContext(r.Context(), "logout", "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
}

func (p *Provider) logoutUnavailable(w http.ResponseWriter, r *http.Request, err error) {
	p.log.WarnContext(r.Context(), "logout: database unavailable", "err", err)
	WriteUnavailable(w)
}
