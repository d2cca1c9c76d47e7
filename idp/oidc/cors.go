package oidc

import (
	"errors"
	"mime"
	"net/http"
	"net/url"
	"strings"
)

// CORS answers browser callers (keycloak-js refreshing tokens with fetch)
// for the web origins of the one client the request authenticates or
// names, as Keycloak does: never for an origin that merely belongs to some
// other client of the realm. Endpoints outside this package (logout)
// call it too.
func (p *Provider) CORS(w http.ResponseWriter, r *http.Request, realm *Realm) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	c := p.corsClient(w, r, realm)
	if c == nil || !c.allowsOrigin(realm, origin) {
		return
	}
	setCORS(w, origin)
}

func setCORS(w http.ResponseWriter, origin string) {
	h := w.Header()
	h.Set("Access-Control-Allow-Origin", origin)
	h.Set("Access-Control-Allow-Credentials", "true")
	h.Add("Vary", "Origin")
	h.Set("Access-Control-Expose-Headers", "Access-Control-Allow-Methods")
}

// corsClient is the client a request speaks for: its Basic credentials'
// id, its bearer token's azp, or its client_id parameter (the form is
// parsed here, bounded, when the body is one). Nil when there is none.
func (p *Provider) corsClient(w http.ResponseWriter, r *http.Request, realm *Realm) *Client {
	id := ""
	if user, _, ok := r.BasicAuth(); ok {
		id = user
		if u, err := url.QueryUnescape(user); err == nil {
			id = u // RFC 6749 §2.3.1 form-encodes the id
		}
	} else if tok := headerBearer(r); tok != "" {
		claims, err := verify(realm.keys, tok, algAsym, now())
		if err != nil && !errors.Is(err, errTokenExpired) {
			return nil
		}
		id = strClaim(claims, "azp")
	} else {
		if r.Method == http.MethodPost && r.PostForm == nil {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct == "application/x-www-form-urlencoded" {
				r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
				_ = r.ParseForm() // the handler reports a bad body
			}
		}
		id = r.PostForm.Get("client_id")
		if id == "" {
			id = r.URL.Query().Get("client_id")
		}
	}
	if id == "" {
		return nil
	}
	c, err := loadClient(r.Context(), p.models, realm, id)
	if err != nil {
		return nil
	}
	return c
}

func headerBearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

// preflight answers CORS preflights. A preflight carries no credentials
// and no body, so unless it names its client, an origin that some enabled
// client of the realm lists may send; what it may read is decided on the
// actual request, by its client.
// Preflight answers a CORS preflight of an endpoint browsers call with a
// client's token (idp/login's broker token endpoint), as the token
// endpoint's.
func (p *Provider) Preflight(w http.ResponseWriter, r *http.Request, realm *Realm) {
	p.preflight(w, r, realm)
}

func (p *Provider) preflight(w http.ResponseWriter, r *http.Request, realm *Realm) {
	if origin := r.Header.Get("Origin"); origin != "" && p.preflightAllowed(r, realm, origin) {
		setCORS(w, origin)
		w.Header().Set("Access-Control-Allow-Methods", "POST, GET, OPTIONS")
		w.Header().Set("Access-Control-Allow-Headers", "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers, Authorization, DPoP")
		w.Header().Set("Access-Control-Max-Age", "3600")
	}
	w.WriteHeader(http.StatusOK)
}

func (p *Provider) preflightAllowed(r *http.Request, realm *Realm, origin string) bool {
	if id := r.URL.Query().Get("client_id"); id != "" {
		c, err := loadClient(r.Context(), p.models, realm, id)
		return err == nil && c.allowsOrigin(realm, origin)
	}
	o, reason := parseOrigin(origin)
	if reason != "" {
		return false
	}
	m, err := p.models.get(r.Context(), realm.Row.ID)
	if err != nil {
		return false
	}
	s := m.origins.get(m, realm)
	return s.any || s.origins[o]
}
