package admin

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// tree is a realm's groups with their paths and children, sorted by name.
type tree struct {
	byID     map[string]store.Group
	paths    map[string]string
	children map[string][]store.Group // "" = top level
}

func (a *API) tree(ctx context.Context, realmID string) (*tree, error) {
	groups, err := a.st.ListGroups(ctx, realmID)
	if err != nil {
		return nil, err
	}
	t := &tree{byID: map[string]store.Group{}, paths: rep.GroupPaths(groups), children: map[string][]store.Group{}}
	for _, g := range groups {
		t.byID[g.ID] = g
	}
	for _, g := range groups {
		parent := g.ParentID
		if _, ok := t.byID[parent]; !ok {
			parent = ""
		}
		t.children[parent] = append(t.children[parent], g)
	}
	for _, kids := range t.children {
		slices.SortFunc(kids, func(x, y store.Group) int { return cmp.Or(cmp.Compare(x.Name, y.Name), cmp.Compare(x.ID, y.ID)) })
	}
	return t, nil
}

// rep shows g with its path and sub-group count; with keep, sub-groups
// for which keep holds (or that have such descendants) are nested too.
func (t *tree) rep(g store.Group, keep func(store.Group) bool, depth int) rep.Group {
	r := rep.GroupFromStore(g, t.paths[g.ID])
	n := len(t.children[g.ID])
	r.SubGroupCount = &n
	r.SubGroups = []rep.Group{}
	if keep != nil && depth < 64 {
		for _, k := range t.children[g.ID] {
			if t.matches(k, keep, depth+1) {
				r.SubGroups = append(r.SubGroups, t.rep(k, keep, depth+1))
			}
		}
	}
	return r
}

// subtree is the group and every group below it.
func (t *tree) subtree(id string) []string {
	out := []string{id}
	for i := 0; i < len(out) && i < len(t.byID); i++ {
		for _, k := range t.children[out[i]] {
			out = append(out, k.ID)
		}
	}
	return out
}

func (t *tree) matches(g store.Group, keep func(store.Group) bool, depth int) bool {
	if keep(g) {
		return true
	}
	if depth > 64 {
		return false
	}
	return slices.ContainsFunc(t.children[g.ID], func(k store.Group) bool { return t.matches(k, keep, depth+1) })
}

// searchFilter is the group search predicate of ?search= (and ?exact=).
func (c *call) searchFilter() func(store.Group) bool {
	s := c.r.URL.Query().Get("search")
	if s == "" {
		return nil
	}
	if c.flag("exact", false) {
		return func(g store.Group) bool { return g.Name == s }
	}
	s = strings.ToLower(s)
	return func(g store.Group) bool { return strings.Contains(strings.ToLower(g.Name), s) }
}

func (a *API) topGroups(c *call) (*tree, []store.Group, func(store.Group) bool, error) {
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return nil, nil, nil, err
	}
	keep := c.searchFilter()
	top := t.children[""]
	if keep != nil {
		top = slices.DeleteFunc(slices.Clone(top), func(g store.Group) bool { return !t.matches(g, keep, 0) })
	}
	return t, top, keep, nil
}

func (a *API) listGroups(c *call) error {
	t, top, keep, err := a.topGroups(c)
	if err != nil {
		return err
	}
	first, max, err := c.page(defaultMax)
	if err != nil {
		return err
	}
	out := []rep.Group{}
	for _, g := range window(top, first, max) {
		out = append(out, t.rep(g, keep, 0))
	}
	return c.ok(out)
}

func (a *API) countGroups(c *call) error {
	_, top, _, err := a.topGroups(c)
	if err != nil {
		return err
	}
	return c.ok(map[string]int{"count": len(top)})
}

// window applies first/max (max 0 = all) to a list.
func window[T any](xs []T, first, max int) []T {
	if first >= len(xs) {
		return nil
	}
	xs = xs[first:]
	if max > 0 && max < len(xs) {
		xs = xs[:max]
	}
	return xs
}

func (a *API) group(c *call) (store.Group, error) {
	id, err := c.id("group", "Could not find group by id")
	if err != nil {
		return store.Group{}, err
	}
	g, err := a.st.GetGroup(c.ctx, c.realm.ID, id)
	if errors.Is(err, store.ErrNotFound) {
		return g, notFound("Could not find group by id")
	}
	return g, err
}

func (a *API) getGroup(c *call) error {
	g, err := a.group(c)
	if err != nil {
		return err
	}
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	r := t.rep(g, func(store.Group) bool { return true }, 62) // one level of sub-groups
	roles, err := a.st.ListGroupRoles(c.ctx, c.realm.ID, g.ID)
	if err != nil {
		return err
	}
	r.RealmRoles, r.ClientRoles, err = a.roleNames(c.ctx, c.realm.ID, roles)
	if err != nil {
		return err
	}
	return c.ok(r)
}

