package login_test

import (
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// regEnv is a keygate server (the whole HTTP handler) with one realm
// "reg" built from the test's settings, a public client "app" and the
// user alice (alice@example.com / alice-pass-1).
type regEnv struct {
	t     *testing.T
	st    store.Store
	url   string
	realm store.Realm
}

const regRedirect = "https://app.example.com/cb"

func newRegEnv(t *testing.T, settings map[string]any) *regEnv {
	t.Helper()
	st := backends.SQLite(t)
	return serveRealm(t, st, st, map[string]any{
		"realm": "reg", "enabled": true, "sslRequired": "none",
		"groups": []any{map[string]any{"name": "newcomers"}},
		"clients": []any{map[string]any{"clientId": "app", "publicClient": true, "redirectUris": []string{regRedirect},
			"standardFlowEnabled": true}},
		"users": []any{map[string]any{"username": "alice", "email": "alice@example.com", "enabled": true,
			"firstName": "Alice", "lastName": "Liddell",
			"credentials": []any{map[string]any{"type": "password", "value": "alice-pass-1"}}}},
	}, settings)
}

// serveRealm imports realm (with settings over it) into st and serves a
// keygate on serve (st itself, or a wrapper of it) until t ends.
func serveRealm(t *testing.T, serve, st store.Store, realm, settings map[string]any) *regEnv {
	t.Helper()
	ctx := t.Context()
	srv, err := idp.NewServer(serve, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	for k, v := range settings {
		realm[k] = v
	}
	data, _ := json.Marshal(realm)
	if _, err := rep.ImportRealm(ctx, st, data, rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	r, err := st.GetRealmByName(ctx, realm["realm"].(string))
	if err != nil {
		t.Fatal(err)
	}
	return &regEnv{t: t, st: st, url: ts.URL, realm: r}
}

// browser is a cookie-keeping client that does not follow redirects.
type browser struct {
	e      *regEnv
	c      *http.Client
	header http.Header // sent with every request
}

func (e *regEnv) browser() *browser {
	jar, _ := cookiejar.New(nil)
	return &browser{e: e, header: http.Header{}, c: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

type page struct {
	status int
	resp   *http.Response
	body   string
	doc    *html.Node
}

func (b *browser) do(method, target string, form url.Values) *page {
	b.e.t.Helper()
	if strings.HasPrefix(target, "/") {
		target = b.e.url + target
	}
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, _ := http.NewRequest(method, target, body)
	if form != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	for k, v := range b.header {
		req.Header[k] = v
	}
	resp, err := b.c.Do(req)
	if err != nil {
		b.e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	p := &page{status: resp.StatusCode, resp: resp, body: string(data)}
	p.doc, _ = html.Parse(strings.NewReader(p.body))
	return p
}

// authorize starts a login of client app with extra request parameters.
func (b *browser) authorize(extra url.Values) *page {
	q := url.Values{"client_id": {"app"}, "redirect_uri": {regRedirect}, "response_type": {"code"},
		"scope": {"openid"}, "state": {"st-1"},
		"code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}, "code_challenge_method": {"S256"}}
	for k, v := range extra {
		q[k] = v
	}
	return b.do(http.MethodGet, "/realms/reg/protocol/openid-connect/auth?"+q.Encode(), nil)
}

func find(n *html.Node, pred func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if n.Type == html.ElementNode && pred(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, pred); f != nil {
			return f
		}
	}
	return nil
}

func getAttr(n *html.Node, key string) string {
	if n == nil {
		return ""
	}
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func (p *page) byID(id string) *html.Node {
	return find(p.doc, func(n *html.Node) bool { return getAttr(n, "id") == id })
}

func textOf(n *html.Node) string {
	if n == nil {
		return ""
	}
	var sb strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			sb.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(sb.String()), " ")
}

func (p *page) lang() string {
	return getAttr(find(p.doc, func(n *html.Node) bool { return n.Data == "html" }), "lang")
}

// submit posts form id with the page's hidden fields plus values.
func (b *browser) submit(p *page, formID string, values map[string]string) *page {
	b.e.t.Helper()
	f := p.byID(formID)
	if f == nil {
		b.e.t.Fatalf("no form %s in %d page:\n%s", formID, p.status, p.body)
	}
	form := url.Values{}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" && getAttr(n, "type") == "hidden" {
			form.Set(getAttr(n, "name"), getAttr(n, "value"))
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(f)
	for k, v := range values {
		form.Set(k, v)
	}
	return b.do(http.MethodPost, getAttr(f, "action"), form)
}

func (p *page) errorText() string { return textOf(p.byID("input-error")) }

// registerPage follows the login page's Register link.
func (b *browser) registerPage() *page {
	b.e.t.Helper()
	login := b.authorize(nil)
	link := find(login.byID("kc-registration"), func(n *html.Node) bool { return n.Data == "a" })
	if link == nil {
		b.e.t.Fatalf("login page has no Register link:\n%s", login.body)
	}
	reg := b.do(http.MethodGet, getAttr(link, "href"), nil)
	if reg.status != http.StatusOK || reg.byID("kc-register-form") == nil {
		b.e.t.Fatalf("register page: %d\n%s", reg.status, reg.body)
	}
	return reg
}

func newcomer() map[string]string {
	return map[string]string{"firstName": "Bob", "lastName": "Builder", "email": "Bob@Example.com", "username": "Bob",
		"password": "bob-pass-1234", "password-confirm": "bob-pass-1234"}
}

// codeOf is the authorization code of a redirect to the client, "" if p
// is not one.
func codeOf(t *testing.T, p *page) string {
	t.Helper()
	loc, err := p.resp.Location()
	if err != nil || !strings.HasPrefix(loc.String(), regRedirect) {
		return ""
	}
	return loc.Query().Get("code")
}

func TestRegistrationDisabled(t *testing.T) {
	e := newRegEnv(t, nil)
	b := e.browser()
	login := b.authorize(nil)
	if login.status != http.StatusOK || login.byID("kc-form-login") == nil {
		t.Fatalf("login page: %d", login.status)
	}
	if login.byID("kc-registration") != nil {
		t.Error("login page offers registration in a realm that does not allow it")
	}
	q := url.Values{"session_code": {"x"}, "client_id": {"app"}}.Encode()
	if p := b.do(http.MethodGet, "/realms/reg/login-actions/registration?"+q, nil); p.status != http.StatusNotFound {
		t.Errorf("GET registration: %d, want 404", p.status)
	}
	if p := b.do(http.MethodPost, "/realms/reg/login-actions/registration?"+q, url.Values{"username": {"x"}}); p.status != http.StatusNotFound {
		t.Errorf("POST registration: %d, want 404", p.status)
	}
}

func TestRegistrationSignsInWithRealmDefaults(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true, "defaultGroups": []string{"/newcomers"},
		"requiredActions": []any{map[string]any{"alias": "TERMS_AND_CONDITIONS", "providerId": "TERMS_AND_CONDITIONS",
			"name": "Terms and Conditions", "enabled": true, "defaultAction": true, "priority": 20}}})
	b := e.browser()
	reg := b.registerPage()
	for _, name := range []string{"firstName", "lastName", "email", "username", "password", "password-confirm"} {
		if reg.byID(name) == nil {
			t.Errorf("register page has no field %s", name)
		}
	}
	b.submit(reg, "kc-register-form", newcomer())
	u, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "bob")
	if err != nil {
		t.Fatalf("registered user: %v", err)
	}
	if u.Email != "bob@example.com" || u.FirstName != "Bob" || u.LastName != "Builder" || !u.Enabled || u.EmailVerified {
		t.Errorf("user = %+v", u)
	}
	if !slices.Contains(u.RequiredActions, "TERMS_AND_CONDITIONS") {
		t.Errorf("required actions %v lack the realm's default TERMS_AND_CONDITIONS", u.RequiredActions)
	}
	roles, _ := e.st.ListUserRoles(t.Context(), e.realm.ID, u.ID)
	if !slices.ContainsFunc(roles, func(r store.Role) bool { return r.Name == "default-roles-reg" }) {
		t.Errorf("roles %v lack default-roles-reg", roles)
	}
	groups, _ := e.st.ListUserGroups(t.Context(), e.realm.ID, u.ID)
	if !slices.ContainsFunc(groups, func(g store.Group) bool { return g.Name == "newcomers" }) {
		t.Errorf("groups %v lack the default group", groups)
	}
}

func TestRegistrationCompletesTheLogin(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true})
	b := e.browser()
	done := b.submit(b.registerPage(), "kc-register-form", newcomer())
	if code := codeOf(t, done); code == "" {
		t.Fatalf("registration answered %d %s, not the client's code:\n%s", done.status, done.resp.Header.Get("Location"), done.body)
	}
	// Signed in: the next authorization request needs no form.
	if again := b.authorize(nil); codeOf(t, again) == "" {
		t.Errorf("second authorization: %d, want a code from the SSO session", again.status)
	}
	// Another browser cannot take the name.
	b2 := e.browser()
	if p := b2.submit(b2.registerPage(), "kc-register-form", newcomer()); !strings.Contains(p.errorText(), "Username already exists.") {
		t.Errorf("second registration of bob: %q", p.errorText())
	}
}

func TestRegistrationRefusals(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true, "passwordPolicy": "length(12) and digits(2) and notUsername"})
	cases := []struct {
		name  string
		edit  func(map[string]string)
		want  string
		field string
	}{
		{"policy length", func(f map[string]string) { f["password"], f["password-confirm"] = "short-12", "short-12" },
			"Invalid password: minimum length 12.", "password"},
		{"policy digits", func(f map[string]string) { f["password"], f["password-confirm"] = "long-enough-1x", "long-enough-1x" },
			"Invalid password: must contain at least 2 numerical digits.", "password"},
		{"policy notUsername", func(f map[string]string) {
			f["username"], f["password"], f["password-confirm"] = "bob12345678901", "bob12345678901", "bob12345678901"
		},
			"Invalid password: must not be equal to the username.", "password"},
		{"mismatch", func(f map[string]string) { f["password-confirm"] = "other-pass-99" }, "Passwords don't match.", "password-confirm"},
		{"no password", func(f map[string]string) { f["password"], f["password-confirm"] = "", "" }, "Please specify password.", "password"},
		{"bad email", func(f map[string]string) { f["email"] = "bob.example.com" }, "Invalid email address.", "email"},
		{"no email", func(f map[string]string) { f["email"] = "" }, "Please specify email.", "email"},
		{"no first name", func(f map[string]string) { f["firstName"] = " " }, "Please specify first name.", "firstName"},
		{"no last name", func(f map[string]string) { f["lastName"] = "" }, "Please specify last name.", "lastName"},
		{"no username", func(f map[string]string) { f["username"] = "" }, "Please specify username.", "username"},
		{"username taken", func(f map[string]string) { f["username"] = "ALICE" }, "Username already exists.", "username"},
		{"email taken", func(f map[string]string) { f["email"] = "alice@example.com" }, "Email already exists.", "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			f := newcomer()
			f["password"], f["password-confirm"] = "bob-pass-1234-56", "bob-pass-1234-56"
			tc.edit(f)
			p := b.submit(b.registerPage(), "kc-register-form", f)
			if p.status != http.StatusOK || p.errorText() != tc.want {
				t.Fatalf("got %d %q, want 200 %q", p.status, p.errorText(), tc.want)
			}
			if got := getAttr(p.byID(tc.field), "aria-invalid"); got != "true" {
				t.Errorf("field %s not marked invalid", tc.field)
			}
			if v := getAttr(p.byID("password"), "value"); v != "" {
				t.Errorf("password re-displayed: %q", v)
			}
			if _, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "bob"); err == nil {
				t.Error("a refused registration created the user")
			}
			// The page stays usable: fixing the fields registers.
			if tc.name == "mismatch" {
				ok := b.submit(p, "kc-register-form", map[string]string{"firstName": "Carl", "lastName": "Builder",
					"email": "carl@example.com", "username": "carl", "password": "carl-pass-1234-56", "password-confirm": "carl-pass-1234-56"})
				if codeOf(t, ok) == "" {
					t.Errorf("corrected registration: %d %q", ok.status, ok.errorText())
				}
			}
		})
	}
}

