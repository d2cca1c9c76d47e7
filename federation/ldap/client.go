package ldap

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
)

// Client is the transport to one directory (one provider's connectionUrl):
// connections, TLS, timeouts, failover between URLs, a bounded pool of
// connections bound as the service account, a separate bounded pool for
// user binds, and a circuit breaker. It is safe for concurrent use.
//
// Every failure to get an answer (network, timeout, TLS, a malformed
// response, a directory that is busy or refers elsewhere, an open
// circuit) comes back wrapped with federation.ErrUnavailable, so it can
// never read as a wrong password or a missing user. Errors never carry
// passwords or the bind credential.
//
// Filters: every value put into a filter must go through
// goldap.EscapeFilter ("github.com/go-ldap/ldap/v3"), which escapes
// '*', '(', ')', '\' and NUL as RFC 4515 asks, e.g.
//
//	fmt.Sprintf("(&(objectClass=inetOrgPerson)(uid=%s))", goldap.EscapeFilter(username))
//
// Values that are DNs or parts of DNs go through goldap.EscapeDN instead;
// binary values (objectGUID) are escaped byte by byte ("\\%02x").
type Client struct {
	cfg   Config
	name  string
	log   *slog.Logger
	roots *x509.CertPool

	svc  *pool // bound as the service account (or anonymous with authType none)
	auth *pool // user binds only: never handed to service-account work
	br   *breaker

	mu        sync.Mutex
	downUntil map[string]time.Time // URLs that failed recently are tried last
}

// Capability is one entry of the RootDSE's supported controls, extensions
// and features, as Keycloak's ldap-server-capabilities answers it.
type Capability struct {
	OID  string `json:"oid"`
	Type string `json:"type"` // CONTROL, EXTENSION or FEATURE
}

// NewClient returns a client for cfg. It makes no connection: connections
// are dialled when first needed, so a directory that is down does not stop
// a realm from loading.
func NewClient(cfg Config, env federation.Env) *Client {
	if cfg.ConnectionTimeout <= 0 {
		cfg.ConnectionTimeout = DefaultConnectionTimeout
	}
	if cfg.ReadTimeout <= 0 {
		cfg.ReadTimeout = DefaultReadTimeout
	}
	if cfg.PoolSize <= 0 {
		cfg.PoolSize = DefaultPoolSize
	}
	if cfg.AuthType == "" {
		cfg.AuthType = "simple"
	}
	log := env.Logger
	if log == nil {
		log = slog.Default()
	}
	name := cfg.Name
	if name == "" {
		name = strings.Join(cfg.URLs, " ")
	}
	c := &Client{cfg: cfg, name: name, log: log, downUntil: map[string]time.Time{},
		svc: newPool(cfg.PoolSize, cfg.ConnectionPooling), auth: newPool(cfg.PoolSize, cfg.ConnectionPooling)}
	if cfg.UseTruststore != "never" {
		c.roots = env.RootCAs // nil: the system roots
	}
	c.br = newBreaker(name, cfg.BreakerFailures, cfg.BreakerCooldown, log)
	return c
}

// Search runs req as the service account on a pooled connection.
//
// nil error: the directory answered; a result truncated by a size limit
// has ResultCode 4 (sizeLimitExceeded) and the entries that came.
// Search continuation references (e.g. Active Directory's
// DomainDnsZones) are in Referrals and are not followed: zero entries
// with referrals does not mean "no such user" elsewhere. IsNoSuchObject:
// the base DN does not exist. Anything else is ErrUnavailable, a referral
// in place of an answer included.
func (c *Client) Search(ctx context.Context, req *goldap.SearchRequest) (*goldap.SearchResult, error) {
	var res *goldap.SearchResult
	what := "search " + req.BaseDN
	err := c.do(ctx, c.svc, opSearch, what, nil, func(cn *conn) error {
		r, err := cn.l.Search(req)
		if err != nil && r != nil && goldap.IsErrorWithCode(err, goldap.LDAPResultSizeLimitExceeded) {
			err = nil
		}
		res = r
		return err
	})
	if err != nil {
		return nil, searchErr(what, err)
	}
	return res, nil
}

