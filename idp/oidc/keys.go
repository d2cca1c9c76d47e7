package oidc

import (
	"context"
	"crypto"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"math/big"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/cachemetrics"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
)

// Algorithms of the two keys every realm has, as Keycloak has them: RS256
// signs access and ID tokens, HS512 signs refresh tokens (and is the HMAC
// secret for authorization codes). A realm whose defaultSignatureAlgorithm
// is ES256 also gets a P-256 key, which then signs its access and ID tokens.
const (
	algRS256 = "RS256"
	algHS512 = "HS512"
	algES256 = "ES256"
	// algAsym asks verify for either token signature algorithm.
	algAsym = "RS256|ES256"
)

// realmKeys is one realm's parsed keys. It is immutable once built: a reload
// swaps the whole value, so request paths never parse keys.
type realmKeys struct {
	active *signingKey            // RS256 key that signs new tokens
	es256  *signingKey            // active ES256 key, when the realm asked for one
	hmac   *signingKey            // HS512 key for refresh tokens and codes
	byKID  map[string]*signingKey // every key, active and passive, for verification
	jwks   []byte                 // the serialized public JWKS
	// hs512 maps the header segment each HS512 key signs with to the key,
	// so verifying the realm's own tokens parses no header.
	hs512 map[string]*signingKey
}

type signingKey struct {
	kid    string
	alg    string
	active bool
	key    any // *rsa.PrivateKey, *ecdsa.PrivateKey or []byte
	// header is the compact header segment this key signs with (alg, kid,
	// typ; see headerSegment).
	header string
	cert   *x509.Certificate // asymmetric keys: see keyCertificate
}

// KeyInfo is one realm key as the admin API's keys endpoint shows it
// (Keycloak's KeyMetadataRepresentation): never the private part.
type KeyInfo struct {
	KID, Algorithm string
	Type           string // RSA, EC or OCT, as Keycloak names key types
	Active         bool
	// Public is the PKIX DER public key and Certificate the DER self-signed
	// certificate; both nil for HMAC keys.
	Public, Certificate []byte
	ValidTo             time.Time // certificate expiry; zero for HMAC keys
}

// Keys describes the realm's keys, active first, creating them on first use.
func (k *Keyring) Keys(ctx context.Context, realmID string) ([]KeyInfo, error) {
	rk, err := k.get(ctx, realmID, "")
	if err != nil {
		return nil, err
	}
	var out []KeyInfo
	for _, sk := range rk.byKID {
		ki := KeyInfo{KID: sk.kid, Algorithm: sk.alg, Type: "OCT", Active: sk.active}
		switch pk := sk.key.(type) {
		case *rsa.PrivateKey:
			if ki.Public, err = x509.MarshalPKIXPublicKey(&pk.PublicKey); err != nil {
				return nil, err
			}
			ki.Type, ki.Certificate, ki.ValidTo = "RSA", sk.cert.Raw, sk.cert.NotAfter
		case *ecdsa.PrivateKey:
			if ki.Public, err = x509.MarshalPKIXPublicKey(&pk.PublicKey); err != nil {
				return nil, err
			}
			ki.Type, ki.Certificate, ki.ValidTo = "EC", sk.cert.Raw, sk.cert.NotAfter
		}
		out = append(out, ki)
	}
	slices.SortFunc(out, func(a, b KeyInfo) int {
		if c := cmpBool(!a.Active, !b.Active); c != 0 {
			return c
		}
		return strings.Compare(a.Algorithm+a.KID, b.Algorithm+b.KID)
	})
	return out, nil
}

// Keyring loads, creates and caches realm keys. Keys are generated on first
// use and persisted; replicas agree through store.CreateActiveKey. The
// cache follows the realm's change counters, so a rotation anywhere is
// seen (store/cache).
type Keyring struct {
	st     store.KeyStore
	mu     sync.Mutex // one creation of missing keys at a time
	realms *cache.Cache[string, *realmKeys]
	// rsaBits is 2048 like Keycloak's rsa-generated provider.
	rsaBits int
	// seal, when set, encrypts private keys at rest (see sealing.go).
	seal cipher.AEAD
}

