// Package admin serves Keycloak's admin REST API (the subset keygate
// supports) under /admin/realms, with Keycloak's paths, JSON representations
// (package rep), status codes and error bodies, so that
// @keycloak/keycloak-admin-client works unchanged.
//
// Every route goes through one wrapper (route): it authenticates the bearer
// token, resolves the target realm from the store (disabled realms
// included), checks the caller's permission (authz.go), runs the handler,
// maps its error to Keycloak's status and body (errors.go), and drops the
// OIDC provider's caches after writes that change what it caches.
package admin

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/usermail"
	"github.com/keygate/keygate/store"
)

// Body size limits: a whole realm import may be large, anything else is one
// small representation.
const (
	maxBody      = 1 << 20
	maxRealmBody = 32 << 20
)

// API is the admin REST API.
type API struct {
	st  store.Store
	p   *oidc.Provider
	lim *password.Limiter
	log *slog.Logger
	// users group-commits user creations.
	users *userBatcher
	auth  authCache
	// fedChange are told of user federation component writes; fedEnv is
	// what LDAP tests connect with (federation.go).
	fedChange []func(realmID string)
	fedEnv    federation.Env
	fed       Federation // nil: no user federation
	// brokers open identity providers (their SP metadata); nil: export
	// answers 404 (idps.go).
	brokers *federation.Brokers
	// events records admin events (SetEvents, events.go); nil: none.
	events *events.Recorder
	// mail sends the realms' mail (SetMail, email.go); nil: none.
	mail *usermail.Mailer
}

// New returns the admin API over st. Passwords are hashed through lim.
func New(st store.Store, p *oidc.Provider, lim *password.Limiter, log *slog.Logger) *API {
	if log == nil {
		log = slog.Default()
	}
	return &API{st: st, p: p, lim: lim, log: log, users: &userBatcher{st: st}}
}

// call is one authorised request: the caller and the target realm.
type call struct {
	a      *API
	w      http.ResponseWriter
	r      *http.Request
	ctx    context.Context
	caller *caller
	realm  store.Realm // zero for /admin/realms itself
	// bodyRead is the request body as the handler read it (read).
	bodyRead []byte
}

type handler func(c *call) error

// route is one admin endpoint: its ServeMux pattern, the permission it
// needs in the target realm, and whether it changes what the OIDC provider
// caches (realms, clients, roles, groups, scopes).
type route struct {
	pattern string
	need    perm
	h       handler
	inval   bool
}

