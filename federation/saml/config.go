package saml

import (
	"crypto/ecdsa"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keygate/keygate/store"
)

// Keycloak's SAMLIdentityProviderConfig keys (and the generic
// IdentityProviderModel keys a SAML provider carries).
const (
	keyEntityID                        = "entityId"
	keyIdpEntityID                     = "idpEntityId"
	keySingleSignOnServiceURL          = "singleSignOnServiceUrl"
	keySingleLogoutServiceURL          = "singleLogoutServiceUrl"
	keyArtifactResolutionServiceURL    = "artifactResolutionServiceUrl"
	keyArtifactBindingResponse         = "artifactBindingResponse"
	keyNameIDPolicyFormat              = "nameIDPolicyFormat"
	keyPrincipalType                   = "principalType"
	keyPrincipalAttribute              = "principalAttribute"
	keyPostBindingAuthnRequest         = "postBindingAuthnRequest"
	keyPostBindingResponse             = "postBindingResponse"
	keyPostBindingLogout               = "postBindingLogout"
	keyWantAuthnRequestsSigned         = "wantAuthnRequestsSigned"
	keySignatureAlgorithm              = "signatureAlgorithm"
	keyXMLSigKeyInfoKeyNameTransformer = "xmlSigKeyInfoKeyNameTransformer"
	keyAddExtensionsElementWithKeyInfo = "addExtensionsElementWithKeyInfo"
	keyValidateSignature               = "validateSignature"
	keySigningCertificate              = "signingCertificate"
	keyWantAssertionsSigned            = "wantAssertionsSigned"
	keyWantAssertionsEncrypted         = "wantAssertionsEncrypted"
	keyEncryptionAlgorithm             = "encryptionAlgorithm"
	keyEncryptionPublicKey             = "encryptionPublicKey"
	keyForceAuthn                      = "forceAuthn"
	keyAllowCreate                     = "allowCreate"
	keyAuthnContextComparisonType      = "authnContextComparisonType"
	keyAuthnContextClassRefs           = "authnContextClassRefs"
	keyAuthnContextDeclRefs            = "authnContextDeclRefs"
	keyAttributeConsumingServiceIndex  = "attributeConsumingServiceIndex"
	keyAttributeConsumingServiceName   = "attributeConsumingServiceName"
	keySignSpMetadata                  = "signSpMetadata"
	keyBackchannelSupported            = "backchannelSupported"
	keyAllowedClockSkew                = "allowedClockSkew"
	keyMetadataDescriptorURL           = "metadataDescriptorUrl"
	keyUseMetadataDescriptorURL        = "useMetadataDescriptorUrl"
	keyEnabledFromMetadata             = "enabledFromMetadata"
	keySyncMode                        = "syncMode"
	keyLoginHint                       = "loginHint"
)

// genericKeys are IdentityProviderModel keys other parts of keygate read
// (the login page, the first-login flow, the OIDC broker): accepted here
// without a word.
var genericKeys = []string{
	keySyncMode, keyLoginHint, "passMaxAge", "guiOrder", "hideOnLogin", "hideOnLoginPage",
	"caseSensitiveOriginalUsername", "filteredByClaim", "claimFilterName", "claimFilterValue",
	keyEnabledFromMetadata, keyEncryptionPublicKey, "authnContextClassRefsComparison",
	"displayIconClasses", "metadataDescriptorUrlRefreshInterval",
}

// Name ID formats (SAML core §8.3).
const (
	nameIDPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	nameIDTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	nameIDEmail       = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	nameIDUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
)

// Principal types (Keycloak's SamlPrincipalType).
const (
	principalSubject           = "SUBJECT"
	principalAttribute         = "ATTRIBUTE"
	principalFriendlyAttribute = "FRIENDLY_ATTRIBUTE"
)

// maxClockSkew bounds allowedClockSkew: crewjam/saml refuses anything
// beyond its own MaxClockSkew whatever keygate says, so a larger value
// would promise what is not done.
const maxClockSkew = 180 * time.Second

