package login

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// A login attempt is stored only once the browser comes back with it (the
// form posted, a link of the login page followed). Until then it rides in
// cookieAttemptData, signed with the realm's internal key: an
// unauthenticated GET of the authorization endpoint writes nothing, so a
// flood of them cannot fill the database with attempts nobody finishes.
// An attempt too large for a cookie is stored at once, as before.

// cookieAttemptData carries the attempt named by cookieAttempt until it is
// stored.
const cookieAttemptData = "KEYGATE_ATTEMPT"

// maxAttemptCookie bounds the signed attempt, below browsers' 4096 bytes
// per cookie with its name and attributes; a usual attempt signs to about
// 1 KiB. As large as a cookie allows: an attempt past it is stored at
// once, so a flood padded past it still writes rows (up to
// maxAuthorizeBytes each), as every request did before.
const maxAttemptCookie = 3600

// pendingAttempt is a login attempt not stored yet.
type pendingAttempt struct {
	id, clientID string
	rec          attemptRecord
	expires      time.Time
}

// row is the attempt's KindLogin record.
func (p pendingAttempt) row(realmID string) (store.Token, error) {
	data, err := json.Marshal(p.rec)
	return store.Token{Kind: store.KindLogin, Signature: p.id, RequestID: p.id, RealmID: realmID, ClientID: p.clientID,
		Active: true, Requested: p.rec.Created, Expires: p.expires, Request: data}, err
}

// beginAttempt makes the browser's attempt: in cookies when it fits and
// stored is false, stored at once otherwise.
func (h *Handler) beginAttempt(ctx context.Context, w http.ResponseWriter, r *http.Request, realm *oidc.Realm, p pendingAttempt, stored bool) error {
	var signed string
	if !stored {
		var err error
		signed, err = realm.SignInternal(map[string]any{
			"typ": "login-attempt", "jti": p.id, "azp": p.clientID, "q": p.rec.Query,
			"csrf":    base64.RawURLEncoding.EncodeToString(p.rec.CSRFHash),
			"created": p.rec.Created.UnixMilli(), "exp": p.expires.Unix(),
		})
		if err != nil {
			return err
		}
		stored = len(signed) > maxAttemptCookie
	}
	if stored {
		row, err := p.row(realm.Row.ID)
		if err == nil {
			err = h.st.CreateToken(ctx, row)
		}
		if err != nil {
			return err
		}
		h.clearCookie(w, r, realm, cookieAttemptData, true)
	} else {
		h.setCookie(w, r, realm, cookieAttemptData, signed, 0, true)
	}
	h.setCookie(w, r, realm, cookieAttempt, p.id, 0, true)
	return nil
}

// openAttempt checks that the request belongs to the browser's live login
// attempt (session_code equal to the AUTH_SESSION_ID cookie) and returns
// it with its stored record; false after answering.
func (h *Handler) openAttempt(w http.ResponseWriter, r *http.Request, realm *oidc.Realm, what string) (string, store.Token, attemptRecord, bool) {
	id := r.URL.Query().Get("session_code")
	ck, err := r.Cookie(cookieAttempt)
	if id == "" || err != nil || subtle.ConstantTimeCompare([]byte(ck.Value), []byte(id)) != 1 {
		h.ErrorPage(w, r, realm, http.StatusBadRequest, "cookieNotFoundMessage")
		return "", store.Token{}, attemptRecord{}, false
	}
	tok, at, err := h.loginAttempt(r.Context(), r, realm, id)
	if errors.Is(err, store.ErrNotFound) {
		h.expiredPage(w, r, realm)
		return "", store.Token{}, attemptRecord{}, false
	}
	if err != nil {
		h.storeError(w, r, realm, what, err)
		return "", store.Token{}, attemptRecord{}, false
	}
	if _, err := r.Cookie(cookieAttemptData); err == nil {
		// The attempt is stored now: its record need not ride along in
		// every further request.
		h.clearCookie(w, r, realm, cookieAttemptData, true)
	}
	return id, tok, at, true
}

// loginAttempt is the live attempt id of realm, with its record.
// store.ErrNotFound: no such attempt, or spent, expired, another realm's.
func (h *Handler) loginAttempt(ctx context.Context, r *http.Request, realm *oidc.Realm, id string) (store.Token, attemptRecord, error) {
	tok, err := h.attemptRow(ctx, r, realm, id)
	var at attemptRecord
	if err == nil && (tok.RealmID != realm.Row.ID || !tok.Active || !time.Now().Before(tok.Expires) ||
		json.Unmarshal(tok.Request, &at) != nil) {
		err = store.ErrNotFound
	}
	if err != nil {
		return store.Token{}, attemptRecord{}, err
	}
	return tok, at, nil
}

// attemptRow reads the attempt id's row, storing it first from the
// browser's cookieAttemptData when it is not stored yet. A spent attempt
// stays stored (inactive) until its expiry, which its cookie shares, so a
// cookie can never bring one back. store.ErrNotFound: no such attempt.
func (h *Handler) attemptRow(ctx context.Context, r *http.Request, realm *oidc.Realm, id string) (store.Token, error) {
	tok, err := h.st.GetToken(ctx, store.KindLogin, id)
	if !errors.Is(err, store.ErrNotFound) {
		return tok, err
	}
	p, ok := pendingFromCookie(r, realm, id)
	if !ok {
		return store.Token{}, store.ErrNotFound
	}
	row, err := p.row(realm.Row.ID)
	if err != nil {
		return store.Token{}, err
	}
	if err := h.st.CreateToken(ctx, row); err != nil {
		// Another request of the same browser stored it first.
		if tok, gerr := h.st.GetToken(ctx, store.KindLogin, id); gerr == nil {
			return tok, nil
		}
		return store.Token{}, err
	}
	return row, nil
}

// pendingFromCookie is the attempt id that r's cookieAttemptData carries,
// signed by realm and not expired.
func pendingFromCookie(r *http.Request, realm *oidc.Realm, id string) (pendingAttempt, bool) {
	ck, err := r.Cookie(cookieAttemptData)
	if err != nil {
		return pendingAttempt{}, false
	}
	c, err := realm.VerifyInternal(ck.Value)
	if err != nil || strClaim(c, "typ") != "login-attempt" || subtle.ConstantTimeCompare([]byte(strClaim(c, "jti")), []byte(id)) != 1 {
		return pendingAttempt{}, false
	}
	csrf, err := base64.RawURLEncoding.DecodeString(strClaim(c, "csrf"))
	created, ok1 := oidc.NumClaim(c, "created")
	exp, ok2 := oidc.NumClaim(c, "exp")
	if err != nil || !ok1 || !ok2 {
		return pendingAttempt{}, false
	}
	return pendingAttempt{id: id, clientID: strClaim(c, "azp"), expires: time.Unix(exp, 0),
		rec: attemptRecord{Query: strClaim(c, "q"), CSRFHash: csrf, Created: time.UnixMilli(created)}}, true
}