// NewKeyring returns a keyring over st; a non-empty dbKey seals the keys it
// creates and opens sealed ones.
func NewKeyring(st store.KeyStore, dbKey string) (*Keyring, error) {
	aead, err := newSealer(dbKey)
	if err != nil {
		return nil, err
	}
	realms := cache.New(cache.For(st), cache.Options[string, *realmKeys]{
		Kinds:   cache.Config,
		Observe: cachemetrics.Observer("keys"),
	})
	return &Keyring{st: st, realms: realms, rsaBits: 2048, seal: aead}, nil
}

// get returns the realm's keys, loading (and creating on first use) as
// needed; sigAlg (the realm's defaultSignatureAlgorithm) ES256 also
// ensures an active ES256 key.
//
// While the database is down it answers the last keys read: tokens keep
// verifying and the JWKS keeps being served; a rotation made elsewhere
// meanwhile is seen once it is back.
func (k *Keyring) get(ctx context.Context, realmID, sigAlg string) (*realmKeys, error) {
	load := func(ctx context.Context) (*realmKeys, error) { return k.reload(ctx, realmID, sigAlg) }
	rk, err := k.realms.Get(ctx, realmID, load)
	if err == nil && sigAlg == algES256 && rk.es256 == nil {
		k.realms.Invalidate(realmID) // the realm asked for ES256 since
		rk, err = k.realms.Get(ctx, realmID, load)
	}
	return rk, err
}

// reload re-reads the realm's keys from the store, generating missing ones.
func (k *Keyring) reload(ctx context.Context, realmID, sigAlg string) (*realmKeys, error) {
	k.mu.Lock()
	defer k.mu.Unlock()
	keys, err := k.st.ListKeys(ctx, realmID)
	if err != nil {
		return nil, fmt.Errorf("load realm keys: %w", err)
	}
	have := map[string]bool{}
	created := false
	for _, key := range keys {
		if key.Active {
			have[key.Algorithm] = true
		}
	}
	want := []string{algRS256, algHS512}
	if sigAlg == algES256 {
		want = append(want, algES256)
	}
	for _, alg := range want {
		if have[alg] {
			continue
		}
		nk, err := k.generate(realmID, alg)
		if err != nil {
			return nil, err
		}
		if _, err := k.st.CreateActiveKey(ctx, nk); err != nil {
			return nil, fmt.Errorf("create realm key: %w", err)
		}
		created = true
	}
	if created {
		if keys, err = k.st.ListKeys(ctx, realmID); err != nil {
			return nil, fmt.Errorf("load realm keys: %w", err)
		}
	}
	for i := range keys {
		if keys[i].Private, err = unseal(k.seal, keys[i]); err != nil {
			return nil, fmt.Errorf("realm key %s: %w", keys[i].ID, err)
		}
	}
	prev, _ := k.realms.Peek(realmID)
	return buildRealmKeys(keys, prev)
}

// Rotate creates a new active signing key (RS256 or ES256) for the realm
// and returns its kid; the old one stays passive, so tokens it signed keep
// verifying and the JWKS keeps publishing it. Replicas see the rotation
// through the realm's change counters. The realm's stored keys must open
// with this keyring's --db-key, so a rotation never leaves one database
// with keys sealed and unsealed, or under two secrets.
func (k *Keyring) Rotate(ctx context.Context, realmID, alg string) (string, error) {
	if alg != algRS256 && alg != algES256 {
		return "", fmt.Errorf("rotate: algorithm %q: want RS256 or ES256", alg)
	}
	keys, err := k.st.ListKeys(ctx, realmID)
	if err != nil {
		return "", fmt.Errorf("load realm keys: %w", err)
	}
	for _, key := range keys {
		if _, err := unseal(k.seal, key); err != nil {
			return "", fmt.Errorf("realm key %s (%s): %w", key.ID, key.Algorithm, err)
		}
	}
	nk, err := k.generate(realmID, alg)
	if err != nil {
		return "", err
	}
	if err := k.st.RotateKey(ctx, nk); err != nil {
		return "", err
	}
	k.realms.Invalidate(realmID)
	return nk.ID, nil
}

