// Package oidc is keygate as an OpenID Connect relying party of a realm's
// identity providers (Keycloak's providerId "oidc" and "keycloak-oidc"):
// the authorization code flow with PKCE, client authentication by secret
// or signed assertion, ID tokens verified with go-oidc against the
// provider's JWKS (or a configured key), and the userinfo endpoint.
//
// A Broker holds no per-login state: Start returns what Finish needs (the
// PKCE verifier, the nonce, the redirect URI) for the caller to keep with
// the pending login. It imports federation and store, nothing of idp/.
package oidc

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"math"
	"mime"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// maxBody bounds what keygate reads from an identity provider: token and
// userinfo responses, JWKS documents.
const maxBody = 1 << 20

// defaultTimeout bounds one call to the provider when the caller's client
// sets no timeout.
const defaultTimeout = 10 * time.Second

// defaultSkew is the clock skew allowed on exp, iat and nbf when the
// provider sets no allowedClockSkew.
const defaultSkew = 10 * time.Second

// Broker is one OIDC identity provider.
type Broker struct {
	alias      string
	providerID string
	s          *settings
	secret     string // clientSecret, revealed
	env        federation.BrokerEnv
	client     *http.Client
	keys       oidc.KeySet // nil: signatures are not validated
	idVerifier *oidc.IDTokenVerifier
	jwtParser  *oidc.IDTokenVerifier // access tokens and userinfo JWTs: signature only
	skew       time.Duration
	log        *slog.Logger
}

var (
	_ federation.Broker        = (*Broker)(nil)
	_ federation.SingleLogout  = (*Broker)(nil)
	_ federation.LogoutTokens  = (*Broker)(nil)
	_ federation.BrokerFactory = Open
)

// Open opens the broker of idp, an "oidc" or "keycloak-oidc" identity
// provider. It touches no network: the JWKS is fetched when a token is
// first verified (and again when a token names a key it does not hold).
// A Broker caches the provider's keys: keep it while the provider's
// configuration does not change.
func Open(ctx context.Context, env federation.BrokerEnv, idp store.IdentityProvider) (federation.Broker, error) {
	rep, err := parseRepresentation(idp)
	if err != nil {
		return nil, err
	}
	if rep.ProviderID != ProviderOIDC && rep.ProviderID != ProviderKeycloakOIDC {
		return nil, fmt.Errorf("identity provider %q: providerId %q is not oidc", rep.Alias, rep.ProviderID)
	}
	s, err := parseSettings(rep.Config)
	if err != nil {
		return nil, fmt.Errorf("identity provider %q: %w", rep.Alias, err)
	}
	if rep.ProviderID == ProviderKeycloakOIDC {
		s.accessTokenJWT = true
	}
	b := &Broker{alias: rep.Alias, providerID: rep.ProviderID, s: s, env: env, log: env.Logger}
	if b.log == nil {
		b.log = slog.New(slog.DiscardHandler)
	}
	if b.env.Now == nil {
		b.env.Now = time.Now
	}
	if s.clientSecret != "" && s.authMethod != AuthPrivateKeyJWT {
		b.secret = s.clientSecret
		if env.Reveal != nil {
			if b.secret, err = env.Reveal(s.clientSecret); err != nil {
				return nil, fmt.Errorf("identity provider %q: clientSecret: %w", rep.Alias, err)
			}
		}
	}
	if s.authMethod == AuthPrivateKeyJWT {
		if env.Key == nil {
			return nil, fmt.Errorf("identity provider %q: private_key_jwt needs the realm's signing key", rep.Alias)
		}
		if _, err := assertionAlg(s, env.Key); err != nil {
			return nil, fmt.Errorf("identity provider %q: clientAssertionSigningAlg: %w", rep.Alias, err)
		}
	}
	b.skew = defaultSkew
	if strings.TrimSpace(rep.Config["allowedClockSkew"]) != "" {
		b.skew = time.Duration(s.skew) * time.Second
	}
	b.client = boundedClient(env.HTTP)
	// The key set fetches with the broker's client, on the context of the
	// verification that needs it (keyset.go).
	switch {
	case !s.validateSignature:
		b.log.Warn("identity provider: ID token signatures are not validated (validateSignature is off)", "alias", rep.Alias)
	case s.useJWKS:
		b.keys = newKeySet(s.jwksURL, b.client, b.env.Now)
	default:
		b.keys = &oidc.StaticKeySet{PublicKeys: s.staticKeys}
	}
	if len(s.issuers) == 0 {
		b.log.Warn("identity provider: no issuer configured, ID tokens are not checked for theirs", "alias", rep.Alias)
	}
	vcfg := &oidc.Config{ClientID: s.clientID, SupportedSigningAlgs: idTokenAlgs, SkipIssuerCheck: true, SkipExpiryCheck: true,
		Now: b.env.Now, InsecureSkipSignatureCheck: b.keys == nil}
	keys := b.keys
	if keys == nil {
		keys = &oidc.StaticKeySet{}
	}
	b.idVerifier = oidc.NewVerifier("", keys, vcfg)
	pcfg := *vcfg
	pcfg.ClientID, pcfg.SkipClientIDCheck = "", true
	b.jwtParser = oidc.NewVerifier("", keys, &pcfg)
	return b, nil
}

