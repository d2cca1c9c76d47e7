package samltest

import (
	"errors"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/keygate/keygate/federation"
)

// Message is what the IdP sends the browser on to another party: a
// redirect (URL with its query) or an auto-submitted POST form.
type Message struct {
	Method   string // GET or POST
	URL      string // where to: the SP endpoint, or a ReturnTo
	RawQuery string // for GET, the query as sent (Redirect binding signatures)
	Form     url.Values
}

// Params are the message's parameters (the query or the form).
func (m *Message) Params() url.Values {
	if m.Method == http.MethodPost {
		return m.Form
	}
	q, _ := url.ParseQuery(m.RawQuery)
	return q
}

// Browser is a user agent at the IdP: a cookie jar (the IdP's session)
// and a client that follows the IdP's own redirects but never leaves it.
type Browser struct {
	Client *http.Client
	idp    *url.URL
}

// NewBrowser returns a browser with an empty cookie jar.
func (p *IdP) NewBrowser() *Browser {
	u, _ := url.Parse(p.URL)
	jar, _ := cookiejar.New(nil)
	b := &Browser{idp: u}
	b.Client = &http.Client{
		Jar:     jar,
		Timeout: 20 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Host != u.Host || len(via) > 10 {
				return http.ErrUseLastResponse
			}
			return nil
		},
	}
	return b
}

// Login sends what a broker's Start returned to the IdP, signs in at its
// login form as username with password when it asks, and returns what
// the IdP posts back (the SAMLResponse and RelayState for the SP).
func (b *Browser) Login(start federation.BrokerStart, username, password string) (*Message, error) {
	return b.send(start, username, password)
}

// Send sends a message to the IdP (a LogoutRequest, or a LogoutResponse
// to its logout) and returns what the IdP sends on.
func (b *Browser) Send(start federation.BrokerStart) (*Message, error) {
	return b.send(start, "", "")
}

// IdPLogout starts a logout at the IdP (SimpleSAMLphp's IdP-initiated
// single logout) and returns the first message it sends on: a
// LogoutRequest to each SP the session signed in to, or the redirect to
// returnTo.
func (b *Browser) IdPLogout(idp *IdP, returnTo string) (*Message, error) {
	return b.send(federation.BrokerStart{RedirectURL: idp.SLOURL + "?ReturnTo=" + url.QueryEscape(returnTo)}, "", "")
}

func (b *Browser) send(start federation.BrokerStart, username, password string) (*Message, error) {
	var resp *http.Response
	var err error
	switch {
	case start.RedirectURL != "":
		resp, err = b.Client.Get(start.RedirectURL)
	case start.PostURL != "":
		form := url.Values{}
		for k, v := range start.PostForm {
			form.Set(k, v)
		}
		resp, err = b.Client.PostForm(start.PostURL, form)
	default:
		return nil, errors.New("samltest: nothing to send")
	}
	for range 10 {
		if err != nil {
			return nil, err
		}
		body, rerr := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		resp.Body.Close()
		if rerr != nil {
			return nil, rerr
		}
		if resp.StatusCode >= 300 && resp.StatusCode < 400 {
			loc, lerr := resp.Request.URL.Parse(resp.Header.Get("Location"))
			if lerr != nil {
				return nil, lerr
			}
			return &Message{Method: http.MethodGet, URL: loc.String(), RawQuery: loc.RawQuery}, nil
		}
		if resp.StatusCode != http.StatusOK {
			return nil, fmt.Errorf("samltest: %s %s: %s: %s", resp.Request.Method, resp.Request.URL.Path, resp.Status, snippet(body))
		}
		page := string(body)
		f := findForm(page, "SAMLResponse", "SAMLRequest")
		if f != nil {
			action, aerr := resp.Request.URL.Parse(f.action)
			if aerr != nil {
				return nil, aerr
			}
			return &Message{Method: http.MethodPost, URL: action.String(), Form: f.values}, nil
		}
		f = findForm(page, "password")
		if f == nil {
			return nil, fmt.Errorf("samltest: unexpected page at %s: %s", resp.Request.URL.Path, snippet(body))
		}
		if username == "" {
			return nil, errors.New("samltest: the IdP asks for a login")
		}
		action, aerr := resp.Request.URL.Parse(f.action)
		if aerr != nil {
			return nil, aerr
		}
		f.values.Set("username", username)
		f.values.Set("password", password)
		username = "" // a second login form means the password was wrong
		resp, err = b.Client.PostForm(action.String(), f.values)
	}
	return nil, errors.New("samltest: too many pages")
}

var (
	formRE   = regexp.MustCompile(`(?is)<form\b[^>]*>.*?</form>`)
	actionRE = regexp.MustCompile(`(?i)<form\b[^>]*\baction="([^"]*)"`)
	inputRE  = regexp.MustCompile(`(?i)<input\b[^>]*>`)
	nameRE   = regexp.MustCompile(`(?i)\bname="([^"]*)"`)
	valueRE  = regexp.MustCompile(`(?i)\bvalue="([^"]*)"`)
)

type htmlForm struct {
	action string
	values url.Values
}

// findForm returns the first form of page with an input named one of
// names.
func findForm(page string, names ...string) *htmlForm {
	for _, f := range formRE.FindAllString(page, -1) {
		hf := &htmlForm{values: url.Values{}}
		if m := actionRE.FindStringSubmatch(f); m != nil {
			hf.action = html.UnescapeString(m[1])
		}
		found := false
		for _, in := range inputRE.FindAllString(f, -1) {
			n := nameRE.FindStringSubmatch(in)
			if n == nil {
				continue
			}
			name := html.UnescapeString(n[1])
			var value string
			if v := valueRE.FindStringSubmatch(in); v != nil {
				value = html.UnescapeString(v[1])
			}
			hf.values.Set(name, value)
			for _, want := range names {
				found = found || name == want
			}
		}
		if found {
			return hf
		}
	}
	return nil
}

func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(b)), " ")
	if len(s) > 600 {
		s = s[:600] + "…"
	}
	return s
}
