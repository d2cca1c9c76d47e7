package admin

import (
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/mail"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/idp/usermail"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// SetMail gives the API the realms' mailer: testSMTPConnection,
// execute-actions-email and send-verify-email answer 500 without it.
func (a *API) SetMail(m *usermail.Mailer) { a.mail = m }

// smtpMaskMoved refuses the masked password with another host or port
// than the stored settings': whoever may edit them, without seeing the
// password, could otherwise have keygate log in with it to a server of
// theirs (as ldapTestConfig and keepMaskedSecret refuse for the LDAP bind
// credential and an identity provider's client secret).
func smtpMaskMoved(in, stored map[string]string) error {
	if in[mail.KeyPassword] != mail.Mask || stored[mail.KeyPassword] == "" {
		return nil
	}
	for _, k := range []string{mail.KeyHost, mail.KeyPort} {
		// Exactly: strings.EqualFold takes "\u017Fmtp.example" (U+017F
		// LONG S) for smtp.example, another name to resolve.
		if strings.TrimSpace(in[k]) != strings.TrimSpace(stored[k]) {
			return fieldError("smtpServer.password", "smtpServer.password: enter the password again when "+k+" changes")
		}
	}
	return nil
}

// accountClient is the client an action link names when the request
// names none (Keycloak's Constants.ACCOUNT_MANAGEMENT_CLIENT_ID).
const accountClient = "account"

// testSMTPConnection sends Keycloak's test message with the settings in
// the body (a masked password is the stored one) to the calling
// administrator's own address: 204, or 500 {"errorMessage": "Failed to
// send email"} whatever failed, as Keycloak answers; the reason is logged.
func (a *API) testSMTPConnection(c *call) error {
	var in map[string]string
	if err := c.body(&in, maxBody); err != nil {
		return err
	}
	r, _, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	if err := smtpMaskMoved(in, r.SMTPServer); err != nil {
		return err
	}
	settings := mail.WithStoredPassword(in, r.SMTPServer)
	failed := func(reason string, err error) error {
		a.log.ErrorContext(c.ctx, "testSMTPConnection: failed to send email", "realm", c.realm.Name, "reason", reason, "err", err)
		return errMsg(http.StatusInternalServerError, "Failed to send email")
	}
	if a.mail == nil {
		return failed("this server has no mailer", nil)
	}
	var to string
	if t := c.caller.token; t != nil {
		if u, err := a.st.GetUser(c.ctx, c.caller.realmID, t.UserID); err == nil {
			to = u.Email
		} else if errors.Is(err, store.ErrUnavailable) {
			return err
		}
	}
	if to == "" {
		return failed("Logged in user does not have an e-mail.", nil)
	}
	realm, err := a.p.Resolve(c.r, c.realm.Name)
	if err != nil {
		return failed("realm", err)
	}
	if err := a.mail.SendTest(c.ctx, realm, settings, to); err != nil {
		return failed("send", err)
	}
	return c.noContent()
}

// executeActionsEmail is Keycloak's PUT users/{id}/execute-actions-email:
// the body lists required actions, the link runs them; lifespan (seconds,
// default actionTokenGeneratedByAdminLifespan), client_id (default
// "account") and redirect_uri (the client's, matched exactly) are query
// parameters. Keycloak's 400s: no email, a disabled user, redirect_uri
// without client_id, an unknown or disabled client, a redirect_uri the
// client does not allow, an unknown required action.
func (a *API) executeActionsEmail(c *call) error {
	var actions []string
	if len(c.r.Header.Get("Content-Length")) > 0 || c.r.ContentLength != 0 {
		if err := c.body(&actions, maxBody); err != nil {
			return err
		}
	}
	for _, act := range actions {
		if !validRequiredAction(c.realm, act) {
			return badRequest("Provided invalid required actions")
		}
	}
	return a.sendActionMail(c, usermail.TypeExecuteActions, actions, func(realm *oidc.Realm) time.Duration {
		return realm.Settings.ActionTokenGeneratedByAdminLifespan
	})
}

// sendVerifyEmail is Keycloak's PUT users/{id}/send-verify-email: a
// verify-email link (lifespan default actionTokenGeneratedByUserLifespan
// of verify-email), with execute-actions-email's parameters and checks.
func (a *API) sendVerifyEmail(c *call) error {
	return a.sendActionMail(c, usermail.TypeVerifyEmail, nil, func(realm *oidc.Realm) time.Duration {
		return usermail.Lifespan(realm, usermail.TypeVerifyEmail)
	})
}

func (a *API) sendActionMail(c *call, typ string, actions []string, defLifespan func(*oidc.Realm) time.Duration) error {
	u, err := a.user(c)
	if err != nil {
		return err
	}
	q := c.r.URL.Query()
	redirectURI, clientID := q.Get("redirect_uri"), q.Get("client_id")
	var lifespan time.Duration
	if v := q.Get("lifespan"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n <= 0 {
			return badRequest("Invalid value for query parameter lifespan")
		}
		lifespan = time.Duration(n) * time.Second
	}
	if u.Email == "" {
		return badRequest("User email missing")
	}
	if !u.Enabled {
		return badRequest("User is disabled")
	}
	if redirectURI != "" && clientID == "" {
		return badRequest("Client id missing")
	}
	if clientID == "" {
		clientID = accountClient
	}
	realm, err := a.p.Resolve(c.r, c.realm.Name)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		return badRequest("Realm is disabled")
	}
	cl, err := a.p.Client(c.ctx, realm, clientID)
	if err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return err
		}
		return badRequest("Client doesn't exist")
	}
	if !cl.Settings.Enabled {
		return badRequest("Client is not enabled")
	}
	if redirectURI != "" && !cl.AllowsRedirect(realm, redirectURI) {
		return badRequest("Invalid redirect uri.")
	}
	if lifespan == 0 {
		lifespan = defLifespan(realm)
	}
	key, err := usermail.Issue(realm, usermail.Token{Type: typ, UserID: u.ID, Email: u.Email, Actions: actions,
		RedirectURI: redirectURI, ClientID: clientID, Expires: time.Now().Add(lifespan)})
	if err != nil {
		return err
	}
	what, kind := "Failed to send execute actions email", templates.EmailExecuteActions
	if typ == usermail.TypeVerifyEmail {
		what, kind = "Failed to send verify email", templates.EmailVerification
	}
	if a.mail == nil {
		a.log.ErrorContext(c.ctx, "admin API: no mailer", "realm", c.realm.Name)
		return errMsg(http.StatusInternalServerError, what)
	}
	if err := a.mail.Send(c.ctx, realm, u, kind, usermail.Link(realm, key, clientID), lifespan, actions); err != nil {
		// The mailer logged why, for the administrator.
		return errMsg(http.StatusInternalServerError, what)
	}
	return c.noContent()
}

// validRequiredAction reports whether name is a required action the
// realm has registered and enabled (Keycloak's required-action providers;
// the defaults when the realm lists none).
func validRequiredAction(row store.Realm, name string) bool {
	r, _, err := rep.DecodeRealm(row)
	if err != nil {
		return false
	}
	for _, p := range r.RequiredActionProviders() {
		if p.Alias == name {
			return p.Enabled
		}
	}
	return false
}

// maskRealm hides the realm's SMTP password as Keycloak shows it.
func maskRealm(r *rep.Realm) { r.SMTPServer = mail.Masked(r.SMTPServer) }