// pending is what Start hands the caller to keep, and Finish reads back.
type pending struct {
	Verifier string `json:"v,omitempty"`
	Nonce    string `json:"n,omitempty"`
	Redirect string `json:"r"`
}

// nonceFor derives the nonce of a login from its unguessable id: the
// caller's id never travels, and a token is bound to the one login.
func nonceFor(id string) string {
	sum := sha256.Sum256([]byte("keygate-oidc-broker-nonce\x00" + id))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Start returns the provider's authorization URL for req.
func (b *Broker) Start(_ context.Context, req federation.BrokerRequest) (federation.BrokerStart, error) {
	if req.RelayState == "" || req.CallbackURL == "" {
		return federation.BrokerStart{}, errors.New("oidc broker: a login needs a state and a callback URL")
	}
	u, err := url.Parse(b.s.authURL)
	if err != nil {
		return federation.BrokerStart{}, fmt.Errorf("oidc broker %q: authorizationUrl: %w", b.alias, err)
	}
	st := pending{Redirect: req.CallbackURL}
	q := u.Query()
	q.Set("response_type", "code")
	q.Set("client_id", b.s.clientID)
	q.Set("redirect_uri", req.CallbackURL)
	q.Set("scope", b.s.scope)
	q.Set("state", req.RelayState)
	if !b.s.disableNonce {
		if req.ID == "" {
			return federation.BrokerStart{}, errors.New("oidc broker: a login needs an id")
		}
		st.Nonce = nonceFor(req.ID)
		q.Set("nonce", st.Nonce)
	}
	if b.s.loginHint && req.LoginHint != "" {
		q.Set("login_hint", req.LoginHint)
	}
	prompt := strings.Fields(b.s.prompt)
	if req.ForceAuthn && !slices.Contains(prompt, "login") && !slices.Contains(prompt, "none") {
		prompt = append(prompt, "login")
	}
	if req.PromptNone {
		prompt = []string{"none"} // nothing else goes with it
	}
	if len(prompt) > 0 {
		q.Set("prompt", strings.Join(prompt, " "))
	}
	if b.s.passMaxAge && req.MaxAge > 0 {
		q.Set("max_age", strconv.FormatInt(int64(req.MaxAge/time.Second), 10))
	}
	if b.s.uiLocales && req.UILocales != "" {
		q.Set("ui_locales", req.UILocales)
	}
	// The client's parameters the provider forwards (Keycloak's
	// forwardParameters: acr_values, domain_hint, ...), never over the
	// broker's own (refused in the config).
	for _, name := range b.s.forward {
		if v := req.ClientParams.Get(name); v != "" {
			q.Set(name, v)
		}
	}
	if b.s.pkce {
		st.Verifier = oauth2.GenerateVerifier()
		challenge := st.Verifier
		if b.s.pkceMethod == "S256" {
			challenge = oauth2.S256ChallengeFromVerifier(st.Verifier)
		}
		q.Set("code_challenge", challenge)
		q.Set("code_challenge_method", b.s.pkceMethod)
	}
	u.RawQuery = q.Encode()
	state, err := json.Marshal(st)
	if err != nil {
		return federation.BrokerStart{}, err
	}
	return federation.BrokerStart{RedirectURL: u.String(), State: state}, nil
}

// IdPError is an OAuth error the identity provider answered: error= at
// the callback (access_denied when the user cancelled) or from the token
// endpoint. It is a federation.ErrBrokerRefused.
type IdPError struct {
	Code        string // the error code, sanitised
	Description string // error_description, sanitised; the provider's words, not ours
}

func (e *IdPError) Error() string {
	return federation.ErrBrokerRefused.Error() + ": the identity provider answered " + e.Code
}

func (e *IdPError) Unwrap() error { return federation.ErrBrokerRefused }

// sanitize keeps a provider's string printable and short, fit for a log.
func sanitize(s string, max int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return -1
	}, s)
	if len(s) > max {
		s = s[:max]
	}
	return s
}

