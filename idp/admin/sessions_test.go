package admin_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"testing"
	"time"
)

// TestAdminSessions drives Keycloak's session endpoints over sessions made
// by real grants: listing a user's and a client's sessions with their
// clients, offline sessions that outlive their SSO session, the counts and
// stats, ending one session, revoking one offline session, logout-all, and
// who may do which.
func TestAdminSessions(t *testing.T) {
	e := newEnv(t)
	const realm = "sess"
	viewer := e.realmWithUser(realm, "viewer", "view-users", "view-clients", "view-realm")
	userAdmin := e.userWithRoles(realm, "useradmin", "manage-users", "view-users")
	boss := e.userWithRoles(realm, "boss", "realm-admin")
	base := "/admin/realms/" + realm
	e.must(204, "PUT", base+"/events/config", e.admin, map[string]any{"adminEventsEnabled": true})
	webID := e.must(201, "POST", base+"/clients", e.admin, map[string]any{"clientId": "web", "secret": "web-secret",
		"directAccessGrantsEnabled": true, "publicClient": false}).id()
	cliID := e.must(201, "POST", base+"/clients", e.admin, map[string]any{"clientId": "cli", "publicClient": true,
		"directAccessGrantsEnabled": true}).id()
	newUser := func(name string) string {
		return e.must(201, "POST", base+"/users", e.admin, map[string]any{"username": name, "enabled": true,
			"credentials": []map[string]any{{"type": "password", "value": "Passw0rd-" + name}}}).id()
	}
	alice, bob := newUser("alice"), newUser("bob")

	type tokens struct {
		Refresh string `json:"refresh_token"`
		Session string `json:"session_state"`
	}
	grant := func(form url.Values) (int, tokens) {
		t.Helper()
		resp, err := client.PostForm(e.url+"/realms/"+realm+"/protocol/openid-connect/token", form)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var tok tokens
		if resp.StatusCode == 200 {
			if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, tok
	}
	login := func(clientID, user, scope string) tokens {
		t.Helper()
		form := url.Values{"grant_type": {"password"}, "client_id": {clientID}, "username": {user},
			"password": {"Passw0rd-" + user}, "scope": {scope}}
		if clientID == "web" {
			form.Set("client_secret", "web-secret")
		}
		code, tok := grant(form)
		if code != 200 || tok.Session == "" || tok.Refresh == "" {
			t.Fatalf("password grant %s/%s: %d %+v", clientID, user, code, tok)
		}
		return tok
	}
	refresh := func(clientID string, tok tokens) int {
		t.Helper()
		form := url.Values{"grant_type": {"refresh_token"}, "client_id": {clientID}, "refresh_token": {tok.Refresh}}
		if clientID == "web" {
			form.Set("client_secret", "web-secret")
		}
		code, _ := grant(form)
		return code
	}
	a1 := login("web", "alice", "openid")
	a2 := login("web", "alice", "openid")
	b1 := login("web", "bob", "openid")
	offA := login("cli", "alice", "openid offline_access")

	type sessionRep struct {
		ID         string            `json:"id"`
		Username   string            `json:"username"`
		UserID     string            `json:"userId"`
		IPAddress  string            `json:"ipAddress"`
		Start      int64             `json:"start"`
		LastAccess int64             `json:"lastAccess"`
		Clients    map[string]string `json:"clients"`
	}
	reader := viewer
	list := func(p string) []sessionRep {
		t.Helper()
		var out []sessionRep
		e.must(200, "GET", base+p, reader, nil).json(t, &out)
		return out
	}
	ids := func(xs []sessionRep) []string {
		var out []string
		for _, x := range xs {
			out = append(out, x.ID)
		}
		slices.Sort(out)
		return out
	}
	sorted := func(xs ...string) []string { slices.Sort(xs); return xs }
	count := func(p string) int {
		t.Helper()
		var c struct{ Count *int }
		e.must(200, "GET", base+p, viewer, nil).json(t, &c)
		if c.Count == nil {
			t.Fatalf("%s: no count", p)
		}
		return *c.Count
	}

	// A user's sessions name their clients by internal id.
	got := list("/users/" + alice + "/sessions")
	if want := sorted(a1.Session, a2.Session, offA.Session); !slices.Equal(ids(got), want) {
		t.Fatalf("alice's sessions %v, want %v", ids(got), want)
	}
	for _, s := range got {
		want := map[string]string{webID: "web"}
		if s.ID == offA.Session {
			want = map[string]string{cliID: "cli"}
		}
		if s.Username != "alice" || s.UserID != alice || s.Start == 0 || s.LastAccess < s.Start || s.IPAddress == "" ||
			len(s.Clients) != len(want) || s.Clients[cliID]+s.Clients[webID] != want[cliID]+want[webID] {
			t.Errorf("session %+v, want clients %v", s, want)
		}
	}

	// A client's sessions, paged, and their count.
	if got, want := ids(list("/clients/"+webID+"/user-sessions")), sorted(a1.Session, a2.Session, b1.Session); !slices.Equal(got, want) {
		t.Errorf("web's sessions %v, want %v", got, want)
	}
	if got := list("/clients/" + webID + "/user-sessions?first=1&max=1"); len(got) != 1 {
		t.Errorf("web's sessions, second page: %v", got)
	}
	// Pages, one session each, walk the list without gap or repeat (oldest
	// first); past its end they are empty, max=0 is all, a negative first
	// a 400.
	var walked []sessionRep
	for i := range 3 {
		walked = append(walked, list(fmt.Sprintf("/clients/%s/user-sessions?first=%d&max=1", webID, i))...)
	}
	if got, want := ids(walked), sorted(a1.Session, a2.Session, b1.Session); !slices.Equal(got, want) {
		t.Errorf("web's sessions page by page %v, want %v", got, want)
	}
	for _, q := range []string{"first=3", "first=2147483648&max=1", "first=3&max=0"} {
		if got := list("/clients/" + webID + "/user-sessions?" + q); len(got) != 0 {
			t.Errorf("web's sessions ?%s: %v, want none", q, ids(got))
		}
	}
	if got := list("/clients/" + webID + "/user-sessions?max=0"); len(got) != 3 {
		t.Errorf("web's sessions ?max=0: %v, want all 3", ids(got))
	}
	e.must(400, "GET", base+"/clients/"+webID+"/user-sessions?first=-2", viewer, nil)
	e.must(400, "GET", base+"/clients/"+cliID+"/offline-sessions?max=x", viewer, nil)
	for q, n := range map[string]int{"first=0&max=1": 1, "first=1": 0, "first=2147483648": 0, "max=0": 1} {
		if got := list("/clients/" + cliID + "/offline-sessions?" + q); len(got) != n {
			t.Errorf("cli's offline sessions ?%s: %v, want %d", q, ids(got), n)
		}
	}
	if n := count("/clients/" + webID + "/session-count"); n != 3 {
		t.Errorf("web session-count %d, want 3", n)
	}
	if n := count("/clients/" + cliID + "/offline-session-count"); n != 1 {
		t.Errorf("cli offline-session-count %d, want 1", n)
	}
	if n := count("/clients/" + webID + "/offline-session-count"); n != 0 {
		t.Errorf("web offline-session-count %d, want 0", n)
	}
	off := list("/users/" + alice + "/offline-sessions/" + cliID)
	if len(off) != 1 || off[0].ID != offA.Session || off[0].Clients[cliID] != "cli" || off[0].Username != "alice" || off[0].Start == 0 {
		t.Errorf("alice's offline sessions of cli: %+v", off)
	}
	if got := list("/users/" + bob + "/offline-sessions/" + cliID); len(got) != 0 {
		t.Errorf("bob's offline sessions: %+v", got)
	}
	if got := ids(list("/clients/" + cliID + "/offline-sessions")); !slices.Equal(got, []string{offA.Session}) {
		t.Errorf("cli's offline sessions %v", got)
	}
	var stats []map[string]string
	e.must(200, "GET", base+"/client-session-stats", viewer, nil).json(t, &stats)
	wantStats := []map[string]string{
		{"id": cliID, "clientId": "cli", "active": "1", "offline": "1"},
		{"id": webID, "clientId": "web", "active": "3", "offline": "0"},
	}
	stats = slices.DeleteFunc(stats, func(m map[string]string) bool { return m["clientId"] == "admin-cli" }) // the admins' own logins
	if len(stats) != 2 || !mapsEqual(stats[0], wantStats[0]) || !mapsEqual(stats[1], wantStats[1]) {
		t.Errorf("client-session-stats %v, want %v", stats, wantStats)
	}

	// Rights: viewers read, only managers delete, and not a higher admin's session.
	e.must(403, "DELETE", base+"/sessions/"+a1.Session, viewer, nil)
	e.must(403, "POST", base+"/logout-all", viewer, nil)
	var bossSessions []sessionRep
	var users []map[string]any
	e.must(200, "GET", base+"/users?username=boss&exact=true", e.admin, nil).json(t, &users)
	e.must(200, "GET", base+"/users/"+users[0]["id"].(string)+"/sessions", e.admin, nil).json(t, &bossSessions)
	if len(bossSessions) == 0 {
		t.Fatal("boss has no session")
	}
	e.must(403, "DELETE", base+"/sessions/"+bossSessions[0].ID, userAdmin, nil)
	e.must(404, "DELETE", base+"/sessions/00000000-0000-4000-8000-000000000000", userAdmin, nil)
	e.must(404, "DELETE", base+"/sessions/not-an-id", userAdmin, nil)
	e.must(404, "GET", base+"/clients/00000000-0000-4000-8000-000000000000/user-sessions", viewer, nil)
	// Another realm's session is not found here.
	masterSessions := []sessionRep{}
	e.must(200, "GET", "/admin/realms/master/clients/"+clientUUID(e, "master", "admin-cli")+"/user-sessions", e.admin, nil).json(t, &masterSessions)
	if len(masterSessions) == 0 {
		t.Fatal("no master session")
	}
	e.must(404, "DELETE", base+"/sessions/"+masterSessions[0].ID, boss, nil)

	// Ending one SSO session ends its refresh tokens, not the others'.
	e.must(204, "DELETE", base+"/sessions/"+a1.Session, userAdmin, nil)
	e.must(404, "DELETE", base+"/sessions/"+a1.Session, userAdmin, nil)
	if code := refresh("web", a1); code != 400 {
		t.Errorf("refresh in an ended session: %d, want 400", code)
	}
	if code := refresh("web", a2); code != 200 {
		t.Errorf("refresh in another session: %d, want 200", code)
	}

	// Ending the offline session's SSO session leaves the offline token;
	// revoking the offline session ends it.
	e.must(204, "DELETE", base+"/sessions/"+offA.Session, userAdmin, nil)
	if got := list("/users/" + alice + "/offline-sessions/" + cliID); len(got) != 1 || got[0].IPAddress != "" {
		t.Errorf("offline session after its SSO session ended: %+v", got)
	}
	offA2 := login("cli", "alice", "openid offline_access")
	if code := refresh("cli", offA); code != 200 {
		t.Fatalf("offline refresh after its SSO session ended: %d", code)
	}
	e.must(404, "DELETE", base+"/sessions/"+a2.Session+"?isOffline=true", userAdmin, nil)
	e.must(403, "DELETE", base+"/sessions/"+offA.Session+"?isOffline=true", viewer, nil)
	e.must(404, "DELETE", "/admin/realms/master/sessions/"+offA.Session+"?isOffline=true", e.admin, nil) // another realm's
	e.must(204, "DELETE", base+"/sessions/"+offA.Session+"?isOffline=true", userAdmin, nil)
	if code := refresh("cli", offA); code != 400 {
		t.Errorf("refresh of a revoked offline session: %d, want 400", code)
	}
	if got := ids(list("/clients/" + cliID + "/offline-sessions")); !slices.Equal(got, []string{offA2.Session}) {
		t.Errorf("cli's offline sessions after the revocation: %v", got)
	}

	// Consents: a client holding an offline token is listed with Keycloak's
	// "Offline Token" grant; revoking it ends the user's offline tokens of
	// that client.
	var consents []struct {
		ClientID         string              `json:"clientId"`
		AdditionalGrants []map[string]string `json:"additionalGrants"`
	}
	e.must(200, "GET", base+"/users/"+alice+"/consents", viewer, nil).json(t, &consents)
	if len(consents) != 1 || consents[0].ClientID != "cli" || len(consents[0].AdditionalGrants) != 1 ||
		consents[0].AdditionalGrants[0]["client"] != cliID || consents[0].AdditionalGrants[0]["key"] != "Offline Token" {
		t.Errorf("alice's consents: %+v", consents)
	}
	e.must(200, "GET", base+"/users/"+bob+"/consents", viewer, nil).json(t, &consents)
	if len(consents) != 0 {
		t.Errorf("bob's consents: %+v", consents)
	}
	e.must(403, "DELETE", base+"/users/"+alice+"/consents/cli", viewer, nil)
	e.must(404, "DELETE", base+"/users/"+alice+"/consents/no-such-client", userAdmin, nil)
	e.must(404, "DELETE", base+"/users/"+alice+"/consents/web", userAdmin, nil) // no offline token of web
	e.must(204, "DELETE", base+"/users/"+alice+"/consents/cli", userAdmin, nil)
	e.must(404, "DELETE", base+"/users/"+alice+"/consents/cli", userAdmin, nil)
	if code := refresh("cli", offA2); code != 400 {
		t.Errorf("offline refresh after its consent was revoked: %d, want 400", code)
	}
	offA3 := login("cli", "alice", "openid offline_access")

	// logout-all: every session ends, and tokens issued before it, offline
	// ones included, are stale (notBefore has a one-second grain).
	time.Sleep(time.Until(time.Now().Truncate(time.Second).Add(time.Second)))
	var result map[string]any
	e.must(200, "POST", base+"/logout-all", userAdmin, nil).json(t, &result)
	if len(result) != 0 {
		t.Errorf("logout-all answered %v, want {} (no client was sent anything)", result)
	}
	// The realm's own admins' tokens are stale too.
	e.must(401, "GET", base+"/client-session-stats", viewer, nil)
	reader = e.admin
	for _, tc := range []struct {
		client string
		tok    tokens
	}{{"web", a2}, {"web", b1}, {"cli", offA3}} {
		if code := refresh(tc.client, tc.tok); code != 400 {
			t.Errorf("%s refresh after logout-all: %d, want 400", tc.client, code)
		}
	}
	for _, p := range []string{"/users/" + alice + "/sessions", "/users/" + bob + "/sessions", "/clients/" + webID + "/user-sessions"} {
		if got := list(p); len(got) != 0 {
			t.Errorf("%s after logout-all: %v", p, got)
		}
	}
	var r map[string]any
	e.must(200, "GET", base, e.admin, nil).json(t, &r)
	if nb, _ := r["notBefore"].(float64); int64(nb) < time.Now().Add(-time.Minute).Unix() {
		t.Errorf("realm notBefore %v after logout-all", r["notBefore"])
	}
	// New logins work.
	if code := refresh("web", login("web", "bob", "openid")); code != 200 {
		t.Errorf("refresh of a login after logout-all: %d", code)
	}
	// The master admin's token still works (another realm).
	e.must(200, "GET", base+"/client-session-stats", e.admin, nil)

	// Admin events as Keycloak records them.
	var seen []string
	for _, ev := range e.adminEvents(realm, e.admin, "resourceTypes=USER_SESSION&resourceTypes=REALM&resourceTypes=USER") {
		seen = append(seen, ev.OperationType+" "+ev.ResourceType+" "+ev.ResourcePath)
	}
	for _, want := range []string{"DELETE USER_SESSION sessions/" + a1.Session, "DELETE USER_SESSION sessions/" + offA.Session,
		"ACTION REALM logout-all", "ACTION USER users/" + alice + "/consents/cli"} {
		if !slices.Contains(seen, want) {
			t.Errorf("admin events %q lack %q", seen, want)
		}
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func clientUUID(e *env, realm, clientID string) string {
	e.t.Helper()
	var cls []map[string]any
	e.must(http.StatusOK, "GET", "/admin/realms/"+realm+"/clients?clientId="+clientID, e.admin, nil).json(e.t, &cls)
	if len(cls) != 1 {
		e.t.Fatalf("client %s/%s: %v", realm, clientID, cls)
	}
	return cls[0]["id"].(string)
}
