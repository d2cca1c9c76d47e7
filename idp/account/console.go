package account

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/login"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/password"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// notices a page may show after a form redirected to it (?notice=key).
var notices = map[string]bool{
	"accountUpdatedMessage": true, "accountPasswordUpdatedMessage": true, "successRemovedMessage": true,
	"signedOutSessionMessage": true, "signedOutOtherSessionsMessage": true, "unLinkSuccess": true,
	"identityProviderLinkedMessage": true, "accessRemovedMessage": true,
}

// view is what every page shares, for c on section.
func (h *Handler) view(w http.ResponseWriter, r *http.Request, c *console, section string) templates.AccountView {
	b := base(r, c.realm)
	page := h.login.PageFor(r, c.realm, &c.user) // the user's locale attribute counts
	v := templates.AccountView{
		Page: page, Section: section, Username: c.user.Username, CSRFToken: c.csrf, CanManage: c.may(roleManageAccount),
		SignOutURL: oidc.PathPrefix(r.Context()) + "/realms/" + c.realm.Row.Name + "/protocol/openid-connect/logout?" +
			url.Values{"client_id": {consoleClient}, "post_logout_redirect_uri": {c.realm.Issuer + "/account/"}}.Encode(),
		Nav: []templates.AccountNavItem{
			{Section: templates.AccountPersonalInfo, Label: page.T("personalInfo"), Href: b + "/"},
			{Section: templates.AccountSigningIn, Label: page.T("signingIn"), Href: b + signingInPath},
			{Section: templates.AccountDeviceActivity, Label: page.T("deviceActivity"), Href: b + deviceActivityPath},
			{Section: templates.AccountLinkedAccounts, Label: page.T("linkedAccounts"), Href: b + linkedAccountsPath},
			{Section: templates.AccountApplications, Label: page.T("applications"), Href: b + applicationsPath},
		},
	}
	if k := r.URL.Query().Get("notice"); notices[k] {
		v.Notice = page.T(k)
	}
	if k := r.URL.Query().Get("link_error"); k == "federatedIdentityLinkedElsewhereMessage" {
		v.Error = page.T(k)
	}
	v.BackURL, v.BackName = h.referrer(w, r, c.realm)
	return v
}

// referrer is the application that sent the browser here (keycloak-js's
// accountManagement(): ?referrer=<clientId>&referrer_uri=<uri>), shown as
// a link back only when the URI is one of that client's redirect URIs,
// matched exactly as a login's would be. It is remembered for the
// console's other pages in a cookie, checked again on every use.
func (h *Handler) referrer(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) (string, string) {
	q := r.URL.Query()
	clientID, uri := q.Get("referrer"), q.Get("referrer_uri")
	fromQuery := clientID != ""
	if !fromQuery {
		ck, err := r.Cookie(cookieReferrer)
		if err != nil {
			return "", ""
		}
		v, err := url.ParseQuery(ck.Value)
		if err != nil {
			return "", ""
		}
		clientID, uri = v.Get("c"), v.Get("u")
	}
	if clientID == "" || uri == "" {
		return "", ""
	}
	c, err := h.p.Client(r.Context(), realm, clientID)
	if err != nil || !c.AllowsRedirect(realm, uri) {
		return "", ""
	}
	if fromQuery {
		h.setCookie(w, r, realm, cookieReferrer, url.Values{"c": {clientID}, "u": {uri}}.Encode(), 0)
	}
	return uri, h.clientName(r, realm, clientID)
}

// ---- personal info

func (h *Handler) personalInfoPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.browser(w, r, realm)
	if !ok {
		return
	}
	h.renderPersonalInfo(w, r, c, c.user, nil, http.StatusOK)
}

