package templates

// ResetPasswordView feeds ResetPassword.
type ResetPasswordView struct {
	Page
	FormAction, CSRFToken string
	Username              string // re-displayed
	Error                 string // already localized, "" = none
	LoginWithEmail        bool   // "Username or email" and its instruction
	LoginURL              string // "« Back to Login", "" = none
}

func (v ResetPasswordView) usernameLabel() string {
	if v.LoginWithEmail {
		return v.T("usernameOrEmail")
	}
	return v.T("username")
}

func (v ResetPasswordView) instruction() string {
	if v.LoginWithEmail {
		return v.T("emailInstruction")
	}
	return v.T("emailInstructionUsername")
}

// VerifyEmailView feeds VerifyEmail.
type VerifyEmailView struct {
	Page
	FormAction, CSRFToken string
	Email                 string // where the mail went
	Verified              bool   // verified meanwhile: only "continue"
	Notice, Error         string // already localized
}

// ActionTokenConfirmView feeds ActionTokenConfirm.
type ActionTokenConfirmView struct {
	Page
	Title, Message        string   // already localized
	Actions               []string // localized action names, execute-actions only
	FormAction, CSRFToken string
	Key                   string // the action token, posted back
}
