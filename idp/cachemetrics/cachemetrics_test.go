package cachemetrics

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// count is the value of the lookups series of cache and result, as the
// server's registry would scrape it.
func count(t *testing.T, cache, result string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collectors()...)
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			l := map[string]string{}
			for _, p := range m.GetLabel() {
				l[p.GetName()] = p.GetValue()
			}
			if l["cache"] == cache && l["result"] == result {
				return m.GetCounter().GetValue()
			}
		}
	}
	return 0
}

// TestObserver: hits and misses land on their own series of their own
// cache, and a read costs no allocation.
func TestObserver(t *testing.T) {
	hit := func(c string) float64 { return count(t, c, "hit") }
	miss := func(c string) float64 { return count(t, c, "miss") }
	h0, m0, o0 := hit("t-a"), miss("t-a"), hit("t-b")+miss("t-b")
	obs := Observer("t-a")
	obs(true)
	obs(true)
	obs(false)
	Observer("t-a")(false)
	if got := hit("t-a") - h0; got != 2 {
		t.Errorf("hits = %v, want 2", got)
	}
	if got := miss("t-a") - m0; got != 2 {
		t.Errorf("misses = %v, want 2", got)
	}
	if got := hit("t-b") + miss("t-b") - o0; got != 0 {
		t.Errorf("another cache counted %v", got)
	}
	if n := testing.AllocsPerRun(100, func() { obs(true) }); n != 0 {
		t.Errorf("a read allocates %v times", n)
	}
}

func BenchmarkObserver(b *testing.B) {
	obs := Observer("bench")
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			obs(true)
		}
	})
}
