package main

import (
	"fmt"
	"io"
	"runtime"
	"strings"
	"time"
)

// report gathers every figure of a run and prints them as one table.
type report struct {
	dur, cryptoDur      time.Duration
	rawBefore, rawAfter rawRates // before the server starts and after it stops
	firstStart, restart time.Duration
	restartLogged       string // the server's own startup_ms on the restart
	idleRSS             int64
	idleAnon, idleFile  int64 // idleRSS's parts (RssAnon, RssFile)
	afterRSS, peakRSS   int64
	results             []result
	failures            []string // scenarios that could not run
	loadBefore          string   // machine load average before and after the run
	loadAfter           string
	serverLog           string // the loaded server's whole output
	store               string // SQLite or PostgreSQL
}

// find returns the result of the load named name at concurrency conc.
func (r *report) find(name string, conc int) (result, bool) {
	for _, res := range r.results {
		if res.name == name && res.conc == conc && res.skipped == "" {
			return res, true
		}
	}
	return result{}, false
}

// failed lists what makes the run exit non-zero.
func (r *report) failed() []string {
	bad := append([]string(nil), r.failures...)
	for _, res := range r.results {
		if res.skipped == "" && res.errorRate() > maxErrorRate {
			bad = append(bad, fmt.Sprintf("%s (c=%d): %d errors in %d answers (%.1f %% > %.0f %%)",
				res.name, res.conc, res.errors, res.total, 100*res.errorRate(), 100*maxErrorRate))
		}
	}
	return bad
}

