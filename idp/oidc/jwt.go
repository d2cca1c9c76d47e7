package oidc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
)

// Errors from token verification. They are deliberately coarse: callers
// answer "invalid token" whatever the reason.
var (
	errTokenMalformed = errors.New("token malformed")
	errTokenSignature = errors.New("token signature invalid")
	errTokenExpired   = errors.New("token expired")
)

func jsonMarshal(v any) ([]byte, error) {
	var out []byte
	err := withJSON(v, func(b []byte) { out = bytes.Clone(b) })
	return out, err
}

// jsonBuffers are encoding buffers for withJSON: claims and token
// responses are a few KiB each, and growing a new buffer to that size on
// every issuance was the token endpoint's largest allocation.
var jsonBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// withJSON encodes v as jsonMarshal does and hands the bytes to use, which
// must not keep them.
func withJSON(v any, use func([]byte)) error {
	buf := jsonBuffers.Get().(*bytes.Buffer)
	buf.Reset()
	defer func() {
		if buf.Cap() <= 64<<10 { // an outsized document's buffer is not kept
			jsonBuffers.Put(buf)
		}
	}()
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return err
	}
	use(bytes.TrimRight(buf.Bytes(), "\n"))
	return nil
}

// sign serializes claims and signs them with key, returning the compact JWT
// and its signature segment (the value fosite stores tokens under).
func sign(key *signingKey, claims map[string]any) (token, signature string, err error) {
	if encErr := withJSON(claims, func(payload []byte) { token, err = key.compact(payload) }); encErr != nil {
		return "", "", encErr
	}
	if err != nil {
		return "", "", err
	}
	return token, signatureOf(token), nil
}

// signatureOf returns the third segment of a compact JWT, or "".
func signatureOf(token string) string {
	i := strings.LastIndexByte(token, '.')
	if i < 0 || strings.Count(token, ".") != 2 {
		return ""
	}
	return token[i+1:]
}

// verifyAlgs are the algorithms keygate signs with; go-jose refuses any
// other before a key is looked at.
var verifyAlgs = []jose.SignatureAlgorithm{jose.RS256, jose.ES256, jose.HS512}

// verify checks a compact JWT against the realm's keys (active and passive)
// and its exp, and returns its claims. wantAlg pins the algorithm so an RS256
// token can never be presented where an HS512 one is expected, or vice versa.
func verify(rk *realmKeys, token, wantAlg string, now time.Time) (map[string]any, error) {
	payload, err := verifiedPayload(rk, token, wantAlg)
	if err != nil {
		return nil, err
	}
	var claims map[string]any
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.UseNumber()
	if err := dec.Decode(&claims); err != nil {
		return nil, errTokenMalformed
	}
	switch err := checkExp(claims["exp"], now); err {
	case nil, errTokenExpired:
		return claims, err // an expired token's claims serve logout hints
	default:
		return nil, err
	}
}

