package ldap

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// How a membership mapper finds a user's LDAP groups
// (UserRolesRetrieveStrategy).
type strategy int

const (
	byMember          strategy = iota // groups whose member attribute holds the user
	fromMemberOf                      // the user's memberOf values
	byMemberRecursive                 // Active Directory's in-chain matching rule
)

// inChain is Active Directory's LDAP_MATCHING_RULE_IN_CHAIN: a member
// filter that also matches through nested groups.
const inChain = ":1.2.840.113556.1.4.1941:"

// universeTTL bounds how long a mapper trusts its list of the
// directory's groups: the groups it owns (to remove memberships the
// directory no longer gives) and the nesting of groups. Memberships
// themselves are always read live at login.
const universeTTL = 60 * time.Second

// memberOfChunk bounds the names or-ed in one group query.
const memberOfChunk = 100

// perUserBatch is the page size up to which a page of users is resolved
// with one group query per user rather than by loading every group with
// its members.
const perUserBatch = 20

// membershipMapper is group-ldap-mapper and role-ldap-mapper: LDAP groups
// under a base DN become keygate groups (paths under groups.path, nested
// with preserve.group.inheritance) or realm or client roles.
type membershipMapper struct {
	dir  directory
	log  *slog.Logger
	id   string // the mapper component's id
	name string
	role bool

	baseDN         string
	base           *goldap.DN
	nameAttr       string
	classes        []string
	filter         string // groups.ldap.filter / roles.ldap.filter, applied to every group query
	memberAttr     string
	memberUID      bool
	memberUserAttr string
	strategy       strategy
	memberOfAttr   string
	importOnly     bool
	scope          int
	pageSize       uint32 // 0: no paged results

	inherit    bool   // groups: preserve.group.inheritance
	pathPrefix string // groups: groups.path without its trailing "/"
	client     string // roles: "" for realm roles, else the clientId

	now      func() time.Time
	mu       sync.Mutex
	cached   *universe
	inflight *flight
}

// ldapGroup is one group (or role) entry of the directory.
type ldapGroup struct {
	dn, key string
	name    string
	members []string // loaded only when the universe is
	path    string   // groups: the keygate group path
}

// universe is every group a mapper maps, as the directory has them.
type universe struct {
	groups      []*ldapGroup
	byKey       map[string]*ldapGroup
	withMembers bool
	loaded      time.Time
	index       map[string][]*ldapGroup // member value -> groups; batch resolution
}

type flight struct {
	done        chan struct{}
	withMembers bool
	u           *universe
	err         error
}

