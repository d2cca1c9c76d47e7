package oidc

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// fakeIdP is a small OpenID provider whose tokens the test shapes: it
// checks the client's authentication and the PKCE verifier as a real one
// would, and answers the code with whatever ID token mint makes.
type fakeIdP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey // publishes as kid "rsa"
	ec  *ecdsa.PrivateKey

	mu sync.Mutex
	// Set by the test.
	clientID, secret string
	method           string           // expected client authentication
	clientKey        crypto.PublicKey // private_key_jwt verification key
	challenge        string           // last code_challenge (from the test)
	mint             func(nonce string) string
	access           string
	userinfo         map[string]any
	userinfoJWT      bool
	tokenStatus      int
	tokenBody        string
	jwksStatus       int
	// Seen.
	assertion map[string]any
	assertHdr map[string]any
	nonce     string
}

func newFakeIdP(t *testing.T) *fakeIdP {
	f := &fakeIdP{t: t, clientID: "kg", secret: "s3cret+/=", method: AuthSecretPost, access: "opaque-access-token"}
	f.key, f.ec = testRSA(t, 0), testEC(t)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /jwks", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		status := f.jwksStatus
		f.mu.Unlock()
		if status != 0 {
			w.WriteHeader(status)
			return
		}
		set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
			{Key: &f.key.PublicKey, KeyID: "rsa", Algorithm: "RS256", Use: "sig"},
			{Key: &f.ec.PublicKey, KeyID: "ec", Algorithm: "ES256", Use: "sig"}}}
		_ = json.NewEncoder(w).Encode(set)
	})
	mux.HandleFunc("POST /token", f.token)
	mux.HandleFunc("GET /userinfo", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer "+f.access {
			w.WriteHeader(401)
			return
		}
		if f.userinfoJWT {
			w.Header().Set("Content-Type", "application/jwt")
			_, _ = w.Write([]byte(f.sign("RS256", "rsa", f.userinfo)))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(f.userinfo)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	f.userinfo = map[string]any{"sub": "user-1", "preferred_username": "Alice", "email": "alice@corp.example", "groups": []any{"a", "b"}}
	f.mint = func(nonce string) string { return f.sign("RS256", "rsa", f.claims(nonce)) }
	return f
}

// Test keys, made once: RSA key generation dominates the tests' time.
var (
	keysOnce sync.Once
	rsaKeys  [3]*rsa.PrivateKey
	ecKey    *ecdsa.PrivateKey
	keysErr  error
)

func makeKeys() {
	for i := range rsaKeys {
		if rsaKeys[i], keysErr = rsa.GenerateKey(rand.Reader, 2048); keysErr != nil {
			return
		}
	}
	ecKey, keysErr = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
}

// testRSA is the i-th test RSA key (0: the fake IdP's).
func testRSA(t *testing.T, i int) *rsa.PrivateKey {
	keysOnce.Do(makeKeys)
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return rsaKeys[i]
}

func testEC(t *testing.T) *ecdsa.PrivateKey {
	keysOnce.Do(makeKeys)
	if keysErr != nil {
		t.Fatal(keysErr)
	}
	return ecKey
}

func (f *fakeIdP) issuer() string { return f.srv.URL }

// claims are a valid ID token's claims.
func (f *fakeIdP) claims(nonce string) map[string]any {
	now := time.Now().Unix()
	return map[string]any{"iss": f.issuer(), "sub": "user-1", "aud": f.clientID, "exp": now + 300, "iat": now, "nonce": nonce,
		"preferred_username": "Alice", "given_name": "Alice", "family_name": "Liddell", "email": "alice@corp.example",
		"jti": base64.RawURLEncoding.EncodeToString(randBytes(9)), "address": map[string]any{"locality": "Oxford"}}
}

func randBytes(n int) []byte {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return b
}

// sign makes a JWT with alg: RS*/PS* with the RSA key, ES256 with the EC
// key, HS* with the client secret, "none" unsigned.
func (f *fakeIdP) sign(alg, kid string, claims map[string]any) string {
	hdr := map[string]any{"alg": alg, "typ": "JWT"}
	if kid != "" {
		hdr["kid"] = kid
	}
	if alg == "none" {
		h, _ := json.Marshal(hdr)
		c, _ := json.Marshal(claims)
		return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(c) + "."
	}
	s, err := signJWT(hdr, claims, func(in []byte) ([]byte, error) {
		switch {
		case strings.HasPrefix(alg, "HS"):
			return macSign(alg, []byte(f.secret), in)
		case strings.HasPrefix(alg, "ES"):
			return keySign(alg, f.ec, in)
		default:
			return keySign(alg, f.key, in)
		}
	})
	if err != nil {
		f.t.Fatal(err)
	}
	return s
}

func (f *fakeIdP) token(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fail := func(status int, code string) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": "test says " + code})
	}
	if f.tokenStatus != 0 {
		w.WriteHeader(f.tokenStatus)
		_, _ = w.Write([]byte(f.tokenBody))
		return
	}
	if err := r.ParseForm(); err != nil {
		fail(400, "invalid_request")
		return
	}
	if !f.authenticated(r) {
		fail(401, "invalid_client")
		return
	}
	if r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("code") != "good-code" || r.PostForm.Get("redirect_uri") != "https://kg.example/realms/r/broker/up/endpoint" {
		fail(400, "invalid_grant")
		return
	}
	if f.challenge != "" {
		sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
		if base64.RawURLEncoding.EncodeToString(sum[:]) != f.challenge {
			fail(400, "invalid_grant")
			return
		}
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": f.access, "token_type": "Bearer", "expires_in": 300,
		"refresh_token": "refresh", "id_token": f.mint(f.nonce), "session_state": "ss"})
}

