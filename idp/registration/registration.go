// Package registration is keygate's client registration service, on
// Keycloak's paths: RFC 7591 dynamic registration
// (/realms/{realm}/clients-registrations/openid-connect) and Keycloak's
// `default` provider (a ClientRepresentation), with RFC 7592 read, update
// and delete through the registration access token.
//
// Creating a client needs an initial access token (its count and expiry
// honoured, atomically), a bearer token of a realm user holding
// realm-management's create-client or manage-clients, or, when the realm
// has a `trusted-hosts` anonymous registration policy listing the caller,
// nothing. Registration access tokens are opaque, stored as their SHA-256,
// compared in constant time, and rotated on every update. An update is held
// to the policies of its registration (anonymous: trusted hosts, full scope
// disabled; every registrant: allowed protocol mappers, safe URIs, no web
// origin "*", no lifespan beyond the realm's).
package registration

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

const maxBody = 256 << 10

// PolicyType is the component type of Keycloak's registration policies.
const PolicyType = "org.keycloak.services.clientregistration.policy.ClientRegistrationPolicy"

// API is the client registration service.
type API struct {
	st  store.Store
	p   *oidc.Provider
	log *slog.Logger
}

// New returns the registration service over st. lim is unused (machine
// tokens are hashed with SHA-256) and kept for the constructor's shape.
func New(st store.Store, p *oidc.Provider, _ *password.Limiter, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{st: st, p: p, log: log}
}

// Register adds the registration routes to mux.
func (a *API) Register(mux *http.ServeMux) {
	const base = "/realms/{realm}/clients-registrations/"
	for _, prov := range []provider{oidcProvider{}, defaultProvider{}} {
		mux.HandleFunc("POST "+base+prov.name(), a.handle(prov, a.create))
		mux.HandleFunc("GET "+base+prov.name()+"/{client}", a.handle(prov, a.get))
		mux.HandleFunc("PUT "+base+prov.name()+"/{client}", a.handle(prov, a.update))
		mux.HandleFunc("DELETE "+base+prov.name()+"/{client}", a.handle(prov, a.remove))
	}
}

// NewToken returns a fresh opaque token (32 random bytes, base64url) and
// the hash under which it is stored (see HashToken).
func NewToken() (token, hash string, err error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b)
	return token, HashToken(token), nil
}

// HashToken is the stored form of a machine token: hex SHA-256. The tokens
// are high-entropy, so a fast hash is enough.
func HashToken(token string) string {
	h := sha256.Sum256([]byte(token))
	return hex.EncodeToString(h[:])
}

// authenticatedPrefix marks the registration access tokens of clients
// registered with an initial access token or a bearer token. Keycloak
// carries this in its token's registration_auth claim; the prefix is
// covered by the stored hash, so it cannot be added to a token. Tokens
// without it, including those issued before it existed, get the
// anonymous policies.
const authenticatedPrefix = "auth."

// newRegistrationToken returns a registration access token remembering
// how its client was registered, and the token's hash.
func newRegistrationToken(anonymous bool) (token, hash string, err error) {
	token, _, err = NewToken()
	if err != nil {
		return "", "", err
	}
	if !anonymous {
		token = authenticatedPrefix + token
	}
	return token, HashToken(token), nil
}

func registeredAnonymously(token string) bool {
	return !strings.HasPrefix(token, authenticatedPrefix)
}

// provider converts between a registration format and ClientRepresentation.
type provider interface {
	name() string
	// decode reads a request body into a client; base is the current client
	// on update (nil on create).
	decode(data []byte, base *rep.Client) (rep.Client, error)
	// encode is the response for a stored client.
	encode(c rep.Client, out response) any
}

// response carries what every answer adds to the client.
type response struct {
	token     string // registration access token
	clientURI string
	issuedAt  int64
}

// regError is an OAuth-style registration error.
type regError struct {
	status       int
	code, detail string
}

func (e *regError) Error() string { return e.code + ": " + e.detail }

func invalidToken(detail string) error {
	return &regError{http.StatusUnauthorized, "invalid_token", detail}
}

