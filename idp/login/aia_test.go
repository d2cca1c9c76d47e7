package login_test

import (
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Keycloak's application-initiated actions tell the app how the action
// ended: the redirect with the code carries kc_action_status (success,
// cancelled, error) and, when the action ran, kc_action naming it; Cancel
// still signs the user in.
func TestApplicationInitiatedActionStatus(t *testing.T) {
	e := newRegEnv(t, nil)
	b := e.browser()
	aia := url.Values{"kc_action": {"UPDATE_PASSWORD"}}
	// response returns the redirect to the app of p and its response
	// parameters (query, or fragment with response_mode=fragment).
	response := func(what string, p *page) url.Values {
		t.Helper()
		loc := p.resp.Header.Get("Location")
		if p.status/100 != 3 || !strings.HasPrefix(loc, regRedirect) {
			t.Fatalf("%s: %d %s, not a redirect to the app:\n%.800s", what, p.status, loc, p.body)
		}
		u, _ := url.Parse(loc)
		v := u.Query()
		if u.Fragment != "" {
			v, _ = url.ParseQuery(u.Fragment)
		}
		if v.Get("code") == "" || v.Get("state") != "st-1" {
			t.Fatalf("%s: no code and state in %s", what, loc)
		}
		return v
	}
	actionPage := func(what string, p *page) *page {
		t.Helper()
		if p.status != http.StatusSeeOther || !strings.Contains(p.resp.Header.Get("Location"), "execution=UPDATE_PASSWORD") {
			t.Fatalf("%s: %d %s, not the action's page:\n%.800s", what, p.status, p.resp.Header.Get("Location"), p.body)
		}
		return b.do(http.MethodGet, p.resp.Header.Get("Location"), nil)
	}

	// Cancelled, after the password form: signed in all the same.
	login := b.authorize(aia)
	page := actionPage("after the password", b.submit(login, "kc-form-login", map[string]string{"username": "alice", "password": "alice-pass-1"}))
	v := response("cancel", b.submit(page, "kc-passwd-update-form", map[string]string{"cancel-aia": "true"}))
	if v.Get("kc_action_status") != "cancelled" || v.Get("kc_action") != "UPDATE_PASSWORD" {
		t.Errorf("cancelled: kc_action_status %q, kc_action %q", v.Get("kc_action_status"), v.Get("kc_action"))
	}

	// Done, with the SSO session.
	page = actionPage("with SSO", b.authorize(aia))
	v = response("done", b.submit(page, "kc-passwd-update-form",
		map[string]string{"password-new": "Alice-Pass-2", "password-confirm": "Alice-Pass-2"}))
	if v.Get("kc_action_status") != "success" || v.Get("kc_action") != "UPDATE_PASSWORD" {
		t.Errorf("success: kc_action_status %q, kc_action %q", v.Get("kc_action_status"), v.Get("kc_action"))
	}

	// An action the realm cannot run: signed in, told error; in the
	// fragment when the response goes there.
	for _, mode := range []string{"", "fragment"} {
		q := url.Values{"kc_action": {"no-such-action"}}
		if mode != "" {
			q.Set("response_mode", mode)
		}
		p := b.authorize(q)
		v = response("unknown action "+mode, p)
		if v.Get("kc_action_status") != "error" || v.Has("kc_action") {
			t.Errorf("unknown action %s: %s", mode, p.resp.Header.Get("Location"))
		}
		if loc := p.resp.Header.Get("Location"); mode == "fragment" && strings.Contains(loc[:strings.IndexByte(loc+"#", '#')], "kc_action_status") {
			t.Errorf("fragment response has kc_action_status in its query: %s", loc)
		}
	}

	// form_post carries them as hidden fields of the auto-posted form.
	p := b.authorize(url.Values{"kc_action": {"no-such-action"}, "response_mode": {"form_post"}})
	if p.status != http.StatusOK || !strings.Contains(p.body, `name="code"`) {
		t.Fatalf("form_post: %d, no code field:\n%.800s", p.status, p.body)
	}
	if !strings.Contains(p.body, `name="kc_action_status" value="error"`) {
		t.Errorf("form_post without kc_action_status=error:\n%.1500s", p.body)
	}

	// No kc_action, no status.
	if v := response("plain", b.authorize(nil)); v.Has("kc_action_status") || v.Has("kc_action") {
		t.Errorf("plain login: %v", v)
	}
}
