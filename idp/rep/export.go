package rep

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"

	"github.com/keygate/keygate/store"
)

// ExportRealm returns realmName as Keycloak's realm export: the realm's
// settings; roles (realm and client, composites by name, every client with
// an entry even when it has no roles); groups nested, with paths and role
// mappings; clients with their secrets; client scopes; identity providers
// and their mappers; components nested under subComponents; and, with
// withUsers, users with credentials (secretData included, as Keycloak's
// export has it), realmRoles, clientRoles, groups (paths) and
// serviceAccountClientId.
//
// Every list is sorted (roles, scopes and groups by name, clients by
// clientId, users by username, ...) so that Export -> Import -> Export gives
// the same JSON. It reads inside one st.Tx, for a consistent snapshot.
//
// Secret component config values (an LDAP provider's bindCredential) read
// as SecretMask; Export with ExportOptions.Secrets includes them.
func ExportRealm(ctx context.Context, st store.Store, realmName string, withUsers bool) (Realm, error) {
	return Export(ctx, st, realmName, ExportOptions{Users: withUsers})
}

// ExportOptions tune Export.
type ExportOptions struct {
	// Users exports the users with their credentials (see ExportRealm).
	Users bool
	// Secrets exports secret component config values as they are instead
	// of SecretMask, revealed with Reveal (oidc.SecretSealer.Reveal): a
	// value sealed with --db-key is useless anywhere else.
	Secrets bool
	// Reveal also opens the users' OTP secrets (Users), which an export
	// carries in the clear as Keycloak's does.
	Reveal func(string) (string, error)
}

// Export is ExportRealm with options.
func Export(ctx context.Context, st store.Store, realmName string, opts ExportOptions) (Realm, error) {
	var out Realm
	err := st.Tx(ctx, func(ctx context.Context) error {
		var err error
		out, err = exportRealm(ctx, st, realmName, opts)
		return err
	})
	return out, err
}

