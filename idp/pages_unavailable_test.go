package idp_test

import (
	"context"
	"fmt"
	"html"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// The browser's pages while the database cannot answer some read or
// write: 503 with Retry-After, never a 4xx that blames the person or the
// request, never a 502, never a page that says the work was done; once
// the database answers again, the very same request goes on.

// cutStore is a store some of whose calls fail as a database that cannot
// answer does; a call is named by its method, or its method and token
// kind ("GetToken:broker").
type cutStore struct {
	store.Store
	mu  sync.Mutex
	cut map[string]bool
}

func (s *cutStore) set(names ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.cut = map[string]bool{}
	for _, n := range names {
		s.cut[n] = true
	}
}

func (s *cutStore) down(names ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if s.cut[n] {
			return fmt.Errorf("sqlstore: %s: %w", n, store.ErrUnavailable)
		}
	}
	return nil
}

// fosite's transactions, as the store offers them.
type txStore interface {
	BeginTX(ctx context.Context) (context.Context, error)
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

func (s *cutStore) BeginTX(ctx context.Context) (context.Context, error) {
	return s.Store.(txStore).BeginTX(ctx)
}
func (s *cutStore) Commit(ctx context.Context) error   { return s.Store.(txStore).Commit(ctx) }
func (s *cutStore) Rollback(ctx context.Context) error { return s.Store.(txStore).Rollback(ctx) }

func (s *cutStore) GetIdentityProvider(ctx context.Context, realmID, alias string) (store.IdentityProvider, error) {
	if err := s.down("GetIdentityProvider"); err != nil {
		return store.IdentityProvider{}, err
	}
	return s.Store.GetIdentityProvider(ctx, realmID, alias)
}

func (s *cutStore) ListIdentityProviders(ctx context.Context, realmID string) ([]store.IdentityProvider, error) {
	if err := s.down("ListIdentityProviders"); err != nil {
		return nil, err
	}
	return s.Store.ListIdentityProviders(ctx, realmID)
}

func (s *cutStore) ListIdentityProviderMappers(ctx context.Context, realmID, alias string) ([]store.IdentityProviderMapper, error) {
	if err := s.down("ListIdentityProviderMappers"); err != nil {
		return nil, err
	}
	return s.Store.ListIdentityProviderMappers(ctx, realmID, alias)
}

func (s *cutStore) GetToken(ctx context.Context, kind store.TokenKind, sig string) (store.Token, error) {
	if err := s.down("GetToken", "GetToken:"+string(kind)); err != nil {
		return store.Token{}, err
	}
	return s.Store.GetToken(ctx, kind, sig)
}

func (s *cutStore) DeactivateToken(ctx context.Context, kind store.TokenKind, sig string) error {
	if err := s.down("DeactivateToken", "DeactivateToken:"+string(kind)); err != nil {
		return err
	}
	return s.Store.DeactivateToken(ctx, kind, sig)
}

func (s *cutStore) GetUser(ctx context.Context, realmID, id string) (store.User, error) {
	if err := s.down("GetUser"); err != nil {
		return store.User{}, err
	}
	return s.Store.GetUser(ctx, realmID, id)
}

func (s *cutStore) GetUserByFederatedIdentity(ctx context.Context, realmID, alias, externalID string) (store.User, error) {
	if err := s.down("GetUserByFederatedIdentity"); err != nil {
		return store.User{}, err
	}
	return s.Store.GetUserByFederatedIdentity(ctx, realmID, alias, externalID)
}

func (s *cutStore) GetSession(ctx context.Context, realmID, id string) (store.Session, error) {
	if err := s.down("GetSession"); err != nil {
		return store.Session{}, err
	}
	return s.Store.GetSession(ctx, realmID, id)
}

func (s *cutStore) ListUserSessions(ctx context.Context, realmID, userID string) ([]store.Session, error) {
	if err := s.down("ListUserSessions"); err != nil {
		return nil, err
	}
	return s.Store.ListUserSessions(ctx, realmID, userID)
}

func (s *cutStore) ListAllRoles(ctx context.Context, realmID string) ([]store.Role, error) {
	if err := s.down("ListAllRoles"); err != nil {
		return nil, err
	}
	return s.Store.ListAllRoles(ctx, realmID)
}

// keygateWith serves a keygate on st with cfg until t ends.
func keygateWith(t *testing.T, st store.Store, cfg idp.Config) *keygate {
	t.Helper()
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := idp.NewServer(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	return &keygate{URL: ts.URL, st: st, log: logs, mgmt: srv.ManagementHandler()}
}

// sendTo sends the requests of one host to another (the cookie jar still
// sees the first).
type sendTo struct{ from, to string }

func (s sendTo) RoundTrip(r *http.Request) (*http.Response, error) {
	if r.URL.Host == s.from {
		r = r.Clone(r.Context())
		r.URL.Host = s.to
	}
	return http.DefaultTransport.RoundTrip(r)
}

// want503 checks a page answered while the database could not.
func want503(t *testing.T, what string, resp *http.Response, page string) {
	t.Helper()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("%s: %d (Retry-After %q), want 503 with Retry-After: %.300s", what, resp.StatusCode, resp.Header.Get("Retry-After"), page)
	}
}

// corpCallback runs a brokered login of alice at up in a fresh browser
// and returns it with the URL up sends it back to (down's endpoint).
func corpCallback(t *testing.T, up, down, served *keygate) (*browser, string) {
	t.Helper()
	b := newBrowser(t)
	b.c.Transport = sendTo{from: strings.TrimPrefix(down.URL, "http://"), to: strings.TrimPrefix(served.URL, "http://")}
	at, page := b.startCorp(down)
	if !strings.HasPrefix(at.String(), up.URL+"/realms/up/") {
		t.Fatalf("broker login went to %s: %.300s", at, page)
	}
	action, f := loginForm(t, at, page, "alice", "alice-pass-1")
	resp, page := b.step(http.MethodPost, action, f)
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, down.URL+"/realms/down/broker/corp/endpoint") {
		t.Fatalf("upstream login: %d to %q: %.300s", resp.StatusCode, cb, page)
	}
	return b, cb
}

