package saml

import (
	"bytes"
	"context"
	"encoding/json"
	"html"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/crewjam/saml/samlidp"

	"github.com/keygate/keygate/federation"
)

// crewjam's samlidp as the IdP, in process: Start, the IdP's login form,
// Finish, and single logout both ways.

type inProcessIdP struct {
	srv    *httptest.Server
	idp    *samlidp.Server
	client *http.Client
}

func startSamlidp(t *testing.T) *inProcessIdP {
	t.Helper()
	fixtures(t)
	srv := httptest.NewUnstartedServer(nil)
	u, _ := url.Parse("http://" + srv.Listener.Addr().String())
	idp, err := samlidp.New(samlidp.Options{
		URL:         *u,
		Key:         idpKeys.key,
		Certificate: idpKeys.cert,
		Store:       &samlidp.MemoryStore{},
		Logger:      log.New(io.Discard, "", 0),
	})
	if err != nil {
		t.Fatal(err)
	}
	srv.Config.Handler = idp
	srv.Start()
	t.Cleanup(srv.Close)
	jar, _ := cookiejar.New(nil)
	p := &inProcessIdP{srv: srv, idp: idp, client: &http.Client{Jar: jar, Timeout: 10 * time.Second,
		// Never follow the IdP to keygate.example.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
	pw := "correct horse"
	p.put(t, "/users/alice", samlidp.User{Name: "alice", PlaintextPassword: &pw, Email: "alice@corp.example",
		GivenName: "Alice", Surname: "Liddell", Groups: []string{"sso-sre", "sso-stackstate-admins"}})
	return p
}

func (p *inProcessIdP) put(t *testing.T, path string, v any) {
	t.Helper()
	var body []byte
	if b, ok := v.([]byte); ok {
		body = b
	} else {
		body, _ = json.Marshal(v)
	}
	req, _ := http.NewRequest(http.MethodPut, p.srv.URL+path, bytes.NewReader(body))
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s: %s", path, resp.Status)
	}
}

// broker opens a Broker on the IdP, with a real clock, and registers its
// metadata at the IdP.
func (p *inProcessIdP) broker(t *testing.T, edit func(map[string]string)) (*Broker, *memReplay) {
	t.Helper()
	cfg := map[string]string{
		"idpEntityId":             p.srv.URL + "/metadata",
		"singleSignOnServiceUrl":  p.srv.URL + "/sso",
		"singleLogoutServiceUrl":  p.srv.URL + "/slo",
		"signingCertificate":      certB64(idpKeys.cert),
		"postBindingResponse":     "true",
		"nameIDPolicyFormat":      nameIDEmail,
		"wantAuthnRequestsSigned": "true",
		"wantAssertionsSigned":    "true",
	}
	if edit != nil {
		edit(cfg)
	}
	replay := &memReplay{}
	env := federation.BrokerEnv{Logger: slog.New(slog.DiscardHandler), Key: spKeys.key, Cert: spKeys.cert, Replay: replay.replay, Now: time.Now}
	b, err := open(context.Background(), env, identityProvider(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	md, err := b.Metadata(context.Background(), testRequest())
	if err != nil {
		t.Fatal(err)
	}
	p.put(t, "/services/keygate", md)
	return b, replay
}

var inputRE = regexp.MustCompile(`<input[^>]*name="([^"]+)"[^>]*value="([^"]*)"`)
var actionRE = regexp.MustCompile(`<form[^>]*action="([^"]+)"`)

// formOf reads the (first) HTML form of page: its action and inputs.
func formOf(t *testing.T, page string) (string, url.Values) {
	t.Helper()
	m := actionRE.FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no form in %.300s", page)
	}
	v := url.Values{}
	for _, in := range inputRE.FindAllStringSubmatch(page, -1) {
		v.Set(html.UnescapeString(in[1]), html.UnescapeString(in[2]))
	}
	return html.UnescapeString(m[1]), v
}

func (p *inProcessIdP) do(t *testing.T, method, target string, form url.Values) string {
	t.Helper()
	var resp *http.Response
	var err error
	if method == http.MethodGet {
		resp, err = p.client.Get(target)
	} else {
		resp, err = p.client.PostForm(target, form)
	}
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: %s %s", method, target, resp.Status, b)
	}
	return string(b)
}

// login runs Start and the IdP's login form, and returns what the IdP
// posts back to the endpoint.
func (p *inProcessIdP) login(t *testing.T, b *Broker, req federation.BrokerRequest) ([]byte, url.Values) {
	t.Helper()
	start, err := b.Start(context.Background(), req)
	if err != nil {
		t.Fatal(err)
	}
	var page string
	if start.RedirectURL != "" {
		if !strings.HasPrefix(start.RedirectURL, p.srv.URL+"/sso?") || !strings.Contains(start.RedirectURL, "Signature=") {
			t.Fatalf("redirect %s", start.RedirectURL)
		}
		page = p.do(t, http.MethodGet, start.RedirectURL, nil)
	} else {
		f := url.Values{}
		for k, v := range start.PostForm {
			f.Set(k, v)
		}
		page = p.do(t, http.MethodPost, start.PostURL, f)
	}
	action, f := formOf(t, page)
	if action != req.CallbackURL {
		// No session at the IdP yet: its login form.
		f.Set("user", "alice")
		f.Set("password", "correct horse")
		page = p.do(t, http.MethodPost, action, f)
		action, f = formOf(t, page)
	}
	if action != req.CallbackURL {
		t.Fatalf("the IdP posts to %s", action)
	}
	return start.State, f
}

func TestSamlidpLogin(t *testing.T) {
	p := startSamlidp(t)
	for _, tc := range []struct {
		name string
		edit func(map[string]string)
	}{
		// samlidp's login form re-posts a Redirect-binding request without
		// its query signature, so the first login uses the POST binding;
		// the next ones find the IdP session and are answered at once.
		{name: "post binding", edit: func(c map[string]string) { c["postBindingAuthnRequest"] = "true" }},
		{name: "redirect binding"},
		{name: "encrypted assertions", edit: func(c map[string]string) { c["wantAssertionsEncrypted"] = "true" }},
		{name: "principal from uid", edit: func(c map[string]string) {
			c["principalType"], c["principalAttribute"] = "FRIENDLY_ATTRIBUTE", "uid"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := p.broker(t, tc.edit)
			req := testRequest()
			req.ID = newID()
			state, f := p.login(t, b, req)
			if f.Get("RelayState") != req.RelayState {
				t.Fatalf("RelayState %q", f.Get("RelayState"))
			}
			id, err := b.Finish(context.Background(), req, state, f)
			if err != nil {
				t.Fatal(err)
			}
			want := "alice@corp.example"
			if tc.edit != nil && strings.Contains(tc.name, "uid") {
				want = "alice"
			}
			if id.UserID != want || id.NameID != "alice@corp.example" || id.SessionIndex == "" {
				t.Fatalf("identity %+v", id)
			}
			if id.Email != "alice@corp.example" || id.FirstName != "Alice" || id.LastName != "Liddell" {
				t.Fatalf("hints %q %q %q", id.Email, id.FirstName, id.LastName)
			}
			if g := id.Attributes["eduPersonAffiliation"]; !slices.Equal(g, []string{"sso-sre", "sso-stackstate-admins"}) {
				t.Fatalf("groups %v (attributes %v)", g, id.Attributes)
			}
			// The same response again is a replay.
			_, err = b.Finish(context.Background(), req, state, f)
			mustRefuse(t, federation.BrokeredIdentity{}, err)
		})
	}
}

func TestSamlidpSingleLogout(t *testing.T) {
	p := startSamlidp(t)
	for _, binding := range []string{"true", "false"} {
		t.Run("postBindingLogout="+binding, func(t *testing.T) {
			b, _ := p.broker(t, func(c map[string]string) {
				c["postBindingAuthnRequest"], c["postBindingLogout"] = "true", binding
			})
			req := testRequest()
			req.ID = newID()
			state, f := p.login(t, b, req)
			id, err := b.Finish(context.Background(), req, state, f)
			if err != nil {
				t.Fatal(err)
			}

			// SP-initiated: a signed LogoutRequest, the IdP's signed
			// LogoutResponse back to the endpoint.
			out := testRequest()
			out.ID, out.RelayState = newID(), "logout-1"
			start, err := b.Logout(context.Background(), out, id)
			if err != nil {
				t.Fatal(err)
			}
			var resp *http.Response
			if binding == "true" {
				form := url.Values{}
				for k, v := range start.PostForm {
					form.Set(k, v)
				}
				if start.PostURL != p.srv.URL+"/slo" || form.Get("SAMLRequest") == "" {
					t.Fatalf("logout start %+v", start)
				}
				resp, err = p.client.PostForm(start.PostURL, form)
			} else {
				if !strings.Contains(start.RedirectURL, "Signature=") {
					t.Fatalf("logout redirect %s", start.RedirectURL)
				}
				resp, err = p.client.Do(mustGet(t, start.RedirectURL))
			}
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			var params url.Values
			switch resp.StatusCode {
			case http.StatusFound, http.StatusSeeOther:
				loc, _ := url.Parse(resp.Header.Get("Location"))
				params, out.RawQuery = loc.Query(), loc.RawQuery
			case http.StatusOK:
				_, params = formOf(t, string(body))
			default:
				t.Fatalf("IdP logout: %s %s", resp.Status, body)
			}
			if params.Get("RelayState") != "logout-1" {
				t.Fatalf("RelayState %q", params.Get("RelayState"))
			}
			nameID, _, _, err := b.HandleLogout(context.Background(), out, params)
			if err != nil {
				t.Fatal(err)
			}
			if nameID != "" {
				t.Fatalf("a LogoutResponse named %q", nameID)
			}
			// A LogoutResponse to another logout is refused.
			other := out
			other.ID = "id-other"
			_, _, _, err = b.HandleLogout(context.Background(), other, params)
			mustRefuse(t, federation.BrokeredIdentity{}, err)
		})
	}
}

func mustGet(t *testing.T, u string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	return r
}
