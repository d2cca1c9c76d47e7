package templates

// Views of the required-action pages (Keycloak's login-update-password,
// login-update-profile, terms and delete-account-confirm pages). Error
// and info texts are already localized.

// UpdatePasswordView feeds UpdatePassword.
type UpdatePasswordView struct {
	Page
	FormAction, CSRFToken string
	Error                 string
	ErrorField            string // "password" or "password-confirm"
	Username              string // for password managers (hidden)
	// LogoutSessions pre-ticks "Sign out from other devices".
	LogoutSessions bool
	// Cancelable shows Cancel (cancel-aia): an action the app asked for.
	Cancelable bool
}

// UpdateProfileView feeds UpdateProfile.
type UpdateProfileView struct {
	Page
	FormAction, CSRFToken                string
	Username, Email, FirstName, LastName string
	EditUsername                         bool // editUsernameAllowed (and not email-as-username)
	ShowEmail                            bool
	Error, ErrorField                    string
	Cancelable                           bool // Cancel (cancel-aia): an action the app asked for
}

// TermsView feeds Terms.
type TermsView struct {
	Page
	FormAction, CSRFToken string
	Text                  string // the terms, plain text
}

// ConsentView feeds Consent.
type ConsentView struct {
	Page
	FormAction, CSRFToken string
	Client                string   // the client's name, else its clientId
	Scopes                []string // what it asks for, already localized
}

// DeleteAccountView feeds DeleteAccount.
type DeleteAccountView struct {
	Page
	FormAction, CSRFToken string
	Error                 string
}
