package admin_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"log/slog"
	"math/big"
	"mime/multipart"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/federation"
	fedoidc "github.com/keygate/keygate/federation/oidc"
	"github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/store/sqlite"
)

// logBuffer keeps what a slog handler writes, for tests that count
// warnings or look for secrets in the log.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

// take returns what was logged since the last take.
func (l *logBuffer) take() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.buf.String()
	l.buf.Reset()
	return s
}

// idpEnv is a server with realm acme whose admin API (built here, on the
// same listener) has brokers (SAML and OIDC, with a test RSA key) and logs
// to logs.
type idpEnv struct {
	*env
	api  *admin.API
	logs *logBuffer
}

// testBrokerKey is the RSA key and self-signed certificate brokers sign
// with in these tests (the server passes the realm's).
var testBrokerKey = sync.OnceValues(func() (*rsa.PrivateKey, *x509.Certificate) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "acme"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return key, cert
})

func newIdPEnv(t *testing.T, cfg idp.Config) *idpEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	logs := &logBuffer{}
	cfg.Logger = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	srv, err := idp.NewServer(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	api := admin.New(st, srv.Provider(), srv.Limiter(), cfg.Logger)
	key, cert := testBrokerKey()
	api.SetBrokers(federation.NewBrokers(map[string]federation.BrokerFactory{
		saml.ProviderID: saml.Open, fedoidc.ProviderOIDC: fedoidc.Open, fedoidc.ProviderKeycloakOIDC: fedoidc.Open,
	}, func(context.Context, string) (federation.BrokerEnv, error) {
		return federation.BrokerEnv{Logger: cfg.Logger, Key: key, Cert: cert, HTTP: http.DefaultClient, Now: time.Now,
			Reveal: srv.Provider().Keyring().Secrets().Reveal,
			Replay: func(context.Context, string, time.Time) error { return nil }}, nil
	}))
	mux := http.NewServeMux()
	api.Register(mux)
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/admin/") {
			mux.ServeHTTP(w, r)
			return
		}
		srv.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(ts.Close)
	e := &env{t: t, url: ts.URL, st: st}
	e.admin = e.login("master", "admin", "admin-secret-pw")
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	logs.take()
	return &idpEnv{env: e, api: api, logs: logs}
}

const idps = acme + "/identity-provider/instances"

// testIdPCert is a certificate an IdP signs with (base64 DER).
func testIdPCert() string {
	_, cert := testBrokerKey()
	return base64.StdEncoding.EncodeToString(cert.Raw)
}

