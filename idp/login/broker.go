package login

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/ory/fosite"

	"github.com/keygate/keygate/federation"
	fedoidc "github.com/keygate/keygate/federation/oidc"
	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Identity brokering, the browser side: a login started at a realm's
// identity provider (a button of the login page, kc_idp_hint, or Keycloak's
// /broker/{alias}/login) and finished at its endpoint, then the first
// broker login (create, review the profile, or link to an existing account
// after signing in to it). The protocols are federation's brokers; what is
// pending between two requests is a store.KindBroker record, so that any
// replica can go on with it, bound to the browser's AUTH_SESSION_ID.

// maxBrokerBody bounds what an identity provider posts to the endpoint (a
// SAML response, signed and perhaps encrypted, with its attributes).
const maxBrokerBody = 2 << 20

// Kinds of broker records.
const (
	recLogin  = "login"  // sent to the IdP, waiting for its answer
	recFirst  = "first"  // the IdP answered; a first broker login page is shown
	recLogout = "logout" // a logout sent to the IdP, waiting for its response
)

// brokerRecord is what a broker step leaves for the next.
type brokerRecord struct {
	Kind  string `json:"kind"`
	Alias string `json:"alias"`
	// AttemptID is the login attempt (AUTH_SESSION_ID) this belongs to: the
	// browser that started it must be the one that finishes it.
	AttemptID string    `json:"attempt,omitempty"`
	Query     string    `json:"query,omitempty"` // the authorization request
	Started   time.Time `json:"started"`
	RequestID string    `json:"requestId,omitempty"`
	State     []byte    `json:"state,omitempty"`

	// First broker login.
	CSRFHash []byte                       `json:"csrf,omitempty"`
	Identity *federation.BrokeredIdentity `json:"identity,omitempty"`
	Step     string                       `json:"step,omitempty"` // review, confirm, reauth
	// Profile is what the person chose on the review page.
	Profile *reviewedProfile `json:"profile,omitempty"`
	// LinkUserID is the existing user the account would be linked to.
	LinkUserID string `json:"linkUser,omitempty"`
	LinkBy     string `json:"linkBy,omitempty"` // "email" or "username"

	// Logout: where the browser goes once the IdP answered.
	Redirect string `json:"redirect,omitempty"`
}

type reviewedProfile struct {
	Username, Email, FirstName, LastName string
}

// problem is the message key and field of the first check Keycloak's
// user profile (IDP_REVIEW, validated as a registration) fails for p, ""
// when it passes: a username with a homograph or a prohibited character,
// markup in a name, an address that is none.
func (p reviewedProfile) problem(s rep.RealmSettings) (key, field string) {
	switch {
	case strings.TrimSpace(p.Username) == "":
		return "missingUsernameMessage", "username"
	case p.Email == "":
		return "missingEmailMessage", "email"
	case !validEmail(p.Email):
		return "invalidEmailMessage", "email"
	case tooLong(p.Username, p.Email, p.FirstName, p.LastName):
		return "invalidRequestMessage", ""
	case !s.RegistrationEmailAsUsername && !ValidUsername(strings.TrimSpace(p.Username)):
		return "invalidUsernameMessage", "username"
	case !ValidPersonName(p.FirstName):
		return "invalidPersonNameMessage", "firstName"
	case !ValidPersonName(p.LastName):
		return "invalidPersonNameMessage", "lastName"
	}
	return "", ""
}

// brokerSession is what an SSO session that came through an identity
// provider remembers (its Data), for single logout.
type brokerSession struct {
	Alias        string `json:"alias"`
	NameID       string `json:"nameId,omitempty"`
	NameIDFormat string `json:"nameIdFormat,omitempty"`
	SessionIndex string `json:"sessionIndex,omitempty"`
	// IDToken is an OIDC IdP's ID token, for the id_token_hint of its
	// logout, as Keycloak keeps FEDERATED_ID_TOKEN in the user session.
	IDToken string `json:"idToken,omitempty"`
}

type sessionData struct {
	Broker *brokerSession `json:"broker,omitempty"`
}

// SetBrokering turns identity brokering on: providers open through b,
// brokered users are written by l.
func (h *Handler) SetBrokering(b *federation.Brokers, l *federation.Linker) {
	h.brokers, h.linker = b, l
}

