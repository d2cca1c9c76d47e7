package rep

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/oidc"
	"github.com/keygate/keygate/federation/saml"
)

// Identity providers (Keycloak's identityProviders and
// identityProviderMappers) as the admin API and realm imports take them:
// the alias rule, Keycloak's normalisation of a representation, the
// validation of the providers keygate brokers to (saml, oidc,
// keycloak-oidc) and of their mappers, and the one warning that names what
// keygate stores without acting on it. Providers of any other type
// (Keycloak's social providers, Kerberos) are stored and exported, never
// used to sign in.

// brokerProviders are the providerIds keygate can sign in through.
var brokerProviders = []string{saml.ProviderID, oidc.ProviderOIDC, oidc.ProviderKeycloakOIDC}

// IsBrokerProvider reports whether keygate can sign in through identity
// providers of type providerID.
func IsBrokerProvider(providerID string) bool { return slices.Contains(brokerProviders, providerID) }

// maxAliasLength is Keycloak's column size for an alias.
const maxAliasLength = 255

// IdPError is an identity provider or mapper keygate refuses. Field names
// what is wrong in the representation: "alias", "providerId",
// "identityProviderAlias", "name", "identityProviderMapper" or
// "config.<key>".
type IdPError struct {
	Field   string
	Message string
}

func (e *IdPError) Error() string { return e.Field + ": " + e.Message }

// CheckIdentityProviderAlias refuses an alias that cannot name a provider
// in keygate's URLs (/realms/{realm}/broker/{alias}/endpoint): it must be
// 1 to 255 of the characters A-Z a-z 0-9 . _ - and not only dots. Keycloak
// only refuses spaces; keygate also refuses what a path would change.
func CheckIdentityProviderAlias(alias string) error {
	switch {
	case alias == "":
		return &IdPError{"alias", "required"}
	case len(alias) > maxAliasLength:
		return &IdPError{"alias", fmt.Sprintf("longer than %d characters", maxAliasLength)}
	case strings.Trim(alias, ".") == "":
		return &IdPError{"alias", "cannot be only dots"}
	}
	for _, r := range alias {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return &IdPError{"alias", "only letters, digits, '.', '_' and '-' are allowed"}
		}
	}
	return nil
}

// NormalizeIdentityProvider does to p what Keycloak's RepresentationToModel
// does on every create, update and import: config keys with an empty value
// are dropped, and the legacy config key hideOnLoginPage becomes
// hideOnLogin.
func NormalizeIdentityProvider(p *IdentityProvider) {
	if p.Config == nil {
		return
	}
	cfg := make(map[string]string, len(p.Config))
	for k, v := range p.Config {
		if k == "hideOnLoginPage" {
			hide := strings.EqualFold(strings.TrimSpace(v), "true")
			p.HideOnLogin = &hide
			continue
		}
		if v != "" {
			cfg[k] = v
		}
	}
	p.Config = cfg
}

// ValidateIdentityProvider checks p as keygate's broker would open it:
// alias, providerId, and for saml, oidc and keycloak-oidc every config key
// keygate reads. Other providerIds pass (see IdentityProviderWarning). A
// clientSecret is taken as it is: a caller that keeps a stored one puts
// that in first.
func ValidateIdentityProvider(p IdentityProvider) error {
	if err := CheckIdentityProviderAlias(p.Alias); err != nil {
		return err
	}
	if strings.TrimSpace(p.ProviderID) == "" {
		return &IdPError{"providerId", "required"}
	}
	cfg := p.Config
	if cfg == nil {
		cfg = map[string]string{}
	}
	switch p.ProviderID {
	case saml.ProviderID:
		if err := saml.ValidateConfig(cfg); err != nil {
			var ve *saml.ValidationError
			if errors.As(err, &ve) {
				return &IdPError{"config." + ve.Key, ve.Message}
			}
			return &IdPError{"config", err.Error()}
		}
	case oidc.ProviderOIDC, oidc.ProviderKeycloakOIDC:
		if err := oidc.ValidateConfig(cfg); err != nil {
			return keyedError(err)
		}
	}
	return nil
}