func TestRegistrationCSRF(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true})
	b := e.browser()
	f := newcomer()
	f["csrf_token"] = "forged"
	if p := b.submit(b.registerPage(), "kc-register-form", f); p.status != http.StatusForbidden {
		t.Errorf("forged CSRF token: %d, want 403", p.status)
	}
	// Another browser (no attempt cookie) cannot post the page.
	reg := b.registerPage()
	other := e.browser()
	if p := other.submit(reg, "kc-register-form", newcomer()); p.status != http.StatusBadRequest {
		t.Errorf("post without the attempt's cookie: %d, want 400", p.status)
	}
	if _, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "bob"); err == nil {
		t.Error("user created by a refused post")
	}
}

// With duplicateEmailsAllowed a taken email registers a second user (the
// store enforces the realm's rule, Keycloak's behaviour); without it the
// same form is refused in Keycloak's words.
func TestRegistrationDuplicateEmailsAllowed(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true, "duplicateEmailsAllowed": true})
	b := e.browser()
	f := newcomer()
	f["email"] = "ALICE@example.com"
	if p := b.submit(b.registerPage(), "kc-register-form", f); codeOf(t, p) == "" {
		t.Fatalf("duplicate email in a realm allowing it: %d %q", p.status, p.errorText())
	}
	bob, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, f["username"])
	if err != nil || bob.Email != "alice@example.com" {
		t.Fatalf("registered user: %+v %v", bob, err)
	}
	if _, err := e.st.GetUserByEmail(t.Context(), e.realm.ID, "alice@example.com"); !errors.Is(err, store.ErrAmbiguous) {
		t.Errorf("two users with the email: lookup %v, want ErrAmbiguous", err)
	}

	e = newRegEnv(t, map[string]any{"registrationAllowed": true})
	b = e.browser()
	p := b.submit(b.registerPage(), "kc-register-form", f)
	if p.status != http.StatusOK || p.errorText() != "Email already exists." {
		t.Fatalf("duplicate email in a realm refusing it: %d %q", p.status, p.errorText())
	}
	if _, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, f["username"]); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("user created by a refused registration: %v", err)
	}
}

