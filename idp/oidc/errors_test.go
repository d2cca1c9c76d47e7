package oidc

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
	"testing"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
)

// fositeErrors are fosite v0.49.0's exported errors.
var fositeErrors = []*fosite.RFC6749Error{
	fosite.ErrSerializationFailure, fosite.ErrUnknownRequest, fosite.ErrRequestForbidden, fosite.ErrInvalidRequest,
	fosite.ErrUnauthorizedClient, fosite.ErrAccessDenied, fosite.ErrUnsupportedResponseType, fosite.ErrUnsupportedResponseMode,
	fosite.ErrInvalidScope, fosite.ErrServerError, fosite.ErrTemporarilyUnavailable, fosite.ErrUnsupportedGrantType,
	fosite.ErrInvalidGrant, fosite.ErrInvalidClient, fosite.ErrInvalidState, fosite.ErrMisconfiguration,
	fosite.ErrInsufficientEntropy, fosite.ErrNotFound, fosite.ErrRequestUnauthorized, fosite.ErrTokenSignatureMismatch,
	fosite.ErrInvalidTokenFormat, fosite.ErrTokenExpired, fosite.ErrScopeNotGranted, fosite.ErrTokenClaim,
	fosite.ErrInactiveToken, fosite.ErrLoginRequired, fosite.ErrInteractionRequired, fosite.ErrConsentRequired,
	fosite.ErrRequestNotSupported, fosite.ErrRequestURINotSupported, fosite.ErrRegistrationNotSupported,
	fosite.ErrInvalidRequestURI, fosite.ErrInvalidRequestObject, fosite.ErrJTIKnown,
}

// rfcCodes are the codes a client may receive: RFC 6749 §4.1.2.1 and §5.2,
// OIDC Core §3.1.2.6, and Keycloak's not_allowed.
var rfcCodes = map[string]bool{
	"invalid_request": true, "invalid_client": true, "invalid_grant": true, "unauthorized_client": true,
	"unsupported_grant_type": true, "invalid_scope": true, "access_denied": true, "unsupported_response_type": true,
	"server_error": true, "temporarily_unavailable": true, "login_required": true, "interaction_required": true,
	"consent_required": true, "account_selection_required": true, "request_not_supported": true,
	"request_uri_not_supported": true, "registration_not_supported": true, "invalid_request_uri": true,
	"invalid_request_object": true, "unsupported_response_mode": true, "not_allowed": true,
}

// TestClientErrorNeverLeaksFosite: whatever fosite returns, with whatever
// hint and debug text, at every endpoint and grant, the client gets an RFC
// code and a short description that is neither fosite's description nor
// its hint or debug text.
func TestClientErrorNeverLeaksFosite(t *testing.T) {
	const hint, debug = "HINT-the-client-must-not-see", "DEBUG-the-client-must-not-see"
	forms := []url.Values{
		{},
		{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}},
		{"grant_type": {"password"}},
		{"grant_type": {"client_credentials"}},
		{"grant_type": {"authorization_code"}, "code": {"c"}, "code_verifier": {"v"}},
		{"grant_type": {"authorization_code"}},
		{"grant_type": {"refresh_token"}, "refresh_token": {"r"}},
		{"grant_type": {"urn:ietf:params:oauth:grant-type:device_code"}},
		{"token": {"t"}},
		{"response_type": {"code"}, "scope": {"openid"}},
	}
	for _, base := range fositeErrors {
		for _, ep := range []endpoint{atToken, atRevoke, atAuthorize} {
			for _, form := range forms {
				for _, err := range []error{base, base.WithHint(hint).WithDebug(debug), fmt.Errorf("wrapped: %w", base.WithHint(hint))} {
					o := clientError(err, ep, form)
					where := fmt.Sprintf("%s at %d with %v", base.ErrorField, ep, form)
					switch {
					case !rfcCodes[o.code]:
						t.Errorf("%s: code %q is not an RFC 6749/OIDC code", where, o.code)
					case o.status < 400 || o.status > 599:
						t.Errorf("%s: status %d", where, o.status)
					case o.desc == "" || len(o.desc) > 80:
						t.Errorf("%s: description %q", where, o.desc)
					case o.desc == base.DescriptionField || strings.Contains(o.desc, "HINT") || strings.Contains(o.desc, "DEBUG") ||
						(base.HintField != "" && strings.Contains(o.desc, base.HintField)):
						t.Errorf("%s: fosite's text reached the client: %q", where, o.desc)
					}
				}
			}
		}
	}
}

// TestClientErrorWording pins the Keycloak wordings that are decided from
// keygate's own errors, whatever fosite wrapped them in.
func TestClientErrorWording(t *testing.T) {
	pw := url.Values{"grant_type": {"password"}, "username": {"u"}, "password": {"p"}}
	cases := []struct {
		name string
		err  error
		form url.Values
		want oauthError
	}{
		{"required actions, password grant", fosite.ErrInvalidGrant.WithHint("x").WithWrap(fmt.Errorf("%w: %w", fosite.ErrNotFound, errNotSetUp)), pw,
			oauthError{400, "invalid_grant", "Account is not fully set up"}},
		{"required actions, refresh", fosite.ErrInvalidGrant.WithWrap(errNotSetUp), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}},
			oauthError{400, "invalid_grant", "Account is not fully set up"}},
		{"wrong password", fosite.ErrInvalidGrant.WithWrap(fmt.Errorf("%w: %w", fosite.ErrNotFound, authn.ErrInvalidCredentials)), pw,
			oauthError{401, "invalid_grant", "Invalid user credentials"}},
		{"keygate's own wording", keycloakError(400, "not_allowed", "Offline tokens not allowed for the user or client"), pw,
			oauthError{400, "not_allowed", "Offline tokens not allowed for the user or client"}},
		{"keygate's own wording, wrapped", fmt.Errorf("x: %w", keycloakError(400, "invalid_request", "Missing parameter: code_challenge_method")), url.Values{},
			oauthError{400, "invalid_request", "Missing parameter: code_challenge_method"}},
		{"session ended", fosite.ErrInvalidGrant.WithWrap(errSessionNotActive).WithHint("Session not active"), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}},
			oauthError{400, "invalid_grant", "Session not active"}},
		{"racing refresh", fosite.ErrInvalidRequest.WithWrap(fosite.ErrSerializationFailure), url.Values{"grant_type": {"refresh_token"}, "refresh_token": {"r"}},
			oauthError{400, "invalid_grant", "Stale token"}},
		{"plain error", errors.New("disk on fire"), pw, oauthError{500, "server_error", "Internal server error"}},
	}
	for _, c := range cases {
		if got := clientError(c.err, atToken, c.form); got != c.want {
			t.Errorf("%s: %+v, want %+v", c.name, got, c.want)
		}
	}
}
