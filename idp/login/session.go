package login

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// Cookies, named as Keycloak names them. Their path is the realm's, so
// realms never see each other's cookies.
const (
	cookieIdentity = "KEYCLOAK_IDENTITY" // the SSO session, signed, HttpOnly
	cookieSession  = "KEYCLOAK_SESSION"  // hash of the sid, read by keycloak-js's iframe
	cookieAttempt  = "AUTH_SESSION_ID"   // the login attempt a form belongs to
)

// Session returns the live SSO session the browser's KEYCLOAK_IDENTITY
// cookie names, or nil: the cookie's signature, the session's user, and
// the realm's idle and maximum lifespans (the Remember Me ones for a
// remembered session) are checked.
func (h *Handler) Session(r *http.Request, realm *oidc.Realm) *store.Session {
	s, _ := h.LiveSession(r, realm)
	return s
}

// LiveSession is Session telling a store that could not answer
// (store.ErrUnavailable: answer 503, the browser may well be signed in)
// from no live session (nil, nil).
func (h *Handler) LiveSession(r *http.Request, realm *oidc.Realm) (*store.Session, error) {
	ck, err := r.Cookie(cookieIdentity)
	if err != nil {
		return nil, nil
	}
	// Why a browser with an identity cookie is not signed in is logged at
	// debug level ("asked to sign in again"); never the cookie.
	notLive := func(why string, args ...any) (*store.Session, error) {
		h.log.DebugContext(r.Context(), "identity cookie is no live session", append([]any{"realm", realm.Row.Name, "why", why}, args...)...)
		return nil, nil
	}
	claims, err := realm.VerifyInternal(ck.Value)
	if err != nil || strClaim(claims, "typ") != "Serialized-ID" {
		return notLive("cookie does not verify", "err", err)
	}
	// A cookie issued before the realm's notBefore ("Revocation: set to
	// now") is expired, as Keycloak's verifyIdentityToken has it.
	n, _ := claims["iat"].(json.Number)
	if iat, err := n.Int64(); err != nil || iat < realm.Settings.NotBefore {
		return notLive("issued before the realm's not-before")
	}
	s, err := h.st.GetSession(r.Context(), realm.Row.ID, strClaim(claims, "sid"))
	if errors.Is(err, store.ErrUnavailable) {
		return nil, err
	}
	if errors.Is(err, store.ErrNotFound) {
		return notLive("session not found")
	} else if err != nil {
		// Not an outage, yet not an answer: the person signs in again,
		// and the store's error is not lost.
		h.log.WarnContext(r.Context(), "identity cookie: session read", "realm", realm.Row.Name, "err", err)
		return nil, nil
	}
	if s.UserID != strClaim(claims, "sub") {
		return notLive("session of another user")
	}
	idle, max := SessionLifespans(realm, s)
	if t := time.Now(); t.After(s.LastSeen.Add(idle)) || t.After(s.Created.Add(max)) {
		return notLive("session idle or past its lifespan", "last_seen", s.LastSeen, "created", s.Created)
	}
	return &s, nil
}

// SessionLifespans are the idle timeout and maximum lifespan of SSO
// session s: the realm's, or its Remember Me ones for a remembered
// session.
func SessionLifespans(realm *oidc.Realm, s store.Session) (idle, max time.Duration) {
	rs := realm.Settings
	idle, max = rs.SSOSessionIdleTimeout, rs.SSOSessionMaxLifespan
	if s.RememberMe && rs.RememberMe {
		if rs.SSOSessionIdleTimeoutRememberMe > 0 {
			idle = rs.SSOSessionIdleTimeoutRememberMe
		}
		if rs.SSOSessionMaxLifespanRememberMe > 0 {
			max = rs.SSOSessionMaxLifespanRememberMe
		}
	}
	return idle, max
}

// setSSOCookies names s in the browser: KEYCLOAK_IDENTITY (signed, HttpOnly)
// and KEYCLOAK_SESSION (the sid's hash, for keycloak-js's iframe); browser
// session cookies unless Remember Me.
func (h *Handler) setSSOCookies(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, s store.Session) error {
	exp := s.Created.Add(realm.Settings.SSOSessionMaxLifespan)
	tok, err := realm.SignInternal(map[string]any{
		"typ": "Serialized-ID", "sid": s.ID, "sub": s.UserID, "exp": exp.Unix(), "iat": time.Now().Unix(),
	})
	if err != nil {
		return err
	}
	maxAge := 0 // a browser-session cookie unless "remember me"
	if s.RememberMe {
		maxAge = int(time.Until(exp).Seconds())
	}
	h.setCookie(w, r, realm, cookieIdentity, tok, maxAge, true)
	sum := sha256.Sum256([]byte(s.ID))
	h.setCookie(w, r, realm, cookieSession, base64.RawURLEncoding.EncodeToString(sum[:]), maxAge, false)
	return nil
}

// setCookie writes a realm-scoped cookie: Secure over https; HttpOnly
// unless keycloak-js must read it; SameSite=Lax (None where the
// session-status iframe or an identity provider's POST needs it
// cross-site, which requires https).
func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, name, value string, maxAge int, httpOnly bool) {
	secure := strings.HasPrefix(h.oidc.BaseURL(r), "https://")
	ck := &http.Cookie{
		Name: name, Value: value, Path: realmPath(r, realm), HttpOnly: httpOnly,
		Secure: secure, SameSite: http.SameSiteLaxMode, MaxAge: maxAge,
	}
	switch {
	case name == cookieSession && secure:
		ck.SameSite = http.SameSiteNoneMode
	case (name == cookieAttempt || name == cookieAttemptData) && secure:
		// An identity provider's answer comes back as a cross-site POST
		// (SAML POST binding), which must carry the attempt it belongs to,
		// as Keycloak's AUTH_SESSION_ID does. Over plain http (development)
		// the attribute is left out, so browsers still send it on a fresh
		// cookie's cross-site POST.
		ck.SameSite = http.SameSiteNoneMode
	case name == cookieAttempt || name == cookieAttemptData:
		ck.SameSite = http.SameSiteDefaultMode
	}
	http.SetCookie(w, ck)
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, name string, httpOnly bool) {
	if name == cookieAttempt {
		// The attempt's unstored record goes with it.
		defer h.clearCookie(w, r, realm, cookieAttemptData, true)
	}
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: realmPath(r, realm), MaxAge: -1, HttpOnly: httpOnly,
		Secure: strings.HasPrefix(h.oidc.BaseURL(r), "https://"), SameSite: http.SameSiteLaxMode})
}

// realmPath is "/realms/{name}/", behind the legacy "/auth" prefix when the
// request came that way, so cookies reach every realm endpoint.
func realmPath(r *http.Request, realm *oidc.Realm) string {
	return oidc.PathPrefix(r.Context()) + "/realms/" + realm.Row.Name + "/"
}

func strClaim(claims map[string]any, name string) string {
	s, _ := claims[name].(string)
	return s
}
