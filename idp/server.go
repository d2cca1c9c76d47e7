// Package idp assembles keygate's HTTP surface: the OIDC provider of every
// realm, health and metrics, and the start-up chores (bootstrap admin,
// housekeeping). The flows themselves live in the sub-packages.
package idp

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	oidcbroker "github.com/keygate/keygate/federation/oidc"
	samlbroker "github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/idp/account"
	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/mail"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/registration"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/idp/usermail"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Config configures a Server.
type Config struct {
	Hostname     string // public base URL; "" = from the request
	ProxyHeaders bool   // read X-Forwarded-* (--proxy-headers xforwarded)
	// TrustedProxies are the peers whose forwarded headers count
	// (--proxy-trusted-addresses); empty = every peer.
	TrustedProxies []netip.Prefix
	Logger         *slog.Logger
	// DBKey, when set, encrypts realm signing keys at rest (--db-key).
	DBKey string
	// MaxQueuedLoginWait bounds the wait a login may queue for
	// (--max-queued-login-wait): for password hashing, at the measured cost
	// of a hash, and for its realm's turn to sign; beyond it the login is
	// answered 503 with Retry-After. 0 = DefaultMaxQueuedLoginWait.
	MaxQueuedLoginWait time.Duration
	// Truststore verifies directories' TLS certificates
	// (--truststore-paths); nil = the system roots.
	Truststore *x509.CertPool
	// Version is keygate's version, the keygate_build_info metric's label.
	Version string
}

// DefaultMaxQueuedLoginWait is --max-queued-login-wait's default: a
// login's client sees an answer, accepted or 503, within about a second
// and a half rather than timing out behind a queue.
const DefaultMaxQueuedLoginWait = time.Second

// maxHashQueue bounds the logins of one realm waiting for a hashing worker
// whatever the measured cost (an md5 legacy credential costs microseconds).
const maxHashQueue = 4096

// Server is keygate's HTTP server.
type Server struct {
	st      store.Store
	cfg     Config
	log     *slog.Logger
	limiter *password.Limiter
	authn   *authn.Authenticator
	oidc    *oidc.Provider
	login   *login.Handler
	handler http.Handler
	health  *health
	reg     *prometheus.Registry
	mgmt    http.Handler
	fedReg  *federation.Registry
	fed     *federation.Service
	brokers *federation.Brokers
	// brokerHTTP is the brokers' client for IdP metadata, JWKS, token and
	// userinfo endpoints.
	brokerHTTP *http.Client
	// events records login and admin events (idp/events).
	events *events.Recorder
}

