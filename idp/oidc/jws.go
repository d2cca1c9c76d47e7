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
	"encoding/json"
	"fmt"
	"slices"
	"sync"
)

// compact signs payload as a compact JWS with k. Every token keygate issues
// is signed here: go-jose's signer spent about 25 µs and 80 allocations per
// token around the signature itself (header JSON, base64 copies, its
// JSONWebSignature object), three times per refresh. Tokens are byte for
// byte what go-jose made (TestCompactMatchesJOSE).
func (k *signingKey) compact(payload []byte) (string, error) {
	enc := base64.RawURLEncoding
	bp := compactBuffers.Get().(*[]byte)
	buf := slices.Grow((*bp)[:0], len(k.header)+2+enc.EncodedLen(len(payload))+enc.EncodedLen(512))
	buf = append(buf, k.header...)
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, payload)
	sig, err := k.signature(buf)
	if err != nil {
		return "", err
	}
	buf = append(buf, '.')
	buf = enc.AppendEncode(buf, sig)
	token := string(buf)
	if cap(buf) <= 64<<10 { // an outsized token's buffer is not kept
		*bp = buf
		compactBuffers.Put(bp)
	}
	return token, nil
}

// compactBuffers hold a token while it is built: the token itself is then
// one exact-size string, the only allocation it needs.
var compactBuffers = sync.Pool{New: func() any { return new([]byte) }}

// signature is k's JWS signature over input.
func (k *signingKey) signature(input []byte) ([]byte, error) {
	switch key := k.key.(type) {
	case []byte:
		mac := hmac.New(sha512.New, key)
		mac.Write(input)
		return mac.Sum(nil), nil
	case *rsa.PrivateKey:
		digest := sha256.Sum256(input)
		return rsa.SignPKCS1v15(nil, key, crypto.SHA256, digest[:])
	case *ecdsa.PrivateKey:
		// JWS wants R and S as two 32-byte big-endian halves (RFC 7518 §3.4).
		digest := sha256.Sum256(input)
		r, s, err := ecdsa.Sign(rand.Reader, key, digest[:])
		if err != nil {
			return nil, err
		}
		sig := make([]byte, 64)
		r.FillBytes(sig[:32])
		s.FillBytes(sig[32:])
		return sig, nil
	default:
		return nil, fmt.Errorf("oidc: cannot sign with a %T", k.key)
	}
}

// headerSegment is the header segment of a key's tokens: alg, kid and typ,
// with the names sorted and the values escaped as encoding/json writes them,
// which is what go-jose's signer wrote before (TestHeaderSegmentMatchesJOSE),
// so tokens issued before keep matching verifiedHS512's lookup. It costs no
// signature: keys are rebuilt on a request's path after realm changes.
func headerSegment(alg, kid string) (string, error) {
	h, err := json.Marshal(map[string]string{"alg": alg, "kid": kid, "typ": "JWT"})
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(h), nil
}
