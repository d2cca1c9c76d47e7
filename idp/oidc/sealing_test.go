package oidc

import (
	"bytes"
	"crypto/x509"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

// With a database key, realm keys are stored sealed; the same key opens
// them in a new process, a wrong or missing one is refused with a clear
// error, and keys stored before the database key was set are refused until
// SealStoredKeys seals them.
func TestSealedKeys(t *testing.T) {
	ctx := t.Context()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "keys.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, id := range []string{"sealed", "plain"} {
		if err := st.CreateRealm(ctx, store.Realm{ID: id, Name: id, Enabled: true, Created: time.Now()}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := NewKeyring(st, "too-short"); err == nil {
		t.Error("a 9-character --db-key was accepted")
	}
	const secret = "correct horse battery staple"
	ring := func(secret string) *Keyring {
		t.Helper()
		k, err := NewKeyring(st, secret)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	first, err := ring(secret).get(ctx, "sealed", algES256)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := st.ListKeys(ctx, "sealed")
	if err != nil || len(rows) != 3 {
		t.Fatalf("keys: %d %v", len(rows), err)
	}
	for _, r := range rows {
		if !bytes.HasPrefix(r.Private, sealedMagic) {
			t.Errorf("%s key stored unsealed", r.Algorithm)
		}
		if _, err := x509.ParsePKCS8PrivateKey(r.Private); err == nil {
			t.Errorf("%s key parses as a private key as stored", r.Algorithm)
		}
		moved := r
		moved.ID = "another-kid" // a sealed key copied to another row does not open
		if _, err := unseal(ring(secret).seal, moved); !errors.Is(err, ErrWrongDBKey) {
			t.Errorf("%s key opened under another kid: %v", r.Algorithm, err)
		}
	}
	again, err := ring(secret).get(ctx, "sealed", algES256)
	if err != nil || !bytes.Equal(again.jwks, first.jwks) {
		t.Fatalf("reopened with the same key: %v (same JWKS %v)", err, err == nil && bytes.Equal(again.jwks, first.jwks))
	}
	if _, err := ring("a different secret, long enough").get(ctx, "sealed", ""); !errors.Is(err, ErrWrongDBKey) {
		t.Errorf("wrong key: %v", err)
	}
	if _, err := ring("").get(ctx, "sealed", ""); !errors.Is(err, ErrKeysSealed) {
		t.Errorf("no key: %v", err)
	}

	// Keys written without a database key are refused once one is set: a
	// plaintext row would otherwise stay a silent way around sealing.
	plain, err := ring("").get(ctx, "plain", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ring(secret).get(ctx, "plain", ""); !errors.Is(err, ErrKeyUnsealed) {
		t.Errorf("plaintext keys under a database key: %v, want ErrKeyUnsealed", err)
	}
	if err := CheckStoredKeys(ctx, st, secret); !errors.Is(err, ErrKeyUnsealed) || !strings.Contains(err.Error(), `realm "plain"`) {
		t.Errorf("start-up check: %v, want ErrKeyUnsealed naming realm plain", err)
	}
	if err := CheckStoredKeys(ctx, st, ""); !errors.Is(err, ErrKeysSealed) {
		t.Errorf("start-up check without a key: %v", err)
	}

	// Sealing with another key than the one already used changes nothing.
	if _, err := SealStoredKeys(ctx, st, "a different secret, long enough"); !errors.Is(err, ErrWrongDBKey) {
		t.Errorf("seal with another key: %v", err)
	}
	n, err := SealStoredKeys(ctx, st, secret)
	if err != nil || n != 2 {
		t.Fatalf("seal: %d keys, %v; want 2", n, err)
	}
	if n, err := SealStoredKeys(ctx, st, secret); err != nil || n != 0 {
		t.Errorf("seal again: %d keys, %v; want 0", n, err)
	}
	if err := CheckStoredKeys(ctx, st, secret); err != nil {
		t.Errorf("start-up check after sealing: %v", err)
	}
	if later, err := ring(secret).get(ctx, "plain", ""); err != nil || !bytes.Equal(later.jwks, plain.jwks) {
		t.Errorf("sealed keys: %v (same JWKS as before sealing: %v)", err, err == nil && bytes.Equal(later.jwks, plain.jwks))
	}
	if _, err := SealStoredKeys(ctx, st, ""); err == nil {
		t.Error("sealing without a key succeeded")
	}
}

// A component secret and an upstream token are sealed with the same
// --db-key for different purposes: each opens only its own, and without a
// --db-key both are kept (and read) as they are.
func TestSealerPurposes(t *testing.T) {
	k, err := NewKeyring(nil, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	const v = "eyJhbGciOiJSUzI1NiJ9.upstream.token"
	tok, err := k.UpstreamTokens().Seal(v)
	if err != nil || !IsSealedSecret(tok) || strings.Contains(tok, "upstream") {
		t.Fatalf("sealed upstream token %q, %v", tok, err)
	}
	if got, err := k.UpstreamTokens().Reveal(tok); err != nil || got != v {
		t.Errorf("upstream token revealed as %q, %v", got, err)
	}
	if got, err := k.Secrets().Reveal(tok); !errors.Is(err, ErrSecretSealed) {
		t.Errorf("an upstream token opened as a component secret: %q, %v", got, err)
	}
	sec, err := k.Secrets().Seal(v)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := k.UpstreamTokens().Reveal(sec); !errors.Is(err, ErrSecretSealed) {
		t.Errorf("a component secret opened as an upstream token: %q, %v", got, err)
	}
	other, err := NewKeyring(nil, "another db key, long enough")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.UpstreamTokens().Reveal(tok); !errors.Is(err, ErrSecretSealed) {
		t.Errorf("another --db-key opened it: %v", err)
	}
	plain, err := NewKeyring(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, err := plain.UpstreamTokens().Seal(v); err != nil || got != v {
		t.Errorf("without a --db-key: %q, %v", got, err)
	}
	if got, err := k.UpstreamTokens().Reveal(v); err != nil || got != v {
		t.Errorf("a token stored before the --db-key was set: %q, %v", got, err)
	}
	if _, err := plain.UpstreamTokens().Reveal(tok); !errors.Is(err, ErrSecretSealed) {
		t.Errorf("a sealed token without the --db-key: %v", err)
	}
}

// A value that cannot be opened says which kind it is, never its bytes.
func TestSealedErrorNamesItsKind(t *testing.T) {
	k, err := NewKeyring(nil, "correct horse battery staple")
	if err != nil {
		t.Fatal(err)
	}
	plain, _ := NewKeyring(nil, "")
	tok, _ := k.UpstreamTokens().Seal("upstream-secret-value")
	sec, _ := k.Secrets().Seal("bind-password-value")
	for _, c := range []struct {
		s    *SecretSealer
		v    string
		want string
	}{{plain.UpstreamTokens(), tok, "upstream token is encrypted in the database"}, {plain.Secrets(), sec, "component secret is encrypted in the database"}} {
		_, err := c.s.Reveal(c.v)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) || strings.Contains(err.Error(), "value") {
			t.Errorf("error %v, want it to start %q", err, c.want)
		}
	}
}
