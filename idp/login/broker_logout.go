package login

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Single logout with identity providers (SAML SLO), both ways: ending a
// keygate session that came through an IdP logs out there too (front
// channel), and the IdP's LogoutRequest ends the keygate session it names.

// brokerSessionOf returns what s remembers of the IdP it came through.
func brokerSessionOf(s *store.Session) *brokerSession {
	if s == nil || len(s.Data) == 0 {
		return nil
	}
	var d sessionData
	if json.Unmarshal(s.Data, &d) != nil {
		return nil
	}
	return d.Broker
}

// indexBrokerSession records, under the IdP's names for s (SAML's NameID
// and SessionIndex; an OIDC IdP's sid, with no NameID), the user s belongs
// to, for an IdP-initiated logout: that logout ends every session of the
// user the IdP session vouched for (one IdP session may sign in several
// browsers). Kept until s can no longer live.
func (h *Handler) indexBrokerSession(ctx context.Context, realm *oidc.Realm, s store.Session) {
	bs := brokerSessionOf(&s)
	if bs == nil || (bs.NameID == "" && bs.SessionIndex == "") {
		return
	}
	key := sloKey(realm.Row.ID, bs.Alias, bs.NameID, bs.SessionIndex)
	exp := s.Created.Add(realm.Settings.SSOSessionMaxLifespan)
	if tok, err := h.st.GetToken(ctx, store.KindBroker, key); err == nil && string(tok.Request) == s.UserID && !tok.Expires.Before(exp) {
		return
	}
	_ = h.st.DeleteToken(ctx, store.KindBroker, key)
	err := h.st.CreateToken(ctx, store.Token{Kind: store.KindBroker, Signature: key, RequestID: key, RealmID: realm.Row.ID,
		Active: true, Requested: s.Created, Expires: exp, Request: []byte(s.UserID)})
	if err != nil {
		h.log.WarnContext(ctx, "index brokered session", "err", err)
	}
}

// startBrokerLogout sends the browser to the IdP of s (a session that came
// through one with single logout: SAML's singleLogoutServiceUrl, OIDC's
// logoutUrl) and returns true, redirect being where the browser goes once
// the IdP answered; false when there is nothing to do there (or the IdP
// was told over the back channel).
func (h *Handler) startBrokerLogout(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, s *store.Session, redirect string) bool {
	bs := brokerSessionOf(s)
	if bs == nil || bs.Alias == "" {
		return false
	}
	ctx := r.Context()
	p, ok, err := h.provider(ctx, realm, bs.Alias)
	if err != nil {
		h.log.WarnContext(ctx, "logout at the identity provider", "realm", realm.Row.Name, "alias", bs.Alias, "err", err)
	}
	if !ok {
		return false
	}
	b, err := h.brokers.Open(ctx, p.row)
	slo, isSLO := b.(federation.SingleLogout)
	if err != nil || !isSLO {
		return false
	}
	idToken, err := h.upstreamTokens().Reveal(bs.IDToken)
	if err != nil {
		// Another --db-key sealed it: the logout goes without the hint.
		h.log.WarnContext(ctx, "logout at the identity provider: the session's ID token", "realm", realm.Row.Name, "alias", bs.Alias, "err", err)
		idToken = ""
	}
	req := h.brokerRequest(r, realm, bs.Alias)
	req.ID, req.RelayState = "ID_"+randomToken(), randomToken()
	start, err := slo.Logout(ctx, req, federation.BrokeredIdentity{NameID: bs.NameID, NameIDFormat: bs.NameIDFormat,
		SessionIndex: bs.SessionIndex, IDToken: idToken})
	if err != nil {
		h.log.WarnContext(ctx, "logout at the identity provider", "realm", realm.Row.Name, "alias", bs.Alias, "err", err)
		return false
	}
	if start.RedirectURL == "" && start.PostURL == "" {
		return false // no singleLogoutServiceUrl or logoutUrl, or done over the back channel
	}
	rec := brokerRecord{Kind: recLogout, Alias: bs.Alias, Started: time.Now(), RequestID: req.ID, Redirect: redirect}
	if err := h.putBrokerRecord(ctx, realm, req.RelayState, rec); err != nil {
		h.log.WarnContext(ctx, "logout at the identity provider", "err", err)
		return false
	}
	h.sendTo(w, r, start)
	return true
}

