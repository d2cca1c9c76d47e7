package test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"
	"time"
)

var tlsListenRE = regexp.MustCompile(`msg=listening addr=(\S+) scheme=https\b`)

// --https-self-signed serves TLS 1.2 and 1.3 only, with an ECDSA P-384
// certificate valid 90 days.
func TestSelfSignedTLS(t *testing.T) {
	db := filepath.Join(t.TempDir(), "kg.db")
	s := startServer(t, db, nil, "--https-addr", "127.0.0.1:0", "--https-self-signed")
	m := tlsListenRE.FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no https listener in the log:\n%s", s.logs.String())
	}
	addr := m[1]
	dial := func(minV, maxV uint16) (*tls.Conn, error) {
		return tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, MinVersion: minV, MaxVersion: maxV})
	}
	for _, v := range []uint16{tls.VersionTLS12, tls.VersionTLS13} {
		c, err := dial(v, v)
		if err != nil {
			t.Fatalf("TLS %x refused: %v", v, err)
		}
		cert := c.ConnectionState().PeerCertificates[0]
		pub, ok := cert.PublicKey.(*ecdsa.PublicKey)
		if !ok || pub.Curve != elliptic.P384() {
			t.Errorf("certificate key %T, want ECDSA P-384", cert.PublicKey)
		}
		if life := cert.NotAfter.Sub(cert.NotBefore); life < 89*24*time.Hour || life > 91*24*time.Hour {
			t.Errorf("certificate valid %v, want 90 days", life)
		}
		c.Close()
	}
	if c, err := dial(tls.VersionTLS10, tls.VersionTLS11); err == nil {
		c.Close()
		t.Error("TLS 1.0/1.1 accepted")
	}
	cl := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	resp, err := cl.Get("https://" + addr + "/realms/master/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("discovery over https: %d", resp.StatusCode)
	}
}
