package oidc

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/store"
)

// maxFormBytes bounds token-endpoint style request bodies.
const maxFormBytes = 64 << 10

// Register adds the provider's routes to mux under /realms/{realm}. The
// browser's side (the login form, logout, keycloak-js's iframes) is
// idp/login's.
func (p *Provider) Register(mux *http.ServeMux) {
	const oc = "/realms/{realm}/protocol/openid-connect"
	mux.HandleFunc("GET /realms/{realm}/.well-known/openid-configuration", publicCORS(p.RealmHandler(p.discovery)))
	mux.HandleFunc("OPTIONS /realms/{realm}/.well-known/openid-configuration", publicPreflight)
	mux.HandleFunc("GET /realms/{realm}/.well-known/oauth-authorization-server", publicCORS(p.RealmHandler(p.discovery)))
	mux.HandleFunc("OPTIONS /realms/{realm}/.well-known/oauth-authorization-server", publicPreflight)
	mux.HandleFunc("GET /realms/{realm}", p.RealmHandler(p.realmInfo))
	mux.HandleFunc("GET "+oc+"/certs", publicCORS(p.RealmHandler(p.certs)))
	mux.HandleFunc("OPTIONS "+oc+"/certs", publicPreflight)
	mux.HandleFunc("POST "+oc+"/token", p.RealmHandler(p.token))
	mux.HandleFunc("OPTIONS "+oc+"/token", p.RealmHandler(p.preflight))
	mux.HandleFunc("GET "+oc+"/userinfo", p.RealmHandler(p.userinfo))
	mux.HandleFunc("POST "+oc+"/userinfo", p.RealmHandler(p.userinfo))
	mux.HandleFunc("OPTIONS "+oc+"/userinfo", p.RealmHandler(p.preflight))
	mux.HandleFunc("POST "+oc+"/token/introspect", p.RealmHandler(p.introspect))
	mux.HandleFunc("POST "+oc+"/revoke", p.RealmHandler(p.revoke))
	mux.HandleFunc("GET "+oc+"/auth", p.RealmHandler(p.authorize))
	mux.HandleFunc("POST "+oc+"/auth", p.RealmHandler(p.authorize))
	mux.HandleFunc("OPTIONS "+oc+"/logout", p.RealmHandler(p.preflight)) // GET and POST: idp/login
}

// RealmHandlerFunc is an endpoint of one realm, resolved by RealmHandler.
type RealmHandlerFunc func(w http.ResponseWriter, r *http.Request, realm *Realm)

// RealmHandler resolves {realm} and puts it (and the caller's IP) in the
// request context, answering 404 for unknown realms as Keycloak does.
// Every realm endpoint, in this package or outside it, runs under it: fosite's
// storage, config and strategies find the realm in the context.
func (p *Provider) RealmHandler(h RealmHandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		realm, err := p.Resolve(r, r.PathValue("realm"))
		if errors.Is(err, errRealmNotFound) {
			if p.notFoundPage != nil && p.notFoundPage(w, r, r.PathValue("realm")) {
				return
			}
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
			return
		}
		if errors.Is(err, store.ErrUnavailable) {
			// Only a realm this process has not read since it started (or
			// since a write here dropped it): cached ones are served stale.
			p.log.WarnContext(r.Context(), "resolve realm: database unavailable", "err", err)
			if p.unavailablePage != nil && p.unavailablePage(w, r, r.PathValue("realm")) {
				return
			}
			WriteUnavailable(w)
			return
		}
		if err != nil {
			p.log.ErrorContext(r.Context(), "resolve realm", "err", err)
			writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
			return
		}
		ctx := withRemoteIP(WithRealm(r.Context(), realm), p.ClientIP(r))
		h(w, r.WithContext(ctx), realm)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	err := withJSON(v, func(body []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(status)
		_, _ = w.Write(body)
	})
	if err != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
	}
}

// ---- discovery, realm info, JWKS

