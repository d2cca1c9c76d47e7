//go:build e2e

package test

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/federation/saml/samltest"
)

// The identity-brokering suite runs keygate between a real browser and a
// real identity provider: Debian's SimpleSAMLphp (SAML) and a second
// keygate process (OpenID Connect). test/node/broker.test.mjs does the
// configuring (keycloak-admin-client) and the signing in (Chromium, with
// keycloak-js as the application); the Go side starts the peers, serves
// the application, and afterwards reads the server log for anything
// secret the run saw.
//
// keygate listens on 127.0.0.2 and everything else on 127.0.0.1: two
// sites for the browser, so that the IdP's POST back to keygate is a
// cross-site request as it is in production (SameSite cookies are not
// sent), and the two keygates' cookies never mix.

// TestE2EBrokerSAML: SimpleSAMLphp as a realm's SAML identity provider,
// configured with keycloak-admin-client (the IdP, attribute, username,
// role, advanced-group and hardcoded-role mappers) and registered there
// from keygate's SP descriptor. Chromium signs in through the login
// page's button (signed AuthnRequest by POST, signed assertion back by
// POST) and lands in a keycloak-js app whose tokens carry the mapped
// roles and groups; the admin API shows the federated identity; logout
// goes through SimpleSAMLphp's single logout (the next login asks for the
// password again) and the next login reuses the link; kc_idp_hint skips
// the login page; an email of a local user asks to confirm and
// re-authenticate before linking; a missing email or a taken username
// asks for a review of the profile; a tampered, a replayed and a garbage
// response get a clear 4xx page, never a 500 or a login.
func TestE2EBrokerSAML(t *testing.T) {
	requireChromium(t)
	npmInstall(t)
	start := time.Now()
	pw := map[string]string{
		"alice": "Alice-ssp-" + randomToken(6), "bob": "Bob-ssp-" + randomToken(6),
		"carol": "Carol-ssp-" + randomToken(6), "dave": "Dave-ssp-" + randomToken(6),
	}
	idp := samltest.Start(t, samltest.Options{Users: []samltest.User{
		{Username: "alice", Password: pw["alice"], Attributes: map[string][]string{
			"uid": {"alice"}, "mail": {"alice@corp.example"}, "givenName": {"Alice"}, "sn": {"Liddell"},
			"memberOf": {"sso-stackstate-admins", "sso-sre"}, "eduPersonAffiliation": {"member", "staff"}, "ou": {"platform"},
		}},
		// bob's email belongs to the local user robert.
		{Username: "bob", Password: pw["bob"], Attributes: map[string][]string{
			"uid": {"bob"}, "mail": {"bob@corp.example"}, "givenName": {"Bob"}, "sn": {"Builder"},
			"memberOf": {"sso-viewers"}, "eduPersonAffiliation": {"member"},
		}},
		// carol has no email.
		{Username: "carol", Password: pw["carol"], Attributes: map[string][]string{
			"uid": {"carol"}, "givenName": {"Carol"}, "sn": {"Danvers"}, "memberOf": {"sso-sre"},
		}},
		// dave's uid is the local user robert's username.
		{Username: "dave", Password: pw["dave"], Attributes: map[string][]string{
			"uid": {"robert"}, "mail": {"dave@corp.example"}, "givenName": {"Dave"}, "sn": {"Lister"},
		}},
	}})

	adminPW := "Admin-" + randomToken(8)
	localPW := "Robert-local-" + randomToken(6)
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=" + adminPW},
		"--http-addr", "127.0.0.2:0")
	const realm, alias = "corp", "corp-saml"
	app := startBrokerApp(t, s.URL, realm)
	// The node script calls this once the identity provider exists:
	// SimpleSAMLphp learns the SP from keygate's descriptor, as an
	// administrator would upload it.
	app.mux.HandleFunc("POST /_control/register-sp", func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(s.URL + "/realms/" + realm + "/broker/" + alias + "/endpoint/descriptor")
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		md, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			http.Error(w, fmt.Sprintf("descriptor: %s", resp.Status), http.StatusBadGateway)
			return
		}
		if err := idp.RegisterSP(md); err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})

	runNode(t, "broker.test.mjs", "BROKER=saml", "KEYGATE_URL="+s.URL, "APP_URL="+app.URL, "ADMIN_PASSWORD="+adminPW,
		"SAML_URL="+idp.URL, "SAML_ENTITY_ID="+idp.EntityID, "SAML_SSO_URL="+idp.SSOURL, "SAML_SLO_URL="+idp.SLOURL,
		"SAML_CERT="+idp.CertBase64, "LOCAL_PASSWORD="+localPW,
		"ALICE_PASSWORD="+pw["alice"], "BOB_PASSWORD="+pw["bob"], "CAROL_PASSWORD="+pw["carol"], "DAVE_PASSWORD="+pw["dave"])

	s.stop(t) // everything the server will log is in s.logs
	secrets := app.seen([]string{"SAMLResponse", "SignatureValue", "access token", "refresh token", "ID token"})
	for _, p := range []string{adminPW, localPW, pw["alice"], pw["bob"], pw["carol"], pw["dave"]} {
		secrets = append(secrets, labeled{"a password", p})
	}
	checkBrokerLog(t, "keygate", s.logs.String(), secrets)
	t.Logf("TestE2EBrokerSAML took %s", time.Since(start).Round(time.Millisecond))
}

