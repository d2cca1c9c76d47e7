package rep

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
)

func TestDecodeRealmDefaults(t *testing.T) {
	_, s, err := DecodeRealm(store.Realm{ID: "rid", Name: "Shop", Enabled: true, Settings: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	durations := []struct {
		name      string
		got, want time.Duration
	}{
		{"accessTokenLifespan", s.AccessTokenLifespan, 300 * time.Second},
		{"accessTokenLifespanForImplicitFlow", s.AccessTokenLifespanForImplicitFlow, 900 * time.Second},
		{"ssoSessionIdleTimeout", s.SSOSessionIdleTimeout, 1800 * time.Second},
		{"ssoSessionMaxLifespan", s.SSOSessionMaxLifespan, 36000 * time.Second},
		{"offlineSessionIdleTimeout", s.OfflineSessionIdleTimeout, 2592000 * time.Second},
		{"accessCodeLifespan", s.AccessCodeLifespan, 60 * time.Second},
		{"accessCodeLifespanLogin", s.AccessCodeLifespanLogin, 1800 * time.Second},
		{"accessCodeLifespanUserAction", s.AccessCodeLifespanUserAction, 300 * time.Second},
		{"clientSessionIdleTimeout", s.ClientSessionIdleTimeout, 0},
		{"waitIncrement", s.BruteForce.WaitIncrement, 60 * time.Second},
		{"maxFailureWait", s.BruteForce.MaxFailureWait, 900 * time.Second},
		{"minimumQuickLoginWait", s.BruteForce.MinimumQuickLoginWait, 60 * time.Second},
		{"quickLoginCheck", s.BruteForce.QuickLoginCheck, time.Second},
		{"maxDeltaTime", s.BruteForce.MaxDeltaTime, 12 * time.Hour},
	}
	for _, d := range durations {
		equal(t, d.name, d.got, d.want)
	}
	equal(t, "id", s.ID, "rid")
	equal(t, "name", s.Name, "Shop")
	equal(t, "enabled", s.Enabled, true)
	equal(t, "sslRequired", s.SSLRequired, "external")
	equal(t, "loginWithEmailAllowed", s.LoginWithEmailAllowed, true)
	equal(t, "registrationAllowed", s.RegistrationAllowed, false)
	equal(t, "bruteForceProtected", s.BruteForce.Protected, false)
	equal(t, "failureFactor", s.BruteForce.FailureFactor, 30)
	equal(t, "strategy", s.BruteForce.Strategy, "MULTIPLE")
	equal(t, "defaultRole", s.DefaultRole, "default-roles-shop")
	equal(t, "signature algorithm", s.DefaultSignatureAlgorithm, "RS256")
	equal(t, "passwordPolicy", s.PasswordPolicy, "")
	equalSlices(t, "default scopes", s.DefaultDefaultClientScopes, []string{"profile", "email", "roles", "web-origins", "acr", "basic", "role_list"})
	equalSlices(t, "optional scopes", s.DefaultOptionalClientScopes, []string{"offline_access", "address", "phone", "microprofile-jwt"})

	// Explicit values win; columns win over settings; absurd zeros fall back.
	r, s, err := DecodeRealm(store.Realm{ID: "rid", Name: "shop", Enabled: false, Settings: json.RawMessage(`{
		"realm":"stale","id":"stale","enabled":true,"accessTokenLifespan":120,"ssoSessionIdleTimeout":0,
		"bruteForceProtected":true,"failureFactor":3,"quickLoginCheckMilliSeconds":250,"passwordPolicy":"length(12)",
		"defaultRole":{"name":"everyone"},"defaultDefaultClientScopes":[],"displayName":"The Shop"}`)})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "rep realm", r.Realm, "shop")
	equal(t, "rep id", r.ID, "rid")
	equal(t, "enabled from column", s.Enabled, false)
	equal(t, "accessTokenLifespan", s.AccessTokenLifespan, 2*time.Minute)
	equal(t, "zero ssoSessionIdleTimeout", s.SSOSessionIdleTimeout, 30*time.Minute)
	equal(t, "bruteForceProtected", s.BruteForce.Protected, true)
	equal(t, "failureFactor", s.BruteForce.FailureFactor, 3)
	equal(t, "quickLoginCheck", s.BruteForce.QuickLoginCheck, 250*time.Millisecond)
	equal(t, "passwordPolicy", s.PasswordPolicy, "length(12)")
	equal(t, "defaultRole", s.DefaultRole, "everyone")
	equal(t, "displayName", s.DisplayName, "The Shop")
	if s.DefaultDefaultClientScopes == nil || len(s.DefaultDefaultClientScopes) != 0 {
		t.Errorf("explicit empty default scopes = %#v, want empty", s.DefaultDefaultClientScopes)
	}

	if _, _, err := DecodeRealm(store.Realm{Name: "bad", Settings: json.RawMessage(`{"accessTokenLifespan":"x"}`)}); err == nil {
		t.Error("DecodeRealm accepted invalid settings")
	}
}

func TestDecodeClientDefaults(t *testing.T) {
	_, s, err := DecodeClient(store.Client{ID: "cid", ClientID: "app", Secret: "s3cret", Config: json.RawMessage(`{}`)})
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "id", s.ID, "cid")
	equal(t, "clientId", s.ClientID, "app")
	equal(t, "secret", s.Secret, "s3cret")
	equal(t, "protocol", s.Protocol, "openid-connect")
	equal(t, "enabled", s.Enabled, true)
	equal(t, "standardFlowEnabled", s.StandardFlowEnabled, true)
	equal(t, "fullScopeAllowed", s.FullScopeAllowed, true)
	equal(t, "publicClient", s.PublicClient, false)
	equal(t, "directAccessGrantsEnabled", s.DirectAccessGrantsEnabled, false)
	equal(t, "serviceAccountsEnabled", s.ServiceAccountsEnabled, false)
	equal(t, "useRefreshTokens", s.UseRefreshTokens, true)
	equal(t, "client_credentials.use_refresh_token", s.ClientCredentialsUseRefreshToken, false)
	equal(t, "authenticator", s.ClientAuthenticatorType, "client-secret")
	equal(t, "accessTokenLifespan", s.AccessTokenLifespan, 0)
	equal(t, "pkce", s.PKCEMethod, "")
	if s.PostLogoutRedirectURIs != nil {
		t.Errorf("postLogoutRedirectURIs = %q", s.PostLogoutRedirectURIs)
	}

	c := Client{ID: "cid", ClientID: "spa", Secret: "leaked", PublicClient: ptr(true), Enabled: ptr(false),
		StandardFlowEnabled: ptr(false), FullScopeAllowed: ptr(false), RedirectURIs: []string{"https://spa/*"},
		DefaultClientScopes: []string{"profile"}, OptionalClientScopes: []string{},
		Attributes: map[string]string{"pkce.code.challenge.method": "S256", "post.logout.redirect.uris": "https://a/##+",
			"access.token.lifespan": "120", "use.refresh.tokens": "false", "client_credentials.use_refresh_token": "true"}}
	row, err := ClientToStore("rid", c)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "public secret column", row.Secret, "")
	var cfg map[string]json.RawMessage
	if err := json.Unmarshal(row.Config, &cfg); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"id", "clientId", "secret", "registrationAccessToken"} {
		if v, ok := cfg[k]; ok && string(v) != `""` {
			t.Errorf("client config keeps %q: %s", k, v)
		}
	}
	back, s, err := DecodeClient(row)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "clientId", back.ClientID, "spa")
	equal(t, "enabled", s.Enabled, false)
	equal(t, "standardFlowEnabled", s.StandardFlowEnabled, false)
	equal(t, "fullScopeAllowed", s.FullScopeAllowed, false)
	equal(t, "secret", s.Secret, "")
	equal(t, "pkce", s.PKCEMethod, "S256")
	equal(t, "accessTokenLifespan", s.AccessTokenLifespan, 2*time.Minute)
	equal(t, "useRefreshTokens", s.UseRefreshTokens, false)
	equal(t, "client_credentials.use_refresh_token", s.ClientCredentialsUseRefreshToken, true)
	equalSlices(t, "postLogoutRedirectURIs", s.PostLogoutRedirectURIs, []string{"https://a/", "+"})
	equalSlices(t, "redirectUris", s.RedirectURIs, []string{"https://spa/*"})
	equalSlices(t, "default scopes", s.DefaultClientScopes, []string{"profile"})
	if s.OptionalClientScopes == nil {
		t.Error("explicit empty optional scopes decoded as absent")
	}
}

