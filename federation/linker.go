package federation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// RealmDefaults are the realm settings that shape an imported user; the
// caller (which reads realm settings) supplies them.
type RealmDefaults struct {
	DefaultRole            string   // realm role every new user gets ("" none)
	DefaultGroups          []string // group paths every new user joins
	DuplicateEmailsAllowed bool
	// EmailLogin: the login form takes an email for a username
	// (loginWithEmailAllowed, emails unique), so a username may not be
	// another user's email.
	EmailLogin bool
	// RequiredActions every new user gets (the realm's default actions).
	RequiredActions []string
}

// ErrConflict means the identity cannot become a local user without
// taking what another user has: its username belongs to a local user (or
// one of another provider), or its email to another user. Nothing is
// written.
var ErrConflict = errors.New("federation: conflicts with another user")

// disabledBySource marks, in the disabledReason attribute, a user the
// source disabled, so that the source can enable it again (but not one an
// admin or a brute-force lockout disabled).
const disabledBySource = "federation"

// Linker turns identities into local users.
type Linker struct {
	st  store.Store
	now func() time.Time
}

// NewLinker returns a linker writing to st.
func NewLinker(st store.Store) *Linker { return &Linker{st: st, now: time.Now} }

// Link makes id, from provider p, a local user: the linked user local if
// given (revalidation), else the user id names, imported on first sight
// (federationLink, LDAP_ID, LDAP_ENTRY_DN, the realm's default role and
// groups, every grant). A later link updates what changed (a renamed or
// moved entry, names, email, attributes, grants that are not ImportOnly)
// and writes nothing when nothing did. Every write of one link is one
// transaction.
func (l *Linker) Link(ctx context.Context, realmID string, d RealmDefaults, p *Provider, id Identity, local *store.User) (store.User, error) {
	if strings.TrimSpace(id.Username) == "" || id.ExternalID == "" {
		return store.User{}, fmt.Errorf("%w: %s: an entry without a username or id", ErrUnavailable, p.Name)
	}
	var out store.User
	// A first read outside a transaction: most logins change nothing, and
	// on SQLite a transaction takes the one writer.
	plan, err := l.plan(ctx, l.st, realmID, d, p, id, local, nil)
	if errors.Is(err, store.ErrConflict) {
		plan, err = l.plan(ctx, l.st, realmID, d, p, id, local, nil)
	}
	if errors.Is(err, store.ErrConflict) && !errors.Is(err, ErrConflict) {
		err = fmt.Errorf("%w: %w", ErrConflict, err)
	}
	if err != nil {
		return store.User{}, err
	}
	if plan.noop() {
		return plan.user, nil
	}
	write := func() error {
		return l.st.Tx(ctx, func(ctx context.Context) error {
			plan, err := l.plan(ctx, l.st, realmID, d, p, id, local, nil)
			if err != nil {
				return err
			}
			out = plan.user
			return plan.apply(ctx, l.st, realmID)
		})
	}
	err = write()
	if errors.Is(err, store.ErrConflict) {
		// A concurrent login (another replica) imported the same entry, or
		// created the same group, first: plan again over what it wrote.
		err = write()
	}
	if errors.Is(err, store.ErrConflict) {
		err = fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return out, err
}

// linkPlan is what one link writes.
type linkPlan struct {
	user        store.User
	create      bool
	update      bool
	grantRoles  []string
	revokeRoles []string
	joinGroups  []string
	leaveGroups []string
	newRoles    []store.Role
	newGroups   []store.Group
}

func (p *linkPlan) noop() bool {
	return !p.create && !p.update && len(p.grantRoles)+len(p.revokeRoles)+len(p.joinGroups)+len(p.leaveGroups)+
		len(p.newRoles)+len(p.newGroups) == 0
}

// plan works out what linking id writes. x, when given, is the realm's
// role and group index shared by the links of one page (it is loaded
// into *x when nil).
func (l *Linker) plan(ctx context.Context, r userReader, realmID string, d RealmDefaults, p *Provider, id Identity, local *store.User, x **index) (*linkPlan, error) {
	plan := &linkPlan{}
	username, email := strings.ToLower(strings.TrimSpace(id.Username)), strings.ToLower(strings.TrimSpace(id.Email))
	var cur store.User
	if local != nil {
		// Reread: the caller's copy may be stale by now.
		u, err := r.GetUser(ctx, realmID, local.ID)
		if err != nil {
			return nil, err
		}
		cur = u
	} else if u, err := r.GetUserByFederationID(ctx, realmID, p.Component.ID, id.ExternalID); err == nil {
		cur = u // imported before (by a sync, or a concurrent login), perhaps under another name
	} else if !errors.Is(err, store.ErrNotFound) {
		return nil, err
	} else {
		u, err := r.GetUserByUsername(ctx, realmID, username)
		switch {
		case errors.Is(err, store.ErrNotFound):
			plan.create = true
		case err != nil:
			return nil, err
		case u.FederationLink == p.Component.ID && u.FederationID == id.ExternalID:
			cur = u // imported a moment ago by a concurrent login
		default:
			return nil, fmt.Errorf("%w: username %q is taken by a user not linked to %s", ErrConflict, username, p.Name)
		}
	}
	if !plan.create && cur.Username != username {
		if other, err := r.GetUserByUsername(ctx, realmID, username); err == nil && other.ID != cur.ID {
			return nil, fmt.Errorf("%w: renamed entry's username %q is taken", ErrConflict, username)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}
	if plan.create || cur.Username != username {
		if err := checkLoginName(ctx, r, realmID, d, username, cur.ID); err != nil {
			return nil, err
		}
	}
	if slices.Contains(id.Unmapped, "email") {
		email = cur.Email // the source does not decide it: keep it
	}
	if email != "" && !d.DuplicateEmailsAllowed && (plan.create || cur.Email != email) {
		if other, err := r.GetUserByEmail(ctx, realmID, email); errors.Is(err, store.ErrAmbiguous) {
			return nil, fmt.Errorf("%w: email %q of %q is taken by several users", ErrConflict, email, username)
		} else if err == nil && other.ID != cur.ID {
			if other.FederationLink == p.Component.ID && other.FederationID == id.ExternalID {
				// A concurrent login imported this entry after the username
				// lookup above: plan again.
				return nil, store.ErrConflict
			}
			return nil, fmt.Errorf("%w: email %q of %q is taken by user %q", ErrConflict, email, username, other.Username)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
	}

	next := cur
	if plan.create {
		next = store.User{ID: uuid.NewString(), RealmID: realmID, Enabled: true, Created: l.now().UTC(), FederationLink: p.Component.ID}
	}
	next.Username, next.Email, next.FirstName, next.LastName = username, email, id.FirstName, id.LastName
	if slices.Contains(id.Unmapped, "firstName") {
		next.FirstName = cur.FirstName
	}
	if slices.Contains(id.Unmapped, "lastName") {
		next.LastName = cur.LastName
	}
	// The entry's verified email (trustEmail, an emailVerified mapper) is
	// one only when lower-casing changed no more than ASCII letters:
	// strings.ToLower maps a Kelvin sign onto k, another mailbox.
	vouched := id.EmailVerified && (slices.Contains(id.Unmapped, "email") || email == store.ASCIILower(strings.TrimSpace(id.Email)))
	next.EmailVerified = vouched || (!plan.create && cur.Email == email && cur.EmailVerified)
	next.Attributes = maps.Clone(cur.Attributes)
	if next.Attributes == nil {
		next.Attributes = map[string][]string{}
	}
	for k, v := range id.Attributes {
		if v == nil {
			delete(next.Attributes, k)
		} else {
			next.Attributes[k] = slices.Clone(v)
		}
	}
	next.Attributes[AttrExternalID] = []string{id.ExternalID}
	next.FederationID = id.ExternalID
	if id.DN != "" {
		next.Attributes[AttrEntryDN] = []string{id.DN}
	}
	reasons := next.Attributes["disabledReason"]
	switch {
	case id.Disabled && next.Enabled:
		next.Enabled = false
		next.Attributes["disabledReason"] = []string{disabledBySource}
	case !id.Disabled && !next.Enabled && slices.Equal(reasons, []string{disabledBySource}):
		next.Enabled = true
		delete(next.Attributes, "disabledReason")
	}
	next.RequiredActions = slices.Clone(cur.RequiredActions)
	for _, a := range id.RequiredActions {
		if !slices.Contains(next.RequiredActions, a) {
			next.RequiredActions = append(next.RequiredActions, a)
		}
	}
	plan.update = !plan.create && !sameUser(cur, next)
	plan.user = next

	if err := l.planGrants(ctx, r, realmID, d, plan, id.Grants, x); err != nil {
		return nil, err
	}
	return plan, nil
}

// checkLoginName refuses a new or renamed username that is another
// user's email where the login form takes either (loginWithEmailAllowed,
// emails unique): a login looks the name up as a username first, so the
// other user's logins by email would go to the directory's entry
// (store.LoginNameTaken; the admin API and first broker login refuse
// such a name too).
func checkLoginName(ctx context.Context, r userReader, realmID string, d RealmDefaults, username, selfID string) error {
	if !d.EmailLogin || !strings.Contains(username, "@") {
		return nil
	}
	other, err := r.GetUserByEmail(ctx, realmID, username)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil && !errors.Is(err, store.ErrAmbiguous):
		return err
	case err == nil && other.ID == selfID:
		return nil
	}
	return fmt.Errorf("%w: username %q is another user's email", ErrConflict, username)
}

func sameUser(a, b store.User) bool {
	return a.Username == b.Username && a.FederationID == b.FederationID && a.Email == b.Email && a.EmailVerified == b.EmailVerified && a.FirstName == b.FirstName &&
		a.LastName == b.LastName && a.Enabled == b.Enabled && slices.Equal(a.RequiredActions, b.RequiredActions) &&
		maps.EqualFunc(a.Attributes, b.Attributes, slices.Equal)
}

// planGrants works out the role and group changes: a new user gets the
// realm's defaults and every grant; an existing one the grants that are
// not ImportOnly, with owned mappings the source no longer gives removed.
func (l *Linker) planGrants(ctx context.Context, r userReader, realmID string, d RealmDefaults, plan *linkPlan, grants []Grant, shared **index) error {
	if len(grants) == 0 && !plan.create {
		return nil
	}
	var x *index
	if shared != nil && *shared != nil {
		x = *shared
	} else {
		var err error
		if x, err = loadIndex(ctx, l.st, realmID); err != nil {
			return err
		}
		if shared != nil {
			*shared = x
		}
	}
	var err error
	var haveRoles, haveGroups map[string]bool
	if plan.create {
		haveRoles, haveGroups = map[string]bool{}, map[string]bool{}
	} else {
		if haveRoles, err = userRoleSet(ctx, r, realmID, plan.user.ID); err != nil {
			return err
		}
		if haveGroups, err = userGroupSet(ctx, r, realmID, plan.user.ID); err != nil {
			return err
		}
	}
	wantRoles, wantGroups := map[string]bool{}, map[string]bool{}
	dropRoles, dropGroups := map[string]bool{}, map[string]bool{}
	if plan.create {
		if id := x.roleID("", d.DefaultRole); id != "" {
			wantRoles[id] = true
		}
		for _, path := range d.DefaultGroups {
			if id := x.groupID(path); id != "" {
				wantGroups[id] = true
			}
		}
	}
	for _, g := range grants {
		if g.ImportOnly && !plan.create {
			continue
		}
		for _, r := range g.OwnedRoles {
			r = x.resolve(r)
			if id := x.roleID(r.Client, r.Name); id != "" {
				dropRoles[id] = true
			}
		}
		for _, path := range g.OwnedGroups {
			if id := x.groupID(path); id != "" {
				dropGroups[id] = true
			}
		}
		for _, r := range g.Roles {
			id, err := x.ensureRole(plan, x.resolve(r), g.Create)
			if err != nil {
				return err
			}
			if id != "" {
				wantRoles[id] = true
			}
		}
		for _, path := range g.Groups {
			id, err := x.ensureGroup(plan, path, g.Create)
			if err != nil {
				return err
			}
			if id != "" {
				wantGroups[id] = true
			}
		}
	}
	for id := range wantRoles {
		if !haveRoles[id] {
			plan.grantRoles = append(plan.grantRoles, id)
		}
	}
	for id := range dropRoles {
		if haveRoles[id] && !wantRoles[id] {
			plan.revokeRoles = append(plan.revokeRoles, id)
		}
	}
	for id := range wantGroups {
		if !haveGroups[id] {
			plan.joinGroups = append(plan.joinGroups, id)
		}
	}
	for id := range dropGroups {
		if haveGroups[id] && !wantGroups[id] {
			plan.leaveGroups = append(plan.leaveGroups, id)
		}
	}
	slices.Sort(plan.grantRoles)
	slices.Sort(plan.revokeRoles)
	slices.Sort(plan.joinGroups)
	slices.Sort(plan.leaveGroups)
	return nil
}

func userRoleSet(ctx context.Context, r userReader, realmID, userID string) (map[string]bool, error) {
	rs, err := r.ListUserRoles(ctx, realmID, userID)
	out := map[string]bool{}
	for _, r := range rs {
		out[r.ID] = true
	}
	return out, err
}

func userGroupSet(ctx context.Context, r userReader, realmID, userID string) (map[string]bool, error) {
	gs, err := r.ListUserGroups(ctx, realmID, userID)
	out := map[string]bool{}
	for _, g := range gs {
		out[g.ID] = true
	}
	return out, err
}

func (p *linkPlan) apply(ctx context.Context, st store.Store, realmID string) error {
	for _, r := range p.newRoles {
		if err := st.CreateRole(ctx, r); err != nil {
			return err
		}
	}
	for _, g := range p.newGroups {
		if err := st.CreateGroup(ctx, g); err != nil {
			return err
		}
	}
	switch {
	case p.create:
		if err := st.CreateUser(ctx, p.user); err != nil {
			return err
		}
	case p.update:
		if err := st.UpdateUser(ctx, p.user); err != nil {
			return err
		}
	}
	if len(p.grantRoles) > 0 {
		if err := st.GrantUserRoles(ctx, realmID, p.user.ID, p.grantRoles); err != nil {
			return err
		}
	}
	if len(p.revokeRoles) > 0 {
		if err := st.RevokeUserRoles(ctx, realmID, p.user.ID, p.revokeRoles); err != nil {
			return err
		}
	}
	for _, g := range p.joinGroups {
		if err := st.AddUserToGroup(ctx, realmID, p.user.ID, g); err != nil {
			return err
		}
	}
	for _, g := range p.leaveGroups {
		if err := st.RemoveUserFromGroup(ctx, realmID, p.user.ID, g); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// index resolves role and group names of one realm.
type index struct {
	realmID string
	clients map[string]string      // clientId -> internal id
	roles   map[[2]string]string   // (client internal id, name) -> role id
	groups  map[string]string      // path -> group id
	parent  map[string]store.Group // id -> group
}

func loadIndex(ctx context.Context, st store.Store, realmID string) (*index, error) {
	x := &index{realmID: realmID, clients: map[string]string{}, roles: map[[2]string]string{}, groups: map[string]string{},
		parent: map[string]store.Group{}}
	clients, err := st.ListClients(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, c := range clients {
		x.clients[c.ClientID] = c.ID
	}
	roles, err := st.ListAllRoles(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, r := range roles {
		x.roles[[2]string{r.ClientID, r.Name}] = r.ID
	}
	groups, err := st.ListGroups(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, g := range groups {
		x.parent[g.ID] = g
	}
	for _, g := range groups {
		x.groups[x.path(g.ID)] = g.ID
	}
	return x, nil
}

// path is a group's full path; "/" inside a name is escaped as "~/", as
// Keycloak 23+ writes paths.
func (x *index) path(id string) string {
	var parts []string
	for i := 0; id != "" && i < 64; i++ {
		g, ok := x.parent[id]
		if !ok {
			break
		}
		parts = append(parts, strings.ReplaceAll(g.Name, "/", "~/"))
		id = g.ParentID
	}
	slices.Reverse(parts)
	return "/" + strings.Join(parts, "/")
}

// resolve turns a Qualified role string into the role it names, as
// KeycloakModelUtils.getRoleFromString: the longest prefix before a dot
// that is a clientId names a client role, else it is a realm role.
func (x *index) resolve(r RoleRef) RoleRef {
	if !r.Qualified {
		return r
	}
	for i := strings.LastIndexByte(r.Name, '.'); i >= 0; i = strings.LastIndexByte(r.Name[:i], '.') {
		if _, ok := x.clients[r.Name[:i]]; ok {
			return RoleRef{Client: r.Name[:i], Name: r.Name[i+1:]}
		}
	}
	return RoleRef{Name: r.Name}
}

func (x *index) roleID(client, name string) string {
	if name == "" {
		return ""
	}
	cid := ""
	if client != "" {
		var ok bool
		if cid, ok = x.clients[client]; !ok {
			return ""
		}
	}
	return x.roles[[2]string{cid, name}]
}

func (x *index) groupID(path string) string {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	return x.groups[strings.TrimSuffix(path, "/")]
}

// ensureRole returns the role's id, planning its creation when it is
// missing and create is set ("" when it is missing and may not be made).
func (x *index) ensureRole(plan *linkPlan, r RoleRef, create bool) (string, error) {
	if id := x.roleID(r.Client, r.Name); id != "" || !create || r.Name == "" {
		return id, nil
	}
	cid := ""
	if r.Client != "" {
		var ok bool
		if cid, ok = x.clients[r.Client]; !ok {
			return "", nil // a mapper naming a client that is gone maps nothing
		}
	}
	role := store.Role{ID: uuid.NewString(), RealmID: x.realmID, ClientID: cid, Name: r.Name}
	x.roles[[2]string{cid, r.Name}] = role.ID
	plan.newRoles = append(plan.newRoles, role)
	return role.ID, nil
}

// ensureGroup returns the group's id, planning it (and missing parents)
// when create is set.
func (x *index) ensureGroup(plan *linkPlan, path string, create bool) (string, error) {
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	path = strings.TrimSuffix(path, "/")
	if id := x.groupID(path); id != "" || !create || path == "" {
		return id, nil
	}
	i := strings.LastIndex(path, "/")
	for i > 0 && strings.HasSuffix(path[:i], "~") { // an escaped "/" inside a name
		i = strings.LastIndex(path[:i-1], "/")
	}
	parentID := ""
	if i > 0 {
		var err error
		if parentID, err = x.ensureGroup(plan, path[:i], true); err != nil {
			return "", err
		}
	}
	name := strings.ReplaceAll(path[i+1:], "~/", "/")
	g := store.Group{ID: uuid.NewString(), RealmID: x.realmID, ParentID: parentID, Name: name}
	x.groups[path] = g.ID
	x.parent[g.ID] = g
	plan.newGroups = append(plan.newGroups, g)
	return g.ID, nil
}

// PageResult counts what LinkPage did.
type PageResult struct {
	Added, Updated, Failed int
}

// LinkPage links a page of identities from p in one transaction, as Link
// links one: a few bulk reads for the page instead of several per user,
// and the new users inserted together. known, when given, maps the
// immutable ids of p's users (ListFederationIDs, read once per sync) to
// their user ids. An identity that cannot be linked (a username or email
// of another user, an entry without an id) is counted as failed, returned
// in errs for the caller to log, and skipped; a store error rolls the page
// back.
func (l *Linker) LinkPage(ctx context.Context, realmID string, d RealmDefaults, p *Provider, ids []Identity, known map[string]string) (PageResult, []error, error) {
	var res PageResult
	var errs []error
	err := l.st.Tx(ctx, func(ctx context.Context) error {
		res, errs = PageResult{}, nil
		view, err := l.prefetch(ctx, realmID, p, ids, known)
		if err != nil {
			return err
		}
		var x *index
		var fresh []store.NewUser
		for _, id := range ids {
			if strings.TrimSpace(id.Username) == "" || id.ExternalID == "" {
				res.Failed++
				errs = append(errs, fmt.Errorf("%w: an entry without a username or id (%s)", ErrConflict, id.DN))
				continue
			}
			plan, err := l.plan(ctx, view, realmID, d, p, id, nil, &x)
			if errors.Is(err, ErrConflict) {
				res.Failed++
				errs = append(errs, err)
				continue
			}
			if err != nil {
				return err
			}
			if plan.noop() {
				continue
			}
			// Roles and groups a plan creates go in first: later plans of
			// the page already count on them.
			for _, r := range plan.newRoles {
				if err := l.st.CreateRole(ctx, r); err != nil {
					return err
				}
			}
			for _, g := range plan.newGroups {
				if err := l.st.CreateGroup(ctx, g); err != nil {
					return err
				}
			}
			plan.newRoles, plan.newGroups = nil, nil
			if plan.create {
				fresh = append(fresh, store.NewUser{User: plan.user, RoleIDs: plan.grantRoles, GroupIDs: plan.joinGroups})
				view.add(plan.user)
				res.Added++
				continue
			}
			if err := plan.apply(ctx, l.st, realmID); err != nil {
				return err
			}
			view.add(plan.user)
			res.Updated++
		}
		if len(fresh) == 0 {
			return nil
		}
		if bw, ok := l.st.(store.BulkUserWriter); ok {
			return bw.CreateUsers(ctx, fresh)
		}
		for _, nu := range fresh {
			plan := &linkPlan{user: nu.User, create: true, grantRoles: nu.RoleIDs, joinGroups: nu.GroupIDs}
			if err := plan.apply(ctx, l.st, realmID); err != nil {
				return err
			}
		}
		return nil
	})
	return res, errs, err
}

// userReader is what planning a link reads: the store, or a page's
// prefetched view of it.
type userReader interface {
	GetUser(ctx context.Context, realmID, id string) (store.User, error)
	GetUserByUsername(ctx context.Context, realmID, username string) (store.User, error)
	GetUserByEmail(ctx context.Context, realmID, email string) (store.User, error)
	GetUserByFederationID(ctx context.Context, realmID, link, externalID string) (store.User, error)
	ListUserRoles(ctx context.Context, realmID, userID string) ([]store.Role, error)
	ListUserGroups(ctx context.Context, realmID, userID string) ([]store.Group, error)
}

// pageView answers a page's user lookups from what one bulk read found
// (and the users the page created so far), and anything else from the
// store.
type pageView struct {
	store.Store
	link                      string
	known                     map[string]string // external id -> user id; nil: not read
	byID, byUsername, byEmail map[string]store.User
	byExt                     map[string]store.User
	sharedEmail               map[string]bool // emails several users have (GetUserByEmail: ErrAmbiguous)
}

func (l *Linker) prefetch(ctx context.Context, realmID string, p *Provider, ids []Identity, known map[string]string) (*pageView, error) {
	v := &pageView{Store: l.st, link: p.Component.ID, known: known, byID: map[string]store.User{},
		byUsername: map[string]store.User{}, byEmail: map[string]store.User{}, byExt: map[string]store.User{},
		sharedEmail: map[string]bool{}}
	bw, ok := l.st.(store.BulkUserWriter)
	if !ok {
		v.known = nil
		return v, nil
	}
	var names, emails, userIDs []string
	for _, id := range ids {
		name := strings.ToLower(strings.TrimSpace(id.Username))
		names = append(names, name)
		if strings.Contains(name, "@") {
			emails = append(emails, name) // checkLoginName
		}
		if e := strings.ToLower(strings.TrimSpace(id.Email)); e != "" {
			emails = append(emails, e)
		}
		if uid := known[id.ExternalID]; uid != "" {
			userIDs = append(userIDs, uid)
		}
	}
	us, err := bw.LookupUsers(ctx, realmID, names, emails, userIDs)
	if err != nil {
		return nil, err
	}
	for _, u := range us {
		if u.RealmID == realmID {
			v.add(u)
		}
	}
	return v, nil
}

func (v *pageView) add(u store.User) {
	v.byID[u.ID], v.byUsername[u.Username] = u, u
	if u.Email != "" {
		if o, taken := v.byEmail[u.Email]; taken && o.ID != u.ID {
			v.sharedEmail[u.Email] = true
		}
		v.byEmail[u.Email] = u
	}
	if u.FederationLink == v.link && u.FederationID != "" {
		v.byExt[u.FederationID] = u
	}
}

// Usernames and emails of the page were all looked up: a miss is a miss.
func (v *pageView) GetUserByUsername(_ context.Context, _, username string) (store.User, error) {
	if u, ok := v.byUsername[strings.ToLower(username)]; ok {
		return u, nil
	}
	return store.User{}, store.ErrNotFound
}

func (v *pageView) GetUserByEmail(_ context.Context, _, email string) (store.User, error) {
	email = strings.ToLower(email)
	if v.sharedEmail[email] {
		return store.User{}, store.ErrAmbiguous
	}
	if u, ok := v.byEmail[email]; ok {
		return u, nil
	}
	return store.User{}, store.ErrNotFound
}

func (v *pageView) GetUserByFederationID(ctx context.Context, realmID, link, ext string) (store.User, error) {
	if u, ok := v.byExt[ext]; ok && link == v.link {
		return u, nil
	}
	if v.known == nil || link != v.link {
		return v.Store.GetUserByFederationID(ctx, realmID, link, ext)
	}
	return store.User{}, store.ErrNotFound
}

// Ensure creates, in one transaction, the roles and groups (with their
// parents) that g names and the realm lacks; it reports how many it
// created.
func (l *Linker) Ensure(ctx context.Context, realmID string, g Grant) (int, error) {
	n := 0
	err := l.st.Tx(ctx, func(ctx context.Context) error {
		x, err := loadIndex(ctx, l.st, realmID)
		if err != nil {
			return err
		}
		plan := &linkPlan{}
		for _, r := range g.Roles {
			if _, err := x.ensureRole(plan, x.resolve(r), true); err != nil {
				return err
			}
		}
		for _, path := range g.Groups {
			if _, err := x.ensureGroup(plan, path, true); err != nil {
				return err
			}
		}
		n = len(plan.newRoles) + len(plan.newGroups)
		return plan.apply(ctx, l.st, realmID)
	})
	return n, err
}