func (k *Keyring) generate(realmID, alg string) (store.Key, error) {
	key := store.Key{RealmID: realmID, Algorithm: alg, Use: "sig", Active: true, Created: time.Now()}
	switch alg {
	case algRS256:
		pk, err := rsa.GenerateKey(rand.Reader, k.rsaBits)
		if err != nil {
			return key, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(pk)
		if err != nil {
			return key, err
		}
		key.Private = der
		key.ID, err = rsaKID(&pk.PublicKey)
		if err != nil {
			return key, err
		}
	case algES256:
		pk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return key, err
		}
		if key.Private, err = x509.MarshalPKCS8PrivateKey(pk); err != nil {
			return key, err
		}
		if key.ID, err = rsaKID(&pk.PublicKey); err != nil {
			return key, err
		}
	case algHS512:
		secret := make([]byte, 64)
		if _, err := rand.Read(secret); err != nil {
			return key, err
		}
		key.Private = secret
		key.ID = uuid.NewString()
	default:
		return key, fmt.Errorf("unsupported key algorithm %q", alg)
	}
	var err error
	key.Private, err = seal(k.seal, key)
	return key, err
}

// rsaKID is Keycloak's kid for RSA and EC keys: base64url(SHA-256(DER
// public key)).
func rsaKID(pub any) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

// buildRealmKeys parses keys. prev, the realm's keys as last built (or
// nil), lends its certificates to the same keys: deriving one costs a
// signature, and reloads run on a request's path after every change to the
// realm's configuration.
func buildRealmKeys(keys []store.Key, prev *realmKeys) (*realmKeys, error) {
	rk := &realmKeys{byKID: map[string]*signingKey{}, hs512: map[string]*signingKey{}}
	var pub []jose.JSONWebKey
	for _, key := range keys {
		sk := &signingKey{kid: key.ID, alg: key.Algorithm, active: key.Active}
		switch key.Algorithm {
		case algRS256, algES256:
			pk, err := parseSigningKey(key)
			if err != nil {
				return nil, err
			}
			sk.key = pk
			if sk.header, err = headerSegment(key.Algorithm, key.ID); err != nil {
				return nil, err
			}
			if old := prev.byKIDOrNil(key.ID); old != nil && old.cert != nil && old.alg == key.Algorithm {
				sk.cert = old.cert
			}
			jwk, err := publicJWK(sk, pk, key)
			if err != nil {
				return nil, err
			}
			pub = append(pub, jwk)
			switch {
			case key.Active && key.Algorithm == algRS256:
				rk.active = sk
			case key.Active:
				rk.es256 = sk
			}
		case algHS512:
			sk.key = key.Private
			var err error
			if sk.header, err = headerSegment(algHS512, key.ID); err != nil {
				return nil, err
			}
			if key.Active {
				rk.hmac = sk
			}
			rk.hs512[sk.header] = sk
		default:
			continue // keys of other algorithms are not ours to use
		}
		rk.byKID[key.ID] = sk
	}
	if rk.active == nil || rk.hmac == nil {
		return nil, errors.New("realm has no active signing keys")
	}
	// RSA keys first: some clients take the JWKS's first key.
	slices.SortStableFunc(pub, func(a, b jose.JSONWebKey) int {
		return cmpBool(a.Algorithm != algRS256, b.Algorithm != algRS256)
	})
	var err error
	if rk.jwks, err = jsonMarshal(jose.JSONWebKeySet{Keys: pub}); err != nil {
		return nil, err
	}
	return rk, nil
}

