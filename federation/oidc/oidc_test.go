package oidc

import (
	"context"
	"crypto"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

func open(t *testing.T, f *fakeIdP, providerID string, kv ...string) federation.Broker {
	t.Helper()
	b, err := Open(context.Background(), testEnv(nil), idpOf(t, providerID, f.config(kv...)))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestStart(t *testing.T) {
	f := newFakeIdP(t)
	b := open(t, f, "oidc", "loginHint", "true", "passMaxAge", "true")
	req := federation.BrokerRequest{ID: "id-1", RelayState: "st-1", CallbackURL: callback, LoginHint: "alice", ForceAuthn: true, MaxAge: 5 * time.Minute}
	start, err := b.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(start.RedirectURL)
	q := u.Query()
	want := map[string]string{"response_type": "code", "client_id": "kg", "redirect_uri": callback, "scope": "openid profile email",
		"state": "st-1", "nonce": nonceFor("id-1"), "login_hint": "alice", "prompt": "login", "code_challenge_method": "S256", "tenant": "t1", "max_age": "300"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Errorf("%s = %q, want %q", k, q.Get(k), v)
		}
	}
	var st pending
	if err := json.Unmarshal(start.State, &st); err != nil || st.Verifier == "" || st.Redirect != callback {
		t.Fatalf("state %s: %v", start.State, err)
	}
	sum := sha256.Sum256([]byte(st.Verifier))
	if q.Get("code_challenge") != base64.RawURLEncoding.EncodeToString(sum[:]) {
		t.Error("code_challenge is not S256 of the verifier kept in the state")
	}
	if strings.Contains(start.RedirectURL, st.Verifier) || strings.Contains(start.RedirectURL, "id-1") {
		t.Error("the verifier or the login id travels to the browser")
	}

	// A configured prompt wins; no login_hint unless loginHint; plain PKCE;
	// no nonce when disabled.
	b = open(t, f, "oidc", "prompt", "consent", "pkceMethod", "plain", "disableNonce", "true")
	start, _ = b.Start(context.Background(), req)
	u, _ = url.Parse(start.RedirectURL)
	q = u.Query()
	_ = json.Unmarshal(start.State, &st)
	if q.Get("prompt") != "consent login" || q.Has("login_hint") || q.Has("max_age") || q.Get("code_challenge") != st.Verifier || q.Get("code_challenge_method") != "plain" || q.Has("nonce") {
		t.Errorf("query %v", q)
	}
	if _, err := b.Start(context.Background(), federation.BrokerRequest{ID: "x", CallbackURL: callback}); err == nil {
		t.Error("a login without a state")
	}
	if q.Has("ui_locales") || q.Has("acr_values") {
		t.Errorf("ui_locales or a client parameter sent unasked: %v", q)
	}

	// forwardParameters passes the client's own parameters on (only those
	// it names, never over the broker's own); uiLocales sends the page's
	// language.
	b = open(t, f, "oidc", "forwardParameters", "acr_values, domain_hint", "uiLocales", "true")
	req.ClientParams = url.Values{"acr_values": {"gold"}, "domain_hint": {"corp.example"}, "claims": {"{}"}, "state": {"forged"}, "redirect_uri": {"https://evil.example"}}
	req.UILocales = "de"
	start, _ = b.Start(context.Background(), req)
	u, _ = url.Parse(start.RedirectURL)
	q = u.Query()
	if q.Get("acr_values") != "gold" || q.Get("domain_hint") != "corp.example" || q.Has("claims") || q.Get("ui_locales") != "de" ||
		q.Get("state") != "st-1" || q.Get("redirect_uri") != callback || len(q["state"]) != 1 || len(q["redirect_uri"]) != 1 {
		t.Errorf("forwarded query %v", q)
	}
	// A forwarded prompt=none is the only prompt sent.
	req.PromptNone = true
	start, _ = b.Start(context.Background(), req)
	u, _ = url.Parse(start.RedirectURL)
	if got := u.Query()["prompt"]; len(got) != 1 || got[0] != "none" {
		t.Errorf("forwarded prompt=none sent prompt %v", got)
	}
	for _, own := range []string{"state", "redirect_uri", "nonce", "code_challenge"} {
		if err := ValidateConfig(f.config("forwardParameters", "acr_values,"+own)); err == nil || !strings.HasPrefix(err.Error(), "forwardParameters") {
			t.Errorf("forwardParameters naming %s: %v, want refused", own, err)
		}
	}
}

func TestFinish(t *testing.T) {
	f := newFakeIdP(t)
	b := open(t, f, "oidc")
	id, err := f.login(t, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "user-1" || id.Username != "Alice" || id.Email != "alice@corp.example" || id.FirstName != "Alice" || id.LastName != "Liddell" {
		t.Errorf("identity %+v", id)
	}
	if loc, _ := id.Claims["address"].(map[string]any); loc["locality"] != "Oxford" {
		t.Errorf("nested claims %v", id.Claims)
	}
	if got := id.Attributes["groups"]; len(got) != 2 || got[0] != "a" {
		t.Errorf("userinfo claims as attributes: %v", id.Attributes)
	}
	if _, ok := id.Attributes["address"]; ok {
		t.Error("an object claim flattened into an attribute")
	}
	var tok map[string]any
	if err := json.Unmarshal([]byte(id.Token), &tok); err != nil || tok["id_token"] == nil || tok["refresh_token"] != "refresh" || tok["accessTokenExpiration"] == nil {
		t.Errorf("token record %s: %v", id.Token, err)
	}

	// Userinfo as a signed JWT; names from "name" when given/family lack.
	f.userinfoJWT = true
	f.userinfo = map[string]any{"sub": "user-1", "name": "Alice Pleasance Liddell", "email": "a@x"}
	f.mint = func(nonce string) string {
		c := f.claims(nonce)
		delete(c, "given_name")
		delete(c, "family_name")
		delete(c, "preferred_username")
		return f.sign("ES256", "ec", c)
	}
	id, err = f.login(t, b, nil)
	if err != nil {
		t.Fatal(err)
	}
	if id.FirstName != "Alice Pleasance" || id.LastName != "Liddell" || id.Email != "a@x" || id.Username != "a@x" {
		t.Errorf("identity from a userinfo JWT: %+v", id)
	}
}

func TestClientAuthentication(t *testing.T) {
	rsaKey, ecKey := testRSA(t, 1), testEC(t)
	cert := selfSigned(t, rsaKey)
	cases := []struct {
		name, method string
		key          crypto.Signer
		kv           []string
		alg          string
	}{
		{"post", AuthSecretPost, nil, nil, ""},
		{"basic", AuthSecretBasic, nil, nil, ""},
		{"basic unencoded", AuthSecretBasicUnencoded, nil, nil, ""},
		{"secret jwt", AuthSecretJWT, nil, nil, "HS256"},
		{"secret jwt HS512", AuthSecretJWT, nil, []string{"clientAssertionSigningAlg", "HS512"}, "HS512"},
		{"private key jwt RSA", AuthPrivateKeyJWT, rsaKey, []string{"clientSecret", "-", "jwtX509HeadersEnabled", "true"}, "RS256"},
		{"private key jwt PS256", AuthPrivateKeyJWT, rsaKey, []string{"clientSecret", "-", "clientAssertionSigningAlg", "PS256"}, "PS256"},
		{"private key jwt EC", AuthPrivateKeyJWT, ecKey, []string{"clientSecret", "-"}, "ES256"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeIdP(t)
			f.method = c.method
			env := testEnv(c.key)
			if c.key != nil {
				f.clientKey = c.key.Public()
				env.Cert = cert
			}
			b, err := Open(context.Background(), env, idpOf(t, "oidc", f.config(c.kv...)))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.login(t, b, nil); err != nil {
				t.Fatalf("login: %v", err)
			}
			if c.alg == "" {
				return
			}
			if f.assertHdr["alg"] != c.alg || f.assertHdr["typ"] != "JWT" {
				t.Errorf("assertion header %v", f.assertHdr)
			}
			if c.key != nil {
				kid, _ := keyID(c.key.Public())
				if f.assertHdr["kid"] != kid {
					t.Errorf("kid %v, want %s", f.assertHdr["kid"], kid)
				}
				if _, x5t := f.assertHdr["x5t"]; x5t != strings.Contains(c.name, "RSA") {
					t.Errorf("x5t header %v", f.assertHdr)
				}
			}
			// The same method with a wrong secret or key is refused by the
			// token endpoint, and that is a refusal, not an outage.
			f.secret = "another"
			if c.key != nil {
				f.clientKey = testRSA(t, 2).Public()
			}
			_, err = f.login(t, b, nil)
			var idpErr *IdPError
			if !errors.As(err, &idpErr) || idpErr.Code != "invalid_client" || !errors.Is(err, federation.ErrBrokerRefused) {
				t.Errorf("wrong credentials: %v", err)
			}
		})
	}
}

func selfSigned(t *testing.T, key *rsa.PrivateKey) *x509.Certificate {
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "r"}, NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// Every way an ID token (or the answer around it) can be wrong is refused.
func TestFinishRefuses(t *testing.T) {
	otherKey := testRSA(t, 2)
	type tc struct {
		name  string
		setup func(f *fakeIdP)
		kv    []string
		extra url.Values
		want  string
	}
	claim := func(edit func(c map[string]any)) func(f *fakeIdP) {
		return func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				c := f.claims(nonce)
				edit(c)
				return f.sign("RS256", "rsa", c)
			}
		}
	}
	now := time.Now().Unix()
	cases := []tc{
		{name: "wrong nonce", setup: claim(func(c map[string]any) { c["nonce"] = nonceFor("another login") }), want: "nonce"},
		{name: "no nonce", setup: claim(func(c map[string]any) { delete(c, "nonce") }), want: "nonce"},
		{name: "wrong issuer", setup: claim(func(c map[string]any) { c["iss"] = "https://evil.example" }), want: "issuer"},
		{name: "wrong audience", setup: claim(func(c map[string]any) { c["aud"] = "another-client" }), want: "audience"},
		{name: "authorized party", setup: claim(func(c map[string]any) { c["aud"] = []any{"kg", "other"}; c["azp"] = "other" }), want: "azp"},
		{name: "several audiences without azp", setup: claim(func(c map[string]any) { c["aud"] = []any{"kg", "other"} }), want: "azp"},
		{name: "expired", setup: claim(func(c map[string]any) { c["exp"] = now - 60; c["iat"] = now - 600 }), want: "expired"},
		{name: "no expiry", setup: claim(func(c map[string]any) { delete(c, "exp") }), want: "expiry"},
		{name: "issued in the future", setup: claim(func(c map[string]any) { c["iat"] = now + 600 }), want: "future"},
		{name: "not yet valid", setup: claim(func(c map[string]any) { c["nbf"] = now + 600 }), want: "not valid yet"},
		{name: "an access token as ID token", setup: claim(func(c map[string]any) { c["typ"] = "Bearer" }), want: "type"},
		{name: "no subject", setup: claim(func(c map[string]any) { delete(c, "sub") }), want: "subject"},
		{name: "another key", setup: func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				s, _ := signJWT(map[string]any{"alg": "RS256", "kid": "rsa"}, f.claims(nonce), func(in []byte) ([]byte, error) { return keySign("RS256", otherKey, in) })
				return s
			}
		}, want: "signature"},
		{name: "another key without kid", setup: func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				s, _ := signJWT(map[string]any{"alg": "RS256"}, f.claims(nonce), func(in []byte) ([]byte, error) { return keySign("RS256", otherKey, in) })
				return s
			}
		}, want: "signature"},
		{name: "alg none", setup: func(f *fakeIdP) { f.mint = func(n string) string { return f.sign("none", "", f.claims(n)) } }, want: "algorithm"},
		{name: "HS256 with the client secret", setup: func(f *fakeIdP) { f.mint = func(n string) string { return f.sign("HS256", "", f.claims(n)) } }, want: "algorithm"},
		{name: "HS256 keyed with the public key", setup: func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				der, _ := x509.MarshalPKIXPublicKey(&f.key.PublicKey)
				pemKey := pemOf(t, &f.key.PublicKey)
				s, _ := signJWT(map[string]any{"alg": "HS256", "kid": "rsa"}, f.claims(nonce), func(in []byte) ([]byte, error) {
					m := hmac.New(sha256.New, append(der, pemKey...))
					m.Write(in)
					return m.Sum(nil), nil
				})
				return s
			}
		}, want: "algorithm"},
		{name: "tampered payload", setup: func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				parts := strings.Split(f.sign("RS256", "rsa", f.claims(nonce)), ".")
				c := f.claims(nonce)
				c["sub"] = "admin"
				raw, _ := json.Marshal(c)
				return parts[0] + "." + base64.RawURLEncoding.EncodeToString(raw) + "." + parts[2]
			}
		}, want: "signature"},
		{name: "at_hash", setup: claim(func(c map[string]any) { c["at_hash"] = "AAAAAAAAAAAAAAAAAAAAAA" }), want: "at_hash"},
		{name: "userinfo of another user", setup: func(f *fakeIdP) { f.userinfo = map[string]any{"sub": "user-2"} }, want: "userinfo"},
		{name: "access denied", extra: url.Values{"error": {"access_denied"}, "error_description": {"user cancelled"}}, want: "access_denied"},
		{name: "state of another login", extra: url.Values{"state": {"relay-2"}}, want: "state"},
		{name: "no code", extra: url.Values{"code": {""}}, want: "code"},
		{name: "bad code", extra: url.Values{"code": {"stolen"}}, want: "invalid_grant"},
		{name: "claim filter", kv: []string{"filteredByClaim", "true", "claimFilterName", "groups", "claimFilterValue", "admins"}, want: "filter"},
		{name: "replayed ID token", setup: func(f *fakeIdP) {
			f.mint = func(nonce string) string {
				c := f.claims(nonce)
				c["jti"] = "seen-before"
				return f.sign("RS256", "rsa", c)
			}
		}, want: "replayed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFakeIdP(t)
			if c.setup != nil {
				c.setup(f)
			}
			env := testEnv(nil)
			env.Replay = func(_ context.Context, id string, until time.Time) error {
				if strings.HasSuffix(id, ":seen-before") {
					return store.ErrConflict
				}
				return nil
			}
			b, err := Open(context.Background(), env, idpOf(t, "oidc", f.config(c.kv...)))
			if err != nil {
				t.Fatal(err)
			}
			_, err = f.login(t, b, c.extra)
			if !errors.Is(err, federation.ErrBrokerRefused) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want a refusal about %q", err, c.want)
			}
		})
	}
	// The claim filter passes when it matches.
	f := newFakeIdP(t)
	if _, err := f.login(t, open(t, f, "oidc", "filteredByClaim", "true", "claimFilterName", "groups", "claimFilterValue", "[ab]"), nil); err != nil {
		t.Errorf("matching claim filter: %v", err)
	}
	// access_denied is an *IdPError with the code.
	var idpErr *IdPError
	if _, err := f.login(t, open(t, f, "oidc"), url.Values{"error": {"access_denied\n"}}); !errors.As(err, &idpErr) || idpErr.Code != "access_denied" {
		t.Errorf("error=access_denied: %v", err)
	}
}