func (h *Handler) registerBroker(mux *http.ServeMux) {
	const b = "/realms/{realm}/broker/{alias}"
	mux.HandleFunc("GET "+b+"/login", h.oidc.RealmHandler(h.brokerLogin))
	mux.HandleFunc("GET "+b+"/endpoint", h.oidc.RealmHandler(h.brokerEndpoint))
	mux.HandleFunc("POST "+b+"/endpoint", h.oidc.RealmHandler(h.brokerEndpoint))
	mux.HandleFunc("GET "+b+"/endpoint/descriptor", h.oidc.RealmHandler(h.brokerDescriptor))
	// An OIDC IdP's way back from its logout (Keycloak's path), with state.
	mux.HandleFunc("GET "+b+"/endpoint"+fedoidc.LogoutResponsePath, h.oidc.RealmHandler(h.brokerEndpoint))
	// A user's stored IdP token, read by a client with broker read-token.
	mux.HandleFunc("GET "+b+"/token", h.oidc.RealmHandler(h.brokerToken))
	mux.HandleFunc("OPTIONS "+b+"/token", h.oidc.RealmHandler(h.oidc.Preflight))
	// An OIDC IdP's back-channel logout tokens (Keycloak's path).
	mux.HandleFunc("POST /realms/{realm}/protocol/openid-connect/logout/backchannel-logout", h.oidc.RealmHandler(h.idpBackchannelLogout))
	mux.HandleFunc("POST /realms/{realm}/login-actions/first-broker-login", h.oidc.RealmHandler(h.firstBrokerLogin))
}

// idpInfo is an identity provider as the browser flow uses it.
type idpInfo struct {
	row store.IdentityProvider
	rep rep.IdentityProvider
}

func (p idpInfo) flag(v *bool) bool { return v != nil && *v }

func (p idpInfo) displayName() string {
	if p.rep.DisplayName != "" {
		return p.rep.DisplayName
	}
	return p.row.Alias
}

// hidden: not offered on the login page (hideOnLogin, Keycloak's older
// config hideOnLoginPage, linkOnly).
func (p idpInfo) hidden() bool {
	return p.flag(p.rep.HideOnLogin) || p.rep.Config["hideOnLoginPage"] == "true" || p.flag(p.rep.LinkOnly)
}

// provider returns the realm's enabled identity provider alias that has a
// broker, or ok=false; err when the store could not say (ok is false).
func (h *Handler) provider(ctx context.Context, realm *oidc.Realm, alias string) (_ idpInfo, ok bool, err error) {
	if h.brokers == nil || alias == "" {
		return idpInfo{}, false, nil
	}
	row, err := h.st.GetIdentityProvider(ctx, realm.Row.ID, alias)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return idpInfo{}, false, err
	}
	if err != nil || !row.Enabled || !h.brokers.Supports(row.ProviderID) {
		return idpInfo{}, false, nil
	}
	p, err := rep.IdentityProviderFromStore(row)
	if err != nil {
		return idpInfo{}, false, nil
	}
	return idpInfo{row: row, rep: p}, true, nil
}

// loginProviders are the buttons of the login page for attempt id: the
// enabled providers keygate can broker that are neither hidden nor
// link-only, by guiOrder (those without one last), then alias; err when
// the store could not list them.
func (h *Handler) loginProviders(r *http.Request, realm *oidc.Realm, clientID, attemptID string) ([]templates.SocialProvider, error) {
	if h.brokers == nil {
		return nil, nil
	}
	rows, err := h.st.ListIdentityProviders(r.Context(), realm.Row.ID)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	type entry struct {
		order int
		sp    templates.SocialProvider
	}
	var list []entry
	for _, row := range rows {
		if !row.Enabled || !h.brokers.Supports(row.ProviderID) {
			continue
		}
		p, err := rep.IdentityProviderFromStore(row)
		if err != nil {
			continue
		}
		info := idpInfo{row: row, rep: p}
		if info.hidden() {
			continue
		}
		order, err := strconv.Atoi(strings.TrimSpace(p.Config["guiOrder"]))
		if err != nil {
			order = int(^uint(0) >> 1)
		}
		q := url.Values{"client_id": {clientID}, "tab_id": {attemptID}, "session_code": {attemptID}}
		list = append(list, entry{order, templates.SocialProvider{Alias: row.Alias, DisplayName: info.displayName(),
			LoginURL: realmPath(r, realm) + "broker/" + url.PathEscape(row.Alias) + "/login?" + q.Encode()}})
	}
	slices.SortStableFunc(list, func(a, b entry) int {
		if a.order != b.order {
			return a.order - b.order
		}
		return strings.Compare(a.sp.Alias, b.sp.Alias)
	})
	out := make([]templates.SocialProvider, len(list))
	for i, e := range list {
		out[i] = e.sp
	}
	return out, nil
}

// brokerRequest is the BrokerRequest skeleton of alias in realm.
func (h *Handler) brokerRequest(r *http.Request, realm *oidc.Realm, alias string) federation.BrokerRequest {
	return federation.BrokerRequest{
		CallbackURL: realm.Issuer + "/broker/" + url.PathEscape(alias) + "/endpoint",
		RealmIssuer: realm.Issuer,
	}
}

