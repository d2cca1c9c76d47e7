package userimport

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/storetest/backends"
)

// eachStore runs fn against SQLite and, when KEYGATE_TEST_POSTGRES names a
// server, PostgreSQL (in a scratch schema).
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) { backends.Each(t, fn) }

// newRealm creates realm name as keygate creates realms (built-in roles,
// clients and the default role).
func newRealm(t testing.TB, st store.Store, name string) store.Realm {
	t.Helper()
	if _, err := rep.CreateRealm(t.Context(), st, rep.NewRealm(name), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	r, err := st.GetRealmByName(t.Context(), name)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func importFiles(t testing.TB, st store.Store, opts Options, names ...string) (Result, error) {
	t.Helper()
	var files []File
	for _, n := range names {
		f, err := os.Open(filepath.Join("testdata", n))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { f.Close() })
		files = append(files, File{Name: n, R: f})
	}
	return Import(t.Context(), st, files, opts)
}

func importData(t testing.TB, st store.Store, opts Options, name, data string) (Result, error) {
	t.Helper()
	return Import(t.Context(), st, []File{{Name: name, R: strings.NewReader(data)}}, opts)
}

// snapshot renders every user of the realm with credentials, roles and
// groups, to prove that a run changed nothing.
func snapshot(t testing.TB, st store.Store, realmID string) string {
	t.Helper()
	ctx := t.Context()
	us, err := st.ListUsers(ctx, realmID, store.UserQuery{})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, u := range us {
		cs, _ := st.ListCredentials(ctx, u.ID)
		rs, _ := st.ListUserRoles(ctx, realmID, u.ID)
		gs, _ := st.ListUserGroups(ctx, realmID, u.ID)
		fmt.Fprintf(&b, "%+v\n  creds %+v\n  roles %v\n  groups %v\n", u, cs, names(rs, func(r store.Role) string { return r.Name }),
			names(gs, func(g store.Group) string { return g.Name }))
	}
	all, _ := st.ListAllRoles(ctx, realmID)
	groups, _ := st.ListGroups(ctx, realmID)
	fmt.Fprintf(&b, "roles %d groups %d\n", len(all), len(groups))
	return b.String()
}

func names[T any](xs []T, f func(T) string) []string {
	var out []string
	for _, x := range xs {
		out = append(out, f(x))
	}
	sort.Strings(out)
	return out
}

func mustUser(t testing.TB, st store.Store, realmID, username string) store.User {
	t.Helper()
	u, err := st.GetUserByUsername(t.Context(), realmID, username)
	if err != nil {
		t.Fatalf("user %q: %v", username, err)
	}
	return u
}

func countUsers(t testing.TB, st store.Store, realmID string) int {
	t.Helper()
	n, err := st.CountUsers(t.Context(), realmID, store.UserQuery{IncludeServiceAccounts: true})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func counts(r Result) [4]int { return [4]int{r.Created, r.Updated, r.Skipped, r.Invalid} }

// TestImportStackState imports both StackState forms, checks the rows and
// that re-running changes nothing, in every conflict mode.
func TestImportStackState(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "stackstate")
		opts := Options{Realm: "stackstate"}
		res, err := importFiles(t, st, opts, "application_stackstate.conf")
		if err != nil || counts(res) != [4]int{4, 0, 0, 0} || res.RolesCreated != 4 {
			t.Fatalf("first import: %+v, %v", res, err)
		}
		admin := mustUser(t, st, realm.ID, "admin")
		if !admin.Enabled {
			t.Error("imported admin is disabled")
		}
		roles, _ := st.ListUserRoles(ctx, realm.ID, admin.ID)
		if got := names(roles, func(r store.Role) string { return r.Name }); !slices.Equal(got, []string{"default-roles-stackstate", "stackstate-admin"}) {
			t.Errorf("admin's roles %v", got)
		}
		creds, _ := st.ListCredentials(ctx, admin.ID)
		if len(creds) != 1 || creds[0].SecretData != `{"value":"5f4dcc3b5aa765d61d8327deb882cf99","salt":"","additionalParameters":{}}` ||
			!strings.Contains(creds[0].CredentialData, `"algorithm":"md5"`) {
			t.Errorf("admin's credential %+v", creds)
		}
		before := snapshot(t, st, realm.ID)
		for _, mode := range []OnConflict{ConflictSkip, ConflictUpdate} {
			res, err := importFiles(t, st, Options{Realm: "stackstate", OnConflict: mode}, "application_stackstate.conf")
			if err != nil || counts(res) != [4]int{0, 0, 4, 0} {
				t.Errorf("re-run with %s: %+v, %v", mode, res, err)
			}
			if after := snapshot(t, st, realm.ID); after != before {
				t.Errorf("re-run with %s changed the store:\n%s\nwas\n%s", mode, after, before)
			}
		}
		res, err = importFiles(t, st, Options{Realm: "stackstate", OnConflict: ConflictFail}, "application_stackstate.conf")
		if !errors.Is(err, ErrInvalid) || res.Invalid != 4 || !strings.Contains(res.Problems[0], "already exists") {
			t.Errorf("re-run with fail: %+v, %v", res, err)
		}

		// The Helm values overlap: admin, guest and power-user exist with the
		// same hashes and roles (the HOCON's upper-case hex is stored
		// lower-case), platformadmin and troubleshooter are new.
		res, err = importFiles(t, st, Options{Realm: "stackstate", OnConflict: ConflictUpdate}, "authentication.yaml")
		if err != nil || counts(res) != [4]int{2, 0, 3, 0} || res.RolesCreated != 1 {
			t.Errorf("helm import: %+v, %v", res, err)
		}
		pa := mustUser(t, st, realm.ID, "platformadmin")
		creds, _ = st.ListCredentials(ctx, pa.ID)
		pc, err := password.FromKeycloak(creds[0].SecretData, creds[0].CredentialData)
		if err != nil || pc.Algorithm != password.Bcrypt {
			t.Errorf("platformadmin: %+v %v", pc, err)
		}
	})
}

