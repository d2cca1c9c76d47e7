package idp_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// OpenID Connect Back-Channel Logout: every path that ends an SSO session
// on purpose tells the clients that had tokens in it and have a
// backchannel.logout.url, with a logout token a relying party verifies as
// the specification says (§2.6) against the realm's JWKS.

const bclEvent = "http://schemas.openid.net/event/backchannel-logout"

// bclNotice is what the receiver took from one verified logout token.
type bclNotice struct {
	client, sub, sid string // sid "" when the token had none
	revokeOffline    bool
}

func (n bclNotice) String() string {
	return fmt.Sprintf("%s{sub=%s sid=%s revoke=%v}", n.client, n.sub, n.sid, n.revokeOffline)
}

// bclReceiver is the relying parties' back-channel logout endpoint:
// /{client} verifies the logout token for that client and records it; a
// token that fails any check is a test failure.
type bclReceiver struct {
	t     *testing.T
	URL   string
	iss   string
	keys  *gooidc.RemoteKeySet
	delay time.Duration
	mu    sync.Mutex
	got   []bclNotice
	jtis  map[string]bool
	total int // notices taken in all
}

func newBCLReceiver(t *testing.T, iss string, delay time.Duration) *bclReceiver {
	r := &bclReceiver{t: t, iss: iss, delay: delay, jtis: map[string]bool{},
		keys: gooidc.NewRemoteKeySet(context.Background(), iss+"/protocol/openid-connect/certs")}
	ts := httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(ts.Close)
	r.URL = ts.URL
	return r
}

