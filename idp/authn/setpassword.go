package authn

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// CredentialHistory is Keycloak's credential type for the previous
// passwords passwordHistory keeps.
const CredentialHistory = "password-history"

// passwordSetter is federation.Service's password write for users a
// directory holds.
type passwordSetter interface {
	SetPassword(ctx context.Context, realmID string, u store.User, password string) error
}

// SetPassword sets u's new password pw as a person changing it does
// (UPDATE_PASSWORD, the account console): the realm policy's rules
// (*password.PolicyError naming the failed rule), passwordHistory (the
// current password and the last N-1 previous ones are refused), then the
// policy's hash. A directory user's password goes to the directory
// (passwordHistory is the directory's business there). As in Keycloak,
// the replaced password joins the history, which keeps N-1 entries.
func (a *Authenticator) SetPassword(ctx context.Context, realmID string, s rep.RealmSettings, u store.User, pw string) error {
	policy, err := password.ParsePolicy(s.PasswordPolicy)
	if err != nil {
		policy = password.DefaultPolicy()
	}
	if err := policy.CheckNew(pw, u.Username, u.Email); err != nil {
		return err
	}
	if u.FederationLink != "" {
		if fs, ok := a.fed.(passwordSetter); ok {
			return fs.SetPassword(ctx, realmID, u, pw)
		}
	}
	n := policy.HistoryCount()
	creds, err := a.st.ListCredentials(ctx, u.ID)
	if err != nil {
		return err
	}
	var current *store.Credential
	var history []store.Credential
	for i, c := range creds {
		switch {
		case c.Type == "password" && current == nil:
			current = &creds[i]
		case c.Type == CredentialHistory:
			history = append(history, c)
		}
	}
	// Newest first.
	slices.SortStableFunc(history, func(x, y store.Credential) int { return y.Created.Compare(x.Created) })
	if n > 0 {
		check := history[:min(len(history), n-1)]
		if current != nil {
			check = append([]store.Credential{*current}, check...)
		}
		for _, c := range check {
			pc, err := password.FromKeycloak(c.SecretData, c.CredentialData)
			if err != nil {
				continue // unreadable: cannot match
			}
			ok, err := a.verify(ctx, realmID, pc, policy, pw)
			if err != nil {
				return err
			}
			if ok {
				return &password.PolicyError{Key: "invalidPasswordHistoryMessage", Params: []string{strconv.Itoa(n)},
					Message: fmt.Sprintf("Invalid password: must not be equal to any of last %d passwords.", n)}
			}
		}
	}
	fresh, err := a.lim.Hash(ctx, realmID, policy, pw)
	if errors.Is(err, password.ErrBusy) {
		return ErrBusy
	}
	if err != nil {
		return err
	}
	sd, err := fresh.SecretData()
	if err != nil {
		return err
	}
	cd, err := fresh.CredentialData()
	if err != nil {
		return err
	}
	row := store.Credential{ID: uuid.NewString(), UserID: u.ID, Type: "password", Created: a.now(), SecretData: sd, CredentialData: cd}
	return a.st.Tx(ctx, func(ctx context.Context) error {
		if err := a.st.SetPassword(ctx, u.ID, row); err != nil {
			return err
		}
		keep := max(n-1, 0)
		if current != nil && keep > 0 {
			old := *current
			old.ID, old.Type, old.UserLabel = uuid.NewString(), CredentialHistory, ""
			if err := a.st.CreateCredential(ctx, old); err != nil {
				return err
			}
			history = append([]store.Credential{old}, history...)
		}
		if n == 0 {
			return nil // no policy: previous history is left as it is
		}
		for _, c := range history[min(len(history), keep):] {
			if err := a.st.DeleteCredential(ctx, u.ID, c.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
		}
		return nil
	})
}