func (p *Provider) discovery(w http.ResponseWriter, r *http.Request, realm *Realm) {
	iss := realm.Issuer
	// The document depends on the issuer and the realm's client scopes
	// only: it is encoded once per issuer and kept with the realm's model,
	// which a change of the realm's scopes replaces.
	m, err := p.models.get(r.Context(), realm.Row.ID)
	if err == nil {
		if body := m.docs.get(iss); body != nil {
			writeJSONBytes(w, body)
			return
		}
	}
	oc := iss + "/protocol/openid-connect"
	scopes := []string{"openid"}
	if err == nil {
		for _, name := range sortedKeys(m.scopes) {
			if proto := m.scopes[name].Protocol; proto == "" || proto == "openid-connect" {
				scopes = append(scopes, name)
			}
		}
	}
	authMethods := []string{"client_secret_basic", "client_secret_post"}
	body, merr := jsonMarshal(map[string]any{
		"issuer":                                         iss,
		"authorization_endpoint":                         oc + "/auth",
		"token_endpoint":                                 oc + "/token",
		"introspection_endpoint":                         oc + "/token/introspect",
		"userinfo_endpoint":                              oc + "/userinfo",
		"end_session_endpoint":                           oc + "/logout",
		"frontchannel_logout_session_supported":          true,
		"frontchannel_logout_supported":                  false,
		"jwks_uri":                                       oc + "/certs",
		"check_session_iframe":                           oc + "/login-status-iframe.html",
		"grant_types_supported":                          []string{"authorization_code", "refresh_token", "password", "client_credentials"},
		"acr_values_supported":                           []string{"0", "1"},
		"response_types_supported":                       []string{"code", "none"},
		"subject_types_supported":                        []string{"public"},
		"prompt_values_supported":                        []string{"none", "login"},
		"id_token_signing_alg_values_supported":          []string{"RS256", "ES256"},
		"userinfo_signing_alg_values_supported":          []string{"none"},
		"request_object_signing_alg_values_supported":    []string{"none"},
		"response_modes_supported":                       []string{"query", "fragment", "form_post"},
		"registration_endpoint":                          iss + "/clients-registrations/openid-connect",
		"token_endpoint_auth_methods_supported":          authMethods,
		"introspection_endpoint_auth_methods_supported":  authMethods,
		"revocation_endpoint_auth_methods_supported":     authMethods,
		"claims_supported":                               []string{"aud", "sub", "iss", "auth_time", "name", "given_name", "family_name", "preferred_username", "email", "email_verified", "acr", "azp", "sid"},
		"claim_types_supported":                          []string{"normal"},
		"claims_parameter_supported":                     false,
		"scopes_supported":                               scopes,
		"request_parameter_supported":                    false,
		"request_uri_parameter_supported":                false,
		"require_request_uri_registration":               false,
		"code_challenge_methods_supported":               []string{"plain", "S256"},
		"tls_client_certificate_bound_access_tokens":     false,
		"revocation_endpoint":                            oc + "/revoke",
		"backchannel_logout_supported":                   true,
		"backchannel_logout_session_supported":           true,
		"require_pushed_authorization_requests":          false,
		"authorization_response_iss_parameter_supported": true,
	})
	if merr != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
		return
	}
	if err == nil {
		m.docs.put(iss, body)
	}
	writeJSONBytes(w, body)
}

// writeJSONBytes answers 200 with an encoded JSON body, as writeJSON does.
func writeJSONBytes(w http.ResponseWriter, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(body)
}

func (p *Provider) realmInfo(w http.ResponseWriter, r *http.Request, realm *Realm) {
	der, err := realm.keys.publicKeyDER()
	if err != nil {
		writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"realm":             realm.Row.Name,
		"public_key":        base64.StdEncoding.EncodeToString(der),
		"token-service":     realm.Issuer + "/protocol/openid-connect",
		"account-service":   realm.Issuer + "/account",
		"tokens-not-before": realm.Settings.NotBefore,
	})
}

func (p *Provider) certs(w http.ResponseWriter, _ *http.Request, realm *Realm) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(realm.keys.jwks)
}

// ---- token endpoint

