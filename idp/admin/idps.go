package admin

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"syscall"
	"time"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/oidc"
	"github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

// Identity brokering configuration in the admin API, beyond the CRUD of
// plugins.go: validation of providers and their mappers (rep), the
// mapper types, the provider factories, import-config (IdP metadata or
// OpenID discovery, uploaded or fetched by the server) and the SAML
// service-provider metadata of a provider (export).

// SetBrokers gives the admin API the brokers that identity providers open
// as (the SP metadata of /instances/{alias}/export). Without it, export
// answers 404.
func (a *API) SetBrokers(b *federation.Brokers) { a.brokers = b }

// idpError answers a refused identity provider or mapper: 400 naming the
// field (rep.IdPError).
func idpError(err error) error {
	var ie *rep.IdPError
	if errors.As(err, &ie) {
		return fieldError(ie.Field, ie.Error())
	}
	return err
}

// checkIDP normalises p as Keycloak does and validates it; what keygate
// stores without acting on is logged as one warning.
func (a *API) checkIDP(c *call, p *rep.IdentityProvider) error {
	rep.NormalizeIdentityProvider(p)
	if err := rep.ValidateIdentityProvider(*p); err != nil {
		return idpError(err)
	}
	if w := rep.IdentityProviderWarning(*p); w != "" {
		a.log.WarnContext(c.ctx, "identity provider stored with what keygate does not use", "realm", c.realm.Name, "warning", w)
	}
	return nil
}

// checkIDPMapper validates mapper m of provider idp, which must be the
// provider the path names; what keygate will not do with it is logged as
// one warning.
func (a *API) checkIDPMapper(c *call, idp store.IdentityProvider, m *rep.IdentityProviderMapper) error {
	if m.IdentityProviderAlias == "" {
		m.IdentityProviderAlias = idp.Alias
	}
	if m.IdentityProviderAlias != idp.Alias {
		return fieldError("identityProviderAlias", "identityProviderAlias must be "+idp.Alias+", the provider of this path")
	}
	rep.NormalizeIdentityProviderMapper(m)
	if err := rep.ValidateIdentityProviderMapper(*m, idp.ProviderID); err != nil {
		return idpError(err)
	}
	if w := rep.IdentityProviderMapperWarning(*m, idp.ProviderID); w != "" {
		a.log.WarnContext(c.ctx, "identity provider mapper stored with what keygate does not use", "realm", c.realm.Name,
			"alias", idp.Alias, "warning", w)
	}
	return nil
}

// keepMaskedSecret puts the stored clientSecret back when an update sends
// the mask. The secret goes to the token endpoint, so the mask keeps it
// only for the same tokenUrl: otherwise anyone who may edit the provider
// could send it to a server of theirs (stricter than Keycloak, as
// testLDAPConnection is for a bind credential).
func keepMaskedSecret(next *rep.IdentityProvider, stored map[string]string) error {
	if next.Config["clientSecret"] != secretMask {
		return nil
	}
	old := stored["clientSecret"]
	if old == "" {
		delete(next.Config, "clientSecret")
		return nil
	}
	if strings.TrimSpace(next.Config["tokenUrl"]) != strings.TrimSpace(stored["tokenUrl"]) {
		return fieldError("config.clientSecret", "config.clientSecret: enter the client secret again when tokenUrl changes")
	}
	next.Config["clientSecret"] = old
	return nil
}

// mayAutoLink guards the one provider setting that hands out existing
// accounts: with trustEmail and autoLinkByEmail, a first login whose
// email matches a user's is linked to that user without asking
// (idp/login), so whoever controls the provider signs in as any user with
// an email, admins included. Only a caller holding every admin role of the
// realm writes such a provider (stricter than Keycloak, where the
// equivalent idp-auto-link step is in a flow).
func (a *API) mayAutoLink(c *call, p rep.IdentityProvider) error {
	if c.caller.serverAdmin || p.TrustEmail == nil || !*p.TrustEmail ||
		!strings.EqualFold(strings.TrimSpace(p.Config["autoLinkByEmail"]), "true") {
		return nil
	}
	g, err := a.p.RoleGraph(c.ctx, c.realm.ID, true)
	if err != nil {
		return err
	}
	admin := map[string]bool{}
	g.Roles(func(r store.Role) {
		if adminRole(c.realm.Name, r, g.ClientID(r.ClientID)) {
			admin[r.ID] = true
		}
	})
	return a.covers(c, g, admin)
}

