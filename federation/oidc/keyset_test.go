package oidc

import (
	"context"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// The provider's keys are fetched when a token needs them, again for a
// rotated key, and never more than once per refetchAfterSuccess however
// many tokens no key verifies (the logout endpoint takes tokens from
// anyone); a failed fetch is reported as such until the next one may run.
func TestKeySetFetchesSparingly(t *testing.T) {
	keyA, keyB, stranger := testRSA(t, 0), testRSA(t, 1), testRSA(t, 2)
	var fetches atomic.Int32
	var mu sync.Mutex
	published, status := []*rsa.PrivateKey{keyA}, 200
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fetches.Add(1)
		mu.Lock()
		defer mu.Unlock()
		if status != 200 {
			w.WriteHeader(status)
			return
		}
		var set jose.JSONWebKeySet
		for i, k := range published {
			set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: []string{"a", "b"}[i], Algorithm: "RS256", Use: "sig"})
		}
		_ = json.NewEncoder(w).Encode(set)
	}))
	t.Cleanup(srv.Close)
	clock := time.Now()
	ks := newKeySet(srv.URL, srv.Client(), func() time.Time { return clock })
	sign := func(kid string, key *rsa.PrivateKey) string {
		tok, err := signJWT(map[string]any{"alg": "RS256", "kid": kid}, map[string]any{"sub": "x"}, func(in []byte) ([]byte, error) { return keySign("RS256", key, in) })
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	ctx := context.Background()
	verify := func(tok string) error { _, err := ks.VerifySignature(ctx, tok); return err }

	if err := verify(sign("a", keyA)); err != nil || fetches.Load() != 1 {
		t.Fatalf("first token: %v after %d fetches, want verified after 1", err, fetches.Load())
	}
	for range 20 {
		if verify(sign("a", stranger)) == nil || verify(sign("zz", stranger)) == nil {
			t.Fatal("a token no published key signed verified")
		}
	}
	if err := verify(sign("a", keyA)); err != nil || fetches.Load() != 1 {
		t.Fatalf("after 40 bad tokens: %v, %d fetches; want the cached key and no fetch", err, fetches.Load())
	}
	// Rotation: a new key is fetched for its first token once the window
	// since the last fetch has passed.
	mu.Lock()
	published = []*rsa.PrivateKey{keyA, keyB}
	mu.Unlock()
	clock = clock.Add(refetchAfterSuccess + time.Second)
	if err := verify(sign("b", keyB)); err != nil || fetches.Load() != 2 {
		t.Fatalf("rotated key: %v after %d fetches, want verified after 2", err, fetches.Load())
	}
	// A failed fetch says so (unavailable), and is not retried at once.
	mu.Lock()
	status = 500
	mu.Unlock()
	clock = clock.Add(refetchAfterSuccess + time.Second)
	for range 5 {
		if err := verify(sign("c", stranger)); err == nil || !isFetchError(err) {
			t.Fatalf("JWKS 500: %v, want a fetch error", err)
		}
	}
	if fetches.Load() != 3 {
		t.Errorf("%d fetches after five tokens while the JWKS fails, want 3", fetches.Load())
	}
	if err := verify(sign("a", keyA)); err != nil {
		t.Errorf("a cached key while the JWKS fails: %v", err)
	}
	mu.Lock()
	status = 200
	mu.Unlock()
	clock = clock.Add(refetchAfterFailure + time.Second)
	if err := verify(sign("b", keyB)); err != nil {
		t.Errorf("after the JWKS is back: %v", err)
	}
	// A cancelled verification does not cancel the fetch it started.
	clock = clock.Add(refetchAfterSuccess + time.Second)
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	_, _ = ks.VerifySignature(cctx, sign("zz", stranger))
	ks.mu.Lock()
	defer ks.mu.Unlock()
	if ks.lastErr != nil {
		t.Errorf("a hung-up caller's fetch: %v", ks.lastErr)
	}
}
