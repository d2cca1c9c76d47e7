// Package admin serves Keycloak's admin REST API (the subset keygate
// supports) under /admin/realms, with Keycloak's paths, JSON representations
// (package rep), status codes and error bodies, so that
// @keycloak/keycloak-admin-client works unchanged.
//
// Every route goes through one wrapper (route): it authenticates the bearer
// token, resolves the target realm from the store (disabled realms
// included), checks the caller's permission (authz.go), runs the handler,
// maps its error to Keycloak's status and body (errors.go). Caches follow
// the store's change counters (store/cache): no route invalidates anything
// but clear-realm-cache, which moves a counter on purpose (caches.go).
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
	"github.com/keygate/keygate/store/cache"
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
	auth  authCache // callers, realm rows, default roles (authcache.go)
	// fedEnv is what LDAP tests connect with (federation.go).
	fedEnv federation.Env
	fed    Federation // nil: no user federation
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
	return &API{st: st, p: p, lim: lim, log: log, users: &userBatcher{st: st}, auth: newAuthCache(cache.For(st))}
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

// route is one admin endpoint: its ServeMux pattern and the permission it
// needs in the target realm.
type route struct {
	pattern string
	need    perm
	h       handler
}

// Register adds the admin routes to mux. Like Keycloak (JAX-RS) it accepts
// a trailing slash, which the admin client sends on creates
// (`POST /admin/realms/{realm}/users/`).
func (a *API) Register(mux *http.ServeMux) {
	inner := http.NewServeMux()
	for _, rt := range append(a.routes(), a.requiredActionRoutes("/admin/realms/{realm}")...) {
		inner.HandleFunc(rt.pattern, a.route(rt.need, rt.h))
	}
	mux.HandleFunc("/admin/realms", func(w http.ResponseWriter, r *http.Request) { serveOrMiss(inner, w, r) })
	mux.HandleFunc("/admin/realms/", func(w http.ResponseWriter, r *http.Request) {
		if p := r.URL.Path; strings.HasSuffix(p, "/") {
			r2 := r.Clone(r.Context())
			r2.URL.Path, r2.URL.RawPath = strings.TrimSuffix(p, "/"), ""
			serveOrMiss(inner, w, r2)
			r.Pattern = r2.Pattern // for the server's per-route metrics
			return
		}
		serveOrMiss(inner, w, r)
	})
}