// NewServer wires the provider over st.
func NewServer(st store.Store, cfg Config) (*Server, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.MaxQueuedLoginWait <= 0 {
		cfg.MaxQueuedLoginWait = DefaultMaxQueuedLoginWait
	}
	started := time.Now()
	s := &Server{st: st, cfg: cfg, log: cfg.Logger, reg: prometheus.NewRegistry(), health: newHealth(st, cfg.Logger)}
	s.brokerHTTP = &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: cfg.Truststore, MinVersion: tls.VersionTLS12},
		MaxIdleConnsPerHost: 8, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second,
		ResponseHeaderTimeout: 10 * time.Second,
	}}
	// One hashing worker per CPU; the queue is bounded by the wait it
	// implies, and by a count only to bound memory when hashes are cheap.
	password.CheckFastPBKDF2(cfg.Logger) // the fast PBKDF2 against crypto/pbkdf2, before any login
	s.limiter = password.NewLimiter(0, maxHashQueue)
	s.limiter.SetMaxWait(cfg.MaxQueuedLoginWait)
	met := newServerMetrics(s.reg)
	s.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "keygate_build_info",
		Help: "Always 1; the version label is keygate's version (the public pages do not show it).", ConstLabels: prometheus.Labels{"version": cfg.Version}},
		func() float64 { return 1 }))
	met.registerPool(s.reg, s.limiter)
	if qo, ok := st.(queryObserver); ok {
		qo.ObserveQueries(met.storeQuery)
	}
	loginSaturated := func(realmID string) bool {
		sat := s.limiter.Saturated(realmID)
		if sat {
			met.shed.Inc()
		}
		return sat
	}
	s.authn = authn.New(st, s.limiter, cfg.Logger)
	var err error
	// ProxyHeaders is always on for the provider: the middleware has already
	// decided scheme, host and client address (requestOrigin) and rewritten
	// the request to say exactly that, X-Forwarded-Proto included.
	s.oidc, err = oidc.New(st, s.authn, oidc.Options{Hostname: cfg.Hostname, ProxyHeaders: true, Logger: cfg.Logger, DBKey: cfg.DBKey,
		MaxQueuedLoginWait: cfg.MaxQueuedLoginWait, LoginSaturated: loginSaturated})
	if err != nil {
		return nil, err
	}
	// Back-channel logout tokens go to the clients' URLs from here: the
	// truststore's roots, no redirects followed (a client's URL is where
	// its token may go, nowhere else).
	s.oidc.StartBackchannelLogout(oidc.BackchannelOptions{Observe: newBackchannelMetrics(s.reg), HTTP: &http.Client{
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment, TLSClientConfig: &tls.Config{RootCAs: cfg.Truststore, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 4, IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 5 * time.Second,
		}}})
	s.events = events.New(st, cfg.Logger, events.Options{})
	s.events.SetObserver(met.event)
	s.oidc.SetEvents(s.events)
	s.login = login.New(st, s.oidc, s.authn, cfg.Logger)
	s.oidc.SetBrowser(s.login)
	s.oidc.SetUnavailablePage(s.unavailablePage)
	s.oidc.SetNotFoundPage(s.realmNotFoundPage)
	// User federation: providers open from the realms' components, by
	// providerId, through this one map.
	secrets := s.oidc.Keyring().Secrets()
	// One-time passwords: their secrets are sealed with the same --db-key.
	s.authn.SetOTP(otp.NewVerifier(st, secrets))
	fedEnv := federation.Env{Logger: cfg.Logger, RootCAs: cfg.Truststore, Reveal: secrets.Reveal}
	fedFactories := map[string]federation.Factory{ldap.ProviderID: ldap.Open}
	s.fedReg = federation.NewRegistry(st, fedEnv, fedFactories)
	s.fed = federation.NewService(s.fedReg, federation.NewLinker(st), cfg.Logger)
	s.authn.SetFederation(s.fed)
	// Identity brokering: brokers open from the realms' identity
	// providers, by providerId, through this one map.
	brokerFactories := map[string]federation.BrokerFactory{
		samlbroker.ProviderID:           samlbroker.Open,
		oidcbroker.ProviderOIDC:         oidcbroker.Open,
		oidcbroker.ProviderKeycloakOIDC: oidcbroker.Open,
	}
	s.brokers = federation.NewBrokers(met.instrumentBrokers(brokerFactories), s.brokerEnv)
	s.login.SetBrokering(s.brokers, federation.NewLinker(st))

	mux := http.NewServeMux()
	s.oidc.Register(mux)
	s.login.Register(mux)
	adm := admin.New(st, s.oidc, s.limiter, cfg.Logger)
	adm.SetFederationEnv(fedEnv)
	adm.SetFederation(s.fed)
	adm.SetBrokers(s.brokers)
	adm.SetEvents(s.events)
	// The realms' mail (SMTP password revealed with --db-key, servers
	// verified against --truststore-paths), for the browser flows and the
	// admin API alike.
	mailer := &usermail.Mailer{Sender: &mail.Sender{Reveal: secrets.Reveal, RootCAs: cfg.Truststore}, Log: cfg.Logger}
	s.login.SetMail(mailer)
	adm.SetMail(mailer)
	adm.Register(mux)
	adm.RegisterServerInfo(mux, func() any { return s.serverInfo(started, sortedKeys(brokerFactories), sortedKeys(fedFactories)) })
	registration.New(st, s.oidc, s.limiter, cfg.Logger).Register(mux)
	account.New(st, s.oidc, s.login, s.authn, s.limiter, mux, cfg.Logger).Register(mux)
	mux.Handle("GET /resources/", templates.StaticHandler())
	s.health.register(mux)
	s.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	s.reg.MustRegister(ldap.Collectors()...)
	s.fed.SetSyncObserver(newSyncMetrics(s.reg))
	s.registerFrontDoor(mux) // "/", and JSON 404s under /admin/
	s.handler = s.middleware(mux)

	// Metrics name routes and show traffic, so they are served only on the
	// management handler (--metrics-addr), as Keycloak serves them on its
	// management port; health is on both, where deployments probe it.
	mgmt := http.NewServeMux()
	s.health.register(mgmt)
	mgmt.Handle("GET /metrics", promhttp.HandlerFor(s.reg, promhttp.HandlerOpts{}))
	s.mgmt = mgmt
	return s, nil
}

// Handler is the server's root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// ManagementHandler serves /metrics and /health/* for the management
// listener (--metrics-addr).
func (s *Server) ManagementHandler() http.Handler { return s.mgmt }

