package idp_test

import (
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/backends"
)

const serviceAccountRealm = `{"realm": "sa", "enabled": true, "sslRequired": "none",
	"clients": [{"clientId": "robot", "enabled": true, "secret": "robot-secret-1", "publicClient": false,
		"serviceAccountsEnabled": true}]}`

func clientCredentials(t *testing.T, base string, want int) map[string]any {
	t.Helper()
	return postToken(t, base, "sa", url.Values{"grant_type": {"client_credentials"}, "client_id": {"robot"},
		"client_secret": {"robot-secret-1"}, "scope": {"email"}}, want)
}

// TestClientCredentialsReadsNothing: once the caches are warm a
// client_credentials grant reads no row on either engine (its service
// account comes from the service-account cache), yet an edit or a disable
// of the account through the store shows in the very next grant.
func TestClientCredentialsReadsNothing(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testClientCredentialsReadsNothing(t, backends.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { testClientCredentialsReadsNothing(t, backends.Postgres(t)) })
}

func testClientCredentialsReadsNothing(t *testing.T, st *sqlstore.Store) {
	ctx := t.Context()
	k := keygateOn(t, st)
	k.importRealm(t, serviceAccountRealm)
	sa := serviceAccountOf(t, st, "sa", "robot")
	// Warm the caches; the first grant creates the realm's keys (a config
	// write), so the second reloads the realm and its keys.
	clientCredentials(t, k.URL, 200)
	clientCredentials(t, k.URL, 200)

	counts := countQueries(st, func() { clientCredentials(t, k.URL, 200) })
	// At most one read: the change counters, polled every 250 ms whatever
	// the traffic. Before the cache every grant read the account's row.
	if counts[sqlstore.QueryRead] > 1 || counts[sqlstore.QueryWrite] > 0 {
		t.Errorf("a client_credentials grant ran %v, want no statement but a counter poll", counts)
	}

	sa.Email = "robot@example.com"
	if err := st.UpdateUser(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if c := jwtClaims(t, clientCredentials(t, k.URL, 200)["access_token"].(string)); c["email"] != "robot@example.com" {
		t.Fatalf("email after the edit: %v", c["email"])
	}
	sa.Enabled = false
	if err := st.UpdateUser(ctx, sa); err != nil {
		t.Fatal(err)
	}
	if body := clientCredentials(t, k.URL, 400); body["error"] != "unauthorized_client" {
		t.Fatalf("disabled service account got: %v", body)
	}
	sa.Enabled = true
	if err := st.UpdateUser(ctx, sa); err != nil {
		t.Fatal(err)
	}
	clientCredentials(t, k.URL, 200)
	// A user edit that is not a service account's leaves the realm's
	// caches alone (no config counter move).
	before := st.CacheVersions().Current(ctx).Realm(sa.RealmID)
	if err := st.CreateUser(ctx, store.User{ID: "plain-user", RealmID: sa.RealmID, Username: "plain", Enabled: true, Created: time.Now()}); err != nil {
		t.Fatal(err)
	}
	if after := st.CacheVersions().Current(ctx).Realm(sa.RealmID); after.Config != before.Config {
		t.Errorf("a plain user's insert moved config %d -> %d", before.Config, after.Config)
	}
}

// TestClientCredentialsSeesAnotherProcessesDisable: a service account
// disabled by another process (a second store on the same file, as a
// replica or `keygate` CLI would be) is refused within the counters' poll
// interval, and never later.
func TestClientCredentialsSeesAnotherProcessesDisable(t *testing.T) {
	ctx := t.Context()
	st, other := twoProcesses(t)
	k := keygateOn(t, st)
	k.importRealm(t, serviceAccountRealm)
	clientCredentials(t, k.URL, 200)
	sa := serviceAccountOf(t, other, "sa", "robot")
	sa.Enabled = false
	if err := other.UpdateUser(ctx, sa); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	form := url.Values{"grant_type": {"client_credentials"}, "client_id": {"robot"}, "client_secret": {"robot-secret-1"}}
	for {
		asked := time.Now() // judged by when it was asked: a loaded machine can be slow to answer
		resp, err := http.PostForm(k.URL+"/realms/sa/protocol/openid-connect/token", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == http.StatusBadRequest {
			t.Logf("disabled elsewhere, refused after %v", time.Since(start).Round(time.Millisecond))
			break
		}
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("client_credentials: %d", resp.StatusCode)
		}
		if asked.Sub(start) > 2*time.Second {
			t.Fatal("a service account disabled by another process still got tokens 2 s later")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func serviceAccountOf(t *testing.T, st *sqlstore.Store, realmName, clientID string) store.User {
	t.Helper()
	ctx := t.Context()
	realm, err := st.GetRealmByName(ctx, realmName)
	if err != nil {
		t.Fatal(err)
	}
	c, err := st.GetClientByClientID(ctx, realm.ID, clientID)
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetServiceAccountUser(ctx, realm.ID, c.ID)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
