package idp

import (
	"context"
	"errors"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
)

// serverMetrics are the server's operational metrics beyond HTTP requests:
// login outcomes and token requests (from the login events), the hashing
// pool, the store's statements, the caches and the identity brokers.
type serverMetrics struct {
	logins        *prometheus.CounterVec
	tokens        *prometheus.CounterVec
	hashWait      *prometheus.HistogramVec
	shed          prometheus.Counter
	storeSeconds  *prometheus.HistogramVec
	brokerSeconds *prometheus.HistogramVec
	brokerErrors  *prometheus.CounterVec
	labels        labelCap
}

// Label value for realms and clients past the caps, or clients not known
// to exist.
const otherLabel = "other"

// Caps on the realm and client label values: at most maxRealmLabels realms
// and maxClientLabels clients per realm get series of their own.
const (
	maxRealmLabels  = 100
	maxClientLabels = 100
)

func newServerMetrics(reg prometheus.Registerer) *serverMetrics {
	m := &serverMetrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_logins_total",
			Help: "Logins (browser form and password grant: Keycloak's LOGIN and LOGIN_ERROR events) by realm, client and outcome: success, or Keycloak's error (invalid_user_credentials, user_not_found, user_disabled, temporarily_unavailable, ...)."},
			[]string{"realm", "client", "outcome"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_token_requests_total",
			Help: "Token endpoint requests by realm, grant type and outcome: issued, or Keycloak's error (invalid_code, invalid_token, invalid_client_credentials, ...)."},
			[]string{"realm", "grant_type", "outcome"}),
		hashWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keygate_password_hash_wait_seconds",
			Help:    "Time a password hash or check waited for a hashing worker, by outcome: granted, or refused (queue over --max-queued-login-wait, or the caller gave up).",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"outcome"}),
		shed: prometheus.NewCounter(prometheus.CounterOpts{Name: "keygate_password_grants_shed_total",
			Help: "Password grants answered 503 before any work because their realm's hashing queue was full."}),
		storeSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keygate_store_query_seconds",
			Help:    "Database statements by kind (read, write, begin: waiting for a transaction, on SQLite for the single writer; commit) and outcome (ok, not_found, conflict, unavailable, error).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5}}, []string{"kind", "outcome"}),
		brokerSeconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keygate_broker_operation_seconds",
			Help:    "Identity-broker (SAML, OIDC) operations by provider type and operation (open: load and fetch metadata; start; finish: validate the IdP's answer, for OIDC with the token and userinfo calls; metadata; logout; handle_logout), failures included.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}}, []string{"provider", "op"}),
		brokerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_broker_operation_errors_total",
			Help: "Identity-broker operations that failed, by provider type, operation and reason (unavailable: the IdP could not be reached or answer; error: anything else, such as a refused or invalid response)."},
			[]string{"provider", "op", "reason"}),
	}
	reg.MustRegister(m.logins, m.tokens, m.hashWait, m.shed, m.storeSeconds, m.brokerSeconds, m.brokerErrors)
	reg.MustRegister(cachemetrics.Collectors()...)
	return m
}

// poolCollector reports the hashing pool's state at scrape time.
func (m *serverMetrics) registerPool(reg prometheus.Registerer, l *password.Limiter) {
	gauge := func(name, help string, f func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f)
	}
	reg.MustRegister(
		gauge("keygate_password_hash_queue_depth", "Password hashes and checks waiting for a hashing worker.",
			func() float64 { _, w, _ := l.Stats(); return float64(w) }),
		gauge("keygate_password_hash_running", "Password hashes and checks running on the hashing workers.",
			func() float64 { r, _, _ := l.Stats(); return float64(r) }),
		gauge("keygate_password_hash_cost_seconds", "Measured cost of one password hash or check (a moving average); the queue admits callers by the wait it implies.",
			func() float64 { _, _, c := l.Stats(); return c.Seconds() }),
	)
	l.SetObserver(func(wait time.Duration, granted bool) {
		outcome := "granted"
		if !granted {
			outcome = "refused"
		}
		m.hashWait.WithLabelValues(outcome).Observe(wait.Seconds())
	})
}