func TestRegistrationEmailAsUsername(t *testing.T) {
	e := newRegEnv(t, map[string]any{"registrationAllowed": true, "registrationEmailAsUsername": true})
	b := e.browser()
	login := b.authorize(nil)
	if got := textOf(find(login.doc, func(n *html.Node) bool { return n.Data == "label" && getAttr(n, "for") == "username" })); got != "Email" {
		t.Errorf("login label = %q, want Email", got)
	}
	reg := b.registerPage()
	if reg.byID("username") != nil {
		t.Error("register page asks for a username although the email is the username")
	}
	f := newcomer()
	delete(f, "username")
	if p := b.submit(reg, "kc-register-form", f); codeOf(t, p) == "" {
		t.Fatalf("registration: %d %q", p.status, p.errorText())
	}
	if _, err := e.st.GetUserByUsername(t.Context(), e.realm.ID, "bob@example.com"); err != nil {
		t.Errorf("user not named by its email: %v", err)
	}
	b2 := e.browser()
	f["email"] = "ALICE@example.com"
	if p := b2.submit(b2.registerPage(), "kc-register-form", f); p.errorText() != "Email already exists." {
		t.Errorf("taken email as username: %q", p.errorText())
	}
}

// loginAs posts the login form.
func (b *browser) loginAs(username, pw string) *page {
	return b.submit(b.authorize(nil), "kc-form-login", map[string]string{"username": username, "password": pw})
}

