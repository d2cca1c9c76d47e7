package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/store"
)

// Client-facing errors. fosite explains every failure at length (a stock
// description, a hint, sometimes debug text naming internals); Keycloak
// answers with a short phrase, and clients see only that here. The error
// codes stay RFC 6749's; fosite's explanation goes to the debug log.

// oauthError is what a client is told about one failure.
type oauthError struct {
	status     int
	code, desc string
}

// endpoint says where an error is answered: the same fosite error reads
// differently at the token, revocation and authorization endpoints.
type endpoint int

const (
	atToken endpoint = iota
	atRevoke
	atAuthorize
)

// errNotSetUp is a user with pending required actions (a temporary
// password, an unverified email...): Keycloak's "Account is not fully set
// up". Every grant refuses them until the actions are done.
var errNotSetUp = errors.New("account is not fully set up")

// errKeycloakWording marks an error keygate raised with Keycloak's own
// wording (see keycloakError): its description reaches the client as is.
var errKeycloakWording = errors.New("keycloak wording")

// keycloakError is an error keygate decides itself, worded as Keycloak words
// it. It is a fosite error, so fosite's handlers pass it on unchanged.
func keycloakError(status int, code, desc string) *fosite.RFC6749Error {
	e := &fosite.RFC6749Error{ErrorField: code, DescriptionField: desc, CodeField: status}
	return e.WithWrap(errKeycloakWording)
}

// keycloakWorded finds the keycloakError in err's chain, if any.
func keycloakWorded(err error) *fosite.RFC6749Error {
	for err != nil {
		var e *fosite.RFC6749Error
		if !errors.As(err, &e) {
			return nil
		}
		if e.Unwrap() == errKeycloakWording {
			return e
		}
		err = e.Unwrap()
	}
	return nil
}

// clientError reduces err to its client-facing form at ep; form is the
// request's (token and revocation: the POST form; authorization: the
// authorization request).
func clientError(err error, ep endpoint, form url.Values) oauthError {
	grant := form.Get("grant_type")
	switch {
	case errors.Is(err, store.ErrUnavailable):
		// Whatever fosite made of it (invalid_client for a client it could
		// not load, invalid_grant for a token it could not read): the
		// database did not answer, and the client is not to blame.
		return errUnavailable
	case errors.Is(err, authn.ErrBusy):
		return oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "Too many login attempts in progress, retry shortly"}
	case errors.Is(err, authn.ErrUnavailable):
		return oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "User storage unavailable, retry shortly"}
	case errors.Is(err, authn.ErrUserDisabled):
		return oauthError{http.StatusBadRequest, "invalid_grant", "Account disabled"}
	case errors.Is(err, authn.ErrInvalidCredentials):
		return oauthError{http.StatusUnauthorized, "invalid_grant", "Invalid user credentials"}
	case errors.Is(err, errNotSetUp):
		return oauthError{http.StatusBadRequest, "invalid_grant", "Account is not fully set up"}
	case errors.Is(err, errSessionNotActive):
		return oauthError{http.StatusBadRequest, "invalid_grant", "Session not active"}
	case errors.Is(err, errCodeSpent), errors.Is(err, fosite.ErrInvalidatedAuthorizeCode):
		// A concurrent redemption spent the code between fosite's checks.
		return oauthError{http.StatusBadRequest, "invalid_grant", "Code not valid"}
	case ep == atToken && grant == "refresh_token" && errors.Is(err, errReuseStale):
		return oauthError{http.StatusBadRequest, "invalid_grant", "Stale token"}
	case ep == atToken && grant == "refresh_token" && errors.Is(err, errReuseExceeded):
		return oauthError{http.StatusBadRequest, "invalid_grant", "Maximum allowed refresh token reuse exceeded"}
	case ep == atToken && grant == "refresh_token" && errors.Is(err, fosite.ErrSerializationFailure):
		// Another request rotated this refresh token first (Keycloak: stale token).
		return oauthError{http.StatusBadRequest, "invalid_grant", "Stale token"}
	}
	if e := keycloakWorded(err); e != nil {
		return oauthError{e.CodeField, e.ErrorField, e.DescriptionField}
	}
	rfc := fosite.ErrorToRFC6749Error(err)
	var o oauthError
	switch ep {
	case atToken:
		o = tokenError(rfc, err, form)
	case atRevoke:
		o = revokeError(rfc, form)
	default:
		o = authorizeError(rfc, form)
	}
	if o.code == "" {
		o = genericError(rfc)
	}
	return o
}

