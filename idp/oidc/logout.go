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
	if err != nil {
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
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
	}
	p.Event(r, realm, store.Event{Type: events.Logout, ClientID: c.GetID(), UserID: strClaim(claims, "sub"), SessionID: strClaim(claims, "sid")})
	// An offline token's logout ends its offline session too.
	if t, err := p.st.GetToken(ctx, store.KindOffline, refreshKey(strClaim(claims, "jti"), typ, rt)); err == nil && t.RealmID == realm.Row.ID {
		st := &storage{st: p.st, models: p.models}
		ctx := WithRealm(ctx, realm)
		if err := errors.Join(st.RevokeRefreshToken(ctx, t.RequestID), st.RevokeAccessToken(ctx, t.RequestID)); err != nil {
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}