// verifyExp is verify for a caller that needs no claims (fosite's token
// validation): the payload is decoded for its exp only, not into a map.
func verifyExp(rk *realmKeys, token, wantAlg string, now time.Time) error {
	payload, err := verifiedPayload(rk, token, wantAlg)
	if err != nil {
		return err
	}
	// exp stays raw and must be an integer literal, as checkExp wants of
	// verify's json.Number: no decoder, no map.
	var c struct {
		Exp json.RawMessage `json:"exp"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return errTokenMalformed
	}
	return checkExpLiteral(string(c.Exp), now)
}

// verifiedPayload checks token's algorithm, key and signature and returns
// its payload.
func verifiedPayload(rk *realmKeys, token, wantAlg string) ([]byte, error) {
	if wantAlg == algHS512 {
		return verifiedHS512(rk, token)
	}
	return verifiedJOSE(rk, token, wantAlg)
}

// verifiedJOSE is verifiedPayload through go-jose: asymmetric tokens, and
// the oracle verifiedHS512 is tested against.
func verifiedJOSE(rk *realmKeys, token, wantAlg string) ([]byte, error) {
	if !compactForm(token) {
		return nil, errTokenMalformed
	}
	obj, err := jose.ParseSignedCompact(token, verifyAlgs)
	if err != nil || len(obj.Signatures) != 1 {
		return nil, errTokenMalformed
	}
	hdr := obj.Signatures[0].Header
	if hdr.Algorithm != wantAlg && !(wantAlg == algAsym && (hdr.Algorithm == algRS256 || hdr.Algorithm == algES256)) {
		return nil, errTokenSignature
	}
	key := rk.byKID[hdr.KeyID]
	if key == nil || key.alg != hdr.Algorithm {
		return nil, errTokenSignature
	}
	payload, err := obj.Verify(key.verifier())
	if err != nil {
		return nil, errTokenSignature
	}
	return payload, nil
}

// compactForm reports whether token is a compact JWS as sign writes it:
// three segments of unpadded base64url, with no other byte and no set bit
// after a segment's last full byte. go-jose's ParseSigned also took the
// JSON serialization and stripped whitespace, and base64 decoding skips
// CR and LF and ignores those trailing bits, so a genuine token could be
// presented in many spellings; a token is accepted in the one spelling
// keygate issued it in.
func compactForm(token string) bool {
	dots, start := 0, 0
	for i := 0; i <= len(token); i++ {
		if i < len(token) && token[i] != '.' {
			if !base64URL[token[i]] {
				return false
			}
			continue
		}
		if !canonicalSegment(token[start:i]) {
			return false
		}
		dots, start = dots+1, i+1
	}
	return dots == 3
}

// canonicalSegment: a segment's length leaves no lone character, and the
// bits of its last character past the last byte are zero.
func canonicalSegment(seg string) bool {
	if len(seg) == 0 {
		return true
	}
	last := strings.IndexByte(base64URLAlphabet, seg[len(seg)-1])
	switch len(seg) % 4 {
	case 1:
		return false
	case 2:
		return last&0x0f == 0
	case 3:
		return last&0x03 == 0
	}
	return true
}

const base64URLAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

var base64URL = func() (t [256]bool) {
	for i := range len(base64URLAlphabet) {
		t[base64URLAlphabet[i]] = true
	}
	return t
}()

// checkExp: exp must be an integer (a json.Number), and past now the token
// has expired.
func checkExp(v any, now time.Time) error {
	n, ok := v.(json.Number)
	if !ok {
		return errTokenMalformed
	}
	return checkExpLiteral(string(n), now)
}

// checkExpLiteral is checkExp for exp's JSON text, which must be an
// integer.
func checkExpLiteral(exp string, now time.Time) error {
	n, err := strconv.ParseInt(exp, 10, 64)
	if err != nil {
		return errTokenMalformed
	}
	if now.Unix() >= n {
		return errTokenExpired
	}
	return nil
}

// SignInternal signs claims with the realm's HMAC key (HS512), as
// Keycloak signs its internal tokens: the SSO cookie, the logout form's
// CSRF token. claims should carry "typ" and "exp"; callers check "typ".
func (r *Realm) SignInternal(claims map[string]any) (string, error) {
	tok, _, err := sign(r.keys.hmac, claims)
	return tok, err
}

// VerifyInternal checks a token SignInternal made (any of the realm's HMAC
// keys, active or passive) and its expiry, and returns its claims.
func (r *Realm) VerifyInternal(token string) (map[string]any, error) {
	return verify(r.keys, token, algHS512, now())
}

// VerifyIDTokenHint checks an ID token (typ ID) the realm signed, as an
// id_token_hint: the signature counts, its expiry does not (Keycloak
// accepts expired hints at logout).
func (r *Realm) VerifyIDTokenHint(token string) (map[string]any, error) {
	claims, err := verify(r.keys, token, algAsym, now())
	if errors.Is(err, errTokenExpired) {
		err = nil
	}
	if err == nil && strClaim(claims, "typ") != "ID" {
		// An access token, which every resource server it is sent to
		// holds, is no hint (Keycloak checks the type too).
		return nil, errTokenMalformed
	}
	return claims, err
}

// NumClaim is the integer claim name of claims a Verify method returned.
func NumClaim(claims map[string]any, name string) (int64, bool) { return numClaim(claims, name) }

func numClaim(claims map[string]any, name string) (int64, bool) {
	switch v := claims[name].(type) {
	case json.Number:
		n, err := v.Int64()
		return n, err == nil
	case float64:
		return int64(v), true
	case int64:
		return v, true
	}
	return 0, false
}

func strClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}

// verifier is what checks k's signatures: the public half of an
// asymmetric key, the secret of an HMAC one.
func (k *signingKey) verifier() any {
	switch pk := k.key.(type) {
	case *rsa.PrivateKey:
		return &pk.PublicKey
	case *ecdsa.PrivateKey:
		return &pk.PublicKey
	}
	return k.key
}