func (p *Provider) token(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx, is := withIssuance(r.Context())
	r = r.WithContext(ctx)
	p.CORS(w, r, realm)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	// A password grant that the realm's hashing queue would refuse anyway
	// is refused before the client's authentication and the user's
	// lookup: during a flood most grants are shed, and shedding them must
	// cost less than serving them, or the other grants starve.
	if sat := p.opts.LoginSaturated; sat != nil && r.PostFormValue("grant_type") == "password" && sat(realm.Row.ID) {
		p.writeTokenError(w, r, authn.ErrBusy)
		return
	}
	sess := newSession(realm.Row.ID)
	ar, err := p.oauth.NewAccessRequest(ctx, r, sess)
	if err != nil {
		p.burnCode(r)
		p.tokenEvent(r, realm, ar, err)
		p.writeTokenError(w, r, err)
		return
	}
	if gt := ar.GetGrantTypes(); gt.ExactOne("password") || gt.ExactOne("client_credentials") {
		// fosite checked each requested scope against the client's scopes.
		for _, s := range ar.GetRequestedScopes() {
			ar.GrantScope(s)
		}
	}
	// The password grant's signatures wait for the realm's turn (the
	// password is checked already, hashed in the realm's share of the pool
	// or bound by a directory). The other grants' issuance (their
	// signatures, most of their cost) takes turns in arrival order,
	// GOMAXPROCS at a time: under a burst every answer waits its turn
	// instead of the scheduler sharing the CPU among all of them.
	gate, gateKey := p.signing, ""
	if ar.GetGrantTypes().ExactOne("password") {
		gate, gateKey = p.logins, realm.Row.ID
	}
	sl, ok := gate.admit(ctx, gateKey)
	if !ok {
		p.tokenEvent(r, realm, ar, authn.ErrBusy)
		p.writeTokenError(w, r, authn.ErrBusy)
		return
	}
	defer sl.release()
	if p.remoteStore {
		ctx = withSlot(ctx, sl) // steps out while it waits on the database
	}
	resp, err := p.oauth.NewAccessResponse(ctx, ar)
	p.tokenEvent(r, realm, ar, err)
	if err != nil {
		p.burnCode(r)
		p.writeTokenError(w, r, err)
		return
	}
	s := ar.GetSession().(*Session)
	resp.SetTokenType("Bearer")
	if !is.accessExp.IsZero() {
		resp.SetExpiresIn(is.accessExp.Sub(is.at)) // Keycloak's exp - currentTime: the lifespan
	}
	resp.SetExtra("scope", s.scope)
	resp.SetExtra("not-before-policy", realm.Settings.NotBefore)
	switch {
	case resp.GetExtra("refresh_token") != nil && ar.GetGrantedScopes().Has("offline_access"):
		// Keycloak says 0 for offline tokens: no SSO idle timeout applies.
		resp.SetExtra("refresh_expires_in", 0)
	case resp.GetExtra("refresh_token") != nil:
		left := max(s.GetExpiresAt(fosite.RefreshToken).Unix()-is.at.Unix(), 0)
		resp.SetExtra("refresh_expires_in", left)
	default:
		resp.SetExtra("refresh_expires_in", 0)
	}
	if s.SessionID != "" {
		resp.SetExtra("session_state", s.SessionID)
	}
	writeJSON(w, http.StatusOK, resp.ToMap())
}

// burnCode spends an authorization code whose redemption failed, as
// Keycloak does: a code gets one attempt, so a stolen code cannot be tried
// against several guesses of the verifier or the client secret.
func (p *Provider) burnCode(r *http.Request) {
	if r.PostForm.Get("grant_type") != "authorization_code" {
		return
	}
	if code := r.PostForm.Get("code"); code != "" {
		sig := p.strategy.AuthorizeCodeSignature(r.Context(), code)
		if err := p.st.DeactivateToken(r.Context(), store.KindCode, sig); err != nil && !errors.Is(err, store.ErrNotFound) {
			p.log.WarnContext(r.Context(), "spend failed authorization code", "err", err)
		}
	}
}

// ---- userinfo

func (p *Provider) userinfo(w http.ResponseWriter, r *http.Request, realm *Realm) {
	p.CORS(w, r, realm)
	token := bearer(r)
	fail := func(desc string) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.Row.Name+`", error="invalid_token", error_description="`+desc+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_token", "error_description": desc})
	}
	if token == "" {
		fail("Token not provided")
		return
	}
	req, err := p.activeAccess(r, realm, token)
	if errors.Is(err, store.ErrUnavailable) {
		p.log.WarnContext(r.Context(), "userinfo: database unavailable", "err", err)
		WriteUnavailable(w)
		return
	}
	if errors.Is(err, fosite.ErrInactiveToken) {
		fail("User session not found or doesn't have client attached on it")
		return
	} else if err != nil {
		p.log.DebugContext(r.Context(), "userinfo: token rejected", "reason", err)
		fail("Token verification failed")
		return
	}
	sess := req.GetSession().(*Session)
	cs, err := p.fillClaims(r.Context(), realm, req.GetClient().(*Client), sess, req.GetGrantedScopes())
	if errors.Is(err, store.ErrUnavailable) {
		p.log.WarnContext(r.Context(), "userinfo: database unavailable", "err", err)
		WriteUnavailable(w)
		return
	} else if err != nil {
		fail("Token verification failed")
		return
	}
	out := map[string]any{}
	for k, v := range cs.userinfo {
		out[k] = v
	}
	out["sub"] = sess.UserID
	writeJSON(w, http.StatusOK, out)
}