// groupByPath is GET /group-by-path/{path...}: the group at path ("/a/b"
// or "a/b"; a "/" inside a name is "~/", as paths show it) with its whole
// subtree, each group with its roles and attributes (Keycloak's
// toGroupHierarchy(group, true)).
func (a *API) groupByPath(c *call) error {
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	want := "/" + strings.TrimSuffix(strings.TrimPrefix(c.r.PathValue("path"), "/"), "/")
	for id, p := range t.paths {
		if p != want {
			continue
		}
		r := t.rep(t.byID[id], func(store.Group) bool { return true }, 0)
		if err := a.withRoles(c, &r); err != nil {
			return err
		}
		return c.ok(r)
	}
	return notFound("Group path does not exist")
}

// withRoles fills in the role names of r and of its sub-groups (as deep
// as tree.rep nests them, 64 levels at most).
func (a *API) withRoles(c *call, r *rep.Group) error {
	roles, err := a.st.ListGroupRoles(c.ctx, c.realm.ID, r.ID)
	if err != nil {
		return err
	}
	if r.RealmRoles, r.ClientRoles, err = a.roleNames(c.ctx, c.realm.ID, roles); err != nil {
		return err
	}
	for i := range r.SubGroups {
		if err := a.withRoles(c, &r.SubGroups[i]); err != nil {
			return err
		}
	}
	return nil
}

// roleNames splits roles into realm role names and client role names by
// clientId.
func (a *API) roleNames(ctx context.Context, realmID string, roles []store.Role) ([]string, map[string][]string, error) {
	realm, client := []string{}, map[string][]string{}
	clients := map[string]string{}
	for _, r := range roles {
		if r.ClientID == "" {
			realm = append(realm, r.Name)
			continue
		}
		if _, ok := clients[r.ClientID]; !ok {
			cl, err := a.st.GetClient(ctx, realmID, r.ClientID)
			if err != nil {
				return nil, nil, err
			}
			clients[r.ClientID] = cl.ClientID
		}
		client[clients[r.ClientID]] = append(client[clients[r.ClientID]], r.Name)
	}
	return realm, client, nil
}

// siblingConflict is Keycloak's 409 for a group name taken under parent.
func siblingConflict(parent, name string) error {
	if parent == "" {
		return conflict("Top level group named '" + name + "' already exists.")
	}
	return conflict("Sibling group named '" + name + "' already exists.")
}

// createGroup serves POST /groups and POST /groups/{group}/children.
func (a *API) createGroup(c *call) error {
	parent := ""
	if c.r.PathValue("group") != "" {
		g, err := a.group(c)
		if err != nil {
			return err
		}
		parent = g.ID
	}
	var in rep.Group
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return fieldError("name", "Group name is missing")
	}
	g := rep.GroupToStore(c.realm.ID, parent, in)
	g.ID = uuid.NewString()
	if err := a.st.CreateGroup(c.ctx, g); errors.Is(err, store.ErrConflict) {
		return siblingConflict(parent, g.Name)
	} else if err != nil {
		return err
	}
	return c.created(g.ID)
}

