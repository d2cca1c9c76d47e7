package login_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// completeEnv is a realm ("master", with the bootstrap admin and a
// confidential client "app") and an endpoint that hands a validated
// authorization request straight to CompleteLogin, as the broker
// endpoints will: the user and details are the test's.
type completeEnv struct {
	st    store.Store
	url   string
	admin store.User
	// complete is what the endpoint passes to CompleteLogin.
	complete func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details)
}

func newCompleteEnv(t *testing.T) *completeEnv { return newCompleteEnvWith(t, nil) }

// newCompleteEnvWith is newCompleteEnv with the login handler's store
// wrapped by wrap (failure injection).
func newCompleteEnvWith(t *testing.T, wrap func(store.Store) login.Store) *completeEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	log := slog.New(slog.DiscardHandler)
	srv, err := idp.NewServer(st, idp.Config{Logger: log})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	master, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Client{ClientID: "app", Secret: "app-secret", RedirectURIs: []string{"https://app.example.com/cb"}}
	if _, _, err := rep.CreateClient(ctx, st, master, &c); err != nil {
		t.Fatal(err)
	}
	admin, err := st.GetUserByUsername(ctx, master.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	env := &completeEnv{st: st, admin: admin}
	p := srv.Provider()
	var ls login.Store = st
	if wrap != nil {
		ls = wrap(st)
	}
	h := login.New(ls, p, nil, log)
	mux := http.NewServeMux()
	p.Register(mux)
	mux.HandleFunc("GET /realms/{realm}/test-complete", p.RealmHandler(func(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
		req, ok := p.ParseAuthorizeRequest(w, r, realm, r.URL.Query())
		if !ok {
			return
		}
		at, u, d := env.complete(req)
		h.CompleteLogin(w, r, realm, &at, u, d)
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	env.url = ts.URL
	return env
}

func (e *completeEnv) get(t *testing.T, extra url.Values, cookies ...*http.Cookie) *http.Response {
	t.Helper()
	q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"state-123456"}, "nonce": {"nonce-123456"}}
	for k, v := range extra {
		q[k] = v
	}
	req, _ := http.NewRequest(http.MethodGet, e.url+"/realms/master/test-complete?"+q.Encode(), nil)
	for _, c := range cookies {
		req.AddCookie(c)
	}
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noFollow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func cookiesByName(resp *http.Response) map[string]*http.Cookie {
	out := map[string]*http.Cookie{}
	for _, c := range resp.Cookies() {
		out[c.Name] = c
	}
	return out
}

// The ID token's claims, unverified: the token endpoint just issued it.
func idTokenClaims(t *testing.T, base, code string) map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"authorization_code"},
		"code": {code}, "redirect_uri": {"https://app.example.com/cb"}, "client_id": {"app"}, "client_secret": {"app-secret"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	parts := strings.Split(tok["id_token"].(string), ".")
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		t.Fatal(err)
	}
	return claims
}

func TestCompleteLoginCreatesSessionAndIssuesCode(t *testing.T) {
	e := newCompleteEnv(t)
	authTime := time.Now().Add(-time.Minute)
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{ID: "attempt-1", Request: req, Started: req.RequestedAt()}, e.admin,
			login.Details{ACR: "1", AuthTime: authTime}
	}
	resp := e.get(t, nil)
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("status %d", resp.StatusCode)
	}
	loc, err := url.Parse(resp.Header.Get("Location"))
	if err != nil || loc.Host != "app.example.com" {
		t.Fatalf("Location %q", resp.Header.Get("Location"))
	}
	q := loc.Query()
	sid := q.Get("session_state")
	if q.Get("code") == "" || sid == "" || q.Get("state") != "state-123456" || q.Get("iss") != e.url+"/realms/master" {
		t.Fatalf("response %v", q)
	}
	s, err := e.st.GetSession(t.Context(), e.admin.RealmID, sid)
	if err != nil {
		t.Fatal(err)
	}
	if s.UserID != e.admin.ID || !s.AuthTime.Equal(authTime.Truncate(time.Second)) || s.RememberMe {
		t.Errorf("session %+v", s)
	}
	ck := cookiesByName(resp)
	id, sess, attempt := ck["KEYCLOAK_IDENTITY"], ck["KEYCLOAK_SESSION"], ck["AUTH_SESSION_ID"]
	if id == nil || !id.HttpOnly || id.Path != "/realms/master/" || id.MaxAge != 0 || id.SameSite != http.SameSiteLaxMode {
		t.Errorf("KEYCLOAK_IDENTITY %+v", id)
	}
	sum := sha256Base64(sid)
	if sess == nil || sess.HttpOnly || sess.Path != "/realms/master/" || sess.Value != sum {
		t.Errorf("KEYCLOAK_SESSION %+v, want value %s", sess, sum)
	}
	if attempt == nil || attempt.MaxAge >= 0 || attempt.Value != "" {
		t.Errorf("AUTH_SESSION_ID not cleared: %+v", attempt)
	}
	claims := idTokenClaims(t, e.url, q.Get("code"))
	if claims["acr"] != "1" || claims["sid"] != sid || claims["nonce"] != "nonce-123456" || claims["sub"] != e.admin.ID {
		t.Errorf("ID token %v", claims)
	}
	if at, _ := claims["auth_time"].(float64); int64(at) != authTime.Unix() {
		t.Errorf("auth_time %v, want %d", claims["auth_time"], authTime.Unix())
	}

	// The cookie it set names that session to the next request: an SSO
	// login reuses it and sets no cookie.
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{Request: req, Started: req.RequestedAt()}, e.admin, login.Details{ACR: "0", AuthTime: s.AuthTime, Session: &s}
	}
	resp = e.get(t, nil, id)
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("session_state") != sid || len(resp.Cookies()) != 0 {
		t.Fatalf("reuse: %d %q, cookies %v", resp.StatusCode, resp.Header.Get("Location"), resp.Cookies())
	}
	if claims := idTokenClaims(t, e.url, loc.Query().Get("code")); claims["acr"] != "0" || claims["sid"] != sid {
		t.Errorf("reused session's ID token %v", claims)
	}
}

