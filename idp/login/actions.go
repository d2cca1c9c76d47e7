package login

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/a-h/templ"
	"github.com/ory/fosite"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// The steps between a successful credential check and CompleteLogin's
// code: pre-steps (the OTP form), then the user's pending required
// actions (Keycloak's UPDATE_PASSWORD, ...). See
// /work/notes/required-actions-api.md.
//
// Each page shown is one single-use record (kindAction) holding the whole
// state of the login: the user, how they authenticated, the authorization
// request, the steps left. It is bound to the browser's login attempt
// cookie (AUTH_SESSION_ID) and its form carries the record's CSRF token.
// GET .../login-actions/required-action?execution=ALIAS&client_id=..&tab_id=ID
// shows the page of record ID; POST to the same URL spends the record and
// either moves on (303 to the next step's page, or the authorization
// response) or shows the page again from a fresh record.

// kindAction is a login's required-action page record.
const kindAction store.TokenKind = "login-action"

// Action is a step of a login that runs as a page: a required action
// (Keycloak's alias, e.g. "UPDATE_PASSWORD") or a pre-step (Pre: the OTP
// form after the password).
type Action struct {
	// Alias is Keycloak's required-action alias (providerId), or a
	// pre-step's own name ("OTP_FORM").
	Alias string
	// Pre marks a step that runs before the required actions whenever
	// Applies says so. It is not a required action: the realm's
	// required-action list and the user's requiredActions do not name it.
	Pre bool
	// Post marks a step that runs after them (and after an application's
	// kc_action) in every login, SSO ones included, whenever Applies says
	// so: the consent screen. Like Pre, it is no required action.
	Post bool
	// Applies says whether the step runs for this login although the
	// user's requiredActions do not name it (pre-steps: whether it runs at
	// all; required actions: Keycloak's evaluateTriggers, e.g. VERIFY_EMAIL
	// for a realm with verifyEmail). nil: only when named. An error ends
	// the login as a store error (503 when unavailable).
	Applies func(ctx context.Context, s *Step) (bool, error)
	// Prepare runs once when the step begins, before its first page, and
	// may fill s.Data (a TOTP secret to show). Optional.
	Prepare func(ctx context.Context, s *Step) error
	// Show returns the step's page. It must post its form to s.FormAction
	// with s.CSRFToken as csrf_token, and show s.Error when set. It must
	// not write: a reload calls it again with the same Step.
	Show func(s *Step) templ.Component
	// Process takes the posted form (s.Form, already CSRF-checked and the
	// record spent) and says what follows.
	Process func(ctx context.Context, s *Step) Result
}

// Step is what an action's functions see of the login.
type Step struct {
	// H is the login handler (its store: H.Store()).
	H       *Handler
	Request *http.Request
	Realm   *oidc.Realm
	// User is the user as stored when the page was requested.
	User store.User
	// Details say how the user authenticated (ACR, auth time, IdP...).
	Details Details
	// ClientID is the client the login is for, "" for a flow outside a
	// login (execute-actions).
	ClientID string
	// Authz is the authorization request's parameters, nil outside a
	// login.
	Authz url.Values
	// Alias is the step's alias.
	Alias string
	// Page is the realm's page header for templates.
	Page templates.Page
	// FormAction and CSRFToken are the page form's target and token.
	FormAction, CSRFToken string
	// Error is the already-localized message of the last attempt, "" for
	// none; ErrorField the field it is about.
	Error, ErrorField string
	// Cancelable: the step is an application-initiated action (the
	// request's kc_action) that the user does not owe, so the page may
	// offer a Cancel button named cancel-aia; the framework handles it
	// (the login goes on without the action).
	Cancelable bool
	// Data is the step's own state, kept server-side between its pages
	// (Prepare and Process may change it; Retry keeps it).
	Data map[string]string
	// Form is the posted form (Process only).
	Form url.Values
	// Writer is the response (Process only), for a Result of Handled.
	Writer http.ResponseWriter
	// Unavailable is set by a Show that could not read what its page
	// shows because the database is down: the page (saying so) goes out
	// as a 503 with Retry-After, not as a 200.
	Unavailable bool
}

