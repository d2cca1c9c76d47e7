package admin

import (
	"net/http"
	"slices"
)

// RegisterServerInfo adds GET /admin/serverinfo to mux: Keycloak's server
// info (ServerInfoRepresentation), which info builds at each call, for
// callers who are admins. Like Keycloak's AdminRoot.getServerInfo, an
// admin is a master realm admin (role admin or create-realm), or a user
// holding a management role of some realm (a realm's own realm-management
// roles, a master user's <realm>-realm roles); any other token is 403,
// none is 401.
func (a *API) RegisterServerInfo(mux *http.ServeMux, info func() any) {
	mux.HandleFunc("GET /admin/serverinfo", func(w http.ResponseWriter, r *http.Request) {
		who, err := a.authenticate(r)
		if err == nil && !who.isAdmin() {
			err = errForbidden
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		writeJSON(w, http.StatusOK, info())
	})
}

// isAdmin says whether the caller administers anything (Keycloak's
// RealmsPermissionEvaluator.isAdmin).
func (c *caller) isAdmin() bool {
	if c.serverAdmin || c.canCreate {
		return true
	}
	for _, roles := range c.mgmt {
		if len(roles) > 0 {
			return true
		}
	}
	return false
}

// AdminEventTypes are the operation and resource types of the admin
// events this API records (classifyRoute), sorted: serverinfo's
// enums.operationType and enums.resourceType.
func AdminEventTypes() (operations, resources []string) {
	operations = []string{"ACTION", "CREATE", "DELETE", "UPDATE"}
	resources = []string{"REALM"}
	for _, k := range routeKinds {
		if !slices.Contains(resources, k.kind) {
			resources = append(resources, k.kind)
		}
	}
	slices.Sort(resources)
	return operations, resources
}
