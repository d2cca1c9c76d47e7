package idp_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// TestLoginAttemptStoredOnReturn: showing the login form stores nothing;
// the attempt rides in a signed cookie and is stored when the browser
// comes back with it. So a flood of unauthenticated authorization
// requests writes no row (each used to store one for 30 minutes), while a
// login still works once, a replay finds it spent, a forged or swapped
// cookie stores nothing, and an attempt too large for a cookie is stored
// at once.
func TestLoginAttemptStoredOnReturn(t *testing.T) {
	k := actionsRealm(t, "", "", `{"username": "alice", "enabled": true,
		"credentials": [{"type": "password", "value": "alice-pass-1"}]}`)
	stored := func(action string) (store.Token, error) {
		t.Helper()
		u, err := url.Parse(action)
		if err != nil {
			t.Fatal(err)
		}
		return k.st.GetToken(t.Context(), store.KindLogin, u.Query().Get("session_code"))
	}

	// A hundred requests without cookies: nothing stored.
	for range 100 {
		resp, err := http.Get(authorizeURL(k, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("authorization request: %d", resp.StatusCode)
		}
	}
	b := newBrowser(t)
	_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	action, f := formOf(t, at, page, "kc-form-login")
	if _, err := stored(action); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("the login form stored its attempt: %v", err)
	}

	// A forged cookie (another attempt's id, or a changed payload) is an
	// expired page and stores nothing.
	forged := newBrowser(t)
	_, fat, fpage := forged.do(http.MethodGet, authorizeURL(k, nil), nil)
	faction, ff := formOf(t, fat, fpage, "kc-form-login")
	base, _ := url.Parse(k.URL + "/realms/down/")
	data := attemptCookie(forged, k, "down")
	if data == "" {
		t.Fatal("no KEYGATE_ATTEMPT cookie")
	}
	swap := newBrowser(t) // b's attempt id with forged's attempt data
	swap.c.Jar.SetCookies(base, []*http.Cookie{{Name: "AUTH_SESSION_ID", Value: mustQuery(t, action, "session_code"), Path: "/realms/down/"},
		{Name: "KEYGATE_ATTEMPT", Value: data, Path: "/realms/down/"}})
	g := url.Values{"username": {"alice"}, "password": {"alice-pass-1"}, "csrf_token": {f.Get("csrf_token")}}
	if status, _, _ := swap.do(http.MethodPost, action, g); status != http.StatusBadRequest {
		t.Errorf("another attempt's cookie: %d, want 400", status)
	}
	// forged's own attempt and CSRF token, its state changed in the
	// signed payload: only the signature refuses it.
	parts := strings.Split(data, ".")
	claims := jwtClaims(t, data)
	q, _ := claims["q"].(string)
	if !strings.Contains(q, "state=st-1") {
		t.Fatalf("no state in the attempt's query %q", q)
	}
	claims["q"] = strings.Replace(q, "state=st-1", "state=forged", 1)
	raw, _ := json.Marshal(claims)
	parts[1] = base64.RawURLEncoding.EncodeToString(raw)
	changed := newBrowser(t)
	changed.c.Jar.SetCookies(base, []*http.Cookie{{Name: "AUTH_SESSION_ID", Value: mustQuery(t, faction, "session_code"), Path: "/realms/down/"},
		{Name: "KEYGATE_ATTEMPT", Value: strings.Join(parts, "."), Path: "/realms/down/"}})
	g.Set("csrf_token", ff.Get("csrf_token"))
	if status, cb, _ := changed.do(http.MethodPost, faction, g); status != http.StatusBadRequest || cb.Query().Get("code") != "" {
		t.Errorf("a changed cookie: %d (at %v), want 400 and no code", status, cb)
	}
	for _, a := range []string{action, faction} {
		if _, err := stored(a); !errors.Is(err, store.ErrNotFound) {
			t.Fatalf("a forged cookie stored an attempt: %v", err)
		}
	}

	// The real browser signs in; its attempt is stored, spent.
	bData := attemptCookie(b, k, "down")
	if bData == "" {
		t.Fatal("no KEYGATE_ATTEMPT cookie in the signing-in browser")
	}
	f.Set("username", "alice")
	f.Set("password", "alice-pass-1")
	if _, cb, _ := b.do(http.MethodPost, action, f); cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("login: no code (%v)", cb)
	}
	tok, err := stored(action)
	if err != nil || tok.Active {
		t.Fatalf("after the login: %+v, %v; want the attempt stored and spent", tok, err)
	}
	// A replay of the same form (the cookies put back) finds it spent.
	replay := newBrowser(t)
	replay.c.Jar.SetCookies(base, []*http.Cookie{{Name: "AUTH_SESSION_ID", Value: mustQuery(t, action, "session_code"), Path: "/realms/down/"},
		{Name: "KEYGATE_ATTEMPT", Value: bData, Path: "/realms/down/"}})
	if status, _, _ := replay.do(http.MethodPost, action, f); status != http.StatusBadRequest {
		t.Errorf("replayed form: %d, want 400", status)
	}
	// The sweeper keeps the spent row as long as its cookie is good (both
	// end at tok.Expires; the row goes only once expired before the
	// sweep), so a sweep at the cookie's last moment brings nothing back.
	if _, err := k.st.DeleteExpiredTokens(t.Context(), tok.Expires); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := replay.do(http.MethodPost, action, f); status != http.StatusBadRequest {
		t.Errorf("replayed form after a sweep: %d, want 400", status)
	}
	if tok, err := stored(action); err != nil || tok.Active {
		t.Errorf("after a sweep: %+v, %v; want the attempt still stored and spent", tok, err)
	}
	if c := cookieExp(t, bData); c != tok.Expires.Unix() {
		t.Errorf("the cookie expires at %d, its row at %d", c, tok.Expires.Unix())
	}

	// An attempt too large for a cookie is stored at once, and works.
	big := newBrowser(t)
	_, at, page = big.do(http.MethodGet, authorizeURL(k, url.Values{"state": {strings.Repeat("s", 4000)}}), nil)
	action, f = formOf(t, at, page, "kc-form-login")
	if tok, err := stored(action); err != nil || !tok.Active {
		t.Fatalf("a large attempt: %v", err)
	}
	f.Set("username", "alice")
	f.Set("password", "alice-pass-1")
	if _, cb, _ := big.do(http.MethodPost, action, f); cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("login with a large attempt: no code (%v)", cb)
	}
}

