package login

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/usermail"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Mail flows (issue 12 §4): "Forgot Password?" (Keycloak's
// reset-credentials), the links mailed with action tokens (reset
// password, verify email, execute actions) and the VERIFY_EMAIL required
// action (verifyemail.go).

// Sending limits: one mail of a kind per user per mailCooldown (shared by
// every replica through the store), and mailsPerIP reset requests per
// minute from one address, or IPv6 /64 (this replica's count).
const (
	mailCooldown = 60 * time.Second
	mailsPerIP   = 10
	maxMailAddrs = 10000            // networks counted in a minute (allowIP)
	mailTimeout  = 10 * time.Second // mail.DefaultTimeout
)

// Keycloak's event types of the mail flows.
const (
	evSendResetPassword      = "SEND_RESET_PASSWORD"
	evSendResetPasswordError = "SEND_RESET_PASSWORD_ERROR"
	evSendVerifyEmail        = "SEND_VERIFY_EMAIL"
	evSendVerifyEmailError   = "SEND_VERIFY_EMAIL_ERROR"
	evVerifyEmail            = "VERIFY_EMAIL"
	evActionToken            = "EXECUTE_ACTION_TOKEN"
	evActionTokenError       = "EXECUTE_ACTION_TOKEN_ERROR"
)

// mailEvent records a mail flow's event (never a link or a token).
func (h *Handler) mailEvent(r *http.Request, realm *oidc.Realm, typ, clientID, userID, errCode string, det map[string]string) {
	h.oidc.Event(r, realm, store.Event{Type: typ, ClientID: clientID, UserID: userID, Error: errCode, Details: det})
}

// mailFlow is what the mail flows need: the realms' mailer and the
// per-address request counts of the current minute.
type mailFlow struct {
	mailer *usermail.Mailer
	mu     sync.Mutex
	minute int64          // the minute perIP counts (Unix time / 60)
	perIP  map[string]int // by network (mailNetwork)
}

// SetMail gives the browser flow the realms' mailer: without it the
// "Forgot Password?" link is not shown and mails cannot be sent.
func (h *Handler) SetMail(m *usermail.Mailer) {
	h.mail = newMailFlow(m)
}

func newMailFlow(m *usermail.Mailer) *mailFlow {
	return &mailFlow{mailer: m, perIP: map[string]int{}}
}

func (h *Handler) registerMail(mux *http.ServeMux) {
	const la = "/realms/{realm}/login-actions/"
	mux.HandleFunc("GET "+la+"reset-credentials", h.oidc.RealmHandler(h.resetCredentials))
	mux.HandleFunc("POST "+la+"reset-credentials", h.oidc.RealmHandler(h.resetCredentials))
	mux.HandleFunc("GET "+la+"action-token", h.oidc.RealmHandler(h.actionToken))
	mux.HandleFunc("POST "+la+"action-token", h.oidc.RealmHandler(h.actionToken))
}

// resetAllowed: the realm lets people reset their password by mail
// (resetPasswordAllowed) and has the page that sets the new one
// (UPDATE_PASSWORD enabled), and this server can send mail.
func (h *Handler) resetAllowed(realm *oidc.Realm) bool {
	if h.mail == nil || !realm.Settings.ResetPasswordAllowed || !Implemented(updatePasswordAlias) {
		return false
	}
	for _, p := range realm.Settings.RequiredActions {
		if p.Alias == updatePasswordAlias {
			return p.Enabled
		}
	}
	return false
}

// resetPasswordURL is the login form's "Forgot Password?" link for
// attempt id, "" when the realm does not allow resetting passwords.
func (h *Handler) resetPasswordURL(r *http.Request, realm *oidc.Realm, clientID, id string) string {
	if !h.resetAllowed(realm) {
		return ""
	}
	return realmPath(r, realm) + "login-actions/reset-credentials?" + url.Values{"session_code": {id}, "client_id": {clientID}}.Encode()
}

