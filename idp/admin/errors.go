package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"github.com/keygate/keygate/federation"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// apiError is an answer decided by a handler: status and Keycloak's body.
type apiError struct {
	status int
	body   map[string]any
}

func (e *apiError) Error() string { return fmt.Sprintf("%d %v", e.status, e.body) }

// errMsg is Keycloak's ErrorRepresentation: {"errorMessage": "..."}.
func errMsg(status int, msg string) error {
	return &apiError{status: status, body: map[string]any{"errorMessage": msg}}
}

// notFound is Keycloak's 404 body: {"error": "User not found"}.
func notFound(msg string) error {
	return &apiError{status: http.StatusNotFound, body: map[string]any{"error": msg}}
}

func conflict(msg string) error { return errMsg(http.StatusConflict, msg) }

func badRequest(msg string) error { return errMsg(http.StatusBadRequest, msg) }

// fieldError is the user-profile style 400 naming a field.
func fieldError(field, msg string) error {
	return &apiError{status: http.StatusBadRequest, body: map[string]any{"field": field, "errorMessage": msg, "params": []string{field}}}
}

// fail writes err as Keycloak would: handler-decided answers as they are;
// store.ErrNotFound 404, store.ErrConflict 409; representation errors 400
// naming the field; password policy errors and unsafe client URIs 400 with
// a reason; a full
// hashing queue 503; a database that cannot answer (store.ErrUnavailable)
// 503 with Retry-After; anything else 500, logged (never the request body).
func (a *API) fail(w http.ResponseWriter, r *http.Request, err error) {
	var ae *apiError
	var de *rep.DecodeError
	var pe *password.PolicyError
	var mbe *http.MaxBytesError
	var ue *oidc.URIError
	switch {
	case errors.As(err, &ae):
	case errors.As(err, &de):
		ae = &apiError{status: http.StatusBadRequest, body: map[string]any{"errorMessage": de.Error()}}
		if f := de.Field(); f != "" {
			ae.body["field"] = f
		}
	case errors.As(err, &pe):
		ae = &apiError{status: http.StatusBadRequest, body: map[string]any{"error": pe.Key, "error_description": pe.Message}}
	case errors.As(err, &ue): // Keycloak's client validation answer
		ae = &apiError{status: http.StatusBadRequest, body: map[string]any{"error": "invalid_input", "error_description": ue.Error()}}
	case errors.As(err, &mbe):
		ae = errMsg(http.StatusRequestEntityTooLarge, "Request entity too large").(*apiError)
	case errors.Is(err, store.ErrNotFound):
		ae = notFound("Could not find resource").(*apiError)
	case errors.Is(err, store.ErrConflict):
		ae = conflict("Conflict detected. See logs for details").(*apiError)
	case errors.Is(err, authn.ErrBusy), errors.Is(err, password.ErrBusy):
		w.Header().Set("Retry-After", "1")
		ae = errMsg(http.StatusServiceUnavailable, "Too many concurrent password operations").(*apiError)
	case errors.Is(err, federation.ErrUnavailable):
		a.log.WarnContext(r.Context(), "admin API: user storage unavailable", "method", r.Method, "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", "30")
		ae = errMsg(http.StatusServiceUnavailable, "The user storage provider is unavailable").(*apiError)
	case errors.Is(err, store.ErrUnavailable):
		a.log.WarnContext(r.Context(), "admin API: database unavailable", "method", r.Method, "route", r.Pattern, "err", err)
		w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
		ae = &apiError{status: http.StatusServiceUnavailable, body: map[string]any{"error": "temporarily_unavailable",
			"errorMessage": "Service temporarily unavailable, retry shortly"}}
	default:
		a.log.ErrorContext(r.Context(), "admin API", "method", r.Method, "route", r.Pattern, "err", err)
		ae = &apiError{status: http.StatusInternalServerError, body: map[string]any{"error": "unknown_error"}}
	}
	writeJSON(w, ae.status, ae.body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func (c *call) ok(v any) error {
	writeJSON(c.w, http.StatusOK, v)
	return nil
}

func (c *call) noContent() error {
	c.w.WriteHeader(http.StatusNoContent)
	return nil
}

// created answers 201 with Location = this request's URL + "/" + id; the
// admin client takes the id from its last segment.
func (c *call) created(id string) error {
	c.w.Header().Set("Location", c.a.p.BaseURL(c.r)+c.r.URL.EscapedPath()+"/"+url.PathEscape(id))
	c.w.WriteHeader(http.StatusCreated)
	return nil
}

// body reads the request body (at most limit bytes) and decodes it into v
// as a Keycloak representation (see rep.Decode).
func (c *call) body(v any, limit int64) error {
	data, err := c.read(limit)
	if err != nil {
		return err
	}
	return rep.Decode(data, v)
}

func (c *call) read(limit int64) ([]byte, error) {
	data, err := io.ReadAll(http.MaxBytesReader(c.w, c.r.Body, limit))
	if err != nil {
		return nil, err
	}
	if len(data) == 0 || !json.Valid(data) {
		return nil, badRequest("Invalid JSON body")
	}
	c.bodyRead = data // the admin event's representation (masked there)
	return data, nil
}

// id returns the UUID path value name; anything else cannot name a row and
// is answered 404 without a store lookup.
func (c *call) id(name, what string) (string, error) {
	v := c.r.PathValue(name)
	if len(v) != 36 || uuid.Validate(v) != nil {
		return "", notFound(what + " not found")
	}
	return v, nil
}

// page reads Keycloak's first/max query parameters; max defaults to def
// (0 = no limit).
func (c *call) page(def int) (first, max int, err error) {
	q := c.r.URL.Query()
	num := func(name string, d int) (int, error) {
		s := q.Get(name)
		if s == "" {
			return d, nil
		}
		n, err := strconv.Atoi(s)
		if err != nil || n < -1 {
			return 0, badRequest("Invalid value for query parameter " + name)
		}
		if n == -1 {
			return d, nil
		}
		return n, nil
	}
	if first, err = num("first", 0); err != nil {
		return 0, 0, err
	}
	max, err = num("max", def)
	return first, max, err
}

// flag reads a boolean query parameter.
func (c *call) flag(name string, def bool) bool {
	v, err := strconv.ParseBool(c.r.URL.Query().Get(name))
	if err != nil {
		return def
	}
	return v
}
