package federation

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"

	"github.com/keygate/keygate/store"
)

// Service resolves logins against a realm's providers and links what they
// find: the part of a login that idp/authn hands to federation.
type Service struct {
	reg      *Registry
	link     *Linker
	log      *slog.Logger
	syncs    syncs
	observer SyncObserver
}

// NewService returns a service over the registry's providers, linking
// with link.
func NewService(reg *Registry, link *Linker, log *slog.Logger) *Service {
	if log == nil {
		log = slog.Default()
	}
	return &Service{reg: reg, link: link, log: log}
}

// Account is a federated user ready for its password check.
type Account struct {
	User     store.User
	provider *Provider
	identity Identity
}

// Provider is the provider the account came from.
func (a Account) Provider() *Provider { return a.provider }

// Resolve finds the user of a login. A linked local user (local non-nil)
// is revalidated against its provider by its immutable id: a renamed or
// moved entry updates the local user; an entry the provider says is gone
// deletes it (or disables it, with removeInvalidUsersEnabled false) and
// answers ErrNotFound. With local nil, the realm's enabled providers are
// asked in priority order and the first that knows name imports it.
//
// ErrNotFound: no provider has the user (and none failed to answer).
// ErrUnavailable: a provider that might have it could not answer.
// ErrAmbiguous, ErrConflict: the login is refused (and logged).
func (s *Service) Resolve(ctx context.Context, realmID string, d RealmDefaults, local *store.User, name string, byEmail bool) (Account, error) {
	if local != nil {
		return s.revalidate(ctx, realmID, d, local)
	}
	providers, err := s.reg.Providers(ctx, realmID)
	if err != nil {
		return Account{}, err
	}
	var unavailable error
	for _, p := range providers {
		if !p.Enabled {
			continue
		}
		id, err := p.Storage.LookupUser(ctx, name, byEmail)
		switch {
		case errors.Is(err, ErrNotFound):
			continue
		case errors.Is(err, ErrAmbiguous):
			s.log.WarnContext(ctx, "login refused: several directory entries match", "realm", realmID, "provider", p.Name, "err", err)
			return Account{}, err
		case err != nil:
			s.log.WarnContext(ctx, "user storage provider unavailable", "realm", realmID, "provider", p.Name, "err", err)
			unavailable = unavailableErr(p, err)
			continue
		}
		u, err := s.link.Link(ctx, realmID, d, p, id, nil)
		if err != nil {
			return Account{}, s.linkFailed(ctx, realmID, p, err)
		}
		return Account{User: u, provider: p, identity: id}, nil
	}
	if unavailable != nil {
		return Account{}, unavailable
	}
	return Account{}, ErrNotFound
}

func (s *Service) revalidate(ctx context.Context, realmID string, d RealmDefaults, local *store.User) (Account, error) {
	p, err := s.reg.Provider(ctx, realmID, local.FederationLink)
	if errors.Is(err, store.ErrNotFound) {
		s.log.WarnContext(ctx, "login refused: the user's provider no longer exists", "realm", realmID, "user", local.ID,
			"provider", local.FederationLink)
		return Account{}, ErrNotFound
	}
	if err != nil {
		return Account{}, err
	}
	if !p.Enabled {
		return Account{}, fmt.Errorf("%w: provider %s is disabled", ErrAccountDisabled, p.Name)
	}
	extID := externalID(*local)
	if extID == "" {
		return Account{}, fmt.Errorf("%w: user %s has no %s", ErrNotFound, local.ID, AttrExternalID)
	}
	id, err := p.Storage.LoadUser(ctx, extID)
	switch {
	case errors.Is(err, ErrNotFound):
		return Account{}, s.gone(ctx, realmID, p, local)
	case err != nil:
		s.log.WarnContext(ctx, "user storage provider unavailable", "realm", realmID, "provider", p.Name, "err", err)
		return Account{}, unavailableErr(p, err)
	}
	u, err := s.link.Link(ctx, realmID, d, p, id, local)
	if err != nil {
		return Account{}, s.linkFailed(ctx, realmID, p, err)
	}
	return Account{User: u, provider: p, identity: id}, nil
}

// externalID is the immutable id of u's entry: the indexed federation
// id the linker wrote (which sync and import look users up by), else the
// LDAP_ID attribute of a user linked before there was one. The attribute
// alone never decides which entry a user revalidates against.
func externalID(u store.User) string {
	if u.FederationID != "" {
		return u.FederationID
	}
	return first(u.Attributes[AttrExternalID])
}