// samlProvider is a valid SAML provider with config changes (an empty
// value deletes the key).
func samlProvider(alias string, changes map[string]string) map[string]any {
	cfg := map[string]string{"singleSignOnServiceUrl": "https://idp.corp.example/sso", "idpEntityId": "https://idp.corp.example",
		"signingCertificate": testIdPCert(), "validateSignature": "true", "postBindingResponse": "true"}
	for k, v := range changes {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return map[string]any{"alias": alias, "providerId": "saml", "enabled": true, "config": cfg}
}

// oidcProvider is a valid OIDC provider (providerID oidc or keycloak-oidc).
func oidcProvider(alias, providerID string, changes map[string]string) map[string]any {
	cfg := map[string]string{"clientId": "keygate", "clientSecret": "Up-Secret-1", "authorizationUrl": "https://up.example/auth",
		"tokenUrl": "https://up.example/token", "jwksUrl": "https://up.example/certs", "useJwksUrl": "true", "validateSignature": "true"}
	for k, v := range changes {
		if v == "" {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return map[string]any{"alias": alias, "providerId": providerID, "enabled": true, "config": cfg}
}

// fieldOf is the "field" of a 400 answer.
func fieldOf(t *testing.T, r reply) string {
	t.Helper()
	var body map[string]any
	r.json(t, &body)
	f, _ := body["field"].(string)
	return f
}

// TestIdentityProviderValidation: creates and updates of identity
// providers are validated as their broker reads them: 400 naming the key,
// nothing stored; aliases must be safe in a URL path; other providerIds
// are stored with one warning; unimplemented keys are one warning per
// write, by name.
func TestIdentityProviderValidation(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"saml without sso URL", samlProvider("bad", map[string]string{"singleSignOnServiceUrl": ""}), "config.singleSignOnServiceUrl"},
		{"saml without certificate", samlProvider("bad", map[string]string{"signingCertificate": ""}), "config.signingCertificate"},
		{"saml bad certificate", samlProvider("bad", map[string]string{"signingCertificate": "MIIBszCCAVmgAwIBAgIUTest"}), "config.signingCertificate"},
		{"saml bad principal type", samlProvider("bad", map[string]string{"principalType": "EMAIL"}), "config.principalType"},
		{"saml javascript sso URL", samlProvider("bad", map[string]string{"singleSignOnServiceUrl": "javascript:alert(1)"}), "config.singleSignOnServiceUrl"},
		{"oidc without clientId", oidcProvider("bad", "oidc", map[string]string{"clientId": ""}), "config.clientId"},
		{"oidc without secret", oidcProvider("bad", "oidc", map[string]string{"clientSecret": ""}), "config.clientSecret"},
		{"oidc masked secret on create", oidcProvider("bad", "oidc", map[string]string{"clientSecret": "**********"}), "config.clientSecret"},
		{"keycloak-oidc bad sync mode", oidcProvider("bad", "keycloak-oidc", map[string]string{"syncMode": "ALWAYS"}), "config.syncMode"},
		{"alias with a slash", samlProvider("a/b", nil), "alias"},
		{"alias with dots only", samlProvider("..", nil), "alias"},
		{"alias with a space", samlProvider("corp idp", nil), "alias"},
		{"alias with percent", samlProvider("a%2Fb", nil), "alias"},
		{"alias with a question mark", samlProvider("a?b", nil), "alias"},
	} {
		r := e.do("POST", idps, e.admin, c.body)
		if r.status != 400 || fieldOf(t, r) != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.status, r.body, c.field)
		}
	}
	if rows, _ := e.st.ListIdentityProviders(t.Context(), e.realmID()); len(rows) != 0 {
		t.Fatalf("refused providers stored: %+v", rows)
	}

	// Keycloak's defaults in the representation; no firstBrokerLoginFlowAlias.
	e.must(201, "POST", idps, e.admin, samlProvider("corp", map[string]string{"hideOnLoginPage": "true", "guiOrder": ""}))
	var got map[string]any
	e.must(200, "GET", idps+"/corp", e.admin, nil).json(t, &got)
	for k, want := range map[string]any{"alias": "corp", "providerId": "saml", "enabled": true, "updateProfileFirstLoginMode": "on",
		"trustEmail": false, "storeToken": false, "addReadTokenRoleOnCreate": false, "authenticateByDefault": false, "linkOnly": false,
		"hideOnLogin": true} {
		if got[k] != want {
			t.Errorf("GET %s = %v, want %v", k, got[k], want)
		}
	}
	if _, ok := got["firstBrokerLoginFlowAlias"]; ok {
		t.Errorf("firstBrokerLoginFlowAlias filled: %v", got)
	}
	if _, ok := got["config"].(map[string]any)["hideOnLoginPage"]; ok {
		t.Errorf("legacy hideOnLoginPage kept: %v", got["config"])
	}
	if id, _ := got["internalId"].(string); len(id) != 36 {
		t.Errorf("internalId %v", got["internalId"])
	}
	// A duplicate is 409 whatever its config.
	e.must(409, "POST", idps, e.admin, map[string]any{"alias": "corp", "providerId": "saml"})

	// Updates: the same validation; the alias cannot change.
	bad := samlProvider("corp", map[string]string{"allowedClockSkew": "forever"})
	if r := e.must(400, "PUT", idps+"/corp", e.admin, bad); fieldOf(t, r) != "config.allowedClockSkew" {
		t.Errorf("PUT bad skew: %s", r.body)
	}
	e.must(400, "PUT", idps+"/corp", e.admin, samlProvider("other", nil))
	e.must(200, "GET", idps+"/corp", e.admin, nil).json(t, &got)
	if _, ok := got["config"].(map[string]any)["allowedClockSkew"]; ok {
		t.Errorf("a refused update was stored: %v", got["config"])
	}
	e.must(204, "PUT", idps+"/corp", e.admin, map[string]any{"displayName": "Corp SSO"})
	e.must(404, "PUT", idps+"/nope", e.admin, samlProvider("nope", nil))
	huge := samlProvider("huge", map[string]string{"guiOrder": strings.Repeat("1", 2<<20)})
	e.must(413, "POST", idps, e.admin, huge)
	huge["alias"] = "corp"
	e.must(413, "PUT", idps+"/corp", e.admin, huge)
	e.must(413, "POST", idps+"/corp/mappers", e.admin, idpMapper("corp", "m", "hardcoded-role-idp-mapper", map[string]string{"role": strings.Repeat("r", 2<<20)}))
	for _, p := range []string{"/a%2Fb", "/..%2Fcorp", "/%2e%2e", "/corp%2F..%2F..%2F..%2Fusers"} {
		if r := e.do("GET", idps+p, e.admin, nil); r.status != 404 {
			t.Errorf("GET %s: %d %s", p, r.status, r.body)
		}
	}
	e.logs.take()

	// Unimplemented keys: one warning per write, names only.
	e.must(201, "POST", idps, e.admin, samlProvider("art", map[string]string{"artifactResolutionServiceUrl": "https://idp.corp.example/Artifact-Value",
		"xmlSigKeyInfoKeyNameTransformer": "KEY_ID", "frobnicate": "Frob-Value"}))
	logs := e.logs.take()
	if n := strings.Count(logs, "level=WARN"); n != 1 || !strings.Contains(logs, "artifactResolutionServiceUrl") ||
		!strings.Contains(logs, "xmlSigKeyInfoKeyNameTransformer") || !strings.Contains(logs, "frobnicate") {
		t.Errorf("want one warning naming the keys, got %d:\n%s", n, logs)
	}
	for _, v := range []string{"Artifact-Value", "Frob-Value", "KEY_ID"} {
		if strings.Contains(logs, v) {
			t.Errorf("the warning shows the value %q:\n%s", v, logs)
		}
	}
	e.must(204, "PUT", idps+"/art", e.admin, map[string]any{"displayName": "Art"})
	if n := strings.Count(e.logs.take(), "level=WARN"); n != 1 {
		t.Errorf("%d warnings for an update, want 1", n)
	}
	e.must(204, "PUT", idps+"/corp", e.admin, map[string]any{"displayName": "Corp"})
	if logs := e.logs.take(); strings.Contains(logs, "level=WARN") {
		t.Errorf("a provider without unimplemented keys warned:\n%s", logs)
	}

	// Providers keygate cannot sign in through are kept (realm imports of
	// Keycloak's social providers), with one warning.
	for _, p := range []string{"github", "kerberos"} {
		e.must(201, "POST", idps, e.admin, map[string]any{"alias": p, "providerId": p, "config": map[string]string{"clientId": "x", "clientSecret": "Gh-Secret-1"}})
		logs := e.logs.take()
		if strings.Count(logs, "level=WARN") != 1 || !strings.Contains(logs, "cannot be used to sign in") || strings.Contains(logs, "Gh-Secret-1") {
			t.Errorf("%s: %s", p, logs)
		}
	}
	e.must(200, "GET", idps+"/github", e.admin, nil).json(t, &got)
	if got["config"].(map[string]any)["clientSecret"] != "**********" {
		t.Errorf("github secret shown: %v", got["config"])
	}
}