func (h *Handler) renderPersonalInfo(w http.ResponseWriter, r *http.Request, c *console, u store.User, fe *fieldError, status int) {
	s := c.realm.Settings
	v := templates.PersonalInfoView{
		AccountView: h.view(w, r, c, templates.AccountPersonalInfo), FormAction: base(r, c.realm) + "/",
		Username: u.Username, Email: u.Email, FirstName: u.FirstName, LastName: u.LastName, EmailVerified: u.EmailVerified,
		ShowUsername: !s.RegistrationEmailAsUsername, EditUsername: s.EditUsernameAllowed && !s.RegistrationEmailAsUsername,
	}
	if c.user.FederationLink != "" {
		v.CanManage = false
	}
	if c.roles["delete-account"] && actionEnabled(c.realm, "delete_account") {
		v.DeleteAction = base(r, c.realm) + "/delete-account"
	}
	if fe != nil {
		v.Error, v.ErrorField = v.T(fe.Key, anys(fe.Params)...), fe.Field
	}
	h.login.Render(w, status, templates.AccountPersonalInfoPage(v))
}

func (h *Handler) updateProfileForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	f := r.PostForm
	in := profileUpdate{}
	for k, dst := range map[string]**string{"username": &in.Username, "email": &in.Email, "firstName": &in.FirstName, "lastName": &in.LastName} {
		if _, sent := f[k]; sent {
			v := f.Get(k)
			*dst = &v
		}
	}
	_, err := h.saveProfile(r, c, in)
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		shown := c.user
		for _, x := range []struct {
			p   *string
			dst *string
		}{{in.Username, &shown.Username}, {in.Email, &shown.Email}, {in.FirstName, &shown.FirstName}, {in.LastName, &shown.LastName}} {
			if x.p != nil {
				*x.dst = *x.p
			}
		}
		h.renderPersonalInfo(w, r, c, shown, fe, http.StatusBadRequest)
		return
	case err != nil:
		h.login.StoreError(w, r, realm, "update profile", err)
		return
	}
	http.Redirect(w, r, base(r, realm)+"/?notice=accountUpdatedMessage", http.StatusSeeOther)
}

// saveProfile validates and stores a profile change of c's user, with
// Keycloak's UPDATE_PROFILE (and UPDATE_EMAIL) events.
func (h *Handler) saveProfile(r *http.Request, c *console, in profileUpdate) (store.User, error) {
	nu, changed, err := h.applyProfile(r.Context(), c.realm, c.user, in)
	if err != nil || !changed {
		return c.user, err
	}
	if err := h.st.UpdateUser(r.Context(), nu); errors.Is(err, store.ErrConflict) {
		return c.user, &fieldError{Field: "username", Key: "usernameExistsMessage"}
	} else if err != nil {
		return c.user, err
	}
	sid := ""
	if c.sso != nil {
		sid = c.sso.ID
	}
	h.p.Event(r, c.realm, store.Event{Type: "UPDATE_PROFILE", ClientID: consoleClient, UserID: nu.ID, SessionID: sid,
		Details: profileChanges(c.user, nu)})
	if nu.Email != c.user.Email {
		h.p.Event(r, c.realm, store.Event{Type: "UPDATE_EMAIL", ClientID: consoleClient, UserID: nu.ID, SessionID: sid,
			Details: map[string]string{"previous_email": c.user.Email, "updated_email": nu.Email}})
	}
	return nu, nil
}

// ---- signing in

func (h *Handler) signingInPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.browser(w, r, realm)
	if !ok {
		return
	}
	h.renderSigningIn(w, r, c, nil, http.StatusOK)
}

