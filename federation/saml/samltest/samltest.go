// Package samltest runs Debian's SimpleSAMLphp as a real SAML identity
// provider for tests: configured in a temporary directory
// (SIMPLESAMLPHP_CONFIG_DIR), served by `php -S` on a free loopback port,
// stopped by its pid when the test ends. Its users (exampleauth:UserPass)
// carry attributes; the service provider is registered from its SAML
// metadata. A Browser drives logins and logouts over plain HTTP with a
// cookie jar, so Go tests need no browser.
//
// Start skips the test when php or simplesamlphp is not installed
// (apt-get install simplesamlphp php-cli), unless KEYGATE_REQUIRE_SAML=1.
package samltest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"errors"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Where Debian's simplesamlphp package puts its code.
const (
	DefaultWWW = "/usr/share/simplesamlphp/www"
)

// User is an exampleauth:UserPass account.
type User struct {
	Username, Password string
	// Attributes are released to every service provider, by their names
	// (SimpleSAMLphp's "basic" name format): uid, mail, givenName, sn,
	// eduPersonAffiliation, memberOf...
	Attributes map[string][]string
}

// Options configure the IdP.
type Options struct {
	Users []User
	// NameIDFormat the IdP issues: persistent (from uid, the default),
	// emailAddress (from mail), or transient.
	NameIDFormat string
	// EncryptAssertions encrypts assertions to the SP's encryption key.
	EncryptAssertions bool
}

// IdP is a running SimpleSAMLphp.
type IdP struct {
	URL         string // http://127.0.0.1:PORT
	EntityID    string // its metadata URL
	SSOURL      string
	SLOURL      string
	MetadataURL string
	Cert        *x509.Certificate
	// CertBase64 is Cert as Keycloak's signingCertificate holds it.
	CertBase64 string

	dir  string
	opts Options
	cmd  *exec.Cmd
	t    testing.TB
}

// Available reports whether php and simplesamlphp are installed.
func Available() bool {
	if _, err := exec.LookPath("php"); err != nil {
		return false
	}
	_, err := os.Stat(filepath.Join(DefaultWWW, "saml2", "idp", "SSOService.php"))
	return err == nil
}

