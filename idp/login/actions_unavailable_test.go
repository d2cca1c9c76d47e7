package login_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// sessionsDown is a store whose session reads fail as a lost database
// once down is set.
type sessionsDown struct {
	store.Store
	down *atomic.Bool
}

func (s sessionsDown) GetSession(ctx context.Context, realmID, id string) (store.Session, error) {
	if s.down.Load() {
		return store.Session{}, fmt.Errorf("sqlstore: get session: %w", store.ErrUnavailable)
	}
	return s.Store.GetSession(ctx, realmID, id)
}

// The last step of a login that continues an SSO session re-reads that
// session: a database that cannot answer then is 503 with Retry-After,
// not "Page has expired" (which sends the person round again for nothing).
func TestActionLastStepSessionStoreUnavailableIs503(t *testing.T) {
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
	realm, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	c := rep.Client{ClientID: "app", Secret: "app-secret", RedirectURIs: []string{"https://app.example.com/cb"}}
	if _, _, err := rep.CreateClient(ctx, st, realm, &c); err != nil {
		t.Fatal(err)
	}
	r, _, err := rep.DecodeRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	r.RequiredActions = rep.DefaultRequiredActions()
	for i := range r.RequiredActions {
		if r.RequiredActions[i].Alias == "TERMS_AND_CONDITIONS" {
			r.RequiredActions[i].Enabled = true
		}
	}
	if realm.Settings, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if err := st.UpdateRealm(ctx, realm); err != nil {
		t.Fatal(err)
	}
	admin, err := st.GetUserByUsername(ctx, realm.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Truncate(time.Second)
	sso := store.Session{ID: "sso-1", RealmID: realm.ID, UserID: admin.ID, Created: now, LastSeen: now, AuthTime: now}
	if err := st.CreateSession(ctx, sso); err != nil {
		t.Fatal(err)
	}

	var down atomic.Bool
	p := srv.Provider()
	h := login.New(sessionsDown{st, &down}, p, nil, log)
	mux := http.NewServeMux()
	p.Register(mux)
	h.Register(mux)
	mux.HandleFunc("GET /realms/{realm}/test-complete", p.RealmHandler(func(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
		req, ok := p.ParseAuthorizeRequest(w, r, realm, r.URL.Query())
		if !ok {
			return
		}
		u := admin
		u.RequiredActions = []string{"TERMS_AND_CONDITIONS"}
		h.CompleteLogin(w, r, realm, &login.Attempt{Request: req, Started: req.RequestedAt()}, u,
			login.Details{ACR: "0", AuthTime: sso.AuthTime, Session: &sso})
	}))
	ts := httptest.NewServer(mux)
	t.Cleanup(ts.Close)
	noFollow := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	do := func(method, u string, form url.Values, cks []*http.Cookie) (*http.Response, string) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, u, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		for _, c := range cks {
			req.AddCookie(c)
		}
		resp, err := noFollow.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}

	q := url.Values{"client_id": {"app"}, "redirect_uri": {"https://app.example.com/cb"}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"state-123456"}, "nonce": {"nonce-123456"}}
	resp, _ := do(http.MethodGet, ts.URL+"/realms/master/test-complete?"+q.Encode(), nil, nil)
	page := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.Contains(page, "execution=TERMS_AND_CONDITIONS") {
		t.Fatalf("login: %d %s", resp.StatusCode, page)
	}
	cks := resp.Cookies()
	resp, body := do(http.MethodGet, ts.URL+page, nil, cks)
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("terms page: %d %.500s", resp.StatusCode, body)
	}

	down.Store(true)
	resp, body = do(http.MethodPost, ts.URL+page, url.Values{"csrf_token": {m[1]}, "accept": {"Accept"}}, cks)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" ||
		!strings.Contains(body, "temporarily unavailable") {
		t.Fatalf("session store down at the last step: %d, Retry-After %q\n%.500s", resp.StatusCode, resp.Header.Get("Retry-After"), body)
	}
}