// ValidationError is an invalid configuration value; Key names the
// config key (the admin API answers 400 with it).
type ValidationError struct {
	Key     string
	Message string
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("saml identity provider: %s: %s", e.Key, e.Message)
}

func invalid(key, format string, args ...any) error {
	return &ValidationError{Key: key, Message: fmt.Sprintf(format, args...)}
}

// config is an identity provider's parsed configuration, with Keycloak's
// defaults filled in.
type config struct {
	alias      string
	storeToken bool

	entityID    string // our entity id; "" means the realm issuer
	idpEntityID string // "" means any issuer (Keycloak's behaviour)
	ssoURL      string
	sloURL      string

	nameIDPolicyFormat string
	principalType      string
	principalAttribute string

	postBindingAuthnRequest bool
	postBindingResponse     bool
	postBindingLogout       bool

	wantAuthnRequestsSigned bool
	signatureAlgorithm      string // Keycloak's name, e.g. RSA_SHA256

	validateSignature       bool
	signingCerts            []*x509.Certificate
	wantAssertionsSigned    bool
	wantAssertionsEncrypted bool

	forceAuthn              bool
	allowCreate             bool
	authnContextComparison  string
	authnContextClassRefs   []string
	attributeConsumingIndex *int
	attributeConsumingName  string
	signSpMetadata          bool
	loginHint               bool

	clockSkew time.Duration

	metadataURL    string
	useMetadataURL bool
}

// representation is the part of Keycloak's IdentityProviderRepresentation
// a SAML broker reads.
type representation struct {
	Alias      string                     `json:"alias"`
	ProviderID string                     `json:"providerId"`
	StoreToken bool                       `json:"storeToken"`
	Config     map[string]json.RawMessage `json:"config"`
}

// configMap returns the representation's config as strings (Keycloak's is
// Map<String,String>; a number or boolean that a hand-written export holds
// is read as its text).
func configMap(idp store.IdentityProvider) (representation, map[string]string, error) {
	var rep representation
	if len(idp.Config) > 0 {
		if err := json.Unmarshal(idp.Config, &rep); err != nil {
			return rep, nil, fmt.Errorf("saml identity provider %q: representation: %w", idp.Alias, err)
		}
	}
	if rep.Alias == "" {
		rep.Alias = idp.Alias
	}
	m := make(map[string]string, len(rep.Config))
	for k, raw := range rep.Config {
		var s string
		if err := json.Unmarshal(raw, &s); err == nil {
			m[k] = s
			continue
		}
		if string(raw) == "null" {
			continue
		}
		m[k] = strings.TrimSpace(string(raw))
	}
	return rep, m, nil
}

// ValidateConfig checks an identity provider's config map (the "config"
// object of the representation) as Open would: every key keygate reads
// must hold a valid value. It returns a *ValidationError naming the key.
func ValidateConfig(m map[string]string) error {
	_, err := parseConfig(m)
	return err
}

// Unimplemented returns the config keys of idp that keygate stores and
// exports but does not act on (artifact binding, Keycloak's KeyName
// transformer, extensions with KeyInfo, authentication context
// declarations, back-channel logout, RSASSA-PSS or DSA signing, RSA1_5
// encryption) and the keys it does not know, sorted: the caller logs them
// once.
func Unimplemented(idp store.IdentityProvider) []string {
	_, m, err := configMap(idp)
	if err != nil {
		return nil
	}
	var out []string
	for k, v := range m {
		switch k {
		case keyArtifactResolutionServiceURL:
			if strings.TrimSpace(v) != "" {
				out = append(out, k)
			}
		case keyArtifactBindingResponse, keyAddExtensionsElementWithKeyInfo, keyBackchannelSupported:
			if strings.EqualFold(strings.TrimSpace(v), "true") {
				out = append(out, k)
			}
		case keyXMLSigKeyInfoKeyNameTransformer:
			if v = strings.TrimSpace(v); v != "" && !strings.EqualFold(v, "NONE") {
				out = append(out, k)
			}
		case keyAuthnContextDeclRefs:
			if refs, err := stringList(v); err == nil && len(refs) > 0 {
				out = append(out, k)
			}
		case keySignatureAlgorithm:
			if _, exact := signatureAlgorithms[v]; !exact && v != "" {
				out = append(out, k)
			}
		case keyEncryptionAlgorithm:
			if v == "RSA1_5" {
				out = append(out, k)
			}
		default:
			if !knownKey(k) {
				out = append(out, k+" (unknown key)")
			}
		}
	}
	slices.Sort(out)
	return out
}