// TestE2EBrokerOIDC: a second keygate as the realm's OpenID Connect
// upstream (providerId keycloak-oidc, client_secret_post, PKCE), its token
// endpoint reached through a recording proxy. Chromium signs in through
// the login button and the upstream's own login form; the tokens carry the
// role an oidc-role-idp-mapper gave from the upstream's realm_access and a
// hardcoded one, the user the upstream's claim as an attribute and a
// federated identity with the upstream's user id; the second login reuses
// the link; with the upstream's logoutUrl a logout goes through the
// upstream's logout and the next login asks for the password again; a
// trusted email with autoLinkByEmail links to the local user
// without asking; an upstream error (access_denied) gets a clear page.
func TestE2EBrokerOIDC(t *testing.T) {
	requireChromium(t)
	npmInstall(t)
	start := time.Now()
	down := freeAddrOn(t, "127.0.0.2")
	downURL := "http://" + down
	const realm, alias, upRealm, upClient = "apps", "upstream", "upstream", "downstream-broker"
	upSecret := "up-secret-" + randomToken(12)
	oliviaPW, paulPW := "Olivia-up-"+randomToken(6), "Paul-up-"+randomToken(6)
	const oliviaID = "5b0d2f3e-8a51-4c1e-9d3b-0c7f6a2e4b19"
	upstreamRealm := map[string]any{
		"realm": upRealm, "enabled": true,
		"roles": map[string]any{"realm": []map[string]any{{"name": "sre"}, {"name": "auditor"}}},
		"clients": []map[string]any{{
			"clientId": upClient, "enabled": true, "publicClient": false, "secret": upSecret,
			"standardFlowEnabled": true, "redirectUris": []string{downURL + "/realms/" + realm + "/broker/" + alias + "/endpoint"},
			"attributes": map[string]string{"post.logout.redirect.uris": downURL + "/realms/" + realm + "/broker/" + alias + "/endpoint/logout_response"},
			"protocolMappers": []map[string]any{{
				"name": "department", "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
				"config": map[string]string{"claim.name": "department", "claim.value": "platform", "jsonType.label": "String",
					"id.token.claim": "true", "access.token.claim": "true", "userinfo.token.claim": "true"},
			}},
		}},
		"users": []map[string]any{
			{"id": oliviaID, "username": "olivia", "enabled": true, "email": "olivia@up.example", "emailVerified": true,
				"firstName": "Olivia", "lastName": "Benson", "realmRoles": []string{"sre"},
				"credentials": []map[string]any{{"type": "password", "value": oliviaPW}}},
			// paul's email belongs to the downstream's local user paul.local.
			{"username": "paul", "enabled": true, "email": "paul@corp.example", "emailVerified": true,
				"firstName": "Paul", "lastName": "Atreides", "realmRoles": []string{"auditor"},
				"credentials": []map[string]any{{"type": "password", "value": paulPW}}},
		},
	}
	realmFile := t.TempDir() + "/upstream.json"
	writeJSON(t, realmFile, upstreamRealm)
	up := startServer(t, "", nil, "--import-realm", realmFile)

	// The downstream reaches the upstream's token endpoint through this
	// proxy, which keeps the tokens (to look for them in the log) and
	// checks how the client authenticated.
	tp := &tokenProxy{target: up.URL}
	tokenSrv := &http.Server{Handler: tp}
	tln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = tokenSrv.Serve(tln) }()
	t.Cleanup(func() { _ = tokenSrv.Close() })

	adminPW := "Admin-" + randomToken(8)
	localPW := "Paul-local-" + randomToken(6)
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=" + adminPW}, "--http-addr", down)
	if s.URL != downURL {
		t.Fatalf("keygate listens at %s, not %s", s.URL, downURL)
	}
	app := startBrokerApp(t, s.URL, realm)
	runNode(t, "broker.test.mjs", "BROKER=oidc", "KEYGATE_URL="+s.URL, "APP_URL="+app.URL, "ADMIN_PASSWORD="+adminPW,
		"UP_URL="+up.URL, "UP_REALM="+upRealm, "UP_CLIENT="+upClient, "UP_SECRET="+upSecret,
		"UP_TOKEN_URL=http://"+tln.Addr().String()+"/realms/"+upRealm+"/protocol/openid-connect/token",
		"OLIVIA_ID="+oliviaID, "OLIVIA_PASSWORD="+oliviaPW, "PAUL_PASSWORD="+paulPW, "LOCAL_PASSWORD="+localPW)

	s.stop(t)
	up.stop(t)
	tp.mu.Lock()
	calls, problems, upTokens := tp.calls, tp.problems, tp.tokens
	tp.mu.Unlock()
	// olivia twice (the second time through the upstream's SSO session) and
	// paul; the access_denied case never reaches the token endpoint.
	if calls < 3 {
		t.Errorf("the upstream's token endpoint was called %d times, want at least 3", calls)
	}
	for _, p := range problems {
		t.Errorf("token request: %s", p)
	}
	if len(upTokens) < 6 {
		t.Errorf("the proxy saw %d upstream tokens, want at least 6 (access and ID token per login)", len(upTokens))
	}
	secrets := app.seen([]string{"upstream code", "access token", "refresh token", "ID token"})
	secrets = append(secrets, upTokens...)
	for _, p := range []string{upSecret, adminPW, localPW, oliviaPW, paulPW} {
		secrets = append(secrets, labeled{"a password or client secret", p})
	}
	checkBrokerLog(t, "keygate", s.logs.String(), secrets)
	checkBrokerLog(t, "the upstream keygate", up.logs.String(), []labeled{{"a password", oliviaPW}, {"a password", paulPW}, {"the client secret", upSecret}})
	t.Logf("TestE2EBrokerOIDC took %s", time.Since(start).Round(time.Millisecond))
}