func (r *report) print(w io.Writer) {
	p := func(format string, a ...any) { fmt.Fprintf(w, format+"\n", a...) }
	rule := strings.Repeat("-", 116)

	p("")
	p("keygate bench: %s/%s, %d CPUs, GOMAXPROCS %d, %v per scenario after %v warm-up, server on %s",
		runtime.GOOS, runtime.GOARCH, runtime.NumCPU(), runtime.GOMAXPROCS(0), r.dur, warmUp, r.store)
	p("machine load average: %s before, %s after (other work on the machine skews every figure)", r.loadBefore, r.loadAfter)
	p(rule)
	raw := r.rawBefore.mean(r.rawAfter)
	p("raw crypto, in-process on %d goroutines, %v each; ratios use the mean", runtime.GOMAXPROCS(0), r.cryptoDur)
	p("  %-52s %12s %12s %12s", "", "before load", "after load", "mean")
	row := func(label, unit string, f func(rawRates) float64) {
		p("  %-52s %12.1f %12.1f %12.1f %s", label, f(r.rawBefore), f(r.rawAfter), f(raw), unit)
	}
	row(fmt.Sprintf("PBKDF2-HMAC-SHA256, %d iterations, %d-byte key", pbkdf2Iterations, pbkdf2KeyLen), "hashes/s", func(x rawRates) float64 { return x.PBKDF2 })
	row("  the same, as idp/password computes it (the bound uses this)", "hashes/s", func(x rawRates) float64 { return x.KeygatePBKDF2 })
	row("RSA-2048 PKCS#1 v1.5 SHA-256 sign", "signs/s", func(x rawRates) float64 { return x.RSA })
	row("ECDSA P-256 sign (ES256 realms)", "signs/s", func(x rawRates) float64 { return x.ES256 })
	row("HMAC-SHA512, 600-byte input", "MACs/s", func(x rawRates) float64 { return x.HMAC })
	row("CPU cores the measurement got", "cores", func(x rawRates) float64 { return x.Cores })
	p("server")
	p("  %-52s %12s", "start to ready, new database (create + import)", ms(r.firstStart))
	p("  %-52s %12s  (server logged startup_ms: %s)", "start to ready, existing database", ms(r.restart), r.restartLogged)
	p("  %-52s %12s", "RSS idle (1 s after ready)", mib(r.idleRSS))
	p("    %-50s %12s", "of it anonymous (heap, stacks, written data)", mib(r.idleAnon))
	p("    %-50s %12s", "of it file-backed (the binary's pages)", mib(r.idleFile))
	p("  %-52s %12s", "RSS after load", mib(r.afterRSS))
	p("  %-52s %12s", "RSS peak (VmHWM)", mib(r.peakRSS))
	p(rule)
	p("%-28s %5s %10s %11s %11s %8s %7s %6s %6s %6s %8s", "scenario", "conc", "req/s", "p50", "p99", "errors", "503", "srvCPU", "genCPU", "other", "CPU/req")
	for _, res := range r.results {
		if res.skipped != "" {
			p("%-28s %5d   %s", res.name, res.conc, res.skipped)
			continue
		}
		shed := "-"
		if res.shedOK {
			shed = fmt.Sprint(res.shed)
		}
		var srv, gen, other, per string
		if res.cpuKnown {
			srv, gen, other = fmt.Sprintf("%.2f", res.srvCores), fmt.Sprintf("%.2f", res.genCores), fmt.Sprintf("%.2f", res.otherCores)
			per = fmt.Sprintf("%.2f ms", float64(res.cpuPerAnswer)/float64(time.Millisecond))
		}
		p("%-28s %5d %10.1f %11s %11s %8d %7s %6s %6s %6s %8s", res.name, res.conc, res.rate(),
			ms(res.percentile(0.50)), ms(res.percentile(0.99)), res.errors, shed, srv, gen, other, per)
	}
	p("  req/s, p50, p99: 200 answers completed in the measured window (login page: time to first byte);")
	p("  errors: any other answer, warm-up included; 503: load shed with Retry-After (flood only);")
	p("  srvCPU / genCPU / other: cores used in the window by the server / this load generator / the rest")
	p("  of the machine (per scenario; other > 0 means the figures are skewed by other work);")
	p("  CPU/req: server CPU time per 200 answer (per scenario, all its loads together).")

	p(rule)
	p("signatures per answer (headers of the first good answer's JWTs) and their crypto CPU cost at the raw rates")
	for _, name := range []string{"password grant", "password grant, ES256 realm", "client_credentials", "refresh"} {
		for _, res := range r.results {
			if res.name == name && res.sigs != nil && res.sigs.algs != nil && res.skipped == "" {
				cost := cryptoCost(raw, res.sigs, strings.HasPrefix(name, "password grant"))
				p("  %-28s %-28s crypto %s CPU per answer", name, res.sigs, ms(cost))
				break
			}
		}
	}

	p(rule)
	p("%-50s %12s %10s  %s", "target", "value", "target", "")
	// Each grant is judged against its crypto bound: the rate the machine's
	// raw crypto allows for an answer of its shape, 1 / (t_hash + the sum of
	// its signatures' times), and by server CPU per answer against the CPU
	// those primitives take (the figure a busy machine disturbs least).
	grant := func(label string, res result, ok, hash bool, boundTarget float64) {
		if !ok || res.sigs == nil || res.sigs.algs == nil {
			p("%-50s %12s %10s", label+": req/s / crypto bound", "not run", fmt.Sprintf(">= %.2f", boundTarget))
			return
		}
		bound := boundRate(raw, res.sigs, hash)
		v := res.rate() / bound
		shape := res.sigs.String()
		if hash {
			shape = "PBKDF2 + " + shape
		}
		p("%-50s %12.2f %10s  %s  (c=%d; bound %.0f/s for %s)", label+": req/s / crypto bound", v,
			fmt.Sprintf(">= %.2f", boundTarget), verdict(v >= boundTarget), res.conc, bound, shape)
		cc := cryptoCost(raw, res.sigs, hash)
		if !res.cpuKnown || cc <= 0 {
			return
		}
		c := float64(res.cpuPerAnswer) / float64(cc)
		p("%-50s %12.2f %10s  %s  (%s server CPU per answer, %s of it the crypto)", "  server CPU per answer / crypto CPU per answer", c,
			fmt.Sprintf("<= %.2f", targetCPURatio), verdict(c <= targetCPURatio), ms(res.cpuPerAnswer), ms(cc))
		// The same ratio from the server's own samples: immune to the
		// machine's speed moving between the raw loops and the load, but
		// it counts the crypto at what it costs in the server (caches
		// shared with everything else) rather than in a hot loop.
		switch pr := res.prof; {
		case pr == nil:
		case pr.err != nil:
			p("%-50s %12s             (%v)", "    the same, from the server's profile", "not taken", pr.err)
		default:
			inSitu := time.Duration(float64(res.cpuPerAnswer) * pr.share())
			p("%-50s %12.2f             (information: crypto %.1f%% of the server's CPU samples; %s per answer, %+.0f%% against the raw rates)",
				"    the same, from the server's profile", 1/pr.share(), 100*pr.share(), ms(inSitu), 100*(float64(inSitu)/float64(cc)-1))
			p("%-50s %s", "    the rest of an answer, from the profile", pr.breakdown(res.cpuPerAnswer))
		}
	}
	pw, ok := r.find("password grant", 4)
	grant("password grant", pw, ok, true, targetBoundRatio)
	pwES, ok := r.find("password grant, ES256 realm", 4)
	grant("password grant, ES256 realm", pwES, ok, true, targetBoundRatio)
	cc, ok := r.find("client_credentials", 4)
	grant("client_credentials", cc, ok, false, targetBoundRatio)
	rf, ok := r.find("refresh", 4)
	refreshTarget := targetBoundRatio
	if r.store == "PostgreSQL" {
		refreshTarget = targetRefreshBoundPG
	}
	grant("refresh", rf, ok, false, refreshTarget)
	if rf16, ok16 := r.find("refresh", 16); ok && ok16 {
		limit := time.Duration(1.5 * float64(rf.percentile(0.50)) * 16 / 4)
		p("%-50s %12s %10s  %s  (1.5 × p50 at c=4 × 16/4; p50 at c=4 %s)", "refresh p99 at c=16", ms(rf16.percentile(0.99)),
			"<= "+ms(limit), verdict(rf16.percentile(0.99) <= limit), ms(rf.percentile(0.50)))
	}
	if d, ok := r.find("discovery", 8); ok {
		p("%-50s %12.0f %10s  %s", "discovery req/s", d.rate(), ">= 10000", verdict(d.rate() >= targetDiscoveryRate))
		if j, ok := r.find("jwks", 8); ok && d.cpuKnown && j.cpuKnown && j.cpuPerAnswer > 0 {
			v := float64(d.cpuPerAnswer) / float64(j.cpuPerAnswer)
			p("%-50s %12.2f %10s  %s  (discovery %s, JWKS %s server CPU per answer)", "discovery CPU per answer / JWKS's", v,
				fmt.Sprintf("<= %.2f", targetDiscoveryVsJWKS), verdict(v <= targetDiscoveryVsJWKS), ms(d.cpuPerAnswer), ms(j.cpuPerAnswer))
		}
	}
	if pw, ok := r.find("password grant", 4); ok && raw.PBKDF2 > 0 {
		p("%-50s %12.2f %10s  (information: the old ratio, against the standard library's PBKDF2)",
			"password grant req/s / raw PBKDF2 rate", pw.rate()/raw.PBKDF2, "")
	}
	p("%-50s %12s %10s  %s  (anonymous %s, the binary's pages %s)", "idle RSS", mib(r.idleRSS), "<= "+mib(targetIdleRSS), verdict(r.idleRSS <= targetIdleRSS),
		mib(r.idleAnon), mib(r.idleFile))
	p("%-50s %12s %10s  %s", "start to ready (existing database)", ms(r.restart), "<= "+ms(targetStartToReady), verdict(r.restart <= targetStartToReady))
	for _, name := range []string{"login page TTFB", "account page TTFB"} {
		if res, ok := r.find(name, 1); ok && res.skipped == "" {
			v := res.percentile(0.50)
			p("%-50s %12s %10s  %s", name+" p50", ms(v), "< "+ms(targetPageTTFB), verdict(v < targetPageTTFB))
		}
	}
	if fl, ok := r.find("flood: client_credentials", 4); ok {
		pwf, _ := r.find("flood: password", 64)
		p("%-50s %12s %10s  %s  (password c=64: %.1f req/s, %d got 503)", "flood: client_credentials p99", ms(fl.percentile(0.99)),
			"< "+ms(targetFloodCCP99), verdict(fl.percentile(0.99) < targetFloodCCP99), pwf.rate(), pwf.shed)
	} else {
		p("%-50s %12s %10s", "flood: client_credentials p99", "not run", "< "+ms(targetFloodCCP99))
	}

	var errs []string
	for _, res := range r.results {
		if res.firstError != "" {
			errs = append(errs, fmt.Sprintf("  %s (c=%d): %s", res.name, res.conc, res.firstError))
		}
	}
	for _, f := range r.failures {
		errs = append(errs, "  "+f)
	}
	var warnings []string
	for line := range strings.Lines(r.serverLog) {
		// The bootstrap-admin warning is expected: the bench creates no admin.
		if (strings.Contains(line, "level=ERROR") || strings.Contains(line, "level=WARN")) && !strings.Contains(line, "KC_BOOTSTRAP_ADMIN") {
			warnings = append(warnings, strings.TrimSpace(line))
		}
	}
	p(rule)
	p("server log of the loaded run: %d WARN/ERROR lines (besides the bootstrap-admin notice)", len(warnings))
	for _, w := range warnings[:min(len(warnings), 3)] {
		if len(w) > 200 {
			w = w[:200] + "..."
		}
		p("  %s", w)
	}
	if len(errs) > 0 {
		p(rule)
		p("first error of each scenario")
		for _, e := range errs {
			p("%s", e)
		}
	}
	p("")
}

