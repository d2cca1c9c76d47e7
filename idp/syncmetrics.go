package idp

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/federation"
)

// syncMetrics exports user federation syncs: how long they take, what
// they did to users, and how far a running one has got.
type syncMetrics struct {
	seconds  *prometheus.HistogramVec
	users    *prometheus.CounterVec
	runs     *prometheus.CounterVec
	progress *prometheus.GaugeVec
}

func newSyncMetrics(reg prometheus.Registerer) *syncMetrics {
	m := &syncMetrics{
		seconds: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "keygate_federation_sync_seconds",
			Help: "Duration of user federation syncs.", Buckets: prometheus.ExponentialBuckets(0.1, 2, 14)}, []string{"kind"}),
		users: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_federation_sync_users_total",
			Help: "Users added, updated, removed or failed by user federation syncs."}, []string{"provider", "result"}),
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "keygate_federation_syncs_total",
			Help: "User federation syncs that ended, by kind and outcome."}, []string{"provider", "kind", "outcome"}),
		progress: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "keygate_federation_sync_progress_users",
			Help: "Users handled so far by the running sync of a provider (0 when none runs)."}, []string{"provider"}),
	}
	reg.MustRegister(m.seconds, m.users, m.runs, m.progress)
	return m
}

func kind(full bool) string {
	if full {
		return "full"
	}
	return "changed"
}

func (m *syncMetrics) SyncPage(_, provider string, _ bool, sofar federation.SyncResult) {
	m.progress.WithLabelValues(provider).Set(float64(sofar.Added + sofar.Updated + sofar.Failed))
}

func (m *syncMetrics) SyncDone(_, provider string, full bool, res federation.SyncResult, took time.Duration, err error) {
	m.progress.WithLabelValues(provider).Set(0)
	outcome := "ok"
	if err != nil {
		outcome = "error"
	}
	m.runs.WithLabelValues(provider, kind(full), outcome).Inc()
	m.seconds.WithLabelValues(kind(full)).Observe(took.Seconds())
	for result, n := range map[string]int{"added": res.Added, "updated": res.Updated, "removed": res.Removed, "failed": res.Failed} {
		m.users.WithLabelValues(provider, result).Add(float64(n))
	}
}
