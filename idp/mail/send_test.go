package mail_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/mail"
	"github.com/keygate/keygate/idp/mail/mailtest"
)

func msg(to string) mail.Message {
	return mail.Message{To: to, Subject: "Reset password", Text: "plain https://example.com/x?a=1&b=2", HTML: "<p>html</p>"}
}

// TestSendMailpit delivers through a real SMTP server: plain, with AUTH,
// with STARTTLS against a certificate the sender trusts, and the sealed
// password revealed only for the session.
func TestSendMailpit(t *testing.T) {
	certFile, keyFile, pool := selfSigned(t)
	mp := mailtest.Start(t, mailtest.Options{Auth: true, TLSCert: certFile, TLSKey: keyFile})
	revealed := ""
	sn := &mail.Sender{RootCAs: pool, Reveal: func(v string) (string, error) {
		revealed = strings.TrimPrefix(v, "sealed:")
		return revealed, nil
	}}
	cfg := mp.Settings("idp@example.com")
	cfg["fromDisplayName"], cfg["replyTo"] = "Example IdP", "help@example.com"
	cfg["auth"], cfg["user"], cfg["password"], cfg["starttls"] = "true", "idp", "sealed:s3cret", "true"
	s, err := mail.Parse(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := sn.Send(context.Background(), s, msg("alice@example.com")); err != nil {
		t.Fatal(err)
	}
	if revealed != "s3cret" {
		t.Fatalf("revealed %q", revealed)
	}
	m := mp.Wait("alice@example.com", 1, 5*time.Second)
	if m.Subject != "Reset password" || m.From.Name != "Example IdP" || m.From.Address != "idp@example.com" ||
		len(m.ReplyTo) != 1 || m.ReplyTo[0].Address != "help@example.com" {
		t.Fatalf("mail %+v", m)
	}
	if !strings.Contains(m.Text, "https://example.com/x?a=1&b=2") || !strings.Contains(m.HTML, "<p>html</p>") {
		t.Fatalf("parts: %q / %q", m.Text, m.HTML)
	}

	// The certificate is verified: a sender without the test CA refuses.
	err = (&mail.Sender{}).Send(context.Background(), s, msg("bob@example.com"))
	var me *mail.Error
	if !errors.As(err, &me) || me.Step != "starttls" {
		t.Fatalf("untrusted certificate: %v", err)
	}
}

// TestSendRefusesPlaintextDowngrade: starttls asked for and not offered
// is an error, never a mail (or a password) sent in the clear.
func TestSendRefusesPlaintextDowngrade(t *testing.T) {
	mp := mailtest.Start(t, mailtest.Options{})
	cfg := mp.Settings("idp@example.com")
	cfg["starttls"] = "true"
	s, _ := mail.Parse(cfg)
	err := (&mail.Sender{}).Send(context.Background(), s, msg("carol@example.com"))
	var me *mail.Error
	if !errors.As(err, &me) || me.Step != "starttls" {
		t.Fatalf("got %v", err)
	}
	if n := mp.Count("carol@example.com"); n != 0 {
		t.Fatalf("%d mails delivered", n)
	}
}

// TestSendServerDown: nothing listening is a connect error, and a server
// that accepts but never speaks is cut off at the timeout.
func TestSendServerDown(t *testing.T) {
	port := mailtest.FreePort(t)
	s, _ := mail.Parse(map[string]string{"host": "127.0.0.1", "port": strconv.Itoa(port), "from": "idp@example.com"})
	err := (&mail.Sender{}).Send(context.Background(), s, msg("dave@example.com"))
	var me *mail.Error
	if !errors.As(err, &me) || me.Step != "connect" {
		t.Fatalf("down: %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // silent: no greeting
		}
	}()
	s.Port = l.Addr().(*net.TCPAddr).Port
	start := time.Now()
	err = (&mail.Sender{Timeout: 300 * time.Millisecond}).Send(context.Background(), s, msg("dave@example.com"))
	if err == nil || time.Since(start) > 3*time.Second {
		t.Fatalf("silent server: %v after %s", err, time.Since(start))
	}
	if strings.Contains(err.Error(), "plain https") {
		t.Fatal("the error carries the body")
	}
}

func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true, IsCA: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}
