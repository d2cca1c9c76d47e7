package idp_test

import (
	"fmt"
	"maps"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate/store/sqlite"
	"github.com/keygate/keygate/store/sqlstore"
	"github.com/keygate/keygate/store/storetest/backends"
)

// TestRefreshIsOneWriteOnPostgres: a refresh grant's write reaches
// PostgreSQL as one statement outside any explicit transaction: one round
// trip, where BEGIN, three statements and COMMIT took five. With the
// realm's revokeRefreshToken off (Keycloak's default) that write renews the
// family's row and the older token stays good; with it on it spends the
// presented token, the spent token is refused, and a reuse revokes the
// chain; with refreshTokenMaxReuse above 0 too, where it counts a use and
// makes the older tokens of the chain stale in the same statement.
func TestRefreshIsOneWriteOnPostgres(t *testing.T) {
	st := backends.Postgres(t)
	k := keygateOn(t, st)
	for _, c := range []struct {
		revoke   bool
		maxReuse int
	}{{false, 0}, {true, 0}, {true, 2}} {
		revoke := c.revoke
		name := fmt.Sprintf("rt%v%d", revoke, c.maxReuse)
		k.importRealm(t, `{"realm": "`+name+`", "enabled": true, "sslRequired": "none", "revokeRefreshToken": `+fmt.Sprint(revoke)+`,
			"refreshTokenMaxReuse": `+fmt.Sprint(c.maxReuse)+`,
			"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
				"directAccessGrantsEnabled": true}],
			"users": [{"username": "carol", "enabled": true, "credentials": [{"type": "password", "value": "carol-pass-1"}]}]}`)
		tok := postToken(t, k.URL, name, url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
			"username": {"carol"}, "password": {"carol-pass-1"}}, 200)
		refresh := func(rt string, want int) map[string]any {
			return postToken(t, k.URL, name, url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
				"client_secret": {"svc-secret-1"}, "refresh_token": {rt}}, want)
		}
		// Warm the caches (realm, keys, model), then count one refresh.
		rt := refresh(tok["refresh_token"].(string), 200)["refresh_token"].(string)

		var next string
		got := countQueries(st, func() { next = refresh(rt, 200)["refresh_token"].(string) })
		if got[sqlstore.QueryWrite] != 1 || got[sqlstore.QueryBegin] != 0 {
			t.Errorf("revokeRefreshToken %v, refreshTokenMaxReuse %d: a refresh ran %d writes and %d transactions (all statements: %v), want 1 write and no transaction",
				revoke, c.maxReuse, got[sqlstore.QueryWrite], got[sqlstore.QueryBegin], got)
		}
		// Under refreshTokenMaxReuse N the token makes N+1 refreshes,
		// the one counted included.
		for range c.maxReuse {
			refresh(rt, 200)
		}
		if !revoke {
			refresh(rt, 200)
			refresh(next, 200)
			continue
		}
		// The spent token is refused, and its reuse revokes the chain (RFC
		// 6819 5.2.2.3, fosite): that write goes through a real transaction.
		refresh(rt, 400)
		refresh(next, 400)
	}
}

// TestRefreshReadsOnce: a refresh reads the store once (the token joined to
// its session and user) on both engines; role and group mappings come from
// the grants cache, yet a change to them, to the user or to the session
// shows in the very next refresh.
func TestRefreshReadsOnce(t *testing.T) {
	t.Run("sqlite", func(t *testing.T) { testRefreshReadsOnce(t, backends.SQLite(t)) })
	t.Run("postgres", func(t *testing.T) { testRefreshReadsOnce(t, backends.Postgres(t)) })
}