func (a *API) routes() []route {
	const R = "/admin/realms/{realm}"
	return []route{
		{"GET /admin/realms", anyRole, a.listRealms},
		{"POST /admin/realms", createRealm, a.createRealm},
		{"GET " + R, anyRole, a.getRealm},
		{"PUT " + R, manageRealm, a.updateRealm},
		{"DELETE " + R, manageRealm, a.deleteRealm},
		{pattern: "GET " + R + "/localization", need: viewRealm, h: a.localizationLocales},
		{pattern: "GET " + R + "/localization/{locale}", need: viewRealm, h: a.localizationTexts},
		{pattern: "POST " + R + "/localization/{locale}", need: manageRealm, h: a.importLocalizationTexts},
		{pattern: "PUT " + R + "/localization/{locale}", need: manageRealm, h: a.importLocalizationTexts},
		{pattern: "DELETE " + R + "/localization/{locale}", need: manageRealm, h: a.deleteLocalizationTexts},
		{pattern: "GET " + R + "/localization/{locale}/{key}", need: viewRealm, h: a.localizationText},
		{pattern: "PUT " + R + "/localization/{locale}/{key}", need: manageRealm, h: a.putLocalizationText},
		{pattern: "DELETE " + R + "/localization/{locale}/{key}", need: manageRealm, h: a.deleteLocalizationText},

		{"GET " + R + "/users", viewUsers, a.listUsers},
		{"GET " + R + "/users/count", viewUsers, a.countUsers},
		{"POST " + R + "/users", manageUsers, a.createUser},
		{"GET " + R + "/users/{id}", viewUsers, a.getUser},
		{"PUT " + R + "/users/{id}", manageUsers, a.updateUser},
		{"DELETE " + R + "/users/{id}", manageUsers, a.deleteUser},
		{"PUT " + R + "/users/{id}/reset-password", manageUsers, a.resetPassword},
		{"PUT " + R + "/users/{id}/execute-actions-email", manageUsers, a.executeActionsEmail},
		{"PUT " + R + "/users/{id}/send-verify-email", manageUsers, a.sendVerifyEmail},
		{"GET " + R + "/users/{id}/credentials", viewUsers, a.listCredentials},
		{"DELETE " + R + "/users/{id}/credentials/{cred}", manageUsers, a.deleteCredential},
		{"PUT " + R + "/users/{id}/credentials/{cred}/userLabel", manageUsers, a.updateCredentialLabel},
		{"POST " + R + "/users/{id}/credentials/{cred}/moveToFirst", manageUsers, a.moveCredentialToFirst},
		{"POST " + R + "/users/{id}/credentials/{cred}/moveAfter/{previous}", manageUsers, a.moveCredentialAfter},
		{"GET " + R + "/users/{id}/configured-user-storage-credential-types", viewUsers, a.userStorageCredentialTypes},
		{"PUT " + R + "/users/{id}/disable-credential-types", manageUsers, a.disableCredentialTypes},
		{"GET " + R + "/users/{id}/groups", viewUsers, a.userGroups},
		{"GET " + R + "/users/{id}/groups/count", viewUsers, a.userGroupCount},
		{"PUT " + R + "/users/{id}/groups/{group}", manageUsers, a.joinGroup},
		{"DELETE " + R + "/users/{id}/groups/{group}", manageUsers, a.leaveGroup},
		{"GET " + R + "/users/{id}/sessions", viewUsers, a.userSessions},
		{"GET " + R + "/users/{id}/offline-sessions/{client}", viewUsers, a.userOfflineSessions},
		{"GET " + R + "/users/{id}/consents", viewUsers, a.userConsents},
		{"DELETE " + R + "/users/{id}/consents/{client}", manageUsers, a.revokeConsent},
		{"POST " + R + "/users/{id}/logout", manageUsers, a.logoutUser},
		{"GET " + R + "/users/{id}/federated-identity", viewUsers, a.federatedIdentities},
		{"POST " + R + "/users/{id}/federated-identity/{alias}", manageUsers, a.addFederatedIdentity},
		{"DELETE " + R + "/users/{id}/federated-identity/{alias}", manageUsers, a.removeFederatedIdentity},

		{"GET " + R + "/users/{id}/role-mappings", viewUsers, a.allMappings},
		{"GET " + R + "/users/{id}/role-mappings/realm", viewUsers, a.listMappings(direct)},
		{"GET " + R + "/users/{id}/role-mappings/realm/composite", viewUsers, a.listMappings(effective)},
		{"GET " + R + "/users/{id}/role-mappings/realm/available", viewUsers, a.listMappings(available)},
		{"POST " + R + "/users/{id}/role-mappings/realm", manageUsers, a.changeMappings(true)},
		{"DELETE " + R + "/users/{id}/role-mappings/realm", manageUsers, a.changeMappings(false)},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}", viewUsers, a.listMappings(direct)},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}/composite", viewUsers, a.listMappings(effective)},
		{"GET " + R + "/users/{id}/role-mappings/clients/{client}/available", viewUsers, a.listMappings(available)},
		{"POST " + R + "/users/{id}/role-mappings/clients/{client}", manageUsers, a.changeMappings(true)},
		{"DELETE " + R + "/users/{id}/role-mappings/clients/{client}", manageUsers, a.changeMappings(false)},

		{"GET " + R + "/groups", viewUsers, a.listGroups},
		{"GET " + R + "/groups/count", viewUsers, a.countGroups},
		{"POST " + R + "/groups", manageUsers, a.createGroup},
		{"GET " + R + "/groups/{group}", viewUsers, a.getGroup},
		{"PUT " + R + "/groups/{group}", manageUsers, a.updateGroup},
		{"DELETE " + R + "/groups/{group}", manageUsers, a.deleteGroup},
		{"GET " + R + "/groups/{group}/children", viewUsers, a.listChildren},
		{"POST " + R + "/groups/{group}/children", manageUsers, a.createGroup},
		{"GET " + R + "/groups/{group}/members", viewUsers, a.groupMembers},
		{"GET " + R + "/group-by-path/{path...}", viewUsers, a.groupByPath},
		{"GET " + R + "/default-groups", viewRealm, a.defaultGroups},
		{"PUT " + R + "/default-groups/{group}", manageRealm, a.changeDefaultGroup(true)},
		{"DELETE " + R + "/default-groups/{group}", manageRealm, a.changeDefaultGroup(false)},
		{"GET " + R + "/groups/{group}/role-mappings", viewUsers, a.allMappings},
		{"GET " + R + "/groups/{group}/role-mappings/realm", viewUsers, a.listMappings(direct)},
		{"GET " + R + "/groups/{group}/role-mappings/realm/composite", viewUsers, a.listMappings(effective)},
		{"GET " + R + "/groups/{group}/role-mappings/realm/available", viewUsers, a.listMappings(available)},
		{"POST " + R + "/groups/{group}/role-mappings/realm", manageUsers, a.changeMappings(true)},
		{"DELETE " + R + "/groups/{group}/role-mappings/realm", manageUsers, a.changeMappings(false)},
		{"GET " + R + "/groups/{group}/role-mappings/clients/{client}", viewUsers, a.listMappings(direct)},
		{"GET " + R + "/groups/{group}/role-mappings/clients/{client}/composite", viewUsers, a.listMappings(effective)},
		{"GET " + R + "/groups/{group}/role-mappings/clients/{client}/available", viewUsers, a.listMappings(available)},
		{"POST " + R + "/groups/{group}/role-mappings/clients/{client}", manageUsers, a.changeMappings(true)},
		{"DELETE " + R + "/groups/{group}/role-mappings/clients/{client}", manageUsers, a.changeMappings(false)},

		{"GET " + R + "/clients", viewClients, a.listClients},
		{"POST " + R + "/clients", manageClients, a.createClient},
		{"GET " + R + "/clients/{client}", viewClients, a.getClient},
		{"PUT " + R + "/clients/{client}", manageClients, a.updateClient},
		{"DELETE " + R + "/clients/{client}", manageClients, a.deleteClient},
		{"GET " + R + "/clients/{client}/client-secret", viewClients, a.getSecret},
		{"POST " + R + "/clients/{client}/client-secret", manageClients, a.regenerateSecret},
		{"GET " + R + "/clients/{client}/service-account-user", viewClients, a.serviceAccountUser},
		{"GET " + R + "/clients/{client}/installation/providers/{provider}", viewClients, a.installationProvider},
		{"GET " + R + "/clients/{client}/user-sessions", viewClients, a.clientSessions},
		{"GET " + R + "/clients/{client}/offline-sessions", viewClients, a.clientOfflineSessions},
		{"GET " + R + "/clients/{client}/session-count", viewClients, a.clientSessionCount(false)},
		{"GET " + R + "/clients/{client}/offline-session-count", viewClients, a.clientSessionCount(true)},
		{"GET " + R + "/clients/{client}/roles", viewClients, a.listRoles},
		{"POST " + R + "/clients/{client}/roles", manageClients, a.createRole},
		{"GET " + R + "/clients/{client}/roles/{role}", viewClients, a.getRole},
		{"PUT " + R + "/clients/{client}/roles/{role}", manageClients, a.updateRole},
		{"DELETE " + R + "/clients/{client}/roles/{role}", manageClients, a.deleteRole},

		{"GET " + R + "/clients/{client}/roles/{role}/composites", viewClients, a.listComposites(allComposites)},
		{"GET " + R + "/clients/{client}/roles/{role}/composites/realm", viewClients, a.listComposites(realmComposites)},
		{"GET " + R + "/clients/{client}/roles/{role}/composites/clients/{ofclient}", viewClients, a.listComposites(clientComposites)},
		{"POST " + R + "/clients/{client}/roles/{role}/composites", manageClients, a.changeComposites(true)},
		{"DELETE " + R + "/clients/{client}/roles/{role}/composites", manageClients, a.changeComposites(false)},
		{"GET " + R + "/clients/{client}/roles/{role}/users", viewUsers, a.roleMembers},

		{"GET " + R + "/roles", anyRole, a.listRoles},
		{"POST " + R + "/roles", manageRealm, a.createRole},
		{"GET " + R + "/roles/{role}", anyRole, a.getRole},
		{"PUT " + R + "/roles/{role}", manageRealm, a.updateRole},
		{"DELETE " + R + "/roles/{role}", manageRealm, a.deleteRole},
		{"GET " + R + "/roles/{role}/composites", anyRole, a.listComposites(allComposites)},
		{"GET " + R + "/roles/{role}/composites/realm", anyRole, a.listComposites(realmComposites)},
		{"GET " + R + "/roles/{role}/composites/clients/{ofclient}", anyRole, a.listComposites(clientComposites)},
		{"POST " + R + "/roles/{role}/composites", manageRealm, a.changeComposites(true)},
		{"DELETE " + R + "/roles/{role}/composites", manageRealm, a.changeComposites(false)},
		{"GET " + R + "/roles/{role}/users", viewUsers, a.roleMembers},

		// By id: the role's container decides what a write needs (targetRole).
		{"GET " + R + "/roles-by-id/{roleid}", anyRole, a.getRole},
		{"PUT " + R + "/roles-by-id/{roleid}", anyRole, a.updateRole},
		{"DELETE " + R + "/roles-by-id/{roleid}", anyRole, a.deleteRole},
		{"GET " + R + "/roles-by-id/{roleid}/composites", anyRole, a.listComposites(allComposites)},
		{"GET " + R + "/roles-by-id/{roleid}/composites/realm", anyRole, a.listComposites(realmComposites)},
		{"GET " + R + "/roles-by-id/{roleid}/composites/clients/{ofclient}", anyRole, a.listComposites(clientComposites)},
		{"POST " + R + "/roles-by-id/{roleid}/composites", anyRole, a.changeComposites(true)},
		{"DELETE " + R + "/roles-by-id/{roleid}/composites", anyRole, a.changeComposites(false)},

		{"POST " + R + "/clients-initial-access", manageClients, a.createInitialAccess},
		{"GET " + R + "/clients-initial-access", manageClients, a.listInitialAccess},
		{"DELETE " + R + "/clients-initial-access/{id}", manageClients, a.deleteInitialAccess},

		{"GET " + R + "/attack-detection/brute-force/users/{id}", viewUsers, a.bruteForceStatus},
		{"DELETE " + R + "/attack-detection/brute-force/users/{id}", manageUsers, a.bruteForceUnlock},
		{"DELETE " + R + "/attack-detection/brute-force/users", manageUsers, a.bruteForceUnlockAll},

		{"GET " + R + "/keys", viewRealm, a.realmKeys},
		{"POST " + R + "/clear-realm-cache", manageRealm, a.clearRealmCache},
		{"POST " + R + "/clear-user-cache", manageRealm, a.clearUserCache},
		{"POST " + R + "/clear-keys-cache", manageRealm, a.clearKeysCache},

		{"GET " + R + "/client-session-stats", viewRealm, a.clientSessionStats},
		{"DELETE " + R + "/sessions/{session}", manageUsers, a.deleteSession},
		{"POST " + R + "/logout-all", manageUsers, a.logoutAll},

		{"GET " + R + "/events", viewEvents, a.listEvents},
		{"DELETE " + R + "/events", manageEvents, a.clearEvents},
		{"GET " + R + "/admin-events", viewEvents, a.listAdminEvents},
		{"DELETE " + R + "/admin-events", manageEvents, a.clearAdminEvents},
		{"GET " + R + "/events/config", viewEvents, a.getEventsConfig},
		{"PUT " + R + "/events/config", manageEvents, a.updateEventsConfig},

		{"GET " + R + "/client-scopes", viewClients, a.listClientScopes},
		{"GET " + R + "/clients/{client}/scope-mappings", viewClients, a.allScopeMappings},
		{"GET " + R + "/clients/{client}/scope-mappings/realm", viewClients, a.listScopeMappings(direct)},
		{"GET " + R + "/clients/{client}/scope-mappings/realm/composite", viewClients, a.listScopeMappings(effective)},
		{"GET " + R + "/clients/{client}/scope-mappings/realm/available", viewClients, a.listScopeMappings(available)},
		{"POST " + R + "/clients/{client}/scope-mappings/realm", manageClients, a.changeScopeMappings(true)},
		{"DELETE " + R + "/clients/{client}/scope-mappings/realm", manageClients, a.changeScopeMappings(false)},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", viewClients, a.listScopeMappings(direct)},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}/composite", viewClients, a.listScopeMappings(effective)},
		{"GET " + R + "/clients/{client}/scope-mappings/clients/{ofclient}/available", viewClients, a.listScopeMappings(available)},
		{"POST " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(true)},
		{"DELETE " + R + "/clients/{client}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(false)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings", viewClients, a.allScopeMappings},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm", viewClients, a.listScopeMappings(direct)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm/composite", viewClients, a.listScopeMappings(effective)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/realm/available", viewClients, a.listScopeMappings(available)},
		{"POST " + R + "/client-scopes/{scope}/scope-mappings/realm", manageClients, a.changeScopeMappings(true)},
		{"DELETE " + R + "/client-scopes/{scope}/scope-mappings/realm", manageClients, a.changeScopeMappings(false)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", viewClients, a.listScopeMappings(direct)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}/composite", viewClients, a.listScopeMappings(effective)},
		{"GET " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}/available", viewClients, a.listScopeMappings(available)},
		{"POST " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(true)},
		{"DELETE " + R + "/client-scopes/{scope}/scope-mappings/clients/{ofclient}", manageClients, a.changeScopeMappings(false)},
		{"GET " + R + "/default-default-client-scopes", viewRealm, a.realmScopeList(false)},
		{"PUT " + R + "/default-default-client-scopes/{scope}", manageRealm, a.changeRealmScope(false, true)},
		{"DELETE " + R + "/default-default-client-scopes/{scope}", manageRealm, a.changeRealmScope(false, false)},
		{"GET " + R + "/default-optional-client-scopes", viewRealm, a.realmScopeList(true)},
		{"PUT " + R + "/default-optional-client-scopes/{scope}", manageRealm, a.changeRealmScope(true, true)},
		{"DELETE " + R + "/default-optional-client-scopes/{scope}", manageRealm, a.changeRealmScope(true, false)},
		{"POST " + R + "/client-scopes", manageClients, a.createClientScope},
		{"GET " + R + "/client-scopes/{scope}", viewClients, a.getClientScope},
		{"PUT " + R + "/client-scopes/{scope}", manageClients, a.updateClientScope},
		{"DELETE " + R + "/client-scopes/{scope}", manageClients, a.deleteClientScope},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/models", viewClients, a.listMappers},
		{"POST " + R + "/client-scopes/{scope}/protocol-mappers/models", manageClients, a.addMappers(false)},
		{"POST " + R + "/client-scopes/{scope}/protocol-mappers/add-models", manageClients, a.addMappers(true)},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", viewClients, a.getMapper},
		{"PUT " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", manageClients, a.updateMapper},
		{"DELETE " + R + "/client-scopes/{scope}/protocol-mappers/models/{mapper}", manageClients, a.deleteMapper},
		{"GET " + R + "/client-scopes/{scope}/protocol-mappers/protocol/{protocol}", viewClients, a.listMappers},

		{"GET " + R + "/clients/{client}/protocol-mappers/models", viewClients, a.listMappers},
		{"POST " + R + "/clients/{client}/protocol-mappers/models", manageClients, a.addMappers(false)},
		{"POST " + R + "/clients/{client}/protocol-mappers/add-models", manageClients, a.addMappers(true)},
		{"GET " + R + "/clients/{client}/protocol-mappers/models/{mapper}", viewClients, a.getMapper},
		{"PUT " + R + "/clients/{client}/protocol-mappers/models/{mapper}", manageClients, a.updateMapper},
		{"DELETE " + R + "/clients/{client}/protocol-mappers/models/{mapper}", manageClients, a.deleteMapper},
		{"GET " + R + "/clients/{client}/protocol-mappers/protocol/{protocol}", viewClients, a.listMappers},
		{"GET " + R + "/clients/{client}/default-client-scopes", viewClients, a.clientScopeList(false)},
		{"PUT " + R + "/clients/{client}/default-client-scopes/{scope}", manageClients, a.changeClientScope(false, true)},
		{"DELETE " + R + "/clients/{client}/default-client-scopes/{scope}", manageClients, a.changeClientScope(false, false)},
		{"GET " + R + "/clients/{client}/optional-client-scopes", viewClients, a.clientScopeList(true)},
		{"PUT " + R + "/clients/{client}/optional-client-scopes/{scope}", manageClients, a.changeClientScope(true, true)},
		{"DELETE " + R + "/clients/{client}/optional-client-scopes/{scope}", manageClients, a.changeClientScope(true, false)},

		{"GET " + R + "/components", viewRealm, a.listComponents},
		{"POST " + R + "/components", manageRealm, a.createComponent},
		{"GET " + R + "/components/{id}", viewRealm, a.getComponent},
		{"PUT " + R + "/components/{id}", manageRealm, a.updateComponent},
		{"DELETE " + R + "/components/{id}", manageRealm, a.deleteComponent},
		{"POST " + R + "/testLDAPConnection", manageRealm, a.testLDAPConnection},
		{"POST " + R + "/testSMTPConnection", manageRealm, a.testSMTPConnection},
		{"POST " + R + "/ldap-server-capabilities", manageRealm, a.ldapServerCapabilities},
		{"GET " + R + "/user-storage/{id}/name", viewUsers, a.userStorageName},
		{"POST " + R + "/user-storage/{id}/remove-imported-users", manageUsers, a.removeImportedUsers},
		{"POST " + R + "/user-storage/{id}/unlink-users", manageUsers, a.unlinkUsers},
		{"POST " + R + "/user-storage/{id}/sync", manageUsers, a.syncUserStorage},
		{"POST " + R + "/user-storage/{id}/mappers/{mapper}/sync", manageRealm, a.syncUserStorageMapper},

		{"GET " + R + "/identity-provider/instances", viewIDPs, a.listIDPs},
		{"GET " + R + "/identity-provider/providers/{provider_id}", viewIDPs, a.idpFactory},
		{"POST " + R + "/identity-provider/import-config", manageIDPs, a.importIDPConfig},
		{"POST " + R + "/identity-provider/instances", manageIDPs, a.createIDP},
		{"GET " + R + "/identity-provider/instances/{alias}", viewIDPs, a.getIDP},
		{"PUT " + R + "/identity-provider/instances/{alias}", manageIDPs, a.updateIDP},
		{"DELETE " + R + "/identity-provider/instances/{alias}", manageIDPs, a.deleteIDP},
		{"GET " + R + "/identity-provider/instances/{alias}/mapper-types", viewIDPs, a.idpMapperTypes},
		{"GET " + R + "/identity-provider/instances/{alias}/export", viewIDPs, a.exportIDP},
		{"GET " + R + "/identity-provider/instances/{alias}/mappers", viewIDPs, a.listIDPMappers},
		{"POST " + R + "/identity-provider/instances/{alias}/mappers", manageIDPs, a.createIDPMapper},
		{"GET " + R + "/identity-provider/instances/{alias}/mappers/{id}", viewIDPs, a.getIDPMapper},
		{"PUT " + R + "/identity-provider/instances/{alias}/mappers/{id}", manageIDPs, a.updateIDPMapper},
		{"DELETE " + R + "/identity-provider/instances/{alias}/mappers/{id}", manageIDPs, a.deleteIDPMapper},
	}
}

// route authenticates, authorises and runs h, mapping its error.
func (a *API) route(need perm, h handler) http.HandlerFunc {
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
	}
}
