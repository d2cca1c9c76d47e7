package otp

import (
	"math"
	"testing"
	"time"

	"github.com/keygate/keygate/idp/rep"
)

// Hostile otpPolicy* values from the admin API or a realm file (a period
// of a day or more, a counter past a Java int, a look-ahead of a million)
// resolve to a policy whose new devices can be made and whose codes can
// be checked: CONFIGURE_TOTP never fails for every user of the realm, and
// no window lets almost any code in.
func TestHostileOTPPolicyResolvesUsable(t *testing.T) {
	ip := func(n int) *int { return &n }
	for _, r := range []rep.Realm{
		{OTPPolicyPeriod: ip(0)}, {OTPPolicyPeriod: ip(-30)}, {OTPPolicyPeriod: ip(86400)},
		{OTPPolicyPeriod: ip(math.MaxInt32)}, {OTPPolicyType: "hotp", OTPPolicyInitialCounter: ip(math.MaxInt32 + 1)},
		{OTPPolicyType: "hotp", OTPPolicyInitialCounter: ip(math.MaxInt32)}, {OTPPolicyType: "hotp", OTPPolicyInitialCounter: ip(-1)}, {OTPPolicyLookAheadWindow: ip(1_000_000)},
		{OTPPolicyDigits: ip(0)}, {OTPPolicyDigits: ip(1 << 20)}, {OTPPolicyAlgorithm: "HmacMD5"},
	} {
		p := r.OTPPolicy()
		if p.LookAheadWindow > 10 {
			t.Errorf("%+v: look-ahead window %d", r, p.LookAheadWindow)
		}
		c, err := New(p, "u1", "c1", "", NewSecret(), time.Now())
		if err != nil {
			t.Errorf("policy %+v: a new device cannot be made: %v", p, err)
			continue
		}
		if _, ok := c.Accept(c.Code(time.Now()), time.Now(), p); !ok && p.Type == TOTP {
			t.Errorf("policy %+v: the device's own code refused", p)
		}
	}
}
