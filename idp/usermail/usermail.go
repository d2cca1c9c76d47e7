// Package usermail is the mail a realm sends its users and the links in
// it: Keycloak's action tokens (reset-credentials, verify-email,
// execute-actions) signed with the realm's internal HMAC key, spent once
// in the store (so every replica refuses a second use), and the mails
// that carry them, rendered in the user's language and sent with the
// realm's smtpServer settings.
package usermail

import (
	"context"
	"errors"
	"log/slog"
	"net/url"
	"strconv"
	"time"

	"github.com/keygate/keygate/idp/mail"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// Mailer sends a realm's mail to its users.
type Mailer struct {
	Sender *mail.Sender
	Log    *slog.Logger
}

// ErrNoEmail: the user has no email address to send to.
var ErrNoEmail = errors.New("usermail: the user has no email address")

// Send renders the mail kind (templates.EmailPasswordReset, ...) for user
// with link and sends it with the realm's smtpServer settings. A failure
// is logged for the administrator (realm, kind, SMTP host and the step
// that failed; never the link, the body or the password) and returned.
func (m *Mailer) Send(ctx context.Context, realm *oidc.Realm, user store.User, kind, link string, lifespan time.Duration, actions []string) error {
	if user.Email == "" {
		return ErrNoEmail
	}
	s, err := mail.Parse(realm.Rep.SMTPServer)
	if err != nil {
		m.log().WarnContext(ctx, "mail not sent: the realm's smtpServer settings are incomplete or invalid",
			"realm", realm.Row.Name, "mail", kind, "err", err)
		return err
	}
	e, err := templates.RenderEmail(ctx, kind, templates.EmailView{
		Loc: localizer(realm, user), RealmName: realmName(realm), Link: link, Lifespan: lifespan, Actions: actions,
	})
	if err != nil {
		return err
	}
	err = m.Sender.Send(ctx, s, mail.Message{To: user.Email, Subject: e.Subject, Text: e.Text, HTML: e.HTML})
	if err != nil {
		m.log().ErrorContext(ctx, "failed to send email", "realm", realm.Row.Name, "mail", kind,
			"smtp_host", s.Host, "err", err)
	}
	return err
}

// SendTest sends Keycloak's SMTP test message to addr with settings
// (testSMTPConnection).
func (m *Mailer) SendTest(ctx context.Context, realm *oidc.Realm, settings map[string]string, addr string) error {
	s, err := mail.Parse(settings)
	if err != nil {
		return err
	}
	e, err := templates.RenderEmail(ctx, templates.EmailTest, templates.EmailView{RealmName: realmName(realm)})
	if err != nil {
		return err
	}
	return m.Sender.Send(ctx, s, mail.Message{To: addr, Subject: e.Subject, Text: e.Text, HTML: e.HTML})
}

// Probe opens an SMTP session with the realm's settings and ends it
// without sending: the same connection, TLS and authentication cost as a
// send, for requests that must not reveal whether a mail went out.
func (m *Mailer) Probe(ctx context.Context, realm *oidc.Realm) error {
	s, err := mail.Parse(realm.Rep.SMTPServer)
	if err != nil {
		return err
	}
	return m.Sender.Probe(ctx, s)
}

func (m *Mailer) log() *slog.Logger {
	if m.Log == nil {
		return slog.Default()
	}
	return m.Log
}

// Configured reports whether the realm can send mail at all.
func Configured(realm *oidc.Realm) bool { return mail.Configured(realm.Rep.SMTPServer) }

// realmName is how mails name the realm: its display name, else its name.
func realmName(realm *oidc.Realm) string {
	if realm.Settings.DisplayName != "" {
		return realm.Settings.DisplayName
	}
	return realm.Row.Name
}

// localizer is the language of a mail as Keycloak picks it: English when
// the realm has internationalization off, else the user's "locale"
// attribute, else the realm's default; the realm's localizationTexts for
// that language override the catalog, as on its pages.
func localizer(realm *oidc.Realm, user store.User) *templates.Localizer {
	lang := "en"
	if realm.Settings.InternationalizationEnabled {
		if realm.Settings.DefaultLocale != "" {
			lang = realm.Settings.DefaultLocale
		}
		if v := user.Attributes["locale"]; len(v) > 0 && v[0] != "" {
			lang = v[0]
		}
	}
	return templates.NewLocalizer(lang, realm.Rep.LocalizationTexts[lang])
}

// Link is the action-token URL Keycloak mails:
// {base}/realms/{realm}/login-actions/action-token?key=...&client_id=...
func Link(realm *oidc.Realm, key, clientID string) string {
	// key first, as Keycloak lays it out (url.Values would sort it last).
	link := realm.Issuer + "/login-actions/action-token?key=" + url.QueryEscape(key)
	if clientID != "" {
		link += "&client_id=" + url.QueryEscape(clientID)
	}
	return link
}

// Lifespan is how long a user-requested token of typ lives: the realm's
// attribute actionTokenGeneratedByUserLifespan.<typ> (seconds) when set,
// else actionTokenGeneratedByUserLifespan, as Keycloak resolves it.
func Lifespan(realm *oidc.Realm, typ string) time.Duration {
	if v, ok := realm.Settings.Attributes["actionTokenGeneratedByUserLifespan."+typ]; ok {
		if n, err := strconv.Atoi(v); err == nil && n > 0 {
			return time.Duration(n) * time.Second
		}
	}
	return realm.Settings.ActionTokenGeneratedByUserLifespan
}
