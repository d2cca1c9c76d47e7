package admin

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"strconv"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Keycloak's session endpoints. A client session is a client's live
// refresh or offline token (or unredeemed code) in an SSO session; an
// offline session is the offline tokens issued under one SSO session id,
// which outlive it. keygate sends no logout to clients (Keycloak's admin
// URL push), so logout-all answers an empty GlobalRequestResult.

// userSessionRep is Keycloak's UserSessionRepresentation; clients maps
// each client's internal id to its clientId.
type userSessionRep struct {
	ID         string            `json:"id"`
	Username   string            `json:"username"`
	UserID     string            `json:"userId"`
	IPAddress  string            `json:"ipAddress"`
	Start      int64             `json:"start"`
	LastAccess int64             `json:"lastAccess"`
	RememberMe bool              `json:"rememberMe"`
	Clients    map[string]string `json:"clients"`
}

// clientIDs maps the realm's clientIds to their internal ids, for the
// clients maps (tokens name clients by clientId).
func (a *API) clientIDs(ctx context.Context, realmID string) (map[string]string, error) {
	cls, err := a.st.ListClients(ctx, realmID)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(cls))
	for _, cl := range cls {
		out[cl.ClientID] = cl.ID
	}
	return out, nil
}

// replyOnline answers the SSO sessions with their clients.
func (a *API) replyOnline(c *call, sessions []store.SessionUser) error {
	out := []userSessionRep{}
	if len(sessions) == 0 {
		return c.ok(out)
	}
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.Session.ID
	}
	byID, err := a.clientIDs(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	clients, err := a.st.ListSessionsClients(c.ctx, c.realm.ID, ids)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if s.User == nil {
			continue // the user is being deleted with its sessions
		}
		r := userSessionRep{ID: s.Session.ID, Username: s.User.Username, UserID: s.User.ID, IPAddress: s.Session.IPAddress,
			Start: s.Session.Created.UnixMilli(), LastAccess: s.Session.LastSeen.UnixMilli(), RememberMe: s.Session.RememberMe,
			Clients: map[string]string{}}
		for _, cid := range clients[s.Session.ID] {
			if id, ok := byID[cid]; ok {
				r.Clients[id] = cid
			}
		}
		out = append(out, r)
	}
	return c.ok(out)
}

// offlineSession is one offline session, from its live offline tokens.
type offlineSession struct {
	rep userSessionRep
	// last is each client's (by clientId) last refresh.
	last map[string]time.Time
}

// offlineSessions groups live offline tokens (ListOfflineTokens,
// ListClientOfflineTokens) into sessions, oldest first; byID (clientIDs)
// fills their clients maps, left empty when it is nil.
func offlineSessions(toks []store.TokenSubject, byID map[string]string) []offlineSession {
	var out []offlineSession
	index := map[string]int{}
	for _, t := range toks {
		if t.User == nil || t.Token.SessionID == "" {
			continue
		}
		i, ok := index[t.Token.SessionID]
		if !ok {
			i = len(out)
			index[t.Token.SessionID] = i
			r := userSessionRep{ID: t.Token.SessionID, Username: t.User.Username, UserID: t.User.ID, Clients: map[string]string{}}
			if s := t.Session; s != nil {
				r.IPAddress, r.RememberMe = s.IPAddress, s.RememberMe
			}
			out = append(out, offlineSession{rep: r, last: map[string]time.Time{}})
		}
		o := &out[i]
		start := oidc.AuthTimeOf(t.Token)
		if start.IsZero() {
			start = t.Token.Requested
		}
		if ms := start.UnixMilli(); o.rep.Start == 0 || ms < o.rep.Start {
			o.rep.Start = ms
		}
		o.rep.LastAccess = max(o.rep.LastAccess, t.Token.Requested.UnixMilli())
		o.last[t.Token.ClientID] = t.Token.Requested
		if id, ok := byID[t.Token.ClientID]; ok {
			o.rep.Clients[id] = t.Token.ClientID
		}
	}
	slices.SortStableFunc(out, func(x, y offlineSession) int {
		return cmp.Or(cmp.Compare(x.rep.Start, y.rep.Start), cmp.Compare(x.rep.ID, y.rep.ID))
	})
	return out
}

// forClient keeps the sessions cl takes part in, each with cl's own last
// refresh as lastAccess (as Keycloak shows a client's offline sessions).
func forClient(sessions []offlineSession, cl store.Client) []userSessionRep {
	out := []userSessionRep{}
	for _, s := range sessions {
		if last, ok := s.last[cl.ClientID]; ok {
			r := s.rep
			r.LastAccess = last.UnixMilli()
			out = append(out, r)
		}
	}
	return out
}

// pageOf is xs[first:first+max] within bounds; max 0 means all.
func pageOf[T any](xs []T, first, max int) []T {
	first = min(first, len(xs))
	xs = xs[first:]
	if max > 0 && max < len(xs) {
		xs = xs[:max]
	}
	return xs
}