// SearchPaged runs req as the service account with RFC 2696 paged results
// of pageSize on one connection (a paging cookie belongs to its
// connection), calling fn once per page the directory returns (a page may
// be empty). With pagination off in the configuration, or pageSize 0, it
// is one unpaged search and one call. An error from fn abandons the
// search and is returned as it is; errors are otherwise Search's.
func (c *Client) SearchPaged(ctx context.Context, req *goldap.SearchRequest, pageSize uint32, fn func([]*goldap.Entry) error) error {
	if !c.cfg.Pagination || pageSize == 0 {
		res, err := c.Search(ctx, req)
		if err != nil {
			return err
		}
		return fn(res.Entries)
	}
	what := "paged search " + req.BaseDN
	delivered := false
	err := c.do(ctx, c.svc, opSearchPaged, what, func() bool { return !delivered }, func(cn *conn) error {
		r := *req
		paging := goldap.NewControlPaging(pageSize)
		r.Controls = slices.DeleteFunc(slices.Clone(req.Controls), func(ctl goldap.Control) bool {
			return ctl.GetControlType() == goldap.ControlTypePaging
		})
		r.Controls = append(r.Controls, paging)
		for {
			res, err := cn.l.Search(&r)
			if err != nil {
				return err
			}
			delivered = true
			if err := fn(res.Entries); err != nil {
				// Tell the directory to drop the rest (RFC 2696: size 0
				// with the cookie); a connection that cannot is not reused.
				if ctl, ok := goldap.FindControl(res.Controls, goldap.ControlTypePaging).(*goldap.ControlPaging); ok && len(ctl.Cookie) > 0 {
					paging.PagingSize = 0
					paging.SetCookie(ctl.Cookie)
					if _, aerr := cn.l.Search(&r); aerr != nil {
						cn.broken = true
					}
				}
				return callerError{err}
			}
			ctl := goldap.FindControl(res.Controls, goldap.ControlTypePaging)
			if ctl == nil {
				return nil // the directory ignored paging and sent everything
			}
			pc, ok := ctl.(*goldap.ControlPaging)
			if !ok {
				return fmt.Errorf("malformed paged results control %v", ctl)
			}
			if len(pc.Cookie) == 0 {
				return nil
			}
			paging.SetCookie(pc.Cookie)
		}
	})
	var ce callerError
	if errors.As(err, &ce) {
		return ce.err
	}
	if err != nil {
		return searchErr(what, err)
	}
	return nil
}

// Authenticate binds as dn with password on a connection that only ever
// carries user binds (never one the service account uses; a failed bind
// leaves a connection anonymous, a successful one bound as that user, and
// the next user bind on it re-binds). At most the pool size of binds run
// at once.
//
// (true, nil): the password is right. (false, nil): invalid credentials.
// federation.ErrAccountDisabled and federation.ErrMustChangePassword:
// Active Directory's verdicts (data 530/531/533/701/775 and 532/773). An
// empty dn or password is (false, nil) without asking the directory (a
// simple bind with an empty password is an anonymous bind that succeeds).
// Anything else is ErrUnavailable.
func (c *Client) Authenticate(ctx context.Context, dn, password string) (bool, error) {
	if dn == "" || password == "" {
		return false, nil
	}
	err := c.do(ctx, c.auth, opAuthenticate, "bind", nil, func(cn *conn) error {
		_, err := cn.l.SimpleBind(&goldap.SimpleBindRequest{Username: dn, Password: password})
		return err
	})
	if errors.Is(err, federation.ErrUnavailable) {
		return false, err
	}
	return bindVerdict(err)
}

// Test is testLDAPConnection: connect (to the first URL that answers, as
// logins would), and with auth bind as the service account. It bypasses
// the pool and the circuit breaker. The error's text is the reason as the
// network or the directory gave it, e.g. "Invalid Credentials"; network
// failures are also ErrUnavailable.
func (c *Client) Test(ctx context.Context, auth bool) error {
	cn, err := c.dial(ctx, false)
	if err != nil {
		return &testError{msg: err.Error(), err: err, unavailable: true}
	}
	defer cn.close()
	if !auth || c.cfg.AuthType == "none" {
		return nil
	}
	if err := c.run(ctx, cn, c.serviceBind); err != nil {
		msg := reason(err)
		if c.cfg.BindDN != "" {
			msg = "bind as " + c.cfg.BindDN + ": " + msg
		}
		return &testError{msg: msg, err: err, unavailable: isTransport(err)}
	}
	return nil
}

// testError is Test's error: its text is the bare reason.
type testError struct {
	msg         string
	err         error
	unavailable bool
}

