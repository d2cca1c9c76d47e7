package oidc

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keygate/keygate/store"
)

// compact makes what go-jose makes: byte for byte for HS512 and RS256
// (both deterministic), and an ES256 signature go-jose verifies. Every
// token also passes keygate's own verification.
func TestCompactMatchesJOSE(t *testing.T) {
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(ec)
	keys := append(testKeys(t, time.Now()), store.Key{ID: "ec-kid", Algorithm: algES256, Use: "sig", Active: true, Private: der, Created: time.Now()})
	rk, err := buildRealmKeys(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	claims := map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "sub": "u", "name": "Zoë <&>", "aud": []string{"a", "b"}}
	payload, err := jsonMarshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	for _, sk := range []*signingKey{rk.hmac, rk.active, rk.es256} {
		t.Run(sk.alg, func(t *testing.T) {
			tok, _, err := sign(sk, claims)
			if err != nil {
				t.Fatal(err)
			}
			want := algAsym
			if sk.alg == algHS512 {
				want = algHS512
			}
			if _, err := verify(rk, tok, want, time.Now()); err != nil {
				t.Fatalf("keygate refuses its own token: %v", err)
			}
			obj, err := jose.ParseSigned(tok, verifyAlgs)
			if err != nil {
				t.Fatal(err)
			}
			got, err := obj.Verify(sk.verifier())
			if err != nil || string(got) != string(payload) {
				t.Fatalf("go-jose: %v, payload %q, want %q", err, got, payload)
			}
			if h := obj.Signatures[0].Header; h.KeyID != sk.kid || h.Algorithm != sk.alg || h.ExtraHeaders["typ"] != "JWT" {
				t.Fatalf("header %+v", h)
			}
			if sk.alg == algES256 {
				return // ECDSA signatures are randomized
			}
			signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.SignatureAlgorithm(sk.alg), Key: sk.key},
				(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", sk.kid))
			if err != nil {
				t.Fatal(err)
			}
			jo, err := signer.Sign(payload)
			if err != nil {
				t.Fatal(err)
			}
			if ref, _ := jo.CompactSerialize(); ref != tok {
				t.Fatalf("token\n%s\ngo-jose makes\n%s", tok, ref)
			}
		})
	}
}

// headerSegment writes what go-jose's signer wrote for the same key, for
// kids that need escaping too, so tokens issued by earlier versions keep
// matching verifiedHS512's header lookup.
func TestHeaderSegmentMatchesJOSE(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")
	for _, kid := range []string{"8f14e45f-ceea-467f-a0f3-5c27b1e6b1f2", "kX9_-a1", `q"uote\\`, "<&>", "zoë ✓", "\u2028\x01"} {
		signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS512, Key: secret},
			(&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", kid))
		if err != nil {
			t.Fatal(err)
		}
		obj, err := signer.Sign([]byte("{}"))
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := obj.CompactSerialize()
		want, _, _ := strings.Cut(tok, ".")
		got, err := headerSegment(algHS512, kid)
		if err != nil || got != want {
			t.Errorf("kid %q: header %q (%v), go-jose writes %q", kid, got, err, want)
		}
	}
}
