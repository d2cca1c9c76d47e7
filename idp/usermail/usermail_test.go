package usermail

import (
	"testing"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
)

func TestLifespan(t *testing.T) {
	realm := &oidc.Realm{Settings: rep.RealmSettings{ActionTokenGeneratedByUserLifespan: 300 * time.Second,
		Attributes: map[string]string{"actionTokenGeneratedByUserLifespan.verify-email": "86400",
			"actionTokenGeneratedByUserLifespan.execute-actions": "nonsense"}}}
	for typ, want := range map[string]time.Duration{
		TypeResetCredentials: 5 * time.Minute, // the realm's
		TypeVerifyEmail:      24 * time.Hour,  // the per-type attribute
		TypeExecuteActions:   5 * time.Minute, // an unreadable attribute is ignored
	} {
		if got := Lifespan(realm, typ); got != want {
			t.Errorf("%s: %s, want %s", typ, got, want)
		}
	}
}

func TestLinkAndAttemptHash(t *testing.T) {
	realm := &oidc.Realm{Issuer: "https://sso.example.com/realms/acme"}
	if got := Link(realm, "a.b+c", "my app"); got != "https://sso.example.com/realms/acme/login-actions/action-token?key=a.b%2Bc&client_id=my+app" {
		t.Errorf("link %s", got)
	}
	if AttemptHash("") != "" || AttemptHash("x") == AttemptHash("y") || AttemptHash("x") == "x" || len(AttemptHash("x")) != 22 {
		t.Errorf("attempt hash %q %q", AttemptHash("x"), AttemptHash("y"))
	}
}