func knownKey(k string) bool {
	switch k {
	case keyEntityID, keyIdpEntityID, keySingleSignOnServiceURL, keySingleLogoutServiceURL,
		keyArtifactResolutionServiceURL, keyArtifactBindingResponse, keyNameIDPolicyFormat,
		keyPrincipalType, keyPrincipalAttribute, keyPostBindingAuthnRequest, keyPostBindingResponse,
		keyPostBindingLogout, keyWantAuthnRequestsSigned, keySignatureAlgorithm,
		keyXMLSigKeyInfoKeyNameTransformer, keyAddExtensionsElementWithKeyInfo, keyValidateSignature,
		keySigningCertificate, keyWantAssertionsSigned, keyWantAssertionsEncrypted, keyEncryptionAlgorithm,
		keyForceAuthn, keyAllowCreate, keyAuthnContextComparisonType, keyAuthnContextClassRefs,
		keyAuthnContextDeclRefs, keyAttributeConsumingServiceIndex, keyAttributeConsumingServiceName,
		keySignSpMetadata, keyBackchannelSupported, keyAllowedClockSkew, keyMetadataDescriptorURL,
		keyUseMetadataDescriptorURL:
		return true
	}
	return slices.Contains(genericKeys, k)
}

// signatureAlgorithms maps Keycloak's signatureAlgorithm values to the XML
// signature methods keygate signs with (for an RSA realm key).
var signatureAlgorithms = map[string]string{
	"RSA_SHA1":   dsig.RSASHA1SignatureMethod,
	"RSA_SHA256": dsig.RSASHA256SignatureMethod,
	"RSA_SHA512": dsig.RSASHA512SignatureMethod,
}

// approximatedSignatureAlgorithms are Keycloak values keygate signs
// without: RSASSA-PSS (crewjam/saml signs PKCS #1 v1.5 only) and DSA (Go
// has no DSA signer); the nearest supported method is used and the key is
// reported by Unimplemented.
var approximatedSignatureAlgorithms = map[string]string{
	"RSA_SHA256_MGF1": dsig.RSASHA256SignatureMethod,
	"RSA_SHA512_MGF1": dsig.RSASHA512SignatureMethod,
	"DSA_SHA1":        dsig.RSASHA256SignatureMethod,
}

// signatureMethod returns the XML signature method for the configured
// algorithm and the realm key's type.
func signatureMethod(algorithm string, pub any) string {
	m, ok := signatureAlgorithms[algorithm]
	if !ok {
		m, ok = approximatedSignatureAlgorithms[algorithm]
	}
	if !ok {
		m = dsig.RSASHA256SignatureMethod
	}
	if _, isEC := pub.(*ecdsa.PublicKey); isEC {
		switch m {
		case dsig.RSASHA1SignatureMethod:
			return dsig.ECDSASHA1SignatureMethod
		case dsig.RSASHA512SignatureMethod:
			return dsig.ECDSASHA512SignatureMethod
		default:
			return dsig.ECDSASHA256SignatureMethod
		}
	}
	return m
}

