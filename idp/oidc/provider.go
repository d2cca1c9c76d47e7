// Package oidc is keygate's OpenID Connect provider on Keycloak's URL layout,
// built on fosite. One fosite provider serves every realm: the realm travels
// in the request context, and the storage, config and strategies read it
// from there. All fosite imports stay inside this package.
//
// The browser side of logins (the login form, the SSO session and its
// cookies, pages, logout) is idp/login's, which imports this package; the
// authorization endpoint reaches it through the Browser interface.
package oidc

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ory/fosite"
	"github.com/ory/fosite/handler/oauth2"
	"github.com/ory/fosite/handler/openid"
	"github.com/ory/fosite/handler/pkce"
	"github.com/ory/fosite/token/hmac"

	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// Options configure a Provider.
type Options struct {
	// Hostname is the public base URL ("https://sso.example.com"); empty means
	// taken from each request's scheme and Host.
	Hostname string
	// ProxyHeaders trusts X-Forwarded-Proto/Host/For from a reverse proxy.
	ProxyHeaders bool
	Logger       *slog.Logger
	// DBKey, when set, encrypts realm signing keys at rest (--db-key).
	DBKey string
	// MaxQueuedLoginWait bounds how long a password grant that has checked
	// its password waits for its realm's turn to sign
	// (--max-queued-login-wait); 0 = 5 s.
	MaxQueuedLoginWait time.Duration
	// LoginSaturated, when set, says a password login of the realm would
	// be refused by the hashing queue now (password.Limiter.Saturated): the
	// token endpoint then answers 503 before doing any other work.
	LoginSaturated func(realmID string) bool
}

// Provider serves the OIDC endpoints of every realm.
type Provider struct {
	st     store.Store
	authn  Authenticator
	opts   Options
	cfg    *config
	oauth  *fosite.Fosite
	keys   *Keyring
	models *modelCache
	grants *grantCache
	// serviceAccounts: clients' service-account users, for client_credentials.
	serviceAccounts *serviceAccountCache
	// remoteStore: the database is across the network (PostgreSQL), so a
	// token request's wait on it leaves the CPU idle and its gate slot
	// steps out meanwhile. On SQLite the wait is the store's own CPU work.
	remoteStore bool
	realms      *realmCache
	log         *slog.Logger
	// strategy computes token signatures (the keys token records are stored under).
	strategy *tokenStrategy
	logins   *loginGate
	signing  *loginGate // every other grant's token issuance, in arrival order
	// browser is the login form, SSO session and pages (SetBrowser).
	browser Browser
	// unavailablePage answers a browser page whose realm could not be
	// read (SetUnavailablePage).
	unavailablePage func(w http.ResponseWriter, r *http.Request, realmName string) bool
	// notFoundPage answers a browser page of an unknown realm (SetNotFoundPage).
	notFoundPage func(w http.ResponseWriter, r *http.Request, realmName string) bool
	// events records login events (SetEvents); nil: none.
	events *events.Recorder
	// bcl sends back-channel logout tokens (StartBackchannelLogout); nil: none.
	bcl atomic.Pointer[backchannel]
}