// Start starts SimpleSAMLphp for t and stops it when t ends.
func Start(t testing.TB, opts Options) *IdP {
	t.Helper()
	if !Available() {
		if os.Getenv("KEYGATE_REQUIRE_SAML") == "1" {
			t.Fatal("samltest: php and simplesamlphp are required (apt-get install simplesamlphp php-cli)")
		}
		t.Skip("samltest: php or simplesamlphp not installed")
	}
	if opts.NameIDFormat == "" {
		opts.NameIDFormat = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	}
	dir := t.TempDir()
	port, err := freePort()
	if err != nil {
		t.Fatal(err)
	}
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	p := &IdP{
		URL: base, EntityID: base + "/saml2/idp/metadata.php", MetadataURL: base + "/saml2/idp/metadata.php",
		SSOURL: base + "/saml2/idp/SSOService.php", SLOURL: base + "/saml2/idp/SingleLogoutService.php",
		dir: dir, opts: opts, t: t,
	}
	if err := p.writeConfig(); err != nil {
		t.Fatal(err)
	}
	// An empty SP list until RegisterSP.
	if err := os.WriteFile(filepath.Join(dir, "metadata", "saml20-sp-remote.php"), []byte("<?php\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("php",
		"-d", "session.save_path="+filepath.Join(dir, "sessions"),
		"-d", "display_errors=stderr",
		"-S", fmt.Sprintf("127.0.0.1:%d", port), "-t", DefaultWWW)
	cmd.Env = append(os.Environ(), "SIMPLESAMLPHP_CONFIG_DIR="+dir)
	logf, err := os.Create(filepath.Join(dir, "php.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p.cmd = cmd
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		logf.Close()
		if t.Failed() {
			if b, err := os.ReadFile(filepath.Join(dir, "php.log")); err == nil {
				t.Logf("simplesamlphp log:\n%s", tail(b, 4000))
			}
			if b, err := os.ReadFile(filepath.Join(dir, "log", "simplesamlphp.log")); err == nil {
				t.Logf("simplesamlphp log file:\n%s", tail(b, 4000))
			}
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.MetadataURL)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				break
			}
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(filepath.Join(dir, "php.log"))
			t.Fatalf("samltest: simplesamlphp did not start: %v\n%s", err, tail(b, 2000))
		}
		time.Sleep(50 * time.Millisecond)
	}
	return p
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// php quotes s as a PHP single-quoted string.
func php(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(s) + "'"
}

func phpList(vals []string) string {
	q := make([]string, len(vals))
	for i, v := range vals {
		q[i] = php(v)
	}
	return "[" + strings.Join(q, ", ") + "]"
}

func (p *IdP) writeConfig() error {
	for _, d := range []string{"metadata", "cert", "log", "data", "tmp", "sessions"} {
		if err := os.MkdirAll(filepath.Join(p.dir, d), 0o700); err != nil {
			return err
		}
	}
	key, cert, err := selfSigned("samltest SimpleSAMLphp IdP")
	if err != nil {
		return err
	}
	p.Cert, p.CertBase64 = cert, base64.StdEncoding.EncodeToString(cert.Raw)
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	if err := os.WriteFile(filepath.Join(p.dir, "cert", "idp.key"), keyPEM, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(p.dir, "cert", "idp.crt"), certPEM, 0o600); err != nil {
		return err
	}
	salt := make([]byte, 24)
	_, _ = rand.Read(salt)
	config := `<?php
$config = [
    'baseurlpath' => ` + php(p.URL+"/") + `,
    'certdir' => ` + php(filepath.Join(p.dir, "cert")+"/") + `,
    'loggingdir' => ` + php(filepath.Join(p.dir, "log")+"/") + `,
    'datadir' => ` + php(filepath.Join(p.dir, "data")+"/") + `,
    'tempdir' => ` + php(filepath.Join(p.dir, "tmp")) + `,
    'metadatadir' => ` + php(filepath.Join(p.dir, "metadata")+"/") + `,
    'secretsalt' => ` + php(base64.RawURLEncoding.EncodeToString(salt)) + `,
    'auth.adminpassword' => ` + php(base64.RawURLEncoding.EncodeToString(salt[:12])) + `,
    'admin.protectindexpage' => true,
    'admin.protectmetadata' => false,
    'technicalcontact_name' => 'keygate tests',
    'technicalcontact_email' => 'na@example.org',
    'timezone' => 'UTC',
    'enable.saml20-idp' => true,
    'enable.shib13-idp' => false,
    'module.enable' => ['exampleauth' => true, 'core' => true, 'saml' => true, 'admin' => true],
    'store.type' => 'phpsession',
    'session.cookie.secure' => false,
    'session.phpsession.cookiename' => 'SimpleSAMLSessionID',
    'logging.level' => SimpleSAML\Logger::INFO,
    'logging.handler' => 'file',
    'logging.logfile' => 'simplesamlphp.log',
    'debug' => ['saml' => false, 'backtraces' => true, 'validatexml' => false],
    'showerrors' => true,
    'errorreporting' => false,
    'metadata.sign.enable' => false,
    // ReturnTo of an IdP-initiated logout: only loopback.
    'trusted.url.domains' => ['127\\.0\\.0\\.1(:[0-9]+)?', 'localhost(:[0-9]+)?'],
    'trusted.url.regex' => true,
];
`
	if err := os.WriteFile(filepath.Join(p.dir, "config.php"), []byte(config), 0o600); err != nil {
		return err
	}
	var users strings.Builder
	for _, u := range p.opts.Users {
		users.WriteString("        " + php(u.Username+":"+u.Password) + " => [\n")
		names := make([]string, 0, len(u.Attributes))
		for n := range u.Attributes {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, n := range names {
			users.WriteString("            " + php(n) + " => " + phpList(u.Attributes[n]) + ",\n")
		}
		users.WriteString("        ],\n")
	}
	authsources := `<?php
$config = [
    'admin' => ['core:AdminPassword'],
    'example-userpass' => [
        'exampleauth:UserPass',
` + users.String() + `    ],
];
`
	if err := os.WriteFile(filepath.Join(p.dir, "authsources.php"), []byte(authsources), 0o600); err != nil {
		return err
	}
	var nameID string
	switch p.opts.NameIDFormat {
	case "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent":
		nameID = `10 => ['class' => 'saml:PersistentNameID', 'attribute' => 'uid', 'NameQualifier' => false],`
	case "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress":
		nameID = `10 => ['class' => 'saml:AttributeNameID', 'attribute' => 'mail', 'Format' => 'urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress', 'NameQualifier' => false],`
	}
	hosted := `<?php
$metadata[` + php(p.EntityID) + `] = [
    'host' => '__DEFAULT__',
    'privatekey' => 'idp.key',
    'certificate' => 'idp.crt',
    'auth' => 'example-userpass',
    'sign.logout' => true,
    'redirect.sign' => true,
    'validate.logout' => true,
    'attributes.NameFormat' => 'urn:oasis:names:tc:SAML:2.0:attrname-format:basic',
    'authproc' => [
        ` + nameID + `
    ],
];
`
	return os.WriteFile(filepath.Join(p.dir, "metadata", "saml20-idp-hosted.php"), []byte(hosted), 0o600)
}

func selfSigned(cn string) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, nil, err
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// spDescriptor is the part of SP metadata SimpleSAMLphp needs.
type spDescriptor struct {
	EntityID string `xml:"entityID,attr"`
	SP       struct {
		AuthnRequestsSigned  string `xml:"AuthnRequestsSigned,attr"`
		WantAssertionsSigned string `xml:"WantAssertionsSigned,attr"`
		Keys                 []struct {
			Use  string `xml:"use,attr"`
			Cert string `xml:"KeyInfo>X509Data>X509Certificate"`
		} `xml:"KeyDescriptor"`
		SLO []struct {
			Binding  string `xml:"Binding,attr"`
			Location string `xml:"Location,attr"`
		} `xml:"SingleLogoutService"`
		NameIDFormat []string `xml:"NameIDFormat"`
		ACS          []struct {
			Binding  string `xml:"Binding,attr"`
			Location string `xml:"Location,attr"`
			Index    string `xml:"index,attr"`
		} `xml:"AssertionConsumerService"`
	} `xml:"SPSSODescriptor"`
}

// EncryptAssertions sets whether assertions to the service providers
// registered after the call are encrypted (to their encryption key).
func (p *IdP) EncryptAssertions(on bool) { p.opts.EncryptAssertions = on }

// RegisterSP registers a service provider at the IdP from its SAML
// metadata (an EntityDescriptor with an SPSSODescriptor), replacing any
// registered before. SimpleSAMLphp reads it on the next request.
func (p *IdP) RegisterSP(metadata []byte) error {
	var d spDescriptor
	if err := xml.Unmarshal(metadata, &d); err != nil {
		return fmt.Errorf("samltest: SP metadata: %w", err)
	}
	if d.EntityID == "" || len(d.SP.ACS) == 0 {
		return errors.New("samltest: SP metadata without entityID or AssertionConsumerService")
	}
	var b strings.Builder
	b.WriteString("<?php\n$metadata[" + php(d.EntityID) + "] = [\n    'AssertionConsumerService' => [\n")
	for i, a := range d.SP.ACS {
		b.WriteString(fmt.Sprintf("        ['Binding' => %s, 'Location' => %s, 'index' => %d],\n", php(a.Binding), php(a.Location), i))
	}
	b.WriteString("    ],\n    'SingleLogoutService' => [\n")
	for _, s := range d.SP.SLO {
		b.WriteString(fmt.Sprintf("        ['Binding' => %s, 'Location' => %s],\n", php(s.Binding), php(s.Location)))
	}
	b.WriteString("    ],\n")
	var signing, encryption []string
	for _, k := range d.SP.Keys {
		c := strings.Join(strings.Fields(k.Cert), "")
		switch k.Use {
		case "signing":
			signing = append(signing, c)
		case "encryption":
			encryption = append(encryption, c)
		default:
			signing, encryption = append(signing, c), append(encryption, c)
		}
	}
	b.WriteString("    'keys' => [\n")
	for _, c := range signing {
		b.WriteString("        ['type' => 'X509Certificate', 'signing' => true, 'encryption' => false, 'X509Certificate' => " + php(c) + "],\n")
	}
	for _, c := range encryption {
		b.WriteString("        ['type' => 'X509Certificate', 'signing' => false, 'encryption' => true, 'X509Certificate' => " + php(c) + "],\n")
	}
	b.WriteString("    ],\n")
	b.WriteString("    'NameIDFormat' => " + php(p.opts.NameIDFormat) + ",\n")
	b.WriteString("    'validate.authnrequest' => " + boolPHP(d.SP.AuthnRequestsSigned == "true") + ",\n")
	b.WriteString("    'validate.logout' => true,\n    'sign.logout' => true,\n    'redirect.sign' => true,\n")
	b.WriteString("    'saml20.sign.assertion' => true,\n    'saml20.sign.response' => false,\n")
	b.WriteString("    'assertion.encryption' => " + boolPHP(p.opts.EncryptAssertions && len(encryption) > 0) + ",\n")
	b.WriteString("];\n")
	return os.WriteFile(filepath.Join(p.dir, "metadata", "saml20-sp-remote.php"), []byte(b.String()), 0o600)
}

func boolPHP(v bool) string {
	if v {
		return "true"
	}
	return "false"
}