// Result is what Process decides.
type Result struct {
	kind       resultKind
	key, field string
	args       []string
	status     int
}

type resultKind int

const (
	resDone resultKind = iota
	resRetry
	resFail
	resDeny
	resHandled
)

// Done ends the step: a required action is removed from the user's
// requiredActions and the next step (or the authorization response)
// follows.
func Done() Result { return Result{kind: resDone} }

// Retry shows the step's page again with message key (args fill {0}...)
// about field ("" for none). s.Data changes are kept.
func Retry(field, key string, args ...string) Result {
	return Result{kind: resRetry, key: key, field: field, args: args}
}

// Unavailable is Retry answered 503 with Retry-After (the page rendered
// in the answer, not after a redirect): a database or directory that
// cannot answer, or a server shedding load, is not the person's mistake,
// and clients and monitoring should see it as what it is.
func Unavailable(field, key string) Result {
	return Result{kind: resRetry, key: key, field: field, status: http.StatusServiceUnavailable}
}

// Fail ends the login with the error page (status, message key); the
// attempt is over.
func Fail(status int, key string) Result { return Result{kind: resFail, status: status, key: key} }

// Deny ends the login by telling the client access_denied at its redirect
// URI, as Keycloak does when a required action fails (terms declined).
func Deny() Result { return Result{kind: resDeny} }

// Handled says Process wrote the response itself (s.Writer).
func Handled() Result { return Result{kind: resHandled} }

var (
	actionsMu sync.RWMutex
	actions   = map[string]*Action{}
	preSteps  []string // pre-step aliases, in registration order
	postSteps []string // post-step aliases, in registration order
)

// RegisterAction adds a step to every Handler. Call it from an init
// function; a second action with the same alias replaces the first.
func RegisterAction(a Action) {
	if a.Alias == "" || a.Show == nil || a.Process == nil {
		panic("login: RegisterAction needs Alias, Show and Process")
	}
	if (a.Pre || a.Post) && a.Applies == nil || a.Pre && a.Post {
		panic("login: a pre- or post-step needs Applies, and is one or the other")
	}
	actionsMu.Lock()
	defer actionsMu.Unlock()
	if a.Pre && !slices.Contains(preSteps, a.Alias) {
		preSteps = append(preSteps, a.Alias)
	}
	if a.Post && !slices.Contains(postSteps, a.Alias) {
		postSteps = append(postSteps, a.Alias)
	}
	actions[a.Alias] = &a
}

func lookupAction(alias string) *Action {
	actionsMu.RLock()
	defer actionsMu.RUnlock()
	return actions[alias]
}

// Implemented says whether keygate has the page of required action alias.
func Implemented(alias string) bool {
	a := lookupAction(alias)
	return a != nil && !a.Pre && !a.Post
}

// Store is the store the handler uses (for actions).
func (h *Handler) Store() Store { return h.st }

// Passwords hashes and stores new passwords (idp/authn.Authenticator);
// nil when the handler's Authenticator cannot.
func (h *Handler) Passwords() PasswordSetter {
	ps, _ := h.authn.(PasswordSetter)
	return ps
}

// PasswordSetter checks a new password against the realm's policy
// (history included) and stores it under the policy's hash; a refused
// password is a *password.PolicyError.
type PasswordSetter interface {
	SetPassword(ctx context.Context, realmID string, s rep.RealmSettings, u store.User, pw string) error
}

