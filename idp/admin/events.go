package admin

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// SetEvents makes every successful write through the admin API an admin
// event (Keycloak's AdminEvent) recorded by rec, and lets the events
// endpoints flush it before they read.
func (a *API) SetEvents(rec *events.Recorder) { a.events = rec }

// eventRep is Keycloak's EventRepresentation.
type eventRep struct {
	ID        string            `json:"id"`
	Time      int64             `json:"time"`
	Type      string            `json:"type"`
	RealmID   string            `json:"realmId"`
	ClientID  string            `json:"clientId,omitempty"`
	UserID    string            `json:"userId,omitempty"`
	SessionID string            `json:"sessionId,omitempty"`
	IPAddress string            `json:"ipAddress,omitempty"`
	Error     string            `json:"error,omitempty"`
	Details   map[string]string `json:"details,omitempty"`
}

// authDetailsRep is Keycloak's AuthDetailsRepresentation.
type authDetailsRep struct {
	RealmID   string `json:"realmId,omitempty"`
	ClientID  string `json:"clientId,omitempty"`
	UserID    string `json:"userId,omitempty"`
	IPAddress string `json:"ipAddress,omitempty"`
}

// adminEventRep is Keycloak's AdminEventRepresentation.
type adminEventRep struct {
	ID             string         `json:"id"`
	Time           int64          `json:"time"`
	RealmID        string         `json:"realmId"`
	AuthDetails    authDetailsRep `json:"authDetails"`
	OperationType  string         `json:"operationType"`
	ResourceType   string         `json:"resourceType,omitempty"`
	ResourcePath   string         `json:"resourcePath,omitempty"`
	Representation string         `json:"representation,omitempty"`
	Error          string         `json:"error,omitempty"`
}

// eventsConfigRep is Keycloak's RealmEventsConfigRepresentation.
type eventsConfigRep struct {
	EventsEnabled             *bool    `json:"eventsEnabled,omitempty"`
	EventsExpiration          *int64   `json:"eventsExpiration,omitempty"`
	EventsListeners           []string `json:"eventsListeners"`
	EnabledEventTypes         []string `json:"enabledEventTypes"`
	AdminEventsEnabled        *bool    `json:"adminEventsEnabled,omitempty"`
	AdminEventsDetailsEnabled *bool    `json:"adminEventsDetailsEnabled,omitempty"`
}

// dateParam reads Keycloak's dateFrom/dateTo: "yyyy-MM-dd" (dateTo counts
// the whole day) or unix milliseconds.
func dateParam(q url.Values, name string, end bool) (time.Time, error) {
	v := q.Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		return time.UnixMilli(n), nil
	}
	t, err := time.ParseInLocation("2006-01-02", v, time.Local)
	if err != nil {
		return time.Time{}, badRequest("Invalid value for '" + name + "', expected format is yyyy-MM-dd")
	}
	if end {
		t = t.Add(24*time.Hour - time.Millisecond)
	}
	return t, nil
}

// maxFilterValues bounds each list filter of an event search (type,
// operationTypes, resourceTypes): Keycloak's own sets are smaller.
const maxFilterValues = 256

// filterValues is a list filter as the store gets it: duplicates dropped,
// at most maxFilterValues (400 past it), its length rounded up to a power
// of two by repeating the last value. IN (...) matches the same rows, and
// the store sees a few statement shapes instead of one per length a caller
// picks (it keeps every query text it was given).
func filterValues(name string, vs []string) ([]string, error) {
	if len(vs) == 0 {
		return nil, nil
	}
	out := make([]string, 0, len(vs))
	seen := make(map[string]bool, len(vs))
	for _, v := range vs {
		if !seen[v] {
			seen[v] = true
			out = append(out, v)
		}
	}
	if len(out) > maxFilterValues {
		return nil, badRequest("Too many values for '" + name + "'")
	}
	n := 1
	for n < len(out) {
		n *= 2
	}
	for len(out) < n {
		out = append(out, out[len(out)-1])
	}
	return out, nil
}

func (a *API) flushEvents(ctx context.Context) {
	if a.events != nil {
		ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		a.events.Flush(ctx)
	}
}

// listEvents is GET /admin/realms/{realm}/events (Keycloak's getEvents).
func (a *API) listEvents(c *call) error {
	q := c.r.URL.Query()
	first, max, err := c.page(100)
	if err != nil {
		return err
	}
	types, err := filterValues("type", q["type"])
	if err != nil {
		return err
	}
	eq := store.EventQuery{Types: types, Client: q.Get("client"), User: q.Get("user"), IPAddress: q.Get("ipAddress"),
		First: first, Max: max}
	if eq.From, err = dateParam(q, "dateFrom", false); err != nil {
		return err
	}
	if eq.To, err = dateParam(q, "dateTo", true); err != nil {
		return err
	}
	a.flushEvents(c.ctx)
	es, err := a.st.ListEvents(c.ctx, c.realm.ID, eq)
	if err != nil {
		return err
	}
	out := make([]eventRep, 0, len(es))
	for _, e := range es {
		out = append(out, eventRep{ID: e.ID, Time: e.Time.UnixMilli(), Type: e.Type, RealmID: e.RealmID, ClientID: e.ClientID,
			UserID: e.UserID, SessionID: e.SessionID, IPAddress: e.IPAddress, Error: e.Error, Details: e.Details})
	}
	return c.ok(out)
}