func parseConfig(m map[string]string) (*config, error) {
	get := func(k string) string { return strings.TrimSpace(m[k]) }
	c := &config{
		entityID:           get(keyEntityID),
		idpEntityID:        get(keyIdpEntityID),
		ssoURL:             get(keySingleSignOnServiceURL),
		sloURL:             get(keySingleLogoutServiceURL),
		nameIDPolicyFormat: get(keyNameIDPolicyFormat),
		principalType:      get(keyPrincipalType),
		principalAttribute: get(keyPrincipalAttribute),
		signatureAlgorithm: get(keySignatureAlgorithm),
		metadataURL:        get(keyMetadataDescriptorURL),
	}
	var err error
	boolean := func(k string, def bool) bool {
		if err != nil {
			return def
		}
		var v bool
		v, err = parseBool(k, m[k], def)
		return v
	}
	c.postBindingAuthnRequest = boolean(keyPostBindingAuthnRequest, false)
	c.postBindingResponse = boolean(keyPostBindingResponse, false)
	c.postBindingLogout = boolean(keyPostBindingLogout, c.postBindingResponse)
	c.wantAuthnRequestsSigned = boolean(keyWantAuthnRequestsSigned, false)
	// keygate's one deliberate difference from Keycloak: signatures are
	// checked unless validateSignature is explicitly "false".
	c.validateSignature = boolean(keyValidateSignature, true)
	c.wantAssertionsSigned = boolean(keyWantAssertionsSigned, false)
	c.wantAssertionsEncrypted = boolean(keyWantAssertionsEncrypted, false)
	c.forceAuthn = boolean(keyForceAuthn, false)
	c.allowCreate = boolean(keyAllowCreate, false)
	c.signSpMetadata = boolean(keySignSpMetadata, false)
	c.useMetadataURL = boolean(keyUseMetadataDescriptorURL, false)
	c.loginHint = boolean(keyLoginHint, false)
	for _, k := range []string{keyArtifactBindingResponse, keyAddExtensionsElementWithKeyInfo, keyBackchannelSupported, keyEnabledFromMetadata} {
		boolean(k, false)
	}
	if err != nil {
		return nil, err
	}

	if c.ssoURL == "" {
		return nil, invalid(keySingleSignOnServiceURL, "required")
	}
	for _, k := range []string{keySingleSignOnServiceURL, keySingleLogoutServiceURL, keyMetadataDescriptorURL, keyArtifactResolutionServiceURL} {
		if err := checkURL(k, get(k)); err != nil {
			return nil, err
		}
	}
	if c.useMetadataURL && c.metadataURL == "" {
		return nil, invalid(keyMetadataDescriptorURL, "required when %s is true", keyUseMetadataDescriptorURL)
	}

	switch strings.ToUpper(c.principalType) {
	case "", principalSubject:
		c.principalType = principalSubject
	case principalAttribute, principalFriendlyAttribute:
		c.principalType = strings.ToUpper(c.principalType)
		if c.principalAttribute == "" {
			return nil, invalid(keyPrincipalAttribute, "required when %s is %s", keyPrincipalType, c.principalType)
		}
	default:
		return nil, invalid(keyPrincipalType, "must be SUBJECT, ATTRIBUTE or FRIENDLY_ATTRIBUTE")
	}
	if c.nameIDPolicyFormat == "" {
		c.nameIDPolicyFormat = nameIDPersistent
	} else if u, perr := url.Parse(c.nameIDPolicyFormat); perr != nil || u.Scheme == "" {
		return nil, invalid(keyNameIDPolicyFormat, "must be a URI")
	}
	if c.nameIDPolicyFormat == nameIDTransient && c.principalType == principalSubject {
		return nil, invalid(keyNameIDPolicyFormat, "the transient format cannot identify users with principalType SUBJECT")
	}

	if a := c.signatureAlgorithm; a != "" {
		if _, ok := signatureAlgorithms[a]; !ok {
			if _, ok := approximatedSignatureAlgorithms[a]; !ok {
				return nil, invalid(keySignatureAlgorithm, "unknown algorithm %q", a)
			}
		}
	} else {
		c.signatureAlgorithm = "RSA_SHA256"
	}
	switch v := get(keyXMLSigKeyInfoKeyNameTransformer); strings.ToUpper(v) {
	case "", "NONE", "KEY_ID", "CERT_SUBJECT":
	default:
		return nil, invalid(keyXMLSigKeyInfoKeyNameTransformer, "must be NONE, KEY_ID or CERT_SUBJECT")
	}
	switch v := get(keyEncryptionAlgorithm); v {
	case "", "RSA-OAEP-11", "RSA-OAEP-MGF1P", "RSA1_5":
	default:
		return nil, invalid(keyEncryptionAlgorithm, "must be RSA-OAEP-11, RSA-OAEP-MGF1P or RSA1_5")
	}
	switch v := get(keySyncMode); v {
	case "", "IMPORT", "FORCE", "LEGACY":
	default:
		return nil, invalid(keySyncMode, "must be IMPORT, FORCE or LEGACY")
	}

	if raw := get(keySigningCertificate); raw != "" {
		certs, cerr := ParseCertificates(raw)
		if cerr != nil {
			return nil, invalid(keySigningCertificate, "%v", cerr)
		}
		c.signingCerts = certs
	}
	if c.validateSignature && !c.useMetadataURL && len(c.signingCerts) == 0 {
		return nil, invalid(keySigningCertificate, "required when %s is true (or set %s)", keyValidateSignature, keyUseMetadataDescriptorURL)
	}

	if v := get(keyAllowedClockSkew); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 {
			return nil, invalid(keyAllowedClockSkew, "must be a number of seconds, 0 or more")
		}
		if d := time.Duration(n) * time.Second; d > maxClockSkew {
			return nil, invalid(keyAllowedClockSkew, "at most %d seconds", int(maxClockSkew/time.Second))
		} else {
			c.clockSkew = d
		}
	}

	switch v := strings.ToLower(get(keyAuthnContextComparisonType)); v {
	case "", "exact":
		c.authnContextComparison = "exact"
	case "minimum", "maximum", "better":
		c.authnContextComparison = v
	default:
		return nil, invalid(keyAuthnContextComparisonType, "must be exact, minimum, maximum or better")
	}
	if refs, lerr := stringList(get(keyAuthnContextClassRefs)); lerr != nil {
		return nil, invalid(keyAuthnContextClassRefs, "must be a JSON array of strings")
	} else {
		c.authnContextClassRefs = refs
	}
	if _, lerr := stringList(get(keyAuthnContextDeclRefs)); lerr != nil {
		return nil, invalid(keyAuthnContextDeclRefs, "must be a JSON array of strings")
	}
	if v := get(keyAttributeConsumingServiceIndex); v != "" {
		n, perr := strconv.Atoi(v)
		if perr != nil || n < 0 || n > 65535 {
			return nil, invalid(keyAttributeConsumingServiceIndex, "must be a number from 0 to 65535")
		}
		c.attributeConsumingIndex = &n
	}
	c.attributeConsumingName = get(keyAttributeConsumingServiceName)
	return c, nil
}

