//go:build e2e

package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/mail/mailtest"
)

// TestE2EEmail drives Debian's Chromium (playwright-core) through the mail
// flows against the real binary and a real SMTP server (Mailpit, built by
// make e2e into bin/, read through its API): "Forgot Password?" to a mail
// whose link works once and ends at the app with a code, VERIFY_EMAIL,
// and a realm whose mail server is down. Every new page is photographed
// at phone and desktop sizes.
func TestE2EEmail(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	mp := mailtest.Start(t, mailtest.Options{})

	// The app: its callback page says what it got.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /cb", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, `<!doctype html><p id="status">code:%t</p>`, r.URL.Query().Get("code") != "")
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	smtp := mp.Settings("idp@example.com")
	smtp["fromDisplayName"] = "Acme Observability"
	realm := func(name string, smtp map[string]string) string {
		r := map[string]any{
			"realm": name, "enabled": true, "displayName": "Acme Observability", "sslRequired": "none",
			"resetPasswordAllowed": true, "verifyEmail": true, "smtpServer": smtp,
			"clients": []map[string]any{{"clientId": "app", "publicClient": true, "redirectUris": []string{app + "/cb"}}},
			"users": []map[string]any{
				{"username": "eve", "enabled": true, "email": "eve@example.com", "emailVerified": true,
					"credentials": []map[string]any{{"type": "password", "value": "eve-old-pass-1"}}},
				{"username": "vera", "enabled": true, "email": "vera@example.com", "emailVerified": false,
					"credentials": []map[string]any{{"type": "password", "value": "vera-pass-1"}}},
			},
		}
		data, _ := json.Marshal(r)
		file := filepath.Join(t.TempDir(), name+".json")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		return file
	}
	downSMTP := map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(mailtest.FreePort(t)), "from": "idp@example.com"}
	s := startServer(t, "", nil, "--import-realm", realm("mail", smtp), "--import-realm", realm("nomail", downSMTP))
	auth := func(realm string) string {
		return s.URL + "/realms/" + realm + "/protocol/openid-connect/auth?" + url.Values{"client_id": {"app"},
			"redirect_uri": {app + "/cb"}, "response_type": {"code"}, "scope": {"openid"}, "state": {"s1"},
			// PKCE, as public clients must (RFC 7636's example challenge).
			"code_challenge_method": {"S256"}, "code_challenge": {"E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"}}.Encode()
	}
	runNode(t, "email.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app, "MAILPIT_API="+mp.API,
		"AUTH_URL="+auth("mail"), "AUTH_URL_DOWN="+auth("nomail"))
	logs := s.logs.String()
	if strings.Contains(logs, "action-token?key=") || strings.Contains(logs, "eve-new-pass-2") {
		t.Error("the server log holds a mailed link or a password")
	}
	if !strings.Contains(logs, "failed to send email") {
		t.Error("no log line for the administrator when the mail server is down")
	}
}