// actionRecord is one page of a login's steps (kindAction), single use.
type actionRecord struct {
	AttemptID string    `json:"attempt"`
	CSRF      string    `json:"csrf"`
	UserID    string    `json:"user"`
	Query     string    `json:"authz,omitempty"` // the authorization request; "" outside a login
	ClientID  string    `json:"client,omitempty"`
	Started   time.Time `json:"started"`
	// AIA is the application-initiated action (kc_action) the request
	// asked for, "" for none; AIAStatus is Keycloak's kc_action_status
	// once known: "success", "cancelled", or "error" (asked for an action
	// the realm cannot run).
	AIA       string `json:"aia,omitempty"`
	AIAStatus string `json:"aiaStatus,omitempty"`
	// AIAOwed: the user owed the action anyway when the login began (named
	// or triggered), so it cannot be cancelled.
	AIAOwed bool `json:"aiaOwed,omitempty"`

	ACR         string          `json:"acr"`
	AuthTime    time.Time       `json:"authTime"`
	RememberMe  bool            `json:"rememberMe,omitempty"`
	IdP         string          `json:"idp,omitempty"`
	SessionData json.RawMessage `json:"sessionData,omitempty"`
	SessionID   string          `json:"sid,omitempty"` // the SSO session that vouched, reused

	Steps []string          `json:"steps"`          // Steps[0] is this page's
	Done  []string          `json:"done,omitempty"` // steps finished in this flow
	Data  map[string]string `json:"data,omitempty"`

	ErrKey   string   `json:"errKey,omitempty"`
	ErrArgs  []string `json:"errArgs,omitempty"`
	ErrField string   `json:"errField,omitempty"`

	// End is where a flow outside a login ends (execute-actions).
	End *ActionsEnd `json:"end,omitempty"`
}

// ActionsEnd is how a flow of actions outside a login ends: an info page
// "Your account has been updated" with a link back to RedirectURI when set.
type ActionsEnd struct {
	RedirectURI string `json:"redirectUri,omitempty"`
	// Message is the end page's message key; "" = accountUpdatedMessage
	// (a reset password says accountPasswordUpdatedMessage).
	Message string `json:"message,omitempty"`
}

// details are the login's Details; Session, when the login continues one,
// holds only its ID and user (stepDone reads it again).
func (rec *actionRecord) details() Details {
	d := Details{ACR: rec.ACR, AuthTime: rec.AuthTime, RememberMe: rec.RememberMe, IdentityProvider: rec.IdP,
		SessionData: rec.SessionData}
	if rec.SessionID != "" {
		d.Session = &store.Session{ID: rec.SessionID, UserID: rec.UserID}
	}
	return d
}

// pendingSteps lists the steps a login of user still needs, in order:
// applicable pre-steps (only with pre), then the user's required actions
// and triggered ones, by the realm's priority, skipping those the realm
// has not registered or has disabled (as Keycloak does) and those in done;
// triggers: also the actions whose Applies asks for them.
// unknown names an enabled action keygate has no page for.
func (h *Handler) pendingSteps(ctx context.Context, s *Step, pre, triggers bool, done []string) (steps []string, unknown string, err error) {
	if pre {
		actionsMu.RLock()
		ps := slices.Clone(preSteps)
		actionsMu.RUnlock()
		for _, alias := range ps {
			if slices.Contains(done, alias) {
				continue
			}
			a := lookupAction(alias)
			ok, err := a.Applies(ctx, s)
			if err != nil {
				return nil, "", err
			}
			if ok {
				steps = append(steps, alias)
			}
		}
	}
	for _, p := range s.Realm.Settings.RequiredActions {
		if !p.Enabled || slices.Contains(done, p.Alias) {
			continue
		}
		a := lookupAction(p.Alias)
		named := slices.Contains(s.User.RequiredActions, p.Alias)
		if !named && (!triggers || a == nil || a.Pre || a.Post || a.Applies == nil) {
			continue
		}
		if !named {
			ok, err := a.Applies(ctx, s)
			if err != nil {
				return nil, "", err
			}
			if !ok {
				continue
			}
		}
		if a == nil || a.Pre || a.Post {
			return nil, p.Alias, nil
		}
		steps = append(steps, p.Alias)
	}
	return steps, "", nil
}

// pendingPost lists the post-steps a login (s.Authz set) still needs,
// those in done excepted.
func pendingPost(ctx context.Context, s *Step, done []string) ([]string, error) {
	if s.Authz == nil {
		return nil, nil
	}
	actionsMu.RLock()
	ps := slices.Clone(postSteps)
	actionsMu.RUnlock()
	var steps []string
	for _, alias := range ps {
		if slices.Contains(done, alias) {
			continue
		}
		ok, err := lookupAction(alias).Applies(ctx, s)
		if err != nil {
			return nil, err
		}
		if ok {
			steps = append(steps, alias)
		}
	}
	return steps, nil
}