// finishLogout takes the IdP's LogoutResponse to our LogoutRequest and
// sends the browser where the logout was going.
func (h *Handler) finishLogout(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, b federation.Broker, req federation.BrokerRequest, params url.Values, rec brokerRecord) {
	slo, ok := b.(federation.SingleLogout)
	if !ok {
		h.expiredPage(w, r, realm)
		return
	}
	if _, _, _, err := slo.HandleLogout(r.Context(), req, params); err != nil {
		// keygate's session is gone either way: say so, and log why the
		// IdP's answer was not taken.
		h.log.WarnContext(r.Context(), "logout response refused", "realm", realm.Row.Name, "alias", rec.Alias, "reason", err)
	}
	h.loggedOut(w, r, realm, rec.Redirect)
}

// loggedOut ends a logout: to redirect, or the "You are logged out" page.
func (h *Handler) loggedOut(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, redirect string) {
	if redirect != "" {
		http.Redirect(w, r, redirect, http.StatusFound)
		return
	}
	p := h.page(r, realm)
	h.render(w, http.StatusOK, templates.Info(templates.InfoView{
		Page: p, Title: p.T("successLogout"), Message: p.T("successLogout"),
	}))
}

// idpLogout takes an IdP-initiated LogoutRequest: the keygate session it
// names ends, and the browser goes back to the IdP with the response.
func (h *Handler) idpLogout(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, req federation.BrokerRequest, params url.Values) {
	ctx := r.Context()
	b, err := h.brokers.Open(ctx, p.row)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "logout", err)
		return
	}
	slo, ok := b.(federation.SingleLogout)
	if !ok {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	nameID, sessionIndex, resp, err := slo.HandleLogout(ctx, req, params)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "logout", err)
		return
	}
	// The user: by the index of the sessions this IdP session signed in,
	// or, without a SessionIndex, by the link of a NameID principal.
	// A store that cannot say is 503: answering the IdP that its logout
	// is done would leave the sessions alive.
	userID := ""
	if sessionIndex != "" {
		tok, err := h.st.GetToken(ctx, store.KindBroker, sloKey(realm.Row.ID, p.row.Alias, nameID, sessionIndex))
		if err == nil && tok.RealmID == realm.Row.ID {
			userID = string(tok.Request)
		} else if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "IdP-initiated logout", err)
			return
		}
	} else {
		u, err := h.st.GetUserByFederatedIdentity(ctx, realm.Row.ID, p.row.Alias, nameID)
		if err == nil {
			userID = u.ID
		} else if !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "IdP-initiated logout", err)
			return
		}
	}
	ended := 0
	if userID != "" {
		sessions, err := h.st.ListUserSessions(ctx, realm.Row.ID, userID)
		if err != nil {
			h.storeError(w, r, realm, "IdP-initiated logout", err)
			return
		}
		for _, s := range sessions {
			bs := brokerSessionOf(&s)
			if bs == nil || bs.Alias != p.row.Alias || bs.NameID != nameID || (sessionIndex != "" && bs.SessionIndex != sessionIndex) {
				continue
			}
			if err := h.oidc.EndSession(ctx, realm.Issuer, realm.Row.ID, s.ID); err == nil {
				ended++
			} else if !errors.Is(err, store.ErrNotFound) {
				h.storeError(w, r, realm, "IdP-initiated logout", err)
				return
			}
		}
	}
	h.log.InfoContext(ctx, "logout requested by the identity provider", "realm", realm.Row.Name, "alias", p.row.Alias, "sessions", ended)
	if s := h.Session(r, realm); s == nil {
		// This browser's session was among them (or it had none).
		h.clearCookie(w, r, realm, cookieIdentity, true)
		h.clearCookie(w, r, realm, cookieSession, false)
	}
	if resp.RedirectURL == "" && resp.PostURL == "" {
		h.loggedOut(w, r, realm, "")
		return
	}
	h.sendTo(w, r, resp)
}