func refused(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{federation.ErrBrokerRefused}, args...)...)
}

func unavailable(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{federation.ErrUnavailable}, args...)...)
}

// Finish takes the callback's query for the pending login req, with the
// state Start returned: it redeems the code, verifies the ID token (and,
// for keycloak-oidc, the access token), reads the userinfo and returns
// who signed in. What the provider refused or sent wrong is
// federation.ErrBrokerRefused (an *IdPError for an OAuth error); a
// provider that cannot be reached is federation.ErrUnavailable.
func (b *Broker) Finish(ctx context.Context, req federation.BrokerRequest, state []byte, params url.Values) (federation.BrokeredIdentity, error) {
	var none federation.BrokeredIdentity
	if code := params.Get("error"); code != "" {
		return none, &IdPError{Code: sanitize(code, 64), Description: sanitize(params.Get("error_description"), 256)}
	}
	if params.Get("state") != req.RelayState {
		return none, refused("the state does not match the login")
	}
	code := params.Get("code")
	if code == "" {
		return none, refused("neither a code nor an error")
	}
	var st pending
	if err := json.Unmarshal(state, &st); err != nil || st.Redirect == "" {
		return none, errors.New("oidc broker: the pending login's state is unreadable")
	}
	if !b.s.disableNonce && (req.ID == "" || st.Nonce != nonceFor(req.ID)) {
		return none, errors.New("oidc broker: the pending login's state is not this login's")
	}

	raw, tok, err := b.redeem(ctx, code, st)
	if err != nil {
		return none, err
	}
	idt, idClaims, err := b.verifyIDToken(ctx, tok.IDToken, st)
	if err != nil {
		return none, err
	}
	if idt.AccessTokenHash != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return none, refused("the ID token's at_hash does not match the access token")
		}
	}
	var atClaims map[string]any
	if b.s.accessTokenJWT && strings.Count(tok.AccessToken, ".") == 2 {
		if atClaims, err = b.verifyJWT(ctx, tok.AccessToken, "access token", true); err != nil {
			return none, err
		}
	} else if b.s.accessTokenJWT && b.providerID == ProviderOIDC {
		return none, refused("the access token is not a JWT (isAccessTokenJWT)")
	}
	var userinfo map[string]any
	if !b.s.disableUserInfo && b.s.userInfoURL != "" {
		if userinfo, err = b.userInfo(ctx, tok.AccessToken); err != nil {
			return none, err
		}
		if sub, _ := userinfo["sub"].(string); sub != idt.Subject {
			return none, refused("the userinfo's subject is not the ID token's")
		}
	}

	// Claims as Keycloak's claim mappers search them: the access token,
	// then the ID token, then the userinfo.
	claims := map[string]any{}
	maps.Copy(claims, userinfo)
	maps.Copy(claims, idClaims)
	maps.Copy(claims, atClaims)
	if b.s.filterRE != nil && !claimMatches(b.s.filterRE, claims[b.s.filterClaim]) {
		return none, refused("the claim filter (%s) does not match", b.s.filterClaim)
	}

	// The user's basics as Keycloak takes them: from the userinfo when it
	// was read, else from the ID token.
	pick := func(k string) string {
		if v, ok := userinfo[k].(string); ok && v != "" {
			return v
		}
		v, _ := idClaims[k].(string)
		return v
	}
	id := federation.BrokeredIdentity{UserID: idt.Subject, Email: pick("email"), FirstName: pick("given_name"), LastName: pick("family_name"),
		Claims: claims, Attributes: flatten(claims)}
	if id.FirstName == "" && id.LastName == "" {
		if name := pick("name"); name != "" {
			if i := strings.LastIndexByte(name, ' '); i >= 0 {
				id.FirstName, id.LastName = name[:i], name[i+1:]
			} else {
				id.FirstName = name
			}
		}
	}
	id.Username = pick("preferred_username")
	if id.Username == "" {
		id.Username = id.Email
	}
	if id.Username == "" {
		id.Username = id.UserID
	}
	id.Token = b.tokenRecord(raw, tok)
	// Kept with the session whatever the config says now, as Keycloak
	// keeps FEDERATED_ID_TOKEN: a logoutUrl set later still gets its hint.
	id.IDToken = tok.IDToken
	id.SessionIndex, _ = idClaims["sid"].(string)
	return id, nil
}