// clientAuthMissing is fosite's invalid_request for a request naming no client.
func clientAuthMissing(rfc *fosite.RFC6749Error) bool {
	return rfc.ErrorField == "invalid_request" && strings.HasPrefix(rfc.HintField, "Client credentials missing")
}

var (
	errInvalidClient = oauthError{http.StatusUnauthorized, "invalid_client", "Invalid client or Invalid client credentials"}
	errNoClientID    = oauthError{http.StatusBadRequest, "invalid_client", "Missing client_id parameter"}
)

// tokenError words the token endpoint's failures as Keycloak's grant types
// do. fosite's hints, where they are the only way to tell two failures
// apart, are matched against fosite v0.49.0 (pinned); an unmatched hint
// falls back to the grant's generic wording, never to the hint.
func tokenError(rfc *fosite.RFC6749Error, err error, form url.Values) oauthError {
	grant, code, hint := form.Get("grant_type"), rfc.ErrorField, rfc.HintField
	bad := func(code, desc string) oauthError { return oauthError{http.StatusBadRequest, code, desc} }
	switch {
	case grant == "":
		return bad("invalid_request", "Missing form parameter: grant_type")
	case !knownGrant(grant):
		// No fosite handler took it: fosite says invalid_request.
		return bad("unsupported_grant_type", "Unsupported grant_type")
	case code == "invalid_client":
		return errInvalidClient
	case clientAuthMissing(rfc):
		return errNoClientID
	case code == "unsupported_grant_type":
		return bad("unsupported_grant_type", "Unsupported grant_type")
	case code == "invalid_scope", code == "scope_not_granted":
		return bad("invalid_scope", "Invalid scopes: "+form.Get("scope"))
	case code == "server_error", rfc.CodeField >= 500:
		return oauthError{}
	}
	switch grant {
	case "password":
		switch {
		case code == "invalid_request" && strings.TrimSpace(form.Get("username")) == "":
			return bad("invalid_request", "Missing parameter: username")
		case code == "invalid_request" && form.Get("password") == "":
			return bad("invalid_request", "Missing parameter: password")
		case code == "unauthorized_client":
			return bad(code, "Client not allowed for direct access grants")
		case code == "invalid_grant":
			return oauthError{http.StatusUnauthorized, code, "Invalid user credentials"}
		}
	case "client_credentials":
		switch code {
		case "unauthorized_client":
			return bad(code, "Client not enabled to retrieve service account")
		case "invalid_grant":
			// fosite: a public client asked for its service account.
			return bad("unauthorized_client", "Public client not allowed to retrieve service account")
		}
	case "authorization_code":
		switch {
		case form.Get("code") == "":
			return bad("invalid_request", "Missing parameter: code")
		case code == "unauthorized_client":
			return bad(code, "Client not allowed to exchange code")
		case code == "invalid_grant" || code == "invalid_request":
			return bad("invalid_grant", codeGrantError(err, hint, form))
		}
	case "refresh_token":
		switch {
		case form.Get("refresh_token") == "":
			return bad("invalid_request", "No refresh token")
		case code == "unauthorized_client":
			return bad(code, "Client not allowed to use refresh tokens")
		case errors.Is(err, fosite.ErrInactiveToken), errors.Is(err, fosite.ErrTokenExpired):
			return bad("invalid_grant", "Token is not active")
		case code == "invalid_grant" || code == "invalid_request":
			// fosite answers invalid_request for a refresh token whose
			// signature does not verify; it is an invalid grant all the same.
			return bad("invalid_grant", "Invalid refresh token")
		}
	}
	return oauthError{}
}

