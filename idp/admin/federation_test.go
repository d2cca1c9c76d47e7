package admin_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/admin"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/cache"
	"github.com/keygate/keygate/store/sqlite"
)

const (
	userStorage = "org.keycloak.storage.UserStorageProvider"
	ldapMapper  = "org.keycloak.storage.ldap.mappers.LDAPStorageMapper"
	testDBKey   = "a-database-key-for-tests"
)

// ldapConfig is a valid "ldap" provider configuration with changes
// (a nil value deletes the key).
func ldapConfig(changes map[string][]string) map[string][]string {
	cfg := map[string][]string{"connectionUrl": {"ldap://127.0.0.1:1"}, "usersDn": {"ou=people,dc=example"},
		"editMode": {"READ_ONLY"}, "vendor": {"other"}, "bindDn": {"cn=svc,dc=example"}, "bindCredential": {"svc-Passw0rd"}}
	for k, v := range changes {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	return cfg
}

func ldapProvider(name string, cfg map[string][]string) map[string]any {
	return map[string]any{"name": name, "providerId": "ldap", "providerType": userStorage, "config": cfg}
}

// fedEnv is newEnv with the server's configuration and the admin API built
// here, on the same listener.
type fedEnv struct {
	*env
	api  *admin.API
	seen int64 // the realm's components counter at the last drain
}

func newFedEnv(t *testing.T, cfg idp.Config) *fedEnv {
	t.Helper()
	ctx := t.Context()
	st, err := sqlite.Open(ctx, t.TempDir()+"/db")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	cfg.Logger = slog.New(slog.DiscardHandler)
	srv, err := idp.NewServer(st, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := idp.Bootstrap(ctx, st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	api := admin.New(st, srv.Provider(), srv.Limiter(), cfg.Logger)
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
	fe := &fedEnv{env: e, api: api}
	fe.drain()
	return fe
}

func (e *fedEnv) realmID() string {
	r, err := e.st.GetRealmByName(e.t.Context(), "acme")
	if err != nil {
		e.t.Fatal(err)
	}
	return r.ID
}

// drain returns how far acme's components change counter moved since the
// last drain: what makes the federation registry reopen its providers
// (store/cache), whoever wrote.
func (e *fedEnv) drain() int {
	e.t.Helper()
	v, ok := e.st.(cache.Versioned)
	if !ok {
		e.t.Fatal("the store keeps no change counters")
	}
	snap := v.CacheVersions().Current(e.t.Context())
	if snap == nil {
		e.t.Fatal("change counters unreadable")
	}
	now := snap.Realm(e.realmID()).Components
	n := int(now - e.seen)
	e.seen = now
	return n
}

// linkedUser stores a user imported by provider (as the linker would).
func (e *fedEnv) linkedUser(provider, username string) store.User {
	e.t.Helper()
	id := uuid.NewString()
	u := store.User{ID: uuid.NewString(), RealmID: e.realmID(), Username: username, Email: username + "@corp.example",
		FirstName: "First", LastName: "Last", Enabled: true, Created: time.Now().UTC(), FederationLink: provider, FederationID: id,
		Attributes: map[string][]string{"LDAP_ID": {id}, "LDAP_ENTRY_DN": {"uid=" + username + ",ou=people,dc=example"},
			"postal_code": {"1234"}}}
	if err := e.st.CreateUser(e.t.Context(), u); err != nil {
		e.t.Fatal(err)
	}
	return u
}

const acme = "/admin/realms/acme"

// Keycloak's validation answers 400 naming the config key, for each rule;
// nothing is stored.
func TestLDAPComponentValidation(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	cases := []struct {
		name    string
		changes map[string][]string
		field   string
		message string
	}{
		{"missing editMode", map[string][]string{"editMode": nil}, "editMode", "Edit Mode is mandatory"},
		{"non-numeric connectionTimeout", map[string][]string{"connectionTimeout": {"5s"}}, "connectionTimeout", "Connection Timeout must be a number"},
		{"non-numeric readTimeout", map[string][]string{"readTimeout": {"ten"}}, "readTimeout", "Read Timeout must be a number"},
		{"custom filter without parentheses", map[string][]string{"customUserSearchFilter": {"uid=x"}}, "customUserSearchFilter", "Custom configured LDAP filter"},
		{"startTls with pooling", map[string][]string{"startTls": {"true"}, "connectionPooling": {"true"}}, "startTls", "StartTLS and connection pooling"},
		{"UNSYNCED without import", map[string][]string{"editMode": {"UNSYNCED"}, "importEnabled": {"false"}}, "editMode", "UNSYNCED"},
		{"importEnabled false", map[string][]string{"importEnabled": {"false"}}, "importEnabled", "importEnabled"},
		{"validatePasswordPolicy when READ_ONLY", map[string][]string{"validatePasswordPolicy": {"true"}}, "validatePasswordPolicy", "WRITABLE"},
		{"an http URL", map[string][]string{"connectionUrl": {"http://ldap.example"}}, "connectionUrl", "ldap://"},
	}
	for _, c := range cases {
		var body map[string]any
		e.must(400, "POST", acme+"/components", e.admin, ldapProvider(c.name, ldapConfig(c.changes))).json(t, &body)
		if body["field"] != c.field || !strings.Contains(body["errorMessage"].(string), c.message) {
			t.Errorf("%s: %v, want field %s and a message with %q", c.name, body, c.field, c.message)
		}
	}
	var rows []rep.Component
	e.must(200, "GET", acme+"/components?type="+userStorage, e.admin, nil).json(t, &rows)
	if len(rows) != 0 {
		t.Fatalf("refused providers were stored: %v", rows)
	}
	if n := e.drain(); n != 0 {
		t.Errorf("refused writes moved the components counter %d times", n)
	}

	// A provider keygate has not got.
	var body map[string]any
	e.must(400, "POST", acme+"/components", e.admin, map[string]any{"name": "k", "providerId": "kerberos",
		"providerType": userStorage, "config": map[string][]string{}}).json(t, &body)
	if body["error_description"] != "Invalid provider type or no such provider" {
		t.Errorf("kerberos: %v", body)
	}

	// An update is validated too and leaves the stored config alone.
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("corp", ldapConfig(nil))).id()
	e.must(400, "PUT", acme+"/components/"+id, e.admin, ldapProvider("corp", ldapConfig(map[string][]string{"editMode": nil}))).json(t, &body)
	if body["field"] != "editMode" {
		t.Errorf("PUT without editMode: %v", body)
	}
	row, err := e.st.GetComponent(t.Context(), e.realmID(), id)
	if err != nil || first(row.Config["editMode"]) != "READ_ONLY" {
		t.Fatalf("stored after a refused PUT: %v %v", row.Config, err)
	}

	// Mappers: Keycloak's rules, and an LDAP provider as their parent.
	e.must(201, "POST", acme+"/roles", e.admin, map[string]any{"name": "staff"})
	e.must(201, "POST", acme+"/groups", e.admin, map[string]any{"name": "apps"})
	mapper := func(parent, providerID string, cfg map[string][]string) map[string]any {
		return map[string]any{"name": providerID, "providerId": providerID, "providerType": ldapMapper, "parentId": parent, "config": cfg}
	}
	group := map[string][]string{"groups.dn": {"ou=groups,dc=example"}, "mode": {"READ_ONLY"}}
	role := map[string][]string{"roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}, "use.realm.roles.mapping": {"true"}}
	keyProvider := e.must(201, "POST", acme+"/components", e.admin, map[string]any{"name": "k", "providerId": "rsa-generated",
		"providerType": "org.keycloak.keys.KeyProvider", "config": map[string][]string{"priority": {"100"}}}).id()
	for _, c := range []struct {
		name, field string
		body        map[string]any
	}{
		{"no parent", "parentId", mapper("", "group-ldap-mapper", group)},
		{"parent not a user storage provider", "parentId", mapper(keyProvider, "group-ldap-mapper", group)},
		{"unknown parent", "parentId", mapper(someUUID, "group-ldap-mapper", group)},
		{"group mapper without mode", "mode", mapper(id, "group-ldap-mapper", map[string][]string{"groups.dn": {"ou=groups,dc=example"}})},
		{"group mapper with a bad mode", "mode", mapper(id, "group-ldap-mapper", map[string][]string{"groups.dn": {"ou=g"}, "mode": {"SOMETIMES"}})},
		{"group mapper under a missing group", "groups.path", mapper(id, "group-ldap-mapper", map[string][]string{"groups.dn": {"ou=g"},
			"mode": {"IMPORT"}, "groups.path": {"/nowhere"}})},
		{"group mapper: inheritance with UID", "preserve.group.inheritance", mapper(id, "group-ldap-mapper", map[string][]string{
			"groups.dn": {"ou=g"}, "mode": {"IMPORT"}, "membership.attribute.type": {"UID"}, "preserve.group.inheritance": {"true"}})},
		{"group mapper: filter", "groups.ldap.filter", mapper(id, "group-ldap-mapper", map[string][]string{"groups.dn": {"ou=g"},
			"mode": {"IMPORT"}, "groups.ldap.filter": {"cn=x"}})},
		{"role mapper for a client without client.id", "client.id", mapper(id, "role-ldap-mapper", map[string][]string{
			"roles.dn": {"ou=roles,dc=example"}, "mode": {"READ_ONLY"}, "use.realm.roles.mapping": {"false"}})},
		{"role mapper without roles.dn", "roles.dn", mapper(id, "role-ldap-mapper", map[string][]string{"mode": {"READ_ONLY"}})},
		{"hardcoded role that does not exist", "role", mapper(id, "hardcoded-ldap-role-mapper", map[string][]string{"role": {"nobody"}})},
		{"hardcoded group that does not exist", "group", mapper(id, "hardcoded-ldap-group-mapper", map[string][]string{"group": {"/nowhere"}})},
		{"attribute mapper without ldap.attribute", "ldap.attribute", mapper(id, "user-attribute-ldap-mapper", map[string][]string{
			"user.model.attribute": {"postal_code"}})},
		{"binary attribute not always read", "always.read.value.from.ldap", mapper(id, "user-attribute-ldap-mapper", map[string][]string{
			"user.model.attribute": {"guid"}, "ldap.attribute": {"objectGUID"}, "is.binary.attribute": {"true"}})},
		{"full name write-only on READ_ONLY", "write.only", mapper(id, "full-name-ldap-mapper", map[string][]string{
			"ldap.full.name.attribute": {"cn"}, "write.only": {"true"}})},
		{"hardcoded username", "user.model.attribute", mapper(id, "hardcoded-attribute-mapper", map[string][]string{
			"user.model.attribute": {"username"}, "attribute.value": {"x"}})},
	} {
		var body map[string]any
		e.must(400, "POST", acme+"/components", e.admin, c.body).json(t, &body)
		if body["field"] != c.field {
			t.Errorf("%s: %v, want field %s", c.name, body, c.field)
		}
	}
	e.must(400, "POST", acme+"/components", e.admin, mapper(id, "no-such-mapper", nil))
	e.drain()
	e.must(201, "POST", acme+"/components", e.admin, mapper(id, "group-ldap-mapper", map[string][]string{"groups.dn": {"ou=g"},
		"mode": {"IMPORT"}, "groups.path": {"/apps"}}))
	e.must(201, "POST", acme+"/components", e.admin, mapper(id, "role-ldap-mapper", role))
	e.must(201, "POST", acme+"/components", e.admin, mapper(id, "hardcoded-ldap-role-mapper", map[string][]string{"role": {"staff"}}))
	if n := e.drain(); n < 3 {
		t.Errorf("three mapper creates moved the components counter %d times", n)
	}
}

// A provider created through the admin API gets Keycloak's default mappers
// (LDAPStorageProviderFactory.onCreate), per vendor and edit mode.
func TestLDAPDefaultMappers(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	type mapper struct {
		providerID string
		config     map[string]string
	}
	mappers := func(id string) map[string]mapper {
		var rows []rep.Component
		e.must(200, "GET", acme+"/components?parent="+id+"&type="+ldapMapper, e.admin, nil).json(t, &rows)
		out := map[string]mapper{}
		for _, r := range rows {
			m := mapper{r.ProviderID, map[string]string{}}
			for k, v := range r.Config {
				m.config[k] = first(v)
			}
			out[r.Name] = m
		}
		return out
	}
	names := func(m map[string]mapper) []string {
		var out []string
		for n := range m {
			out = append(out, n)
		}
		slices.Sort(out)
		return out
	}

	// OpenLDAP, READ_ONLY: everything read-only, names re-read from LDAP.
	got := mappers(e.must(201, "POST", acme+"/components", e.admin, ldapProvider("openldap", ldapConfig(nil))).id())
	if want := []string{"creation date", "email", "first name", "last name", "modify date", "username"}; !slices.Equal(names(got), want) {
		t.Fatalf("default mappers %v, want %v", names(got), want)
	}
	for name, want := range map[string]map[string]string{
		"username":      {"user.model.attribute": "username", "ldap.attribute": "uid", "read.only": "true", "always.read.value.from.ldap": "false", "is.mandatory.in.ldap": "true"},
		"first name":    {"user.model.attribute": "firstName", "ldap.attribute": "cn", "read.only": "true", "always.read.value.from.ldap": "true", "is.mandatory.in.ldap": "true"},
		"last name":     {"user.model.attribute": "lastName", "ldap.attribute": "sn", "read.only": "true", "always.read.value.from.ldap": "true", "is.mandatory.in.ldap": "true"},
		"email":         {"user.model.attribute": "email", "ldap.attribute": "mail", "read.only": "true", "always.read.value.from.ldap": "false", "is.mandatory.in.ldap": "false"},
		"creation date": {"user.model.attribute": "createTimestamp", "ldap.attribute": "createTimestamp", "read.only": "true", "always.read.value.from.ldap": "true"},
		"modify date":   {"user.model.attribute": "modifyTimestamp", "ldap.attribute": "modifyTimestamp", "read.only": "true", "always.read.value.from.ldap": "true"},
	} {
		m := got[name]
		if m.providerID != "user-attribute-ldap-mapper" {
			t.Errorf("%s: provider %q", name, m.providerID)
		}
		for k, v := range want {
			if m.config[k] != v {
				t.Errorf("%s: %s = %q, want %q", name, k, m.config[k], v)
			}
		}
	}

	// WRITABLE: writable mappers; timestamps stay read-only.
	got = mappers(e.must(201, "POST", acme+"/components", e.admin, ldapProvider("writable",
		ldapConfig(map[string][]string{"editMode": {"WRITABLE"}}))).id())
	if got["email"].config["read.only"] != "false" || got["creation date"].config["read.only"] != "true" {
		t.Errorf("WRITABLE mappers: %v", got)
	}

	// Active Directory, sAMAccountName as username, cn as RDN, READ_ONLY:
	// cn is the full name, AD timestamps, account controls.
	got = mappers(e.must(201, "POST", acme+"/components", e.admin, ldapProvider("ad", ldapConfig(map[string][]string{
		"vendor": {"ad"}, "usernameLDAPAttribute": {"sAMAccountName"}, "rdnLDAPAttribute": {"cn"}}))).id())
	if want := []string{"MSAD account controls", "creation date", "email", "full name", "last name", "modify date", "username"}; !slices.Equal(names(got), want) {
		t.Fatalf("AD mappers %v, want %v", names(got), want)
	}
	if got["full name"].providerID != "full-name-ldap-mapper" || got["full name"].config["ldap.full.name.attribute"] != "cn" ||
		got["creation date"].config["ldap.attribute"] != "whenCreated" || got["modify date"].config["ldap.attribute"] != "whenChanged" ||
		got["MSAD account controls"].providerID != "msad-user-account-control-mapper" || got["username"].config["ldap.attribute"] != "sAMAccountName" {
		t.Errorf("AD mappers: %v", got)
	}

	// Active Directory with cn as the username: givenName is the first name.
	got = mappers(e.must(201, "POST", acme+"/components", e.admin, ldapProvider("ad-cn", ldapConfig(map[string][]string{
		"vendor": {"ad"}, "usernameLDAPAttribute": {"cn"}}))).id())
	if got["first name"].config["ldap.attribute"] != "givenName" {
		t.Errorf("AD with cn: %v", got)
	}

	// Active Directory, WRITABLE, sAMAccountName: givenName and username-cn.
	got = mappers(e.must(201, "POST", acme+"/components", e.admin, ldapProvider("ad-w", ldapConfig(map[string][]string{
		"vendor": {"ad"}, "usernameLDAPAttribute": {"sAMAccountName"}, "rdnLDAPAttribute": {"cn"}, "editMode": {"WRITABLE"}}))).id())
	if got["first name"].config["ldap.attribute"] != "givenName" || got["username-cn"].config["ldap.attribute"] != "cn" {
		t.Errorf("writable AD: %v", got)
	}

	// A mapper created by hand adds one mapper, not the defaults.
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("plain", ldapConfig(nil))).id()
	e.must(201, "POST", acme+"/components", e.admin, map[string]any{"name": "zip", "providerId": "user-attribute-ldap-mapper",
		"providerType": ldapMapper, "parentId": id, "config": map[string][]string{"user.model.attribute": {"postal_code"}, "ldap.attribute": {"postalCode"}}})
	if n := len(mappers(id)); n != 7 {
		t.Errorf("%d mappers after adding one to the six defaults", n)
	}
}

// bindCredential reads back masked; the mask in a PUT keeps the stored
// value; a new value replaces it. Every write moves the components counter.
func TestLDAPBindCredentialMasked(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("corp", ldapConfig(nil))).id()
	if n := e.drain(); n < 1 {
		t.Errorf("create moved the components counter %d times", n)
	}
	var got rep.Component
	e.must(200, "GET", acme+"/components/"+id, e.admin, nil).json(t, &got)
	if first(got.Config["bindCredential"]) != "**********" {
		t.Fatalf("GET shows bindCredential %q", got.Config["bindCredential"])
	}
	var list []rep.Component
	e.must(200, "GET", acme+"/components?type="+userStorage, e.admin, nil).json(t, &list)
	if len(list) != 1 || first(list[0].Config["bindCredential"]) != "**********" {
		t.Fatalf("list shows %v", list)
	}
	stored := func() string {
		row, err := e.st.GetComponent(t.Context(), e.realmID(), id)
		if err != nil {
			t.Fatal(err)
		}
		return first(row.Config["bindCredential"])
	}
	if stored() != "svc-Passw0rd" {
		t.Fatalf("stored %q without a --db-key", stored())
	}
	got.Config["bindDn"] = []string{"cn=other,dc=example"}
	e.must(204, "PUT", acme+"/components/"+id, e.admin, got)
	if stored() != "svc-Passw0rd" {
		t.Fatalf("the mask in a PUT replaced the credential with %q", stored())
	}
	got.Config["bindCredential"] = []string{"new-Passw0rd"}
	e.must(204, "PUT", acme+"/components/"+id, e.admin, got)
	if stored() != "new-Passw0rd" {
		t.Fatalf("a new credential was not stored: %q", stored())
	}
	if n := e.drain(); n < 2 {
		t.Errorf("two updates moved the components counter %d times", n)
	}
	e.must(204, "DELETE", acme+"/components/"+id, e.admin, nil)
	if n := e.drain(); n < 1 {
		t.Errorf("delete moved the components counter %d times", n)
	}
}

// With --db-key the credential is sealed at rest; the API still masks it,
// a masked PUT keeps the sealed value, and it reveals with the same key.
func TestLDAPBindCredentialSealed(t *testing.T) {
	e := newFedEnv(t, idp.Config{DBKey: testDBKey})
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("corp", ldapConfig(nil))).id()
	stored := func() string {
		row, err := e.st.GetComponent(t.Context(), e.realmID(), id)
		if err != nil {
			t.Fatal(err)
		}
		return first(row.Config["bindCredential"])
	}
	sealed := stored()
	if !oidc.IsSealedSecret(sealed) || strings.Contains(sealed, "svc-Passw0rd") {
		t.Fatalf("stored in the clear: %q", sealed)
	}
	s, err := oidc.NewSecretSealer(testDBKey)
	if err != nil {
		t.Fatal(err)
	}
	if plain, err := s.Reveal(sealed); err != nil || plain != "svc-Passw0rd" {
		t.Fatalf("reveal: %q %v", plain, err)
	}
	other, _ := oidc.NewSecretSealer("another-database-key")
	if _, err := other.Reveal(sealed); err == nil {
		t.Fatal("another --db-key revealed the credential")
	}
	var got rep.Component
	e.must(200, "GET", acme+"/components/"+id, e.admin, nil).json(t, &got)
	if first(got.Config["bindCredential"]) != "**********" {
		t.Fatalf("GET shows %q", got.Config["bindCredential"])
	}
	e.must(204, "PUT", acme+"/components/"+id, e.admin, got)
	if stored() != sealed {
		t.Fatal("a masked PUT changed the sealed credential")
	}
	// Export reveals it only when asked, with the key.
	r, err := rep.Export(t.Context(), e.st, "acme", rep.ExportOptions{Secrets: true, Reveal: s.Reveal})
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Components[userStorage]; len(c) != 1 || first(c[0].Config["bindCredential"]) != "svc-Passw0rd" {
		t.Fatalf("export with secrets: %v", r.Components[userStorage])
	}
	r, err = rep.ExportRealm(t.Context(), e.st, "acme", false)
	if err != nil {
		t.Fatal(err)
	}
	if c := r.Components[userStorage]; len(c) != 1 || first(c[0].Config["bindCredential"]) != "**********" {
		t.Fatalf("export: %v", r.Components[userStorage])
	}
	if _, err := rep.Export(t.Context(), e.st, "acme", rep.ExportOptions{Secrets: true, Reveal: other.Reveal}); err == nil {
		t.Fatal("export with secrets under the wrong --db-key succeeded")
	}
}