// A skew within allowedClockSkew is forgiven.
func TestClockSkew(t *testing.T) {
	f := newFakeIdP(t)
	f.mint = func(nonce string) string {
		c := f.claims(nonce)
		c["exp"] = time.Now().Unix() - 20
		return f.sign("RS256", "rsa", c)
	}
	if _, err := f.login(t, open(t, f, "oidc"), nil); err == nil {
		t.Error("20s past exp accepted with the default skew")
	}
	if _, err := f.login(t, open(t, f, "oidc", "allowedClockSkew", "30"), nil); err != nil {
		t.Errorf("20s past exp with allowedClockSkew 30: %v", err)
	}
}

// keycloak-oidc verifies the access token (a JWT) too, and its claims come
// first.
func TestKeycloakAccessToken(t *testing.T) {
	f := newFakeIdP(t)
	now := time.Now().Unix()
	f.access = f.sign("RS256", "rsa", map[string]any{"iss": f.issuer(), "sub": "user-1", "typ": "Bearer", "exp": now + 300, "iat": now,
		"realm_access": map[string]any{"roles": []any{"upstream-admin"}}, "email": "from-access@x"})
	id, err := f.login(t, open(t, f, "keycloak-oidc"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if ra, _ := id.Claims["realm_access"].(map[string]any); ra == nil || id.Claims["email"] != "from-access@x" {
		t.Errorf("access token claims %v", id.Claims)
	}
	f.access = f.sign("RS256", "rsa", map[string]any{"iss": f.issuer(), "sub": "user-1", "exp": now - 600})
	if _, err := f.login(t, open(t, f, "keycloak-oidc"), nil); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("an expired access token: %v", err)
	}
	f.access = "opaque"
	if _, err := f.login(t, open(t, f, "oidc", "isAccessTokenJWT", "true"), nil); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("an opaque access token where a JWT is configured: %v", err)
	}
}

