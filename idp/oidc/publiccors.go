package oidc

import "net/http"

// publicCORS lets any origin read a public, credential-free document
// (discovery, JWKS), as Keycloak's well-known endpoint allows all origins:
// browser libraries (oidc-client-ts) load them with fetch before a login.
// No credentials are allowed, so "*" is safe and no Vary is needed. Set
// before the realm is resolved, so an SPA can read a 404 or 503 too.
func publicCORS(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		h(w, r)
	}
}

// publicPreflight answers the CORS preflight of a publicCORS document
// (a fetch with custom headers, e.g. Accept or Cache-Control, sends one)
// without reading the realm.
func publicPreflight(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", "*")
	h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
	if req := r.Header.Get("Access-Control-Request-Headers"); req != "" {
		h.Set("Access-Control-Allow-Headers", req)
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	h.Set("Access-Control-Max-Age", "3600")
	w.WriteHeader(http.StatusNoContent)
}
