package templates

// RegisterView feeds Register (Keycloak's register.ftl).
type RegisterView struct {
	Page
	FormAction, CSRFToken string
	// Re-displayed after a refused attempt (never the password).
	FirstName, LastName, Email, Username string
	// EmailAsUsername hides the username field (registrationEmailAsUsername).
	EmailAsUsername bool
	Error           string // already localized, "" = none
	// ErrorField names the field Error is about ("email", "password", ...).
	ErrorField string
	LoginURL   string // "« Back to Login"
}

func (v RegisterView) fieldError(name string) bool { return v.Error != "" && v.ErrorField == name }