// brokerLogin is Keycloak's /broker/{alias}/login: the login page's button.
func (h *Handler) brokerLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	id, _, at, ok := h.openAttempt(w, r, realm, "broker login")
	if !ok {
		return
	}
	p, ok, err := h.provider(r.Context(), realm, r.PathValue("alias"))
	if err != nil {
		h.storeError(w, r, realm, "broker login", err)
		return
	}
	if !ok || p.flag(p.rep.LinkOnly) {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "identityProviderNotFoundMessage")
		return
	}
	form, err := url.ParseQuery(at.Query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	h.startBroker(w, r, realm, p, id, form, at.Created)
}

// startBroker sends the browser to identity provider p for the attempt
// attemptID of the authorization request form.
func (h *Handler) startBroker(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, attemptID string, form url.Values, started time.Time) {
	ctx := r.Context()
	b, err := h.brokers.Open(ctx, p.row)
	if errors.Is(err, store.ErrUnavailable) {
		h.storeError(w, r, realm, "start brokered login", err)
		return
	} else if err != nil {
		h.log.WarnContext(ctx, "identity provider cannot be opened", "realm", realm.Row.Name, "alias", p.row.Alias, "err", err)
		h.ErrorPage(w, r, realm, http.StatusBadGateway, "identityProviderUnexpectedErrorMessage")
		return
	}
	req := h.brokerRequest(r, realm, p.row.Alias)
	req.ID = "ID_" + uuid.NewString() // an XML NCName, as SAML ids must be
	req.RelayState = randomToken()
	req.LoginHint = form.Get("login_hint")
	req.PromptNone = promptNone(form)
	req.ClientParams = form
	if req.UILocales = resolveLocale(r, realm); req.UILocales == "" {
		req.UILocales = "en"
	}
	req.ForceAuthn = strings.Contains(form.Get("prompt"), "login")
	if s, err := strconv.Atoi(form.Get("max_age")); err == nil && s >= 0 {
		req.MaxAge = time.Duration(s) * time.Second
	}
	start, err := b.Start(ctx, req)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "start", err)
		return
	}
	rec := brokerRecord{Kind: recLogin, Alias: p.row.Alias, AttemptID: attemptID, Query: form.Encode(), Started: started,
		RequestID: req.ID, State: start.State}
	if err := h.putBrokerRecord(ctx, realm, req.RelayState, rec); err != nil {
		h.storeError(w, r, realm, "start brokered login", err)
		return
	}
	h.sendTo(w, r, start)
}

// sendTo sends the browser where a broker said: a redirect, or a form
// posted to the IdP.
func (h *Handler) sendTo(w http.ResponseWriter, r *http.Request, s federation.BrokerStart) {
	if s.PostURL == "" {
		http.Redirect(w, r, s.RedirectURL, http.StatusFound)
		return
	}
	v := templates.FormPostView{RedirectURI: s.PostURL, StylesheetURL: oidc.PathPrefix(r.Context()) + templates.StylesheetPath}
	keys := make([]string, 0, len(s.PostForm))
	for k := range s.PostForm {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		v.Params = append(v.Params, [2]string{k, s.PostForm[k]})
	}
	var buf bytes.Buffer
	if err := templates.FormPost(v).Render(r.Context(), &buf); err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-store, must-revalidate, max-age=0")
	hd.Set("X-Frame-Options", "SAMEORIGIN")
	hd.Set("Content-Security-Policy", "default-src 'none'; style-src 'self'; script-src '"+templates.FormPostScriptHash+"'; frame-ancestors 'self'; base-uri 'none'")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(buf.Bytes())
}

func (h *Handler) putBrokerRecord(ctx context.Context, realm *oidc.Realm, id string, rec brokerRecord) error {
	if rec.Identity != nil {
		ident, err := sealIdentity(h.upstreamTokens(), *rec.Identity)
		if err != nil {
			return err
		}
		rec.Identity = &ident
	}
	data, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	now := time.Now()
	return h.st.CreateToken(ctx, store.Token{Kind: store.KindBroker, Signature: id, RequestID: id, RealmID: realm.Row.ID,
		Active: true, Requested: now, Expires: now.Add(realm.Settings.AccessCodeLifespanLogin), Request: data})
}

// peekBrokerRecord reads the live broker record id; ok=false when there
// is none, err when the store could not say.
func (h *Handler) peekBrokerRecord(ctx context.Context, realm *oidc.Realm, id string) (brokerRecord, bool, error) {
	if id == "" {
		return brokerRecord{}, false, nil
	}
	tok, err := h.st.GetToken(ctx, store.KindBroker, id)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		return brokerRecord{}, false, err
	}
	if err != nil || tok.RealmID != realm.Row.ID || !tok.Active || time.Now().After(tok.Expires) {
		return brokerRecord{}, false, nil
	}
	var rec brokerRecord
	if json.Unmarshal(tok.Request, &rec) != nil {
		return brokerRecord{}, false, nil
	}
	if rec.Identity != nil {
		ident, err := revealIdentity(h.upstreamTokens(), *rec.Identity)
		if err != nil {
			return brokerRecord{}, false, err
		}
		rec.Identity = &ident
	}
	return rec, true, nil
}

