// Package saml is keygate as a SAML 2.0 service provider of a realm's
// identity providers (Keycloak's identityProviders with providerId
// "saml"), on github.com/crewjam/saml. It is a federation.Broker: it
// makes AuthnRequests (Start), validates the IdP's Response at the
// assertion consumer service (Finish), publishes the SP metadata
// (Metadata) and does single logout both ways (Logout, HandleLogout). It
// knows nothing of HTTP handlers, sessions or users.
//
// crewjam/saml checks signatures, conditions and subject confirmations;
// Finish adds what keygate's security model asks on top of it (see
// acs.go): a bounded input with no DTD, exactly one assertion, required
// Destination, keygate's clock skew, wantAssertionsSigned and
// wantAssertionsEncrypted, and a replay store shared by all replicas.
//
// IdP-initiated logins (Keycloak's /endpoint/clients/{client}) are not
// supported: every Response must answer an AuthnRequest of ours.
package saml

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net/url"
	"sync"
	"time"

	crewsaml "github.com/crewjam/saml"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// ProviderID is the identity providers' providerId this package opens.
const ProviderID = "saml"

// Broker is one SAML identity provider.
type Broker struct {
	cfg   *config
	alias string
	env   federation.BrokerEnv
	log   *slog.Logger
	clock *dsig.Clock
	certs *certSource
	// sigMethod signs AuthnRequests (when wantAuthnRequestsSigned),
	// logout messages (always) and the metadata (signSpMetadata).
	sigMethod string
	// trust is the throwaway signer of validateSignature=false (see
	// trustUnsigned); nil otherwise.
	trust *resigner

	mdMu    sync.Mutex
	md      map[string][]byte // built metadata by issuer and callback (see Metadata)
	mdBuilt int               // documents built, for tests
}

var (
	_ federation.Broker        = (*Broker)(nil)
	_ federation.SPMetadata    = (*Broker)(nil)
	_ federation.SingleLogout  = (*Broker)(nil)
	_ federation.BrokerFactory = Open
)

// Open is the federation.BrokerFactory of providerId "saml". It parses and
// validates the configuration (a *ValidationError names a bad key) and
// does not touch the network: IdP metadata (useMetadataDescriptorUrl) is
// fetched when first needed.
func Open(ctx context.Context, env federation.BrokerEnv, idp store.IdentityProvider) (federation.Broker, error) {
	return open(ctx, env, idp)
}

