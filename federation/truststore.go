package federation

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// LoadTruststore builds the pool that verifies directories' certificates
// from Keycloak 26's --truststore-paths: PEM files, or directories whose
// files are read recursively, added to the system roots. As Keycloak does,
// a file named on its own must hold certificates, while files in a
// directory that are not PEM certificates are skipped. PKCS #12 stores
// (.p12, .pfx, .pkcs12) are refused with a message: convert them to PEM
// (openssl pkcs12 -in store.p12 -nokeys -out cas.pem).
func LoadTruststore(paths []string) (*x509.CertPool, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	for _, p := range paths {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
		if !st.IsDir() {
			n, err := addPEMFile(pool, p)
			if err != nil {
				return nil, err
			}
			if n == 0 {
				return nil, fmt.Errorf("truststore: %s holds no PEM certificate", p)
			}
			continue
		}
		err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() {
				return nil
			}
			if d.Type()&fs.ModeSymlink != 0 { // e.g. the hash links of /etc/ssl/certs
				if st, err := os.Stat(path); err != nil || st.IsDir() {
					return nil
				}
			}
			_, err = addPEMFile(pool, path)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("truststore: %w", err)
		}
	}
	return pool, nil
}

// addPEMFile adds the certificates of one PEM file and says how many.
func addPEMFile(pool *x509.CertPool, path string) (int, error) {
	switch strings.ToLower(filepath.Ext(path)) {
	case ".p12", ".pfx", ".pkcs12":
		return 0, fmt.Errorf("truststore: %s: PKCS #12 is not supported; convert it to PEM", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("truststore: %w", err)
	}
	n := 0
	for {
		var b *pem.Block
		b, data = pem.Decode(data)
		if b == nil {
			return n, nil
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return n, fmt.Errorf("truststore: %s: %w", path, err)
		}
		pool.AddCert(cert)
		n++
	}
}