// upstreamTokens seals what an identity provider gave that keygate keeps
// (its token or assertion with storeToken, its ID token for the logout):
// in the federated identity, the SSO session and the first-login record.
// With --db-key such a value is stored sealed; without, as it is.
func (h *Handler) upstreamTokens() *oidc.SecretSealer { return h.oidc.Keyring().UpstreamTokens() }

func sealIdentity(s *oidc.SecretSealer, ident federation.BrokeredIdentity) (_ federation.BrokeredIdentity, err error) {
	if ident.Token, err = s.Seal(ident.Token); err != nil {
		return ident, err
	}
	ident.IDToken, err = s.Seal(ident.IDToken)
	return ident, err
}

func revealIdentity(s *oidc.SecretSealer, ident federation.BrokeredIdentity) (_ federation.BrokeredIdentity, err error) {
	if ident.Token, err = s.Reveal(ident.Token); err != nil {
		return ident, fmt.Errorf("first broker login record: %w", err)
	}
	if ident.IDToken, err = s.Reveal(ident.IDToken); err != nil {
		return ident, fmt.Errorf("first broker login record: %w", err)
	}
	return ident, nil
}

// linkBrokered writes a brokered login through the linker, the provider's
// token sealed.
func (h *Handler) linkBrokered(ctx context.Context, realm *oidc.Realm, link federation.BrokerLink) (store.User, error) {
	var err error
	if link.Token, err = h.upstreamTokens().Seal(link.Token); err != nil {
		return store.User{}, err
	}
	return h.linker.LinkBrokered(ctx, realm.Row.ID, realmDefaults(realm), link)
}

// takeBrokerRecord reads and spends the live broker record id: each one
// answers once. ok=false when there is none (or it was spent first), err
// when the store could not say.
func (h *Handler) takeBrokerRecord(ctx context.Context, realm *oidc.Realm, id string) (brokerRecord, bool, error) {
	rec, ok, err := h.peekBrokerRecord(ctx, realm, id)
	if !ok {
		return brokerRecord{}, false, err
	}
	if err := h.st.DeactivateToken(ctx, store.KindBroker, id); errors.Is(err, store.ErrNotFound) {
		return brokerRecord{}, false, nil
	} else if err != nil {
		return brokerRecord{}, false, err
	}
	return rec, true, nil
}

// sameBrowser says whether r carries the login attempt rec belongs to.
func sameBrowser(r *http.Request, rec brokerRecord) bool {
	ck, err := r.Cookie(cookieAttempt)
	return err == nil && rec.AttemptID != "" && subtle.ConstantTimeCompare([]byte(ck.Value), []byte(rec.AttemptID)) == 1
}

// brokerError answers a broker's failure: an IdP that cannot be reached is
// 503, as is a database that could not answer (the realm's key, the
// replay record, the mappers), a person who cancelled is told so, anything
// else is a generic refusal whose reason goes to the log only.
func (h *Handler) brokerError(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, alias, step string, err error) {
	ctx := r.Context()
	var idpErr *fedoidc.IdPError
	switch {
	case errors.Is(err, store.ErrUnavailable):
		h.storeError(w, r, realm, "brokered login: "+step, err)
	case errors.Is(err, federation.ErrUnavailable):
		h.log.WarnContext(ctx, "identity provider unavailable", "realm", realm.Row.Name, "alias", alias, "step", step, "err", err)
		w.Header().Set("Retry-After", "5")
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "identityProviderUnavailableMessage")
	case errors.As(err, &idpErr) && idpErr.Code == "access_denied":
		h.log.InfoContext(ctx, "brokered login cancelled at the identity provider", "realm", realm.Row.Name, "alias", alias)
		h.ErrorPage(w, r, realm, http.StatusUnauthorized, "identityProviderCancelledMessage")
	case errors.Is(err, federation.ErrBrokerRefused):
		h.log.WarnContext(ctx, "identity provider response refused", "realm", realm.Row.Name, "alias", alias, "step", step, "reason", err)
		h.ErrorPage(w, r, realm, http.StatusUnauthorized, "identityProviderAuthenticationFailedMessage")
	default:
		h.log.ErrorContext(ctx, "brokered login", "realm", realm.Row.Name, "alias", alias, "step", step, "err", err)
		h.ErrorPage(w, r, realm, http.StatusBadGateway, "identityProviderUnexpectedErrorMessage")
	}
}

