package oidc

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

// verifyFixture is a realm's keys (active RS256, ES256 and HS512, and a
// passive HS512 key) and tokens they signed, by canonical form.
type verifyFixture struct {
	rk      *realmKeys
	now     time.Time
	genuine map[string]string // token -> its payload segment
	seeds   []string
}

func newVerifyFixture(t testing.TB) *verifyFixture {
	t.Helper()
	now := time.Unix(1_800_000_000, 0)
	keys := testKeys(t, now)
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	keys = append(keys,
		store.Key{ID: "ec", Algorithm: algES256, Use: "sig", Active: true, Private: der, Created: now},
		store.Key{ID: "old-h", Algorithm: algHS512, Use: "sig", Private: bytes.Repeat([]byte{9}, 64), Created: now})
	rk, err := buildRealmKeys(keys, nil)
	if err != nil {
		t.Fatal(err)
	}
	fx := &verifyFixture{rk: rk, now: now, genuine: map[string]string{}}
	mint := func(key *signingKey, claims map[string]any) string {
		tok, _, err := sign(key, claims)
		if err != nil {
			t.Fatal(err)
		}
		fx.genuine[tok] = strings.Split(tok, ".")[1]
		fx.seeds = append(fx.seeds, tok)
		return tok
	}
	live, dead := now.Add(time.Hour).Unix(), now.Add(-time.Hour).Unix()
	iss := "http://127.0.0.1:8080/realms/test"
	access := map[string]any{"exp": live, "iat": now.Unix(), "jti": "j1", "iss": iss, "sub": "u", "typ": "Bearer", "azp": "c", "scope": "openid"}
	rs := mint(rk.active, access)
	mint(rk.es256, access)
	mint(rk.active, map[string]any{"exp": dead, "iss": iss, "typ": "ID"})
	mint(rk.active, map[string]any{"iss": iss, "typ": "ID"}) // no exp: refused
	hs := mint(rk.hmac, map[string]any{"exp": live, "typ": "KEYCLOAK_IDENTITY", "sid": "s"})
	mint(rk.byKID["old-h"], map[string]any{"exp": live, "typ": "CSRF", "sid": "s"})
	mint(rk.hmac, map[string]any{"exp": "9999999999", "typ": "x"})

	// Forgeries and other shapes of the genuine tokens.
	b64 := base64.RawURLEncoding.EncodeToString
	for _, tok := range []string{rs, hs} {
		h, p, s := splitToken(tok)
		fx.seeds = append(fx.seeds,
			b64([]byte(`{"alg":"none","kid":"h"}`))+"."+p+".",
			b64([]byte(`{"alg":"HS512","kid":"`+rk.active.kid+`"}`))+"."+p+"."+s,
			b64([]byte(`{"alg":"RS256","kid":"h"}`))+"."+p+"."+s,
			b64([]byte(`{"alg":"ES256","kid":"`+rk.active.kid+`"}`))+"."+p+"."+s,
			h+"."+p+"."+s[:len(s)-1]+"A",
			h+"."+p+"."+s[:len(s)-1]+string(s[len(s)-1]+1), // other trailing bits
			h+"."+p+"."+s[:8]+"\r\n"+s[8:],
			h+"\n."+p+"."+s,
			h+"."+p+"."+s+"=",
			h+" ."+p+"."+s,
			h+"."+p,
			// The JWS JSON serialization of a genuine token.
			`{"protected":"`+h+`","payload":"`+p+`","signature":"`+s+`"}`,
			`{"payload":"`+p+`","signatures":[{"protected":"`+h+`","signature":"`+s+`"}]}`,
		)
	}
	fx.seeds = append(fx.seeds, "", ".", "..", "a.b.c", "{}")
	return fx
}

func splitToken(tok string) (h, p, s string) {
	parts := strings.SplitN(tok, ".", 3)
	for len(parts) < 3 {
		parts = append(parts, "")
	}
	return parts[0], parts[1], parts[2]
}

