package admin_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store/sqlite"
)

const someUUID = "3d2c4b1a-0000-4000-8000-000000000001"

// TestAuthorization: every route refuses no token or a bad one (401), and a
// token from another realm or without the role (403).
func TestAuthorization(t *testing.T) {
	e := newEnv(t)
	nobody := e.realmWithUser("acme", "nobody")
	otherAdmin := e.realmWithUser("other", "boss", "realm-admin")
	fill := strings.NewReplacer("{realm}", "acme", "{id}", someUUID, "{client}", someUUID, "{group}", someUUID,
		"{cred}", someUUID, "{role}", "x", "{alias}", "x", "{roleid}", someUUID, "{ofclient}", someUUID, "{scope}", someUUID,
		"{mapper}", someUUID, "{protocol}", "openid-connect")
	callers := []struct {
		name, token string
		want        int
	}{
		{"no token", "", 401},
		{"not a JWT", "garbage", 401},
		{"forged issuer", "eyJhbGciOiJub25lIn0.eyJpc3MiOiJodHRwOi8veC9yZWFsbXMvbWFzdGVyIn0.x", 401},
		{"admin of another realm", otherAdmin, 403},
		{"realm user without roles", nobody, 403},
	}
	n := 0
	for _, pattern := range admin.RoutePatterns() {
		if pattern == "GET /admin/realms" {
			continue // answers every admin, listing what they may see (below)
		}
		method, p, _ := strings.Cut(pattern, " ")
		p = fill.Replace(p)
		for _, c := range callers {
			if r := e.do(method, p, c.token, "{}"); r.status != c.want {
				t.Errorf("%s %s as %s: %d, want %d: %s", method, p, c.name, r.status, c.want, r.body)
			}
			n++
		}
	}
	if n < 80*len(callers) {
		t.Fatalf("only %d checks: routes missing?", n)
	}

	// Listing realms shows each caller what it administers.
	var realms []map[string]any
	e.must(200, "GET", "/admin/realms", otherAdmin, nil).json(t, &realms)
	if len(realms) != 1 || realms[0]["realm"] != "other" {
		t.Errorf("other's admin sees %v", realms)
	}
	e.must(200, "GET", "/admin/realms", nobody, nil).json(t, &realms)
	if len(realms) != 0 {
		t.Errorf("a user without roles sees %v", realms)
	}
	e.must(200, "GET", "/admin/realms?briefRepresentation=true", e.admin, nil).json(t, &realms)
	if len(realms) != 3 {
		t.Errorf("master admin sees %d realms, want 3", len(realms))
	}

	// Roles grant exactly what they name, in their own realm only.
	viewer := e.userWithRoles("acme", "viewer", "view-users")
	e.must(200, "GET", "/admin/realms/acme/users", viewer, nil)
	e.must(403, "POST", "/admin/realms/acme/users", viewer, map[string]any{"username": "x"})
	e.must(403, "GET", "/admin/realms/acme/clients", viewer, nil)
	manager := e.userWithRoles("acme", "manager", "manage-users")
	e.must(201, "POST", "/admin/realms/acme/users", manager, map[string]any{"username": "made-by-manager"})
	e.must(403, "POST", "/admin/realms/other/users", manager, map[string]any{"username": "x"})
	e.must(403, "POST", "/admin/realms", manager, map[string]any{"realm": "x"})
	e.must(201, "POST", "/admin/realms/other/clients", otherAdmin, map[string]any{"clientId": "app"})

	// No escalation: manage-users cannot grant realm-admin it does not hold.
	var mgmt []map[string]any
	e.must(200, "GET", "/admin/realms/acme/clients?clientId=realm-management", e.admin, nil).json(t, &mgmt)
	var users []map[string]any
	e.must(200, "GET", "/admin/realms/acme/users?username=manager&exact=true", e.admin, nil).json(t, &users)
	grant := "/admin/realms/acme/users/" + users[0]["id"].(string) + "/role-mappings/clients/" + mgmt[0]["id"].(string)
	e.must(403, "POST", grant, manager, []map[string]any{{"name": "realm-admin"}})
	e.must(204, "POST", grant, manager, []map[string]any{{"name": "manage-users"}})

	// A disabled realm: its own tokens stop working, master still manages it.
	e.must(204, "PUT", "/admin/realms/other", e.admin, map[string]any{"enabled": false})
	e.must(401, "GET", "/admin/realms/other/users", otherAdmin, nil)
	e.must(200, "GET", "/admin/realms/other/users", e.admin, nil)
	e.must(404, "GET", "/admin/realms/nope/users", e.admin, nil)
}