func (h *Handler) renderSigningIn(w http.ResponseWriter, r *http.Request, c *console, fe *fieldError, status int) {
	creds, err := h.st.ListCredentials(r.Context(), c.user.ID)
	if err != nil {
		h.login.StoreError(w, r, c.realm, "list credentials", err)
		return
	}
	b := base(r, c.realm)
	v := templates.SigningInView{AccountView: h.view(w, r, c, templates.AccountSigningIn), PasswordAction: b + signingInPath + "/password"}
	if pw, ok := hasPassword(creds); ok {
		v.PasswordSet, v.PasswordSince = true, formatTime(pw.Created)
	}
	if c.user.FederationLink != "" {
		// The directory holds the password; keygate writes it there when
		// the provider is WRITABLE (a READ_ONLY one refuses the change).
		_, canSet := h.authn.(passwordSetter)
		v.PasswordSet, v.PasswordReadOnly = true, !canSet
	}
	for _, cr := range creds {
		if cr.Type != "otp" {
			continue
		}
		label := cr.UserLabel
		if label == "" {
			label = v.T("otp-display-name")
		}
		v.OTP = append(v.OTP, templates.AccountCredential{ID: cr.ID, Label: label, Created: formatTime(cr.Created),
			RemoveAction: b + signingInPath + "/otp/" + url.PathEscape(cr.ID) + "/delete"})
	}
	v.OTPSetupAction = h.otpSetupAction(r, c.realm)
	if fe != nil {
		v.Error, v.ErrorField = v.T(fe.Key, anys(fe.Params)...), fe.Field
	}
	h.login.Render(w, status, templates.AccountSigningInPage(v))
}

// otpSetupAction is the form that sets up an authenticator: the realm's
// CONFIGURE_TOTP page run for the signed-in user (login.RunActions), back
// to the console after; "" when the realm has the action disabled.
func (h *Handler) otpSetupAction(r *http.Request, realm *oidc.Realm) string {
	if !configureTOTPEnabled(realm) {
		return ""
	}
	return base(r, realm) + signingInPath + "/otp/set-up"
}

func configureTOTPEnabled(realm *oidc.Realm) bool { return actionEnabled(realm, "CONFIGURE_TOTP") }

// actionEnabled says whether the realm enables required action alias and
// keygate has its pages.
func actionEnabled(realm *oidc.Realm, alias string) bool {
	if !login.Implemented(alias) {
		return false
	}
	for _, a := range realm.Settings.RequiredActions {
		if a.Alias == alias {
			return a.Enabled
		}
	}
	return false
}

// deleteAccount runs the realm's delete_account page (Keycloak's
// delete-account confirmation) for the signed-in user, who must hold the
// account client's delete-account role.
func (h *Handler) deleteAccount(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	if !c.roles["delete-account"] || !actionEnabled(realm, "delete_account") {
		h.login.ErrorPage(w, r, realm, http.StatusForbidden, "accountConsoleForbiddenMessage")
		return
	}
	if !h.recentLogin(w, r, c, base(r, realm)+"/") {
		return
	}
	h.login.RunActions(w, r, realm, c.user, consoleClient, []string{"delete_account"},
		login.ActionsEnd{RedirectURI: realm.Issuer + "/account/"})
}

// setUpOTP runs CONFIGURE_TOTP (the QR code, the key, a code checked
// before the device is stored) for the signed-in user, as Keycloak's
// console does through its application-initiated action, then offers the
// way back to the signing-in page.
func (h *Handler) setUpOTP(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	if !configureTOTPEnabled(realm) {
		h.login.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	if !h.recentLogin(w, r, c, base(r, realm)+signingInPath) {
		return
	}
	h.login.RunActions(w, r, realm, c.user, consoleClient, []string{"CONFIGURE_TOTP"},
		login.ActionsEnd{RedirectURI: realm.Issuer + "/account" + signingInPath})
}

// changePassword is the console's password form: the current password
// (checked as a login checks it, brute force counted), the new one twice,
// the realm's password policy (the failed rule named), stored as the
// policy says. "Sign out other devices" ends the user's other sessions.
func (h *Handler) changePassword(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	f := r.PostForm
	err := h.setPassword(r, c, f.Get("password"), f.Get("password-new"), f.Get("password-confirm"))
	var fe *fieldError
	switch {
	case errors.As(err, &fe):
		h.p.Event(r, realm, store.Event{Type: events.UpdatePasswordError, ClientID: consoleClient, UserID: c.user.ID,
			SessionID: c.sso.ID, Error: passwordEventError(fe)})
		h.renderSigningIn(w, r, c, fe, http.StatusBadRequest)
		return
	case errors.Is(err, authn.ErrBusy), errors.Is(err, password.ErrBusy):
		w.Header().Set("Retry-After", "1")
		h.login.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		return
	case errors.Is(err, federation.ErrUnavailable), errors.Is(err, authn.ErrUnavailable):
		// The directory (or the database) could not answer: not the person's fault.
		h.log.WarnContext(r.Context(), "change password: user storage unavailable", "realm", realm.Row.Name, "err", err)
		w.Header().Set("Retry-After", "5")
		h.login.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "userStorageUnavailableMessage")
		return
	case err != nil:
		h.login.StoreError(w, r, realm, "change password", err)
		return
	}
	h.p.Event(r, realm, store.Event{Type: events.UpdatePassword, ClientID: consoleClient, UserID: c.user.ID, SessionID: c.sso.ID,
		Details: map[string]string{"context": "ACCOUNT"}})
	if f.Get("logout-sessions") == "on" {
		if err := h.signOutOthers(r, c); err != nil {
			h.login.StoreError(w, r, realm, "sign out other sessions", err)
			return
		}
	}
	http.Redirect(w, r, base(r, realm)+signingInPath+"?notice=accountPasswordUpdatedMessage", http.StatusSeeOther)
}

