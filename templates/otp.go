package templates

// Views of the one-time-password pages: Keycloak's login-otp (the code
// after the password) and login-config-totp (CONFIGURE_TOTP). Error texts
// are already localized.

// OTPCredentialOption is one device on the OTP form.
type OTPCredentialOption struct {
	ID, Label string
}

// OTPLoginView feeds OTPLogin.
type OTPLoginView struct {
	Page
	FormAction, CSRFToken string
	Error                 string
	// Credentials are the user's devices, the default first; the form
	// offers a choice (selectedCredentialId) only when there are several.
	Credentials []OTPCredentialOption
	Selected    string
}

// ConfigureTOTPView feeds ConfigureTOTP.
type ConfigureTOTPView struct {
	Page
	FormAction, CSRFToken string
	Error, ErrorField     string // ErrorField: "totp" or "userLabel"
	// QRCode is the otpauth URI as an inline PNG (a data: URI made here,
	// never a third party's).
	QRCode string
	// SecretKey is the key in base32, in groups of four for reading.
	SecretKey string
	// The policy's parameters, shown for manual setup.
	Type, Algorithm string // "totp"/"hotp"; "SHA1", "SHA256", "SHA512"
	Digits, Period  int
	InitialCounter  int
	SupportedApps   []string // message keys of the apps
	UserLabel       string
	LogoutSessions  bool
}

// otpLabel names a device on the OTP form: its label, or Keycloak's
// default name for one without.
func otpLabel(p Page, label string) string {
	if label == "" {
		return p.T("loginTotpDeviceName")
	}
	return label
}
