package login_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail/mailtest"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/backends"
)

// mailFaults is a store whose mail flow records can be made to fail as a
// lost database: the mail cooldown's reads (replayDown) and spending a
// login attempt (attemptDown).
type mailFaults struct {
	*sqlstore.Store         // the server needs its transactions
	replayDown, attemptDown atomic.Bool
}

func (f *mailFaults) GetToken(ctx context.Context, kind store.TokenKind, sig string) (store.Token, error) {
	if kind == store.KindReplay && f.replayDown.Load() {
		return store.Token{}, fmt.Errorf("sqlstore: get token: %w", store.ErrUnavailable)
	}
	return f.Store.GetToken(ctx, kind, sig)
}

func (f *mailFaults) DeactivateToken(ctx context.Context, kind store.TokenKind, sig string) error {
	if kind == store.KindLogin && f.attemptDown.Load() {
		return fmt.Errorf("sqlstore: deactivate token: %w", store.ErrUnavailable)
	}
	return f.Store.DeactivateToken(ctx, kind, sig)
}

// newMailEnv is regEnv's realm "reg" (alice, client app) over a store with
// mailFaults, mailing through smtp (Keycloak's smtpServer map), with
// resetPasswordAllowed and the extra realm settings.
func newMailEnv(t *testing.T, smtp map[string]string, settings map[string]any) (*regEnv, *mailFaults) {
	t.Helper()
	st := backends.SQLite(t)
	fs := &mailFaults{Store: st}
	return serveRealm(t, fs, st, map[string]any{
		"realm": "reg", "enabled": true, "sslRequired": "none", "resetPasswordAllowed": true, "smtpServer": smtp,
		"clients": []any{map[string]any{"clientId": "app", "publicClient": true, "redirectUris": []string{regRedirect},
			"standardFlowEnabled": true}},
		"users": []any{
			map[string]any{"username": "alice", "email": "alice@example.com", "enabled": true, "emailVerified": true,
				"credentials": []any{map[string]any{"type": "password", "value": "alice-pass-1"}}},
			map[string]any{"username": "carol", "email": "carol@example.com", "enabled": true, "emailVerified": false,
				"credentials": []any{map[string]any{"type": "password", "value": "carol-pass-1"}}}},
	}, settings), fs
}

// forgot opens the login page, follows "Forgot Password?" and posts name.
func (b *browser) forgot(name string) *page {
	b.e.t.Helper()
	login := b.authorize(nil)
	link := login.byID("kc-forgot-password")
	if link == nil {
		b.e.t.Fatalf("login page has no Forgot Password? link:\n%.800s", login.body)
	}
	form := b.do(http.MethodGet, getAttr(link, "href"), nil)
	if form.status != http.StatusOK || form.byID("kc-reset-password-form") == nil {
		b.e.t.Fatalf("reset page: %d\n%.800s", form.status, form.body)
	}
	return b.submit(form, "kc-reset-password-form", map[string]string{"username": name})
}

const sentText = "You should receive an email shortly with further instructions."

func is503(p *page) bool {
	return p.status == http.StatusServiceUnavailable && p.resp.Header.Get("Retry-After") != "" &&
		strings.Contains(p.body, "temporarily unavailable")
}

// The mail cooldown that cannot be read (the database is gone) is a 503,
// not "an email is on its way" for a mail that never goes; in the normal
// case a known and an unknown name get the same answer.
func TestForgotPasswordCooldownUnreadableIs503(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	e, fs := newMailEnv(t, mp.Settings("idp@example.com"), nil)
	b := e.browser()
	for _, name := range []string{"alice", "nobody"} {
		if p := b.forgot(name); p.status != http.StatusOK || !strings.Contains(p.body, sentText) {
			t.Fatalf("%s: %d\n%.800s", name, p.status, p.body)
		}
	}
	mp.Wait("alice@example.com", 1, 10*time.Second)
	// A second request within the cooldown reads the first one's record.
	fs.replayDown.Store(true)
	if p := b.forgot("alice"); !is503(p) {
		t.Fatalf("cooldown unreadable: %d, Retry-After %q\n%.800s", p.status, p.resp.Header.Get("Retry-After"), p.body)
	}
	fs.replayDown.Store(false)
	if p := b.forgot("alice"); p.status != http.StatusOK || !strings.Contains(p.body, sentText) {
		t.Fatalf("back up: %d\n%.800s", p.status, p.body)
	}
}

// followLink opens a mailed link in b and presses "Click here to proceed".
func (b *browser) followLink(link string) *page {
	b.e.t.Helper()
	p := b.do(http.MethodGet, link, nil)
	if p.status != http.StatusOK || p.byID("kc-action-token-form") == nil {
		b.e.t.Fatalf("link page: %d\n%.800s", p.status, p.body)
	}
	return b.submit(p, "kc-action-token-form", nil)
}

// The reset link opened in the browser whose login asked for it spends
// that login attempt: a store that cannot do so is a 503, not a silent
// switch to a flow outside the login.
func TestResetLinkAttemptUnspendableIs503(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	e, fs := newMailEnv(t, mp.Settings("idp@example.com"), nil)
	b := e.browser()
	if p := b.forgot("alice"); p.status != http.StatusOK {
		t.Fatalf("forgot: %d", p.status)
	}
	link := mp.Wait("alice@example.com", 1, 10*time.Second).ActionLink()
	if link == "" {
		t.Fatal("no link in the mail")
	}
	fs.attemptDown.Store(true)
	if p := b.followLink(link); !is503(p) {
		t.Fatalf("attempt unspendable: %d %s, Retry-After %q\n%.800s", p.status, p.resp.Header.Get("Location"),
			p.resp.Header.Get("Retry-After"), p.body)
	}
}

// A verification mail the mail server refused does not hold the resend
// button for the cooldown: once the server is back, "Click here to
// re-send" sends at once.
func TestVerifyEmailResendAfterFailedSend(t *testing.T) {
	ctx := t.Context()
	mp := mailtest.Start(t, mailtest.Options{})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := mp.Settings("idp@example.com")
	down["port"] = strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there: the mail server is down
	e, _ := newMailEnv(t, down, map[string]any{"verifyEmail": true})
	b := e.browser()
	login := b.authorize(nil)
	p := b.submit(login, "kc-form-login", map[string]string{"username": "carol", "password": "carol-pass-1"})
	if p.status != http.StatusSeeOther {
		t.Fatalf("login: %d\n%.800s", p.status, p.body)
	}
	p = b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	if p.status != http.StatusOK || p.byID("kc-verify-email-form") == nil || !strings.Contains(p.body, "Failed to send email") {
		t.Fatalf("verify email page with the server down: %d\n%.1500s", p.status, p.body)
	}

	// The mail server is back.
	realm, err := e.st.GetRealmByName(ctx, "reg")
	if err != nil {
		t.Fatal(err)
	}
	r, _, err := rep.DecodeRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	r.SMTPServer = mp.Settings("idp@example.com")
	if realm.Settings, err = json.Marshal(r); err != nil {
		t.Fatal(err)
	}
	if err := e.st.UpdateRealm(ctx, realm); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the realm cache follows its counters
	p = b.do(http.MethodGet, p.resp.Request.URL.String(), nil)
	p = b.submit(p, "kc-verify-email-form", map[string]string{"resend": "on"})
	if p.status != http.StatusSeeOther {
		t.Fatalf("resend: %d\n%.800s", p.status, p.body)
	}
	p = b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	if strings.Contains(p.body, "Failed to send email") {
		t.Fatalf("resend failed again:\n%.1500s", p.body)
	}
	mp.Wait("carol@example.com", 1, 10*time.Second)
}
