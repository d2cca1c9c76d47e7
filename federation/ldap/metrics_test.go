package ldap

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/keygate/keygate/federation"
)

// Failed operations are counted by reason; an error of the caller's own
// callback is not the directory's.
func TestObserveCountsErrors(t *testing.T) {
	count := func(op, reason string) float64 {
		reg := prometheus.NewRegistry()
		reg.MustRegister(opErrors)
		defer reg.Unregister(opErrors)
		mfs, err := reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		for _, mf := range mfs {
			for _, s := range mf.GetMetric() {
				ls := s.GetLabel()
				if len(ls) == 2 && ls[0].GetValue() == op && ls[1].GetValue() == reason {
					return s.GetCounter().GetValue()
				}
			}
		}
		return 0
	}
	u0, e0 := count("test_op", "unavailable"), count("test_op", "error")
	start := time.Now()
	observe("test_op", start, nil)
	observe("test_op", start, callerError{errors.New("stop")})
	observe("test_op", start, fmt.Errorf("search: %w", federation.ErrUnavailable))
	observe("test_op", start, errors.New("LDAP Result Code 49"))
	if u, e := count("test_op", "unavailable")-u0, count("test_op", "error")-e0; u != 1 || e != 1 {
		t.Fatalf("unavailable +%v, error +%v; want +1 each", u, e)
	}
}