// parseBool reads Keycloak's "true"/"false" strings; empty means def.
func parseBool(key, v string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "":
		return def, nil
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	return false, invalid(key, "must be true or false")
}

func checkURL(key, v string) error {
	if v == "" {
		return nil
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return invalid(key, "must be an http or https URL")
	}
	return nil
}

// stringList reads Keycloak's JSON-array-in-a-string values
// (authnContextClassRefs).
func stringList(v string) ([]string, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	var refs []string
	if err := json.Unmarshal([]byte(v), &refs); err != nil {
		return nil, err
	}
	return slices.DeleteFunc(refs, func(s string) bool { return strings.TrimSpace(s) == "" }), nil
}

// ParseCertificates reads Keycloak's signingCertificate value: base64 DER
// certificates separated by commas (PEM armour and line breaks allowed).
// Each must hold an RSA or ECDSA key.
func ParseCertificates(v string) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for i, part := range strings.Split(v, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		var der []byte
		if block, _ := pem.Decode([]byte(part)); block != nil {
			der = block.Bytes
		} else {
			b, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(part), ""))
			if err != nil {
				return nil, fmt.Errorf("certificate %d: not base64", i+1)
			}
			der = b
		}
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		switch cert.PublicKey.(type) {
		case *rsa.PublicKey, *ecdsa.PublicKey:
		default:
			return nil, fmt.Errorf("certificate %d: key type %T not supported", i+1, cert.PublicKey)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return nil, errors.New("no certificate")
	}
	return certs, nil
}