func requireChromium(t *testing.T) {
	t.Helper()
	if _, err := os.Stat("/usr/bin/chromium"); err != nil {
		t.Fatal("Debian chromium is required: apt-get install -y chromium (make e2e installs it)")
	}
}

func randomToken(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// freeAddrOn is a free TCP address on the loopback address ip.
func freeAddrOn(t *testing.T, ip string) string {
	t.Helper()
	l, err := net.Listen("tcp", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

type labeled struct{ label, value string }

// brokerApp is the application (a keycloak-js page) and the test's
// control endpoints, on 127.0.0.1.
type brokerApp struct {
	URL string
	mux *http.ServeMux

	mu      sync.Mutex
	secrets []labeled
}

func startBrokerApp(t *testing.T, kgURL, realm string) *brokerApp {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := &brokerApp{URL: "http://" + ln.Addr().String(), mux: http.NewServeMux()}
	a.mux.Handle("GET /kc/", http.StripPrefix("/kc/", http.FileServer(http.Dir("node/node_modules/keycloak-js/lib"))))
	a.mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprintf(w, brokerAppPage, kgURL, realm)
	})
	// What the browser saw (a SAML response, tokens, an upstream code),
	// kept in memory to look for in the server log; never printed.
	a.mux.HandleFunc("POST /_control/secret", func(w http.ResponseWriter, r *http.Request) {
		var v struct{ Label, Value string }
		if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&v); err != nil || v.Label == "" || len(v.Value) < 8 {
			http.Error(w, "want {label, value} with a value of 8+ characters", http.StatusBadRequest)
			return
		}
		a.mu.Lock()
		a.secrets = append(a.secrets, labeled{v.Label, v.Value})
		a.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	})
	srv := &http.Server{Handler: a.mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	return a
}

// seen returns what the node script reported, failing the test when a
// label it must have reported is missing (a check of nothing is none).
func (a *brokerApp) seen(want []string) []labeled {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := append([]labeled(nil), a.secrets...)
	for _, w := range want {
		found := false
		for _, s := range out {
			found = found || s.label == w
		}
		if !found {
			out = append(out, labeled{"missing:" + w, ""})
		}
	}
	return out
}

// brokerAppPage is the keycloak-js application: it signs in when it has
// no session (?idp= passes kc_idp_hint), except with ?mode=anonymous.
const brokerAppPage = `<!doctype html><html><head><meta charset="utf-8"><title>app</title></head><body>
<p id="status">loading</p>
<script type="module">
import Keycloak from '/kc/keycloak.js';
const q = new URLSearchParams(location.search);
const kc = new Keycloak({ url: %q, realm: %q, clientId: 'dash' });
window.kc = kc;
const set = (s) => { document.getElementById('status').textContent = s; };
kc.init({ pkceMethod: 'S256', checkLoginIframe: false })
  .then((ok) => {
    if (ok) return set('authenticated:' + kc.tokenParsed.preferred_username);
    if (q.get('mode') === 'anonymous') return set('anonymous');
    set('redirecting');
    return kc.login(q.get('idp') ? { idpHint: q.get('idp') } : {});
  })
  .catch((e) => set('init-error:' + JSON.stringify(e)));
</script></body></html>`

// tokenProxy forwards the downstream's token requests to the upstream,
// keeping the tokens it answers and checking each request authenticated
// with client_secret_post and carried a PKCE verifier.
type tokenProxy struct {
	target string

	mu       sync.Mutex
	calls    int
	problems []string
	tokens   []labeled
}

func (p *tokenProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	r.Body.Close()
	form, _ := url.ParseQuery(string(body))
	p.mu.Lock()
	p.calls++
	if r.Header.Get("Authorization") != "" || form.Get("client_secret") == "" || form.Get("client_id") == "" {
		p.problems = append(p.problems, "not client_secret_post (the secret in the form, no Authorization header)")
	}
	if form.Get("grant_type") == "authorization_code" && len(form.Get("code_verifier")) < 43 {
		p.problems = append(p.problems, "no PKCE code_verifier although pkceEnabled")
	}
	p.mu.Unlock()
	target, _ := url.Parse(p.target)
	// SetURL sends the upstream's own Host: keygate derives its issuer
	// from it.
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(target) }}
	rp.ModifyResponse = func(resp *http.Response) error {
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		resp.Body.Close()
		if err != nil {
			return err
		}
		var tok map[string]any
		if json.Unmarshal(b, &tok) == nil {
			p.mu.Lock()
			for _, k := range []string{"access_token", "id_token", "refresh_token"} {
				if v, _ := tok[k].(string); v != "" {
					p.tokens = append(p.tokens, labeled{"the upstream's " + strings.ReplaceAll(k, "_", " "), v})
				}
			}
			p.mu.Unlock()
		}
		resp.Body = io.NopCloser(bytes.NewReader(b))
		resp.ContentLength = int64(len(b))
		resp.Header.Del("Content-Length")
		return nil
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	r.ContentLength = int64(len(body))
	rp.ServeHTTP(w, r)
}