// CheckKeys opens every stored realm key and loads the master realm's
// (creating them on a first start), so that a missing or wrong --db-key, or
// a key left unsealed under one, stops the server at start, naming the realm
// and key, rather than failing logins later.
func (s *Server) CheckKeys(ctx context.Context) error {
	if err := oidc.CheckStoredKeys(ctx, s.st, s.cfg.DBKey); err != nil {
		return err
	}
	r, err := s.st.GetRealmByName(ctx, MasterRealm)
	if err != nil {
		return err
	}
	_, err = s.oidc.Keyring().Keys(ctx, r.ID)
	return err
}

// RunSyncs runs the user storage providers' periodic syncs
// (fullSyncPeriod, changedSyncPeriod), checking every tick, until ctx ends.
func (s *Server) RunSyncs(ctx context.Context, tick time.Duration) {
	s.fed.RunPeriodic(ctx, tick, func(ctx context.Context) ([]string, error) {
		realms, err := s.st.ListRealms(ctx)
		ids := make([]string, 0, len(realms))
		for _, r := range realms {
			ids = append(ids, r.ID)
		}
		return ids, err
	}, s.RealmDefaults)
}

// RealmDefaults are the realm settings that shape a user federation
// imports.
func (s *Server) RealmDefaults(ctx context.Context, realmID string) (federation.RealmDefaults, error) {
	r, err := s.st.GetRealm(ctx, realmID)
	if err != nil {
		return federation.RealmDefaults{}, err
	}
	_, rs, err := rep.DecodeRealm(r)
	return rs.FederationDefaults(), err
}

// brokerEnv is what realmID's identity-provider brokers are opened with:
// the realm's active RS256 key, the HTTP client (--truststore-paths), the
// replay cache in the store (shared by replicas) and the secret revealer.
func (s *Server) brokerEnv(ctx context.Context, realmID string) (federation.BrokerEnv, error) {
	key, cert, err := s.oidc.Keyring().BrokerKey(ctx, realmID)
	if err != nil {
		return federation.BrokerEnv{}, err
	}
	return federation.BrokerEnv{
		Logger: s.log, Key: key, Cert: cert, HTTP: s.brokerHTTP, Now: time.Now,
		Reveal: s.oidc.Keyring().Secrets().Reveal,
		Replay: func(ctx context.Context, id string, until time.Time) error {
			return s.st.CreateToken(ctx, store.Token{Kind: store.KindReplay, Signature: id, RequestID: id, RealmID: realmID,
				Active: true, Requested: time.Now(), Expires: until})
		},
	}, nil
}

// Federation is the user federation service (periodic syncs, tests).
func (s *Server) Federation() *federation.Service { return s.fed }

// Close releases what the server holds open (directory connections) and
// writes the events still queued.
func (s *Server) Close() error {
	s.oidc.CloseBackchannelLogout()
	s.events.Close()
	return s.fedReg.Close()
}

// Events is the server's event recorder (tests flush it).
func (s *Server) Events() *events.Recorder { return s.events }

// Provider exposes the OIDC provider (for the admin API and tests).
func (s *Server) Provider() *oidc.Provider { return s.oidc }

// Housekeeping deletes expired token records and SSO sessions, then keeps
// the database's files from only growing (MaintainStore), every period
// until ctx ends. Every replica runs it; the deletes are idempotent.
func (s *Server) Housekeeping(ctx context.Context, every time.Duration) {
	go s.releaseAfterBursts(ctx, burstCheck)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := s.sweep(ctx, time.Now()); err != nil && !errors.Is(err, context.Canceled) {
				s.log.Warn("housekeeping", "err", err)
			}
		}
	}
}

// sweepSkew is how long past its expiry a token row is kept: replicas'
// clocks differ, and a row must outlast what refers to it elsewhere (a
// spent login attempt, its cookie expiring at the same second by another
// replica's clock), or the reference could bring it back. Every reader
// checks expiry itself; rows already linger up to a sweep's period.
const sweepSkew = time.Minute

func (s *Server) sweep(ctx context.Context, now time.Time) error {
	n, err := s.st.DeleteExpiredTokens(ctx, now.Add(-sweepSkew))
	if err != nil {
		return err
	}
	realms, err := s.st.ListRealms(ctx)
	if err != nil {
		return err
	}
	sessions, evs := 0, 0
	for _, r := range realms {
		_, set, err := rep.DecodeRealm(r)
		if err != nil {
			return err
		}
		// Remember-me sessions may live longer; keep the longer limits.
		idle := max(set.SSOSessionIdleTimeout, set.SSOSessionIdleTimeoutRememberMe)
		life := max(set.SSOSessionMaxLifespan, set.SSOSessionMaxLifespanRememberMe)
		k, err := s.st.DeleteExpiredSessions(ctx, r.ID, now.Add(-idle), now.Add(-life))
		if err != nil {
			return err
		}
		sessions += k
		if exp := set.Events.EventsExpiration; exp > 0 {
			k, err := s.st.DeleteExpiredEvents(ctx, r.ID, now.Add(-exp))
			if err != nil {
				return err
			}
			evs += k
		}
	}
	if n > 0 || sessions > 0 || evs > 0 {
		s.log.Debug("housekeeping", "expired_tokens", n, "expired_sessions", sessions, "expired_events", evs)
	}
	return s.MaintainStore(ctx)
}

