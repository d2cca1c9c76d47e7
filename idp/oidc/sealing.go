package oidc

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"

	"github.com/keygate/keygate/store"
)

// Realm signing keys are sealed at rest with AES-256-GCM when the server is
// given a database key (--db-key): a copy of the database (a backup, a
// replica's disk) then does not hold the keys that sign tokens. The AEAD key
// is derived from the --db-key secret with HKDF-SHA256, and each key row is
// bound to its realm, kid and algorithm as additional data, so a sealed key
// cannot be moved to another row. Rows written without a database key stay
// readable (they are used as they are); new keys are sealed.

// sealedMagic starts a sealed private key: magic, 12-byte nonce, ciphertext.
var sealedMagic = []byte("KGS1")

var (
	// ErrKeysSealed: the database holds sealed keys and no --db-key was given.
	ErrKeysSealed = errors.New("realm signing keys are encrypted in the database: start with the --db-key they were sealed with")
	// ErrWrongDBKey: the --db-key given does not open the sealed keys.
	ErrWrongDBKey = errors.New("realm signing keys do not decrypt with this --db-key")
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
		return k.Private, nil // written without a database key
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