// TestImportUpdate: --on-conflict update merges what the file says, and a
// password re-hashed by a login is newer than any file.
func TestImportUpdate(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "r")
		opts := Options{Realm: "r", OnConflict: ConflictUpdate}
		const v1 = "username,email,first_name,password_hash,roles,groups\nann,ann@x.org,Ann,5f4dcc3b5aa765d61d8327deb882cf99,a,/g1\nbob,,Bob,084e0343a0486ff05530df6c705c8bb4,,\n"
		if _, err := importData(t, st, opts, "v1.csv", v1); err != nil {
			t.Fatal(err)
		}
		ann := mustUser(t, st, realm.ID, "ann")
		// ann logs in: her md5 is re-hashed under the policy.
		fresh, err := password.Hash(password.DefaultPolicy(), "password")
		if err != nil {
			t.Fatal(err)
		}
		sc, _ := storedCredential(fresh)
		creds, _ := st.ListCredentials(ctx, ann.ID)
		if err := st.UpdateCredential(ctx, ann.ID, creds[0].ID, func(c store.Credential) (store.Credential, error) {
			c.SecretData, c.CredentialData = sc.SecretData, sc.CredentialData
			return c, nil
		}); err != nil {
			t.Fatal(err)
		}
		const v2 = "username,email,first_name,password_hash,roles,groups\nann,ann@y.org,Anne,e10adc3949ba59abbe56e057f20f883e,b,/g2/sub\nbob,,Bob,e10adc3949ba59abbe56e057f20f883e,,\n"
		res, err := importData(t, st, opts, "v2.csv", v2)
		if err != nil || counts(res) != [4]int{0, 2, 0, 0} || res.RolesCreated != 1 || res.GroupsCreated != 2 {
			t.Fatalf("update: %+v, %v", res, err)
		}
		ann = mustUser(t, st, realm.ID, "ann")
		if ann.Email != "ann@y.org" || ann.FirstName != "Anne" {
			t.Errorf("ann not updated: %+v", ann)
		}
		roles, _ := st.ListUserRoles(ctx, realm.ID, ann.ID)
		groups, _ := st.ListUserGroups(ctx, realm.ID, ann.ID)
		if got := names(roles, func(r store.Role) string { return r.Name }); !slices.Equal(got, []string{"a", "b", "default-roles-r"}) {
			t.Errorf("ann's roles %v (mappings are added, never removed)", got)
		}
		if got := names(groups, func(g store.Group) string { return g.Name }); !slices.Equal(got, []string{"g1", "sub"}) {
			t.Errorf("ann's groups %v", got)
		}
		creds, _ = st.ListCredentials(ctx, ann.ID)
		if len(creds) != 1 || creds[0].SecretData != sc.SecretData {
			t.Errorf("ann's re-hashed password was replaced by the file's md5: %+v", creds)
		}
		bob := mustUser(t, st, realm.ID, "bob")
		creds, _ = st.ListCredentials(ctx, bob.ID)
		if len(creds) != 1 || !strings.Contains(creds[0].SecretData, "e10adc3949ba59abbe56e057f20f883e") {
			t.Errorf("bob's never-used md5 was not replaced by the file's new one: %+v", creds)
		}
		before := snapshot(t, st, realm.ID)
		if res, err := importData(t, st, opts, "v2.csv", v2); err != nil || counts(res) != [4]int{0, 0, 2, 0} {
			t.Errorf("re-run: %+v, %v", res, err)
		}
		if snapshot(t, st, realm.ID) != before {
			t.Error("re-running the update changed the store")
		}
	})
}

