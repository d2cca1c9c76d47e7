package oidc

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

const (
	fuzzIssuer = "https://idp.example/realms/up"
	fuzzClient = "kg"
	fuzzNonce  = "nonce-1"
)

var fuzzNow = time.Unix(1_800_000_000, 0)

// idTokenFixture is a broker that validates ID tokens with static keys
// (the test RSA and EC keys), so that no request leaves the test.
func idTokenFixture(t testing.TB, replay func(context.Context, string, time.Time) error) *Broker {
	t.Helper()
	keysOnce.Do(makeKeys)
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	var pems []string
	for _, pub := range []any{&rsaKeys[0].PublicKey, &ecKey.PublicKey} {
		der, err := x509.MarshalPKIXPublicKey(pub)
		if err != nil {
			t.Fatal(err)
		}
		pems = append(pems, string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})))
	}
	cfg := map[string]string{
		"authorizationUrl": "https://idp.example/auth", "tokenUrl": "https://idp.example/token",
		"issuer": fuzzIssuer, "clientId": fuzzClient, "clientSecret": "s", "validateSignature": "true", "useJwksUrl": "false",
		"publicKeySignatureVerifier": strings.Join(pems, "\n"), "allowedClockSkew": "30",
	}
	raw, err := json.Marshal(map[string]any{"alias": "up", "providerId": ProviderOIDC, "enabled": true, "config": cfg})
	if err != nil {
		t.Fatal(err)
	}
	env := federation.BrokerEnv{Now: func() time.Time { return fuzzNow }, Replay: replay}
	b, err := Open(context.Background(), env, store.IdentityProvider{Alias: "up", ProviderID: ProviderOIDC, Enabled: true, Config: raw})
	if err != nil {
		t.Fatal(err)
	}
	return b.(*Broker)
}

// idTokenSeeds are ID tokens signed by the test keys: a good one, and
// ones whose times, audience, nonce or type are wrong or extreme.
func idTokenSeeds(t testing.TB) []string {
	t.Helper()
	now := fuzzNow.Unix()
	good := func() map[string]any {
		return map[string]any{"iss": fuzzIssuer, "sub": "user-1", "aud": fuzzClient, "exp": now + 300, "iat": now, "nonce": fuzzNonce}
	}
	with := seedClaims(good)
	sign := seedSigner(t, "JWT")
	var out []string
	for _, c := range []map[string]any{
		good(), with("exp", nil), with("exp", now-3600), with("exp", 1e10), with("exp", 1e19), with("exp", 1e300), with("exp", -1e19),
		with("exp", "9999999999"), with("exp", 9.3e9), with("nbf", 1e10), with("nbf", 1e19), with("nbf", now+3600), with("iat", 1e10),
		with("iat", 9.3e9), with("iat", now+3600), with("nbf", -1e300), with("exp", now-29), with("exp", 1.5), with("exp", float64(now)+0.5),
		with("aud", []any{fuzzClient, "other"}), with("aud", []any{fuzzClient, "other"}, "azp", fuzzClient), with("azp", "other"),
		with("nonce", "x"), with("sub", ""), with("iss", "https://evil.example"), with("typ", "Bearer"), with("typ", "id"),
	} {
		out = append(out, sign("RS256", c))
	}
	out = append(out, sign("ES256", good()), sign("PS256", good()), sign("RS512", good()))
	g := strings.Split(out[0], ".")
	b64 := base64.RawURLEncoding.EncodeToString
	out = append(out,
		b64([]byte(`{"alg":"none"}`))+"."+g[1]+".",
		b64([]byte(`{"alg":"HS256"}`))+"."+g[1]+"."+g[2],
		g[0]+"."+b64([]byte(`{"iss":"`+fuzzIssuer+`","sub":"admin","aud":"kg","exp":9999999999,"nonce":"`+fuzzNonce+`"}`))+"."+g[2],
		`{"protected":"`+g[0]+`","payload":"`+g[1]+`","signature":"`+g[2]+`"}`,
		"", "..", "a.b.c")
	return out
}

