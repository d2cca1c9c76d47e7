package idp_test

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/mail/mailtest"
	"github.com/keygate/keygate/store/sqlite"
)

// Mail flows against a real SMTP server (Mailpit), through the real HTTP
// handlers: "Forgot Password?", action-token links (single use, expiry),
// VERIFY_EMAIL, the admin's testSMTPConnection, execute-actions-email and
// send-verify-email, and a mail server that is down.

const testDBKey = "email-test-db-key-0123456789"

// mailKeygate starts a keygate (sealing with testDBKey) whose realm "down"
// mails through mp, with users alice (alice@example.com), bob (no
// address) and an admin token of the master realm; extra are more
// top-level realm fields (JSON, no braces).
func mailKeygate(t *testing.T, mp *mailtest.Mailpit, extra string) (*keygate, string) {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &logBuffer{}
	srv, err := idp.NewServer(st, idp.Config{DBKey: testDBKey,
		Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
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
	smtp, _ := json.Marshal(mp.Settings("idp@example.com"))
	if extra != "" {
		extra = "," + extra
	}
	k.importRealm(t, `{"realm": "down", "enabled": true, "sslRequired": "none", "resetPasswordAllowed": true,
		"smtpServer": `+string(smtp)+extra+`,
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["`+appRedirect+`"], "webOrigins": ["+"]}],
		"users": [
			{"username": "alice", "enabled": true, "email": "alice@example.com", "emailVerified": true,
			 "credentials": [{"type": "password", "value": "alice-old-pass-1"}]},
			{"username": "bob", "enabled": true, "credentials": [{"type": "password", "value": "bob-pass-1"}]},
			{"username": "carol", "enabled": true, "email": "carol@example.com", "emailVerified": false,
			 "credentials": [{"type": "password", "value": "carol-pass-1"}]},
			{"username": "dave", "enabled": false, "email": "dave@example.com"}]}`)
	master, err := st.GetRealmByName(ctx, "master")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := st.GetUserByUsername(ctx, master.ID, "admin")
	if err != nil {
		t.Fatal(err)
	}
	admin.Email = "admin@example.com"
	if err := st.UpdateUser(ctx, admin); err != nil {
		t.Fatal(err)
	}
	tok := postToken(t, k.URL, "master", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"},
		"username": {"admin"}, "password": {"admin-secret-pw"}}, 200)
	return k, tok["access_token"].(string)
}

// forgot opens the login page, follows "Forgot Password?" and posts name.
func (b *browser) forgot(k *keygate, name string) (int, *url.URL, string) {
	b.t.Helper()
	action, f := b.forgotForm(k)
	f.Set("username", name)
	return b.do(http.MethodPost, action, f)
}

// forgotForm opens the login page and follows "Forgot Password?".
func (b *browser) forgotForm(k *keygate) (string, url.Values) {
	b.t.Helper()
	_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
	href, ok := links(b.t, page)["kc-forgot-password"]
	if !ok {
		b.t.Fatalf("no Forgot Password? link:\n%.800s", page)
	}
	u, _ := at.Parse(href)
	status, at, page := b.do(http.MethodGet, u.String(), nil)
	if status != 200 || !strings.Contains(page, `id="kc-reset-password-form"`) || !strings.Contains(page, "Forgot Your Password?") {
		b.t.Fatalf("reset page: %d\n%.800s", status, page)
	}
	return formOf(b.t, at, page, "kc-reset-password-form")
}

// follow opens a mailed link and presses "Click here to proceed".
func (b *browser) follow(link string) (int, *url.URL, string) {
	b.t.Helper()
	status, at, page := b.do(http.MethodGet, link, nil)
	if status != 200 || !strings.Contains(page, `id="kc-action-token-form"`) {
		return status, at, page
	}
	action, f := formOf(b.t, at, page, "kc-action-token-form")
	return b.do(http.MethodPost, action, f)
}

func TestForgotPassword(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, _ := mailKeygate(t, mp, "")
	b := newBrowser(t)
	status, _, sent := b.forgot(k, "alice")
	if status != 200 || !strings.Contains(sent, "You should receive an email shortly with further instructions.") {
		t.Fatalf("after the form: %d\n%.800s", status, sent)
	}
	m := mp.Wait("alice@example.com", 1, 10*time.Second)
	if m.Subject != "Reset password" || !strings.Contains(m.Text, "This link and code will expire within 5 minutes.") ||
		!strings.Contains(m.HTML, "Link to reset credentials") {
		t.Fatalf("mail: %q\n%s", m.Subject, m.Text)
	}
	link := m.ActionLink()
	if !strings.HasPrefix(link, k.URL+"/realms/down/login-actions/action-token?") || !strings.Contains(link, "client_id=app") {
		t.Fatalf("link %q", link)
	}
	// Opening the link spends nothing (mail scanners fetch links).
	for range 2 {
		if status, _, page := b.do(http.MethodGet, link, nil); status != 200 || !strings.Contains(page, "Update Password") {
			t.Fatalf("link page: %d\n%.800s", status, page)
		}
	}
	// Same browser: the new password, then the login goes on to the app.
	status, at, page := b.follow(link)
	if status != 200 || !strings.Contains(page, `id="kc-passwd-update-form"`) {
		t.Fatalf("after the link: %d %s\n%.800s", status, at, page)
	}
	status, cb, page := b.updatePassword(at, page, "alice-new-pass-2", "alice-new-pass-2")
	if status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("new password: %d %s\n%.800s", status, cb, page)
	}
	if claims := exchange(t, k, cb); claims["preferred_username"] != "alice" {
		t.Fatalf("claims %v", claims)
	}
	// The link works once, in any browser.
	if status, _, page := newBrowser(t).follow(link); status != 400 || !strings.Contains(page, "Action expired.") {
		t.Fatalf("second use: %d\n%.800s", status, page)
	}
	if status, _, page := newBrowser(t).passwordLogin(k, "alice", "alice-new-pass-2"); status/100 != 3 {
		t.Fatalf("login with the new password: %d\n%.800s", status, page)
	}
	// Another internal token of the realm (the SSO cookie, same HMAC key)
	// is no action token.
	kcURL, _ := url.Parse(k.URL + "/realms/down/")
	for _, ck := range b.c.Jar.Cookies(kcURL) {
		if ck.Name == "KEYCLOAK_IDENTITY" {
			if status, _, _ := newBrowser(t).do(http.MethodGet, k.URL+"/realms/down/login-actions/action-token?key="+ck.Value, nil); status != 400 {
				t.Fatalf("SSO cookie as a key: %d", status)
			}
		}
	}
	// Never a link or a body in the log.
	if strings.Contains(k.log.String(), "action-token?key=") || strings.Contains(k.log.String(), m.ActionLink()[len(k.URL):]) {
		t.Fatal("the log holds the link")
	}
}

