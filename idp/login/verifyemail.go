package login

import (
	"context"

	"github.com/a-h/templ"

	"github.com/keygate/keygate/idp/usermail"
	"github.com/keygate/keygate/templates"
)

// Required-action aliases the mail flows run.
const (
	verifyEmailAlias    = "VERIFY_EMAIL"
	updatePasswordAlias = "UPDATE_PASSWORD"
)

// VERIFY_EMAIL (Keycloak's VerifyEmail required action): when the step
// begins, a verify-email link is mailed; the page says so, re-sends on
// request, and lets the login go on once the address is verified (the
// link may be opened in this browser or any other). A realm with
// verifyEmail triggers it for users whose address is not verified.
func init() {
	RegisterAction(Action{
		Alias: verifyEmailAlias,
		Applies: func(_ context.Context, s *Step) (bool, error) {
			return s.Realm.Settings.VerifyEmail && !s.User.EmailVerified && s.User.Email != "", nil
		},
		Prepare: func(ctx context.Context, s *Step) error {
			if s.User.EmailVerified || s.User.Email == "" {
				return nil
			}
			s.H.sendVerifyEmail(ctx, s)
			return nil
		},
		Show: func(s *Step) templ.Component {
			v := templates.VerifyEmailView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken,
				Email: s.User.Email, Verified: s.User.EmailVerified, Error: s.Error}
			if k := s.Data["error"]; k != "" && v.Error == "" {
				v.Error = s.Page.T(k)
			}
			if k := s.Data["notice"]; k != "" {
				v.Notice = s.Page.T(k)
			}
			return templates.VerifyEmail(v)
		},
		Process: func(ctx context.Context, s *Step) Result {
			if s.User.EmailVerified || s.User.Email == "" {
				return Done()
			}
			if s.Form.Get("resend") != "" {
				s.H.sendVerifyEmail(ctx, s)
				return Retry("", "")
			}
			delete(s.Data, "notice")
			return Retry("", "verifyEmailMessage")
		},
	})
}

// sendVerifyEmail mails s.User a verify-email link (once per
// mailCooldown) and records the outcome for the page: "notice" when it
// went (or one went just before), "error" when the mail server failed.
func (h *Handler) sendVerifyEmail(ctx context.Context, s *Step) {
	delete(s.Data, "error")
	delete(s.Data, "notice")
	if h.mail == nil {
		s.Data["error"] = "emailSendErrorMessage"
		return
	}
	ok, err := h.cooldown(ctx, s.Realm.Row.ID, usermail.TypeVerifyEmail, s.User.ID)
	if err != nil {
		h.log.WarnContext(ctx, "verify email: cannot record the mail", "realm", s.Realm.Row.Name, "err", err)
		s.Data["error"] = "emailSendErrorMessage"
		return
	}
	if ok {
		det := map[string]string{"email": s.User.Email}
		if err := h.sendActionMail(ctx, s.Realm, s.User, usermail.Token{Type: usermail.TypeVerifyEmail, ClientID: s.ClientID},
			templates.EmailVerification); err != nil {
			// No mail went out: the resend button must work at once.
			h.clearCooldown(ctx, usermail.TypeVerifyEmail, s.User.ID)
			h.mailEvent(s.Request, s.Realm, evSendVerifyEmailError, s.ClientID, s.User.ID, "email_send_failed", det)
			s.Data["error"] = "emailSendErrorMessage"
			return
		}
		h.mailEvent(s.Request, s.Realm, evSendVerifyEmail, s.ClientID, s.User.ID, "", det)
	}
	s.Data["notice"] = "emailSentMessage"
}