// brokerDescriptor serves a SAML provider's SP metadata.
func (h *Handler) brokerDescriptor(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	p, ok, err := h.provider(r.Context(), realm, r.PathValue("alias"))
	if err != nil {
		h.storeError(w, r, realm, "SP metadata", err)
		return
	}
	if !ok {
		http.NotFound(w, r)
		return
	}
	b, err := h.brokers.Open(r.Context(), p.row)
	if errors.Is(err, store.ErrUnavailable) {
		h.storeError(w, r, realm, "SP metadata", err)
		return
	}
	md, isMD := b.(federation.SPMetadata)
	if err != nil || !isMD {
		http.NotFound(w, r)
		return
	}
	doc, err := md.Metadata(r.Context(), h.brokerRequest(r, realm, p.row.Alias))
	if err != nil {
		h.log.ErrorContext(r.Context(), "SP metadata", "alias", p.row.Alias, "err", err)
		http.Error(w, "metadata unavailable", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(doc)
}

// brokerEndpoint is /broker/{alias}/endpoint: the IdP's answer to a login
// (SAML Response, OIDC code or error), a LogoutResponse to our logout, or
// an IdP-initiated LogoutRequest.
func (h *Handler) brokerEndpoint(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxBrokerBody)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	params := r.Form
	alias := r.PathValue("alias")
	p, ok, err := h.provider(ctx, realm, alias)
	if err != nil {
		h.storeError(w, r, realm, "broker endpoint", err)
		return
	}
	if !ok {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "identityProviderNotFoundMessage")
		return
	}
	req := h.brokerRequest(r, realm, alias)
	if r.Method == http.MethodGet {
		req.RawQuery = r.URL.RawQuery
	}
	if params.Get("SAMLRequest") != "" {
		h.idpLogout(w, r, realm, p, req, params)
		return
	}
	relay := params.Get("RelayState")
	if relay == "" {
		relay = params.Get("state")
	}
	rec, ok, err := h.takeBrokerRecord(ctx, realm, relay)
	if err != nil {
		h.storeError(w, r, realm, "broker endpoint", err)
		return
	}
	if !ok || rec.Alias != alias {
		h.expiredPage(w, r, realm)
		return
	}
	b, err := h.brokers.Open(ctx, p.row)
	if err != nil {
		h.brokerError(w, r, realm, alias, "open", err)
		return
	}
	req.ID, req.RelayState = rec.RequestID, relay
	switch rec.Kind {
	case recLogout:
		h.finishLogout(w, r, realm, b, req, params, rec)
		return
	case recLink: // account.go
		h.finishLink(w, r, realm, p, b, req, params, rec)
		return
	case recLogin:
	default:
		h.expiredPage(w, r, realm)
		return
	}
	if !sameBrowser(r, rec) {
		// The answer came to another browser than the one that asked: a
		// login forced on someone else (login CSRF) ends here.
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return
	}
	ident, err := b.Finish(ctx, req, rec.State, params)
	if answer := promptNoneAnswer(err); answer != nil && promptNone(recForm(rec)) {
		// A prompt=none the IdP could not answer without asking: the
		// client learns it as it would have from keygate.
		h.answerPromptNone(w, r, realm, rec, answer)
		return
	}
	if err != nil {
		h.brokerError(w, r, realm, alias, "finish", err)
		return
	}
	if !h.flag(p.rep.StoreToken) {
		ident.Token = ""
	}
	h.afterBroker(w, r, realm, p, rec, &ident)
}

func (h *Handler) flag(v *bool) bool { return v != nil && *v }

// realmDefaults are what a brokered user is created with.
func realmDefaults(realm *oidc.Realm) federation.RealmDefaults {
	d := realm.Settings.FederationDefaults()
	d.RequiredActions = realm.Settings.DefaultUserActions()
	return d
}

// mapIdentity runs p's mappers over ident.
func (h *Handler) mapIdentity(ctx context.Context, realm *oidc.Realm, p idpInfo, ident *federation.BrokeredIdentity, newUser bool) (federation.MappedIdentity, error) {
	settings, err := federation.ParseIdPSettings(p.row)
	if err != nil {
		return federation.MappedIdentity{}, err
	}
	settings.EmailAsUsername = realm.Settings.RegistrationEmailAsUsername
	mappers, err := h.st.ListIdentityProviderMappers(ctx, realm.Row.ID, p.row.Alias)
	if err != nil {
		return federation.MappedIdentity{}, err
	}
	m, warnings, err := federation.ApplyIdPMappers(mappers, settings, *ident, newUser)
	for _, w := range warnings {
		h.log.WarnContext(ctx, "identity provider mapper", "realm", realm.Row.Name, "alias", p.row.Alias, "warning", w)
	}
	return m, err
}