// userSessions serves GET /users/{id}/sessions.
func (a *API) userSessions(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	sessions, err := a.st.ListUserSessions(c.ctx, c.realm.ID, u.ID)
	if err != nil {
		return err
	}
	withUser := make([]store.SessionUser, len(sessions))
	for i, s := range sessions {
		withUser[i] = store.SessionUser{Session: s, User: &u}
	}
	return a.replyOnline(c, withUser)
}

// userOfflineSessions serves GET /users/{id}/offline-sessions/{client}.
func (a *API) userOfflineSessions(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	return a.replyOffline(c, cl, u.ID, 0, 0)
}

// clientSessions serves GET /clients/{client}/user-sessions.
func (a *API) clientSessions(c *call) error {
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	first, max, err := c.page(100)
	if err != nil {
		return err
	}
	if max == 0 {
		max = -1
	}
	sessions, err := a.st.ListClientSessions(c.ctx, c.realm.ID, cl.ClientID, time.Now(), first, max)
	if err != nil {
		return err
	}
	return a.replyOnline(c, sessions)
}

// clientOfflineSessions serves GET /clients/{client}/offline-sessions.
func (a *API) clientOfflineSessions(c *call) error {
	cl, err := a.client(c)
	if err != nil {
		return err
	}
	first, max, err := c.page(100)
	if err != nil {
		return err
	}
	return a.replyOffline(c, cl, "", first, max)
}