func TestDecodeAt(t *testing.T) {
	var c Client
	err := decodeAt([]byte(`{"clientId":"a","enabled":"true","notBefore":"42","attributes":{"use.refresh.tokens":true,"n":5},
		"ClientId":"ignored-case","unknown":{"x":[1]}}`), &c, "clients[0]")
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "clientId", c.ClientID, "a")
	equal(t, "enabled coerced", *c.Enabled, true)
	equal(t, "notBefore coerced", *c.NotBefore, 42)
	equal(t, "bool attribute", c.Attributes["use.refresh.tokens"], "true")
	equal(t, "number attribute", c.Attributes["n"], "5")
	for _, tc := range []struct{ in, want string }{
		{`{"enabled":"yes"}`, "clients[0].enabled: expected boolean, got string"},
		{`{"notBefore":1.5}`, "clients[0].notBefore: expected integer, got number 1.5"},
		{`{"protocolMappers":[{"name":"a"},{"config":[]}]}`, "clients[0].protocolMappers[1].config: expected object, got array"},
		{`{"attributes":{"a.b":{}}}`, `clients[0].attributes["a.b"]: expected string, got object`},
		{`[]`, "clients[0]: expected object, got array"},
	} {
		var c Client
		if err := decodeAt([]byte(tc.in), &c, "clients[0]"); err == nil || err.Error() != tc.want {
			t.Errorf("decodeAt(%s) = %v, want %q", tc.in, err, tc.want)
		}
	}
}

