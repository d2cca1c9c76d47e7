package account

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// The Account REST API (Keycloak's AccountRestService subset): bearer
// tokens of the realm only (never the SSO cookie, so no CSRF), audience
// "account", roles of client "account" as the token carries them; CORS
// for the token's allowed-origins.

// api authenticates a REST call: the token, its audience, the user, and
// one of roles. ok=false means the answer (401, 403 or 503) was written.
func (h *Handler) api(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, roles ...string) (*console, bool) {
	ti, err := h.p.VerifyBearer(r, realm.Row.Name)
	if errors.Is(err, store.ErrUnavailable) {
		oidc.WriteUnavailable(w)
		return nil, false
	}
	if err != nil || ti.UserID == "" {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.Row.Name+`"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return nil, false
	}
	h.cors(w, r, ti.Claims)
	if !hasAudience(ti.Claims, accountClient) {
		w.Header().Set("WWW-Authenticate", `Bearer realm="`+realm.Row.Name+`", error="invalid_token"`)
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return nil, false
	}
	u, err := h.st.GetUser(r.Context(), realm.Row.ID, ti.UserID)
	if unavailable(err) {
		oidc.WriteUnavailable(w)
		return nil, false
	} else if err != nil || !u.Enabled || u.ServiceAccount != "" {
		// A client's service account holds the default roles too, but is
		// no one's account: Keycloak's AccountLoader refuses it with 401
		// ("Service accounts are not allowed to access this service").
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "HTTP 401 Unauthorized"})
		return nil, false
	}
	c := &console{realm: realm, user: u, roles: tokenRoles(ti.Claims, accountClient)}
	if ti.SessionID != "" {
		c.sso = &store.Session{ID: ti.SessionID, UserID: u.ID}
	}
	if !slices.ContainsFunc(roles, func(role string) bool { return c.roles[role] }) {
		writeJSON(w, http.StatusForbidden, map[string]string{"error": "HTTP 403 Forbidden"})
		return nil, false
	}
	return c, true
}

func hasAudience(claims map[string]any, aud string) bool {
	switch v := claims["aud"].(type) {
	case string:
		return v == aud
	case []any:
		for _, a := range v {
			if a == aud {
				return true
			}
		}
	}
	return false
}

// tokenRoles are the token's resource_access roles of clientID.
func tokenRoles(claims map[string]any, clientID string) map[string]bool {
	out := map[string]bool{}
	ra, _ := claims["resource_access"].(map[string]any)
	c, _ := ra[clientID].(map[string]any)
	list, _ := c["roles"].([]any)
	for _, r := range list {
		if s, ok := r.(string); ok {
			out[s] = true
		}
	}
	return out
}

// cors admits the request's origin when the token's allowed-origins does,
// as Keycloak's Cors.allowedOrigins(token).
func (h *Handler) cors(w http.ResponseWriter, r *http.Request, claims map[string]any) {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return
	}
	list, _ := claims["allowed-origins"].([]any)
	for _, o := range list {
		if o == "*" || o == origin {
			hd := w.Header()
			hd.Set("Access-Control-Allow-Origin", origin)
			hd.Set("Access-Control-Allow-Credentials", "true")
			hd.Add("Vary", "Origin")
			return
		}
	}
}

// preflight answers CORS preflights of the API for any origin, as
// Keycloak's CorsPreflightService does: a preflight carries no
// credentials, and what the actual call may read is decided by its token.
func (h *Handler) preflight(w http.ResponseWriter, r *http.Request, _ *oidc.Realm) {
	if origin := r.Header.Get("Origin"); origin != "" {
		hd := w.Header()
		hd.Set("Access-Control-Allow-Origin", origin)
		hd.Set("Access-Control-Allow-Credentials", "true")
		hd.Add("Vary", "Origin")
		hd.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS")
		hd.Set("Access-Control-Allow-Headers", "Origin, Accept, X-Requested-With, Content-Type, Access-Control-Request-Method, Access-Control-Request-Headers, Authorization")
		hd.Set("Access-Control-Max-Age", "3600")
	}
	w.WriteHeader(http.StatusOK)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "encoding error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// apiError writes Keycloak's ErrorRepresentation.
func apiError(w http.ResponseWriter, status int, msg string, field string, params []string) {
	body := map[string]any{"errorMessage": msg}
	if field != "" {
		body["field"] = field
	}
	if len(params) > 0 {
		body["params"] = params
	}
	writeJSON(w, status, body)
}

func (h *Handler) apiStoreError(w http.ResponseWriter, r *http.Request, what string, err error) {
	if unavailable(err) {
		h.log.WarnContext(r.Context(), what+": database unavailable", "err", err)
		oidc.WriteUnavailable(w)
		return
	}
	h.log.ErrorContext(r.Context(), what, "err", err)
	writeJSON(w, http.StatusInternalServerError, map[string]string{"error": "unknown_error"})
}

// ---- the account (UserRepresentation)

type userProfileAttribute struct {
	Name        string         `json:"name"`
	DisplayName string         `json:"displayName"`
	Required    bool           `json:"required"`
	ReadOnly    bool           `json:"readOnly"`
	Validators  map[string]any `json:"validators"`
	Multivalued bool           `json:"multivalued"`
}

type accountRep struct {
	ID                  string              `json:"id"`
	Username            string              `json:"username"`
	FirstName           string              `json:"firstName,omitempty"`
	LastName            string              `json:"lastName,omitempty"`
	Email               string              `json:"email,omitempty"`
	EmailVerified       bool                `json:"emailVerified"`
	UserProfileMetadata *profileMetadata    `json:"userProfileMetadata,omitempty"`
	Attributes          map[string][]string `json:"attributes,omitempty"`
}

type profileMetadata struct {
	Attributes []userProfileAttribute `json:"attributes"`
	Groups     []any                  `json:"groups"`
}

func (h *Handler) restAccount(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewProfile)
	if !ok {
		return
	}
	u := c.user
	out := accountRep{ID: u.ID, Username: u.Username, FirstName: u.FirstName, LastName: u.LastName, Email: u.Email, EmailVerified: u.EmailVerified}
	if r.URL.Query().Get("userProfileMetadata") != "false" {
		s := realm.Settings
		ro := u.FederationLink != ""
		lengths := map[string]any{"length": map[string]any{"max": maxAttributeLength}}
		md := &profileMetadata{Groups: []any{}}
		if !s.RegistrationEmailAsUsername {
			md.Attributes = append(md.Attributes, userProfileAttribute{Name: "username", DisplayName: "${username}", Required: true,
				ReadOnly: ro || !s.EditUsernameAllowed, Validators: lengths})
		}
		for _, a := range []struct{ name, display string }{{"email", "${email}"}, {"firstName", "${firstName}"}, {"lastName", "${lastName}"}} {
			md.Attributes = append(md.Attributes, userProfileAttribute{Name: a.name, DisplayName: a.display, Required: true, ReadOnly: ro, Validators: lengths})
		}
		out.UserProfileMetadata = md
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) restUpdateAccount(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	var in struct {
		Username, Email, FirstName, LastName *string
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxJSONBytes)
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, http.StatusBadRequest, "invalidRequestMessage", "", nil)
		return
	}
	if in.Username != nil && strings.EqualFold(strings.TrimSpace(*in.Username), c.user.Username) {
		in.Username = nil // unchanged, whatever the realm allows
	}
	_, err := h.saveProfile(r, c, profileUpdate{Username: in.Username, Email: in.Email, FirstName: in.FirstName, LastName: in.LastName})
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		params := fe.Params
		if fe.Field != "" {
			params = append([]string{fe.Field}, params...)
		}
		apiError(w, http.StatusBadRequest, fe.Key, fe.Field, params)
		return
	case err != nil:
		h.apiStoreError(w, r, "update account", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- credentials (Keycloak's CredentialContainer)

type credentialRep struct {
	ID             string `json:"id"`
	Type           string `json:"type"`
	UserLabel      string `json:"userLabel,omitempty"`
	CreatedDate    int64  `json:"createdDate,omitempty"`
	CredentialData string `json:"credentialData,omitempty"`
	Priority       int    `json:"priority,omitempty"`
}

type credentialMetadata struct {
	Credential credentialRep `json:"credential"`
}

type credentialContainer struct {
	Type                    string               `json:"type"`
	Category                string               `json:"category"`
	DisplayName             string               `json:"displayName"`
	Helptext                string               `json:"helptext"`
	IconCSSClass            string               `json:"iconCssClass"`
	CreateAction            string               `json:"createAction,omitempty"`
	UpdateAction            string               `json:"updateAction,omitempty"`
	Removeable              bool                 `json:"removeable"`
	UserCredentialMetadatas []credentialMetadata `json:"userCredentialMetadatas"`
}

func (h *Handler) restCredentials(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewProfile)
	if !ok {
		return
	}
	creds, err := h.st.ListCredentials(r.Context(), c.user.ID)
	if err != nil {
		h.apiStoreError(w, r, "list credentials", err)
		return
	}
	pw := credentialContainer{Type: "password", Category: "basic-authentication", DisplayName: "password-display-name",
		Helptext: "password-help-text", IconCSSClass: "kcAuthenticatorPasswordClass", UpdateAction: "UPDATE_PASSWORD",
		UserCredentialMetadatas: []credentialMetadata{}}
	otp := credentialContainer{Type: "otp", Category: "two-factor", DisplayName: "otp-display-name",
		Helptext: "otp-help-text", IconCSSClass: "kcAuthenticatorOTPClass", CreateAction: "CONFIGURE_TOTP", Removeable: true,
		UserCredentialMetadatas: []credentialMetadata{}}
	for _, cr := range creds {
		rep := credentialMetadata{Credential: credentialRep{ID: cr.ID, Type: cr.Type, UserLabel: cr.UserLabel,
			CreatedDate: cr.Created.UnixMilli(), CredentialData: cr.CredentialData, Priority: cr.Priority}}
		switch cr.Type {
		case "password":
			pw.UserCredentialMetadatas = append(pw.UserCredentialMetadatas, rep)
		case "otp":
			otp.UserCredentialMetadatas = append(otp.UserCredentialMetadatas, rep)
		}
	}
	if len(pw.UserCredentialMetadatas) == 0 && c.user.FederationLink != "" {
		// The directory holds the password (Keycloak's user-storage credential).
		pw.UserCredentialMetadatas = append(pw.UserCredentialMetadatas, credentialMetadata{Credential: credentialRep{Type: "password"}})
	}
	out := []credentialContainer{}
	typ := r.URL.Query().Get("type")
	for _, cc := range []credentialContainer{pw, otp} {
		if typ == "" || typ == cc.Type {
			if r.URL.Query().Get("user-credentials") == "false" {
				cc.UserCredentialMetadatas = nil
			}
			out = append(out, cc)
		}
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) restRemoveCredential(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	switch err := h.removeOTP(r, c, r.PathValue("id")); {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, map[string]string{"error": "Credential not found"})
	case err != nil:
		h.apiStoreError(w, r, "remove credential", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}

// ---- sessions (Keycloak's SessionRepresentation, DeviceRepresentation)

type clientRep struct {
	ClientID   string `json:"clientId"`
	ClientName string `json:"clientName,omitempty"`
}

type sessionRep struct {
	ID         string      `json:"id"`
	IPAddress  string      `json:"ipAddress"`
	Started    int64       `json:"started"`
	LastAccess int64       `json:"lastAccess"`
	Expires    int64       `json:"expires"`
	Browser    string      `json:"browser"`
	Current    bool        `json:"current,omitempty"`
	Clients    []clientRep `json:"clients"`
}

func (h *Handler) sessionReps(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, c *console) ([]sessionRep, bool) {
	current := ""
	if c.sso != nil {
		current = c.sso.ID
	}
	sessions, err := h.liveSessions(r, realm, c.user.ID, current)
	if err != nil {
		h.apiStoreError(w, r, "list sessions", err)
		return nil, false
	}
	clients, err := h.sessionsClientIDs(r.Context(), realm, sessions)
	if err != nil {
		h.apiStoreError(w, r, "list clients of sessions", err)
		return nil, false
	}
	out := []sessionRep{}
	for _, s := range sessions {
		rep := sessionRep{ID: s.ID, IPAddress: s.IPAddress, Started: s.Created.Unix(), LastAccess: s.LastSeen.Unix(),
			Expires: sessionExpires(realm, s).Unix(), Browser: "Other/Unknown", Current: s.ID == current, Clients: []clientRep{}}
		for _, id := range clients[s.ID] {
			cr := clientRep{ClientID: id}
			if n := h.clientName(r, realm, id); n != id {
				cr.ClientName = n
			}
			rep.Clients = append(rep.Clients, cr)
		}
		out = append(out, rep)
	}
	return out, true
}

func (h *Handler) restSessions(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewProfile)
	if !ok {
		return
	}
	if out, ok := h.sessionReps(w, r, realm, c); ok {
		writeJSON(w, http.StatusOK, out)
	}
}

// restDevices groups the sessions by device, as Keycloak's
// /sessions/devices; keygate does not parse user agents, so every
// session is on one "Other" device.
func (h *Handler) restDevices(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewProfile)
	if !ok {
		return
	}
	sessions, ok := h.sessionReps(w, r, realm, c)
	if !ok {
		return
	}
	if len(sessions) == 0 {
		writeJSON(w, http.StatusOK, []any{})
		return
	}
	dev := map[string]any{"os": "Other", "osVersion": "Unknown", "device": "Other", "browser": "Other/Unknown",
		"mobile": false, "sessions": sessions}
	var last int64
	for _, s := range sessions {
		last = max(last, s.LastAccess)
		if s.Current {
			dev["current"] = true
		}
	}
	dev["lastAccess"] = last
	dev["ipAddress"] = sessions[0].IPAddress
	writeJSON(w, http.StatusOK, []any{dev})
}

// restLogoutSessions signs out every session of the user but the token's
// own (?current=true: that one too).
func (h *Handler) restLogoutSessions(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	keep := c.sso
	if r.URL.Query().Get("current") == "true" {
		c.sso = nil
	}
	err := h.signOutOthers(r, c)
	c.sso = keep
	if err != nil {
		h.apiStoreError(w, r, "sign out sessions", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// restLogoutSession signs out one session of the user; another user's or
// an unknown one is answered the same, 204, as Keycloak does.
func (h *Handler) restLogoutSession(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	if err := h.signOut(r, c, r.PathValue("id")); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.apiStoreError(w, r, "sign out session", err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// ---- linked accounts

func (h *Handler) restLinkedAccounts(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewProfile)
	if !ok {
		return
	}
	accts, err := h.linkedAccounts(r, realm, c.user)
	if err != nil {
		h.apiStoreError(w, r, "linked accounts", err)
		return
	}
	out := []linkedAccount{}
	switch r.URL.Query().Get("linked") {
	case "true":
		for _, a := range accts {
			if a.Connected {
				out = append(out, a)
			}
		}
	case "false":
		for _, a := range accts {
			if !a.Connected {
				out = append(out, a)
			}
		}
	default:
		out = append(out, accts...)
	}
	writeJSON(w, http.StatusOK, out)
}

func (h *Handler) restUnlink(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	var fe *fieldError
	switch err := h.unlink(r, c, r.PathValue("alias")); {
	case errors.As(err, &fe):
		apiError(w, http.StatusBadRequest, templates.Message(fe.Key), "", nil)
	case err != nil:
		h.apiStoreError(w, r, "unlink", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
