package account

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Keycloak's "Applications": the clients the user has consented to, given
// offline access, or is signed in to now, and removing an application's
// access (its consent and offline tokens), on the page and in the REST API
// (GET /applications, DELETE /applications/{clientId}/consent).

const applicationsPath = "/applications"

// application is one entry, as Keycloak's account ClientRepresentation
// shows it (the fields keygate has).
type application struct {
	ClientID            string   `json:"clientId"`
	ClientName          string   `json:"clientName"`
	UserConsentRequired bool     `json:"userConsentRequired"`
	InUse               bool     `json:"inUse"`
	OfflineAccess       bool     `json:"offlineAccess"`
	Consent             *consent `json:"consent,omitempty"`
}

type consent struct {
	GrantedScopes   []grantedScope `json:"grantedScopes"`
	CreatedDate     int64          `json:"createdDate"`
	LastUpdatedDate int64          `json:"lastUpdatedDate"`
}

type grantedScope struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	DisplayText string `json:"displayText"`
}

// applications lists user's applications, by name.
func (h *Handler) applications(r *http.Request, realm *oidc.Realm, user store.User) ([]application, error) {
	ctx := r.Context()
	sessions, err := h.liveSessions(r, realm, user.ID, "")
	if err != nil {
		return nil, err
	}
	inUse, err := h.sessionsClientIDs(ctx, realm, sessions)
	if err != nil {
		return nil, err
	}
	offline, err := h.st.ListOfflineTokens(ctx, realm.Row.ID, user.ID, time.Now())
	if err != nil {
		return nil, err
	}
	given, err := h.st.ListUserConsents(ctx, realm.Row.ID, user.ID)
	if err != nil {
		return nil, err
	}
	scopes, err := h.st.ListClientScopes(ctx, realm.Row.ID)
	if err != nil {
		return nil, err
	}
	page := h.login.Page(r, realm)
	byID := map[string]*application{}
	var order []string
	// app is the entry of clientID, nil for a client gone (or disabled)
	// since; any other failure is the caller's 503, not a shorter list.
	app := func(clientID string) (*application, error) {
		if a, ok := byID[clientID]; ok {
			return a, nil
		}
		c, err := h.p.Client(ctx, realm, clientID)
		if errors.Is(err, store.ErrNotFound) {
			return nil, nil
		} else if err != nil {
			return nil, err
		}
		a := &application{ClientID: clientID, ClientName: h.clientName(r, realm, clientID), UserConsentRequired: c.Settings.ConsentRequired}
		byID[clientID] = a
		order = append(order, clientID)
		return a, nil
	}
	for _, ids := range inUse {
		for _, id := range ids {
			a, err := app(id)
			if err != nil {
				return nil, err
			}
			if a != nil {
				a.InUse = true
			}
		}
	}
	for _, t := range offline {
		a, err := app(t.Token.ClientID)
		if err != nil {
			return nil, err
		}
		if a != nil {
			a.OfflineAccess = true
		}
	}
	for _, g := range given {
		row, err := h.st.GetClient(ctx, realm.Row.ID, g.ClientID)
		if errors.Is(err, store.ErrNotFound) {
			continue
		} else if err != nil {
			return nil, err
		}
		a, err := app(row.ClientID)
		if err != nil {
			return nil, err
		}
		if a == nil {
			continue
		}
		a.Consent = &consent{GrantedScopes: []grantedScope{}, CreatedDate: g.Created.UnixMilli(), LastUpdatedDate: g.Updated.UnixMilli()}
		for _, row := range scopes {
			if !slices.Contains(g.Scopes, row.ID) {
				continue
			}
			s, err := rep.ClientScopeFromStore(row)
			if err != nil {
				return nil, err
			}
			text := s.Name
			if t := s.Attributes["consent.screen.text"]; t != "" {
				text = page.Text(t)
			}
			a.Consent.GrantedScopes = append(a.Consent.GrantedScopes, grantedScope{ID: row.ID, Name: s.Name, DisplayText: text})
		}
	}
	out := make([]application, 0, len(order))
	for _, id := range order {
		out = append(out, *byID[id])
	}
	slices.SortFunc(out, func(x, y application) int {
		return strings.Compare(strings.ToLower(x.ClientName), strings.ToLower(y.ClientName))
	})
	return out, nil
}

