// Command bench is keygate's load benchmark: it measures the machine's raw
// crypto rates, starts the real server binary ($KEYGATE_BIN) on a fresh
// SQLite store seeded with a bench realm, drives it over loopback and prints
// one table with the figures and how they compare with their targets.
//
//	make bench                      # build bin/keygate, 10 s per scenario
//	go run ./test/bench -quick      # 2 s per scenario (CI smoke)
//	go run ./test/bench -only 'password|flood'
//
// It is a benchmark, not a test: missed targets still exit 0. It exits
// non-zero when the server cannot start or a scenario gets more than 1 %
// wrong answers (errors are bugs, not figures).
package main

import (
	"context"
	"crypto/rand"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
)

// The targets the figures are judged against.
const (
	targetBoundRatio      = 0.85 // each grant's rate / its crypto bound
	targetCPURatio        = 1.15 // server CPU per answer / the crypto's
	targetRefreshBoundPG  = 0.70 // refresh on PostgreSQL
	targetDiscoveryRate   = 10000
	targetDiscoveryVsJWKS = 1.5
	targetIdleRSS         = 30 << 20
	targetStartToReady    = 300 * time.Millisecond
	targetFloodCCP99      = 50 * time.Millisecond
	maxErrorRate          = 0.01
	warmUp                = 2 * time.Second
)

// The scenarios, in table order. -only matches their keys.
var scenarios = []scenario{
	{key: "password", loads: []load{passwordLoad("password grant", 4)}, profile: true},
	{key: "password_es256", loads: []load{inRealm(passwordLoad("password grant, ES256 realm", 4), esRealmName)}, profile: true},
	{key: "client_credentials", loads: []load{clientCredentialsLoad("client_credentials", 4)}, profile: true},
	{key: "client_credentials_16", loads: []load{clientCredentialsLoad("client_credentials", 16)}},
	{key: "refresh", loads: []load{refreshLoad("refresh", 4)}, profile: true},
	{key: "refresh_16", loads: []load{refreshLoad("refresh", 16)}},
	{key: "discovery", loads: []load{getLoad("discovery", 8, "/.well-known/openid-configuration", `"issuer"`)}},
	{key: "jwks", loads: []load{getLoad("jwks", 8, "/protocol/openid-connect/certs", `"keys"`)}},
	{key: "login", probe: probeAuth, loads: []load{loginLoad(1)}},
	{key: "login_4", probe: probeAuth, loads: []load{loginLoad(4)}},
	{key: "account", probe: probeAuth, loads: []load{accountLoad(1)}},
	{key: "flood", loads: []load{
		withShedding(passwordLoad("flood: password", 64)),
		clientCredentialsLoad("flood: client_credentials", 4),
	}},
}

func withShedding(l load) load { l.shedOK = true; return l }

func inRealm(l load, realm string) load { l.realm = realm; return l }

func main() { os.Exit(run()) }

