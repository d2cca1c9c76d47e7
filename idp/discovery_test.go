package idp_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// TestDiscoveryDocumentKeptPerIssuer: the discovery document is encoded
// once per realm and issuer, yet each Host still gets its own issuer (more
// of them than are kept), and a new client scope shows up at once: the
// kept documents go with the realm's model when its scopes change.
func TestDiscoveryDocumentKeptPerIssuer(t *testing.T) {
	k, _, admin := newEventsKeygate(t)
	get := func(host string) map[string]any {
		t.Helper()
		req, _ := http.NewRequestWithContext(t.Context(), http.MethodGet, k.URL+"/realms/down/.well-known/openid-configuration", nil)
		req.Host = host
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var doc map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil || resp.StatusCode != 200 {
			t.Fatalf("discovery for %s: %d %v", host, resp.StatusCode, err)
		}
		return doc
	}
	for round := range 2 { // the second round answers from what the first kept
		for i := range 12 {
			host := fmt.Sprintf("host%d.example:8080", i)
			if iss := get(host)["issuer"]; iss != "http://"+host+"/realms/down" {
				t.Fatalf("round %d, Host %s: issuer %v", round, host, iss)
			}
		}
	}
	scopes := func() []string {
		var out []string
		for _, s := range get("host0.example:8080")["scopes_supported"].([]any) {
			out = append(out, s.(string))
		}
		return out
	}
	if slices.Contains(scopes(), "extra-scope") {
		t.Fatal("extra-scope listed before it exists")
	}
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, k.URL+"/admin/realms/down/client-scopes",
		strings.NewReader(`{"name": "extra-scope", "protocol": "openid-connect"}`))
	req.Header.Set("Authorization", "Bearer "+admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create client scope: %v %v", resp, err)
	}
	resp.Body.Close()
	// Judged by when each discovery request was made: a loaded machine
	// can take long to answer one that was made in time.
	deadline := time.Now().Add(time.Second)
	for asked := time.Now(); !slices.Contains(scopes(), "extra-scope"); asked = time.Now() {
		if asked.After(deadline) {
			t.Fatalf("a new client scope is missing from discovery after 1 s: %v", scopes())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
