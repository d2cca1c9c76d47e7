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

// TestE2EI18n drives Chromium through self-registration (a refused
// attempt, then one that signs the new user in and sends the client its
// code) and a language switch on the login page (German via the language
// menu, sticky for the next login). Screenshots of the register page and
// the German login page at phone and desktop sizes go to test/out/i18n.
func TestE2EI18n(t *testing.T) {
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
		"realm": "i18n", "enabled": true, "displayName": "Acme Observability",
		"registrationAllowed": true, "passwordPolicy": "length(10) and digits(1)",
		"internationalizationEnabled": true, "supportedLocales": []string{"en", "de", "fr", "nl", "es"}, "defaultLocale": "en",
		"clients": []map[string]any{{"clientId": "i18napp", "name": "StackState", "publicClient": true,
			"redirectUris": []string{app + "/*"}}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "i18n-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	runNode(t, "i18n.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
	if strings.Contains(s.logs.String(), "nina-pass") {
		t.Error("the server log contains the password")
	}
}
