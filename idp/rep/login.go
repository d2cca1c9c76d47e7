package rep

import "github.com/keygate/keygate/federation"

// EmailLogin is whether the login form accepts an email for the username:
// loginWithEmailAllowed, and never while duplicate emails are allowed (an
// email would not name one user), as Keycloak's realm validation has it.
func (s RealmSettings) EmailLogin() bool {
	return s.LoginWithEmailAllowed && !s.DuplicateEmailsAllowed
}

// FederationDefaults are the settings that shape a user a provider or a
// broker imports (federation.RealmDefaults).
func (s RealmSettings) FederationDefaults() federation.RealmDefaults {
	return federation.RealmDefaults{DefaultRole: s.DefaultRole, DefaultGroups: s.DefaultGroups,
		DuplicateEmailsAllowed: s.DuplicateEmailsAllowed, EmailLogin: s.EmailLogin()}
}
