package federation

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/keygate/keygate/store"
)

// BrokerLink is one brokered login to write: the identity after the
// provider's mappers, and the local user it signs in as.
type BrokerLink struct {
	Alias string
	// UserID is the local user the login is for; "" creates one from
	// Identity (a first broker login whose username and email are free).
	UserID string
	// Identity is ApplyIdPMappers' result for this login (whole for a new
	// user, only the changes for an existing one).
	Identity MappedIdentity
	// Token is the provider's token, kept with storeToken ("" otherwise).
	Token string
}

// LinkBrokered writes a brokered login in one transaction: the user is
// created (with the realm's default role and groups) or updated with what
// the mappers changed, its role and group grants applied (owned ones the
// provider no longer gives removed), and its link to the provider account
// added or refreshed. ErrConflict (nothing written) when a new user's
// username or email, or a changed one, belongs to another user, or the
// provider account is linked to another user, or the user to another
// account of the same provider.
func (l *Linker) LinkBrokered(ctx context.Context, realmID string, d RealmDefaults, b BrokerLink) (store.User, error) {
	if b.Identity.ExternalID == "" {
		return store.User{}, fmt.Errorf("%w: brokered identity without an id", ErrBrokerRefused)
	}
	// A later login that changes nothing (the common case under IMPORT)
	// writes nothing: on SQLite a transaction takes the one writer.
	if b.UserID != "" {
		plan, err := l.planBrokered(ctx, realmID, d, b)
		if err != nil && !errors.Is(err, store.ErrConflict) {
			return store.User{}, err
		}
		if err == nil && plan.noop() {
			links, err := l.st.ListFederatedIdentities(ctx, realmID, plan.user.ID)
			if err != nil {
				return store.User{}, err
			}
			i := slices.IndexFunc(links, func(f store.FederatedIdentity) bool { return f.Alias == b.Alias })
			if i >= 0 && links[i].ExternalID == b.Identity.ExternalID && links[i].ExternalName == b.Identity.BrokerUsername &&
				links[i].Token == b.Token {
				return plan.user, nil
			}
		}
	}
	var out store.User
	err := l.st.Tx(ctx, func(ctx context.Context) error {
		plan, err := l.planBrokered(ctx, realmID, d, b)
		if err != nil {
			return err
		}
		if err := plan.apply(ctx, l.st, realmID); err != nil {
			return err
		}
		fi := store.FederatedIdentity{RealmID: realmID, UserID: plan.user.ID, Alias: b.Alias,
			ExternalID: b.Identity.ExternalID, ExternalName: b.Identity.BrokerUsername, Token: b.Token}
		links, err := l.st.ListFederatedIdentities(ctx, realmID, plan.user.ID)
		if err != nil {
			return err
		}
		i := slices.IndexFunc(links, func(f store.FederatedIdentity) bool { return f.Alias == b.Alias })
		switch {
		case i < 0:
			err = l.st.AddFederatedIdentity(ctx, fi)
		case links[i].ExternalID != fi.ExternalID:
			return fmt.Errorf("%w: the user is linked to another %s account", ErrConflict, b.Alias)
		case links[i].ExternalName != fi.ExternalName || links[i].Token != fi.Token:
			err = l.st.UpdateFederatedIdentity(ctx, fi)
		}
		out = plan.user
		return err
	})
	if errors.Is(err, store.ErrConflict) && !errors.Is(err, ErrConflict) {
		err = fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return out, err
}

func (l *Linker) planBrokered(ctx context.Context, realmID string, d RealmDefaults, b BrokerLink) (*linkPlan, error) {
	id := b.Identity
	plan := &linkPlan{}
	var cur store.User
	if b.UserID == "" {
		plan.create = true
		if strings.TrimSpace(id.Username) == "" {
			return nil, fmt.Errorf("%w: no username for the new user", ErrConflict)
		}
	} else {
		u, err := l.st.GetUser(ctx, realmID, b.UserID)
		if err != nil {
			return nil, err
		}
		cur = u
	}
	next := cur
	if plan.create {
		next = store.User{ID: uuid.NewString(), RealmID: realmID, Enabled: true, Created: l.now().UTC()}
	}
	username := strings.ToLower(strings.TrimSpace(id.Username))
	if username != "" && username != cur.Username {
		if other, err := l.st.GetUserByUsername(ctx, realmID, username); err == nil && other.ID != cur.ID {
			return nil, fmt.Errorf("%w: username %q is taken", ErrConflict, username)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			return nil, err
		}
		next.Username = username
	}
	email := strings.ToLower(strings.TrimSpace(id.Email))
	if email != "" && email != cur.Email {
		if !d.DuplicateEmailsAllowed {
			if taken, err := store.EmailTaken(ctx, l.st, realmID, email, cur.ID); err != nil {
				return nil, err
			} else if taken {
				return nil, fmt.Errorf("%w: email of %q is taken", ErrConflict, next.Username)
			}
		}
		// Verified only when lower-casing changed no more than ASCII
		// letters: strings.ToLower maps some non-ASCII letters onto ASCII
		// ones (the Kelvin sign onto k), another mailbox than the one the
		// provider vouched for.
		next.Email, next.EmailVerified = email, id.EmailVerified && email == store.ASCIILower(strings.TrimSpace(id.Email))
	}
	if id.FirstName != "" {
		next.FirstName = id.FirstName
	}
	if id.LastName != "" {
		next.LastName = id.LastName
	}
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
	next.RequiredActions = slices.Clone(cur.RequiredActions)
	if plan.create {
		next.RequiredActions = slices.Clone(d.RequiredActions)
	}
	for _, a := range id.RequiredActions {
		if !slices.Contains(next.RequiredActions, a) {
			next.RequiredActions = append(next.RequiredActions, a)
		}
	}
	plan.update = !plan.create && !sameUser(cur, next)
	plan.user = next
	if err := l.planGrants(ctx, l.st, realmID, d, plan, id.Grants, nil); err != nil {
		return nil, err
	}
	return plan, nil
}
