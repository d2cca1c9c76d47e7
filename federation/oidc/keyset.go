package oidc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// How soon a provider's JWKS may be fetched again after a fetch: tokens
// that no key verifies in between are refused (or, after a failed fetch,
// answered unavailable) without asking the provider.
const (
	refetchAfterSuccess = 10 * time.Second
	refetchAfterFailure = 5 * time.Second
)

// keySet is the provider's JWKS (go-oidc's KeySet), fetched when a token
// is first verified and again when no cached key verifies one: key
// rotation. Unlike go-oidc's RemoteKeySet, which fetches for every such
// token, it fetches at most once per refetchAfterSuccess: the back-channel
// logout endpoint takes tokens from anyone, and each bad one would
// otherwise be a request to the IdP.
type keySet struct {
	url    string
	client *http.Client
	now    func() time.Time

	fetch   sync.Mutex // one fetch at a time; later callers use its result
	mu      sync.Mutex // guards the fields below
	keys    []jose.JSONWebKey
	fetched time.Time // when the last fetch ended
	lastErr error     // its error
}

func newKeySet(url string, client *http.Client, now func() time.Time) *keySet {
	return &keySet{url: url, client: client, now: now}
}

// VerifySignature implements go-oidc's KeySet.
func (k *keySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	jws, err := jose.ParseSigned(jwt, joseAlgs)
	if err != nil {
		return nil, fmt.Errorf("malformed jwt: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("a JWT has one signature")
	}
	kid := jws.Signatures[0].Header.KeyID
	k.mu.Lock()
	cached, fetched := k.keys, k.fetched
	k.mu.Unlock()
	if p, ok := verifyWith(jws, kid, cached); ok {
		return p, nil
	}
	keys, err := k.refresh(ctx, fetched)
	if err != nil {
		return nil, fmt.Errorf("fetching keys %w", err) // isFetchError's words, as go-oidc's
	}
	if p, ok := verifyWith(jws, kid, keys); ok {
		return p, nil
	}
	return nil, errors.New("failed to verify signature: no key of the provider verifies it")
}

// refresh fetches the JWKS unless a fetch ended after seen (another
// caller's, whose result is used) or too recently; it returns the keys
// and the last fetch's error.
func (k *keySet) refresh(ctx context.Context, seen time.Time) ([]jose.JSONWebKey, error) {
	k.fetch.Lock()
	defer k.fetch.Unlock()
	k.mu.Lock()
	keys, fetched, lastErr := k.keys, k.fetched, k.lastErr
	k.mu.Unlock()
	wait := refetchAfterSuccess
	if lastErr != nil {
		wait = refetchAfterFailure
	}
	if fetched.After(seen) || (!fetched.IsZero() && k.now().Sub(fetched) < wait) {
		return keys, lastErr
	}
	// Not the caller's cancellation: its hang-up would be remembered as
	// the provider's failure for refetchAfterFailure (the client's own
	// timeout still bounds the fetch).
	got, err := k.get(context.WithoutCancel(ctx))
	k.mu.Lock()
	defer k.mu.Unlock()
	k.fetched, k.lastErr = k.now(), err
	if err == nil {
		k.keys = got
	}
	return k.keys, err
}

func (k *keySet) get(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, k.url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := k.client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("the JWKS answered %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(resp.Body).Decode(&set); err != nil {
		return nil, fmt.Errorf("the JWKS: %w", err)
	}
	var keys []jose.JSONWebKey
	for _, key := range set.Keys {
		if key.Use == "" || key.Use == "sig" {
			keys = append(keys, key)
		}
	}
	return keys, nil
}

// verifyWith verifies jws with the keys of its kid (any key without one).
func verifyWith(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for _, key := range keys {
		if kid == "" || key.KeyID == kid {
			if p, err := jws.Verify(&key); err == nil {
				return p, true
			}
		}
	}
	return nil, false
}

// joseAlgs are idTokenAlgs as go-jose names them.
var joseAlgs = func() []jose.SignatureAlgorithm {
	out := make([]jose.SignatureAlgorithm, len(idTokenAlgs))
	for i, a := range idTokenAlgs {
		out[i] = jose.SignatureAlgorithm(a)
	}
	return out
}()
