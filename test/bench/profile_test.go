package main

import (
	"testing"
	"time"
)

// parseTraces counts a sample once whatever number of crypto frames its
// stack holds, and skips pprof's header.
func TestParseTraces(t *testing.T) {
	out := []byte(`File: keygate
Type: cpu
Duration: 15s, Total samples = 60ms (0.4%)
-----------+-------------------------------------------------------
      20ms   crypto/internal/fips140/bigmod.addMulVVW1024
             crypto/internal/fips140/rsa.SignPKCS1v15
             crypto/rsa.SignPKCS1v15
             net/http.(*conn).serve
-----------+-------------------------------------------------------
      10ms   crypto/sha256.block
             github.com/keygate/keygate/idp/password.pbkdf2Chained
             github.com/keygate/keygate/idp/password.pbkdf2Key
-----------+-------------------------------------------------------
      30ms   github.com/keygate/keygate/store/sqlstore.get[go.shape.struct { Token store.Token }]
             net/http.(*conn).serve
-----------+-------------------------------------------------------
`)
	p := parseTraces(out)
	if p.err != nil || p.total != 60*time.Millisecond || p.crypto != 30*time.Millisecond {
		t.Fatalf("got crypto %v of %v (%v), want 30ms of 60ms", p.crypto, p.total, p.err)
	}
	if s := p.share(); s != 0.5 {
		t.Errorf("share %v, want 0.5", s)
	}
	// The store sample is the store's, though net/http is on its stack too.
	if want := [len(p.parts)]time.Duration{0: 30 * time.Millisecond}; p.parts != want {
		t.Errorf("parts %v, want %v", p.parts, want)
	}
	if got, want := p.breakdown(6*time.Millisecond), "store 3.000 ms, JSON 0.000 ms, token handling 0.000 ms, HTTP server 0.000 ms, runtime and other 0.000 ms"; got != want {
		t.Errorf("breakdown %q, want %q", got, want)
	}
	if p := parseTraces([]byte("File: keygate\n")); p.err == nil {
		t.Error("an empty profile gave no error")
	}
}
