package oidc

import (
	"errors"
	"net/http"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
)

// writeTokenError answers token-endpoint failures as Keycloak does: RFC 6749
// JSON with Keycloak's wording where clients rely on it, and fosite's
// reason otherwise. Debug details never reach the client.
func (p *Provider) writeTokenError(w http.ResponseWriter, r *http.Request, err error) {
	rfc := fosite.ErrorToRFC6749Error(err)
	status, code, desc := rfc.CodeField, rfc.ErrorField, rfc.GetDescription()
	switch {
	case errors.Is(err, authn.ErrBusy):
		w.Header().Set("Retry-After", "1")
		status, code, desc = http.StatusServiceUnavailable, "temporarily_unavailable", "Too many login attempts in progress, retry shortly"
	case errors.Is(err, authn.ErrUserDisabled):
		status, code, desc = http.StatusBadRequest, "invalid_grant", "Account disabled"
	case errors.Is(err, authn.ErrInvalidCredentials):
		status, code, desc = http.StatusUnauthorized, "invalid_grant", "Invalid user credentials"
	case errors.Is(err, errCodeSpent), errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		// A concurrent redemption spent the code between fosite's checks.
		status, code, desc = http.StatusBadRequest, "invalid_grant", "Code not valid"
	case errors.Is(err, fosite.ErrSerializationFailure) && r.PostForm.Get("grant_type") == "refresh_token":
		// Another request rotated this refresh token first (Keycloak: stale token).
		status, code, desc = http.StatusBadRequest, "invalid_grant", "Stale token"
	case errors.Is(err, errSessionNotActive):
		status, code, desc = http.StatusBadRequest, "invalid_grant", "Session not active"
	case code == "invalid_request" && r.PostForm.Get("grant_type") != "" && !knownGrant(r.PostForm.Get("grant_type")):
		status, code, desc = http.StatusBadRequest, "unsupported_grant_type", "Unsupported grant_type"
	case code == "invalid_client":
		status, desc = http.StatusUnauthorized, "Invalid client or Invalid client credentials"
	case code == "invalid_grant" && r.PostForm.Get("grant_type") == "refresh_token":
		desc = "Invalid refresh token"
		if errors.Is(err, fosite.ErrInactiveToken) || errors.Is(err, fosite.ErrTokenExpired) {
			desc = "Token is not active"
		}
	case code == "unauthorized_client" && r.PostForm.Get("grant_type") == "password":
		desc = "Client not allowed for direct access grants"
	case code == "unauthorized_client" && r.PostForm.Get("grant_type") == "client_credentials":
		desc = "Client not enabled to retrieve service account"
	case code == "server_error":
		p.log.ErrorContext(r.Context(), "token endpoint", "err", rfc.WithExposeDebug(true).GetDescription(), "debug", rfc.DebugField)
	}
	if status == 0 {
		status = http.StatusBadRequest
	}
	writeJSON(w, status, map[string]string{"error": code, "error_description": desc})
}

func knownGrant(g string) bool {
	switch g {
	case "authorization_code", "refresh_token", "password", "client_credentials":
		return true
	}
	return false
}