// New wires fosite's handlers with keygate's storage and token strategies.
// tx is the store's fosite-style transaction API.
func New(st store.Store, authn Authenticator, opts Options) (*Provider, error) {
	tx, ok := st.(txStore)
	if !ok {
		return nil, errors.New("oidc: store does not offer BeginTX/Commit/Rollback")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	cfg := newConfig()
	keys, err := NewKeyring(st, opts.DBKey)
	if err != nil {
		return nil, err
	}
	versions := cache.For(st)
	p := &Provider{
		st: st, authn: authn, opts: opts, cfg: cfg, keys: keys,
		models: newModelCache(st, versions), realms: newRealmCache(st, versions), grants: newGrantCache(st, versions),
		serviceAccounts: newServiceAccountCache(st, versions),
		log:             opts.Logger, logins: newLoginGate(opts.MaxQueuedLoginWait), signing: newLoginGate(0),
	}
	if r, ok := st.(interface{ Remote() bool }); ok {
		p.remoteStore = r.Remote()
	}
	stor := &storage{st: st, models: p.models, tx: tx, authn: authn}
	strat := &tokenStrategy{codes: oauth2.NewHMACSHAStrategyUnPrefixed(&hmac.HMACStrategy{Config: cfg}, cfg)}
	p.strategy = strat
	ids := &openid.DefaultStrategy{Signer: idSigner{}, Config: cfg}

	core := oauth2.HandleHelper{AccessTokenStrategy: strat, AccessTokenStorage: stor, Config: cfg}
	authCode := &oauth2.AuthorizeExplicitGrantHandler{
		AccessTokenStrategy: strat, RefreshTokenStrategy: strat, AuthorizeCodeStrategy: strat,
		CoreStorage: stor, TokenRevocationStorage: stor, Config: cfg,
	}
	refresh := &oauth2.RefreshTokenGrantHandler{
		AccessTokenStrategy: strat, RefreshTokenStrategy: strat, TokenRevocationStorage: stor, Config: cfg,
	}
	//lint:ignore SA1019 Keycloak clients rely on direct access grants (admin-cli, scripts).
	ropc := &oauth2.ResourceOwnerPasswordCredentialsGrantHandler{
		ResourceOwnerPasswordCredentialsGrantStorage: stor, HandleHelper: &core,
		RefreshTokenStrategy: strat, Config: cfg,
	}
	cc := &oauth2.ClientCredentialsGrantHandler{HandleHelper: &core, Config: cfg}
	oidcHelper := &openid.IDTokenHandleHelper{IDTokenStrategy: ids}
	oidcCode := &openid.OpenIDConnectExplicitHandler{
		OpenIDConnectRequestStorage: stor, OpenIDConnectRequestValidator: openid.NewOpenIDConnectRequestValidator(nil, cfg),
		IDTokenHandleHelper: oidcHelper, Config: cfg,
	}
	oidcRefresh := &openid.OpenIDConnectRefreshHandler{IDTokenHandleHelper: oidcHelper, Config: cfg}
	pkceH := &pkce.Handler{AuthorizeCodeStrategy: strat, Storage: stor, Config: cfg}
	revoke := &oauth2.TokenRevocationHandler{
		TokenRevocationStorage: stor, RefreshTokenStrategy: strat, AccessTokenStrategy: strat,
	}

	cfg.AuthorizeEndpointHandlers = fosite.AuthorizeEndpointHandlers{authCode, oidcCode, pkceH}
	// Order matters: claims first (it computes what the strategies sign),
	// the password ID token after the grant issued its access token.
	cfg.TokenEndpointHandlers = fosite.TokenEndpointHandlers{
		claimsHandler{p}, onlyIfHandles{authCode}, onlyIfHandles{refresh}, onlyIfHandles{ropc}, onlyIfHandles{cc},
		onlyIfHandles{oidcCode}, onlyIfHandles{oidcRefresh}, pkceH,
		passwordIDTokenHandler{ids: ids, p: p},
	}
	cfg.RevocationHandlers = fosite.RevocationHandlers{revoke}
	p.oauth = &fosite.Fosite{Store: stor, Config: cfg}
	return p, nil
}

// Keyring exposes the realm keys (for rotation by the admin API).
func (p *Provider) Keyring() *Keyring { return p.keys }

// SetUnavailablePage sets how a realm endpoint answers when its realm
// cannot be read because the database is unavailable: f answers browser
// pages (an error page) and reports true, or leaves the request to the
// JSON answer. Set it before the provider serves requests.
func (p *Provider) SetUnavailablePage(f func(w http.ResponseWriter, r *http.Request, realmName string) bool) {
	p.unavailablePage = f
}

// SetNotFoundPage sets how a realm endpoint answers for a realm that does
// not exist: f answers browser pages (an error page) and reports true, or
// leaves the request to the JSON 404. Set it before serving.
func (p *Provider) SetNotFoundPage(f func(w http.ResponseWriter, r *http.Request, realmName string) bool) {
	p.notFoundPage = f
}

// ---- realm resolution

type cachedRealm struct {
	row      store.Realm
	rep      rep.Realm
	settings rep.RealmSettings
	// resolved is the last Realm Resolve built from this entry: it is
	// immutable, and rebuilding it (a copy of the three values above) on
	// every request was the token endpoint's largest allocation.
	resolved atomic.Pointer[Realm]
}

// realmCache keeps decoded realms by name until the realm changes: every
// request resolves its realm, and decoding the settings each time would
// dominate cheap calls. While the database is unavailable it serves the
// last good value: the discovery document, JWKS and realm info stay up,
// and tokens signed by a known key still verify.
type realmCache struct {
	st store.RealmStore
	c  *cache.Cache[string, *cachedRealm]
}

func newRealmCache(st store.RealmStore, v *cache.Versions) *realmCache {
	return &realmCache{st: st, c: cache.New(v, cache.Options[string, *cachedRealm]{
		Kinds:   cache.Config,
		Realm:   func(_ string, cr *cachedRealm) string { return cr.row.ID },
		Observe: cachemetrics.Observer("realm"),
	})}
}

func (c *realmCache) get(ctx context.Context, name string) (*cachedRealm, error) {
	return c.c.Get(ctx, name, func(ctx context.Context) (*cachedRealm, error) {
		row, err := c.st.GetRealmByName(ctx, name)
		if err != nil {
			return nil, err
		}
		rr, settings, err := rep.DecodeRealm(row)
		if err != nil {
			return nil, err
		}
		return &cachedRealm{row: row, rep: rr, settings: settings}, nil
	})
}

// errRealmNotFound answers 404 {"error":"Realm does not exist"} as Keycloak does.
var errRealmNotFound = errors.New("Realm does not exist")

// Resolve loads the named realm for a request, with its keys and issuer.
func (p *Provider) Resolve(r *http.Request, name string) (*Realm, error) {
	cr, err := p.realms.get(r.Context(), name)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errRealmNotFound
	}
	if err != nil {
		return nil, err
	}
	if !cr.row.Enabled {
		return nil, errRealmNotFound
	}
	keys, err := p.keys.get(r.Context(), cr.row.ID, cr.settings.DefaultSignatureAlgorithm)
	if err != nil {
		return nil, err
	}
	issuer := p.BaseURL(r) + "/realms/" + cr.row.Name
	if rl := cr.resolved.Load(); rl != nil && rl.keys == keys && rl.Issuer == issuer {
		return rl, nil
	}
	rl := &Realm{Row: cr.row, Rep: cr.rep, Settings: cr.settings, Issuer: issuer, keys: keys}
	cr.resolved.Store(rl)
	return rl, nil
}

