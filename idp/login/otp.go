package login

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/google/uuid"
	potp "github.com/pquerna/otp"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/events"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/otp"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// One-time passwords in the browser: the OTP form after the password
// (Keycloak's browser flow, conditional OTP: a pre-step for users with an
// `otp` credential) and the CONFIGURE_TOTP required action.

// otpFormAlias names the OTP form's pre-step.
const otpFormAlias = "OTP_FORM"

func init() {
	RegisterAction(Action{Alias: otpFormAlias, Pre: true, Applies: otpFormApplies, Show: showOTPForm, Process: processOTPForm})
	RegisterAction(Action{Alias: "CONFIGURE_TOTP", Prepare: prepareConfigureTOTP, Show: showConfigureTOTP, Process: processConfigureTOTP})
}

// otpAuthenticator is what the OTP pages need of the Authenticator
// (idp/authn): the OTP step, counted by brute-force protection, and the
// verifier (for the --db-key sealer and spending a setup's code).
type otpAuthenticator interface {
	VerifyOTP(ctx context.Context, realmID string, s rep.RealmSettings, user store.User, credID, code, ip string) (store.User, error)
	OTP() *otp.Verifier
}

// credentialStore is the part of the store the OTP pages use.
type credentialStore interface {
	ListCredentials(ctx context.Context, userID string) ([]store.Credential, error)
	CreateCredential(ctx context.Context, c store.Credential) error
}

func (h *Handler) otpAuthn() otpAuthenticator {
	a, _ := h.authn.(otpAuthenticator)
	if a == nil || a.OTP() == nil {
		return nil
	}
	return a
}

func (h *Handler) credentials() credentialStore {
	c, _ := h.st.(credentialStore)
	return c
}

// errNoOTP: the handler was built without OTP support (tests' fakes); the
// pages then fail closed.
var errNoOTP = errors.New("login: one-time passwords are not wired")

// userOTPs lists the user's OTP credentials, the default one first.
func (h *Handler) userOTPs(ctx context.Context, userID string) ([]store.Credential, error) {
	cs := h.credentials()
	if cs == nil {
		return nil, errNoOTP
	}
	creds, err := cs.ListCredentials(ctx, userID)
	if err != nil {
		return nil, err
	}
	return otp.Of(creds), nil
}

// otpFormApplies: a user who has an OTP device and just presented a
// password (not an identity provider's login) is asked for a code.
func otpFormApplies(ctx context.Context, s *Step) (bool, error) {
	if s.Details.IdentityProvider != "" || s.H.otpAuthn() == nil {
		// Without a verifier the password step never asks for a code
		// either (authn answers no ErrOTPRequired).
		return false, nil
	}
	// A store that cannot list credentials fails the login (closed).
	otps, err := s.H.userOTPs(ctx, s.User.ID)
	return len(otps) > 0, err
}

func showOTPForm(s *Step) templ.Component {
	v := templates.OTPLoginView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken, Error: s.Error,
		Selected: s.Data["selected"]}
	// Show must not fail: a store that cannot list the devices leaves the
	// choice out (the default device is then asked for).
	otps, _ := s.H.userOTPs(s.Request.Context(), s.User.ID)
	for _, c := range otps {
		v.Credentials = append(v.Credentials, templates.OTPCredentialOption{ID: c.ID, Label: c.UserLabel})
	}
	if v.Selected == "" && len(otps) > 0 {
		v.Selected = otps[0].ID
	}
	return templates.OTPLogin(v)
}

