package login

import (
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// What the account console (idp/account) needs from the browser side:
// its pages rendered as the login pages are, CSRF tokens bound to the SSO
// session, and linking an identity provider's account to the signed-in
// user (Keycloak's client-initiated account linking).

// recLink is a broker record of an account link: sent to the IdP for the
// signed-in user, waiting for its answer.
const recLink = "link"

// Page is what every template needs about the realm.
func (h *Handler) Page(r *http.Request, realm *oidc.Realm) templates.Page { return h.page(r, realm) }

// Render writes a page as the login pages are written: never cached,
// never framed, no script.
func (h *Handler) Render(w http.ResponseWriter, status int, c templ.Component) {
	h.render(w, status, c)
}

// StoreError answers a store failure on a page: 503 with Retry-After when
// the database could not answer, 500 otherwise.
func (h *Handler) StoreError(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, what string, err error) {
	h.storeError(w, r, realm, what, err)
}

// SessionCSRF is a CSRF token for the forms of purpose shown to the
// browser of SSO session sid: signedCSRF bound to the session and the
// purpose, checked statelessly by SessionCSRFValid.
func SessionCSRF(realm *oidc.Realm, sid, purpose string) string {
	return signedCSRF(realm, "csrf-"+purpose, sid, time.Now().Add(realm.Settings.SSOSessionIdleTimeout))
}

// SessionCSRFValid checks a token SessionCSRF made for sid and purpose.
func SessionCSRFValid(realm *oidc.Realm, sid, purpose, tok string) bool {
	return sid != "" && tok != "" && signedCSRFValid(realm, "csrf-"+purpose, sid, tok)
}

// LinkableProvider reports whether alias is an enabled identity provider of
// the realm that keygate can broker (link-only ones included), with its
// display name; err when the store could not say (answer it with
// StoreError).
func (h *Handler) LinkableProvider(r *http.Request, realm *oidc.Realm, alias string) (displayName string, ok bool, err error) {
	p, ok, err := h.provider(r.Context(), realm, alias)
	if !ok {
		return "", false, err
	}
	return p.displayName(), true, nil
}

// StartLink sends the browser to identity provider alias to link the
// account it vouches for to sso's user (link-only providers included);
// once the provider answered, the browser comes back to returnTo (a path
// of this server), with "linked=alias" or "link_error=<message key>"
// added to its query. The answer must come back to this browser and this
// SSO session.
func (h *Handler) StartLink(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, alias string, sso *store.Session, returnTo string) {
	ctx := r.Context()
	p, ok, err := h.provider(ctx, realm, alias)
	if err != nil {
		h.storeError(w, r, realm, "start account link", err)
		return
	}
	if !ok {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "identityProviderNotFoundMessage")
		return
	}
	b, err := h.brokers.Open(ctx, p.row)
	if errors.Is(err, store.ErrUnavailable) {
		h.storeError(w, r, realm, "start account link", err)
		return
	} else if err != nil {
		h.log.WarnContext(ctx, "identity provider cannot be opened", "realm", realm.Row.Name, "alias", alias, "err", err)
		h.ErrorPage(w, r, realm, http.StatusBadGateway, "identityProviderUnexpectedErrorMessage")
		return
	}
	req := h.brokerRequest(r, realm, alias)
	req.ID = "ID_" + uuid.NewString()
	req.RelayState = randomToken()
	start, err := b.Start(ctx, req)
	if err != nil {
		h.brokerError(w, r, realm, alias, "start link", err)
		return
	}
	// The browser is bound to the record as a login's is: by a fresh
	// AUTH_SESSION_ID.
	attempt := randomToken()
	rec := brokerRecord{Kind: recLink, Alias: alias, AttemptID: attempt, Started: time.Now(), RequestID: req.ID,
		State: start.State, LinkUserID: sso.UserID, Redirect: returnTo, Query: url.Values{"sid": {sso.ID}}.Encode()}
	if err := h.putBrokerRecord(ctx, realm, req.RelayState, rec); err != nil {
		h.storeError(w, r, realm, "start account link", err)
		return
	}
	h.setCookie(w, r, realm, cookieAttempt, attempt, 0, true)
	h.sendTo(w, r, start)
}

// finishLink is the identity provider's answer to StartLink: the account
// it vouches for is linked to the user of the browser's SSO session (the
// one that asked), its mappers applied as for a returning brokered user.
func (h *Handler) finishLink(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, b federation.Broker, req federation.BrokerRequest, params url.Values, rec brokerRecord) {
	ctx := r.Context()
	q, _ := url.ParseQuery(rec.Query)
	sso, err := h.LiveSession(r, realm)
	if err != nil {
		h.storeError(w, r, realm, "finish account link", err)
		return
	}
	if !sameBrowser(r, rec) || sso == nil || sso.ID != q.Get("sid") || sso.UserID != rec.LinkUserID {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return
	}
	h.clearCookie(w, r, realm, cookieAttempt, true)
	ident, err := b.Finish(ctx, req, rec.State, params)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "finish link", err)
		return
	}
	if !h.flag(p.rep.StoreToken) {
		ident.Token = ""
	}
	back := func(k, v string) {
		http.Redirect(w, r, withQuery(rec.Redirect, k, v), http.StatusFound)
	}
	m, err := h.mapIdentity(ctx, realm, p, &ident, false)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "mappers", err)
		return
	}
	m.Username = "" // linking never renames the account
	u, err := h.linkBrokered(ctx, realm, federation.BrokerLink{Alias: p.row.Alias, UserID: rec.LinkUserID, Identity: m, Token: ident.Token})
	if errors.Is(err, federation.ErrConflict) {
		h.log.InfoContext(ctx, "account link refused", "realm", realm.Row.Name, "alias", p.row.Alias, "user", rec.LinkUserID, "reason", err)
		back("link_error", "federatedIdentityLinkedElsewhereMessage")
		return
	}
	if err != nil {
		h.storeError(w, r, realm, "link account", err)
		return
	}
	h.oidc.Event(r, realm, store.Event{Type: "FEDERATED_IDENTITY_LINK", ClientID: "account-console", UserID: u.ID,
		SessionID: sso.ID, Details: map[string]string{"identity_provider": p.row.Alias,
			"identity_provider_identity": ident.Username, "username": u.Username}})
	back("linked", p.row.Alias)
}
