package oidc

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"github.com/keygate/keygate/store"
)

// Realm signing keys are sealed at rest with AES-256-GCM when the server is
// given a database key (--db-key): a copy of the database (a backup, a
// replica's disk) then does not hold the keys that sign tokens. The AEAD key
// is derived from the --db-key secret with HKDF-SHA256, and each key row is
// bound to its realm, kid and algorithm as additional data, so a sealed key
// cannot be moved to another row. Once a database key is set, every row must
// be sealed: a row stored in the clear (written before the key was set, or by
// a replica started without it) is refused rather than used, and
// SealStoredKeys (`keygate keys seal`) seals such rows in place.

// sealedMagic starts a sealed private key: magic, 12-byte nonce, ciphertext.
var sealedMagic = []byte("KGS1")

var (
	// ErrKeysSealed: the database holds sealed keys and no --db-key was given.
	ErrKeysSealed = errors.New("realm signing keys are encrypted in the database: start with the --db-key they were sealed with")
	// ErrWrongDBKey: the --db-key given does not open the sealed keys.
	ErrWrongDBKey = errors.New("realm signing keys do not decrypt with this --db-key")
	// ErrKeyUnsealed: a --db-key is given but a key row is stored in the clear.
	ErrKeyUnsealed = errors.New(`stored unencrypted although --db-key is set: seal the stored keys with "keygate keys seal" (same --db and --db-key), then start again`)
)

// MinDBKeyLen is the shortest --db-key accepted.
const MinDBKeyLen = 16