// Deleting a provider deletes the users it imported (and its mappers), not
// the realm's other users; remove-imported-users and unlink-users act on
// one provider's users.
func TestLDAPProviderUsers(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	ctx := t.Context()
	realmID := e.realmID()
	one := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("one", ldapConfig(nil))).id()
	two := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("two", ldapConfig(nil))).id()
	a1, a2 := e.linkedUser(one, "ann"), e.linkedUser(one, "abe")
	b1 := e.linkedUser(two, "bob")
	local := e.must(201, "POST", acme+"/users", e.admin, map[string]any{"username": "local", "enabled": true}).id()
	exists := func(id string) bool {
		_, err := e.st.GetUser(ctx, realmID, id)
		return err == nil
	}

	e.must(204, "DELETE", acme+"/components/"+one, e.admin, nil)
	if exists(a1.ID) || exists(a2.ID) {
		t.Error("users of a deleted provider remain")
	}
	if !exists(b1.ID) || !exists(local) {
		t.Error("deleting a provider deleted other users")
	}
	if rows, _ := e.st.ListComponents(ctx, realmID, one, ""); len(rows) != 0 {
		t.Errorf("mappers of a deleted provider remain: %v", rows)
	}

	// unlink-users: the user stays, local, with its attributes.
	e.must(204, "POST", acme+"/user-storage/"+two+"/unlink-users", e.admin, nil)
	u, err := e.st.GetUser(ctx, realmID, b1.ID)
	if err != nil || u.FederationLink != "" || u.FederationID != "" || first(u.Attributes["LDAP_ID"]) == "" {
		t.Fatalf("after unlink: %+v %v", u, err)
	}
	b2 := e.linkedUser(two, "bea")
	e.must(204, "POST", acme+"/user-storage/"+two+"/remove-imported-users", e.admin, nil)
	if exists(b2.ID) || !exists(b1.ID) || !exists(local) {
		t.Error("remove-imported-users removed the wrong users")
	}

	var name map[string]string
	e.must(200, "GET", acme+"/user-storage/"+two+"/name", e.admin, nil).json(t, &name)
	if name["id"] != two || name["name"] != "two" {
		t.Errorf("name: %v", name)
	}

	// Not a user storage provider, or no such component: 404.
	key := e.must(201, "POST", acme+"/components", e.admin, map[string]any{"name": "k", "providerId": "rsa-generated",
		"providerType": "org.keycloak.keys.KeyProvider"}).id()
	e.must(404, "POST", acme+"/user-storage/"+key+"/unlink-users", e.admin, nil)
	e.must(404, "POST", acme+"/user-storage/"+someUUID+"/remove-imported-users", e.admin, nil)

	// They need manage-users.
	viewer := e.userWithRoles("acme", "viewer", "view-users", "manage-realm")
	e.must(403, "POST", acme+"/user-storage/"+two+"/remove-imported-users", viewer, nil)
}