// tokenResponse is the token endpoint's answer.
type tokenResponse struct {
	AccessToken string `json:"access_token"`
	TokenType   string `json:"token_type"`
	IDToken     string `json:"id_token"`
	ExpiresIn   any    `json:"expires_in"`
}

// redeem exchanges the code at the token endpoint.
func (b *Broker) redeem(ctx context.Context, code string, st pending) ([]byte, tokenResponse, error) {
	var tok tokenResponse
	form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {st.Redirect}}
	if st.Verifier != "" {
		form.Set("code_verifier", st.Verifier)
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, b.s.tokenURL, nil)
	if err != nil {
		return nil, tok, err
	}
	switch b.s.authMethod {
	case AuthSecretBasic:
		// RFC 6749 2.3.1: both form-encoded, as Keycloak sends them.
		hreq.SetBasicAuth(url.QueryEscape(b.s.clientID), url.QueryEscape(b.secret))
	case AuthSecretBasicUnencoded:
		hreq.SetBasicAuth(b.s.clientID, b.secret)
	case AuthSecretJWT, AuthPrivateKeyJWT:
		assertion, err := b.clientAssertion()
		if err != nil {
			return nil, tok, fmt.Errorf("oidc broker %q: client assertion: %w", b.alias, err)
		}
		form.Set("client_id", b.s.clientID)
		form.Set("client_assertion_type", "urn:ietf:params:oauth:client-assertion-type:jwt-bearer")
		form.Set("client_assertion", assertion)
	default:
		form.Set("client_id", b.s.clientID)
		form.Set("client_secret", b.secret)
	}
	body := form.Encode()
	hreq.Body = io.NopCloser(strings.NewReader(body))
	hreq.ContentLength = int64(len(body))
	hreq.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	hreq.Header.Set("Accept", "application/json")
	resp, err := b.client.Do(hreq)
	if err != nil {
		return nil, tok, unavailable("token endpoint: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, tok, unavailable("token endpoint: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		if json.Unmarshal(raw, &e) == nil && e.Error != "" && resp.StatusCode < 500 {
			return nil, tok, &IdPError{Code: sanitize(e.Error, 64), Description: sanitize(e.Description, 256)}
		}
		if resp.StatusCode >= 500 {
			return nil, tok, unavailable("token endpoint: status %d", resp.StatusCode)
		}
		return nil, tok, refused("token endpoint: status %d", resp.StatusCode)
	}
	if err := json.Unmarshal(raw, &tok); err != nil {
		return nil, tok, refused("token endpoint: the answer is not JSON")
	}
	if tok.AccessToken == "" {
		return nil, tok, refused("token endpoint: no access_token")
	}
	if tok.TokenType != "" && !strings.EqualFold(tok.TokenType, "bearer") {
		return nil, tok, refused("token endpoint: token_type %q", sanitize(tok.TokenType, 32))
	}
	if tok.IDToken == "" {
		return nil, tok, refused("token endpoint: no id_token")
	}
	return raw, tok, nil
}

// alg is a JWT's header algorithm, "" when it has none or no header.
func jwtAlg(jwt string) string {
	h, _, ok := strings.Cut(jwt, ".")
	if !ok {
		return ""
	}
	raw, err := base64.RawURLEncoding.DecodeString(h)
	if err != nil {
		return ""
	}
	var hdr struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &hdr) != nil {
		return ""
	}
	return hdr.Alg
}

