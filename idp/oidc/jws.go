package oidc

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/go-jose/go-jose/v4"
)

// compact signs payload as a compact JWS with k. Every token keygate issues
// is signed here: go-jose's signer spent about 25 µs and 80 allocations per
// token around the signature itself (header JSON, base64 copies, its
// JSONWebSignature object), three times per refresh. The header is the
// segment go-jose wrote for the key once (buildRealmKeys), so tokens are
// byte for byte what go-jose makes (TestCompactMatchesJOSE).
func (k *signingKey) compact(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	bp := compactBuffers.Get().(*[]byte)
	defer func() {
		if cap(*bp) <= 64<<10 { // an outsized token's buffer is not kept
			compactBuffers.Put(bp)
		}
	}()
	buf := slices.Grow((*bp)[:0], len(k.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(512))
	defer func() { *bp = buf }()
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	input := buf
	var sig []byte
	switch key := k.key.(type) {
	case []byte:
		mac := hmac.New(sha512.New, key)
		mac.Write(input)
		sig = mac.Sum(nil)
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		var err error
		if sig, err = rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:]); err != nil {
			return "", err
		}
	case *ecdsa.PrivateKey:
		// JWS wants R and S as two 32-byte big-endian halves (RFC 7518 §3.4).
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			return "", err
		}
		sig = make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
	default:
		return "", fmt.Errorf("oidc: cannot sign with a %T", k.key)
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	return string(buf), nil
}

// compactBuffers hold a token while it is built: the token itself is then
// one exact-size string, the only allocation it needs.
var compactBuffers = sync.Pool{New: func() any { return new([]byte) }}

// headerSegment is the header segment go-jose's signer for key writes.
func headerSegment(key jose.SigningKey, opts *jose.SignerOptions) (string, error) {
	signer, err := jose.NewSigner(key, opts)
	if err != nil {
		return "", err
	}
	obj, err := signer.Sign([]byte("{}"))
	if err != nil {
		return "", err
	}
	tok, err := obj.CompactSerialize()
	if err != nil {
		return "", err
	}
	h, _, _ := strings.Cut(tok, ".")
	return h, nil
}