func testRefreshReadsOnce(t *testing.T, st *sqlstore.Store) {
	ctx := t.Context()
	k := keygateOn(t, st)
	k.importRealm(t, `{"realm": "ro", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "viewer"}, {"name": "ops"}]},
		"groups": [{"name": "staff", "realmRoles": ["ops"]}],
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "dave", "enabled": true, "credentials": [{"type": "password", "value": "dave-pass-1"}]}]}`)
	realm, err := st.GetRealmByName(ctx, "ro")
	if err != nil {
		t.Fatal(err)
	}
	user, err := st.GetUserByUsername(ctx, realm.ID, "dave")
	if err != nil {
		t.Fatal(err)
	}
	tok := postToken(t, k.URL, "ro", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"dave"}, "password": {"dave-pass-1"}, "scope": {"openid"}}, 200)
	rt := tok["refresh_token"].(string)
	refresh := func(want int) map[string]any {
		t.Helper()
		body := postToken(t, k.URL, "ro", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {rt}}, want)
		if want == 200 {
			rt = body["refresh_token"].(string)
		}
		return body
	}
	realmRoles := func(body map[string]any) []string {
		t.Helper()
		ra, _ := jwtClaims(t, body["access_token"].(string))["realm_access"].(map[string]any)
		var out []string
		roles, _ := ra["roles"].([]any)
		for _, r := range roles {
			if r == "viewer" || r == "ops" {
				out = append(out, r.(string))
			}
		}
		return out
	}
	refresh(200) // warm the caches (realm, keys, model, grants)

	var body map[string]any
	counts := countQueries(st, func() { body = refresh(200) })
	// One read, and at most one more: the change counters, polled every
	// 250 ms whatever the traffic. Before GetTokenSubject and the grants
	// cache a refresh read five times (token, session, user, roles, groups).
	if counts[sqlstore.QueryRead] < 1 || counts[sqlstore.QueryRead] > 2 {
		t.Errorf("a refresh ran %d reads (all statements: %v), want 1 (+1 counter poll at most)", counts[sqlstore.QueryRead], counts)
	}
	if got := realmRoles(body); len(got) != 0 {
		t.Fatalf("roles before any mapping: %v", got)
	}

	// Mappings written straight to the store (as another replica or
	// `keygate users import` would) show in the next refresh.
	viewer, err := st.GetRoleByName(ctx, realm.ID, "", "viewer")
	if err != nil {
		t.Fatal(err)
	}
	if err := st.GrantUserRoles(ctx, realm.ID, user.ID, []string{viewer.ID}); err != nil {
		t.Fatal(err)
	}
	if got := realmRoles(refresh(200)); strings.Join(got, ",") != "viewer" {
		t.Fatalf("after granting viewer: %v", got)
	}
	groups, err := st.ListGroups(ctx, realm.ID)
	if err != nil || len(groups) != 1 {
		t.Fatalf("groups: %v %v", groups, err)
	}
	if err := st.AddUserToGroup(ctx, realm.ID, user.ID, groups[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := realmRoles(refresh(200)); strings.Join(got, ",") != "viewer,ops" && strings.Join(got, ",") != "ops,viewer" {
		t.Fatalf("after joining staff: %v", got)
	}
	if err := st.RevokeUserRoles(ctx, realm.ID, user.ID, []string{viewer.ID}); err != nil {
		t.Fatal(err)
	}
	if err := st.RemoveUserFromGroup(ctx, realm.ID, user.ID, groups[0].ID); err != nil {
		t.Fatal(err)
	}
	if got := realmRoles(refresh(200)); len(got) != 0 {
		t.Fatalf("after revoking both: %v", got)
	}
	// The user's row is read with the token: an edit shows at once, and a
	// disabled user is refused.
	user.Email = "dave@example.com"
	if err := st.UpdateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	if c := jwtClaims(t, refresh(200)["access_token"].(string)); c["email"] != "dave@example.com" {
		t.Fatalf("email after the edit: %v", c["email"])
	}
	user.Enabled = false
	if err := st.UpdateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	if body := refresh(400); body["error"] != "invalid_grant" {
		t.Fatalf("disabled user refreshed: %v", body)
	}
	user.Enabled = true
	if err := st.UpdateUser(ctx, user); err != nil {
		t.Fatal(err)
	}
	refresh(200)
	// So is the session: gone, the refresh is refused.
	sid, _ := jwtClaims(t, tok["access_token"].(string))["sid"].(string)
	if err := st.DeleteSession(ctx, realm.ID, sid); err != nil {
		t.Fatal(err)
	}
	if body := refresh(400); body["error"] != "invalid_grant" {
		t.Fatalf("refresh of an ended session: %v", body)
	}
}

// TestRefreshSeesAnotherProcessesGrants: the grants cache follows role
// mappings written by another process (a second store on the same file,
// as `keygate users import` or a replica would be): a granted role shows,
// and a revoked one goes, within the change counters' poll interval, and
// never stays past it.
func TestRefreshSeesAnotherProcessesGrants(t *testing.T) {
	ctx := t.Context()
	st, other := twoProcesses(t)
	k := keygateOn(t, st)
	k.importRealm(t, `{"realm": "rp", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "auditor"}]},
		"clients": [{"clientId": "svc", "enabled": true, "secret": "svc-secret-1", "publicClient": false,
			"directAccessGrantsEnabled": true}],
		"users": [{"username": "erin", "enabled": true, "credentials": [{"type": "password", "value": "erin-pass-1"}]}]}`)
	realm, err := other.GetRealmByName(ctx, "rp")
	if err != nil {
		t.Fatal(err)
	}
	user, err := other.GetUserByUsername(ctx, realm.ID, "erin")
	if err != nil {
		t.Fatal(err)
	}
	role, err := other.GetRoleByName(ctx, realm.ID, "", "auditor")
	if err != nil {
		t.Fatal(err)
	}
	rt := postToken(t, k.URL, "rp", url.Values{"grant_type": {"password"}, "client_id": {"svc"}, "client_secret": {"svc-secret-1"},
		"username": {"erin"}, "password": {"erin-pass-1"}}, 200)["refresh_token"].(string)
	hasAuditor := func() bool {
		t.Helper()
		body := postToken(t, k.URL, "rp", url.Values{"grant_type": {"refresh_token"}, "client_id": {"svc"},
			"client_secret": {"svc-secret-1"}, "refresh_token": {rt}}, 200)
		rt = body["refresh_token"].(string)
		ra, _ := jwtClaims(t, body["access_token"].(string))["realm_access"].(map[string]any)
		roles, _ := ra["roles"].([]any)
		for _, r := range roles {
			if r == "auditor" {
				return true
			}
		}
		return false
	}
	if hasAuditor() {
		t.Fatal("auditor before any mapping")
	}
	// waitFor refreshes until the role is as wanted; the counters are
	// polled every 250 ms, so 2 s is far past any honest delay.
	waitFor := func(want bool) time.Duration {
		t.Helper()
		start := time.Now()
		for !time.Now().After(start.Add(2 * time.Second)) {
			if hasAuditor() == want {
				return time.Since(start)
			}
			time.Sleep(20 * time.Millisecond)
		}
		t.Fatalf("auditor=%v not seen 2 s after another process's write", want)
		return 0
	}
	if err := other.GrantUserRoles(ctx, realm.ID, user.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	t.Logf("granted elsewhere, seen after %v", waitFor(true))
	if err := other.RevokeUserRoles(ctx, realm.ID, user.ID, []string{role.ID}); err != nil {
		t.Fatal(err)
	}
	t.Logf("revoked elsewhere, gone after %v", waitFor(false))
}

// twoProcesses opens two stores on one new SQLite file, as two processes
// (a replica, `keygate users import`) would; closed at the end.
func twoProcesses(t *testing.T) (st, other *sqlstore.Store) {
	t.Helper()
	path := t.TempDir() + "/kg.db"
	for _, s := range []**sqlstore.Store{&st, &other} {
		var err error
		if *s, err = sqlite.Open(t.Context(), path); err != nil {
			t.Fatal(err)
		}
		db := *s
		t.Cleanup(func() { db.Close() })
	}
	return st, other
}

// countQueries counts, by kind, the statements st runs during fn.
func countQueries(st *sqlstore.Store, fn func()) map[string]int {
	var mu sync.Mutex
	counts := map[string]int{}
	st.ObserveQueries(func(kind string, _ time.Duration, _ error) {
		mu.Lock()
		counts[kind]++
		mu.Unlock()
	})
	fn()
	st.ObserveQueries(func(string, time.Duration, error) {})
	mu.Lock()
	defer mu.Unlock()
	return maps.Clone(counts)
}