// verifyIDToken checks the ID token: a signature by one of the provider's
// keys with an asymmetric algorithm, the issuer, the audience and the
// authorized party, the times, the nonce and the type.
func (b *Broker) verifyIDToken(ctx context.Context, raw string, st pending) (*oidc.IDToken, map[string]any, error) {
	if alg := jwtAlg(raw); !slices.Contains(idTokenAlgs, alg) {
		return nil, nil, refused("ID token algorithm %q is not allowed", sanitize(alg, 16))
	}
	idt, err := b.idVerifier.Verify(ctx, raw)
	if err != nil {
		if isFetchError(err) {
			return nil, nil, unavailable("the identity provider's keys: %s", sanitize(err.Error(), 200))
		}
		return nil, nil, refused("ID token: %s", sanitize(err.Error(), 200))
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		return nil, nil, refused("ID token claims: %v", err)
	}
	if idt.Subject == "" {
		return nil, nil, refused("ID token without a subject")
	}
	if err := b.checkIssuerAndTimes(claims, "ID token", true); err != nil {
		return nil, nil, err
	}
	azp, _ := claims["azp"].(string)
	if azp != "" && azp != b.s.clientID {
		return nil, nil, refused("ID token issued to another client (azp)")
	}
	if azp == "" && len(idt.Audience) > 1 {
		return nil, nil, refused("ID token for several audiences without an azp")
	}
	if !b.s.disableNonce && idt.Nonce != st.Nonce {
		return nil, nil, refused("ID token nonce does not match the login")
	}
	if typ, ok := claims["typ"].(string); ok && !b.s.disableTypeCheck && !strings.EqualFold(typ, "ID") {
		return nil, nil, refused("token of type %q where an ID token belongs", sanitize(typ, 32))
	}
	if jti, _ := claims["jti"].(string); jti != "" && b.env.Replay != nil {
		// Until the expiry checked above: go-oidc's Expiry overflows as
		// numericDate did, into the past, which would let the record go
		// while the token is still good.
		exp, _ := numericDate(claims["exp"])
		err := b.env.Replay(ctx, "oidc:"+idt.Issuer+":"+jti, exp.Add(b.skew))
		if errors.Is(err, store.ErrConflict) {
			return nil, nil, refused("ID token replayed")
		}
		if err != nil {
			return nil, nil, err
		}
	}
	return idt, claims, nil
}

// checkIssuerAndTimes checks iss against the configured issuers, exp
// (required when needExp), iat and nbf with the allowed skew.
func (b *Broker) checkIssuerAndTimes(claims map[string]any, what string, needExp bool) error {
	iss, _ := claims["iss"].(string)
	if len(b.s.issuers) > 0 && !slices.Contains(b.s.issuers, iss) {
		return refused("%s issued by %q, not the configured issuer", what, sanitize(iss, 128))
	}
	now := b.env.Now()
	exp, hasExp := numericDate(claims["exp"])
	switch {
	case !hasExp && needExp:
		return refused("%s without an expiry", what)
	case hasExp && now.After(exp.Add(b.skew)):
		return refused("%s expired", what)
	}
	if iat, ok := numericDate(claims["iat"]); ok && iat.After(now.Add(b.skew)) {
		return refused("%s issued in the future", what)
	}
	if nbf, ok := numericDate(claims["nbf"]); ok && nbf.After(now.Add(b.skew)) {
		return refused("%s not valid yet", what)
	}
	return nil
}