// A READ_ONLY provider's users: mapped fields and passwords are refused
// as Keycloak refuses them; what is not mapped changes. UNSYNCED users
// change locally. The link attributes never change.
func TestLDAPReadOnlyUsers(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	ro := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("ro", ldapConfig(nil))).id()
	e.must(201, "POST", acme+"/components", e.admin, map[string]any{"name": "zip", "providerId": "user-attribute-ldap-mapper",
		"providerType": ldapMapper, "parentId": ro, "config": map[string][]string{"user.model.attribute": {"postal_code"}, "ldap.attribute": {"postalCode"}}})
	unsynced := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("unsynced",
		ldapConfig(map[string][]string{"editMode": {"UNSYNCED"}}))).id()
	u := e.linkedUser(ro, "ann")
	p := acme + "/users/" + u.ID

	for field, body := range map[string]map[string]any{
		"email":         {"email": "new@corp.example"},
		"firstName":     {"firstName": "Other"},
		"lastName":      {"lastName": "Other"},
		"username":      {"username": "annie"},
		"postal_code":   {"attributes": map[string][]string{"postal_code": {"9999"}}},
		"LDAP_ENTRY_DN": {"attributes": map[string][]string{"LDAP_ENTRY_DN": {"uid=evil"}}},
	} {
		var got map[string]any
		e.must(400, "PUT", p, e.admin, body).json(t, &got)
		if got["field"] != field || got["errorMessage"] != "error-user-attribute-read-only" {
			t.Errorf("PUT %v: %v", body, got)
		}
	}
	var got map[string]any
	e.must(400, "PUT", p+"/reset-password", e.admin, map[string]any{"type": "password", "value": "Passw0rd-new"}).json(t, &got)
	if got["error"] != "Can't reset password as account is read only" {
		t.Errorf("reset-password: %v", got)
	}
	e.must(400, "DELETE", p+"/credentials/"+someUUID, e.admin, nil)

	// What the provider does not map changes; attributes left out are kept.
	e.must(204, "PUT", p, e.admin, map[string]any{"enabled": false, "attributes": map[string][]string{"note": {"x"}}})
	after, err := e.st.GetUser(t.Context(), e.realmID(), u.ID)
	if err != nil || after.Enabled || first(after.Attributes["note"]) != "x" || first(after.Attributes["LDAP_ID"]) != first(u.Attributes["LDAP_ID"]) ||
		first(after.Attributes["postal_code"]) != "1234" || after.Email != u.Email || after.FederationLink != ro {
		t.Fatalf("after an allowed PUT: %+v %v", after, err)
	}

	// UNSYNCED: local changes are fine; the link attributes are not.
	v := e.linkedUser(unsynced, "vic")
	pv := acme + "/users/" + v.ID
	e.must(204, "PUT", pv, e.admin, map[string]any{"email": "vic@local.example", "firstName": "Victor"})
	e.must(204, "PUT", pv+"/reset-password", e.admin, map[string]any{"type": "password", "value": "Passw0rd-vic", "temporary": false})
	e.must(400, "PUT", pv, e.admin, map[string]any{"attributes": map[string][]string{"LDAP_ID": {"forged"}}})

	// A user whose provider is gone (or a local one) is not federated.
	local := e.must(201, "POST", acme+"/users", e.admin, map[string]any{"username": "local", "enabled": true}).id()
	e.must(204, "PUT", acme+"/users/"+local+"/reset-password", e.admin, map[string]any{"type": "password", "value": "Passw0rd-local"})
}

