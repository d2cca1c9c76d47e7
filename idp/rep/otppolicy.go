package rep

import (
	"math"
	"slices"
)

// OTPPolicy is a realm's one-time-password policy (Keycloak's otpPolicy*
// realm fields), resolved: what CONFIGURE_TOTP gives new credentials, and
// the look-around window and code reuse every OTP check applies. Stored
// credentials keep their own type, digits, period and algorithm.
type OTPPolicy struct {
	Type            string // "totp" (default) or "hotp"
	Algorithm       string // "HmacSHA1" (default), "HmacSHA256", "HmacSHA512"
	Digits          int    // 6 (default) or 8
	Period          int    // seconds, TOTP; 30
	InitialCounter  int    // HOTP; 0
	LookAheadWindow int    // TOTP: steps either side of now; HOTP: counters ahead; 1
	CodeReusable    bool   // a TOTP code may be used again within its steps
	// SupportedApplications are the message keys of the authenticator apps
	// the setup page names.
	SupportedApplications []string
}

// OTP algorithms, in Keycloak's names.
const (
	OTPHmacSHA1   = "HmacSHA1"
	OTPHmacSHA256 = "HmacSHA256"
	OTPHmacSHA512 = "HmacSHA512"
)

// OTPAlgorithms are the algorithms Keycloak offers for OTP.
var OTPAlgorithms = []string{OTPHmacSHA1, OTPHmacSHA256, OTPHmacSHA512}

// OTPPolicy resolves r's otpPolicy* fields with Keycloak's defaults. A value
// Keycloak would not accept or keygate cannot store (digits other than 6 or
// 8, an unknown algorithm or type, a period outside 1 to 3600 seconds, a
// window outside 0 to 10, a counter outside a Java int) resolves to the
// default, so a hand-edited realm never makes codes nobody can produce.
func (r *Realm) OTPPolicy() OTPPolicy {
	p := OTPPolicy{
		Type: "totp", Algorithm: OTPHmacSHA1, Digits: 6, Period: 30, LookAheadWindow: 1,
		InitialCounter: intOr(r.OTPPolicyInitialCounter, 0), CodeReusable: boolOr(r.OTPPolicyCodeReusable, false),
		SupportedApplications: r.OTPSupportedApplications,
	}
	if r.OTPPolicyType == "hotp" {
		p.Type = "hotp"
	}
	if slices.Contains(OTPAlgorithms, r.OTPPolicyAlgorithm) {
		p.Algorithm = r.OTPPolicyAlgorithm
	}
	if d := intOr(r.OTPPolicyDigits, 6); d == 8 {
		p.Digits = 8
	}
	// A device's period and counter are bounded as idp/otp checks stored
	// credentials (1 to 3600 seconds; a Java int the next code still
	// fits): a policy past them would fail every CONFIGURE_TOTP.
	if n := intOr(r.OTPPolicyPeriod, 30); n > 0 && n <= 3600 {
		p.Period = n
	}
	if n := intOr(r.OTPPolicyLookAheadWindow, 1); n >= 0 && n <= 10 {
		p.LookAheadWindow = n
	}
	if p.InitialCounter < 0 || p.InitialCounter >= math.MaxInt32 {
		p.InitialCounter = 0
	}
	if p.SupportedApplications == nil {
		p.SupportedApplications = []string{"totpAppFreeOTPName", "totpAppGoogleName", "totpAppMicrosoftAuthenticatorName"}
	}
	return p
}

// fillOTPDefaults makes Keycloak's OTP policy explicit, as a Keycloak
// realm representation always carries it.
func fillOTPDefaults(r *Realm) {
	if r.OTPPolicyType == "" {
		r.OTPPolicyType = "totp"
	}
	if r.OTPPolicyAlgorithm == "" {
		r.OTPPolicyAlgorithm = OTPHmacSHA1
	}
	for p, v := range map[**int]int{&r.OTPPolicyInitialCounter: 0, &r.OTPPolicyDigits: 6, &r.OTPPolicyLookAheadWindow: 1, &r.OTPPolicyPeriod: 30} {
		setDefault(p, v)
	}
	setDefault(&r.OTPPolicyCodeReusable, false)
	if r.OTPSupportedApplications == nil {
		r.OTPSupportedApplications = r.OTPPolicy().SupportedApplications
	}
}
