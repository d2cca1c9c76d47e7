package admin_test

import "testing"

// TestSMTPStoredPasswordStaysWithItsServer: the masked SMTP password keeps
// (or, in testSMTPConnection, uses) the stored one only for the stored
// host and port. manage-realm never sees that password, but could
// otherwise have keygate log in with it to a mail server of its own.
func TestSMTPStoredPasswordStaysWithItsServer(t *testing.T) {
	e := newEnv(t)
	mr := e.realmWithUser("acme", "mr", "manage-realm")
	const b = "/admin/realms/acme"
	smtp := map[string]any{"host": "smtp.example", "port": "587", "from": "idp@example.com", "auth": "true",
		"user": "idp", "password": "Smtp-S3cret", "starttls": "true"}
	e.must(204, "PUT", b, e.admin, map[string]any{"smtpServer": smtp})
	var realm struct{ SMTPServer map[string]any }
	e.must(200, "GET", b, mr, nil).json(t, &realm)
	masked := realm.SMTPServer
	if masked["password"] == "Smtp-S3cret" {
		t.Fatal("password shown")
	}
	moved := func(k, v string) map[string]any {
		out := map[string]any{}
		for k, v := range masked {
			out[k] = v
		}
		out[k] = v
		return out
	}
	// "\u017Fmtp.example" (U+017F LONG S) is another host, though
	// strings.EqualFold takes it for smtp.example.
	for _, m := range []map[string]any{moved("host", "127.0.0.1"), moved("port", "2525"), moved("host", "\u017Fmtp.example")} {
		e.must(400, "POST", b+"/testSMTPConnection", mr, m)
		e.must(400, "PUT", b, mr, map[string]any{"smtpServer": m})
	}
	e.must(204, "PUT", b, mr, map[string]any{"smtpServer": moved("fromDisplayName", "IdP")})
	e.must(204, "PUT", b, mr, map[string]any{"smtpServer": map[string]any{"host": "127.0.0.1", "port": "2525", "from": "idp@example.com",
		"auth": "true", "user": "idp", "password": "Other-S3cret"}})
}
