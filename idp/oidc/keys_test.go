package oidc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// The JWKS carries each RSA key's self-signed certificate as Keycloak does
// (x5c, x5t, x5t#S256), derived from the key: the same on every rebuild.
func TestJWKSCertificates(t *testing.T) {
	created := time.UnixMilli(1714979289123)
	keys := testKeys(t, created)
	kid := keys[0].ID
	parsed, err := x509.ParsePKCS8PrivateKey(keys[0].Private)
	if err != nil {
		t.Fatal(err)
	}
	pk := parsed.(*rsa.PrivateKey)
	var jwks [2][]byte
	for i := range jwks {
		rk, err := buildRealmKeys(keys, nil)
		if err != nil {
			t.Fatal(err)
		}
		jwks[i] = rk.jwks
	}
	if !bytes.Equal(jwks[0], jwks[1]) {
		t.Fatal("the JWKS changed between two builds from the same key")
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(jwks[0], &set); err != nil || len(set.Keys) != 1 {
		t.Fatalf("jwks %s: %v", jwks[0], err)
	}
	k := set.Keys[0]
	x5c, _ := k["x5c"].([]any)
	if len(x5c) != 1 {
		t.Fatalf("x5c %v", k["x5c"])
	}
	raw, err := base64.StdEncoding.DecodeString(x5c[0].(string))
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.PublicKey.Equal(cert.PublicKey) {
		t.Error("x5c certificate holds another key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("not self-signed by the key: %v", err)
	}
	if !cert.NotBefore.Equal(created.Truncate(time.Second)) || cert.NotAfter.Sub(cert.NotBefore) < 3650*24*time.Hour {
		t.Errorf("validity %v .. %v", cert.NotBefore, cert.NotAfter)
	}
	s1, s256 := sha1.Sum(raw), sha256.Sum256(raw)
	if k["x5t"] != base64.RawURLEncoding.EncodeToString(s1[:]) || k["x5t#S256"] != base64.RawURLEncoding.EncodeToString(s256[:]) {
		t.Errorf("thumbprints x5t=%v x5t#S256=%v", k["x5t"], k["x5t#S256"])
	}
	if k["kid"] != kid || k["alg"] != "RS256" || k["use"] != "sig" || k["kty"] != "RSA" {
		t.Errorf("jwk %v", k)
	}
}

// An ES256 key's certificate is derived too, deterministically (RFC 6979),
// so rebuilding the keys (each replica, each reload) publishes the same x5c.
func TestJWKSCertificateEC(t *testing.T) {
	pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(pk)
	kid, _ := rsaKID(&pk.PublicKey)
	created := time.UnixMilli(1714979289123)
	keys := append([]store.Key{{ID: kid, Algorithm: algES256, Use: "sig", Active: true, Private: der, Created: created}},
		testKeys(t, created)...)
	rsaID := keys[1].ID
	a, err := buildRealmKeys(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	b, err := buildRealmKeys(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a.jwks, b.jwks) {
		t.Fatal("the JWKS changed between two builds from the same keys")
	}
	// A reload reuses the certificates it already derived.
	c, err := buildRealmKeys(keys, a)
	if err != nil || c.byKID[kid].cert != a.byKID[kid].cert || c.byKID[rsaID].cert != a.byKID[rsaID].cert || !bytes.Equal(c.jwks, a.jwks) {
		t.Errorf("a rebuild from the previous keys derived its certificates again (%v)", err)
	}
	var set struct {
		Keys []map[string]any `json:"keys"`
	}
	_ = json.Unmarshal(a.jwks, &set)
	if len(set.Keys) != 2 || set.Keys[0]["alg"] != "RS256" || set.Keys[1]["alg"] != "ES256" {
		t.Fatalf("keys %v", set.Keys)
	}
	raw, _ := base64.StdEncoding.DecodeString(set.Keys[1]["x5c"].([]any)[0].(string))
	cert, err := x509.ParseCertificate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if !pk.PublicKey.Equal(cert.PublicKey) || cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("EC certificate: key matches %v, algorithm %v", pk.PublicKey.Equal(cert.PublicKey), cert.SignatureAlgorithm)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("EC certificate not self-signed by its key: %v", err)
	}
}

// testKeys is a realm's key rows: a new active RS256 key and an HS512 one.
func testKeys(t testing.TB, created time.Time) []store.Key {
	t.Helper()
	pk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(pk)
	if err != nil {
		t.Fatal(err)
	}
	kid, _ := rsaKID(&pk.PublicKey)
	return []store.Key{
		{ID: kid, Algorithm: algRS256, Use: "sig", Active: true, Private: der, Created: created},
		{ID: "h", Algorithm: algHS512, Use: "sig", Active: true, Private: bytes.Repeat([]byte{7}, 64), Created: created},
	}
}