func (e *testError) Error() string { return e.msg }
func (e *testError) Unwrap() []error {
	if e.unavailable {
		return []error{federation.ErrUnavailable, e.err}
	}
	return []error{e.err}
}

// Capabilities reads the RootDSE's supportedControl, supportedExtension
// and supportedFeatures as the service account.
func (c *Client) Capabilities(ctx context.Context) ([]Capability, error) {
	req := goldap.NewSearchRequest("", goldap.ScopeBaseObject, goldap.NeverDerefAliases, 0, 0, false,
		"(objectClass=*)", []string{"supportedControl", "supportedExtension", "supportedFeatures"}, nil)
	var res *goldap.SearchResult
	err := c.do(ctx, c.svc, opRootDSE, "read RootDSE", nil, func(cn *conn) error {
		var err error
		res, err = cn.l.Search(req)
		return err
	})
	if err != nil {
		return nil, searchErr("read RootDSE", err)
	}
	var caps []Capability
	seen := map[Capability]bool{}
	for _, e := range res.Entries {
		for _, a := range []struct{ attr, typ string }{
			{"supportedControl", "CONTROL"}, {"supportedExtension", "EXTENSION"}, {"supportedFeatures", "FEATURE"},
		} {
			for _, oid := range e.GetAttributeValues(a.attr) {
				if cp := (Capability{OID: oid, Type: a.typ}); !seen[cp] {
					seen[cp] = true
					caps = append(caps, cp)
				}
			}
		}
	}
	return caps, nil
}

// Modify applies req as the service account (WRITABLE mode). The
// directory's refusal (constraint violation, insufficient access, ...)
// comes back as its *goldap.Error, wrapped; failures as ErrUnavailable.
// Writes are not retried: one that failed in flight may have been done.
func (c *Client) Modify(ctx context.Context, req *goldap.ModifyRequest) error {
	return c.write(ctx, opModify, "modify "+req.DN, func(l *goldap.Conn) error { return l.Modify(req) })
}

// Add adds an entry as the service account; errors as Modify's.
func (c *Client) Add(ctx context.Context, req *goldap.AddRequest) error {
	return c.write(ctx, opAdd, "add "+req.DN, func(l *goldap.Conn) error { return l.Add(req) })
}

// Delete deletes the entry dn as the service account; errors as Modify's.
func (c *Client) Delete(ctx context.Context, dn string) error {
	return c.write(ctx, opDelete, "delete "+dn, func(l *goldap.Conn) error {
		return l.Del(goldap.NewDelRequest(dn, nil))
	})
}

// PasswordModify sets dn's password with the RFC 3062 extended operation
// as the service account (oldPassword may be empty when the service
// account may reset passwords); errors as Modify's.
func (c *Client) PasswordModify(ctx context.Context, dn, oldPassword, newPassword string) error {
	return c.write(ctx, opPasswordModify, "password modify "+dn, func(l *goldap.Conn) error {
		_, err := l.PasswordModify(goldap.NewPasswordModifyRequest(dn, oldPassword, newPassword))
		return err
	})
}

func (c *Client) write(ctx context.Context, op, what string, fn func(*goldap.Conn) error) error {
	err := c.do(ctx, c.svc, op, what, func() bool { return false }, func(cn *conn) error { return fn(cn.l) })
	if err == nil || errors.Is(err, federation.ErrUnavailable) {
		return err
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) {
		return unavailable(what+": referral not followed", err)
	}
	return fmt.Errorf("ldap %s: %w", what, err)
}

// Close closes the idle connections. Operations in flight finish, and
// later ones still work, unpooled: the registry closes a provider it
// replaces while logins may still be using it.
func (c *Client) Close() error {
	c.svc.close()
	c.auth.close()
	return nil
}

// callerError carries an error of SearchPaged's callback through do.
type callerError struct{ err error }

func (e callerError) Error() string { return e.err.Error() }

// searchErr maps a search's failure: "no such object" stays an answer,
// everything else (a referral, insufficient access, ...) means the
// directory could not say.
func searchErr(what string, err error) error {
	if errors.Is(err, federation.ErrUnavailable) {
		return err
	}
	if IsNoSuchObject(err) {
		return fmt.Errorf("ldap %s: %w", what, err)
	}
	if goldap.IsErrorWithCode(err, goldap.LDAPResultReferral) {
		return unavailable(what+": referral not followed", err)
	}
	return unavailable(what, err)
}

