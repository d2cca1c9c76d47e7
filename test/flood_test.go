package test

import (
	"context"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestLoginFlood floods one realm with password grants at a concurrency far
// beyond what the machine can hash in a second, with client_credentials
// grants and readiness probes alongside, and checks that keygate sheds the
// excess (503 temporarily_unavailable with Retry-After) instead of letting
// every login queue until clients time out:
//
//   - accepted logins: p99 <= 1.5 s (--max-queued-login-wait 1s);
//   - client_credentials (no hashing) keep p99 < 50 ms;
//   - /health/ready never fails;
//   - the server's RSS comes back within 10 MiB of its pre-flood value.
//
// make test runs it at concurrency 200 for 5 s; KEYGATE_FLOOD=200x20s (as
// make bench sets it) runs the figure, concurrency 200 for 20 s.
func TestLoginFlood(t *testing.T) {
	conc, dur := 200, 5*time.Second
	if v := os.Getenv("KEYGATE_FLOOD"); v != "" {
		c, d, ok := strings.Cut(v, "x")
		n, err1 := strconv.Atoi(c)
		dd, err2 := time.ParseDuration(d)
		if !ok || err1 != nil || err2 != nil {
			t.Fatalf("KEYGATE_FLOOD=%q: want CONCxDURATION, e.g. 200x20s", v)
		}
		conc, dur = n, dd
	}
	const users = 50
	s := startServer(t, "", nil, "--import-realm", floodRealm(t, users), "--log-level", "info")
	tokenURL := s.URL + "/realms/flood/protocol/openid-connect/token"
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConns: conc + 16, MaxIdleConnsPerHost: conc + 16}}
	login := func(i int) url.Values {
		return url.Values{"grant_type": {"password"}, "username": {fmt.Sprintf("user%d", i%users)},
			"password": {fmt.Sprintf("pass-%d", i%users)}}
	}
	service := url.Values{"grant_type": {"client_credentials"}}
	grant := func(ctx context.Context, form url.Values) (int, string, time.Duration, error) {
		req, err := http.NewRequestWithContext(ctx, "POST", tokenURL, strings.NewReader(form.Encode()))
		if err != nil {
			return 0, "", 0, err
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("webapp", "webapp-secret")
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			return 0, "", 0, err
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode == http.StatusServiceUnavailable {
			if resp.Header.Get("Retry-After") == "" || !strings.Contains(string(body), "temporarily_unavailable") {
				return 0, "", 0, fmt.Errorf("503 without Retry-After or temporarily_unavailable: %s", body)
			}
		}
		return resp.StatusCode, string(body), took, err
	}

	// The latency figures need the machine's CPUs: on a machine already
	// busier than its CPU count (other test runs) they are reported, not
	// asserted, unless KEYGATE_FLOOD asked for the figures (make bench).
	loadBefore := loadAverage()
	busy := os.Getenv("KEYGATE_FLOOD") == "" && loadOne(loadBefore) > float64(runtime.NumCPU())

	// Warm up: a few logins and grants, then the pre-flood memory.
	ctx := testContext(t)
	for i := range 10 {
		for _, f := range []url.Values{login(i), service} {
			if code, body, _, err := grant(ctx, f); err != nil || code != 200 {
				t.Fatalf("warm-up grant: %d %s %v", code, body, err)
			}
		}
	}
	before := rss(t, s)

	cpuBefore := cpuTimes(s)
	fctx, cancel := context.WithTimeout(ctx, dur)
	defer cancel()
	var (
		mu                  sync.Mutex
		accepted, ccLatency []time.Duration
		shed, other         atomic.Int64
		firstOther          atomic.Value
		probes, probeFails  atomic.Int64
		wg                  sync.WaitGroup
	)
	for i := range conc {
		wg.Go(func() {
			for fctx.Err() == nil {
				code, body, took, err := grant(fctx, login(i))
				switch {
				case fctx.Err() != nil:
					return
				case err == nil && code == 200:
					mu.Lock()
					accepted = append(accepted, took)
					mu.Unlock()
				case err == nil && code == 503:
					shed.Add(1)
					// A shed client comes back after Retry-After (1 s), as
					// well-behaved clients do; its place in the flood is
					// kept by the others.
					time.Sleep(time.Second)
				default:
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("%d %s %v", code, body, err))
				}
			}
		})
	}
	for range 4 {
		wg.Go(func() {
			for fctx.Err() == nil {
				code, body, took, err := grant(fctx, service)
				if fctx.Err() != nil {
					return
				}
				if err != nil || code != 200 {
					other.Add(1)
					firstOther.CompareAndSwap(nil, fmt.Sprintf("client_credentials: %d %s %v", code, body, err))
					continue
				}
				mu.Lock()
				ccLatency = append(ccLatency, took)
				mu.Unlock()
			}
		})
	}
	wg.Go(func() {
		probe := &http.Client{Timeout: time.Second}
		for fctx.Err() == nil {
			probes.Add(1)
			resp, err := probe.Get(s.URL + "/health/ready")
			if err == nil {
				resp.Body.Close()
			}
			if fctx.Err() == nil && (err != nil || resp.StatusCode != 200) {
				probeFails.Add(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	wg.Wait()
	load := loadAverage()
	// The load average lags by a minute: work that started with the
	// flood (another package's tests, under make test) shows in the CPU
	// time the machine spent on other processes than this one and the
	// server.
	others := cpuTimes(s).othersShare(cpuBefore)
	client.CloseIdleConnections()

	slices.Sort(accepted)
	slices.Sort(ccLatency)
	t.Logf("flood c=%d for %v, load average %s: %d logins accepted (%.0f/s, p50 %v, p99 %v, max %v), %d shed; "+
		"client_credentials %d (p50 %v, p99 %v); readiness %d probes, %d failed",
		conc, dur, load, len(accepted), float64(len(accepted))/dur.Seconds(), pctl(accepted, 0.5), pctl(accepted, 0.99), pctl(accepted, 1),
		shed.Load(), len(ccLatency), pctl(ccLatency, 0.5), pctl(ccLatency, 0.99), probes.Load(), probeFails.Load())
	if n := other.Load(); n > 0 {
		t.Errorf("%d answers neither 200 nor 503 (first: %v)", n, firstOther.Load())
	}
	if len(accepted) == 0 || shed.Load() == 0 {
		t.Errorf("want both accepted and shed logins at concurrency %d: %d accepted, %d shed", conc, len(accepted), shed.Load())
	}
	check := t.Errorf
	switch {
	case busy:
		t.Logf("load average %s on %d CPUs before the flood: latency targets reported, not asserted", loadBefore, runtime.NumCPU())
		check = t.Logf
	case os.Getenv("KEYGATE_FLOOD") == "" && others > 0.1:
		t.Logf("other processes took %.0f%% of the machine's CPU during the flood: latency targets reported, not asserted", others*100)
		check = t.Logf
	default:
		t.Logf("other processes took %.0f%% of the machine's CPU during the flood", others*100)
	}
	if p := pctl(accepted, 0.99); p > 1500*time.Millisecond {
		check("accepted logins p99 = %v, want <= 1.5 s", p)
	}
	if p := pctl(ccLatency, 0.99); p >= 50*time.Millisecond {
		check("client_credentials p99 = %v, want < 50 ms", p)
	}
	if n := probeFails.Load(); n > 0 {
		t.Errorf("readiness failed %d of %d probes during the flood", n, probes.Load())
	}

	// Memory: back within 10 MiB of the pre-flood RSS (the runtime returns
	// freed pages to the OS in the background, so give it a while).
	var after int64
	deadline := time.Now().Add(30 * time.Second)
	for {
		after = rss(t, s)
		if after <= before+10<<20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("RSS before the flood %.1f MiB, after %.1f MiB", float64(before)/(1<<20), float64(after)/(1<<20))
	if after > before+10<<20 {
		t.Errorf("RSS %.1f MiB after the flood, more than 10 MiB above %.1f MiB before it", float64(after)/(1<<20), float64(before)/(1<<20))
	}
}

// floodRealm writes a realm export "flood" with brute-force protection off
// (a flood must not lock its users out), client "webapp" (direct access
// grants and a service account) and users user0..user{n-1} with password
// pass-{i}, stored under keygate's default policy (PBKDF2-SHA256, 20000
// iterations) so that no login re-hashes.
func floodRealm(t *testing.T, n int) string {
	t.Helper()
	var users []map[string]any
	for i := range n {
		salt := make([]byte, 16)
		if _, err := rand.Read(salt); err != nil {
			t.Fatal(err)
		}
		key, err := pbkdf2.Key(sha256.New, fmt.Sprintf("pass-%d", i), salt, 20000, 32)
		if err != nil {
			t.Fatal(err)
		}
		secret, _ := json.Marshal(map[string]any{"value": base64.StdEncoding.EncodeToString(key),
			"salt": base64.StdEncoding.EncodeToString(salt), "additionalParameters": map[string]any{}})
		cred, _ := json.Marshal(map[string]any{"hashIterations": 20000, "algorithm": "pbkdf2-sha256",
			"additionalParameters": map[string]any{}})
		users = append(users, map[string]any{"username": fmt.Sprintf("user%d", i), "enabled": true,
			"credentials": []map[string]any{{"type": "password", "secretData": string(secret), "credentialData": string(cred)}}})
	}
	data, err := json.Marshal(map[string]any{
		"realm": "flood", "enabled": true, "sslRequired": "none", "bruteForceProtected": false,
		"clients": []map[string]any{{"clientId": "webapp", "enabled": true, "secret": "webapp-secret",
			"directAccessGrantsEnabled": true, "serviceAccountsEnabled": true}},
		"users": users,
	})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "flood.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// pctl is the p-quantile of sorted (0 when empty).
func pctl(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(p * float64(len(sorted)-1))
	return sorted[i]
}

// rss is the server process's resident set size, from /proc.
func rss(t *testing.T, s *server) int64 {
	t.Helper()
	if runtime.GOOS != "linux" {
		t.Skip("RSS is read from /proc: Linux only")
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatal("no VmRSS in /proc status")
	return 0
}

// loadOne is the 1-minute figure of loadAverage's answer (0 when unknown).
func loadOne(avg string) float64 {
	f, _ := strconv.ParseFloat(strings.Fields(avg + " ")[0], 64)
	return f
}

// cpuClock is the CPU time, in clock ticks, the machine spent in all (all
// CPUs, busy or idle) and busy, and this process and the server used.
type cpuClock struct{ all, busy, ours int64 }

// cpuTimes reads /proc; on a system without it every field is 0.
func cpuTimes(s *server) (c cpuClock) {
	if data, err := os.ReadFile("/proc/stat"); err == nil {
		line, _, _ := strings.Cut(string(data), "\n")
		// cpu user nice system idle iowait irq softirq steal ...
		for i, f := range strings.Fields(line)[1:] {
			n, _ := strconv.ParseInt(f, 10, 64)
			if i < 8 {
				c.all += n
			}
			if i < 8 && i != 3 && i != 4 {
				c.busy += n
			}
		}
	}
	for _, pid := range []int{os.Getpid(), s.cmd.Process.Pid} {
		data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ... utime stime: fields 14 and 15.
		_, rest, _ := strings.Cut(string(data), ") ")
		if f := strings.Fields(rest); len(f) > 12 {
			for _, x := range f[11:13] {
				n, _ := strconv.ParseInt(x, 10, 64)
				c.ours += n
			}
		}
	}
	return c
}

// othersShare is the share of the machine's CPU time since before that
// went to other processes than this one and the server.
func (c cpuClock) othersShare(before cpuClock) float64 {
	all := c.all - before.all
	if all <= 0 {
		return 0
	}
	return float64(max(0, (c.busy-before.busy)-(c.ours-before.ours))) / float64(all)
}

// loadAverage is the 1, 5 and 15 minute load averages, for the log.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}