func invalidMetadata(detail string) error {
	return &regError{http.StatusBadRequest, "invalid_client_metadata", detail}
}

// req is one registration request.
type req struct {
	w     http.ResponseWriter
	r     *http.Request
	ctx   context.Context
	realm *oidc.Realm
	prov  provider
}

func (a *API) handle(prov provider, h func(q *req) error) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		realm, err := a.p.Resolve(r, r.PathValue("realm"))
		if err != nil {
			writeJSON(w, http.StatusNotFound, map[string]string{"error": "Realm does not exist"})
			return
		}
		q := &req{w: w, r: r, ctx: r.Context(), realm: realm, prov: prov}
		if err := h(q); err != nil {
			a.fail(q, err)
		}
	}
}

func (a *API) fail(q *req, err error) {
	var re *regError
	var de *rep.DecodeError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &re):
	case errors.As(err, &de):
		re = &regError{http.StatusBadRequest, "invalid_client_metadata", de.Error()}
	case errors.As(err, &mbe):
		re = &regError{http.StatusRequestEntityTooLarge, "invalid_request", "Request entity too large"}
	case errors.Is(err, store.ErrConflict):
		re = &regError{http.StatusBadRequest, "invalid_client_metadata", "Client Identifier in use"}
	case errors.Is(err, store.ErrUnavailable):
		a.log.WarnContext(q.ctx, "client registration: database unavailable", "method", q.r.Method, "route", q.r.Pattern, "err", err)
		q.w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
		re = &regError{http.StatusServiceUnavailable, "temporarily_unavailable", "Service temporarily unavailable, retry shortly"}
	default:
		a.log.ErrorContext(q.ctx, "client registration", "method", q.r.Method, "route", q.r.Pattern, "err", err)
		re = &regError{http.StatusInternalServerError, "server_error", "unknown_error"}
	}
	if re.status == http.StatusUnauthorized {
		q.w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	}
	writeJSON(q.w, re.status, map[string]string{"error": re.code, "error_description": re.detail})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (q *req) body() ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(q.w, q.r.Body, maxBody))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || !json.Valid(data) || strings.TrimSpace(string(data))[0] != '{' {
		return nil, invalidMetadata("Expected a JSON object")
	}
	return data, nil
}

func bearer(r *http.Request) string {
	scheme, tok, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	if !ok || !strings.EqualFold(scheme, "bearer") {
		return ""
	}
	return strings.TrimSpace(tok)
}

func (q *req) clientURI(clientID string) string {
	return q.realm.Issuer + "/clients-registrations/" + q.prov.name() + "/" + clientID
}

// ---- create

// create registers a client. The initial access token's use is taken in
// the transaction that writes the client, so a failed write gives it back.
func (a *API) create(q *req) error {
	// Who registers is decided before the body is read: an unauthorized
	// caller costs no JSON parse of up to maxBody, and learns nothing from
	// validation errors (Keycloak also authorizes before validating).
	use, anonymous, err := a.authorizeCreate(q)
	if err != nil {
		return err
	}
	data, err := q.body()
	if err != nil {
		return err
	}
	c, err := q.prov.decode(data, nil)
	if err != nil {
		return err
	}
	if err := validateClient(&c, nil, q.realm.Settings); err != nil {
		return err
	}
	if err := a.checkClientScopes(q, &c, nil, anonymous); err != nil {
		return err
	}
	if anonymous {
		// Keycloak's anonymous "Full Scope Disabled" and "Consent
		// Required" policies: such a client gets no role beyond its scope
		// mappings, and people are asked before it sees their data.
		c.FullScopeAllowed = new(false)
		c.ConsentRequired = new(true)
		if err := a.checkMaxClients(q); err != nil {
			return err
		}
	}
	if c.ClientID == "" {
		c.ClientID = newUUID()
	}
	if rep.PrivilegedClient(q.realm.Row.Name, c.ClientID) {
		// The admin API lets only a server admin create these.
		return invalidMetadata("Client Identifier " + c.ClientID + " is reserved")
	}
	c.ID = ""
	token, hash, err := newRegistrationToken(anonymous)
	if err != nil {
		return err
	}
	var row store.Client
	err = a.st.Tx(q.ctx, func(ctx context.Context) error {
		if err := use(ctx); err != nil {
			return err
		}
		if _, err := a.st.GetClientByClientID(ctx, q.realm.Row.ID, c.ClientID); err == nil {
			return &regError{http.StatusBadRequest, "invalid_client_metadata", "Client Identifier in use"}
		}
		if row, _, err = rep.CreateClient(ctx, a.st, q.realm.Row, &c); err != nil {
			return err
		}
		row.RegistrationTokenHash = hash
		return a.st.UpdateClient(ctx, row)
	})
	if err != nil {
		return err
	}
	q.w.Header().Set("Location", q.clientURI(row.ClientID))
	return q.answer(http.StatusCreated, row, token)
}