// listAdminEvents is GET /admin/realms/{realm}/admin-events.
func (a *API) listAdminEvents(c *call) error {
	q := c.r.URL.Query()
	first, max, err := c.page(100)
	if err != nil {
		return err
	}
	ops, err := filterValues("operationTypes", q["operationTypes"])
	if err != nil {
		return err
	}
	kinds, err := filterValues("resourceTypes", q["resourceTypes"])
	if err != nil {
		return err
	}
	aq := store.AdminEventQuery{OperationTypes: ops, ResourceTypes: kinds,
		ResourcePath: q.Get("resourcePath"), AuthRealm: q.Get("authRealm"), AuthClient: q.Get("authClient"),
		AuthUser: q.Get("authUser"), AuthIPAddress: q.Get("authIpAddress"), First: first, Max: max}
	if aq.From, err = dateParam(q, "dateFrom", false); err != nil {
		return err
	}
	if aq.To, err = dateParam(q, "dateTo", true); err != nil {
		return err
	}
	a.flushEvents(c.ctx)
	es, err := a.st.ListAdminEvents(c.ctx, c.realm.ID, aq)
	if err != nil {
		return err
	}
	out := make([]adminEventRep, 0, len(es))
	for _, e := range es {
		out = append(out, adminEventRep{ID: e.ID, Time: e.Time.UnixMilli(), RealmID: e.RealmID,
			AuthDetails:   authDetailsRep{RealmID: e.AuthRealmID, ClientID: e.AuthClientID, UserID: e.AuthUserID, IPAddress: e.AuthIPAddress},
			OperationType: e.OperationType, ResourceType: e.ResourceType, ResourcePath: e.ResourcePath,
			Representation: e.Representation, Error: e.Error})
	}
	return c.ok(out)
}

func (a *API) clearEvents(c *call) error {
	a.flushEvents(c.ctx)
	if err := a.st.DeleteEvents(c.ctx, c.realm.ID); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) clearAdminEvents(c *call) error {
	a.flushEvents(c.ctx)
	if err := a.st.DeleteAdminEvents(c.ctx, c.realm.ID); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) getEventsConfig(c *call) error {
	_, s, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	e := s.Events
	exp := int64(e.EventsExpiration / time.Second)
	out := eventsConfigRep{EventsEnabled: &e.EventsEnabled, EventsListeners: e.EventsListeners,
		EnabledEventTypes: e.EnabledEventTypes, AdminEventsEnabled: &e.AdminEventsEnabled,
		AdminEventsDetailsEnabled: &e.AdminEventsDetailsEnabled}
	if exp > 0 {
		out.EventsExpiration = &exp
	}
	if out.EnabledEventTypes == nil {
		out.EnabledEventTypes = []string{}
	}
	return c.ok(out)
}

// updateEventsConfig is PUT /events/config: what the body has replaces
// the realm's events settings.
func (a *API) updateEventsConfig(c *call) error {
	var in eventsConfigRep
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	for _, l := range in.EventsListeners {
		if l != "jboss-logging" {
			return badRequest("Event listener " + l + " not found")
		}
	}
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	if in.EventsEnabled != nil {
		r.EventsEnabled = in.EventsEnabled
	}
	if in.EventsExpiration != nil {
		r.EventsExpiration = in.EventsExpiration
	}
	if in.EventsListeners != nil {
		r.EventsListeners = in.EventsListeners
	}
	if in.EnabledEventTypes != nil {
		r.EnabledEventTypes = in.EnabledEventTypes
	}
	if in.AdminEventsEnabled != nil {
		r.AdminEventsEnabled = in.AdminEventsEnabled
	}
	if in.AdminEventsDetailsEnabled != nil {
		r.AdminEventsDetailsEnabled = in.AdminEventsDetailsEnabled
	}
	row, err := rep.RealmToStore(r)
	if err != nil {
		return err
	}
	row.Created = c.realm.Created
	if err := a.st.UpdateRealm(c.ctx, row); err != nil {
		return err
	}
	c.realm = row
	return c.noContent()
}

