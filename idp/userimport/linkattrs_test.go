package userimport

import (
	"slices"
	"strings"
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

// TestImportKeepsFederationLink: a Keycloak export of a directory's users
// (federationLink, LDAP_ID) imports them linked to the realm's provider
// of that id, as realm import does, so that they keep signing in through
// the directory; without it they became local users with no password
// whose names the directory's users could no longer take. A link to a
// provider the realm lacks leaves a local user, as before; an LDAP_ID
// twice in the run, or already linked, is an invalid record.
func TestImportKeepsFederationLink(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "corp")
		if err := st.CreateComponent(ctx, store.Component{ID: "ldap1", RealmID: realm.ID, ParentID: realm.ID, Name: "corp",
			ProviderID: "ldap", ProviderType: "org.keycloak.storage.UserStorageProvider", Config: map[string][]string{}}); err != nil {
			t.Fatal(err)
		}
		file := `{"realm": "corp", "users": [
			{"username": "ann", "federationLink": "ldap1", "attributes": {"LDAP_ID": ["ext-ann"], "LDAP_ENTRY_DN": ["uid=ann"]}},
			{"username": "bob", "federationLink": "gone", "attributes": {"LDAP_ID": ["ext-bob"]}}]}`
		res, err := importData(t, st, Options{Realm: "corp"}, "corp-users-0.json", file)
		if err != nil || res.Created != 2 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if u, err := st.GetUserByFederationID(ctx, realm.ID, "ldap1", "ext-ann"); err != nil || u.Username != "ann" || u.FederationLink != "ldap1" {
			t.Fatalf("ann: %+v %v", u, err)
		}
		if u := mustUser(t, st, realm.ID, "bob"); u.FederationLink != "" || u.FederationID != "" {
			t.Fatalf("bob, linked to a provider the realm lacks: %+v", u)
		}
		before := snapshot(t, st, realm.ID)
		bad := `{"realm": "corp", "users": [
			{"username": "ann2", "federationLink": "ldap1", "attributes": {"LDAP_ID": ["ext-ann"]}},
			{"username": "cat", "federationLink": "ldap1", "attributes": {"LDAP_ID": ["ext-cat"]}},
			{"username": "cat2", "federationLink": "ldap1", "attributes": {"LDAP_ID": ["ext-cat"]}}]}`
		res, err = importData(t, st, Options{Realm: "corp"}, "corp-users-1.json", bad)
		problems := strings.Join(res.Problems, "\n")
		if err == nil || res.Invalid != 2 || !strings.Contains(problems, `LDAP_ID "ext-ann" is linked to existing user "ann"`) ||
			!strings.Contains(problems, `LDAP_ID "ext-cat": duplicate of`) {
			t.Fatalf("bad links: %+v %v", res, err)
		}
		if snapshot(t, st, realm.ID) != before {
			t.Fatal("an invalid run wrote")
		}
	})
}
