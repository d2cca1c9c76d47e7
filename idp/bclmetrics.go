package idp

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/idp/oidc"
)

// newBackchannelMetrics counts back-channel logout notices by outcome, for
// oidc.BackchannelOptions.Observe; every outcome's series exists from the
// start, so that a rate over it is never missing.
func newBackchannelMetrics(reg prometheus.Registerer) func(outcome string) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_backchannel_logouts_total",
		Help: "Back-channel logout tokens to clients by outcome: sent (2xx), rejected (another status), failed (no answer: connection, TLS, timeout), dropped (the queue was full), error (no token could be made)."},
		[]string{"outcome"})
	for _, o := range []string{oidc.BackchannelSent, oidc.BackchannelRejected, oidc.BackchannelFailed, oidc.BackchannelDropped, oidc.BackchannelError} {
		c.WithLabelValues(o)
	}
	reg.MustRegister(c)
	return func(outcome string) { c.WithLabelValues(outcome).Inc() }
}
