package registration

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
)

func newUUID() string { return uuid.NewString() }

// ---- default: Keycloak's ClientRepresentation

type defaultProvider struct{}

func (defaultProvider) name() string { return "default" }

func (defaultProvider) decode(data []byte, base *rep.Client) (rep.Client, error) {
	var c rep.Client
	if base != nil {
		c = *base
	}
	err := rep.Decode(data, &c)
	return c, err
}

func (defaultProvider) encode(c rep.Client, out response) any {
	c.RegistrationAccessToken = out.token
	return c
}

// ---- openid-connect: RFC 7591 client metadata

type oidcProvider struct{}

func (oidcProvider) name() string { return "openid-connect" }

// metadata is RFC 7591's client metadata (and RFC 7592's response fields).
type metadata struct {
	ClientID                              string         `json:"client_id,omitempty"`
	ClientSecret                          string         `json:"client_secret,omitempty"`
	ClientIDIssuedAt                      int64          `json:"client_id_issued_at,omitempty"`
	ClientSecretExpiresAt                 *int64         `json:"client_secret_expires_at,omitempty"`
	RegistrationClientURI                 string         `json:"registration_client_uri,omitempty"`
	RegistrationAccessToken               string         `json:"registration_access_token,omitempty"`
	RedirectURIs                          []string       `json:"redirect_uris"`
	TokenEndpointAuthMethod               string         `json:"token_endpoint_auth_method,omitempty"`
	GrantTypes                            []string       `json:"grant_types"`
	ResponseTypes                         []string       `json:"response_types"`
	ClientName                            string         `json:"client_name,omitempty"`
	ClientURI                             string         `json:"client_uri,omitempty"`
	LogoURI                               string         `json:"logo_uri,omitempty"`
	Scope                                 string         `json:"scope,omitempty"`
	Contacts                              []string       `json:"contacts,omitempty"`
	TosURI                                string         `json:"tos_uri,omitempty"`
	PolicyURI                             string         `json:"policy_uri,omitempty"`
	JwksURI                               string         `json:"jwks_uri,omitempty"`
	Jwks                                  map[string]any `json:"jwks,omitempty"`
	SubjectType                           string         `json:"subject_type,omitempty"`
	IDTokenSignedResponseAlg              string         `json:"id_token_signed_response_alg,omitempty"`
	PostLogoutRedirectURIs                []string       `json:"post_logout_redirect_uris,omitempty"`
	BackchannelLogoutURI                  string         `json:"backchannel_logout_uri,omitempty"`
	BackchannelLogoutSessionRequired      *bool          `json:"backchannel_logout_session_required,omitempty"`
	FrontchannelLogoutURI                 string         `json:"frontchannel_logout_uri,omitempty"`
	TLSClientCertificateBoundAccessTokens *bool          `json:"tls_client_certificate_bound_access_tokens,omitempty"`
	RequirePushedAuthorizationRequests    *bool          `json:"require_pushed_authorization_requests,omitempty"`
	SoftwareID                            string         `json:"software_id,omitempty"`
	SoftwareVersion                       string         `json:"software_version,omitempty"`
}

// Client attributes the metadata lands in (Keycloak's names).
const (
	attrPostLogout   = "post.logout.redirect.uris"
	attrJwksURL      = "jwks.url"
	attrUseJwksURL   = "use.jwks.url"
	attrJwksString   = "jwks.string"
	attrUseJwksStr   = "use.jwks.string"
	attrBackchannel  = "backchannel.logout.url"
	attrBackSession  = "backchannel.logout.session.required"
	attrFrontchannel = "frontchannel.logout.url"
	attrIDTokenAlg   = "id.token.signed.response.alg"
	attrTLSBound     = "tls.client.certificate.bound.access.tokens"
	attrPAR          = "require.pushed.authorization.requests"
	attrRefresh      = "use.refresh.tokens"
	attrAuthMethod   = "token.endpoint.auth.method" // keygate: remembers basic vs post
)