func (q *req) answer(status int, row store.Client, token string) error {
	c, err := rep.ClientFromStore(row)
	if err != nil {
		return err
	}
	writeJSON(q.w, status, q.prov.encode(c, response{token: token, clientURI: q.clientURI(row.ClientID), issuedAt: row.Created.Unix()}))
	return nil
}

// authorizeCreate decides who may register and returns the step to run in
// the writing transaction (taking one use of an initial access token), and
// whether the registration is anonymous.
func (a *API) authorizeCreate(q *req) (func(context.Context) error, bool, error) {
	none := func(context.Context) error { return nil }
	tok := bearer(q.r)
	if tok == "" {
		return none, true, a.anonymousAllowed(q)
	}
	realmID := q.realm.Row.ID
	hash := HashToken(tok)
	if _, err := a.st.GetInitialAccessTokenByHash(q.ctx, realmID, hash); err == nil {
		return func(ctx context.Context) error {
			t, err := a.st.UseInitialAccessToken(ctx, realmID, hash)
			switch {
			case errors.Is(err, store.ErrExhausted) && t.RemainingCount <= 0:
				return invalidToken("No remaining count on initial access token")
			case errors.Is(err, store.ErrExhausted):
				return invalidToken("Expired initial access token")
			case errors.Is(err, store.ErrNotFound):
				return invalidToken("Initial Access Token not found")
			}
			return err
		}, false, nil
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, false, err
	}
	// A realm user's access token with create-client or manage-clients.
	ti, err := a.p.VerifyBearer(q.r, q.realm.Row.Name)
	if errors.Is(err, store.ErrUnavailable) {
		return nil, false, err // 503: the token may be fine
	} else if err != nil {
		return nil, false, invalidToken("Not authorized to create client. Not valid token")
	}
	// The roles count as the admin API counts them: only those in the
	// token's client's scope, except for admin-cli and the admin console.
	g, err := a.p.RoleGraph(q.ctx, realmID, true)
	if err != nil {
		return nil, false, err
	}
	held, err := g.UserRoles(q.ctx, ti.UserID)
	if err != nil {
		return nil, false, err
	}
	inScope := func(string) bool { return true }
	if !slices.Contains(rep.FullRoleClients, ti.ClientID) {
		inScope = g.InScope(q.realm.Settings, ti.ClientID)
	}
	for id := range held {
		if r, ok := g.Role(id); ok && inScope(id) && g.ClientID(r.ClientID) == rep.MgmtClient &&
			(r.Name == "create-client" || r.Name == "manage-clients") {
			return none, false, nil
		}
	}
	return nil, false, &regError{http.StatusForbidden, "insufficient_scope", "Forbidden"}
}

// defaultMaxClients is Keycloak's anonymous "Max Clients Limit" default.
const defaultMaxClients = 200