func run() int {
	dur := flag.Duration("d", 10*time.Second, "measured duration of each scenario (after a 2 s warm-up)")
	quick := flag.Bool("quick", false, "2 s per scenario and 1 s per crypto primitive (CI smoke)")
	only := flag.String("only", "", "run only the scenarios whose key matches this regexp; keys: "+scenarioKeys())
	db := flag.String("db", "", "a postgres:// DSN to run the server on PostgreSQL (in a fresh schema, dropped after); default a fresh SQLite file")
	profiles := flag.String("profiles", "", "a directory to keep each grant's CPU profile in (<scenario>.pprof; read with go tool pprof)")
	flag.Parse()
	cryptoDur := 3 * time.Second
	if *quick {
		*dur, cryptoDur = 2*time.Second, time.Second
	}
	filter, err := regexp.Compile(*only)
	if err != nil {
		return fail("-only: %v", err)
	}
	bin := os.Getenv("KEYGATE_BIN")
	if bin == "" {
		return fail("KEYGATE_BIN is not set: run `make bench`, or build bin/keygate and set it")
	}

	ctx, cancel := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer cancel()
	rep := &report{dur: *dur, cryptoDur: cryptoDur, loadBefore: loadAverage(), store: "SQLite"}

	progress("raw crypto, %v per primitive on %d goroutines", cryptoDur, runtime.GOMAXPROCS(0))
	if rep.rawBefore, err = measureCrypto(cryptoDur); err != nil {
		return fail("raw crypto: %v", err)
	}

	tmp, err := os.MkdirTemp("", "keygate-bench-")
	if err != nil {
		return fail("%v", err)
	}
	defer os.RemoveAll(tmp)
	realmFile, esRealmFile := filepath.Join(tmp, "realm-bench.json"), filepath.Join(tmp, "realm-bench-es256.json")
	progress("writing the bench realm (%d users, pbkdf2-sha256 %d)", userCount, pbkdf2Iterations)
	if err := writeRealm(realmFile, esRealmFile); err != nil {
		return fail("bench realm: %v", err)
	}
	dbArg := "sqlite:" + filepath.Join(tmp, "bench.db")
	if *db != "" {
		var drop func()
		if dbArg, drop, err = freshSchema(*db); err != nil {
			return fail("-db: %v", err)
		}
		defer drop()
		rep.store = "PostgreSQL"
	}
	args := []string{"serve", "--http-addr", "127.0.0.1:0", "--db", dbArg,
		"--import-realm", realmFile, "--import-realm", esRealmFile}

	progress("first start (new database, realm import)")
	first, firstStart, err := startServer(ctx, bin, args...)
	if err != nil {
		return fail("%v", err)
	}
	first.stop()
	rep.firstStart = firstStart

	progress("second start (existing database)")
	srv, restart, err := startServer(ctx, bin, args...)
	if err != nil {
		return fail("%v", err)
	}
	defer srv.stop()
	rep.restart = restart
	time.Sleep(time.Second)
	rep.restartLogged = srv.startupMS() // logged just after ready: read it once settled
	if rep.idleRSS, _, err = srv.memory(); err != nil {
		return fail("idle RSS: %v", err)
	}
	if rep.idleAnon, rep.idleFile, err = srv.residentParts(); err != nil {
		return fail("idle RSS: %v", err)
	}

	t := newTarget(srv.URL)
	cpu := func() cpuSample {
		s, _ := srv.cpu()
		return cpuSample{srv: s, gen: selfCPU(), all: machineCPU()}
	}
	for _, sc := range scenarios {
		if !filter.MatchString(sc.key) {
			continue
		}
		progress("scenario %s: %v warm-up + %v", sc.key, warmUp, *dur)
		// The profile covers the middle half of the measured window.
		var prof profileShare
		var pwg sync.WaitGroup
		if sc.profile {
			save := ""
			if *profiles != "" {
				save = filepath.Join(*profiles, sc.key+".pprof")
			}
			pwg.Go(func() { prof = captureProfile(ctx, srv.pprof, warmUp+*dur/4, *dur/2, save) })
		}
		res, err := runScenario(ctx, t, sc, warmUp, *dur, cpu)
		pwg.Wait()
		if sc.profile && err == nil {
			res[0].prof = &prof
		}
		if ctx.Err() != nil {
			return fail("interrupted")
		}
		if err != nil {
			rep.failures = append(rep.failures, fmt.Sprintf("%s: %v", sc.key, err))
			res = make([]result, len(sc.loads))
			for i, l := range sc.loads {
				res[i] = result{load: l, skipped: "FAILED (see below)"}
			}
		}
		rep.results = append(rep.results, res...)
		select {
		case <-srv.exited:
			rep.print(os.Stdout)
			return fail("keygate exited during %s (%v); log:\n%s", sc.key, srv.cmd.ProcessState, lastLines(srv.logs.String(), 40))
		default:
		}
	}
	if rep.afterRSS, rep.peakRSS, err = srv.memory(); err != nil {
		return fail("RSS after load: %v", err)
	}
	srv.stop()
	rep.serverLog = srv.logs.String()
	var otpRes *otpResult
	if filter.MatchString("otp") {
		progress("otp: OTP logins against password logins of one realm, up to %v", *dur)
		if r, err := runOTPBench(ctx, bin, tmp, dbArg, *dur); err != nil {
			rep.failures = append(rep.failures, "otp: "+err.Error())
		} else {
			otpRes = &r
		}
	}
	progress("raw crypto again, after the load")
	if rep.rawAfter, err = measureCrypto(cryptoDur); err != nil {
		return fail("raw crypto: %v", err)
	}
	rep.loadAfter = loadAverage()

	rep.print(os.Stdout)
	if otpRes != nil {
		fmt.Println(otpRes)
	}
	if bad := rep.failed(); len(bad) > 0 {
		for _, b := range bad {
			fmt.Fprintln(os.Stderr, "bench: "+b)
		}
		return 1
	}
	return 0
}

func scenarioKeys() string {
	keys := make([]string, len(scenarios))
	for i, sc := range scenarios {
		keys[i] = sc.key
	}
	return strings.Join(keys, ", ")
}

func progress(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", a...)
}

func fail(format string, a ...any) int {
	err := fmt.Errorf(format, a...)
	if errors.Is(err, context.Canceled) {
		err = errors.New("interrupted")
	}
	fmt.Fprintln(os.Stderr, "bench: "+err.Error())
	return 1
}

// freshSchema returns dsn pointed at a new schema (keygate creates it) and a
// function that drops it.
func freshSchema(dsn string) (string, func(), error) {
	u, err := url.Parse(dsn)
	if err != nil || u.Scheme == "" {
		return "", nil, fmt.Errorf("want a postgres:// URL: %q", dsn)
	}
	schema := "keygate_bench_" + strings.ToLower(rand.Text()[:10])
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			progress("drop schema %s: %v", schema, err)
			return
		}
		defer db.Close()
		if _, err := db.Exec(`DROP SCHEMA IF EXISTS "` + schema + `" CASCADE`); err != nil {
			progress("drop schema %s: %v", schema, err)
		}
	}, nil
}