// TestLoginAttemptCookieHostile: an attempt's cookie is taken only by the
// realm that signed it and only until it expires; either way the post is
// an expired page and nothing is stored.
func TestLoginAttemptCookieHostile(t *testing.T) {
	users := `{"username": "alice", "enabled": true, "credentials": [{"type": "password", "value": "alice-pass-1"}]}`
	cookie := func(b *browser, k *keygate, realm string) string {
		t.Helper()
		v := attemptCookie(b, k, realm)
		if v == "" {
			t.Fatalf("no KEYGATE_ATTEMPT cookie for realm %s", realm)
		}
		return v
	}
	notStored := func(k *keygate, id string) {
		t.Helper()
		if _, err := k.st.GetToken(t.Context(), store.KindLogin, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("attempt %s stored: %v", id, err)
		}
	}
	t.Run("another realm's cookie", func(t *testing.T) {
		k := actionsRealm(t, "", "", users)
		k.importRealm(t, `{"realm": "other", "enabled": true, "sslRequired": "none",
			"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
				"redirectUris": ["`+appRedirect+`"]}], "users": [`+users+`]}`)
		b := newBrowser(t)
		_, at, page := b.do(http.MethodGet, strings.Replace(authorizeURL(k, nil), "/realms/down/", "/realms/other/", 1), nil)
		action, f := formOf(t, at, page, "kc-form-login")
		id := mustQuery(t, action, "session_code")
		data := cookie(b, k, "other")
		// other's attempt id and signed data, brought to down.
		down, _ := url.Parse(k.URL + "/realms/down/")
		b.c.Jar.SetCookies(down, []*http.Cookie{{Name: "AUTH_SESSION_ID", Value: id, Path: "/realms/down/"},
			{Name: "KEYGATE_ATTEMPT", Value: data, Path: "/realms/down/"}})
		f.Set("username", "alice")
		f.Set("password", "alice-pass-1")
		if status, _, page := b.do(http.MethodPost, strings.Replace(action, "/realms/other/", "/realms/down/", 1), f); status != http.StatusBadRequest ||
			!strings.Contains(page, "Page has expired") {
			t.Errorf("other realm's attempt posted to down: %d, want 400 and the expired page\n%.600s", status, page)
		}
		notStored(k, id)
	})

	t.Run("oversized cookie", func(t *testing.T) {
		k := actionsRealm(t, "", "", users)
		b := newBrowser(t)
		_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
		action, f := formOf(t, at, page, "kc-form-login")
		parts := strings.Split(cookie(b, k, "down"), ".")
		parts[1] += strings.Repeat("A", 64<<10) // its own claims, padded far past a cookie's size
		down, _ := url.Parse(k.URL + "/realms/down/")
		b.c.Jar.SetCookies(down, []*http.Cookie{{Name: "KEYGATE_ATTEMPT", Value: strings.Join(parts, "."), Path: "/realms/down/"}})
		f.Set("username", "alice")
		f.Set("password", "alice-pass-1")
		if status, _, page := b.do(http.MethodPost, action, f); status != http.StatusBadRequest || !strings.Contains(page, "Page has expired") {
			t.Errorf("oversized attempt cookie: %d, want 400 and the expired page\n%.600s", status, page)
		}
		notStored(k, mustQuery(t, action, "session_code"))
	})

	t.Run("expired cookie", func(t *testing.T) {
		k := actionsRealm(t, "", `"accessCodeLifespanLogin": 1`, users)
		b := newBrowser(t)
		_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
		action, f := formOf(t, at, page, "kc-form-login")
		cookie(b, k, "down")
		time.Sleep(2 * time.Second)
		f.Set("username", "alice")
		f.Set("password", "alice-pass-1")
		if status, _, page := b.do(http.MethodPost, action, f); status != http.StatusBadRequest || !strings.Contains(page, "Page has expired") {
			t.Errorf("expired attempt: %d, want 400 and the expired page\n%.600s", status, page)
		}
		notStored(k, mustQuery(t, action, "session_code"))
	})
}