func newMembershipMapper(cfg *Config, dir directory, log *slog.Logger, c store.Component) (*membershipMapper, error) {
	get := func(k string) string { return first(c.Config[k]) }
	m := &membershipMapper{dir: dir, log: log, id: c.ID, name: c.Name, role: c.ProviderID == mapperRole, now: time.Now,
		scope: cfg.SearchScope}
	if cfg.Pagination {
		m.pageSize = uint32(cfg.BatchSizeForSync)
	}
	kind := "groups"
	nameKey, classKey, filterKey := "group.name.ldap.attribute", "group.object.classes", "groups.ldap.filter"
	if m.role {
		kind = "roles"
		nameKey, classKey, filterKey = "role.name.ldap.attribute", "role.object.classes", "roles.ldap.filter"
	}
	m.baseDN = get(kind + ".dn")
	if m.baseDN == "" {
		return nil, fmt.Errorf("%s.dn is required", kind)
	}
	var err error
	if m.base, err = goldap.ParseDN(m.baseDN); err != nil {
		return nil, fmt.Errorf("%s.dn %q: %w", kind, m.baseDN, err)
	}
	m.nameAttr = or2(get(nameKey), "cn")
	classes := get(classKey)
	if classes == "" {
		classes = "groupOfNames"
		if cfg.Vendor == "ad" {
			classes = "group"
		}
	}
	for _, oc := range strings.Split(classes, ",") {
		if oc = strings.TrimSpace(oc); oc != "" {
			m.classes = append(m.classes, oc)
		}
	}
	m.filter = customFilter(get(filterKey))
	if err := validFilter(m.filter); err != nil {
		return nil, fmt.Errorf("%s: %w", filterKey, err)
	}
	m.memberAttr = or2(get("membership.ldap.attribute"), "member")
	switch strings.ToUpper(get("membership.attribute.type")) {
	case "", "DN":
	case "UID":
		m.memberUID = true
	default:
		return nil, errors.New("membership.attribute.type must be DN or UID")
	}
	m.memberUserAttr = or2(get("membership.user.ldap.attribute"), cfg.UsernameAttribute)
	m.memberOfAttr = or2(get("memberof.ldap.attribute"), "memberOf")
	for key, a := range map[string]string{nameKey: m.nameAttr, "membership.ldap.attribute": m.memberAttr,
		"membership.user.ldap.attribute": m.memberUserAttr, "memberof.ldap.attribute": m.memberOfAttr} {
		if err := checkAttr(key, a); err != nil {
			return nil, err
		}
	}
	switch s := strings.ToUpper(get("user.roles.retrieve.strategy")); s {
	case "", "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE", "LOAD_ROLES_BY_MEMBER_ATTRIBUTE":
		m.strategy = byMember
	case "GET_GROUPS_FROM_USER_MEMBEROF_ATTRIBUTE", "GET_ROLES_FROM_USER_MEMBEROF_ATTRIBUTE":
		m.strategy = fromMemberOf
	case "LOAD_GROUPS_BY_MEMBER_ATTRIBUTE_RECURSIVELY", "LOAD_ROLES_BY_MEMBER_ATTRIBUTE_RECURSIVELY":
		m.strategy = byMemberRecursive
	default:
		return nil, fmt.Errorf("user.roles.retrieve.strategy %q is not one Keycloak knows", s)
	}
	switch strings.ToUpper(get("mode")) {
	case "IMPORT":
		m.importOnly = true
	case "READ_ONLY", "LDAP_ONLY":
		// Both are live: the grant is recomputed at every login and
		// sync, and LDAP_ONLY's writes to the directory are not built.
	case "":
		return nil, errors.New("mode is required")
	default:
		return nil, errors.New("mode must be READ_ONLY, LDAP_ONLY or IMPORT")
	}
	if m.role {
		var realm bool
		if m.client, realm = RoleMapperClient(c.Config); !realm && m.client == "" {
			return nil, errors.New("client.id is required when use.realm.roles.mapping is false")
		}
		return m, nil
	}
	m.inherit = parseBool(get("preserve.group.inheritance"))
	if m.inherit && m.memberUID {
		return nil, errors.New("preserve.group.inheritance cannot be used with membership.attribute.type UID")
	}
	m.pathPrefix = GroupsPath(c.Config)
	return m, nil
}

// RoleMapperClient is how a role-ldap-mapper with config reads
// use.realm.roles.mapping and client.id: realm roles when the setting is
// absent or true (Keycloak's RoleMapperConfig), else the roles of client
// clientID. The admin API's no-escalation check reads it here too, so that
// it checks the roles the mapper grants.
func RoleMapperClient(config map[string][]string) (clientID string, realm bool) {
	if v := first(config["use.realm.roles.mapping"]); v == "" || parseBool(v) {
		return "", true
	}
	return first(config["client.id"]), false
}

// GroupsPath is the path a group-ldap-mapper with config places its groups
// under: groups.path with a leading "/" and without trailing ones, "" for
// the top level. The admin API's no-escalation check reads it here too.
func GroupsPath(config map[string][]string) string {
	p := strings.TrimSpace(first(config["groups.path"]))
	if !strings.HasPrefix(p, "/") {
		p = "/" + p
	}
	return strings.TrimRight(p, "/")
}

