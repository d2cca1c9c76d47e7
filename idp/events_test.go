package idp_test

import (
	"context"
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
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// Login events through the real handlers: what each grant, the login form,
// logout and a brokered login record, read back through the admin API's
// filters and paging, and the jboss-logging listener's JSON lines.

const evTypes = `["LOGIN", "LOGIN_ERROR", "CODE_TO_TOKEN", "CODE_TO_TOKEN_ERROR", "REFRESH_TOKEN", "REFRESH_TOKEN_ERROR",
	"LOGOUT", "CLIENT_LOGIN", "CLIENT_LOGIN_ERROR", "IDENTITY_PROVIDER_LOGIN"]`

// newEventsKeygate is a keygate logging JSON, with the master admin, a
// realm "down" storing every event type keygate emits, and that admin's
// token.
func newEventsKeygate(t *testing.T) (*keygate, *idp.Server, string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &logBuffer{}
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	k := &keygate{URL: ts.URL, st: st, log: logs}
	k.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none", "eventsEnabled": true,
		"enabledEventTypes": `+evTypes+`,
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"]},
			{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			 "directAccessGrantsEnabled": true, "serviceAccountsEnabled": true}],
		"users": [{"username": "carol", "enabled": true, "credentials": [{"type": "password", "value": "carol-pass-1"}]},
			{"username": "service-account-svc", "enabled": true, "serviceAccountClientId": "svc"}]}`)
	tok := postToken(t, k.URL, "master", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"},
		"username": {"admin"}, "password": {"admin-secret-pw"}}, 200)
	return k, srv, tok["access_token"].(string)
}

func postToken(t *testing.T, base, realm string, form url.Values, want int) map[string]any {
	t.Helper()
	resp, err := http.PostForm(base+"/realms/"+realm+"/protocol/openid-connect/token", form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != want {
		t.Fatalf("token %v: %d %v", form.Get("grant_type"), resp.StatusCode, out)
	}
	return out
}

type eventJSON struct {
	ID, Type, RealmID, ClientID, UserID, SessionID, IPAddress, Error string
	Time                                                             int64
	Details                                                          map[string]string
}

func getJSON(t *testing.T, u, token string, v any) int {
	t.Helper()
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, u, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && v != nil {
		if err := json.Unmarshal(b, v); err != nil {
			t.Fatalf("%s: %v %s", u, err, b)
		}
	}
	return resp.StatusCode
}

func (k *keygate) events(t *testing.T, token, query string) []eventJSON {
	t.Helper()
	var out []eventJSON
	if s := getJSON(t, k.URL+"/admin/realms/down/events?"+query, token, &out); s != 200 {
		t.Fatalf("events?%s: %d", query, s)
	}
	return out
}

func one(t *testing.T, evs []eventJSON, what string) eventJSON {
	t.Helper()
	if len(evs) != 1 {
		t.Fatalf("%s: %d events %+v", what, len(evs), evs)
	}
	return evs[0]
}

func TestLoginEvents(t *testing.T) {
	k, srv, admin := newEventsKeygate(t)
	realm, err := k.st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	carol, _ := k.st.GetUserByUsername(t.Context(), realm.ID, "carol")

	// Password grant: LOGIN, then a refresh and a logout with its token.
	tok := postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}, "scope": {"openid"}}, 200)
	login := one(t, k.events(t, admin, "type=LOGIN&client=svc"), "LOGIN")
	if login.UserID != carol.ID || login.SessionID != tok["session_state"] || login.RealmID != realm.ID || login.IPAddress != "127.0.0.1" ||
		login.Details["grant_type"] != "password" || login.Details["username"] != "carol" || login.Details["auth_method"] != "openid-connect" ||
		login.Time < time.Now().Add(-time.Minute).UnixMilli() {
		t.Errorf("LOGIN %+v", login)
	}
	rt := postToken(t, k.URL, "down", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"refresh_token": {tok["refresh_token"].(string)}}, 200)
	ref := one(t, k.events(t, admin, "type=REFRESH_TOKEN"), "REFRESH_TOKEN")
	if ref.UserID != carol.ID || ref.SessionID != tok["session_state"] || ref.ClientID != "svc" || ref.Details["refresh_token_id"] == "" {
		t.Errorf("REFRESH_TOKEN %+v", ref)
	}
	postToken(t, k.URL, "down", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"refresh_token": {"not-a-token"}}, 400)
	if e := one(t, k.events(t, admin, "type=REFRESH_TOKEN_ERROR"), "REFRESH_TOKEN_ERROR"); e.Error != "invalid_token" {
		t.Errorf("REFRESH_TOKEN_ERROR %+v", e)
	}
	resp, err := http.PostForm(k.URL+"/realms/down/protocol/openid-connect/logout", url.Values{"client_id": {"svc"},
		"client_secret": {"svc-secret-1"}, "refresh_token": {rt["refresh_token"].(string)}})
	if err != nil || resp.StatusCode != 204 {
		t.Fatalf("logout: %v %v", resp, err)
	}
	resp.Body.Close()
	if e := one(t, k.events(t, admin, "type=LOGOUT"), "LOGOUT"); e.UserID != carol.ID || e.SessionID != tok["session_state"] || e.ClientID != "svc" {
		t.Errorf("LOGOUT %+v", e)
	}

	// Failed logins: wrong password (the user is named), unknown user, bad client secret.
	postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"wrong-pass-9"}}, 401)
	postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"nobody"}, "password": {"wrong-pass-9"}}, 401)
	postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"bad-secret-9"},
		"username": {"carol"}, "password": {"carol-pass-1"}}, 401)
	errs := k.events(t, admin, "type=LOGIN_ERROR")
	if len(errs) != 3 {
		t.Fatalf("LOGIN_ERROR: %+v", errs)
	}
	// Newest first (three logins may share a millisecond: then by id, so
	// each is found by its error, and the times only never increase).
	byErr := map[string]int{}
	for i, e := range errs {
		byErr[e.Error] = i
		if i > 0 && e.Time > errs[i-1].Time {
			t.Errorf("not newest first: %+v", errs)
		}
	}
	if e := errs[byErr["invalid_client_credentials"]]; e.Error != "invalid_client_credentials" || e.ClientID != "svc" {
		t.Errorf("bad client secret: %+v", e)
	}
	if e := errs[byErr["user_not_found"]]; e.Error != "user_not_found" || e.UserID != "" || e.Details["username"] != "nobody" {
		t.Errorf("unknown user: %+v", e)
	}
	if e := errs[byErr["invalid_user_credentials"]]; e.Error != "invalid_user_credentials" || e.UserID != carol.ID || e.Details["username"] != "carol" {
		t.Errorf("wrong password: %+v", e)
	}

	// client_credentials: CLIENT_LOGIN for the service account.
	postToken(t, k.URL, "down", url.Values{"grant_type": {"client_credentials"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"}}, 200)
	if e := one(t, k.events(t, admin, "type=CLIENT_LOGIN"), "CLIENT_LOGIN"); e.ClientID != "svc" || e.UserID == "" || e.Details["grant_type"] != "client_credentials" {
		t.Errorf("CLIENT_LOGIN %+v", e)
	}

	// The login form and a code exchange: LOGIN with the redirect and
	// code_id, CODE_TO_TOKEN with the same code_id; a failed form login.
	b := newBrowser(t)
	status, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	if status != 200 {
		t.Fatalf("authorize: %d", status)
	}
	action, f := formOf(t, at, page, "kc-form-login")
	f.Set("username", "carol")
	f.Set("password", "wrong-pass-8")
	_, at, page = b.do(http.MethodPost, action, f)
	action, f = formOf(t, at, page, "kc-form-login")
	f.Set("username", "carol")
	f.Set("password", "carol-pass-1")
	_, cb, _ := b.do(http.MethodPost, action, f)
	exchange(t, k, cb)
	formLogin := one(t, k.events(t, admin, "type=LOGIN&client=app"), "form LOGIN")
	if formLogin.UserID != carol.ID || formLogin.Details["redirect_uri"] != appRedirect || formLogin.Details["code_id"] != formLogin.SessionID ||
		formLogin.SessionID == "" {
		t.Errorf("form LOGIN %+v", formLogin)
	}
	if e := one(t, k.events(t, admin, "type=LOGIN_ERROR&client=app"), "form LOGIN_ERROR"); e.Error != "invalid_user_credentials" || e.UserID != carol.ID {
		t.Errorf("form LOGIN_ERROR %+v", e)
	}
	c2t := one(t, k.events(t, admin, "type=CODE_TO_TOKEN"), "CODE_TO_TOKEN")
	if c2t.UserID != carol.ID || c2t.SessionID != formLogin.SessionID || c2t.Details["code_id"] != formLogin.SessionID || c2t.ClientID != "app" {
		t.Errorf("CODE_TO_TOKEN %+v", c2t)
	}
	// The same code again: CODE_TO_TOKEN_ERROR.
	postToken(t, k.URL, "down", url.Values{"grant_type": {"authorization_code"}, "client_id": {"app"}, "redirect_uri": {appRedirect},
		"code": {cb.Query().Get("code")}, "code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}}, 400)
	if e := one(t, k.events(t, admin, "type=CODE_TO_TOKEN_ERROR"), "CODE_TO_TOKEN_ERROR"); e.Error != "invalid_code" || e.ClientID != "app" {
		t.Errorf("CODE_TO_TOKEN_ERROR %+v", e)
	}

	// Filters and paging.
	all := k.events(t, admin, "")
	if len(all) != 12 {
		t.Fatalf("%d events: %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time > all[i-1].Time {
			t.Errorf("not newest first at %d", i)
		}
	}
	page1, page2 := k.events(t, admin, "first=0&max=5"), k.events(t, admin, "first=5&max=5")
	if len(page1) != 5 || len(page2) != 5 || page1[0].ID != all[0].ID || page2[0].ID != all[5].ID {
		t.Errorf("paging: %d %d", len(page1), len(page2))
	}
	if n := len(k.events(t, admin, "type=LOGIN&type=LOGIN_ERROR")); n != 6 {
		t.Errorf("two types: %d", n)
	}
	if n := len(k.events(t, admin, "user="+carol.ID)); n != 7 {
		t.Errorf("carol's events: %d", n)
	}
	if n := len(k.events(t, admin, "ipAddress=127.0.0.1&client=app")); n != 4 {
		t.Errorf("app from 127.0.0.1: %d", n)
	}
	today := time.Now().Format("2006-01-02")
	if n := len(k.events(t, admin, "dateFrom="+today+"&dateTo="+today)); n != 12 {
		t.Errorf("today: %d", n)
	}
	if n := len(k.events(t, admin, "dateTo=2000-01-01")); n != 0 {
		t.Errorf("before 2000: %d", n)
	}
	if s := getJSON(t, k.URL+"/admin/realms/down/events?dateFrom=yesterday", admin, nil); s != 400 {
		t.Errorf("bad date: %d", s)
	}

	// The jboss-logging listener: one JSON line per event, no secret.
	srv.Events().Flush(t.Context())
	lines := 0
	for _, l := range strings.Split(k.log.String(), "\n") {
		if !strings.Contains(l, `"logger":"org.keycloak.events"`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("event log line is not JSON: %s", l)
		}
		if m["msg"] == "event" && m["realmId"] == realm.ID {
			lines++
			if m["type"] == nil || m["ipAddress"] != "127.0.0.1" {
				t.Errorf("log line %s", l)
			}
		}
	}
	if lines != 12 {
		t.Errorf("%d event log lines, want 12", lines)
	}
	for _, secret := range []string{"carol-pass-1", "wrong-pass-9", "wrong-pass-8", "svc-secret-1", "bad-secret-9", tok["refresh_token"].(string),
		tok["access_token"].(string), cb.Query().Get("code"), "dBjftJeZ4CVP"} {
		if strings.Contains(k.log.String(), secret) {
			t.Errorf("log holds a secret %.12s", secret)
		}
		for _, e := range all {
			for _, v := range e.Details {
				if strings.Contains(v, secret) {
					t.Errorf("event details hold a secret %.12s", secret)
				}
			}
		}
	}

	// DELETE clears; a realm without eventsEnabled stores nothing but
	// still logs.
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodDelete, k.URL+"/admin/realms/down/events", nil)
	req.Header.Set("Authorization", "Bearer "+admin)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 204 {
		t.Fatalf("DELETE events: %v %v", resp, err)
	}
	if n := len(k.events(t, admin, "")); n != 0 {
		t.Errorf("%d events after DELETE", n)
	}
	setEvents(t, k, "down", func(r *rep.Realm) { r.EventsEnabled = new(bool) })
	before := strings.Count(k.log.String(), `"msg":"event","logger":"org.keycloak.events","type":"LOGIN","realmId":"`+realm.ID)
	postToken(t, k.URL, "down", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"carol"}, "password": {"carol-pass-1"}}, 200)
	if n := len(k.events(t, admin, "")); n != 0 {
		t.Errorf("%d events stored with eventsEnabled false", n)
	}
	if after := strings.Count(k.log.String(), `"msg":"event","logger":"org.keycloak.events","type":"LOGIN","realmId":"`+realm.ID); after != before+1 {
		t.Errorf("event log lines %d -> %d with storage off", before, after)
	}
}

