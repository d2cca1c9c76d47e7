package oidc_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/keygate/keygate/idp/rep"
)

// A preflight without client_id is allowed for an origin that some client
// of the realm may use; answering it must not cost a pass over every
// client's redirect URIs, which anyone could ask for with any Origin.
func TestPreflightOriginsCostFlat(t *testing.T) {
	ctx := t.Context()
	st, srv, master := bootstrapped(t)
	yes, no := true, false
	add := func(c rep.Client) {
		t.Helper()
		if _, _, err := rep.CreateClient(ctx, st, master, &c); err != nil {
			t.Fatal(err)
		}
	}
	add(rep.Client{ClientID: "plus", PublicClient: &yes, RedirectURIs: []string{"https://spa.example.com:8443/app/*"}, WebOrigins: []string{"+"}})
	add(rep.Client{ClientID: "exact", PublicClient: &yes, RedirectURIs: []string{"https://x.example.com/*"}, WebOrigins: []string{"https://exact.example.com/"}})
	add(rep.Client{ClientID: "off", Enabled: &no, PublicClient: &yes, RedirectURIs: []string{"https://off.example.com/*"}, WebOrigins: []string{"+"}})
	add(rep.Client{ClientID: "bearer", BearerOnly: &yes, WebOrigins: []string{"https://bearer.example.com"}})
	srv.SetReady()
	h := srv.Handler()
	preflight := func(origin string) bool {
		req := httptest.NewRequest(http.MethodOptions, "/realms/master/protocol/openid-connect/token", nil)
		req.RemoteAddr = "127.0.0.1:4711"
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Header().Get("Access-Control-Allow-Origin") == origin
	}
	for origin, want := range map[string]bool{
		"https://spa.example.com:8443": true, "https://SPA.example.com:8443": true, "https://spa.example.com": false,
		"https://exact.example.com": true, "https://exact.example.com:443": true, "http://exact.example.com": false,
		"https://off.example.com": false, "https://bearer.example.com": false, "https://evil.example": false, "null": false,
	} {
		if got := preflight(origin); got != want {
			t.Errorf("preflight from %s allowed %v, want %v", origin, got, want)
		}
	}
	allocs := func() float64 {
		return testing.AllocsPerRun(20, func() { preflight("https://evil.example") })
	}
	few := allocs()
	for i := range 300 {
		var uris []string
		for j := range 5 {
			uris = append(uris, fmt.Sprintf("https://app%d-%d.example.com/*", i, j))
		}
		add(rep.Client{ClientID: fmt.Sprintf("app%d", i), PublicClient: &yes, RedirectURIs: uris, WebOrigins: []string{"+"}})
	}
	preflight("https://evil.example") // the new model is loaded once
	if many := allocs(); many > few+50 {
		t.Errorf("a refused preflight: %.0f allocations with a handful of clients, %.0f with 300 more", few, many)
	}
	if !preflight("https://app299-4.example.com") || !preflight("https://spa.example.com:8443") {
		t.Error("origins of the new clients refused")
	}
}