// checkMaxClients applies Keycloak's anonymous "Max Clients Limit" policy:
// no anonymous registration once the realm has max-clients clients (the
// realm's policy's setting, else 200), whoever created them.
func (a *API) checkMaxClients(q *req) error {
	limit := defaultMaxClients
	comps, err := a.st.ListComponents(q.ctx, q.realm.Row.ID, "", PolicyType)
	if err != nil {
		return err
	}
	for _, c := range comps {
		if c.SubType == "anonymous" && c.ProviderID == "max-clients" && len(c.Config["max-clients"]) > 0 {
			if n, err := strconv.Atoi(strings.TrimSpace(c.Config["max-clients"][0])); err == nil && n >= 0 {
				limit = n
			}
		}
	}
	cls, err := a.st.ListClients(q.ctx, q.realm.Row.ID)
	if err != nil {
		return err
	}
	if len(cls) >= limit {
		return &regError{http.StatusForbidden, "insufficient_scope", fmt.Sprintf(
			"Policy 'Max Clients Limit' rejected request to client-registration service. Details: It's allowed to have max %d clients per realm", limit)}
	}
	return nil
}

// anonymousAllowed applies the realm's anonymous `trusted-hosts` policies:
// registration without a token is allowed only from a listed host (an IP,
// a CIDR range or a host name that resolves to the caller). A realm without
// such a policy refuses anonymous registration, as Keycloak's default
// (trusted-hosts with no hosts) does.
func (a *API) anonymousAllowed(q *req) error {
	refuse := &regError{http.StatusForbidden, "insufficient_scope",
		"Policy 'Trusted Hosts' rejected request to client-registration service. Details: Host not trusted."}
	comps, err := a.st.ListComponents(q.ctx, q.realm.Row.ID, "", PolicyType)
	if err != nil {
		return err
	}
	ip := net.ParseIP(a.p.ClientIP(q.r))
	if ip == nil {
		return refuse
	}
	for _, c := range comps {
		if c.SubType != "anonymous" || c.ProviderID != "trusted-hosts" {
			continue
		}
		for _, h := range c.Config["trusted-hosts"] {
			if hostMatches(q.ctx, strings.TrimSpace(h), ip) {
				return nil
			}
		}
	}
	return refuse
}

// checkClientScopes applies Keycloak's "Allowed Client Scopes" policy:
// a registrant names only the realm's default and optional client scopes,
// those an allowed-client-templates policy for its kind of registration
// lists, and on update those its client has (base: an admin may have
// added them). Any other scope would bring its mappers and scope mappings
// into the registrant's tokens.
func (a *API) checkClientScopes(q *req, c, base *rep.Client, anonymous bool) error {
	s := q.realm.Settings
	allowed := slices.Concat(s.DefaultDefaultClientScopes, s.DefaultOptionalClientScopes)
	if base != nil {
		allowed = slices.Concat(allowed, base.DefaultClientScopes, base.OptionalClientScopes)
	}
	comps, err := a.st.ListComponents(q.ctx, q.realm.Row.ID, "", PolicyType)
	if err != nil {
		return err
	}
	kind := "authenticated"
	if anonymous {
		kind = "anonymous"
	}
	for _, p := range comps {
		if p.ProviderID == "allowed-client-templates" && p.SubType == kind {
			allowed = append(allowed, p.Config["allowed-client-scopes"]...)
		}
	}
	for _, name := range slices.Concat(c.DefaultClientScopes, c.OptionalClientScopes) {
		if !slices.Contains(allowed, name) {
			return &regError{http.StatusForbidden, "insufficient_scope",
				"Policy 'Allowed Client Scopes' rejected request to client-registration service. Details: Not permitted to use specified clientScope"}
		}
	}
	return nil
}

func hostMatches(ctx context.Context, host string, ip net.IP) bool {
	if host == "" {
		return false
	}
	if _, n, err := net.ParseCIDR(host); err == nil {
		return n.Contains(ip)
	}
	if h := net.ParseIP(host); h != nil {
		return h.Equal(ip)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(a net.IPAddr) bool { return a.IP.Equal(ip) })
}

// ---- read, update, delete (RFC 7592)

