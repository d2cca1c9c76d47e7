package authn

import (
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Registration refusals, as Keycloak's registration form words them
// (usernameExistsMessage, emailExistsMessage).
var (
	ErrUsernameExists = errors.New("authn: username exists")
	ErrEmailExists    = errors.New("authn: email exists")
)

// Registration is a person's self-registration (Keycloak's registration
// form): the new user, its password, and the realm's defaults to apply.
type Registration struct {
	User     store.User // ID, RealmID, Username, Email, names, Attributes set by the caller
	Password string
	// RequiredActions are the realm's default required actions (enabled
	// with defaultAction), added to the user's.
	RequiredActions []string
}

// Register creates reg.User as the admin API creates users: the realm's
// password policy (*password.PolicyError naming the failed rule), a
// username or email another user has (ErrUsernameExists, ErrEmailExists;
// emails only when the realm refuses duplicates), the realm's default
// role and default groups granted, the default required actions added,
// the password hashed under the policy through the bounded pool (ErrBusy
// when it is full). The user is enabled, its email not verified. A store
// that cannot answer is store.ErrUnavailable.
func (a *Authenticator) Register(ctx context.Context, s rep.RealmSettings, reg Registration) (store.User, error) {
	u := reg.User
	policy, err := password.ParsePolicy(s.PasswordPolicy)
	if err != nil {
		policy = password.DefaultPolicy()
	}
	if err := policy.CheckNew(reg.Password, u.Username, u.Email); err != nil {
		return store.User{}, err
	}
	if err := a.unique(ctx, s, u); err != nil {
		return store.User{}, err
	}
	for _, ra := range reg.RequiredActions {
		if !slices.Contains(u.RequiredActions, ra) {
			u.RequiredActions = append(u.RequiredActions, ra)
		}
	}
	u.Enabled, u.EmailVerified = true, false
	nu := store.NewUser{User: u}
	if s.DefaultRole != "" {
		role, err := a.st.GetRoleByName(ctx, u.RealmID, "", s.DefaultRole)
		switch {
		case err == nil:
			nu.RoleIDs = []string{role.ID}
		case !errors.Is(err, store.ErrNotFound):
			return store.User{}, err
		}
	}
	if len(s.DefaultGroups) > 0 {
		ids, err := a.groupIDs(ctx, u.RealmID, s.DefaultGroups)
		if err != nil {
			return store.User{}, err
		}
		nu.GroupIDs = ids
	}
	cred, err := NewPasswordCredential(ctx, a.lim, policy, u.ID, reg.Password)
	if err != nil {
		return store.User{}, err
	}
	nu.Credentials = []store.Credential{cred}
	if err := a.st.CreateUsers(ctx, []store.NewUser{nu}); err != nil {
		if errors.Is(err, store.ErrConflict) { // lost a race: say with what
			if uerr := a.unique(ctx, s, u); uerr != nil {
				return store.User{}, uerr
			}
			if u.Email != "" {
				// The store keeps emails unique per realm even where the
				// realm allows duplicates.
				return store.User{}, ErrEmailExists
			}
		}
		return store.User{}, err
	}
	return u, nil
}

// unique refuses a username or (unless duplicates are allowed) an email
// another user of the realm has.
func (a *Authenticator) unique(ctx context.Context, s rep.RealmSettings, u store.User) error {
	if _, err := a.st.GetUserByUsername(ctx, u.RealmID, u.Username); err == nil {
		return ErrUsernameExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if u.Email == "" || s.DuplicateEmailsAllowed {
		return nil
	}
	if _, err := a.st.GetUserByEmail(ctx, u.RealmID, u.Email); err == nil {
		return ErrEmailExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	return nil
}

// groupIDs are the ids of the default groups' paths; a path that names
// no group is skipped (Keycloak drops a deleted group from the defaults).
func (a *Authenticator) groupIDs(ctx context.Context, realmID string, paths []string) ([]string, error) {
	groups, err := a.st.ListGroups(ctx, realmID)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]store.Group, len(groups))
	for _, g := range groups {
		byID[g.ID] = g
	}
	path := func(g store.Group) string {
		p := "/" + g.Name
		for seen := 0; g.ParentID != "" && seen < len(groups); seen++ {
			parent, ok := byID[g.ParentID]
			if !ok {
				break
			}
			p, g = "/"+parent.Name+p, parent
		}
		return p
	}
	var ids []string
	for _, want := range paths {
		if !strings.HasPrefix(want, "/") {
			want = "/" + want
		}
		for _, g := range groups {
			if path(g) == want && !slices.Contains(ids, g.ID) {
				ids = append(ids, g.ID)
				break
			}
		}
	}
	return ids, nil
}
