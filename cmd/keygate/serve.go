package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"golang.org/x/net/netutil"
)

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	start := time.Now()
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	httpAddr := fs.String("http-addr", ":8080", `plain HTTP listen address; "" turns it off`)
	httpsAddr := fs.String("https-addr", "", "HTTPS listen address (TLS 1.2 and 1.3 only)")
	certFile := fs.String("https-cert-file", "", "PEM certificate for --https-addr")
	keyFile := fs.String("https-key-file", "", "PEM private key for --https-addr")
	selfSigned := fs.Bool("https-self-signed", false, "serve HTTPS with a generated ECDSA P-384 certificate valid 90 days")
	db := fs.String("db", defaultDB, "store: sqlite:PATH or postgres://...")
	hostname := fs.String("hostname", "", "public base URL used in issuers and redirects (default: from each request)")
	hostnameStrict := fs.Bool("hostname-strict", true, "refuse to start without --hostname on a listen address other than loopback; false builds URLs from each request's Host header (development only)")
	proxyHeaders := fs.String("proxy-headers", "", `"xforwarded" reads X-Forwarded-Proto, -Host and -For from a reverse proxy`)
	trustedProxies := fs.String("proxy-trusted-addresses", "", "comma-separated IPs and CIDRs of the proxies whose forwarded headers count (default: every peer)")
	truststore := fs.String("truststore-paths", "", "comma-separated PEM files or directories of CA certificates for LDAP directories (added to the system roots)")
	metricsAddr := fs.String("metrics-addr", "", `management listener for /metrics and /health/* (e.g. 127.0.0.1:9000); "" = no metrics`)
	var importRealms stringList
	fs.Var(&importRealms, "import-realm", "import a Keycloak realm export at start, unless the realm exists (repeatable)")
	dbKey := fs.String("db-key", "", "encrypt realm signing keys in the database with this secret (16+ characters; prefer the KEYGATE_DB_KEY variable, a flag shows in ps)")
	logFormat := fs.String("log-format", "text", "text or json")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	maxLoginWait := fs.Duration("max-queued-login-wait", idp.DefaultMaxQueuedLoginWait, "longest a login may queue for password hashing (at the measured cost of a hash) or for its realm's turn to sign; beyond it 503 with Retry-After")
	maxConns := fs.Int("max-connections", 0, "most open client connections per public listener (HTTP, HTTPS); further ones wait in the kernel's queue until one closes; 0 = no limit. The --metrics-addr listener has no limit, so probes get through")
	shutdownTimeout := fs.Duration("shutdown-timeout", 10*time.Second, "on SIGTERM readiness turns DOWN, then requests in flight get this long to finish (Keycloak's shutdown-timeout)")
	if err := parse(fs, args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *logFormat, *logLevel)
	if err != nil {
		return err
	}
	if *proxyHeaders != "" && *proxyHeaders != "xforwarded" {
		return usageError{fmt.Sprintf("--proxy-headers %q: want xforwarded", *proxyHeaders)}
	}
	trusted, err := idp.ParseTrustedAddresses(*trustedProxies)
	if err != nil {
		return usageError{err.Error()}
	}
	if len(trusted) > 0 && *proxyHeaders == "" {
		return usageError{"--proxy-trusted-addresses needs --proxy-headers xforwarded"}
	}
	if *proxyHeaders != "" && len(trusted) == 0 {
		log.Warn("--proxy-headers is set without --proxy-trusted-addresses: X-Forwarded-* headers are trusted from every peer, so any client that reaches keygate directly can choose its address, scheme and host; list your proxies in --proxy-trusted-addresses")
	}
	if *maxConns < 0 {
		return usageError{fmt.Sprintf("--max-connections %d: want 0 (no limit) or more", *maxConns)}
	}
	if *httpAddr == "" && *httpsAddr == "" {
		return usageError{"both --http-addr and --https-addr are off: nothing to serve"}
	}
	if err := checkHostname(*hostname, *hostnameStrict, *httpAddr, *httpsAddr); err != nil {
		return err
	}
	if *hostname == "" {
		// Keycloak's production mode refuses to start like this; keygate
		// starts on loopback (make run, local development) or when told,
		// but says what it costs.
		log.Warn("--hostname is not set: issuers, redirects and the links in e-mails (password reset, e-mail verification) are built from each request's Host header, which the client chooses, so a forged Host can send a user's reset link to another server; set --hostname https://sso.example.com outside local development")
	}
	var tlsCfg *tls.Config
	if *httpsAddr != "" {
		if tlsCfg, err = tlsConfig(*certFile, *keyFile, *selfSigned, *hostname); err != nil {
			return err
		}
	}

	var roots *x509.CertPool
	if *truststore != "" {
		if roots, err = federation.LoadTruststore(strings.Split(*truststore, ",")); err != nil {
			return usageError{"--truststore-paths: " + err.Error()}
		}
	}

	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := checkWritable(ctx, st, *db); err != nil {
		return err
	}
	warnFileModes(log, *db)
	if *dbKey == "" {
		log.Warn(`--db-key is not set: realm signing keys are stored unencrypted in the database; set KEYGATE_DB_KEY (16+ characters) and run "keygate keys seal" once`)
	}
	srv, err := idp.NewServer(st, idp.Config{Hostname: *hostname, ProxyHeaders: *proxyHeaders == "xforwarded", TrustedProxies: trusted, Logger: log, DBKey: *dbKey,
		Truststore: roots, MaxQueuedLoginWait: *maxLoginWait, Version: buildVersion()})
	if err != nil {
		return err
	}
	for _, f := range importRealms {
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		res, err := rep.ImportRealm(ctx, st, data, rep.ImportOptions{IfExists: rep.IfExistsSkip,
			SealSecret: srv.Provider().Keyring().Secrets().Seal})
		if err != nil {
			return fmt.Errorf("--import-realm %s: %w", f, err)
		}
		log.Info("realm import", "file", f, "result", summary(res))
	}
	user, pw := firstEnv("KC_BOOTSTRAP_ADMIN_USERNAME", "KEYGATE_BOOTSTRAP_ADMIN_USERNAME"), firstEnv("KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYGATE_BOOTSTRAP_ADMIN_PASSWORD")
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), user, pw); errors.Is(err, idp.ErrNoBootstrapAdmin) {
		log.Warn(err.Error())
	} else if err != nil {
		return fmt.Errorf("bootstrap: %w", err)
	} else if user != "" {
		log.Info("bootstrap admin ready", "realm", idp.MasterRealm)
	}
	warnDefaultAdminPassword(ctx, st, log, user)
	if err := srv.CheckKeys(ctx); err != nil {
		return fmt.Errorf("realm keys: %w", err)
	}
	defer srv.Close()
	if err := idp.LogUnimplementedFederationKeys(ctx, st, log); err != nil {
		return err
	}

	// Before serving: a SQLite file made before auto_vacuum=incremental is
	// switched now, with one VACUUM (logged). A failure (a VACUUM needs the
	// file's size free on the disk) is retried by every sweep.
	if err := srv.MaintainStore(ctx); err != nil {
		log.Warn("database housekeeping", "err", err)
	}
	hctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Housekeeping(hctx, time.Minute)
	go srv.RunSyncs(hctx, 10*time.Second)

	errc := make(chan error, 3)
	var servers []*http.Server
	serve := func(addr string, h http.Handler, tc *tls.Config, limit int) (net.Listener, error) {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			return nil, err
		}
		if limit > 0 {
			// Accept waits while limit connections are open: a flood of
			// idle connections costs their sockets, not unbounded memory.
			ln = netutil.LimitListener(ln, limit)
		}
		hs := &http.Server{
			Handler: h, TLSConfig: tc,
			ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second,
			WriteTimeout: 60 * time.Second, IdleTimeout: 120 * time.Second,
			MaxHeaderBytes: 64 << 10,
		}
		servers = append(servers, hs)
		if tc != nil {
			ln = tls.NewListener(ln, tc)
		}
		go func() { errc <- hs.Serve(ln) }()
		return ln, nil
	}
	listen := func(addr string, tc *tls.Config) error {
		ln, err := serve(addr, srv.Handler(), tc, *maxConns)
		if err != nil {
			return err
		}
		scheme := "http"
		if tc != nil {
			scheme = "https"
		}
		log.Info("listening", "addr", ln.Addr().String(), "scheme", scheme)
		return nil
	}
	if *httpAddr != "" {
		if err := listen(*httpAddr, nil); err != nil {
			return err
		}
	}
	if *httpsAddr != "" {
		if err := listen(*httpsAddr, tlsCfg); err != nil {
			return err
		}
	}
	mgmtN := 0 // the management listener, when on, is last in servers
	if *metricsAddr != "" {
		mgmtN = 1
		ln, err := serve(*metricsAddr, srv.ManagementHandler(), nil, 0)
		if err != nil {
			return fmt.Errorf("--metrics-addr: %w", err)
		}
		log.Info("management listener", "addr", ln.Addr().String(), "serves", "/metrics /health/*")
	}
	log.Info("keygate ready", "version", buildVersion(), "db", redactDSN(*db), "startup_ms", time.Since(start).Milliseconds())
	srv.SetReady()

	select {
	case <-ctx.Done():
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	shutdown(srv, servers, mgmtN, *shutdownTimeout, log)
	return nil
}