// allowIP counts a mail request from ip's network; false past mailsPerIP
// in the minute. The counts start over each minute, so a request costs
// the same however many addresses asked; past maxMailAddrs networks in a
// minute a new one is refused rather than counted, so a flood from many
// addresses neither grows memory nor gets through uncounted.
func (m *mailFlow) allowIP(ip string) bool {
	key := mailNetwork(ip)
	m.mu.Lock()
	defer m.mu.Unlock()
	if now := time.Now().Unix() / 60; now != m.minute {
		m.minute = now
		clear(m.perIP)
	}
	n, seen := m.perIP[key]
	if !seen && len(m.perIP) >= maxMailAddrs {
		return false
	}
	m.perIP[key] = n + 1
	return n+1 <= mailsPerIP
}

// mailNetwork is what allowIP counts ip under: an IPv4 address, or the
// /64 of an IPv6 one, the least a single IPv6 client is given (it could
// otherwise use a fresh address for every request).
func mailNetwork(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	if a = a.Unmap(); a.Is6() {
		return netip.PrefixFrom(a, 64).Masked().String()
	}
	return a.String()
}

// cooldown reserves the next mail of kind to userID: false when one went
// out within mailCooldown (on any replica).
func (h *Handler) cooldown(ctx context.Context, realmID, kind, userID string) (bool, error) {
	sig := "mail:" + kind + ":" + userID
	now := time.Now()
	rec := store.Token{Kind: store.KindReplay, Signature: sig, RequestID: sig, RealmID: realmID, Subject: userID,
		Active: true, Requested: now, Expires: now.Add(mailCooldown)}
	err := h.st.CreateToken(ctx, rec)
	if errors.Is(err, store.ErrConflict) {
		old, gerr := h.st.GetToken(ctx, store.KindReplay, sig)
		switch {
		case errors.Is(gerr, store.ErrNotFound):
			// Swept meanwhile: take the free place.
		case gerr != nil:
			// A store that cannot say is not "one went out just now".
			return false, gerr
		case now.Before(old.Expires):
			return false, nil
		default:
			// Expired but not yet swept: take its place.
			if derr := h.st.DeleteToken(ctx, store.KindReplay, sig); derr != nil && !errors.Is(derr, store.ErrNotFound) {
				return false, derr
			}
		}
		err = h.st.CreateToken(ctx, rec)
		if errors.Is(err, store.ErrConflict) {
			return false, nil
		}
	}
	return err == nil, err
}

// clearCooldown gives back the reservation cooldown made for a mail that
// did not go out, so the user may ask again at once.
func (h *Handler) clearCooldown(ctx context.Context, kind, userID string) {
	if err := h.st.DeleteToken(ctx, store.KindReplay, "mail:"+kind+":"+userID); err != nil && !errors.Is(err, store.ErrNotFound) {
		h.log.WarnContext(ctx, "mail cooldown not cleared after a failed send", "kind", kind, "user", userID, "err", err)
	}
}

// signedCSRF is a form token for purpose bound to subject (an attempt
// or an action token), verified statelessly like the logout form's.
func signedCSRF(realm *oidc.Realm, purpose, subject string, exp time.Time) string {
	tok, err := realm.SignInternal(map[string]any{"typ": purpose, "sid": subject, "exp": exp.Unix()})
	if err != nil {
		return ""
	}
	return tok
}

func signedCSRFValid(realm *oidc.Realm, purpose, subject, tok string) bool {
	claims, err := realm.VerifyInternal(tok)
	if err != nil || strClaim(claims, "typ") != purpose {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(strClaim(claims, "sid")), []byte(subject)) == 1
}

// restartURL starts the attempt's authorization request again: the login
// form, fresh ("« Back to Login").
func restartURL(r *http.Request, realm *oidc.Realm, at attemptRecord) string {
	return realmPath(r, realm) + "protocol/openid-connect/auth?" + at.Query
}