// codeGrantError tells apart the ways a code redemption fails, in
// Keycloak's words (AuthorizationCodeGrantType, PkceUtils).
func codeGrantError(err error, hint string, form url.Values) string {
	switch {
	case errors.Is(err, fosite.ErrTokenExpired):
		return "Code is expired"
	case strings.Contains(hint, `"redirect_uri"`):
		return "Incorrect redirect_uri"
	case strings.Contains(hint, "code challenge did not match"):
		return "PKCE verification failed: Code mismatch"
	case strings.Contains(hint, "code challenge was absent"), strings.Contains(hint, "initial PKCE data"):
		return "PKCE code verifier specified but challenge not present in authorization"
	case strings.Contains(hint, "PKCE code verifier") && form.Get("code_verifier") == "":
		return "PKCE code verifier not specified"
	case strings.Contains(hint, "PKCE code verifier"):
		return "PKCE verification failed: Invalid code verifier"
	}
	// Unknown, replayed, another client's: the same answer for each.
	return "Code not valid"
}

// revokeError words revocation failures as Keycloak's TokenRevocationEndpoint.
func revokeError(rfc *fosite.RFC6749Error, form url.Values) oauthError {
	switch {
	case rfc.ErrorField == "invalid_client":
		return errInvalidClient
	case clientAuthMissing(rfc):
		return errNoClientID
	case rfc.ErrorField == "unauthorized_client":
		// The token belongs to another client.
		return oauthError{http.StatusBadRequest, "unauthorized_client", "Unmatching clients"}
	case rfc.ErrorField == "invalid_request" && form.Get("token") == "":
		return oauthError{http.StatusBadRequest, "invalid_request", "Token not provided"}
	}
	return oauthError{}
}

// authorizeError words the errors redirected to the client from the
// authorization endpoint (Keycloak's AuthorizationEndpointChecker).
func authorizeError(rfc *fosite.RFC6749Error, form url.Values) oauthError {
	bad := func(code, desc string) oauthError { return oauthError{http.StatusBadRequest, code, desc} }
	switch rfc.ErrorField {
	case "invalid_scope":
		return bad("invalid_scope", "Invalid scopes: "+form.Get("scope"))
	case "invalid_request":
		if strings.Contains(rfc.HintField, "'prompt'") {
			return bad("invalid_request", "Invalid parameter: prompt")
		}
	}
	return oauthError{}
}

// terse is the generic client-facing wording of each RFC 6749 / OIDC code.
var terse = map[string]string{
	"invalid_request":            "Invalid request",
	"invalid_client":             "Invalid client or Invalid client credentials",
	"invalid_grant":              "Invalid grant",
	"unauthorized_client":        "Client not allowed",
	"unsupported_grant_type":     "Unsupported grant_type",
	"invalid_scope":              "Invalid scopes",
	"access_denied":              "Access denied",
	"unsupported_response_type":  "Unsupported response_type",
	"unsupported_response_mode":  "Invalid parameter: response_mode",
	"server_error":               "Internal server error",
	"temporarily_unavailable":    "Service temporarily unavailable",
	"login_required":             "Login required",
	"interaction_required":       "Interaction required",
	"consent_required":           "Consent required",
	"account_selection_required": "Account selection required",
	"request_not_supported":      "Request object not supported",
	"request_uri_not_supported":  "Parameter request_uri not supported",
	"registration_not_supported": "Parameter registration not supported",
	"invalid_request_uri":        "Invalid parameter: request_uri",
	"invalid_request_object":     "Invalid request object",
}

