package userimport

import (
	"slices"
	"testing"

	"github.com/keygate/keygate/store"
)

// TestImportUpdateKeepsDirectoryLink: --on-conflict update merges a
// record's attributes, but not LDAP_ID and LDAP_ENTRY_DN, which tie a user
// to its directory entry (admin read-only in Keycloak's user profile): a
// file re-pointing them would hand the user, with its roles and
// credentials, to another entry's owner at the next login.
func TestImportUpdateKeepsDirectoryLink(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "corp")
		if err := st.CreateUser(ctx, store.User{ID: "u-ann", RealmID: realm.ID, Username: "ann", Enabled: true,
			FederationLink: "ldap1", FederationID: "ext-ann", Attributes: map[string][]string{
				"LDAP_ID": {"ext-ann"}, "LDAP_ENTRY_DN": {"uid=ann,ou=people"}}}); err != nil {
			t.Fatal(err)
		}
		file := `{"realm": "corp", "users": [{"username": "ann", "attributes": {
			"LDAP_ID": ["ext-boss"], "LDAP_ENTRY_DN": ["uid=boss,ou=people"], "team": ["a"]}}]}`
		res, err := importData(t, st, Options{Realm: "corp", OnConflict: ConflictUpdate}, "corp-users-0.json", file)
		if err != nil || res.Updated != 1 {
			t.Fatalf("import: %+v %v", res, err)
		}
		u := mustUser(t, st, realm.ID, "ann")
		if !slices.Equal(u.Attributes["LDAP_ID"], []string{"ext-ann"}) || !slices.Equal(u.Attributes["LDAP_ENTRY_DN"], []string{"uid=ann,ou=people"}) ||
			!slices.Equal(u.Attributes["team"], []string{"a"}) {
			t.Fatalf("ann after the update: %v", u.Attributes)
		}
	})
}
