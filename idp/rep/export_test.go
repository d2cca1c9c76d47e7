package rep

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
)

func TestExportImportExport(t *testing.T) {
	ctx := context.Background()
	st1 := openStore(t)
	mustImport(t, st1, string(readTestdata(t)), ImportOptions{})
	e1, err := ExportRealm(ctx, st1, "acme", true)
	if err != nil {
		t.Fatal(err)
	}
	j1, err := json.MarshalIndent(e1, "", "  ")
	if err != nil {
		t.Fatal(err)
	}

	// What the export must carry, checked against the original file.
	file := fileRealm(t)
	equal(t, "realm id", e1.ID, file.ID)
	equal(t, "users", len(e1.Users), 4)
	equal(t, "clients", len(e1.Clients), 9)
	equal(t, "groups (top level)", len(e1.Groups), 2)
	equal(t, "realm roles", len(e1.Roles.Realm), 6)
	equal(t, "default role id", e1.DefaultRole.ID, file.DefaultRole.ID)
	alice := e1.Users[0]
	equal(t, "first user", alice.Username, "alice")
	equal(t, "alice secretData", alice.Credentials[0].SecretData, file.Users[0].Credentials[0].SecretData)
	equalSlices(t, "alice realmRoles", alice.RealmRoles, []string{"admin", "default-roles-acme"})
	equalSlices(t, "alice groups", alice.Groups, []string{"/staff/engineering/platform"})
	equalSlices(t, "alice webapp roles", alice.ClientRoles["webapp"], []string{"editor"})
	equal(t, "service account link", e1.Users[3].ServiceAccountClientID, "api-backend")
	staff := e1.Groups[1]
	equal(t, "nested group path", staff.SubGroups[0].SubGroups[0].Path, "/staff/engineering/platform")
	for _, c := range e1.Clients {
		if c.ClientID == "webapp" {
			equal(t, "webapp secret", c.Secret, "r4nD0m-Webapp-S3cret-From-Keycloak-0001")
		}
	}
	for _, r := range e1.Roles.Client["realm-management"] {
		if r.Name == "realm-admin" && (!r.Composite || len(r.Composites.Client["realm-management"]) != 18) {
			t.Errorf("realm-admin = %+v", r)
		}
	}
	if _, ok := e1.Roles.Client["admin-cli"]; !ok {
		t.Error("clients without roles need an empty entry in roles.client, as Keycloak exports them")
	}
	if ldap := e1.Components["org.keycloak.storage.UserStorageProvider"]; len(ldap) != 1 ||
		len(ldap[0].SubComponents["org.keycloak.storage.ldap.mappers.LDAPStorageMapper"]) != 2 {
		t.Errorf("components = %+v", e1.Components)
	}

	// Export -> import into a fresh store -> export: identical.
	st2 := openStore(t)
	res := mustImport(t, st2, string(j1), ImportOptions{})
	if len(res.Warnings) != 0 {
		t.Errorf("re-import warnings: %q", res.Warnings)
	}
	e2, err := ExportRealm(ctx, st2, "acme", true)
	if err != nil {
		t.Fatal(err)
	}
	j2, _ := json.MarshalIndent(e2, "", "  ")
	if string(j1) != string(j2) {
		l1, l2 := strings.Split(string(j1), "\n"), strings.Split(string(j2), "\n")
		for i := range min(len(l1), len(l2)) {
			if l1[i] != l2[i] {
				t.Fatalf("exports differ at line %d:\n first: %s\nsecond: %s", i+1, l1[i], l2[i])
			}
		}
		t.Fatalf("exports differ in length: %d vs %d lines", len(l1), len(l2))
	}

	// Without users.
	e3, err := ExportRealm(ctx, st2, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	if e3.Users != nil {
		t.Errorf("export without users has %d users", len(e3.Users))
	}
}
