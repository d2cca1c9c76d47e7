package templates

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestRenderEmail(t *testing.T) {
	link := "https://idp.example.com/realms/r/login-actions/action-token?key=abc&client_id=app"
	e, err := RenderEmail(context.Background(), EmailPasswordReset, EmailView{
		RealmName: `Acme <script>alert(1)</script>`, Link: link, Lifespan: 5 * time.Minute,
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Reset password" {
		t.Errorf("subject %q", e.Subject)
	}
	if !strings.Contains(e.Text, "\n\n"+link+"\n\n") || !strings.Contains(e.Text, "expire within 5 minutes") ||
		!strings.Contains(e.Text, "your Acme <script>alert(1)</script> account") {
		t.Errorf("text %q", e.Text)
	}
	if strings.Contains(e.HTML, "<script>") || !strings.Contains(e.HTML, "Acme &lt;script&gt;") {
		t.Errorf("realm name not escaped in HTML: %s", e.HTML)
	}
	if !strings.Contains(e.HTML, `<a href="https://idp.example.com/realms/r/login-actions/action-token?key=abc&amp;client_id=app">`) {
		t.Errorf("link in HTML: %s", e.HTML)
	}

	e, err = RenderEmail(context.Background(), EmailExecuteActions, EmailView{
		RealmName: "Acme", Link: link, Lifespan: 12 * time.Hour, Actions: []string{"UPDATE_PASSWORD", "VERIFY_EMAIL"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if e.Subject != "Update Your Account" || !strings.Contains(e.Text, "action(s): Update Password, Verify Email.") ||
		!strings.Contains(e.Text, "expire within 12 hours") {
		t.Errorf("execute-actions: %q / %q", e.Subject, e.Text)
	}
	for _, kind := range []string{EmailVerification, EmailTest} {
		e, err := RenderEmail(context.Background(), kind, EmailView{RealmName: "Acme", Link: link, Lifespan: time.Hour})
		if err != nil || e.Subject == kind+"Subject" || e.Text == kind+"Body" || !strings.Contains(e.HTML, "<p>") {
			t.Errorf("%s: %+v %v", kind, e, err)
		}
	}
}

func TestFormatLinkExpiration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		time.Minute: "1 minute", 5 * time.Minute: "5 minutes", time.Hour: "1 hour", 12 * time.Hour: "12 hours",
		24 * time.Hour: "1 day", 72 * time.Hour: "3 days", 90 * time.Second: "90 seconds", time.Second: "1 second",
	} {
		if got := FormatLinkExpiration(nil, d); got != want {
			t.Errorf("%s: %q, want %q", d, got, want)
		}
	}
}
