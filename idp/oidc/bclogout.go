package oidc

// OpenID Connect Back-Channel Logout 1.0, as Keycloak sends it: when an SSO
// session ends by an explicit action (a logout, the account console's sign
// out, an admin's), every client that had tokens in it and has a
// backchannel.logout.url is sent a logout token, in a form POST from the
// server. Expiry sends nothing, as in Keycloak.
//
// Every such action goes through EndSession, EndUserSessions or
// EndRealmSessions: they read which clients to tell before the delete, in
// the same transaction, and queue the notices once it has committed. A
// bounded queue and a few workers send them, so that the request that
// ended the session never waits on a client.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Keycloak's client attributes and logout token names.
const (
	attrBackchannelURL           = "backchannel.logout.url"
	attrBackchannelSession       = "backchannel.logout.session.required"
	attrBackchannelRevokeOffline = "backchannel.logout.revoke.offline.tokens"
	backchannelLogoutEvent       = "http://schemas.openid.net/event/backchannel-logout"
	// revokeOfflineEvent asks the receiver to drop the offline access it
	// holds (Keycloak's TOKEN_BACKCHANNEL_LOGOUT_EVENT_REVOKE_OFFLINE_TOKENS);
	// Keycloak, as the sender, revokes nothing of its own for it.
	revokeOfflineEvent  = "revoke_offline_access"
	logoutTokenLifespan = 2 * time.Minute // Keycloak's, as the spec advises
)

// Outcomes of a back-channel logout notice (BackchannelOptions.Observe).
const (
	BackchannelSent     = "sent"     // the client answered 2xx
	BackchannelRejected = "rejected" // the client answered another status
	BackchannelFailed   = "failed"   // no answer: connection, TLS, timeout, bad URL
	BackchannelDropped  = "dropped"  // the queue was full
	BackchannelError    = "error"    // keygate could not make the token
)

// BackchannelOptions configure the sender of logout tokens.
type BackchannelOptions struct {
	// HTTP sends the requests; it must not follow redirects. nil: a
	// client of its own with the system roots.
	HTTP *http.Client
	// Queue bounds the notices waiting to be sent (0 = 4096); Workers
	// send them (0 = 8); Timeout bounds each request (0 = 5 s).
	Queue, Workers int
	Timeout        time.Duration
	// Observe, when set, is told the outcome of every notice.
	Observe func(outcome string)
}

// logoutNotice is one logout token to send: enough to build it off the
// request's path.
type logoutNotice struct {
	realmID, iss, clientID, url, sub, sid string
	revokeOffline                         bool
}

type backchannel struct {
	p       *Provider
	http    *http.Client
	timeout time.Duration
	observe func(string)
	log     *slog.Logger
	ch      chan logoutNotice
	// overflowing is set while the queue is full, so that one log line
	// tells of an overflow episode, not one per notice.
	overflowing atomic.Bool
	stop        chan struct{}
	wg          sync.WaitGroup
	closeOnce   sync.Once
}