// afterBroker signs in the user the IdP vouched for: the linked user, or
// (first broker login) a new one, or an existing one to link.
func (h *Handler) afterBroker(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, rec brokerRecord, ident *federation.BrokeredIdentity) {
	ctx := r.Context()
	u, err := h.st.GetUserByFederatedIdentity(ctx, realm.Row.ID, p.row.Alias, ident.UserID)
	switch {
	case err == nil:
		h.linkAndComplete(w, r, realm, p, rec, ident, u.ID)
		return
	case !errors.Is(err, store.ErrNotFound):
		h.storeError(w, r, realm, "find brokered user", err)
		return
	}
	if h.flag(p.rep.LinkOnly) {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "identityProviderLinkOnlyMessage")
		return
	}
	m, err := h.mapIdentity(ctx, realm, p, ident, true)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "mappers", err)
		return
	}
	h.firstLogin(w, r, realm, p, rec, ident, reviewedProfile{Username: m.Username, Email: m.Email, FirstName: m.FirstName, LastName: m.LastName}, false)
}

// firstLogin decides a first broker login from the profile: an existing
// user with its email (or username) is linked (automatically only for a
// trusted email with autoLinkByEmail, else after the person signs in to
// it); a profile missing its username or email is reviewed; otherwise the
// user is created.
func (h *Handler) firstLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, rec brokerRecord, ident *federation.BrokeredIdentity, prof reviewedProfile, reviewed bool) {
	ctx := r.Context()
	prof.Username = strings.ToLower(strings.TrimSpace(prof.Username))
	prof.Email = strings.ToLower(strings.TrimSpace(prof.Email))
	if realm.Settings.RegistrationEmailAsUsername && prof.Email != "" {
		prof.Username = prof.Email
	}
	next := rec
	next.Kind, next.Identity, next.Profile = recFirst, ident, &prof
	// A user storage provider's (LDAP) user without a local copy yet owns
	// their email and username as a local user does (Keycloak's lookups ask
	// the providers): DirectoryTaken imports them, so that the lookups
	// below find them and offer the link after re-authentication; one that
	// cannot be imported is refused on the review page.
	dirEmail, dirName := false, false
	var err error
	if prof.Email != "" && !realm.Settings.DuplicateEmailsAllowed {
		if dirEmail, err = h.DirectoryTaken(ctx, realm, prof.Email, true); err != nil {
			h.storeError(w, r, realm, "first broker login", err)
			return
		}
	}
	if prof.Username != "" {
		if dirName, err = h.DirectoryTaken(ctx, realm, prof.Username, false); err != nil {
			h.storeError(w, r, realm, "first broker login", err)
			return
		}
	}
	if prof.Email != "" && !realm.Settings.DuplicateEmailsAllowed {
		if u, err := h.st.GetUserByEmail(ctx, realm.Row.ID, prof.Email); err == nil {
			// Only the very address the IdP vouched for links at once:
			// compared with the user's ASCII-case-insensitively, as
			// strings.ToLower (and the store's lookup) maps non-ASCII
			// letters onto ASCII ones (the Kelvin sign onto k, U+0130 onto
			// i), which would let another mailbox take the account.
			trusted := h.flag(p.rep.TrustEmail) && p.rep.Config["autoLinkByEmail"] == "true" && !reviewed &&
				strings.EqualFold(prof.Email, ident.Email) && store.ASCIILower(ident.Email) == store.ASCIILower(u.Email)
			if trusted {
				h.linkAndComplete(w, r, realm, p, rec, ident, u.ID)
				return
			}
			next.LinkUserID, next.LinkBy = u.ID, "email"
			h.showStep(w, r, realm, next, "confirm", "", "")
			return
		} else if !errors.Is(err, store.ErrNotFound) { // several users (ErrAmbiguous) link to none
			h.storeError(w, r, realm, "find user by email", err)
			return
		}
	}
	if dirEmail {
		h.showStep(w, r, realm, next, "review", "emailExistsMessage", "email")
		return
	}
	if prof.Username != "" {
		if u, err := h.st.GetUserByUsername(ctx, realm.Row.ID, prof.Username); err == nil {
			if reviewed {
				h.showStep(w, r, realm, next, "review", "usernameExistsMessage", "username")
				return
			}
			next.LinkUserID, next.LinkBy = u.ID, "username"
			h.showStep(w, r, realm, next, "confirm", "", "")
			return
		} else if !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "find user by username", err)
			return
		}
	}
	if dirName {
		h.showStep(w, r, realm, next, "review", "usernameExistsMessage", "username")
		return
	}
	// What the IdP gave is reviewed as the review page's form is.
	if key, field := prof.problem(realm.Settings); key != "" {
		h.showStep(w, r, realm, next, "review", key, field)
		return
	}
	if realm.Settings.EmailLogin() {
		// A username that is another's email, or an email that is
		// another's username, would sign in to the wrong account
		// (store.LoginNameTaken): the person picks another.
		for _, c := range []struct {
			name, field, msg string
			asEmail          bool
		}{{prof.Username, "username", "usernameExistsMessage", false}, {prof.Email, "email", "emailExistsMessage", true}} {
			if taken, err := store.LoginNameTaken(ctx, h.st, realm.Row.ID, c.name, "", c.asEmail); err != nil {
				h.storeError(w, r, realm, "find user by login name", err)
				return
			} else if taken {
				h.showStep(w, r, realm, next, "review", c.msg, c.field)
				return
			}
		}
	}
	m, err := h.mapIdentity(ctx, realm, p, ident, true)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "mappers", err)
		return
	}
	m.Username, m.Email, m.FirstName, m.LastName = prof.Username, prof.Email, prof.FirstName, prof.LastName
	// An email the person typed is not one the IdP vouched for, nor is
	// one that lower-casing changed beyond ASCII (the IdP's
	// ceo@\u212Aelvin.example is not ceo@kelvin.example's mailbox).
	m.EmailVerified = m.EmailVerified && store.ASCIILower(prof.Email) == store.ASCIILower(ident.Email)
	if p.flag(p.rep.AddReadTokenRoleOnCreate) {
		// Keycloak's "Stored tokens readable": checked as a mapper's
		// grant when the provider was written (admin mayReadTokenGrant).
		m.Grants = append(m.Grants, federation.Grant{Roles: []federation.RoleRef{{Client: brokerClientID, Name: readTokenRole}}})
	}
	u, err := h.linkBrokered(ctx, realm, federation.BrokerLink{Alias: p.row.Alias, Identity: m, Token: ident.Token})
	if errors.Is(err, federation.ErrConflict) {
		// Taken since the checks above (another replica, another tab).
		h.showStep(w, r, realm, next, "review", "usernameExistsMessage", "username")
		return
	}
	if err != nil {
		h.storeError(w, r, realm, "create brokered user", err)
		return
	}
	h.log.InfoContext(ctx, "brokered user created", "realm", realm.Row.Name, "alias", p.row.Alias, "user", u.ID)
	h.completeBrokered(w, r, realm, p, rec, ident, u)
}

