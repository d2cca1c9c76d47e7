package idp_test

import (
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store/storetest/backends"
)

// endlessBody is a request body of n bytes that counts what was read.
type endlessBody struct{ left, read int64 }

func (b *endlessBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), b.left)]
	for i := range p {
		p[i] = 'a'
	}
	b.left -= int64(len(p))
	b.read += int64(len(p))
	return len(p), nil
}

func (*endlessBody) Close() error { return nil }

// No route reads more of an unauthenticated request's body than its
// limit, whatever the method and Content-Type (a multipart form parsed
// without a cap would spill to disk): the SAML endpoint takes 2 MiB,
// client registration 256 KiB, every form 64 KiB, everything else none.
func TestRequestBodiesBounded(t *testing.T) {
	st := backends.SQLite(t)
	srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if err := idp.Bootstrap(t.Context(), st, srv.Limiter(), "admin", "admin-secret-pw"); err != nil {
		t.Fatal(err)
	}
	srv.SetReady()
	h := srv.Handler()
	const (
		oc = "/realms/master/protocol/openid-connect"
		la = "/realms/master/login-actions/"
		a  = "/realms/master/account"
		cr = "/realms/master/clients-registrations/"
	)
	limits := map[string]int64{
		"/realms/master/broker/x/endpoint": 2 << 20,
		cr + "openid-connect":              256 << 10, cr + "default": 256 << 10,
	}
	paths := []string{"/", "/admin", "/admin/realms", "/admin/realms/master", "/admin/realms/master/users",
		"/admin/realms/master/partialImport", "/admin/serverinfo", "/health", "/health/ready", "/health/live",
		"/realms/master", "/realms/master/.well-known/openid-configuration",
		oc + "/auth", oc + "/token", oc + "/token/introspect", oc + "/revoke", oc + "/userinfo", oc + "/logout", oc + "/certs",
		oc + "/login-status-iframe.html", oc + "/login-status-iframe.html/init", oc + "/3p-cookies/step1.html",
		la + "authenticate", la + "registration", la + "required-action", la + "first-broker-login", la + "reset-credentials",
		la + "action-token", "/realms/master/broker/x/endpoint", "/realms/master/broker/x/login",
		"/realms/master/broker/x/endpoint/descriptor", cr + "openid-connect", cr + "default", cr + "openid-connect/x", cr + "default/x",
		a, a + "/", a + "/delete-account", a + "/credentials", a + "/credentials/x", a + "/sessions", a + "/sessions/x",
		a + "/linked-accounts", a + "/linked-accounts/x", a + "/account-security/signing-in/password",
		a + "/account-security/signing-in/otp/set-up", a + "/account-security/signing-in/otp/x/delete",
		a + "/account-security/device-activity/sign-out", a + "/account-security/linked-accounts/x/link",
		a + "/account-security/linked-accounts/x/unlink", "/resources/x", "/nothing", "/auth" + oc + "/token"}
	for _, p := range paths {
		limit, ok := limits[p]
		if !ok {
			limit = 64 << 10
		}
		for _, m := range []string{"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} {
			for _, ct := range []string{"application/x-www-form-urlencoded", "multipart/form-data; boundary=b", "application/json"} {
				for _, auth := range []string{"", "Bearer e30.e30.e30", "Basic YWRtaW4tY2xpOng="} {
					body := &endlessBody{left: 8 << 20}
					req := httptest.NewRequest(m, p+"?client_id=admin-cli", nil)
					req.Body, req.ContentLength = body, -1
					req.RemoteAddr = "127.0.0.1:4711" // no sslRequired refusal before the handler
					req.Header.Set("Content-Type", ct)
					req.Header.Set("Origin", "https://app.example.com")
					if auth != "" {
						req.Header.Set("Authorization", auth)
					}
					h.ServeHTTP(httptest.NewRecorder(), req)
					if body.read > limit+1 {
						t.Errorf("%s %s (%s, %s): read %d bytes of the body, limit %d", m, p, ct, strings.Fields(auth + " none")[0], body.read, limit)
					}
				}
			}
		}
	}
}