// processOTPForm checks the code (authn.VerifyOTP: counted by brute-force
// protection, spent once). Every failure reads the same, a locked-out
// account's included.
func processOTPForm(ctx context.Context, s *Step) Result {
	h, realm := s.H, s.Realm
	a := h.otpAuthn()
	if a == nil {
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	credID := strings.TrimSpace(s.Form.Get("selectedCredentialId"))
	s.Data["selected"] = credID
	code := s.Form.Get("otp")
	if strings.TrimSpace(code) == "" {
		return Retry("otp", "missingTotpMessage")
	}
	_, err := a.VerifyOTP(ctx, realm.Row.ID, realm.Settings, s.User, credID, code, h.oidc.ClientIP(s.Request))
	if err != nil {
		det := map[string]string{"auth_method": "openid-connect", "auth_type": "code", "username": s.User.Username}
		ev := store.Event{Type: events.LoginError, ClientID: s.ClientID, UserID: s.User.ID, Details: det}
		switch {
		case errors.Is(err, authn.ErrInvalidCredentials):
			ev.Error = "invalid_user_credentials"
			h.oidc.Event(s.Request, realm, ev)
			return Retry("otp", "invalidTotpMessage")
		case errors.Is(err, authn.ErrUserDisabled):
			ev.Error = "user_disabled"
			h.oidc.Event(s.Request, realm, ev)
			return Fail(http.StatusBadRequest, "accountDisabledMessage")
		case errors.Is(err, authn.ErrUnavailable), errors.Is(err, store.ErrUnavailable):
			return Unavailable("otp", "temporarilyUnavailable")
		default:
			h.log.ErrorContext(ctx, "otp check", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
			return Retry("otp", "unexpectedErrorMessage")
		}
	}
	return Done()
}

// prepareConfigureTOTP makes the new device's secret once per setup. It
// is kept with the step's state (a server-side record), sealed with the
// --db-key like stored secrets, and never posted back by the browser.
func prepareConfigureTOTP(ctx context.Context, s *Step) error {
	a := s.H.otpAuthn()
	if a == nil {
		return errNoOTP
	}
	sealed, err := sealWith(a.OTP().Sealer(), otp.NewSecret())
	if err != nil {
		return err
	}
	s.Data["secret"] = sealed
	return nil
}

func sealWith(s otp.Sealer, v string) (string, error) {
	if s == nil {
		return v, nil
	}
	return s.Seal(v)
}

func revealWith(s otp.Sealer, v string) (string, error) {
	if s == nil {
		return v, nil
	}
	return s.Reveal(v)
}

// newTOTPCredential is the device being set up, under the realm's policy.
func newTOTPCredential(s *Step) (otp.Credential, error) {
	a := s.H.otpAuthn()
	if a == nil {
		return otp.Credential{}, errNoOTP
	}
	secret, err := revealWith(a.OTP().Sealer(), s.Data["secret"])
	if err != nil {
		return otp.Credential{}, err
	}
	return otp.New(s.Realm.Settings.OTP, s.User.ID, uuid.NewString(), "", secret, time.Now())
}

// otpauthURL is the key as authenticator apps scan it (Keycloak's
// otpauth://totp/{realm}:{user}?secret=..&digits=..&algorithm=..&issuer=..&period=..).
func otpauthURL(s *Step, c otp.Credential) string {
	p := s.Realm.Settings.OTP
	issuer := s.Realm.Settings.DisplayName
	if issuer == "" {
		issuer = s.Realm.Row.Name
	}
	q := url.Values{"secret": {c.KeyBase32()}, "digits": {strconv.Itoa(p.Digits)},
		"algorithm": {strings.TrimPrefix(p.Algorithm, "Hmac")}, "issuer": {issuer}}
	if p.Type == otp.HOTP {
		q.Set("counter", strconv.Itoa(p.InitialCounter))
	} else {
		q.Set("period", strconv.Itoa(p.Period))
	}
	label := url.PathEscape(issuer) + ":" + url.PathEscape(s.User.Username)
	return "otpauth://" + p.Type + "/" + label + "?" + q.Encode()
}

// qrDataURI renders the otpauth URL as a PNG QR code inline: no third
// party sees the secret, and the page's CSP needs no image host.
func qrDataURI(u string) (string, error) {
	k, err := potp.NewKeyFromURL(u)
	if err != nil {
		return "", err
	}
	img, err := k.Image(200, 200)
	if err != nil {
		return "", err
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return "", err
	}
	return "data:image/png;base64," + base64.StdEncoding.EncodeToString(buf.Bytes()), nil
}

// grouped writes the key in groups of four, as Keycloak shows it.
func grouped(key string) string {
	var b strings.Builder
	for i, r := range key {
		if i > 0 && i%4 == 0 {
			b.WriteByte(' ')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func showConfigureTOTP(s *Step) templ.Component {
	p := s.Realm.Settings.OTP
	v := templates.ConfigureTOTPView{Page: s.Page, FormAction: s.FormAction, CSRFToken: s.CSRFToken,
		Error: s.Error, ErrorField: s.ErrorField, Type: p.Type, Algorithm: strings.TrimPrefix(p.Algorithm, "Hmac"),
		Digits: p.Digits, Period: p.Period, InitialCounter: p.InitialCounter, SupportedApps: p.SupportedApplications,
		UserLabel: s.Data["userLabel"], LogoutSessions: s.Error == "" || s.Data["logoutSessions"] == "on"}
	if c, err := newTOTPCredential(s); err == nil {
		v.SecretKey = grouped(c.KeyBase32())
		v.QRCode, _ = qrDataURI(otpauthURL(s, c))
	} else {
		s.H.log.ErrorContext(s.Request.Context(), "configure totp: secret", "realm", s.Realm.Row.Name, "user", s.User.ID, "err", err)
		v.Error = s.Page.T("unexpectedErrorMessage")
	}
	return templates.ConfigureTOTP(v)
}

// processConfigureTOTP checks the first code against the new device
// before anything is stored, then stores it (secret sealed) and spends
// that code, so it cannot sign in too.
func processConfigureTOTP(ctx context.Context, s *Step) Result {
	h, realm := s.H, s.Realm
	a, cs := h.otpAuthn(), h.credentials()
	if a == nil || cs == nil {
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	label := strings.TrimSpace(s.Form.Get("userLabel"))
	if r := []rune(label); len(r) > 255 {
		label = string(r[:255])
	}
	s.Data["userLabel"] = label
	s.Data["logoutSessions"] = s.Form.Get("logout-sessions")
	code := s.Form.Get("totp")
	if strings.TrimSpace(code) == "" {
		return Retry("totp", "missingTotpMessage")
	}
	c, err := newTOTPCredential(s)
	if err != nil {
		h.log.ErrorContext(ctx, "configure totp", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	p := realm.Settings.OTP
	step, ok := c.Accept(code, a.OTP().Now(), p)
	if !ok {
		h.oidc.Event(s.Request, realm, store.Event{Type: "UPDATE_TOTP_ERROR", ClientID: s.ClientID, UserID: s.User.ID,
			Error: "invalid_totp", Details: map[string]string{"username": s.User.Username}})
		return Retry("totp", "invalidTotpMessage")
	}
	c.Row.UserLabel = label
	row := c.Row
	if row.SecretData, err = otp.SealSecretData(row.SecretData, a.OTP().Sealer()); err != nil {
		h.log.ErrorContext(ctx, "configure totp: seal", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	if err := cs.CreateCredential(ctx, row); err != nil {
		if errors.Is(err, store.ErrUnavailable) {
			return Unavailable("totp", "temporarilyUnavailable")
		}
		h.log.ErrorContext(ctx, "configure totp: store", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
		return Fail(http.StatusInternalServerError, "unexpectedErrorMessage")
	}
	if err := a.OTP().Spend(ctx, realm.Row.ID, p, c, step); err != nil {
		h.log.WarnContext(ctx, "configure totp: spend setup code", "realm", realm.Row.Name, "user", s.User.ID, "err", err)
	}
	h.oidc.Event(s.Request, realm, store.Event{Type: "UPDATE_TOTP", ClientID: s.ClientID, UserID: s.User.ID,
		Details: map[string]string{"username": s.User.Username, "credential_type": otp.Type}})
	if s.Form.Get("logout-sessions") == "on" {
		_ = h.endOtherSessions(ctx, s) // logged; the device is stored, a retry would store another
	}
	return Done()
}

// showReauthOTP is the first broker login's OTP page: a user linking an
// identity provider account to an existing account with an OTP device
// proves it with a code after the password (reaching this step of the
// server-side record means the password was right).
func (h *Handler) showReauthOTP(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec brokerRecord, action, csrf, errKey string) {
	p := h.page(r, realm)
	v := templates.OTPLoginView{Page: p, FormAction: action, CSRFToken: csrf}
	if errKey != "" {
		v.Error = p.T(errKey)
	}
	otps, err := h.userOTPs(r.Context(), rec.LinkUserID)
	if err != nil {
		h.storeError(w, r, realm, "first broker login otp", err)
		return
	}
	for _, c := range otps {
		v.Credentials = append(v.Credentials, templates.OTPCredentialOption{ID: c.ID, Label: c.UserLabel})
	}
	if len(otps) > 0 {
		v.Selected = otps[0].ID
	}
	h.render(w, http.StatusOK, templates.OTPLogin(v))
}

// reauthOTP takes the first broker login's OTP page: a right code links
// the account and signs in; a wrong one (counted by brute-force
// protection) shows the page again.
func (h *Handler) reauthOTP(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p idpInfo, rec brokerRecord) {
	ctx := r.Context()
	a := h.otpAuthn()
	if a == nil {
		h.ErrorPage(w, r, realm, http.StatusInternalServerError, "unexpectedErrorMessage")
		return
	}
	u, err := h.st.GetUser(ctx, realm.Row.ID, rec.LinkUserID)
	if err != nil && !errors.Is(err, store.ErrNotFound) {
		h.storeError(w, r, realm, "first broker login otp", err)
		return
	} else if err != nil {
		h.expiredPage(w, r, realm)
		return
	}
	code := r.PostForm.Get("otp")
	if strings.TrimSpace(code) == "" {
		h.showStep(w, r, realm, rec, "reauth-otp", "missingTotpMessage", "otp")
		return
	}
	_, err = a.VerifyOTP(ctx, realm.Row.ID, realm.Settings, u, strings.TrimSpace(r.PostForm.Get("selectedCredentialId")), code, h.oidc.ClientIP(r))
	switch {
	case errors.Is(err, authn.ErrInvalidCredentials):
		h.showStep(w, r, realm, rec, "reauth-otp", "invalidTotpMessage", "otp")
	case errors.Is(err, authn.ErrUserDisabled):
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
	case errors.Is(err, authn.ErrUnavailable):
		w.Header().Set("Retry-After", "5")
		h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
	case err != nil:
		h.storeError(w, r, realm, "first broker login otp", err)
	default:
		h.linkAndComplete(w, r, realm, p, rec, rec.Identity, u.ID)
	}
}
