package oidc

import (
	"crypto"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/go-jose/go-jose/v4"

	"github.com/keygate/keygate/store"
)

// Client authentication methods at the token endpoint (Keycloak's
// clientAuthMethod).
const (
	AuthSecretPost           = "client_secret_post"
	AuthSecretBasic          = "client_secret_basic"
	AuthSecretBasicUnencoded = "client_secret_basic_unencoded"
	AuthSecretJWT            = "client_secret_jwt"
	AuthPrivateKeyJWT        = "private_key_jwt"
)

// Provider types this package opens.
const (
	ProviderOIDC         = "oidc"
	ProviderKeycloakOIDC = "keycloak-oidc"
)

// representation is the part of Keycloak's IdentityProviderRepresentation
// a broker reads.
type representation struct {
	Alias      string            `json:"alias"`
	ProviderID string            `json:"providerId"`
	Enabled    *bool             `json:"enabled"`
	StoreToken bool              `json:"storeToken"`
	Config     map[string]string `json:"config"`
}

func parseRepresentation(idp store.IdentityProvider) (representation, error) {
	var rep representation
	if len(idp.Config) > 0 {
		if err := json.Unmarshal(idp.Config, &rep); err != nil {
			return rep, fmt.Errorf("identity provider %q: %w", idp.Alias, err)
		}
	}
	if rep.Config == nil {
		rep.Config = map[string]string{}
	}
	if idp.Alias != "" {
		rep.Alias = idp.Alias
	}
	if idp.ProviderID != "" {
		rep.ProviderID = idp.ProviderID
	}
	return rep, nil
}

// settings is a provider's config, parsed.
type settings struct {
	authURL, tokenURL, userInfoURL, jwksURL string
	issuers                                 []string // trusted issuers ("issuer", comma-separated); none: not checked
	clientID, clientSecret                  string   // clientSecret still sealed
	authMethod                              string
	assertionAlg, assertionAudience         string
	x5tHeader                               bool
	pkce                                    bool
	pkceMethod                              string
	validateSignature, useJWKS              bool
	staticKeys                              []crypto.PublicKey
	scope                                   string
	prompt                                  string
	loginHint, passMaxAge                   bool
	disableUserInfo, disableNonce           bool
	accessTokenJWT                          bool // verify the access token as a JWT (keycloak-oidc, isAccessTokenJWT)
	disableTypeCheck                        bool
	skew                                    int // allowedClockSkew, seconds
	filterClaim, filterValue                string
	filterRE                                *regexp.Regexp
	// Logout at the IdP (Keycloak's keycloakInitiatedBrowserLogout):
	// logoutUrl, sendIdTokenOnLogout (absent: true), sendClientIdOnLogout,
	// backchannelSupported (a server-side GET instead of the browser's).
	forward                             []string // forwardParameters
	uiLocales                           bool
	logoutURL                           string
	sendIDTokenOnLogout, sendClientIDOn bool
	backchannelLogout                   bool
}

// boolKeys are the config keys that hold "true" or "false".
var boolKeys = []string{"validateSignature", "useJwksUrl", "pkceEnabled", "backchannelSupported", "disableUserInfo", "disableNonce",
	"loginHint", "uiLocales", "isAccessTokenJWT", "disableTypeClaimCheck", "jwtX509HeadersEnabled", "passMaxAge",
	"hideOnLoginPage", "hideOnLogin", "filteredByClaim", "caseSensitiveOriginalUsername", "sendClientIdOnLogout", "sendIdTokenOnLogout",
	"acceptsPromptNoneForwardFromClient", "supportsClientAssertions", "supportsClientAssertionReuse", "requiresShortStateParameter",
	"showInAccountConsole"}

var urlKeys = []string{"authorizationUrl", "tokenUrl", "userInfoUrl", "jwksUrl", "logoutUrl", "tokenIntrospectionUrl"}

// ownParameters are the authorization request parameters the broker
// sets (or must not pass on): forwardParameters may not name them.
var ownParameters = []string{"response_type", "client_id", "redirect_uri", "scope", "state", "nonce", "code_challenge",
	"code_challenge_method", "prompt", "login_hint", "max_age", "ui_locales", "request", "request_uri", "response_mode",
	"code_verifier", "client_secret", "client_assertion", "client_assertion_type"}

