package events

import "slices"

// Types are the login event types keygate emits (the constants above),
// sorted: the admin API's serverinfo lists them as enums.eventType.
// TestTypesListed keeps it and the constants the same set.
func Types() []string {
	t := []string{Login, LoginError, CodeToToken, CodeToTokenError, RefreshToken, RefreshTokenError, Logout, LogoutError,
		ClientLogin, ClientLoginError, UpdatePassword, UpdatePasswordError, IdentityProviderLogin, IdentityProviderLoginErr,
		IdentityProviderRetrieveToken, IdentityProviderRetrieveTokenErr}
	slices.Sort(t)
	return t
}
