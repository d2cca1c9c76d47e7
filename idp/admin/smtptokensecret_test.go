package admin_test

import (
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
)

// TestSMTPTokenClientSecretMasked: Keycloak 26's SMTP XOAUTH2 settings
// carry authTokenClientSecret, a secret Keycloak masks as it masks the
// password; a realm admin with view-realm must not read it.
func TestSMTPTokenClientSecretMasked(t *testing.T) {
	e := newEnv(t)
	vr := e.realmWithUser("acme", "vr", "view-realm")
	base := "/admin/realms/acme"
	e.must(204, "PUT", base, e.admin, map[string]any{"realm": "acme", "smtpServer": map[string]string{
		"host": "smtp.example.com", "port": "587", "from": "no-reply@example.com", "auth": "true", "authType": "token",
		"user": "mailer", "authTokenUrl": "https://login.example.com/token", "authTokenClientId": "smtp-client",
		"authTokenClientSecret": "tok-S3cret-value", "authTokenScope": "smtp"}})
	for _, p := range []string{base, "/admin/realms"} {
		if r := e.must(200, "GET", p, vr, nil); strings.Contains(string(r.body), "tok-S3cret-value") {
			t.Fatalf("GET %s shows authTokenClientSecret: %s", p, r.body)
		}
	}
	// A masked PUT keeps the stored secret.
	var got map[string]any
	e.must(200, "GET", base, e.admin, nil).json(t, &got)
	e.must(204, "PUT", base, e.admin, got)
	row, err := e.st.GetRealmByName(t.Context(), "acme")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(row.Settings), "tok-S3cret-value") {
		t.Fatalf("a masked PUT lost authTokenClientSecret: %s", row.Settings)
	}
	// keygate realm export without --include-secrets masks it too.
	x, err := rep.Export(t.Context(), e.st, "acme", rep.ExportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if v := x.SMTPServer["authTokenClientSecret"]; v != rep.SecretMask {
		t.Fatalf("export shows authTokenClientSecret %q", v)
	}
}