// TestForgotPasswordOtherBrowser: the link opened elsewhere runs the
// password update on its own and ends on "Your password has been updated".
func TestForgotPasswordOtherBrowser(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, _ := mailKeygate(t, mp, "")
	if status, _, _ := newBrowser(t).forgot(k, "alice@example.com"); status != 200 { // by email
		t.Fatal(status)
	}
	link := mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink()
	b := newBrowser(t)
	status, at, page := b.follow(link)
	if status != 200 || !strings.Contains(page, `id="kc-passwd-update-form"`) {
		t.Fatalf("after the link: %d %s\n%.800s", status, at, page)
	}
	status, _, page = b.updatePassword(at, page, "alice-new-pass-3", "alice-new-pass-3")
	if status != 200 || !strings.Contains(page, "Your password has been updated.") {
		t.Fatalf("end: %d\n%.800s", status, page)
	}
	if status, _, _ := newBrowser(t).passwordLogin(k, "alice", "alice-new-pass-3"); status/100 != 3 {
		t.Fatalf("new password refused: %d", status)
	}
}

// TestForgotPasswordSameAnswer: a name nobody has, a user without an
// address and a disabled user get the page a real user gets, and no mail.
func TestForgotPasswordSameAnswer(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, admin := mailKeygate(t, mp, `"eventsEnabled": true`)
	norm := regexp.MustCompile(`(?s)<form.*?</form>|href="[^"]*"`)
	var want string
	for _, name := range []string{"alice", "nobody", "nobody@example.com", "bob", "dave"} {
		b := newBrowser(t)
		action, f := b.forgotForm(k)
		f.Set("username", name)
		start := time.Now()
		status, _, page := b.do(http.MethodPost, action, f)
		// Reported, not asserted: a mail and a probe are both one SMTP
		// session on loopback.
		t.Logf("%s: %d in %s", name, status, time.Since(start).Round(100*time.Microsecond))
		page = norm.ReplaceAllString(page, "")
		if status != 200 {
			t.Fatalf("%s: %d\n%.800s", name, status, page)
		}
		if want == "" {
			want = page
		} else if page != want {
			t.Fatalf("%s answered differently:\n%s\n---\n%s", name, page, want)
		}
	}
	// alice's mail goes out after her answer, on its own time (on a loaded
	// machine well after the others' answers): wait for it, then give a
	// wrong mail to another user as long again to show up.
	waited := time.Now()
	mp.Wait("alice@example.com", 1, 10*time.Second)
	time.Sleep(max(300*time.Millisecond, time.Since(waited)))
	if n := mp.Count("dave@example.com"); n != 0 {
		t.Fatalf("a disabled user got %d mails", n)
	}
	if n := mp.Count("alice@example.com"); n != 1 {
		t.Fatalf("alice got %d mails", n)
	}
	// The administrator sees what happened (Keycloak's event types).
	deadline := time.Now().Add(5 * time.Second)
	for {
		sent := k.events(t, admin, "type=SEND_RESET_PASSWORD")
		failed := k.events(t, admin, "type=SEND_RESET_PASSWORD_ERROR")
		errs := map[string]int{}
		for _, e := range failed {
			errs[e.Error]++
		}
		if len(sent) == 1 && sent[0].Details["email"] == "alice@example.com" &&
			errs["user_not_found"] == 2 && errs["invalid_email"] == 1 && errs["user_disabled"] == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events: sent %+v, failed %v", sent, errs)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// A second request within the cooldown mails nothing, says the same.
	if _, _, page := newBrowser(t).forgot(k, "alice"); norm.ReplaceAllString(page, "") != want {
		t.Fatal("cooldown answered differently")
	}
	time.Sleep(300 * time.Millisecond)
	if n := mp.Count("alice@example.com"); n != 1 {
		t.Fatalf("alice got %d mails within the cooldown", n)
	}
}

// TestActionTokenExpired: a link past actionTokenGeneratedByUserLifespan
// (here the realm's reset-credentials override of 1 s) is refused.
func TestActionTokenExpired(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, _ := mailKeygate(t, mp, `"attributes": {"actionTokenGeneratedByUserLifespan.reset-credentials": "1"}`)
	if status, _, _ := newBrowser(t).forgot(k, "alice"); status != 200 {
		t.Fatal(status)
	}
	m := mp.Wait("alice@example.com", 1, 10*time.Second)
	if !strings.Contains(m.Text, "expire within 1 second.") {
		t.Fatalf("mail: %s", m.Text)
	}
	time.Sleep(1100 * time.Millisecond)
	if status, _, page := newBrowser(t).follow(m.ActionLink()); status != 400 || !strings.Contains(page, "Action expired.") {
		t.Fatalf("expired link: %d\n%.800s", status, page)
	}
	// A forged or truncated key is refused too.
	link := m.ActionLink()
	if status, _, _ := newBrowser(t).do(http.MethodGet, strings.Replace(link, "key=", "key=x", 1), nil); status != 400 {
		t.Fatalf("forged key: %d", status)
	}
}

// TestMailServerDown: the person gets Keycloak's "Failed to send email,
// please try again later." whoever they named, the administrator a log
// line, and the login page keeps working.
func TestMailServerDown(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	down := mailtest.FreePort(t)
	k, _ := mailKeygate(t, mp, "")
	setSMTP(t, k, map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(down), "from": "idp@example.com"})
	for _, name := range []string{"alice", "nobody"} {
		status, _, page := newBrowser(t).forgot(k, name)
		if status != http.StatusServiceUnavailable || !strings.Contains(page, "Failed to send email, please try again later.") ||
			!strings.Contains(page, `id="kc-reset-password-form"`) {
			t.Fatalf("%s: %d\n%.800s", name, status, page)
		}
	}
	if !strings.Contains(k.log.String(), "failed to send email") || !strings.Contains(k.log.String(), "connect") {
		t.Fatalf("no log line for the administrator:\n%s", k.log.String())
	}
	if status, _, page := newBrowser(t).passwordLogin(k, "alice", "alice-old-pass-1"); status/100 != 3 {
		t.Fatalf("login while the mail server is down: %d\n%.800s", status, page)
	}
}

