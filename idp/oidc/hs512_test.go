package oidc

import (
	"bytes"
	"encoding/base64"
	"strings"
	"testing"
	"time"
)

// hs512Tokens are tokens for the equivalence test and the fuzzer's seeds:
// good ones, and the usual forgeries.
func hs512Tokens(t testing.TB, rk *realmKeys) []string {
	mint := func(key *signingKey, claims map[string]any) string {
		tok, _, err := sign(key, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	b64 := base64.RawURLEncoding.EncodeToString
	good := mint(rk.hmac, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "sub": "u", "typ": "Refresh"})
	h, p, s := strings.Split(good, ".")[0], strings.Split(good, ".")[1], strings.Split(good, ".")[2]
	payload, _ := base64.RawURLEncoding.DecodeString(p)
	return []string{
		good,
		mint(rk.active, map[string]any{"exp": 1}),                       // RS256
		b64([]byte(`{"alg":"none"}`)) + "." + p + ".",                   // alg none
		b64([]byte(`{"alg":"HS512","kid":"nope"}`)) + "." + p + "." + s, // unknown kid
		b64([]byte(`{"alg":"HS256","kid":"`+rk.hmac.kid+`"}`)) + "." + p + "." + s,
		b64([]byte(`{"ALG":"HS512","kid":"`+rk.hmac.kid+`"}`)) + "." + p + "." + s,
		b64([]byte(`{"alg":"HS512","kid":"`+rk.hmac.kid+`","crit":["b64"],"b64":false}`)) + "." + p + "." + s,
		h + "." + b64(bytes.Replace(payload, []byte(`"u"`), []byte(`"v"`), 1)) + "." + s, // payload altered
		h + "." + p + "." + s[:len(s)-2],                                                 // signature cut
		h + "." + p,
		h + "." + p + "." + s + ".x",
		h + "." + p + "." + s + "=",
		"{" + good + "}",
		"",
		"...",
	}
}

// verifiedHS512 accepts exactly what go-jose (with keygate's checks) accepts
// among HS512 tokens whose header holds only alg, kid and typ, and returns
// the same payload; anything else it refuses.
func TestVerifiedHS512AgreesWithJOSE(t *testing.T) {
	rk, err := buildRealmKeys(testKeys(t, time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i, tok := range hs512Tokens(t, rk) {
		checkHS512(t, rk, tok)
		if i == 0 {
			if _, err := verifiedHS512(rk, tok); err != nil {
				t.Fatalf("a good token: %v", err)
			}
		} else if _, err := verifiedHS512(rk, tok); err == nil {
			t.Errorf("token %d (%q) verified", i, tok)
		}
	}
}

func checkHS512(t *testing.T, rk *realmKeys, tok string) {
	t.Helper()
	fast, errFast := verifiedHS512(rk, tok)
	slow, errSlow := verifiedJOSE(rk, tok, algHS512)
	switch {
	case errFast == nil && errSlow != nil:
		t.Fatalf("%q: verifiedHS512 accepted what go-jose refused: %v", tok, errSlow)
	case errFast == nil && !bytes.Equal(fast, slow):
		t.Fatalf("%q: payloads differ: %q vs %q", tok, fast, slow)
	case errFast != nil && errSlow == nil && plainHeader(tok):
		t.Fatalf("%q: verifiedHS512 refused what go-jose accepted: %v", tok, errFast)
	}
}

// plainHeader: a compact token whose header has no names but alg, kid and
// typ (the only tokens verifiedHS512 means to accept).
func plainHeader(tok string) bool {
	h, _, _ := strings.Cut(tok, ".")
	hdr, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return false
	}
	s := string(hdr)
	for _, k := range []string{`"alg"`, `"kid"`, `"typ"`} {
		s = strings.ReplaceAll(s, k, "")
	}
	return strings.Count(s, `"`)%2 == 0 && !strings.Contains(s, `":`) && !strings.Contains(s, `\`)
}

func FuzzVerifiedHS512(f *testing.F) {
	rk, err := buildRealmKeys(testKeys(f, time.Now()), nil)
	if err != nil {
		f.Fatal(err)
	}
	for _, tok := range hs512Tokens(f, rk) {
		f.Add(tok)
	}
	f.Fuzz(func(t *testing.T, tok string) {
		checkHS512(t, rk, tok)
	})
}

// A refresh token's verification, as each refresh runs it.
func BenchmarkVerifyExpRefresh(b *testing.B) {
	rk, err := buildRealmKeys(testKeys(b, time.Now()), nil)
	if err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	claims := map[string]any{"exp": now.Add(time.Hour).Unix(), "iat": now.Unix(), "jti": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		"iss": "http://127.0.0.1:8080/realms/bench", "aud": "http://127.0.0.1:8080/realms/bench", "sub": "1b4e28ba-2fa1-11d2-883f-0016d3cca427",
		"typ": "Refresh", "azp": "bench-client", "scope": "openid profile email", "sid": "1b4e28ba-2fa1-11d2-883f-0016d3cca427"}
	tok, _, err := sign(rk.hmac, claims)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if err := verifyExp(rk, tok, algHS512, now); err != nil {
			b.Fatal(err)
		}
	}
}

// verifiedRefresh remembers one token per token response, and only for
// that token: another token in the same response is verified on its own,
// and a forgery is refused however often it is asked about.
func TestVerifiedRefreshOncePerToken(t *testing.T) {
	rk, err := buildRealmKeys(testKeys(t, time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	r := &Realm{keys: rk}
	mint := func(jti string) string {
		tok, _, err := sign(rk.hmac, map[string]any{"exp": time.Now().Add(time.Hour).Unix(), "iat": 7, "jti": jti, "typ": "Refresh"})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a, b := mint("fa.x"), mint("fb.y")
	forged := a[:strings.LastIndexByte(a, '.')+1] + strings.Repeat("A", 86)
	ctx, _ := withIssuance(t.Context())
	for range 2 {
		for tok, want := range map[string]string{a: "fa.x", b: "fb.y"} {
			if f, err := verifiedRefresh(ctx, r, tok); err != nil || f.JTI != want || f.Iat == nil || *f.Iat != 7 {
				t.Errorf("%s: %+v, %v", want, f, err)
			}
		}
		if _, err := verifiedRefresh(ctx, r, forged); err == nil {
			t.Error("a forged token verified")
		}
	}
}