var promptValues = []string{"none", "login", "consent", "select_account", "unspecified"}

// Signature algorithms an ID token may use: asymmetric ones only, so no
// "none" and no HS* keyed with a public key (or anything else).
var idTokenAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}

// ValidateConfig checks an OIDC identity provider's config map as the
// admin API takes it: an error names the key that cannot work.
func ValidateConfig(config map[string]string) error {
	_, err := parseSettings(config)
	return err
}

func parseSettings(c map[string]string) (*settings, error) {
	for _, k := range boolKeys {
		switch strings.ToLower(strings.TrimSpace(c[k])) {
		case "", "true", "false":
		default:
			return nil, fmt.Errorf("%s: %q is not true or false", k, c[k])
		}
	}
	for _, k := range urlKeys {
		if v := strings.TrimSpace(c[k]); v != "" {
			if err := checkURL(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	on := func(k string) bool { return strings.EqualFold(strings.TrimSpace(c[k]), "true") }
	s := &settings{
		authURL: strings.TrimSpace(c["authorizationUrl"]), tokenURL: strings.TrimSpace(c["tokenUrl"]),
		userInfoURL: strings.TrimSpace(c["userInfoUrl"]), jwksURL: strings.TrimSpace(c["jwksUrl"]),
		clientID: c["clientId"], clientSecret: c["clientSecret"],
		authMethod:   strings.TrimSpace(c["clientAuthMethod"]),
		assertionAlg: strings.TrimSpace(c["clientAssertionSigningAlg"]), assertionAudience: strings.TrimSpace(c["clientAssertionAudience"]),
		pkce: on("pkceEnabled"), pkceMethod: strings.TrimSpace(c["pkceMethod"]),
		validateSignature: on("validateSignature"), useJWKS: on("useJwksUrl"),
		scope: strings.TrimSpace(c["defaultScope"]), prompt: strings.TrimSpace(c["prompt"]), loginHint: on("loginHint"), passMaxAge: on("passMaxAge"),
		disableUserInfo: on("disableUserInfo"), disableNonce: on("disableNonce"),
		accessTokenJWT: on("isAccessTokenJWT"), disableTypeCheck: on("disableTypeClaimCheck"),
		uiLocales:           on("uiLocales"),
		logoutURL:           strings.TrimSpace(c["logoutUrl"]),
		sendIDTokenOnLogout: !strings.EqualFold(strings.TrimSpace(c["sendIdTokenOnLogout"]), "false"),
		sendClientIDOn:      on("sendClientIdOnLogout"), backchannelLogout: on("backchannelSupported"),
	}
	for _, name := range strings.Split(c["forwardParameters"], ",") {
		if name = strings.TrimSpace(name); name == "" {
			continue
		}
		if slices.Contains(ownParameters, name) {
			return nil, fmt.Errorf("forwardParameters: %q is a parameter the broker sets itself", name)
		}
		s.forward = append(s.forward, name)
	}
	for _, iss := range strings.Split(c["issuer"], ",") {
		if iss = strings.TrimSpace(iss); iss != "" {
			s.issuers = append(s.issuers, iss)
		}
	}
	if s.authURL == "" {
		return nil, errors.New("authorizationUrl: required")
	}
	if s.tokenURL == "" {
		return nil, errors.New("tokenUrl: required")
	}
	if strings.TrimSpace(s.clientID) == "" {
		return nil, errors.New("clientId: required")
	}
	if s.authMethod == "" {
		s.authMethod = AuthSecretPost
	}
	switch s.authMethod {
	case AuthSecretPost, AuthSecretBasic, AuthSecretBasicUnencoded, AuthSecretJWT:
		if s.clientSecret == "" {
			return nil, fmt.Errorf("clientSecret: required with clientAuthMethod %s", s.authMethod)
		}
	case AuthPrivateKeyJWT:
	default:
		return nil, fmt.Errorf("clientAuthMethod %q: want %s, %s, %s or %s", s.authMethod, AuthSecretPost, AuthSecretBasic, AuthSecretJWT, AuthPrivateKeyJWT)
	}
	s.x5tHeader = s.authMethod == AuthPrivateKeyJWT && on("jwtX509HeadersEnabled")
	if s.assertionAlg != "" {
		var ok bool
		switch s.authMethod {
		case AuthSecretJWT:
			ok = slices.Contains([]string{"HS256", "HS384", "HS512"}, s.assertionAlg)
		case AuthPrivateKeyJWT:
			ok = slices.Contains(idTokenAlgs, s.assertionAlg) && s.assertionAlg != "EdDSA"
		default:
			ok = true // not used
		}
		if !ok {
			return nil, fmt.Errorf("clientAssertionSigningAlg %q: not an algorithm for %s", s.assertionAlg, s.authMethod)
		}
	}
	if s.pkce {
		switch s.pkceMethod {
		case "":
			s.pkceMethod = "S256"
		case "S256", "plain":
		default:
			return nil, fmt.Errorf("pkceMethod %q: want S256 or plain", s.pkceMethod)
		}
	}
	if s.scope == "" {
		s.scope = "openid"
	} else if !slices.Contains(strings.Fields(s.scope), "openid") {
		s.scope = "openid " + s.scope
	}
	for _, p := range strings.Fields(s.prompt) {
		if !slices.Contains(promptValues, p) {
			return nil, fmt.Errorf("prompt %q: want none, login, consent or select_account", s.prompt)
		}
	}
	if s.prompt == "unspecified" {
		s.prompt = ""
	}
	if v := strings.TrimSpace(c["allowedClockSkew"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > 3600 {
			return nil, fmt.Errorf("allowedClockSkew %q: want seconds, 0 to 3600", v)
		}
		s.skew = n
	}
	if v := strings.TrimSpace(c["guiOrder"]); v != "" {
		if _, err := strconv.Atoi(v); err != nil {
			return nil, fmt.Errorf("guiOrder %q: not a number", v)
		}
	}
	switch strings.ToUpper(strings.TrimSpace(c["syncMode"])) {
	case "", "IMPORT", "FORCE", "LEGACY":
	default:
		return nil, fmt.Errorf("syncMode %q: want IMPORT, FORCE or LEGACY", c["syncMode"])
	}
	if s.validateSignature {
		if s.useJWKS {
			if s.jwksURL == "" {
				return nil, errors.New("jwksUrl: required to validate signatures with useJwksUrl")
			}
		} else {
			keys, err := parsePublicKeys(c["publicKeySignatureVerifier"])
			if err != nil {
				return nil, fmt.Errorf("publicKeySignatureVerifier: %w", err)
			}
			s.staticKeys = keys
		}
	}
	if on("filteredByClaim") {
		s.filterClaim = strings.TrimSpace(c["claimFilterName"])
		s.filterValue = c["claimFilterValue"]
		if s.filterClaim == "" {
			return nil, errors.New("claimFilterName: required with filteredByClaim")
		}
		// The value must be a regular expression by itself: wrapped
		// first, "a)|(b" compiled as ^(?:a)|(b)$, which matches any
		// claim that starts with a or ends with b.
		if _, err := regexp.Compile(s.filterValue); err != nil {
			return nil, fmt.Errorf("claimFilterValue: %w", err)
		}
		re, err := regexp.Compile(`^(?:` + s.filterValue + `)$`)
		if err != nil {
			return nil, fmt.Errorf("claimFilterValue: %w", err)
		}
		s.filterRE = re
	}
	return s, nil
}

func checkURL(v string) error {
	u, err := url.Parse(v)
	if err != nil {
		return errors.New("not a URL")
	}
	if u.Scheme != "https" && u.Scheme != "http" || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL", v)
	}
	if u.User != nil {
		return errors.New("credentials in the URL")
	}
	return nil
}

// parsePublicKeys reads publicKeySignatureVerifier: a PEM public key or
// certificate (several allowed), the base64 DER of one without the PEM
// armour (as Keycloak's console stores it), or a JWK or JWK set.
func parsePublicKeys(v string) ([]crypto.PublicKey, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, errors.New("required to validate signatures without useJwksUrl")
	}
	if strings.HasPrefix(v, "{") {
		var set jose.JSONWebKeySet
		if err := json.Unmarshal([]byte(v), &set); err == nil && len(set.Keys) > 0 {
			var out []crypto.PublicKey
			for _, k := range set.Keys {
				if !k.IsPublic() {
					return nil, errors.New("a JWK that is not a public key")
				}
				out = append(out, k.Key)
			}
			return out, nil
		}
		var k jose.JSONWebKey
		if err := json.Unmarshal([]byte(v), &k); err != nil {
			return nil, fmt.Errorf("not a JWK: %w", err)
		}
		if !k.IsPublic() {
			return nil, errors.New("a JWK that is not a public key")
		}
		return []crypto.PublicKey{k.Key}, nil
	}
	var ders [][]byte
	if strings.Contains(v, "-----BEGIN") {
		rest := []byte(v)
		for {
			var b *pem.Block
			b, rest = pem.Decode(rest)
			if b == nil {
				break
			}
			ders = append(ders, b.Bytes)
		}
	} else {
		der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(v), ""))
		if err != nil {
			return nil, errors.New("neither PEM nor base64 DER")
		}
		ders = append(ders, der)
	}
	if len(ders) == 0 {
		return nil, errors.New("no PEM block")
	}
	var out []crypto.PublicKey
	for _, der := range ders {
		if pub, err := x509.ParsePKIXPublicKey(der); err == nil {
			out = append(out, pub)
			continue
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.New("neither a public key nor a certificate")
		}
		out = append(out, cert.PublicKey)
	}
	return out, nil
}

