package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"strings"
)

// assertionLifetime is how long a client assertion is valid (Keycloak:
// the realm's access code lifespan, a minute by default).
const assertionLifetime = 60

// clientAssertion is the signed JWT that authenticates keygate at the
// token endpoint (RFC 7523): client_secret_jwt signs it with the client
// secret (HS256 by default), private_key_jwt with the realm's key (RS256
// by default), as Keycloak's broker does: iss and sub the clientId, aud
// clientAssertionAudience or the token URL, a fresh jti.
func (b *Broker) clientAssertion() (string, error) {
	now := b.env.Now().Unix()
	jti := make([]byte, 18)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	aud := b.s.assertionAudience
	if aud == "" {
		aud = b.s.tokenURL
	}
	claims := map[string]any{"iss": b.s.clientID, "sub": b.s.clientID, "aud": aud, "jti": base64.RawURLEncoding.EncodeToString(jti),
		"iat": now, "exp": now + assertionLifetime}
	header := map[string]any{"typ": "JWT"}
	if b.s.authMethod == AuthSecretJWT {
		alg := b.s.assertionAlg
		if alg == "" {
			alg = "HS256"
		}
		header["alg"] = alg
		return signJWT(header, claims, func(in []byte) ([]byte, error) { return macSign(alg, []byte(b.secret), in) })
	}
	alg, err := assertionAlg(b.s, b.env.Key)
	if err != nil {
		return "", err
	}
	header["alg"] = alg
	kid, err := keyID(b.env.Key.Public())
	if err != nil {
		return "", err
	}
	header["kid"] = kid
	if b.s.x5tHeader && b.env.Cert != nil {
		sum := sha1.Sum(b.env.Cert.Raw)
		header["x5t"] = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	return signJWT(header, claims, func(in []byte) ([]byte, error) { return keySign(alg, b.env.Key, in) })
}

// assertionAlg is the algorithm of private_key_jwt assertions: the
// configured one, else RS256 for an RSA key and ES* for an EC key by its
// curve.
func assertionAlg(s *settings, key crypto.Signer) (string, error) {
	if s.authMethod != AuthPrivateKeyJWT {
		return s.assertionAlg, nil
	}
	switch k := key.Public().(type) {
	case *rsa.PublicKey:
		if s.assertionAlg == "" {
			return "RS256", nil
		}
		if strings.HasPrefix(s.assertionAlg, "RS") || strings.HasPrefix(s.assertionAlg, "PS") {
			return s.assertionAlg, nil
		}
	case *ecdsa.PublicKey:
		want := map[int]string{256: "ES256", 384: "ES384", 521: "ES512"}[k.Curve.Params().BitSize]
		if s.assertionAlg == "" || s.assertionAlg == want {
			if want == "" {
				return "", errors.New("an EC key on an unsupported curve")
			}
			return want, nil
		}
	case ed25519.PublicKey:
		if s.assertionAlg == "" || s.assertionAlg == "EdDSA" {
			return "EdDSA", nil
		}
	default:
		return "", fmt.Errorf("a %T signing key", k)
	}
	return "", fmt.Errorf("%s does not fit the realm's key", s.assertionAlg)
}

// keyID is Keycloak's kid of a public key: base64url(SHA-256(its DER)).
func keyID(pub crypto.PublicKey) (string, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(der)
	return base64.RawURLEncoding.EncodeToString(sum[:]), nil
}

func signJWT(header, claims map[string]any, sign func([]byte) ([]byte, error)) (string, error) {
	h, err := json.Marshal(header)
	if err != nil {
		return "", err
	}
	c, err := json.Marshal(claims)
	if err != nil {
		return "", err
	}
	in := base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c)
	sig, err := sign([]byte(in))
	if err != nil {
		return "", err
	}
	return in + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}

func hashOf(alg string) (crypto.Hash, error) {
	switch alg[len(alg)-3:] {
	case "256":
		return crypto.SHA256, nil
	case "384":
		return crypto.SHA384, nil
	case "512":
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("algorithm %q", alg)
}

func macSign(alg string, secret, in []byte) ([]byte, error) {
	if len(alg) < 5 || !strings.HasPrefix(alg, "HS") {
		return nil, fmt.Errorf("algorithm %q", alg)
	}
	h, err := hashOf(alg)
	if err != nil {
		return nil, err
	}
	m := hmac.New(h.New, secret)
	m.Write(in)
	return m.Sum(nil), nil
}

func keySign(alg string, key crypto.Signer, in []byte) ([]byte, error) {
	if alg == "EdDSA" {
		return key.Sign(rand.Reader, in, crypto.Hash(0))
	}
	h, err := hashOf(alg)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(in)
	digest := d.Sum(nil)
	switch alg[:2] {
	case "RS":
		return key.Sign(rand.Reader, digest, h)
	case "PS":
		return key.Sign(rand.Reader, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash, Hash: h})
	case "ES":
		der, err := key.Sign(rand.Reader, digest, h)
		if err != nil {
			return nil, err
		}
		var sig struct{ R, S *big.Int }
		if _, err := asn1.Unmarshal(der, &sig); err != nil {
			return nil, err
		}
		size := (key.Public().(*ecdsa.PublicKey).Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		sig.R.FillBytes(out[:size])
		sig.S.FillBytes(out[size:])
		return out, nil
	}
	return nil, fmt.Errorf("algorithm %q", alg)
}