// do runs fn on a connection of p, through the circuit breaker, and
// records the operation's time. Service connections (p == c.svc) are bound
// as the service account when dialled and after an error. A transport
// failure on a connection that sat idle (the directory may have closed
// it) is retried once on a fresh one, if retry allows (nil: always);
// timeouts are not retried. The directory's answers come back as they
// are, except those that say it cannot serve (busy, unavailable), which
// are ErrUnavailable.
func (c *Client) do(ctx context.Context, p *pool, op, what string, retry func() bool, fn func(*conn) error) (err error) {
	defer func(start time.Time) { observe(op, start, err) }(time.Now())
	if err := c.br.allow(); err != nil {
		return c.br.failFast()
	}
	if err := p.acquire(ctx); err != nil {
		c.br.skip()
		return unavailable(what, fmt.Errorf("waiting for a connection: %w", err))
	}
	defer p.release()
	service := p == c.svc
	for attempt := 0; ; attempt++ {
		cn := p.take()
		reused := cn != nil
		if cn == nil {
			var err error
			if cn, err = c.dial(ctx, service); err != nil {
				c.failed(err)
				return unavailable(what, err)
			}
			p.added()
		}
		again := func(err error) bool {
			return reused && attempt == 0 && !isTimeout(err) && ctx.Err() == nil && (retry == nil || retry())
		}
		if cn.rebind {
			if err := c.run(ctx, cn, c.serviceBind); err != nil {
				p.discard(cn)
				if isTransport(err) {
					c.suspect(cn, reused, err)
					if again(err) {
						continue
					}
				}
				c.failed(err)
				return unavailable("bind as "+c.cfg.BindDN, err)
			}
			cn.rebind = false
		}
		err := c.run(ctx, cn, fn)
		var ce callerError
		switch {
		case err == nil || errors.As(err, &ce):
			p.put(cn)
			c.br.success()
			return err
		case isTransport(err):
			p.discard(cn)
			c.suspect(cn, reused, err)
			if again(err) {
				continue
			}
			c.failed(err)
			return unavailable(what, err)
		}
		code, _ := serverCode(err)
		if code != goldap.LDAPResultNoSuchObject && code != goldap.LDAPResultSizeLimitExceeded {
			cn.rebind = service && c.cfg.AuthType != "none"
		}
		p.put(cn)
		if outageCode(code) {
			c.failed(err)
			return unavailable(what, err)
		}
		c.br.success()
		return err
	}
}

// suspect puts cn's URL last for a while after a transport failure on
// it, unless the connection had only gone stale while idle (the
// directory's idle timeout says nothing against the URL).
func (c *Client) suspect(cn *conn, reused bool, err error) {
	if !reused || isTimeout(err) {
		c.markDown(cn.url)
	}
}

// failed records a failure with the breaker, unless the caller gave up
// (a cancelled request says nothing about the directory).
func (c *Client) failed(err error) {
	if errors.Is(err, context.Canceled) {
		c.br.skip()
		return
	}
	c.br.failure(err)
}

// run runs fn on cn with the read timeout (or the context's deadline when
// sooner) for each request, and aborts it when ctx ends by closing the
// socket; the connection is then not reused.
func (c *Client) run(ctx context.Context, cn *conn, fn func(*conn) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	timeout := c.cfg.ReadTimeout
	if dl, ok := ctx.Deadline(); ok {
		if left := time.Until(dl); left < timeout {
			timeout = left
		}
	}
	if timeout <= 0 {
		return context.DeadlineExceeded
	}
	cn.l.SetTimeout(timeout)
	stop := context.AfterFunc(ctx, func() { _ = cn.raw.Close() })
	err := fn(cn)
	if !stop() {
		cn.broken = true
		if err != nil {
			err = fmt.Errorf("%w (%v)", ctx.Err(), err)
		}
	}
	return err
}

// serviceBind binds cn as the service account.
func (c *Client) serviceBind(cn *conn) error {
	if c.cfg.BindCredential == "" {
		// go-ldap refuses an empty password itself; say why plainly.
		return goldap.NewError(goldap.LDAPResultInvalidCredentials, errors.New("bindCredential is empty"))
	}
	_, err := cn.l.SimpleBind(&goldap.SimpleBindRequest{Username: c.cfg.BindDN, Password: c.cfg.BindCredential})
	return err
}