func TestUsers(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "passwordPolicy": "length(10)",
		"groups": []map[string]any{{"name": "staff"}}})
	base := "/admin/realms/acme/users"
	r := e.must(201, "POST", base, e.admin, map[string]any{"username": "Alice", "email": "alice@example.com",
		"enabled": true, "firstName": "Alice", "groups": []string{"/staff"}, "unknownField": 42,
		"credentials": []map[string]any{{"type": "password", "value": "long-enough-pw"}}})
	if !strings.HasSuffix(r.header.Get("Location"), "/admin/realms/acme/users/"+r.id()) {
		t.Errorf("Location %q", r.header.Get("Location"))
	}
	alice := r.id()

	for _, c := range []struct {
		body any
		want string
	}{
		{map[string]any{"username": "alice"}, `{"errorMessage":"User exists with same username"}`},
		{map[string]any{"username": "bob", "email": "ALICE@example.com"}, `{"errorMessage":"User exists with same email"}`},
	} {
		if got := strings.TrimSpace(string(e.must(409, "POST", base, e.admin, c.body).body)); got != c.want {
			t.Errorf("conflict body %s, want %s", got, c.want)
		}
	}
	var errBody map[string]any
	e.must(400, "POST", base, e.admin, `{"username":"bob","enabled":"sometimes"}`).json(t, &errBody)
	if errBody["field"] != "enabled" || !strings.Contains(fmt.Sprint(errBody["errorMessage"]), "enabled") {
		t.Errorf("wrong-type body: %v", errBody)
	}
	e.must(400, "POST", base, e.admin, `{"username":`)
	e.must(400, "POST", base, e.admin, map[string]any{"email": "x@example.com"})
	e.must(413, "POST", base, e.admin, `{"username":"big","attributes":{"x":["`+strings.Repeat("a", 2<<20)+`"]}}`)
	e.must(400, "POST", base, e.admin, map[string]any{"username": "short", "credentials": []map[string]any{{"value": "short"}}}).json(t, &errBody)
	if errBody["error"] != "invalidPasswordMinLengthMessage" {
		t.Errorf("policy error body: %v", errBody)
	}

	// Reading, ids, search.
	var u rep.User
	e.must(200, "GET", base+"/"+alice, e.admin, nil).json(t, &u)
	if u.Username != "alice" || u.Email != "alice@example.com" || u.Enabled == nil || !*u.Enabled {
		t.Errorf("alice = %+v", u)
	}
	e.must(404, "GET", base+"/not-a-uuid", e.admin, nil)
	e.must(404, "GET", base+"/"+someUUID, e.admin, nil)
	e.must(404, "GET", base+"/'%20OR%201=1--", e.admin, nil)
	for i := range 5 {
		e.must(201, "POST", base, e.admin, map[string]any{"username": fmt.Sprintf("user%d", i), "lastName": "Smith",
			"attributes": map[string][]string{"team": {[]string{"ops", "dev"}[i%2]}, "site": {"eu"}}})
	}
	count := func(query string) int {
		var users []rep.User
		e.must(200, "GET", base+"?"+query, e.admin, nil).json(t, &users)
		return len(users)
	}
	for q, want := range map[string]int{
		"search=user": 5, "search=al": 1, "search=*mit*": 5, "search=mit": 0, "search=%22user1%22": 1,
		"search=%25": 0, "search=_": 0, "search=%27%20OR%20%271%27=%271": 0, "search=*": 6,
		"username=user&exact=true": 0, "username=user3&exact=true": 1, "email=example": 1,
		"first=2&max=2": 2, "max=0": 6, "briefRepresentation=true": 6,
		"q=team:ops": 3, "q=team:ops%20site:eu": 3, "q=team:dev&max=1": 1, "q=team:OPS": 0, "q=site:ops": 0,
		"q=team:dev&search=user1": 1, "q=team:ops&search=%22user0%22": 1, "q=team:dev&search=%22user0%22": 0,
	} {
		if got := count(q); got != want {
			t.Errorf("?%s: %d users, want %d", q, got, want)
		}
	}
	if got := strings.TrimSpace(string(e.must(200, "GET", base+"/count?search=user", e.admin, nil).body)); got != "5" {
		t.Errorf("count = %s", got)
	}
	e.must(400, "GET", base+"?first=x", e.admin, nil)
	e.must(400, "GET", base+"?q=team", e.admin, nil)
	if got := strings.TrimSpace(string(e.must(200, "GET", base+"/count?q=team:dev", e.admin, nil).body)); got != "2" {
		t.Errorf("count q=team:dev = %s", got)
	}

	// Update (partial), password, credentials.
	e.must(204, "PUT", base+"/"+alice, e.admin, map[string]any{"lastName": "Liddell"})
	e.must(200, "GET", base+"/"+alice, e.admin, nil).json(t, &u)
	if u.LastName != "Liddell" || u.FirstName != "Alice" {
		t.Errorf("after partial update: %+v", u)
	}
	e.must(409, "PUT", base+"/"+alice, e.admin, map[string]any{"username": "user1"})
	e.must(400, "PUT", base+"/"+alice+"/reset-password", e.admin, map[string]any{"type": "password", "value": "short"})
	e.must(204, "PUT", base+"/"+alice+"/reset-password", e.admin, map[string]any{"type": "password", "value": "another-long-pw", "temporary": true})
	// A temporary password is a pending UPDATE_PASSWORD: no grant until it is done.
	resp, err := client.PostForm(e.url+"/realms/acme/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"alice"}, "password": {"another-long-pw"}})
	if err != nil {
		t.Fatal(err)
	}
	var tokErr map[string]string
	json.NewDecoder(resp.Body).Decode(&tokErr)
	resp.Body.Close()
	if resp.StatusCode != 400 || tokErr["error"] != "invalid_grant" || tokErr["error_description"] != "Account is not fully set up" {
		t.Errorf("login with a temporary password: %d %v", resp.StatusCode, tokErr)
	}
	var creds []map[string]any
	e.must(200, "GET", base+"/"+alice+"/credentials", e.admin, nil).json(t, &creds)
	if len(creds) != 1 || creds[0]["secretData"] != nil || !strings.Contains(fmt.Sprint(creds[0]["credentialData"]), `"algorithm":"pbkdf2-sha256"`) ||
		!strings.Contains(fmt.Sprint(creds[0]["credentialData"]), `"hashIterations"`) {
		t.Errorf("credentials = %v", creds)
	}
	e.must(200, "GET", base+"/"+alice, e.admin, nil).json(t, &u)
	if len(u.RequiredActions) != 1 || u.RequiredActions[0] != "UPDATE_PASSWORD" {
		t.Errorf("temporary password: requiredActions %v", u.RequiredActions)
	}
	// No mail server: Keycloak's 500 (idp/email_test.go sends for real).
	e.must(500, "PUT", base+"/"+alice+"/execute-actions-email", e.admin, `["UPDATE_PASSWORD"]`)
	e.must(204, "DELETE", base+"/"+alice+"/credentials/"+creds[0]["id"].(string), e.admin, nil)
	e.must(404, "DELETE", base+"/"+alice+"/credentials/"+creds[0]["id"].(string), e.admin, nil)

	// Groups and role mappings.
	var groups []rep.Group
	e.must(200, "GET", base+"/"+alice+"/groups", e.admin, nil).json(t, &groups)
	if len(groups) != 1 || groups[0].Path != "/staff" {
		t.Errorf("alice's groups: %+v", groups)
	}
	e.must(201, "POST", "/admin/realms/acme/roles", e.admin, map[string]any{"name": "editor"})
	e.must(409, "POST", "/admin/realms/acme/roles", e.admin, map[string]any{"name": "editor"})
	e.must(204, "POST", base+"/"+alice+"/role-mappings/realm", e.admin, []map[string]any{{"name": "editor"}})
	e.must(404, "POST", base+"/"+alice+"/role-mappings/realm", e.admin, []map[string]any{{"name": "nope"}})
	var roles []rep.Role
	e.must(200, "GET", base+"/"+alice+"/role-mappings/realm/composite", e.admin, nil).json(t, &roles)
	names := map[string]bool{}
	for _, r := range roles {
		names[r.Name] = true
	}
	if !names["editor"] || !names["offline_access"] || !names["default-roles-acme"] {
		t.Errorf("composite realm roles: %v", names)
	}
	e.must(204, "DELETE", base+"/"+alice+"/role-mappings/realm", e.admin, []map[string]any{{"name": "editor"}})
	e.must(200, "GET", base+"/"+alice+"/role-mappings/realm", e.admin, nil).json(t, &roles)
	if len(roles) != 1 || roles[0].Name != "default-roles-acme" {
		t.Errorf("direct realm roles after removal: %+v", roles)
	}

	e.must(204, "DELETE", base+"/"+alice, e.admin, nil)
	e.must(404, "GET", base+"/"+alice, e.admin, nil)
}