// authenticated checks the client as the test's method wants it.
func (f *fakeIdP) authenticated(r *http.Request) bool {
	user, pass, basic := r.BasicAuth()
	switch f.method {
	case AuthSecretPost:
		return !basic && r.PostForm.Get("client_id") == f.clientID && r.PostForm.Get("client_secret") == f.secret
	case AuthSecretBasic:
		u, _ := url.QueryUnescape(user)
		p, _ := url.QueryUnescape(pass)
		return basic && u == f.clientID && p == f.secret && r.PostForm.Get("client_secret") == ""
	case AuthSecretBasicUnencoded:
		return basic && user == f.clientID && pass == f.secret
	case AuthSecretJWT, AuthPrivateKeyJWT:
		if r.PostForm.Get("client_assertion_type") != "urn:ietf:params:oauth:client-assertion-type:jwt-bearer" || r.PostForm.Get("client_secret") != "" {
			return false
		}
		parts := strings.Split(r.PostForm.Get("client_assertion"), ".")
		if len(parts) != 3 {
			return false
		}
		h, _ := base64.RawURLEncoding.DecodeString(parts[0])
		c, _ := base64.RawURLEncoding.DecodeString(parts[1])
		sig, _ := base64.RawURLEncoding.DecodeString(parts[2])
		f.assertHdr, f.assertion = map[string]any{}, map[string]any{}
		if json.Unmarshal(h, &f.assertHdr) != nil || json.Unmarshal(c, &f.assertion) != nil {
			return false
		}
		in := []byte(parts[0] + "." + parts[1])
		alg, _ := f.assertHdr["alg"].(string)
		ok := false
		switch pub := f.clientKey.(type) {
		case nil:
			mac, err := macSign(alg, []byte(f.secret), in)
			ok = err == nil && hmac.Equal(mac, sig) && f.method == AuthSecretJWT
		case *rsa.PublicKey:
			h, _ := hashOf(alg)
			d := h.New()
			d.Write(in)
			if strings.HasPrefix(alg, "PS") {
				ok = rsa.VerifyPSS(pub, h, d.Sum(nil), sig, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash}) == nil
			} else {
				ok = rsa.VerifyPKCS1v15(pub, h, d.Sum(nil), sig) == nil
			}
		case *ecdsa.PublicKey:
			d := sha256.Sum256(in)
			rr, ss := new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])
			ok = alg == "ES256" && ecdsa.Verify(pub, d[:], rr, ss)
		}
		now := float64(time.Now().Unix())
		exp, _ := f.assertion["exp"].(float64)
		return ok && f.assertion["iss"] == f.clientID && f.assertion["sub"] == f.clientID && f.assertion["aud"] == f.srv.URL+"/token" &&
			f.assertion["jti"] != "" && exp > now && exp <= now+120 && r.PostForm.Get("client_id") == f.clientID
	}
	return false
}

// config is the provider's Keycloak config for this IdP.
func (f *fakeIdP) config(kv ...string) map[string]string {
	c := map[string]string{
		"authorizationUrl": f.srv.URL + "/auth?tenant=t1", "tokenUrl": f.srv.URL + "/token", "userInfoUrl": f.srv.URL + "/userinfo",
		"jwksUrl": f.srv.URL + "/jwks", "useJwksUrl": "true", "validateSignature": "true", "issuer": f.issuer(),
		"clientId": f.clientID, "clientSecret": "sealed:" + f.secret, "clientAuthMethod": f.method,
		"pkceEnabled": "true", "pkceMethod": "S256", "defaultScope": "profile email", "syncMode": "IMPORT",
	}
	for i := 0; i+1 < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(c, kv[i])
		} else {
			c[kv[i]] = kv[i+1]
		}
	}
	return c
}

func idpOf(t *testing.T, providerID string, config map[string]string) store.IdentityProvider {
	raw, err := json.Marshal(map[string]any{"alias": "up", "providerId": providerID, "enabled": true, "config": config})
	if err != nil {
		t.Fatal(err)
	}
	return store.IdentityProvider{Alias: "up", ProviderID: providerID, Enabled: true, Config: raw}
}

func testEnv(key crypto.Signer) federation.BrokerEnv {
	return federation.BrokerEnv{HTTP: &http.Client{Timeout: 5 * time.Second}, Key: key, Now: time.Now,
		Reveal: func(v string) (string, error) {
			if s, ok := strings.CutPrefix(v, "sealed:"); ok {
				return s, nil
			}
			return "", errors.New("not sealed")
		}}
}

const callback = "https://kg.example/realms/r/broker/up/endpoint"

// login runs Start and Finish against f as a browser would in between:
// the IdP sends the code back with the state.
func (f *fakeIdP) login(t *testing.T, b federation.Broker, extra url.Values) (federation.BrokeredIdentity, error) {
	t.Helper()
	req := federation.BrokerRequest{ID: "login-" + base64.RawURLEncoding.EncodeToString(randBytes(12)), RelayState: "relay-1", CallbackURL: callback}
	start, err := b.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(start.RedirectURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	f.mu.Lock()
	f.nonce, f.challenge = q.Get("nonce"), q.Get("code_challenge")
	f.mu.Unlock()
	params := url.Values{"code": {"good-code"}, "state": {q.Get("state")}}
	for k, v := range extra {
		params[k] = v
	}
	return b.Finish(context.Background(), req, start.State, params)
}

func pemOf(t *testing.T, pub crypto.PublicKey) string {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
}