// burstCheck is how often releaseAfterBursts looks at the login queue, and
// burstWaiters how many logins waiting at once make a burst.
const (
	burstCheck   = 2 * time.Second
	burstWaiters = 16
)

// releaseAfterBursts gives the memory a burst of logins took (request
// buffers, goroutine stacks, the heap the runtime grew for them) back to
// the OS once the burst is over: at least burstWaiters logins waited at
// once, then none for a whole check period. Without it the runtime keeps
// the pages until its next collection, which an idle server only forces
// every two minutes, and the RSS operators watch stays at the flood's
// level. A forced collection of an idle server's heap costs milliseconds.
func (s *Server) releaseAfterBursts(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	burst := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		switch peak := s.limiter.TakePeak(); {
		case peak >= burstWaiters:
			burst = true
		case burst && peak == 0:
			burst = false
			debug.FreeOSMemory()
			s.log.Debug("login burst over: freed memory returned to the OS")
		}
	}
}

// storeMaintainer is a store whose files need housekeeping (SQLite's WAL
// checkpoints and incremental vacuum, sqlstore.Store.Maintain).
type storeMaintainer interface {
	Maintain(ctx context.Context) (string, error)
}

// MaintainStore runs the store's housekeeping of its files, when it has
// any, and logs what is worth saying (a SQLite file switched to
// auto_vacuum=incremental). serve runs it once before listening, then the
// sweep after each round of deletes.
func (s *Server) MaintainStore(ctx context.Context) error {
	m, ok := s.st.(storeMaintainer)
	if !ok {
		return nil
	}
	note, err := m.Maintain(ctx)
	if note != "" {
		s.log.Info(note)
	}
	return err
}

// middleware decides where each request comes from (requestOrigin) and
// rewrites it to say so, enforces the realms' sslRequired, adds HSTS on
// https, the legacy /auth prefix (Keycloak <= 16 and many old StackState
// configs), request metrics, panic recovery and access logs. Logs carry
// method, path, status and client address, never query strings or bodies:
// they can hold codes, tokens and passwords.
func (s *Server) middleware(next http.Handler) http.Handler {
	reqs := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keygate_http_requests_total", Help: "HTTP requests by route pattern and status.",
	}, []string{"route", "code"})
	dur := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name: "keygate_http_request_duration_seconds", Help: "HTTP request latency by route pattern.",
		Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5},
	}, []string{"route"})
	s.reg.MustRegister(reqs, dur)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		o := requestOrigin(r, s.cfg.ProxyHeaders, s.cfg.TrustedProxies)
		ctx := r.Context()
		p := r.URL.Path
		legacy := p == "/auth" || strings.HasPrefix(p, "/auth/")
		if legacy {
			ctx = oidc.WithPathPrefix(ctx, "/auth")
		}
		r = r.Clone(ctx)
		applyOrigin(r, o)
		if legacy {
			r.URL.Path = strings.TrimPrefix(p, "/auth")
			r.URL.RawPath = ""
		}
		sw := &statusWriter{ResponseWriter: w, code: http.StatusOK}
		defer func() {
			if v := recover(); v != nil {
				s.log.Error("panic serving request", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
				if !sw.wrote {
					http.Error(sw, `{"error":"unknown_error"}`, http.StatusInternalServerError)
				}
			}
			route := r.Pattern // set by the mux on r during ServeHTTP
			if route == "" {
				route = "unmatched"
			}
			reqs.WithLabelValues(route, strconv.Itoa(sw.code)).Inc()
			dur.WithLabelValues(route).Observe(time.Since(start).Seconds())
			if s.log.Enabled(ctx, slog.LevelDebug) { // the arguments alone cost allocations
				s.log.Debug("request", "method", r.Method, "path", r.URL.Path, "status", sw.code, "ip", o.ip, "ms", time.Since(start).Milliseconds())
			}
		}()
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		if o.scheme == "https" {
			h.Set("Strict-Transport-Security", hstsValue)
		}
		if s.checkSSL(sw, r, o) {
			return
		}
		next.ServeHTTP(sw, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	code  int
	wrote bool
}

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.code, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Limiter is the bounded password-hashing pool shared by every login.
func (s *Server) Limiter() *password.Limiter { return s.limiter }