// Unimplemented names the config keys of idp that keygate stores and
// exports but does not act on (one warning for the caller to log), with
// their values where they are set to something that would matter.
func Unimplemented(idp store.IdentityProvider) []string {
	rep, err := parseRepresentation(idp)
	if err != nil {
		return nil
	}
	c := rep.Config
	on := func(k string) bool { return strings.EqualFold(strings.TrimSpace(c[k]), "true") }
	var out []string
	for _, k := range []string{"supportsClientAssertions", "supportsClientAssertionReuse"} {
		if on(k) {
			out = append(out, k)
		}
	}
	for _, k := range []string{"tokenIntrospectionUrl", "minValidityToken"} {
		if strings.TrimSpace(c[k]) != "" {
			out = append(out, k)
		}
	}
	return out
}

// ParseDiscovery turns an OpenID Provider's discovery document
// (.well-known/openid-configuration) into Keycloak's config keys, as
// import-config with fromUrl answers.
func ParseDiscovery(doc []byte) (map[string]string, error) {
	if len(doc) > maxBody {
		return nil, errors.New("discovery document too large")
	}
	var d struct {
		Issuer                string `json:"issuer"`
		AuthorizationEndpoint string `json:"authorization_endpoint"`
		TokenEndpoint         string `json:"token_endpoint"`
		UserinfoEndpoint      string `json:"userinfo_endpoint"`
		EndSessionEndpoint    string `json:"end_session_endpoint"`
		JWKSURI               string `json:"jwks_uri"`
		IntrospectionEndpoint string `json:"introspection_endpoint"`
	}
	if err := json.Unmarshal(doc, &d); err != nil {
		return nil, fmt.Errorf("not an OpenID discovery document: %w", err)
	}
	if d.Issuer == "" || d.AuthorizationEndpoint == "" || d.TokenEndpoint == "" {
		return nil, errors.New("not an OpenID discovery document: issuer, authorization_endpoint and token_endpoint are required")
	}
	out := map[string]string{"issuer": d.Issuer, "authorizationUrl": d.AuthorizationEndpoint, "tokenUrl": d.TokenEndpoint}
	for k, v := range map[string]string{"userInfoUrl": d.UserinfoEndpoint, "logoutUrl": d.EndSessionEndpoint, "tokenIntrospectionUrl": d.IntrospectionEndpoint} {
		if v != "" {
			out[k] = v
		}
	}
	if d.JWKSURI != "" {
		out["jwksUrl"], out["useJwksUrl"], out["validateSignature"] = d.JWKSURI, "true", "true"
	}
	for _, k := range urlKeys {
		if v, ok := out[k]; ok {
			if err := checkURL(v); err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
		}
	}
	return out, nil
}