// resetCredentials is Keycloak's login-actions/reset-credentials: GET the
// "Forgot Your Password?" form of the browser's login attempt, POST a
// username or email. The answer is the same whether or not such a user
// exists (and takes about as long: an unknown user costs an SMTP session
// without a message); a known, enabled user with an address gets a
// reset-credentials link.
func (h *Handler) resetCredentials(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	if !h.resetAllowed(realm) {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "resetCredentialNotAllowedMessage")
		return
	}
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	id, _, at, ok := h.openAttempt(w, r, realm, "reset credentials")
	if !ok {
		return
	}
	clientID := r.URL.Query().Get("client_id")
	action := h.resetPasswordURL(r, realm, clientID, id)
	csrf := signedCSRF(realm, "reset-csrf", id, at.Created.Add(realm.Settings.AccessCodeLifespanLogin))
	view := func(username, errKey string) templates.ResetPasswordView {
		v := templates.ResetPasswordView{Page: h.page(r, realm), FormAction: action, CSRFToken: csrf, Username: username,
			LoginWithEmail: realm.Settings.LoginWithEmailAllowed, LoginURL: restartURL(r, realm, at)}
		if errKey != "" {
			v.Error = v.T(errKey)
		}
		return v
	}
	if r.Method == http.MethodGet {
		h.render(w, http.StatusOK, templates.ResetPassword(view("", "")))
		return
	}
	if !signedCSRFValid(realm, "reset-csrf", id, r.PostForm.Get("csrf_token")) {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return
	}
	username := strings.TrimSpace(r.PostForm.Get("username"))
	if username == "" {
		h.render(w, http.StatusOK, templates.ResetPassword(view("", "missingUsernameMessage")))
		return
	}
	ip := h.oidc.ClientIP(r)
	sent := func() {
		p := h.page(r, realm)
		h.render(w, http.StatusOK, templates.Info(templates.InfoView{Page: p, Title: p.T("emailForgotTitle"),
			Message: p.T("emailSentMessage"), BackURL: restartURL(r, realm, at)}))
	}
	if !h.mail.allowIP(ip) {
		// Said as for a sent mail: the limit must not tell which names exist.
		h.log.WarnContext(ctx, "reset credentials: too many requests from one address, none mailed", "realm", realm.Row.Name, "ip", ip)
		sent()
		return
	}
	u, err := h.findResetUser(ctx, realm, username)
	if err != nil {
		h.storeError(w, r, realm, "reset credentials", err)
		return
	}
	send := u != nil && u.Enabled && u.Email != ""
	// Every name costs the store what a mailable user's does: the
	// cooldown of a name that mails nothing is kept under a hash of the
	// name, so neither the answer's timing nor a store failure tells which
	// names exist.
	subject := nameCooldown(realm, username)
	if send {
		subject = u.ID
	}
	free, err := h.cooldown(ctx, realm.Row.ID, usermail.TypeResetCredentials, subject)
	if err != nil {
		h.storeError(w, r, realm, "reset credentials", err)
		return
	}
	send = send && free
	// Everyone's request costs one SMTP session (and fails alike when the
	// server is down); the mail itself goes out after the answer, so how
	// long the answer takes does not tell whether the name exists.
	det := map[string]string{"auth_method": "openid-connect", "auth_type": "code", "username": username}
	if err := h.mail.mailer.Probe(ctx, realm); err != nil {
		h.log.ErrorContext(ctx, "reset credentials: failed to send email: the mail server is unusable", "realm", realm.Row.Name, "err", err)
		h.mailEvent(r, realm, evSendResetPasswordError, clientID, "", "email_send_failed", det)
		w.Header().Set("Retry-After", "60")
		h.render(w, http.StatusServiceUnavailable, templates.ResetPassword(view(username, "emailSendErrorMessage")))
		return
	}
	switch {
	case u == nil:
		h.mailEvent(r, realm, evSendResetPasswordError, clientID, "", "user_not_found", det)
	case !u.Enabled:
		h.mailEvent(r, realm, evSendResetPasswordError, clientID, u.ID, "user_disabled", det)
	case u.Email == "":
		h.mailEvent(r, realm, evSendResetPasswordError, clientID, u.ID, "invalid_email", det)
	case send:
		det["email"] = u.Email
		h.mailEvent(r, realm, evSendResetPassword, clientID, u.ID, "", det)
	}
	if send {
		user, clientID, attempt := *u, clientID, usermail.AttemptHash(id)
		go func() {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 2*mailTimeout)
			defer cancel()
			// The mailer logs a failure for the administrator; the user
			// may ask again at once.
			if err := h.sendActionMail(ctx, realm, user, usermail.Token{Type: usermail.TypeResetCredentials, ClientID: clientID,
				Attempt: attempt}, templates.EmailPasswordReset); err != nil {
				h.clearCooldown(ctx, usermail.TypeResetCredentials, user.ID)
			}
		}()
	}
	sent()
}