// activeAccess verifies an access token (signature, expiry, realm) and
// checks it is still live (see storage.accessRequest).
func (p *Provider) activeAccess(r *http.Request, realm *Realm, token string) (fosite.Requester, error) {
	claims, err := verify(realm.keys, token, algAsym, now())
	if err != nil {
		return nil, err
	}
	return (&storage{st: p.st, models: p.models}).accessRequest(r.Context(), realm, claims)
}

func bearer(r *http.Request) string {
	h := r.Header.Get("Authorization")
	if len(h) > 7 && strings.EqualFold(h[:7], "bearer ") {
		return strings.TrimSpace(h[7:])
	}
	if r.Method == http.MethodPost {
		r.Body = http.MaxBytesReader(nil, r.Body, maxFormBytes)
		if err := r.ParseForm(); err == nil {
			return r.PostForm.Get("access_token")
		}
	}
	return ""
}

// ---- introspection (RFC 7662, Keycloak's shape: the token's claims plus active)

func (p *Provider) introspect(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Malformed request body"})
		return
	}
	client, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm)
	if errors.Is(err, store.ErrUnavailable) {
		p.log.WarnContext(ctx, "introspection: database unavailable", "err", err)
		WriteUnavailable(w)
		return
	} else if err != nil {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client", "error_description": "Authentication failed."})
		return
	}
	if client.IsPublic() {
		// Keycloak's TokenIntrospectionEndpoint: only confidential clients,
		// whose identity was proven, may learn what a token carries.
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "invalid_request", "error_description": "Client not allowed."})
		return
	}
	token := r.PostForm.Get("token")
	if token == "" {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Token not provided"})
		return
	}
	inactive := map[string]any{"active": false}
	kind, alg := store.KindAccess, algAsym
	if hdrAlg(token) == algHS512 {
		kind, alg = store.KindRefresh, algHS512
	}
	claims, err := verify(realm.keys, token, alg, now())
	if err != nil {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	// failed answers a failed lookup: 503 when the database is down
	// ("active": false would tell the resource server the token is dead),
	// else inactive. It reports whether it answered.
	failed := func(err error) bool {
		switch {
		case err == nil:
			return false
		case errors.Is(err, store.ErrUnavailable):
			p.log.WarnContext(ctx, "introspection: database unavailable", "err", err)
			WriteUnavailable(w)
		default:
			writeJSON(w, http.StatusOK, inactive)
		}
		return true
	}
	st := &storage{st: p.st, models: p.models}
	var req fosite.Requester
	if kind == store.KindAccess {
		req, err = st.accessRequest(ctx, realm, claims)
	} else {
		req, err = st.GetRefreshTokenSession(WithRealm(ctx, realm), refreshKey(strClaim(claims, "jti"), strClaim(claims, "typ"), token), nil)
	}
	if failed(err) {
		return
	}
	if kind == store.KindRefresh && req.GetClient().GetID() != client.GetID() {
		// A refresh token is its client's secret: to any other client it
		// is as good as unknown.
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	sess := req.GetSession().(*Session)
	if c, ok := req.GetClient().(*Client); kind == store.KindRefresh && ok {
		iat, _ := numClaim(claims, "iat")
		var u *store.User
		if sess.found != nil {
			u = sess.found.User
		}
		if stale(iat, realm, c, u) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
	}
	// The token's session, timed out by the realm's settings as they are
	// now, as a refresh would find it (claimsHandler).
	if kind == store.KindRefresh && sess.SessionID != "" && !req.GetGrantedScopes().Has("offline_access") {
		s, err := p.st.GetSession(ctx, realm.Row.ID, sess.SessionID)
		if failed(err) {
			return
		}
		if ssoEnded(realm, s, now()) {
			writeJSON(w, http.StatusOK, inactive)
			return
		}
	} else if kind == store.KindRefresh && sess.SessionID != "" && sess.found != nil && offlineEnded(realm, sess.found.Token, sess, now()) {
		writeJSON(w, http.StatusOK, inactive)
		return
	}
	out, err := p.introspectionClaims(ctx, realm, req, claims)
	if failed(err) {
		return
	}
	out["active"] = true
	out["client_id"] = req.GetClient().GetID()
	writeJSON(w, http.StatusOK, out)
}

// introspectionBasics are the token's own claims an introspection answer
// repeats, as Keycloak 26 does for access and refresh tokens alike; every
// other claim comes from the mappers that are on for introspection,
// computed now from the user as they are (so a claim left out of the
// access token can still show here, and one kept out of introspection
// does not).
var introspectionBasics = []string{"jti", "typ", "sub", "iat", "exp", "azp", "iss", "nonce", "scope", "sid", "aud", "cnf",
	// Keycloak keeps these as session notes of the service account's
	// session; keygate has them only in the token it issued.
	"client_id", "clientHost", "clientAddress"}

// introspectionClaims is the answer for an active token, without "active"
// and "client_id"; a disabled user's token is inactive.
func (p *Provider) introspectionClaims(ctx context.Context, realm *Realm, req fosite.Requester, token map[string]any) (map[string]any, error) {
	c, ok := req.GetClient().(*Client)
	if !ok {
		return nil, fmt.Errorf("oidc: unexpected client type %T", req.GetClient())
	}
	sess := req.GetSession().(*Session)
	// The login's acr and auth_time are in the token, not in the store.
	if acr, ok := token["acr"].(string); ok {
		sess.ACR = acr
	}
	if at, ok := numClaim(token, "auth_time"); ok {
		sess.AuthTime = time.Unix(at, 0)
	}
	m, err := p.models.get(ctx, realm.Row.ID)
	if err != nil {
		return nil, err
	}
	cs, sub, err := p.claimsOf(ctx, realm, m, c, sess, req.GetGrantedScopes(), true)
	if err != nil {
		return nil, err
	}
	if !sub.user.Enabled {
		return nil, fosite.ErrInactiveToken
	}
	out := cs.introspection
	for _, k := range introspectionBasics {
		if v, ok := token[k]; ok {
			out[k] = v
		}
	}
	if s, _ := out["scope"].(string); strings.TrimSpace(s) == "" {
		delete(out, "scope")
	}
	if _, ok := out["username"]; !ok {
		if pu, ok := out["preferred_username"].(string); ok {
			out["username"] = pu
		} else {
			out["username"] = sub.user.Username
		}
	}
	// Keycloak's token_type is the token's typ: Bearer, Refresh, Offline.
	if typ, ok := token["typ"].(string); ok && typ != "" {
		out["token_type"] = typ
	} else {
		out["token_type"] = "Bearer"
	}
	return out, nil
}

// hdrAlg reads a JWT's alg without verifying anything.
func hdrAlg(token string) string {
	i := strings.IndexByte(token, '.')
	if i <= 0 {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(token[:i])
	if err != nil {
		return ""
	}
	var h struct {
		Alg string `json:"alg"`
	}
	_ = json.Unmarshal(raw, &h)
	return h.Alg
}

// ---- revocation (RFC 7009)

func (p *Provider) revoke(w http.ResponseWriter, r *http.Request, realm *Realm) {
	ctx := r.Context()
	p.CORS(w, r, realm)
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Malformed request body"})
		return
	}
	if r.PostForm.Get("token") == "" {
		// fosite answers 200 to an empty token; Keycloak, once the client
		// is authenticated, says what is missing.
		if _, err := p.oauth.AuthenticateClient(ctx, r, r.PostForm); err != nil {
			p.writeOAuthError(w, r, atRevoke, err)
			return
		}
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request", "error_description": "Token not provided"})
		return
	}
	err := p.oauth.NewRevocationRequest(ctx, r)
	if err != nil && !errors.Is(err, fosite.ErrNotFound) {
		p.writeOAuthError(w, r, atRevoke, err)
		return
	}
	// RFC 7009 §2.2: an unknown token is answered 200 too.
	w.WriteHeader(http.StatusOK)
}