// mayReadTokenGrant guards addReadTokenRoleOnCreate: every user the
// provider creates gets the broker client's read-token role (idp/login),
// so the caller must be able to grant it, through the check a hardcoded
// role mapper of that role goes through.
func (a *API) mayReadTokenGrant(c *call, p rep.IdentityProvider) error {
	if p.AddReadTokenRoleOnCreate == nil || !*p.AddReadTokenRoleOnCreate {
		return nil
	}
	return a.mayMapperGrant(c, "", map[string][]string{"role": {"broker.read-token"}})
}

// ---- mapper types and provider factories

// idpMapperTypes serves GET /instances/{alias}/mapper-types: the mapper
// types keygate runs for the provider's type, by id.
func (a *API) idpMapperTypes(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	return c.ok(federation.IdPMapperTypes(row.ProviderID))
}

// idpFactoryNames are the names of Keycloak's provider factories keygate
// has.
var idpFactoryNames = map[string]string{
	saml.ProviderID:           "SAML v2.0",
	oidc.ProviderOIDC:         "OpenID Connect v1.0",
	oidc.ProviderKeycloakOIDC: "Keycloak OpenID Connect",
}

// idpFactory serves GET /identity-provider/providers/{provider_id}: the
// provider factory as Keycloak's Jackson writes it (id, name, and the
// empty help text and property lists of the saml and oidc factories). An
// unknown id is 400, as in Keycloak (BadRequestException).
func (a *API) idpFactory(c *call) error {
	id := c.r.PathValue("provider_id")
	name, ok := idpFactoryNames[id]
	if !ok {
		return badRequest("Unknown identity provider type " + id)
	}
	return c.ok(map[string]any{"id": id, "name": name, "helpText": "", "configProperties": []any{}, "configMetadata": []any{}})
}

// ---- import-config

// Bounds of import-config: the document (uploaded or fetched) and the
// fetch.
const (
	importMaxDoc    = 1 << 20
	importTimeout   = 10 * time.Second
	importRedirects = 3
)

// importIDPConfig serves POST /identity-provider/import-config, as
// Keycloak's two importFrom methods: multipart/form-data with the fields
// providerId and file (the document itself; syncMode defaults to LEGACY),
// or JSON {"providerId", "fromUrl"} (the server fetches the document, and
// the answer carries metadataDescriptorUrl = fromUrl). The answer is the
// config map the document gives.
func (a *API) importIDPConfig(c *call) error {
	mt, params, _ := mime.ParseMediaType(c.r.Header.Get("Content-Type"))
	if mt == "multipart/form-data" {
		providerID, doc, err := readImportForm(c, params["boundary"])
		if err != nil {
			return err
		}
		cfg, err := parseIDPDocument(providerID, doc)
		if err != nil {
			return err
		}
		if _, ok := cfg["syncMode"]; !ok {
			cfg["syncMode"] = "LEGACY"
		}
		return c.ok(cfg)
	}
	data, err := c.read(maxBody)
	if err != nil {
		return err
	}
	var in map[string]any
	if err := json.Unmarshal(data, &in); err != nil || in == nil {
		return badRequest("Expected a JSON object with providerId and fromUrl")
	}
	providerID, ok1 := in["providerId"].(string)
	from, ok2 := in["fromUrl"].(string)
	if !ok1 || !ok2 {
		return badRequest("providerId and fromUrl are required")
	}
	if alias, ok := in["alias"].(string); ok && strings.ContainsFunc(alias, func(r rune) bool { return r == ' ' || r == '\t' || r == '\n' || r == '\r' }) {
		return fieldError("alias", "alias: must not contain spaces")
	}
	if _, ok := idpFactoryNames[providerID]; !ok {
		return badRequest("Unknown identity provider type " + providerID)
	}
	doc, err := a.fetchIDPDocument(c.ctx, from)
	if err != nil {
		return err
	}
	cfg, err := parseIDPDocument(providerID, doc)
	if err != nil {
		// The document came from an address the caller chose: the
		// parser's words could quote what some internal service answered.
		return badRequest("The document at fromUrl is not " + documentKind(providerID))
	}
	cfg["metadataDescriptorUrl"] = from
	return c.ok(cfg)
}

func documentKind(providerID string) string {
	if providerID == saml.ProviderID {
		return "SAML IdP metadata"
	}
	return "an OpenID Connect discovery document"
}