// warnDefaultAdminPassword warns while the master realm's bootstrap admin
// (KC_BOOTSTRAP_ADMIN_USERNAME, else "admin") still signs in with the
// password "admin", as `make run` creates it.
func warnDefaultAdminPassword(ctx context.Context, st store.Store, log *slog.Logger, username string) {
	if username = strings.ToLower(strings.TrimSpace(username)); username == "" {
		username = "admin"
	}
	realm, err := st.GetRealmByName(ctx, idp.MasterRealm)
	if err != nil {
		return
	}
	u, err := st.GetUserByUsername(ctx, realm.ID, username)
	if err != nil {
		return
	}
	creds, err := st.ListCredentials(ctx, u.ID)
	if err != nil {
		return
	}
	for _, c := range creds {
		if c.Type != "password" {
			continue
		}
		if pc, err := password.FromKeycloak(c.SecretData, c.CredentialData); err == nil {
			if ok, _ := password.Verify(pc, "admin"); ok {
				log.Warn(fmt.Sprintf("the master realm's admin %q still has the default password \"admin\": change it with the admin API's reset-password (docs/production.md) before anyone else can reach keygate", username))
			}
		}
		return
	}
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

// tlsConfig allows TLS 1.2 and 1.3 only, with a certificate from files or a
// generated self-signed ECDSA P-384 one valid 90 days.
// checkHostname refuses, as Keycloak's hostname-strict does, a server
// without --hostname that others can reach: every issuer, redirect and
// e-mailed link (password reset) would come from the Host header its
// clients choose. On loopback only this machine's own clients reach it.
func checkHostname(hostname string, strict bool, addrs ...string) error {
	if hostname != "" || !strict {
		return nil
	}
	for _, a := range addrs {
		if a != "" && !loopbackAddr(a) {
			return usageError{fmt.Sprintf("--hostname is not set and keygate would listen on %s: set --hostname to the public URL (e.g. https://sso.example.com), or --hostname-strict=false to build URLs from each request's Host header (development only: a forged Host sends password-reset links to another server)", a)}
		}
	}
	return nil
}

// loopbackAddr says whether the listen address addr (host:port) binds only
// loopback: localhost or a loopback IP, not "" (every interface).
func loopbackAddr(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return false
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func tlsConfig(certFile, keyFile string, selfSigned bool, hostname string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, MaxVersion: tls.VersionTLS13}
	switch {
	case certFile != "" && keyFile != "":
		cert, err := tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, fmt.Errorf("https certificate: %w", err)
		}
		cfg.Certificates = []tls.Certificate{cert}
	case selfSigned:
		cert, err := selfSignedCert(hostname)
		if err != nil {
			return nil, err
		}
		cfg.Certificates = []tls.Certificate{cert}
	default:
		return nil, usageError{"--https-addr needs --https-cert-file and --https-key-file, or --https-self-signed"}
	}
	return cfg, nil
}

func selfSignedCert(hostname string) (tls.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return tls.Certificate{}, err
	}
	names := []string{"localhost"}
	if h := strings.TrimPrefix(strings.TrimPrefix(hostname, "https://"), "http://"); h != "" {
		if hh, _, err := net.SplitHostPort(h); err == nil {
			h = hh
		}
		names = append(names, strings.TrimSuffix(h, "/"))
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: names[len(names)-1], Organization: []string{"keygate self-signed"}},
		NotBefore:    now.Add(-time.Minute), NotAfter: now.Add(90 * 24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames: names, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, nil
}