// TestExportImportExport: a realm built through the admin API exports,
// imports into an empty store and exports again to the same JSON.
func TestExportImportExport(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme"})
	b := "/admin/realms/acme"
	staff := e.must(201, "POST", b+"/groups", e.admin, map[string]any{"name": "staff"}).id()
	e.must(201, "POST", b+"/groups/"+staff+"/children", e.admin, map[string]any{"name": "ops"})
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "editor", "description": "Edits"})
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app", "serviceAccountsEnabled": true,
		"redirectUris": []string{"https://app.example.com/*"}}).id()
	e.must(201, "POST", b+"/clients/"+app+"/roles", e.admin, map[string]any{"name": "reader"})
	u := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "alice", "enabled": true, "groups": []string{"/staff/ops"},
		"credentials": []map[string]any{{"value": "Passw0rd-alice"}}}).id()
	e.must(204, "POST", b+"/users/"+u+"/role-mappings/realm", e.admin, []map[string]any{{"name": "editor"}})
	e.must(204, "POST", b+"/users/"+u+"/role-mappings/clients/"+app, e.admin, []map[string]any{{"name": "reader"}})
	e.must(201, "POST", b+"/components", e.admin, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{"bindCredential": {"s3cret"},
			"connectionUrl": {"ldap://127.0.0.1:1"}, "usersDn": {"ou=people,dc=example"}, "editMode": {"READ_ONLY"}}})
	e.must(201, "POST", b+"/identity-provider/instances", e.admin, map[string]any{"alias": "corp", "providerId": "saml",
		"config": map[string]string{"idpEntityId": "https://idp.example.com", "singleSignOnServiceUrl": "https://idp.example.com/sso",
			"validateSignature": "false"}})

	ctx := t.Context()
	// With secrets: a masked bindCredential would import as unset.
	first, err := rep.Export(ctx, e.st, "acme", rep.ExportOptions{Users: true, Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	j1, _ := json.MarshalIndent(first, "", " ")
	for _, want := range []string{`"bindCredential": [`, `"s3cret"`, `"/staff/ops"`, `"service-account-app"`, `"reader"`, `"pbkdf2-sha256`} {
		if !strings.Contains(string(j1), want) {
			t.Errorf("export lacks %s", want)
		}
	}
	st2, err := sqlite.Open(ctx, t.TempDir()+"/db2")
	if err != nil {
		t.Fatal(err)
	}
	defer st2.Close()
	if _, err := rep.ImportRealm(ctx, st2, j1, rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	second, err := rep.Export(ctx, st2, "acme", rep.ExportOptions{Users: true, Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.MarshalIndent(second, "", " ")
	if string(j1) != string(j2) {
		l1, l2 := strings.Split(string(j1), "\n"), strings.Split(string(j2), "\n")
		for i := range min(len(l1), len(l2)) {
			if l1[i] != l2[i] {
				t.Fatalf("exports differ at line %d:\n%s\n%s", i+1, l1[i], l2[i])
			}
		}
		t.Fatalf("exports differ in length")
	}
}

// GET /keys shows the realm's keys as Keycloak's KeysMetadataRepresentation:
// the RSA key's public key and certificate are the ones the realm's info
// endpoint and JWKS publish; no private part appears.
func TestRealmKeys(t *testing.T) {
	e := newEnv(t)
	var meta struct {
		Active map[string]string `json:"active"`
		Keys   []map[string]any  `json:"keys"`
	}
	e.must(200, "GET", "/admin/realms/master/keys", e.admin, nil).json(t, &meta)
	if len(meta.Keys) != 2 || meta.Active["RS256"] == "" || meta.Active["HS512"] == "" {
		t.Fatalf("keys %+v", meta)
	}
	var info map[string]any
	e.must(200, "GET", "/realms/master", "", nil).json(t, &info)
	var jwks struct {
		Keys []map[string]any `json:"keys"`
	}
	e.must(200, "GET", "/realms/master/protocol/openid-connect/certs", "", nil).json(t, &jwks)
	for _, k := range meta.Keys {
		for f := range k {
			if f == "privateKey" || f == "secret" {
				t.Errorf("key %v shows %s", k["kid"], f)
			}
		}
		switch k["algorithm"] {
		case "RS256":
			if k["kid"] != meta.Active["RS256"] || k["status"] != "ACTIVE" || k["type"] != "RSA" || k["use"] != "SIG" {
				t.Errorf("RSA key %v", k)
			}
			if k["publicKey"] != info["public_key"] {
				t.Errorf("publicKey differs from the realm info's public_key")
			}
			if len(jwks.Keys) != 1 || jwks.Keys[0]["kid"] != k["kid"] || jwks.Keys[0]["x5c"].([]any)[0] != k["certificate"] {
				t.Errorf("certificate differs from the JWKS x5c: %v", jwks.Keys)
			}
			if v, _ := k["validTo"].(float64); time.UnixMilli(int64(v)).Before(time.Now().AddDate(9, 0, 0)) {
				t.Errorf("validTo %v", k["validTo"])
			}
		case "HS512":
			if k["type"] != "OCT" || k["publicKey"] != nil || k["certificate"] != nil {
				t.Errorf("HMAC key %v", k)
			}
		default:
			t.Errorf("unexpected key %v", k)
		}
	}
}

// TestRoleComposites: composites by name and by id, realm and client views,
// the users holding a role, roles-by-id, the permission a by-id write needs,
// and no escalation through composites.
func TestRoleComposites(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	b := "/admin/realms/acme"
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "editor"})
	e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": "viewer"})
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app"}).id()
	e.must(201, "POST", b+"/clients/"+app+"/roles", e.admin, map[string]any{"name": "write"})
	var viewer, write rep.Role
	e.must(200, "GET", b+"/roles/viewer", e.admin, nil).json(t, &viewer)
	e.must(200, "GET", b+"/clients/"+app+"/roles/write", e.admin, nil).json(t, &write)

	// editor = viewer (by name) + app/write (by id).
	e.must(204, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"name": "viewer"}, {"id": write.ID}})
	e.must(204, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"name": "viewer"}}) // idempotent
	e.must(404, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"name": "nope"}})
	e.must(400, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"name": "editor"}})
	names := e.roleNames
	if got := names(b + "/roles/editor/composites"); !slices.Equal(got, []string{"viewer", "write"}) {
		t.Errorf("composites %v", got)
	}
	if got := names(b + "/roles/editor/composites/realm"); !slices.Equal(got, []string{"viewer"}) {
		t.Errorf("realm composites %v", got)
	}
	if got := names(b + "/roles/editor/composites/clients/" + app); !slices.Equal(got, []string{"write"}) {
		t.Errorf("client composites %v", got)
	}
	var editor rep.Role
	e.must(200, "GET", b+"/roles-by-id/"+viewer.ID, e.admin, nil).json(t, &viewer)
	e.must(200, "GET", b+"/roles/editor", e.admin, nil).json(t, &editor)
	if !editor.Composite || viewer.Composite || viewer.Name != "viewer" {
		t.Errorf("composite flags: editor %+v, viewer %+v", editor, viewer)
	}
	if got := names(b + "/roles-by-id/" + editor.ID + "/composites"); !slices.Equal(got, []string{"viewer", "write"}) {
		t.Errorf("by-id composites %v", got)
	}
	e.must(404, "GET", b+"/roles-by-id/"+someUUID, e.admin, nil)
	e.must(404, "GET", b+"/roles-by-id/not-a-uuid", e.admin, nil)

	// A user holding editor gets the composites in its token's view.
	uid := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "ed", "enabled": true}).id()
	e.must(204, "POST", b+"/users/"+uid+"/role-mappings/realm", e.admin, []map[string]any{{"name": "editor"}})
	if got := names(b + "/users/" + uid + "/role-mappings/realm/composite"); !slices.Contains(got, "viewer") {
		t.Errorf("effective realm roles %v", got)
	}
	var holders []rep.User
	e.must(200, "GET", b+"/roles/editor/users", e.admin, nil).json(t, &holders)
	if len(holders) != 1 || holders[0].Username != "ed" {
		t.Errorf("editor's users %+v", holders)
	}
	e.must(200, "GET", b+"/roles/viewer/users", e.admin, nil).json(t, &holders)
	if len(holders) != 0 {
		t.Errorf("viewer is held only through a composite, not directly: %+v", holders)
	}

	// By id, a write needs the container's manage role.
	clientsAdmin := e.userWithRoles("acme", "ca", "manage-clients")
	e.must(403, "PUT", b+"/roles-by-id/"+viewer.ID, clientsAdmin, map[string]any{"name": "viewer", "description": "x"})
	e.must(204, "PUT", b+"/roles-by-id/"+write.ID, clientsAdmin, map[string]any{"name": "write", "description": "changes"})
	e.must(200, "GET", b+"/roles-by-id/"+write.ID, clientsAdmin, nil).json(t, &write)
	if write.Description != "changes" {
		t.Errorf("updated by id: %+v", write)
	}
	// No escalation: a manage-realm admin cannot fold realm-admin into a
	// role (which manage-users admins could then grant).
	realmAdmin := e.userWithRoles("acme", "ra", "manage-realm")
	var mgmt []map[string]any
	e.must(200, "GET", b+"/clients?clientId=realm-management", e.admin, nil).json(t, &mgmt)
	var ra rep.Role
	e.must(200, "GET", b+"/clients/"+mgmt[0]["id"].(string)+"/roles/realm-admin", e.admin, nil).json(t, &ra)
	e.must(403, "POST", b+"/roles/editor/composites", realmAdmin, []map[string]any{{"id": ra.ID}})
	e.must(204, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"id": ra.ID}})

	e.must(204, "DELETE", b+"/roles-by-id/"+editor.ID+"/composites", e.admin, []map[string]any{{"id": write.ID}, {"id": ra.ID}})
	if got := names(b + "/roles/editor/composites"); !slices.Equal(got, []string{"viewer"}) {
		t.Errorf("after removal %v", got)
	}
	e.must(204, "DELETE", b+"/roles-by-id/"+editor.ID, e.admin, nil)
	e.must(404, "GET", b+"/roles/editor", e.admin, nil)
}

