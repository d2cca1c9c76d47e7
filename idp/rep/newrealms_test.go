package rep

import (
	"context"
	"errors"
	"testing"

	"github.com/keygate/keygate/store"
)

// TestImportNewRealmsRefusesUsersFile: with NewRealms (POST /admin/realms,
// whose caller may hold only create-realm) a users file naming a realm that
// exists is a conflict, not users added there; an array whose second
// document is a users file of the realm the first creates likewise (the
// check in the transaction, after prepare saw no realm).
func TestImportNewRealmsRefusesUsersFile(t *testing.T) {
	ctx := context.Background()
	st := openStore(t)
	mustImport(t, st, string(readTestdata(t)), ImportOptions{})
	realm, _ := mustRealm(t, st, "acme")
	usersFile := `{"realm":"acme","users":[{"username":"mallory","enabled":true,"realmRoles":["user"],
		"credentials":[{"type":"password","value":"mallory-password-1"}]}]}`
	_, err := ImportRealm(ctx, st, []byte(usersFile), ImportOptions{NewRealms: true})
	if !errors.Is(err, store.ErrConflict) {
		t.Fatalf("users file into an existing realm with NewRealms: %v, want a conflict", err)
	}
	if _, err := st.GetUserByUsername(ctx, realm.ID, "mallory"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("mallory was added: %v", err)
	}
	two := `[{"realm":"fresh","enabled":true},{"realm":"fresh","users":[{"username":"mallory","enabled":true}]}]`
	if _, err := ImportRealm(ctx, st, []byte(two), ImportOptions{NewRealms: true}); !errors.Is(err, store.ErrConflict) {
		t.Fatalf("users file of a realm created in the same import with NewRealms: %v, want a conflict", err)
	}
	if _, err := st.GetRealmByName(ctx, "fresh"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("realm fresh left behind by a failed import: %v", err)
	}
}