// A provider that cannot be reached (or answers garbage) is unavailable,
// never a login of someone.
func TestUnavailable(t *testing.T) {
	f := newFakeIdP(t)
	f.tokenStatus, f.tokenBody = 503, "down"
	if _, err := f.login(t, open(t, f, "oidc"), nil); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("token endpoint 503: %v", err)
	}
	f.tokenStatus, f.tokenBody = 200, `{"access_token":"`+strings.Repeat("a", 2<<20)+`"}`
	if _, err := f.login(t, open(t, f, "oidc"), nil); err == nil || !strings.Contains(err.Error(), "too large") {
		t.Errorf("a 2 MiB token response: %v", err)
	}
	f.tokenStatus = 0
	f.jwksStatus = 500
	if _, err := f.login(t, open(t, f, "oidc"), nil); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("JWKS 500: %v", err)
	}
	f.jwksStatus = 0
	b := open(t, f, "oidc")
	f.srv.Close()
	if _, err := f.login(t, b, nil); !errors.Is(err, federation.ErrUnavailable) {
		t.Errorf("a provider that is gone: %v", err)
	}
}

// A static key (useJwksUrl off) verifies, and only it.
func TestStaticKey(t *testing.T) {
	f := newFakeIdP(t)
	b := open(t, f, "oidc", "useJwksUrl", "false", "jwksUrl", "-", "publicKeySignatureVerifier", pemOf(t, &f.key.PublicKey))
	if _, err := f.login(t, b, nil); err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKIXPublicKey(&f.ec.PublicKey)
	b = open(t, f, "oidc", "useJwksUrl", "false", "publicKeySignatureVerifier", base64.StdEncoding.EncodeToString(der))
	if _, err := f.login(t, b, nil); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("a token signed by a key other than the configured one: %v", err)
	}
	// validateSignature off: the token from the token endpoint is taken
	// as it is, but alg none still is not.
	b = open(t, f, "oidc", "validateSignature", "false")
	if _, err := f.login(t, b, nil); err != nil {
		t.Errorf("validateSignature false: %v", err)
	}
	f.mint = func(n string) string { return f.sign("none", "", f.claims(n)) }
	if _, err := f.login(t, b, nil); !errors.Is(err, federation.ErrBrokerRefused) {
		t.Errorf("alg none without signature validation: %v", err)
	}
}