// beginSteps runs the login's remaining steps, or finishes it when there
// are none. pre: run the pre-steps too (a login that just presented a
// credential).
func (h *Handler) beginSteps(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, at *Attempt, user store.User, d Details, pre bool) {
	ctx := r.Context()
	s := &Step{H: h, Request: r, Realm: realm, User: user, Details: d, ClientID: at.Request.Client.Row.ClientID,
		Authz: at.Request.Form()}
	steps, unknown, err := h.pendingSteps(ctx, s, pre, true, nil)
	if err != nil {
		h.storeError(w, r, realm, "login steps", err)
		return
	}
	// Keycloak's application-initiated action: the app asks for one
	// (keycloak-js login({action})), run after what the user owes.
	kcAction := at.Request.Form().Get("kc_action")
	aia := applicationAction(realm, kcAction)
	aiaOwed := aia != "" && slices.Contains(steps, aia)
	if aia != "" && !aiaOwed {
		steps = append(steps, aia)
	}
	aiaStatus := ""
	if kcAction != "" && aia == "" {
		// Keycloak goes on with the login and tells the app the action
		// could not run (unknown, disabled, or without a page here).
		aiaStatus = aiaError
	}
	post, err := pendingPost(ctx, s, nil)
	if err != nil {
		h.storeError(w, r, realm, "login steps", err)
		return
	}
	if len(steps) == 0 && len(post) > 0 && unknown == "" && strings.Contains(at.Request.Form().Get("prompt"), "none") {
		// Only the consent screen is left: Keycloak's consent_required.
		h.oidc.WriteAuthorizeError(w, r, realm, at.Request, fosite.ErrConsentRequired)
		return
	}
	steps = append(steps, post...)
	if len(steps) == 0 && unknown == "" {
		aiaResponse(at.Request, "", aiaStatus)
		h.finishLogin(w, r, realm, at, user, d)
		return
	}
	// A silent request learns that the user must interact, as Keycloak
	// answers it (an action added since the SSO session began: an
	// administrator's temporary password).
	if strings.Contains(at.Request.Form().Get("prompt"), "none") {
		h.oidc.WriteAuthorizeError(w, r, realm, at.Request, oidc.ErrInteractionRequired)
		return
	}
	if unknown != "" {
		h.log.WarnContext(ctx, "login refused: required action has no page in keygate", "realm", realm.Row.Name,
			"user", user.ID, "action", unknown)
		if at.ID != "" {
			h.clearCookie(w, r, realm, cookieAttempt, true)
		}
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountNotSetUpMessage")
		return
	}
	if reauthActions[aia] && d.Session != nil && time.Since(d.AuthTime) > maxAuthAge {
		// A new password, device or a deletion needs a recent sign-in
		// (Keycloak's maxAuthAge): the password form first, then the action.
		h.StartLogin(w, r, realm, at.Request.Client, at.Request.Form())
		return
	}
	rec := actionRecord{AttemptID: at.ID, UserID: user.ID, Query: at.Request.Form().Encode(),
		ClientID: at.Request.Client.Row.ClientID, Started: at.Started, ACR: d.ACR, AuthTime: d.AuthTime,
		RememberMe: d.RememberMe, IdP: d.IdentityProvider, SessionData: d.SessionData, Steps: steps, AIA: aia,
		AIAStatus: aiaStatus, AIAOwed: aiaOwed}
	if d.Session != nil {
		rec.SessionID = d.Session.ID
	}
	if rec.AttemptID == "" {
		// An SSO session's login has no attempt yet: the pages need one
		// to be bound to.
		rec.AttemptID = randomToken()
		h.setCookie(w, r, realm, cookieAttempt, rec.AttemptID, 0, true)
	}
	h.enterStep(w, r, realm, s, rec)
}

// maxAuthAge is how old a sign-in may be for an application-initiated
// action of reauthActions (Keycloak's default maxAuthAge).
const maxAuthAge = 300 * time.Second