// registered loads {client} and checks the request's registration access
// token against its stored hash in constant time.
func (a *API) registered(q *req, action string) (store.Client, error) {
	denied := invalidToken("Not authorized to " + action + " client. Not valid token or client credentials provided.")
	tok := bearer(q.r)
	if tok == "" {
		return store.Client{}, denied
	}
	row, err := a.st.GetClientByClientID(q.ctx, q.realm.Row.ID, q.r.PathValue("client"))
	if errors.Is(err, store.ErrNotFound) {
		return row, denied
	}
	if err != nil {
		return row, err
	}
	want, got := []byte(row.RegistrationTokenHash), []byte(HashToken(tok))
	if len(want) == 0 || subtle.ConstantTimeCompare(want, got) != 1 {
		return row, denied
	}
	return row, nil
}

func (a *API) get(q *req) error {
	row, err := a.registered(q, "view")
	if err != nil {
		return err
	}
	return q.answer(http.StatusOK, row, bearer(q.r))
}

// update replaces the client's metadata and rotates its registration
// access token: the one used here stops working.
func (a *API) update(q *req) error {
	row, err := a.registered(q, "update")
	if err != nil {
		return err
	}
	// The policies that admitted the registration hold for its updates,
	// as Keycloak's beforeUpdate hooks do.
	anonymous := registeredAnonymously(bearer(q.r))
	if anonymous {
		if err := a.anonymousAllowed(q); err != nil {
			return err
		}
	}
	data, err := q.body()
	if err != nil {
		return err
	}
	cur, err := rep.ClientFromStore(row)
	if err != nil {
		return err
	}
	c, err := q.prov.decode(data, &cur)
	if err != nil {
		return err
	}
	if c.ClientID != "" && c.ClientID != row.ClientID {
		return &regError{http.StatusBadRequest, "invalid_client_metadata", "Client Identifier modified"}
	}
	if err := validateClient(&c, &cur, q.realm.Settings); err != nil {
		return err
	}
	if err := a.checkClientScopes(q, &c, &cur, anonymous); err != nil {
		return err
	}
	if anonymous && boolVal(c.FullScopeAllowed) && !boolVal(cur.FullScopeAllowed) {
		return &regError{http.StatusForbidden, "insufficient_scope",
			"Policy 'Full Scope Disabled' rejected request to client-registration service. Details: Not permitted to enable fullScopeAllowed"}
	}
	if anonymous && c.ConsentRequired != nil && !*c.ConsentRequired && boolVal(cur.ConsentRequired) {
		return &regError{http.StatusForbidden, "insufficient_scope",
			"Policy 'Consent Required' rejected request to client-registration service. Details: Not permitted to update consentRequired to false"}
	}
	if anonymous && c.ConsentRequired == nil {
		c.ConsentRequired = cur.ConsentRequired // an update that leaves it out keeps it
	}
	c.ID, c.ClientID, c.RegistrationAccessToken = row.ID, row.ClientID, ""
	if boolVal(c.PublicClient) {
		c.Secret = ""
	} else if c.Secret = row.Secret; c.Secret == "" {
		if c.Secret, err = rep.NewClientSecret(); err != nil {
			return err
		}
	}
	token, hash, err := newRegistrationToken(anonymous)
	if err != nil {
		return err
	}
	next, err := rep.ClientToStore(q.realm.Row.ID, c)
	if err != nil {
		return err
	}
	next.Created, next.RegistrationTokenHash = row.Created, hash
	err = a.st.Tx(q.ctx, func(ctx context.Context) error {
		// Only while the token checked above is still the client's: two
		// updates made with one token cannot both pass and both rotate.
		if err := a.st.UpdateClientFromToken(ctx, next, row.RegistrationTokenHash); err != nil {
			return err
		}
		return rep.EnsureServiceAccount(ctx, a.st, q.realm.Row, next)
	})
	if errors.Is(err, store.ErrNotFound) {
		return invalidToken("Not authorized to update client. Not valid token or client credentials provided.")
	}
	if err != nil {
		return err
	}
	return q.answer(http.StatusOK, next, token)
}

func (a *API) remove(q *req) error {
	row, err := a.registered(q, "delete")
	if err != nil {
		return err
	}
	if err := a.st.DeleteClient(q.ctx, q.realm.Row.ID, row.ID); err != nil {
		return err
	}
	q.w.WriteHeader(http.StatusNoContent)
	return nil
}

func boolVal(p *bool) bool { return p != nil && *p }