// keyedError turns a federation error whose text starts with the config
// key at fault ("clientId: required", `syncMode "X": want ...`) into an
// IdPError naming config.<key>; "name" and "identityProviderMapper" are
// fields of a mapper, not config keys.
func keyedError(err error) error {
	msg := err.Error()
	i := strings.IndexAny(msg, ": ")
	if i <= 0 {
		return &IdPError{"config", msg}
	}
	key, rest := msg[:i], strings.TrimSpace(msg[i+1:])
	if msg[i] == ' ' { // `key "value": reason`: the value stays in the message
		rest = strings.TrimSpace(msg[i:])
	}
	switch key {
	case "name", "identityProviderMapper":
		return &IdPError{key, rest}
	}
	return &IdPError{"config." + key, rest}
}

// IdentityProviderWarning is the one warning to log or report for p, or
// "": a providerId keygate cannot sign in through, or the config keys
// keygate stores and exports without acting on them (names only, never
// values).
func IdentityProviderWarning(p IdentityProvider) string {
	if !IsBrokerProvider(p.ProviderID) {
		return fmt.Sprintf("identity provider %q: providerId %q is stored and exported but cannot be used to sign in", p.Alias, p.ProviderID)
	}
	row, err := IdentityProviderToStore("", p)
	if err != nil {
		return ""
	}
	var keys []string
	switch p.ProviderID {
	case saml.ProviderID:
		keys = saml.Unimplemented(row)
	default:
		keys = oidc.Unimplemented(row)
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	return fmt.Sprintf("identity provider %q: settings keygate stores but does not act on: %s", p.Alias, strings.Join(keys, ", "))
}

// NormalizeIdentityProviderMapper drops config keys with an empty value,
// as Keycloak's RepresentationToModel does.
func NormalizeIdentityProviderMapper(m *IdentityProviderMapper) {
	if m.Config == nil {
		return
	}
	cfg := make(map[string]string, len(m.Config))
	for k, v := range m.Config {
		if v != "" {
			cfg[k] = v
		}
	}
	m.Config = cfg
}

// ValidateIdentityProviderMapper checks m for a provider of type
// providerID (federation.ValidateIdPMapper): an unknown sync mode, a
// missing required key, a regular expression or JSON list that does not
// parse. Unknown mapper types and keys pass (see
// IdentityProviderMapperWarning).
func ValidateIdentityProviderMapper(m IdentityProviderMapper, providerID string) error {
	if err := federation.ValidateIdPMapper(IdentityProviderMapperToStore("", m), providerID); err != nil {
		return keyedError(err)
	}
	return nil
}

// IdentityProviderMapperWarning is the one warning for m, or "": an
// unknown or stored-only type, a type that does not apply to the
// provider, unknown config keys.
func IdentityProviderMapperWarning(m IdentityProviderMapper, providerID string) string {
	return strings.Join(federation.IdPMapperWarnings(IdentityProviderMapperToStore("", m), providerID), "; ")
}

// withIdPDefaults fills what Keycloak's ModelToRepresentation always
// writes: the booleans (false), updateProfileFirstLoginMode ("on", the
// representation's default, which Keycloak no longer stores) and an empty
// config. firstBrokerLoginFlowAlias stays unset unless the provider has
// one: since Keycloak 26 a provider without one uses the realm's first
// broker login flow.
func withIdPDefaults(p *IdentityProvider) {
	if p.Enabled == nil {
		p.Enabled = ptr(true)
	}
	for _, b := range []**bool{&p.TrustEmail, &p.StoreToken, &p.AddReadTokenRoleOnCreate, &p.AuthenticateByDefault, &p.LinkOnly, &p.HideOnLogin} {
		if *b == nil {
			*b = ptr(false)
		}
	}
	if p.UpdateProfileFirstLoginMode == "" {
		p.UpdateProfileFirstLoginMode = "on"
	}
	if p.Config == nil {
		p.Config = map[string]string{}
	}
}