// TestVerifyEmailAction: a realm with verifyEmail stops an unverified
// user's login on "Email verification" and mails a link; once it is
// followed (here in another browser) the login goes on.
func TestVerifyEmailAction(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	k, _ := mailKeygate(t, mp, `"verifyEmail": true`)
	b := newBrowser(t)
	status, at, page := b.passwordLogin(k, "carol", "carol-pass-1")
	if status != 200 || !strings.Contains(page, "Email verification") || !strings.Contains(page, "carol@example.com") ||
		at.Query().Get("execution") != "VERIFY_EMAIL" {
		t.Fatalf("after the password: %d %s\n%.800s", status, at, page)
	}
	m := mp.Wait("carol@example.com", 1, 10*time.Second)
	if m.Subject != "Verify email" {
		t.Fatalf("subject %q", m.Subject)
	}
	// "Continue" before the link: still waiting.
	action, f := formOf(t, at, page, "kc-verify-email-form")
	f.Set("continue", "on")
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 || !strings.Contains(page, "You need to verify your email address to activate your account.") {
		t.Fatalf("continue unverified: %d\n%.800s", status, page)
	}
	// Re-send: within the cooldown no second mail, the same notice.
	action, f = formOf(t, at, page, "kc-verify-email-form")
	f.Set("resend", "on")
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 || !strings.Contains(page, "You should receive an email shortly") {
		t.Fatalf("resend: %d\n%.800s", status, page)
	}
	status, _, vpage := newBrowser(t).follow(m.ActionLink())
	if status != 200 || !strings.Contains(vpage, "Your email address has been verified.") {
		t.Fatalf("link: %d\n%.800s", status, vpage)
	}
	if u := userNamed(t, k, "carol"); !u.EmailVerified {
		t.Fatal("not verified")
	}
	action, f = formOf(t, at, page, "kc-verify-email-form")
	f.Set("continue", "on")
	status, cb, page := b.do(http.MethodPost, action, f)
	if status/100 != 3 || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("continue verified: %d %s\n%.800s", status, cb, page)
	}
	exchange(t, k, cb)
}