// setEvents changes a realm's settings in the store, past the admin API:
// the provider's cache sees the write through the store's counters.
func setEvents(t *testing.T, k *keygate, name string, fn func(r *rep.Realm)) {
	t.Helper()
	row, err := k.st.GetRealmByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := rep.DecodeRealm(row)
	if err != nil {
		t.Fatal(err)
	}
	fn(&r)
	nrow, err := rep.RealmToStore(r)
	if err != nil {
		t.Fatal(err)
	}
	nrow.Created = row.Created
	if err := k.st.UpdateRealm(t.Context(), nrow); err != nil {
		t.Fatal(err)
	}
}

// waitEvents polls the store until the realm has n events of typ (the
// writer batches them).
func waitEvents(t *testing.T, st store.Store, realmID, typ string, n int) []store.Event {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		es, err := st.ListEvents(context.Background(), realmID, store.EventQuery{Types: []string{typ}})
		if err != nil {
			t.Fatal(err)
		}
		if len(es) >= n || time.Now().After(deadline) {
			return es
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// A brokered login records IDENTITY_PROVIDER_LOGIN and a LOGIN naming the
// identity provider, at the realm the user signed in to.
func TestBrokeredLoginEvents(t *testing.T) {
	up, down := brokerPair(t, "oidc", "")
	setEvents(t, down, "down", func(r *rep.Realm) {
		on := true
		r.EventsEnabled = &on
		_ = json.Unmarshal([]byte(evTypes), &r.EnabledEventTypes)
	})
	b := newBrowser(t)
	status, at, page := b.do(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}}), nil)
	if status != 200 || !strings.HasPrefix(at.String(), up.URL) {
		t.Fatalf("kc_idp_hint: %d %s", status, at)
	}
	_, cb, _ := b.upstreamLogin(at, page, "alice", "alice-pass-1")
	exchange(t, down, cb)
	realm, _ := down.st.GetRealmByName(t.Context(), "down")
	alice, err := down.st.GetUserByUsername(t.Context(), realm.ID, "alice")
	if err != nil {
		t.Fatal(err)
	}
	idpl := waitEvents(t, down.st, realm.ID, "IDENTITY_PROVIDER_LOGIN", 1)
	if len(idpl) != 1 || idpl[0].UserID != alice.ID || idpl[0].Details["identity_provider"] != "corp" ||
		idpl[0].Details["identity_provider_identity"] != "alice" || idpl[0].ClientID != "app" {
		t.Errorf("IDENTITY_PROVIDER_LOGIN %+v", idpl)
	}
	login := waitEvents(t, down.st, realm.ID, "LOGIN", 1)
	if len(login) != 1 || login[0].UserID != alice.ID || login[0].Details["identity_provider"] != "corp" || login[0].SessionID == "" {
		t.Errorf("LOGIN %+v", login)
	}
	if c := waitEvents(t, down.st, realm.ID, "CODE_TO_TOKEN", 1); len(c) != 1 || c[0].SessionID != login[0].SessionID {
		t.Errorf("CODE_TO_TOKEN %+v", c)
	}
	// The upstream realm stores nothing (events off) but logs its LOGIN.
	upRealm, _ := up.st.GetRealmByName(t.Context(), "up")
	if es, _ := up.st.ListEvents(t.Context(), upRealm.ID, store.EventQuery{}); len(es) != 0 {
		t.Errorf("upstream stored %d events", len(es))
	}
	if !strings.Contains(up.log.String(), "msg=event logger=org.keycloak.events type=LOGIN") {
		t.Errorf("upstream did not log its LOGIN:\n%s", up.log.String())
	}
	for _, secret := range []string{"broker-secret-1", "alice-pass-1", cb.Query().Get("code")} {
		if strings.Contains(down.log.String(), secret) || strings.Contains(up.log.String(), secret) {
			t.Errorf("a log holds a secret")
		}
	}
}