// reauthActions are the actions that, asked for by an app, need a recent
// sign-in, as Keycloak's do: they change how the user signs in, or delete
// the account.
var reauthActions = map[string]bool{"UPDATE_PASSWORD": true, "CONFIGURE_TOTP": true, "delete_account": true}

// applicationAction is kc_action's alias when keygate has its page and the
// realm has it enabled, else "" (an unknown one is ignored).
func applicationAction(realm *oidc.Realm, alias string) string {
	if alias == "" || !Implemented(alias) {
		return ""
	}
	for _, p := range realm.Settings.RequiredActions {
		if p.Alias == alias && p.Enabled {
			return alias
		}
	}
	return ""
}

// RunActions runs actions (required-action aliases) for user outside a
// login, as Keycloak's execute-actions link does: the pages in the realm's
// order (disabled and unknown ones skipped), then an info page saying the
// account was updated, with a link to end.RedirectURI when set (the caller
// has validated it). The browser gets a fresh attempt cookie.
func (h *Handler) RunActions(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, user store.User, clientID string, actions []string, end ActionsEnd) {
	ctx := r.Context()
	u := user
	u.RequiredActions = actions
	s := &Step{H: h, Request: r, Realm: realm, User: u, ClientID: clientID}
	steps, _, err := h.pendingSteps(ctx, s, false, false, nil)
	if err != nil {
		h.storeError(w, r, realm, "execute actions", err)
		return
	}
	rec := actionRecord{AttemptID: randomToken(), UserID: user.ID, ClientID: clientID, Started: time.Now(),
		Steps: steps, End: &end}
	// The browser's own SSO session of the user (the account console's)
	// is the one a step's "sign out other devices" keeps.
	sso, err := h.LiveSession(r, realm)
	if err != nil {
		h.storeError(w, r, realm, "execute actions", err)
		return
	}
	if sso != nil && sso.UserID == user.ID {
		rec.SessionID = sso.ID
	}
	if len(steps) == 0 {
		h.endActions(w, r, realm, rec)
		return
	}
	h.setCookie(w, r, realm, cookieAttempt, rec.AttemptID, 0, true)
	h.enterStep(w, r, realm, s, rec)
}

// enterStep begins rec.Steps[0]: Prepare, then the page.
func (h *Handler) enterStep(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, s *Step, rec actionRecord) {
	a := lookupAction(rec.Steps[0])
	rec.Data, rec.ErrKey, rec.ErrArgs, rec.ErrField = nil, "", nil, ""
	if a.Prepare != nil {
		s.Alias, s.Data = a.Alias, map[string]string{}
		if err := a.Prepare(r.Context(), s); err != nil {
			h.storeError(w, r, realm, "prepare "+a.Alias, err)
			return
		}
		rec.Data = s.Data
	}
	h.redirectToStep(w, r, realm, rec)
}

// redirectToStep stores rec as a fresh page record and sends the browser
// to its page.
func (h *Handler) redirectToStep(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec actionRecord) {
	id, _, err := h.putActionRecord(r.Context(), realm, rec)
	if err != nil {
		h.storeError(w, r, realm, "login step", err)
		return
	}
	http.Redirect(w, r, actionURL(r, realm, rec, id), http.StatusSeeOther)
}

// showUnavailable answers a step's post with its page again, as a new
// record, in a 503 with Retry-After.
func (h *Handler) showUnavailable(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec actionRecord) {
	id, rec, err := h.putActionRecord(r.Context(), realm, rec)
	if err != nil {
		h.storeError(w, r, realm, "login step", err)
		return
	}
	s, a, ok := h.stepFor(w, r, realm, rec, id)
	if !ok {
		return
	}
	w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
	h.render(w, http.StatusServiceUnavailable, a.Show(s))
}

func actionURL(r *http.Request, realm *oidc.Realm, rec actionRecord, id string) string {
	q := url.Values{"execution": {rec.Steps[0]}, "tab_id": {id}}
	if rec.ClientID != "" {
		q.Set("client_id", rec.ClientID)
	}
	return realmPath(r, realm) + "login-actions/required-action?" + q.Encode()
}

