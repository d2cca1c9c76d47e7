package ldap

import (
	"errors"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/federation"
)

// The package's metrics live in package variables (one set per process,
// whatever the number of providers); the server registers them once on
// its registry with Collectors.
var (
	circuitOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "keygate_ldap_circuit_open",
		Help: "1 while an LDAP provider's circuit breaker fails fast, else 0.",
	}, []string{"provider"})
	opSeconds = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "keygate_ldap_operation_seconds",
		Help:    "LDAP operations by kind, including the wait for a connection; failures included.",
		Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
	}, []string{"op"})
	opErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "keygate_ldap_operation_errors_total",
		Help: "LDAP operations that failed, by kind; unavailable: the directory could not answer (down, timed out, circuit open), error: it refused (e.g. wrong credentials).",
	}, []string{"op", "reason"})
)

// Operation labels of keygate_ldap_operation_seconds.
const (
	opSearch         = "search"
	opSearchPaged    = "search_paged"
	opAuthenticate   = "authenticate"
	opModify         = "modify"
	opAdd            = "add"
	opDelete         = "delete"
	opPasswordModify = "password_modify"
	opRootDSE        = "root_dse"
)

// Collectors are the package's metrics, for the server's registry.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{circuitOpen, opSeconds, opErrors}
}

func observe(op string, start time.Time, err error) {
	opSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
	var ce callerError
	switch {
	case err == nil, errors.As(err, &ce):
	case errors.Is(err, federation.ErrUnavailable):
		opErrors.WithLabelValues(op, "unavailable").Inc()
	default:
		opErrors.WithLabelValues(op, "error").Inc()
	}
}
