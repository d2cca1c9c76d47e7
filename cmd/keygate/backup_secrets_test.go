package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCLIBackupFileAndExportSecrets: a backup file is created 0600 and
// never over an existing file or through a symlink; realm export masks
// component secrets (a key provider's privateKey, an LDAP bind credential,
// the SMTP secrets) unless --include-secrets, and a realm import with
// --db-key stores them sealed (attacks that held, and the sealing of key
// providers' secrets).
func TestCLIBackupFileAndExportSecrets(t *testing.T) {
	dir := t.TempDir()
	db := "sqlite:" + filepath.Join(dir, "k.db")
	const dbKey = "a-database-key-for-cli-tests"
	realm := `{"realm":"sec","enabled":true,
		"smtpServer":{"host":"smtp.example.com","from":"a@example.com","auth":"true","user":"u","password":"smtp-Pw-1","authTokenClientSecret":"tok-Secret-1"},
		"components":{"org.keycloak.keys.KeyProvider":[{"name":"rsa","providerId":"rsa","config":{"privateKey":["PRIVATE-KEY-PEM-1"],"priority":["100"]}}]}}`
	if _, _, msg, _ := cli(t, realm, "realm", "import", "--db", db, "--db-key", dbKey, "-"); msg != "" {
		t.Fatal(msg)
	}
	raw, err := os.ReadFile(filepath.Join(dir, "k.db"))
	if err != nil {
		t.Fatal(err)
	}
	wal, _ := os.ReadFile(filepath.Join(dir, "k.db-wal"))
	for _, s := range []string{"PRIVATE-KEY-PEM-1", "smtp-Pw-1", "tok-Secret-1"} {
		if strings.Contains(string(raw), s) || strings.Contains(string(wal), s) {
			t.Errorf("%s stored in the clear despite --db-key", s)
		}
	}
	out, _, msg, _ := cli(t, "", "realm", "export", "--db", db, "sec")
	if msg != "" {
		t.Fatal(msg)
	}
	for _, s := range []string{"PRIVATE-KEY-PEM-1", "smtp-Pw-1", "tok-Secret-1", "kgsealed"} {
		if strings.Contains(out, s) {
			t.Errorf("export without --include-secrets shows %s", s)
		}
	}
	out, _, msg, _ = cli(t, "", "realm", "export", "--db", db, "--include-secrets", "--db-key", dbKey, "sec")
	if msg != "" {
		t.Fatal(msg)
	}
	for _, s := range []string{"PRIVATE-KEY-PEM-1", "smtp-Pw-1", "tok-Secret-1"} {
		if !strings.Contains(out, s) {
			t.Errorf("export with --include-secrets lacks %s", s)
		}
	}

	file := filepath.Join(dir, "b.db")
	if _, _, msg, code := cli(t, "", "backup", "--db", db, "--out", file); code != 0 {
		t.Fatalf("backup: %d %s", code, msg)
	}
	if fi, err := os.Stat(file); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("backup file mode: %v %v", fi.Mode(), err)
	}
	existing := filepath.Join(dir, "existing")
	if err := os.WriteFile(existing, []byte("keep me"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, _, code := cli(t, "", "backup", "--db", db, "--out", existing); code == 0 {
		t.Error("backup over an existing file succeeded")
	}
	if b, _ := os.ReadFile(existing); string(b) != "keep me" {
		t.Error("backup overwrote an existing file")
	}
	link := filepath.Join(dir, "link")
	if err := os.Symlink(filepath.Join(dir, "target"), link); err != nil {
		t.Fatal(err)
	}
	if _, _, _, code := cli(t, "", "backup", "--db", db, "--out", link); code == 0 {
		t.Error("backup through a dangling symlink succeeded")
	}
	if _, err := os.Lstat(filepath.Join(dir, "target")); err == nil {
		t.Error("backup wrote the symlink's target")
	}
}