// TestClientScopesAndMappers: client scopes CRUD, protocol mappers on a
// client and on a scope, and a client's default/optional scopes, each
// checked by its effect on the tokens the client gets.
func TestClientScopesAndMappers(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	b := "/admin/realms/acme"
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app", "secret": "app-secret",
		"directAccessGrantsEnabled": true}).id()
	e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "u", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "u-password-1"}}})
	claims := func(scope string) map[string]any {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "client_id": {"app"}, "client_secret": {"app-secret"},
			"username": {"u"}, "password": {"u-password-1"}}
		if scope != "" {
			form.Set("scope", scope)
		}
		var c map[string]any
		e.accessClaims("acme", form, &c)
		return c
	}
	hardcoded := func(name, claim, value string) map[string]any {
		return map[string]any{"name": name, "protocol": "openid-connect", "protocolMapper": "oidc-hardcoded-claim-mapper",
			"config": map[string]string{"claim.name": claim, "claim.value": value, "jsonType.label": "String", "access.token.claim": "true"}}
	}

	// A client's own mappers.
	mapper := e.must(201, "POST", b+"/clients/"+app+"/protocol-mappers/models", e.admin, hardcoded("tier", "tier", "gold")).id()
	e.must(409, "POST", b+"/clients/"+app+"/protocol-mappers/models", e.admin, hardcoded("tier", "tier", "x"))
	e.must(400, "POST", b+"/clients/"+app+"/protocol-mappers/models", e.admin, map[string]any{"name": "no-type"})
	if c := claims(""); c["tier"] != "gold" {
		t.Errorf("client mapper: tier = %v", c["tier"])
	}
	e.must(204, "PUT", b+"/clients/"+app+"/protocol-mappers/models/"+mapper, e.admin, hardcoded("tier", "tier", "silver"))
	var m rep.ProtocolMapper
	e.must(200, "GET", b+"/clients/"+app+"/protocol-mappers/models/"+mapper, e.admin, nil).json(t, &m)
	if m.ID != mapper || m.Config["claim.value"] != "silver" {
		t.Errorf("mapper after update %+v", m)
	}
	if c := claims(""); c["tier"] != "silver" {
		t.Errorf("updated client mapper: tier = %v", c["tier"])
	}
	var list []rep.ProtocolMapper
	e.must(200, "GET", b+"/clients/"+app+"/protocol-mappers/protocol/openid-connect", e.admin, nil).json(t, &list)
	if len(list) != 1 || list[0].Name != "tier" {
		t.Errorf("mappers by protocol %+v", list)
	}
	e.must(204, "DELETE", b+"/clients/"+app+"/protocol-mappers/models/"+mapper, e.admin, nil)
	e.must(404, "GET", b+"/clients/"+app+"/protocol-mappers/models/"+mapper, e.admin, nil)
	if c := claims(""); c["tier"] != nil {
		t.Errorf("deleted client mapper still adds tier = %v", c["tier"])
	}
	// Mappers a client update brings without ids get them, so they can be addressed.
	e.must(204, "PUT", b+"/clients/"+app, e.admin, map[string]any{"protocolMappers": []any{hardcoded("via-put", "via", "put")}})
	e.must(200, "GET", b+"/clients/"+app+"/protocol-mappers/models", e.admin, nil).json(t, &list)
	if len(list) != 1 || list[0].ID == "" {
		t.Fatalf("mappers after a client update %+v", list)
	}
	e.must(204, "DELETE", b+"/clients/"+app+"/protocol-mappers/models/"+list[0].ID, e.admin, nil)

	// A client scope with a mapper, default then optional for the client.
	scope := e.must(201, "POST", b+"/client-scopes", e.admin, map[string]any{"name": "dashboards",
		"protocolMappers": []any{hardcoded("team", "team", "ops")}}).id()
	e.must(409, "POST", b+"/client-scopes", e.admin, map[string]any{"name": "dashboards"})
	e.must(400, "POST", b+"/client-scopes", e.admin, map[string]any{"name": "two words"})
	e.must(204, "POST", b+"/client-scopes/"+scope+"/protocol-mappers/add-models", e.admin, []any{hardcoded("site", "site", "eu")})
	var s rep.ClientScope
	e.must(200, "GET", b+"/client-scopes/"+scope, e.admin, nil).json(t, &s)
	if s.Name != "dashboards" || s.Protocol != "openid-connect" || len(s.ProtocolMappers) != 2 || s.ProtocolMappers[0].ID == "" {
		t.Errorf("scope %+v", s)
	}
	if c := claims(""); c["team"] != nil {
		t.Errorf("a scope the client does not use adds team = %v", c["team"])
	}
	e.must(204, "PUT", b+"/clients/"+app+"/default-client-scopes/"+scope, e.admin, nil)
	var named []map[string]string
	e.must(200, "GET", b+"/clients/"+app+"/default-client-scopes", e.admin, nil).json(t, &named)
	if !slices.ContainsFunc(named, func(n map[string]string) bool { return n["id"] == scope && n["name"] == "dashboards" }) {
		t.Errorf("default scopes %v", named)
	}
	if c := claims(""); c["team"] != "ops" || c["site"] != "eu" {
		t.Errorf("default scope: team = %v, site = %v", c["team"], c["site"])
	}
	e.must(204, "PUT", b+"/clients/"+app+"/optional-client-scopes/"+scope, e.admin, nil)
	e.must(200, "GET", b+"/clients/"+app+"/default-client-scopes", e.admin, nil).json(t, &named)
	if slices.ContainsFunc(named, func(n map[string]string) bool { return n["id"] == scope }) {
		t.Errorf("a scope is default and optional at once: %v", named)
	}
	if c := claims(""); c["team"] != nil {
		t.Errorf("optional scope not asked for: team = %v", c["team"])
	}
	if c := claims("dashboards"); c["team"] != "ops" || !strings.Contains(fmt.Sprint(c["scope"]), "dashboards") {
		t.Errorf("optional scope asked for: team = %v, scope = %v", c["team"], c["scope"])
	}
	// The realm's defaults: a new client gets the scope.
	e.must(204, "PUT", b+"/default-default-client-scopes/"+scope, e.admin, nil)
	e.must(200, "GET", b+"/default-default-client-scopes", e.admin, nil).json(t, &named)
	if !slices.ContainsFunc(named, func(n map[string]string) bool { return n["name"] == "dashboards" }) {
		t.Errorf("realm default scopes %v", named)
	}
	app2 := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app2"}).id()
	e.must(200, "GET", b+"/clients/"+app2+"/default-client-scopes", e.admin, nil).json(t, &named)
	if !slices.ContainsFunc(named, func(n map[string]string) bool { return n["name"] == "dashboards" }) {
		t.Errorf("a new client's default scopes %v lack the realm's new default", named)
	}
	e.must(204, "DELETE", b+"/default-default-client-scopes/"+scope, e.admin, nil)
	e.must(204, "PUT", b+"/client-scopes/"+scope, e.admin, map[string]any{"name": "dashboards", "description": "Dashboards"})
	e.must(204, "DELETE", b+"/clients/"+app+"/optional-client-scopes/"+scope, e.admin, nil)
	e.must(204, "DELETE", b+"/client-scopes/"+scope, e.admin, nil)
	e.must(404, "GET", b+"/client-scopes/"+scope, e.admin, nil)
	e.must(404, "GET", b+"/client-scopes/not-a-uuid", e.admin, nil)
}

