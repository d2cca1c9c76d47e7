package oidc

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
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

// backchannelLogoutEvent is the event a logout token must carry.
const backchannelLogoutEvent = "http://schemas.openid.net/event/backchannel-logout"

// logoutTokenMaxAge bounds how old a logout token without an exp may be.
const logoutTokenMaxAge = 5 * time.Minute

// Issues reports whether iss is one of the provider's configured issuers.
// A provider without one takes no logout token: anything signed by its
// keys would do.
func (b *Broker) Issues(iss string) bool {
	return iss != "" && slices.Contains(b.s.issuers, iss)
}

// VerifyLogoutToken checks a back-channel logout token as OpenID Connect
// Back-Channel Logout 1.0 §2.6 asks: signed by the provider's keys with an
// asymmetric algorithm (never with validateSignature off), its issuer, an
// audience holding clientId, iat (and exp or, without one, at most 5
// minutes old) with the allowed skew, the back-channel logout event, no
// nonce, sub or sid, and a jti not seen before (env.Replay, on every
// replica).
func (b *Broker) VerifyLogoutToken(ctx context.Context, raw string) (string, string, error) {
	const what = "logout token"
	if b.keys == nil {
		return "", "", refused("%s: signatures are not validated for this provider (validateSignature is off)", what)
	}
	if len(b.s.issuers) == 0 {
		return "", "", refused("%s: the provider has no issuer configured", what)
	}
	claims, err := b.verifyJWT(ctx, raw, what, true)
	if err != nil {
		return "", "", err
	}
	if aud, ok := claims["aud"].(string); !(ok && aud == b.s.clientID) && !slices.Contains(stringList(claims["aud"]), b.s.clientID) {
		return "", "", refused("%s is not for this client", what)
	}
	iat, ok := numericDate(claims["iat"])
	if !ok {
		return "", "", refused("%s without iat", what)
	}
	until := iat.Add(logoutTokenMaxAge)
	if exp, ok := numericDate(claims["exp"]); ok {
		until = exp
	} else if b.env.Now().After(until.Add(b.skew)) {
		return "", "", refused("%s too old", what)
	}
	events, _ := claims["events"].(map[string]any)
	if _, ok := events[backchannelLogoutEvent].(map[string]any); !ok {
		return "", "", refused("%s without the back-channel logout event", what)
	}
	if _, ok := claims["nonce"]; ok {
		return "", "", refused("%s with a nonce", what)
	}
	sub, _ := claims["sub"].(string)
	sid, _ := claims["sid"].(string)
	if sub == "" && sid == "" {
		return "", "", refused("%s names neither sub nor sid", what)
	}
	jti, _ := claims["jti"].(string)
	if jti == "" {
		return "", "", refused("%s without jti", what)
	}
	if b.env.Replay == nil {
		return "", "", errors.New("oidc broker: no replay store for logout tokens")
	}
	iss, _ := claims["iss"].(string)
	switch err := b.env.Replay(ctx, "oidc-logout\x00"+iss+"\x00"+jti, until.Add(b.skew)); {
	case errors.Is(err, store.ErrConflict):
		return "", "", refused("%s replayed", what)
	case err != nil:
		return "", "", err
	}
	return sub, sid, nil
}

// stringList is a JSON array of strings (other members dropped).
func stringList(v any) []string {
	a, _ := v.([]any)
	out := make([]string, 0, len(a))
	for _, x := range a {
		if s, ok := x.(string); ok {
			out = append(out, s)
		}
	}
	return out
}