// A brokered login whose store reads fail: the login page (its buttons),
// kc_idp_hint, the button, the IdP's answer (the provider, the pending
// login record, the mappers) and the attempt's spending. They answered
// 200 without the buttons, the login form instead of the IdP, 404
// "identity provider not found", 400 "page expired" and 502.
func TestBrokerStoreUnavailableIs503(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	cut := &cutStore{Store: down.st}
	// A second keygate on down's database, cut where the test says, that
	// the browsers reach under down's URL.
	served := keygateWith(t, cut, idp.Config{Hostname: down.URL})
	b := newBrowser(t)
	b.c.Transport = sendTo{from: strings.TrimPrefix(down.URL, "http://"), to: strings.TrimPrefix(served.URL, "http://")}

	cut.set("ListIdentityProviders")
	resp, page := b.step(http.MethodGet, authorizeURL(down, nil), nil)
	want503(t, "login page", resp, page)
	cut.set("GetIdentityProvider")
	resp, page = b.step(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}}), nil)
	want503(t, "kc_idp_hint", resp, page)

	cut.set()
	status, at, page := b.do(http.MethodGet, authorizeURL(down, nil), nil)
	if status != 200 {
		t.Fatalf("authorize: %d %s", status, at)
	}
	button, _ := at.Parse(links(t, page)["social-corp"])
	cut.set("GetIdentityProvider")
	resp, page = b.step(http.MethodGet, button.String(), nil)
	want503(t, "the provider's button", resp, page)
	resp, page = b.step(http.MethodGet, down.URL+"/realms/down/broker/corp/endpoint/descriptor", nil)
	want503(t, "SP descriptor", resp, page)

	cut.set()
	b, cb := corpCallback(t, up, down, served)
	cut.set("GetIdentityProvider")
	resp, page = b.step(http.MethodGet, cb, nil)
	want503(t, "endpoint, provider unread", resp, page)
	cut.set("GetToken:broker")
	resp, page = b.step(http.MethodGet, cb, nil)
	want503(t, "endpoint, pending login unread", resp, page)
	// Nothing was spent: the same answer of the IdP signs in now.
	cut.set()
	if status, at, page := b.do(http.MethodGet, cb, nil); at == nil || !strings.HasPrefix(at.String(), appRedirect) {
		t.Fatalf("endpoint once the database answers: %d %s %.300s", status, at, page)
	}

	// alice is linked now: a second login reads the mappers, then spends
	// the attempt.
	b, cb = corpCallback(t, up, down, served)
	cut.set("ListIdentityProviderMappers")
	resp, page = b.step(http.MethodGet, cb, nil)
	want503(t, "endpoint, mappers unread", resp, page)
	cut.set()
	b, cb = corpCallback(t, up, down, served)
	cut.set("DeactivateToken:login")
	resp, page = b.step(http.MethodGet, cb, nil)
	want503(t, "endpoint, attempt not spent", resp, page)
	cut.set()
	if strings.Contains(served.log.String(), "alice-pass-1") {
		t.Error("the log holds a password")
	}
}

