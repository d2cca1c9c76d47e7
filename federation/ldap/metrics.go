package ldap

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
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
	return []prometheus.Collector{circuitOpen, opSeconds}
}

func observe(op string, start time.Time) {
	opSeconds.WithLabelValues(op).Observe(time.Since(start).Seconds())
}
