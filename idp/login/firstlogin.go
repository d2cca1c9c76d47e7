package login

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/mail"
	"net/url"
	"strings"

	"github.com/keygate/keygate/idp/authn"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/templates"
)

// The first broker login's pages, Keycloak's "first broker login" flow
// done simply: review the profile (what the IdP did not give), confirm a
// link to an existing account, and sign in to that account to prove it is
// yours. Each page is a fresh single-use record with its own CSRF token,
// posted to /login-actions/first-broker-login, bound to the browser's
// login attempt.

// showStep stores rec for step and renders its page (errKey, about
// field, for a review page shown again).
func (h *Handler) showStep(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, rec brokerRecord, step, errKey, field string) {
	if promptNone(recForm(rec)) {
		// A forwarded prompt=none the IdP answered, for a first login
		// that needs the person: no page in a frame that asked for none
		// (OIDC Core 3.1.2.1), interaction_required as for a required
		// action. A login without prompt=none does it.
		h.answerPromptNone(w, r, realm, rec, oidc.ErrInteractionRequired)
		return
	}
	ctx := r.Context()
	csrf, id := randomToken(), randomToken()
	rec.Kind, rec.Step, rec.CSRFHash = recFirst, step, sha256Sum([]byte(csrf))
	if err := h.putBrokerRecord(ctx, realm, id, rec); err != nil {
		h.storeError(w, r, realm, "first broker login", err)
		return
	}
	action := realmPath(r, realm) + "login-actions/first-broker-login?" + url.Values{"session_code": {id}}.Encode()
	status := http.StatusOK
	if errKey != "" {
		status = http.StatusBadRequest
	}
	switch step {
	case "review":
		p := rec.Profile
		v := templates.ReviewProfileView{Page: h.page(r, realm), FormAction: action, CSRFToken: csrf,
			Username: p.Username, Email: p.Email, FirstName: p.FirstName, LastName: p.LastName,
			AskUsername: !realm.Settings.RegistrationEmailAsUsername, ErrorField: field}
		if errKey != "" {
			v.Error = v.T(errKey)
		}
		if status == http.StatusBadRequest && errKey == "missingUsernameMessage" || errKey == "missingEmailMessage" {
			status = http.StatusOK // the first time the page is shown: nothing was wrong yet
		}
		h.render(w, status, templates.ReviewProfile(v))
	case "confirm":
		by, value := "email", rec.Profile.Email
		if rec.LinkBy == "username" {
			by, value = "username", rec.Profile.Username
		}
		p := h.page(r, realm)
		h.render(w, http.StatusOK, templates.LinkConfirm(templates.LinkConfirmView{Page: p, FormAction: action,
			CSRFToken: csrf, Message: p.T("federatedIdentityConfirmLinkMessage", by, value)}))
	case "reauth":
		u, err := h.st.GetUser(ctx, realm.Row.ID, rec.LinkUserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "first broker login", err)
			return
		} else if err != nil {
			h.expiredPage(w, r, realm)
			return
		}
		p := h.page(r, realm)
		v := templates.LoginView{Page: p, FormAction: action, CSRFToken: csrf, Username: u.Username,
			UsernameReadOnly: true, Info: p.T("federatedIdentityConfirmReauthenticateMessage", rec.Alias)}
		if errKey != "" {
			v.Error = v.T(errKey)
			status = http.StatusOK // as the login form answers a wrong password
		}
		h.render(w, status, templates.Login(v))
	case "reauth-otp":
		h.showReauthOTP(w, r, realm, rec, action, csrf, errKey)
	}
}