// removeAccess revokes the user's consent to the client and its offline
// tokens (Keycloak's REVOKE_GRANT); store.ErrNotFound when there was
// neither.
func (h *Handler) removeAccess(r *http.Request, c *console, clientID string) error {
	ctx := r.Context()
	row, err := h.st.GetClientByClientID(ctx, c.realm.Row.ID, clientID)
	if err != nil {
		return err
	}
	until, err := h.p.RevokedUntil(ctx, c.realm.Row.ID, c.realm.Settings)
	if err != nil {
		return err
	}
	revoked, err := h.p.RevokeClientGrants(ctx, h.p.Issuer(r, c.realm.Row.Name), c.realm.Row.ID, c.user.ID, row, until)
	if err != nil {
		return err
	}
	if !revoked {
		return store.ErrNotFound
	}
	h.p.Event(r, c.realm, store.Event{Type: "REVOKE_GRANT", ClientID: consoleClient, UserID: c.user.ID,
		Details: map[string]string{"revoked_client": row.ClientID}})
	return nil
}

// applicationsPage serves GET /applications: the page, or the REST list.
func (h *Handler) applicationsPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	if wantsJSON(r) {
		h.restApplications(w, r, realm)
		return
	}
	c, ok := h.browser(w, r, realm)
	if !ok {
		return
	}
	apps, err := h.applications(r, realm, c.user)
	if err != nil {
		h.login.StoreError(w, r, realm, "applications", err)
		return
	}
	v := templates.ApplicationsView{AccountView: h.view(w, r, c, templates.AccountApplications)}
	for _, a := range apps {
		e := templates.AccountApplication{ClientID: a.ClientID, Name: a.ClientName, InUse: a.InUse, OfflineAccess: a.OfflineAccess}
		if a.Consent != nil {
			e.ConsentGiven = formatTime(time.UnixMilli(a.Consent.CreatedDate))
			for _, s := range a.Consent.GrantedScopes {
				e.Granted = append(e.Granted, s.DisplayText)
			}
		}
		if a.Consent != nil || a.OfflineAccess {
			e.RemoveAction = base(r, realm) + applicationsPath + "/" + url.PathEscape(a.ClientID) + "/remove"
		}
		v.Apps = append(v.Apps, e)
	}
	h.login.Render(w, http.StatusOK, templates.AccountApplicationsPage(v))
}

// removeAccessForm serves the page's Remove access.
func (h *Handler) removeAccessForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	if err := h.removeAccess(r, c, r.PathValue("client")); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.login.StoreError(w, r, realm, "remove access", err)
		return
	}
	http.Redirect(w, r, base(r, realm)+applicationsPath+"?notice=accessRemovedMessage", http.StatusSeeOther)
}

func (h *Handler) restApplications(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	// As Keycloak: which applications the user uses and trusts is not
	// their profile, so view-profile alone does not show it.
	c, ok := h.api(w, r, realm, roleManageAccount, roleViewApps)
	if !ok {
		return
	}
	apps, err := h.applications(r, realm, c.user)
	if err != nil {
		h.apiStoreError(w, r, "applications", err)
		return
	}
	if name := r.URL.Query().Get("name"); name != "" {
		apps = slices.DeleteFunc(apps, func(a application) bool {
			return !strings.Contains(strings.ToLower(a.ClientName), strings.ToLower(name))
		})
	}
	writeJSON(w, http.StatusOK, apps)
}

// restRevokeConsent serves DELETE /applications/{client}/consent.
func (h *Handler) restRevokeConsent(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.api(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	switch err := h.removeAccess(r, c, r.PathValue("client")); {
	case errors.Is(err, store.ErrNotFound):
		apiError(w, http.StatusNotFound, "No client with clientId: "+r.PathValue("client")+" found.", "", nil)
	case err != nil:
		h.apiStoreError(w, r, "revoke consent", err)
	default:
		w.WriteHeader(http.StatusNoContent)
	}
}