// StartBackchannelLogout starts the workers that send logout tokens.
// Without it, sessions still end but no client is told.
func (p *Provider) StartBackchannelLogout(o BackchannelOptions) {
	if o.Queue <= 0 {
		o.Queue = 4096
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.HTTP == nil {
		o.HTTP = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	if o.Observe == nil {
		o.Observe = func(string) {}
	}
	b := &backchannel{p: p, http: o.HTTP, timeout: o.Timeout, observe: o.Observe, log: p.log,
		ch: make(chan logoutNotice, o.Queue), stop: make(chan struct{})}
	for range o.Workers {
		b.wg.Add(1)
		go b.run()
	}
	p.bcl.Store(b)
}

// CloseBackchannelLogout stops the workers once the requests under way
// are done; notices still queued are not sent.
func (p *Provider) CloseBackchannelLogout() {
	b := p.bcl.Load()
	if b == nil {
		return
	}
	b.closeOnce.Do(func() { close(b.stop) })
	b.wg.Wait()
	if n := len(b.ch); n > 0 {
		b.log.Warn("back-channel logout: notices not sent at shutdown", "count", n)
	}
}

func (b *backchannel) run() {
	defer b.wg.Done()
	for {
		select {
		case <-b.stop:
			return
		case n := <-b.ch:
			b.observe(b.send(n))
		}
	}
}

func (b *backchannel) enqueue(ns []logoutNotice) {
	for _, n := range ns {
		select {
		case b.ch <- n:
			b.overflowing.Store(false)
		default:
			b.observe(BackchannelDropped)
			if !b.overflowing.Swap(true) {
				b.log.Warn("back-channel logout queue full: notices dropped until it drains", "capacity", cap(b.ch))
			}
		}
	}
}

// maxLogoutAnswer bounds what is read of a client's answer (and ignored),
// so that the connection can be reused without reading an endless body.
const maxLogoutAnswer = 16 << 10

// send delivers n and returns its outcome. The log names the client and
// its URL without the query (it may carry a secret), never the token.
func (b *backchannel) send(n logoutNotice) string {
	ctx, cancel := context.WithTimeout(context.Background(), b.timeout)
	defer cancel()
	where := redactURL(n.url)
	tok, err := b.p.logoutToken(ctx, n)
	if err != nil {
		b.log.Warn("back-channel logout: no logout token", "realm", n.realmID, "client", n.clientID, "err", err)
		return BackchannelError
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, n.url, strings.NewReader(url.Values{"logout_token": {tok}}.Encode()))
	if err != nil {
		b.log.Warn("back-channel logout: bad URL", "realm", n.realmID, "client", n.clientID, "url", where)
		return BackchannelFailed
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.http.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err // without the URL and its query
		}
		b.log.Warn("back-channel logout failed", "realm", n.realmID, "client", n.clientID, "url", where, "err", err)
		return BackchannelFailed
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxLogoutAnswer))
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		b.log.Warn("back-channel logout refused", "realm", n.realmID, "client", n.clientID, "url", where, "status", resp.StatusCode)
		return BackchannelRejected
	}
	b.log.Debug("back-channel logout sent", "realm", n.realmID, "client", n.clientID, "url", where)
	return BackchannelSent
}

func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable)"
	}
	return (&url.URL{Scheme: u.Scheme, Host: u.Host, Path: u.Path}).String()
}

// logoutToken signs n's logout token with the realm's token key, as the
// ID token is signed (alg and kid), typ "logout+jwt" in the header and
// the claims Keycloak 26's DefaultTokenManager.initLogoutToken sets.
func (p *Provider) logoutToken(ctx context.Context, n logoutNotice) (string, error) {
	settings, err := p.noticeSettings(ctx, n)
	if err != nil {
		return "", err
	}
	rk, err := p.keys.get(ctx, n.realmID, settings.DefaultSignatureAlgorithm)
	if err != nil {
		return "", err
	}
	key := rk.tokenKey(settings.DefaultSignatureAlgorithm)
	events := map[string]any{backchannelLogoutEvent: map[string]any{}}
	if n.revokeOffline {
		events[revokeOfflineEvent] = true
	}
	at := now()
	claims := map[string]any{
		"iss": n.iss, "aud": n.clientID, "sub": n.sub, "typ": "Logout", "jti": uuid.NewString(),
		"iat": at.Unix(), "exp": at.Add(logoutTokenLifespan).Unix(), "events": events,
	}
	if n.sid != "" {
		claims["sid"] = n.sid
	}
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	return key.compactTyped(payload, "logout+jwt")
}

// noticeSettings are n's realm's settings: from the realm cache, by the
// name n's issuer ends with (a realm's logout sends a notice per session
// and client, each would read and decode the realm again), or read by id
// when that name does not lead to n's realm.
func (p *Provider) noticeSettings(ctx context.Context, n logoutNotice) (rep.RealmSettings, error) {
	if i := strings.LastIndex(n.iss, "/realms/"); i >= 0 {
		if cr, err := p.realms.get(ctx, n.iss[i+len("/realms/"):]); err == nil && cr.row.ID == n.realmID {
			return cr.settings, nil
		}
	}
	row, err := p.st.GetRealm(ctx, n.realmID)
	if err != nil {
		return rep.RealmSettings{}, err
	}
	_, settings, err := rep.DecodeRealm(row)
	return settings, err
}

// compactTyped signs payload with compact, with typ in the header in
// place of "JWT" (the header written as headerSegment writes it).
func (k *signingKey) compactTyped(payload []byte, typ string) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": k.alg, "kid": k.kid, "typ": typ})
	if err != nil {
		return "", err
	}
	typed := *k
	typed.header = base64.RawURLEncoding.EncodeToString(h)
	return typed.compact(payload)
}