func numericDate(v any) (time.Time, bool) {
	var f float64
	switch x := v.(type) {
	case float64:
		f = x
	case json.Number:
		var err error
		if f, err = x.Float64(); err != nil {
			return time.Time{}, false
		}
	case string:
		var err error
		if f, err = strconv.ParseFloat(x, 64); err != nil {
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if math.IsNaN(f) {
		return time.Time{}, false
	}
	// Seconds as a time.Duration overflowed past 2262 (to 1677 on amd64:
	// an nbf or iat of 1e10 passed, an exp of 1e10 had expired); a date
	// past the years 1 to 9999 is taken as that bound.
	f = max(min(f, float64(maxDate.Unix())), float64(minDate.Unix()))
	sec, frac := math.Modf(f)
	return time.Unix(int64(sec), int64(frac*1e9)), true
}

// The dates numericDate gives, at most: a far enough future for an exp
// to mean never, and one a database stores (the replay record's expiry).
var (
	minDate = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxDate = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// verifyJWT verifies a JWT other than the ID token (a Keycloak access
// token, a signed userinfo): signature, issuer and times.
func (b *Broker) verifyJWT(ctx context.Context, raw, what string, checkTimes bool) (map[string]any, error) {
	if alg := jwtAlg(raw); !slices.Contains(idTokenAlgs, alg) {
		return nil, refused("%s algorithm %q is not allowed", what, sanitize(alg, 16))
	}
	t, err := b.jwtParser.Verify(ctx, raw)
	if err != nil {
		if isFetchError(err) {
			return nil, unavailable("the identity provider's keys: %s", sanitize(err.Error(), 200))
		}
		return nil, refused("%s: %s", what, sanitize(err.Error(), 200))
	}
	var claims map[string]any
	if err := t.Claims(&claims); err != nil {
		return nil, refused("%s claims: %v", what, err)
	}
	if checkTimes {
		if err := b.checkIssuerAndTimes(claims, what, false); err != nil {
			return nil, err
		}
	}
	return claims, nil
}

// isFetchError tells a JWKS that could not be fetched from a token that
// names no key the provider has.
func isFetchError(err error) bool {
	s := err.Error()
	return strings.Contains(s, "fetching keys") || strings.Contains(s, "get keys failed")
}

// userInfo reads the userinfo endpoint with the access token: JSON, or a
// JWT signed by the provider.
func (b *Broker) userInfo(ctx context.Context, accessToken string) (map[string]any, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.s.userInfoURL, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+accessToken)
	req.Header.Set("Accept", "application/json, application/jwt")
	resp, err := b.client.Do(req)
	if err != nil {
		return nil, unavailable("userinfo endpoint: %v", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, unavailable("userinfo endpoint: %v", err)
	}
	switch {
	case resp.StatusCode >= 500:
		return nil, unavailable("userinfo endpoint: status %d", resp.StatusCode)
	case resp.StatusCode != http.StatusOK:
		return nil, refused("userinfo endpoint: status %d", resp.StatusCode)
	}
	ct, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if ct == "application/jwt" {
		return b.verifyJWT(ctx, string(bytes.TrimSpace(raw)), "userinfo", false)
	}
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil {
		return nil, refused("userinfo endpoint: the answer is not JSON")
	}
	return claims, nil
}

// tokenRecord is what a federated identity keeps with storeToken: the
// token response, with accessTokenExpiration as Keycloak adds it.
func (b *Broker) tokenRecord(raw []byte, tok tokenResponse) string {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return string(raw)
	}
	var secs float64
	switch x := tok.ExpiresIn.(type) {
	case float64:
		secs = x
	case string:
		secs, _ = strconv.ParseFloat(x, 64)
	}
	if secs > 0 {
		m["accessTokenExpiration"] = json.RawMessage(strconv.FormatInt(b.env.Now().Unix()+int64(secs), 10))
	}
	out, err := json.Marshal(m)
	if err != nil {
		return string(raw)
	}
	return string(out)
}

// flatten is the claims as attributes: strings, numbers and booleans, and
// arrays of them; objects stay in Claims only.
func flatten(claims map[string]any) map[string][]string {
	out := map[string][]string{}
	for k, v := range claims {
		switch x := v.(type) {
		case []any:
			var vs []string
			for _, e := range x {
				if s, ok := scalar(e); ok {
					vs = append(vs, s)
				}
			}
			if len(vs) > 0 {
				out[k] = vs
			}
		default:
			if s, ok := scalar(v); ok {
				out[k] = []string{s}
			}
		}
	}
	return out
}

func scalar(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64), true
	case bool:
		return strconv.FormatBool(x), true
	}
	return "", false
}

// claimMatches: the claim (or one element of it) matches re whole.
func claimMatches(re interface{ MatchString(string) bool }, v any) bool {
	if arr, ok := v.([]any); ok {
		return slices.ContainsFunc(arr, func(e any) bool { return claimMatches(re, e) })
	}
	s, ok := scalar(v)
	return ok && re.MatchString(s)
}

// boundedClient is the caller's client (or a default one) reading at most
// maxBody of any answer, following no redirects, with a timeout.
func boundedClient(base *http.Client) *http.Client {
	c := &http.Client{}
	if base != nil {
		*c = *base
	}
	rt := c.Transport
	if rt == nil {
		rt = http.DefaultTransport
	}
	c.Transport = limitTransport{rt}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	c.Jar = nil
	if c.Timeout == 0 {
		c.Timeout = defaultTimeout
	}
	return c
}

type limitTransport struct{ rt http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.rt.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if resp.ContentLength > maxBody {
		resp.Body.Close()
		return nil, fmt.Errorf("%s: answer of %d bytes is too large", req.URL.Redacted(), resp.ContentLength)
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxBody}
	return resp, nil
}

var errTooLarge = errors.New("the identity provider's answer is too large")

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (l *limitedBody) Read(p []byte) (int, error) {
	if l.left <= 0 {
		// One more byte tells a body of exactly maxBody from a longer one.
		var one [1]byte
		if n, _ := l.rc.Read(one[:]); n > 0 {
			return 0, errTooLarge
		}
		return 0, io.EOF
	}
	if int64(len(p)) > l.left {
		p = p[:l.left]
	}
	n, err := l.rc.Read(p)
	l.left -= int64(n)
	return n, err
}

func (l *limitedBody) Close() error { return l.rc.Close() }