// A password login, a login answered by the SSO session and a logout
// whose store reads or writes fail. They answered 400 "page expired"
// (the password was right, the attempt could not be spent), 400 "account
// disabled" (the session's user could not be read), 400 "invalid
// redirect URI" (the client could not be read), and a logout page that
// would "log out" without ending the session, which it could not read.
func TestLoginPagesStoreUnavailableIs503(t *testing.T) {
	cut := &cutStore{Store: backends.SQLite(t)}
	k := keygateOn(t, cut)
	k.importRealm(t, `{"realm": "plain", "enabled": true, "sslRequired": "none",
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"], "attributes": {"post.logout.redirect.uris": "+"}}],
		"users": [{"username": "carol", "enabled": true, "email": "carol@example.com",
			"credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
	oc := k.URL + "/realms/plain/protocol/openid-connect"
	authorize := oc + "/auth?" + url.Values{"client_id": {"app"}, "redirect_uri": {appRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode()
	logoutTo := oc + "/logout?" + url.Values{"client_id": {"app"}, "post_logout_redirect_uri": {appRedirect}}.Encode()
	b := newBrowser(t)

	// The realm's clients are read first here.
	cut.set("ListAllRoles")
	resp, page := b.step(http.MethodGet, logoutTo, nil)
	want503(t, "logout, client unread", resp, page)

	cut.set()
	status, at, page := b.do(http.MethodGet, authorize, nil)
	if status != 200 {
		t.Fatalf("authorize: %d %s", status, at)
	}
	action, f := loginForm(t, at, page, "carol", "carol-pass-1")
	cut.set("DeactivateToken:login")
	resp, page = b.step(http.MethodPost, action, f)
	want503(t, "password login, attempt not spent", resp, page)
	cut.set()
	if _, at, page := b.do(http.MethodPost, action, f); at == nil || !strings.HasPrefix(at.String(), appRedirect) {
		t.Fatalf("the same form once the database answers: %s %.300s", at, page)
	}

	cut.set("GetUser")
	resp, page = b.step(http.MethodGet, authorize, nil)
	want503(t, "SSO login, user unread", resp, page)

	// A signed-in browser whose session cannot be read: neither the login
	// form nor, with prompt=none, login_required.
	cut.set("GetSession")
	resp, page = b.step(http.MethodGet, authorize, nil)
	want503(t, "authorize, session unread", resp, page)
	resp, page = b.step(http.MethodGet, authorize+"&prompt=none", nil)
	want503(t, "authorize prompt=none, session unread", resp, page)
	resp, page = b.step(http.MethodGet, oc+"/logout", nil)
	want503(t, "logout, session unread", resp, page)
	// The session lives on: it still answers a login.
	cut.set()
	if _, at, page := b.do(http.MethodGet, authorize, nil); at == nil || !strings.HasPrefix(at.String(), appRedirect) {
		t.Fatalf("SSO login once the database answers: %s %.300s", at, page)
	}
	if strings.Contains(k.log.String(), "carol-pass-1") {
		t.Error("the log holds a password")
	}
}

// An identity provider's LogoutRequest while the sessions it names cannot
// be looked up: 503, the sessions alive, where keygate answered the IdP
// that its logout was done (200 with a successful LogoutResponse) and
// ended nothing.
func TestBrokerIdPLogoutStoreUnavailableIs503(t *testing.T) {
	corp, down := samlSetup(t)
	newBrowser(t).samlLogin(down, corp, "alice")
	ss := samlSessions(t, down.st, "alice")
	if len(ss) != 1 {
		t.Fatalf("%d sessions after login", len(ss))
	}
	_, nameID, idx := samlSessionBroker(t, ss[0])
	cut := &cutStore{Store: down.st}
	served := keygateWith(t, cut, idp.Config{Hostname: down.URL})
	for _, c := range []struct{ cut, sessionIndex string }{
		{"GetToken:broker", idx},           // the index of the IdP session's logins
		{"GetUserByFederatedIdentity", ""}, // the NameID's link
	} {
		cut.set(c.cut)
		_, lr := samlLogoutRequest(t, corp, down, corp.keys, nameID, c.sessionIndex)
		if st, page := samlPostPlain(t, served.URL+samlCallback, lr); st != http.StatusServiceUnavailable {
			t.Errorf("LogoutRequest, %s cut: %d, want 503: %.300s", c.cut, st, page)
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 1 {
			t.Fatalf("%s cut: %d sessions left", c.cut, len(ss))
		}
	}
	cut.set()
	_, lr := samlLogoutRequest(t, corp, down, corp.keys, nameID, idx)
	if st, page := samlPostPlain(t, served.URL+samlCallback, lr); st != 200 || !strings.Contains(page, "SAMLResponse") {
		t.Errorf("LogoutRequest once the database answers: %d %.300s", st, page)
	}
	if ss := samlSessions(t, down.st, "alice"); len(ss) != 0 {
		t.Errorf("%d sessions after the IdP's logout", len(ss))
	}
}

// A registration whose attempt cannot be spent once the user is stored:
// 503 with Retry-After, where it answered 400 "page expired".
func TestRegistrationStoreUnavailableIs503(t *testing.T) {
	cut := &cutStore{Store: backends.SQLite(t)}
	k := keygateOn(t, cut)
	k.importRealm(t, `{"realm": "plain", "enabled": true, "sslRequired": "none", "registrationAllowed": true,
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"]}]}`)
	authorize := k.URL + "/realms/plain/protocol/openid-connect/auth?" + url.Values{"client_id": {"app"}, "redirect_uri": {appRedirect},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"st-1"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode()
	b := newBrowser(t)
	status, at, page := b.do(http.MethodGet, authorize, nil)
	if status != 200 {
		t.Fatalf("authorize: %d %s", status, at)
	}
	login, _ := formOf(t, at, page, "kc-form-login")
	status, at, page = b.do(http.MethodGet, strings.Replace(login, "/login-actions/authenticate?", "/login-actions/registration?", 1), nil)
	if status != 200 {
		t.Fatalf("register page: %d %s %.300s", status, at, page)
	}
	action, f := formOf(t, at, page, "kc-register-form")
	f.Set("username", "dave")
	f.Set("email", "dave@example.com")
	f.Set("firstName", "Dave")
	f.Set("lastName", "Jones")
	f.Set("password", "dave-pass-1")
	f.Set("password-confirm", "dave-pass-1")
	cut.set("DeactivateToken:login")
	resp, page := b.step(http.MethodPost, action, f)
	want503(t, "registration, attempt not spent", resp, page)
}

// keycloak-js's session iframe init while the client cannot be read: 503
// with Retry-After, where it answered 403 (this origin may not use the
// iframe).
func TestLoginStatusInitStoreUnavailableIs503(t *testing.T) {
	cut := &cutStore{Store: backends.SQLite(t)}
	k := keygateOn(t, cut)
	k.importRealm(t, `{"realm": "plain", "enabled": true, "sslRequired": "none",
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"], "webOrigins": ["+"]}]}`)
	init := k.URL + "/realms/plain/protocol/openid-connect/login-status-iframe.html/init?" +
		url.Values{"client_id": {"app"}, "origin": {"http://app.localhost"}}.Encode()
	b := newBrowser(t)
	cut.set("ListAllRoles") // the realm's clients are read first here
	resp, page := b.step(http.MethodGet, init, nil)
	want503(t, "iframe init, client unread", resp, page)
	cut.set()
	if resp, page := b.step(http.MethodGet, init, nil); resp.StatusCode != http.StatusNoContent {
		t.Errorf("iframe init once the database answers: %d %.300s", resp.StatusCode, page)
	}
}

// UPDATE_PASSWORD with "sign out other devices" while the other sessions
// cannot be listed: the page again in a 503 with Retry-After, where the
// login went on (302 to the app) as if they had ended; once the database
// answers, the same page ends them.
func TestUpdatePasswordSignOutStoreUnavailableIs503(t *testing.T) {
	cut := &cutStore{Store: backends.SQLite(t)}
	k := keygateOn(t, cut)
	k.importRealm(t, `{"realm": "plain", "enabled": true, "sslRequired": "none",
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"]}],
		"users": [{"username": "erin", "enabled": true, "email": "erin@example.com",
			"credentials": [{"type": "password", "value": "erin-pass-1"}]}]}`)
	authorize := k.URL + "/realms/plain/protocol/openid-connect/auth?" + url.Values{"client_id": {"app"}, "redirect_uri": {appRedirect},
		"response_type": {"code"}, "scope": {"openid"}, "state": {"st-1"}, "code_challenge_method": {"S256"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode()
	login := func(b *browser) (int, *url.URL, string) {
		t.Helper()
		status, at, page := b.do(http.MethodGet, authorize, nil)
		if status != 200 {
			t.Fatalf("authorize: %d %s", status, at)
		}
		return b.upstreamLogin(at, page, "erin", "erin-pass-1")
	}
	if _, at, page := login(newBrowser(t)); at == nil || !strings.HasPrefix(at.String(), appRedirect) {
		t.Fatalf("first login: %s %.300s", at, page)
	}
	realm, err := cut.GetRealmByName(t.Context(), "plain")
	if err != nil {
		t.Fatal(err)
	}
	u, err := cut.GetUserByUsername(t.Context(), realm.ID, "erin")
	if err != nil {
		t.Fatal(err)
	}
	u.RequiredActions = []string{"UPDATE_PASSWORD"}
	if err := cut.UpdateUser(t.Context(), u); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	status, at, page := login(b)
	if status != 200 {
		t.Fatalf("second login: %d %s", status, at)
	}
	action, f := formOf(t, at, page, "kc-passwd-update-form")
	f.Set("password-new", "Erin-Pass-2")
	f.Set("password-confirm", "Erin-Pass-2")
	f.Set("logout-sessions", "on")
	cut.set("ListUserSessions")
	resp, page := b.step(http.MethodPost, action, f)
	want503(t, "update password, other sessions unlisted", resp, page)
	cut.set()
	if ss, err := cut.ListUserSessions(t.Context(), realm.ID, u.ID); err != nil || len(ss) != 1 {
		t.Fatalf("sessions after the refused page: %d %v", len(ss), err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable {
		return
	}
	action, f = formOf(t, resp.Request.URL, page, "kc-passwd-update-form")
	f.Set("password-new", "Erin-Pass-2")
	f.Set("password-confirm", "Erin-Pass-2")
	f.Set("logout-sessions", "on")
	if _, at, page := b.do(http.MethodPost, action, f); at == nil || !strings.HasPrefix(at.String(), appRedirect) {
		t.Fatalf("the page again once the database answers: %s %.300s", at, page)
	}
	if ss, err := cut.ListUserSessions(t.Context(), realm.ID, u.ID); err != nil || len(ss) != 1 {
		t.Errorf("sessions after signing the others out: %d %v, want this browser's only", len(ss), err)
	}
}

// Linking an identity provider's account from the account console while
// the store cannot answer: the linked-accounts page, the link button and
// the IdP's answer (the browser's session) answer 503 with Retry-After,
// where they answered a page without the provider (200), 404 "identity
// provider not found" and 400 "cookie not found".
func TestAccountLinkStoreUnavailableIs503(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	cut := &cutStore{Store: down.st}
	served := keygateWith(t, cut, idp.Config{Hostname: down.URL})
	// bob.local gets the realm's default roles (the account console's).
	ctx := t.Context()
	realm, err := down.st.GetRealmByName(ctx, "down")
	if err != nil {
		t.Fatal(err)
	}
	bob, err := down.st.GetUserByUsername(ctx, realm.ID, "bob.local")
	if err != nil {
		t.Fatal(err)
	}
	def, err := down.st.GetRoleByName(ctx, realm.ID, "", "default-roles-down")
	if err != nil {
		t.Fatal(err)
	}
	if err := down.st.GrantUserRoles(ctx, realm.ID, bob.ID, []string{def.ID}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	b.c.Transport = sendTo{from: strings.TrimPrefix(down.URL, "http://"), to: strings.TrimPrefix(served.URL, "http://")}
	linked := down.URL + "/realms/down/account/account-security/linked-accounts"
	status, at, page := b.do(http.MethodGet, linked, nil)
	if status != 200 {
		t.Fatalf("console: %d %s", status, at)
	}
	status, at, page = b.upstreamLogin(at, page, "bob.local", "bob-local-pass-1")
	link := regexp.MustCompile(`action="([^"]*/corp/link)"`).FindStringSubmatch(page)
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(page)
	if status != 200 || link == nil || csrf == nil {
		t.Fatalf("linked accounts: %d %s %.600s", status, at, page)
	}
	linkURL, _ := at.Parse(html.UnescapeString(link[1]))
	form := url.Values{"csrf_token": {html.UnescapeString(csrf[1])}}

	cut.set("GetIdentityProvider")
	resp, page := b.step(http.MethodGet, linked, nil)
	want503(t, "linked accounts page, provider unread", resp, page)
	resp, page = b.step(http.MethodPost, linkURL.String(), form)
	want503(t, "link, provider unread", resp, page)

	cut.set()
	resp, page = b.step(http.MethodPost, linkURL.String(), form)
	to, _ := resp.Request.URL.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || to == nil || !strings.HasPrefix(to.String(), up.URL+"/realms/up/") {
		t.Fatalf("link: %d to %s %.300s", resp.StatusCode, to, page)
	}
	status, at, page = b.do(http.MethodGet, to.String(), nil)
	if status != 200 {
		t.Fatalf("upstream login page: %d %s", status, at)
	}
	action, f := loginForm(t, at, page, "alice", "alice-pass-1")
	resp, page = b.step(http.MethodPost, action, f)
	cb := resp.Header.Get("Location")
	if !strings.HasPrefix(cb, down.URL+"/realms/down/broker/corp/endpoint") {
		t.Fatalf("upstream login: %d to %q: %.300s", resp.StatusCode, cb, page)
	}
	cut.set("GetSession")
	resp, page = b.step(http.MethodGet, cb, nil)
	want503(t, "the IdP's answer, session unread", resp, page)
}

// An IdP's back-channel logout token that arrives while the providers
// cannot be listed is told to come back (503), not that it is invalid.
func TestIdPBackchannelLogoutStoreUnavailableIs503(t *testing.T) {
	_, down := brokerPair(t, "oidc", "")
	cut := &cutStore{Store: down.st}
	served := keygateWith(t, cut, idp.Config{Hostname: down.URL})
	cut.set("ListIdentityProviders")
	resp, err := http.PostForm(served.URL+"/realms/down/protocol/openid-connect/logout/backchannel-logout", url.Values{"logout_token": {"a.b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Errorf("logout token while the providers cannot be listed: %d (Retry-After %q), want 503", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	cut.set()
	resp, err = http.PostForm(served.URL+"/realms/down/protocol/openid-connect/logout/backchannel-logout", url.Values{"logout_token": {"a.b.c"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("the same token once the database answers: %d, want 400", resp.StatusCode)
	}
}