// parseSigningKey parses an RS256 (RSA) or ES256 (P-256) key's PKCS#8.
func parseSigningKey(key store.Key) (crypto.Signer, error) {
	parsed, err := x509.ParsePKCS8PrivateKey(key.Private)
	if err != nil {
		return nil, fmt.Errorf("realm key %s: %w", key.ID, err)
	}
	switch pk := parsed.(type) {
	case *rsa.PrivateKey:
		if key.Algorithm == algRS256 {
			pk.Precompute()
			return pk, nil
		}
	case *ecdsa.PrivateKey:
		if key.Algorithm == algES256 && pk.Curve == elliptic.P256() {
			return pk, nil
		}
	}
	return nil, fmt.Errorf("realm key %s: not a %s key", key.ID, key.Algorithm)
}

// byKIDOrNil is rk's key kid, nil when rk is nil or lacks it.
func (rk *realmKeys) byKIDOrNil(kid string) *signingKey {
	if rk == nil {
		return nil
	}
	return rk.byKID[kid]
}

// publicJWK is an asymmetric key's JWKS entry with its certificate (which
// it also keeps in sk for the admin API's keys endpoint).
func publicJWK(sk *signingKey, pk crypto.Signer, key store.Key) (jose.JSONWebKey, error) {
	if sk.cert == nil {
		cert, err := keyCertificate(pk, key.Created)
		if err != nil {
			return jose.JSONWebKey{}, fmt.Errorf("realm key %s: certificate: %w", key.ID, err)
		}
		sk.cert = cert
	}
	cert := sk.cert
	sum1, sum256 := sha1.Sum(cert.Raw), sha256.Sum256(cert.Raw)
	return jose.JSONWebKey{Key: pk.Public(), KeyID: key.ID, Algorithm: key.Algorithm, Use: "sig",
		Certificates: []*x509.Certificate{cert}, CertificateThumbprintSHA1: sum1[:], CertificateThumbprintSHA256: sum256[:]}, nil
}

// keyCertificate is the self-signed certificate Keycloak publishes with each
// RSA and EC key (x5c, x5t and x5t#S256 in the JWKS; some JWT libraries
// read the key from x5c). It is derived, not stored: signed without
// randomness (RSA PKCS#1 v1.5, and ECDSA per RFC 6979 when no random source
// is given), the same key and creation time give the same certificate on
// every replica and restart. Ten years, as Keycloak's.
func keyCertificate(pk crypto.Signer, created time.Time) (*x509.Certificate, error) {
	der, err := x509.MarshalPKIXPublicKey(pk.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	from := created.UTC().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: new(big.Int).SetBytes(sum[:16]),
		Subject:      pkix.Name{CommonName: "keygate realm key"},
		NotBefore:    from,
		NotAfter:     from.AddDate(10, 0, 0),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
	if der, err = x509.CreateCertificate(nil, tmpl, tmpl, pk.Public(), pk); err != nil {
		return nil, err
	}
	return x509.ParseCertificate(der)
}

// cmpBool orders false before true.
func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// tokenKey is the key that signs access and ID tokens under the realm's
// defaultSignatureAlgorithm: ES256 when asked for (and present), else RS256.
func (rk *realmKeys) tokenKey(alg string) *signingKey {
	if alg == algES256 && rk.es256 != nil {
		return rk.es256
	}
	return rk.active
}

// publicKeyDER is the active RS256 key as Keycloak's realm info shows it.
func (rk *realmKeys) publicKeyDER() ([]byte, error) {
	return x509.MarshalPKIXPublicKey(rk.active.key.(crypto.Signer).Public())
}

// BrokerKey returns realmID's active RS256 key and its certificate, which
// the realm's identity-provider brokers sign SAML requests with, publish in
// SP metadata, decrypt assertions with and sign private_key_jwt client
// assertions with, as Keycloak uses the realm's active RSA key.
func (k *Keyring) BrokerKey(ctx context.Context, realmID string) (crypto.Signer, *x509.Certificate, error) {
	rk, err := k.get(ctx, realmID, "")
	if err != nil {
		return nil, nil, err
	}
	if rk.active == nil {
		return nil, nil, errors.New("oidc: realm has no active RS256 key")
	}
	signer, ok := rk.active.key.(crypto.Signer)
	if !ok || rk.active.cert == nil {
		return nil, nil, errors.New("oidc: realm's RS256 key is not usable")
	}
	return signer, rk.active.cert, nil
}