// storeOutcome is the outcome label of a statement's error.
func storeOutcome(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, store.ErrNotFound):
		return "not_found"
	case errors.Is(err, store.ErrConflict):
		return "conflict"
	case errors.Is(err, store.ErrUnavailable):
		return "unavailable"
	}
	return "error"
}

func (m *serverMetrics) storeQuery(kind string, d time.Duration, err error) {
	m.storeSeconds.WithLabelValues(kind, storeOutcome(err)).Observe(d.Seconds())
}

// tokenGrants maps the token endpoint's event types to their grant type;
// LOGIN and LOGIN_ERROR count only when their details say grant_type
// password (they are also the browser form's events).
var tokenGrants = map[string]string{
	events.CodeToToken: "authorization_code", events.CodeToTokenError: "authorization_code",
	events.RefreshToken: "refresh_token", events.RefreshTokenError: "refresh_token",
	events.ClientLogin: "client_credentials", events.ClientLoginError: "client_credentials",
}

// event counts one login event of the realm named realm.
func (m *serverMetrics) event(realm string, e store.Event) {
	isLogin := e.Type == events.Login || e.Type == events.LoginError
	grant, isToken := tokenGrants[e.Type]
	if isLogin && e.Details["grant_type"] == "password" {
		grant, isToken = "password", true
	}
	if !isLogin && !isToken {
		return
	}
	realmLabel, clientLabel := m.labels.admit(realm, e.ClientID, e.Error == "" || clientProven[e.Error])
	if isLogin {
		outcome := "success"
		if e.Error != "" {
			outcome = e.Error
		}
		m.logins.WithLabelValues(realmLabel, clientLabel, outcome).Inc()
	}
	if isToken {
		outcome := "issued"
		if e.Error != "" {
			outcome = e.Error
		}
		m.tokens.WithLabelValues(realmLabel, grant, outcome).Inc()
	}
}

// clientProven are the event errors that happen only after the client was
// found (and, when confidential, authenticated): its client_id is a real
// client's and may become a label. Any other failure's client_id is what
// the request said, which anyone can make up.
var clientProven = map[string]bool{
	"invalid_user_credentials": true, "user_not_found": true, "user_disabled": true,
	"user_temporarily_disabled": true, "invalid_code": true, "invalid_token": true,
	"resolve_required_actions": true, "not_allowed": true,
}

// labelCap bounds the realm and client label values: realms up to
// maxRealmLabels, and per realm the clients proven to exist up to
// maxClientLabels; the rest are "other".
type labelCap struct {
	mu     sync.Mutex
	realms map[string]map[string]bool
}

func (c *labelCap) admit(realm, client string, proven bool) (string, string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.realms == nil {
		c.realms = map[string]map[string]bool{}
	}
	clients, ok := c.realms[realm]
	if !ok {
		if len(c.realms) >= maxRealmLabels {
			return otherLabel, otherLabel
		}
		clients = map[string]bool{}
		c.realms[realm] = clients
	}
	switch {
	case client == "" || clients[client]:
		return realm, client
	case proven && len(clients) < maxClientLabels:
		clients[client] = true
		return realm, client
	}
	return realm, otherLabel
}

// instrumentBrokers wraps each broker factory so that the brokers it opens
// report their operations' latency and errors.
func (m *serverMetrics) instrumentBrokers(factories map[string]federation.BrokerFactory) map[string]federation.BrokerFactory {
	out := make(map[string]federation.BrokerFactory, len(factories))
	for id, f := range factories {
		out[id] = func(ctx context.Context, env federation.BrokerEnv, idp store.IdentityProvider) (b federation.Broker, err error) {
			defer m.brokerOp(id, "open", time.Now(), &err)
			if b, err = f(ctx, env, idp); err != nil {
				return nil, err
			}
			return m.wrapBroker(id, b), nil
		}
	}
	return out
}