// seedClaims returns good's claims with kv's changes: name, value pairs,
// a nil value deleting the claim.
func seedClaims(good func() map[string]any) func(kv ...any) map[string]any {
	return func(kv ...any) map[string]any {
		c := good()
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] == nil {
				delete(c, kv[i].(string))
			} else {
				c[kv[i].(string)] = kv[i+1]
			}
		}
		return c
	}
}

// seedSigner signs seed claims with the test keys (EC for ES*, RSA
// otherwise), typ in the header.
func seedSigner(t testing.TB, typ string) func(alg string, claims map[string]any) string {
	return func(alg string, claims map[string]any) string {
		s, err := signJWT(map[string]any{"alg": alg, "typ": typ}, claims, func(in []byte) ([]byte, error) {
			if strings.HasPrefix(alg, "ES") {
				return keySign(alg, ecKey, in)
			}
			return keySign(alg, rsaKeys[0], in)
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

// timeClaim is an ID token time claim as the oracle reads it: a JSON
// number, or a string holding one.
func timeClaim(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil && !math.IsNaN(f) && !math.IsInf(f, 0)
	}
	return 0, false
}

// FuzzIDToken drives the ID token checks of Finish. Oracle: an accepted
// token is a compact JWS that verifies with one of the configured keys,
// names the configured issuer, this client and this login's nonce, has a
// subject, and its exp, iat and nbf, compared as numbers, are within the
// allowed clock skew of now.
func FuzzIDToken(f *testing.F) {
	b := idTokenFixture(f, nil)
	for _, tok := range idTokenSeeds(f) {
		f.Add(tok)
	}
	nowF, skewF := float64(fuzzNow.Unix()), b.skew.Seconds()
	f.Fuzz(func(t *testing.T, raw string) {
		_, claims, err := b.verifyIDToken(context.Background(), raw, pending{Nonce: fuzzNonce, Redirect: callback})
		if err != nil {
			return
		}
		obj, perr := jose.ParseSignedCompact(raw, joseAlgs)
		if perr != nil || len(obj.Signatures) != 1 {
			t.Fatalf("%q accepted, but it is no compact JWS: %v", raw, perr)
		}
		_, errRSA := obj.Verify(&rsaKeys[0].PublicKey)
		_, errEC := obj.Verify(&ecKey.PublicKey)
		if errRSA != nil && errEC != nil {
			t.Fatalf("%q accepted without a valid signature", raw)
		}
		if claims["iss"] != fuzzIssuer || claims["nonce"] != fuzzNonce || claims["sub"] == "" {
			t.Fatalf("%q accepted with iss %v, nonce %v, sub %v", raw, claims["iss"], claims["nonce"], claims["sub"])
		}
		switch aud := claims["aud"].(type) {
		case string:
			if aud != fuzzClient {
				t.Fatalf("%q accepted for audience %q", raw, aud)
			}
		case []any:
			if !slices.Contains(aud, any(fuzzClient)) {
				t.Fatalf("%q accepted for audiences %v", raw, aud)
			}
		default:
			t.Fatalf("%q accepted with aud %v", raw, aud)
		}
		// Times, off the boundary by more than rounding.
		exp, ok := timeClaim(claims["exp"])
		if !ok {
			t.Fatalf("%q accepted with exp %v", raw, claims["exp"])
		}
		if d := nowF - (exp + skewF); d > 1e-3 {
			t.Fatalf("%q accepted, expired %gs ago (exp %v)", raw, d, claims["exp"])
		}
		for _, name := range []string{"iat", "nbf"} {
			v, present := claims[name]
			if !present {
				continue
			}
			at, ok := timeClaim(v)
			if !ok {
				continue // not a date: ignored, as Keycloak does
			}
			if d := at - (nowF + skewF); d > 1e-3 {
				t.Fatalf("%q accepted with %s %gs in the future (%v)", raw, name, d, v)
			}
		}
	})
}

// FuzzParseDiscovery: a discovery document from any server (import-config
// fromUrl) never panics, and what it yields is a config whose URLs are
// absolute http(s) URLs without credentials, which ValidateConfig takes
// once a client is added.
func FuzzParseDiscovery(f *testing.F) {
	f.Add([]byte(`{"issuer":"https://idp.example/realms/x","authorization_endpoint":"https://idp.example/auth",
		"token_endpoint":"https://idp.example/token","userinfo_endpoint":"https://idp.example/userinfo","jwks_uri":"https://idp.example/certs",
		"end_session_endpoint":"https://idp.example/logout","introspection_endpoint":"https://idp.example/introspect"}`))
	for _, s := range []string{`[]`, `{"issuer":"x"}`, `{"issuer":"x","authorization_endpoint":"javascript:x","token_endpoint":"https://t"}`,
		`{"issuer":"x","authorization_endpoint":"https://a","token_endpoint":"https://t","jwks_uri":"https://u:p@k"}`,
		`{"issuer":"x","authorization_endpoint":" https://a","token_endpoint":"https://t\n"}`, `null`, `{"issuer":1}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		cfg, err := ParseDiscovery(doc)
		if err != nil {
			return
		}
		for _, k := range urlKeys {
			if v, ok := cfg[k]; ok {
				if err := checkURL(strings.TrimSpace(v)); err != nil {
					t.Fatalf("%s %q: %v", k, v, err)
				}
			}
		}
		cfg["clientId"], cfg["clientSecret"] = "kg", "s"
		if err := ValidateConfig(cfg); err != nil {
			t.Fatalf("%s: the imported config does not validate: %v", doc, err)
		}
	})
}

// FuzzClaimFilter: claimFilterValue is a regular expression the whole
// claim value must match (Keycloak's Pattern.matches): a value that is
// not a regular expression by itself is refused, and one that is matches
// exactly the strings it matches whole.
func FuzzClaimFilter(f *testing.F) {
	for _, s := range []string{"admins", "[ab]", "(?<=x)", "a|b", "a)|(b", ".*", `\Qa)|(b\E`, "(?i)x", "", `a\`} {
		f.Add(s, "admins")
		f.Add(s, "b")
	}
	f.Fuzz(func(t *testing.T, value, claim string) {
		s, err := parseSettings(map[string]string{"authorizationUrl": "https://a", "tokenUrl": "https://t", "clientId": "kg", "clientSecret": "s",
			"filteredByClaim": "true", "claimFilterName": "groups", "claimFilterValue": value})
		alone, errAlone := regexp.Compile(value)
		if err != nil {
			return
		}
		if errAlone != nil {
			t.Fatalf("claimFilterValue %q accepted, but it is no regular expression: %v", value, errAlone)
		}
		// alone matches claim whole when its leftmost-longest match is all
		// of it.
		alone.Longest()
		loc := alone.FindStringIndex(claim)
		whole := loc != nil && loc[0] == 0 && loc[1] == len(claim)
		if got := s.filterRE.MatchString(claim); got != whole {
			t.Fatalf("claimFilterValue %q on %q: filter says %v, whole match %v", value, claim, got, whole)
		}
	})
}

// Time claims past 2262 overflowed numericDate's time.Duration: an nbf or
// iat of 1e10 (year 2286) passed as if in 1677, an exp of 1e10 was taken
// for expired, and the replay record of a token whose exp overflowed
// go-oidc's Expiry would have expired at once.
func TestIDTokenFarFutureDates(t *testing.T) {
	var until time.Time
	b := idTokenFixture(t, func(_ context.Context, _ string, u time.Time) error {
		until = u
		return nil
	})
	now := fuzzNow.Unix()
	sign := func(kv ...any) string {
		c := map[string]any{"iss": fuzzIssuer, "sub": "user-1", "aud": fuzzClient, "exp": now + 300, "iat": now, "nonce": fuzzNonce, "jti": "j"}
		for i := 0; i+1 < len(kv); i += 2 {
			c[kv[i].(string)] = kv[i+1]
		}
		tok, err := signJWT(map[string]any{"alg": "RS256"}, c, func(in []byte) ([]byte, error) { return keySign("RS256", rsaKeys[0], in) })
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for _, c := range []struct {
		name  string
		kv    []any
		valid bool
	}{
		{"nbf in 2286", []any{"nbf", 1e10}, false},
		{"nbf past int64 nanoseconds", []any{"nbf", 1e19}, false},
		{"iat in 2264", []any{"iat", 9.3e9}, false},
		{"exp in 2286", []any{"exp", 1e10}, true},
		{"exp past int64 seconds", []any{"exp", 1e300}, true},
		{"exp long past", []any{"exp", -1e19}, false},
	} {
		until = time.Time{}
		_, _, err := b.verifyIDToken(context.Background(), sign(c.kv...), pending{Nonce: fuzzNonce})
		if (err == nil) != c.valid {
			t.Errorf("%s: %v, want valid %v", c.name, err, c.valid)
		}
		if err == nil && !until.After(fuzzNow.Add(time.Hour)) {
			t.Errorf("%s: the replay record expires %v", c.name, until)
		}
	}
}

// claimFilterValue "a)|(b" compiled wrapped as ^(?:a)|(b)$, which matched
// any claim starting with a or ending with b; it is refused now.
func TestClaimFilterValueIsOneRegexp(t *testing.T) {
	base := map[string]string{"authorizationUrl": "https://a", "tokenUrl": "https://t", "clientId": "kg", "clientSecret": "s",
		"filteredByClaim": "true", "claimFilterName": "groups"}
	for _, v := range []string{"a)|(b", "x)(y", "a)|.*|(b"} {
		base["claimFilterValue"] = v
		if err := ValidateConfig(base); err == nil || !strings.HasPrefix(err.Error(), "claimFilterValue") {
			t.Errorf("%q: %v", v, err)
		}
	}
	base["claimFilterValue"] = "admins|staff"
	s, err := parseSettings(base)
	if err != nil {
		t.Fatal(err)
	}
	for claim, want := range map[string]bool{"admins": true, "staff": true, "admins2": false, "xstaff": false} {
		if got := s.filterRE.MatchString(claim); got != want {
			t.Errorf("%q: %v", claim, got)
		}
	}
}

// logoutTokenSeeds are back-channel logout tokens signed by the test
// keys: a good one and ones missing or breaking each rule of §2.6.
func logoutTokenSeeds(t testing.TB) []string {
	t.Helper()
	now := fuzzNow.Unix()
	event := map[string]any{backchannelLogoutEvent: map[string]any{}}
	good := func() map[string]any {
		return map[string]any{"iss": fuzzIssuer, "sub": "user-1", "sid": "sid-1", "aud": fuzzClient, "iat": now, "exp": now + 120,
			"jti": "jti-1", "events": event}
	}
	with := seedClaims(good)
	sign := seedSigner(t, "logout+jwt")
	var out []string
	for i, c := range []map[string]any{
		good(), with("exp", nil), with("exp", nil, "iat", now-3600), with("exp", now-3600), with("iat", nil), with("iat", "x"),
		with("events", nil), with("events", map[string]any{backchannelLogoutEvent: true}), with("events", []any{backchannelLogoutEvent}),
		with("nonce", "n"), with("jti", nil), with("jti", 7), with("sub", nil, "sid", nil), with("sub", nil), with("sid", nil),
		with("aud", "other"), with("aud", []any{"other", fuzzClient}), with("iss", "https://evil.example"), with("iat", now+3600),
	} {
		if j, ok := c["jti"].(string); ok {
			c["jti"] = j + "-" + strconv.Itoa(i) // each seed its own, so replay refuses none of them
		}
		out = append(out, sign("RS256", c))
	}
	out = append(out, sign("ES256", with("jti", "jti-es")), sign("PS256", with("jti", "jti-ps")))
	g := strings.Split(out[0], ".")
	b64 := base64.RawURLEncoding.EncodeToString
	return append(out,
		b64([]byte(`{"alg":"none"}`))+"."+g[1]+".",
		b64([]byte(`{"alg":"HS256"}`))+"."+g[1]+"."+g[2],
		g[0]+"."+b64([]byte(`{"iss":"`+fuzzIssuer+`","sub":"admin","aud":"kg","iat":1800000000,"jti":"forged","events":{"`+backchannelLogoutEvent+`":{}}}`))+"."+g[2],
		"", "..", "a.b.c")
}

// FuzzLogoutToken drives VerifyLogoutToken, which takes tokens from
// anyone (the back-channel logout endpoint). Oracle: an accepted token is
// a compact JWS that verifies with a configured key, names the issuer,
// this client among its audiences, the logout event, a jti, a sub or sid,
// no nonce, an iat, and is not expired beyond the skew; presented again,
// it is refused as a replay.
func FuzzLogoutToken(f *testing.F) {
	seen := map[string]bool{}
	replay := func(_ context.Context, key string, _ time.Time) error {
		if seen[key] {
			return store.ErrConflict
		}
		seen[key] = true
		return nil
	}
	b := idTokenFixture(f, replay)
	seeds := logoutTokenSeeds(f)
	// The oracle has work: on a broker of its own, the good seeds pass and
	// the forged ones do not.
	check := idTokenFixture(f, func(context.Context, string, time.Time) error { return nil })
	for i, want := range map[int]bool{0: true, 1: true, 16: true, len(seeds) - 8: true, len(seeds) - 7: true,
		len(seeds) - 6: false, len(seeds) - 5: false, len(seeds) - 4: false} {
		if _, _, err := check.VerifyLogoutToken(context.Background(), seeds[i]); (err == nil) != want {
			f.Fatalf("seed %d accepted %v, want %v: %v", i, err == nil, want, err)
		}
	}
	for _, tok := range seeds {
		f.Add(tok)
	}
	nowF, skewF := float64(fuzzNow.Unix()), b.skew.Seconds()
	f.Fuzz(func(t *testing.T, raw string) {
		sub, sid, err := b.VerifyLogoutToken(context.Background(), raw)
		if err != nil {
			return
		}
		obj, perr := jose.ParseSignedCompact(raw, joseAlgs)
		if perr != nil || len(obj.Signatures) != 1 {
			t.Fatalf("%q accepted, but it is no compact JWS: %v", raw, perr)
		}
		payload, errRSA := obj.Verify(&rsaKeys[0].PublicKey)
		if errRSA != nil {
			var errEC error
			if payload, errEC = obj.Verify(&ecKey.PublicKey); errEC != nil {
				t.Fatalf("%q accepted without a valid signature", raw)
			}
		}
		var claims map[string]any
		if err := json.Unmarshal(payload, &claims); err != nil {
			t.Fatalf("%q accepted with claims that are no JSON object: %v", raw, err)
		}
		if claims["iss"] != fuzzIssuer {
			t.Fatalf("%q accepted from issuer %v", raw, claims["iss"])
		}
		if aud, ok := claims["aud"].(string); !(ok && aud == fuzzClient) && !slices.Contains(stringList(claims["aud"]), fuzzClient) {
			t.Fatalf("%q accepted for audience %v", raw, claims["aud"])
		}
		events, _ := claims["events"].(map[string]any)
		if _, ok := events[backchannelLogoutEvent].(map[string]any); !ok {
			t.Fatalf("%q accepted without the logout event: %v", raw, claims["events"])
		}
		if _, ok := claims["nonce"]; ok {
			t.Fatalf("%q accepted with a nonce", raw)
		}
		if j, _ := claims["jti"].(string); j == "" {
			t.Fatalf("%q accepted without jti", raw)
		}
		if sub == "" && sid == "" || sub != claims["sub"] && sub != "" || sid != claims["sid"] && sid != "" {
			t.Fatalf("%q accepted naming sub %q sid %q (claims %v, %v)", raw, sub, sid, claims["sub"], claims["sid"])
		}
		if _, ok := claims["iat"]; !ok {
			t.Fatalf("%q accepted without iat", raw)
		}
		if exp, ok := timeClaim(claims["exp"]); ok {
			if d := nowF - (exp + skewF); d > 1e-3 {
				t.Fatalf("%q accepted, expired %gs ago", raw, d)
			}
		}
		if _, _, err := b.VerifyLogoutToken(context.Background(), raw); err == nil {
			t.Fatalf("%q accepted twice", raw)
		}
	})
}
