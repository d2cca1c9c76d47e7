package idp

import (
	"bytes"
	"context"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store/sqlite"
)

// One line per LDAP provider that sets keys keygate ignores, naming the
// keys and not their values; providers at the defaults (or with details
// of a feature that is off) say nothing.
func TestLogUnimplementedFederationKeys(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const realm = `{"realm": "corp", "components": {"org.keycloak.storage.UserStorageProvider": [
	  {"name": "kerberized", "providerId": "ldap", "config": {"connectionUrl": ["ldap://ldap.corp"], "usersDn": ["ou=p,dc=corp"],
	    "editMode": ["READ_ONLY"], "allowKerberosAuthentication": ["true"], "keyTab": ["/etc/secret/http.keytab"],
	    "kerberosRealm": ["CORP.EXAMPLE"], "cachePolicy": ["EVICT_DAILY"], "evictionHour": ["3"], "debug": ["false"]}},
	  {"name": "plain", "providerId": "ldap", "config": {"connectionUrl": ["ldap://ldap.corp"], "usersDn": ["ou=p,dc=corp"],
	    "editMode": ["READ_ONLY"], "allowKerberosAuthentication": ["false"], "cachePolicy": ["DEFAULT"], "debug": ["false"],
	    "useKerberosForPasswordAuthentication": ["false"], "krbPrincipalAttribute": ["krb5PrincipalName"], "evictionHour": ["1"]}}]}}`
	if _, err := rep.ImportRealm(ctx, st, []byte(realm), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := LogUnimplementedFederationKeys(ctx, st, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 1 {
		t.Fatalf("want one line, got:\n%s", buf.String())
	}
	for _, want := range []string{"realm=corp", "provider=kerberized",
		"keys=allowKerberosAuthentication,cachePolicy,evictionHour,kerberosRealm,keyTab"} {
		if !strings.Contains(lines[0], want) {
			t.Errorf("line lacks %q: %s", want, lines[0])
		}
	}
	if strings.Contains(lines[0], "/etc/secret") || strings.Contains(lines[0], "CORP.EXAMPLE") {
		t.Errorf("values logged: %s", lines[0])
	}
}

// Identity providers: one line per provider with keys keygate does not act
// on, and one per provider type it cannot sign in with.
func TestLogUnimplementedIdentityProviderKeys(t *testing.T) {
	ctx := context.Background()
	st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "kg.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const realm = `{"realm": "corp", "identityProviders": [
	  {"alias": "adfs", "providerId": "saml", "enabled": true, "config": {"singleSignOnServiceUrl": "https://adfs.corp/sso",
	    "artifactResolutionServiceUrl": "https://adfs.corp/artifact", "backchannelSupported": "true", "validateSignature": "false"}},
	  {"alias": "plain", "providerId": "saml", "enabled": true, "config": {"singleSignOnServiceUrl": "https://idp.corp/sso",
	    "validateSignature": "false"}},
	  {"alias": "github", "providerId": "github", "enabled": true, "config": {"clientId": "x", "clientSecret": "s3cr3t-value"}}]}`
	if _, err := rep.ImportRealm(ctx, st, []byte(realm), rep.ImportOptions{}); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := LogUnimplementedFederationKeys(ctx, st, slog.New(slog.NewTextHandler(&buf, nil))); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 2 {
		t.Fatalf("want two lines, got:\n%s", out)
	}
	if !strings.Contains(out, "alias=adfs") || !strings.Contains(out, "artifactResolutionServiceUrl") ||
		!strings.Contains(out, "backchannelSupported") || strings.Contains(out, "alias=plain") {
		t.Errorf("SAML line:\n%s", out)
	}
	if !strings.Contains(out, "alias=github") || !strings.Contains(out, "providerId=github") || strings.Contains(out, "s3cr3t") {
		t.Errorf("github line:\n%s", out)
	}
}
