package main

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// target is the server under load and what every op needs to reach it.
type target struct {
	base     string // http://127.0.0.1:PORT
	realm    string // base + /realms/bench
	tokenURL string
}

func newTarget(base string) *target { return newRealmTarget(base, realmName) }

func newRealmTarget(base, name string) *target {
	realm := base + "/realms/" + name
	return &target{base: base, realm: realm, tokenURL: realm + "/protocol/openid-connect/token"}
}

// outcome is one request's result as an op sees it.
type outcome struct {
	status  int
	retry   bool          // the answer carried Retry-After
	latency time.Duration // when > 0, the figure to record instead of the round trip (TTFB)
	err     error         // transport failure or a 200 with a wrong body
	body    []byte        // kept for non-200 answers, to show the first error
}

// op issues one request. Each worker has its own op (and so its own state,
// such as a refresh-token chain).
type op func(ctx context.Context) outcome

// load is one group of identical workers.
type load struct {
	name   string
	conc   int
	shedOK bool   // 503 + Retry-After is load shedding, counted apart from errors
	realm  string // another realm than the bench realm
	sigs   *sigShape
	newOp  func(ctx context.Context, t *target, c *http.Client) (op, error) // one per worker
}

// scenario is a set of loads run at the same time. probe, when set, runs
// first and returns a reason to skip the scenario ("" to run it).
type scenario struct {
	key   string
	probe func(ctx context.Context, t *target) (string, error)
	loads []load
	// profile: a grant, whose server is profiled for its crypto share.
	profile bool
}

// result is a load's figures over the measured window.
type result struct {
	load
	skipped    string
	ok, shed   int             // in the window
	errors     int             // in warm-up and window
	total      int             // all answers, warm-up and window
	window     time.Duration   // measured window
	latencies  []time.Duration // 200 answers in the window, sorted
	prof       *profileShare   // the server's profile in the window (profiled scenarios)
	firstError string
	// CPU cores the server, the load generator and everything else on the
	// machine used in the window, for the whole scenario (set on its first
	// load only).
	srvCores, genCores, otherCores float64
	cpuKnown                       bool
	cpuPerAnswer                   time.Duration // server CPU per 200 answer, all loads together
}

func (r result) rate() float64 { return float64(r.ok) / r.window.Seconds() }

// percentile is exact: the nearest-rank value of the sorted samples.
func (r result) percentile(p float64) time.Duration {
	n := len(r.latencies)
	if n == 0 {
		return 0
	}
	i := int(math.Ceil(float64(n)*p)) - 1
	return r.latencies[min(max(i, 0), n-1)]
}

func (r result) errorRate() float64 {
	if r.total == 0 {
		return 0
	}
	return float64(r.errors) / float64(r.total)
}

// cpuSample is the CPU time used so far by the server, by this process (the
// load generator) and by the whole machine.
type cpuSample struct{ srv, gen, all time.Duration }

type cpuFunc func() cpuSample