// setPassword checks and stores a new password for c's user.
func (h *Handler) setPassword(r *http.Request, c *console, current, pw, confirm string) error {
	ctx := r.Context()
	realm := c.realm
	federated := c.user.FederationLink != ""
	if _, canSet := h.authn.(passwordSetter); federated && !canSet {
		return &fieldError{Field: "password", Key: "readOnlyPasswordMessage"}
	}
	creds, err := h.st.ListCredentials(ctx, c.user.ID)
	if err != nil {
		return err
	}
	// A directory's user always has a password there.
	if _, set := hasPassword(creds); set || federated {
		if current == "" {
			return &fieldError{Field: "password", Key: "invalidPasswordExistingMessage"}
		}
		u, err := h.authn.Authenticate(ctx, realm.Row.ID, realm.Settings, c.user.Username, current, h.p.ClientIP(r))
		if errors.Is(err, authn.ErrOTPRequired) {
			err = nil // the password is right; the session already passed the OTP step
		}
		switch {
		case errors.Is(err, authn.ErrInvalidCredentials), errors.Is(err, authn.ErrUserDisabled):
			return &fieldError{Field: "password", Key: "invalidPasswordExistingMessage"}
		case err != nil:
			return err
		case u.ID != c.user.ID:
			return &fieldError{Field: "password", Key: "invalidPasswordExistingMessage"}
		}
	}
	if pw == "" {
		return &fieldError{Field: "password-new", Key: "missingPasswordMessage"}
	}
	if pw != confirm {
		return &fieldError{Field: "password-confirm", Key: "notMatchPasswordMessage"}
	}
	var pe *password.PolicyError
	if err := h.storePassword(ctx, realm, c.user, pw); errors.As(err, &pe) {
		return &fieldError{Field: "password-new", Key: pe.Key, Params: pe.Params}
	} else if errors.Is(err, federation.ErrReadOnly) {
		return &fieldError{Field: "password", Key: "readOnlyPasswordMessage"}
	} else if err != nil {
		return err
	}
	if slices.Contains(c.user.RequiredActions, "UPDATE_PASSWORD") {
		u := c.user
		u.RequiredActions = slices.DeleteFunc(slices.Clone(u.RequiredActions), func(s string) bool { return s == "UPDATE_PASSWORD" })
		if err := h.st.UpdateUser(ctx, u); err != nil {
			h.log.WarnContext(ctx, "clear UPDATE_PASSWORD after a password change", "err", err)
		}
	}
	return nil
}

// passwordSetter is the required actions' password write (authn's
// SetPassword: policy, passwordHistory, the policy's hash), used when the
// authenticator offers it.
type passwordSetter interface {
	SetPassword(ctx context.Context, realmID string, s rep.RealmSettings, u store.User, pw string) error
}