func exportRealm(ctx context.Context, st store.Store, realmName string, opts ExportOptions) (Realm, error) {
	withUsers := opts.Users
	row, err := st.GetRealmByName(ctx, realmName)
	if err != nil {
		return Realm{}, err
	}
	r, _, err := DecodeRealm(row)
	if err != nil {
		return Realm{}, err
	}
	if err := exportSMTP(&r, opts); err != nil {
		return Realm{}, err
	}
	realmID := row.ID

	clients, err := st.ListClients(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	clientIDs := map[string]string{} // internal id -> clientId
	r.Roles = &RealmRoles{Realm: []Role{}, Client: map[string][]Role{}}
	for _, c := range clients {
		rc, err := ClientFromStore(c)
		if err != nil {
			return Realm{}, err
		}
		r.Clients = append(r.Clients, rc)
		clientIDs[c.ID] = c.ClientID
		r.Roles.Client[c.ClientID] = []Role{}
	}
	slices.SortFunc(r.Clients, func(a, b Client) int { return cmp.Compare(a.ClientID, b.ClientID) })

	scopes, err := st.ListClientScopes(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	for _, s := range scopes {
		rs, err := ClientScopeFromStore(s)
		if err != nil {
			return Realm{}, err
		}
		r.ClientScopes = append(r.ClientScopes, rs)
	}
	slices.SortFunc(r.ClientScopes, func(a, b ClientScope) int { return cmp.Compare(a.Name, b.Name) })

	// Roles and composites.
	roles, err := st.ListAllRoles(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	pairs, err := st.ListAllRoleComposites(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	byID := map[string]store.Role{}
	for _, role := range roles {
		byID[role.ID] = role
	}
	children := map[string][]store.Role{}
	for _, p := range pairs {
		if child, ok := byID[p[1]]; ok {
			children[p[0]] = append(children[p[0]], child)
		}
	}
	for _, role := range roles {
		rr := RoleFromStore(role, realmID)
		if kids := children[role.ID]; len(kids) > 0 {
			realm, client := roleNames(kids, clientIDs)
			rr.Composite, rr.Composites = true, &RoleComposites{Realm: realm, Client: client}
		}
		if role.ClientID == "" {
			r.Roles.Realm = append(r.Roles.Realm, rr)
			if r.DefaultRole != nil && r.DefaultRole.Name == role.Name {
				r.DefaultRole = &Role{ID: rr.ID, Name: rr.Name, Description: rr.Description, Composite: true, ContainerID: realmID}
			}
		} else if c, ok := clientIDs[role.ClientID]; ok {
			r.Roles.Client[c] = append(r.Roles.Client[c], rr)
		}
	}
	byName := func(a, b Role) int { return cmp.Compare(a.Name, b.Name) }
	slices.SortFunc(r.Roles.Realm, byName)
	for _, list := range r.Roles.Client {
		slices.SortFunc(list, byName)
	}

	// Groups, nested.
	groups, err := st.ListGroups(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	paths := groupPaths(groups)
	reps := map[string]*Group{}
	kids := map[string][]string{}
	var roots []string
	for _, g := range groups {
		gr := GroupFromStore(g, paths[g.ID])
		groles, err := st.ListGroupRoles(ctx, realmID, g.ID)
		if err != nil {
			return Realm{}, err
		}
		gr.RealmRoles, gr.ClientRoles = roleNames(groles, clientIDs)
		reps[g.ID] = &gr
	}
	for _, g := range groups {
		if _, ok := reps[g.ParentID]; ok && g.ParentID != "" {
			kids[g.ParentID] = append(kids[g.ParentID], g.ID)
		} else {
			roots = append(roots, g.ID)
		}
	}
	var tree func(ids []string, depth int) []Group
	tree = func(ids []string, depth int) []Group {
		var out []Group
		for _, id := range ids {
			g := *reps[id]
			if depth < len(groups) { // a corrupt cycle ends instead of recursing forever
				g.SubGroups = tree(kids[id], depth+1)
			}
			out = append(out, g)
		}
		slices.SortFunc(out, func(a, b Group) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
		return out
	}
	r.Groups = tree(roots, 0)

	if withUsers {
		if r.Users, err = exportUsers(ctx, st, realmID, clientIDs, paths); err != nil {
			return Realm{}, err
		}
		if err := revealOTPSecrets(r.Users, opts.Reveal); err != nil {
			return Realm{}, err
		}
	}

	// Identity providers and mappers.
	idps, err := st.ListIdentityProviders(ctx, realmID)
	if err != nil {
		return Realm{}, err
	}
	for _, p := range idps {
		rp, err := IdentityProviderFromStore(p)
		if err != nil {
			return Realm{}, err
		}
		if v := rp.Config["clientSecret"]; v != "" {
			cfg, err := exportConfig(store.Component{Name: rp.Alias, ID: rp.InternalID, Config: map[string][]string{"clientSecret": {v}}}, opts)
			if err != nil {
				return Realm{}, err
			}
			rp.Config = maps.Clone(rp.Config)
			rp.Config["clientSecret"] = cfg["clientSecret"][0]
		}
		r.IdentityProviders = append(r.IdentityProviders, rp)
		mappers, err := st.ListIdentityProviderMappers(ctx, realmID, p.Alias)
		if err != nil {
			return Realm{}, err
		}
		for _, m := range mappers {
			r.IdentityProviderMappers = append(r.IdentityProviderMappers, IdentityProviderMapperFromStore(m))
		}
	}
	slices.SortFunc(r.IdentityProviders, func(a, b IdentityProvider) int { return cmp.Compare(a.Alias, b.Alias) })
	slices.SortFunc(r.IdentityProviderMappers, func(a, b IdentityProviderMapper) int {
		return cmp.Or(cmp.Compare(a.IdentityProviderAlias, b.IdentityProviderAlias), cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID))
	})

	// Components, nested under their parents by provider type.
	comps, err := st.ListComponents(ctx, realmID, "", "")
	if err != nil {
		return Realm{}, err
	}
	for i := range comps {
		if comps[i].Config, err = exportConfig(comps[i], opts); err != nil {
			return Realm{}, err
		}
	}
	r.Components = componentTree(comps, realmID)
	if r.RequiredActions == nil {
		r.RequiredActions = DefaultRequiredActions() // Keycloak always lists them
	}
	return r, nil
}

// exportConfig is c's config as an export shows it: secrets masked, or
// revealed with opts.Secrets.
func exportConfig(c store.Component, opts ExportOptions) (map[string][]string, error) {
	if !opts.Secrets {
		return MaskSecrets(c.Config), nil
	}
	if opts.Reveal == nil {
		return c.Config, nil
	}
	out := make(map[string][]string, len(c.Config))
	for k, v := range c.Config {
		out[k] = v
		if IsSecretConfigKey(k) && len(v) > 0 {
			plain, err := opts.Reveal(v[0])
			if err != nil {
				return nil, fmt.Errorf("component %q (%s) config %s: %w", c.Name, c.ID, k, err)
			}
			out[k] = append([]string{plain}, v[1:]...)
		}
	}
	return out, nil
}

func exportUsers(ctx context.Context, st store.Store, realmID string, clientIDs, groupPaths map[string]string) ([]User, error) {
	users, err := st.ListUsers(ctx, realmID, store.UserQuery{IncludeServiceAccounts: true})
	if err != nil {
		return nil, err
	}
	scopes, err := st.ListClientScopes(ctx, realmID)
	if err != nil {
		return nil, err
	}
	scopeNames := make(map[string]string, len(scopes))
	for _, sc := range scopes {
		scopeNames[sc.ID] = sc.Name
	}
	out := make([]User, 0, len(users))
	for _, u := range users {
		ru := UserFromStore(u)
		ru.ServiceAccountClientID = clientIDs[u.ServiceAccount]
		creds, err := st.ListCredentials(ctx, u.ID)
		if err != nil {
			return nil, err
		}
		slices.SortFunc(creds, func(a, b store.Credential) int {
			return cmp.Or(cmp.Compare(a.Priority, b.Priority), a.Created.Compare(b.Created), cmp.Compare(a.ID, b.ID))
		})
		for _, c := range creds {
			ru.Credentials = append(ru.Credentials, CredentialFromStore(c))
			if c.Type == "otp" {
				ru.Totp = ptr(true)
			}
		}
		roles, err := st.ListUserRoles(ctx, realmID, u.ID)
		if err != nil {
			return nil, err
		}
		ru.RealmRoles, ru.ClientRoles = roleNames(roles, clientIDs)
		groups, err := st.ListUserGroups(ctx, realmID, u.ID)
		if err != nil {
			return nil, err
		}
		for _, g := range groups {
			ru.Groups = append(ru.Groups, groupPaths[g.ID])
		}
		slices.Sort(ru.Groups)
		links, err := st.ListFederatedIdentities(ctx, realmID, u.ID)
		if err != nil {
			return nil, err
		}
		for _, f := range links {
			ru.FederatedIdentities = append(ru.FederatedIdentities, FederatedIdentity{IdentityProvider: f.Alias, UserID: f.ExternalID, UserName: f.ExternalName})
		}
		consents, err := st.ListUserConsents(ctx, realmID, u.ID)
		if err != nil {
			return nil, err
		}
		for _, c := range consents {
			uc := UserConsent{ClientID: clientIDs[c.ClientID], CreatedDate: c.Created.UnixMilli(), LastUpdatedDate: c.Updated.UnixMilli()}
			for _, id := range c.Scopes {
				if n, ok := scopeNames[id]; ok {
					uc.GrantedClientScopes = append(uc.GrantedClientScopes, n)
				}
			}
			slices.Sort(uc.GrantedClientScopes)
			ru.ClientConsents = append(ru.ClientConsents, uc)
		}
		out = append(out, ru)
	}
	slices.SortFunc(out, func(a, b User) int { return cmp.Compare(a.Username, b.Username) })
	return out, nil
}

// roleNames splits roles into sorted realm role names and client role names
// by clientId.
func roleNames(roles []store.Role, clientIDs map[string]string) (realm []string, client map[string][]string) {
	for _, role := range roles {
		if role.ClientID == "" {
			realm = append(realm, role.Name)
		} else if c, ok := clientIDs[role.ClientID]; ok {
			if client == nil {
				client = map[string][]string{}
			}
			client[c] = append(client[c], role.Name)
		}
	}
	slices.Sort(realm)
	for _, names := range client {
		slices.Sort(names)
	}
	return realm, client
}

// componentTree nests components: those whose parent is the realm (or
// missing) at the top, the others under their parent's subComponents.
func componentTree(comps []store.Component, realmID string) map[string][]ComponentExport {
	known := map[string]bool{}
	for _, c := range comps {
		known[c.ID] = true
	}
	byParent := map[string][]store.Component{}
	for _, c := range comps {
		parent := c.ParentID
		if parent == realmID || !known[parent] || parent == c.ID {
			parent = ""
		}
		byParent[parent] = append(byParent[parent], c)
	}
	var build func(parent string, depth int) map[string][]ComponentExport
	build = func(parent string, depth int) map[string][]ComponentExport {
		if len(byParent[parent]) == 0 || depth > len(comps) {
			return nil
		}
		out := map[string][]ComponentExport{}
		for _, c := range byParent[parent] {
			out[c.ProviderType] = append(out[c.ProviderType], ComponentExport{ID: c.ID, Name: c.Name, ProviderID: c.ProviderID,
				SubType: c.SubType, Config: c.Config, SubComponents: build(c.ID, depth+1)})
		}
		for _, list := range out {
			slices.SortFunc(list, func(a, b ComponentExport) int { return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.ID, b.ID)) })
		}
		return out
	}
	return build("", 0)
}