// putActionRecord stores rec under a new id with a new CSRF token, and
// returns both the id and the record as stored.
func (h *Handler) putActionRecord(ctx context.Context, realm *oidc.Realm, rec actionRecord) (string, actionRecord, error) {
	id := randomToken()
	rec.CSRF = randomToken()
	data, err := json.Marshal(rec)
	if err != nil {
		return "", rec, err
	}
	now := time.Now()
	return id, rec, h.st.CreateToken(ctx, store.Token{Kind: kindAction, Signature: id, RequestID: id, RealmID: realm.Row.ID,
		ClientID: rec.ClientID, Subject: rec.UserID, Active: true, Requested: now,
		Expires: now.Add(realm.Settings.AccessCodeLifespanUserAction), Request: data})
}

// loadActionRecord reads the live page record of r (tab_id) that this
// browser's attempt owns.
func (h *Handler) loadActionRecord(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) (string, actionRecord, bool) {
	id := r.URL.Query().Get("tab_id")
	if id == "" {
		h.expiredPage(w, r, realm)
		return "", actionRecord{}, false
	}
	tok, err := h.st.GetToken(r.Context(), kindAction, id)
	if errors.Is(err, store.ErrUnavailable) {
		h.storeError(w, r, realm, "login step", err)
		return "", actionRecord{}, false
	}
	var rec actionRecord
	if err != nil || tok.RealmID != realm.Row.ID || !tok.Active || time.Now().After(tok.Expires) ||
		json.Unmarshal(tok.Request, &rec) != nil || len(rec.Steps) == 0 {
		h.expiredPage(w, r, realm)
		return "", actionRecord{}, false
	}
	ck, err := r.Cookie(cookieAttempt)
	if err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(rec.AttemptID)) != 1 {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return "", actionRecord{}, false
	}
	return id, rec, true
}

// authzOf is the authorization request rec's login answers, nil outside a
// login.
func authzOf(rec actionRecord) url.Values {
	if rec.Query == "" {
		return nil
	}
	q, err := url.ParseQuery(rec.Query)
	if err != nil {
		return url.Values{} // stored by Encode: cannot happen
	}
	return q
}