// storePassword checks pw against the realm's policy and stores it hashed
// as the policy says (*password.PolicyError names a failed rule).
func (h *Handler) storePassword(ctx context.Context, realm *oidc.Realm, u store.User, pw string) error {
	if ps, ok := h.authn.(passwordSetter); ok {
		return ps.SetPassword(ctx, realm.Row.ID, realm.Settings, u, pw)
	}
	policy, err := password.ParsePolicy(realm.Settings.PasswordPolicy)
	if err != nil {
		policy = password.DefaultPolicy()
	}
	if err := policy.CheckNew(pw, u.Username, u.Email); err != nil {
		return err
	}
	cred, err := authn.NewPasswordCredential(ctx, h.lim, policy, u.ID, pw)
	if err != nil {
		return err
	}
	return h.st.SetPassword(ctx, u.ID, cred)
}

func passwordEventError(fe *fieldError) string {
	if fe.Field == "password" {
		return "invalid_user_credentials"
	}
	return "password_rejected"
}

func (h *Handler) removeOTPForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok || !h.recentLogin(w, r, c, base(r, realm)+signingInPath) {
		return
	}
	switch err := h.removeOTP(r, c, r.PathValue("id")); {
	case errors.Is(err, store.ErrNotFound):
		h.login.ErrorPage(w, r, realm, http.StatusNotFound, "credentialNotFoundMessage")
		return
	case err != nil:
		h.login.StoreError(w, r, realm, "remove credential", err)
		return
	}
	http.Redirect(w, r, base(r, realm)+signingInPath+"?notice=successRemovedMessage", http.StatusSeeOther)
}

// removeOTP deletes one of the user's otp credentials (ErrNotFound for
// any other id), with Keycloak's REMOVE_CREDENTIAL and REMOVE_TOTP events.
func (h *Handler) removeOTP(r *http.Request, c *console, id string) error {
	ctx := r.Context()
	creds, err := h.st.ListCredentials(ctx, c.user.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(creds, func(cr store.Credential) bool { return cr.ID == id && cr.Type == "otp" })
	if i < 0 {
		return store.ErrNotFound
	}
	if err := h.st.DeleteCredential(ctx, c.user.ID, id); err != nil {
		return err
	}
	sid := ""
	if c.sso != nil {
		sid = c.sso.ID
	}
	det := map[string]string{"credential_type": "otp", "credential_id": id, "credential_user_label": creds[i].UserLabel}
	h.p.Event(r, c.realm, store.Event{Type: "REMOVE_CREDENTIAL", ClientID: consoleClient, UserID: c.user.ID, SessionID: sid, Details: det})
	h.p.Event(r, c.realm, store.Event{Type: "REMOVE_TOTP", ClientID: consoleClient, UserID: c.user.ID, SessionID: sid, Details: det})
	return nil
}

// ---- devices and sessions

func (h *Handler) deviceActivityPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.browser(w, r, realm)
	if !ok {
		return
	}
	sessions, err := h.liveSessions(r, realm, c.user.ID, c.sso.ID)
	if err != nil {
		h.login.StoreError(w, r, realm, "list sessions", err)
		return
	}
	clients, err := h.sessionsClientIDs(r.Context(), realm, sessions)
	if err != nil {
		h.login.StoreError(w, r, realm, "list clients of sessions", err)
		return
	}
	b := base(r, realm)
	v := templates.DeviceActivityView{AccountView: h.view(w, r, c, templates.AccountDeviceActivity), SignOutOthers: b + deviceActivityPath + "/sign-out"}
	for _, s := range sessions {
		as := templates.AccountSession{ID: s.ID, IPAddress: s.IPAddress, Started: formatTime(s.Created), LastAccess: formatTime(s.LastSeen),
			StartedISO: s.Created.UTC().Format(time.RFC3339), LastAccessISO: s.LastSeen.UTC().Format(time.RFC3339),
			Expires: formatTime(sessionExpires(realm, s)), Current: s.ID == c.sso.ID, Clients: h.clientNames(r, realm, clients[s.ID])}
		if !as.Current {
			as.SignOutAction = b + deviceActivityPath + "/sign-out?" + url.Values{"session": {s.ID}}.Encode()
			v.HasOtherActive = true
		}
		v.Sessions = append(v.Sessions, as)
	}
	h.login.Render(w, http.StatusOK, templates.AccountDeviceActivityPage(v))
}