func newSealer(secret string) (cipher.AEAD, error) {
	if secret == "" {
		return nil, nil
	}
	if len(secret) < MinDBKeyLen {
		return nil, fmt.Errorf("--db-key must be at least %d characters", MinDBKeyLen)
	}
	key, err := hkdf.Key(sha256.New, []byte(secret), nil, "keygate realm keys v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func keyAAD(k store.Key) []byte {
	return []byte(k.RealmID + "\x00" + k.ID + "\x00" + k.Algorithm)
}

// seal returns k's private part sealed, or as it is without a sealer.
func seal(aead cipher.AEAD, k store.Key) ([]byte, error) {
	if aead == nil {
		return k.Private, nil
	}
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	out := append(append(bytes.Clone(sealedMagic), nonce...), aead.Seal(nil, nonce, k.Private, keyAAD(k))...)
	return out, nil
}

// unseal returns k's private part in the clear.
func unseal(aead cipher.AEAD, k store.Key) ([]byte, error) {
	if !bytes.HasPrefix(k.Private, sealedMagic) {
		if aead != nil {
			return nil, ErrKeyUnsealed
		}
		return k.Private, nil // no database key: keys are stored as they are
	}
	if aead == nil {
		return nil, ErrKeysSealed
	}
	rest := k.Private[len(sealedMagic):]
	if len(rest) < aead.NonceSize() {
		return nil, ErrWrongDBKey
	}
	plain, err := aead.Open(nil, rest[:aead.NonceSize()], rest[aead.NonceSize():], keyAAD(k))
	if err != nil {
		return nil, ErrWrongDBKey
	}
	return plain, nil
}

// keyRows is what the start-up check reads: every realm's key rows.
type keyRows interface {
	ListRealms(ctx context.Context) ([]store.Realm, error)
	ListKeys(ctx context.Context, realmID string) ([]store.Key, error)
}

// CheckStoredKeys opens every stored realm key with dbKey ("" = none), so a
// missing or wrong --db-key, or a key row left unsealed under one, stops the
// server at start with an error naming the realm and key instead of failing
// that realm's logins later.
func CheckStoredKeys(ctx context.Context, st keyRows, dbKey string) error {
	aead, err := newSealer(dbKey)
	if err != nil {
		return err
	}
	return eachKey(ctx, st, func(r store.Realm, k store.Key) error {
		if _, err := unseal(aead, k); err != nil {
			return fmt.Errorf("realm %q key %s (%s): %w", r.Name, k.ID, k.Algorithm, err)
		}
		return nil
	})
}

// KeySealer is the store `keygate keys seal` works on.
type KeySealer interface {
	keyRows
	Tx(ctx context.Context, fn func(ctx context.Context) error) error
	// ReplaceKeyPrivate swaps a key's stored private part if it still holds old.
	ReplaceKeyPrivate(ctx context.Context, realmID, id string, old, updated []byte) error
}

// SealStoredKeys seals, with dbKey, every realm key stored in the clear, in
// one transaction, and returns how many it sealed. Keys already sealed must
// open with dbKey, so one database never holds keys under two secrets; on
// any error nothing is written.
func SealStoredKeys(ctx context.Context, st KeySealer, dbKey string) (int, error) {
	if dbKey == "" {
		return 0, errors.New("keys seal needs --db-key (or KEYGATE_DB_KEY)")
	}
	aead, err := newSealer(dbKey)
	if err != nil {
		return 0, err
	}
	n := 0
	err = st.Tx(ctx, func(ctx context.Context) error {
		return eachKey(ctx, st, func(r store.Realm, k store.Key) error {
			if bytes.HasPrefix(k.Private, sealedMagic) {
				if _, err := unseal(aead, k); err != nil {
					return fmt.Errorf("realm %q key %s (%s): %w", r.Name, k.ID, k.Algorithm, err)
				}
				return nil
			}
			sealed, err := seal(aead, k)
			if err != nil {
				return err
			}
			if err := st.ReplaceKeyPrivate(ctx, k.RealmID, k.ID, k.Private, sealed); err != nil {
				return fmt.Errorf("realm %q key %s (%s): %w", r.Name, k.ID, k.Algorithm, err)
			}
			n++
			return nil
		})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

func eachKey(ctx context.Context, st keyRows, fn func(store.Realm, store.Key) error) error {
	realms, err := st.ListRealms(ctx)
	if err != nil {
		return err
	}
	for _, r := range realms {
		keys, err := st.ListKeys(ctx, r.ID)
		if err != nil {
			return err
		}
		for _, k := range keys {
			if err := fn(r, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// Secret config values of components (an LDAP provider's bindCredential)
// are sealed with the same --db-key, under a text prefix so that a value
// stored before the key was set, or imported by a command without it,
// still reads as it is. Unlike signing keys such clear values are not
// refused: an admin re-entering the secret seals it.

// sealedSecretPrefix starts a sealed component secret: the prefix, then
// base64url(nonce || ciphertext).
const sealedSecretPrefix = "kgsealed:v1:"

// secretAAD binds a sealed value to its purpose, so a sealed signing key
// cannot pass for a component secret; upstreamTokenAAD does the same for
// what an identity provider gave (UpstreamTokens).
var (
	secretAAD        = []byte("keygate component secret v1")
	upstreamTokenAAD = []byte("keygate upstream token v1")
)

// ErrSecretSealed: a sealed value (a component secret, an upstream token)
// and no --db-key, or another one, to open it.
var ErrSecretSealed = errors.New("is encrypted in the database: it needs the --db-key it was sealed with")

// SecretSealer seals and reveals component secrets (Secrets) or what an
// identity provider gave (UpstreamTokens). Its zero value (no --db-key)
// stores values as they are.
type SecretSealer struct {
	aead cipher.AEAD
	aad  []byte // the purpose; nil is secretAAD
}

// NewSecretSealer returns the sealer for dbKey ("" = none); it opens what
// a server with the same --db-key sealed.
func NewSecretSealer(dbKey string) (*SecretSealer, error) {
	aead, err := newSealer(dbKey)
	if err != nil {
		return nil, err
	}
	return &SecretSealer{aead: aead}, nil
}

// Secrets returns the keyring's sealer for component secrets (same
// --db-key).
func (k *Keyring) Secrets() *SecretSealer { return &SecretSealer{aead: k.seal} }

// UpstreamTokens returns the keyring's sealer for what an identity
// provider gave and keygate keeps (a stored token or assertion, the ID
// token a logout sends back): bearer credentials and personal data that a
// copy of the database should not hold in the clear. Same --db-key and
// format as Secrets, another purpose: neither opens the other's values.
func (k *Keyring) UpstreamTokens() *SecretSealer {
	return &SecretSealer{aead: k.seal, aad: upstreamTokenAAD}
}

// sealedErr is ErrSecretSealed naming what could not be opened.
func (s *SecretSealer) sealedErr() error {
	if s != nil && s.aad != nil {
		return fmt.Errorf("upstream token %w", ErrSecretSealed)
	}
	return fmt.Errorf("component secret %w", ErrSecretSealed)
}

func (s *SecretSealer) purpose() []byte {
	if s.aad == nil {
		return secretAAD
	}
	return s.aad
}

// IsSealedSecret reports whether v is a sealed component secret.
func IsSealedSecret(v string) bool { return strings.HasPrefix(v, sealedSecretPrefix) }

// Seal returns v sealed, or v as it is without a --db-key. "" stays "",
// and a value already sealed is returned unchanged.
func (s *SecretSealer) Seal(v string) (string, error) {
	if s == nil || s.aead == nil || v == "" || IsSealedSecret(v) {
		return v, nil
	}
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", err
	}
	out := s.aead.Seal(nonce, nonce, []byte(v), s.purpose())
	return sealedSecretPrefix + base64.RawURLEncoding.EncodeToString(out), nil
}

// Reveal returns the secret v holds: v itself when it is not sealed.
func (s *SecretSealer) Reveal(v string) (string, error) {
	if !IsSealedSecret(v) {
		return v, nil
	}
	if s == nil || s.aead == nil {
		return "", s.sealedErr()
	}
	raw, err := base64.RawURLEncoding.DecodeString(strings.TrimPrefix(v, sealedSecretPrefix))
	if err != nil || len(raw) < s.aead.NonceSize() {
		return "", s.sealedErr()
	}
	n := s.aead.NonceSize()
	plain, err := s.aead.Open(nil, raw[:n], raw[n:], s.purpose())
	if err != nil {
		return "", s.sealedErr()
	}
	return string(plain), nil
}