// Register adds the admin routes to mux. Like Keycloak (JAX-RS) it accepts
// a trailing slash, which the admin client sends on creates
// (`POST /admin/realms/{realm}/users/`).
func (a *API) Register(mux *http.ServeMux) {
	inner := http.NewServeMux()
	for _, rt := range append(a.routes(), a.requiredActionRoutes("/admin/realms/{realm}")...) {
		inner.HandleFunc(rt.pattern, a.route(rt.need, rt.h, rt.inval))
	}
	mux.Handle("/admin/realms", inner)
	mux.HandleFunc("/admin/realms/", func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasSuffix(p, "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = strings.TrimSuffix(p, "/"), ""
			inner.ServeHTTP(w, r2)
			r.Pattern = r2.Pattern // for the server's per-route metrics
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func (a *API) routes() []route {
	const R = "/admin/realms/{realm}"
	return []route{
		{"GET /admin/realms", anyRole, a.listRealms, false},
		{"POST /admin/realms", createRealm, a.createRealm, true},
		{"GET " + R, anyRole, a.getRealm, false},
		{"PUT " + R, manageRealm, a.updateRealm, true},
		{"DELETE " + R, manageRealm, a.deleteRealm, true},

		{"GET " + R + "/users", viewUsers, a.listUsers, false},
		{"GET " + R + "/users/count", viewUsers, a.countUsers, false},
		{"POST " + R + "/users", manageUsers, a.createUser, false},
		{"GET " + R + "/users/{id}", viewUsers, a.getUser, false},
		{"PUT " + R + "/users/{id}", manageUsers, a.updateUser, false},
		{"DELETE " + R + "/users/{id}", manageUsers, a.deleteUser, false},
		{"PUT " + R + "/users/{id}/reset-password", manageUsers, a.resetPassword, false},
		{"PUT " + R + "/users/{id}/execute-actions-email", manageUsers, a.executeActionsEmail, false},
		{"PUT " + R + "/users/{id}/send-verify-email", manageUsers, a.sendVerifyEmail, false},
		{"GET " + R + "/users/{id}/credentials", viewUsers, a.listCredentials, false},
		{"DELETE " + R + "/users/{id}/credentials/{cred}", manageUsers, a.deleteCredential, false},
		{"GET " + R + "/users/{id}/groups", viewUsers, a.userGroups, false},
		{"GET " + R + "/users/{id}/groups/count", viewUsers, a.userGroupCount, false},
		{"PUT " + R + "/users/{id}/groups/{group}", manageUsers, a.joinGroup, false},
		{"DELETE " + R + "/users/{id}/groups/{group}", manageUsers, a.leaveGroup, false},
		{"GET " + R + "/users/{id}/sessions", viewUsers, a.userSessions, false},
		{"POST " + R + "/users/{id}/logout", manageUsers, a.logoutUser, false},
		{"GET " + R + "/users/{id}/federated-identity", viewUsers, a.federatedIdentities, false},
		{"POST " + R + "/users/{id}/federated-identity/{alias}", manageUsers, a.addFederatedIdentity, false},
		{"DELETE " + R + "/users/{id}/federated-identity/{alias}", manageUsers, a.removeFederatedIdentity, false},

		{"GET " + R + "/users/{id}/role-mappings", viewUsers, a.allMappings, false},
		{"GET " + R + "/users/{id}/role-mappings/realm", viewUsers, a.listMappings(direct), false},
		{"GET " + R + "/users/{id}/role-mappings/realm/composite", viewUsers, a.listMappings(effective), false},
		{"GET " + R + "/users/{id}/role-mappings/realm/available", viewUsers, a.listMappings(available), false},
		{"POST " + R + "/users/{id}/role-mappings/realm", manageUsers, a.changeMappings(true), false},
		{"DELETE " + R + "/users/{id}/role-mappings/realm", manageUsers, a.changeMappings(false), false},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}", viewUsers, a.listMappings(direct), false},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}/composite", viewUsers, a.listMappings(effective), false},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}/available", viewUsers, a.listMappings(available), false},
		{"POST " + R + "/users/{id}/role-mappings/clients/{client}", manageUsers, a.changeMappings(true), false},
		{"DELETE " + R + "/users/{id}/role-mappings/clients/{client}", manageUsers, a.changeMappings(false), false},

		{"GET " + R + "/groups", viewUsers, a.listGroups, false},
		{"GET " + R + "/groups/count", viewUsers, a.countGroups, false},
		{"POST " + R + "/groups", manageUsers, a.createGroup, true},
		{"GET " + R + "/groups/{group}", viewUsers, a.getGroup, false},
		{"PUT " + R + "/groups/{group}", manageUsers, a.updateGroup, true},
		{"DELETE " + R + "/groups/{group}", manageUsers, a.deleteGroup, true},
		{"GET " + R + "/groups/{group}/children", viewUsers, a.listChildren, false},
		{"POST " + R + "/groups/{group}/children", manageUsers, a.createGroup, true},
		{"GET " + R + "/groups/{group}/members", viewUsers, a.groupMembers, false},
		{"GET " + R + "/default-groups", viewRealm, a.defaultGroups, false},
		{"PUT " + R + "/default-groups/{group}", manageRealm, a.changeDefaultGroup(true), true},
		{"DELETE " + R + "/default-groups/{group}", manageRealm, a.changeDefaultGroup(false), true},
		{"GET " + R + "/groups/{group}/role-mappings/realm", viewUsers, a.listMappings(direct), false},
		{"POST " + R + "/groups/{group}/role-mappings/realm", manageUsers, a.changeMappings(true), true},
		{"DELETE " + R + "/groups/{group}/role-mappings/realm", manageUsers, a.changeMappings(false), true},
		{"GET " + R + "/groups/{group}/role-mappings/clients/{client}", viewUsers, a.listMappings(direct), false},
		{"POST " + R + "/groups/{group}/role-mappings/clients/{client}", manageUsers, a.changeMappings(true), true},
		{"DELETE " + R + "/groups/{group}/role-mappings/clients/{client}", manageUsers, a.changeMappings(false), true},

		{"GET " + R + "/clients", viewClients, a.listClients, false},
		{"POST " + R + "/clients", manageClients, a.createClient, true},
		{"GET " + R + "/clients/{client}", viewClients, a.getClient, false},
		{"PUT " + R + "/clients/{client}", manageClients, a.updateClient, true},
		{"DELETE " + R + "/clients/{client}", manageClients, a.deleteClient, true},
		{"GET " + R + "/clients/{client}/client-secret", viewClients, a.getSecret, false},
		{"POST " + R + "/clients/{client}/client-secret", manageClients, a.regenerateSecret, true},
		{"GET " + R + "/clients/{client}/service-account-user", viewClients, a.serviceAccountUser, false},
		{"GET " + R + "/clients/{client}/roles", viewClients, a.listRoles, false},
		{"POST " + R + "/clients/{client}/roles", manageClients, a.createRole, true},
		{"GET " + R + "/clients/{client}/roles/{role}", viewClients, a.getRole, false},
		{"PUT " + R + "/clients/{client}/roles/{role}", manageClients, a.updateRole, true},
		{"DELETE " + R + "/clients/{client}/roles/{role}", manageClients, a.deleteRole, true},

		{"GET " + R + "/clients/{client}/roles/{role}/composites", viewClients, a.listComposites(allComposites), false},
		{"GET " + R + "/clients/{client}/roles/{role}/composites/realm", viewClients, a.listComposites(realmComposites), false},
		{"GET " + R + "/clients/{client}/roles/{role}/composites/clients/{ofclient}", viewClients, a.listComposites(clientComposites), false},
		{"POST " + R + "/clients/{client}/roles/{role}/composites", manageClients, a.changeComposites(true), true},
		{"DELETE " + R + "/clients/{client}/roles/{role}/composites", manageClients, a.changeComposites(false), true},
		{"GET " + R + "/clients/{client}/roles/{role}/users", viewUsers, a.roleMembers, false},

		{"GET " + R + "/roles", anyRole, a.listRoles, false},
		{"POST " + R + "/roles", manageRealm, a.createRole, true},
		{"GET " + R + "/roles/{role}", anyRole, a.getRole, false},
		{"PUT " + R + "/roles/{role}", manageRealm, a.updateRole, true},
		{"DELETE " + R + "/roles/{role}", manageRealm, a.deleteRole, true},
		{"GET " + R + "/roles/{role}/composites", anyRole, a.listComposites(allComposites), false},
		{"GET " + R + "/roles/{role}/composites/realm", anyRole, a.listComposites(realmComposites), false},
		{"GET " + R + "/roles/{role}/composites/clients/{ofclient}", anyRole, a.listComposites(clientComposites), false},
		{"POST " + R + "/roles/{role}/composites", manageRealm, a.changeComposites(true), true},
		{"DELETE " + R + "/roles/{role}/composites", manageRealm, a.changeComposites(false), true},
		{"GET " + R + "/roles/{role}/users", viewUsers, a.roleMembers, false},

		// By id: the role's container decides what a write needs (targetRole).
		{"GET " + R + "/roles-by-id/{roleid}", anyRole, a.getRole, false},
		{"PUT " + R + "/roles-by-id/{roleid}", anyRole, a.updateRole, true},
		{"DELETE " + R + "/roles-by-id/{roleid}", anyRole, a.deleteRole, true},
		{"GET " + R + "/roles-by-id/{roleid}/composites", anyRole, a.listComposites(allComposites), false},
		{"GET " + R + "/roles-by-id/{roleid}/composites/realm", anyRole, a.listComposites(realmComposites), false},
		{"GET " + R + "/roles-by-id/{roleid}/composites/clients/{ofclient}", anyRole, a.listComposites(clientComposites), false},
		{"POST " + R + "/roles-by-id/{roleid}/composites", anyRole, a.changeComposites(true), true},
		{"DELETE " + R + "/roles-by-id/{roleid}/composites", anyRole, a.changeComposites(false), true},

		{"POST " + R + "/clients-initial-access", manageClients, a.createInitialAccess, false},
		{"GET " + R + "/clients-initial-access", manageClients, a.listInitialAccess, false},
		{"DELETE " + R + "/clients-initial-access/{id}", manageClients, a.deleteInitialAccess, false},

		{"GET " + R + "/attack-detection/brute-force/users/{id}", viewUsers, a.bruteForceStatus, false},
		{"DELETE " + R + "/attack-detection/brute-force/users/{id}", manageUsers, a.bruteForceUnlock, false},
		{"DELETE " + R + "/attack-detection/brute-force/users", manageUsers, a.bruteForceUnlockAll, false},

		{"GET " + R + "/keys", viewRealm, a.realmKeys, false},

		{"GET " + R + "/events", viewEvents, a.listEvents, false},
		{"DELETE " + R + "/events", manageEvents, a.clearEvents, false},
		{"GET " + R + "/admin-events", viewEvents, a.listAdminEvents, false},
		{"DELETE " + R + "/admin-events", manageEvents, a.clearAdminEvents, false},
		{"GET " + R + "/events/config", viewEvents, a.getEventsConfig, false},
		{"PUT " + R + "/events/config", manageEvents, a.updateEventsConfig, true},

		{"GET " + R + "/client-scopes", viewClients, a.listClientScopes, false},
		{"GET " + R + "/clients/{client}/scope-mappings", viewClients, a.allScopeMappings, false},
		{"GET " + R + "/clients/{client}/scope-mappings/realm", viewClients, a.listScopeMappings(direct), false},
		{"GET " + R + "/clients/{client}/scope-mappings/realm/composite", viewClients, a.listScopeMappings(effective), false},
		{"GET " + R + "/clients/{client}/scope-mappings/realm/available", viewClients, a.listScopeMappings(available), false},
		{"POST " + R + "/clients/{client}/scope-mappings/realm", manageClients, a.changeScopeMappings(true), true},
		{"DELETE " + R + "/clients/{client}/scope-mappings/realm", manageClients, a.changeScopeMappings(false), true},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", viewClients, a.listScopeMappings(direct), false},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}/composite", viewClients, a.listScopeMappings(effective), false},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}/available", viewClients, a.listScopeMappings(available), false},
		{"POST " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(true), true},
		{"DELETE " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(false), true},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings", viewClients, a.allScopeMappings, false},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm", viewClients, a.listScopeMappings(direct), false},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm/composite", viewClients, a.listScopeMappings(effective), false},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm/available", viewClients, a.listScopeMappings(available), false},
		{"POST " + R + "/client-scopes/{scope}/scope-mappings/realm", manageClients, a.changeScopeMappings(true), true},
		{"DELETE " + R + "/client-scopes/{scope}/scope-mappings/realm", manageClients, a.changeScopeMappings(false), true},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", viewClients, a.listScopeMappings(direct), false},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}/composite", viewClients, a.listScopeMappings(effective), false},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}/available", viewClients, a.listScopeMappings(available), false},
		{"POST " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(true), true},
		{"DELETE " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(false), true},
		{"GET " + R + "/default-default-client-scopes", viewRealm, a.realmScopeList(false), false},
		{"PUT " + R + "/default-default-client-scopes/{scope}", manageRealm, a.changeRealmScope(false, true), true},
		{"DELETE " + R + "/default-default-client-scopes/{scope}", manageRealm, a.changeRealmScope(false, false), true},
		{"GET " + R + "/default-optional-client-scopes", viewRealm, a.realmScopeList(true), false},
		{"PUT " + R + "/default-optional-client-scopes/{scope}", manageRealm, a.changeRealmScope(true, true), true},
		{"DELETE " + R + "/default-optional-client-scopes/{scope}", manageRealm, a.changeRealmScope(true, false), true},
		{"POST " + R + "/client-scopes", manageClients, a.createClientScope, true},
		{"GET " + R + "/client-scopes/{scope}", viewClients, a.getClientScope, false},
		{"PUT " + R + "/client-scopes/{scope}", manageClients, a.updateClientScope, true},
		{"DELETE " + R + "/client-scopes/{scope}", manageClients, a.deleteClientScope, true},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/models", viewClients, a.listMappers, false},
		{"POST " + R + "/client-scopes/{scope}/protocol-mappers/models", manageClients, a.addMappers(false), true},
		{"POST " + R + "/client-scopes/{scope}/protocol-mappers/add-models", manageClients, a.addMappers(true), true},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", viewClients, a.getMapper, false},
		{"PUT " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", manageClients, a.updateMapper, true},
		{"DELETE " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", manageClients, a.deleteMapper, true},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/protocol/{protocol}", viewClients, a.listMappers, false},

		{"GET " + R + "/clients/{client}/protocol-mappers/models", viewClients, a.listMappers, false},
		{"POST " + R + "/clients/{client}/protocol-mappers/models", manageClients, a.addMappers(false), true},
		{"POST " + R + "/clients/{client}/protocol-mappers/add-models", manageClients, a.addMappers(true), true},
		{"GET " + R + "/clients/{client}/protocol-mappers/models/{mapper}", viewClients, a.getMapper, false},
		{"PUT " + R + "/clients/{client}/protocol-mappers/models/{mapper}", manageClients, a.updateMapper, true},
		{"DELETE " + R + "/clients/{client}/protocol-mappers/models/{mapper}", manageClients, a.deleteMapper, true},
		{"GET " + R + "/clients/{client}/protocol-mappers/protocol/{protocol}", viewClients, a.listMappers, false},
		{"GET " + R + "/clients/{client}/default-client-scopes", viewClients, a.clientScopeList(false), false},
		{"PUT " + R + "/clients/{client}/default-client-scopes/{scope}", manageClients, a.changeClientScope(false, true), true},
		{"DELETE " + R + "/clients/{client}/default-client-scopes/{scope}", manageClients, a.changeClientScope(false, false), true},
		{"GET " + R + "/clients/{client}/optional-client-scopes", viewClients, a.clientScopeList(true), false},
		{"PUT " + R + "/clients/{client}/optional-client-scopes/{scope}", manageClients, a.changeClientScope(true, true), true},
		{"DELETE " + R + "/clients/{client}/optional-client-scopes/{scope}", manageClients, a.changeClientScope(true, false), true},

		{"GET " + R + "/components", viewRealm, a.listComponents, false},
		{"POST " + R + "/components", manageRealm, a.createComponent, true},
		{"GET " + R + "/components/{id}", viewRealm, a.getComponent, false},
		{"PUT " + R + "/components/{id}", manageRealm, a.updateComponent, true},
		{"DELETE " + R + "/components/{id}", manageRealm, a.deleteComponent, true},
		{"POST " + R + "/testLDAPConnection", manageRealm, a.testLDAPConnection, false},
		{"POST " + R + "/testSMTPConnection", manageRealm, a.testSMTPConnection, false},
		{"POST " + R + "/ldap-server-capabilities", manageRealm, a.ldapServerCapabilities, false},
		{"GET " + R + "/user-storage/{id}/name", viewUsers, a.userStorageName, false},
		{"POST " + R + "/user-storage/{id}/remove-imported-users", manageUsers, a.removeImportedUsers, false},
		{"POST " + R + "/user-storage/{id}/unlink-users", manageUsers, a.unlinkUsers, false},
		{"POST " + R + "/user-storage/{id}/sync", manageUsers, a.syncUserStorage, false},
		{"POST " + R + "/user-storage/{id}/mappers/{mapper}/sync", manageRealm, a.syncUserStorageMapper, true},

		{"GET " + R + "/identity-provider/instances", viewIDPs, a.listIDPs, false},
		{"GET " + R + "/identity-provider/providers/{provider_id}", viewIDPs, a.idpFactory, false},
		{"POST " + R + "/identity-provider/import-config", manageIDPs, a.importIDPConfig, false},
		{"POST " + R + "/identity-provider/instances", manageIDPs, a.createIDP, true},
		{"GET " + R + "/identity-provider/instances/{alias}", viewIDPs, a.getIDP, false},
		{"PUT " + R + "/identity-provider/instances/{alias}", manageIDPs, a.updateIDP, true},
		{"DELETE " + R + "/identity-provider/instances/{alias}", manageIDPs, a.deleteIDP, true},
		{"GET " + R + "/identity-provider/instances/{alias}/mapper-types", viewIDPs, a.idpMapperTypes, false},
		{"GET " + R + "/identity-provider/instances/{alias}/export", viewIDPs, a.exportIDP, false},
		{"GET " + R + "/identity-provider/instances/{alias}/mappers", viewIDPs, a.listIDPMappers, false},
		{"POST " + R + "/identity-provider/instances/{alias}/mappers", manageIDPs, a.createIDPMapper, true},
		{"GET " + R + "/identity-provider/instances/{alias}/mappers/{id}", viewIDPs, a.getIDPMapper, false},
		{"PUT " + R + "/identity-provider/instances/{alias}/mappers/{id}", manageIDPs, a.updateIDPMapper, true},
		{"DELETE " + R + "/identity-provider/instances/{alias}/mappers/{id}", manageIDPs, a.deleteIDPMapper, true},
	}
}

// route authenticates, authorises and runs h, mapping its error.
func (a *API) route(need perm, h handler, inval bool) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		c := &call{a: a, w: w, r: r, ctx: r.Context()}
		err := a.authorize(c, need)
		if err == nil {
			err = a.guardTarget(c)
		}
		if err == nil {
			err = h(c)
		}
		if err != nil {
			a.fail(w, r, err)
			return
		}
		if r.Method != http.MethodGet {
			a.adminEvent(c) // every successful write, whichever route
		}
		if inval && c.realm.ID != "" {
			a.p.Invalidate(c.realm.ID, c.realm.Name)
		}
		if r.Method != http.MethodGet && r.Pattern != "POST /admin/realms/{realm}/users" {
			a.auth.clear() // the write may have taken someone's rights away
		}
	}
}
