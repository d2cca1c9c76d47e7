package oidc

import (
	"errors"
	"strings"
	"testing"
	"time"
)

// verify and verifyExp (fosite's validations, which need no claims) agree
// on every token: good, expired, without or with a malformed exp, signed
// with another algorithm or an unknown key, or altered.
func TestVerifyAndVerifyExpAgree(t *testing.T) {
	rk, err := buildRealmKeys(testKeys(t, time.Now()), nil)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	mint := func(key *signingKey, claims map[string]any) string {
		t.Helper()
		tok, _, err := sign(key, claims)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := mint(rk.hmac, map[string]any{"exp": now.Add(time.Minute).Unix(), "sub": "u"})
	parts := strings.Split(good, ".")
	for _, tc := range []struct {
		name, token, alg string
		want             error
	}{
		{"good", good, algHS512, nil},
		{"expired", mint(rk.hmac, map[string]any{"exp": now.Add(-time.Second).Unix()}), algHS512, errTokenExpired},
		{"no exp", mint(rk.hmac, map[string]any{"sub": "u"}), algHS512, errTokenMalformed},
		{"exp a string", mint(rk.hmac, map[string]any{"exp": "9999999999"}), algHS512, errTokenMalformed},
		{"exp a fraction", mint(rk.hmac, map[string]any{"exp": 9999999999.5}), algHS512, errTokenMalformed},
		{"RS256 where HS512 is wanted", mint(rk.active, map[string]any{"exp": now.Add(time.Minute).Unix()}), algHS512, errTokenSignature},
		{"asymmetric", mint(rk.active, map[string]any{"exp": now.Add(time.Minute).Unix()}), algAsym, nil},
		{"payload altered", parts[0] + "." + strings.TrimRight(parts[1], "Q") + "x." + parts[2], algHS512, nil},
		{"not a JWT", "abc", algHS512, errTokenMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errFull := verify(rk, tc.token, tc.alg, now)
			errExp := verifyExp(rk, tc.token, tc.alg, now)
			if errFull != errExp {
				t.Fatalf("verify: %v, verifyExp: %v", errFull, errExp)
			}
			if tc.name == "payload altered" {
				if errExp == nil {
					t.Fatal("an altered payload verified")
				}
				return
			}
			if !errors.Is(errExp, tc.want) || (tc.want == nil) != (errExp == nil) {
				t.Fatalf("got %v, want %v", errExp, tc.want)
			}
		})
	}
}
