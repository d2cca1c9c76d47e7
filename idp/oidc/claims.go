package oidc

import (
	"context"
	"encoding/json"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Token kinds a protocol mapper can write to, by Keycloak's config keys.
const (
	toAccess        = "access.token.claim"
	toID            = "id.token.claim"
	toUserinfo      = "userinfo.token.claim"
	toIntrospection = "introspection.token.claim"
)

// claimSet is what one issuance computes: the claims of each token kind.
type claimSet struct {
	access, id, userinfo map[string]any
	// introspection: the mappers' claims for an introspection answer, when
	// the subject asked for them (nil otherwise).
	introspection    map[string]any
	accessAud, idAud []string
	scope            string // the scope claim / response parameter
	// offlineAllowed: the user holds the offline_access role, within the
	// client's scope, as Keycloak requires for offline tokens.
	offlineAllowed bool
	// notSetUp: the user has pending required actions; no grant may
	// issue tokens for them (errNotSetUp).
	notSetUp bool
}

// subject is everything mappers read about the user and the login.
type subject struct {
	user     store.User
	roles    userRoles
	groups   []string // full paths
	sess     *Session
	client   *Client
	clientIP string
	// introspect: compute claimSet.introspection too.
	introspect bool
}

// appliedScopes are the client scopes in effect: the client's defaults plus
// the optional ones the request named. Unknown names were refused earlier.
func appliedScopes(m *realmModel, c *Client, granted []string) []*rep.ClientScope {
	out := make([]*rep.ClientScope, 0, len(c.Settings.DefaultClientScopes)+len(granted))
	add := func(name string) {
		if cs, ok := m.scopes[name]; ok && (cs.Protocol == "" || cs.Protocol == "openid-connect") {
			out = append(out, cs)
		}
	}
	for _, n := range c.Settings.DefaultClientScopes {
		add(n)
	}
	for _, n := range c.Settings.OptionalClientScopes {
		if slices.Contains(granted, n) {
			add(n)
		}
	}
	return out
}

// scopeParam is the scope claim: "openid" when asked for, then each applied
// scope that is included in the token scope (Keycloak leaves out roles,
// web-origins, acr and basic through include.in.token.scope=false).
func scopeParam(scopes []*rep.ClientScope, granted []string) string {
	var parts []string
	for _, g := range granted {
		if g == "openid" {
			parts = append(parts, "openid")
		}
	}
	for _, s := range scopes {
		if s.Attributes["include.in.token.scope"] == "false" {
			continue
		}
		parts = append(parts, s.Name)
	}
	return strings.Join(parts, " ")
}

// computeClaims runs every protocol mapper of the client and its applied
// scopes, as Keycloak does, for the three token kinds at once.
func computeClaims(m *realmModel, sub subject, granted []string) claimSet {
	scopes := appliedScopes(m, sub.client, granted)
	cs := claimSet{access: map[string]any{}, id: map[string]any{}, userinfo: map[string]any{}}
	if sub.introspect {
		cs.introspection = map[string]any{}
	}
	cs.scope = scopeParam(scopes, granted)

	// The client's mappers, then its applied scopes', in place (copying
	// them was an allocation per issuance).
	mappers := func(yield func(*rep.ProtocolMapper) bool) {
		for i := range sub.client.Settings.ProtocolMappers {
			if !yield(&sub.client.Settings.ProtocolMappers[i]) {
				return
			}
		}
		for _, s := range scopes {
			for i := range s.ProtocolMappers {
				if !yield(&s.ProtocolMappers[i]) {
					return
				}
			}
		}
	}
	// Hardcoded roles join the user's roles before role mappers run.
	roles := sub.roles
	for pm := range mappers {
		if pm.ProtocolMapper == "oidc-hardcoded-role-mapper" {
			roles = withRole(roles, pm.Config["role"])
		}
	}
	sub.roles = roles
	// Audience resolve runs last: it reads resource_access as built.
	var resolveAccess, resolveID bool
	for pm := range mappers {
		if pm.Protocol != "" && pm.Protocol != "openid-connect" {
			continue
		}
		targets := targetsOf(*pm)
		if pm.ProtocolMapper == "oidc-audience-resolve-mapper" {
			resolveAccess = resolveAccess || pm.Config[toAccess] != "false"
			resolveID = resolveID || pm.Config[toID] == "true"
			continue
		}
		if pm.ProtocolMapper == "oidc-audience-mapper" {
			aud := pm.Config["included.client.audience"]
			if aud == "" {
				aud = pm.Config["included.custom.audience"]
			}
			if aud != "" {
				if targets.access {
					cs.accessAud = appendUnique(cs.accessAud, aud)
				}
				if targets.id {
					cs.idAud = appendUnique(cs.idAud, aud)
				}
			}
			continue
		}
		name, value, ok := mapperValue(*pm, sub)
		if !ok {
			continue
		}
		for _, dst := range []struct {
			on bool
			m  map[string]any
		}{{targets.access, cs.access}, {targets.id, cs.id}, {targets.userinfo, cs.userinfo}, {targets.introspection && sub.introspect, cs.introspection}} {
			if dst.on {
				setClaim(dst.m, name, value)
			}
		}
	}
	if resolveAccess || resolveID {
		for _, cid := range sortedKeys(sub.roles.client) {
			if cid == sub.client.Row.ClientID {
				continue
			}
			if _, inToken := nested(cs.access, "resource_access", cid); !inToken {
				continue
			}
			if resolveAccess {
				cs.accessAud = appendUnique(cs.accessAud, cid)
			}
			if resolveID {
				cs.idAud = appendUnique(cs.idAud, cid)
			}
		}
	}
	if sub.sess.ServiceAccount {
		// Keycloak 26's service_account scope: who asked, from where.
		cs.access["client_id"] = sub.client.Row.ClientID
		cs.access["clientHost"] = sub.clientIP
		cs.access["clientAddress"] = sub.clientIP
	}
	return cs
}

// mapperTargets are the tokens a mapper writes to, and whether its claim
// shows in an introspection answer. A struct, not a map: it is read for
// every mapper of every issuance.
type mapperTargets struct{ access, id, userinfo, introspection bool }

func targetsOf(pm rep.ProtocolMapper) mapperTargets {
	t := mapperTargets{
		access:   pm.Config[toAccess] == "true",
		id:       pm.Config[toID] == "true",
		userinfo: pm.Config[toUserinfo] == "true",
	}
	// Some built-in mappers write fixed places whatever the config says.
	switch pm.ProtocolMapper {
	case "oidc-allowed-origins-mapper", "oidc-sub-mapper":
		t.access = pm.Config[toAccess] != "false"
	}
	// Keycloak's includeInIntrospection: a mapper stored before the option
	// existed (no key at all) shows in introspection when it is in the
	// access token.
	if v, ok := pm.Config[toIntrospection]; ok {
		t.introspection = v == "true"
	} else {
		t.introspection = t.access
	}
	return t
}

// mapperValue computes one mapper's claim name and value.
func mapperValue(pm rep.ProtocolMapper, sub subject) (string, any, bool) {
	cfg := pm.Config
	u := sub.user
	switch pm.ProtocolMapper {
	case "oidc-usermodel-property-mapper":
		v, ok := userProperty(u, cfg["user.attribute"])
		if !ok {
			return "", nil, false
		}
		return cfg["claim.name"], typed(v, cfg["jsonType.label"]), true
	case "oidc-usermodel-attribute-mapper":
		attr := cfg["user.attribute"]
		vals := u.Attributes[attr]
		if len(vals) == 0 {
			// Keycloak 24+ exposes the profile properties as attributes too.
			if v, ok := userProperty(u, attr); ok && v != "" {
				vals = []string{v}
			}
		}
		if len(vals) == 0 {
			return "", nil, false
		}
		if cfg["multivalued"] == "true" {
			out := make([]any, len(vals))
			for i, v := range vals {
				out[i] = typed(v, cfg["jsonType.label"])
			}
			return cfg["claim.name"], out, true
		}
		return cfg["claim.name"], typed(vals[0], cfg["jsonType.label"]), true
	case "oidc-full-name-mapper":
		name := strings.TrimSpace(u.FirstName + " " + u.LastName)
		if name == "" {
			return "", nil, false
		}
		return "name", name, true
	case "oidc-usermodel-realm-role-mapper":
		claim := cfg["claim.name"]
		if claim == "" {
			claim = "realm_access.roles"
		}
		prefix := cfg["usermodel.realmRoleMapping.rolePrefix"]
		if len(sub.roles.realm) == 0 {
			return "", nil, false
		}
		return claim, prefixed(sub.roles.realm, prefix), true
	case "oidc-usermodel-client-role-mapper":
		claim := cfg["claim.name"]
		if claim == "" {
			claim = "resource_access.${client_id}.roles"
		}
		only := cfg["usermodel.clientRoleMapping.clientId"]
		prefix := cfg["usermodel.clientRoleMapping.rolePrefix"]
		out := map[string]any{}
		for _, cid := range sortedKeys(sub.roles.client) {
			if only != "" && cid != only {
				continue
			}
			setClaim(out, strings.ReplaceAll(claim, "${client_id}", escapeDots(cid)), prefixed(sub.roles.client[cid], prefix))
		}
		if len(out) == 0 {
			return "", nil, false
		}
		return "", out, true // merged at the root
	case "oidc-group-membership-mapper":
		if len(sub.groups) == 0 {
			return "", nil, false
		}
		full := cfg["full.path"] != "false"
		out := make([]any, 0, len(sub.groups))
		for _, p := range sub.groups {
			if !full {
				p = p[strings.LastIndexByte(p, '/')+1:]
			}
			out = append(out, p)
		}
		return cfg["claim.name"], out, true
	case "oidc-hardcoded-claim-mapper":
		return cfg["claim.name"], typed(cfg["claim.value"], cfg["jsonType.label"]), true
	case "oidc-allowed-origins-mapper":
		origins := webOrigins(sub.client)
		if len(origins) == 0 {
			return "", nil, false
		}
		out := make([]any, len(origins))
		for i, o := range origins {
			out[i] = o
		}
		return "allowed-origins", out, true
	case "oidc-acr-mapper":
		if sub.sess.ACR != "" {
			return "acr", sub.sess.ACR, true
		}
		return "acr", "1", true
	case "oidc-sub-mapper":
		return "sub", u.ID, true
	case "oidc-usersessionmodel-note-mapper":
		var v string
		switch cfg["user.session.note"] {
		case "AUTH_TIME":
			if sub.sess.AuthTime.IsZero() {
				return "", nil, false
			}
			return cfg["claim.name"], typed(strconv.FormatInt(sub.sess.AuthTime.Unix(), 10), cfg["jsonType.label"]), true
		case "clientId":
			v = sub.client.Row.ClientID
		case "clientHost", "clientAddress":
			v = sub.clientIP
		default:
			return "", nil, false
		}
		if !sub.sess.ServiceAccount {
			return "", nil, false
		}
		return cfg["claim.name"], typed(v, cfg["jsonType.label"]), true
	case "oidc-address-mapper":
		addr := map[string]any{}
		for _, k := range []string{"formatted", "street", "locality", "region", "postal_code", "country"} {
			attr := cfg["user.attribute."+k]
			if attr == "" {
				attr = k
			}
			if v := u.Attributes[attr]; len(v) > 0 {
				addr[strings.TrimPrefix(k, "user.attribute.")] = v[0]
			}
		}
		if len(addr) == 0 {
			return "", nil, false
		}
		return "address", addr, true
	}
	return "", nil, false
}

func userProperty(u store.User, prop string) (string, bool) {
	switch prop {
	case "username":
		return u.Username, true
	case "email":
		return u.Email, u.Email != ""
	case "firstName":
		return u.FirstName, u.FirstName != ""
	case "lastName":
		return u.LastName, u.LastName != ""
	case "emailVerified":
		return strconv.FormatBool(u.EmailVerified), true
	case "enabled":
		return strconv.FormatBool(u.Enabled), true
	case "id":
		return u.ID, true
	case "createdTimestamp":
		return strconv.FormatInt(u.Created.UnixMilli(), 10), true
	}
	return "", false
}

// typed converts a string to the mapper's jsonType.label.
func typed(v, label string) any {
	switch strings.ToLower(label) {
	case "boolean":
		return v == "true"
	case "long", "int":
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
		return v
	case "json":
		var out any
		if json.Unmarshal([]byte(v), &out) == nil {
			return out
		}
		return v
	}
	return v
}

// setClaim writes value under a dotted claim name ("realm_access.roles";
// "\." escapes a literal dot). Lists merge, maps merge, scalars overwrite.
// An empty name merges a map value into the root.
func setClaim(dst map[string]any, name string, value any) {
	if name == "" {
		if m, ok := value.(map[string]any); ok {
			mergeMaps(dst, m)
		}
		return
	}
	cur, last := dst, name
	if strings.Contains(name, ".") { // a nested claim ("realm_access.roles")
		parts := splitClaim(name)
		for _, p := range parts[:len(parts)-1] {
			next, ok := cur[p].(map[string]any)
			if !ok {
				next = map[string]any{}
				cur[p] = next
			}
			cur = next
		}
		last = parts[len(parts)-1]
	}
	switch nv := value.(type) {
	case []any:
		if old, ok := cur[last].([]any); ok {
			for _, v := range nv {
				old = appendUniqueAny(old, v)
			}
			cur[last] = old
			return
		}
	case []string:
		arr := make([]any, 0, len(nv))
		for _, v := range nv {
			arr = appendUniqueAny(arr, v)
		}
		if old, ok := cur[last].([]any); ok {
			for _, v := range arr {
				old = appendUniqueAny(old, v)
			}
			cur[last] = old
			return
		}
		cur[last] = arr
		return
	case map[string]any:
		if old, ok := cur[last].(map[string]any); ok {
			mergeMaps(old, nv)
			return
		}
	}
	cur[last] = value
}

func mergeMaps(dst, src map[string]any) {
	for k, v := range src {
		if dm, ok := dst[k].(map[string]any); ok {
			if sm, ok := v.(map[string]any); ok {
				mergeMaps(dm, sm)
				continue
			}
		}
		if da, ok := dst[k].([]any); ok {
			if sa, ok := v.([]any); ok {
				for _, x := range sa {
					da = appendUniqueAny(da, x)
				}
				dst[k] = da
				continue
			}
		}
		dst[k] = v
	}
}

func splitClaim(name string) []string {
	// Most names have no escaped dot: their parts are substrings of name
	// (one allocation, where building each part was several per mapper).
	if !strings.Contains(name, `\.`) {
		return strings.Split(name, ".")
	}
	var parts []string
	var cur strings.Builder
	for i := 0; i < len(name); i++ {
		switch {
		case name[i] == '\\' && i+1 < len(name) && name[i+1] == '.':
			cur.WriteByte('.')
			i++
		case name[i] == '.':
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(name[i])
		}
	}
	return append(parts, cur.String())
}

func escapeDots(s string) string { return strings.ReplaceAll(s, ".", `\.`) }

func nested(m map[string]any, keys ...string) (any, bool) {
	var cur any = m
	for _, k := range keys {
		mm, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		if cur, ok = mm[k]; !ok {
			return nil, false
		}
	}
	return cur, true
}

func prefixed(names []string, prefix string) []string {
	if prefix == "" {
		return names
	}
	out := make([]string, len(names))
	for i, n := range names {
		out[i] = prefix + n
	}
	return out
}

// withRole adds a hardcoded role: "name" for a realm role, "client.name" for
// a client role.
func withRole(r userRoles, role string) userRoles {
	if role == "" {
		return r
	}
	out := userRoles{realm: append([]string(nil), r.realm...), client: map[string][]string{}}
	for k, v := range r.client {
		out.client[k] = append([]string(nil), v...)
	}
	if i := strings.IndexByte(role, '.'); i > 0 {
		cid, name := role[:i], role[i+1:]
		out.client[cid] = appendUnique(out.client[cid], name)
	} else {
		out.realm = appendUnique(out.realm, role)
	}
	return out
}

// webOrigins resolves the client's webOrigins: "+" means the origins of its
// redirect URIs, "*" any origin.
func webOrigins(c *Client) []string {
	var out []string
	for _, o := range c.Settings.WebOrigins {
		if o == "+" {
			for _, r := range c.Settings.RedirectURIs {
				if u, err := url.Parse(strings.TrimSuffix(r, "*")); err == nil && u.Scheme != "" && u.Host != "" {
					out = appendUnique(out, u.Scheme+"://"+u.Host)
				}
			}
			continue
		}
		out = appendUnique(out, strings.TrimSuffix(o, "/"))
	}
	return out
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func appendUniqueAny(s []any, v any) []any {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// loadSubject gathers what mappers need about a user, from the store.
func (p *Provider) loadSubject(ctx context.Context, r *Realm, m *realmModel, c *Client, sess *Session) (subject, *realmModel, error) {
	var u store.User
	var err error
	if l := sess.loaded; l != nil && l.ID == sess.UserID && l.RealmID == r.Row.ID {
		u = *l
	} else if f := sess.found; f != nil && f.User != nil && f.User.ID == sess.UserID && f.User.RealmID == r.Row.ID {
		u = *f.User
	} else if u, err = p.st.GetUser(ctx, r.Row.ID, sess.UserID); err != nil {
		return subject{}, m, err
	}
	g, err := p.grants.get(ctx, r.Row.ID, u.ID)
	if err != nil {
		return subject{}, m, err
	}
	direct, groups := g.roles, g.groups
	if m, err = p.models.current(ctx, r.Row.ID, m, direct, groups); err != nil {
		return subject{}, m, err
	}
	roles, err := m.effectiveRoles(ctx, p.st, r.Row.ID, direct, groups)
	if err != nil {
		return subject{}, m, err
	}
	paths := make([]string, 0, len(groups))
	for _, g := range groups {
		paths = append(paths, m.groupPath(g.ID))
	}
	sort.Strings(paths)
	return subject{user: u, roles: roles, groups: paths, sess: sess, client: c, clientIP: remoteIP(ctx)}, m, nil
}

// now is the clock; tests may replace it.
var now = time.Now
