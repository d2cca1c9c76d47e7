//go:build e2e

package test

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

// TestE2ELDAP: a real OpenLDAP (Debian slapd, started by the test) behind
// the real binary. keycloak-admin-client configures the provider and its
// mappers, a full sync imports the directory, people sign in with the
// password grant and in Chromium with StackState's roles and groups in
// their tokens; then the directory changes under keygate: a password
// changed with the equivalent of ldappasswd, an entry deleted (gone after
// the next sync), and slapd stopped mid-run (local users still sign in,
// directory users get 503, and recover without a restart).
func TestE2ELDAP(t *testing.T) {
	const users, userPW, newPW = 12, "Ldap-Pass-123", "Ldap-New-456"
	dir := ldaptest.Start(t, ldaptest.Options{Users: users, UserPassword: userPW})
	group := func(name string, members ...int) string {
		var b strings.Builder
		fmt.Fprintf(&b, "dn: cn=%s,%s\nobjectClass: groupOfNames\ncn: %s\n", name, dir.GroupsDN, name)
		for _, i := range members {
			fmt.Fprintf(&b, "member: %s\n", dir.UserDN(i))
		}
		return b.String()
	}
	// Added after start, so that slapd's memberof overlay fills memberOf.
	dir.Add(t, group("stackstate-admin", 1))
	dir.Add(t, group("stackstate-power-user", 2, 3))
	dir.Add(t, group("engineering", 1, 2, 3, 4))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	app := "http://" + ln.Addr().String()
	appSrv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "app") })}
	go func() { _ = appSrv.Serve(ln) }()
	t.Cleanup(func() { _ = appSrv.Close() })

	s := startServer(t, "", []string{"KC_BOOTSTRAP_ADMIN_USERNAME=admin", "KC_BOOTSTRAP_ADMIN_PASSWORD=admin-secret-pw"})
	runNode(t, "ldap.test.mjs", "KEYGATE_URL="+s.URL, "APP_URL="+app, "LDAP_URL="+dir.URL(),
		"LDAP_BIND_DN="+dir.ServiceDN, "LDAP_BIND_PW="+dir.ServicePassword, "LDAP_USERS_DN="+dir.PeopleDN,
		"LDAP_GROUPS_DN="+dir.GroupsDN, "LDAP_USER_PW="+userPW, fmt.Sprint("LDAP_USERS=", users))

	grant := func(username, pw string) (int, map[string]any) {
		return postForm(t, s.URL+"/realms/corp/protocol/openid-connect/token",
			url.Values{"grant_type": {"password"}, "client_id": {"dash"}, "username": {username}, "password": {pw}})
	}
	_, tok := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}})
	adminToken, _ := tok["access_token"].(string)
	adminDo := func(method, path string) (int, map[string]any) {
		req, _ := http.NewRequest(method, s.URL+"/admin/realms/corp"+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		return do(t, req)
	}
	providerID := func() string {
		req, _ := http.NewRequest("GET", s.URL+"/admin/realms/corp/components?type=org.keycloak.storage.UserStorageProvider", nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var cs []map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&cs); err != nil || len(cs) != 1 {
			t.Fatalf("components: %v %v", cs, err)
		}
		return cs[0]["id"].(string)
	}()

	// A password changed in the directory (RFC 3062, as ldappasswd does).
	dir.SetPassword(t, dir.UserDN(3), newPW)
	if code, body := grant("user3", userPW); code != 401 {
		t.Fatalf("old directory password: %d %v", code, body)
	}
	if code, body := grant("user3", newPW); code != 200 {
		t.Fatalf("new directory password: %d %v", code, body)
	}

	// An entry deleted from the directory is gone after a full sync.
	dir.Delete(t, dir.UserDN(5))
	code, res := adminDo("POST", "/user-storage/"+providerID+"/sync?action=triggerFullSync")
	if code != 200 || res["removed"] != float64(1) {
		t.Fatalf("full sync after a delete: %d %v", code, res)
	}
	var found []map[string]any
	req, _ := http.NewRequest("GET", s.URL+"/admin/realms/corp/users?username=user5&exact=true", nil)
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if resp, err := http.DefaultClient.Do(req); err != nil {
		t.Fatal(err)
	} else {
		_ = json.NewDecoder(resp.Body).Decode(&found)
		resp.Body.Close()
	}
	if len(found) != 0 {
		t.Fatalf("user5 is still there: %v", found)
	}

	// slapd stops: the local admin still signs in, directory users get 503
	// (never "invalid credentials"), and they come back with the directory.
	dir.Stop(t)
	if code, body := postForm(t, s.URL+"/realms/master/protocol/openid-connect/token", url.Values{"grant_type": {"password"},
		"client_id": {"admin-cli"}, "username": {"admin"}, "password": {"admin-secret-pw"}}); code != 200 {
		t.Fatalf("local admin while the directory is down: %d %v", code, body)
	}
	if code, body := grant("user1", userPW); code != 503 || body["error"] != "temporarily_unavailable" {
		t.Fatalf("directory user while the directory is down: %d %v", code, body)
	}
	dir.Restart(t)
	if code, body := grant("user1", userPW); code != 200 {
		t.Fatalf("directory user after the directory came back: %d %v", code, body)
	}

	for _, secret := range []string{userPW, newPW, dir.ServicePassword} {
		if strings.Contains(s.logs.String(), secret) {
			t.Errorf("the server log contains a password (%q...)", secret[:3])
		}
	}
}