var verifyAlgChoices = []string{algAsym, algHS512, algRS256, algES256}

// check is the oracle: verify never panics, agrees with verifyExp, and
// accepts (or calls expired) only a token the realm signed, byte for byte
// as it signed it, returning that token's own claims.
func (fx *verifyFixture) check(t *testing.T, tok string, algIdx uint8) {
	alg := verifyAlgChoices[int(algIdx)%len(verifyAlgChoices)]
	claims, err := verify(fx.rk, tok, alg, fx.now)
	if errExp := verifyExp(fx.rk, tok, alg, fx.now); errExp != err {
		t.Fatalf("%q (%s): verify %v, verifyExp %v", tok, alg, err, errExp)
	}
	if claims == nil {
		return
	}
	payload, ok := fx.genuine[tok]
	if !ok {
		t.Fatalf("%q (%s): accepted (%v), but the realm never signed it", tok, alg, err)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(payload)
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var want map[string]any
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(claims, want) {
		t.Fatalf("%q: claims %v, signed %v", tok, claims, want)
	}
	h, _, _ := splitToken(tok)
	hdr, _ := base64.RawURLEncoding.DecodeString(h)
	var head struct{ Alg string }
	_ = json.Unmarshal(hdr, &head)
	if head.Alg != alg && !(alg == algAsym && (head.Alg == algRS256 || head.Alg == algES256)) {
		t.Fatalf("%q: a %s token accepted where %s is wanted", tok, head.Alg, alg)
	}
}

// FuzzVerify drives verify (bearer tokens, id_token_hint, the SSO cookie,
// CSRF and action tokens) with mutations of genuine tokens.
func FuzzVerify(f *testing.F) {
	fx := newVerifyFixture(f)
	for _, tok := range fx.seeds {
		for i := range verifyAlgChoices {
			f.Add(tok, uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, tok string, alg uint8) {
		fx.check(t, tok, alg)
		// The realm lookup before verification never panics either.
		IssuerRealm("Bearer " + tok)
	})
}

// go-jose's ParseSigned took the JWS JSON serialization and stripped
// whitespace, and base64 decoding skips CR and LF and ignores a
// segment's trailing bits: a genuine asymmetric token was accepted in
// other spellings (and an HS512 one with CR, LF or other trailing bits
// in its signature). Only the spelling the realm signed is accepted now.
func TestVerifyAcceptsOnlyTheSignedSpelling(t *testing.T) {
	fx := newVerifyFixture(t)
	for _, tok := range fx.seeds[:2] {
		h, p, s := splitToken(tok)
		for _, other := range []string{
			h + " ." + p + "." + s,
			h + "." + p + "\n." + s,
			h + "." + p + "." + s[:8] + "\r\n" + s[8:],
			h + "." + p + "." + s[:len(s)-1] + string(s[len(s)-1]+1),
			`{"protected":"` + h + `","payload":"` + p + `","signature":"` + s + `"}`,
		} {
			if _, err := verify(fx.rk, other, algAsym, fx.now); err == nil {
				t.Errorf("%q verified", other)
			}
		}
	}
	h, p, s := splitToken(fx.seeds[4]) // HS512
	for _, other := range []string{h + "." + p + "." + s + "\n", h + "." + p + "." + s[:len(s)-1] + string(s[len(s)-1]+1)} {
		if _, err := verify(fx.rk, other, algHS512, fx.now); err == nil {
			t.Errorf("%q verified", other)
		}
	}
	for _, tok := range fx.seeds[:2] {
		if _, err := verify(fx.rk, tok, algAsym, fx.now); err != nil {
			t.Errorf("a genuine token: %v", err)
		}
	}
	if _, err := verify(fx.rk, fx.seeds[4], algHS512, fx.now); err != nil {
		t.Errorf("a genuine HS512 token: %v", err)
	}
}