// runScenario starts every load's workers together, lets them run warm+d,
// and keeps the answers that completed in the last d. cpu is sampled at
// both ends of that window.
func runScenario(ctx context.Context, t *target, sc scenario, warm, d time.Duration, cpu cpuFunc) ([]result, error) {
	results := make([]result, len(sc.loads))
	for i, l := range sc.loads {
		results[i].load = l
	}
	if sc.probe != nil {
		reason, err := sc.probe(ctx, t)
		if err != nil {
			return nil, err
		}
		if reason != "" {
			for i := range results {
				results[i].skipped = reason
			}
			return results, nil
		}
	}

	type worker struct {
		res *result
		op  op
	}
	var workers []worker
	for i, l := range sc.loads {
		c := newClient(l.conc)
		defer c.CloseIdleConnections()
		lt := t
		if l.realm != "" {
			lt = newRealmTarget(t.base, l.realm)
		}
		for range l.conc {
			o, err := l.newOp(ctx, lt, c)
			if err != nil {
				return nil, fmt.Errorf("%s: worker setup: %w", l.name, err)
			}
			workers = append(workers, worker{&results[i], o})
		}
	}

	from := time.Now().Add(warm)
	end := from.Add(d)
	var mu sync.Mutex
	var wg sync.WaitGroup
	var c0, c1 cpuSample
	wg.Go(func() {
		if sleepUntil(ctx, from) {
			c0 = cpu()
		}
		if sleepUntil(ctx, end) {
			c1 = cpu()
		}
	})
	for _, w := range workers {
		wg.Go(func() {
			var lat []time.Duration
			var ok, shed, errs, total int
			var firstErr string
			for ctx.Err() == nil && time.Now().Before(end) {
				t0 := time.Now()
				o := w.op(ctx)
				t1 := time.Now()
				if ctx.Err() != nil {
					break
				}
				in := !t1.Before(from) && !t1.After(end)
				total++
				switch {
				case o.err == nil && o.status == http.StatusOK:
					if in {
						ok++
						if o.latency <= 0 {
							o.latency = t1.Sub(t0)
						}
						lat = append(lat, o.latency)
					}
				case o.err == nil && o.status == http.StatusServiceUnavailable && o.retry && w.res.shedOK:
					if in {
						shed++
					}
				default:
					errs++
					if firstErr == "" {
						firstErr = describe(o)
					}
				}
			}
			mu.Lock()
			defer mu.Unlock()
			r := w.res
			r.ok, r.shed, r.errors, r.total = r.ok+ok, r.shed+shed, r.errors+errs, r.total+total
			r.latencies = append(r.latencies, lat...)
			if r.firstError == "" {
				r.firstError = firstErr
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for i := range results {
		results[i].window = d
		slices.Sort(results[i].latencies)
	}
	cores := func(a, b time.Duration) float64 { return (b - a).Seconds() / d.Seconds() }
	r0 := &results[0]
	r0.srvCores, r0.genCores = cores(c0.srv, c1.srv), cores(c0.gen, c1.gen)
	r0.otherCores = max(cores(c0.all, c1.all)-r0.srvCores-r0.genCores, 0)
	r0.cpuKnown = true
	answers := 0
	for _, r := range results {
		answers += r.ok
	}
	if answers > 0 {
		r0.cpuPerAnswer = (c1.srv - c0.srv) / time.Duration(answers)
	}
	return results, nil
}

// sleepUntil waits for t or the end of ctx, and reports whether t came.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

func describe(o outcome) string {
	if o.err != nil {
		return o.err.Error()
	}
	body := strings.TrimSpace(string(o.body))
	if len(body) > 300 {
		body = body[:300] + "..."
	}
	return fmt.Sprintf("HTTP %d: %s", o.status, body)
}

// newClient is a keep-alive client for conc workers. It never follows
// redirects: every answer is judged as the server sent it.
func newClient(conc int) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			MaxIdleConns:        conc,
			MaxIdleConnsPerHost: conc,
			IdleConnTimeout:     90 * time.Second,
			DisableCompression:  true,
		},
		Timeout:       60 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// do sends req and reads the whole answer (so the connection is reused).
func do(c doer, req *http.Request) (outcome, []byte) {
	resp, err := c.Do(req)
	if err != nil {
		return outcome{err: err}, nil
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	o := outcome{status: resp.StatusCode, retry: resp.Header.Get("Retry-After") != "", err: err}
	if resp.StatusCode != http.StatusOK {
		o.body = body
	}
	return o, body
}

// --- token grants ---

type tokenResponse struct {
	AccessToken  string `json:"access_token"`
	TokenType    string `json:"token_type"`
	IDToken      string `json:"id_token"`
	RefreshToken string `json:"refresh_token"`
}

// postToken sends a token request with client_secret_basic and checks a 200
// answer: a Bearer access token, plus an ID token and a refresh token when
// wantUser (a grant made for a user with scope openid).
func postToken(ctx context.Context, t *target, c doer, form url.Values, wantUser bool, sigs *sigShape) (outcome, tokenResponse) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.tokenURL, strings.NewReader(form.Encode()))
	if err != nil {
		return outcome{err: err}, tokenResponse{}
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(clientID, clientSecret)
	o, body := do(c, req)
	var tr tokenResponse
	if o.err != nil || o.status != http.StatusOK {
		return o, tr
	}
	if err := json.Unmarshal(body, &tr); err != nil {
		o.err = fmt.Errorf("token answer: %w", err)
		return o, tr
	}
	switch {
	case tr.AccessToken == "" || !strings.EqualFold(tr.TokenType, "Bearer"):
		o.err = fmt.Errorf("token answer without a Bearer access_token: %.200s", body)
	case wantUser && (tr.IDToken == "" || tr.RefreshToken == ""):
		o.err = fmt.Errorf("token answer without id_token or refresh_token: %.200s", body)
	}
	if o.err == nil && sigs != nil {
		sigs.record(tr)
	}
	return o, tr
}

var userCounter atomic.Uint64

func passwordForm() url.Values {
	i := int(userCounter.Add(1) % userCount)
	return url.Values{"grant_type": {"password"}, "username": {userName(i)}, "password": {userPassword(i)}, "scope": {"openid"}}
}

func passwordLoad(name string, conc int) load {
	sigs := &sigShape{}
	return load{name: name, conc: conc, sigs: sigs, newOp: func(_ context.Context, t *target, _ *http.Client) (op, error) {
		c := newRawConn(t.base)
		return func(ctx context.Context) outcome {
			o, _ := postToken(ctx, t, c, passwordForm(), true, sigs)
			return o
		}, nil
	}}
}

func clientCredentialsLoad(name string, conc int) load {
	sigs := &sigShape{}
	form := url.Values{"grant_type": {"client_credentials"}}
	return load{name: name, conc: conc, sigs: sigs, newOp: func(_ context.Context, t *target, _ *http.Client) (op, error) {
		c := newRawConn(t.base)
		return func(ctx context.Context) outcome {
			o, _ := postToken(ctx, t, c, form, false, sigs)
			return o
		}, nil
	}}
}

// refreshLoad gives each worker its own session and refresh-token chain:
// every refresh uses the refresh token the previous one returned.
func refreshLoad(name string, conc int) load {
	sigs := &sigShape{}
	return load{name: name, conc: conc, sigs: sigs, newOp: func(ctx context.Context, t *target, _ *http.Client) (op, error) {
		c := newRawConn(t.base)
		o, tr := postToken(ctx, t, c, passwordForm(), true, nil)
		if o.err != nil || o.status != http.StatusOK {
			return nil, fmt.Errorf("password grant for the first refresh token: %s", describe(o))
		}
		refresh := tr.RefreshToken
		return func(ctx context.Context) outcome {
			form := url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}
			o, tr := postToken(ctx, t, c, form, false, sigs)
			if o.err == nil && o.status == http.StatusOK {
				if tr.RefreshToken == "" {
					o.err = errors.New("refresh answer without a refresh_token")
				} else {
					refresh = tr.RefreshToken
				}
			}
			return o
		}, nil
	}}
}

// sigShape is what the first good answer of a load was signed with: the
// algorithm of each JWT in it, read from their headers.
type sigShape struct {
	once    sync.Once
	idToken bool
	algs    map[string]int
}

func (s *sigShape) record(tr tokenResponse) {
	s.once.Do(func() {
		s.idToken = tr.IDToken != ""
		s.algs = map[string]int{}
		for _, tok := range []string{tr.AccessToken, tr.IDToken, tr.RefreshToken} {
			if tok != "" {
				s.algs[jwtAlg(tok)]++
			}
		}
	})
}

// rsa is the number of RS256 signatures in one answer (0 before any answer).
func (s *sigShape) rsa() int { return s.algs["RS256"] }

func (s *sigShape) String() string {
	if s.algs == nil {
		return "no answer seen"
	}
	var parts []string
	for _, alg := range slices.Sorted(maps.Keys(s.algs)) {
		parts = append(parts, fmt.Sprintf("%d×%s", s.algs[alg], alg))
	}
	return strings.Join(parts, " + ")
}

func jwtAlg(tok string) string {
	head, _, ok := strings.Cut(tok, ".")
	if !ok {
		return "opaque"
	}
	raw, err := base64.RawURLEncoding.DecodeString(head)
	if err != nil {
		return "opaque"
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if json.Unmarshal(raw, &h) != nil || h.Alg == "" {
		return "opaque"
	}
	return h.Alg
}

// --- plain GETs ---

// getLoad fetches path (under the realm) and checks the 200 body holds want.
func getLoad(name string, conc int, path, want string) load {
	return load{name: name, conc: conc, newOp: func(_ context.Context, t *target, _ *http.Client) (op, error) {
		c := newRawConn(t.base)
		u := t.realm + path
		return func(ctx context.Context) outcome {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
			if err != nil {
				return outcome{err: err}
			}
			o, body := do(c, req)
			if o.err == nil && o.status == http.StatusOK && !strings.Contains(string(body), want) {
				o.err = fmt.Errorf("GET %s: 200 without %s: %.200s", path, want, body)
			}
			return o
		}, nil
	}}
}

// --- login page ---

func authURL(t *target) string {
	verifier := rand.Text() + rand.Text()
	sum := sha256.Sum256([]byte(verifier))
	q := url.Values{
		"client_id":             {publicClientID},
		"redirect_uri":          {redirectURI},
		"response_type":         {"code"},
		"scope":                 {"openid"},
		"state":                 {"x"},
		"code_challenge":        {base64.RawURLEncoding.EncodeToString(sum[:])},
		"code_challenge_method": {"S256"},
	}
	return t.realm + "/protocol/openid-connect/auth?" + q.Encode()
}

// probeAuth skips the login scenarios while the authorization endpoint does
// not exist.
func probeAuth(ctx context.Context, t *target) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, authURL(t), nil)
	if err != nil {
		return "", err
	}
	c := newClient(1)
	defer c.CloseIdleConnections()
	o, _ := do(c, req)
	if o.err != nil {
		return "", o.err
	}
	if o.status == http.StatusNotFound {
		return "n/a (no authorization endpoint yet)", nil
	}
	return "", nil
}

// loginLoad measures the time to the first byte of the login page, as a
// browser without a session gets it (no cookies are kept).
func loginLoad(conc int) load {
	return load{name: "login page TTFB", conc: conc, newOp: func(_ context.Context, t *target, c *http.Client) (op, error) {
		u := authURL(t)
		return func(ctx context.Context) outcome {
			var t0, first time.Time
			trace := &httptrace.ClientTrace{GotFirstResponseByte: func() { first = time.Now() }}
			req, err := http.NewRequestWithContext(httptrace.WithClientTrace(ctx, trace), http.MethodGet, u, nil)
			if err != nil {
				return outcome{err: err}
			}
			t0 = time.Now()
			o, _ := do(c, req)
			if !first.IsZero() {
				o.latency = first.Sub(t0)
			}
			return o
		}, nil
	}}
}