// adminEvent records the successful write c as Keycloak's admin event.
func (a *API) adminEvent(c *call) {
	if a.events == nil || c.realm.ID == "" || c.caller == nil || c.r.Pattern == "" {
		return
	}
	if c.r.Method == http.MethodDelete && strings.HasSuffix(c.r.Pattern, "/admin/realms/{realm}") {
		return // the realm and its events are gone
	}
	op, rt := classifyRoute(c.r.Method, c.r.Pattern)
	if op == "" {
		return
	}
	_, s, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return
	}
	if !s.Events.AdminEventsEnabled && len(s.Events.EventsListeners) == 0 {
		return
	}
	prefix := "/admin/realms/" + c.r.PathValue("realm")
	path := strings.TrimPrefix(strings.TrimPrefix(c.r.URL.Path, "/auth"), prefix)
	if loc := c.w.Header().Get("Location"); loc != "" && op == "CREATE" {
		// A creation's resource is the new one: users/{new id}.
		if u, err := url.Parse(loc); err == nil {
			if i := strings.Index(u.Path, prefix+"/"); i >= 0 {
				path = u.Path[i+len(prefix):]
			}
		}
	}
	e := store.AdminEvent{RealmID: c.realm.ID, OperationType: op, ResourceType: rt, ResourcePath: strings.TrimPrefix(path, "/"),
		AuthRealmID: c.caller.realmID, AuthIPAddress: a.p.ClientIP(c.r)}
	if t := c.caller.token; t != nil {
		e.AuthUserID = t.UserID
		e.AuthClientID = t.ClientID
		// Keycloak names the caller's client by its internal id.
		if cl, err := a.st.GetClientByClientID(c.ctx, c.caller.realmID, t.ClientID); err == nil {
			e.AuthClientID = cl.ID
		}
	}
	if s.Events.AdminEventsDetailsEnabled && len(c.bodyRead) > 0 {
		e.Representation = string(c.bodyRead) // masked by the recorder
	}
	a.events.Admin(s.Events, e)
}

// routeKinds classify admin routes by the pattern's path after the realm,
// most specific first: Keycloak's ResourceType.
var routeKinds = []struct{ has, kind string }{
	{"/role-mappings/realm", "REALM_ROLE_MAPPING"},
	{"/role-mappings/clients/", "CLIENT_ROLE_MAPPING"},
	{"/scope-mappings/realm", "REALM_SCOPE_MAPPING"},
	{"/scope-mappings/clients/", "CLIENT_SCOPE_MAPPING"},
	{"users/{id}/groups/", "GROUP_MEMBERSHIP"},
	{"attack-detection/", "USER_LOGIN_FAILURE"},
	{"/protocol-mappers/", "PROTOCOL_MAPPER"},
	{"identity-provider/instances/{alias}/mappers", "IDENTITY_PROVIDER_MAPPER"},
	{"identity-provider/", "IDENTITY_PROVIDER"},
	{"clients/{client}/roles", "CLIENT_ROLE"},
	{"roles-by-id/", "REALM_ROLE"},
	{"roles", "REALM_ROLE"},
	{"clients/{client}/default-client-scopes/", "CLIENT_SCOPE_CLIENT_MAPPING"},
	{"clients/{client}/optional-client-scopes/", "CLIENT_SCOPE_CLIENT_MAPPING"},
	{"client-scopes", "CLIENT_SCOPE"},
	{"clients-initial-access", "CLIENT_INITIAL_ACCESS_MODEL"},
	{"clients", "CLIENT"},
	{"groups", "GROUP"},
	{"user-storage/", "USER_FEDERATION_PROVIDER"},
	{"components", "COMPONENT"},
	{"users", "USER"},
	{"sessions/", "USER_SESSION"},
	{"events/config", "REALM"},
}

// actions are writes Keycloak records as ACTION rather than CREATE/UPDATE.
var actions = []string{"/reset-password", "/execute-actions-email", "/send-verify-email", "/logout", "/client-secret",
	"/sync", "/remove-imported-users", "/unlink-users", "/testLDAPConnection", "/ldap-server-capabilities", "/import-config",
	"/consents/{client}"}

// classifyRoute is the operation and resource type of a write route; ""
// for writes that are no admin event (reads through POST, event clears).
func classifyRoute(method, pattern string) (op, rt string) {
	_, rest, _ := strings.Cut(pattern, "/admin/realms/{realm}")
	rest = strings.TrimPrefix(rest, "/")
	switch rest {
	case "events", "admin-events":
		return "", ""
	case "testLDAPConnection", "ldap-server-capabilities", "identity-provider/import-config":
		return "", "" // nothing written
	case "logout-all", "clear-realm-cache", "clear-user-cache", "clear-keys-cache":
		return "ACTION", "REALM"
	case "":
		return "UPDATE", "REALM"
	}
	switch method {
	case http.MethodPost:
		op = "CREATE"
	case http.MethodPut:
		op = "UPDATE"
	case http.MethodDelete:
		op = "DELETE"
	default:
		return "", ""
	}
	for _, s := range actions {
		if strings.HasSuffix(rest, s) {
			op = "ACTION"
		}
	}
	if method == http.MethodPut && (strings.Contains(rest, "/groups/{group}") || strings.Contains(rest, "-client-scopes/") || strings.HasPrefix(rest, "default-groups/")) {
		op = "CREATE" // a mapping added by PUT
	}
	for _, k := range routeKinds {
		if strings.Contains(rest, k.has) {
			return op, k.kind
		}
	}
	return op, "REALM"
}
