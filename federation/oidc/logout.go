package oidc

import (
	"context"
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate/federation"
)

// LogoutResponsePath is where the IdP sends the browser back after a
// logout, under the broker's callback URL: Keycloak's
// /broker/{alias}/endpoint/logout_response, with the state it was given.
const LogoutResponsePath = "/logout_response"

// backchannelTimeout bounds a back-channel logout call; it runs after the
// browser's logout has been answered.
const backchannelTimeout = 5 * time.Second

// Logout logs the user out at the IdP as Keycloak's
// keycloakInitiatedBrowserLogout does, when the provider has a logoutUrl:
// with backchannelSupported and an ID token, a GET from the server with
// state and id_token_hint (the browser's logout goes on at once);
// otherwise the browser is sent there with state, id_token_hint
// (sendIdTokenOnLogout, on unless "false"), client_id
// (sendClientIdOnLogout) and post_logout_redirect_uri back to
// LogoutResponsePath. No logoutUrl: a zero BrokerStart.
func (b *Broker) Logout(_ context.Context, req federation.BrokerRequest, id federation.BrokeredIdentity) (federation.BrokerStart, error) {
	var none federation.BrokerStart
	if b.s.logoutURL == "" {
		return none, nil
	}
	u, err := url.Parse(b.s.logoutURL)
	if err != nil {
		return none, err // checked when the config was saved
	}
	q := u.Query()
	q.Set("state", req.RelayState)
	if b.s.backchannelLogout && id.IDToken != "" {
		q.Set("id_token_hint", id.IDToken)
		u.RawQuery = q.Encode()
		go b.backchannelLogout(u.String())
		return none, nil
	}
	if b.s.sendIDTokenOnLogout && id.IDToken != "" {
		q.Set("id_token_hint", id.IDToken)
	}
	if b.s.sendClientIDOn {
		q.Set("client_id", b.s.clientID)
	}
	q.Set("post_logout_redirect_uri", req.CallbackURL+LogoutResponsePath)
	u.RawQuery = q.Encode()
	return federation.BrokerStart{RedirectURL: u.String()}, nil
}

// backchannelLogout calls the IdP's logout URL from the server. Its
// outcome only reaches the log (Keycloak's does the same), and never the
// URL: it carries the ID token.
func (b *Broker) backchannelLogout(u string) {
	ctx, cancel := context.WithTimeout(context.Background(), backchannelTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return
	}
	resp, err := b.client.Do(req)
	if err != nil {
		b.log.Warn("back-channel logout at the identity provider failed", "alias", b.alias, "err", redactURLError(err))
		return
	}
	resp.Body.Close()
	if resp.StatusCode >= 400 {
		b.log.Warn("back-channel logout at the identity provider refused", "alias", b.alias, "status", resp.StatusCode)
	}
}

// redactURLError drops the request URL (with its id_token_hint) from an
// HTTP client's error.
func redactURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}

// HandleLogout takes the IdP's return to LogoutResponsePath after Logout
// sent the browser there: its state must be the pending logout's. An
// OIDC IdP's own logout requests (back-channel logout tokens) are not
// taken.
func (b *Broker) HandleLogout(_ context.Context, req federation.BrokerRequest, params url.Values) (string, string, federation.BrokerStart, error) {
	var none federation.BrokerStart
	if req.RelayState == "" || params.Get("state") != req.RelayState {
		return "", "", none, refused("the logout response's state is not the pending logout's")
	}
	return "", "", none, nil
}
