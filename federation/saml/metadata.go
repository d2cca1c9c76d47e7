package saml

import (
	"context"
	"crypto/x509"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	crewsaml "github.com/crewjam/saml"

	"github.com/keygate/keygate/federation"
)

// Bounds on the IdP metadata keygate reads (import-config and
// useMetadataDescriptorUrl).
const (
	maxMetadataSize   = 1 << 20
	metadataTimeout   = 10 * time.Second
	metadataTTL       = time.Hour
	metadataRetryWait = time.Minute
)

// idpDescriptor is what keygate reads from IdP metadata.
type idpDescriptor struct {
	entityID                string
	ssoURL, sloURL          string
	ssoPost, sloPost        bool
	artifactURL             string
	wantAuthnRequestsSigned bool
	nameIDFormat            string
	signing                 []string // base64 DER
	encryption              string
	expired                 bool
}

// ParseIdPMetadata reads an IdP's SAML metadata (an EntityDescriptor, or
// the first IdP of an EntitiesDescriptor) into Keycloak's config keys, as
// Keycloak's import-config does: singleSignOnServiceUrl,
// singleLogoutServiceUrl, idpEntityId, signingCertificate (comma
// separated), postBindingAuthnRequest, postBindingResponse,
// postBindingLogout, nameIDPolicyFormat, wantAuthnRequestsSigned,
// validateSignature, encryptionPublicKey, enabledFromMetadata and the
// like. The document is bounded (1 MiB) and may carry no DTD.
func ParseIdPMetadata(doc []byte) (map[string]string, error) {
	d, err := parseIdPMetadata(doc, "", time.Now())
	if err != nil {
		return nil, err
	}
	b := strconv.FormatBool
	m := map[string]string{
		keyIdpEntityID:                     d.entityID,
		keySingleSignOnServiceURL:          d.ssoURL,
		keyPostBindingResponse:             b(d.ssoPost),
		keyPostBindingAuthnRequest:         b(d.ssoPost),
		keyPostBindingLogout:               b(d.sloPost),
		keyWantAuthnRequestsSigned:         b(d.wantAuthnRequestsSigned),
		keyAddExtensionsElementWithKeyInfo: "false",
		keyArtifactBindingResponse:         "false",
		keyLoginHint:                       "false",
		keyEnabledFromMetadata:             b(!d.expired),
		// Keycloak sets validateSignature from the metadata; keygate
		// validates whenever there is a key to validate with.
		keyValidateSignature: b(len(d.signing) > 0),
	}
	if d.sloURL != "" {
		m[keySingleLogoutServiceURL] = d.sloURL
	}
	if d.artifactURL != "" {
		m[keyArtifactResolutionServiceURL] = d.artifactURL
	}
	if d.nameIDFormat != "" {
		m[keyNameIDPolicyFormat] = d.nameIDFormat
	}
	if len(d.signing) > 0 {
		m[keySigningCertificate] = strings.Join(d.signing, ",")
	}
	if d.encryption != "" {
		m[keyEncryptionPublicKey] = d.encryption
	}
	return m, nil
}

// parseIdPMetadata reads the IdP entityID (any when "") from doc.
func parseIdPMetadata(doc []byte, entityID string, now time.Time) (*idpDescriptor, error) {
	if len(doc) > maxMetadataSize {
		return nil, fmt.Errorf("saml metadata: larger than %d bytes", maxMetadataSize)
	}
	root, err := checkXML(doc)
	if err != nil {
		return nil, fmt.Errorf("saml metadata: %w", err)
	}
	var entities []crewsaml.EntityDescriptor
	var groupValidUntil time.Time
	switch root {
	case "EntityDescriptor":
		var ed crewsaml.EntityDescriptor
		if err := xml.Unmarshal(doc, &ed); err != nil {
			return nil, fmt.Errorf("saml metadata: %w", err)
		}
		entities = []crewsaml.EntityDescriptor{ed}
	case "EntitiesDescriptor":
		var eds crewsaml.EntitiesDescriptor
		if err := xml.Unmarshal(doc, &eds); err != nil {
			return nil, fmt.Errorf("saml metadata: %w", err)
		}
		entities = flattenEntities(&eds)
		if eds.ValidUntil != nil {
			groupValidUntil = *eds.ValidUntil
		}
	default:
		return nil, errors.New("saml metadata: not an EntityDescriptor")
	}
	for i := range entities {
		ed := &entities[i]
		if len(ed.IDPSSODescriptors) == 0 || (entityID != "" && ed.EntityID != entityID) {
			continue
		}
		return describeIdP(ed, groupValidUntil, now), nil
	}
	if entityID != "" {
		return nil, fmt.Errorf("saml metadata: no identity provider %q", entityID)
	}
	return nil, errors.New("saml metadata: no identity provider (IDPSSODescriptor)")
}

func flattenEntities(eds *crewsaml.EntitiesDescriptor) []crewsaml.EntityDescriptor {
	out := append([]crewsaml.EntityDescriptor(nil), eds.EntityDescriptors...)
	for i := range eds.EntitiesDescriptors {
		out = append(out, flattenEntities(&eds.EntitiesDescriptors[i])...)
	}
	return out
}