func TestLoginWithEmail(t *testing.T) {
	for _, tc := range []struct {
		name     string
		settings map[string]any
		byEmail  bool
		label    string
	}{
		{"default", nil, true, "Username or email"},
		{"off", map[string]any{"loginWithEmailAllowed": false}, false, "Username"},
		{"duplicates allowed", map[string]any{"loginWithEmailAllowed": true, "duplicateEmailsAllowed": true}, false, "Username"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newRegEnv(t, tc.settings)
			b := e.browser()
			login := b.authorize(nil)
			if got := textOf(find(login.doc, func(n *html.Node) bool { return n.Data == "label" && getAttr(n, "for") == "username" })); got != tc.label {
				t.Errorf("label = %q, want %q", got, tc.label)
			}
			p := b.loginAs("alice@example.com", "alice-pass-1")
			if got := codeOf(t, p) != ""; got != tc.byEmail {
				t.Errorf("login by email signed in = %v, want %v (%d %q)", got, tc.byEmail, p.status, p.errorText())
			}
			if !tc.byEmail && p.errorText() != "Invalid username or password." {
				t.Errorf("refusal = %q", p.errorText())
			}
			if p := e.browser().loginAs("alice", "alice-pass-1"); codeOf(t, p) == "" {
				t.Errorf("login by username: %d", p.status)
			}
		})
	}
}

