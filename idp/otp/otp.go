// Package otp is keygate's one-time passwords: Keycloak's `otp` credentials
// (TOTP and HOTP, HmacSHA1/256/512, 6 or 8 digits) as Keycloak stores them,
// checked under the realm's OTP policy, with codes that cannot be replayed.
//
// A credential is Keycloak's OTPCredentialModel: credentialData
// {"subType","digits","counter","period","algorithm"[,"secretEncoding"]} and
// secretData {"value"}. The value is the HMAC key's text (its UTF-8 bytes are
// the key), or its base32 form when secretEncoding is "BASE32"; what an
// authenticator app is given is always the key in base32. With a database
// key (--db-key) the value is sealed at rest (Sealer), as component secrets
// are; the JSON shape stays Keycloak's.
//
// Checking a code follows Keycloak's OTPCredentialProvider: TOTP accepts the
// steps within the policy's look-around window either side of now, HOTP the
// counters from the stored one up to the look-ahead window past it. Unlike
// Keycloak's in-memory single-use cache, the record that a TOTP step was used
// is a stored row (store.KindReplay), so two replicas sharing a database
// never accept one code twice; HOTP advances the stored counter in one
// compare-and-swap.
package otp

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	potp "github.com/pquerna/otp"
	"github.com/pquerna/otp/hotp"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Type is the credential type Keycloak gives one-time-password devices.
const Type = "otp"

// Sub-types.
const (
	TOTP = "totp"
	HOTP = "hotp"
)

// ErrMalformed: a stored or imported credential cannot be used.
var ErrMalformed = errors.New("otp: malformed credential")

// ErrSealed: the secret is sealed and no sealer was given to open it.
var ErrSealed = errors.New("otp: secret is encrypted in the database: it needs the --db-key it was sealed with")

// sealedPrefix starts every sealed value (oidc.SecretSealer's
// "kgsealed:v1:"), so that a sealed secret is never taken for a key.
const sealedPrefix = "kgsealed:"

// CredentialData is Keycloak's OTPCredentialData.
type CredentialData struct {
	SubType        string `json:"subType"`
	Digits         int    `json:"digits"`
	Counter        int    `json:"counter"`
	Period         int    `json:"period"`
	Algorithm      string `json:"algorithm"`
	SecretEncoding string `json:"secretEncoding,omitempty"`
}

// SecretData is Keycloak's OTPSecretData.
type SecretData struct {
	Value string `json:"value"`
}

// Sealer seals secret values at rest (oidc.SecretSealer): Seal returns a
// value unchanged without a database key, Reveal returns an unsealed value
// as it is.
type Sealer interface {
	Seal(string) (string, error)
	Reveal(string) (string, error)
}

// Credential is a parsed `otp` credential.
type Credential struct {
	Row  store.Credential
	Data CredentialData
	key  []byte
	b32  string // key in base32, as the library takes it
}

// Parse reads a stored otp credential; sealer (nil: none) reveals its
// secret.
func Parse(c store.Credential, sealer Sealer) (Credential, error) {
	if c.Type != Type {
		return Credential{}, fmt.Errorf("%w: type %q", ErrMalformed, c.Type)
	}
	var cd CredentialData
	if err := json.Unmarshal([]byte(c.CredentialData), &cd); err != nil {
		return Credential{}, fmt.Errorf("%w: credentialData: %v", ErrMalformed, err)
	}
	var sd SecretData
	if err := json.Unmarshal([]byte(c.SecretData), &sd); err != nil {
		return Credential{}, fmt.Errorf("%w: secretData: %v", ErrMalformed, err)
	}
	if sealer != nil {
		v, err := sealer.Reveal(sd.Value)
		if err != nil {
			return Credential{}, err
		}
		sd.Value = v
	} else if strings.HasPrefix(sd.Value, sealedPrefix) {
		return Credential{}, ErrSealed
	}
	key, err := Check(cd, sd)
	if err != nil {
		return Credential{}, err
	}
	return Credential{Row: c, Data: cd, key: key, b32: encodeBase32(key)}, nil
}