// linkAndComplete links ident to the existing user userID (mappers run as
// for a later login), and signs them in.
func (h *Handler) linkAndComplete(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, rec brokerRecord, ident *federation.BrokeredIdentity, userID string) {
	ctx := r.Context()
	// A disabled user is refused before anything is written: no link (an
	// automatic one would wait there for the account to be enabled
	// again), no mapper's update.
	if cur, err := h.st.GetUser(ctx, realm.Row.ID, userID); err != nil {
		h.storeError(w, r, realm, "find brokered user", err)
		return
	} else if !cur.Enabled {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		return
	}
	m, err := h.mapIdentity(ctx, realm, p, ident, false)
	if err != nil {
		h.brokerError(w, r, realm, p.row.Alias, "mappers", err)
		return
	}
	// An existing user keeps its username, as Keycloak's
	// updateFederatedIdentity does even under FORCE: a username template
	// names new users only, and linking never renames a local account.
	m.Username = ""
	u, err := h.linkBrokered(ctx, realm, federation.BrokerLink{Alias: p.row.Alias, UserID: userID, Identity: m, Token: ident.Token})
	if errors.Is(err, federation.ErrConflict) {
		h.log.WarnContext(ctx, "brokered login refused", "realm", realm.Row.Name, "alias", p.row.Alias, "user", userID, "reason", err)
		h.ErrorPage(w, r, realm, http.StatusConflict, "federatedIdentityLinkedElsewhereMessage")
		return
	}
	if err != nil {
		h.storeError(w, r, realm, "link brokered user", err)
		return
	}
	h.completeBrokered(w, r, realm, p, rec, ident, u)
}

