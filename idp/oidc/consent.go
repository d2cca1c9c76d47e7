package oidc

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/ory/fosite"

	"github.com/keygate/keygate/store"
)

// Consent (a client's consentRequired), as Keycloak asks for it: the
// browser login shows the client scopes the request applies that the
// user has not granted yet (idp/login's OAUTH_GRANT step stores what they
// grant); a password grant, which cannot ask, is refused; and a refresh
// needs the consent to still cover its scopes.

// ConsentScope is a client scope as the consent screen names it.
type ConsentScope struct {
	ID, Name string
	// Text is its consent.screen.text ("${key}" names a message), "" to
	// show its name.
	Text string
}

// The answers carry sentinels of their own for the event's error:
// errors.Is on a fosite error matches any of the same code and status.
var (
	errNeedsConsent = errors.New("oidc: the client requires consent")
	errNoConsent    = errors.New("oidc: consent no longer given")

	errConsentRequiredClient = fmt.Errorf("%w: %w", errNeedsConsent,
		keycloakError(http.StatusBadRequest, "invalid_client", "Client requires user consent"))
	errConsentRevoked = fmt.Errorf("%w: %w", errNoConsent,
		keycloakError(http.StatusBadRequest, "invalid_scope", "Client no longer has requested consent from user"))
)

// ConsentScopes lists the client scopes a request of c for scope (the
// scope parameter) applies that show on the consent screen (all but those
// with display.on.consent.screen "false"), in the client's order.
func (p *Provider) ConsentScopes(ctx context.Context, realm *Realm, c *Client, scope string) ([]ConsentScope, error) {
	m, err := p.models.get(ctx, realm.Row.ID)
	if err != nil {
		return nil, err
	}
	return consentScopes(m, c, strings.Fields(scope)), nil
}

func consentScopes(m *realmModel, c *Client, granted []string) []ConsentScope {
	var out []ConsentScope
	for _, cs := range appliedScopes(m, c, granted) {
		if cs.Attributes["display.on.consent.screen"] == "false" {
			continue
		}
		out = append(out, ConsentScope{ID: cs.ID, Name: cs.Name, Text: cs.Attributes["consent.screen.text"]})
	}
	return out
}

// Ungranted is the scopes of want that consent c does not grant.
func Ungranted(want []ConsentScope, c store.Consent) []ConsentScope {
	var out []ConsentScope
	for _, s := range want {
		if !slices.Contains(c.Scopes, s.ID) {
			out = append(out, s)
		}
	}
	return out
}

// consentHolds fails a refresh whose scopes the user's consent to c no
// longer covers (revoked, or narrowed), as Keycloak's
// verifyConsentStillAvailable.
func (p *Provider) consentHolds(ctx context.Context, r *Realm, c *Client, userID string, granted []string) error {
	m, err := p.models.get(ctx, r.Row.ID)
	if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	want := consentScopes(m, c, granted)
	if len(want) == 0 {
		return nil
	}
	consent, err := p.st.GetConsent(ctx, r.Row.ID, userID, c.Row.ID)
	if errors.Is(err, store.ErrNotFound) {
		return errConsentRevoked
	} else if err != nil {
		return fosite.ErrServerError.WithWrap(err)
	}
	if len(Ungranted(want, consent)) > 0 {
		return errConsentRevoked
	}
	return nil
}