// firstBrokerLogin takes a first-broker-login page's form.
func (h *Handler) firstBrokerLogin(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) {
	ctx := r.Context()
	r.Body = http.MaxBytesReader(w, r.Body, maxFormBytes)
	if err := r.ParseForm(); err != nil {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidRequestMessage")
		return
	}
	rec, ok := h.takeBrokerRecordCSRF(w, r, realm)
	if !ok {
		return
	}
	p, ok, err := h.provider(ctx, realm, rec.Alias)
	if err != nil {
		h.storeError(w, r, realm, "first broker login", err)
		return
	}
	if !ok || rec.Identity == nil || rec.Profile == nil {
		h.ErrorPage(w, r, realm, http.StatusNotFound, "identityProviderNotFoundMessage")
		return
	}
	f := r.PostForm
	switch rec.Step {
	case "review":
		prof := reviewedProfile{Username: f.Get("username"), Email: strings.TrimSpace(f.Get("email")),
			FirstName: strings.TrimSpace(f.Get("firstName")), LastName: strings.TrimSpace(f.Get("lastName"))}
		if realm.Settings.RegistrationEmailAsUsername {
			prof.Username = prof.Email
		}
		rec.Profile = &prof
		if key, field := prof.problem(realm.Settings); key != "" {
			h.showStep(w, r, realm, rec, "review", key, field)
			return
		}
		rec.LinkUserID, rec.LinkBy = "", ""
		h.firstLogin(w, r, realm, p, rec, rec.Identity, prof, true)
	case "confirm":
		switch f.Get("submitAction") {
		case "linkAccount":
			h.showStep(w, r, realm, rec, "reauth", "", "")
		case "updateProfile":
			rec.LinkUserID, rec.LinkBy = "", ""
			h.showStep(w, r, realm, rec, "review", "", "")
		default:
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "invalidFederatedIdentityActionMessage")
		}
	case "reauth":
		u, err := h.st.GetUser(ctx, realm.Row.ID, rec.LinkUserID)
		if err != nil && !errors.Is(err, store.ErrNotFound) {
			h.storeError(w, r, realm, "first broker login", err)
			return
		} else if err != nil {
			h.expiredPage(w, r, realm)
			return
		}
		// The username is the linked user's, whatever the form says: the
		// person proves they own that account, not another.
		got, err := h.authn.Authenticate(ctx, realm.Row.ID, realm.Settings, u.Username, f.Get("password"), h.oidc.ClientIP(r))
		switch {
		case errors.Is(err, authn.ErrBusy):
			w.Header().Set("Retry-After", "1")
			h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "temporarilyUnavailable")
		case errors.Is(err, authn.ErrUnavailable):
			w.Header().Set("Retry-After", "5")
			h.ErrorPage(w, r, realm, http.StatusServiceUnavailable, "userStorageUnavailableMessage")
		case errors.Is(err, authn.ErrUserDisabled):
			h.ErrorPage(w, r, realm, http.StatusBadRequest, "accountDisabledMessage")
		case errors.Is(err, authn.ErrInvalidCredentials):
			h.showStep(w, r, realm, rec, "reauth", "invalidUserMessage", "password")
		case errors.Is(err, authn.ErrOTPRequired) && got.ID == u.ID:
			// The password was right and the account has an OTP device:
			// its code too proves ownership (Keycloak's first broker
			// login, conditional OTP), on a page of its own.
			h.showStep(w, r, realm, rec, "reauth-otp", "", "")
		case err != nil:
			h.storeError(w, r, realm, "re-authenticate to link", err)
		case got.ID != u.ID:
			h.showStep(w, r, realm, rec, "reauth", "invalidUserMessage", "password")
		default:
			h.linkAndComplete(w, r, realm, p, rec, rec.Identity, u.ID)
		}
	case "reauth-otp":
		h.reauthOTP(w, r, realm, p, rec)
	default:
		h.expiredPage(w, r, realm)
	}
}

// takeBrokerRecordCSRF spends the first-broker-login record the form names,
// checking that this browser started the login and that the form carries
// the page's CSRF token.
func (h *Handler) takeBrokerRecordCSRF(w http.ResponseWriter, r *http.Request, realm *oidc.Realm) (brokerRecord, bool) {
	id := r.URL.Query().Get("session_code")
	rec, ok, err := h.peekBrokerRecord(r.Context(), realm, id)
	if err != nil {
		h.storeError(w, r, realm, "first broker login", err)
		return brokerRecord{}, false
	}
	if !ok || rec.Kind != recFirst {
		h.expiredPage(w, r, realm)
		return brokerRecord{}, false
	}
	if !sameBrowser(r, rec) {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return brokerRecord{}, false
	}
	if subtle.ConstantTimeCompare(sha256Sum([]byte(r.PostForm.Get("csrf_token"))), rec.CSRFHash) != 1 {
		h.ErrorPage(w, r, realm, http.StatusForbidden, "invalidRequestMessage")
		return brokerRecord{}, false
	}
	if _, ok, err := h.takeBrokerRecord(r.Context(), realm, id); err != nil {
		h.storeError(w, r, realm, "first broker login", err)
		return brokerRecord{}, false
	} else if !ok {
		h.expiredPage(w, r, realm)
		return brokerRecord{}, false
	}
	return rec, true
}

func validEmail(s string) bool {
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s && strings.Contains(s, "@")
}