// deadAddress is a loopback address nothing listens on.
func deadAddress(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// silentServer accepts connections and never answers.
func silentServer(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var conns []net.Conn
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c)
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		for _, c := range conns {
			c.Close()
		}
	})
	return l.Addr().String()
}

// testLDAPConnection answers 400 with the reason, quickly, for a directory
// that is not there or does not answer; refuses what it must not do; and
// needs manage-realm.
func TestTestLDAPConnection(t *testing.T) {
	e := newFedEnv(t, idp.Config{})
	dead := "ldap://" + deadAddress(t)
	test := func(want int, body any) map[string]any {
		t.Helper()
		start := time.Now()
		r := e.must(want, "POST", acme+"/testLDAPConnection", e.admin, body)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("%v took %s", body, d)
		}
		var out map[string]any
		if want != 204 {
			r.json(t, &out)
		}
		return out
	}
	for _, action := range []string{"testConnection", "testAuthentication"} {
		out := test(400, map[string]any{"action": action, "connectionUrl": dead, "bindDn": "cn=svc,dc=example",
			"bindCredential": "S3cret-bind-pw", "authType": "simple", "connectionTimeout": "2000", "startTls": "false", "useTruststoreSpi": "always"})
		msg, _ := out["errorMessage"].(string)
		if !strings.Contains(msg, "connection refused") || strings.Contains(msg, "S3cret-bind-pw") {
			t.Errorf("%s on a dead port: %v", action, out)
		}
	}

	// A server that accepts and never answers: the bind gives up within
	// the request's connectionTimeout.
	silent := "ldap://" + silentServer(t)
	start := time.Now()
	out := test(400, map[string]any{"action": "testAuthentication", "connectionUrl": silent, "bindDn": "cn=svc,dc=example",
		"bindCredential": "S3cret-bind-pw", "connectionTimeout": "300"})
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("a silent server held the test for %s", d)
	}
	if msg, _ := out["errorMessage"].(string); !strings.Contains(msg, "timed out") && !strings.Contains(msg, "deadline exceeded") {
		t.Errorf("silent server: %v", out)
	}

	// The deprecated form-encoded variant.
	resp := e.form("/testLDAPConnection", url.Values{"action": {"testConnection"}, "connectionUrl": {dead}})
	if resp.status != 400 || !strings.Contains(string(resp.body), "errorMessage") {
		t.Errorf("form variant: %d %s", resp.status, resp.body)
	}

	// Refusals before any connection.
	for _, c := range []struct {
		body  map[string]any
		field string
	}{
		{map[string]any{"action": "testConnection", "connectionUrl": "http://127.0.0.1:80"}, "connectionUrl"},
		{map[string]any{"action": "testConnection", "connectionUrl": dead, "connectionTimeout": "soon"}, "connectionTimeout"},
		{map[string]any{"action": "explode", "connectionUrl": dead}, "action"},
		{map[string]any{"action": "testAuthentication", "connectionUrl": dead}, "bindDn"},
		{map[string]any{"action": "testAuthentication", "connectionUrl": dead, "bindDn": "cn=x", "bindCredential": "**********"}, "componentId"},
	} {
		if out := test(400, c.body); out["field"] != c.field {
			t.Errorf("%v: %v, want field %s", c.body, out, c.field)
		}
	}

	// A masked credential names its component: an unknown one is 404; the
	// stored credential goes only to the component's own URL and bind DN.
	test(404, map[string]any{"action": "testAuthentication", "connectionUrl": dead, "bindDn": "cn=x",
		"bindCredential": "**********", "componentId": someUUID})
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("corp", ldapConfig(map[string][]string{"connectionUrl": {dead}}))).id()
	test(400, map[string]any{"action": "testAuthentication", "connectionUrl": "ldap://" + silentServer(t), "bindDn": "cn=svc,dc=example",
		"bindCredential": "**********", "componentId": id})
	test(400, map[string]any{"action": "testAuthentication", "connectionUrl": dead, "bindDn": "cn=attacker,dc=example",
		"bindCredential": "**********", "componentId": id})
	out = test(400, map[string]any{"action": "testAuthentication", "connectionUrl": dead, "bindDn": "cn=svc,dc=example",
		"bindCredential": "**********", "componentId": id})
	if _, ok := out["field"]; ok || out["errorMessage"] == "" {
		t.Errorf("the component's own settings should reach the (dead) directory: %v", out)
	}

	// ldap-server-capabilities: the same body.
	var caps map[string]any
	e.must(400, "POST", acme+"/ldap-server-capabilities", e.admin, map[string]any{"action": "queryServerCapabilities",
		"connectionUrl": dead, "bindDn": "cn=svc,dc=example", "bindCredential": "pw"}).json(t, &caps)
	if caps["errorMessage"] == "" {
		t.Errorf("capabilities of a dead directory: %v", caps)
	}

	// manage-realm only.
	viewer := e.userWithRoles("acme", "viewer", "view-realm", "manage-users")
	e.must(403, "POST", acme+"/testLDAPConnection", viewer, map[string]any{"action": "testConnection", "connectionUrl": dead})
	e.must(403, "POST", acme+"/ldap-server-capabilities", viewer, map[string]any{"connectionUrl": dead})
}