// gone removes (or disables) a linked user its provider authoritatively
// no longer has.
func (s *Service) gone(ctx context.Context, realmID string, p *Provider, u *store.User) error {
	var err error
	if p.RemoveInvalidUsers {
		err = s.link.st.DeleteUser(ctx, realmID, u.ID)
	} else if u.Enabled {
		next := *u
		next.Enabled = false
		err = s.link.st.UpdateUser(ctx, next)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	s.log.InfoContext(ctx, "user gone from its directory", "realm", realmID, "provider", p.Name, "user", u.ID,
		"removed", p.RemoveInvalidUsers)
	return ErrNotFound
}

func (s *Service) linkFailed(ctx context.Context, realmID string, p *Provider, err error) error {
	if errors.Is(err, ErrConflict) {
		s.log.WarnContext(ctx, "login refused: the directory user cannot be imported", "realm", realmID, "provider", p.Name, "err", err)
	}
	return err
}

// CheckPassword checks the account's password against its provider:
// false for a wrong password; ErrUnavailable when the provider cannot
// say; ErrAccountDisabled when the source refuses a correct password. A
// correct password the source says must change is true, and gives the
// user (a.User too) the UPDATE_PASSWORD required action.
func (s *Service) CheckPassword(ctx context.Context, a *Account, password string) (bool, error) {
	if password == "" {
		return false, nil
	}
	ok, err := a.provider.Storage.CheckPassword(ctx, a.identity, password)
	switch {
	case err == nil, errors.Is(err, ErrAccountDisabled):
		return ok, err
	case errors.Is(err, ErrMustChangePassword):
		// The password was right; the user now has a pending action,
		// which stops every grant until it is done.
		return true, s.requireAction(ctx, a, "UPDATE_PASSWORD")
	}
	s.log.WarnContext(ctx, "user storage provider unavailable", "provider", a.provider.Name, "err", err)
	return false, unavailableErr(a.provider, err)
}

func unavailableErr(p *Provider, err error) error {
	if errors.Is(err, ErrUnavailable) {
		return err
	}
	return fmt.Errorf("%w: %s: %w", ErrUnavailable, p.Name, err)
}

// requireAction adds action to the account's user, in the store and in a.
func (s *Service) requireAction(ctx context.Context, a *Account, action string) error {
	return s.link.st.Tx(ctx, func(ctx context.Context) error {
		cur, err := s.link.st.GetUser(ctx, a.User.RealmID, a.User.ID)
		if err != nil {
			return err
		}
		if !slices.Contains(cur.RequiredActions, action) {
			cur.RequiredActions = append(cur.RequiredActions, action)
			if err := s.link.st.UpdateUser(ctx, cur); err != nil {
				return err
			}
		}
		a.User = cur
		return nil
	})
}

// SearchUsers asks the realm's enabled providers that can search for users
// matching query (at most max from each) and imports or updates them, as
// Keycloak's admin user search does, so the local search that follows
// finds them. A provider that fails is logged and skipped: the admin's
// list of local users never depends on a directory.
func (s *Service) SearchUsers(ctx context.Context, realmID string, d RealmDefaults, query string, max int) {
	providers, err := s.reg.Providers(ctx, realmID)
	if err != nil {
		s.log.WarnContext(ctx, "user search: providers", "realm", realmID, "err", err)
		return
	}
	for _, p := range providers {
		searcher, ok := p.Storage.(Searcher)
		if !ok || !p.Enabled {
			continue
		}
		ids, err := searcher.SearchUsers(ctx, query, max)
		if err != nil {
			s.log.WarnContext(ctx, "user search: provider unavailable", "realm", realmID, "provider", p.Name, "err", err)
			continue
		}
		if len(ids) == 0 {
			continue
		}
		_, errs, err := s.link.LinkPage(ctx, realmID, d, p, ids, nil)
		if err != nil {
			s.log.WarnContext(ctx, "user search: import failed", "realm", realmID, "provider", p.Name, "err", err)
		}
		for _, e := range errs {
			s.log.WarnContext(ctx, "user search: user not imported", "realm", realmID, "provider", p.Name, "err", e)
		}
	}
}

// ---- writes (Keycloak's WRITABLE edit mode)
//
// The admin API calls these before it writes locally, so that a source
// that refuses or cannot answer leaves the local user as it was.

// writable returns the provider of the linked user u and u's entry as the
// provider loads it now (by its immutable id, so a moved entry is found
// where it is), when the provider takes writes: ErrReadOnly when it is
// not WRITABLE or is disabled.
func (s *Service) writable(ctx context.Context, realmID string, u store.User) (*Provider, Identity, error) {
	p, err := s.reg.Provider(ctx, realmID, u.FederationLink)
	if err != nil {
		return nil, Identity{}, err
	}
	if p.EditMode != Writable || !p.Enabled {
		return p, Identity{}, fmt.Errorf("%w: provider %s is %s, enabled %t", ErrReadOnly, p.Name, p.EditMode, p.Enabled)
	}
	extID := externalID(u)
	if extID == "" {
		return p, Identity{}, fmt.Errorf("%w: user %s has no %s", ErrNotFound, u.ID, AttrExternalID)
	}
	id, err := p.Storage.LoadUser(ctx, extID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.log.WarnContext(ctx, "user storage provider unavailable", "realm", realmID, "provider", p.Name, "err", err)
		err = unavailableErr(p, err)
	}
	return p, id, err
}

// UpdateUser writes an admin's change of the linked user old (next is the
// user after it) to its WRITABLE provider's source, and returns the
// user's entry as it is after (a renamed entry has a new DN).
func (s *Service) UpdateUser(ctx context.Context, realmID string, old, next store.User) (Identity, error) {
	p, id, err := s.writable(ctx, realmID, old)
	if err != nil {
		return Identity{}, err
	}
	w, ok := p.Storage.(Writer)
	if !ok {
		return Identity{}, fmt.Errorf("%w: provider %s cannot write users", ErrReadOnly, p.Name)
	}
	out, err := w.UpdateUser(ctx, id, old, next)
	if err != nil {
		return Identity{}, s.writeFailed(ctx, realmID, p, "update user", err)
	}
	return out, nil
}

// SetPassword sets the linked user u's password in its WRITABLE
// provider's source.
func (s *Service) SetPassword(ctx context.Context, realmID string, u store.User, password string) error {
	p, id, err := s.writable(ctx, realmID, u)
	if err != nil {
		return err
	}
	pu, ok := p.Storage.(PasswordUpdater)
	if !ok {
		return fmt.Errorf("%w: provider %s cannot set passwords", ErrReadOnly, p.Name)
	}
	if err := pu.UpdatePassword(ctx, id, password); err != nil {
		return s.writeFailed(ctx, realmID, p, "set password", err)
	}
	return nil
}

// RegistrationProvider is the provider that takes the users created in
// realmID (Keycloak's UserStorageManager.addUser: the enabled providers in
// priority order, the first whose syncRegistrations is on in WRITABLE
// mode), or nil when none does.
func (s *Service) RegistrationProvider(ctx context.Context, realmID string) (*Provider, error) {
	providers, err := s.reg.Providers(ctx, realmID)
	if err != nil {
		return nil, err
	}
	for _, p := range providers {
		if _, ok := p.Storage.(Writer); ok && p.Enabled && p.EditMode == Writable &&
			boolKey(p.Component.Config, "syncRegistrations", false) {
			return p, nil
		}
	}
	return nil, nil
}

// RegisterUser creates u, a new local user not stored yet, in p's source
// (with password, unless empty), then calls commit with the new entry to
// store the local user. If commit fails, the entry is deleted again, so
// that a refused local user leaves no entry behind, and commit's error is
// returned.
func (s *Service) RegisterUser(ctx context.Context, p *Provider, u store.User, password string, commit func(Identity) error) error {
	w, ok := p.Storage.(Writer)
	if !ok {
		return fmt.Errorf("%w: provider %s cannot write users", ErrReadOnly, p.Name)
	}
	id, err := w.CreateUser(ctx, u, password)
	if err != nil {
		return s.writeFailed(ctx, u.RealmID, p, "create user", err)
	}
	if err := commit(id); err != nil {
		if derr := w.DeleteUser(context.WithoutCancel(ctx), id); derr != nil {
			s.log.ErrorContext(ctx, "directory entry of a user not created locally is left behind", "realm", u.RealmID,
				"provider", p.Name, "dn", id.DN, "err", derr)
		}
		return err
	}
	return nil
}

// DeleteUser deletes the linked user u's entry from its WRITABLE
// provider's source, as Keycloak's removeUser does; an entry already gone
// is no error. Users of other providers (READ_ONLY, UNSYNCED, disabled
// ones) are deleted locally only: nil.
func (s *Service) DeleteUser(ctx context.Context, realmID string, u store.User) error {
	p, id, err := s.writable(ctx, realmID, u)
	switch {
	case errors.Is(err, ErrReadOnly), errors.Is(err, ErrNotFound), errors.Is(err, store.ErrNotFound):
		return nil
	case err != nil:
		return err
	}
	w, ok := p.Storage.(Writer)
	if !ok {
		return nil
	}
	if err := w.DeleteUser(ctx, id); err != nil {
		return s.writeFailed(ctx, realmID, p, "delete user", err)
	}
	return nil
}

// writeFailed logs a write the source did not take (never what was
// written: it may be a password) and returns err, unavailability wrapped
// as ErrUnavailable.
func (s *Service) writeFailed(ctx context.Context, realmID string, p *Provider, what string, err error) error {
	if errors.Is(err, ErrUnavailable) {
		s.log.WarnContext(ctx, "user storage provider unavailable", "realm", realmID, "provider", p.Name, "op", what, "err", err)
		return unavailableErr(p, err)
	}
	s.log.InfoContext(ctx, "user storage provider refused a write", "realm", realmID, "provider", p.Name, "op", what, "err", err)
	return err
}