func TestValidateConfig(t *testing.T) {
	f := newFakeIdP(t)
	cases := []struct {
		kv   []string
		want string
	}{
		{nil, ""},
		{[]string{"authorizationUrl", "-"}, "authorizationUrl"},
		{[]string{"tokenUrl", "ftp://x"}, "tokenUrl"},
		{[]string{"clientId", "-"}, "clientId"},
		{[]string{"clientSecret", "-"}, "clientSecret"},
		{[]string{"clientSecret", "-", "clientAuthMethod", "private_key_jwt"}, ""},
		{[]string{"clientAuthMethod", "tls_client_auth"}, "clientAuthMethod"},
		{[]string{"pkceMethod", "S512"}, "pkceMethod"},
		{[]string{"validateSignature", "yes"}, "validateSignature"},
		{[]string{"jwksUrl", "-"}, "jwksUrl"},
		{[]string{"useJwksUrl", "false"}, "publicKeySignatureVerifier"},
		{[]string{"useJwksUrl", "false", "publicKeySignatureVerifier", "not a key"}, "publicKeySignatureVerifier"},
		{[]string{"prompt", "always"}, "prompt"},
		{[]string{"prompt", "login consent"}, ""},
		{[]string{"allowedClockSkew", "-1"}, "allowedClockSkew"},
		{[]string{"syncMode", "SOMETIMES"}, "syncMode"},
		{[]string{"filteredByClaim", "true"}, "claimFilterName"},
		{[]string{"filteredByClaim", "true", "claimFilterName", "g", "claimFilterValue", "(?<=x)"}, "claimFilterValue"},
		{[]string{"clientAuthMethod", "client_secret_jwt", "clientAssertionSigningAlg", "RS256"}, "clientAssertionSigningAlg"},
		{[]string{"userInfoUrl", "http://user:pw@x/"}, "userInfoUrl"},
		{[]string{"guiOrder", "first"}, "guiOrder"},
	}
	for _, c := range cases {
		err := ValidateConfig(f.config(c.kv...))
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.HasPrefix(err.Error(), c.want)) {
			t.Errorf("%v: %v, want an error naming %q", c.kv, err, c.want)
		}
	}
	if _, err := Open(context.Background(), testEnv(nil), idpOf(t, "saml", f.config())); err == nil {
		t.Error("Open took a SAML provider")
	}
	if _, err := Open(context.Background(), testEnv(nil), idpOf(t, "oidc", f.config("clientSecret", "unsealed"))); err == nil {
		t.Error("a secret that does not reveal")
	}
	if _, err := Open(context.Background(), testEnv(nil), idpOf(t, "oidc", f.config("clientAuthMethod", "private_key_jwt"))); err == nil {
		t.Error("private_key_jwt without a realm key")
	}
}