// readImportForm reads the multipart form's providerId and file, each
// bounded, without temporary files.
func readImportForm(c *call, boundary string) (providerID string, doc []byte, err error) {
	if boundary == "" {
		return "", nil, badRequest("Invalid multipart body")
	}
	mr := multipart.NewReader(http.MaxBytesReader(c.w, c.r.Body, importMaxDoc+64<<10), boundary)
	var haveID, haveFile bool
	for {
		part, err := mr.NextPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return "", nil, err
			}
			return "", nil, badRequest("Invalid multipart body")
		}
		switch part.FormName() {
		case "providerId":
			b, err := io.ReadAll(io.LimitReader(part, 256))
			if err != nil {
				return "", nil, err
			}
			providerID, haveID = strings.TrimSpace(string(b)), true
		case "file":
			b, err := io.ReadAll(io.LimitReader(part, importMaxDoc+1))
			if err != nil {
				return "", nil, err
			}
			if len(b) > importMaxDoc {
				return "", nil, errMsg(http.StatusRequestEntityTooLarge, "The file is larger than 1 MiB")
			}
			doc, haveFile = b, true
		}
		part.Close()
	}
	if !haveID || !haveFile {
		return "", nil, badRequest("providerId and file are required")
	}
	if _, ok := idpFactoryNames[providerID]; !ok {
		return "", nil, badRequest("Unknown identity provider type " + providerID)
	}
	return providerID, doc, nil
}

// parseIDPDocument turns IdP metadata (saml) or an OpenID discovery
// document (oidc, keycloak-oidc) into Keycloak's config keys.
func parseIDPDocument(providerID string, doc []byte) (map[string]string, error) {
	var cfg map[string]string
	var err error
	switch providerID {
	case saml.ProviderID:
		cfg, err = saml.ParseIdPMetadata(doc)
	case oidc.ProviderOIDC, oidc.ProviderKeycloakOIDC:
		cfg, err = oidc.ParseDiscovery(doc)
	default:
		return nil, badRequest("Unknown identity provider type " + providerID)
	}
	if err != nil {
		return nil, badRequest("Could not parse the document: " + err.Error())
	}
	return cfg, nil
}

// importFetchError is why a fromUrl could not be read, in words fit for
// the caller (no addresses, no answers of other services).
type importFetchError struct{ reason string }

func (e *importFetchError) Error() string { return e.reason }

// errAddressRefused is what the dialer answers for an address import-config
// never connects to.
var errAddressRefused = errors.New("address refused")

// fetchIDPDocument GETs raw for import-config: http and https only, at
// most 3 redirects (each hop checked again, none from https to http),
// 10 seconds, 1 MiB, no proxy, the truststore's roots. Every connection's
// address is checked when it is dialled (after DNS, so a name that
// resolves differently the second time gains nothing): link-local
// (cloud metadata services), multicast, unspecified and broadcast
// addresses are refused; loopback and private ones are not, since
// corporate identity providers live there.
func (a *API) fetchIDPDocument(ctx context.Context, raw string) ([]byte, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, badRequest("fromUrl must be an absolute http or https URL")
	}
	dialer := &net.Dialer{Timeout: importTimeout, Control: refuseAddress}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: a.fedEnv.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    importTimeout,
		ResponseHeaderTimeout:  importTimeout,
		MaxResponseHeaderBytes: 64 << 10,
		DisableKeepAlives:      true,
	}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: importTimeout,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			switch {
			case len(via) > importRedirects:
				return &importFetchError{"more than 3 redirects"}
			case req.URL.Scheme != "http" && req.URL.Scheme != "https":
				return &importFetchError{"a redirect to a URL that is not http or https"}
			case via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme == "http":
				return &importFetchError{"a redirect from https to http"}
			}
			return nil
		}}
	ctx, cancel := context.WithTimeout(ctx, importTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, badRequest("fromUrl must be an absolute http or https URL")
	}
	req.Header.Set("Accept", "application/json, application/samlmetadata+xml, application/xml, text/xml;q=0.9, */*;q=0.1")
	resp, err := client.Do(req)
	if err != nil {
		return nil, badRequest("Could not fetch fromUrl: " + fetchReason(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, badRequest("Could not fetch fromUrl: it answered HTTP " + resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, importMaxDoc+1))
	if err != nil {
		return nil, badRequest("Could not fetch fromUrl: " + fetchReason(err))
	}
	if len(body) > importMaxDoc {
		return nil, badRequest("Could not fetch fromUrl: the document is larger than 1 MiB")
	}
	return bytes.TrimPrefix(body, []byte("\xef\xbb\xbf")), nil
}

// fetchReason says in a few words why a fetch failed.
func fetchReason(err error) string {
	var fe *importFetchError
	var ue *url.Error
	var ce *tls.CertificateVerificationError
	var ua x509.UnknownAuthorityError
	var hn x509.HostnameError
	switch {
	case errors.As(err, &fe):
		return fe.reason
	case errors.Is(err, errAddressRefused):
		return "its address is link-local, multicast or unspecified, which import-config does not connect to"
	case errors.As(err, &ce), errors.As(err, &ua), errors.As(err, &hn):
		return "its TLS certificate is not trusted"
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ue) && ue.Timeout():
		return "no answer within 10 seconds"
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return "its host name does not resolve"
	}
	return "the connection failed"
}

