package admin

import (
	"slices"

	"github.com/keygate/keygate/idp/rep"
)

// The realm's required-action providers, as Keycloak's
// AuthenticationManagementResource serves them under
// /admin/realms/{realm}/authentication: the registered list (priority
// order, enabled, defaultAction), one by alias, update, unregister, the
// known ones not registered, register, and raise/lower priority. The list
// lives in the realm's settings ("requiredActions", as in a realm export).

// requiredActionRoutes are the routes (added to routes()).
func (a *API) requiredActionRoutes(R string) []route {
	const base = "/authentication/required-actions"
	return []route{
		{pattern: "GET " + R + base, need: viewRealm, h: a.listRequiredActions},
		{pattern: "GET " + R + base + "/{alias}", need: viewRealm, h: a.getRequiredAction},
		{pattern: "PUT " + R + base + "/{alias}", need: manageRealm, h: a.updateRequiredAction},
		{pattern: "DELETE " + R + base + "/{alias}", need: manageRealm, h: a.deleteRequiredAction},
		{pattern: "POST " + R + base + "/{alias}/raise-priority", need: manageRealm, h: a.raiseRequiredAction},
		{pattern: "POST " + R + base + "/{alias}/lower-priority", need: manageRealm, h: a.lowerRequiredAction},
		{pattern: "GET " + R + "/authentication/unregistered-required-actions", need: viewRealm, h: a.unregisteredRequiredActions},
		{pattern: "POST " + R + "/authentication/register-required-action", need: manageRealm, h: a.registerRequiredAction},
	}
}

// requiredActions is the realm's list, sorted, with the decoded realm.
func (c *call) requiredActions() (rep.Realm, []rep.RequiredActionProvider, error) {
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return rep.Realm{}, nil, err
	}
	return r, r.RequiredActionProviders(), nil
}

// saveRequiredActions stores l as the realm's list.
func (a *API) saveRequiredActions(c *call, r rep.Realm, l []rep.RequiredActionProvider) error {
	rep.SortRequiredActions(l)
	r.RequiredActions = l
	if r.RequiredActions == nil {
		r.RequiredActions = []rep.RequiredActionProvider{}
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
	return nil
}

func findRequiredAction(l []rep.RequiredActionProvider, alias string) int {
	return slices.IndexFunc(l, func(p rep.RequiredActionProvider) bool { return p.Alias == alias })
}

func errNoRequiredAction() error {
	return notFound("Failed to find required action")
}

func (a *API) listRequiredActions(c *call) error {
	_, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	for i := range l {
		if l[i].Config == nil {
			l[i].Config = map[string]string{}
		}
	}
	if l == nil {
		l = []rep.RequiredActionProvider{}
	}
	return c.ok(l)
}

func (a *API) getRequiredAction(c *call) error {
	_, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	i := findRequiredAction(l, c.r.PathValue("alias"))
	if i < 0 {
		return errNoRequiredAction()
	}
	if l[i].Config == nil {
		l[i].Config = map[string]string{}
	}
	return c.ok(l[i])
}

// updateRequiredAction takes Keycloak's representation: enabled,
// defaultAction, priority and config as given (absent booleans are
// false, as Keycloak reads them), the name when given; alias and
// providerId stay.
func (a *API) updateRequiredAction(c *call) error {
	var in rep.RequiredActionProvider
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	r, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	i := findRequiredAction(l, c.r.PathValue("alias"))
	if i < 0 {
		return errNoRequiredAction()
	}
	p := &l[i]
	if in.Name != "" {
		p.Name = in.Name
	}
	p.Enabled, p.DefaultAction, p.Priority, p.Config = in.Enabled, in.DefaultAction, in.Priority, in.Config
	if p.Config == nil {
		p.Config = map[string]string{}
	}
	if err := a.saveRequiredActions(c, r, l); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) deleteRequiredAction(c *call) error {
	r, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	i := findRequiredAction(l, c.r.PathValue("alias"))
	if i < 0 {
		return errNoRequiredAction()
	}
	if err := a.saveRequiredActions(c, r, slices.Delete(l, i, i+1)); err != nil {
		return err
	}
	return c.noContent()
}

// unregisteredRequiredActions lists the providers keygate knows that the
// realm has not registered: [{"name", "providerId"}].
func (a *API) unregisteredRequiredActions(c *call) error {
	_, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for _, k := range rep.KnownRequiredActions {
		if !slices.ContainsFunc(l, func(p rep.RequiredActionProvider) bool { return p.ProviderID == k.ProviderID }) {
			out = append(out, map[string]string{"name": k.Name, "providerId": k.ProviderID})
		}
	}
	return c.ok(out)
}

// registerRequiredAction registers a known provider ({"providerId",
// "name"}) under its own alias, enabled, after the others.
func (a *API) registerRequiredAction(c *call) error {
	var in struct {
		ProviderID string `json:"providerId"`
		Name       string `json:"name"`
	}
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	k := slices.IndexFunc(rep.KnownRequiredActions, func(k rep.KnownRequiredAction) bool { return k.ProviderID == in.ProviderID })
	if in.ProviderID == "" || k < 0 {
		return notFound("Failed to find required action provider " + in.ProviderID)
	}
	r, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	if findRequiredAction(l, in.ProviderID) >= 0 {
		return conflict("Required action provider " + in.ProviderID + " already registered")
	}
	name := in.Name
	if name == "" {
		name = rep.KnownRequiredActions[k].Name
	}
	prio := 0
	for _, p := range l {
		prio = max(prio, p.Priority)
	}
	l = append(l, rep.RequiredActionProvider{Alias: in.ProviderID, Name: name, ProviderID: in.ProviderID, Enabled: true,
		Priority: prio + 10, Config: map[string]string{}})
	if err := a.saveRequiredActions(c, r, l); err != nil {
		return err
	}
	return c.noContent()
}

func (a *API) raiseRequiredAction(c *call) error { return a.moveRequiredAction(c, -1) }
func (a *API) lowerRequiredAction(c *call) error { return a.moveRequiredAction(c, +1) }

// moveRequiredAction swaps the action's priority with its neighbour's in
// the list order (dir -1: earlier); at either end nothing changes.
func (a *API) moveRequiredAction(c *call, dir int) error {
	r, l, err := c.requiredActions()
	if err != nil {
		return err
	}
	i := findRequiredAction(l, c.r.PathValue("alias"))
	if i < 0 {
		return errNoRequiredAction()
	}
	j := i + dir
	if j < 0 || j >= len(l) {
		return c.noContent()
	}
	if l[i].Priority == l[j].Priority {
		// Equal priorities sort by alias: make the order explicit.
		l[j].Priority -= dir
	}
	l[i].Priority, l[j].Priority = l[j].Priority, l[i].Priority
	if err := a.saveRequiredActions(c, r, l); err != nil {
		return err
	}
	return c.noContent()
}