func (m *serverMetrics) brokerOp(provider, op string, start time.Time, err *error) {
	m.brokerSeconds.WithLabelValues(provider, op).Observe(time.Since(start).Seconds())
	switch {
	case *err == nil:
	case errors.Is(*err, federation.ErrUnavailable), errors.Is(*err, context.DeadlineExceeded):
		m.brokerErrors.WithLabelValues(provider, op, "unavailable").Inc()
	default:
		m.brokerErrors.WithLabelValues(provider, op, "error").Inc()
	}
}

// wrapBroker keeps exactly the optional interfaces b implements
// (SPMetadata, SingleLogout, LogoutTokens), since callers test for them.
// The combinations are the brokers there are: SAML (metadata and single
// logout) and OIDC (single logout and logout tokens).
func (m *serverMetrics) wrapBroker(provider string, b federation.Broker) federation.Broker {
	ib := &instrumentedBroker{m: m, provider: provider, b: b}
	md, isMD := b.(federation.SPMetadata)
	slo, isSLO := b.(federation.SingleLogout)
	lt, isLT := b.(federation.LogoutTokens)
	switch {
	case isMD && isSLO && !isLT:
		return struct {
			*instrumentedBroker
			instrumentedMetadata
			instrumentedLogout
		}{ib, instrumentedMetadata{ib, md}, instrumentedLogout{ib, slo}}
	case isSLO && isLT && !isMD:
		return struct {
			*instrumentedBroker
			instrumentedLogout
			instrumentedLogoutTokens
		}{ib, instrumentedLogout{ib, slo}, instrumentedLogoutTokens{ib, lt}}
	case isMD || isSLO || isLT:
		// Another mix: unwrapped, so that no interface is lost (its
		// operations go uncounted).
		return b
	}
	return ib
}

type instrumentedBroker struct {
	m        *serverMetrics
	provider string
	b        federation.Broker
}

func (i *instrumentedBroker) Start(ctx context.Context, req federation.BrokerRequest) (_ federation.BrokerStart, err error) {
	defer i.m.brokerOp(i.provider, "start", time.Now(), &err)
	return i.b.Start(ctx, req)
}

func (i *instrumentedBroker) Finish(ctx context.Context, req federation.BrokerRequest, state []byte, params url.Values) (_ federation.BrokeredIdentity, err error) {
	defer i.m.brokerOp(i.provider, "finish", time.Now(), &err)
	return i.b.Finish(ctx, req, state, params)
}

type instrumentedMetadata struct {
	i  *instrumentedBroker
	md federation.SPMetadata
}

func (x instrumentedMetadata) Metadata(ctx context.Context, req federation.BrokerRequest) (_ []byte, err error) {
	defer x.i.m.brokerOp(x.i.provider, "metadata", time.Now(), &err)
	return x.md.Metadata(ctx, req)
}

type instrumentedLogout struct {
	i   *instrumentedBroker
	slo federation.SingleLogout
}

func (x instrumentedLogout) Logout(ctx context.Context, req federation.BrokerRequest, id federation.BrokeredIdentity) (_ federation.BrokerStart, err error) {
	defer x.i.m.brokerOp(x.i.provider, "logout", time.Now(), &err)
	return x.slo.Logout(ctx, req, id)
}

func (x instrumentedLogout) HandleLogout(ctx context.Context, req federation.BrokerRequest, params url.Values) (nameID, sessionIndex string, response federation.BrokerStart, err error) {
	defer x.i.m.brokerOp(x.i.provider, "handle_logout", time.Now(), &err)
	return x.slo.HandleLogout(ctx, req, params)
}

type instrumentedLogoutTokens struct {
	i  *instrumentedBroker
	lt federation.LogoutTokens
}

func (x instrumentedLogoutTokens) Issues(iss string) bool { return x.lt.Issues(iss) }

func (x instrumentedLogoutTokens) VerifyLogoutToken(ctx context.Context, raw string) (sub, sid string, err error) {
	defer x.i.m.brokerOp(x.i.provider, "logout_token", time.Now(), &err)
	return x.lt.VerifyLogoutToken(ctx, raw)
}

// queryObserver is a store that reports its statements
// (sqlstore.Store.ObserveQueries).
type queryObserver interface {
	ObserveQueries(fn func(kind string, d time.Duration, err error))
}
