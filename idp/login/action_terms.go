package login

import (
	"context"
	"html"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// TERMS_AND_CONDITIONS: Keycloak's TermsAndConditions required action.
// Accepting records when (the user attribute terms_and_conditions, epoch
// seconds, as Keycloak keeps it); declining ends the login with
// access_denied to the client, as Keycloak's failed required action does.
func init() {
	RegisterAction(Action{Alias: "TERMS_AND_CONDITIONS", Show: showTerms, Process: processTerms})
}

// termsAttribute is the user attribute Keycloak records the acceptance in.
const termsAttribute = "terms_and_conditions"

func showTerms(s *Step) templ.Component {
	return templates.Terms(templates.TermsView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken,
		Text: termsText(s)})
}

// markup matches the HTML tags of a realm's termsText.
var markup = regexp.MustCompile(`<[^>]*>`)

// termsText is the realm's own terms (Keycloak's termsText message, set
// through the realm's localization texts) as plain text, its HTML tags
// dropped, else keygate's placeholder (termsPlainText).
func termsText(s *Step) string {
	if t := s.Page.T("termsText"); t != "termsText" {
		if t = strings.TrimSpace(html.UnescapeString(markup.ReplaceAllString(t, " "))); t != "" {
			return strings.Join(strings.Fields(t), " ")
		}
	}
	return s.Page.T("termsPlainText")
}

func processTerms(ctx context.Context, s *Step) Result {
	h, u := s.H, s.User
	if s.Form.Has("cancel") {
		h.oidc.Event(s.Request, s.Realm, store.Event{Type: "CUSTOM_REQUIRED_ACTION_ERROR", ClientID: s.ClientID, UserID: u.ID,
			Error: "rejected_by_user", Details: map[string]string{"custom_required_action": s.Alias, "username": u.Username}})
		return Deny()
	}
	attrs := make(map[string][]string, len(u.Attributes)+1)
	for k, v := range u.Attributes {
		attrs[k] = v
	}
	attrs[termsAttribute] = []string{strconv.FormatInt(time.Now().Unix(), 10)}
	u.Attributes = attrs
	if err := h.st.UpdateUser(ctx, u); err != nil {
		return storeRetry(s, err)
	}
	h.oidc.Event(s.Request, s.Realm, store.Event{Type: "CUSTOM_REQUIRED_ACTION", ClientID: s.ClientID, UserID: u.ID,
		Details: map[string]string{"custom_required_action": s.Alias, "username": u.Username}})
	return Done()
}
