package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// idpBackchannelLogout takes an OIDC identity provider's back-channel
// logout token (OpenID Connect Back-Channel Logout 1.0), POSTed where
// Keycloak takes them: /realms/{realm}/protocol/openid-connect/logout/backchannel-logout
// (the IdP's client for keygate registers it as its backchannel logout
// URL). The providers whose issuer the token names verify it; the keygate
// sessions that came through that provider for its subject end (only the
// one from the IdP session it names, when it names one), with keygate's
// own back-channel logout to their clients. A token naming only a sid
// finds its user through the index of brokered sessions
// (indexBrokerSession).
func (h *Handler) idpBackchannelLogout(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	w.Header().Set("Cache-Control", "no-store")
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		jsonError(w, http.StatusBadRequest, "invalid_request", "Malformed request body")
		return
	}
	raw := r.PostForm.Get("logout_token")
	if raw == "" {
		jsonError(w, http.StatusBadRequest, "invalid_request", "No logout token")
		return
	}
	iss := oidc.UnverifiedIssuer(raw)
	rows, err := h.st.ListIdentityProviders(ctx, realm.Row.ID)
	if err != nil {
		h.jsonStoreError(w, r, "identity provider logout", err)
		return
	}
	var alias, sub, sid string
	var refusal error
	for _, row := range rows {
		if h.brokers == nil || !row.Enabled || !h.brokers.Supports(row.ProviderID) {
			continue
		}
		b, err := h.brokers.Open(ctx, row)
		if errors.Is(err, store.ErrUnavailable) {
			// The realm's key could not be read: this may be the provider.
			h.jsonStoreError(w, r, "identity provider logout", err)
			return
		}
		lt, ok := b.(federation.LogoutTokens)
		if err != nil || !ok || !lt.Issues(iss) {
			continue
		}
		s, id, err := lt.VerifyLogoutToken(ctx, raw)
		if err == nil {
			alias, sub, sid = row.Alias, s, id
			break
		}
		if !errors.Is(err, federation.ErrBrokerRefused) {
			// The IdP's keys could not be fetched, or the replay record
			// not written: not the token's fault.
			h.log.WarnContext(ctx, "identity provider logout token", "realm", realm.Row.Name, "alias", row.Alias, "err", err)
			w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
			jsonError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "The identity provider's keys or the database could not be read, retry shortly")
			return
		}
		refusal = err
	}
	if alias == "" {
		h.log.InfoContext(ctx, "identity provider logout token refused", "realm", realm.Row.Name, "reason", refusal)
		jsonError(w, http.StatusBadRequest, "invalid_request", "Invalid logout token")
		return
	}
	ended := 0
	userID, err := h.idpLogoutUser(ctx, realm, alias, sub, sid)
	switch {
	case errors.Is(err, store.ErrNotFound): // nobody signed in through it
	case err != nil:
		h.jsonStoreError(w, r, "identity provider logout", err)
		return
	default:
		sessions, err := h.st.ListUserSessions(ctx, realm.Row.ID, userID)
		if err != nil {
			h.jsonStoreError(w, r, "identity provider logout", err)
			return
		}
		for _, s := range sessions {
			bs := brokerSessionOf(&s)
			if bs == nil || bs.Alias != alias || (sid != "" && bs.SessionIndex != sid) {
				continue
			}
			if err := h.oidc.EndSession(ctx, realm.Issuer, realm.Row.ID, s.ID); err == nil {
				ended++
			} else if !errors.Is(err, store.ErrNotFound) {
				h.jsonStoreError(w, r, "identity provider logout", err)
				return
			}
		}
	}
	h.log.InfoContext(ctx, "logout requested by the identity provider", "realm", realm.Row.Name, "alias", alias, "sessions", ended)
	w.WriteHeader(http.StatusOK)
}

// idpLogoutUser is the keygate user a logout token names: the one linked
// to its sub, or without one, the one its sid's session signed in.
func (h *Handler) idpLogoutUser(ctx context.Context, realm *oidc.Realm, alias, sub, sid string) (string, error) {
	if sub != "" {
		u, err := h.st.GetUserByFederatedIdentity(ctx, realm.Row.ID, alias, sub)
		return u.ID, err
	}
	tok, err := h.st.GetToken(ctx, store.KindBroker, sloKey(realm.Row.ID, alias, "", sid))
	if err != nil {
		return "", err
	}
	if tok.RealmID != realm.Row.ID || len(tok.Request) == 0 {
		return "", store.ErrNotFound
	}
	return string(tok.Request), nil
}

func jsonError(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// jsonStoreError answers a JSON endpoint whose store read failed: 503
// with Retry-After when the database did not answer, else 500.
func (h *Handler) jsonStoreError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if errors.Is(err, store.ErrUnavailable) {
		h.log.WarnContext(r.Context(), what+": database unavailable", "err", err)
		oidc.WriteUnavailable(w)
		return
	}
	h.log.ErrorContext(r.Context(), what, "err", err)
	jsonError(w, http.StatusInternalServerError, "unknown_error", "")
}