// cryptoCost is the CPU time one answer's crypto takes at the raw rates: its
// signatures, plus one PBKDF2 hash for a password grant.
func cryptoCost(raw rawRates, sigs *sigShape, hash bool) time.Duration {
	each := func(rate float64) float64 { // CPU seconds per operation
		if rate <= 0 {
			return 0
		}
		return raw.Cores / rate
	}
	sec := float64(sigs.algs["RS256"])*each(raw.RSA) + float64(sigs.algs["HS512"])*each(raw.HMAC) +
		float64(sigs.algs["ES256"])*each(raw.ES256)
	if hash {
		sec += each(raw.KeygatePBKDF2)
	}
	return time.Duration(sec * float64(time.Second))
}

// boundRate is the most answers per second the machine's crypto allows for
// answers carrying sigs (and one PBKDF2 hash, as idp/password computes it,
// when hash): 1 / (t_hash + the sum of n × t_sign), each t from the raw rate
// on every core.
func boundRate(raw rawRates, sigs *sigShape, hash bool) float64 {
	t := 0.0
	add := func(n int, rate float64) {
		if n > 0 && rate > 0 {
			t += float64(n) / rate
		}
	}
	add(sigs.algs["RS256"], raw.RSA)
	add(sigs.algs["ES256"], raw.ES256)
	add(sigs.algs["HS512"], raw.HMAC)
	if hash {
		add(1, raw.KeygatePBKDF2)
	}
	if t == 0 {
		return 0
	}
	return 1 / t
}

func verdict(pass bool) string {
	if pass {
		return "PASS"
	}
	return "MISS"
}

func ms(d time.Duration) string {
	return fmt.Sprintf("%.2f ms", float64(d)/float64(time.Millisecond))
}

func mib(b int64) string {
	return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20))
}
