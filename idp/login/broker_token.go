package login

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"

	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// brokerClientID and readTokenRole are Keycloak's: a token whose
// resource_access.broker.roles holds read-token may read its user's
// stored identity provider tokens.
const (
	brokerClientID = "broker"
	readTokenRole  = "read-token"
)

// brokerToken is Keycloak's GET /realms/{realm}/broker/{alias}/token: with
// an access token of the realm that carries the broker client's read-token
// role, the IdP token stored on its user's link (the provider's
// storeToken) as stored (an OIDC provider's token response). Refusals are
// Keycloak's words; the token is never logged.
func (h *Handler) brokerToken(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	h.oidc.CORS(w, r, realm)
	w.Header().Set("Cache-Control", "no-store")
	alias := r.PathValue("alias")
	ti, err := h.oidc.VerifyBearer(r, realm.Row.Name)
	if errors.Is(err, store.ErrUnavailable) {
		h.jsonStoreError(w, r, "broker token", err)
		return
	} else if err != nil {
		brokerTokenError(w, http.StatusBadRequest, "Invalid token.")
		return
	}
	fail := func(status int, msg string) {
		h.oidc.Event(r, realm, store.Event{Type: events.IdentityProviderRetrieveTokenErr, ClientID: ti.ClientID, UserID: ti.UserID,
			SessionID: ti.SessionID, Details: map[string]string{"identity_provider": alias}})
		brokerTokenError(w, status, msg)
	}
	if !canReadBrokerToken(ti.Claims) {
		fail(http.StatusForbidden, "Client ["+ti.ClientID+"] not authorized to retrieve tokens from identity provider ["+alias+"].")
		return
	}
	p, ok, err := h.provider(ctx, realm, alias)
	if err != nil {
		h.jsonStoreError(w, r, "broker token", err)
		return
	}
	if !ok {
		fail(http.StatusNotFound, "Identity Provider ["+alias+"] not found.")
		return
	}
	if !h.flag(p.rep.StoreToken) {
		fail(http.StatusBadRequest, "Identity Provider ["+alias+"] does not support this operation.")
		return
	}
	links, err := h.st.ListFederatedIdentities(ctx, realm.Row.ID, ti.UserID)
	if err != nil {
		h.jsonStoreError(w, r, "broker token", err)
		return
	}
	i := slices.IndexFunc(links, func(l store.FederatedIdentity) bool { return l.Alias == p.row.Alias })
	if i < 0 {
		fail(http.StatusBadRequest, "User ["+ti.UserID+"] is not associated with identity provider ["+alias+"].")
		return
	}
	if links[i].Token == "" {
		fail(http.StatusBadRequest, "No token is stored for identity provider ["+alias+"].")
		return
	}
	token, err := h.upstreamTokens().Reveal(links[i].Token)
	if err != nil {
		// Sealed with another --db-key (or none given): say so, and
		// nothing of the stored value.
		h.log.ErrorContext(ctx, "broker token", "realm", realm.Row.Name, "alias", alias, "err", err)
		fail(http.StatusInternalServerError, "Stored token of identity provider ["+alias+"] cannot be read.")
		return
	}
	h.oidc.Event(r, realm, store.Event{Type: events.IdentityProviderRetrieveToken, ClientID: ti.ClientID, UserID: ti.UserID,
		SessionID: ti.SessionID, Details: map[string]string{"identity_provider": alias}})
	if json.Valid([]byte(token)) {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8") // a SAML assertion
	}
	_, _ = w.Write([]byte(token))
}

// canReadBrokerToken says whether an access token's claims carry the
// broker client's read-token role (Keycloak's canReadBrokerToken).
func canReadBrokerToken(claims map[string]any) bool {
	ra, _ := claims["resource_access"].(map[string]any)
	broker, _ := ra[brokerClientID].(map[string]any)
	roles, _ := broker["roles"].([]any)
	return slices.Contains(roles, any(readTokenRole))
}

func brokerTokenError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]string{"errorMessage": msg})
}
