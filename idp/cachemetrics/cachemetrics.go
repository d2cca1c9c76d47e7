// Package cachemetrics counts the hits and misses of keygate's in-process
// caches (realm settings, the role and scope model, keys, users' grants,
// service accounts, admin authorization) for the server's /metrics. A cache
// counts through its Observer; the server registers Collectors once.
package cachemetrics

import "github.com/prometheus/client_golang/prometheus"

// lookups is one process-wide counter, as every cache lives once per
// process; its cache label takes the caches' constant names only.
var lookups = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "keygate_cache_lookups_total",
	Help: "Reads of an in-process cache, by cache and result (hit: served from memory; miss: loaded from the store).",
}, []string{"cache", "result"})

// Observer returns the counting function of the cache named cache, its
// hit and miss series found once: for Options.Observe (store/cache).
func Observer(cache string) func(hit bool) {
	h, m := lookups.WithLabelValues(cache, "hit"), lookups.WithLabelValues(cache, "miss")
	return func(hit bool) {
		if hit {
			h.Inc()
		} else {
			m.Inc()
		}
	}
}

// Collectors are the package's metrics, for the server's registry.
func Collectors() []prometheus.Collector { return []prometheus.Collector{lookups} }