func (r *bclReceiver) serve(w http.ResponseWriter, req *http.Request) {
	client := strings.TrimPrefix(req.URL.Path, "/")
	n, problem := r.verify(req, client)
	if problem != "" {
		r.t.Errorf("logout token for %s: %s", client, problem)
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	if r.delay > 0 {
		time.Sleep(r.delay)
	}
	r.mu.Lock()
	r.got = append(r.got, n)
	r.total++
	r.mu.Unlock()
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
}

// verify checks a logout request as Back-Channel Logout 1.0 §2.6 tells
// the relying party to (signature by the OP's JWKS, iss, aud, iat, exp,
// jti not seen before, the events member, sub or sid, no nonce), with the
// typ "logout+jwt" header of §2.4 and Keycloak's typ claim.
func (r *bclReceiver) verify(req *http.Request, client string) (bclNotice, string) {
	if req.Method != http.MethodPost || !strings.HasPrefix(req.Header.Get("Content-Type"), "application/x-www-form-urlencoded") {
		return bclNotice{}, fmt.Sprintf("%s %s", req.Method, req.Header.Get("Content-Type"))
	}
	if err := req.ParseForm(); err != nil {
		return bclNotice{}, err.Error()
	}
	tok := req.PostForm.Get("logout_token")
	payload, err := r.keys.VerifySignature(req.Context(), tok)
	if err != nil {
		return bclNotice{}, "signature: " + err.Error()
	}
	var hdr map[string]string
	h, _ := base64.RawURLEncoding.DecodeString(strings.Split(tok, ".")[0])
	if err := json.Unmarshal(h, &hdr); err != nil || hdr["typ"] != "logout+jwt" || hdr["alg"] != "RS256" || hdr["kid"] == "" {
		return bclNotice{}, fmt.Sprintf("header %s", h)
	}
	var c struct {
		Iss    string                     `json:"iss"`
		Aud    any                        `json:"aud"`
		Iat    *int64                     `json:"iat"`
		Exp    int64                      `json:"exp"`
		Jti    string                     `json:"jti"`
		Sub    string                     `json:"sub"`
		Sid    *string                    `json:"sid"`
		Typ    string                     `json:"typ"`
		Events map[string]json.RawMessage `json:"events"`
		Nonce  *string                    `json:"nonce"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return bclNotice{}, err.Error()
	}
	now := time.Now().Unix()
	aud := c.Aud == client
	if list, ok := c.Aud.([]any); ok {
		aud = slices.Contains(list, any(client))
	}
	ev, hasEvent := c.Events[bclEvent]
	var evObj map[string]any
	switch {
	case c.Iss != r.iss:
		return bclNotice{}, "iss " + c.Iss
	case !aud:
		return bclNotice{}, fmt.Sprintf("aud %v", c.Aud)
	case c.Iat == nil || *c.Iat > now+5 || *c.Iat < now-60:
		return bclNotice{}, fmt.Sprintf("iat %v", c.Iat)
	case c.Exp <= now || c.Exp > *c.Iat+300:
		return bclNotice{}, fmt.Sprintf("exp %d", c.Exp)
	case c.Jti == "" || r.seen(c.Jti):
		return bclNotice{}, "jti " + c.Jti
	case !hasEvent || json.Unmarshal(ev, &evObj) != nil || evObj == nil:
		return bclNotice{}, fmt.Sprintf("events %s", payload)
	case c.Sub == "" && c.Sid == nil:
		return bclNotice{}, "neither sub nor sid"
	case c.Nonce != nil:
		return bclNotice{}, "a nonce"
	case c.Typ != "Logout":
		return bclNotice{}, "typ claim " + c.Typ
	}
	n := bclNotice{client: client, sub: c.Sub}
	if c.Sid != nil {
		n.sid = *c.Sid
	}
	if raw, ok := c.Events["revoke_offline_access"]; ok {
		n.revokeOffline = string(raw) == "true"
	}
	return n, ""
}

func (r *bclReceiver) seen(jti string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.jtis[jti] {
		return true
	}
	r.jtis[jti] = true
	return false
}

// expect waits for exactly want (in any order) to arrive, then a moment
// more for any notice not wanted, and forgets them.
func (r *bclReceiver) expect(t *testing.T, what string, want ...bclNotice) {
	t.Helper()
	key := func(ns []bclNotice) []string {
		out := make([]string, len(ns))
		for i, n := range ns {
			out[i] = n.String()
		}
		sort.Strings(out)
		return out
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		r.mu.Lock()
		n := len(r.got)
		r.mu.Unlock()
		if n >= len(want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(250 * time.Millisecond) // room for one too many
	r.mu.Lock()
	got := r.got
	r.got = nil
	r.mu.Unlock()
	if g, w := key(got), key(want); !slices.Equal(g, w) {
		t.Errorf("%s: notices\n  %v\nwant\n  %v", what, g, w)
	}
}

// bclKeygate is a keygate with the master admin and realm "down", whose
// clients' back-channel logout URLs point at recv (slow: at slow).
func bclKeygate(t *testing.T) (k *keygate, admin string, recv, slow *bclReceiver) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &logBuffer{}
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	t.Cleanup(func() { srv.Close() }) // before ts closes: the workers stop first
	k = &keygate{URL: ts.URL, st: st, log: logs, mgmt: srv.ManagementHandler()}
	iss := k.URL + "/realms/down"
	recv, slow = newBCLReceiver(t, iss, 0), newBCLReceiver(t, iss, 3*time.Second)
	users := ""
	for _, u := range []string{"alice", "bob", "carol", "dave", "erin", "frank", "gina", "hank"} {
		users += `{"username": "` + u + `", "enabled": true, "realmRoles": ["default-roles-down"],
			"credentials": [{"type": "password", "value": "` + u + `-pass-1"}]},`
	}
	k.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none",
		"clients": [
			{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			 "redirectUris": ["`+appRedirect+`"], "webOrigins": ["+"],
			 "attributes": {"backchannel.logout.url": "`+recv.URL+`/app", "post.logout.redirect.uris": "+"}},
			{"clientId": "plain", "enabled": true, "publicClient": true, "standardFlowEnabled": true, "directAccessGrantsEnabled": true,
			 "redirectUris": ["`+appRedirect+`"]},
			{"clientId": "rp", "enabled": true, "secret": "rp-secret-1", "publicClient": false, "directAccessGrantsEnabled": true,
			 "frontchannelLogout": true,
			 "attributes": {"backchannel.logout.url": "`+recv.URL+`/rp"}},
			{"clientId": "rp-nosid", "enabled": true, "secret": "rp-secret-1", "publicClient": false, "directAccessGrantsEnabled": true,
			 "attributes": {"backchannel.logout.url": "`+recv.URL+`/rp-nosid", "backchannel.logout.session.required": "false",
			   "backchannel.logout.revoke.offline.tokens": "true"}},
			{"clientId": "off", "enabled": true, "secret": "rp-secret-1", "publicClient": false, "directAccessGrantsEnabled": true,
			 "attributes": {"backchannel.logout.url": "`+recv.URL+`/off"}},
			{"clientId": "slow", "enabled": true, "secret": "rp-secret-1", "publicClient": false, "directAccessGrantsEnabled": true,
			 "attributes": {"backchannel.logout.url": "`+slow.URL+`/slow"}}],
		"users": [`+strings.TrimSuffix(users, ",")+`]}`)
	tok := postToken(t, k.URL, "master", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"},
		"username": {"admin"}, "password": {"admin-secret-pw"}}, 200)
	return k, tok["access_token"].(string), recv, slow
}