// genericError is the fallback: the code's generic wording. fosite's own
// codes outside RFC 6749 and OIDC (token_inactive, request_forbidden,
// "error"...) become invalid_request, or server_error when fosite meant a 5xx.
func genericError(rfc *fosite.RFC6749Error) oauthError {
	code := rfc.ErrorField
	switch {
	case code == "temporarily_unavailable":
		return oauthError{http.StatusServiceUnavailable, code, terse[code]}
	case rfc.CodeField >= 500 || code == "server_error" || code == "misconfiguration":
		return oauthError{http.StatusInternalServerError, "server_error", terse["server_error"]}
	case code == "invalid_client":
		return errInvalidClient
	}
	if desc, ok := terse[code]; ok {
		return oauthError{http.StatusBadRequest, code, desc}
	}
	return oauthError{http.StatusBadRequest, "invalid_request", terse["invalid_request"]}
}

// errUnavailable is the answer to store.ErrUnavailable at every OAuth
// endpoint: RFC 6749's temporarily_unavailable.
var errUnavailable = oauthError{http.StatusServiceUnavailable, "temporarily_unavailable", "Service temporarily unavailable, retry shortly"}

// RetryAfterUnavailable is the Retry-After, in seconds, of a 503 for a
// database that could not answer: long enough for a failover or a restart
// of PostgreSQL to finish, short enough that clients come back soon.
const RetryAfterUnavailable = "5"

// retryAfter is the Retry-After of a 503 caused by err.
func retryAfter(err error) string {
	switch {
	case errors.Is(err, store.ErrUnavailable), errors.Is(err, authn.ErrUnavailable):
		return RetryAfterUnavailable
	}
	return "1"
}

// WriteUnavailable answers an API request that failed with
// store.ErrUnavailable: 503, Retry-After, and temporarily_unavailable in
// RFC 6749's JSON shape, as Keycloak shapes its OAuth errors.
func WriteUnavailable(w http.ResponseWriter) {
	w.Header().Set("Retry-After", RetryAfterUnavailable)
	writeJSON(w, errUnavailable.status, map[string]string{"error": errUnavailable.code, "error_description": errUnavailable.desc})
}

// explain logs what the client is not told: fosite's hint (debug level),
// and for server errors the cause.
func (p *Provider) explain(ctx context.Context, where string, err error, o oauthError) {
	rfc := fosite.ErrorToRFC6749Error(err)
	if o.code == "temporarily_unavailable" && errors.Is(err, store.ErrUnavailable) {
		p.log.WarnContext(ctx, where+": database unavailable", "err", storeCause(err))
		return
	}
	if o.code == "server_error" {
		p.log.ErrorContext(ctx, where, "err", rfc.WithExposeDebug(true).GetDescription(), "debug", rfc.DebugField)
		return
	}
	p.log.DebugContext(ctx, where+" refused", "error", o.code, "reason", rfc.HintField)
}

// storeCause is the text of the store's error under fosite's wrappers: a
// fosite error logged as it is prints its stack trace (slog formats it
// with %+v) and only its code.
func storeCause(err error) string {
	for {
		var rfc *fosite.RFC6749Error
		if !errors.As(err, &rfc) || rfc.Unwrap() == nil {
			return err.Error()
		}
		err = rfc.Unwrap()
	}
}

// writeTokenError answers token-endpoint failures as Keycloak does.
func (p *Provider) writeTokenError(w http.ResponseWriter, r *http.Request, err error) {
	p.writeOAuthError(w, r, atToken, err)
}

func (p *Provider) writeOAuthError(w http.ResponseWriter, r *http.Request, ep endpoint, err error) {
	o := clientError(err, ep, r.PostForm)
	p.explain(r.Context(), map[endpoint]string{atToken: "token endpoint", atRevoke: "revocation endpoint"}[ep], err, o)
	if o.status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", retryAfter(err))
	}
	writeJSON(w, o.status, map[string]string{"error": o.code, "error_description": o.desc})
}

func knownGrant(g string) bool {
	switch g {
	case "authorization_code", "refresh_token", "password", "client_credentials":
		return true
	}
	return false
}