// TestLoginAttemptCookieClearedOnceStored: the attempt's signed record
// rides along only until it is stored; a wrong password (the form posted,
// so the attempt stored) clears it, and the next post finds the row.
func TestLoginAttemptCookieClearedOnceStored(t *testing.T) {
	k := actionsRealm(t, "", "", `{"username": "alice", "enabled": true,
		"credentials": [{"type": "password", "value": "alice-pass-1"}]}`)
	carried := func(b *browser) bool { return attemptCookie(b, k, "down") != "" }
	b := newBrowser(t)
	_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	action, f := formOf(t, at, page, "kc-form-login")
	if !carried(b) {
		t.Fatal("no KEYGATE_ATTEMPT cookie before the form is posted")
	}
	f.Set("username", "alice")
	f.Set("password", "wrong")
	_, at, page = b.do(http.MethodPost, action, f)
	if carried(b) {
		t.Error("KEYGATE_ATTEMPT still carried once the attempt is stored")
	}
	if tok, err := k.st.GetToken(t.Context(), store.KindLogin, mustQuery(t, action, "session_code")); err != nil || !tok.Active {
		t.Fatalf("after a wrong password: %+v, %v; want the attempt stored and live", tok, err)
	}
	action, f = formOf(t, at, page, "kc-form-login")
	f.Set("username", "alice")
	f.Set("password", "alice-pass-1")
	if _, cb, _ := b.do(http.MethodPost, action, f); cb == nil || cb.Query().Get("code") == "" {
		t.Fatalf("login after a wrong password: no code (%v)", cb)
	}
}

// attemptCookie is the KEYGATE_ATTEMPT cookie b holds for realm of k; ""
// if none.
func attemptCookie(b *browser, k *keygate, realm string) string {
	base, _ := url.Parse(k.URL + "/realms/" + realm + "/")
	for _, c := range b.c.Jar.Cookies(base) {
		if c.Name == "KEYGATE_ATTEMPT" {
			return c.Value
		}
	}
	return ""
}

// cookieExp is the exp claim of a signed attempt cookie.
func cookieExp(t *testing.T, signed string) int64 {
	t.Helper()
	parts := strings.Split(signed, ".")
	if len(parts) != 3 {
		t.Fatalf("attempt cookie: %d parts", len(parts))
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c struct {
		Exp int64 `json:"exp"`
	}
	if err == nil {
		err = json.Unmarshal(raw, &c)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c.Exp
}

func mustQuery(t *testing.T, u, name string) string {
	t.Helper()
	p, err := url.Parse(u)
	if err != nil {
		t.Fatal(err)
	}
	return p.Query().Get(name)
}