// The user is taken as passed, not re-read: required actions on the
// passed user send the browser to their pages, with no session yet.
func TestCompleteLoginRequiredActions(t *testing.T) {
	e := newCompleteEnv(t)
	u := e.admin
	u.RequiredActions = []string{"UPDATE_PASSWORD"}
	attemptID := "attempt-1"
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{ID: attemptID, Request: req, Started: req.RequestedAt()}, u, login.Details{ACR: "1", AuthTime: time.Now()}
	}
	resp := e.get(t, nil)
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Path != "/realms/master/login-actions/required-action" ||
		loc.Query().Get("execution") != "UPDATE_PASSWORD" || loc.Query().Get("client_id") != "app" || loc.Query().Get("tab_id") == "" {
		t.Fatalf("status %d, location %s", resp.StatusCode, loc)
	}
	if len(resp.Cookies()) != 0 {
		t.Errorf("cookies %v, want the attempt's kept", resp.Cookies())
	}
	if ss, err := e.st.ListUserSessions(t.Context(), e.admin.RealmID, e.admin.ID); err != nil || len(ss) != 0 {
		t.Errorf("sessions %v %v", ss, err)
	}

	// Without a stored attempt (an SSO session) no cookie is touched; a
	// silent request learns interaction_required.
	attemptID = ""
	resp = e.get(t, url.Values{"prompt": {"none"}})
	loc, _ = url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusSeeOther || loc.Query().Get("error") != "interaction_required" || loc.Query().Get("state") != "state-123456" {
		t.Fatalf("prompt=none: %d %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	if len(resp.Cookies()) != 0 {
		t.Errorf("cookies %v", resp.Cookies())
	}
}

// An enabled required action keygate has no page for stops the login
// (a disabled or unregistered one is skipped, as Keycloak does).
func TestCompleteLoginUnknownAction(t *testing.T) {
	e := newCompleteEnv(t)
	u := e.admin
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{ID: "attempt-1", Request: req, Started: req.RequestedAt()}, u, login.Details{ACR: "1", AuthTime: time.Now()}
	}
	u.RequiredActions = []string{"UPDATE_PASSWORD", "no-such-action"}
	realm, err := e.st.GetRealmByName(t.Context(), "master")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := rep.DecodeRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	r.RequiredActions = append(rep.DefaultRequiredActions(), rep.RequiredActionProvider{Alias: "no-such-action",
		ProviderID: "no-such-action", Enabled: true, Priority: 5})
	if realm.Settings, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateRealm(t.Context(), realm); err != nil {
		t.Fatal(err)
	}
	resp := e.get(t, nil)
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "Account is not fully set up") {
		t.Fatalf("status %d, body %s", resp.StatusCode, body)
	}
	ck := cookiesByName(resp)
	if len(ck) != 2 || ck["AUTH_SESSION_ID"] == nil || ck["AUTH_SESSION_ID"].MaxAge >= 0 ||
		ck["KEYGATE_ATTEMPT"] == nil || ck["KEYGATE_ATTEMPT"].MaxAge >= 0 {
		t.Errorf("cookies %v, want only AUTH_SESSION_ID and KEYGATE_ATTEMPT cleared", resp.Cookies())
	}
	// Unregistered: skipped.
	u.RequiredActions = []string{"webauthn-register"}
	resp = e.get(t, nil)
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(resp.Header.Get("Location"), "code=") {
		t.Fatalf("unregistered action: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// kc_action=UPDATE_PASSWORD on an SSO session older than Keycloak's
// maxAuthAge asks for the password again first.
func TestCompleteLoginAIANeedsRecentAuth(t *testing.T) {
	e := newCompleteEnv(t)
	old := time.Now().Add(-10 * time.Minute).Truncate(time.Second)
	s := store.Session{ID: "sso-old", RealmID: e.admin.RealmID, UserID: e.admin.ID, Created: old, LastSeen: time.Now(), AuthTime: old}
	if err := e.st.CreateSession(t.Context(), s); err != nil {
		t.Fatal(err)
	}
	e.complete = func(req *oidc.AuthorizeRequest) (login.Attempt, store.User, login.Details) {
		return login.Attempt{Request: req, Started: req.RequestedAt()}, e.admin, login.Details{ACR: "0", AuthTime: s.AuthTime, Session: &s}
	}
	resp := e.get(t, url.Values{"kc_action": {"UPDATE_PASSWORD"}})
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="kc-form-login"`) {
		t.Fatalf("old session: %d %.500s", resp.StatusCode, body)
	}
	// So does CONFIGURE_TOTP (a new device).
	resp = e.get(t, url.Values{"kc_action": {"CONFIGURE_TOTP"}})
	if body, _ := io.ReadAll(resp.Body); resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `id="kc-form-login"`) {
		t.Fatalf("old session, CONFIGURE_TOTP: %d %.500s", resp.StatusCode, body)
	}
	// A recent one goes to the page.
	s.AuthTime = time.Now().Truncate(time.Second)
	resp = e.get(t, url.Values{"kc_action": {"UPDATE_PASSWORD"}})
	if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusSeeOther || !strings.Contains(loc, "execution=UPDATE_PASSWORD") {
		t.Fatalf("recent session: %d %s", resp.StatusCode, loc)
	}
}

func sha256Base64(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