// TestImportAllOrNothing: one bad record past the first batch (so earlier
// batches were already written in the transaction) leaves the store as it
// was; --skip-invalid writes the rest; --dry-run counts and writes nothing.
func TestImportAllOrNothing(t *testing.T) {
	var b strings.Builder
	b.WriteString("username,email,password_hash,roles,groups\n")
	for i := range 1200 {
		hash := "5f4dcc3b5aa765d61d8327deb882cf99"
		if i == 1100 {
			hash = "not-a-hash"
		}
		fmt.Fprintf(&b, "user%04d,user%04d@example.com,%s,role%d,/team%d\n", i, i, hash, i%3, i%2)
	}
	b.WriteString("user0007,dup@example.com,,,\n")                    // duplicate username
	b.WriteString("other,USER0008@example.com,,,\n")                  // duplicate email
	b.WriteString("taken,someone@example.com,,,\n")                   // email of an existing user
	b.WriteString("\"sp ace\",,5f4dcc3b5aa765d61d8327deb882cf99,,\n") // invalid username
	data := b.String()
	eachStore(t, func(t *testing.T, st store.Store) {
		realm := newRealm(t, st, "r")
		if _, err := importData(t, st, Options{Realm: "r"}, "pre.csv", "username,email\nsomeone,someone@example.com\n"); err != nil {
			t.Fatal(err)
		}
		before := snapshot(t, st, realm.ID)
		res, err := importData(t, st, Options{Realm: "r", BatchSize: 500}, "big.csv", data)
		if !errors.Is(err, ErrInvalid) || res.Invalid != 5 {
			t.Fatalf("import with bad records: %+v, %v", res, err)
		}
		want := []string{
			"big.csv:1102: password_hash: md5: want 32 hex characters",
			`big.csv:1202: username "user0007": duplicate of big.csv:9`,
			`big.csv:1203: email "USER0008@example.com": duplicate of big.csv:10`,
			`big.csv:1204: email "someone@example.com" belongs to existing user "someone"`,
			`big.csv:1205: username "sp ace": contains whitespace`,
		}
		for i, w := range want {
			if i >= len(res.Problems) || !strings.HasPrefix(res.Problems[i], w) {
				t.Errorf("problem %d: got %q, want %q...", i, res.Problems, w)
			}
		}
		if after := snapshot(t, st, realm.ID); after != before {
			t.Fatalf("a failed import wrote:\n%s", after)
		}

		res, err = importData(t, st, Options{Realm: "r", DryRun: true, SkipInvalid: true}, "big.csv", data)
		if err != nil || !res.DryRun || counts(res) != [4]int{1199, 0, 0, 5} {
			t.Fatalf("dry run: %+v, %v", res, err)
		}
		if snapshot(t, st, realm.ID) != before {
			t.Fatal("a dry run wrote")
		}

		res, err = importData(t, st, Options{Realm: "r", SkipInvalid: true}, "big.csv", data)
		if err != nil || counts(res) != [4]int{1199, 0, 0, 5} || res.RolesCreated != 3 || res.GroupsCreated != 2 {
			t.Fatalf("skip invalid: %+v, %v", res, err)
		}
		if n := countUsers(t, st, realm.ID); n != 1200 {
			t.Errorf("%d users, want 1200", n)
		}
		u := mustUser(t, st, realm.ID, "user1199")
		if roles, _ := st.ListUserRoles(t.Context(), realm.ID, u.ID); len(roles) != 2 {
			t.Errorf("user1199 roles %+v", roles)
		}
	})
}

