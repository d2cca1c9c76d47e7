package idp

import (
	"context"
	"log/slog"
	"slices"
	"strings"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
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

// LogUnimplementedFederationKeys logs, once per realm and LDAP provider,
// the configuration keys it sets that keygate does not act on (Kerberos,
// Keycloak's user cache): one line each, so an operator migrating from
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
	}
	return nil
}

// unimplementedKeys are cfg's ldap.Unimplemented keys set to something
// other than their default, sorted.
func unimplementedKeys(cfg map[string][]string) []string {
	var out []string
	for _, k := range ldap.Unimplemented {
		v := strings.TrimSpace(strings.Join(cfg[k], ""))
		if v == "" || slices.ContainsFunc(unimplementedDefaults[k], func(d string) bool { return strings.EqualFold(d, v) }) {
			continue
		}
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
