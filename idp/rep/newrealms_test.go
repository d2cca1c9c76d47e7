package rep

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

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

// TestImportStopsHashingWhenCancelled: plain passwords are hashed before
// the transaction, up to a second each under a costly policy; a cancelled
// import (the admin API's client gone) stops there instead of hashing
// every user of the file.
func TestImportStopsHashingWhenCancelled(t *testing.T) {
	st := openStore(t)
	var users []string
	for i := range 150 {
		users = append(users, fmt.Sprintf(`{"username":"u%d","enabled":true,"credentials":[{"type":"password","value":"pw-%d-long-enough"}]}`, i, i))
	}
	doc := `{"realm":"slow","enabled":true,"passwordPolicy":"hashAlgorithm(pbkdf2-sha256) and hashIterations(600000)","users":[` +
		strings.Join(users, ",") + `]}`
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := ImportRealm(ctx, st, []byte(doc), ImportOptions{})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled import: %v", err)
	}
	if d := time.Since(start); d > 4*time.Second {
		t.Fatalf("cancelled import hashed on for %v", d)
	}
}