// Against a real directory (OpenLDAP's slapd; skipped when it is not
// installed): 204 for a good connection and bind, over StartTLS and LDAPS
// too; the directory's reason for a wrong password; a sealed stored
// credential used through componentId; and the RootDSE's capabilities.
func TestTestLDAPConnectionSlapd(t *testing.T) {
	s := ldaptest.Start(t, ldaptest.Options{Users: 1})
	e := newFedEnv(t, idp.Config{DBKey: testDBKey})
	e.api.SetFederationEnv(federation.Env{RootCAs: s.CA.Pool})
	body := func(action, url, dn, pw string, more ...string) map[string]any {
		b := map[string]any{"action": action, "connectionUrl": url, "bindDn": dn, "bindCredential": pw, "authType": "simple",
			"connectionTimeout": "5000", "useTruststoreSpi": "always", "startTls": "false"}
		for i := 0; i+1 < len(more); i += 2 {
			b[more[i]] = more[i+1]
		}
		return b
	}
	e.must(204, "POST", acme+"/testLDAPConnection", e.admin, body("testConnection", s.URL(), "", ""))
	e.must(204, "POST", acme+"/testLDAPConnection", e.admin, body("testAuthentication", s.URL(), s.ServiceDN, s.ServicePassword))
	e.must(204, "POST", acme+"/testLDAPConnection", e.admin, body("testAuthentication", s.URL(), s.ServiceDN, s.ServicePassword, "startTls", "true"))
	e.must(204, "POST", acme+"/testLDAPConnection", e.admin, body("testAuthentication", s.LDAPSURL(), s.ServiceDN, s.ServicePassword))
	var out map[string]any
	e.must(400, "POST", acme+"/testLDAPConnection", e.admin, body("testAuthentication", s.URL(), s.ServiceDN, "wrong-Passw0rd")).json(t, &out)
	if msg, _ := out["errorMessage"].(string); !strings.Contains(msg, "Invalid Credentials") || strings.Contains(msg, "wrong-Passw0rd") {
		t.Errorf("wrong password: %v", out)
	}
	// The form-encoded variant reaches the directory too.
	if r := e.form("/testLDAPConnection", url.Values{"action": {"testAuthentication"}, "connectionUrl": {s.URL()},
		"bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}}); r.status != 204 {
		t.Errorf("form variant: %d %s", r.status, r.body)
	}

	// The stored credential (sealed: --db-key) through componentId.
	id := e.must(201, "POST", acme+"/components", e.admin, ldapProvider("slapd", ldapConfig(map[string][]string{
		"connectionUrl": {s.URL()}, "bindDn": {s.ServiceDN}, "bindCredential": {s.ServicePassword}, "usersDn": {s.PeopleDN}}))).id()
	e.must(204, "POST", acme+"/testLDAPConnection", e.admin, body("testAuthentication", s.URL(), s.ServiceDN, "**********", "componentId", id))

	var caps []map[string]string
	e.must(200, "POST", acme+"/ldap-server-capabilities", e.admin, body("queryServerCapabilities", s.URL(), s.ServiceDN,
		"**********", "componentId", id)).json(t, &caps)
	paged := slices.ContainsFunc(caps, func(c map[string]string) bool { return c["oid"] == "1.2.840.113556.1.4.319" && c["type"] == "CONTROL" })
	passwd := slices.ContainsFunc(caps, func(c map[string]string) bool {
		return c["oid"] == "1.3.6.1.4.1.4203.1.11.1" && c["type"] == "EXTENSION"
	})
	if !paged || !passwd {
		t.Errorf("capabilities lack paged results or password modify: %v", caps)
	}
}

// form posts a form-encoded body to the realm's admin path p.
func (e *env) form(p string, v url.Values) reply {
	e.t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), "POST", e.url+acme+p, strings.NewReader(v.Encode()))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+e.admin)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	return reply{resp.StatusCode, resp.Header, []byte(b.String())}
}

func first(v []string) string {
	if len(v) == 0 {
		return ""
	}
	return v[0]
}