// completeBrokered ends a brokered login in CompleteLogin, spending the
// login attempt.
func (h *Handler) completeBrokered(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, rec brokerRecord, ident *federation.BrokeredIdentity, u store.User) {
	ctx := r.Context()
	if !u.Enabled {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		return
	}
	form, err := url.ParseQuery(rec.Query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	req, ok := h.oidc.ParseAuthorizeRequest(w, r, realm, form)
	if !ok {
		return
	}
	if err := h.st.DeactivateToken(ctx, store.KindLogin, rec.AttemptID); errors.Is(err, store.ErrNotFound) {
		h.expiredPage(w, r, realm)
		return
	} else if err != nil {
		h.storeError(w, r, realm, "brokered login", err)
		return
	}
	idToken, err := h.upstreamTokens().Seal(ident.IDToken)
	if err != nil {
		h.storeError(w, r, realm, "brokered login", err)
		return
	}
	data, _ := json.Marshal(sessionData{Broker: &brokerSession{Alias: p.row.Alias, NameID: ident.NameID,
		NameIDFormat: ident.NameIDFormat, SessionIndex: ident.SessionIndex, IDToken: idToken}})
	h.oidc.Event(r, realm, store.Event{Type: events.IdentityProviderLogin, ClientID: req.Client.Row.ClientID, UserID: u.ID,
		Details: map[string]string{"identity_provider": p.row.Alias, "identity_provider_identity": ident.Username,
			"username": u.Username, "auth_method": "openid-connect", "redirect_uri": req.Form().Get("redirect_uri")}})
	h.CompleteLogin(w, r, realm, &Attempt{ID: rec.AttemptID, Request: req, Started: rec.Started}, u, Details{
		ACR: acrCredential, AuthTime: time.Now(), IdentityProvider: p.row.Alias, SessionData: data,
	})
}

// storeError answers a store failure: 503 with Retry-After when the
// database or a user storage provider could not answer
// (store.ErrUnavailable, authn.ErrUnavailable), 500 otherwise.
func (h *Handler) storeError(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, what string, err error) {
	if errors.Is(err, authn.ErrUnavailable) && !errors.Is(err, store.ErrUnavailable) {
		// A user storage provider (LDAP) that cannot answer.
		h.log.WarnContext(r.Context(), what+": user storage unavailable", "err", err)
		w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "userStorageUnavailableMessage")
		return
	}
	if errors.Is(err, store.ErrUnavailable) {
		h.log.WarnContext(r.Context(), what+": database unavailable", "err", err)
		w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		return
	}
	h.log.ErrorContext(r.Context(), what, "err", err)
	h.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
}

// sloKey names the index record of a brokered session for IdP-initiated
// logout: the IdP names the session by NameID and SessionIndex.
func sloKey(realmID, alias, nameID, sessionIndex string) string {
	sum := sha256.Sum256([]byte(realmID + "\x00" + alias + "\x00" + nameID + "\x00" + sessionIndex))
	return "slo:" + hex.EncodeToString(sum[:])
}

// ForwardsPromptNone implements oidc.Browser: the provider alias names is
// an enabled OIDC provider that is not link-only and has
// acceptsPromptNoneForwardFromClient (Keycloak's).
func (h *Handler) ForwardsPromptNone(r *http.Request, realm *oidc.Realm, alias string) (bool, error) {
	p, ok, err := h.provider(r.Context(), realm, alias)
	if err != nil || !ok || p.flag(p.rep.LinkOnly) {
		return false, err
	}
	if p.row.ProviderID != fedoidc.ProviderOIDC && p.row.ProviderID != fedoidc.ProviderKeycloakOIDC {
		return false, nil
	}
	return strings.EqualFold(strings.TrimSpace(p.rep.Config["acceptsPromptNoneForwardFromClient"]), "true"), nil
}

// promptNone says whether an authorization request form asks prompt=none.
func promptNone(form url.Values) bool {
	return slices.Contains(strings.Fields(form.Get("prompt")), "none")
}

// recForm is the authorization request a pending broker login answers
// (nil when unreadable).
func recForm(rec brokerRecord) url.Values {
	form, _ := url.ParseQuery(rec.Query)
	return form
}

// promptNoneAnswer is the error the client of a forwarded prompt=none gets
// when err is the IdP's answer that it cannot sign the user in without
// asking (or that it refused); nil otherwise.
func promptNoneAnswer(err error) error {
	var idpErr *fedoidc.IdPError
	if !errors.As(err, &idpErr) {
		return nil
	}
	switch idpErr.Code {
	case "login_required":
		return fosite.ErrLoginRequired
	case "consent_required":
		return fosite.ErrConsentRequired
	case "interaction_required", "account_selection_required":
		return fosite.ErrInteractionRequired
	case "access_denied":
		// A page would be shown in a frame that asked for none.
		return fosite.ErrAccessDenied
	}
	return nil
}

// answerPromptNone ends the pending login rec with err at the client's
// redirect URI, spending its attempt.
func (h *Handler) answerPromptNone(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec brokerRecord, err error) {
	req, ok := h.oidc.ParseAuthorizeRequest(w, r, realm, recForm(rec))
	if !ok {
		return
	}
	if derr := h.st.DeactivateToken(r.Context(), store.KindLogin, rec.AttemptID); derr != nil && !errors.Is(derr, store.ErrNotFound) {
		h.storeError(w, r, realm, "brokered login", derr)
		return
	}
	h.oidc.WriteAuthorizeError(w, r, realm, req, err)
}
