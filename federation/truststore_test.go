package federation_test

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap/ldaptest"
)

func TestLoadTruststore(t *testing.T) {
	ca := ldaptest.NewCA(t)
	block, _ := pem.Decode(ca.ServerCertPEM)
	server, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	verifies := func(pool *x509.CertPool) bool {
		_, err := server.Verify(x509.VerifyOptions{Roots: pool, DNSName: "localhost"})
		return err == nil
	}
	dir := t.TempDir()
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	caFile := write("one/ca.pem", append([]byte("# the directory's CA\n"), ca.CertPEM...))
	write("tree/README.txt", []byte("not a certificate"))
	write("tree/deeper/ca.crt", ca.CertPEM)
	junk := write("junk.pem", []byte("not a certificate"))
	p12 := write("store.p12", []byte{0x30, 0x82})

	pool, err := federation.LoadTruststore(nil)
	if err != nil {
		t.Fatal(err)
	}
	if verifies(pool) {
		t.Fatal("the system roots trust a test CA")
	}
	for _, paths := range [][]string{{caFile}, {filepath.Join(dir, "tree")}, {" ", caFile}} {
		pool, err := federation.LoadTruststore(paths)
		if err != nil || !verifies(pool) {
			t.Errorf("LoadTruststore(%v): %v, verifies %v", paths, err, pool != nil && verifies(pool))
		}
	}
	for _, tc := range []struct {
		path, want string
	}{
		{junk, "no PEM certificate"},
		{p12, "PKCS #12"},
		{filepath.Join(dir, "missing.pem"), "no such file"},
	} {
		if _, err := federation.LoadTruststore([]string{tc.path}); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("LoadTruststore(%s) = %v, want %q", tc.path, err, tc.want)
		}
	}
}