// Issuer is the issuer of realmName's tokens for r: what logout tokens
// sent on r's behalf carry as iss.
func (p *Provider) Issuer(r *http.Request, realmName string) string {
	return p.BaseURL(r) + "/realms/" + realmName
}

// EndSession ends the SSO session sid of realmID on purpose, as
// store.DeleteSession does, and tells its clients (iss: the realm's
// issuer). ErrNotFound when there is no such session. Not to be called
// inside a transaction: the notices go once this one has committed.
func (p *Provider) EndSession(ctx context.Context, iss, realmID, sid string) error {
	return p.endSessions(ctx, iss, realmID, sessionPick{id: sid}, func(ctx context.Context) error {
		return p.st.DeleteSession(ctx, realmID, sid)
	})
}

// EndUserSessions ends every SSO session of userID on purpose and tells
// their clients. end is the write that ends them, run in the same
// transaction after their clients were read (the user's notBefore with
// store.DeleteUserSessions, or store.DeleteUser); nil is
// store.DeleteUserSessions alone.
func (p *Provider) EndUserSessions(ctx context.Context, iss, realmID, userID string, end func(ctx context.Context) error) error {
	if end == nil {
		end = func(ctx context.Context) error { return p.st.DeleteUserSessions(ctx, realmID, userID) }
	}
	return p.endSessions(ctx, iss, realmID, sessionPick{user: userID}, end)
}

// EndRealmSessions ends every SSO session of realmID (end: the write that
// does, store.DeleteRealmSessions when nil) and tells their clients, as
// many as the queue holds.
func (p *Provider) EndRealmSessions(ctx context.Context, iss, realmID string, end func(ctx context.Context) error) error {
	if end == nil {
		end = func(ctx context.Context) error { return p.st.DeleteRealmSessions(ctx, realmID) }
	}
	return p.endSessions(ctx, iss, realmID, sessionPick{realm: true}, end)
}

// EndOfflineSession revokes userID's offline session sid on purpose (end:
// the write that does, store.DeleteOfflineSession) and tells the clients
// holding its offline tokens, as Keycloak's backchannel logout of an
// offline session does.
func (p *Provider) EndOfflineSession(ctx context.Context, iss, realmID, userID, sid string, end func(ctx context.Context) error) error {
	return p.endSessions(ctx, iss, realmID, sessionPick{id: sid, user: userID, offline: true}, end)
}

// RevokeClientGrants takes back user's consent to client c and their
// offline tokens of it (store.RevokeClientGrants, revoked access tokens
// marked until until) and, when a consent went, tells c: the consent's
// end logs c out of the user's sessions, as Keycloak's revokeConsent
// (backchannelLogoutUserFromClient) does. It reports whether anything was
// revoked.
func (p *Provider) RevokeClientGrants(ctx context.Context, iss, realmID, userID string, c store.Client, until time.Time) (bool, error) {
	var revoked bool
	err := p.endSessions(ctx, iss, realmID, sessionPick{user: userID, client: c}, func(ctx context.Context) error {
		var err error
		revoked, err = p.st.RevokeClientGrants(ctx, realmID, userID, c, until)
		return err
	})
	return revoked, err
}

// sessionPick names the sessions an ending ends: one, a user's, all, or
// one offline session (id, of user); with client, only that client of
// the user's sessions is told, and only when the user has consented to it
// (the consent's revocation is what ends its sessions).
type sessionPick struct {
	id, user       string
	realm, offline bool
	client         store.Client
}

// bcTarget is a client to be told: its back-channel logout settings.
type bcTarget struct {
	url                            string
	sessionRequired, revokeOffline bool
}

func (p *Provider) endSessions(ctx context.Context, iss, realmID string, pick sessionPick, end func(ctx context.Context) error) error {
	b := p.bcl.Load()
	var targets map[string]bcTarget
	if b != nil {
		// Without the realm's clients the session still ends, untold:
		// a logout never fails for want of a notice.
		if m, err := p.models.get(ctx, realmID); err != nil {
			p.log.WarnContext(ctx, "back-channel logout: clients unknown, none told", "realm", realmID, "err", err)
		} else {
			targets = backchannelTargets(m)
		}
	}
	var notices []logoutNotice
	err := p.st.Tx(ctx, func(ctx context.Context) error {
		if len(targets) > 0 {
			var err error
			if notices, err = p.logoutNotices(ctx, iss, realmID, pick, targets, cap(b.ch)); err != nil {
				return err
			}
		}
		return end(ctx)
	})
	if err != nil {
		return err
	}
	if len(notices) > 0 {
		b.enqueue(notices)
	}
	return nil
}

