package idp

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/store"
)

// The realm and client label values are capped, and a client id only
// becomes one once an event proves the client exists.
func TestMetricsLabelCap(t *testing.T) {
	var c labelCap
	if r, cl := c.admit("test", "made-up", false); r != "test" || cl != otherLabel {
		t.Fatalf("an unproven client: %s %s", r, cl)
	}
	if _, cl := c.admit("test", "webapp", true); cl != "webapp" {
		t.Fatalf("a proven client: %s", cl)
	}
	if _, cl := c.admit("test", "webapp", false); cl != "webapp" {
		t.Fatalf("a known client failing before authentication: %s", cl)
	}
	for i := range maxClientLabels * 2 {
		c.admit("test", fmt.Sprint("c", i), true)
	}
	if n := len(c.realms["test"]); n != maxClientLabels {
		t.Fatalf("%d client labels, want the cap %d", n, maxClientLabels)
	}
	for i := range maxRealmLabels * 2 {
		c.admit(fmt.Sprint("r", i), "x", true)
	}
	if r, cl := c.admit("one-too-many", "x", true); r != otherLabel || cl != otherLabel || len(c.realms) != maxRealmLabels {
		t.Fatalf("past the realm cap: %s %s (%d realms)", r, cl, len(c.realms))
	}
}

type fakeBroker struct{ err error }

func (f fakeBroker) Start(context.Context, federation.BrokerRequest) (federation.BrokerStart, error) {
	return federation.BrokerStart{}, f.err
}
func (f fakeBroker) Finish(context.Context, federation.BrokerRequest, []byte, url.Values) (federation.BrokeredIdentity, error) {
	return federation.BrokeredIdentity{}, f.err
}

type fakeSAMLBroker struct{ fakeBroker }

func (fakeSAMLBroker) Metadata(context.Context, federation.BrokerRequest) ([]byte, error) {
	return []byte("<md/>"), nil
}
func (fakeSAMLBroker) Logout(context.Context, federation.BrokerRequest, federation.BrokeredIdentity) (federation.BrokerStart, error) {
	return federation.BrokerStart{}, nil
}
func (fakeSAMLBroker) HandleLogout(context.Context, federation.BrokerRequest, url.Values) (string, string, federation.BrokerStart, error) {
	return "", "", federation.BrokerStart{}, nil
}

// fakeOIDCBroker has OIDC's optional interfaces: single logout and logout
// tokens.
type fakeOIDCBroker struct{ fakeBroker }

func (fakeOIDCBroker) Logout(context.Context, federation.BrokerRequest, federation.BrokeredIdentity) (federation.BrokerStart, error) {
	return federation.BrokerStart{}, nil
}
func (fakeOIDCBroker) HandleLogout(context.Context, federation.BrokerRequest, url.Values) (string, string, federation.BrokerStart, error) {
	return "", "", federation.BrokerStart{}, nil
}
func (fakeOIDCBroker) Issues(iss string) bool { return iss == "https://idp.example" }
func (fakeOIDCBroker) VerifyLogoutToken(context.Context, string) (string, string, error) {
	return "", "", fmt.Errorf("%w: bad token", federation.ErrBrokerRefused)
}

// Instrumented brokers keep exactly their optional interfaces and count
// their operations and failures by reason.
func TestMetricsBrokers(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := newServerMetrics(reg)
	f := m.instrumentBrokers(map[string]federation.BrokerFactory{
		"oidc": func(context.Context, federation.BrokerEnv, store.IdentityProvider) (federation.Broker, error) {
			return fakeBroker{err: fmt.Errorf("token endpoint: %w", federation.ErrUnavailable)}, nil
		},
		"saml": func(context.Context, federation.BrokerEnv, store.IdentityProvider) (federation.Broker, error) {
			return fakeSAMLBroker{fakeBroker{err: errors.New("bad signature")}}, nil
		},
		"keycloak-oidc": func(context.Context, federation.BrokerEnv, store.IdentityProvider) (federation.Broker, error) {
			return fakeOIDCBroker{}, nil
		},
	})
	ctx := context.Background()
	ob, _ := f["oidc"](ctx, federation.BrokerEnv{}, store.IdentityProvider{})
	sb, _ := f["saml"](ctx, federation.BrokerEnv{}, store.IdentityProvider{})
	if _, ok := ob.(federation.SPMetadata); ok {
		t.Error("the OIDC broker gained SPMetadata")
	}
	if _, ok := ob.(federation.SingleLogout); ok {
		t.Error("the OIDC broker gained SingleLogout")
	}
	md, ok1 := sb.(federation.SPMetadata)
	_, ok2 := sb.(federation.SingleLogout)
	if !ok1 || !ok2 {
		t.Fatal("the SAML broker lost SPMetadata or SingleLogout")
	}
	kb, _ := f["keycloak-oidc"](ctx, federation.BrokerEnv{}, store.IdentityProvider{})
	_, ok1 = kb.(federation.SingleLogout)
	lt, ok2 := kb.(federation.LogoutTokens)
	if _, ok := kb.(federation.SPMetadata); ok || !ok1 || !ok2 {
		t.Fatal("the OIDC logout broker lost SingleLogout or LogoutTokens, or gained SPMetadata")
	}
	if !lt.Issues("https://idp.example") {
		t.Error("Issues through the wrapper")
	}
	_, _, _ = lt.VerifyLogoutToken(ctx, "x")
	if b, err := md.Metadata(ctx, federation.BrokerRequest{}); err != nil || string(b) != "<md/>" {
		t.Fatalf("metadata through the wrapper: %q %v", b, err)
	}
	_, _ = ob.Finish(ctx, federation.BrokerRequest{}, nil, nil)
	_, _ = sb.Finish(ctx, federation.BrokerRequest{}, nil, nil)
	_, _ = sb.Start(ctx, federation.BrokerRequest{})
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{"oidc", "finish", "unavailable"}, 1},
		{[]string{"saml", "finish", "error"}, 1},
		{[]string{"saml", "start", "error"}, 1},
		{[]string{"saml", "metadata", "error"}, 0},
		{[]string{"keycloak-oidc", "logout_token", "error"}, 1},
	} {
		if got := gathered(t, reg, "keygate_broker_operation_errors_total", c.labels...); got != c.want {
			t.Errorf("broker errors %v = %v, want %v", c.labels, got, c.want)
		}
	}
	if got := gathered(t, reg, "keygate_broker_operation_seconds", "saml", "open"); got != 1 {
		t.Errorf("SAML broker opens observed: %v, want 1", got)
	}
}

// gathered is the value (a histogram's count) of the series of name whose
// label values are values, in label-name order; 0 when there is none.
func gathered(t *testing.T, reg *prometheus.Registry, name string, values ...string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, m := range mf.GetMetric() {
			if len(m.GetLabel()) != len(values) {
				continue
			}
			// Label pairs come sorted by name; values are given in the
			// order the vector declared them, so compare as sets.
			have := map[string]bool{}
			for _, l := range m.GetLabel() {
				have[l.GetValue()] = true
			}
			for _, v := range values {
				if !have[v] {
					continue next
				}
			}
			if h := m.GetHistogram(); h != nil {
				return float64(h.GetSampleCount())
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