func TestRememberMeCheckbox(t *testing.T) {
	for _, on := range []bool{false, true} {
		e := newRegEnv(t, map[string]any{"rememberMe": on})
		if got := e.browser().authorize(nil).byID("rememberMe") != nil; got != on {
			t.Errorf("rememberMe=%v: checkbox shown = %v", on, got)
		}
	}
}

func i18nRealm(extra map[string]any) map[string]any {
	s := map[string]any{"internationalizationEnabled": true, "supportedLocales": []string{"en", "de", "fr", "nl", "es"},
		"defaultLocale": "en"}
	for k, v := range extra {
		s[k] = v
	}
	return s
}

func TestLocalePrecedence(t *testing.T) {
	e := newRegEnv(t, i18nRealm(nil))
	for _, tc := range []struct {
		name   string
		query  url.Values
		cookie string
		accept string
		want   string
	}{
		{"nothing", nil, "", "", "en"},
		{"Accept-Language", nil, "", "de-DE,de;q=0.9,en;q=0.5", "de"},
		{"Accept-Language quality", nil, "", "en;q=0.2, nl;q=0.8, *;q=0.1", "nl"},
		{"Accept-Language unsupported", nil, "", "it-IT", "en"},
		{"cookie over Accept-Language", nil, "fr", "de", "fr"},
		{"ui_locales over cookie", url.Values{"ui_locales": {"it nl"}}, "fr", "de", "nl"},
		{"kc_locale over ui_locales", url.Values{"ui_locales": {"nl"}, "kc_locale": {"es"}}, "fr", "de", "es"},
		{"unsupported kc_locale ignored", url.Values{"kc_locale": {"xx"}}, "", "de", "de"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := e.browser()
			if tc.accept != "" {
				b.header.Set("Accept-Language", tc.accept)
			}
			if tc.cookie != "" {
				u, _ := url.Parse(e.url + "/realms/reg/")
				b.c.Jar.SetCookies(u, []*http.Cookie{{Name: "KEYCLOAK_LOCALE", Value: tc.cookie, Path: "/realms/reg/"}})
			}
			p := b.authorize(tc.query)
			if p.lang() != tc.want {
				t.Fatalf("lang = %q, want %q (%d %s)", p.lang(), tc.want, p.status, p.resp.Header.Get("Location"))
			}
			// A refused password re-renders in the same language.
			again := b.submit(p, "kc-form-login", map[string]string{"username": "alice", "password": "wrong"})
			if again.lang() != tc.want {
				t.Errorf("after a wrong password: lang = %q, want %q", again.lang(), tc.want)
			}
		})
	}
}

func TestLocaleSwitchIsSticky(t *testing.T) {
	e := newRegEnv(t, i18nRealm(nil))
	b := e.browser()
	p := b.authorize(nil)
	menu := p.byID("kc-locale-dropdown")
	if menu == nil {
		t.Fatalf("no language menu:\n%s", p.body)
	}
	de := find(menu, func(n *html.Node) bool { return n.Data == "a" && getAttr(n, "hreflang") == "de" })
	if de == nil || textOf(de) != "Deutsch" {
		t.Fatalf("no Deutsch entry in the menu")
	}
	german := b.do(http.MethodGet, getAttr(de, "href"), nil)
	if german.lang() != "de" || getAttr(german.byID("kc-login"), "value") != "Anmelden" {
		t.Fatalf("after choosing Deutsch: lang %q, button %q", german.lang(), getAttr(german.byID("kc-login"), "value"))
	}
	if ck := cookieNamed(german.resp, "KEYCLOAK_LOCALE"); ck == nil || ck.Value != "de" || !ck.HttpOnly {
		t.Errorf("KEYCLOAK_LOCALE cookie = %+v", ck)
	}
	// The next login in this browser starts in German.
	if next := b.authorize(nil); next.lang() != "de" {
		t.Errorf("next login: lang %q, want de (sticky)", next.lang())
	}
}