// TestAdminMail: the SMTP password masked and sealed, testSMTPConnection,
// execute-actions-email and send-verify-email with Keycloak's answers.
func TestAdminMail(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{Auth: true})
	k, token := mailKeygate(t, mp, "")
	realmURL := k.URL + "/admin/realms/down"
	settings := mp.Settings("idp@example.com")
	settings["auth"], settings["user"], settings["password"] = "true", "idp", "smtp-secret-pw"
	settings["fromDisplayName"] = "Down IdP"
	if status, body := adminDo(t, http.MethodPut, realmURL, token, map[string]any{"smtpServer": settings}); status != 204 {
		t.Fatalf("PUT realm: %d %s", status, body)
	}
	var rr struct{ SMTPServer map[string]string }
	getJSON(t, realmURL, token, &rr)
	if rr.SMTPServer["password"] != "**********" || rr.SMTPServer["user"] != "idp" {
		t.Fatalf("GET realm smtpServer %v", rr.SMTPServer)
	}
	row, _ := k.st.GetRealmByName(t.Context(), "down")
	if bytes.Contains(row.Settings, []byte("smtp-secret-pw")) || !bytes.Contains(row.Settings, []byte("kgsealed:v1:")) {
		t.Fatalf("stored settings: %s", row.Settings)
	}
	// The mask sent back keeps the password.
	rr.SMTPServer["fromDisplayName"] = "Down IdP 2"
	if status, body := adminDo(t, http.MethodPut, realmURL, token, map[string]any{"smtpServer": rr.SMTPServer}); status != 204 {
		t.Fatalf("PUT realm with the mask: %d %s", status, body)
	}
	row2, _ := k.st.GetRealmByName(t.Context(), "down")
	if !bytes.Contains(row2.Settings, []byte("kgsealed:v1:")) {
		t.Fatalf("the mask lost the password: %s", row2.Settings)
	}

	// testSMTPConnection: to the admin's own address, masked password.
	if status, body := adminDo(t, http.MethodPost, realmURL+"/testSMTPConnection", token, rr.SMTPServer); status != 204 {
		t.Fatalf("testSMTPConnection: %d %s", status, body)
	}
	if m := mp.Wait("admin@example.com", 1, 10*time.Second); m.Subject != "[KEYGATE] - SMTP test message" || m.From.Name != "Down IdP 2" {
		t.Fatalf("test mail %+v", m)
	}
	bad := map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(mailtest.FreePort(t)), "from": "idp@example.com"}
	if status, body := adminDo(t, http.MethodPost, realmURL+"/testSMTPConnection", token, bad); status != 500 ||
		strings.TrimSpace(body) != `{"errorMessage":"Failed to send email"}` {
		t.Fatalf("testSMTPConnection down: %d %s", status, body)
	}

	users := map[string]string{}
	for _, n := range []string{"alice", "bob", "carol", "dave"} {
		users[n] = userNamed(t, k, n).ID
	}
	exec := func(user, query string, body any) (int, string) {
		return adminDo(t, http.MethodPut, realmURL+"/users/"+users[user]+"/execute-actions-email"+query, token, body)
	}
	for _, c := range []struct {
		user, query string
		body        any
		want        string
	}{
		{"bob", "", []string{"UPDATE_PASSWORD"}, "User email missing"},
		{"dave", "", []string{"UPDATE_PASSWORD"}, "User is disabled"},
		{"alice", "?redirect_uri=" + url.QueryEscape(appRedirect), []string{"UPDATE_PASSWORD"}, "Client id missing"},
		{"alice", "?client_id=nope", []string{"UPDATE_PASSWORD"}, "Client doesn't exist"},
		{"alice", "?client_id=app&redirect_uri=" + url.QueryEscape("https://evil.example/cb"), []string{"UPDATE_PASSWORD"}, "Invalid redirect uri."},
		{"alice", "", []string{"NOT_AN_ACTION"}, "Provided invalid required actions"},
	} {
		status, body := exec(c.user, c.query, c.body)
		if status != 400 || !strings.Contains(body, `"errorMessage":"`+c.want+`"`) {
			t.Errorf("%s %s %v: %d %s, want %q", c.user, c.query, c.body, status, body, c.want)
		}
	}
	status, body := exec("alice", "?client_id=app&lifespan=600&redirect_uri="+url.QueryEscape(appRedirect), []string{"UPDATE_PASSWORD", "VERIFY_EMAIL"})
	if status != 204 {
		t.Fatalf("execute-actions-email: %d %s", status, body)
	}
	m := mp.Wait("alice@example.com", 1, 10*time.Second)
	if m.Subject != "Update Your Account" || !strings.Contains(m.Text, "Update Password, Verify Email") ||
		!strings.Contains(m.Text, "expire within 10 minutes") {
		t.Fatalf("mail %q\n%s", m.Subject, m.Text)
	}
	b := newBrowser(t)
	status, at, page := b.follow(m.ActionLink())
	if status != 200 || !strings.Contains(page, `id="kc-passwd-update-form"`) {
		t.Fatalf("execute-actions link: %d %s\n%.800s", status, at, page)
	}
	status, _, page = b.updatePassword(at, page, "alice-admin-set-4", "alice-admin-set-4")
	if status != 200 || !strings.Contains(page, "Your account has been updated.") || !strings.Contains(page, appRedirect) {
		t.Fatalf("end: %d\n%.800s", status, page)
	}
	if status, _, _ := newBrowser(t).follow(m.ActionLink()); status != 400 {
		t.Fatalf("second use: %d", status)
	}

	// send-verify-email: carol's address is verified by the link.
	if status, body := adminDo(t, http.MethodPut, realmURL+"/users/"+users["carol"]+"/send-verify-email", token, nil); status != 204 {
		t.Fatalf("send-verify-email: %d %s", status, body)
	}
	vm := mp.Wait("carol@example.com", 1, 10*time.Second)
	if vm.Subject != "Verify email" {
		t.Fatalf("verify mail %q", vm.Subject)
	}
	status, _, page = newBrowser(t).follow(vm.ActionLink())
	if status != 200 || !strings.Contains(page, "Your email address has been verified.") || !userNamed(t, k, "carol").EmailVerified {
		t.Fatalf("verify link: %d\n%.800s", status, page)
	}
	// A link to an address the user no longer has is void.
	if status, body := adminDo(t, http.MethodPut, realmURL+"/users/"+users["carol"]+"/send-verify-email", token, nil); status != 204 {
		t.Fatalf("send-verify-email: %d %s", status, body)
	}
	vm2 := mp.Wait("carol@example.com", 2, 10*time.Second)
	carol := userNamed(t, k, "carol")
	carol.Email = "carol.new@example.com"
	if err := k.st.UpdateUser(t.Context(), carol); err != nil {
		t.Fatal(err)
	}
	if status, _, _ := newBrowser(t).follow(vm2.ActionLink()); status != 400 {
		t.Fatalf("link to a changed address: %d", status)
	}
	if strings.Contains(k.log.String(), "smtp-secret-pw") || strings.Contains(k.log.String(), "action-token?key=") {
		t.Fatal("the log holds the SMTP password or a link")
	}
}