func describeIdP(ed *crewsaml.EntityDescriptor, groupValidUntil, now time.Time) *idpDescriptor {
	idp := &ed.IDPSSODescriptors[0]
	d := &idpDescriptor{entityID: ed.EntityID}
	// Keycloak's choice: the POST endpoint when there is one (then
	// responses and requests are POSTed), else the Redirect one.
	for _, e := range idp.SingleSignOnServices {
		if e.Binding == crewsaml.HTTPPostBinding {
			d.ssoURL, d.ssoPost = e.Location, true
			break
		}
		if e.Binding == crewsaml.HTTPRedirectBinding {
			d.ssoURL = e.Location
		}
	}
	for _, e := range idp.SingleLogoutServices {
		if e.Binding == crewsaml.HTTPPostBinding {
			d.sloURL, d.sloPost = e.Location, true
			break
		}
		if e.Binding == crewsaml.HTTPRedirectBinding {
			d.sloURL = e.Location
		}
	}
	for _, e := range idp.SSODescriptor.ArtifactResolutionServices {
		if e.Binding == crewsaml.SOAPBinding {
			d.artifactURL = e.Location
			break
		}
	}
	if idp.WantAuthnRequestsSigned != nil {
		d.wantAuthnRequestsSigned = *idp.WantAuthnRequestsSigned
	}
	if len(idp.NameIDFormats) > 0 {
		d.nameIDFormat = strings.TrimSpace(string(idp.NameIDFormats[0]))
	}
	var unspecified string
	for _, k := range idp.KeyDescriptors {
		if len(k.KeyInfo.X509Data.X509Certificates) == 0 {
			continue
		}
		data := strings.Join(strings.Fields(k.KeyInfo.X509Data.X509Certificates[0].Data), "")
		if data == "" {
			continue // an empty element is no certificate (and made signingCertificate ",")
		}
		switch k.Use {
		case "signing":
			d.signing = append(d.signing, data)
		case "encryption":
			d.encryption = data
		case "":
			unspecified = data
		}
	}
	if unspecified != "" {
		if len(d.signing) == 0 {
			d.signing = []string{unspecified}
		}
		if d.encryption == "" {
			d.encryption = unspecified
		}
	}
	expiry := ed.ValidUntil
	if !groupValidUntil.IsZero() && (expiry.IsZero() || groupValidUntil.Before(expiry)) {
		expiry = groupValidUntil
	}
	d.expired = !expiry.IsZero() && !expiry.After(now)
	return d
}

// certSource gives the IdP signing certificates: the configured ones, or,
// with useMetadataDescriptorUrl, those of the IdP's metadata, fetched on
// first need, kept for an hour, and fetched again (at most once a minute)
// when a signature does not verify, so that a key rollover at the IdP
// needs no admin.
type certSource struct {
	static   []*x509.Certificate
	url      string
	entityID string
	client   *http.Client
	now      func() time.Time

	mu      sync.Mutex // held while fetching: one fetch at a time
	certs   []*x509.Certificate
	fetched time.Time
	tried   time.Time
}

func newCertSource(cfg *config, env federation.BrokerEnv) *certSource {
	s := &certSource{static: cfg.signingCerts, now: env.Now, client: env.HTTP, entityID: cfg.idpEntityID}
	if cfg.useMetadataURL {
		s.url = cfg.metadataURL
		s.static = nil
		if s.client == nil {
			s.client = &http.Client{Timeout: metadataTimeout}
		}
	}
	return s
}

// fromMetadata reports whether the certificates come from the metadata
// URL (and so may be refreshed).
func (s *certSource) fromMetadata() bool { return s.url != "" }

// get returns the signing certificates.
func (s *certSource) get(ctx context.Context) ([]*x509.Certificate, error) {
	if !s.fromMetadata() {
		return s.static, nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.certs != nil && s.now().Sub(s.fetched) < metadataTTL {
		return s.certs, nil
	}
	if err := s.fetchLocked(ctx); err != nil {
		if s.certs != nil {
			return s.certs, nil // keep the last good keys while the IdP is down
		}
		return nil, err
	}
	return s.certs, nil
}

// refresh fetches the metadata again after a signature failed to verify,
// unless it was fetched within the last minute, and reports whether the
// certificates changed.
func (s *certSource) refresh(ctx context.Context) bool {
	if !s.fromMetadata() {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.now().Sub(s.tried) < metadataRetryWait {
		return false
	}
	before := s.certs
	if err := s.fetchLocked(ctx); err != nil {
		return false
	}
	if len(before) != len(s.certs) {
		return true
	}
	for i := range before {
		if !before[i].Equal(s.certs[i]) {
			return true
		}
	}
	return false
}

func (s *certSource) fetchLocked(ctx context.Context) error {
	s.tried = s.now()
	ctx, cancel := context.WithTimeout(ctx, metadataTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url, nil)
	if err != nil {
		return fmt.Errorf("saml metadata: %w", err)
	}
	req.Header.Set("Accept", "application/samlmetadata+xml, application/xml, text/xml")
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("saml metadata: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("saml metadata: %s answered %s", s.url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxMetadataSize+1))
	if err != nil {
		return fmt.Errorf("saml metadata: %w", err)
	}
	d, err := parseIdPMetadata(body, s.entityID, s.now())
	if err != nil {
		return err
	}
	certs, err := ParseCertificates(strings.Join(d.signing, ","))
	if err != nil {
		return fmt.Errorf("saml metadata: signing certificates: %w", err)
	}
	s.certs, s.fetched = certs, s.now()
	return nil
}
