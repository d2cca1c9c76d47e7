package rep

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/keygate/keygate/store"
)

const (
	userStorageType = "org.keycloak.storage.UserStorageProvider"
	ldapMapperType  = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
)

// ldapRealm is a realm export with one LDAP provider (config changed by
// changes; a nil value deletes the key) carrying mappers.
func ldapRealm(t *testing.T, changes map[string][]string, mappers ...ComponentExport) string {
	t.Helper()
	cfg := map[string][]string{"connectionUrl": {"ldap://ldap.corp.example"}, "usersDn": {"ou=people,dc=corp,dc=example"},
		"editMode": {"READ_ONLY"}, "bindDn": {"cn=svc,dc=corp,dc=example"}, "bindCredential": {"svc-Passw0rd"},
		"allowKerberosAuthentication": {"false"}, "cachePolicy": {"DEFAULT"}}
	for k, v := range changes {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	r := Realm{Realm: "corp", Roles: &RealmRoles{Realm: []Role{{Name: "staff"}}}, Groups: []Group{{Name: "apps"}},
		Components: map[string][]ComponentExport{userStorageType: {{ID: "6f1f2c4e-8a9b-4c55-9d0e-3f1b2a4c5d6e", Name: "corp-ldap",
			ProviderID: "ldap", Config: cfg, SubComponents: map[string][]ComponentExport{ldapMapperType: mappers}}}}}
	data, err := json.Marshal(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func storedComponents(t *testing.T, st store.Store, realm string) (provider store.Component, mappers []store.Component) {
	t.Helper()
	ctx := context.Background()
	row, err := st.GetRealmByName(ctx, realm)
	if err != nil {
		t.Fatal(err)
	}
	ps, err := st.ListComponents(ctx, row.ID, row.ID, userStorageType)
	if err != nil || len(ps) != 1 {
		t.Fatalf("user storage components: %v %v", ps, err)
	}
	ms, err := st.ListComponents(ctx, row.ID, ps[0].ID, "")
	if err != nil {
		t.Fatal(err)
	}
	return ps[0], ms
}

// An import carries its own mappers: none are added. A masked credential
// is left unset.
func TestImportLDAPProvider(t *testing.T) {
	st := openStore(t)
	email := ComponentExport{Name: "email", ProviderID: "user-attribute-ldap-mapper", Config: map[string][]string{
		"user.model.attribute": {"email"}, "ldap.attribute": {"mail"}}}
	mustImport(t, st, ldapRealm(t, map[string][]string{"bindCredential": {SecretMask}}, email), ImportOptions{})
	p, ms := storedComponents(t, st, "corp")
	if len(ms) != 1 || ms[0].Name != "email" || ms[0].ProviderType != ldapMapperType {
		t.Fatalf("mappers after import: %+v", ms)
	}
	if _, ok := p.Config["bindCredential"]; ok {
		t.Fatalf("a masked bindCredential was stored: %q", p.Config["bindCredential"])
	}
	if first(p.Config["editMode"]) != "READ_ONLY" || first(p.Config["cachePolicy"]) != "DEFAULT" {
		t.Fatalf("config: %v", p.Config)
	}
}

// Keycloak's validation applies to imports too, naming the JSON path;
// nothing is written.
func TestImportLDAPValidation(t *testing.T) {
	prefix := `components["org.keycloak.storage.UserStorageProvider"][0]`
	mapperPrefix := prefix + `.subComponents["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"][0]`
	cases := []struct {
		name    string
		changes map[string][]string
		mapper  *ComponentExport
		want    string
	}{
		{"no editMode", map[string][]string{"editMode": nil}, nil, prefix + ".config.editMode: Edit Mode is mandatory"},
		{"timeout", map[string][]string{"connectionTimeout": {"x"}}, nil, prefix + ".config.connectionTimeout: Connection Timeout must be a number"},
		{"importEnabled false", map[string][]string{"importEnabled": {"false"}}, nil, prefix + ".config.importEnabled: "},
		{"group mapper without mode", nil, &ComponentExport{Name: "g", ProviderID: "group-ldap-mapper",
			Config: map[string][]string{"groups.dn": {"ou=g"}}}, mapperPrefix + ".config.mode: Missing configuration for Mode"},
		{"role mapper without client", nil, &ComponentExport{Name: "r", ProviderID: "role-ldap-mapper",
			Config: map[string][]string{"roles.dn": {"ou=r"}, "mode": {"READ_ONLY"}}}, mapperPrefix + ".config.client.id: Client ID needs"},
		{"hardcoded role not in the file", nil, &ComponentExport{Name: "h", ProviderID: "hardcoded-ldap-role-mapper",
			Config: map[string][]string{"role": {"nobody"}}}, mapperPrefix + ".config.role: There is no role"},
		{"groups.path not in the file", nil, &ComponentExport{Name: "g", ProviderID: "group-ldap-mapper",
			Config: map[string][]string{"groups.dn": {"ou=g"}, "mode": {"IMPORT"}, "groups.path": {"/nowhere"}}}, mapperPrefix + ".config.groups.path: "},
	}
	for _, c := range cases {
		st := openStore(t)
		var mappers []ComponentExport
		if c.mapper != nil {
			mappers = append(mappers, *c.mapper)
		}
		_, err := ImportRealm(context.Background(), st, []byte(ldapRealm(t, c.changes, mappers...)), ImportOptions{})
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%s: %v, want %q...", c.name, err, c.want)
		}
		if _, err := st.GetRealmByName(context.Background(), "corp"); err == nil {
			t.Errorf("%s: the realm was written", c.name)
		}
	}

	// What the file itself holds satisfies the references; unknown mappers
	// and other user storage providers are kept, with a warning.
	st := openStore(t)
	res := mustImport(t, st, ldapRealm(t, nil,
		ComponentExport{Name: "h", ProviderID: "hardcoded-ldap-role-mapper", Config: map[string][]string{"role": {"staff"}}},
		ComponentExport{Name: "g", ProviderID: "group-ldap-mapper", Config: map[string][]string{"groups.dn": {"ou=g"}, "mode": {"IMPORT"}, "groups.path": {"/apps"}}},
		ComponentExport{Name: "x", ProviderID: "some-custom-mapper"}), ImportOptions{})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "some-custom-mapper") {
		t.Errorf("warnings: %q", res.Warnings)
	}
}

// With ImportOptions.SealSecret the credential is stored sealed.
func TestImportLDAPSealsSecret(t *testing.T) {
	st := openStore(t)
	mustImport(t, st, ldapRealm(t, nil), ImportOptions{SealSecret: func(v string) (string, error) { return "sealed(" + v + ")", nil }})
	p, _ := storedComponents(t, st, "corp")
	if got := first(p.Config["bindCredential"]); got != "sealed(svc-Passw0rd)" {
		t.Fatalf("bindCredential stored as %q", got)
	}
}

// The legacy userFederationProviders / userFederationMappers shape
// (Keycloak's testsuite ldap/fed-provider-export.json) becomes components.
func TestImportLegacyUserFederation(t *testing.T) {
	const legacy = `{"realm": "test", "enabled": true,
	  "userFederationProviders": [{"id": "1fc3afd2-4c18-48dd-9055-b4bbae9229b7", "displayName": "test-ldap", "providerName": "ldap",
	    "config": {"serverPrincipal": "HTTP/localhost@KEYCLOAK.ORG", "debug": "true", "pagination": "true",
	      "connectionPooling": "true", "usersDn": "ou=People,dc=keycloak,dc=org", "useKerberosForPasswordAuthentication": "false",
	      "kerberosRealm": "KEYCLOAK.ORG", "bindCredential": "secret", "bindDn": "uid=admin,ou=system", "vendor": "other",
	      "editMode": "WRITABLE", "allowKerberosAuthentication": "false", "connectionUrl": "ldap://localhost:10389",
	      "syncRegistrations": "true", "baseDn": "dc=keycloak,dc=org", "batchSizeForSync": "3"},
	    "priority": 0, "fullSyncPeriod": -1, "changedSyncPeriod": -1, "lastSync": 0}],
	  "userFederationMappers": [
	    {"id": "b2fc2d9c-2ea8-417f-96db-2565be62a646", "name": "last name", "federationProviderDisplayName": "test-ldap",
	     "federationMapperType": "user-attribute-ldap-mapper", "config": {"always.read.value.from.ldap": "true", "read.only": "false",
	     "ldap.attribute": "sn", "is.mandatory.in.ldap": "true", "user.model.attribute": "lastName"}},
	    {"id": "6dc25318-dc20-4927-ba19-9293ab31aa28", "name": "zipCodeMapper", "federationProviderDisplayName": "test-ldap",
	     "federationMapperType": "user-attribute-ldap-mapper", "config": {"always.read.value.from.ldap": "false", "read.only": "false",
	     "ldap.attribute": "postalCode", "is.mandatory.in.ldap": "false", "user.model.attribute": "postal_code"}}]}`
	st := openStore(t)
	mustImport(t, st, legacy, ImportOptions{})
	p, ms := storedComponents(t, st, "test")
	if p.ID != "1fc3afd2-4c18-48dd-9055-b4bbae9229b7" || p.Name != "test-ldap" || p.ProviderID != "ldap" {
		t.Fatalf("provider: %+v", p)
	}
	for k, want := range map[string]string{"priority": "0", "fullSyncPeriod": "-1", "changedSyncPeriod": "-1", "lastSync": "0",
		"editMode": "WRITABLE", "bindCredential": "secret", "batchSizeForSync": "3", "kerberosRealm": "KEYCLOAK.ORG"} {
		if got := p.Config[k]; len(got) != 1 || got[0] != want {
			t.Errorf("config %s = %q, want [%q]", k, got, want)
		}
	}
	var names []string
	for _, m := range ms {
		names = append(names, m.Name)
		if m.ProviderType != ldapMapperType || m.ProviderID != "user-attribute-ldap-mapper" {
			t.Errorf("mapper %+v", m)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"last name", "zipCodeMapper"}) {
		t.Errorf("mappers %v", names)
	}
	// The export has the components shape only.
	e, err := ExportRealm(context.Background(), st, "test", false)
	if err != nil {
		t.Fatal(err)
	}
	j, _ := json.Marshal(e)
	if strings.Contains(string(j), "userFederationProviders") || len(e.Components[userStorageType]) != 1 ||
		len(e.Components[userStorageType][0].SubComponents[ldapMapperType]) != 2 {
		t.Errorf("export: %s", j)
	}

	// A mapper naming no provider names its path.
	_, err = ImportRealm(context.Background(), openStore(t), []byte(`{"realm":"x","userFederationMappers":[
		{"name":"m","federationProviderDisplayName":"nope","federationMapperType":"user-attribute-ldap-mapper"}]}`), ImportOptions{})
	if err == nil || !strings.HasPrefix(err.Error(), "userFederationMappers[0].federationProviderDisplayName: unknown provider") {
		t.Errorf("orphan mapper: %v", err)
	}
}

// Export keeps providers and mappers with the credential masked (unless
// Secrets), and users imported from the directory with their link and no
// credentials (keygate never has their directory password).
func TestExportLDAPProvider(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustImport(t, st, ldapRealm(t, nil, ComponentExport{Name: "email", ProviderID: "user-attribute-ldap-mapper",
		Config: map[string][]string{"user.model.attribute": {"email"}, "ldap.attribute": {"mail"}}}), ImportOptions{})
	row, _ := st.GetRealmByName(ctx, "corp")
	p, _ := storedComponents(t, st, "corp")
	u := store.User{ID: "8a0c7c48-47c5-4a4c-9bbf-0c4b8e3b7b1e", RealmID: row.ID, Username: "jdoe", Enabled: true, FederationLink: p.ID,
		Attributes: map[string][]string{"LDAP_ID": {"d5f85f66-82b6-1041-9ac4-ed33e01de4a5"}, "LDAP_ENTRY_DN": {"uid=jdoe,ou=people,dc=corp,dc=example"}}}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}

	e, err := ExportRealm(ctx, st, "corp", true)
	if err != nil {
		t.Fatal(err)
	}
	ps := e.Components[userStorageType]
	if len(ps) != 1 || first(ps[0].Config["bindCredential"]) != SecretMask || len(ps[0].SubComponents[ldapMapperType]) != 1 {
		t.Fatalf("exported provider: %+v", ps)
	}
	j, _ := json.Marshal(e)
	if strings.Contains(string(j), "svc-Passw0rd") {
		t.Fatal("the export carries the bind credential")
	}
	if len(e.Users) != 1 || e.Users[0].FederationLink != p.ID || len(e.Users[0].Credentials) != 0 ||
		first(e.Users[0].Attributes["LDAP_ID"]) != "d5f85f66-82b6-1041-9ac4-ed33e01de4a5" {
		t.Fatalf("exported user: %+v", e.Users)
	}

	with, err := Export(ctx, st, "corp", ExportOptions{Secrets: true})
	if err != nil {
		t.Fatal(err)
	}
	if first(with.Components[userStorageType][0].Config["bindCredential"]) != "svc-Passw0rd" {
		t.Fatalf("export with secrets: %+v", with.Components[userStorageType])
	}

	// The masked export imports with the credential unset, and the rest as it was.
	st2 := openStore(t)
	mustImport(t, st2, string(j), ImportOptions{})
	p2, ms2 := storedComponents(t, st2, "corp")
	if _, ok := p2.Config["bindCredential"]; ok || first(p2.Config["bindDn"]) != "cn=svc,dc=corp,dc=example" || len(ms2) != 1 {
		t.Fatalf("re-imported: %v %v", p2.Config, ms2)
	}
}

// DefaultLDAPMappers and ValidateLDAPMapper agree: every default mapper of
// every vendor and mode passes validation.
func TestDefaultLDAPMappersValidate(t *testing.T) {
	for _, vendor := range []string{"other", "ad", "rhds"} {
		for _, mode := range []string{"READ_ONLY", "WRITABLE", "UNSYNCED"} {
			for _, user := range []string{"", "uid", "cn", "sAMAccountName"} {
				cfg := map[string][]string{"vendor": {vendor}, "editMode": {mode}, "usernameLDAPAttribute": {user},
					"syncRegistrations": {"true"}, "usePasswordModifyExtendedOp": {"true"}}
				for _, m := range DefaultLDAPMappers("realm", "parent", cfg) {
					if err := ValidateLDAPMapper(m.ProviderID, m.Config, cfg, MapperRefs{}); err != nil {
						t.Errorf("%s %s %q: %s: %v", vendor, mode, user, m.Name, err)
					}
				}
			}
		}
	}
}
