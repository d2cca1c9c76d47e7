package login

import (
	"errors"
	"testing"

	"github.com/ory/fosite"

	fedoidc "github.com/keygate/keygate/federation/oidc"
)

// Only the broker client's read-token role, as the token carries it, lets
// a client read stored IdP tokens.
func TestCanReadBrokerToken(t *testing.T) {
	for _, tc := range []struct {
		claims map[string]any
		want   bool
	}{
		{map[string]any{"resource_access": map[string]any{"broker": map[string]any{"roles": []any{"read-token"}}}}, true},
		{map[string]any{"resource_access": map[string]any{"broker": map[string]any{"roles": []any{"other"}}}}, false},
		{map[string]any{"resource_access": map[string]any{"app": map[string]any{"roles": []any{"read-token"}}}}, false},
		{map[string]any{"realm_access": map[string]any{"roles": []any{"read-token"}}}, false},
		{map[string]any{}, false},
	} {
		if got := canReadBrokerToken(tc.claims); got != tc.want {
			t.Errorf("%v: %v, want %v", tc.claims, got, tc.want)
		}
	}
}

// What a forwarded prompt=none's client hears for each IdP answer: the
// IdP's own "cannot without asking" errors and a refusal; nothing for
// anything else (a bad response is the broker's error page).
func TestPromptNoneAnswer(t *testing.T) {
	for code, want := range map[string]error{
		"login_required": fosite.ErrLoginRequired, "consent_required": fosite.ErrConsentRequired,
		"interaction_required": fosite.ErrInteractionRequired, "account_selection_required": fosite.ErrInteractionRequired,
		"access_denied": fosite.ErrAccessDenied, "server_error": nil,
	} {
		if got := promptNoneAnswer(&fedoidc.IdPError{Code: code}); got != want {
			t.Errorf("%s: %v, want %v", code, got, want)
		}
	}
	if got := promptNoneAnswer(errors.New("signature")); got != nil {
		t.Errorf("a refused response: %v, want nil", got)
	}
}
