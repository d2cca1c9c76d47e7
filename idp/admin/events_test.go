package admin_test

import (
	"net/url"
	"strings"
	"testing"
)

type adminEventJSON struct {
	ID            string `json:"id"`
	Time          int64  `json:"time"`
	RealmID       string `json:"realmId"`
	OperationType string `json:"operationType"`
	ResourceType  string `json:"resourceType"`
	ResourcePath  string `json:"resourcePath"`
	AuthDetails   struct {
		RealmID, ClientID, UserID, IPAddress string
	} `json:"authDetails"`
	Representation string `json:"representation"`
}

func (e *env) adminEvents(realm, token, query string) []adminEventJSON {
	e.t.Helper()
	var out []adminEventJSON
	e.must(200, "GET", "/admin/realms/"+realm+"/admin-events?"+query, token, nil).json(e.t, &out)
	return out
}

// Admin events: every write through the admin API, with Keycloak's
// operation and resource types, paths and caller; the representation only
// with adminEventsDetailsEnabled and never a secret; the filters, paging,
// the events config round trip and the view/manage-events permissions.
func TestAdminEvents(t *testing.T) {
	e := newEnv(t)
	base := "/admin/realms/ev"
	e.must(201, "POST", "/admin/realms", e.admin, map[string]any{"realm": "ev", "enabled": true})

	// The config: Keycloak's defaults, then turned on.
	var cfg map[string]any
	e.must(200, "GET", base+"/events/config", e.admin, nil).json(t, &cfg)
	if cfg["eventsEnabled"] != false || cfg["adminEventsEnabled"] != false || cfg["adminEventsDetailsEnabled"] != false ||
		len(cfg["eventsListeners"].([]any)) != 1 || cfg["eventsListeners"].([]any)[0] != "jboss-logging" {
		t.Errorf("default config %v", cfg)
	}
	e.must(400, "PUT", base+"/events/config", e.admin, map[string]any{"eventsListeners": []string{"email"}})
	e.must(204, "PUT", base+"/events/config", e.admin, map[string]any{"adminEventsEnabled": true, "eventsEnabled": true,
		"eventsExpiration": 3600, "enabledEventTypes": []string{"LOGIN", "LOGOUT"}})
	e.must(200, "GET", base+"/events/config", e.admin, nil).json(t, &cfg)
	if cfg["eventsEnabled"] != true || cfg["adminEventsEnabled"] != true || cfg["eventsExpiration"] != 3600.0 ||
		len(cfg["enabledEventTypes"].([]any)) != 2 || len(cfg["eventsListeners"].([]any)) != 1 {
		t.Errorf("config after PUT %v", cfg)
	}
	var realm map[string]any
	e.must(200, "GET", base, e.admin, nil).json(t, &realm)
	if realm["eventsEnabled"] != true || realm["adminEventsEnabled"] != true || realm["eventsExpiration"] != 3600.0 {
		t.Errorf("realm representation: %v %v %v", realm["eventsEnabled"], realm["adminEventsEnabled"], realm["eventsExpiration"])
	}

	// Without details: no representation.
	uid := e.must(201, "POST", base+"/users", e.admin, map[string]any{"username": "dave", "enabled": true,
		"credentials": []map[string]any{{"type": "password", "value": "dave-pass-1"}}}).id()
	evs := e.adminEvents("ev", e.admin, "")
	if len(evs) != 2 { // the config's PUT (adminEventsEnabled already on) and the user
		t.Fatalf("admin events %+v", evs)
	}
	var master map[string]any
	e.must(200, "GET", "/admin/realms/master", e.admin, nil).json(t, &master)
	var admins []map[string]any
	e.must(200, "GET", "/admin/realms/master/users?username=admin&exact=true", e.admin, nil).json(t, &admins)
	var cli []map[string]any
	e.must(200, "GET", "/admin/realms/master/clients?clientId=admin-cli", e.admin, nil).json(t, &cli)
	if c := evs[0]; c.OperationType != "CREATE" || c.ResourceType != "USER" || c.ResourcePath != "users/"+uid || c.Representation != "" ||
		c.AuthDetails.RealmID != master["id"] || c.AuthDetails.UserID != admins[0]["id"] || c.AuthDetails.ClientID != cli[0]["id"] ||
		c.AuthDetails.IPAddress != "127.0.0.1" || c.RealmID != realm["id"] {
		t.Errorf("user created: %+v", c)
	}

	// With details: representations, secrets masked.
	e.must(204, "PUT", base+"/events/config", e.admin, map[string]any{"adminEventsDetailsEnabled": true})
	e.must(204, "PUT", base+"/users/"+uid, e.admin, map[string]any{"firstName": "Dave"})
	e.must(204, "PUT", base+"/users/"+uid+"/reset-password", e.admin, map[string]any{"type": "password", "value": "dave-pass-2", "temporary": false})
	e.must(201, "POST", base+"/roles", e.admin, map[string]any{"name": "ops"})
	e.must(204, "POST", base+"/users/"+uid+"/role-mappings/realm", e.admin, []map[string]any{{"name": "ops"}})
	e.must(201, "POST", base+"/clients", e.admin, map[string]any{"clientId": "svc", "secret": "svc-secret-7", "publicClient": false})
	gid := e.must(201, "POST", base+"/groups", e.admin, map[string]any{"name": "staff"}).id()
	e.must(204, "PUT", base+"/users/"+uid+"/groups/"+gid, e.admin, nil)
	e.must(201, "POST", base+"/components", e.admin, map[string]any{"name": "ldap", "providerId": "ldap",
		"providerType": "org.keycloak.storage.UserStorageProvider", "config": map[string][]string{
			"connectionUrl": {"ldap://127.0.0.1:1"}, "bindDn": {"cn=admin"}, "bindCredential": {"ldap-bind-secret-3"},
			"usersDn": {"ou=people,dc=x"}, "editMode": {"READ_ONLY"}, "vendor": {"other"}, "usernameLDAPAttribute": {"uid"},
			"rdnLDAPAttribute": {"uid"}, "uuidLDAPAttribute": {"entryUUID"}, "userObjectClasses": {"inetOrgPerson"},
			"enabled": {"false"}}}) // disabled: a dead directory makes new users 503
	e.must(204, "DELETE", base+"/users/"+uid, e.admin, nil)

	evs = e.adminEvents("ev", e.admin, "")
	type row struct{ op, rt, path string }
	want := []row{
		{"DELETE", "USER", "users/" + uid},
		{"CREATE", "COMPONENT", ""},
		{"CREATE", "GROUP_MEMBERSHIP", "users/" + uid + "/groups/" + gid},
		{"CREATE", "GROUP", "groups/" + gid},
		{"CREATE", "CLIENT", ""},
		{"CREATE", "REALM_ROLE_MAPPING", "users/" + uid + "/role-mappings/realm"},
		{"CREATE", "REALM_ROLE", "roles/ops"},
		{"ACTION", "USER", "users/" + uid + "/reset-password"},
		{"UPDATE", "USER", "users/" + uid},
		{"UPDATE", "REALM", "events/config"},
		{"CREATE", "USER", "users/" + uid},
		{"UPDATE", "REALM", "events/config"},
	}
	if len(evs) != len(want) {
		t.Fatalf("%d admin events, want %d: %+v", len(evs), len(want), evs)
	}
	for i, w := range want {
		g := evs[i]
		if g.OperationType != w.op || g.ResourceType != w.rt || (w.path != "" && g.ResourcePath != w.path) {
			t.Errorf("event %d: %s %s %s, want %v", i, g.OperationType, g.ResourceType, g.ResourcePath, w)
		}
	}
	if r := evs[8].Representation; !strings.Contains(r, `"firstName":"Dave"`) {
		t.Errorf("update representation %q", r)
	}
	if r := evs[5].Representation; !strings.Contains(r, `"name":"ops"`) {
		t.Errorf("role mapping representation %q", r)
	}
	if r := evs[7].Representation; strings.Contains(r, "dave-pass-2") || !strings.Contains(r, "**********") {
		t.Errorf("reset-password representation %q", r)
	}
	if r := evs[4].Representation; strings.Contains(r, "svc-secret-7") || !strings.Contains(r, `"clientId":"svc"`) {
		t.Errorf("client representation %q", r)
	}
	if r := evs[1].Representation; strings.Contains(r, "ldap-bind-secret-3") || !strings.Contains(r, `"bindDn":["cn=admin"]`) {
		t.Errorf("component representation %q", r)
	}
	if !strings.HasPrefix(evs[1].ResourcePath, "components/") || !strings.HasPrefix(evs[4].ResourcePath, "clients/") {
		t.Errorf("created paths %q %q", evs[1].ResourcePath, evs[4].ResourcePath)
	}

	// Filters and paging.
	count := func(q string) int { return len(e.adminEvents("ev", e.admin, q)) }
	for q, n := range map[string]int{
		"operationTypes=CREATE":                               7,
		"operationTypes=CREATE&operationTypes=DELETE":         8,
		"resourceTypes=USER":                                  4,
		"resourceTypes=USER&operationTypes=UPDATE":            1,
		"resourcePath=users/" + uid:                           3,
		"resourcePath=users/*":                                6,
		"resourcePath=" + url.QueryEscape("users/*/groups/*"): 1,
		"authRealm=" + master["id"].(string):                  12,
		"authUser=" + admins[0]["id"].(string):                12,
		"authUser=someone-else":                               0,
		"authClient=" + cli[0]["id"].(string):                 12,
		"authIpAddress=127.0.0.1":                             12,
		"authIpAddress=10.9.9.9":                              0,
		"first=10&max=5":                                      2,
		"max=3":                                               3,
		"dateTo=2000-01-01":                                   0,
		"dateFrom=2000-01-01":                                 12,
	} {
		if got := count(q); got != n {
			t.Errorf("admin-events?%s: %d, want %d", q, got, n)
		}
	}

	// Permissions: view-events reads, manage-events also clears and
	// configures; neither, and view-users alone, is 403.
	viewer := e.userWithRoles("ev", "viewer", "view-events")
	manager := e.userWithRoles("ev", "manager", "manage-events")
	other := e.userWithRoles("ev", "other", "view-users")
	e.must(200, "GET", base+"/events", viewer, nil)
	e.must(200, "GET", base+"/admin-events", viewer, nil)
	e.must(200, "GET", base+"/events/config", viewer, nil)
	e.must(403, "DELETE", base+"/admin-events", viewer, nil)
	e.must(403, "PUT", base+"/events/config", viewer, map[string]any{"eventsEnabled": false})
	e.must(403, "GET", base+"/events", other, nil)
	e.must(403, "GET", base+"/admin-events", other, nil)
	e.must(200, "GET", base+"/admin-events", manager, nil)
	// The viewer's own token is an ev-realm caller now.
	if evs := e.adminEvents("ev", viewer, "authRealm="+realm["id"].(string)); len(evs) != 0 {
		t.Errorf("ev-realm callers wrote %d events", len(evs))
	}
	e.must(204, "DELETE", base+"/admin-events", manager, nil)
	if n := count(""); n != 0 {
		t.Errorf("%d admin events after DELETE", n)
	}
	e.must(204, "PUT", base+"/events/config", manager, map[string]any{"adminEventsEnabled": false})
	e.must(201, "POST", base+"/roles", e.admin, map[string]any{"name": "quiet"})
	if n := count(""); n != 0 { // the realm as the write left it decides: not even the PUT
		t.Errorf("%d admin events with adminEventsEnabled false", n)
	}
}
