package rep

import (
	"bytes"
	"context"
	"testing"
)

// FuzzImportRealm: ImportRealm never panics, a failed import leaves no realm
// behind, and whatever it accepts can be exported.
func FuzzImportRealm(f *testing.F) {
	f.Add(readTestdata(f))
	for _, seed := range []string{
		`{"realm":"x","enabled":true}`,
		`[{"realm":"a"},{"realm":"b","users":[{"username":"u","realmRoles":["offline_access"]}]}]`,
		`{"realm":"x","users":[{"username":"u","groups":["/g/h"],"credentials":[{"type":"password","secretData":"{\"value\":\"AAAAAAAAAAAAAAAAAAAAAA==\",\"salt\":\"\"}","credentialData":"{\"hashIterations\":1,\"algorithm\":\"pbkdf2-sha256\"}"}]}],"groups":[{"name":"g","subGroups":[{"name":"h"}]}]}`,
		`{"realm":"x","clients":[{"clientId":"c","serviceAccountsEnabled":true,"protocolMappers":[{"name":"m","protocolMapper":"oidc-audience-mapper"}]}],"roles":{"client":{"c":[{"name":"r","composites":{"realm":["offline_access"]}}]}}}`,
		`{"realm":"x","components":{"t":[{"providerId":"p","subComponents":{"u":[{"providerId":"q"}]}}]},"identityProviders":[{"alias":"a","providerId":"saml"}]}`,
		`{"realm":"x","users":[{"username":"u","credentials":[{"type":"password","value":"pw"}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	st := openStore(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		// A policy is the importer's choice of cost: hashIterations(10000000)
		// makes one plain password take seconds. Not what this fuzzes.
		if bytes.Contains(data, []byte("hash")) && bytes.Contains(data, []byte(`"value"`)) {
			t.Skip()
		}
		ctx := context.Background()
		res, err := ImportRealm(ctx, st, data, ImportOptions{})
		realms, lerr := st.ListRealms(ctx)
		if lerr != nil {
			t.Fatal(lerr)
		}
		if err != nil {
			if len(realms) != 0 {
				t.Fatalf("import failed (%v) but left realm %q", err, realms[0].Name)
			}
			return
		}
		if res.Realms != len(realms) {
			t.Fatalf("result says %d realms, store has %d", res.Realms, len(realms))
		}
		for _, r := range realms {
			if _, err := ExportRealm(ctx, st, r.Name, true); err != nil {
				t.Fatalf("export of accepted realm %q: %v", r.Name, err)
			}
			if err := st.DeleteRealm(ctx, r.ID); err != nil {
				t.Fatal(err)
			}
		}
	})
}