// decode maps RFC 7591 metadata onto a ClientRepresentation as Keycloak's
// DescriptionConverter does. On update (base != nil) the metadata replaces
// the registered metadata; what metadata cannot express (protocol mappers,
// roles, default scopes) is kept.
func (oidcProvider) decode(data []byte, base *rep.Client) (rep.Client, error) {
	var m metadata
	if err := rep.Decode(data, &m); err != nil {
		return rep.Client{}, err
	}
	var c rep.Client
	if base != nil {
		c = *base
		c.ClientID = m.ClientID
	}
	attrs := map[string]string{}
	for k, v := range c.Attributes {
		attrs[k] = v
	}
	for _, k := range []string{attrPostLogout, attrJwksURL, attrUseJwksURL, attrJwksString, attrUseJwksStr, attrBackchannel,
		attrBackSession, attrFrontchannel, attrIDTokenAlg, attrTLSBound, attrPAR, attrRefresh, attrAuthMethod,
		"logoUri", "policyUri", "tosUri", "contacts"} {
		delete(attrs, k)
	}
	set := func(k, v string) {
		if v != "" {
			attrs[k] = v
		}
	}
	bset := func(k string, b *bool) {
		if b != nil {
			attrs[k] = strconv.FormatBool(*b)
		}
	}

	method := m.TokenEndpointAuthMethod
	switch method {
	case "":
		method = "client_secret_basic"
	case "none", "client_secret_basic", "client_secret_post":
	default:
		return c, invalidMetadata("Unsupported token_endpoint_auth_method " + strconv.Quote(method) +
			": keygate supports none, client_secret_basic and client_secret_post")
	}
	public := method == "none"
	c.PublicClient, c.ClientAuthenticatorType = &public, "client-secret"
	set(attrAuthMethod, method)

	grants := m.GrantTypes
	if grants == nil {
		grants = []string{"authorization_code", "refresh_token"}
	}
	responses := m.ResponseTypes
	if responses == nil {
		responses = []string{"code"}
	}
	for _, g := range grants {
		switch g {
		case "authorization_code", "implicit", "refresh_token", "password", "client_credentials":
		default:
			return c, invalidMetadata("Unsupported grant_type " + strconv.Quote(g))
		}
	}
	implicit := slices.Contains(grants, "implicit") || slices.ContainsFunc(responses, func(r string) bool {
		return strings.Contains(r, "token") // "token", "id_token", "code id_token", ...
	})
	flag := func(b bool) *bool { return &b }
	c.StandardFlowEnabled = flag(slices.Contains(grants, "authorization_code") || slices.ContainsFunc(responses, func(r string) bool { return strings.Contains(r, "code") }))
	c.ImplicitFlowEnabled = flag(implicit)
	c.DirectAccessGrantsEnabled = flag(slices.Contains(grants, "password"))
	sa := slices.Contains(grants, "client_credentials")
	if sa && public {
		return c, invalidMetadata("client_credentials needs a confidential client (token_endpoint_auth_method other than none)")
	}
	c.ServiceAccountsEnabled = flag(sa)
	attrs[attrRefresh] = strconv.FormatBool(slices.Contains(grants, "refresh_token"))

	c.RedirectURIs = m.RedirectURIs
	if c.RedirectURIs == nil {
		c.RedirectURIs = []string{}
	}
	c.Name, c.BaseURL = m.ClientName, m.ClientURI
	set("logoUri", m.LogoURI)
	set("policyUri", m.PolicyURI)
	set("tosUri", m.TosURI)
	set("contacts", strings.Join(m.Contacts, ","))
	if m.Scope != "" {
		c.OptionalClientScopes = slices.DeleteFunc(strings.Fields(m.Scope), func(s string) bool { return s == "openid" })
	} else if base == nil {
		c.OptionalClientScopes = nil // the realm's defaults
	}
	if len(m.PostLogoutRedirectURIs) > 0 {
		attrs[attrPostLogout] = strings.Join(m.PostLogoutRedirectURIs, "##")
	}
	if m.JwksURI != "" {
		attrs[attrJwksURL], attrs[attrUseJwksURL] = m.JwksURI, "true"
	}
	if m.Jwks != nil {
		b, _ := json.Marshal(m.Jwks)
		attrs[attrJwksString], attrs[attrUseJwksStr] = string(b), "true"
	}
	set(attrBackchannel, m.BackchannelLogoutURI)
	bset(attrBackSession, m.BackchannelLogoutSessionRequired)
	set(attrFrontchannel, m.FrontchannelLogoutURI)
	c.FrontchannelLogout = flag(m.FrontchannelLogoutURI != "")
	set(attrIDTokenAlg, m.IDTokenSignedResponseAlg)
	bset(attrTLSBound, m.TLSClientCertificateBoundAccessTokens)
	bset(attrPAR, m.RequirePushedAuthorizationRequests)
	c.Attributes = attrs
	return c, nil
}

