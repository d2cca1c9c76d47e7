//go:build e2e

package test

import (
	"encoding/json"
	"html"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
)

// TestE2EFormPost drives Debian's Chromium (playwright-core) through
// response_mode=form_post: with JavaScript the page's one inline script
// (allowed by its CSP hash) posts the response to the client; without
// JavaScript the Continue button does. The client here is a Go handler that
// shows what it received.
func TestE2EFormPost(t *testing.T) {
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (.ci/run installs it)")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /cb", func(w http.ResponseWriter, r *http.Request) {
		if err := r.ParseForm(); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		got, _ := json.Marshal(r.PostForm)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_, _ = w.Write([]byte(`<!doctype html><title>cb</title><pre id="got">` + html.EscapeString(string(got)) + `</pre>`))
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })

	realm := map[string]any{
		"realm": "formpost", "enabled": true,
		"clients": []map[string]any{{"clientId": "fp", "secret": "fp-secret", "standardFlowEnabled": true, "redirectUris": []string{app + "/cb"}}},
		"users": []map[string]any{{"username": "eve", "enabled": true,
			"credentials": []map[string]any{{"type": "password", "value": "eve-pass"}}}},
	}
	data, _ := json.Marshal(realm)
	file := filepath.Join(t.TempDir(), "formpost-realm.json")
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "", nil, "--import-realm", file)
	runNode(t, "formpost.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app)
}