// replyOffline answers the offline sessions (userID's, or any user's
// when it is "") that cl takes part in, as forClient shows them, paged as
// pageOf.
func (a *API) replyOffline(c *call, cl store.Client, userID string, first, max int) error {
	var toks []store.TokenSubject
	var err error
	if userID != "" {
		toks, err = a.st.ListOfflineTokens(c.ctx, c.realm.ID, userID, time.Now())
	} else {
		toks, err = a.st.ListClientOfflineTokens(c.ctx, c.realm.ID, cl.ClientID, time.Now())
	}
	if err != nil {
		return err
	}
	byID, err := a.clientIDs(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	return c.ok(pageOf(forClient(offlineSessions(toks, byID), cl), first, max))
}

// clientSessionCount serves GET /clients/{client}/session-count and, when
// offline, /offline-session-count.
func (a *API) clientSessionCount(offline bool) handler {
	return func(c *call) error {
		cl, err := a.client(c)
		if err != nil {
			return err
		}
		count := a.st.CountClientSessions
		if offline {
			count = a.st.CountOfflineSessions
		}
		counts, err := count(c.ctx, c.realm.ID, time.Now())
		if err != nil {
			return err
		}
		return c.ok(map[string]int{"count": counts[cl.ClientID]})
	}
}

// clientSessionStats serves GET /client-session-stats: for each client with
// sessions, its active and offline counts, as strings (Keycloak's shape).
func (a *API) clientSessionStats(c *call) error {
	counts, err := a.st.CountClientSessions(c.ctx, c.realm.ID, time.Now())
	if err != nil {
		return err
	}
	byID, err := a.clientIDs(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	offline, err := a.st.CountOfflineSessions(c.ctx, c.realm.ID, time.Now())
	if err != nil {
		return err
	}
	out := []map[string]string{}
	for cid, id := range byID {
		if counts[cid] == 0 && offline[cid] == 0 {
			continue
		}
		out = append(out, map[string]string{"id": id, "clientId": cid,
			"active": strconv.Itoa(counts[cid]), "offline": strconv.Itoa(offline[cid])})
	}
	slices.SortFunc(out, func(x, y map[string]string) int { return cmp.Compare(x["clientId"], y["clientId"]) })
	return c.ok(out)
}

// deleteSession serves DELETE /sessions/{session}[?isOffline=true]: it ends
// one SSO session with its tokens, or revokes one offline session. The
// caller must be allowed to manage the session's user.
func (a *API) deleteSession(c *call) error {
	id, err := c.id("session", "Session")
	if err != nil {
		return err
	}
	offline := c.flag("isOffline", false)
	var userID string
	if offline {
		userID, err = a.st.OfflineSessionUser(c.ctx, c.realm.ID, id, time.Now())
	} else {
		var s store.Session
		s, err = a.st.GetSession(c.ctx, c.realm.ID, id)
		userID = s.UserID
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Session not found")
	} else if err != nil {
		return err
	}
	if err := a.mayManageUser(c, userID); err != nil {
		return err
	}
	if offline {
		var until time.Time
		if until, err = a.revokedUntil(c); err != nil {
			return err
		}
		err = a.p.EndOfflineSession(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, userID, id, func(ctx context.Context) error {
			return a.st.DeleteOfflineSession(ctx, c.realm.ID, id, until)
		})
	} else {
		err = a.p.EndSession(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, id)
	}
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Session not found")
	} else if err != nil {
		return err
	}
	return c.noContent()
}

// logoutAll serves POST /logout-all, as Keycloak's: the realm's notBefore
// moves to now, so every token issued before it is stale (offline ones
// included), and every SSO session ends.
func (a *API) logoutAll(c *call) error {
	err := a.p.EndRealmSessions(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, func(ctx context.Context) error {
		realm, err := a.st.GetRealm(ctx, c.realm.ID)
		if err != nil {
			return err
		}
		r, _, err := rep.DecodeRealm(realm)
		if err != nil {
			return err
		}
		now := int(time.Now().Unix())
		r.NotBefore = &now
		row, err := rep.RealmToStore(r)
		if err != nil {
			return err
		}
		row.ID, row.Created = realm.ID, realm.Created
		if err := a.st.UpdateRealm(ctx, row); err != nil {
			return err
		}
		c.realm = row
		return a.st.DeleteRealmSessions(ctx, c.realm.ID)
	})
	if err != nil {
		return err
	}
	return c.ok(struct{}{}) // GlobalRequestResult: no admin-URL push (logout tokens are not among them)
}

// consentRep is one entry of GET /users/{id}/consents: a consent the user
// gave a client that asks for one, or a client holding an offline token
// (Keycloak's "Offline Token" grant), or both.
type consentRep struct {
	ClientID            string              `json:"clientId"`
	GrantedClientScopes []string            `json:"grantedClientScopes"`
	CreatedDate         int64               `json:"createdDate,omitempty"`
	LastUpdatedDate     int64               `json:"lastUpdatedDate,omitempty"`
	AdditionalGrants    []map[string]string `json:"additionalGrants"`
}

// userConsents serves GET /users/{id}/consents.
func (a *API) userConsents(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	given, err := a.st.ListUserConsents(c.ctx, c.realm.ID, u.ID)
	if err != nil {
		return err
	}
	toks, err := a.st.ListOfflineTokens(c.ctx, c.realm.ID, u.ID, time.Now())
	if err != nil {
		return err
	}
	sessions := offlineSessions(toks, nil)
	cls, err := a.st.ListClients(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	scopes, err := a.st.ListClientScopes(c.ctx, c.realm.ID)
	if err != nil {
		return err
	}
	scopeNames := make(map[string]string, len(scopes))
	for _, s := range scopes {
		scopeNames[s.ID] = s.Name
	}
	offline := map[string]bool{} // by clientId
	for _, s := range sessions {
		for cid := range s.last {
			offline[cid] = true
		}
	}
	byID := make(map[string]store.Client, len(cls))
	for _, cl := range cls {
		byID[cl.ID] = cl
	}
	out := []consentRep{}
	seen := map[string]bool{}
	add := func(cl store.Client, r consentRep) {
		r.ClientID, r.AdditionalGrants = cl.ClientID, []map[string]string{}
		if offline[cl.ClientID] {
			r.AdditionalGrants = append(r.AdditionalGrants, map[string]string{"client": cl.ID, "key": "Offline Token"})
		}
		seen[cl.ClientID] = true
		out = append(out, r)
	}
	for _, g := range given {
		cl, ok := byID[g.ClientID]
		if !ok {
			continue
		}
		r := consentRep{GrantedClientScopes: []string{}, CreatedDate: g.Created.UnixMilli(), LastUpdatedDate: g.Updated.UnixMilli()}
		for _, id := range g.Scopes {
			if n, ok := scopeNames[id]; ok {
				r.GrantedClientScopes = append(r.GrantedClientScopes, n)
			}
		}
		add(cl, r)
	}
	for _, cl := range cls {
		if offline[cl.ClientID] && !seen[cl.ClientID] {
			add(cl, consentRep{GrantedClientScopes: []string{}})
		}
	}
	slices.SortFunc(out, func(x, y consentRep) int { return cmp.Compare(x.ClientID, y.ClientID) })
	return c.ok(out)
}

// revokeConsent serves DELETE /users/{id}/consents/{client} ({client} is a
// clientId, as in Keycloak): the user's consent to that client and their
// offline tokens of it go; the client's refresh tokens stop working with
// the consent (the token endpoint checks it).
func (a *API) revokeConsent(c *call) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	cl, err := a.st.GetClientByClientID(c.ctx, c.realm.ID, c.r.PathValue("client"))
	if errors.Is(err, store.ErrNotFound) {
		return notFound("Client not found")
	} else if err != nil {
		return err
	}
	until, err := a.revokedUntil(c)
	if err != nil {
		return err
	}
	revoked, err := a.p.RevokeClientGrants(c.ctx, a.p.Issuer(c.r, c.realm.Name), c.realm.ID, u.ID, cl, until)
	if err != nil {
		return err
	}
	if !revoked {
		return notFound("Consent nor offline token not found")
	}
	return c.noContent()
}

// revokedUntil is how long the access tokens of what the call revokes can
// live (the store marks their requests revoked until then).
func (a *API) revokedUntil(c *call) (time.Time, error) {
	_, s, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return time.Time{}, err
	}
	return a.p.RevokedUntil(c.ctx, c.realm.ID, s)
}
