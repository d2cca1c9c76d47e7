package oidc

import (
	"context"
	"net/http"
)

// cors answers browser callers (keycloak-js refreshing tokens with fetch) for
// the origins of the calling client's webOrigins. The client is the one
// named in the request, or in the bearer token's azp.
func (p *Provider) cors(w http.ResponseWriter, r *http.Request, realm *Realm) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	if !p.originAllowed(r.Context(), realm, origin, r.URL.Query().Get("client_id")) {
		return
	}
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Access-Control-Allow-Methods")
}

// originAllowed reports whether any enabled client of the realm (or the
// named one) lists origin among its web origins. Keycloak checks the client
// of the token; before the body is parsed, the realm's clients stand in.
func (p *Provider) originAllowed(ctx context.Context, realm *Realm, origin, clientID string) bool {
	m, err := p.models.get(ctx, realm.Row.ID)
	if err != nil {
		return false
	}
	for _, o := range m.origins {
		if o.origin == origin || o.origin == "*" {
			if clientID == "" || clientID == o.clientID {
				return true
			}
		}
	}
	return false
}

func (p *Provider) preflight(w http.ResponseWriter, r *http.Request, realm *Realm) {
	p.cors(w, r, realm)
	if w.Header().Get("Access-Control-Allow-Origin") != "" {
		w.Header().Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers, Authorization, DPoP")
		w.Header().Set("Access-Control-Max-Age", "3600")
	}
	w.WriteHeader(http.StatusOK)
}