func cookieNamed(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

func TestLocaleOffIsEnglish(t *testing.T) {
	e := newRegEnv(t, map[string]any{"supportedLocales": []string{"de"}, "defaultLocale": "de"})
	b := e.browser()
	b.header.Set("Accept-Language", "de")
	p := b.authorize(url.Values{"kc_locale": {"de"}, "ui_locales": {"de"}})
	if p.lang() != "en" || p.byID("kc-locale-dropdown") != nil {
		t.Errorf("internationalization off: lang %q, menu %v", p.lang(), p.byID("kc-locale-dropdown") != nil)
	}
	if cookieNamed(p.resp, "KEYCLOAK_LOCALE") != nil {
		t.Error("KEYCLOAK_LOCALE set with internationalization off")
	}
}

func TestLocaleDefaultAndSupported(t *testing.T) {
	e := newRegEnv(t, i18nRealm(map[string]any{"supportedLocales": []string{"en", "fr"}, "defaultLocale": "fr"}))
	b := e.browser()
	b.header.Set("Accept-Language", "de")
	p := b.authorize(nil)
	if p.lang() != "fr" {
		t.Errorf("unsupported Accept-Language: lang %q, want the realm default fr", p.lang())
	}
	var tags []string
	for c := find(p.byID("kc-locale-dropdown"), func(n *html.Node) bool { return n.Data == "ul" }).FirstChild; c != nil; c = c.NextSibling {
		if a := find(c, func(n *html.Node) bool { return n.Data == "a" }); a != nil {
			tags = append(tags, getAttr(a, "hreflang"))
		}
	}
	if !slices.Equal(tags, []string{"en", "fr"}) {
		t.Errorf("menu lists %v, want the realm's [en fr]", tags)
	}
}

func TestLocalizationTextsOverride(t *testing.T) {
	e := newRegEnv(t, i18nRealm(map[string]any{"registrationAllowed": true,
		"localizationTexts": map[string]any{"de": map[string]string{"doLogIn": "Los geht's", "loginAccountTitle": "Willkommen bei Reg"}}}))
	b := e.browser()
	p := b.authorize(url.Values{"kc_locale": {"de"}})
	if got := getAttr(p.byID("kc-login"), "value"); got != "Los geht's" {
		t.Errorf("overridden doLogIn = %q", got)
	}
	if got := textOf(p.byID("kc-page-title")); got != "Willkommen bei Reg" {
		t.Errorf("overridden title = %q", got)
	}
	// Keys the realm does not override come from the German catalog.
	if got := textOf(find(p.doc, func(n *html.Node) bool { return n.Data == "label" && getAttr(n, "for") == "password" })); got != "Passwort" {
		t.Errorf("password label = %q, want Passwort", got)
	}
	// The register page follows the chosen language.
	reg := b.registerPage()
	if reg.lang() != "de" || getAttr(reg.byID("kc-register"), "value") != "Registrieren" {
		t.Errorf("register page: lang %q, button %q", reg.lang(), getAttr(reg.byID("kc-register"), "value"))
	}
	// English pages keep the catalog's texts.
	if en := e.browser().authorize(url.Values{"kc_locale": {"en"}}); getAttr(en.byID("kc-login"), "value") != "Sign In" {
		t.Errorf("English doLogIn = %q", getAttr(en.byID("kc-login"), "value"))
	}
}

// A language picked on the login page becomes the user's locale
// attribute once the password is right (Keycloak's locale updater).
func TestLoginRemembersPickedLanguage(t *testing.T) {
	e := newRegEnv(t, i18nRealm(nil))
	b := e.browser()
	p := b.submit(b.authorize(url.Values{"kc_locale": {"nl"}}), "kc-form-login", map[string]string{"username": "alice", "password": "wrong"})
	if p.lang() != "nl" {
		t.Fatalf("lang %q", p.lang())
	}
	u, _ := e.st.GetUserByUsername(t.Context(), e.realm.ID, "alice")
	if len(u.Attributes["locale"]) != 0 {
		t.Errorf("a wrong password stored the language: %v", u.Attributes)
	}
	if done := b.submit(p, "kc-form-login", map[string]string{"username": "alice", "password": "alice-pass-1"}); codeOf(t, done) == "" {
		t.Fatalf("login: %d", done.status)
	}
	u, _ = e.st.GetUserByUsername(t.Context(), e.realm.ID, "alice")
	if got := u.Attributes["locale"]; len(got) != 1 || got[0] != "nl" {
		t.Errorf("locale attribute = %v, want [nl]", got)
	}
	// Another browser, nothing asked: the user's language shows on pages
	// after the password (required actions) through withUserLocale.
	other := e.browser()
	if en := other.authorize(nil); en.lang() != "en" {
		t.Errorf("a fresh browser before sign-in: %q", en.lang())
	}
}
