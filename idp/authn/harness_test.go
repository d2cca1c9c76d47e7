package authn

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/storetest/backends"
)

// countingStore counts credential reads. Authenticate reads a user's
// credentials only to verify one, so the count is the number of stored
// passwords actually checked (dummy verifies read nothing).
type countingStore struct {
	store.Store
	credReads atomic.Int64
}

func (s *countingStore) ListCredentials(ctx context.Context, userID string) ([]store.Credential, error) {
	s.credReads.Add(1)
	return s.Store.ListCredentials(ctx, userID)
}

// eachStore runs fn against SQLite and, when KEYGATE_TEST_POSTGRES names a
// server, PostgreSQL (in a scratch schema dropped afterwards).
func eachStore(t *testing.T, fn func(t *testing.T, st store.Store)) { backends.Each(t, fn) }

func openSQLite(t *testing.T) store.Store { return backends.SQLite(t) }

// newRealm creates realm name as keygate creates realms and returns its id
// and settings.
func newRealm(t *testing.T, st store.Store, name string) (string, rep.RealmSettings) {
	t.Helper()
	ctx := t.Context()
	if _, err := rep.CreateRealm(ctx, st, rep.NewRealm(name), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	realm, err := st.GetRealmByName(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	_, s, err := rep.DecodeRealm(realm)
	if err != nil {
		t.Fatal(err)
	}
	return realm.ID, s
}

// newUser creates an enabled user whose password is cred (or pw hashed
// under the default policy when cred is nil).
func newUser(t *testing.T, st store.Store, realmID, username, pw string, cred *password.Credential) store.User {
	t.Helper()
	ctx := t.Context()
	u := store.User{ID: realmID + "-" + username, RealmID: realmID, Username: username, Enabled: true, Created: time.Now()}
	if err := st.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	var sc store.Credential
	if cred == nil {
		var err error
		if sc, err = NewPasswordCredential(ctx, nil, password.DefaultPolicy(), u.ID, pw); err != nil {
			t.Fatal(err)
		}
	} else {
		sd, err := cred.SecretData()
		if err != nil {
			t.Fatal(err)
		}
		cd, err := cred.CredentialData()
		if err != nil {
			t.Fatal(err)
		}
		sc = store.Credential{ID: u.ID + "-cred", UserID: u.ID, Type: "password", Created: time.Now(), SecretData: sd, CredentialData: cd}
	}
	if err := st.SetPassword(ctx, u.ID, sc); err != nil {
		t.Fatal(err)
	}
	return u
}

// percentile is the p-th percentile (0 < p <= 1) of ds, nearest rank.
func percentile(ds []time.Duration, p float64) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(float64(len(s))*p+0.999999) - 1
	return s[max(0, min(i, len(s)-1))]
}