// TestIdentityProviderMaskedSecret: the mask in an update keeps the stored
// secret (and passes validation), but not for another token endpoint, where
// the secret would go.
func TestIdentityProviderMaskedSecret(t *testing.T) {
	e := newIdPEnv(t, idp.Config{DBKey: testDBKey})
	e.must(201, "POST", idps, e.admin, oidcProvider("up", "oidc", nil))
	stored := func() string {
		row, err := e.st.GetIdentityProvider(t.Context(), e.realmID(), "up")
		if err != nil {
			t.Fatal(err)
		}
		return string(row.Config)
	}
	before := secretOf(stored())
	if before == "" {
		t.Fatalf("secret not sealed: %s", stored())
	}
	var got map[string]any
	e.must(200, "GET", idps+"/up", e.admin, nil).json(t, &got)
	cfg := got["config"].(map[string]any)
	if cfg["clientSecret"] != "**********" {
		t.Fatalf("secret shown: %v", cfg)
	}
	cfg["clientId"] = "keygate-2"
	e.must(204, "PUT", idps+"/up", e.admin, got)
	if s := stored(); secretOf(s) != before || !strings.Contains(s, "keygate-2") {
		t.Fatalf("the mask changed the secret: %s", s)
	}
	// A PUT without config keeps everything (and does not seal twice).
	e.must(204, "PUT", idps+"/up", e.admin, map[string]any{"displayName": "Up"})
	if secretOf(stored()) != before {
		t.Fatalf("a PUT without config changed the secret")
	}

	// Another token endpoint with the mask: refused, nothing changes.
	cfg["tokenUrl"] = "https://attacker.example/token"
	if r := e.must(400, "PUT", idps+"/up", e.admin, got); fieldOf(t, r) != "config.clientSecret" {
		t.Errorf("mask with another tokenUrl: %s", r.body)
	}
	if strings.Contains(stored(), "attacker") {
		t.Fatal("refused update stored")
	}
	// With the secret typed again it is fine.
	cfg["clientSecret"] = "New-Secret-2"
	e.must(204, "PUT", idps+"/up", e.admin, got)
	if s := stored(); secretOf(s) == before || strings.Contains(s, "New-Secret-2") {
		t.Fatalf("new secret not sealed: %s", s)
	}
	// Without a secret an oidc provider with client_secret_post is invalid.
	delete(cfg, "clientSecret")
	e.must(400, "PUT", idps+"/up", e.admin, got)
	if strings.Contains(e.logs.take(), "Secret-") {
		t.Error("a secret was logged")
	}
}

func idpMapper(alias, name, typ string, config map[string]string) map[string]any {
	return map[string]any{"name": name, "identityProviderAlias": alias, "identityProviderMapper": typ, "config": config}
}