func TestUnimplemented(t *testing.T) {
	f := newFakeIdP(t)
	got := Unimplemented(idpOf(t, "oidc", f.config("uiLocales", "true", "logoutUrl", "https://x/logout", "backchannelSupported", "false",
		"forwardParameters", "acr_values", "acceptsPromptNoneForwardFromClient", "true", "tokenIntrospectionUrl", "https://x/introspect")))
	if strings.Join(got, ",") != "tokenIntrospectionUrl" {
		t.Errorf("Unimplemented %v", got)
	}
	if got := Unimplemented(idpOf(t, "oidc", f.config())); len(got) != 0 {
		t.Errorf("defaults named unimplemented: %v", got)
	}
}

func TestParseDiscovery(t *testing.T) {
	cfg, err := ParseDiscovery([]byte(`{"issuer":"https://idp.example/realms/x","authorization_endpoint":"https://idp.example/auth",
		"token_endpoint":"https://idp.example/token","userinfo_endpoint":"https://idp.example/userinfo","jwks_uri":"https://idp.example/certs",
		"end_session_endpoint":"https://idp.example/logout","introspection_endpoint":"https://idp.example/introspect"}`))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"issuer": "https://idp.example/realms/x", "authorizationUrl": "https://idp.example/auth", "tokenUrl": "https://idp.example/token",
		"userInfoUrl": "https://idp.example/userinfo", "jwksUrl": "https://idp.example/certs", "useJwksUrl": "true", "validateSignature": "true",
		"logoutUrl": "https://idp.example/logout", "tokenIntrospectionUrl": "https://idp.example/introspect"}
	if len(cfg) != len(want) {
		t.Errorf("config %v", cfg)
	}
	for k, v := range want {
		if cfg[k] != v {
			t.Errorf("%s = %q, want %q", k, cfg[k], v)
		}
	}
	for _, bad := range []string{`[]`, `{"issuer":"x"}`, `{"issuer":"x","authorization_endpoint":"javascript:x","token_endpoint":"https://t"}`} {
		if _, err := ParseDiscovery([]byte(bad)); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