// stepFor builds the Step of rec's page, with the user as stored now.
func (h *Handler) stepFor(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec actionRecord, id string) (*Step, *Action, bool) {
	a := lookupAction(rec.Steps[0])
	if a == nil {
		h.expiredPage(w, r, realm)
		return nil, nil, false
	}
	u, err := h.st.GetUser(r.Context(), realm.Row.ID, rec.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && !u.Enabled {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		return nil, nil, false
	}
	if err != nil {
		h.storeError(w, r, realm, "login step", err)
		return nil, nil, false
	}
	// The page speaks the user's language (locale attribute, ui_locales).
	r = h.withUserLocale(r, realm, rec.Query, &u)
	s := &Step{H: h, Request: r, Realm: realm, User: u, Details: rec.details(), ClientID: rec.ClientID, Alias: a.Alias,
		Authz: authzOf(rec), Page: h.page(r, realm), FormAction: actionURL(r, realm, rec, id), CSRFToken: rec.CSRF,
		ErrorField: rec.ErrField, Data: rec.Data}
	if rec.AIA == a.Alias && !rec.AIAOwed && !slices.Contains(u.RequiredActions, a.Alias) {
		// Only an action the user does not owe may be cancelled: neither
		// named on the user nor triggered now (VERIFY_EMAIL of an
		// unverified address in a realm with verifyEmail), as Keycloak
		// stores a triggered action on the user.
		owed := false
		if a.Applies != nil {
			var err error
			if owed, err = a.Applies(r.Context(), s); err != nil {
				owed = true
			}
		}
		s.Cancelable = !owed
	}
	if s.Data == nil {
		s.Data = map[string]string{}
	}
	if rec.ErrKey != "" {
		args := make([]any, len(rec.ErrArgs))
		for i, v := range rec.ErrArgs {
			args[i] = v
		}
		s.Error = s.Page.T(rec.ErrKey, args...)
	}
	return s, a, true
}

// showAction answers GET .../login-actions/required-action: the page of
// the record tab_id names, as often as the browser reloads it.
func (h *Handler) showAction(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	id, rec, ok := h.loadActionRecord(w, r, realm)
	if !ok {
		return
	}
	if r.URL.Query().Get("execution") != rec.Steps[0] {
		http.Redirect(w, r, actionURL(r, realm, rec, id), http.StatusSeeOther)
		return
	}
	s, a, ok := h.stepFor(w, r, realm, rec, id)
	if !ok {
		return
	}
	page := a.Show(s)
	if s.Unavailable {
		w.Header().Set("Retry-After", oidc.RetryAfterUnavailable)
		h.render(w, http.StatusServiceUnavailable, page)
		return
	}
	h.render(w, http.StatusOK, page)
}

// processAction answers the POST of a step's page.
func (h *Handler) processAction(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	id, rec, ok := h.loadActionRecord(w, r, realm)
	if !ok {
		return
	}
	if subtle.ConstantTimeCompare([]byte(r.PostForm.Get("csrf_token")), []byte(rec.CSRF)) != 1 {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return
	}
	if r.URL.Query().Get("execution") != rec.Steps[0] {
		h.expiredPage(w, r, realm)
		return
	}
	s, a, ok := h.stepFor(w, r, realm, rec, id)
	if !ok {
		return
	}
	// Single use: of two posts of one page exactly one goes on.
	if err := h.st.DeactivateToken(ctx, kindAction, id); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			h.storeError(w, r, realm, "login step", err)
		} else {
			h.expiredPage(w, r, realm)
		}
		return
	}
	if s.Cancelable && r.PostForm.Has("cancel-aia") {
		// As Keycloak: the login goes on, and the app learns the user
		// cancelled (kc_action_status=cancelled with the code).
		rec.AIAStatus = aiaCancelled
		h.stepDone(w, r, realm, rec, a)
		return
	}
	s.Form, s.Writer = r.PostForm, w
	res := a.Process(ctx, s)
	rec.Data = s.Data
	switch res.kind {
	case resHandled:
	case resRetry:
		rec.ErrKey, rec.ErrArgs, rec.ErrField = res.key, res.args, res.field
		if res.status == http.StatusServiceUnavailable {
			h.showUnavailable(w, r, realm, rec)
			return
		}
		h.redirectToStep(w, r, realm, rec)
	case resFail:
		h.clearCookie(w, r, realm, cookieAttempt, true)
		h.ErrorPage(w, r, realm, res.status, res.key)
	case resDeny:
		h.clearCookie(w, r, realm, cookieAttempt, true)
		if rec.Query == "" {
			h.endActions(w, r, realm, rec)
			return
		}
		if req, ok := h.parseStored(w, r, realm, rec.Query); ok {
			h.oidc.WriteAuthorizeError(w, r, realm, req, fosite.ErrAccessDenied)
		}
	case resDone:
		h.stepDone(w, r, realm, rec, a)
	}
}