// Check validates Keycloak's two documents and returns the HMAC key. Errors
// name the field and never hold the secret.
func Check(cd CredentialData, sd SecretData) ([]byte, error) {
	switch {
	case cd.SubType != TOTP && cd.SubType != HOTP:
		return nil, fmt.Errorf("%w: credentialData.subType must be \"totp\" or \"hotp\", got %q", ErrMalformed, cd.SubType)
	case cd.Digits != 6 && cd.Digits != 8:
		return nil, fmt.Errorf("%w: credentialData.digits must be 6 or 8, got %d", ErrMalformed, cd.Digits)
	case !slices.Contains(rep.OTPAlgorithms, cd.Algorithm):
		return nil, fmt.Errorf("%w: credentialData.algorithm must be HmacSHA1, HmacSHA256 or HmacSHA512, got %q", ErrMalformed, cd.Algorithm)
	case cd.SubType == TOTP && (cd.Period <= 0 || cd.Period > 3600):
		return nil, fmt.Errorf("%w: credentialData.period must be 1 to 3600 seconds, got %d", ErrMalformed, cd.Period)
	case cd.SubType == HOTP && (cd.Counter < 0 || cd.Counter > math.MaxInt32):
		// Keycloak's counter is a Java int; a larger one (an import's)
		// made matchHOTP's loop wrap around and never end.
		return nil, fmt.Errorf("%w: credentialData.counter must be 0 to %d", ErrMalformed, math.MaxInt32)
	case sd.Value == "":
		return nil, fmt.Errorf("%w: secretData.value is empty", ErrMalformed)
	}
	switch strings.ToUpper(cd.SecretEncoding) {
	case "":
		return []byte(sd.Value), nil
	case "BASE32":
		key, err := decodeBase32(sd.Value)
		if err != nil || len(key) == 0 {
			return nil, fmt.Errorf("%w: secretData.value is not base32 (secretEncoding BASE32)", ErrMalformed)
		}
		return key, nil
	default:
		return nil, fmt.Errorf("%w: credentialData.secretEncoding %q is not supported (only BASE32)", ErrMalformed, cd.SecretEncoding)
	}
}

func decodeBase32(s string) ([]byte, error) {
	s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), " ", ""))
	s = strings.TrimRight(s, "=")
	return base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(s)
}

// algorithmOf maps Keycloak's algorithm names to the library's (checked
// by Check first).
func algorithmOf(alg string) potp.Algorithm {
	switch alg {
	case rep.OTPHmacSHA256:
		return potp.AlgorithmSHA256
	case rep.OTPHmacSHA512:
		return potp.AlgorithmSHA512
	}
	return potp.AlgorithmSHA1
}

// KeyBase32 is the HMAC key as authenticator apps take it (no padding).
func (c Credential) KeyBase32() string { return c.b32 }

func encodeBase32(key []byte) string {
	return base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(key)
}

// code is RFC 4226's HOTP value of counter (RFC 6238 uses the time step as
// the counter), with the credential's digits and hash.
func (c Credential) code(counter uint64) string {
	code, err := hotp.GenerateCodeCustom(c.b32, counter, hotp.ValidateOpts{
		Digits: potp.Digits(c.Data.Digits), Algorithm: algorithmOf(c.Data.Algorithm)})
	if err != nil {
		return "" // the key is our own base32: unreachable
	}
	return code
}

// Step is the TOTP time step of t.
func (c Credential) Step(t time.Time) int64 {
	return t.Unix() / int64(c.Data.Period)
}

// Code is the credential's current code: TOTP at t, HOTP at its stored
// counter. Tests and the setup page's own check use it.
func (c Credential) Code(t time.Time) string {
	if c.Data.SubType == HOTP {
		return c.code(uint64(c.Data.Counter))
	}
	return c.code(uint64(c.Step(t)))
}

