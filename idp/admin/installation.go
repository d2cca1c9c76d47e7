package admin

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/keygate/keygate/idp/rep"
)

// Client adapter configurations (GET /clients/{client}/installation/
// providers/{providerId}, view-clients): keycloak-oidc-keycloak-json, the
// keycloak.json keycloak-js and Keycloak's adapters load, and
// keycloak-oidc-jboss-subsystem, the same as WildFly subsystem XML. Both
// are text/plain, as Keycloak answers them; other providers are 404
// "Unknown Provider".

// adapterConfig is Keycloak's InstallationAdapterConfig, its fields in
// Keycloak's order.
type adapterConfig struct {
	Realm                   string `json:"realm"`
	BearerOnly              *bool  `json:"bearer-only,omitempty"`
	AuthServerURL           string `json:"auth-server-url"`
	SSLRequired             string `json:"ssl-required"`
	Resource                string `json:"resource"`
	PublicClient            *bool  `json:"public-client,omitempty"`
	VerifyTokenAudience     *bool  `json:"verify-token-audience,omitempty"`
	Credentials             any    `json:"credentials,omitempty"`
	UseResourceRoleMappings *bool  `json:"use-resource-role-mappings,omitempty"`
	ConfidentialPort        int    `json:"confidential-port"`
	PolicyEnforcer          any    `json:"policy-enforcer,omitempty"`
}

func (a *API) installationProvider(c *call) error {
	row, err := a.client(c)
	if err != nil {
		return err
	}
	provider := c.r.PathValue("provider")
	if provider != "keycloak-oidc-keycloak-json" && provider != "keycloak-oidc-jboss-subsystem" {
		return notFound("Unknown Provider")
	}
	cl, s, err := rep.DecodeClient(row)
	if err != nil {
		return err
	}
	_, rs, err := rep.DecodeRealm(c.realm)
	if err != nil {
		return err
	}
	roles, err := a.st.ListRoles(c.ctx, c.realm.ID, row.ID)
	if err != nil {
		return err
	}
	audience, err := a.verifyTokenAudience(c, row.ClientID, len(roles) > 0)
	if err != nil {
		return err
	}
	secret := row.Secret
	if secret != "" && !c.caller.serverAdmin {
		// The secret is the service account's password: masked for a
		// caller who may not change the client, as in its representation.
		if err := a.mayChangeClient(c, row); errors.Is(err, errForbidden) {
			secret = secretMask
		} else if err != nil {
			return err
		}
	}
	var creds map[string]any
	if showCredentials(cl, s) {
		creds = adapterCredentials(s, secret)
	}
	base := a.p.BaseURL(c.r) + "/" // Keycloak's base URI ends in a slash
	yes := true
	var out []byte
	if provider == "keycloak-oidc-keycloak-json" {
		cfg := adapterConfig{Realm: c.realm.Name, AuthServerURL: base, SSLRequired: strings.ToLower(rs.SSLRequired),
			Resource: row.ClientID}
		if s.PublicClient && !s.BearerOnly {
			cfg.PublicClient = &yes
		}
		if s.BearerOnly {
			cfg.BearerOnly = &yes
		}
		if len(roles) > 0 {
			cfg.UseResourceRoleMappings = &yes
		}
		if creds != nil {
			cfg.Credentials = creds
		}
		if audience {
			cfg.VerifyTokenAudience = &yes
		}
		if boolVal(cl.AuthorizationServicesEnabled) {
			cfg.PolicyEnforcer = struct{}{}
			if len(roles) == 1 && roles[0].Name == "uma_protection" {
				cfg.UseResourceRoleMappings = nil
			}
		}
		if out, err = json.MarshalIndent(cfg, "", "  "); err != nil {
			return err
		}
	} else {
		out = subsystemXML(c.realm.Name, base, rs.SSLRequired, row.ClientID, s, audience, creds, len(roles) > 0)
	}
	c.w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	c.w.Header().Set("Cache-Control", "no-cache")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(out)
	return nil
}

// showCredentials is Keycloak's showClientCredentialsAdapterConfig: not
// for public clients, nor for bearer-only ones that have no service
// account and do not re-register nodes.
func showCredentials(cl rep.Client, s rep.ClientSettings) bool {
	if s.PublicClient {
		return false
	}
	reRegister := cl.NodeReRegistrationTimeout != nil && *cl.NodeReRegistrationTimeout > 0
	return !(s.BearerOnly && !s.ServiceAccountsEnabled && !reRegister)
}

