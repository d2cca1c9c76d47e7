package login

import (
	"context"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// OAUTH_GRANT: Keycloak's consent screen, the last step of a login for a
// client with consentRequired. It runs when the request applies client
// scopes shown on the consent screen that the user has not granted this
// client yet, or for all of them with prompt=consent; a client whose
// scopes show none asks nothing, as in Keycloak. Yes stores the grant
// (those scopes added to the user's consent); No ends the login with
// access_denied. prompt=none gets consent_required (actions.go).
func init() {
	RegisterAction(Action{Alias: consentAlias, Post: true, Applies: consentApplies, Prepare: prepareConsent, Show: showConsent,
		Process: processConsent})
}

const consentAlias = "OAUTH_GRANT"

// consentShown is the Data key of the client scope ids the page lists: Yes
// grants those, never a scope the client added after the page was shown.
const consentShown = "scopes"

// consent is what the consent screen asks s's user to grant the client
// (nothing when the client asks for no consent), with the consent they
// gave it already, read once.
type consent struct {
	client *oidc.Client
	ask    []oidc.ConsentScope
	given  store.Consent
}

func consentAsk(ctx context.Context, s *Step) (consent, error) {
	c, err := s.H.oidc.Client(ctx, s.Realm, s.ClientID)
	if err != nil || !c.Settings.ConsentRequired {
		return consent{client: c}, err
	}
	want, err := s.H.oidc.ConsentScopes(ctx, s.Realm, c, s.Authz.Get("scope"))
	if err != nil || len(want) == 0 {
		return consent{client: c}, err
	}
	given, err := s.H.st.GetConsent(ctx, s.Realm.Row.ID, s.User.ID, c.Row.ID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return consent{client: c}, err
	}
	out := consent{client: c, ask: oidc.Ungranted(want, given), given: given}
	if slices.Contains(strings.Fields(s.Authz.Get("prompt")), "consent") {
		out.ask = want
	}
	return out, nil
}

func consentApplies(ctx context.Context, s *Step) (bool, error) {
	c, err := consentAsk(ctx, s)
	return len(c.ask) > 0, err
}

// prepareConsent records what the page will ask.
func prepareConsent(ctx context.Context, s *Step) error {
	c, err := consentAsk(ctx, s)
	if err != nil {
		return err
	}
	s.Data[consentShown] = scopeIDs(c.ask)
	return nil
}

func scopeIDs(xs []oidc.ConsentScope) string {
	ids := make([]string, len(xs))
	for i, x := range xs {
		ids[i] = x.ID
	}
	return strings.Join(ids, " ")
}

func showConsent(s *Step) templ.Component {
	c, err := consentAsk(s.Request.Context(), s)
	if err != nil {
		// No form without its list: Yes would grant what nobody read.
		s.Unavailable = errors.Is(err, store.ErrUnavailable)
		return templates.Error(templates.ErrorView{Page: s.Page, Title: s.Page.T("errorTitle"),
			Message: s.Page.T("temporarilyUnavailable")})
	}
	v := templates.ConsentView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken, Client: s.ClientID}
	if c.client.Settings.Name != "" {
		v.Client = s.Page.Text(c.client.Settings.Name)
	}
	shown := strings.Fields(s.Data[consentShown])
	for _, sc := range c.ask {
		if !slices.Contains(shown, sc.ID) {
			continue
		}
		text := sc.Name
		if sc.Text != "" {
			text = s.Page.Text(sc.Text)
		}
		v.Scopes = append(v.Scopes, text)
	}
	return templates.Consent(v)
}

func processConsent(ctx context.Context, s *Step) Result {
	u := s.User
	if s.Form.Has("cancel") {
		s.H.oidc.Event(s.Request, s.Realm, store.Event{Type: "LOGIN_ERROR", ClientID: s.ClientID, UserID: u.ID,
			Error: "rejected_by_user", Details: map[string]string{"username": u.Username, "consent": "consent_denied"}})
		return Deny()
	}
	if !s.Form.Has("accept") {
		return Retry("", "invalidRequestMessage")
	}
	// What is asked now: the page may have been shown before the consent
	// changed elsewhere.
	c, err := consentAsk(ctx, s)
	if err != nil {
		return storeRetry(s, err)
	}
	if len(c.ask) == 0 {
		return Done()
	}
	shown := strings.Fields(s.Data[consentShown])
	if slices.ContainsFunc(c.ask, func(sc oidc.ConsentScope) bool { return !slices.Contains(shown, sc.ID) }) {
		// The client asks more than the page listed (its scopes changed
		// meanwhile): the page again, listing it all.
		s.Data[consentShown] = scopeIDs(c.ask)
		return Retry("", "")
	}
	now := time.Now()
	next := store.Consent{RealmID: s.Realm.Row.ID, UserID: u.ID, ClientID: c.client.Row.ID, Scopes: slices.Clone(c.given.Scopes),
		Created: now, Updated: now}
	for _, sc := range c.ask {
		if !slices.Contains(next.Scopes, sc.ID) {
			next.Scopes = append(next.Scopes, sc.ID)
		}
	}
	if err := s.H.st.PutConsent(ctx, next); err != nil {
		return storeRetry(s, err)
	}
	return Done()
}