// TestImportKeycloak: a realm export's users into another realm, then a
// users partial export into the realm it came from.
func TestImportKeycloak(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		data, err := os.ReadFile("testdata/acme-realm.json")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rep.ImportRealm(ctx, st, data, rep.ImportOptions{}); err != nil {
			t.Fatal(err)
		}
		acme, _ := st.GetRealmByName(ctx, "acme")

		// Into a fresh realm: the realm export's ids are taken by acme's
		// users (a realm export is not a template).
		newRealm(t, st, "copy")
		res, err := importFiles(t, st, Options{Realm: "copy", SkipInvalid: true}, "acme-realm.json")
		if err != nil || counts(res) != [4]int{0, 0, 1, 3} {
			t.Fatalf("realm export into another realm: %+v, %v", res, err)
		}
		for i, w := range []string{"users[0]: id ", "users[1]: id ", "users[2]: id "} {
			if !strings.Contains(res.Problems[i], w) {
				t.Errorf("problem %d %q, want %q", i, res.Problems[i], w)
			}
		}

		res, err = importFiles(t, st, Options{Realm: "acme"}, "acme-users-0.json")
		if err != nil || counts(res) != [4]int{3, 0, 1, 0} || res.RolesCreated != 1 || res.GroupsCreated != 2 {
			t.Fatalf("users file: %+v, %v", res, err)
		}
		erin := mustUser(t, st, acme.ID, "erin")
		if erin.ID != "3f1d9a8e-0c55-4b7e-9a51-2d1f6b7c8e90" || !erin.EmailVerified || erin.Created.UnixMilli() != 1730000000000 {
			t.Errorf("erin: %+v", erin)
		}
		creds, _ := st.ListCredentials(ctx, erin.ID)
		if len(creds) != 2 || !strings.Contains(creds[0].SecretData, "eXXFuGogo8di26CFnMTeXPe79nerR8qNYYczkcU6zn8=") || creds[1].Type != "otp" {
			t.Errorf("erin's credentials not kept as they are: %+v", creds)
		}
		roles, _ := st.ListUserRoles(ctx, acme.ID, erin.ID)
		if got := names(roles, func(r store.Role) string { return r.Name }); !slices.Equal(got, []string{"auditor", "default-roles-acme", "viewer"}) {
			t.Errorf("erin's roles %v (exactly the file's; viewer is webapp's)", got)
		}
		gina := mustUser(t, st, acme.ID, "gina")
		creds, _ = st.ListCredentials(ctx, gina.ID)
		pc, _ := password.FromKeycloak(creds[0].SecretData, creds[0].CredentialData)
		if pc.Algorithm != password.PBKDF2SHA256 || pc.Iterations != 27500 || !slices.Equal(gina.RequiredActions, []string{"UPDATE_PASSWORD"}) {
			t.Errorf("gina's plain password is not hashed under acme's policy: %+v %v", pc, gina.RequiredActions)
		}
		if mustUser(t, st, acme.ID, "frank").Enabled {
			t.Error("frank enabled")
		}
		if strings.Contains(snapshot(t, st, acme.ID), "service-account-reporting") {
			t.Error("service-account user imported")
		}
		before := snapshot(t, st, acme.ID)
		res, err = importFiles(t, st, Options{Realm: "acme", OnConflict: ConflictUpdate}, "acme-users-0.json")
		if err != nil || counts(res) != [4]int{0, 0, 4, 0} || snapshot(t, st, acme.ID) != before {
			t.Errorf("re-run changed something: %+v, %v", res, err)
		}
	})
}