// CodeAt is the code for an explicit counter (HOTP) or time step (TOTP).
func (c Credential) CodeAt(counter uint64) string { return c.code(counter) }

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// matchTOTP finds the step within window of t whose code is code, trying
// them all so that the time taken does not depend on which one matched.
func (c Credential) matchTOTP(code string, t time.Time, window int) (int64, bool) {
	now := c.Step(t)
	var found int64
	ok := false
	for d := -int64(window); d <= int64(window); d++ {
		s := now + d
		if s < 0 {
			continue
		}
		if equal(c.code(uint64(s)), code) && !ok {
			found, ok = s, true
		}
	}
	return found, ok
}

// matchHOTP finds the counter from the stored one up to window past it
// whose code is code, and returns the counter to store next (Keycloak's
// HmacOTP.validateHOTP).
func (c Credential) matchHOTP(code string, window int) (int, bool) {
	next, ok := 0, false
	for d := 0; d <= window; d++ {
		n := c.Data.Counter + d
		if n >= math.MaxInt32 {
			break // the counter stored next must stay a Java int (see Check)
		}
		if equal(c.code(uint64(n)), code) && !ok {
			next, ok = n+1, true
		}
	}
	return next, ok
}

// NewSecret makes a secret as Keycloak's CONFIGURE_TOTP does: 20 random
// letters and digits, whose UTF-8 bytes are the HMAC key, so a credential
// made here reads the same in Keycloak.
func NewSecret() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand never fails on supported platforms
	}
	for i := range b {
		// 62 letters: rejection-free mapping of a byte biases by under 1%;
		// draw again below the largest multiple to stay uniform.
		for b[i] >= 248 {
			var one [1]byte
			if _, err := rand.Read(one[:]); err != nil {
				panic(err)
			}
			b[i] = one[0]
		}
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// New returns a credential for secret under policy p (Keycloak's
// OTPCredentialModel.createFromPolicy), its secretData still in the clear.
func New(p rep.OTPPolicy, userID, id, label, secret string, created time.Time) (Credential, error) {
	cd := CredentialData{SubType: p.Type, Digits: p.Digits, Algorithm: p.Algorithm}
	if p.Type == HOTP {
		cd.Counter = p.InitialCounter
	} else {
		cd.Period = p.Period
	}
	sd := SecretData{Value: secret}
	key, err := Check(cd, sd)
	if err != nil {
		return Credential{}, err
	}
	cdj, _ := json.Marshal(cd)
	sdj, _ := json.Marshal(sd)
	row := store.Credential{ID: id, UserID: userID, Type: Type, UserLabel: label, Created: created,
		SecretData: string(sdj), CredentialData: string(cdj)}
	return Credential{Row: row, Data: cd, key: key, b32: encodeBase32(key)}, nil
}

// SealSecretData returns secretData with its value sealed by sealer (nil:
// as it is). Other fields are kept.
func SealSecretData(secretData string, sealer Sealer) (string, error) {
	return mapValue(secretData, sealer, true)
}

// RevealSecretData returns secretData with its value in the clear.
func RevealSecretData(secretData string, sealer Sealer) (string, error) {
	return mapValue(secretData, sealer, false)
}

func mapValue(secretData string, sealer Sealer, seal bool) (string, error) {
	if sealer == nil || secretData == "" {
		return secretData, nil
	}
	var m map[string]any
	if err := json.Unmarshal([]byte(secretData), &m); err != nil {
		return "", fmt.Errorf("%w: secretData: %v", ErrMalformed, err)
	}
	v, _ := m["value"].(string)
	var err error
	if seal {
		v, err = sealer.Seal(v)
	} else {
		v, err = sealer.Reveal(v)
	}
	if err != nil {
		return "", err
	}
	if v == m["value"] {
		return secretData, nil
	}
	m["value"] = v
	out, err := json.Marshal(m)
	return string(out), err
}