// signOutForm signs out one session (?session=id) or, without one, every
// session of the user but this one.
func (h *Handler) signOutForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageAccount)
	if !ok {
		return
	}
	notice := "signedOutOtherSessionsMessage"
	var err error
	if id := r.URL.Query().Get("session"); id != "" {
		notice = "signedOutSessionMessage"
		err = h.signOut(r, c, id)
	} else {
		err = h.signOutOthers(r, c)
	}
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.login.StoreError(w, r, realm, "sign out", err)
		return
	}
	http.Redirect(w, r, base(r, realm)+deviceActivityPath+"?notice="+notice, http.StatusSeeOther)
}

// signOut ends one of the user's sessions: its refresh tokens die with it.
// A session of another user is as good as unknown.
func (h *Handler) signOut(r *http.Request, c *console, id string) error {
	s, err := h.st.GetSession(r.Context(), c.realm.Row.ID, id)
	if err != nil {
		return err
	}
	if s.UserID != c.user.ID {
		return store.ErrNotFound
	}
	return h.endSession(r, c, id)
}

// endSession deletes session id, known to be c's user's.
func (h *Handler) endSession(r *http.Request, c *console, id string) error {
	if err := h.p.EndSession(r.Context(), c.realm.Issuer, c.realm.Row.ID, id); err != nil {
		return err
	}
	h.p.Event(r, c.realm, store.Event{Type: events.Logout, ClientID: consoleClient, UserID: c.user.ID, SessionID: id})
	return nil
}

// signOutOthers ends every session of the user but the current one.
func (h *Handler) signOutOthers(r *http.Request, c *console) error {
	sessions, err := h.st.ListUserSessions(r.Context(), c.realm.Row.ID, c.user.ID)
	if err != nil {
		return err
	}
	for _, s := range sessions {
		if c.sso != nil && s.ID == c.sso.ID {
			continue
		}
		// Listed by user: no second read to check whose it is.
		if err := h.endSession(r, c, s.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
			return err
		}
	}
	return nil
}

// liveSessions are the user's SSO sessions within the realm's lifespans,
// the current one first, then by last access.
func (h *Handler) liveSessions(r *http.Request, realm *oidc.Realm, userID, current string) ([]store.Session, error) {
	all, err := h.st.ListUserSessions(r.Context(), realm.Row.ID, userID)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	out := all[:0]
	for _, s := range all {
		idle, _ := login.SessionLifespans(realm, s)
		if now.After(s.LastSeen.Add(idle)) || now.After(sessionExpires(realm, s)) {
			continue
		}
		out = append(out, s)
	}
	slices.SortStableFunc(out, func(a, b store.Session) int {
		switch {
		case a.ID == current:
			return -1
		case b.ID == current:
			return 1
		}
		return b.LastSeen.Compare(a.LastSeen)
	})
	return out, nil
}

func sessionExpires(realm *oidc.Realm, s store.Session) time.Time {
	_, max := login.SessionLifespans(realm, s)
	return s.Created.Add(max)
}

// sessionsClientIDs are the clients signed in through each of sessions,
// by session and client id, read at once (not once per session). A store
// that cannot answer is an error for the caller to show (503), not an
// empty list.
func (h *Handler) sessionsClientIDs(ctx context.Context, realm *oidc.Realm, sessions []store.Session) (map[string][]string, error) {
	if len(sessions) == 0 {
		return map[string][]string{}, nil
	}
	ids := make([]string, len(sessions))
	for i, s := range sessions {
		ids[i] = s.ID
	}
	return h.st.ListSessionsClients(ctx, realm.Row.ID, ids)
}

