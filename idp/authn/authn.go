// Package authn is the one place where a username and a password become a
// user: local credentials (any stored hash format), brute-force accounting,
// and re-hashing legacy credentials under the realm policy on success.
//
// Every failure looks the same from outside and costs about the same: an
// unknown user, a locked account and an empty password all verify a dummy
// hash under the realm policy before answering ErrInvalidCredentials, and a
// wrong password for a cheaper legacy hash (md5) is padded to the policy's
// cost. Hashing runs in the realm's share of the bounded pool
// (password.Limiter), so one realm's flood does not starve another's logins.
package authn

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/otp"
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
	// ErrUnavailable means a user storage provider (a directory) that
	// might hold the user, or keygate's own database (store.ErrUnavailable,
	// kept in the chain), could not answer: 503, never "wrong password".
	ErrUnavailable = errors.New("user storage unavailable")
)

// Federation is what authn needs from user federation
// (federation.Service): the user behind a name that no local user has, or
// a linked user revalidated against its provider; and a password check
// by that provider.
type Federation interface {
	Resolve(ctx context.Context, realmID string, d federation.RealmDefaults, local *store.User, name string, byEmail bool) (federation.Account, error)
	CheckPassword(ctx context.Context, a *federation.Account, password string) (bool, error)
}

// Authenticator verifies passwords for every realm.
type Authenticator struct {
	st  store.Store
	lim *password.Limiter
	fed Federation    // nil: local users only
	otp *otp.Verifier // nil: one-time passwords are not asked for
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

// SetFederation makes logins consult fed for names no local user has and
// for users linked to a provider.
func (a *Authenticator) SetFederation(fed Federation) { a.fed = fed }

// Authenticate checks username (or email, where the realm allows it) and
// password in realmID.
//
// With brute-force protection on, the attempt is counted before the
// password is checked (a compare-and-swap on the user's counter row, also
// across replicas), and a user locked out by earlier attempts is refused
// without a check: however many guesses arrive at once, at most
// failureFactor passwords are checked before the lockout. A success clears
// the counters, its own attempt included, as Keycloak's does.
func (a *Authenticator) Authenticate(ctx context.Context, realmID string, s rep.RealmSettings, username, pw, ip string) (store.User, error) {
	u, err := a.authenticate(ctx, realmID, s, username, pw, ip)
	if errors.Is(err, store.ErrUnavailable) && !errors.Is(err, ErrUnavailable) {
		// The database could not answer: the same path as a directory
		// that cannot, so every caller's 503 covers it.
		err = fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return u, err
}

func (a *Authenticator) authenticate(ctx context.Context, realmID string, s rep.RealmSettings, username, pw, ip string) (store.User, error) {
	if len(pw) > password.MaxPasswordBytes {
		// Longer than any password keygate lets anyone set: refused before
		// the lookup, so the answer is the same for every username, and
		// before hashing, so a huge body costs nothing.
		return store.User{}, ErrInvalidCredentials
	}
	policy, err := password.ParsePolicy(s.PasswordPolicy)
	if err != nil {
		policy = password.DefaultPolicy()
	}
	u, err := a.lookup(ctx, realmID, s, username)
	missing := errors.Is(err, store.ErrNotFound)
	if err != nil && !missing {
		return store.User{}, err
	}
	if a.fed != nil && pw != "" && (missing || u.FederationLink != "") {
		var local *store.User
		if !missing {
			local = &u
		}
		return a.federated(ctx, realmID, s, policy, local, username, pw, ip)
	}
	if missing || pw == "" {
		return store.User{}, a.fail(ctx, realmID, policy, pw)
	}
	var cred store.Credential
	var pc password.Credential
	u, err = a.attempt(ctx, realmID, s, policy, u, pw, ip, func() (bool, store.User, []store.Credential, error) {
		var err error
		var creds []store.Credential
		cred, pc, creds, err = passwordCredential(ctx, a.st, u.ID)
		if errors.Is(err, store.ErrNotFound) {
			return false, u, nil, a.fail(ctx, realmID, policy, pw)
		}
		if err != nil {
			return false, u, nil, err
		}
		ok, err := a.verify(ctx, realmID, pc, policy, pw)
		return ok, u, creds, err
	})
	if (err == nil || errors.Is(err, ErrOTPRequired)) && pc.NeedsRehash(policy) {
		if err := a.rehash(ctx, realmID, u.ID, cred, policy, pw); err != nil {
			// The login succeeded; a failed upgrade is retried next time.
			a.log.WarnContext(ctx, "password re-hash failed", "user", u.ID, "err", err)
		}
	}
	return u, err
}

// attempt is one password check of u, counted as brute-force protection
// counts it: reserved before check runs (a user locked out already is
// refused with a dummy verify), a permanent lockout applied when this was
// the attempt that reached it and the password is wrong, the counters
// cleared on success. check returns whether the password is right, the
// user as it is after the check and, when it read them, the user's
// credentials (the OTP step reads them otherwise); an error it returns
// ends the attempt as it is.
func (a *Authenticator) attempt(ctx context.Context, realmID string, s rep.RealmSettings, policy password.Policy, u store.User, pw, ip string,
	check func() (bool, store.User, []store.Credential, error)) (store.User, error) {
	disableOnFailure := false
	var res reservation
	if s.BruteForce.Protected && permanentlyLockedOut(u) {
		// As Keycloak's getDisabledByBruteForceEventError: the same answer
		// as a wrong password, or guessing would go on past the lockout
		// and "Account disabled" would name the right one.
		return store.User{}, a.fail(ctx, realmID, policy, pw)
	}
	if s.BruteForce.Protected {
		var err error
		if res, err = a.reserveRows(ctx, realmID, u.ID, ip, s.BruteForce); err != nil {
			return store.User{}, err
		}
		if !res.allowed {
			return store.User{}, a.fail(ctx, realmID, policy, pw)
		}
		disableOnFailure = res.disable
	}
	ok, u, creds, err := check()
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		if disableOnFailure {
			if err := a.disable(ctx, realmID, u.ID); err != nil {
				return store.User{}, err
			}
		}
		return store.User{}, ErrInvalidCredentials
	}
	if !u.Enabled {
		return store.User{}, ErrUserDisabled
	}
	if a.otp != nil {
		// A user with an OTP device is not signed in by the password
		// alone (otp.go): the code is checked now (password grant) or
		// asked for next (ErrOTPRequired, with the user).
		if err := a.secondFactor(ctx, realmID, s, u, res, creds); err != nil {
			if errors.Is(err, ErrOTPRequired) {
				return u, err
			}
			return store.User{}, err
		}
	}
	if s.BruteForce.Protected {
		if err := a.st.DeleteLoginFailure(ctx, realmID, u.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return store.User{}, err
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
	if errors.Is(err, store.ErrNotFound) && s.EmailLogin() && strings.Contains(username, "@") {
		u, err = a.st.GetUserByEmail(ctx, realmID, username)
	}
	if err == nil && u.ServiceAccount != "" {
		return store.User{}, store.ErrNotFound // service accounts have no password login
	}
	return u, err
}

// fail spends what a real verification would, then reports bad credentials.
func (a *Authenticator) fail(ctx context.Context, realmID string, policy password.Policy, pw string) error {
	if _, err := a.verify(ctx, realmID, password.DummyCredential(policy), policy, pw); err != nil {
		return err
	}
	return ErrInvalidCredentials
}

// verify runs one hash verification through the limiter, in realmID's
// share of it. A wrong password for a credential cheaper than the policy's
// hash (md5, few iterations) is padded to the policy's cost there.
func (a *Authenticator) verify(ctx context.Context, realmID string, c password.Credential, policy password.Policy, pw string) (bool, error) {
	ok, err := a.lim.Verify(ctx, realmID, c, policy, pw)
	switch {
	case err == nil:
		return ok, nil
	case errors.Is(err, password.ErrBusy):
		return false, ErrBusy
	case errors.Is(err, password.ErrMalformed), errors.Is(err, password.ErrUnsupported):
		// A malformed stored credential fails the login; it is the
		// operator's to fix, so log it (never the password).
		a.log.WarnContext(ctx, "stored credential cannot be verified", "err", err)
		return false, nil
	default:
		return false, err
	}
}

// passwordCredential returns the user's password credential, highest
// priority first, its parsed form, and all the user's credentials.
func passwordCredential(ctx context.Context, st store.CredentialStore, userID string) (store.Credential, password.Credential, []store.Credential, error) {
	creds, err := st.ListCredentials(ctx, userID)
	if err != nil {
		return store.Credential{}, password.Credential{}, nil, err
	}
	for _, c := range creds {
		if c.Type != "password" {
			continue
		}
		pc, err := password.FromKeycloak(c.SecretData, c.CredentialData)
		if err != nil {
			return store.Credential{}, password.Credential{}, nil, fmt.Errorf("credential %s: %w", c.ID, err)
		}
		return c, pc, creds, nil
	}
	return store.Credential{}, password.Credential{}, nil, store.ErrNotFound
}

// rehash replaces the verified legacy credential with one under policy, in
// one compare-and-swap: if a concurrent login already replaced it, this one
// leaves it alone, so the user ends with exactly one credential.
func (a *Authenticator) rehash(ctx context.Context, realmID, userID string, old store.Credential, policy password.Policy, pw string) error {
	fresh, err := a.lim.Hash(ctx, realmID, policy, pw)
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
	pc, err := lim.Hash(ctx, "", policy, pw)
	if errors.Is(err, password.ErrBusy) {
		return store.Credential{}, ErrBusy
	}
	if err != nil {
		return store.Credential{}, err
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

// federated is Authenticate for a user a provider holds: the unknown name
// is looked up (and imported) or the linked user revalidated, the attempt
// is counted as any other, and the provider checks the password. A
// provider that cannot answer is ErrUnavailable, before or after the
// count; a wrong password costs what a local one does.
func (a *Authenticator) federated(ctx context.Context, realmID string, s rep.RealmSettings, policy password.Policy, local *store.User, username, pw, ip string) (store.User, error) {
	d := s.FederationDefaults()
	acct, err := a.fed.Resolve(ctx, realmID, d, local, username, false)
	if errors.Is(err, federation.ErrNotFound) && local == nil && s.EmailLogin() && strings.Contains(username, "@") {
		acct, err = a.fed.Resolve(ctx, realmID, d, nil, username, true)
	}
	switch {
	case err == nil:
	case errors.Is(err, federation.ErrUnavailable):
		return store.User{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
	case errors.Is(err, federation.ErrNotFound), errors.Is(err, federation.ErrAmbiguous),
		errors.Is(err, federation.ErrConflict), errors.Is(err, federation.ErrAccountDisabled):
		// The service logged why; the client learns nothing more than
		// from a wrong password.
		return store.User{}, a.fail(ctx, realmID, policy, pw)
	default:
		return store.User{}, err
	}
	return a.attempt(ctx, realmID, s, policy, acct.User, pw, ip, func() (bool, store.User, []store.Credential, error) {
		ok, err := a.fed.CheckPassword(ctx, &acct, pw)
		switch {
		case errors.Is(err, federation.ErrUnavailable):
			return false, acct.User, nil, fmt.Errorf("%w: %w", ErrUnavailable, err)
		case errors.Is(err, federation.ErrAccountDisabled):
			return false, acct.User, nil, ErrUserDisabled
		case err != nil:
			return false, acct.User, nil, err
		case !ok:
			// The directory answered in a millisecond; pay what a local
			// failure costs so the answer time does not tell directory
			// users from unknown names.
			if _, err := a.verify(ctx, realmID, password.DummyCredential(policy), policy, pw); err != nil {
				return false, acct.User, nil, err
			}
		}
		return ok, acct.User, nil, nil
	})
}