// dial connects to the first URL that answers: in the configured order,
// except that URLs that failed within the cool-down come last. With bind
// (service connections) it also binds as the service account, so that a
// directory that accepts connections but does not answer fails over too;
// a refused bind does not (the next server would refuse it as well).
func (c *Client) dial(ctx context.Context, bind bool) (*conn, error) {
	var errs []error
	for _, u := range c.urlOrder() {
		cn, err := c.dialURL(ctx, u)
		if err == nil && bind && c.cfg.AuthType != "none" {
			// The bind is part of connecting: it gets the connection
			// timeout, so a directory that accepts and never answers costs
			// a login no more than one that does not accept.
			bctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectionTimeout)
			err = c.run(bctx, cn, c.serviceBind)
			cancel()
			if err == nil && cn.broken {
				err = context.DeadlineExceeded
			}
			if err != nil {
				cn.close()
				if !isTransport(err) {
					return nil, fmt.Errorf("%s: bind as %s: %w", u, c.cfg.BindDN, err)
				}
			}
		}
		if err == nil {
			c.mu.Lock()
			delete(c.downUntil, u)
			c.mu.Unlock()
			return cn, nil
		}
		c.markDown(u)
		errs = append(errs, fmt.Errorf("%s: %w", u, err))
		if ctx.Err() != nil {
			break
		}
	}
	switch len(errs) {
	case 0:
		return nil, errors.New("no connectionUrl")
	case 1:
		return nil, errs[0]
	}
	return nil, joinedErr(errs)
}

// markDown puts u last in the order of URLs for a cool-down.
func (c *Client) markDown(u string) {
	c.mu.Lock()
	c.downUntil[u] = time.Now().Add(c.br.cooldown)
	c.mu.Unlock()
}

// joinedErr is the failure of every URL, on one line.
type joinedErr []error

func (e joinedErr) Error() string {
	s := make([]string, len(e))
	for i, err := range e {
		s[i] = err.Error()
	}
	return strings.Join(s, "; ")
}

func (e joinedErr) Unwrap() []error { return e }

func (c *Client) urlOrder() []string {
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	var up, down []string
	for _, u := range c.cfg.URLs {
		if now.Before(c.downUntil[u]) {
			down = append(down, u)
		} else {
			up = append(up, u)
		}
	}
	return append(up, down...)
}

// dialURL connects to one URL within the connection timeout: TCP, the TLS
// handshake for ldaps, and the StartTLS exchange with startTls.
func (c *Client) dialURL(ctx context.Context, rawURL string) (*conn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	scheme, host, port := strings.ToLower(u.Scheme), u.Hostname(), u.Port()
	switch scheme {
	case "ldap":
		if port == "" {
			port = "389"
		}
	case "ldaps":
		if port == "" {
			port = "636"
		}
	default:
		return nil, fmt.Errorf("unsupported scheme %q", u.Scheme)
	}
	dctx, cancel := context.WithTimeout(ctx, c.cfg.ConnectionTimeout)
	defer cancel()
	var d net.Dialer
	raw, err := d.DialContext(dctx, "tcp", net.JoinHostPort(host, port))
	if err != nil {
		return nil, err
	}
	nc := raw
	if scheme == "ldaps" {
		tc := tls.Client(raw, c.tlsConfig(host))
		if err := tc.HandshakeContext(dctx); err != nil {
			_ = raw.Close()
			return nil, fmt.Errorf("TLS handshake: %w", err)
		}
		nc = tc
	}
	l := goldap.NewConn(nc, scheme == "ldaps")
	l.Start()
	cn := &conn{l: l, raw: raw, url: rawURL}
	if c.cfg.StartTLS && scheme == "ldap" {
		l.SetTimeout(c.cfg.ConnectionTimeout)
		// go-ldap's handshake has no deadline of its own: a past deadline
		// on the socket ends it when dctx does.
		stop := context.AfterFunc(dctx, func() { _ = raw.SetDeadline(time.Unix(1, 0)) })
		err := l.StartTLS(c.tlsConfig(host))
		if !stop() && err == nil {
			err = dctx.Err()
		}
		if err != nil {
			cn.close()
			return nil, fmt.Errorf("StartTLS: %w", err)
		}
	}
	return cn, nil
}

func (c *Client) tlsConfig(host string) *tls.Config {
	return &tls.Config{ServerName: host, RootCAs: c.roots, MinVersion: tls.VersionTLS12}
}