func open(_ context.Context, env federation.BrokerEnv, idp store.IdentityProvider) (*Broker, error) {
	rep, m, err := configMap(idp)
	if err != nil {
		return nil, err
	}
	cfg, err := parseConfig(m)
	if err != nil {
		return nil, err
	}
	cfg.alias = rep.Alias
	cfg.storeToken = rep.StoreToken
	if env.Key == nil || env.Cert == nil {
		return nil, fmt.Errorf("saml identity provider %q: the realm has no signing key", rep.Alias)
	}
	if cfg.wantAssertionsEncrypted {
		if _, ok := env.Key.(*rsa.PrivateKey); !ok {
			return nil, fmt.Errorf("saml identity provider %q: wantAssertionsEncrypted needs an RSA realm key", rep.Alias)
		}
	}
	if env.Logger == nil {
		env.Logger = slog.Default()
	}
	if env.Now == nil {
		env.Now = time.Now
	}
	b := &Broker{
		cfg:       cfg,
		alias:     rep.Alias,
		env:       env,
		log:       env.Logger.With("identityProvider", rep.Alias, "providerId", ProviderID),
		clock:     dsig.NewFakeClock(envClock{Clock: clockwork.NewRealClock(), now: env.Now}),
		sigMethod: signatureMethod(cfg.signatureAlgorithm, env.Key.Public()),
		certs:     newCertSource(cfg, env),
	}
	if !cfg.validateSignature {
		b.log.Warn("validateSignature is false: responses from this identity provider are accepted without a signature, so anyone who can reach the endpoint can sign in as any of its users")
		if b.trust, err = newResigner(); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// envClock is the BrokerEnv's clock as crewjam/saml and goxmldsig see it.
type envClock struct {
	clockwork.Clock
	now func() time.Time
}

func (c envClock) Now() time.Time                  { return c.now() }
func (c envClock) Since(t time.Time) time.Duration { return c.now().Sub(t) }
func (c envClock) Until(t time.Time) time.Duration { return t.Sub(c.now()) }

// spEntityID is our entity id: entityId, else the realm issuer.
func (b *Broker) spEntityID(req federation.BrokerRequest) string {
	if b.cfg.entityID != "" {
		return b.cfg.entityID
	}
	return req.RealmIssuer
}

// serviceProvider returns crewjam's view of this broker for one request:
// the ACS and SLO endpoint is the callback URL, the IdP is described by a
// metadata built from the configuration with certs as its signing keys
// and issuer as its entity id.
func (b *Broker) serviceProvider(req federation.BrokerRequest, certs []*x509.Certificate, issuer string) (*crewsaml.ServiceProvider, error) {
	acs, err := url.Parse(req.CallbackURL)
	if err != nil || acs.Scheme == "" || acs.Host == "" {
		return nil, fmt.Errorf("saml identity provider %q: callback URL %q is not absolute", b.alias, req.CallbackURL)
	}
	entityID := b.spEntityID(req)
	if entityID == "" {
		return nil, fmt.Errorf("saml identity provider %q: no entity id (entityId or the realm issuer)", b.alias)
	}
	sp := &crewsaml.ServiceProvider{
		EntityID:              entityID,
		Key:                   b.env.Key,
		Certificate:           b.env.Cert,
		AcsURL:                *acs,
		SloURL:                *acs,
		MetadataURL:           *acs,
		IDPMetadata:           b.idpMetadata(certs, issuer),
		AuthnNameIDFormat:     crewsaml.NameIDFormat(b.cfg.nameIDPolicyFormat),
		LogoutSignatureMethod: b.sigMethod,
		LogoutBindings:        []string{crewsaml.HTTPPostBinding, crewsaml.HTTPRedirectBinding},
		Clock:                 b.clock,
		HTTPClient:            b.env.HTTP,
		// The signing certificates are pinned in the configuration (or
		// come from the IdP's metadata): as Keycloak, and the SAML
		// metadata interoperability profile, keygate takes them as keys
		// and does not look at their validity dates.
		IgnoreCertificateExpiry:          true,
		MetadataOmitValidUntil:           true,
		AssertionConsumerServiceBindings: []string{crewsaml.HTTPPostBinding, crewsaml.HTTPRedirectBinding},
		// RequireSignedResponseForCBC stays off: SimpleSAMLphp, Keycloak
		// and ADFS sign the assertion inside the encryption and use
		// AES-CBC by default. Our metadata advertises AES-GCM first.
	}
	if b.cfg.wantAuthnRequestsSigned {
		sp.SignatureMethod = b.sigMethod
	}
	return sp, nil
}

// idpMetadata describes the IdP to crewjam from the configuration.
func (b *Broker) idpMetadata(certs []*x509.Certificate, issuer string) *crewsaml.EntityDescriptor {
	var keys []crewsaml.KeyDescriptor
	for _, c := range certs {
		keys = append(keys, crewsaml.KeyDescriptor{
			Use: "signing",
			KeyInfo: crewsaml.KeyInfo{X509Data: crewsaml.X509Data{
				X509Certificates: []crewsaml.X509Certificate{{Data: base64.StdEncoding.EncodeToString(c.Raw)}},
			}},
		})
	}
	var slo []crewsaml.Endpoint
	if b.cfg.sloURL != "" {
		slo = []crewsaml.Endpoint{
			{Binding: crewsaml.HTTPPostBinding, Location: b.cfg.sloURL},
			{Binding: crewsaml.HTTPRedirectBinding, Location: b.cfg.sloURL},
		}
	}
	return &crewsaml.EntityDescriptor{
		EntityID: issuer,
		IDPSSODescriptors: []crewsaml.IDPSSODescriptor{{
			SSODescriptor: crewsaml.SSODescriptor{
				RoleDescriptor: crewsaml.RoleDescriptor{
					ProtocolSupportEnumeration: "urn:oasis:names:tc:SAML:2.0:protocol",
					KeyDescriptors:             keys,
				},
				SingleLogoutServices: slo,
			},
			SingleSignOnServices: []crewsaml.Endpoint{
				{Binding: crewsaml.HTTPPostBinding, Location: b.cfg.ssoURL},
				{Binding: crewsaml.HTTPRedirectBinding, Location: b.cfg.ssoURL},
			},
		}},
	}
}

// brokerState is what Start and Logout hand the caller to keep.
type brokerState struct {
	V  int    `json:"v"`
	ID string `json:"id"`
}

func encodeState(id string) []byte {
	b, _ := json.Marshal(brokerState{V: 1, ID: id})
	return b
}

func decodeState(b []byte) (string, error) {
	var s brokerState
	if err := json.Unmarshal(b, &s); err != nil || s.V != 1 || s.ID == "" {
		return "", errors.New("saml: invalid broker state")
	}
	return s.ID, nil
}

// resigner makes crewjam/saml, which only accepts signed messages, read an
// unsigned one when validateSignature is "false": the message's own
// signatures are dropped (Keycloak ignores them too) and it is signed with
// a key that lives only in this process, whose certificate is then the
// only one trusted for it. Nothing else ever uses that key.
type resigner struct {
	key  *ecdsa.PrivateKey
	cert *x509.Certificate
}

func newResigner() (*resigner, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: "keygate unsigned SAML (validateSignature=false)"},
		NotBefore:    time.Unix(0, 0),
		NotAfter:     time.Date(9999, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	return &resigner{key: key, cert: cert}, nil
}