// bclSignIn is a password grant of client for user: its tokens, the SSO
// session's id and the user's id.
func bclSignIn(t *testing.T, k *keygate, client, user, scope string) (tok map[string]any, sid, sub string) {
	t.Helper()
	f := url.Values{"grant_type": {"password"}, "client_id": {client}, "username": {user}, "password": {user + "-pass-1"},
		"scope": {"openid " + scope}}
	if client != "plain" {
		f.Set("client_secret", "rp-secret-1")
	}
	tok = postToken(t, k.URL, "down", f, 200)
	c := jwtClaims(t, tok["access_token"].(string))
	return tok, c["sid"].(string), c["sub"].(string)
}

func bclCall(t *testing.T, method, u, token string, want int) {
	t.Helper()
	if status, _ := adminDo(t, method, u, token, nil); status != want {
		t.Fatalf("%s %s: %d, want %d", method, u, status, want)
	}
}

// bclExchange redeems the app's code for client (public, PKCE).
func bclExchange(t *testing.T, k *keygate, client string, cb *url.URL) map[string]any {
	t.Helper()
	return postToken(t, k.URL, "down", url.Values{"grant_type": {"authorization_code"}, "client_id": {client},
		"redirect_uri": {appRedirect}, "code": {cb.Query().Get("code")},
		"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}}, 200)
}

func TestBackchannelLogout(t *testing.T) {
	k, admin, recv, slow := bclKeygate(t)
	adm := k.URL + "/admin/realms/down"
	oc := k.URL + "/realms/down/protocol/openid-connect"

	// Discovery says so.
	var disc map[string]any
	if getJSON(t, k.URL+"/realms/down/.well-known/openid-configuration", "", &disc) != 200 ||
		disc["backchannel_logout_supported"] != true || disc["backchannel_logout_session_supported"] != true {
		t.Errorf("discovery: backchannel_logout_supported %v, backchannel_logout_session_supported %v",
			disc["backchannel_logout_supported"], disc["backchannel_logout_session_supported"])
	}

	t.Run("rp-initiated logout, browser", func(t *testing.T) {
		// One browser session holding tokens of app (with a URL) and plain
		// (without); bob's session of app is another user's.
		b := newBrowser(t)
		_, cb, _ := b.passwordLogin(k, "alice", "alice-pass-1")
		appTok := bclExchange(t, k, "app", cb)
		_, cb2, _ := b.do(http.MethodGet, strings.Replace(authorizeURL(k, nil), "client_id=app", "client_id=plain", 1), nil)
		bclExchange(t, k, "plain", cb2)
		idc := jwtClaims(t, appTok["id_token"].(string))
		sid, sub := idc["sid"].(string), idc["sub"].(string)
		_, bobCB, _ := newBrowser(t).passwordLogin(k, "bob", "bob-pass-1")
		bclExchange(t, k, "app", bobCB)

		status, _, _ := b.do(http.MethodGet, oc+"/logout?"+url.Values{"id_token_hint": {appTok["id_token"].(string)}}.Encode(), nil)
		if status != http.StatusOK {
			t.Fatalf("logout: %d", status)
		}
		recv.expect(t, "rp-initiated logout", bclNotice{client: "app", sub: sub, sid: sid})
	})

	t.Run("slow receiver does not delay the logout", func(t *testing.T) {
		tok, sid, sub := bclSignIn(t, k, "slow", "carol", "")
		start := time.Now()
		resp, err := http.Get(oc + "/logout?" + url.Values{"id_token_hint": {tok["id_token"].(string)}}.Encode())
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		took := time.Since(start)
		t.Logf("logout answered in %v with a receiver taking %v", took, slow.delay)
		if resp.StatusCode != http.StatusOK || took > time.Second {
			t.Errorf("logout: %d in %v, want 200 well within the receiver's %v", resp.StatusCode, took, slow.delay)
		}
		slow.expect(t, "slow receiver", bclNotice{client: "slow", sub: sub, sid: sid})
	})

	t.Run("keycloak adapter logout with a refresh token", func(t *testing.T) {
		tok, sid, sub := bclSignIn(t, k, "rp", "dave", "")
		resp, err := http.PostForm(oc+"/logout", url.Values{"client_id": {"rp"}, "client_secret": {"rp-secret-1"},
			"refresh_token": {tok["refresh_token"].(string)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Fatalf("logout: %d", resp.StatusCode)
		}
		recv.expect(t, "adapter logout", bclNotice{client: "rp", sub: sub, sid: sid})
	})

	t.Run("admin deletes a session", func(t *testing.T) {
		_, sid, sub := bclSignIn(t, k, "rp", "erin", "")
		_, _, _ = bclSignIn(t, k, "rp", "frank", "") // another user's: untouched
		_, _, _ = bclSignIn(t, k, "plain", "erin", "")
		_, _, _ = bclSignIn(t, k, "off", "erin", "")
		disableClient(t, k, admin, "off") // a disabled client is not told
		bclCall(t, http.MethodDelete, adm+"/sessions/"+sid, admin, http.StatusNoContent)
		recv.expect(t, "admin DELETE session", bclNotice{client: "rp", sub: sub, sid: sid})
	})

	t.Run("session.required false, revoke offline tokens", func(t *testing.T) {
		tok, sid, sub := bclSignIn(t, k, "rp-nosid", "gina", "offline_access")
		if c := jwtClaims(t, tok["refresh_token"].(string)); c["typ"] != "Offline" {
			t.Fatalf("refresh token typ %v, want Offline", c["typ"])
		}
		bclCall(t, http.MethodDelete, adm+"/sessions/"+sid, admin, http.StatusNoContent)
		recv.expect(t, "session.required false", bclNotice{client: "rp-nosid", sub: sub, revokeOffline: true})
		// As Keycloak: revoke_offline_access asks the relying party to drop
		// the offline access it holds; the OP's offline session lives on.
		next := postToken(t, k.URL, "down", url.Values{"grant_type": {"refresh_token"}, "client_id": {"rp-nosid"},
			"client_secret": {"rp-secret-1"}, "refresh_token": {tok["refresh_token"].(string)}}, 200)

		// The admin revokes that offline session: its client is told, as
		// Keycloak's backchannel logout of an offline session tells it.
		bclCall(t, http.MethodDelete, adm+"/sessions/"+sid+"?isOffline=true", admin, http.StatusNoContent)
		recv.expect(t, "offline session revoked", bclNotice{client: "rp-nosid", sub: sub, revokeOffline: true})
		postToken(t, k.URL, "down", url.Values{"grant_type": {"refresh_token"}, "client_id": {"rp-nosid"},
			"client_secret": {"rp-secret-1"}, "refresh_token": {next["refresh_token"].(string)}}, 400)
	})

	t.Run("account REST API signs a session out", func(t *testing.T) {
		_, sid1, sub := bclSignIn(t, k, "rp", "alice", "")
		tok2, sid2, _ := bclSignIn(t, k, "rp", "alice", "")
		bclCall(t, http.MethodDelete, k.URL+"/realms/down/account/sessions/"+sid1, tok2["access_token"].(string), http.StatusNoContent)
		recv.expect(t, "account sign out", bclNotice{client: "rp", sub: sub, sid: sid1})
		// Every other session: DELETE /account/sessions keeps the caller's.
		_, sid3, _ := bclSignIn(t, k, "rp", "alice", "")
		bclCall(t, http.MethodDelete, k.URL+"/realms/down/account/sessions", tok2["access_token"].(string), http.StatusNoContent)
		recv.expect(t, "account sign out others", bclNotice{client: "rp", sub: sub, sid: sid3})
		_ = sid2
	})

	t.Run("admin logs a user out", func(t *testing.T) {
		_, sid1, sub := bclSignIn(t, k, "rp", "hank", "")
		_, sid2, _ := bclSignIn(t, k, "rp-nosid", "hank", "")
		bclSignIn(t, k, "rp", "carol", "")
		bclCall(t, http.MethodPost, adm+"/users/"+sub+"/logout", admin, http.StatusNoContent)
		_ = sid2
		recv.expect(t, "admin user logout", bclNotice{client: "rp", sub: sub, sid: sid1},
			bclNotice{client: "rp-nosid", sub: sub, revokeOffline: true})
	})

	t.Run("admin deletes a user", func(t *testing.T) {
		_, sid, sub := bclSignIn(t, k, "rp", "dave", "")
		bclCall(t, http.MethodDelete, adm+"/users/"+sub, admin, http.StatusNoContent)
		recv.expect(t, "admin user delete", bclNotice{client: "rp", sub: sub, sid: sid})
	})

	t.Run("a revoked consent logs its client out", func(t *testing.T) {
		_, sid, sub := bclSignIn(t, k, "rp", "gina", "")
		bclSignIn(t, k, "rp-nosid", "gina", "") // in another session: untold
		// Nothing to revoke, nobody told.
		bclCall(t, http.MethodDelete, adm+"/users/"+sub+"/consents/rp", admin, http.StatusNotFound)
		recv.expect(t, "no consent")
		u := userNamed(t, k, "gina")
		cl, err := k.st.GetClientByClientID(t.Context(), u.RealmID, "rp")
		if err != nil {
			t.Fatal(err)
		}
		if err := k.st.PutConsent(t.Context(), store.Consent{RealmID: u.RealmID, UserID: u.ID, ClientID: cl.ID}); err != nil {
			t.Fatal(err)
		}
		// As Keycloak's revokeConsent: the consent's end logs rp out of
		// gina's sessions, and rp is told.
		bclCall(t, http.MethodDelete, adm+"/users/"+sub+"/consents/rp", admin, http.StatusNoContent)
		recv.expect(t, "consent revoked", bclNotice{client: "rp", sub: sub, sid: sid})
		// rp's tokens left the session with the consent: ending it now
		// tells nobody.
		bclCall(t, http.MethodDelete, adm+"/sessions/"+sid, admin, http.StatusNoContent)
		recv.expect(t, "session without rp's tokens ended")
		bclCall(t, http.MethodPost, adm+"/users/"+sub+"/logout", admin, http.StatusNoContent)
		recv.expect(t, "gina's other session", bclNotice{client: "rp-nosid", sub: sub, revokeOffline: true})
	})

	t.Run("admin logs everyone out", func(t *testing.T) {
		// Whatever is left (bob's app session, carol's rp one, frank's,
		// alice's second) and two fresh ones.
		_, sidE, subE := bclSignIn(t, k, "rp", "erin", "")
		_, _, subF := bclSignIn(t, k, "rp-nosid", "frank", "")
		want := []bclNotice{{client: "rp", sub: subE, sid: sidE}, {client: "rp-nosid", sub: subF, revokeOffline: true}}
		for _, name := range []string{"alice", "bob", "carol", "frank"} {
			u := userNamed(t, k, name)
			sessions, err := k.st.ListUserSessions(t.Context(), u.RealmID, u.ID)
			if err != nil {
				t.Fatal(err)
			}
			clients, err := k.st.ListSessionsClients(t.Context(), u.RealmID, sessionIDs(sessions))
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range sessions {
				for _, c := range clients[s.ID] {
					if (c == "rp" || c == "app") && s.ID != sidE {
						want = append(want, bclNotice{client: c, sub: u.ID, sid: s.ID})
					}
				}
			}
		}
		// gina's offline session outlives her SSO session: its client
		// (rp-nosid) is not told again.
		bclCall(t, http.MethodPost, adm+"/logout-all", admin, http.StatusOK)
		recv.expect(t, "logout-all", want...)
	})

	t.Run("password update signs the other sessions out", func(t *testing.T) {
		_, sid, sub := bclSignIn(t, k, "rp", "gina", "")
		b := newBrowser(t)
		if status, cb, _ := b.passwordLogin(k, "gina", "gina-pass-1"); status/100 != 3 {
			t.Fatalf("login: %d %s", status, cb)
		}
		u := userNamed(t, k, "gina")
		u.RequiredActions = []string{"UPDATE_PASSWORD"}
		if err := k.st.UpdateUser(t.Context(), u); err != nil {
			t.Fatal(err)
		}
		_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
		action, f := formOf(t, at, page, "kc-passwd-update-form")
		f.Set("password-new", "Gina-Pass-2")
		f.Set("password-confirm", "Gina-Pass-2")
		f.Set("logout-sessions", "on")
		if status, cb, _ := b.do(http.MethodPost, action, f); status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
			t.Fatalf("update password: %d %s", status, cb)
		}
		// The browser's own session goes on: its app code is unredeemed,
		// and it is not told.
		recv.expect(t, "logout-sessions", bclNotice{client: "rp", sub: sub, sid: sid})
	})

	// Every notice the receivers took was counted sent; none failed.
	recv.mu.Lock()
	slow.mu.Lock()
	sent := recv.total + slow.total
	recv.mu.Unlock()
	slow.mu.Unlock()
	if got := k.metric(t, `keygate_backchannel_logouts_total{outcome="sent"}`); got != float64(sent) || sent == 0 {
		t.Errorf(`keygate_backchannel_logouts_total{outcome="sent"} %v, receivers took %d`, got, sent)
	}
	for _, o := range []string{"failed", "rejected", "dropped", "error"} {
		if got := k.metric(t, `keygate_backchannel_logouts_total{outcome="`+o+`"}`); got != 0 {
			t.Errorf(`keygate_backchannel_logouts_total{outcome="%s"} %v`, o, got)
		}
	}
	if strings.Contains(k.log.String(), "logout_token") || strings.Contains(k.log.String(), "eyJ") {
		t.Errorf("a token in the logs:\n%s", k.log.String())
	}
}

func sessionIDs(ss []store.Session) []string {
	out := make([]string, len(ss))
	for i, s := range ss {
		out[i] = s.ID
	}
	return out
}

// disableClient turns clientId off through the admin API.
func disableClient(t *testing.T, k *keygate, admin, clientID string) {
	t.Helper()
	var cs []map[string]any
	if getJSON(t, k.URL+"/admin/realms/down/clients?clientId="+clientID, admin, &cs) != 200 || len(cs) != 1 {
		t.Fatalf("client %s: %v", clientID, cs)
	}
	cs[0]["enabled"] = false
	if status, _ := adminDo(t, http.MethodPut, k.URL+"/admin/realms/down/clients/"+cs[0]["id"].(string), admin, cs[0]); status != http.StatusNoContent {
		t.Fatalf("disable %s: %d", clientID, status)
	}
}

// TestBackchannelLogoutIdPInitiated: a SAML IdP's LogoutRequest ends the
// keygate session it names, and that session's clients are told.
func TestBackchannelLogoutIdPInitiated(t *testing.T) {
	corp := newSAMLCorp(t)
	down := newKeygate(t)
	recv := newBCLReceiver(t, down.URL+"/realms/down", 0)
	realm := samlRealm(corp)
	if !strings.Contains(realm, `"attributes": {"post.logout.redirect.uris"`) {
		t.Fatal("samlRealm changed: no app attributes to add the URL to")
	}
	down.importRealm(t, strings.Replace(realm, `"attributes": {"post.logout.redirect.uris"`,
		`"attributes": {"backchannel.logout.url": "`+recv.URL+`/app", "post.logout.redirect.uris"`, 1))
	corp.register(t, down.URL)

	b := newBrowser(t)
	cb, _ := b.samlLogin(down, corp, "alice")
	c := jwtClaims(t, samlTokens(t, down, cb)["access_token"].(string))
	cb2, _ := newBrowser(t).samlLogin(down, corp, "alice") // another browser's session: the IdP's logout does not name it
	samlTokens(t, down, cb2)

	status, at, page := b.do(http.MethodGet, corp.URL+"/logout", nil)
	if _, f, ok := samlFirstForm(t, at, page); status != 200 || !ok || f.Get("SAMLResponse") == "" {
		t.Fatalf("keygate's answer to the IdP's LogoutRequest: %d %s %.300s", status, at, page)
	}
	recv.expect(t, "IdP-initiated logout", bclNotice{client: "app", sub: c["sub"].(string), sid: c["sid"].(string)})
}

// TestBackchannelLogoutDelivery: a client's answer is only a status. A
// redirect is not followed, a 500 with an endless body is read no
// further than a bounded prefix, a client that never answers is given up
// after the per-request timeout and one that cannot be reached fails at
// once; each is counted and logged with the client and the URL without
// its query, never the token.
func TestBackchannelLogoutDelivery(t *testing.T) {
	k, admin, _, _ := bclKeygate(t)
	var wrote atomic.Int64 // of the endless body
	elsewhere := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("the redirect was followed: %s %s", r.Method, r.URL)
	}))
	defer elsewhere.Close()
	hang := make(chan struct{})
	rp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/redir":
			http.Redirect(w, r, elsewhere.URL+"/x", http.StatusTemporaryRedirect)
		case "/fail":
			w.WriteHeader(http.StatusInternalServerError)
			chunk := []byte(strings.Repeat("x", 64<<10))
			for range 1 << 10 { // 64 MiB, if anyone read it all
				n, err := w.Write(chunk)
				wrote.Add(int64(n))
				if err != nil {
					return
				}
			}
		case "/hang":
			select {
			case <-hang:
			case <-r.Context().Done():
			}
		}
	}))
	defer rp.Close()
	defer close(hang)
	dead := httptest.NewServer(http.NotFoundHandler())
	dead.Close()

	for id, u := range map[string]string{"redir": rp.URL + "/redir?secret=s3cr3t", "fail": rp.URL + "/fail",
		"hang": rp.URL + "/hang", "dead": dead.URL + "/gone"} {
		c := `{"clientId": "` + id + `", "enabled": true, "secret": "rp-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true, "attributes": {"backchannel.logout.url": "` + u + `"}}`
		var cr map[string]any
		if err := json.Unmarshal([]byte(c), &cr); err != nil {
			t.Fatal(err)
		}
		if status, _ := adminDo(t, http.MethodPost, k.URL+"/admin/realms/down/clients", admin, cr); status != http.StatusCreated {
			t.Fatalf("create client %s: %d", id, status)
		}
		bclSignIn(t, k, id, "bob", "")
	}
	bob := userNamed(t, k, "bob")
	start := time.Now()
	bclCall(t, http.MethodPost, k.URL+"/admin/realms/down/users/"+bob.ID+"/logout", admin, http.StatusNoContent)
	if took := time.Since(start); took > time.Second {
		t.Errorf("the user logout took %v", took)
	}
	metric := func(o string) float64 { return k.metric(t, `keygate_backchannel_logouts_total{outcome="`+o+`"}`) }
	deadline := time.Now().Add(15 * time.Second)
	for (metric("rejected") < 2 || metric("failed") < 2) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("the hanging client was given up after %v", time.Since(start))
	if metric("rejected") != 2 || metric("failed") != 2 || metric("sent") != 0 {
		t.Errorf("outcomes: rejected %v failed %v sent %v, want 2, 2, 0\n%s", metric("rejected"), metric("failed"), metric("sent"), k.log.String())
	}
	if w := wrote.Load(); w >= 64<<20 {
		t.Errorf("the client's whole %d-byte answer was read", w)
	}
	logs := k.log.String()
	for _, want := range []string{"client=redir", "status=307", "client=fail", "status=500", "client=hang", "client=dead", rp.URL + "/redir"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "s3cr3t") || strings.Contains(logs, "eyJ") {
		t.Errorf("the log shows the URL's query or a token:\n%s", logs)
	}
}