// encode shows a client as RFC 7591 metadata.
func (oidcProvider) encode(c rep.Client, out response) any {
	s := c.Settings()
	a := c.Attributes
	zero := int64(0)
	m := metadata{
		ClientID: c.ClientID, ClientSecret: s.Secret, ClientIDIssuedAt: out.issuedAt,
		RegistrationClientURI: out.clientURI, RegistrationAccessToken: out.token,
		RedirectURIs: c.RedirectURIs, ClientName: c.Name, ClientURI: c.BaseURL,
		LogoURI: a["logoUri"], PolicyURI: a["policyUri"], TosURI: a["tosUri"],
		Scope:   strings.Join(c.OptionalClientScopes, " "),
		JwksURI: a[attrJwksURL], BackchannelLogoutURI: a[attrBackchannel], FrontchannelLogoutURI: a[attrFrontchannel],
		IDTokenSignedResponseAlg: a[attrIDTokenAlg], SubjectType: "public",
		GrantTypes: []string{}, ResponseTypes: []string{},
	}
	if s.Secret != "" {
		m.ClientSecretExpiresAt = &zero
	}
	if m.RedirectURIs == nil {
		m.RedirectURIs = []string{}
	}
	if v := a["contacts"]; v != "" {
		m.Contacts = strings.Split(v, ",")
	}
	if v := a[attrPostLogout]; v != "" && v != "+" {
		m.PostLogoutRedirectURIs = strings.Split(v, "##")
	}
	if v := a[attrJwksString]; v != "" {
		_ = json.Unmarshal([]byte(v), &m.Jwks)
	}
	for k, p := range map[string]**bool{attrBackSession: &m.BackchannelLogoutSessionRequired,
		attrTLSBound: &m.TLSClientCertificateBoundAccessTokens, attrPAR: &m.RequirePushedAuthorizationRequests} {
		if b, err := strconv.ParseBool(a[k]); err == nil {
			*p = &b
		}
	}
	switch {
	case s.PublicClient:
		m.TokenEndpointAuthMethod = "none"
	case a[attrAuthMethod] == "client_secret_post":
		m.TokenEndpointAuthMethod = "client_secret_post"
	default:
		m.TokenEndpointAuthMethod = "client_secret_basic"
	}
	if s.StandardFlowEnabled {
		m.GrantTypes = append(m.GrantTypes, "authorization_code")
		m.ResponseTypes = append(m.ResponseTypes, "code")
	}
	if s.ImplicitFlowEnabled {
		m.GrantTypes = append(m.GrantTypes, "implicit")
		m.ResponseTypes = append(m.ResponseTypes, "id_token", "token", "id_token token")
	}
	if s.DirectAccessGrantsEnabled {
		m.GrantTypes = append(m.GrantTypes, "password")
	}
	if s.ServiceAccountsEnabled {
		m.GrantTypes = append(m.GrantTypes, "client_credentials")
	}
	if s.UseRefreshTokens {
		m.GrantTypes = append(m.GrantTypes, "refresh_token")
	}
	return m
}

// ---- validation

// validateClient applies the registration policies to a client being
// registered or updated (base: what it had before an update, which an
// admin may have set and the registrant may send back unchanged): allowed
// protocol mappers, no web origin "*", no lifespan beyond the realm's
// (rs), and the URIs it may be sent to. Redirect and post-logout redirect
// URIs must be absolute, without a fragment or wildcard, and https, except
// http on a loopback host and private-use schemes of native apps (RFC 8252
// §7.1, "com.example.app:/cb"); then oidc.ValidateClient's rules apply.
func validateClient(c, base *rep.Client, rs rep.RealmSettings) error {
	// A mapper of another type passes only as the client has it: one of
	// its type, changed or under another name, could put any claim in.
	had := func(m rep.ProtocolMapper) bool {
		return base != nil && slices.ContainsFunc(base.ProtocolMappers, func(b rep.ProtocolMapper) bool {
			return b.Name == m.Name && b.Protocol == m.Protocol && b.ProtocolMapper == m.ProtocolMapper && maps.Equal(b.Config, m.Config)
		})
	}
	for _, m := range c.ProtocolMappers {
		if !slices.Contains(allowedMappers, m.ProtocolMapper) && !had(m) {
			return &regError{http.StatusForbidden, "insufficient_scope", "Policy 'Allowed Protocol Mapper Types' rejected request to client-registration service. Details: ProtocolMapper type not allowed"}
		}
	}
	for _, u := range c.RedirectURIs {
		if err := checkRedirect(u); err != "" {
			return &regError{http.StatusBadRequest, "invalid_redirect_uri", "Invalid redirect_uri " + strconv.Quote(u) + ": " + err}
		}
	}
	if v := c.Attributes[attrPostLogout]; v != "" {
		for _, u := range strings.Split(v, "##") {
			if u == "+" {
				continue
			}
			if err := checkRedirect(u); err != "" {
				return &regError{http.StatusBadRequest, "invalid_client_metadata", "Invalid post_logout_redirect_uri " + strconv.Quote(u) + ": " + err}
			}
		}
	}
	for _, u := range []string{c.Attributes[attrJwksURL], c.Attributes[attrBackchannel], c.Attributes[attrFrontchannel]} {
		if u == "" {
			continue
		}
		if p, err := url.Parse(u); err != nil || (p.Scheme != "https" && !(p.Scheme == "http" && loopback(p.Hostname()))) {
			return invalidMetadata("Invalid URI " + strconv.Quote(u) + ": must be https (http only on loopback)")
		} else if p.Host == "" || strings.Contains(u, "#") || p.User != nil {
			// keygate posts logout tokens to the back-channel one: only
			// to the host it names, nothing a fragment or a password hides.
			return invalidMetadata("Invalid URI " + strconv.Quote(u) + ": must name a host, without a fragment or user info")
		}
	}
	if err := oidc.ValidateClient(c); err != nil {
		var ue *oidc.URIError
		if errors.As(err, &ue) && ue.Field == "redirectUris" {
			return &regError{http.StatusBadRequest, "invalid_redirect_uri", err.Error()}
		}
		return invalidMetadata(err.Error())
	}
	// "*" would let every web page read this client's token responses.
	if slices.Contains(c.WebOrigins, "*") && (base == nil || !slices.Contains(base.WebOrigins, "*")) {
		return invalidMetadata(`Web origin "*" is not allowed for a registered client`)
	}
	return checkLifespans(c, base, rs)
}

