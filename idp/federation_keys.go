package idp

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	oidcbroker "github.com/keygate/keygate/federation/oidc"
	samlbroker "github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/store"
)

// unimplementedDefaults are the values of ldap.Unimplemented keys that ask
// for nothing (Keycloak's defaults); any other value is a setting keygate
// stores and exports but does not act on. Keys not listed default to "".
var unimplementedDefaults = map[string][]string{
	"allowKerberosAuthentication":          {"false"},
	"useKerberosForPasswordAuthentication": {"false"},
	"debug":                                {"false"},
	"enableLdapPasswordPolicy":             {"false"},
	"cachePolicy":                          {"DEFAULT"},
}

// LogUnimplementedFederationKeys logs, once per realm and LDAP provider or
// identity provider, the configuration keys it sets that keygate does not
// act on (Kerberos, Keycloak's user cache, the SAML artifact binding, ...)
// and identity providers of types keygate has no broker for: one line each, so an operator migrating from
// Keycloak sees what is ignored. Values are never logged.
func LogUnimplementedFederationKeys(ctx context.Context, st store.Store, log *slog.Logger) error {
	realms, err := st.ListRealms(ctx)
	if err != nil {
		return err
	}
	for _, r := range realms {
		comps, err := st.ListComponents(ctx, r.ID, "", federation.UserStorageType)
		if err != nil {
			return err
		}
		for _, c := range comps {
			if c.ProviderID != "ldap" {
				continue
			}
			if keys := unimplementedKeys(c.Config); len(keys) > 0 {
				log.WarnContext(ctx, "LDAP provider has settings keygate stores but does not act on",
					"realm", r.Name, "provider", c.Name, "id", c.ID, "keys", strings.Join(keys, ","))
			}
		}
		idps, err := st.ListIdentityProviders(ctx, r.ID)
		if err != nil {
			return err
		}
		for _, p := range idps {
			var keys []string
			switch p.ProviderID {
			case samlbroker.ProviderID:
				keys = samlbroker.Unimplemented(p)
			case oidcbroker.ProviderOIDC, oidcbroker.ProviderKeycloakOIDC:
				keys = oidcbroker.Unimplemented(p)
			default:
				log.WarnContext(ctx, "identity provider type keygate cannot sign in with: stored and exported only",
					"realm", r.Name, "alias", p.Alias, "providerId", p.ProviderID)
				continue
			}
			if len(keys) > 0 {
				log.WarnContext(ctx, "identity provider has settings keygate stores but does not act on",
					"realm", r.Name, "alias", p.Alias, "keys", strings.Join(keys, ","))
			}
		}
	}
	return nil
}

// unimplementedDependsOn: these keys mean something only when their
// switch is on (Keycloak's admin console fills krbPrincipalAttribute in
// for every new provider, Kerberos or not).
var unimplementedDependsOn = map[string][]string{
	"kerberosRealm": kerberosSwitches, "serverPrincipal": kerberosSwitches, "keyTab": kerberosSwitches,
	"krbPrincipalAttribute": kerberosSwitches, "debug": kerberosSwitches,
	"evictionDay": {"cachePolicy"}, "evictionHour": {"cachePolicy"}, "evictionMinute": {"cachePolicy"}, "maxLifespan": {"cachePolicy"},
}

var kerberosSwitches = []string{"allowKerberosAuthentication", "useKerberosForPasswordAuthentication"}

// unimplementedKeys are cfg's ldap.Unimplemented keys set to something
// other than their default (and whose switch is on), sorted.
func unimplementedKeys(cfg map[string][]string) []string {
	set := func(k string) bool {
		v := strings.TrimSpace(strings.Join(cfg[k], ""))
		return v != "" && !slices.ContainsFunc(unimplementedDefaults[k], func(d string) bool { return strings.EqualFold(d, v) })
	}
	var out []string
	for _, k := range ldap.Unimplemented {
		if !set(k) {
			continue
		}
		if on := unimplementedDependsOn[k]; len(on) > 0 && !slices.ContainsFunc(on, set) {
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