// backchannelTargets are m's enabled OpenID Connect clients with a
// back-channel logout URL, by clientId. frontchannelLogout does not
// exclude one, as it does in Keycloak: keygate sends no front-channel
// logout, so it would be told nothing at all.
func backchannelTargets(m *realmModel) map[string]bcTarget {
	var out map[string]bcTarget
	for id, c := range m.clients {
		s := c.Settings
		u := strings.TrimSpace(s.Attributes[attrBackchannelURL])
		if u == "" || !s.Enabled || s.Protocol != "openid-connect" {
			continue
		}
		// Relative to the client's root URL, as Keycloak resolves it.
		if strings.HasPrefix(u, "/") && s.RootURL != "" {
			u = strings.TrimSuffix(s.RootURL, "/") + u
		}
		if out == nil {
			out = map[string]bcTarget{}
		}
		out[id] = bcTarget{url: u,
			sessionRequired: attrTrue(s.Attributes, attrBackchannelSession, true),
			revokeOffline:   attrTrue(s.Attributes, attrBackchannelRevokeOffline, false)}
	}
	return out
}

func attrTrue(a map[string]string, k string, def bool) bool {
	if b, err := strconv.ParseBool(a[k]); err == nil {
		return b
	}
	return def
}

// logoutNotices reads, before they go, which of targets had tokens in the
// sessions pick names: one notice per session and client, at most max.
func (p *Provider) logoutNotices(ctx context.Context, iss, realmID string, pick sessionPick, targets map[string]bcTarget, max int) ([]logoutNotice, error) {
	var out []logoutNotice
	seen := map[[2]string]bool{}
	add := func(sid, sub, clientID string) {
		t, ok := targets[clientID]
		if pick.client.ID != "" && clientID != pick.client.ClientID {
			return
		}
		if !ok || len(out) >= max || seen[[2]string{sid, clientID}] {
			return
		}
		seen[[2]string{sid, clientID}] = true
		n := logoutNotice{realmID: realmID, iss: iss, clientID: clientID, url: t.url, sub: sub, revokeOffline: t.revokeOffline}
		if t.sessionRequired {
			n.sid = sid
		}
		out = append(out, n)
	}
	if pick.offline {
		tokens, err := p.st.ListOfflineTokens(ctx, realmID, pick.user, now())
		if err != nil {
			return nil, err
		}
		for _, t := range tokens {
			if t.Token.SessionID == pick.id {
				add(pick.id, pick.user, t.Token.ClientID)
			}
		}
		return out, nil
	}
	if pick.realm {
		for clientID := range targets {
			sessions, err := p.st.ListClientSessions(ctx, realmID, clientID, now(), 0, max)
			if err != nil {
				return nil, err
			}
			for _, s := range sessions {
				add(s.Session.ID, s.Session.UserID, clientID)
			}
		}
		return out, nil
	}
	if pick.client.ID != "" {
		if _, ok := targets[pick.client.ClientID]; !ok {
			return nil, nil
		}
		if _, err := p.st.GetConsent(ctx, realmID, pick.user, pick.client.ID); errors.Is(err, store.ErrNotFound) {
			return nil, nil // no consent: the sessions keep the client
		} else if err != nil {
			return nil, err
		}
	}
	var sessions []store.Session
	if pick.user != "" {
		var err error
		if sessions, err = p.st.ListUserSessions(ctx, realmID, pick.user); err != nil {
			return nil, err
		}
	} else {
		s, err := p.st.GetSession(ctx, realmID, pick.id)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil // the delete says so
		} else if err != nil {
			return nil, err
		}
		sessions = []store.Session{s}
	}
	if len(sessions) == 0 {
		return nil, nil
	}
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	clients, err := p.st.ListSessionsClients(ctx, realmID, ids)
	if err != nil {
		return nil, fmt.Errorf("clients of the sessions ending: %w", err)
	}
	for _, s := range sessions {
		for _, c := range clients[s.ID] {
			add(s.ID, s.UserID, c)
		}
	}
	return out, nil
}
