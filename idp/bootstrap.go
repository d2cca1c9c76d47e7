package idp

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// MasterRealm is where server administrators live.
const MasterRealm = "master"

// ErrNoBootstrapAdmin tells the caller to explain how to create the first admin.
var ErrNoBootstrapAdmin = errors.New("the master realm has no users; set KC_BOOTSTRAP_ADMIN_USERNAME and KC_BOOTSTRAP_ADMIN_PASSWORD (or KEYGATE_BOOTSTRAP_ADMIN_*) and restart to create the first admin")

// Bootstrap creates the master realm when missing and, when it has no users,
// the admin user holding the master realm role "admin". Replicas starting
// together race for both; the loser's insert conflicts, rolls back, and it
// goes on with what the winner created, so exactly one admin exists.
// With an empty username it only ensures the realm and reports
// ErrNoBootstrapAdmin when there is no user.
func Bootstrap(ctx context.Context, st store.Store, lim *password.Limiter, username, pw string) error {
	if _, err := st.GetRealmByName(ctx, MasterRealm); errors.Is(err, store.ErrNotFound) {
		if _, err := rep.CreateRealm(ctx, st, rep.NewRealm(MasterRealm), rep.ImportOptions{IfExists: rep.IfExistsSkip}); err != nil {
			return fmt.Errorf("create master realm: %w", err)
		}
	} else if err != nil {
		return err
	}
	realm, err := st.GetRealmByName(ctx, MasterRealm)
	if err != nil {
		return err
	}
	n, err := st.CountUsers(ctx, realm.ID, store.UserQuery{})
	if err != nil || n > 0 {
		return err
	}
	username = strings.ToLower(strings.TrimSpace(username))
	if username == "" || pw == "" {
		return ErrNoBootstrapAdmin
	}
	_, settings, err := rep.DecodeRealm(realm)
	if err != nil {
		return err
	}
	policy, err := password.ParsePolicy(settings.PasswordPolicy)
	if err != nil {
		return err
	}
	u := store.User{ID: uuid.NewString(), RealmID: realm.ID, Username: username, Enabled: true, Created: time.Now()}
	cred, err := authn.NewPasswordCredential(ctx, lim, policy, u.ID, pw)
	if err != nil {
		return err
	}
	err = st.Tx(ctx, func(ctx context.Context) error {
		// Re-check inside the transaction: another replica may have won.
		if n, err := st.CountUsers(ctx, realm.ID, store.UserQuery{}); err != nil || n > 0 {
			return err
		}
		if err := st.CreateUser(ctx, u); err != nil {
			return err
		}
		if err := st.CreateCredential(ctx, cred); err != nil {
			return err
		}
		var roles []string
		for _, name := range []string{"admin", settings.DefaultRole} {
			if name == "" {
				continue
			}
			role, err := st.GetRoleByName(ctx, realm.ID, "", name)
			if err != nil {
				return fmt.Errorf("master role %q: %w", name, err)
			}
			roles = append(roles, role.ID)
		}
		return st.GrantUserRoles(ctx, realm.ID, u.ID, roles)
	})
	if errors.Is(err, store.ErrConflict) {
		// Another replica created its admin between our check and insert.
		if n, cerr := st.CountUsers(ctx, realm.ID, store.UserQuery{}); cerr == nil && n > 0 {
			return nil
		}
	}
	return err
}