// adapterCredentials is the adapter configuration of the client's
// authenticator (Keycloak's ClientAuthenticatorFactory
// .getAdapterConfiguration).
func adapterCredentials(s rep.ClientSettings, secret string) map[string]any {
	alg := s.Attributes["token.endpoint.auth.signing.alg"]
	switch s.ClientAuthenticatorType {
	case "client-secret":
		return map[string]any{"secret": secret}
	case "client-secret-jwt":
		m := map[string]any{"secret": secret}
		if alg != "" {
			m["algorithm"] = alg
		}
		return map[string]any{"secret-jwt": m}
	case "client-jwt":
		m := map[string]any{
			"client-keystore-file":     "REPLACE WITH THE LOCATION OF YOUR KEYSTORE FILE",
			"client-keystore-type":     "jks",
			"client-keystore-password": "REPLACE WITH THE KEYSTORE PASSWORD",
			"client-key-password":      "REPLACE WITH THE KEY PASSWORD IN KEYSTORE",
			"client-key-alias":         s.ClientID,
			"token-timeout":            10,
		}
		if alg != "" {
			m["algorithm"] = alg
		}
		return map[string]any{"jwt": m}
	}
	return map[string]any{} // client-x509: the certificate is the credential
}

// verifyTokenAudience is Keycloak's showVerifyTokenAudience: the client
// has roles, or one of the realm's client scopes has an audience mapper
// naming it.
func (a *API) verifyTokenAudience(c *call, clientID string, hasRoles bool) (bool, error) {
	if hasRoles {
		return true, nil
	}
	scopes, err := a.st.ListClientScopes(c.ctx, c.realm.ID)
	if err != nil {
		return false, err
	}
	for _, row := range scopes {
		sc, err := rep.ClientScopeFromStore(row)
		if err != nil {
			return false, err
		}
		if slices.ContainsFunc(sc.ProtocolMappers, func(m rep.ProtocolMapper) bool {
			return m.ProtocolMapper == "oidc-audience-mapper" && m.Config["included.client.audience"] == clientID
		}) {
			return true, nil
		}
	}
	return false, nil
}

// subsystemXML is Keycloak's KeycloakOIDCJbossSubsystemClientInstallation
// (values escaped, which Keycloak does not do; nested credential entries
// sorted by name).
func subsystemXML(realm, base, ssl, clientID string, s rep.ClientSettings, audience bool, creds map[string]any, hasRoles bool) []byte {
	esc := func(v string) string {
		var b strings.Builder
		_ = xml.EscapeText(&b, []byte(v))
		return b.String()
	}
	var b strings.Builder
	b.WriteString("<secure-deployment name=\"WAR MODULE NAME.war\">\n")
	b.WriteString("    <realm>" + esc(realm) + "</realm>\n")
	b.WriteString("    <auth-server-url>" + esc(base) + "</auth-server-url>\n")
	if s.BearerOnly {
		b.WriteString("    <bearer-only>true</bearer-only>\n")
	} else if s.PublicClient {
		b.WriteString("    <public-client>true</public-client>\n")
	}
	b.WriteString("    <ssl-required>" + esc(strings.ToUpper(ssl)) + "</ssl-required>\n")
	b.WriteString("    <resource>" + esc(clientID) + "</resource>\n")
	if audience {
		b.WriteString("    <verify-token-audience>true</verify-token-audience>\n")
	}
	for _, k := range slices.Sorted(maps.Keys(creds)) {
		b.WriteString("    <credential name=\"" + esc(k) + "\">")
		if m, ok := creds[k].(map[string]any); ok {
			b.WriteString("\n")
			for _, kk := range slices.Sorted(maps.Keys(m)) {
				b.WriteString("        <" + kk + ">" + esc(toString(m[kk])) + "</" + kk + ">\n")
			}
			b.WriteString("    </credential>\n")
		} else {
			b.WriteString(esc(toString(creds[k])) + "</credential>\n")
		}
	}
	if hasRoles {
		b.WriteString("    <use-resource-role-mappings>true</use-resource-role-mappings>\n")
	}
	b.WriteString("</secure-deployment>\n")
	return []byte(b.String())
}

func toString(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}