// TestImportUnknownClient: client roles need the client.
func TestImportUnknownClient(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		newRealm(t, st, "r")
		res, err := importData(t, st, Options{Realm: "r"}, "u.json", `{"realm":"x","users":[
			{"username":"a","clientRoles":{"account":["manage-account","brand-new"]}},
			{"username":"b","clientRoles":{"webapp":["viewer"]}}]}`)
		if !errors.Is(err, ErrInvalid) || len(res.Problems) != 1 || !strings.Contains(res.Problems[0], `u.json: users[1]: clientRoles.webapp: the realm has no client "webapp"`) {
			t.Fatalf("%+v, %v", res, err)
		}
		res, err = importData(t, st, Options{Realm: "r", SkipInvalid: true}, "u.json", `{"realm":"x","users":[
			{"username":"a","enabled":true,"clientRoles":{"account":["manage-account","brand-new"]}}]}`)
		if err != nil || res.Created != 1 || res.RolesCreated != 1 {
			t.Fatalf("%+v, %v", res, err)
		}
	})
}

// TestDuplicatesAcrossFiles: one run spans its files, and a duplicate names
// the file and line of the first occurrence.
func TestDuplicatesAcrossFiles(t *testing.T) {
	st, err := sqlite.Open(t.Context(), ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	newRealm(t, st, "r")
	res, err := Import(t.Context(), st, []File{
		{Name: "a.csv", R: strings.NewReader("username\nann\nbob\n")},
		{Name: "b.json", R: strings.NewReader(`{"users":[{"username":"cid"},{"username":"BOB"}]}`)},
		{Name: "c.csv", R: strings.NewReader("username\ncid\n")},
	}, Options{Realm: "r"})
	want := []string{`b.json: users[1]: username "BOB": duplicate of a.csv:3`, `c.csv:2: username "cid": duplicate of b.json: users[0]`}
	if !errors.Is(err, ErrInvalid) || !slices.Equal(res.Problems, want) {
		t.Fatalf("%q, %v; want %q", res.Problems, err, want)
	}
}

// TestImportFederatedIdentities: a Keycloak users file's identity-provider
// links come along (new users, and missing links of existing users with
// --on-conflict update); a link to a provider the realm lacks makes the
// record invalid.
func TestImportFederatedIdentities(t *testing.T) {
	eachStore(t, func(t *testing.T, st store.Store) {
		ctx := t.Context()
		realm := newRealm(t, st, "corp")
		if err := st.CreateIdentityProvider(ctx, store.IdentityProvider{InternalID: "idp1", RealmID: realm.ID, Alias: "corp-saml",
			ProviderID: "saml", Enabled: true, Config: []byte(`{}`)}); err != nil {
			t.Fatal(err)
		}
		file := `{"realm": "corp", "users": [
			{"username": "alice", "federatedIdentities": [{"identityProvider": "corp-saml", "userId": "a-1", "userName": "alice"}]},
			{"username": "bob"}]}`
		res, err := importData(t, st, Options{Realm: "corp"}, "corp-users-0.json", file)
		if err != nil || res.Created != 2 {
			t.Fatalf("import: %+v %v", res, err)
		}
		if u, err := st.GetUserByFederatedIdentity(ctx, realm.ID, "corp-saml", "a-1"); err != nil || u.Username != "alice" {
			t.Fatalf("alice's link: %+v %v", u, err)
		}
		update := `{"realm": "corp", "users": [
			{"username": "bob", "federatedIdentities": [{"identityProvider": "corp-saml", "userId": "b-1", "userName": "bob"}]}]}`
		if res, err := importData(t, st, Options{Realm: "corp", OnConflict: ConflictUpdate}, "corp-users-1.json", update); err != nil || res.Updated != 1 {
			t.Fatalf("update: %+v %v", res, err)
		}
		if u, err := st.GetUserByFederatedIdentity(ctx, realm.ID, "corp-saml", "b-1"); err != nil || u.Username != "bob" {
			t.Fatalf("bob's link: %+v %v", u, err)
		}
		bad := `{"realm": "corp", "users": [{"username": "carol", "federatedIdentities": [{"identityProvider": "nope", "userId": "c"}]}]}`
		res, err = importData(t, st, Options{Realm: "corp"}, "corp-users-2.json", bad)
		if err == nil || res.Invalid != 1 || !strings.Contains(strings.Join(res.Problems, "\n"), `no identity provider "nope"`) {
			t.Fatalf("unknown provider: %+v %v", res, err)
		}
	})
}