// TestIdentityProviderMapperValidation: mappers are validated for their
// provider's type, must name the provider of their path, and what keygate
// will not run is one warning.
func TestIdentityProviderMapperValidation(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	e.must(201, "POST", idps, e.admin, samlProvider("corp", nil))
	e.must(201, "POST", acme+"/roles", e.admin, map[string]any{"name": "staff"})
	const mappers = idps + "/corp/mappers"
	for _, c := range []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"bad sync mode", idpMapper("corp", "m", "saml-role-idp-mapper", map[string]string{"role": "staff", "attribute.name": "x", "syncMode": "SOMETIMES"}), "config.syncMode"},
		{"role missing", idpMapper("corp", "m", "saml-role-idp-mapper", map[string]string{"attribute.name": "x"}), "config.role"},
		{"bad attributes", idpMapper("corp", "m", "saml-advanced-role-idp-mapper", map[string]string{"role": "staff", "attributes": "not json"}), "config.attributes"},
		{"bad regex", idpMapper("corp", "m", "saml-advanced-role-idp-mapper", map[string]string{"role": "staff",
			"attributes": `[{"key":"memberOf","value":"("}]`, "are.attribute.values.regex": "true"}), "config.attributes"},
		{"bad template target", idpMapper("corp", "m", "saml-username-idp-mapper", map[string]string{"template": "${NAMEID}", "target": "SOMEWHERE"}), "config.target"},
		{"another provider's alias", idpMapper("other", "m", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"}), "identityProviderAlias"},
		{"no name", idpMapper("corp", "", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"}), "name"},
		{"no type", idpMapper("corp", "m", "", map[string]string{"role": "staff"}), "identityProviderMapper"},
	} {
		r := e.do("POST", mappers, e.admin, c.body)
		if r.status != 400 || fieldOf(t, r) != c.field {
			t.Errorf("%s: %d %s, want 400 naming %s", c.name, r.status, r.body, c.field)
		}
	}
	e.logs.take()
	// Unknown types and keys, and types for another provider: one warning.
	e.must(201, "POST", mappers, e.admin, idpMapper("corp", "claims", "oidc-user-attribute-idp-mapper", map[string]string{"claim": "c", "user.attribute": "x", "Claim-Secretish": "v"}))
	if logs := e.logs.take(); strings.Count(logs, "level=WARN") != 1 || !strings.Contains(logs, "does not apply") {
		t.Errorf("warnings: %s", logs)
	}
	// The alias may be left out; it is the path's.
	id := e.must(201, "POST", mappers, e.admin, map[string]any{"name": "staff", "identityProviderMapper": "hardcoded-role-idp-mapper",
		"config": map[string]string{"role": "staff", "syncMode": "INHERIT", "unused": ""}}).id()
	var m map[string]any
	e.must(200, "GET", mappers+"/"+id, e.admin, nil).json(t, &m)
	if m["identityProviderAlias"] != "corp" {
		t.Errorf("mapper %v", m)
	}
	if _, ok := m["config"].(map[string]any)["unused"]; ok {
		t.Errorf("empty config value kept: %v", m)
	}
	e.must(400, "PUT", mappers+"/"+id, e.admin, idpMapper("other", "staff", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"}))
	e.must(400, "PUT", mappers+"/"+id, e.admin, idpMapper("corp", "staff", "hardcoded-role-idp-mapper", map[string]string{"role": "staff", "syncMode": "x"}))
	e.must(204, "PUT", mappers+"/"+id, e.admin, idpMapper("corp", "staff", "hardcoded-role-idp-mapper", map[string]string{"role": "staff", "syncMode": "FORCE"}))
}

// TestIdentityProviderMapperEscalation: every identity-provider mapper
// that grants a role or a group passes the no-escalation check, on create
// and update, for every provider type.
func TestIdentityProviderMapperEscalation(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	mi := e.userWithRoles("acme", "mi", "manage-identity-providers")
	rm := e.clientUUID("acme", "realm-management")
	e.must(201, "POST", acme+"/roles", e.admin, map[string]any{"name": "boss"})
	e.must(204, "POST", acme+"/roles/boss/composites", e.admin, []map[string]any{{"id": e.roleID("acme", rm, "manage-users")}})
	e.groupWith("acme", "", "bosses", []string{"boss"}, nil)
	e.groupWith("acme", "", "staffs", nil, nil)
	e.must(201, "POST", acme+"/roles", e.admin, map[string]any{"name": "staff"})
	e.must(201, "POST", idps, mi, samlProvider("corp", nil))
	e.must(201, "POST", idps, mi, oidcProvider("up", "oidc", nil))
	e.must(201, "POST", idps, mi, oidcProvider("kc", "keycloak-oidc", nil))

	type mapperCase struct {
		alias, typ string
		cfg        map[string]string // without the role or group
		grants     string            // "role" or "group"
	}
	kv := func(k string) string { return `[{"key":"` + k + `","value":"x"}]` }
	cases := []mapperCase{
		{"corp", "hardcoded-role-idp-mapper", nil, "role"},
		{"corp", "oidc-hardcoded-role-idp-mapper", nil, "role"},
		{"corp", "saml-role-idp-mapper", map[string]string{"attribute.name": "memberOf", "attribute.value": "x"}, "role"},
		{"corp", "saml-advanced-role-idp-mapper", map[string]string{"attributes": kv("memberOf")}, "role"},
		{"corp", "saml-advanced-group-idp-mapper", map[string]string{"attributes": kv("memberOf")}, "group"},
		{"corp", "oidc-hardcoded-group-idp-mapper", nil, "group"},
		{"up", "oidc-role-idp-mapper", map[string]string{"claim": "groups", "claim.value": "x"}, "role"},
		{"up", "oidc-advanced-role-idp-mapper", map[string]string{"claims": kv("groups")}, "role"},
		{"up", "oidc-advanced-group-idp-mapper", map[string]string{"claims": kv("groups")}, "group"},
		{"up", "hardcoded-role-idp-mapper", nil, "role"},
		{"kc", "keycloak-oidc-role-to-role-idp-mapper", map[string]string{"external.role": "sre"}, "role"},
		{"kc", "oidc-hardcoded-group-idp-mapper", nil, "group"},
	}
	with := func(c mapperCase, value string) map[string]any {
		cfg := map[string]string{c.grants: value}
		for k, v := range c.cfg {
			cfg[k] = v
		}
		return idpMapper(c.alias, c.typ, c.typ, cfg)
	}
	for _, c := range cases {
		p := idps + "/" + c.alias + "/mappers"
		var admins []string
		harmless := "staff"
		if c.grants == "role" {
			admins = []string{"realm-management.realm-admin", "realm-management.manage-users", "boss"}
		} else {
			admins, harmless = []string{"/bosses", "bosses"}, "/staffs"
		}
		for _, v := range admins {
			if r := e.do("POST", p, mi, with(c, v)); r.status != 403 {
				t.Errorf("%s %s=%s: %d %s, want 403", c.typ, c.grants, v, r.status, r.body)
			}
		}
		id := e.must(201, "POST", p, mi, with(c, harmless)).id()
		if r := e.do("PUT", p+"/"+id, mi, with(c, admins[0])); r.status != 403 {
			t.Errorf("%s update to %s: %d %s, want 403", c.typ, admins[0], r.status, r.body)
		}
		e.must(201, "POST", p, e.admin, with(c, admins[0]))
	}
	// A role that does not exist yet: 400 (one created later would be
	// granted unchecked).
	e.must(400, "POST", idps+"/corp/mappers", mi, idpMapper("corp", "later", "hardcoded-role-idp-mapper", map[string]string{"role": "later"}))
}

// TestIdentityProviderMapperTypesAndFactories: mapper-types by the
// provider's type, and the provider factories.
func TestIdentityProviderMapperTypesAndFactories(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	view := e.userWithRoles("acme", "viewer", "view-identity-providers")
	e.must(201, "POST", idps, e.admin, samlProvider("corp", nil))
	e.must(201, "POST", idps, e.admin, oidcProvider("up", "oidc", nil))
	types := func(alias string) map[string]map[string]any {
		var out map[string]map[string]any
		e.must(200, "GET", idps+"/"+alias+"/mapper-types", view, nil).json(t, &out)
		return out
	}
	saml, up := types("corp"), types("up")
	for _, id := range []string{"saml-user-attribute-idp-mapper", "saml-role-idp-mapper", "saml-advanced-group-idp-mapper", "oidc-hardcoded-role-idp-mapper"} {
		if saml[id]["id"] != id || saml[id]["properties"] == nil {
			t.Errorf("saml types lack %s: %v", id, saml[id])
		}
	}
	if _, ok := saml["oidc-user-attribute-idp-mapper"]; ok {
		t.Error("saml types include an oidc mapper")
	}
	for _, id := range []string{"oidc-user-attribute-idp-mapper", "oidc-role-idp-mapper", "oidc-hardcoded-group-idp-mapper"} {
		if _, ok := up[id]; !ok {
			t.Errorf("oidc types lack %s", id)
		}
	}
	if _, ok := up["saml-role-idp-mapper"]; ok {
		t.Error("oidc types include a saml mapper")
	}
	e.must(404, "GET", idps+"/nope/mapper-types", view, nil)

	for id, name := range map[string]string{"saml": "SAML v2.0", "oidc": "OpenID Connect v1.0", "keycloak-oidc": "Keycloak OpenID Connect"} {
		var f map[string]any
		e.must(200, "GET", acme+"/identity-provider/providers/"+id, view, nil).json(t, &f)
		if f["id"] != id || f["name"] != name {
			t.Errorf("factory %s: %v", id, f)
		}
	}
	e.must(400, "GET", acme+"/identity-provider/providers/github", view, nil)
	e.must(403, "GET", acme+"/identity-provider/providers/saml", e.userWithRoles("acme", "nobody"), nil)
}

// idpMetadata is an IdP's SAML metadata.
func idpMetadata(entityID string) string {
	return `<?xml version="1.0"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" entityID="` + entityID + `">
  <md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol" WantAuthnRequestsSigned="true">
    <md:KeyDescriptor use="signing"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + testIdPCert() + `</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>
    <md:SingleLogoutService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="` + entityID + `/slo"/>
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat>
    <md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST" Location="` + entityID + `/sso"/>
  </md:IDPSSODescriptor>
</md:EntityDescriptor>`
}

// postForm sends a multipart form to import-config.
func (e *idpEnv) postForm(token string, fields map[string]string) reply {
	e.t.Helper()
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for k, v := range fields {
		if k == "file" {
			fw, _ := w.CreateFormFile("file", "metadata.xml")
			_, _ = io.WriteString(fw, v)
		} else {
			_ = w.WriteField(k, v)
		}
	}
	_ = w.Close()
	req, _ := http.NewRequestWithContext(e.t.Context(), "POST", e.url+acme+"/identity-provider/import-config", &buf)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", w.FormDataContentType())
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return reply{resp.StatusCode, resp.Header, b}
}

// TestIdentityProviderImportConfig: import-config reads IdP metadata or an
// OpenID discovery document uploaded or fetched from fromUrl; the fetch
// never reaches link-local, multicast or unspecified addresses, through
// redirects either, and is bounded.
func TestIdentityProviderImportConfig(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	const importConfig = acme + "/identity-provider/import-config"
	mi := e.userWithRoles("acme", "mi", "manage-identity-providers")
	view := e.userWithRoles("acme", "viewer", "view-identity-providers")

	var hits sync.Map
	mux := http.NewServeMux()
	var srvURL string
	mux.HandleFunc("/saml", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/samlmetadata+xml")
		_, _ = io.WriteString(w, idpMetadata(srvURL))
	})
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		_ = json.NewEncoder(w).Encode(map[string]string{"issuer": srvURL, "authorization_endpoint": srvURL + "/auth",
			"token_endpoint": srvURL + "/token", "jwks_uri": srvURL + "/certs", "userinfo_endpoint": srvURL + "/userinfo"})
	})
	mux.HandleFunc("/hop/{n}", func(w http.ResponseWriter, r *http.Request) {
		var n int
		fmt.Sscan(r.PathValue("n"), &n)
		if n == 0 {
			http.Redirect(w, r, "/saml", http.StatusFound)
			return
		}
		http.Redirect(w, r, fmt.Sprintf("/hop/%d", n-1), http.StatusFound)
	})
	mux.HandleFunc("/to", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, r.URL.Query().Get("u"), http.StatusFound)
	})
	mux.HandleFunc("/big", func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write(bytes.Repeat([]byte("<x/>"), 1<<19)) // 2 MiB
	})
	mux.HandleFunc("/secret-service", func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, `{"internal-Token": "Do-Not-Show"}`)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		hits.Store(r.URL.Path, true)
		http.NotFound(w, r)
	})
	idpSrv := httptest.NewServer(mux)
	t.Cleanup(idpSrv.Close)
	srvURL = idpSrv.URL

	fetch := func(token, providerID, from string) reply {
		return e.do("POST", importConfig, token, map[string]any{"providerId": providerID, "fromUrl": from})
	}
	var cfg map[string]string
	fetch(mi, "saml", srvURL+"/saml").json(t, &cfg)
	if cfg["singleSignOnServiceUrl"] != srvURL+"/sso" || cfg["idpEntityId"] != srvURL || cfg["metadataDescriptorUrl"] != srvURL+"/saml" ||
		cfg["signingCertificate"] != testIdPCert() || cfg["postBindingResponse"] != "true" || cfg["singleLogoutServiceUrl"] != srvURL+"/slo" {
		t.Errorf("saml config: %v", cfg)
	}
	cfg = nil
	fetch(mi, "keycloak-oidc", srvURL+"/.well-known/openid-configuration").json(t, &cfg)
	if cfg["tokenUrl"] != srvURL+"/token" || cfg["jwksUrl"] != srvURL+"/certs" || cfg["issuer"] != srvURL {
		t.Errorf("oidc config: %v", cfg)
	}
	// What import-config gives makes a provider.
	prov := map[string]any{"alias": "imported", "providerId": "saml", "config": cfg}
	cfg = nil
	fetch(mi, "saml", srvURL+"/hop/2").json(t, &cfg) // 3 redirects
	prov["config"] = cfg
	e.must(201, "POST", idps, mi, prov)

	// A host name is resolved, and its address checked when dialled.
	if r := fetch(mi, "saml", "http://localhost:"+portOf(srvURL)+"/saml"); r.status != 200 {
		t.Errorf("localhost: %d %s", r.status, r.body)
	}

	// Uploaded: multipart, syncMode LEGACY when the document has none.
	r := e.postForm(mi, map[string]string{"providerId": "saml", "file": idpMetadata("https://idp.upload.example")})
	cfg = nil
	if r.status != 200 {
		t.Fatalf("upload: %d %s", r.status, r.body)
	}
	r.json(t, &cfg)
	if cfg["idpEntityId"] != "https://idp.upload.example" || cfg["syncMode"] != "LEGACY" {
		t.Errorf("uploaded: %v", cfg)
	}
	if r := e.postForm(mi, map[string]string{"providerId": "saml", "file": "<nope/>"}); r.status != 400 {
		t.Errorf("upload of a bad document: %d %s", r.status, r.body)
	}
	if r := e.postForm(mi, map[string]string{"file": idpMetadata("x")}); r.status != 400 {
		t.Errorf("upload without providerId: %d", r.status)
	}
	if r := e.postForm(mi, map[string]string{"providerId": "saml", "file": strings.Repeat("x", 1<<20+10)}); r.status != 413 {
		t.Errorf("upload of 1 MiB and more: %d %s", r.status, r.body)
	}
	if r := e.postForm(view, map[string]string{"providerId": "saml", "file": idpMetadata("x")}); r.status != 403 {
		t.Errorf("upload by a viewer: %d", r.status)
	}

	// Refused, each with a 400 and a reason.
	for _, c := range []struct{ from, want string }{
		{srvURL + "/hop/3", "more than 3 redirects"},
		{"http://169.254.169.254/latest/meta-data/", "link-local"},
		{"http://[fe80::1]/", "link-local"},
		{"http://[::ffff:169.254.169.254]/", "link-local"},
		{"http://[64:ff9b::a9fe:a9fe]/", "link-local"},
		{"http://[fd00:ec2::254]/", "link-local"},
		{"http://0.0.0.0:" + portOf(srvURL) + "/saml", "link-local"},
		{"http://224.0.0.1/", "link-local"},
		{"http://[ff02::1]/", "link-local"},
		{srvURL + "/to?u=http://169.254.169.254/latest/meta-data/", "link-local"},
		{srvURL + "/to?u=http://[fe80::1%2525lo]/", "link-local"},
		{"http://[fe80::1%25lo]/", "link-local"},
		{srvURL + "/to?u=file:///etc/passwd", "not http or https"},
		{"file:///etc/passwd", "http or https"},
		{"ftp://127.0.0.1/x", "http or https"},
		{"//127.0.0.1/saml", "http or https"},
		{srvURL + "/big", "larger than 1 MiB"},
		{srvURL + "/missing", "HTTP 404"},
		{"http://127.0.0.1:1/", "connection failed"},
		{srvURL + "/secret-service", "not SAML IdP metadata"},
	} {
		r := fetch(mi, "saml", c.from)
		if r.status != 400 || !strings.Contains(string(r.body), c.want) {
			t.Errorf("%s: %d %s, want 400 with %q", c.from, r.status, r.body, c.want)
		}
		if strings.Contains(string(r.body), "Do-Not-Show") || strings.Contains(string(r.body), "169.254") {
			t.Errorf("%s: the answer shows what it should not: %s", c.from, r.body)
		}
	}
	if _, ok := hits.Load("/latest/meta-data/"); ok {
		t.Error("a redirect reached a refused path")
	}
	// https to http is a downgrade.
	tlsSrv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/down" {
			http.Redirect(w, r, srvURL+"/saml", http.StatusFound)
			return
		}
		_, _ = io.WriteString(w, idpMetadata("https://tls.example"))
	}))
	tlsSrv.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshake
	tlsSrv.StartTLS()
	t.Cleanup(tlsSrv.Close)
	if r := fetch(mi, "saml", tlsSrv.URL+"/md"); r.status != 400 || !strings.Contains(string(r.body), "not trusted") {
		t.Errorf("untrusted TLS: %d %s", r.status, r.body)
	}
	pool := x509.NewCertPool()
	pool.AddCert(tlsSrv.Certificate())
	e.api.SetFederationEnv(federation.Env{RootCAs: pool})
	if r := fetch(mi, "saml", tlsSrv.URL+"/md"); r.status != 200 {
		t.Errorf("TLS with the truststore: %d %s", r.status, r.body)
	}
	if r := fetch(mi, "saml", tlsSrv.URL+"/down"); r.status != 400 || !strings.Contains(string(r.body), "https to http") {
		t.Errorf("https to http: %d %s", r.status, r.body)
	}

	// Malformed requests and callers.
	for _, body := range []any{map[string]any{"providerId": "saml"}, map[string]any{"fromUrl": srvURL + "/saml"}, "[]", "nope",
		map[string]any{"providerId": "github", "fromUrl": srvURL + "/saml"}, map[string]any{"providerId": 1, "fromUrl": srvURL + "/saml"},
		map[string]any{"providerId": "saml", "fromUrl": srvURL + "/saml", "alias": "a b"}} {
		if r := e.do("POST", importConfig, mi, body); r.status != 400 {
			t.Errorf("%v: %d %s", body, r.status, r.body)
		}
	}
	if r := fetch(view, "saml", srvURL+"/saml"); r.status != 403 {
		t.Errorf("viewer: %d", r.status)
	}
	if logs := e.logs.take(); strings.Contains(logs, "Do-Not-Show") {
		t.Errorf("an answer was logged: %s", logs)
	}
}

func portOf(u string) string {
	_, port, _ := net.SplitHostPort(strings.TrimPrefix(u, "http://"))
	return port
}

// TestIdentityProviderExport: a SAML provider's SP metadata names the
// realm's broker endpoint; providers without metadata are 404.
func TestIdentityProviderExport(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	view := e.userWithRoles("acme", "viewer", "view-identity-providers")
	e.must(201, "POST", idps, e.admin, samlProvider("corp", map[string]string{"wantAuthnRequestsSigned": "true"}))
	e.must(201, "POST", idps, e.admin, oidcProvider("up", "oidc", nil))
	e.must(201, "POST", idps, e.admin, map[string]any{"alias": "gh", "providerId": "github", "config": map[string]string{}})
	r := e.must(200, "GET", idps+"/corp/export", view, nil)
	if ct := r.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/xml") {
		t.Errorf("Content-Type %q", ct)
	}
	md := string(r.body)
	for _, want := range []string{"EntityDescriptor", `entityID="` + e.url + `/realms/acme"`, e.url + "/realms/acme/broker/corp/endpoint",
		base64.StdEncoding.EncodeToString(func() []byte { _, c := testBrokerKey(); return c.Raw }())} {
		if !strings.Contains(md, want) {
			t.Errorf("metadata lacks %s:\n%s", want, md)
		}
	}
	for _, alias := range []string{"up", "gh"} {
		r := e.must(404, "GET", idps+"/"+alias+"/export", view, nil)
		if !strings.Contains(string(r.body), "Could not export public broker configuration") {
			t.Errorf("%s: %s", alias, r.body)
		}
	}
	e.must(404, "GET", idps+"/nope/export", view, nil)
}

// TestIdentityProviderViewOnly: view-identity-providers reads everything
// and writes nothing.
func TestIdentityProviderViewOnly(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	view := e.userWithRoles("acme", "viewer", "view-identity-providers")
	e.must(201, "POST", idps, e.admin, samlProvider("corp", nil))
	e.must(201, "POST", acme+"/roles", e.admin, map[string]any{"name": "staff"})
	id := e.must(201, "POST", idps+"/corp/mappers", e.admin, idpMapper("corp", "staff", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"})).id()
	for _, p := range []string{idps, idps + "/corp", idps + "/corp/mappers", idps + "/corp/mappers/" + id, idps + "/corp/mapper-types",
		idps + "/corp/export", acme + "/identity-provider/providers/saml"} {
		e.must(200, "GET", p, view, nil)
	}
	for _, w := range []struct {
		method, path string
		body         any
	}{
		{"POST", idps, samlProvider("mine", nil)},
		{"PUT", idps + "/corp", samlProvider("corp", map[string]string{"singleSignOnServiceUrl": "https://evil.example/sso"})},
		{"DELETE", idps + "/corp", nil},
		{"POST", idps + "/corp/mappers", idpMapper("corp", "m", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"})},
		{"PUT", idps + "/corp/mappers/" + id, idpMapper("corp", "staff", "hardcoded-role-idp-mapper", map[string]string{"role": "staff"})},
		{"DELETE", idps + "/corp/mappers/" + id, nil},
		{"POST", acme + "/identity-provider/import-config", map[string]any{"providerId": "saml", "fromUrl": "http://127.0.0.1:1/"}},
	} {
		if r := e.do(w.method, w.path, view, w.body); r.status != 403 {
			t.Errorf("%s %s by a viewer: %d %s", w.method, w.path, r.status, r.body)
		}
	}
	if rows, _ := e.st.ListIdentityProviders(t.Context(), e.realmID()); len(rows) != 1 {
		t.Errorf("providers: %+v", rows)
	}
}

func (e *idpEnv) realmID() string {
	r, err := e.st.GetRealmByName(e.t.Context(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

// TestRealmImportIdentityProviders: a realm created through the admin API
// with an identity provider or mapper keygate could not run is a 400
// naming the provider's alias and the key, and nothing is created.
func TestRealmImportIdentityProviders(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	bad := map[string]any{"realm": "imported", "enabled": true,
		"identityProviders": []any{samlProvider("corp", map[string]string{"singleSignOnServiceUrl": ""})}}
	r := e.must(400, "POST", "/admin/realms", e.admin, bad)
	if !strings.Contains(string(r.body), `identityProviders[0].config.singleSignOnServiceUrl: identity provider \"corp\": required`) {
		t.Errorf("answer: %s", r.body)
	}
	bad["identityProviders"] = []any{samlProvider("corp", nil)}
	bad["identityProviderMappers"] = []any{idpMapper("corp", "admins", "saml-role-idp-mapper", map[string]string{"attribute.name": "memberOf"})}
	r = e.must(400, "POST", "/admin/realms", e.admin, bad)
	if !strings.Contains(string(r.body), `identityProviderMappers[0].config.role: identity provider \"corp\" mapper \"admins\": required`) {
		t.Errorf("answer: %s", r.body)
	}
	e.must(404, "GET", "/admin/realms/imported", e.admin, nil)
	bad["identityProviders"] = []any{samlProvider("corp", nil), map[string]any{"alias": "gh", "providerId": "github"}}
	bad["identityProviderMappers"] = []any{}
	e.must(201, "POST", "/admin/realms", e.admin, bad)
	e.must(200, "GET", "/admin/realms/imported/identity-provider/instances/gh", e.admin, nil)
}

// TestIdentityProviderAutoLink: a provider that links a trusted email to
// an existing account without asking hands out every account with an
// email, admins' included: only a caller holding every admin role writes
// one.
func TestIdentityProviderAutoLink(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	mi := e.userWithRoles("acme", "mi", "manage-identity-providers")
	ra := e.userWithRoles("acme", "ra", "realm-admin")
	auto := func(alias string) map[string]any {
		p := oidcProvider(alias, "oidc", map[string]string{"autoLinkByEmail": "true"})
		p["trustEmail"] = true
		return p
	}
	e.must(403, "POST", idps, mi, auto("mine"))
	p := auto("mine")
	p["trustEmail"] = false
	e.must(201, "POST", idps, mi, p) // the flag alone links nothing
	e.must(403, "PUT", idps+"/mine", mi, map[string]any{"trustEmail": true})
	e.must(201, "POST", idps, ra, auto("corp"))
	e.must(403, "PUT", idps+"/corp", mi, map[string]any{"displayName": "Corp"})
	e.must(204, "PUT", idps+"/corp", ra, map[string]any{"displayName": "Corp"})
	e.must(201, "POST", idps, e.admin, auto("srv"))
}

// TestIdentityProviderReadTokenRole: addReadTokenRoleOnCreate gives every
// user the provider creates the broker client's read-token role, through
// the check a mapper's grant goes through: an identity provider manager
// may set it (as in Keycloak) while the role carries no admin right, and
// may not once someone made it a composite of one.
func TestIdentityProviderReadTokenRole(t *testing.T) {
	e := newIdPEnv(t, idp.Config{})
	mi := e.userWithRoles("acme", "mi", "manage-identity-providers")
	readable := func(alias string) map[string]any {
		p := oidcProvider(alias, "oidc", nil)
		p["storeToken"], p["addReadTokenRoleOnCreate"] = true, true
		return p
	}
	e.must(201, "POST", idps, mi, readable("mine"))
	id := func(path string) string {
		var v []map[string]any
		if err := json.Unmarshal(e.must(200, "GET", path, e.admin, nil).body, &v); err != nil || len(v) != 1 {
			t.Fatalf("GET %s: %v %v", path, v, err)
		}
		return v[0]["id"].(string)
	}
	broker, rm := id("/admin/realms/acme/clients?clientId=broker"), id("/admin/realms/acme/clients?clientId=realm-management")
	var manageUsers map[string]any
	if err := json.Unmarshal(e.must(200, "GET", "/admin/realms/acme/clients/"+rm+"/roles/manage-users", e.admin, nil).body, &manageUsers); err != nil {
		t.Fatal(err)
	}
	e.must(204, "POST", "/admin/realms/acme/clients/"+broker+"/roles/read-token/composites", e.admin, []map[string]any{{"id": manageUsers["id"]}})
	e.must(403, "POST", idps, mi, readable("theirs"))
	e.must(403, "PUT", idps+"/mine", mi, map[string]any{"displayName": "Mine"})
	p := readable("theirs")
	p["addReadTokenRoleOnCreate"] = false
	e.must(201, "POST", idps, mi, p)
	e.must(201, "POST", idps, e.admin, readable("srv"))
}