func (a *API) updateGroup(c *call) error {
	g, err := a.group(c)
	if err != nil {
		return err
	}
	in := rep.GroupFromStore(g, "")
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	if strings.TrimSpace(in.Name) == "" {
		return fieldError("name", "Group name is missing")
	}
	if in.Name != g.Name {
		// Default groups and mappers name groups by path: a renamed group
		// (and its sub-groups) takes over paths and what they grant.
		t, err := a.tree(c.ctx, c.realm.ID)
		if err != nil {
			return err
		}
		if err := a.mayGrant(c, nil, t.subtree(g.ID)); err != nil {
			return err
		}
	}
	old := g.Name
	g.Name, g.Attributes = in.Name, in.Attributes
	err = a.st.Tx(c.ctx, func(ctx context.Context) error {
		if err := a.st.UpdateGroup(ctx, g); err != nil {
			return err
		}
		if old == g.Name {
			return nil
		}
		return a.renameDefaultGroups(ctx, c, g, old)
	})
	if errors.Is(err, store.ErrConflict) {
		return siblingConflict(g.ParentID, g.Name)
	} else if err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteGroup(c *call) error {
	g, err := a.group(c)
	if err != nil {
		return err
	}
	if err := a.st.DeleteGroup(c.ctx, c.realm.ID, g.ID); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) listChildren(c *call) error {
	g, err := a.group(c)
	if err != nil {
		return err
	}
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	first, max, err := c.page(10) // Keycloak's default for sub-groups
	if err != nil {
		return err
	}
	kids := t.children[g.ID]
	if keep := c.searchFilter(); keep != nil {
		kids = slices.DeleteFunc(slices.Clone(kids), func(k store.Group) bool { return !keep(k) })
	}
	out := []rep.Group{}
	for _, k := range window(kids, first, max) {
		out = append(out, t.rep(k, nil, 0))
	}
	return c.ok(out)
}

func (a *API) groupMembers(c *call) error {
	g, err := a.group(c)
	if err != nil {
		return err
	}
	first, max, err := c.page(defaultMax)
	if err != nil {
		return err
	}
	users, err := a.st.ListGroupMembers(c.ctx, c.realm.ID, g.ID, first, max)
	if err != nil {
		return err
	}
	return c.users(users)
}

// groupIDsByPath resolves group paths ("/a/b", or "a/b" as Keycloak also
// accepts); an unknown one is a 400.
func (a *API) groupIDsByPath(ctx context.Context, realmID string, paths []string) ([]string, error) {
	t, err := a.tree(ctx, realmID)
	if err != nil {
		return nil, err
	}
	byPath := map[string]string{}
	for id, p := range t.paths {
		byPath[p] = id
	}
	var ids []string
	for _, p := range paths {
		if !strings.HasPrefix(p, "/") {
			p = "/" + p
		}
		id, ok := byPath[p]
		if !ok {
			return nil, badRequest("Group " + p + " not found")
		}
		if !slices.Contains(ids, id) {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

func (a *API) userGroupList(c *call) ([]rep.Group, error) {
	u, err := a.user(c)
	if err != nil {
		return nil, err
	}
	groups, err := a.st.ListUserGroups(c.ctx, c.realm.ID, u.ID)
	if err != nil {
		return nil, err
	}
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return nil, err
	}
	keep := c.searchFilter()
	out := []rep.Group{}
	for _, g := range groups {
		if keep == nil || keep(g) {
			r := rep.GroupFromStore(g, t.paths[g.ID])
			out = append(out, r)
		}
	}
	return out, nil
}

func (a *API) userGroups(c *call) error {
	groups, err := a.userGroupList(c)
	if err != nil {
		return err
	}
	first, max, err := c.page(defaultMax)
	if err != nil {
		return err
	}
	groups = window(groups, first, max)
	if groups == nil {
		groups = []rep.Group{}
	}
	return c.ok(groups)
}

func (a *API) userGroupCount(c *call) error {
	groups, err := a.userGroupList(c)
	if err != nil {
		return err
	}
	return c.ok(map[string]int{"count": len(groups)})
}

func (a *API) joinGroup(c *call) error  { return a.membership(c, true) }
func (a *API) leaveGroup(c *call) error { return a.membership(c, false) }
func (a *API) membership(c *call, join bool) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	g, err := a.group(c)
	if err != nil {
		return err
	}
	if join {
		if err := a.mayGrant(c, nil, []string{g.ID}); err != nil {
			return err
		}
		err = a.st.AddUserToGroup(c.ctx, c.realm.ID, u.ID, g.ID)
	} else {
		err = a.st.RemoveUserFromGroup(c.ctx, c.realm.ID, u.ID, g.ID)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return c.noContent()
}

// defaultGroups serves GET /default-groups: the groups every new user
// joins.
func (a *API) defaultGroups(c *call) error {
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	t, err := a.tree(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	out := []rep.Group{}
	for id, p := range t.paths {
		if slices.Contains(r.DefaultGroups, p) {
			out = append(out, rep.GroupFromStore(t.byID[id], p))
		}
	}
	slices.SortFunc(out, func(x, y rep.Group) int { return strings.Compare(x.Path, y.Path) })
	return c.ok(out)
}

// changeDefaultGroup serves PUT and DELETE /default-groups/{group}. Adding
// one grants its roles to every user created from then on.
func (a *API) changeDefaultGroup(add bool) handler {
	return func(c *call) error {
		g, err := a.group(c)
		if err != nil {
			return err
		}
		t, err := a.tree(c.ctx, c.realm.ID)
		if err != nil {
			return err
		}
		r, _, err := rep.DecodeRealm(c.realm)
		if err != nil {
			return err
		}
		p := t.paths[g.ID]
		has := slices.Contains(r.DefaultGroups, p)
		switch {
		case add && !has:
			if err := a.mayGrant(c, nil, []string{g.ID}); err != nil {
				return err
			}
			r.DefaultGroups = append(r.DefaultGroups, p)
		case !add && has:
			r.DefaultGroups = slices.DeleteFunc(r.DefaultGroups, func(x string) bool { return x == p })
		default:
			return c.noContent()
		}
		if err := a.saveRealm(c, r); err != nil {
			return err
		}
		return c.noContent()
	}
}

// renameDefaultGroups moves the realm's default groups (kept as paths, as
// exports show them) along with a rename of g from old, so that a default
// group stays the same group.
func (a *API) renameDefaultGroups(ctx context.Context, c *call, g store.Group, old string) error {
	realm, err := a.st.GetRealm(ctx, c.realm.ID)
	if err != nil {
		return err
	}
	r, _, err := rep.DecodeRealm(realm)
	if err != nil || len(r.DefaultGroups) == 0 {
		return err
	}
	t, err := a.tree(ctx, c.realm.ID)
	if err != nil {
		return err
	}
	parent := t.paths[g.ParentID] // "" at the top
	from, to := rep.GroupPath(parent, old), t.paths[g.ID]
	changed := false
	for i, p := range r.DefaultGroups {
		if p == from || strings.HasPrefix(p, from+"/") {
			r.DefaultGroups[i], changed = to+strings.TrimPrefix(p, from), true
		}
	}
	if !changed {
		return nil
	}
	row, err := rep.RealmToStore(r)
	if err != nil {
		return err
	}
	row.ID, row.Created = realm.ID, realm.Created
	if err := a.st.UpdateRealm(ctx, row); err != nil {
		return err
	}
	return nil
}