func TestDecodeAtDepthLimit(t *testing.T) {
	ok := strings.Repeat(`{"name":"g","subGroups":[`, 20) + strings.Repeat(`]}`, 20)
	var g Group
	if err := decodeAt([]byte(ok), &g, "groups[0]"); err != nil {
		t.Fatalf("20 levels: %v", err)
	}
	deep := strings.Repeat(`{"name":"g","subGroups":[`, 100) + strings.Repeat(`]}`, 100)
	if err := decodeAt([]byte(deep), &g, "groups[0]"); err == nil || !strings.Contains(err.Error(), "nested more than 128 levels deep") {
		t.Errorf("100 levels: %v", err)
	}
}

func TestNewRealmShape(t *testing.T) {
	r := NewRealm("shop")
	if r.ID == "" || r.DefaultRole == nil || r.DefaultRole.Name != "default-roles-shop" || r.DefaultRole.ID == "" {
		t.Fatalf("realm id / default role = %q / %+v", r.ID, r.DefaultRole)
	}
	var clients []string
	for _, c := range r.Clients {
		clients = append(clients, c.ClientID)
		if c.ID == "" {
			t.Errorf("client %q has no id", c.ClientID)
		}
		if c.ClientID == "security-admin-console" && !slices.Equal(c.RedirectURIs, []string{"/admin/shop/console/*"}) {
			t.Errorf("security-admin-console redirect URIs = %q", c.RedirectURIs)
		}
	}
	slices.Sort(clients)
	equalSlices(t, "clients", clients, []string{"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"})
	var account []string
	for _, role := range r.Roles.Client["account"] {
		account = append(account, role.Name)
		if role.Name == "manage-account" && (!role.Composite || !slices.Equal(role.Composites.Client["account"], []string{"manage-account-links"})) {
			t.Errorf("manage-account = %+v", role)
		}
	}
	equalSlices(t, "account roles", account, []string{"delete-account", "manage-account", "manage-account-links",
		"manage-consent", "view-applications", "view-consent", "view-groups", "view-profile"})
	for _, s := range r.ClientScopes {
		for _, m := range s.ProtocolMappers {
			if m.ID == "" || m.Protocol == "" {
				t.Errorf("scope %q mapper %q lacks id or protocol", s.Name, m.Name)
			}
		}
	}
}