// clientNames are client ids as the console shows them: the client's
// name where it has one of its own.
func (h *Handler) clientNames(r *http.Request, realm *oidc.Realm, ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		out = append(out, h.clientName(r, realm, id))
	}
	return out
}

func (h *Handler) clientName(r *http.Request, realm *oidc.Realm, id string) string {
	c, err := h.p.Client(r.Context(), realm, id)
	if err != nil || c.Settings.Name == "" {
		return id
	}
	if k := templates.ClientNameKey(c.Settings.Name); k != c.Settings.Name {
		if n := h.login.Page(r, realm).T(k); n != k {
			return n
		}
		return id
	}
	return c.Settings.Name
}

// ---- linked accounts

func (h *Handler) linkedAccountsPage(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.browser(w, r, realm)
	if !ok {
		return
	}
	accts, err := h.linkedAccounts(r, realm, c.user)
	if err != nil {
		h.login.StoreError(w, r, realm, "linked accounts", err)
		return
	}
	b := base(r, realm) + linkedAccountsPath + "/"
	v := templates.LinkedAccountsView{AccountView: h.view(w, r, c, templates.AccountLinkedAccounts), CanLink: c.may(roleManageLinks)}
	if a := r.URL.Query().Get("linked"); a != "" {
		v.Notice = v.T("identityProviderLinkedMessage")
	}
	for _, a := range accts {
		p := templates.AccountProvider{Alias: a.Alias, DisplayName: a.DisplayName, LinkedUsername: a.LinkedUsername, CanUnlink: a.canUnlink}
		if a.Connected {
			p.Action = b + url.PathEscape(a.Alias) + "/unlink"
			v.Linked = append(v.Linked, p)
		} else {
			p.Action = b + url.PathEscape(a.Alias) + "/link"
			v.Unlinked = append(v.Unlinked, p)
		}
	}
	h.login.Render(w, http.StatusOK, templates.AccountLinkedAccountsPage(v))
}

func (h *Handler) linkForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageLinks)
	if !ok {
		return
	}
	alias := r.PathValue("alias")
	if _, ok, err := h.login.LinkableProvider(r, realm, alias); err != nil {
		h.login.StoreError(w, r, realm, "link account", err)
		return
	} else if !ok {
		h.login.ErrorPage(w, r, realm, http.StatusNotFound, "identityProviderNotFoundMessage")
		return
	}
	h.login.StartLink(w, r, realm, alias, c.sso, base(r, realm)+linkedAccountsPath)
}

func (h *Handler) unlinkForm(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	c, ok := h.form(w, r, realm, roleManageLinks)
	if !ok {
		return
	}
	var fe *fieldError
	switch err := h.unlink(r, c, r.PathValue("alias")); {
	case errors.As(err, &fe):
		v := h.login.Page(r, realm)
		h.login.Render(w, http.StatusBadRequest, templates.Error(templates.ErrorView{Page: v, Title: v.T("errorTitle"),
			Message: v.T(fe.Key), Status: http.StatusBadRequest, BackURL: base(r, realm) + linkedAccountsPath}))
		return
	case err != nil:
		h.login.StoreError(w, r, realm, "unlink", err)
		return
	}
	http.Redirect(w, r, base(r, realm)+linkedAccountsPath+"?notice=unLinkSuccess", http.StatusSeeOther)
}

// linkedAccount is Keycloak's LinkedAccountRepresentation.
type linkedAccount struct {
	Connected      bool    `json:"connected"`
	Social         bool    `json:"social"`
	ProviderAlias  string  `json:"providerAlias"`
	ProviderName   string  `json:"providerName"`
	DisplayName    string  `json:"displayName"`
	GuiOrder       *string `json:"guiOrder"`
	LinkedUsername string  `json:"linkedUsername,omitempty"`

	Alias     string `json:"-"`
	canUnlink bool
}