// nameCooldown is the cooldown subject of a reset request for a name
// that mails nothing: a hash of the realm and the name, no user id.
func nameCooldown(realm *oidc.Realm, name string) string {
	sum := sha256.Sum256([]byte(realm.Row.ID + "\x00" + strings.ToLower(name)))
	return "name:" + hex.EncodeToString(sum[:16])
}

// findResetUser is the user a reset form names: by username, else by
// email when the realm lets people sign in with it; nil for none.
func (h *Handler) findResetUser(ctx context.Context, realm *oidc.Realm, name string) (*store.User, error) {
	u, err := h.st.GetUserByUsername(ctx, realm.Row.ID, strings.ToLower(name))
	if errors.Is(err, store.ErrNotFound) && realm.Settings.LoginWithEmailAllowed && strings.Contains(name, "@") {
		u, err = h.st.GetUserByEmail(ctx, realm.Row.ID, strings.ToLower(name))
	}
	if errors.Is(err, store.ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	if u.ServiceAccount != "" {
		return nil, nil
	}
	return &u, nil
}

// sendActionMail issues t for user (lifespan per the realm, for the
// token's type) and mails its link as kind.
func (h *Handler) sendActionMail(ctx context.Context, realm *oidc.Realm, user store.User, t usermail.Token, kind string) error {
	lifespan := usermail.Lifespan(realm, t.Type)
	t.UserID, t.Email, t.Expires = user.ID, user.Email, time.Now().Add(lifespan)
	if t.Type == usermail.TypeResetCredentials {
		var err error
		if t.PasswordStamp, err = h.passwordStamp(ctx, user.ID); err != nil {
			return err
		}
	}
	key, err := usermail.Issue(realm, t)
	if err != nil {
		return err
	}
	return h.mail.mailer.Send(ctx, realm, user, kind, usermail.Link(realm, key, t.ClientID), lifespan, t.Actions)
}

// passwordStamp is usermail.PasswordStamp of userID's credentials (the
// same for every user of a store that keeps none).
func (h *Handler) passwordStamp(ctx context.Context, userID string) (string, error) {
	cs := h.credentials()
	if cs == nil {
		return usermail.PasswordStamp(nil), nil
	}
	creds, err := cs.ListCredentials(ctx, userID)
	if err != nil {
		return "", err
	}
	return usermail.PasswordStamp(creds), nil
}

// actionToken is Keycloak's login-actions/action-token: GET shows what
// the mailed link will do and asks to proceed (so mail scanners that
// fetch links spend nothing), POST spends the token once, on any replica,
// and does it.
func (h *Handler) actionToken(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	key := r.URL.Query().Get("key")
	if r.Method == http.MethodPost {
		key = r.PostForm.Get("key")
	}
	t, err := usermail.Verify(realm, key)
	switch {
	case errors.Is(err, usermail.ErrExpired):
		h.mailEvent(r, realm, evActionTokenError, t.ClientID, t.UserID, "expired_code", map[string]string{"action": t.Type})
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredActionTokenNoSessionMessage")
		return
	case err != nil:
		h.mailEvent(r, realm, evActionTokenError, r.URL.Query().Get("client_id"), "", "invalid_code", nil)
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	u, err := h.st.GetUser(ctx, realm.Row.ID, t.UserID)
	if errors.Is(err, store.ErrNotFound) || err == nil && store.ASCIILower(u.Email) != store.ASCIILower(t.Email) {
		// Gone, or its address changed since the mail went out (an
		// address strings.EqualFold takes for it, U+017F onto s, is
		// another mailbox).
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	if err != nil {
		h.storeError(w, r, realm, "action token", err)
		return
	}
	if !u.Enabled {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		return
	}
	if t.Type == usermail.TypeResetCredentials {
		// A password changed since the mail went out voids the link.
		stamp, err := h.passwordStamp(ctx, u.ID)
		if err != nil {
			h.storeError(w, r, realm, "action token", err)
			return
		}
		if subtle.ConstantTimeCompare([]byte(stamp), []byte(t.PasswordStamp)) != 1 {
			// Also what a link used once says: its own use set a password.
			h.mailEvent(r, realm, evActionTokenError, t.ClientID, t.UserID, "expired_code", map[string]string{"action": t.Type})
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredActionTokenNoSessionMessage")
			return
		}
	}
	if t.Type == usermail.TypeResetCredentials && !h.resetAllowed(realm) {
		// Turned off since the mail went out: the link would sign in
		// without a new password.
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "resetCredentialNotAllowedMessage")
		return
	}
	if t.Type == usermail.TypeExecuteActions {
		for _, a := range t.Actions {
			if !Implemented(a) {
				h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidTokenRequiredActions")
				return
			}
		}
	}
	if r.Method == http.MethodGet {
		spent, err := usermail.Spent(ctx, h.st, t)
		if err != nil {
			h.storeError(w, r, realm, "action token", err)
			return
		}
		if spent {
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredActionTokenNoSessionMessage")
			return
		}
		h.confirmActionToken(w, r, realm, t, u, key)
		return
	}
	if !signedCSRFValid(realm, "action-token-csrf", t.ID, r.PostForm.Get("csrf_token")) {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return
	}
	if err := usermail.Spend(ctx, h.st, realm.Row.ID, t); err != nil {
		if errors.Is(err, usermail.ErrSpent) {
			h.mailEvent(r, realm, evActionTokenError, t.ClientID, t.UserID, "expired_code", map[string]string{"action": t.Type})
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "expiredActionTokenNoSessionMessage")
			return
		}
		h.storeError(w, r, realm, "action token", err)
		return
	}
	h.mailEvent(r, realm, evActionToken, t.ClientID, t.UserID, "", map[string]string{"action": t.Type})
	switch t.Type {
	case usermail.TypeResetCredentials:
		h.resetFromToken(w, r, realm, t, u)
	case usermail.TypeVerifyEmail:
		h.verifyFromToken(w, r, realm, t, u)
	case usermail.TypeExecuteActions:
		actions := t.Actions
		// The link proves the address: VERIFY_EMAIL is done by opening it.
		if slices.Contains(actions, verifyEmailAlias) {
			if err := h.markEmailVerified(ctx, &u); err != nil {
				h.storeError(w, r, realm, "action token", err)
				return
			}
			actions = slices.DeleteFunc(slices.Clone(actions), func(a string) bool { return a == verifyEmailAlias })
		}
		h.RunActions(w, r, realm, u, t.ClientID, actions, ActionsEnd{RedirectURI: h.tokenRedirect(ctx, realm, t)})
	}
}

// confirmActionToken shows what the link will do, with the button that
// posts it back.
func (h *Handler) confirmActionToken(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, t usermail.Token, u store.User, key string) {
	p := h.page(r, realm)
	v := templates.ActionTokenConfirmView{Page: p, Key: key, CSRFToken: signedCSRF(realm, "action-token-csrf", t.ID, t.Expires),
		FormAction: realmPath(r, realm) + "login-actions/action-token?" + url.Values{"client_id": {t.ClientID}}.Encode()}
	switch t.Type {
	case usermail.TypeVerifyEmail:
		v.Title, v.Message = p.T("emailVerifyTitle"), p.T("confirmEmailAddressVerification", u.Email)
	case usermail.TypeResetCredentials:
		v.Title, v.Actions = p.T("confirmExecutionOfActions"), []string{p.T("requiredAction.UPDATE_PASSWORD")}
	default:
		v.Title = p.T("confirmExecutionOfActions")
		for _, a := range t.Actions {
			v.Actions = append(v.Actions, p.T("requiredAction."+a))
		}
	}
	h.render(w, http.StatusOK, templates.ActionTokenConfirm(v))
}

// resetFromToken runs UPDATE_PASSWORD for the link's user: in the browser
// whose login attempt asked for the mail (and while it is open), then
// that login goes on to the application; elsewhere as a flow of its own
// that ends on "Your account has been updated".
func (h *Handler) resetFromToken(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, t usermail.Token, u store.User) {
	ctx := r.Context()
	if ck, err := r.Cookie(cookieAttempt); err == nil && t.Attempt != "" &&
		subtle.ConstantTimeCompare([]byte(usermail.AttemptHash(ck.Value)), []byte(t.Attempt)) == 1 {
		_, at, err := h.loginAttempt(ctx, r, realm, ck.Value)
		if err == nil {
			// Spent here, or by another tab just before (then the flow
			// runs on its own below); a store that cannot say is a 503.
			err = h.st.DeactivateToken(ctx, store.KindLogin, ck.Value)
		}
		if err == nil {
			form, err := url.ParseQuery(at.Query)
			if err != nil {
				h.expiredPage(w, r, realm)
				return
			}
			req, ok := h.oidc.ParseAuthorizeRequest(w, r, realm, form)
			if !ok {
				return
			}
			if !slices.Contains(u.RequiredActions, updatePasswordAlias) {
				u.RequiredActions = append(slices.Clone(u.RequiredActions), updatePasswordAlias)
			}
			h.CompleteLogin(w, r, realm, &Attempt{ID: ck.Value, Request: req, Started: at.Created}, u,
				Details{ACR: acrCredential, AuthTime: time.Now()})
			return
		}
		if errors.Is(err, store.ErrUnavailable) {
			h.storeError(w, r, realm, "action token", err)
			return
		}
	}
	h.RunActions(w, r, realm, u, t.ClientID, []string{updatePasswordAlias},
		ActionsEnd{RedirectURI: h.tokenRedirect(ctx, realm, t), Message: "accountPasswordUpdatedMessage"})
}

// verifyFromToken marks the address verified and says so.
func (h *Handler) verifyFromToken(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, t usermail.Token, u store.User) {
	msg := "emailVerifiedAlreadyMessage"
	if !u.EmailVerified || slices.Contains(u.RequiredActions, verifyEmailAlias) {
		if err := h.markEmailVerified(r.Context(), &u); err != nil {
			h.storeError(w, r, realm, "verify email", err)
			return
		}
		h.mailEvent(r, realm, evVerifyEmail, t.ClientID, u.ID, "", map[string]string{"email": u.Email})
		msg = "emailVerifiedMessage"
	}
	p := h.page(r, realm)
	h.render(w, http.StatusOK, templates.Info(templates.InfoView{Page: p, Title: p.T("emailVerifyTitle"), Message: p.T(msg),
		BackURL: h.tokenRedirect(r.Context(), realm, t)}))
}

// markEmailVerified sets u's emailVerified and drops a pending
// VERIFY_EMAIL.
func (h *Handler) markEmailVerified(ctx context.Context, u *store.User) error {
	u.EmailVerified = true
	u.RequiredActions = slices.DeleteFunc(slices.Clone(u.RequiredActions), func(a string) bool { return a == verifyEmailAlias })
	return h.st.UpdateUser(ctx, *u)
}

// tokenRedirect is the token's redirect_uri if its client still allows
// it, else "".
func (h *Handler) tokenRedirect(ctx context.Context, realm *oidc.Realm, t usermail.Token) string {
	if t.RedirectURI == "" || t.ClientID == "" {
		return ""
	}
	c, err := h.oidc.Client(ctx, realm, t.ClientID)
	if err != nil || !c.Settings.Enabled || !c.AllowsRedirect(realm, t.RedirectURI) {
		return ""
	}
	return t.RedirectURI
}
