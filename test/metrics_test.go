package test

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestMetrics drives real requests at the binary and scrapes its
// management listener before and after: login outcomes per realm, client
// and outcome; token requests per grant; the hashing pool; the store's
// statements. Made-up client ids never become label values.
func TestMetrics(t *testing.T) {
	s := startServer(t, "", nil, "--import-realm", "testdata/realm-test.json", "--metrics-addr", "127.0.0.1:0")
	m := regexp.MustCompile(`msg="management listener" addr=(\S+)`).FindStringSubmatch(s.logs.String())
	if m == nil {
		t.Fatalf("no management listener in the log:\n%s", s.logs.String())
	}
	metricsURL := "http://" + m[1] + "/metrics"
	before := scrape(t, metricsURL)
	out, err := exec.Command(binary, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.Fields(string(out))
	if len(version) < 2 || before.value("keygate_build_info", "version", version[1]) != 1 {
		t.Errorf("keygate_build_info does not carry the version %q", out)
	}

	tokenURL := s.URL + "/realms/test/protocol/openid-connect/token"
	code, tok := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, "webapp", "webapp-secret")
	if code != 200 {
		t.Fatalf("password grant: %d %v", code, tok)
	}
	if code, _ := postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"wrong"}}, "webapp", "webapp-secret"); code != 401 && code != 400 {
		t.Fatalf("wrong password: %d", code)
	}
	if code, _ := postForm(t, tokenURL, url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tok["refresh_token"].(string)}}, "webapp", "webapp-secret"); code != 200 {
		t.Fatalf("refresh: %d", code)
	}
	if code, _ := postForm(t, tokenURL, url.Values{"grant_type": {"client_credentials"}}, "webapp", "webapp-secret"); code != 200 {
		t.Fatalf("client_credentials: %d", code)
	}
	// Made-up clients: each is refused, and none may become a series.
	for i := range 5 {
		postForm(t, tokenURL, url.Values{"grant_type": {"password"}, "username": {"carol"}, "password": {"carol-pass"}}, fmt.Sprintf("made-up-%d", i), "x")
	}
	after := scrape(t, metricsURL)

	delta := func(name string, labels ...string) float64 {
		return after.value(name, labels...) - before.value(name, labels...)
	}
	for _, c := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"keygate_logins_total", []string{"realm", "test", "client", "webapp", "outcome", "success"}, 1},
		{"keygate_logins_total", []string{"realm", "test", "client", "webapp", "outcome", "invalid_user_credentials"}, 1},
		{"keygate_logins_total", []string{"realm", "test", "client", "other", "outcome", "invalid_client_credentials"}, 5},
		{"keygate_token_requests_total", []string{"realm", "test", "grant_type", "password", "outcome", "issued"}, 1},
		{"keygate_token_requests_total", []string{"realm", "test", "grant_type", "refresh_token", "outcome", "issued"}, 1},
		{"keygate_token_requests_total", []string{"realm", "test", "grant_type", "client_credentials", "outcome", "issued"}, 1},
	} {
		if got := delta(c.name, c.labels...); got != c.want {
			t.Errorf("%s%v went up by %v, want %v\n%s", c.name, c.labels, got, c.want, grepLines(after.text, c.name))
		}
	}
	for _, c := range []struct {
		name   string
		labels []string
	}{
		{"keygate_password_hash_wait_seconds_count", []string{"outcome", "granted"}},
		{"keygate_store_query_seconds_count", []string{"kind", "read", "outcome", "ok"}},
		{"keygate_store_query_seconds_count", []string{"kind", "write", "outcome", "ok"}},
		{"keygate_store_query_seconds_count", []string{"kind", "commit", "outcome", "ok"}},
		{"keygate_cache_lookups_total", []string{"cache", "realm", "result", "hit"}},
		{"keygate_cache_lookups_total", []string{"cache", "model", "result", "hit"}},
	} {
		if got := delta(c.name, c.labels...); got <= 0 {
			t.Errorf("%s%v did not go up (%v)\n%s", c.name, c.labels, got, grepLines(after.text, c.name))
		}
	}
	for _, name := range []string{"keygate_password_hash_queue_depth", "keygate_password_hash_running", "keygate_password_hash_cost_seconds"} {
		if !strings.Contains(after.text, "\n"+name+" ") {
			t.Errorf("no %s gauge", name)
		}
	}
	if c := after.value("keygate_password_hash_cost_seconds"); c <= 0 {
		t.Errorf("hash cost %v after logins, want > 0", c)
	}
	if strings.Contains(after.text, "made-up-") {
		t.Errorf("a made-up client id became a label value:\n%s", grepLines(after.text, "made-up-"))
	}
}

type scraped struct{ text string }

func scrape(t *testing.T, u string) scraped {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET /metrics: %d", resp.StatusCode)
	}
	return scraped{"\n" + string(body)}
}

// value is the sample of name whose labels include the given name, value
// pairs (0 when there is none): the text format's lines are
// name{k="v",...} value.
func (s scraped) value(name string, labels ...string) float64 {
	for _, line := range strings.Split(s.text, "\n") {
		rest, ok := strings.CutPrefix(line, name)
		if !ok || rest == "" || (rest[0] != '{' && rest[0] != ' ') {
			continue
		}
		match := true
		for i := 0; i+1 < len(labels); i += 2 {
			if !strings.Contains(rest, labels[i]+`="`+labels[i+1]+`"`) {
				match = false
			}
		}
		if !match {
			continue
		}
		f := strings.Fields(rest[strings.LastIndex(rest, "}")+1:])
		if len(f) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(f[0], 64)
		if err == nil {
			return v
		}
	}
	return 0
}
