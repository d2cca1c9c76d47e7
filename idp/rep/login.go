package rep

// EmailLogin is whether the login form accepts an email for the username:
// loginWithEmailAllowed, and never while duplicate emails are allowed (an
// email would not name one user), as Keycloak's realm validation has it.
func (s RealmSettings) EmailLogin() bool {
	return s.LoginWithEmailAllowed && !s.DuplicateEmailsAllowed
}