// TestScopeMappings: with fullScopeAllowed=false a client's tokens carry
// only the roles scope-mapped to it or to its client scopes; the admin API
// edits those mappings (realm and client roles, by name or id) and lists
// them directly, effectively and as available.
func TestScopeMappings(t *testing.T) {
	e := newEnv(t)
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "acme", "enabled": true})
	b := "/admin/realms/acme"
	for _, r := range []string{"viewer", "editor", "auditor"} {
		e.must(201, "POST", b+"/roles", e.admin, map[string]any{"name": r})
	}
	e.must(204, "POST", b+"/roles/editor/composites", e.admin, []map[string]any{{"name": "auditor"}})
	app := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "app", "secret": "app-secret",
		"directAccessGrantsEnabled": true, "fullScopeAllowed": false}).id()
	api := e.must(201, "POST", b+"/clients", e.admin, map[string]any{"clientId": "api"}).id()
	e.must(201, "POST", b+"/clients/"+api+"/roles", e.admin, map[string]any{"name": "read"})
	uid := e.must(201, "POST", b+"/users", e.admin, map[string]any{"username": "u", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "u-password-1"}}}).id()
	e.must(204, "POST", b+"/users/"+uid+"/role-mappings/realm", e.admin, []map[string]any{{"name": "viewer"}, {"name": "editor"}})
	e.must(204, "POST", b+"/users/"+uid+"/role-mappings/clients/"+api, e.admin, []map[string]any{{"name": "read"}})
	roles := func() ([]string, []string) {
		t.Helper()
		var c struct {
			RealmAccess    struct{ Roles []string }            `json:"realm_access"`
			ResourceAccess map[string]struct{ Roles []string } `json:"resource_access"`
		}
		e.accessClaims("acme", url.Values{"grant_type": {"password"}, "client_id": {"app"}, "client_secret": {"app-secret"},
			"username": {"u"}, "password": {"u-password-1"}}, &c)
		realm := slices.DeleteFunc(c.RealmAccess.Roles, func(r string) bool { return r != "viewer" && r != "editor" && r != "auditor" })
		slices.Sort(realm)
		return realm, c.ResourceAccess["api"].Roles
	}
	names := e.roleNames

	if realm, api := roles(); len(realm) != 0 || len(api) != 0 {
		t.Fatalf("no scope mappings yet, yet the token has %v %v", realm, api)
	}
	sm := b + "/clients/" + app + "/scope-mappings"
	e.must(204, "POST", sm+"/realm", e.admin, []map[string]any{{"name": "editor"}})
	var read rep.Role
	e.must(200, "GET", b+"/clients/"+api+"/roles/read", e.admin, nil).json(t, &read)
	e.must(204, "POST", sm+"/clients/"+api, e.admin, []map[string]any{{"id": read.ID}})
	e.must(404, "POST", sm+"/realm", e.admin, []map[string]any{{"name": "nope"}})
	if realm, api := roles(); !slices.Equal(realm, []string{"auditor", "editor"}) || !slices.Equal(api, []string{"read"}) {
		t.Errorf("scope-mapped editor (with its composite auditor) and api/read: token has %v %v", realm, api)
	}
	if got := names(sm + "/realm"); !slices.Equal(got, []string{"editor"}) {
		t.Errorf("direct %v", got)
	}
	if got := names(sm + "/realm/composite"); !slices.Equal(got, []string{"auditor", "editor"}) {
		t.Errorf("composite %v", got)
	}
	if got := names(sm + "/realm/available"); !slices.Contains(got, "viewer") || slices.Contains(got, "auditor") {
		t.Errorf("available %v", got)
	}
	if got := names(sm + "/clients/" + api); !slices.Equal(got, []string{"read"}) {
		t.Errorf("client scope mappings %v", got)
	}
	var all struct {
		RealmMappings  []rep.Role                 `json:"realmMappings"`
		ClientMappings map[string]json.RawMessage `json:"clientMappings"`
	}
	e.must(200, "GET", sm, e.admin, nil).json(t, &all)
	if len(all.RealmMappings) != 1 || all.ClientMappings["api"] == nil {
		t.Errorf("all scope mappings %+v", all)
	}

	// Through a client scope the client uses.
	scope := e.must(201, "POST", b+"/client-scopes", e.admin, map[string]any{"name": "viewing"}).id()
	e.must(204, "POST", b+"/client-scopes/"+scope+"/scope-mappings/realm", e.admin, []map[string]any{{"name": "viewer"}})
	e.must(204, "PUT", b+"/clients/"+app+"/default-client-scopes/"+scope, e.admin, nil)
	if realm, _ := roles(); !slices.Equal(realm, []string{"auditor", "editor", "viewer"}) {
		t.Errorf("viewer through the client scope: %v", realm)
	}

	e.must(204, "DELETE", sm+"/realm", e.admin, []map[string]any{{"name": "editor"}})
	e.must(204, "DELETE", sm+"/clients/"+api, e.admin, []map[string]any{{"name": "read"}})
	if realm, api := roles(); !slices.Equal(realm, []string{"viewer"}) || len(api) != 0 {
		t.Errorf("after removing the client's mappings: %v %v", realm, api)
	}
	// The mappings are in the realm export, as Keycloak writes them.
	var export map[string]any
	e.must(200, "GET", b, e.admin, nil).json(t, &export)
	var ex rep.Realm
	r, _ := json.Marshal(export)
	_ = json.Unmarshal(r, &ex)
	if !slices.ContainsFunc(ex.ScopeMappings, func(m rep.ScopeMapping) bool {
		return m.ClientScope == "viewing" && slices.Equal(m.Roles, []string{"viewer"})
	}) || slices.ContainsFunc(ex.ScopeMappings, func(m rep.ScopeMapping) bool { return m.Client == "app" }) || ex.ClientScopeMappings["api"] != nil {
		t.Errorf("realm scopeMappings %+v, clientScopeMappings %+v", ex.ScopeMappings, ex.ClientScopeMappings)
	}
}