// lifespanAttrs are the client attributes that stretch tokens or sessions
// (Keycloak's names), with the realm setting each may not exceed.
var lifespanAttrs = []struct {
	attr  string
	limit func(rep.RealmSettings) time.Duration
}{
	{"access.token.lifespan", func(rs rep.RealmSettings) time.Duration { return rs.AccessTokenLifespan }},
	{"client.session.idle.timeout", func(rs rep.RealmSettings) time.Duration { return rs.SSOSessionIdleTimeout }},
	{"client.session.max.lifespan", func(rs rep.RealmSettings) time.Duration { return rs.SSOSessionMaxLifespan }},
	{"client.offline.session.idle.timeout", func(rs rep.RealmSettings) time.Duration { return rs.OfflineSessionIdleTimeout }},
	{"client.offline.session.max.lifespan", func(rs rep.RealmSettings) time.Duration { return rs.OfflineSessionMaxLifespan }},
}

// checkLifespans refuses lifespan attributes beyond the realm's ("-1" is
// "never expires" to Keycloak) unless an admin set them before.
func checkLifespans(c, base *rep.Client, rs rep.RealmSettings) error {
	for _, l := range lifespanAttrs {
		v := c.Attributes[l.attr]
		if v == "" || (base != nil && base.Attributes[l.attr] == v) {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		most := int64(l.limit(rs) / time.Second)
		if err != nil || n < 0 || n > most {
			return invalidMetadata(fmt.Sprintf("Attribute %s must be a number of seconds from 0 to the realm's %d", l.attr, most))
		}
	}
	return nil
}

// allowedMappers are the protocol mapper types a registered client may
// bring (Keycloak's default "Allowed Protocol Mapper Types" policy): none
// of them can add roles or arbitrary claims to tokens.
var allowedMappers = []string{"oidc-full-name-mapper", "oidc-sha256-pairwise-sub-mapper", "oidc-address-mapper",
	"oidc-usermodel-property-mapper", "oidc-usermodel-attribute-mapper", "saml-user-property-mapper",
	"saml-role-list-mapper", "saml-user-attribute-mapper"}

// checkRedirect returns why u is not an acceptable redirect URI, or "".
func checkRedirect(u string) string {
	p, err := url.Parse(u)
	switch {
	case err != nil || u == "":
		return "not a URI"
	case !p.IsAbs():
		return "not absolute"
	case p.Fragment != "" || strings.Contains(u, "#"):
		return "has a fragment"
	case strings.Contains(u, "*"):
		return "wildcards are not allowed"
	}
	switch scheme := strings.ToLower(p.Scheme); {
	case scheme == "https":
		if p.Host == "" {
			return "no host"
		}
	case scheme == "http":
		if !loopback(p.Hostname()) {
			return "http is allowed only for loopback hosts"
		}
	case strings.Contains(scheme, "."): // private-use scheme of a native app
	default:
		return "scheme " + strconv.Quote(p.Scheme) + " is not allowed"
	}
	return ""
}

func loopback(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
