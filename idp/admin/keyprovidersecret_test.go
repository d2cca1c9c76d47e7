package admin_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
)

// TestKeyProviderSecretsSealed: with --db-key a key provider component's
// private key (a Keycloak export's rsa provider, or one an admin posts) is
// sealed at rest like an LDAP bind credential, through the components API
// and a realm import alike; reads mask it, and a masked PUT keeps it.
func TestKeyProviderSecretsSealed(t *testing.T) {
	e := newFedEnv(t, idp.Config{DBKey: testDBKey})
	const pem = "MIIEvQIBADANBgkqhkiG9w0BAQEFAASC-private-part"
	keyProvider := map[string]any{"name": "rsa", "providerId": "rsa", "providerType": "org.keycloak.keys.KeyProvider",
		"config": map[string][]string{"privateKey": {pem}, "keystorePassword": {"store-pw"}, "priority": {"100"}}}
	id := e.must(201, "POST", acme+"/components", e.admin, keyProvider).id()
	row, err := e.st.GetComponent(t.Context(), e.realmID(), id)
	if err != nil {
		t.Fatal(err)
	}
	s, _ := oidc.NewSecretSealer(testDBKey)
	for _, k := range []string{"privateKey", "keystorePassword"} {
		v := first(row.Config[k])
		if !oidc.IsSealedSecret(v) {
			t.Fatalf("components API stored %s in the clear: %q", k, v)
		}
		if _, err := s.Reveal(v); err != nil {
			t.Fatalf("%s: %v", k, err)
		}
	}
	var got rep.Component
	e.must(200, "GET", acme+"/components/"+id, e.admin, nil).json(t, &got)
	if first(got.Config["privateKey"]) != rep.SecretMask {
		t.Fatalf("GET shows the private key: %q", got.Config["privateKey"])
	}
	e.must(204, "PUT", acme+"/components/"+id, e.admin, got)
	after, _ := e.st.GetComponent(t.Context(), e.realmID(), id)
	if first(after.Config["privateKey"]) != first(row.Config["privateKey"]) {
		t.Fatal("a masked PUT changed the sealed private key")
	}

	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "imported", "enabled": true,
		"components": map[string]any{"org.keycloak.keys.KeyProvider": []map[string]any{{"name": "rsa", "providerId": "rsa",
			"config": map[string][]string{"privateKey": {pem}, "priority": {"100"}}}}}})
	r, err := e.st.GetRealmByName(t.Context(), "imported")
	if err != nil {
		t.Fatal(err)
	}
	rows, err := e.st.ListComponents(t.Context(), r.ID, "", "org.keycloak.keys.KeyProvider")
	if err != nil || len(rows) != 1 {
		t.Fatalf("imported key providers: %v %v", rows, err)
	}
	if v := first(rows[0].Config["privateKey"]); !oidc.IsSealedSecret(v) || strings.Contains(v, "private-part") {
		t.Fatalf("realm import stored the private key in the clear: %q", v)
	}
}
