package rep

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
)

func openStore(t testing.TB) store.Store {
	t.Helper()
	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "keygate.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func readTestdata(t testing.TB) []byte {
	t.Helper()
	data, err := os.ReadFile("testdata/acme-realm.json")
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// fileRealm decodes the test export the plain way, to compare against.
func fileRealm(t testing.TB) Realm {
	var r Realm
	if err := json.Unmarshal(readTestdata(t), &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func mustImport(t testing.TB, st store.Store, data string, opts ImportOptions) ImportResult {
	t.Helper()
	res, err := ImportRealm(context.Background(), st, []byte(data), opts)
	if err != nil {
		t.Fatalf("ImportRealm: %v", err)
	}
	return res
}

func mustRealm(t testing.TB, st store.Store, name string) (store.Realm, RealmSettings) {
	t.Helper()
	row, err := st.GetRealmByName(context.Background(), name)
	if err != nil {
		t.Fatalf("GetRealmByName(%q): %v", name, err)
	}
	_, s, err := DecodeRealm(row)
	if err != nil {
		t.Fatal(err)
	}
	return row, s
}

func mustClient(t testing.TB, st store.Store, realmID, clientID string) ClientSettings {
	t.Helper()
	row, err := st.GetClientByClientID(context.Background(), realmID, clientID)
	if err != nil {
		t.Fatalf("client %q: %v", clientID, err)
	}
	_, s, err := DecodeClient(row)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustUser(t testing.TB, st store.Store, realmID, username string) store.User {
	t.Helper()
	u, err := st.GetUserByUsername(context.Background(), realmID, username)
	if err != nil {
		t.Fatalf("user %q: %v", username, err)
	}
	return u
}

// roleLabels names roles as "name" (realm) or "clientId/name".
func roleLabels(t testing.TB, st store.Store, realmID string, roles []store.Role) []string {
	t.Helper()
	clients, err := st.ListClients(context.Background(), realmID)
	if err != nil {
		t.Fatal(err)
	}
	byID := map[string]string{}
	for _, c := range clients {
		byID[c.ID] = c.ClientID
	}
	var out []string
	for _, r := range roles {
		if r.ClientID == "" {
			out = append(out, r.Name)
		} else {
			out = append(out, byID[r.ClientID]+"/"+r.Name)
		}
	}
	slices.Sort(out)
	return out
}

func equal[T comparable](t testing.TB, what string, got, want T) {
	t.Helper()
	if got != want {
		t.Errorf("%s = %v, want %v", what, got, want)
	}
}

func equalSlices(t testing.TB, what string, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s = %q, want %q", what, got, want)
	}
}

func verifies(t testing.TB, c store.Credential, pw string) {
	t.Helper()
	cred, err := password.FromKeycloak(c.SecretData, c.CredentialData)
	if err != nil {
		t.Fatalf("stored credential does not decode: %v", err)
	}
	ok, err := password.Verify(cred, pw)
	if err != nil || !ok {
		t.Errorf("password %q does not verify against the stored credential (ok=%v, err=%v)", pw, ok, err)
	}
}

func TestImportKeycloakExport(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	res := mustImport(t, st, string(readTestdata(t)), ImportOptions{})
	want := ImportResult{Realms: 1, Users: 4, Clients: 9, Roles: 38, Groups: 5}
	if res.Realms != want.Realms || res.Users != want.Users || res.Clients != want.Clients ||
		res.Roles != want.Roles || res.Groups != want.Groups || len(res.Warnings) != 0 {
		t.Errorf("result = %+v, want %+v", res, want)
	}
	file := fileRealm(t)

	realm, s := mustRealm(t, st, "acme")
	equal(t, "realm id", realm.ID, file.ID)
	equal(t, "enabled", realm.Enabled, true)
	equal(t, "displayName", s.DisplayName, "ACME Corp")
	equal(t, "accessTokenLifespan", s.AccessTokenLifespan, 10*time.Minute)
	equal(t, "ssoSessionIdleTimeout", s.SSOSessionIdleTimeout, time.Hour)
	equal(t, "ssoSessionMaxLifespan", s.SSOSessionMaxLifespan, 12*time.Hour)
	equal(t, "bruteForceProtected", s.BruteForce.Protected, true)
	equal(t, "failureFactor", s.BruteForce.FailureFactor, 5)
	equal(t, "passwordPolicy", s.PasswordPolicy, "hashIterations(27500) and length(10) and notUsername(undefined)")
	equal(t, "defaultRole", s.DefaultRole, "default-roles-acme")
	equal(t, "rememberMe", s.RememberMe, true)
	equalSlices(t, "supportedLocales", s.SupportedLocales, []string{"de", "en"})
	if len(s.ScopeMappings) != 1 || s.ScopeMappings[0].ClientScope != "offline_access" {
		t.Errorf("scopeMappings = %+v", s.ScopeMappings)
	}
	if m := s.ClientScopeMappings["account"]; len(m) != 1 || m[0].Client != "account-console" {
		t.Errorf("clientScopeMappings = %+v", s.ClientScopeMappings)
	}
	var settings map[string]json.RawMessage
	if err := json.Unmarshal(realm.Settings, &settings); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"roles", "groups", "users", "clients", "clientScopes", "identityProviders", "identityProviderMappers", "components"} {
		if _, ok := settings[k]; ok {
			t.Errorf("realm settings keep the collection %q", k)
		}
	}

	// Users: ids kept, usernames and emails lower-cased, hashes byte-for-byte.
	alice := mustUser(t, st, realm.ID, "alice")
	equal(t, "alice id", alice.ID, file.Users[0].ID)
	equal(t, "alice created", alice.Created.UnixMilli(), file.Users[0].CreatedTimestamp)
	equal(t, "alice email", alice.Email, "alice@acme.example")
	equalSlices(t, "alice department", alice.Attributes["department"], []string{"platform"})
	creds, err := st.ListCredentials(ctx, alice.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("alice credentials = %v, %v", creds, err)
	}
	equal(t, "alice secretData", creds[0].SecretData, file.Users[0].Credentials[0].SecretData)
	equal(t, "alice credentialData", creds[0].CredentialData, file.Users[0].Credentials[0].CredentialData)
	equal(t, "alice credential id", creds[0].ID, file.Users[0].Credentials[0].ID)
	equal(t, "alice credential label", creds[0].UserLabel, "My password")
	verifies(t, creds[0], "Wonderland-2021") // 64-byte pbkdf2-sha256 value

	bob := mustUser(t, st, realm.ID, "bob")
	equal(t, "bob username", bob.Username, "bob")
	equal(t, "bob email", bob.Email, "bob@acme.example")
	equalSlices(t, "bob required actions", bob.RequiredActions, []string{"VERIFY_EMAIL"})
	creds, err = st.ListCredentials(ctx, bob.ID)
	if err != nil || len(creds) != 1 {
		t.Fatalf("bob credentials = %v, %v", creds, err)
	}
	verifies(t, creds[0], "CanWeFixIt-26") // 32-byte value
	equal(t, "carol enabled", mustUser(t, st, realm.ID, "carol").Enabled, false)

	roles, err := st.ListUserRoles(ctx, realm.ID, alice.ID)
	if err != nil {
		t.Fatal(err)
	}
	equalSlices(t, "alice roles", roleLabels(t, st, realm.ID, roles),
		[]string{"account/view-groups", "admin", "default-roles-acme", "webapp/editor"})
	groups, err := st.ListUserGroups(ctx, realm.ID, alice.ID)
	if err != nil || len(groups) != 1 {
		t.Fatalf("alice groups = %v, %v", groups, err)
	}
	all, err := st.ListGroups(ctx, realm.ID)
	if err != nil {
		t.Fatal(err)
	}
	paths := groupPaths(all)
	equal(t, "alice group", paths[groups[0].ID], "/staff/engineering/platform")
	groups, _ = st.ListUserGroups(ctx, realm.ID, bob.ID)
	var bobGroups []string
	for _, g := range groups {
		bobGroups = append(bobGroups, paths[g.ID])
	}
	slices.Sort(bobGroups)
	equalSlices(t, "bob groups", bobGroups, []string{"/contractors", "/staff/sales"})
	for id, p := range paths {
		if p == "/staff/engineering" {
			groles, _ := st.ListGroupRoles(ctx, realm.ID, id)
			equalSlices(t, "engineering roles", roleLabels(t, st, realm.ID, groles), []string{"api-backend/read", "webapp/editor"})
		}
	}

	// Composites by name.
	mgmt := mustClient(t, st, realm.ID, "realm-management")
	realmAdmin, err := st.GetRoleByName(ctx, realm.ID, mgmt.ID, "realm-admin")
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := st.ListRoleComposites(ctx, realm.ID, realmAdmin.ID)
	if got := roleLabels(t, st, realm.ID, kids); len(got) != 18 || !slices.Contains(got, "realm-management/manage-users") {
		t.Errorf("realm-admin composites = %q", got)
	}
	admin, _ := st.GetRoleByName(ctx, realm.ID, "", "admin")
	kids, _ = st.ListRoleComposites(ctx, realm.ID, admin.ID)
	equalSlices(t, "admin composites", roleLabels(t, st, realm.ID, kids),
		[]string{"auditor", "realm-management/realm-admin", "user", "webapp/editor"})

	// Service account linked to its client, with its roles.
	api := mustClient(t, st, realm.ID, "api-backend")
	sa, err := st.GetServiceAccountUser(ctx, realm.ID, api.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "service account id", sa.ID, file.Users[3].ID)
	roles, _ = st.ListUserRoles(ctx, realm.ID, sa.ID)
	equalSlices(t, "service account roles", roleLabels(t, st, realm.ID, roles),
		[]string{"api-backend/read", "default-roles-acme", "realm-management/query-groups", "realm-management/view-users"})
	equal(t, "api access.token.lifespan", api.AccessTokenLifespan, 10*time.Minute)
	equal(t, "api service accounts", api.ServiceAccountsEnabled, true)
	equal(t, "api secret", api.Secret, "Qm8xN2pWc1R4cDNrWmFMNGhZc0VvUHFyVXZ3eEF5Yjk")

	// Clients: secrets in columns, mappers in config.
	web := mustClient(t, st, realm.ID, "webapp")
	equal(t, "webapp id", web.ID, file.Clients[8].ID)
	equal(t, "webapp secret", web.Secret, "r4nD0m-Webapp-S3cret-From-Keycloak-0001")
	equalSlices(t, "webapp redirectUris", web.RedirectURIs, []string{"https://dash.acme.example/oauth2/callback"})
	equal(t, "webapp directAccessGrants", web.DirectAccessGrantsEnabled, true)
	mappers := map[string]ProtocolMapper{}
	for _, m := range web.ProtocolMappers {
		mappers[m.ProtocolMapper] = m
	}
	equal(t, "audience mapper", mappers["oidc-audience-mapper"].Config["included.client.audience"], "api-backend")
	equal(t, "group mapper full.path", mappers["oidc-group-membership-mapper"].Config["full.path"], "true")
	spa := mustClient(t, st, realm.ID, "spa")
	equal(t, "spa public", spa.PublicClient, true)
	equal(t, "spa secret", spa.Secret, "")
	equal(t, "spa pkce", spa.PKCEMethod, "S256")
	equalSlices(t, "spa post-logout", spa.PostLogoutRedirectURIs, []string{"https://spa.acme.example/", "http://localhost:5173/"})
	if !slices.Contains(spa.OptionalClientScopes, "groups") {
		t.Errorf("spa optional scopes = %q", spa.OptionalClientScopes)
	}
	scopes, _ := st.ListClientScopes(ctx, realm.ID)
	equal(t, "client scopes", len(scopes), 13)

	// Identity provider and components.
	idp, err := st.GetIdentityProvider(ctx, realm.ID, "corp-saml")
	if err != nil {
		t.Fatal(err)
	}
	rp, _ := IdentityProviderFromStore(idp)
	equal(t, "idp entity", rp.Config["idpEntityId"], "https://idp.corp.example/saml")
	idpMappers, _ := st.ListIdentityProviderMappers(ctx, realm.ID, "corp-saml")
	equal(t, "idp mappers", len(idpMappers), 2)
	top, _ := st.ListComponents(ctx, realm.ID, realm.ID, "")
	equal(t, "top-level components", len(top), 3)
	ldapMappers, _ := st.ListComponents(ctx, realm.ID, file.Components["org.keycloak.storage.UserStorageProvider"][0].ID, "")
	equal(t, "ldap mappers", len(ldapMappers), 2)
}

func TestImportMinimalRealmGetsBuiltins(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	res := mustImport(t, st, `{"realm":"mini","enabled":true,
		"clients":[{"clientId":"app","redirectUris":["https://app.example/*"]},
		           {"clientId":"pub","publicClient":true,"secret":"dropped"},
		           {"clientId":"m2m","serviceAccountsEnabled":true,"standardFlowEnabled":false}],
		"users":[{"username":"u1","enabled":true}]}`, ImportOptions{})
	equal(t, "clients", res.Clients, 9)
	equal(t, "users (u1 + service account)", res.Users, 2)

	realm, s := mustRealm(t, st, "mini")
	equal(t, "bruteForceProtected (Keycloak default for imports)", s.BruteForce.Protected, false)
	equal(t, "accessTokenLifespan", s.AccessTokenLifespan, 5*time.Minute)
	equalSlices(t, "defaultDefaultClientScopes", s.DefaultDefaultClientScopes,
		[]string{"profile", "email", "roles", "web-origins", "acr", "basic", "role_list"})
	for _, c := range []string{"account", "account-console", "admin-cli", "broker", "realm-management", "security-admin-console"} {
		mustClient(t, st, realm.ID, c)
	}
	cli := mustClient(t, st, realm.ID, "admin-cli")
	if !cli.PublicClient || !cli.DirectAccessGrantsEnabled || cli.StandardFlowEnabled {
		t.Errorf("admin-cli = %+v", cli)
	}
	equal(t, "realm-management bearer-only", mustClient(t, st, realm.ID, "realm-management").BearerOnly, true)
	equal(t, "account-console pkce", mustClient(t, st, realm.ID, "account-console").PKCEMethod, "S256")

	dr, err := st.GetRoleByName(ctx, realm.ID, "", "default-roles-mini")
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := st.ListRoleComposites(ctx, realm.ID, dr.ID)
	equalSlices(t, "default role composites", roleLabels(t, st, realm.ID, kids),
		[]string{"account/manage-account", "account/view-profile", "offline_access", "uma_authorization"})
	mgmt := mustClient(t, st, realm.ID, "realm-management")
	ra, _ := st.GetRoleByName(ctx, realm.ID, mgmt.ID, "realm-admin")
	kids, _ = st.ListRoleComposites(ctx, realm.ID, ra.ID)
	equal(t, "realm-admin composites", len(kids), 18)

	scopes, _ := st.ListClientScopes(ctx, realm.ID)
	byName := map[string]ClientScope{}
	for _, row := range scopes {
		sc, err := ClientScopeFromStore(row)
		if err != nil {
			t.Fatal(err)
		}
		byName[sc.Name] = sc
	}
	for _, n := range []string{"profile", "email", "roles", "web-origins", "acr", "basic", "offline_access", "address", "phone", "microprofile-jwt", "role_list", "service_account"} {
		if _, ok := byName[n]; !ok {
			t.Errorf("client scope %q missing", n)
		}
	}
	mapper := func(scope, name string) ProtocolMapper {
		for _, m := range byName[scope].ProtocolMappers {
			if m.Name == name {
				return m
			}
		}
		t.Fatalf("scope %q has no mapper %q", scope, name)
		return ProtocolMapper{}
	}
	equal(t, "username claim", mapper("profile", "username").Config["claim.name"], "preferred_username")
	rr := mapper("roles", "realm roles")
	equal(t, "realm roles mapper", rr.ProtocolMapper, "oidc-usermodel-realm-role-mapper")
	equal(t, "realm roles claim", rr.Config["claim.name"], "realm_access.roles")
	equal(t, "realm roles multivalued", rr.Config["multivalued"], "true")
	equal(t, "realm roles in access token", rr.Config["access.token.claim"], "true")
	equal(t, "realm roles not in ID token", rr.Config["id.token.claim"], "")
	equal(t, "client roles claim", mapper("roles", "client roles").Config["claim.name"], "resource_access.${client_id}.roles")
	equal(t, "sub mapper", mapper("basic", "sub").ProtocolMapper, "oidc-sub-mapper")
	equal(t, "auth_time note", mapper("basic", "auth_time").Config["user.session.note"], "AUTH_TIME")

	app := mustClient(t, st, realm.ID, "app")
	equalSlices(t, "app default scopes", app.DefaultClientScopes, []string{"profile", "email", "roles", "web-origins", "acr", "basic"})
	equalSlices(t, "app optional scopes", app.OptionalClientScopes, []string{"offline_access", "address", "phone", "microprofile-jwt"})
	if b, err := base64.RawURLEncoding.DecodeString(app.Secret); err != nil || len(b) != 32 {
		t.Errorf("generated secret %q is not 32 bytes of base64url", app.Secret)
	}
	equal(t, "public client secret", mustClient(t, st, realm.ID, "pub").Secret, "")

	u1 := mustUser(t, st, realm.ID, "u1")
	if roles, _ := st.ListUserRoles(ctx, realm.ID, u1.ID); len(roles) != 0 {
		t.Errorf("u1 got roles the file does not list: %v", roles)
	}
	m2m := mustClient(t, st, realm.ID, "m2m")
	sa, err := st.GetServiceAccountUser(ctx, realm.ID, m2m.ID)
	if err != nil {
		t.Fatal(err)
	}
	equal(t, "service account username", sa.Username, "service-account-m2m")
	roles, _ := st.ListUserRoles(ctx, realm.ID, sa.ID)
	equalSlices(t, "service account roles", roleLabels(t, st, realm.ID, roles), []string{"default-roles-mini"})
}

func TestImportOldExportGetsMigratedScopes(t *testing.T) {
	// A pre-25 export: no `basic` scope, clients list their scopes. Keycloak's
	// migration adds basic (sub, auth_time) to the realm and its clients.
	st := openStore(t)
	mustImport(t, st, `{"realm":"old","clientScopes":[{"name":"profile","protocol":"openid-connect"},{"name":"acr"}],
		"defaultDefaultClientScopes":["profile","acr"],
		"clients":[{"clientId":"app","defaultClientScopes":["profile","nope"],"optionalClientScopes":[]}]}`, ImportOptions{})
	realm, s := mustRealm(t, st, "old")
	equalSlices(t, "realm defaults", s.DefaultDefaultClientScopes, []string{"profile", "acr", "basic"})
	app := mustClient(t, st, realm.ID, "app")
	equalSlices(t, "app defaults", app.DefaultClientScopes, []string{"profile", "basic"})
	equalSlices(t, "app optional", app.OptionalClientScopes, []string{})
}

func TestCreateRealmMaster(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	r := NewRealm("master")
	if _, err := CreateRealm(ctx, st, r, ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	realm, s := mustRealm(t, st, "master")
	equal(t, "id", realm.ID, r.ID)
	equal(t, "bruteForceProtected (new realm)", s.BruteForce.Protected, true)
	equal(t, "failureFactor (new realm)", s.BruteForce.FailureFactor, 10)
	admin, err := st.GetRoleByName(ctx, realm.ID, "", "admin")
	if err != nil {
		t.Fatal(err)
	}
	kids, _ := st.ListRoleComposites(ctx, realm.ID, admin.ID)
	equalSlices(t, "admin composites", roleLabels(t, st, realm.ID, kids), []string{"create-realm", "realm-management/realm-admin"})
	if _, err := st.GetRoleByName(ctx, realm.ID, "", "admin"); err != nil {
		t.Error(err)
	}
	other := NewRealm("other")
	for _, role := range other.Roles.Realm {
		if role.Name == "admin" || role.Name == "create-realm" {
			t.Errorf("non-master realm has role %q", role.Name)
		}
	}
}

func TestImportErrors(t *testing.T) {
	legacyUser := `{"username":"old","credentials":[{"type":"password","hashedSaltedValue":"AAAA","salt":"AAAA","hashIterations":1,"algorithm":"md4"}]}`
	cases := []struct {
		name, data, want string
	}{
		{"not JSON", `{"realm":`, "invalid JSON at offset"},
		{"not an object", `"acme"`, "(document): expected object, got string"},
		{"missing realm name", `{"enabled":true}`, "realm: required"},
		{"wrong scalar type", `{"realm":"x","users":[{"username":"a","enabled":"maybe"}]}`,
			"users[0].enabled: expected boolean, got string"},
		{"redirectUris not an array", `{"realm":"x","clients":[{"clientId":"a"},{"clientId":"b"},{"clientId":"c","redirectUris":"https://c/*"}]}`,
			"clients[2].redirectUris: expected array of strings, got string"},
		{"component config not an array", `{"realm":"x","components":{"org.keycloak.keys.KeyProvider":[{"providerId":"rsa","config":{"priority":"100"}}]}}`,
			`components["org.keycloak.keys.KeyProvider"][0].config.priority: expected array of strings, got string`},
		{"empty username", `{"realm":"x","users":[{"username":"a"},{"username":""}]}`, "users[1].username: required"},
		{"duplicate username", `{"realm":"x","users":[{"username":"alice"},{"username":"Alice"}]}`,
			`users[1].username: duplicate username "alice" (also users[0])`},
		{"duplicate clientId", `{"realm":"x","clients":[{"clientId":"app"},{"clientId":"app"}]}`,
			`clients[1].clientId: duplicate clientId "app" (also clients[0])`},
		{"unknown realm role", `{"realm":"x","users":[{"username":"a","realmRoles":["offline_access","nope"]}]}`,
			`users[0].realmRoles[1]: unknown realm role "nope"`},
		{"unknown client role", `{"realm":"x","clients":[{"clientId":"app"}],"users":[{"username":"a","clientRoles":{"app":["nope"]}}]}`,
			`users[0].clientRoles.app[0]: unknown role "nope" of client "app"`},
		{"unknown group", `{"realm":"x","groups":[{"name":"a"}],"users":[{"username":"a","groups":["/a","/nope"]}]}`,
			`users[0].groups[1]: unknown group "/nope"`},
		{"unknown composite", `{"realm":"x","roles":{"realm":[{"name":"r","composites":{"realm":["ghost"]}}]}}`,
			`roles.realm[0].composites.realm[0]: unknown realm role "ghost"`},
		{"roles of an unknown client", `{"realm":"x","roles":{"client":{"ghost":[{"name":"r"}]}}}`,
			`roles.client.ghost: unknown client "ghost"`},
		{"unknown hash algorithm", `{"realm":"x","users":[{"username":"a"},{"username":"b"},{"username":"c"},{"username":"d","credentials":[{"type":"password",
			"secretData":"{\"value\":\"AAAA\",\"salt\":\"AAAA\"}","credentialData":"{\"hashIterations\":1,\"algorithm\":\"sha3\"}"}]}]}`,
			`users[3].credentials[0].credentialData: unknown algorithm "sha3"`},
		{"secretData not base64", `{"realm":"x","users":[{"username":"a","credentials":[{"type":"password",
			"secretData":"{\"value\":\"%%%\",\"salt\":\"AAAA\"}","credentialData":"{\"hashIterations\":1000,\"algorithm\":\"pbkdf2-sha256\"}"}]}]}`,
			`users[0].credentials[0].secretData: value is not base64`},
		{"stored key too short", `{"realm":"x","users":[{"username":"a","credentials":[{"type":"password",
			"secretData":"{\"value\":\"AAAA\",\"salt\":\"AAAA\"}","credentialData":"{\"hashIterations\":1000,\"algorithm\":\"pbkdf2-sha256\"}"}]}]}`,
			`users[0].credentials[0].secretData: pbkdf2-sha256: stored key is 3 bytes`},
		{"legacy unknown algorithm", `{"realm":"x","users":[` + legacyUser + `]}`, `users[0].credentials[0].credentialData: unknown algorithm "md4"`},
		{"credential without a secret", `{"realm":"x","users":[{"username":"a","credentials":[{"type":"password"}]}]}`,
			"users[0].credentials[0]: no secretData, hashedSaltedValue or value"},
		{"bad password policy", `{"realm":"x","passwordPolicy":"length(abc)"}`, "passwordPolicy: "},
		{"unknown service account client", `{"realm":"x","users":[{"username":"s","serviceAccountClientId":"ghost"}]}`,
			`users[0].serviceAccountClientId: unknown client "ghost"`},
		{"idp mapper for unknown alias", `{"realm":"x","identityProviderMappers":[{"name":"m","identityProviderAlias":"nope","identityProviderMapper":"x"}]}`,
			`identityProviderMappers[0].identityProviderAlias: unknown identity provider "nope"`},
		// Caught by the store mid-transaction, after the first realm is written:
		// proves the rollback.
		{"second realm reuses the first's id", `[{"realm":"a","id":"same-id","users":[{"username":"u"}]},{"realm":"b","id":"same-id"}]`,
			`[1].realm: `},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			st := openStore(t)
			_, err := ImportRealm(ctx, st, []byte(tc.data), ImportOptions{})
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error = %v, want it to contain %q", err, tc.want)
			}
			realms, err := st.ListRealms(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(realms) != 0 {
				t.Errorf("store holds %d realms after a failed import, first %q", len(realms), realms[0].Name)
			}
		})
	}
}

func TestImportIfExists(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	if _, err := CreateRealm(ctx, st, NewRealm("acme"), ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	before, _ := st.GetRealmByName(ctx, "acme")
	res := mustImport(t, st, string(readTestdata(t)), ImportOptions{IfExists: IfExistsSkip})
	equalSlices(t, "skipped", res.SkippedRealms, []string{"acme"})
	equal(t, "realms created", res.Realms, 0)
	after, _ := st.GetRealmByName(ctx, "acme")
	equal(t, "id", after.ID, before.ID)
	equal(t, "settings", string(after.Settings), string(before.Settings))
	if n, _ := st.CountUsers(ctx, after.ID, store.UserQuery{IncludeServiceAccounts: true}); n != 0 {
		t.Errorf("skipped import added %d users", n)
	}

	_, err := ImportRealm(ctx, st, readTestdata(t), ImportOptions{IfExists: IfExistsFail})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("IfExistsFail error = %v, want ErrConflict", err)
	}
	// An array: the new realm is created, the existing one skipped.
	res = mustImport(t, st, `[{"realm":"acme"},{"realm":"fresh"}]`, ImportOptions{IfExists: IfExistsSkip})
	equalSlices(t, "skipped", res.SkippedRealms, []string{"acme"})
	equal(t, "created", res.Realms, 1)
	mustRealm(t, st, "fresh")
}

func TestImportUsersFile(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustImport(t, st, string(readTestdata(t)), ImportOptions{})
	realm, _ := mustRealm(t, st, "acme")
	usersFile := `{"realm":"acme","users":[{"username":"dave","enabled":true,"realmRoles":["user"],"groups":["staff/sales"],
		"clientRoles":{"webapp":["viewer"]},"credentials":[{"type":"password","value":"dave-password-1"}]}]}`
	res := mustImport(t, st, usersFile, ImportOptions{})
	equal(t, "users", res.Users, 1)
	equal(t, "realms", res.Realms, 0)
	dave := mustUser(t, st, realm.ID, "dave")
	roles, _ := st.ListUserRoles(ctx, realm.ID, dave.ID)
	equalSlices(t, "dave roles", roleLabels(t, st, realm.ID, roles), []string{"user", "webapp/viewer"})
	groups, _ := st.ListUserGroups(ctx, realm.ID, dave.ID)
	if len(groups) != 1 || groups[0].Name != "sales" {
		t.Errorf("dave groups = %v", groups)
	}
	creds, _ := st.ListCredentials(ctx, dave.ID)
	var cd struct {
		HashIterations int    `json:"hashIterations"`
		Algorithm      string `json:"algorithm"`
	}
	if len(creds) != 1 || json.Unmarshal([]byte(creds[0].CredentialData), &cd) != nil {
		t.Fatalf("dave credentials = %v", creds)
	}
	equal(t, "hashed under the realm's policy", cd.HashIterations, 27500)
	verifies(t, creds[0], "dave-password-1")

	res = mustImport(t, st, usersFile, ImportOptions{IfExists: IfExistsSkip})
	if res.Users != 0 || res.SkippedUsers != 1 {
		t.Errorf("re-import with skip = %+v", res)
	}
	_, err := ImportRealm(ctx, st, []byte(usersFile), ImportOptions{})
	if !errors.Is(err, store.ErrConflict) {
		t.Errorf("re-import with fail: %v, want ErrConflict", err)
	}
	_, err = ImportRealm(ctx, st, []byte(`{"realm":"acme","users":[{"username":"erin","realmRoles":["ghost"]}]}`), ImportOptions{})
	if err == nil || !strings.Contains(err.Error(), `users[0].realmRoles[0]: unknown realm role "ghost"`) {
		t.Errorf("unknown role in users file: %v", err)
	}
	if _, err := st.GetUserByUsername(ctx, realm.ID, "erin"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("erin was written: %v", err)
	}
}

func TestImportPlainAndLegacyPasswords(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	// Keycloak <= 10 wrote hashes on the representation itself.
	legacy := `{"type":"password","hashedSaltedValue":"CFLpTkAalcMZIqX+5bx5K5fPLMGSmc9rZaQRaLgLE+KmX1q4+qCGUVJ/eRHQkYfyWu+gplmu2+LjmmJ2L2c/NQ==",
		"salt":"CLQsqd+PI9lbURMHOuA1Dg==","hashIterations":27500,"algorithm":"pbkdf2-sha256"}`
	mustImport(t, st, `{"realm":"p","passwordPolicy":"hashAlgorithm(pbkdf2-sha512) and hashIterations(1000) and length(8)",
		"users":[{"username":"new","enabled":true,"credentials":[{"type":"password","value":"s3cret-Value","temporary":true}]},
		         {"username":"old","enabled":true,"credentials":[`+legacy+`]}]}`, ImportOptions{})
	realm, _ := mustRealm(t, st, "p")
	u := mustUser(t, st, realm.ID, "new")
	if !slices.Contains(u.RequiredActions, "UPDATE_PASSWORD") {
		t.Errorf("temporary password: required actions = %q", u.RequiredActions)
	}
	creds, _ := st.ListCredentials(ctx, u.ID)
	if len(creds) != 1 {
		t.Fatalf("credentials = %v", creds)
	}
	var cd struct {
		HashIterations int    `json:"hashIterations"`
		Algorithm      string `json:"algorithm"`
	}
	if err := json.Unmarshal([]byte(creds[0].CredentialData), &cd); err != nil {
		t.Fatal(err)
	}
	equal(t, "algorithm", cd.Algorithm, "pbkdf2-sha512")
	equal(t, "iterations", cd.HashIterations, 1000)
	if strings.Contains(creds[0].SecretData, "s3cret-Value") {
		t.Error("plain password stored")
	}
	verifies(t, creds[0], "s3cret-Value")

	old := mustUser(t, st, realm.ID, "old")
	creds, _ = st.ListCredentials(ctx, old.ID)
	if len(creds) != 1 {
		t.Fatalf("legacy credentials = %v", creds)
	}
	if !strings.Contains(creds[0].CredentialData, `"algorithm":"pbkdf2-sha256"`) || !strings.Contains(creds[0].CredentialData, `"hashIterations":27500`) {
		t.Errorf("legacy credentialData = %s", creds[0].CredentialData)
	}
	verifies(t, creds[0], "Wonderland-2021")
}
