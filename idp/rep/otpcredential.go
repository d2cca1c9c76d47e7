package rep

import (
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keygate/keygate/store"
)

// OTPCredentialType is Keycloak's type of one-time-password credentials.
const OTPCredentialType = "otp"

// checkOTPCredential validates a Keycloak `otp` credential's two documents
// (OTPCredentialModel: credentialData {"subType","digits","counter",
// "period","algorithm"[,"secretEncoding"]}, secretData {"value"}), so an
// import refuses what no login could use. idp/otp reads them; errors name
// the field and never hold the secret.
func checkOTPCredential(secretData, credentialData string) error {
	var cd struct {
		SubType        string `json:"subType"`
		Digits         int    `json:"digits"`
		Counter        int    `json:"counter"`
		Period         int    `json:"period"`
		Algorithm      string `json:"algorithm"`
		SecretEncoding string `json:"secretEncoding"`
	}
	var sd struct {
		Value string `json:"value"`
	}
	if err := json.Unmarshal([]byte(credentialData), &cd); err != nil {
		return fmt.Errorf("credentialData: not an OTP credential's JSON: %v", err)
	}
	if err := json.Unmarshal([]byte(secretData), &sd); err != nil {
		return errors.New("secretData: not an OTP credential's JSON")
	}
	switch {
	case cd.SubType != "totp" && cd.SubType != "hotp":
		return fmt.Errorf("credentialData.subType: want \"totp\" or \"hotp\", got %q", cd.SubType)
	case cd.Digits != 6 && cd.Digits != 8:
		return fmt.Errorf("credentialData.digits: want 6 or 8, got %d", cd.Digits)
	case !slices.Contains(OTPAlgorithms, cd.Algorithm):
		return fmt.Errorf("credentialData.algorithm: want HmacSHA1, HmacSHA256 or HmacSHA512, got %q", cd.Algorithm)
	case cd.SubType == "totp" && (cd.Period <= 0 || cd.Period > 3600):
		return fmt.Errorf("credentialData.period: want 1 to 3600 seconds, got %d", cd.Period)
	case cd.Counter < 0:
		return errors.New("credentialData.counter: must not be negative")
	case sd.Value == "":
		return errors.New("secretData.value: empty")
	}
	switch strings.ToUpper(cd.SecretEncoding) {
	case "":
	case "BASE32":
		v := strings.TrimRight(strings.ToUpper(strings.ReplaceAll(sd.Value, " ", "")), "=")
		if _, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(v); err != nil {
			return errors.New("secretData.value: not base32 (credentialData.secretEncoding is BASE32)")
		}
	default:
		return fmt.Errorf("credentialData.secretEncoding: %q is not supported (only BASE32)", cd.SecretEncoding)
	}
	return nil
}

// mapOTPSecret returns an otp credential's secretData with its value passed
// through fn (sealing or revealing it); other credentials and fields are
// kept as they are.
func mapOTPSecret(typ, secretData string, fn func(string) (string, error)) (string, error) {
	if typ != OTPCredentialType || fn == nil || secretData == "" {
		return secretData, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(secretData), &m); err != nil {
		return "", errors.New("secretData: not JSON")
	}
	v, _ := m["value"].(string)
	nv, err := fn(v)
	if err != nil {
		return "", err
	}
	if nv == v {
		return secretData, nil
	}
	m["value"] = nv
	out, err := json.Marshal(m)
	return string(out), err
}

// SealOTPSecrets seals the secrets of the otp credentials among creds in
// place with seal (oidc.SecretSealer.Seal); nil seal leaves them.
func SealOTPSecrets(creds []store.Credential, seal func(string) (string, error)) error {
	for i := range creds {
		sd, err := mapOTPSecret(creds[i].Type, creds[i].SecretData, seal)
		if err != nil {
			return fmt.Errorf("credentials[%d].secretData: %w", i, err)
		}
		creds[i].SecretData = sd
	}
	return nil
}

// sealPlannedOTP seals the otp secrets of planned users.
func sealPlannedOTP(users []plannedUser, seal func(string) (string, error)) error {
	for _, u := range users {
		if err := SealOTPSecrets(u.creds, seal); err != nil {
			return fmt.Errorf("%s.%w", u.path, err)
		}
	}
	return nil
}

// errOTPSealed: an export with users found a sealed OTP secret and was
// not given the --db-key to open it.
var errOTPSealed = errors.New("its secret is encrypted in the database: export with the server's --db-key (KEYGATE_DB_KEY)")

// revealOTPSecrets puts the users' otp secrets in the clear, as Keycloak's
// export has them; a sealed one without reveal is an error, never a
// secret no Keycloak can use.
func revealOTPSecrets(users []User, reveal func(string) (string, error)) error {
	fn := func(v string) (string, error) {
		if !strings.HasPrefix(v, "kgsealed:") {
			return v, nil
		}
		if reveal == nil {
			return "", errOTPSealed
		}
		return reveal(v)
	}
	for i := range users {
		for j := range users[i].Credentials {
			c := &users[i].Credentials[j]
			sd, err := mapOTPSecret(c.Type, c.SecretData, fn)
			if err != nil {
				return fmt.Errorf("user %q otp credential %s: %w", users[i].Username, c.ID, err)
			}
			c.SecretData = sd
		}
	}
	return nil
}
