package ldap

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	goldap "github.com/go-ldap/ldap/v3"

	"github.com/keygate/keygate/federation"
)

// IsNoSuchObject reports whether err is the directory's authoritative
// "no such object" (result 32): the entry (or the search base) is not
// there. It is never true for a failure to ask.
func IsNoSuchObject(err error) bool {
	if err == nil || errors.Is(err, federation.ErrUnavailable) {
		return false
	}
	return goldap.IsErrorWithCode(err, goldap.LDAPResultNoSuchObject)
}

// serverCode returns the result code of an answer the directory gave, and
// false for anything else: go-ldap reports its own failures (network,
// timeout, malformed packets, filter compilation) with codes from 200 up,
// and plain errors for undecodable responses.
func serverCode(err error) (uint16, bool) {
	var le *goldap.Error
	if !errors.As(err, &le) || le.ResultCode >= goldap.ErrorNetwork {
		return 0, false
	}
	return le.ResultCode, true
}

// outageCode reports result codes that say the directory cannot serve now,
// as opposed to an answer about the request: they count towards the
// circuit breaker and read as ErrUnavailable.
func outageCode(code uint16) bool {
	switch code {
	case goldap.LDAPResultBusy, goldap.LDAPResultUnavailable, goldap.LDAPResultServerDown,
		goldap.LDAPResultTimeLimitExceeded, goldap.LDAPResultAdminLimitExceeded, goldap.LDAPResultTimeout,
		goldap.LDAPResultConnectError, goldap.LDAPResultOther:
		return true
	}
	return false
}

// isTransport reports a failure of the way to the directory (or of what
// came back over it), not an answer: everything but a decoded result.
func isTransport(err error) bool {
	if err == nil {
		return false
	}
	_, answered := serverCode(err)
	return !answered
}

// isTimeout reports go-ldap's per-request timeout or a deadline; such a
// failure is not retried on a fresh connection (the directory is slow,
// not the socket stale), so a blackholed directory costs one timeout.
func isTimeout(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) {
		return true
	}
	var ne interface{ Timeout() bool }
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	return strings.Contains(err.Error(), "timed out")
}

// unavailable wraps err as federation.ErrUnavailable; what names the
// operation ("search ou=people,dc=example,dc=org"). The result keeps err
// reachable with errors.As.
func unavailable(what string, err error) error {
	return fmt.Errorf("%w: ldap %s: %w", federation.ErrUnavailable, what, err)
}

// reason is a short human text for err as the directory or the network
// put it, for testLDAPConnection and logs: "Invalid Credentials: ..."
// rather than go-ldap's "LDAP Result Code 49 ...".
func reason(err error) string {
	var le *goldap.Error
	if errors.As(err, &le) && le.ResultCode < goldap.ErrorNetwork {
		text := goldap.LDAPResultCodeMap[le.ResultCode]
		if text == "" {
			text = fmt.Sprintf("result code %d", le.ResultCode)
		}
		if le.Err != nil {
			if d := strings.TrimSpace(le.Err.Error()); d != "" {
				text += ": " + d
			}
		}
		return text
	}
	if le != nil && le.Err != nil {
		return le.Err.Error()
	}
	return err.Error()
}

// adDataCode finds Active Directory's sub-code in a bind's diagnostic
// message, e.g. "80090308: LdapErr: DSID-0C09042A, comment:
// AcceptSecurityContext error, data 775, v3839" -> "775".
var adDataCode = regexp.MustCompile(`(?i)\bdata ([0-9a-f]+)\b`)

// Active Directory's bind sub-codes (the "data" of its result 49), the
// ones Keycloak's LDAP provider distinguishes.
const (
	adNotPermittedTime = "530"
	adNotPermittedWS   = "531"
	adPasswordExpired  = "532"
	adAccountDisabled  = "533"
	adAccountExpired   = "701"
	adMustReset        = "773"
	adAccountLocked    = "775"
)

// bindVerdict turns the answer to a user's simple bind into Authenticate's
// result. Invalid credentials are a normal "no"; Active Directory's
// sub-codes for accounts that may not log in, or must change their
// password, map to the federation errors Keycloak maps them to; any
// other refusal is the directory failing, never a wrong password.
func bindVerdict(err error) (bool, error) {
	if err == nil {
		return true, nil
	}
	code, answered := serverCode(err)
	if !answered || code != goldap.LDAPResultInvalidCredentials {
		return false, unavailable("bind", err)
	}
	var diag string
	var le *goldap.Error
	if errors.As(err, &le) && le.Err != nil {
		diag = le.Err.Error()
	}
	m := adDataCode.FindStringSubmatch(diag)
	if m == nil {
		return false, nil
	}
	switch strings.ToLower(m[1]) {
	case adNotPermittedTime, adNotPermittedWS, adAccountDisabled, adAccountExpired, adAccountLocked:
		return false, fmt.Errorf("%w (Active Directory data %s)", federation.ErrAccountDisabled, m[1])
	case adPasswordExpired, adMustReset:
		return false, fmt.Errorf("%w (Active Directory data %s)", federation.ErrMustChangePassword, m[1])
	}
	// 525 (no such user), 52e (wrong password) and anything unknown.
	return false, nil
}
