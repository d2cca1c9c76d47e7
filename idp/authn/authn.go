// Package authn is the one place where a username and a password become a
// user: local credentials (any stored hash format), brute-force accounting,
// and re-hashing legacy credentials under the realm policy on success.
//
// Every failure looks the same from outside and costs about the same: an
// unknown user, a locked account and an empty password all verify a dummy
// hash before answering ErrInvalidCredentials.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Outcomes. Callers answer ErrInvalidCredentials with one generic message.
var (
	ErrInvalidCredentials = errors.New("invalid user credentials")
	// ErrUserDisabled is reported only after the password was verified, so
	// it reveals nothing to someone who does not know the password.
	ErrUserDisabled = errors.New("account disabled")
	// ErrBusy means the hashing queue is full; answer 503 with Retry-After.
	ErrBusy = errors.New("too many concurrent logins")
)

// Authenticator verifies passwords for every realm.
type Authenticator struct {
	st  store.Store
	lim *password.Limiter
	log *slog.Logger
	now func() time.Time
}

// New returns an Authenticator over st whose hashing runs through lim.
func New(st store.Store, lim *password.Limiter, log *slog.Logger) *Authenticator {
	if log == nil {
		log = slog.Default()
	}
	return &Authenticator{st: st, lim: lim, log: log, now: time.Now}
}

// Authenticate checks username (or email, where the realm allows it) and
// password in realmID.
func (a *Authenticator) Authenticate(ctx context.Context, realmID string, s rep.RealmSettings, username, pw, ip string) (store.User, error) {
	policy, err := password.ParsePolicy(s.PasswordPolicy)
	if err != nil {
		policy = password.DefaultPolicy()
	}
	u, err := a.lookup(ctx, realmID, s, username)
	if err != nil || pw == "" {
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
		return store.User{}, a.fail(ctx, policy, pw)
	}
	if s.BruteForce.Protected {
		locked, err := a.locked(ctx, realmID, u.ID)
		if err != nil {
			return store.User{}, err
		}
		if locked {
			return store.User{}, a.fail(ctx, policy, pw)
		}
	}
	cred, pc, err := passwordCredential(ctx, a.st, u.ID)
	if errors.Is(err, store.ErrNotFound) {
		return store.User{}, a.fail(ctx, policy, pw)
	}
	if err != nil {
		return store.User{}, err
	}
	ok, err := a.verify(ctx, pc, pw)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		if s.BruteForce.Protected {
			if err := a.recordFailure(ctx, realmID, u.ID, ip, s.BruteForce); err != nil {
				return store.User{}, err
			}
		}
		return store.User{}, ErrInvalidCredentials
	}
	if !u.Enabled {
		return store.User{}, ErrUserDisabled
	}
	if s.BruteForce.Protected {
		if err := a.st.DeleteLoginFailure(ctx, realmID, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
		}
	}
	if pc.NeedsRehash(policy) {
		if err := a.rehash(ctx, u.ID, cred, policy, pw); err != nil {
			// The login succeeded; a failed upgrade is retried next time.
			a.log.WarnContext(ctx, "password re-hash failed", "user", u.ID, "err", err)
		}
	}
	return u, nil
}

func (a *Authenticator) lookup(ctx context.Context, realmID string, s rep.RealmSettings, username string) (store.User, error) {
	username = strings.TrimSpace(username)
	if username == "" {
		return store.User{}, store.ErrNotFound
	}
	u, err := a.st.GetUserByUsername(ctx, realmID, username)
	if errors.Is(err, store.ErrNotFound) && s.LoginWithEmailAllowed && strings.Contains(username, "@") {
		u, err = a.st.GetUserByEmail(ctx, realmID, username)
	}
	if err == nil && u.ServiceAccount != "" {
		return store.User{}, store.ErrNotFound // service accounts have no password login
	}
	return u, err
}

// fail spends what a real verification would, then reports bad credentials.
func (a *Authenticator) fail(ctx context.Context, policy password.Policy, pw string) error {
	if _, err := a.verify(ctx, password.DummyCredential(policy), pw); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// verify runs one hash verification through the limiter.
func (a *Authenticator) verify(ctx context.Context, c password.Credential, pw string) (bool, error) {
	var ok bool
	var verr error
	err := a.lim.Do(ctx, func() { ok, verr = password.Verify(c, pw) })
	if errors.Is(err, password.ErrBusy) {
		return false, ErrBusy
	}
	if err != nil {
		return false, err
	}
	if verr != nil {
		// A malformed stored credential fails the login; it is the
		// operator's to fix, so log it (never the password).
		a.log.WarnContext(ctx, "stored credential cannot be verified", "err", verr)
		return false, nil
	}
	return ok, nil
}

// passwordCredential returns the user's password credential, highest
// priority first, and its parsed form.
func passwordCredential(ctx context.Context, st store.CredentialStore, userID string) (store.Credential, password.Credential, error) {
	creds, err := st.ListCredentials(ctx, userID)
	if err != nil {
		return store.Credential{}, password.Credential{}, err
	}
	for _, c := range creds {
		if c.Type != "password" {
			continue
		}
		pc, err := password.FromKeycloak(c.SecretData, c.CredentialData)
		if err != nil {
			return store.Credential{}, password.Credential{}, fmt.Errorf("credential %s: %w", c.ID, err)
		}
		return c, pc, nil
	}
	return store.Credential{}, password.Credential{}, store.ErrNotFound
}

// rehash replaces the verified legacy credential with one under policy, in
// one compare-and-swap: if a concurrent login already replaced it, this one
// leaves it alone, so the user ends with exactly one credential.
func (a *Authenticator) rehash(ctx context.Context, userID string, old store.Credential, policy password.Policy, pw string) error {
	var fresh password.Credential
	var herr error
	if err := a.lim.Do(ctx, func() { fresh, herr = password.Hash(policy, pw) }); err != nil {
		return err
	}
	if herr != nil {
		return herr
	}
	sd, err := fresh.SecretData()
	if err != nil {
		return err
	}
	cd, err := fresh.CredentialData()
	if err != nil {
		return err
	}
	err = a.st.UpdateCredential(ctx, userID, old.ID, func(cur store.Credential) (store.Credential, error) {
		if cur.SecretData != old.SecretData || cur.CredentialData != old.CredentialData {
			return cur, store.ErrAbort
		}
		cur.SecretData, cur.CredentialData = sd, cd
		return cur, nil
	})
	if errors.Is(err, store.ErrAbort) || errors.Is(err, store.ErrNotFound) {
		return nil
	}
	return err
}

// NewPasswordCredential hashes pw under the realm policy into a store row.
func NewPasswordCredential(ctx context.Context, lim *password.Limiter, policy password.Policy, userID, pw string) (store.Credential, error) {
	var pc password.Credential
	var herr error
	if err := lim.Do(ctx, func() { pc, herr = password.Hash(policy, pw) }); err != nil {
		if errors.Is(err, password.ErrBusy) {
			return store.Credential{}, ErrBusy
		}
		return store.Credential{}, err
	}
	if herr != nil {
		return store.Credential{}, herr
	}
	sd, err := pc.SecretData()
	if err != nil {
		return store.Credential{}, err
	}
	cd, err := pc.CredentialData()
	if err != nil {
		return store.Credential{}, err
	}
	return store.Credential{ID: uuid.NewString(), UserID: userID, Type: "password", Created: time.Now(), SecretData: sd, CredentialData: cd}, nil
}