// linkedAccounts lists the realm's enabled identity providers keygate can
// broker, with the user's link to each, by guiOrder then alias.
func (h *Handler) linkedAccounts(r *http.Request, realm *oidc.Realm, u store.User) ([]linkedAccount, error) {
	ctx := r.Context()
	rows, err := h.st.ListIdentityProviders(ctx, realm.Row.ID)
	if err != nil {
		return nil, err
	}
	links, err := h.st.ListFederatedIdentities(ctx, realm.Row.ID, u.ID)
	if err != nil {
		return nil, err
	}
	canUnlink, err := h.mayUnlink(r, u, len(links))
	if err != nil {
		return nil, err
	}
	var out []linkedAccount
	for _, row := range rows {
		name, ok, err := h.login.LinkableProvider(r, realm, row.Alias)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		a := linkedAccount{ProviderAlias: row.Alias, ProviderName: row.Alias, DisplayName: name, Alias: row.Alias, canUnlink: canUnlink}
		if g := guiOrder(row); g != "" {
			a.GuiOrder = &g
		}
		if i := slices.IndexFunc(links, func(f store.FederatedIdentity) bool { return f.Alias == row.Alias }); i >= 0 {
			a.Connected, a.LinkedUsername = true, links[i].ExternalName
		}
		out = append(out, a)
	}
	slices.SortStableFunc(out, func(a, b linkedAccount) int {
		ga, gb := "", ""
		if a.GuiOrder != nil {
			ga = *a.GuiOrder
		}
		if b.GuiOrder != nil {
			gb = *b.GuiOrder
		}
		if ga != gb {
			return strings.Compare(ga, gb)
		}
		return strings.Compare(a.Alias, b.Alias)
	})
	return out, nil
}

// mayUnlink: a link may go unless it is the only way in, as Keycloak's:
// another link, a directory account, or a password.
func (h *Handler) mayUnlink(r *http.Request, u store.User, links int) (bool, error) {
	if links > 1 || u.FederationLink != "" {
		return true, nil
	}
	creds, err := h.st.ListCredentials(r.Context(), u.ID)
	if err != nil {
		return false, err
	}
	_, ok := hasPassword(creds)
	return ok, nil
}

// unlink removes the user's link to alias, refused (fieldError) when the
// provider is unknown, the user is not linked to it, or it is the only
// way in.
func (h *Handler) unlink(r *http.Request, c *console, alias string) error {
	ctx := r.Context()
	if _, err := h.st.GetIdentityProvider(ctx, c.realm.Row.ID, alias); errors.Is(err, store.ErrNotFound) {
		return &fieldError{Key: "identityProviderNotFoundMessage"}
	} else if err != nil {
		return err
	}
	links, err := h.st.ListFederatedIdentities(ctx, c.realm.Row.ID, c.user.ID)
	if err != nil {
		return err
	}
	i := slices.IndexFunc(links, func(f store.FederatedIdentity) bool { return f.Alias == alias })
	if i < 0 {
		return &fieldError{Key: "federatedIdentityNotActiveMessage"}
	}
	ok, err := h.mayUnlink(r, c.user, len(links))
	if err != nil {
		return err
	}
	if !ok {
		return &fieldError{Key: "federatedIdentityRemovingLastProviderMessage"}
	}
	if err := h.st.RemoveFederatedIdentity(ctx, c.realm.Row.ID, c.user.ID, alias); err != nil && !errors.Is(err, store.ErrNotFound) {
		return err
	}
	sid := ""
	if c.sso != nil {
		sid = c.sso.ID
	}
	h.p.Event(r, c.realm, store.Event{Type: "REMOVE_FEDERATED_IDENTITY", ClientID: consoleClient, UserID: c.user.ID, SessionID: sid,
		Details: map[string]string{"username": c.user.Username, "identity_provider": alias, "identity_provider_identity": links[i].ExternalName}})
	return nil
}

// ---- helpers

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("January 2, 2006 at 15:04 UTC")
}

func anys(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// guiOrder is an identity provider's config.guiOrder, "" when unset.
func guiOrder(row store.IdentityProvider) string {
	p, err := rep.IdentityProviderFromStore(row)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(p.Config["guiOrder"])
}