var jwtRE = regexp.MustCompile(`eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.`)

// checkBrokerLog fails when the log holds a secret the run saw (whole, or
// a 32-character piece of its middle: a truncated dump), any JWT, or SAML
// XML or its base64 form. Messages name the kind, never the value.
func checkBrokerLog(t *testing.T, who, logs string, secrets []labeled) {
	t.Helper()
	if logs == "" {
		t.Errorf("%s logged nothing: the log checks would be vacuous", who)
	}
	for _, s := range secrets {
		if strings.HasPrefix(s.label, "missing:") {
			t.Errorf("the node script never reported the %s it must have seen: the log check for it would be vacuous", strings.TrimPrefix(s.label, "missing:"))
			continue
		}
		if strings.Contains(logs, s.value) {
			t.Errorf("%s's log contains %s", who, s.label)
			continue
		}
		if len(s.value) >= 64 {
			mid := len(s.value)/2 - 16
			if strings.Contains(logs, s.value[mid:mid+32]) {
				t.Errorf("%s's log contains part of %s", who, s.label)
			}
		}
	}
	if jwtRE.MatchString(logs) {
		t.Errorf("%s's log contains a JWT", who)
	}
	for _, p := range []struct{ what, s string }{
		{"SAML protocol XML", "<samlp:"}, {"a SAML assertion", "<saml:Assertion"}, {"a SAML assertion", "saml2:Assertion"},
		{"an XML signature", "<ds:SignatureValue"}, {"a base64 SAML message", "PHNhbWxwOl"}, {"base64 XML", "PD94bWwg"},
		{"a SAMLResponse parameter", "SAMLResponse="}, {"a SAMLRequest parameter", "SAMLRequest="},
	} {
		if strings.Contains(logs, p.s) {
			t.Errorf("%s's log contains %s", who, p.what)
		}
	}
}