// stepDone removes the finished step (from the user's requiredActions
// too) and goes on with the next, or ends the flow.
func (h *Handler) stepDone(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec actionRecord, a *Action) {
	ctx := r.Context()
	u, err := h.st.GetUser(ctx, realm.Row.ID, rec.UserID)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			// The step removed the user (delete_account).
			h.clearCookie(w, r, realm, cookieAttempt, true)
			h.expiredPage(w, r, realm)
			return
		}
		h.storeError(w, r, realm, "login step", err)
		return
	}
	if !a.Pre && slices.Contains(u.RequiredActions, a.Alias) {
		u.RequiredActions = slices.DeleteFunc(slices.Clone(u.RequiredActions), func(s string) bool { return s == a.Alias })
		if err := h.st.UpdateUser(ctx, u); err != nil {
			h.storeError(w, r, realm, "login step", err)
			return
		}
	}
	if a.Alias == rec.AIA && rec.AIAStatus == "" {
		rec.AIAStatus = aiaSuccess
	}
	rec.Done = append(rec.Done, a.Alias)
	rec.Steps = rec.Steps[1:]
	if len(rec.Steps) > 0 {
		s := &Step{H: h, Request: r, Realm: realm, User: u, Details: rec.details(), ClientID: rec.ClientID,
			Authz: authzOf(rec)}
		h.enterStep(w, r, realm, s, rec)
		return
	}
	if rec.Query == "" {
		h.clearCookie(w, r, realm, cookieAttempt, true)
		h.endActions(w, r, realm, rec)
		return
	}
	// Actions added meanwhile (or triggered now) run too; none runs twice.
	// Triggers always apply here: only a login (rec.Query set) gets this
	// far, a flow outside one (execute-actions, rec.End) ended above.
	s := &Step{H: h, Request: r, Realm: realm, User: u, Details: rec.details(), ClientID: rec.ClientID,
		Authz: authzOf(rec)}
	steps, unknown, err := h.pendingSteps(ctx, s, false, true, rec.Done)
	if err == nil && unknown == "" {
		var post []string
		post, err = pendingPost(ctx, s, rec.Done)
		steps = append(steps, post...)
	}
	if err != nil {
		h.storeError(w, r, realm, "login steps", err)
		return
	}
	if unknown != "" {
		h.clearCookie(w, r, realm, cookieAttempt, true)
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountNotSetUpMessage")
		return
	}
	if len(steps) > 0 {
		rec.Steps = steps
		h.enterStep(w, r, realm, s, rec)
		return
	}
	req, ok := h.parseStored(w, r, realm, rec.Query)
	if !ok {
		return
	}
	d := rec.details()
	if rec.SessionID != "" {
		sso, err := h.st.GetSession(ctx, realm.Row.ID, rec.SessionID)
		if errors.Is(err, store.ErrUnavailable) {
			h.storeError(w, r, realm, "login step", err)
			return
		}
		if err != nil || sso.UserID != u.ID {
			// The session ended meanwhile (signed out elsewhere).
			h.clearCookie(w, r, realm, cookieAttempt, true)
			h.expiredPage(w, r, realm)
			return
		}
		d.Session = &sso
	}
	d.consented = slices.Contains(rec.Done, consentAlias)
	ran := ""
	if rec.AIAStatus == aiaSuccess || rec.AIAStatus == aiaCancelled {
		ran = rec.AIA
	}
	aiaResponse(req, ran, rec.AIAStatus)
	h.finishLogin(w, r, realm, &Attempt{ID: rec.AttemptID, Request: req, Started: rec.Started}, u, d)
}

// Keycloak's kc_action_status values (RequiredActionContext.KcActionStatus).
const (
	aiaSuccess   = "success"
	aiaCancelled = "cancelled"
	aiaError     = "error"
)

// aiaResponse tells the app how the action it asked for (kc_action)
// went: as Keycloak's OIDCLoginProtocol, the authorization response carries
// kc_action_status and, when the action ran, kc_action naming it, in
// whichever response mode it goes (query, fragment or form_post).
func aiaResponse(req *oidc.AuthorizeRequest, alias, status string) {
	if status == "" {
		return
	}
	req.AddResponseParameter("kc_action_status", status)
	if alias != "" {
		req.AddResponseParameter("kc_action", alias)
	}
}

func (h *Handler) parseStored(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, query string) (*oidc.AuthorizeRequest, bool) {
	form, err := url.ParseQuery(query)
	if err != nil {
		h.expiredPage(w, r, realm)
		return nil, false
	}
	return h.oidc.ParseAuthorizeRequest(w, r, realm, form)
}

// endActions ends a flow outside a login: Keycloak's "Your account has
// been updated" page.
func (h *Handler) endActions(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec actionRecord) {
	p, msg := h.page(r, realm), "accountUpdatedMessage"
	if rec.End != nil && rec.End.Message != "" {
		msg = rec.End.Message
	}
	v := templates.InfoView{Page: p, Title: p.T("accountUpdatedTitle"), Message: p.T(msg)}
	if rec.End != nil {
		v.BackURL = rec.End.RedirectURI
	}
	h.render(w, http.StatusOK, templates.Info(v))
}