// refuseAddress is the dialer's check of every address it connects to.
func refuseAddress(_, address string, _ syscall.RawConn) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return errAddressRefused
	}
	ip, err := netip.ParseAddr(host)
	if err != nil || refusedAddr(ip) {
		return errAddressRefused
	}
	return nil
}

// Cloud metadata services outside the link-local ranges: AWS's IPv6
// instance metadata endpoint and Alibaba Cloud's.
var metadataAddrs = []netip.Addr{netip.MustParseAddr("fd00:ec2::254"), netip.MustParseAddr("100.100.100.200")}

var (
	nat64     = netip.MustParsePrefix("64:ff9b::/96")
	sixToFour = netip.MustParsePrefix("2002::/16")
	v4Compat  = netip.MustParsePrefix("::/96")
	thisNet   = netip.MustParsePrefix("0.0.0.0/8")
)

// refusedAddr reports whether import-config must not connect to ip:
// link-local (169.254.0.0/16, fe80::/10: cloud metadata services),
// multicast, unspecified (and 0.0.0.0/8), broadcast, the known metadata
// addresses, and IPv4 addresses of those kinds inside IPv6 (mapped,
// compatible, NAT64, 6to4).
func refusedAddr(ip netip.Addr) bool {
	ip = ip.WithZone("").Unmap()
	if ip.Is6() {
		b := ip.As16()
		switch {
		case nat64.Contains(ip), v4Compat.Contains(ip) && !ip.IsLoopback() && !ip.IsUnspecified():
			if refusedAddr(netip.AddrFrom4([4]byte(b[12:16]))) {
				return true
			}
		case sixToFour.Contains(ip):
			if refusedAddr(netip.AddrFrom4([4]byte(b[2:6]))) {
				return true
			}
		}
	}
	for _, m := range metadataAddrs {
		if ip == m {
			return true
		}
	}
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast() || ip.IsMulticast() ||
		ip.IsUnspecified() || (ip.Is4() && (thisNet.Contains(ip) || ip == netip.AddrFrom4([4]byte{255, 255, 255, 255})))
}

// ---- export (SAML service-provider metadata)

// exportIDP serves GET /instances/{alias}/export: the SP metadata the
// provider's broker publishes (SAML), as application/xml. A provider
// without metadata (OIDC, or one that cannot be opened) is 404 with
// Keycloak's message.
func (a *API) exportIDP(c *call) error {
	row, err := a.idp(c)
	if err != nil {
		return err
	}
	none := errMsg(http.StatusNotFound, "Could not export public broker configuration for identity provider ["+row.ProviderID+"].")
	if a.brokers == nil || !a.brokers.Supports(row.ProviderID) {
		return none
	}
	br, err := a.brokers.Open(c.ctx, row)
	if errors.Is(err, store.ErrUnavailable) {
		return err // the realm's key could not be read: 503
	} else if err != nil {
		a.log.WarnContext(c.ctx, "identity provider export: cannot open the provider", "realm", c.realm.Name, "alias", row.Alias, "err", err)
		return none
	}
	sp, ok := br.(federation.SPMetadata)
	if !ok {
		return none
	}
	issuer := a.p.BaseURL(c.r) + "/realms/" + c.realm.Name
	doc, err := sp.Metadata(c.ctx, federation.BrokerRequest{RealmIssuer: issuer, CallbackURL: issuer + "/broker/" + row.Alias + "/endpoint"})
	if errors.Is(err, store.ErrUnavailable) {
		return err
	} else if err != nil {
		a.log.WarnContext(c.ctx, "identity provider export", "realm", c.realm.Name, "alias", row.Alias, "err", err)
		return none
	}
	c.w.Header().Set("Content-Type", "application/xml")
	c.w.Header().Set("Cache-Control", "no-store")
	c.w.WriteHeader(http.StatusOK)
	_, _ = c.w.Write(doc)
	return nil
}

// cloneConfig copies a config map (nil stays nil).
func cloneConfig(m map[string]string) map[string]string { return maps.Clone(m) }
