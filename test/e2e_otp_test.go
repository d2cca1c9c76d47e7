//go:build e2e

package test

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestE2EOTP drives Chromium through CONFIGURE_TOTP and the OTP form: a
// user with the required action sets up a device from the key the page
// shows (codes made in the test, never by keygate), is sent to the client
// with a code, logs out, and logs in again with password and a code
// (a wrong one first). Screenshots of both pages at phone and desktop
// sizes go to test/out/otp.
func TestE2EOTP(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		_, _ = w.Write([]byte("callback"))
	})}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	realm := map[string]any{
		"realm": "otp", "enabled": true, "displayName": "Acme Observability",
		"bruteForceProtected": true, "failureFactor": 10,
		"clients": []map[string]any{{"clientId": "otpapp", "publicClient": true, "redirectUris": []string{app + "/*"},
			"attributes": map[string]string{"post.logout.redirect.uris": "+"}}},
		"users": []map[string]any{{
			"username": "tom", "enabled": true, "email": "tom@example.com", "firstName": "Tom", "lastName": "Otp",
			"credentials":     []map[string]any{{"type": "password", "value": "tom-pass"}},
			"requiredActions": []string{"CONFIGURE_TOTP"},
		}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "otp-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", []string{"KEYGATE_DB_KEY=e2e-otp-database-key-0123"}, "--import-realm", file)
	runNode(t, "otp.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
	if strings.Contains(s.logs.String(), "tom-pass") {
		t.Error("the server log contains the password")
	}
}