func or2(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

// tree reports whether group paths depend on the nesting of LDAP groups.
func (m *membershipMapper) tree() bool { return !m.role && m.inherit }

func (m *membershipMapper) attributes() []string {
	var out []string
	if m.strategy == fromMemberOf {
		out = append(out, m.memberOfAttr)
	}
	if m.memberUID {
		out = append(out, m.memberUserAttr)
	}
	return out
}

func (m *membershipMapper) refresh() {
	m.mu.Lock()
	m.cached = nil
	m.mu.Unlock()
}

// groupFilter is the filter of every group query: the object classes,
// the mapper's custom filter, then conds.
func (m *membershipMapper) groupFilter(conds ...string) string {
	parts := objectClasses(m.classes)
	parts = append(parts, m.filter)
	return and(append(parts, conds...)...)
}

// memberValue is what a group's member attribute holds for the user:
// its DN, or (UID membership) its membership.user.ldap.attribute.
func (m *membershipMapper) memberValue(e *goldap.Entry) string {
	if m.memberUID {
		return value(e, m.memberUserAttr)
	}
	return e.DN
}

func (m *membershipMapper) memberKey(v string) string {
	if m.memberUID {
		return strings.ToLower(v)
	}
	return dnKey(v)
}

func (m *membershipMapper) grant(ctx context.Context, e *goldap.Entry) (federation.Grant, error) {
	matched, err := m.userGroups(ctx, e)
	if err != nil {
		return federation.Grant{}, err
	}
	var u *universe
	if !m.importOnly || m.tree() {
		if u, err = m.universe(ctx, m.tree()); err != nil {
			return federation.Grant{}, err
		}
	}
	if m.tree() {
		if matched, err = m.inTree(ctx, u, matched); err != nil {
			return federation.Grant{}, err
		}
	}
	return m.makeGrant(u, matched), nil
}

func (m *membershipMapper) grants(ctx context.Context, entries []*goldap.Entry) ([]federation.Grant, error) {
	out := make([]federation.Grant, len(entries))
	if len(entries) <= perUserBatch || m.strategy == byMemberRecursive {
		// The recursive rule is evaluated by the directory, one user at a
		// time: a local closure would miss nesting through groups outside
		// the mapper's base or filter.
		for i, e := range entries {
			g, err := m.grant(ctx, e)
			if err != nil {
				return nil, err
			}
			out[i] = g
		}
		return out, nil
	}
	u, err := m.universe(ctx, m.strategy == byMember || m.tree())
	if err != nil {
		return nil, err
	}
	for i, e := range entries {
		var matched []*ldapGroup
		switch m.strategy {
		case byMember:
			if v := m.memberValue(e); v != "" {
				matched = u.memberIndex(m)[m.memberKey(v)]
			}
		case fromMemberOf:
			for _, v := range values(e, m.memberOfAttr) {
				if g := u.byKey[dnKey(v)]; g != nil {
					matched = append(matched, g)
				}
			}
		}
		out[i] = m.makeGrant(u, matched)
	}
	return out, nil
}

// userGroups asks the directory for the groups of one user.
func (m *membershipMapper) userGroups(ctx context.Context, e *goldap.Entry) ([]*ldapGroup, error) {
	switch m.strategy {
	case byMember, byMemberRecursive:
		v := m.memberValue(e)
		if v == "" {
			return nil, nil
		}
		attr := m.memberAttr
		if m.strategy == byMemberRecursive {
			attr += inChain
		}
		return m.search(ctx, m.groupFilter(eq(attr, v)), nil)
	}
	// memberOf: only values under the base DN, looked up by name so that
	// the object classes and the mapper's filter apply too, then kept
	// only where the DN is exactly one the user is a member of (a group
	// of the same name elsewhere under the base does not count).
	want := map[string]bool{}
	var names []string
	for _, v := range values(e, m.memberOfAttr) {
		dn, err := goldap.ParseDN(v)
		if err != nil || !m.base.AncestorOfFold(dn) || len(dn.RDNs) == 0 {
			continue
		}
		name := ""
		for _, a := range dn.RDNs[0].Attributes {
			if strings.EqualFold(a.Type, m.nameAttr) {
				name = a.Value
			}
		}
		if name == "" {
			continue
		}
		want[dnKey(v)] = true
		if !slices.Contains(names, name) {
			names = append(names, name)
		}
	}
	var out []*ldapGroup
	for chunk := range slices.Chunk(names, memberOfChunk) {
		conds := make([]string, len(chunk))
		for i, n := range chunk {
			conds[i] = eq(m.nameAttr, n)
		}
		gs, err := m.search(ctx, m.groupFilter(or(conds...)), want)
		if err != nil {
			return nil, err
		}
		out = append(out, gs...)
	}
	return out, nil
}

// search runs a group query, keeping only groups whose key is in keep
// (all with keep nil).
func (m *membershipMapper) search(ctx context.Context, filter string, keep map[string]bool) ([]*ldapGroup, error) {
	req := &goldap.SearchRequest{BaseDN: m.baseDN, Scope: m.scope, Filter: filter, Attributes: []string{m.nameAttr}}
	var out []*ldapGroup
	err := m.dir.SearchPaged(ctx, req, m.pageSize, func(entries []*goldap.Entry) error {
		for _, e := range entries {
			g := m.group(e)
			if g != nil && (keep == nil || keep[g.key]) {
				out = append(out, g)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", m.what(), err)
	}
	return out, nil
}

func (m *membershipMapper) what() string {
	if m.role {
		return fmt.Sprintf("role mapper %q", m.name)
	}
	return fmt.Sprintf("group mapper %q", m.name)
}

// group reads a group entry; nil for one without a name.
func (m *membershipMapper) group(e *goldap.Entry) *ldapGroup {
	name := value(e, m.nameAttr)
	if name == "" {
		return nil
	}
	g := &ldapGroup{dn: e.DN, key: dnKey(e.DN), name: name}
	if !m.role {
		g.path = m.pathPrefix + "/" + escapeGroupName(name)
	}
	return g
}

// escapeGroupName escapes "/" inside a name as Keycloak 23+ writes
// group paths (and as the linker reads them).
func escapeGroupName(name string) string { return strings.ReplaceAll(name, "/", "~/") }

// inTree replaces the groups found for a user by the universe's copies,
// which carry their nested paths. A group the universe does not know yet
// (created since it was loaded) reloads it once.
func (m *membershipMapper) inTree(ctx context.Context, u *universe, matched []*ldapGroup) ([]*ldapGroup, error) {
	out := make([]*ldapGroup, 0, len(matched))
	reloaded := false
	for _, g := range matched {
		t := u.byKey[g.key]
		if t == nil && !reloaded {
			reloaded = true
			m.refresh()
			var err error
			if u, err = m.universe(ctx, true); err != nil {
				return nil, err
			}
			t = u.byKey[g.key]
		}
		if t == nil {
			t = g // unknown to the tree: at the top of groups.path
		}
		out = append(out, t)
	}
	return out, nil
}

// makeGrant turns the user's groups into the mapper's grant. Outside
// IMPORT mode the mapper owns every group (or role) the directory has
// for it, so that the linker removes those the user lost and leaves
// memberships granted in keygate alone.
func (m *membershipMapper) makeGrant(u *universe, matched []*ldapGroup) federation.Grant {
	g := federation.Grant{ImportOnly: m.importOnly, Create: true}
	for _, x := range matched {
		m.add(&g.Roles, &g.Groups, x)
	}
	if !m.importOnly && u != nil {
		for _, x := range u.groups {
			m.add(&g.OwnedRoles, &g.OwnedGroups, x)
		}
	}
	return g
}

func (m *membershipMapper) add(roles *[]federation.RoleRef, groups *[]string, x *ldapGroup) {
	if m.role {
		r := federation.RoleRef{Client: m.client, Name: x.name}
		if !slices.Contains(*roles, r) {
			*roles = append(*roles, r)
		}
		return
	}
	if !slices.Contains(*groups, x.path) {
		*groups = append(*groups, x.path)
	}
}

// all is the grant of every group (or role) the directory has for the
// mapper, for Keycloak's mapper sync (fedToKeycloak): the linker creates
// what keygate lacks.
func (m *membershipMapper) all(ctx context.Context) (federation.Grant, error) {
	m.refresh()
	u, err := m.universe(ctx, false)
	if err != nil {
		return federation.Grant{}, err
	}
	g := federation.Grant{Create: true}
	for _, x := range u.groups {
		m.add(&g.Roles, &g.Groups, x)
	}
	return g, nil
}

// universe returns the mapper's groups, from the cache when it is fresh
// enough (and has members when they are wanted); one load at a time per
// mapper, which callers wait for only as long as their context allows.
func (m *membershipMapper) universe(ctx context.Context, withMembers bool) (*universe, error) {
	m.mu.Lock()
	if u := m.cached; u != nil && (u.withMembers || !withMembers) && m.now().Sub(u.loaded) < universeTTL {
		m.mu.Unlock()
		return u, nil
	}
	if f := m.inflight; f != nil && (f.withMembers || !withMembers) {
		m.mu.Unlock()
		select {
		case <-f.done:
			return f.u, f.err
		case <-ctx.Done():
			return nil, fmt.Errorf("%w: %s: %w", federation.ErrUnavailable, m.what(), ctx.Err())
		}
	}
	f := &flight{done: make(chan struct{}), withMembers: withMembers}
	m.inflight = f
	m.mu.Unlock()

	f.u, f.err = m.load(ctx, withMembers)
	m.mu.Lock()
	if f.err == nil {
		m.cached = f.u
	}
	if m.inflight == f {
		m.inflight = nil
	}
	m.mu.Unlock()
	close(f.done)
	return f.u, f.err
}

func (m *membershipMapper) load(ctx context.Context, withMembers bool) (*universe, error) {
	attrs := []string{m.nameAttr}
	if withMembers {
		attrs = append(attrs, m.memberAttr)
	}
	req := &goldap.SearchRequest{BaseDN: m.baseDN, Scope: m.scope, Filter: m.groupFilter(), Attributes: attrs}
	u := &universe{byKey: map[string]*ldapGroup{}, withMembers: withMembers, loaded: m.now()}
	err := m.dir.SearchPaged(ctx, req, m.pageSize, func(entries []*goldap.Entry) error {
		for _, e := range entries {
			g := m.group(e)
			if g == nil || u.byKey[g.key] != nil {
				continue
			}
			if withMembers {
				var err error
				if g.members, err = m.members(ctx, e); err != nil {
					return err
				}
			}
			u.groups = append(u.groups, g)
			u.byKey[g.key] = g
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: loading its groups: %w", m.what(), err)
	}
	slices.SortFunc(u.groups, func(a, b *ldapGroup) int { return strings.Compare(a.key, b.key) })
	if m.tree() {
		m.nest(u)
	}
	return u, nil
}

// nest gives every group its nested path: a group that is a member of
// exactly one other group of the mapper sits under it. Keycloak refuses
// to sync a directory where a group has several parents or groups form a
// cycle; keygate puts such groups at the top of groups.path instead, so
// that one odd group does not stop every login, and says so.
func (m *membershipMapper) nest(u *universe) {
	parents := map[*ldapGroup][]*ldapGroup{}
	for _, g := range u.groups {
		for _, v := range g.members {
			if c := u.byKey[dnKey(v)]; c != nil && c != g && !slices.Contains(parents[c], g) {
				parents[c] = append(parents[c], g)
			}
		}
	}
	const (
		visiting = 1
		done     = 2
	)
	state := map[*ldapGroup]int{}
	var odd []string
	var visit func(g *ldapGroup) (string, bool)
	visit = func(g *ldapGroup) (string, bool) {
		switch state[g] {
		case done:
			return g.path, true
		case visiting:
			return "", false // a cycle
		}
		state[g] = visiting
		path := m.pathPrefix + "/" + escapeGroupName(g.name)
		switch ps := parents[g]; len(ps) {
		case 0:
		case 1:
			if pp, ok := visit(ps[0]); ok {
				path = pp + "/" + escapeGroupName(g.name)
			} else {
				odd = append(odd, g.dn)
			}
		default:
			odd = append(odd, g.dn)
		}
		g.path = path
		state[g] = done
		return path, true
	}
	for _, g := range u.groups {
		visit(g)
	}
	if len(odd) > 0 && m.log != nil {
		m.log.Warn("LDAP groups with several parents or in a cycle are placed at the top of groups.path",
			"mapper", m.name, "groups", odd)
	}
}

// memberIndex maps member values to the groups that list them, built
// once per universe.
func (u *universe) memberIndex(m *membershipMapper) map[string][]*ldapGroup {
	m.mu.Lock()
	defer m.mu.Unlock()
	if u.index == nil {
		u.index = map[string][]*ldapGroup{}
		for _, g := range u.groups {
			for _, v := range g.members {
				k := m.memberKey(v)
				u.index[k] = append(u.index[k], g)
			}
		}
	}
	return u.index
}

// members reads a group's member values, following Active Directory's
// range retrieval: a group with more members than the server's
// MaxValRange answers member;range=0-1499 and the rest is asked for in
// further base searches until a range ends in "*".
func (m *membershipMapper) members(ctx context.Context, e *goldap.Entry) ([]string, error) {
	out := slices.Clone(values(e, m.memberAttr))
	for _, a := range e.Attributes {
		attr, _, hi, last, ok := parseRange(a.Name)
		if !ok || !strings.EqualFold(attr, m.memberAttr) {
			continue
		}
		out = append(out, a.Values...)
		for !last {
			req := &goldap.SearchRequest{BaseDN: e.DN, Scope: goldap.ScopeBaseObject, Filter: "(objectClass=*)",
				Attributes: []string{fmt.Sprintf("%s;range=%d-*", m.memberAttr, hi+1)}}
			res, err := m.dir.Search(ctx, req)
			if err != nil {
				return nil, fmt.Errorf("members of %s: %w", e.DN, err)
			}
			progressed := false
			if len(res.Entries) > 0 {
				for _, ra := range res.Entries[0].Attributes {
					attr, lo, nhi, nlast, ok := parseRange(ra.Name)
					if !ok || !strings.EqualFold(attr, m.memberAttr) || lo != hi+1 || (!nlast && nhi < lo) {
						continue
					}
					out = append(out, ra.Values...)
					hi, last, progressed = nhi, nlast, true
				}
			}
			if !progressed {
				return nil, fmt.Errorf("members of %s: the directory's range retrieval stopped at %d", e.DN, hi)
			}
		}
	}
	return out, nil
}

// parseRange reads an attribute description with a range option
// ("member;range=0-1499", "member;range=1500-*").
func parseRange(desc string) (attr string, lo, hi int, last, ok bool) {
	parts := strings.Split(desc, ";")
	for _, p := range parts[1:] {
		r, found := strings.CutPrefix(strings.ToLower(p), "range=")
		if !found {
			continue
		}
		a, b, found := strings.Cut(r, "-")
		if !found {
			return "", 0, 0, false, false
		}
		var err error
		if lo, err = strconv.Atoi(a); err != nil || lo < 0 {
			return "", 0, 0, false, false
		}
		if b == "*" {
			return parts[0], lo, 0, true, true
		}
		if hi, err = strconv.Atoi(b); err != nil || hi < lo {
			return "", 0, 0, false, false
		}
		return parts[0], lo, hi, false, true
	}
	return "", 0, 0, false, false
}

// dnKey is a DN's comparison key: attribute types and values folded,
// multi-valued RDNs in a fixed order, escapes decoded. A value that does
// not parse is compared folded as it is.
func dnKey(s string) string {
	dn, err := goldap.ParseDN(s)
	if err != nil {
		return strings.ToLower(strings.TrimSpace(s))
	}
	var sb strings.Builder
	for i, rdn := range dn.RDNs {
		if i > 0 {
			sb.WriteByte(',')
		}
		avas := make([]string, len(rdn.Attributes))
		for j, a := range rdn.Attributes {
			avas[j] = strings.ToLower(a.Type) + "=" + goldap.EscapeDN(strings.ToLower(a.Value))
		}
		slices.Sort(avas)
		sb.WriteString(strings.Join(avas, "+"))
	}
	return sb.String()
}