// BaseURL is the public base URL for r: --hostname, or the request's own
// scheme and host (X-Forwarded-* only when trusted).
func (p *Provider) BaseURL(r *http.Request) string {
	if p.opts.Hostname != "" {
		return strings.TrimSuffix(p.opts.Hostname, "/")
	}
	scheme, host := "http", r.Host
	if r.TLS != nil {
		scheme = "https"
	}
	if p.opts.ProxyHeaders {
		if v := firstValue(r.Header.Get("X-Forwarded-Proto")); v == "http" || v == "https" {
			scheme = v
		}
		if v := firstValue(r.Header.Get("X-Forwarded-Host")); v != "" {
			host = v
		}
	}
	return scheme + "://" + host
}

// ClientIP is the caller's address (X-Forwarded-For only when trusted).
func (p *Provider) ClientIP(r *http.Request) string {
	if p.opts.ProxyHeaders {
		if v := firstValue(r.Header.Get("X-Forwarded-For")); v != "" {
			return v
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}

func firstValue(h string) string {
	if i := strings.IndexByte(h, ','); i >= 0 {
		h = h[:i]
	}
	return strings.TrimSpace(h)
}

// onlyIfHandles asks a fosite handler to populate only the responses of
// grants it handles. fosite asks every handler, and each of the others
// answers with an error carrying a stack trace (runtime.Callers): a cost
// every grant paid several times over.
type onlyIfHandles struct{ fosite.TokenEndpointHandler }

func (h onlyIfHandles) PopulateTokenEndpointResponse(ctx context.Context, req fosite.AccessRequester, resp fosite.AccessResponder) error {
	if !h.CanHandleTokenEndpointRequest(ctx, req) {
		return fosite.ErrUnknownRequest
	}
	return h.TokenEndpointHandler.PopulateTokenEndpointResponse(ctx, req, resp)
}
