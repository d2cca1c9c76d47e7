package main

import (
	"context"
	"fmt"
	"html"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptrace"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// --- account console ---

// targetPageTTFB bounds the time to the first byte of the login page and
// the account console's page, at the median.
const targetPageTTFB = 5 * time.Millisecond

var (
	loginActionRE = regexp.MustCompile(`id="kc-form-login"[^>]*action="([^"]+)"`)
	csrfRE        = regexp.MustCompile(`name="csrf_token" value="([^"]*)"`)
)

// accountLoad measures the time to the first byte of the account
// console's personal info page for a signed-in browser: each worker signs
// in once through the console's own login (account-console, PKCE) and
// keeps its SSO cookie.
func accountLoad(conc int) load {
	return load{name: "account page TTFB", conc: conc, newOp: func(ctx context.Context, t *target, c *http.Client) (op, error) {
		jar, err := cookiejar.New(nil)
		if err != nil {
			return nil, err
		}
		b := &http.Client{Transport: c.Transport, Jar: jar, Timeout: c.Timeout, CheckRedirect: c.CheckRedirect}
		page := t.realm + "/account/"
		if err := consoleSignIn(ctx, t, b, page, userCount); err != nil {
			return nil, err
		}
		return func(ctx context.Context) outcome {
			var first time.Time
			trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, page, nil)
			if err != nil {
				return outcome{err: err}
			}
			t0 := time.Now()
			o, body := do(b, req)
			if !first.IsZero() {
				o.latency = first.Sub(t0)
			}
			if o.err == nil && o.status == http.StatusOK && !strings.Contains(string(body), `id="kc-account-form"`) {
				o.err = fmt.Errorf("GET %s: 200 without the personal info form", page)
			}
			return o
		}, nil
	}}
}

// consoleUser is the one user of the bench realm with the account
// console's roles (Keycloak's default roles give them to every user; the
// other users go without, so the grants' tokens keep their size). It is
// user number userCount, outside the grants' pool.
func consoleUser() (map[string]any, error) {
	u, err := benchUser(userCount)
	if err != nil {
		return nil, err
	}
	u["clientRoles"] = map[string][]string{"account": {"manage-account", "view-profile"}}
	return u, nil
}

// consoleSignIn follows the console without a session through the realm's
// login form as user i and back.
func consoleSignIn(ctx context.Context, t *target, b *http.Client, page string, i int) error {
	get := func(u string) (outcome, []byte, string, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
		if err != nil {
			return outcome{}, nil, "", err
		}
		resp, err := b.Do(req)
		if err != nil {
			return outcome{}, nil, "", err
		}
		resp.Body.Close()
		return outcome{status: resp.StatusCode}, nil, resp.Header.Get("Location"), nil
	}
	abs := func(loc string) string {
		u, err := url.Parse(t.base)
		if err != nil {
			return loc
		}
		r, err := u.Parse(loc)
		if err != nil {
			return loc
		}
		return r.String()
	}
	o, _, loc, err := get(page)
	if err != nil || o.status != http.StatusFound {
		return fmt.Errorf("account console without a session: %d %v", o.status, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, abs(loc), nil)
	if err != nil {
		return err
	}
	lo, form := do(b, req)
	m, c := loginActionRE.FindSubmatch(form), csrfRE.FindSubmatch(form)
	if lo.status != http.StatusOK || m == nil || c == nil {
		return fmt.Errorf("login page: %d", lo.status)
	}
	vals := url.Values{"username": {userName(i)}, "password": {userPassword(i)}, "csrf_token": {html.UnescapeString(string(c[1]))}}
	post, err := http.NewRequestWithContext(ctx, http.MethodPost, abs(html.UnescapeString(string(m[1]))), strings.NewReader(vals.Encode()))
	if err != nil {
		return err
	}
	post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := b.Do(post)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound && resp.StatusCode != http.StatusSeeOther {
		return fmt.Errorf("login: %d", resp.StatusCode)
	}
	o, _, loc, err = get(abs(resp.Header.Get("Location")))
	if err != nil || o.status != http.StatusFound {
		return fmt.Errorf("console login redirect: %d %v", o.status, err)
	}
	o, _, _, err = get(abs(loc))
	if err != nil || o.status != http.StatusOK {
		return fmt.Errorf("console after login: %d %v (a user without view-profile?)", o.status, err)
	}
	return nil
}
