package test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
)

// TestServerInfo reads GET /admin/serverinfo from the binary as a master
// admin and checks the fields kcadm, the Terraform provider and
// keycloak-admin-client read first, in Keycloak's shapes, listing what
// keygate implements; a realm user is refused 403 and no token 401.
func TestServerInfo(t *testing.T) {
	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"},
		"--import-realm", "testdata/realm-test.json")
	get := func(token string) (int, []byte) {
		req, _ := http.NewRequest(http.MethodGet, s.URL+"/admin/serverinfo", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, body
	}
	if code, _ := get(""); code != 401 {
		t.Errorf("no token: %d, want 401", code)
	}
	_, user := postForm(t, s.URL+"/realms/test/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, "webapp", "webapp-secret")
	if code, _ := get(user["access_token"].(string)); code != 403 {
		t.Errorf("a realm user without admin roles: %d, want 403", code)
	}
	code, tok := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token",
		url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	if code != 200 {
		t.Fatalf("admin token: %d %v", code, tok)
	}
	code, body := get(tok["access_token"].(string))
	if code != 200 {
		t.Fatalf("serverinfo: %d %s", code, body)
	}
	var info struct {
		SystemInfo struct {
			Version      string `json:"version"`
			ServerTime   string `json:"serverTime"`
			Uptime       string `json:"uptime"`
			UptimeMillis int64  `json:"uptimeMillis"`
		} `json:"systemInfo"`
		MemoryInfo struct {
			Total, Used, Free, FreePercentage int64
			TotalFormated                     string `json:"totalFormated"`
		} `json:"memoryInfo"`
		ProfileInfo struct {
			Name             string   `json:"name"`
			DisabledFeatures []string `json:"disabledFeatures"`
		} `json:"profileInfo"`
		Themes map[string][]struct {
			Name    string
			Locales []string
		} `json:"themes"`
		Providers map[string]struct {
			Internal  bool                       `json:"internal"`
			Providers map[string]json.RawMessage `json:"providers"`
		} `json:"providers"`
		ProtocolMapperTypes map[string][]struct {
			ID, Name, Category, HelpText string
			Priority                     int
			Properties                   []struct{ Name, Label, Type string }
		} `json:"protocolMapperTypes"`
		BuiltinProtocolMappers map[string][]struct {
			Name, Protocol, ProtocolMapper string
			Config                         map[string]string
		} `json:"builtinProtocolMappers"`
		IdentityProviders []map[string]string `json:"identityProviders"`
		ComponentTypes    map[string][]struct {
			ID       string
			Metadata map[string]any
		} `json:"componentTypes"`
		PasswordPolicies []struct {
			ID, DisplayName, ConfigType, DefaultValue string
			MultipleSupported                         bool
		} `json:"passwordPolicies"`
		Enums      map[string][]string `json:"enums"`
		CryptoInfo struct {
			CryptoProvider                      string   `json:"cryptoProvider"`
			ClientSignatureAsymmetricAlgorithms []string `json:"clientSignatureAsymmetricAlgorithms"`
		} `json:"cryptoInfo"`
	}
	if err := json.Unmarshal(body, &info); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if !strings.HasPrefix(info.SystemInfo.Version, "26.") || info.SystemInfo.ServerTime == "" || !strings.Contains(info.SystemInfo.Uptime, " second") {
		t.Errorf("systemInfo: %+v", info.SystemInfo)
	}
	if info.MemoryInfo.Total <= 0 || info.MemoryInfo.Used <= 0 || info.MemoryInfo.Total != info.MemoryInfo.Used+info.MemoryInfo.Free || !strings.HasSuffix(info.MemoryInfo.TotalFormated, "B") {
		t.Errorf("memoryInfo: %+v", info.MemoryInfo)
	}
	if info.ProfileInfo.Name != "community" || !slices.Contains(info.ProfileInfo.DisabledFeatures, "TOKEN_EXCHANGE") {
		t.Errorf("profileInfo: %+v", info.ProfileInfo)
	}
	if l := info.Themes["login"]; len(l) != 1 || l[0].Name != "keycloak" || !slices.Contains(l[0].Locales, "de") {
		t.Errorf("login themes: %+v", l)
	}
	for spi, ids := range map[string][]string{
		"login-protocol":    {"openid-connect"},
		"identity_provider": {"saml", "oidc", "keycloak-oidc"},
		"storage":           {"ldap"},
		"eventsListener":    {"jboss-logging"},
		"password-hashing":  {"pbkdf2-sha256", "argon2"},
		"protocol-mapper":   {"oidc-usermodel-attribute-mapper", "oidc-group-membership-mapper"},
		"ldap-mapper":       {"group-ldap-mapper", "user-attribute-ldap-mapper"},
	} {
		for _, id := range ids {
			if _, ok := info.Providers[spi].Providers[id]; !ok {
				t.Errorf("providers[%s] lacks %s: %+v", spi, id, info.Providers[spi])
			}
		}
	}
	mappers := map[string]bool{}
	for _, m := range info.ProtocolMapperTypes["openid-connect"] {
		mappers[m.ID] = true
		if m.Name == "" || m.Category == "" || m.Properties == nil {
			t.Errorf("mapper type %+v", m)
		}
	}
	if !mappers["oidc-usermodel-client-role-mapper"] || mappers["oidc-sha256-pairwise-sub-mapper"] || mappers["oidc-script-mapper"] {
		t.Errorf("protocol mapper types: %v", mappers)
	}
	builtin := map[string]string{}
	for _, m := range info.BuiltinProtocolMappers["openid-connect"] {
		builtin[m.Name] = m.ProtocolMapper
	}
	if builtin["email"] != "oidc-usermodel-attribute-mapper" && builtin["email"] != "oidc-usermodel-property-mapper" || builtin["realm roles"] != "oidc-usermodel-realm-role-mapper" {
		t.Errorf("builtin mappers: %v", builtin)
	}
	var idpIDs []string
	for _, p := range info.IdentityProviders {
		idpIDs = append(idpIDs, p["id"])
		if p["name"] == "" || p["groupName"] != "User-defined" {
			t.Errorf("identity provider %v", p)
		}
	}
	slices.Sort(idpIDs)
	if !slices.Equal(idpIDs, []string{"keycloak-oidc", "oidc", "saml"}) {
		t.Errorf("identity providers %v", idpIDs)
	}
	if ct := info.ComponentTypes["org.keycloak.storage.UserStorageProvider"]; len(ct) != 1 || ct[0].ID != "ldap" {
		t.Errorf("user storage component types %+v", ct)
	}
	if len(info.ComponentTypes["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"]) == 0 {
		t.Error("no LDAP mapper component types")
	}
	policies := map[string]bool{}
	for _, p := range info.PasswordPolicies {
		policies[p.ID] = true
		if p.DisplayName == "" {
			t.Errorf("policy %+v", p)
		}
	}
	if !policies["length"] || !policies["regexPattern"] || policies["passwordHistory"] {
		t.Errorf("password policies %v", policies)
	}
	if e := info.Enums; !slices.Contains(e["eventType"], "LOGIN_ERROR") || !slices.Equal(e["operationType"], []string{"ACTION", "CREATE", "DELETE", "UPDATE"}) ||
		!slices.Contains(e["resourceType"], "USER") || !slices.IsSorted(e["resourceType"]) || !slices.IsSorted(e["eventType"]) {
		t.Errorf("enums %v", e)
	}
	if info.CryptoInfo.CryptoProvider == "" || info.CryptoInfo.ClientSignatureAsymmetricAlgorithms == nil {
		t.Errorf("cryptoInfo %+v", info.CryptoInfo)
	}
}