// setSMTP points realm down's mail at settings (store write, caches
// dropped through the admin API's realm update).
func setSMTP(t *testing.T, k *keygate, settings map[string]string) {
	t.Helper()
	tok := postToken(t, k.URL, "master", url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"},
		"username": {"admin"}, "password": {"admin-secret-pw"}}, 200)
	if status, body := adminDo(t, http.MethodPut, k.URL+"/admin/realms/down", tok["access_token"].(string),
		map[string]any{"smtpServer": settings}); status != 204 {
		t.Fatalf("PUT realm: %d %s", status, body)
	}
}

func adminDo(t *testing.T, method, u, token string, body any) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequestWithContext(t.Context(), method, u, rd)
	req.Header.Set("Authorization", "Bearer "+token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestForgotPasswordNotAllowed: no link and no reset page without
// resetPasswordAllowed, or without UPDATE_PASSWORD to set the new one.
func TestForgotPasswordNotAllowed(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	for name, extra := range map[string]string{
		"resetPasswordAllowed false": `"resetPasswordAllowed": false`,
		"UPDATE_PASSWORD disabled": `"requiredActions": [{"alias": "UPDATE_PASSWORD", "name": "Update Password",
			"providerId": "UPDATE_PASSWORD", "enabled": false, "defaultAction": false, "priority": 30}]`,
	} {
		k, _ := mailKeygate(t, mp, extra)
		b := newBrowser(t)
		_, at, page := b.do(http.MethodGet, authorizeURL(k, nil), nil)
		if _, ok := links(t, page)["kc-forgot-password"]; ok || !strings.Contains(page, `id="kc-form-login"`) {
			t.Fatalf("%s: login page offers Forgot Password?\n%.800s", name, page)
		}
		action, _ := formOf(t, at, page, "kc-form-login")
		u, _ := url.Parse(action)
		reset := k.URL + "/realms/down/login-actions/reset-credentials?" + u.RawQuery
		if status, _, page := b.do(http.MethodGet, reset, nil); status != 400 || !strings.Contains(page, "Reset Credential not allowed") {
			t.Fatalf("%s: reset page: %d\n%.800s", name, status, page)
		}
	}
}
