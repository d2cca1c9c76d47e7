package authn

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Registration refusals, as Keycloak's registration form words them
// (usernameExistsMessage, emailExistsMessage). A directory's own refusal
// is a *federation.RefusedError.
var (
	ErrUsernameExists = errors.New("authn: username exists")
	ErrEmailExists    = errors.New("authn: email exists")
)

// directoryRegistrar is federation.Service's creation of users in a
// WRITABLE provider with syncRegistrations.
type directoryRegistrar interface {
	RegistrationProvider(ctx context.Context, realmID string) (*federation.Provider, error)
	RegisterUser(ctx context.Context, p *federation.Provider, u store.User, password string, commit func(federation.Identity) error) error
}

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
//
// A realm whose WRITABLE directory syncs registrations gets the user
// there first, with the password (no local credential), linked to the new
// entry, as Keycloak's UserStorageManager.addUser does; a directory that
// cannot answer is ErrUnavailable and leaves no user behind.
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
	if dr, ok := a.fed.(directoryRegistrar); ok {
		p, err := dr.RegistrationProvider(ctx, u.RealmID)
		if err != nil {
			return store.User{}, err
		}
		if p != nil {
			return a.registerInDirectory(ctx, s, dr, p, nu, reg.Password)
		}
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
				// The store refused the email: the realm disallowed
				// duplicates after s was read.
				return store.User{}, ErrEmailExists
			}
		}
		return store.User{}, err
	}
	return u, nil
}

// registerInDirectory creates nu in p's directory, then locally, linked
// to the entry (LDAP_ID, LDAP_ENTRY_DN, what the mappers read).
func (a *Authenticator) registerInDirectory(ctx context.Context, s rep.RealmSettings, dr directoryRegistrar, p *federation.Provider, nu store.NewUser, pw string) (store.User, error) {
	u := nu.User
	u.FederationLink, u.FederationID = p.Component.ID, ""
	nu.User = u
	err := dr.RegisterUser(ctx, p, u, pw, func(id federation.Identity) error {
		attrs := maps.Clone(u.Attributes)
		if attrs == nil {
			attrs = map[string][]string{}
		}
		for k, v := range id.Attributes {
			if _, given := attrs[k]; !given && v != nil {
				attrs[k] = slices.Clone(v)
			}
		}
		attrs[federation.AttrExternalID] = []string{id.ExternalID}
		attrs[federation.AttrEntryDN] = []string{id.DN}
		nu.User.Attributes, nu.User.FederationID = attrs, id.ExternalID
		return a.st.CreateUsers(ctx, []store.NewUser{nu})
	})
	switch {
	case err == nil:
		return nu.User, nil
	case errors.Is(err, federation.ErrConflict) && !errors.Is(err, store.ErrConflict):
		return store.User{}, ErrUsernameExists // the directory has the name
	case errors.Is(err, store.ErrConflict):
		if uerr := a.unique(ctx, s, u); uerr != nil {
			return store.User{}, uerr
		}
		return store.User{}, ErrEmailExists
	case errors.Is(err, federation.ErrUnavailable), errors.Is(err, federation.ErrReadOnly):
		return store.User{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return store.User{}, err
}

// unique refuses a username or (unless duplicates are allowed) an email
// another user of the realm has.
func (a *Authenticator) unique(ctx context.Context, s rep.RealmSettings, u store.User) error {
	if _, err := a.st.GetUserByUsername(ctx, u.RealmID, u.Username); err == nil {
		return ErrUsernameExists
	} else if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	if err := a.inDirectory(ctx, s, u.RealmID, u.Username, false); err != nil {
		return err
	}
	if s.EmailLogin() { // another's email as this username (store.LoginNameTaken)
		if taken, err := store.LoginNameTaken(ctx, a.st, u.RealmID, u.Username, "", false); err != nil {
			return err
		} else if taken {
			return ErrUsernameExists
		}
	}
	if u.Email == "" || s.DuplicateEmailsAllowed {
		return nil
	}
	if taken, err := store.EmailTaken(ctx, a.st, u.RealmID, u.Email, ""); err != nil {
		return err
	} else if taken {
		return ErrEmailExists
	}
	if s.EmailLogin() { // another's username as this email
		if taken, err := store.LoginNameTaken(ctx, a.st, u.RealmID, u.Email, "", true); err != nil {
			return err
		} else if taken {
			return ErrEmailExists
		}
	}
	return a.inDirectory(ctx, s, u.RealmID, u.Email, true)
}

// DirectoryHas says whether a user storage provider of the realm has a
// user named name (with that email when byEmail), for a profile change
// that would take it: ErrUsernameExists or ErrEmailExists when one does,
// ErrUnavailable when a directory cannot answer, nil when none does.
func (a *Authenticator) DirectoryHas(ctx context.Context, realmID string, s rep.RealmSettings, name string, byEmail bool) error {
	return a.inDirectory(ctx, s, realmID, strings.ToLower(strings.TrimSpace(name)), byEmail)
}

// inDirectory asks the realm's user storage providers for name (an
// email when byEmail), as Keycloak's uniqueness checks do through
// UserStorageManager: a directory user without a local copy yet still
// owns their username and email (and is imported now, as Keycloak does).
// A directory that cannot answer is ErrUnavailable: the name may be taken.
func (a *Authenticator) inDirectory(ctx context.Context, s rep.RealmSettings, realmID, name string, byEmail bool) error {
	if a.fed == nil || name == "" {
		return nil
	}
	d := s.FederationDefaults()
	_, err := a.fed.Resolve(ctx, realmID, d, nil, name, byEmail)
	switch {
	case errors.Is(err, federation.ErrNotFound):
		return nil
	case errors.Is(err, federation.ErrUnavailable):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	case err == nil, errors.Is(err, federation.ErrAmbiguous), errors.Is(err, federation.ErrConflict):
		// Found (imported now), or found but not importable: taken either way.
		if byEmail {
			return ErrEmailExists
		}
		return ErrUsernameExists
	default:
		return err
	}
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
