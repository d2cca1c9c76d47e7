package usermail

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

// Keycloak's action token types (the JWT's typ).
const (
	TypeResetCredentials = "reset-credentials"
	TypeVerifyEmail      = "verify-email"
	TypeExecuteActions   = "execute-actions"
)

// Token is an action token's content. Its claims are Keycloak's: sub,
// eml, rqac (required actions), reduri, azp, jti, exp, iat, iss, aud; and
// asid, the hash of the login attempt it was requested from, so the
// browser that asked can continue that login.
type Token struct {
	Type        string
	UserID      string
	Email       string // the address it was mailed to; a changed address voids it
	Actions     []string
	RedirectURI string
	ClientID    string
	ID          string // jti
	Expires     time.Time
	Attempt     string // hash of the attempt id (AttemptHash), "" for none
	// PasswordStamp names the user's password credential when a
	// reset-credentials token was issued (PasswordStamp): a password
	// changed since voids the link. Never the password itself.
	PasswordStamp string
}

// Errors of Verify and Spend.
var (
	ErrInvalid = errors.New("usermail: invalid action token")
	ErrExpired = errors.New("usermail: action token expired")
	ErrSpent   = errors.New("usermail: action token already used")
)

// Issue signs t (a new jti, iat now, exp t.Expires) with the realm's
// internal HMAC key.
func Issue(realm *oidc.Realm, t Token) (string, error) {
	now := time.Now()
	claims := map[string]any{
		"typ": t.Type, "sub": t.UserID, "eml": t.Email, "jti": uuid.NewString(),
		"iat": now.Unix(), "exp": t.Expires.Unix(), "iss": realm.Issuer, "aud": realm.Issuer,
	}
	if len(t.Actions) > 0 {
		claims["rqac"] = t.Actions
	}
	if t.RedirectURI != "" {
		claims["reduri"] = t.RedirectURI
	}
	if t.ClientID != "" {
		claims["azp"] = t.ClientID
	}
	if t.Attempt != "" {
		claims["asid"] = t.Attempt
	}
	if t.PasswordStamp != "" {
		claims["pwd"] = t.PasswordStamp
	}
	return realm.SignInternal(claims)
}

// Verify checks key's signature (the realm's HMAC keys), type, issuer and
// expiry. An expired token is ErrExpired with its content (its user and
// client are still known).
func Verify(realm *oidc.Realm, key string) (Token, error) {
	claims, err := realm.VerifyInternal(key)
	if claims == nil {
		return Token{}, ErrInvalid
	}
	t := Token{
		Type: str(claims, "typ"), UserID: str(claims, "sub"), Email: str(claims, "eml"), ID: str(claims, "jti"),
		RedirectURI: str(claims, "reduri"), ClientID: str(claims, "azp"), Attempt: str(claims, "asid"),
		PasswordStamp: str(claims, "pwd"),
	}
	if exp, ok := claims["exp"]; ok {
		t.Expires = time.Unix(toInt64(exp), 0)
	}
	if l, ok := claims["rqac"].([]any); ok {
		for _, a := range l {
			if s, ok := a.(string); ok {
				t.Actions = append(t.Actions, s)
			}
		}
	}
	switch t.Type {
	case TypeResetCredentials, TypeVerifyEmail, TypeExecuteActions:
	default:
		return Token{}, ErrInvalid // another internal token (SSO cookie, CSRF)
	}
	if t.UserID == "" || t.ID == "" {
		return Token{}, ErrInvalid
	}
	if err != nil {
		if t.Expires.IsZero() || time.Now().Before(t.Expires) {
			return Token{}, ErrInvalid
		}
		return t, ErrExpired
	}
	return t, nil
}

// Spend marks t used in the store, once for every replica: the first
// caller wins, any later one gets ErrSpent. The record lives until the
// token would have expired anyway.
func Spend(ctx context.Context, st store.TokenStore, realmID string, t Token) error {
	err := st.CreateToken(ctx, store.Token{Kind: store.KindReplay, Signature: "action-token:" + t.ID, RequestID: t.ID,
		RealmID: realmID, Subject: t.UserID, Active: true, Requested: time.Now(), Expires: t.Expires.Add(time.Minute)})
	if errors.Is(err, store.ErrConflict) {
		return ErrSpent
	}
	return err
}

// Spent reports whether t was used already (without spending it).
func Spent(ctx context.Context, st store.TokenStore, t Token) (bool, error) {
	_, err := st.GetToken(ctx, store.KindReplay, "action-token:"+t.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	return err == nil, err
}

// AttemptHash is what a token carries of the login attempt it was asked
// from: the attempt id itself would let whoever reads the mail answer the
// attempt's forms.
func AttemptHash(attemptID string) string {
	if attemptID == "" {
		return ""
	}
	s := sha256.Sum256([]byte("asid:" + attemptID))
	return base64.RawURLEncoding.EncodeToString(s[:16])
}

// PasswordStamp names the user's current password among creds (the
// stored password credential's id and creation time, hashed), "none"
// without one: a reset-credentials token carries it, and a password set
// since (any SetPassword makes a new credential) no longer matches.
func PasswordStamp(creds []store.Credential) string {
	for _, c := range creds {
		if c.Type == "password" {
			s := sha256.Sum256([]byte("pwd:" + c.ID + ":" + strconv.FormatInt(c.Created.UnixNano(), 10)))
			return base64.RawURLEncoding.EncodeToString(s[:12])
		}
	}
	return "none"
}

func str(claims map[string]any, k string) string {
	s, _ := claims[k].(string)
	return strings.TrimSpace(s)
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case float64:
		return int64(x)
	case int64:
		return x
	case interface{ Int64() (int64, error) }:
		n, _ := x.Int64()
		return n
	}
	return 0
}
