package idp_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log"
	"log/slog"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beevik/etree"
	crewsaml "github.com/crewjam/saml"
	"github.com/crewjam/saml/samlidp"
	"github.com/jackc/pgx/v5"
	dsig "github.com/russellhaering/goxmldsig"
	"golang.org/x/net/html"

	samlbroker "github.com/keygate/keygate/federation/saml"
	"github.com/keygate/keygate/idp"
	"github.com/keygate/keygate/store"
	"github.com/keygate/keygate/store/postgres"
)

// Brokered SAML logins through keygate's real HTTP handlers, with
// crewjam's samlidp in process as the identity provider "corp" of realm
// "down": the login page's button, the signed AuthnRequest the browser
// carries to the IdP, the IdP's login form and its Response posted back to
// /broker/corp/endpoint, the mappers, single logout both ways, what the
// endpoint refuses, and two replicas on one PostgreSQL database.

const (
	samlPersistent  = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	samlByeRedirect = appRedirect + "/bye"
	samlCallback    = "/realms/down/broker/corp/endpoint"
)

type samlKeyPair struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

// The IdP's key and an attacker's, made once for the package.
var (
	samlCorpKey    = sync.OnceValue(func() samlKeyPair { return newSAMLKeyPair("idp.corp.example") })
	samlForeignKey = sync.OnceValue(func() samlKeyPair { return newSAMLKeyPair("attacker.example") })
)

func newSAMLKeyPair(cn string) samlKeyPair {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return samlKeyPair{key: key, cert: cert}
}

// samlCorp is crewjam's samlidp on loopback.
type samlCorp struct {
	URL   string
	idp   *samlidp.Server
	keys  samlKeyPair
	admin *http.Client
}

// samlNameID is the persistent NameID the IdP gives user: opaque, so that
// a username equal to it can only come from the username mapper.
func samlNameID(user string) string {
	sum := sha256.Sum256([]byte("corp-persistent|" + user))
	return "p-" + hex.EncodeToString(sum[:10])
}

func samlPassword(user string) string { return user + "-corp-pass-1" }

// samlCorpSessions is samlidp's session provider, except that a session
// gets a persistent NameID and the person's groups as a memberOf
// attribute (samlidp itself sends the email as NameID and the groups as
// eduPersonAffiliation). carol keeps samlidp's email NameID: as the IdP
// enforces the requested NameID policy, she gets an error Response.
type samlCorpSessions struct{ *samlidp.Server }

func (s samlCorpSessions) GetSession(w http.ResponseWriter, r *http.Request, req *crewsaml.IdpAuthnRequest) *crewsaml.Session {
	sess := s.Server.GetSession(w, r, req)
	if sess == nil || sess.NameIDFormat == samlPersistent || sess.UserName == "carol" {
		return sess
	}
	sess.NameID, sess.NameIDFormat = samlNameID(sess.UserName), samlPersistent
	member := crewsaml.Attribute{Name: "memberOf", NameFormat: "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}
	for _, g := range sess.Groups {
		member.Values = append(member.Values, crewsaml.AttributeValue{Type: "xs:string", Value: g})
	}
	sess.CustomAttributes = []crewsaml.Attribute{member}
	// Stored again, so that later requests, single logout and the logout
	// propagation see the same NameID.
	if err := s.Store.Put("/sessions/"+sess.ID, sess); err != nil {
		http.Error(w, "store", http.StatusInternalServerError)
		return nil
	}
	return sess
}

func newSAMLCorp(t *testing.T) *samlCorp {
	t.Helper()
	kp := samlCorpKey()
	srv := httptest.NewUnstartedServer(nil)
	u, _ := url.Parse("http://" + srv.Listener.Addr().String())
	sp, err := samlidp.New(samlidp.Options{URL: *u, Key: kp.key, Certificate: kp.cert,
		Store: &samlidp.MemoryStore{}, Logger: log.New(io.Discard, "", 0)})
	if err != nil {
		t.Fatal(err)
	}
	sp.IDP.EnforceNameIDPolicy = true
	sp.IDP.SessionProvider = samlCorpSessions{sp}
	srv.Config.Handler = sp
	srv.Start()
	t.Cleanup(srv.Close)
	c := &samlCorp{URL: srv.URL, idp: sp, keys: kp, admin: &http.Client{Timeout: 10 * time.Second}}
	for _, u := range []samlidp.User{
		{Name: "alice", Email: "alice@corp.example", GivenName: "Alice", Surname: "Liddell", CommonName: "Alice Liddell",
			Groups: []string{"admins", "sre-oncall"}},
		{Name: "bob", Email: "bob@corp.example", GivenName: "Bob", Surname: "Builder", CommonName: "Bob Builder",
			Groups: []string{"staff"}},
		{Name: "carol", Email: "carol@corp.example", GivenName: "Carol", Surname: "Shaw", Groups: []string{"admins"}},
	} {
		pw := samlPassword(u.Name)
		u.PlaintextPassword = &pw
		body, _ := json.Marshal(u)
		c.put(t, "/users/"+u.Name, body)
	}
	return c
}

func (c *samlCorp) entityID() string { return c.URL + "/metadata" }

func (c *samlCorp) put(t *testing.T, path string, body []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, c.URL+path, strings.NewReader(string(body)))
	resp, err := c.admin.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("PUT %s at the IdP: %s", path, resp.Status)
	}
}

// register gives the IdP keygate's SP metadata, as served at
// /broker/corp/endpoint/descriptor of base.
func (c *samlCorp) register(t *testing.T, base string) {
	t.Helper()
	resp, err := http.Get(base + samlCallback + "/descriptor")
	if err != nil {
		t.Fatal(err)
	}
	md, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(md), `entityID="`+base+`/realms/down"`) ||
		!strings.Contains(string(md), `Location="`+base+samlCallback+`"`) {
		t.Fatalf("SP descriptor: %d %.400s", resp.StatusCode, md)
	}
	c.put(t, "/services/keygate", md)
}

// samlRealm is realm "down" with the identity provider corp at c.
func samlRealm(c *samlCorp) string {
	cert := base64.StdEncoding.EncodeToString(c.keys.cert.Raw)
	mapper := func(name, typ, cfg string) string {
		return `{"name": "` + name + `", "identityProviderAlias": "corp", "identityProviderMapper": "` + typ + `",
			"config": {"syncMode": "INHERIT", ` + cfg + `}}`
	}
	return `{"realm": "down", "enabled": true, "sslRequired": "none",
		"roles": {"realm": [{"name": "stackstate-admin"}, {"name": "stackstate-guest"}]},
		"groups": [{"name": "sre", "path": "/sre"}, {"name": "staff", "path": "/staff"}],
		"clients": [{"clientId": "app", "enabled": true, "publicClient": true, "standardFlowEnabled": true,
			"redirectUris": ["` + appRedirect + `"], "webOrigins": ["+"],
			"attributes": {"post.logout.redirect.uris": "` + samlByeRedirect + `"},
			"protocolMappers": [{"name": "groups", "protocol": "openid-connect", "protocolMapper": "oidc-group-membership-mapper",
				"config": {"claim.name": "groups", "full.path": "true", "access.token.claim": "true", "id.token.claim": "true", "userinfo.token.claim": "true"}}]}],
		"identityProviders": [{"alias": "corp", "displayName": "Corp SAML", "providerId": "saml", "enabled": true, "trustEmail": true,
			"config": {"singleSignOnServiceUrl": "` + c.URL + `/sso", "singleLogoutServiceUrl": "` + c.URL + `/slo",
				"idpEntityId": "` + c.entityID() + `", "signingCertificate": "` + cert + `", "validateSignature": "true",
				"postBindingResponse": "true", "postBindingAuthnRequest": "true", "wantAuthnRequestsSigned": "true",
				"wantAssertionsSigned": "true", "nameIDPolicyFormat": "` + samlPersistent + `", "principalType": "SUBJECT",
				"syncMode": "FORCE"}}],
		"identityProviderMappers": [
			` + mapper("mail", "saml-user-attribute-idp-mapper", `"attribute.name": "urn:oid:0.9.2342.19200300.100.1.3", "user.attribute": "email"`) + `,
			` + mapper("given name", "saml-user-attribute-idp-mapper", `"attribute.friendly.name": "givenName", "user.attribute": "firstName"`) + `,
			` + mapper("surname", "saml-user-attribute-idp-mapper", `"attribute.friendly.name": "sn", "user.attribute": "lastName"`) + `,
			` + mapper("display name", "saml-user-attribute-idp-mapper", `"attribute.friendly.name": "cn", "user.attribute": "displayName"`) + `,
			` + mapper("admins", "saml-role-idp-mapper", `"attribute.name": "memberOf", "attribute.value": "admins", "role": "stackstate-admin"`) + `,
			` + mapper("sre", "saml-advanced-group-idp-mapper", `"attributes": "[{\"key\":\"memberOf\",\"value\":\"sre-.*\"}]", "are.attribute.values.regex": "true", "group": "/sre"`) + `,
			` + mapper("username", "saml-username-idp-mapper", `"template": "${ATTRIBUTE.uid}"`) + `]}`
}

// samlSetup starts the IdP and a keygate with realm down, and registers
// keygate's SP metadata at the IdP.
func samlSetup(t *testing.T) (*samlCorp, *keygate) {
	t.Helper()
	corp := newSAMLCorp(t)
	down := newKeygate(t)
	down.importRealm(t, samlRealm(corp))
	corp.register(t, down.URL)
	return corp, down
}

// samlFirstForm returns the action and fields of page's first form.
func samlFirstForm(t *testing.T, base *url.URL, page string) (string, url.Values, bool) {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	var form *html.Node
	var find func(n *html.Node)
	find = func(n *html.Node) {
		if form != nil {
			return
		}
		if n.Type == html.ElementNode && n.Data == "form" {
			form = n
			return
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			find(c)
		}
	}
	find(doc)
	if form == nil {
		return "", nil, false
	}
	fields := url.Values{}
	var walk func(n *html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == "input" {
			if a := attrs(n); a["name"] != "" && a["type"] != "submit" {
				fields.Set(a["name"], a["value"])
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(form)
	u, err := base.Parse(attrs(form)["action"])
	if err != nil {
		t.Fatal(err)
	}
	return u.String(), fields, true
}

// samlMessage decodes a SAML message of a POST-binding form.
func samlMessage(t *testing.T, v string) string {
	t.Helper()
	raw, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("not base64: %v", err)
	}
	return string(raw)
}

// samlAttr reads attribute name of the first element tag in msg.
func samlAttr(t *testing.T, msg, tag, name string) string {
	t.Helper()
	doc := etree.NewDocument()
	if err := doc.ReadFromString(msg); err != nil {
		t.Fatal(err)
	}
	el := doc.FindElement("//" + tag)
	if el == nil {
		t.Fatalf("no %s in %.300s", tag, msg)
	}
	return el.SelectAttrValue(name, "")
}

// samlStart opens the login page in b (or goes to corp at once with
// kc_idp_hint) and carries keygate's AuthnRequest to the IdP. It returns
// the IdP's page and the form keygate posted there.
func (b *browser) samlStart(down *keygate, corp *samlCorp, hint bool) (*url.URL, string, url.Values) {
	t := b.t
	t.Helper()
	var status int
	var at *url.URL
	var page string
	if hint {
		status, at, page = b.do(http.MethodGet, authorizeURL(down, url.Values{"kc_idp_hint": {"corp"}}), nil)
	} else {
		status, at, page = b.do(http.MethodGet, authorizeURL(down, nil), nil)
		href, ok := links(t, page)["social-corp"]
		if status != 200 || !ok || !strings.Contains(page, "Corp SAML") {
			t.Fatalf("login page without social-corp: %d %.400s", status, page)
		}
		target, _ := at.Parse(href)
		status, at, page = b.do(http.MethodGet, target.String(), nil)
	}
	action, f, ok := samlFirstForm(t, at, page)
	if status != 200 || !ok || action != corp.URL+"/sso" || f.Get("SAMLRequest") == "" || f.Get("RelayState") == "" {
		t.Fatalf("keygate did not post an AuthnRequest to the IdP: %d %s %v", status, action, f)
	}
	status, at, page = b.do(http.MethodPost, action, f)
	if status != 200 {
		t.Fatalf("IdP answered the AuthnRequest with %d %.300s", status, page)
	}
	return at, page, f
}

// samlAnswer signs in at the IdP's login form as user (when the IdP shows
// it) and returns the form the IdP posts back to keygate, not yet posted.
func (b *browser) samlAnswer(down *keygate, at *url.URL, page, user string) (string, url.Values) {
	t := b.t
	t.Helper()
	action, f, ok := samlFirstForm(t, at, page)
	if !ok {
		t.Fatalf("no form at the IdP: %.300s", page)
	}
	if f.Has("password") {
		f.Set("user", user)
		f.Set("password", samlPassword(user))
		var status int
		status, at, page = b.do(http.MethodPost, action, f)
		if action, f, ok = samlFirstForm(t, at, page); status != 200 || !ok {
			t.Fatalf("IdP login as %s: %d %.300s", user, status, page)
		}
	}
	if action != down.URL+samlCallback || f.Get("SAMLResponse") == "" {
		t.Fatalf("the IdP posts %v to %s, not to the endpoint", slices.Sorted(maps.Keys(f)), action)
	}
	return action, f
}

// samlLogin signs user in through corp in b and returns the app's
// callback and the IdP's answer that got it.
func (b *browser) samlLogin(down *keygate, corp *samlCorp, user string) (*url.URL, url.Values) {
	b.t.Helper()
	at, page, _ := b.samlStart(down, corp, false)
	action, f := b.samlAnswer(down, at, page, user)
	status, cb, page := b.do(http.MethodPost, action, f)
	if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		b.t.Fatalf("after the IdP's Response: %d %s %.400s\n%s", status, cb, page, down.log.String())
	}
	return cb, f
}

// samlAutoPost posts the SAML forms of pages (auto-submitting in a real
// browser) until a page without one answers or the app is reached.
func (b *browser) samlAutoPost(status int, at *url.URL, page string) (int, *url.URL, string) {
	b.t.Helper()
	for range 5 {
		if page == "" {
			return status, at, page
		}
		action, f, ok := samlFirstForm(b.t, at, page)
		if !ok || (!f.Has("SAMLRequest") && !f.Has("SAMLResponse")) {
			return status, at, page
		}
		status, at, page = b.do(http.MethodPost, action, f)
	}
	b.t.Fatal("too many SAML forms")
	return 0, nil, ""
}

// samlTokens redeems the app's code and returns the token response.
func samlTokens(t *testing.T, down *keygate, cb *url.URL) map[string]any {
	t.Helper()
	if cb.Query().Get("state") != "st-1" || cb.Query().Get("code") == "" {
		t.Fatalf("app callback %s", cb)
	}
	resp, err := http.PostForm(down.URL+"/realms/down/protocol/openid-connect/token", url.Values{"grant_type": {"authorization_code"},
		"client_id": {"app"}, "redirect_uri": {appRedirect}, "code": {cb.Query().Get("code")},
		"code_verifier": {"dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != 200 {
		t.Fatalf("token: %d %v %v", resp.StatusCode, tok, err)
	}
	return tok
}

// samlRefresh uses a refresh token of app and returns the status.
func samlRefresh(t *testing.T, down *keygate, refreshToken string) int {
	t.Helper()
	resp, err := http.PostForm(down.URL+"/realms/down/protocol/openid-connect/token", url.Values{"grant_type": {"refresh_token"},
		"client_id": {"app"}, "refresh_token": {refreshToken}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func samlGroups(c map[string]any) []string {
	var out []string
	gs, _ := c["groups"].([]any)
	for _, g := range gs {
		out = append(out, g.(string))
	}
	return out
}

// samlIdPOnly is a new browser with only b's cookies at the IdP.
func (b *browser) samlIdPOnly(corp *samlCorp) *browser {
	nb := newBrowser(b.t)
	u, _ := url.Parse(corp.URL)
	nb.c.Jar.SetCookies(u, b.c.Jar.Cookies(u))
	return nb
}

// samlSessions are the live keygate sessions of username.
func samlSessions(t *testing.T, st store.Store, username string) []store.Session {
	t.Helper()
	realm, err := st.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}
	u, err := st.GetUserByUsername(t.Context(), realm.ID, username)
	if err != nil {
		t.Fatal(err)
	}
	ss, err := st.ListUserSessions(t.Context(), realm.ID, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// samlSessionBroker is what a session remembers of its IdP session.
func samlSessionBroker(t *testing.T, s store.Session) (alias, nameID, sessionIndex string) {
	t.Helper()
	var d struct {
		Broker struct {
			Alias        string `json:"alias"`
			NameID       string `json:"nameId"`
			SessionIndex string `json:"sessionIndex"`
		} `json:"broker"`
	}
	if err := json.Unmarshal(s.Data, &d); err != nil {
		t.Fatalf("session data %s: %v", s.Data, err)
	}
	return d.Broker.Alias, d.Broker.NameID, d.Broker.SessionIndex
}

// samlNoMessagesLogged checks that no SAML message, nor a part of one,
// reached the log.
func samlNoMessagesLogged(t *testing.T, logs string, answers ...url.Values) {
	t.Helper()
	for _, bad := range []string{"SignatureValue", "X509Certificate", "AttributeStatement", "<samlp:", "<saml:", "saml:Assertion", "urn:oasis:names:tc:SAML:2.0:assertion"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the log holds SAML message text (%q)", bad)
		}
	}
	for _, f := range answers {
		v := f.Get("SAMLResponse")
		// Any 48 characters of the message's base64, from its middle on.
		for i := len(v) / 2; i+48 <= len(v); i += max(48, len(v)/8) {
			if strings.Contains(logs, v[i:i+48]) {
				t.Errorf("the log holds a SAMLResponse")
				break
			}
		}
		if raw, err := base64.StdEncoding.DecodeString(v); err == nil {
			doc := etree.NewDocument()
			if doc.ReadFromBytes(raw) == nil {
				if st := doc.FindElement("//AuthnStatement"); st != nil {
					if idx := st.SelectAttrValue("SessionIndex", ""); idx != "" && strings.Contains(logs, idx) {
						t.Errorf("the log holds a SessionIndex")
					}
				}
			}
		}
	}
}

// The login page's button, the signed AuthnRequest by the POST binding,
// the IdP's login form, its Response to the endpoint: the first login
// creates the user from the mappers (username template, attributes, the
// role and group by memberOf) with a link to the NameID; the tokens carry
// the role and the group; another person's attributes map to neither; a
// second login (kc_idp_hint) reuses the user.
func TestBrokerSAMLLogin(t *testing.T) {
	corp, down := samlSetup(t)
	realm, _ := down.st.GetRealmByName(t.Context(), "down")

	b := newBrowser(t)
	at, page, ar := b.samlStart(down, corp, false)
	req := samlMessage(t, ar.Get("SAMLRequest"))
	for _, want := range []string{"AuthnRequest", "SignatureValue", `AssertionConsumerServiceURL="` + down.URL + samlCallback + `"`,
		`Format="` + samlPersistent + `"`, "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"} {
		if !strings.Contains(req, want) {
			t.Errorf("AuthnRequest lacks %q: %.600s", want, req)
		}
	}
	if !strings.Contains(page, `name="password"`) {
		t.Fatalf("no login form at the IdP: %.300s", page)
	}
	action, answer := b.samlAnswer(down, at, page, "alice")
	if answer.Get("RelayState") != ar.Get("RelayState") {
		t.Errorf("RelayState came back as %q", answer.Get("RelayState"))
	}
	status, cb, page := b.do(http.MethodPost, action, answer)
	if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("after the IdP's Response: %d %.400s\n%s", status, page, down.log.String())
	}
	tok := samlTokens(t, down, cb)
	claims := jwtClaims(t, tok["access_token"].(string))
	if claims["preferred_username"] != "alice" || claims["email"] != "alice@corp.example" || claims["email_verified"] != true ||
		claims["given_name"] != "Alice" || claims["family_name"] != "Liddell" {
		t.Errorf("claims %v", claims)
	}
	if roles := realmRoles(claims); !slices.Contains(roles, "stackstate-admin") {
		t.Errorf("realm roles %v, want stackstate-admin (memberOf=admins)", roles)
	}
	if g := samlGroups(claims); !slices.Equal(g, []string{"/sre"}) {
		t.Errorf("groups %v, want [/sre] (memberOf=sre-oncall)", g)
	}
	if g := samlGroups(jwtClaims(t, tok["id_token"].(string))); !slices.Equal(g, []string{"/sre"}) {
		t.Errorf("ID token groups %v", g)
	}

	u, err := down.st.GetUserByUsername(t.Context(), realm.ID, "alice")
	if err != nil {
		t.Fatalf("no user alice (username template ${ATTRIBUTE.uid}): %v", err)
	}
	if claims["sub"] != u.ID {
		t.Errorf("sub %v, user %s", claims["sub"], u.ID)
	}
	if u.FirstName != "Alice" || u.LastName != "Liddell" || u.Email != "alice@corp.example" || !u.EmailVerified {
		t.Errorf("user %+v", u)
	}
	if got := u.Attributes["displayName"]; !slices.Equal(got, []string{"Alice Liddell"}) {
		t.Errorf("displayName %v (cn mapper), attributes %v", got, u.Attributes)
	}
	fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, u.ID)
	if len(fis) != 1 || fis[0].Alias != "corp" || fis[0].ExternalID != samlNameID("alice") || fis[0].ExternalName != samlNameID("alice") {
		t.Errorf("federated identities %+v, want corp / %s", fis, samlNameID("alice"))
	}
	ss := samlSessions(t, down.st, "alice")
	if len(ss) != 1 {
		t.Fatalf("%d sessions", len(ss))
	}
	if alias, nameID, idx := samlSessionBroker(t, ss[0]); alias != "corp" || nameID != samlNameID("alice") || idx == "" {
		t.Errorf("session remembers alias %q, NameID %q, a SessionIndex: %v", alias, nameID, idx != "")
	}

	// bob is in neither group: no role, no group.
	cbBob, answerBob := newBrowser(t).samlLogin(down, corp, "bob")
	cBob := jwtClaims(t, samlTokens(t, down, cbBob)["access_token"].(string))
	if cBob["preferred_username"] != "bob" || slices.Contains(realmRoles(cBob), "stackstate-admin") || len(samlGroups(cBob)) != 0 {
		t.Errorf("bob's claims %v", cBob)
	}

	// A second login, in another browser straight to corp: the same user.
	b3 := newBrowser(t)
	at, page, _ = b3.samlStart(down, corp, true)
	action, answer3 := b3.samlAnswer(down, at, page, "alice")
	if _, cb3, page := b3.do(http.MethodPost, action, answer3); cb3 == nil {
		t.Fatalf("second login: %.400s", page)
	} else if c3 := jwtClaims(t, samlTokens(t, down, cb3)["access_token"].(string)); c3["sub"] != u.ID || !slices.Contains(realmRoles(c3), "stackstate-admin") {
		t.Errorf("second login: sub %v roles %v, want %s", c3["sub"], realmRoles(c3), u.ID)
	}
	if n, _ := down.st.CountUsers(t.Context(), realm.ID, store.UserQuery{}); n != 2 {
		t.Errorf("%d users after three logins of two people", n)
	}
	if fis, _ := down.st.ListFederatedIdentities(t.Context(), realm.ID, u.ID); len(fis) != 1 {
		t.Errorf("links after the second login: %+v", fis)
	}

	// Under FORCE the mappers own what they granted: alice leaves admins
	// and the SRE group at the IdP, and her next login loses both.
	body, _ := json.Marshal(samlidp.User{Name: "alice", Email: "alice@corp.example", GivenName: "Alice", Surname: "Liddell",
		CommonName: "Alice Liddell", Groups: []string{"staff"}})
	corp.put(t, "/users/alice", body)
	cb4, answer4 := newBrowser(t).samlLogin(down, corp, "alice")
	c4 := jwtClaims(t, samlTokens(t, down, cb4)["access_token"].(string))
	if c4["sub"] != u.ID || slices.Contains(realmRoles(c4), "stackstate-admin") || len(samlGroups(c4)) != 0 {
		t.Errorf("after leaving the groups at the IdP: sub %v roles %v groups %v", c4["sub"], realmRoles(c4), samlGroups(c4))
	}
	samlNoMessagesLogged(t, down.log.String(), answer, answerBob, answer3, answer4)
}

// samlLogoutRequest is a LogoutRequest from the IdP to down's endpoint for
// nameID and sessionIndex, signed with kp (POST binding).
func samlLogoutRequest(t *testing.T, corp *samlCorp, down *keygate, kp samlKeyPair, nameID, sessionIndex string) (string, url.Values) {
	t.Helper()
	id := "_lr-" + strings.ToLower(rand.Text())
	lr := &crewsaml.LogoutRequest{ID: id, Version: "2.0", IssueInstant: time.Now().UTC(), Destination: down.URL + samlCallback,
		Issuer: &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: corp.entityID()},
		NameID: &crewsaml.NameID{Format: samlPersistent, Value: nameID}}
	if sessionIndex != "" {
		lr.SessionIndex = &crewsaml.SessionIndex{Value: sessionIndex}
	}
	return id, url.Values{"SAMLRequest": {base64.StdEncoding.EncodeToString(samlDoc(t, samlSign(t, kp, lr.Element())))}, "RelayState": {"idp-rs-1"}}
}

// samlSign signs el (enveloped, exclusive c14n, RSA-SHA256) and puts the
// Signature after the Issuer, as the schema orders it.
func samlSign(t *testing.T, kp samlKeyPair, el *etree.Element) *etree.Element {
	t.Helper()
	ctx, err := dsig.NewSigningContext(kp.key, [][]byte{kp.cert.Raw})
	if err != nil {
		t.Fatal(err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		t.Fatal(err)
	}
	signed, err := ctx.SignEnveloped(el)
	if err != nil {
		t.Fatal(err)
	}
	sig := signed.Child[len(signed.Child)-1]
	signed.RemoveChildAt(len(signed.Child) - 1)
	at := 0
	if iss := signed.SelectElement("Issuer"); iss != nil {
		at = iss.Index() + 1
	}
	signed.InsertChildAt(at, sig)
	return signed
}

func samlDoc(t *testing.T, el *etree.Element) []byte {
	t.Helper()
	doc := etree.NewDocument()
	doc.SetRoot(el)
	b, err := doc.WriteToBytes()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// samlPostPlain posts form to target from a client with no cookies (the
// IdP's front channel in a browser that has none of keygate's).
func samlPostPlain(t *testing.T, target string, form url.Values) (int, string) {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(target, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

// Single logout both ways. RP-initiated: keygate ends its session, sends
// the browser to the IdP with a signed LogoutRequest for the login's NameID
// and SessionIndex, takes the IdP's LogoutResponse at the endpoint and
// lands on post_logout_redirect_uri; the IdP's session is gone too.
// IdP-initiated: samlidp's own logout sends its LogoutRequest through the
// browser, and only the keygate session of that IdP session ends; a
// LogoutRequest signed by the IdP, from a browser without keygate's
// cookies, ends the session it names by NameID and SessionIndex and is
// answered with a signed LogoutResponse, once; one signed by another key
// ends nothing.
func TestBrokerSAMLLogoutBothWays(t *testing.T) {
	corp, down := samlSetup(t)
	b := newBrowser(t)
	cb, _ := b.samlLogin(down, corp, "alice")
	tok := samlTokens(t, down, cb)
	ss := samlSessions(t, down.st, "alice")
	if len(ss) != 1 {
		t.Fatalf("%d sessions after login", len(ss))
	}
	_, nameID, idx := samlSessionBroker(t, ss[0])
	// Control: the IdP session signs a browser with its cookie in at once.
	if _, page, _ := b.samlIdPOnly(corp).samlStart(down, corp, false); strings.Contains(page, `name="password"`) {
		t.Fatal("the IdP asks again before any logout: the checks below would prove nothing")
	}

	t.Run("RP-initiated", func(t *testing.T) {
		q := url.Values{"id_token_hint": {tok["id_token"].(string)}, "post_logout_redirect_uri": {samlByeRedirect}, "state": {"bye-1"}}
		status, at, page := b.do(http.MethodGet, down.URL+"/realms/down/protocol/openid-connect/logout?"+q.Encode(), nil)
		action, f, ok := samlFirstForm(t, at, page)
		if status != 200 || !ok || action != corp.URL+"/slo" || f.Get("RelayState") == "" {
			t.Fatalf("logout did not go to the IdP's SLO: %d %s %.300s", status, action, page)
		}
		lr := samlMessage(t, f.Get("SAMLRequest"))
		for _, want := range []string{"LogoutRequest", "SignatureValue", ">" + nameID + "<", ">" + idx + "<", `Destination="` + corp.URL + `/slo"`} {
			if !strings.Contains(lr, want) {
				t.Errorf("LogoutRequest lacks %q: %.600s", want, lr)
			}
		}
		status, at, page = b.samlAutoPost(status, at, page)
		if at == nil || !strings.HasPrefix(at.String(), samlByeRedirect) || at.Query().Get("state") != "bye-1" {
			t.Fatalf("after the IdP's LogoutResponse: %d %s %.300s\n%s", status, at, page, down.log.String())
		}
		if strings.Contains(down.log.String(), "logout response refused") {
			t.Errorf("keygate refused the IdP's LogoutResponse:\n%s", down.log.String())
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 0 {
			t.Errorf("%d keygate sessions after logout", len(ss))
		}
		// The IdP's session ended: it asks for the password again.
		if _, page, _ := b.samlIdPOnly(corp).samlStart(down, corp, false); !strings.Contains(page, `name="password"`) {
			t.Errorf("the IdP session outlived the logout: %.300s", page)
		}
	})

	t.Run("IdP-initiated", func(t *testing.T) {
		cb1, _ := b.samlLogin(down, corp, "alice")
		b2 := newBrowser(t)
		cb2, _ := b2.samlLogin(down, corp, "alice")
		ss := samlSessions(t, down.st, "alice")
		if len(ss) != 2 {
			t.Fatalf("%d sessions, want 2", len(ss))
		}
		rt1 := samlTokens(t, down, cb1)["refresh_token"].(string)
		tok2 := samlTokens(t, down, cb2)
		rt2, sid2 := tok2["refresh_token"].(string), jwtClaims(t, tok2["access_token"].(string))["sid"].(string)

		// samlidp's logout: its LogoutRequest by the Redirect binding to
		// keygate, keygate's LogoutResponse posted back to the IdP.
		status, at, page := b.do(http.MethodGet, corp.URL+"/logout", nil)
		action, f, ok := samlFirstForm(t, at, page)
		if status != 200 || !ok || at.Path != samlCallback || action != corp.URL+"/slo" || f.Get("SAMLResponse") == "" {
			t.Fatalf("keygate's answer to the IdP's LogoutRequest: %d %s %s %.300s\n%s", status, at, action, page, down.log.String())
		}
		if resp := samlMessage(t, f.Get("SAMLResponse")); !strings.Contains(resp, "LogoutResponse") || !strings.Contains(resp, "SignatureValue") ||
			!strings.Contains(resp, crewsaml.StatusSuccess) {
			t.Errorf("LogoutResponse %.600s", resp)
		}
		status, _, page = b.samlAutoPost(status, at, page)
		if status != 200 || !strings.Contains(page, "logged out") && !strings.Contains(page, "Logged out") {
			t.Errorf("the IdP's logout did not finish: %d %.300s", status, page)
		}
		ss = samlSessions(t, down.st, "alice")
		if len(ss) != 1 || ss[0].ID != sid2 {
			t.Fatalf("sessions after the IdP's logout: %d, want only the other browser's %s", len(ss), sid2)
		}
		if st := samlRefresh(t, down, rt1); st == http.StatusOK {
			t.Errorf("the ended session's refresh token still works")
		}
		if st := samlRefresh(t, down, rt2); st != http.StatusOK {
			t.Errorf("the other browser's refresh token: %d", st)
		}
		// b is logged out of keygate: the login page again.
		if st, _, page := b.do(http.MethodGet, authorizeURL(down, nil), nil); st != 200 || !strings.Contains(page, "social-corp") {
			t.Errorf("b still signed in at keygate: %d", st)
		}

		// A LogoutRequest the IdP signed, from a browser with no cookies.
		_, nameID2, idx2 := samlSessionBroker(t, ss[0])
		_, forged := samlLogoutRequest(t, corp, down, samlForeignKey(), nameID2, idx2)
		if st, _ := samlPostPlain(t, down.URL+samlCallback, forged); st != http.StatusUnauthorized {
			t.Errorf("LogoutRequest signed by another key: %d", st)
		}
		_, otherIdx := samlLogoutRequest(t, corp, down, corp.keys, nameID2, "not-"+idx2)
		if st, _ := samlPostPlain(t, down.URL+samlCallback, otherIdx); st != 200 {
			t.Errorf("LogoutRequest for another SessionIndex: %d", st)
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 1 {
			t.Fatalf("a refused or foreign LogoutRequest ended a session: %d left", len(ss))
		}
		lrID, good := samlLogoutRequest(t, corp, down, corp.keys, nameID2, idx2)
		st, page := samlPostPlain(t, down.URL+samlCallback, good)
		action, f, ok = samlFirstForm(t, &url.URL{}, page)
		if st != 200 || !ok || action != corp.URL+"/slo" || f.Get("RelayState") != "idp-rs-1" {
			t.Fatalf("answer to the IdP's LogoutRequest: %d %s %.300s", st, action, page)
		}
		resp := samlMessage(t, f.Get("SAMLResponse"))
		if samlAttr(t, resp, "LogoutResponse", "InResponseTo") != lrID || !strings.Contains(resp, "SignatureValue") ||
			samlAttr(t, resp, "StatusCode", "Value") != crewsaml.StatusSuccess {
			t.Errorf("LogoutResponse %.600s", resp)
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 0 {
			t.Errorf("the named session outlived the IdP's LogoutRequest: %d left", len(ss))
		}
		if st := samlRefresh(t, down, rt2); st == http.StatusOK {
			t.Errorf("the named session's refresh token still works")
		}
		if _, err := down.st.GetSession(t.Context(), ss[0].RealmID, sid2); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %s: %v", sid2, err)
		}
		// The same LogoutRequest again: refused, not a 500.
		if st, _ := samlPostPlain(t, down.URL+samlCallback, good); st != http.StatusUnauthorized {
			t.Errorf("replayed LogoutRequest: %d", st)
		}
		if !strings.Contains(down.log.String(), "logout requested by the identity provider") {
			t.Errorf("no log line for the IdP's logout")
		}

		// Without a SessionIndex: every session of the NameID through corp.
		newBrowser(t).samlLogin(down, corp, "alice")
		newBrowser(t).samlLogin(down, corp, "alice")
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 2 {
			t.Fatalf("%d sessions, want 2", len(ss))
		}
		_, all := samlLogoutRequest(t, corp, down, corp.keys, nameID2, "")
		if st, page := samlPostPlain(t, down.URL+samlCallback, all); st != 200 || !strings.Contains(page, "SAMLResponse") {
			t.Errorf("LogoutRequest without SessionIndex: %d %.300s", st, page)
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 0 {
			t.Errorf("%d sessions after a LogoutRequest for the whole NameID", len(ss))
		}
	})
	samlNoMessagesLogged(t, down.log.String())
}

// samlResponse is a Response of the IdP to the AuthnRequest requestID for
// down, with status and a signed assertion for alice (what a Success
// would carry).
func samlResponse(t *testing.T, corp *samlCorp, down *keygate, requestID, status string) string {
	t.Helper()
	now := time.Now().UTC()
	callback := down.URL + samlCallback
	a := &crewsaml.Assertion{ID: "_a-" + strings.ToLower(rand.Text()), IssueInstant: now, Version: "2.0",
		Issuer: crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: corp.entityID()},
		Subject: &crewsaml.Subject{NameID: &crewsaml.NameID{Format: samlPersistent, Value: samlNameID("alice")},
			SubjectConfirmations: []crewsaml.SubjectConfirmation{{Method: "urn:oasis:names:tc:SAML:2.0:cm:bearer",
				SubjectConfirmationData: &crewsaml.SubjectConfirmationData{InResponseTo: requestID, NotOnOrAfter: now.Add(2 * time.Minute), Recipient: callback}}}},
		Conditions: &crewsaml.Conditions{NotBefore: now.Add(-30 * time.Second), NotOnOrAfter: now.Add(2 * time.Minute),
			AudienceRestrictions: []crewsaml.AudienceRestriction{{Audience: crewsaml.Audience{Value: down.URL + "/realms/down"}}}},
		AuthnStatements: []crewsaml.AuthnStatement{{AuthnInstant: now, SessionIndex: "_hostile-session-77",
			AuthnContext: crewsaml.AuthnContext{AuthnContextClassRef: &crewsaml.AuthnContextClassRef{Value: "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"}}}},
		AttributeStatements: []crewsaml.AttributeStatement{{Attributes: []crewsaml.Attribute{
			{Name: "urn:oid:0.9.2342.19200300.100.1.1", FriendlyName: "uid", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "alice"}}},
			{Name: "memberOf", Values: []crewsaml.AttributeValue{{Type: "xs:string", Value: "admins"}}}}}},
	}
	r := &crewsaml.Response{ID: "_r-" + strings.ToLower(rand.Text()), InResponseTo: requestID, Version: "2.0", IssueInstant: now, Destination: callback,
		Issuer: &crewsaml.Issuer{Format: "urn:oasis:names:tc:SAML:2.0:nameid-format:entity", Value: corp.entityID()},
		Status: crewsaml.Status{StatusCode: crewsaml.StatusCode{Value: status}}}
	el := r.Element()
	el.AddChild(samlSign(t, corp.keys, a.Element()))
	return base64.StdEncoding.EncodeToString(samlDoc(t, el))
}

// What the endpoint refuses, each with a page and never a 500: the same
// Response twice; a Response posted in another browser than the one that
// started the login (login CSRF), also one that has a login attempt of its
// own; a Response without RelayState or with an unknown one (the same
// Response is then accepted with its RelayState); a body over 2 MiB, at
// once; a Response whose status is not Success (samlidp's own error
// answer, and one that carries a signed assertion all the same, whose
// Success twin signs in). Nothing of the messages reaches the log.
func TestBrokerSAMLHostileAtEndpoint(t *testing.T) {
	corp, down := samlSetup(t)
	realm, _ := down.st.GetRealmByName(t.Context(), "down")
	endpoint := down.URL + samlCallback
	expired := "This page is no longer valid"
	var answers []url.Values

	t.Run("replay", func(t *testing.T) {
		b := newBrowser(t)
		at, page, _ := b.samlStart(down, corp, false)
		action, f := b.samlAnswer(down, at, page, "alice")
		answers = append(answers, f)
		if _, cb, page := b.do(http.MethodPost, action, f); cb == nil {
			t.Fatalf("login: %.300s", page)
		}
		status, _, page := b.do(http.MethodPost, action, f)
		if status != http.StatusBadRequest || !strings.Contains(page, expired) {
			t.Errorf("replayed Response: %d %.300s", status, page)
		}
		if ss := samlSessions(t, down.st, "alice"); len(ss) != 1 {
			t.Errorf("%d sessions after a login and its replay", len(ss))
		}
	})

	t.Run("login CSRF", func(t *testing.T) {
		// The attacker's own login, its Response posted in the victim's
		// browser: one without keygate's cookies, one with a login attempt
		// of its own.
		for _, victimHasAttempt := range []bool{false, true} {
			attacker := newBrowser(t)
			at, page, _ := attacker.samlStart(down, corp, false)
			action, f := attacker.samlAnswer(down, at, page, "bob")
			answers = append(answers, f)
			victim := newBrowser(t)
			if victimHasAttempt {
				if st, _, page := victim.do(http.MethodGet, authorizeURL(down, nil), nil); st != 200 || !strings.Contains(page, "social-corp") {
					t.Fatalf("victim's login page: %d", st)
				}
			}
			status, cb, page := victim.do(http.MethodPost, action, f)
			if status != http.StatusBadRequest || cb != nil && strings.HasPrefix(cb.String(), appRedirect) || !strings.Contains(page, "Cookie not found") {
				t.Errorf("Response in another browser (own attempt %v): %d %s %.300s", victimHasAttempt, status, cb, page)
			}
			// The Response is spent: not even its own browser gets in now.
			if status, _, _ := attacker.do(http.MethodPost, action, f); status != http.StatusBadRequest {
				t.Errorf("Response after it was refused once: %d", status)
			}
		}
		if _, err := down.st.GetUserByUsername(t.Context(), realm.ID, "bob"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("bob exists after refused logins: %v", err)
		}
	})

	t.Run("unsolicited", func(t *testing.T) {
		b := newBrowser(t)
		at, page, _ := b.samlStart(down, corp, false)
		action, f := b.samlAnswer(down, at, page, "alice")
		answers = append(answers, f)
		for _, rs := range []string{"", "nope", "ID_" + strings.ToLower(rand.Text())} {
			form := url.Values{"SAMLResponse": {f.Get("SAMLResponse")}}
			if rs != "" {
				form.Set("RelayState", rs)
			}
			status, cb, page := b.do(http.MethodPost, endpoint, form)
			if status != http.StatusBadRequest || cb != nil && strings.HasPrefix(cb.String(), appRedirect) || !strings.Contains(page, expired) {
				t.Errorf("Response with RelayState %q: %d %.300s", rs, status, page)
			}
		}
		// The same Response with its RelayState was fine all along.
		if _, cb, page := b.do(http.MethodPost, action, f); cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
			t.Errorf("the Response with its RelayState: %.300s", page)
		}
	})

	t.Run("large bodies", func(t *testing.T) {
		// Over 2 MiB, for a pending login of this browser: refused before
		// it is read to the end, the pending login left as it was.
		b := newBrowser(t)
		at, page, ar := b.samlStart(down, corp, false)
		body := url.Values{"RelayState": {ar.Get("RelayState")}, "SAMLResponse": {strings.Repeat("A", 3<<20)}}.Encode()
		req, _ := http.NewRequest(http.MethodPost, endpoint, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		start := time.Now()
		resp, err := b.c.Do(req)
		if err != nil {
			t.Fatalf("3 MiB body: %v", err)
		}
		refused, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusRequestEntityTooLarge || !strings.Contains(string(refused), "Invalid Request") {
			t.Errorf("3 MiB body: %d %.300s", resp.StatusCode, refused)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("3 MiB body took %v", d)
		}
		action, f := b.samlAnswer(down, at, page, "alice")
		answers = append(answers, f)
		if _, cb, page := b.do(http.MethodPost, action, f); cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
			t.Errorf("the login after a refused 3 MiB body: %.300s", page)
		}

		// Under 2 MiB but over the 1 MiB a SAML message may have: refused.
		b = newBrowser(t)
		_, _, ar = b.samlStart(down, corp, false)
		big := base64.StdEncoding.EncodeToString([]byte("<samlp:Response" + strings.Repeat(" ", 1<<20+100) + "/>"))
		start = time.Now()
		status, cb, page := b.do(http.MethodPost, endpoint, url.Values{"SAMLResponse": {big}, "RelayState": {ar.Get("RelayState")}})
		if status != http.StatusUnauthorized || cb != nil && strings.HasPrefix(cb.String(), appRedirect) {
			t.Errorf("1.4 MiB Response: %d %.200s", status, page)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("1.4 MiB Response took %v", d)
		}
	})

	t.Run("status not Success", func(t *testing.T) {
		// carol's NameID is her email; keygate asks for persistent ones:
		// samlidp answers Requester / InvalidNameIDPolicy.
		b := newBrowser(t)
		at, page, _ := b.samlStart(down, corp, false)
		action, f := b.samlAnswer(down, at, page, "carol")
		answers = append(answers, f)
		if msg := samlMessage(t, f.Get("SAMLResponse")); !strings.Contains(msg, crewsaml.StatusInvalidNameIDPolicy) {
			t.Fatalf("samlidp did not refuse carol: %.600s", msg)
		}
		status, _, page := b.do(http.MethodPost, action, f)
		if status != http.StatusUnauthorized || !strings.Contains(page, "Could not authenticate with identity provider") {
			t.Errorf("error Response: %d %.300s", status, page)
		}
		if _, err := down.st.GetUserByUsername(t.Context(), realm.ID, "carol"); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("carol exists: %v", err)
		}

		// A Response with a failed status and a well-signed assertion in
		// it; its Success twin, for another login, signs alice in.
		for _, status := range []string{crewsaml.StatusRequester, crewsaml.StatusSuccess} {
			b := newBrowser(t)
			_, _, ar := b.samlStart(down, corp, false)
			reqID := samlAttr(t, samlMessage(t, ar.Get("SAMLRequest")), "AuthnRequest", "ID")
			form := url.Values{"SAMLResponse": {samlResponse(t, corp, down, reqID, status)}, "RelayState": {ar.Get("RelayState")}}
			answers = append(answers, form)
			code, cb, page := b.do(http.MethodPost, endpoint, form)
			if status == crewsaml.StatusSuccess {
				if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
					t.Errorf("the Success twin was refused: %d %.300s\n%s", code, page, down.log.String())
				}
				continue
			}
			if code != http.StatusUnauthorized || !strings.Contains(page, "Could not authenticate with identity provider") {
				t.Errorf("%s Response: %d %.300s", status, code, page)
			}
			for _, leak := range []string{form.Get("SAMLResponse")[40:100], samlNameID("alice"), "_hostile-session-77", "Assertion", "urn:oasis"} {
				if strings.Contains(page, leak) {
					t.Errorf("the error page shows %q", leak)
				}
			}
		}
	})
	samlNoMessagesLogged(t, down.log.String(), answers...)
}

// samlOpenPostgres opens a store on dsn's schema.
func samlOpenPostgres(t *testing.T, dsn string) store.Store {
	t.Helper()
	st, err := postgres.Open(t.Context(), dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// Two keygates, each with its own connection to one PostgreSQL schema,
// behind one address (a load balancer that sends each request where the
// test says): a login started at A is finished at B; the same Response at
// A afterwards is refused; the same Response at A and B at once signs in
// once; and the assertion id B recorded is a conflict through A's store,
// as any replay key created through one replica is through the other.
func TestBrokerSAMLReplicasOnPostgres(t *testing.T) {
	dsn := os.Getenv("KEYGATE_TEST_POSTGRES")
	if dsn == "" {
		t.Skip("set KEYGATE_TEST_POSTGRES to run the SAML broker on two replicas over PostgreSQL")
	}
	schema := "keygate_saml_" + strings.ToLower(rand.Text()[:12])
	u, err := url.Parse(dsn)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("schema", schema)
	u.RawQuery = q.Encode()
	stA := samlOpenPostgres(t, u.String())
	t.Cleanup(func() {
		db, err := pgx.Connect(context.Background(), dsn)
		if err != nil {
			t.Error(err)
			return
		}
		defer db.Close(context.Background())
		if _, err := db.Exec(context.Background(), "DROP SCHEMA IF EXISTS "+pgx.Identifier{schema}.Sanitize()+" CASCADE"); err != nil {
			t.Error(err)
		}
	})
	stB := samlOpenPostgres(t, u.String())

	replica := func(st store.Store) (http.Handler, *logBuffer) {
		logs := &logBuffer{}
		srv, err := idp.NewServer(st, idp.Config{Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))})
		if err != nil {
			t.Fatal(err)
		}
		srv.SetReady()
		return srv.Handler(), logs
	}
	hA, logA := replica(stA)
	hB, logB := replica(stB)
	var toB atomic.Bool
	front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.Header.Get("X-Replica") {
		case "a":
			hA.ServeHTTP(w, r)
		case "b":
			hB.ServeHTTP(w, r)
		default:
			if toB.Load() {
				hB.ServeHTTP(w, r)
			} else {
				hA.ServeHTTP(w, r)
			}
		}
	}))
	t.Cleanup(front.Close)
	a := &keygate{URL: front.URL, st: stA, log: logA}
	bk := &keygate{URL: front.URL, st: stB, log: logB}
	corp := newSAMLCorp(t)
	a.importRealm(t, samlRealm(corp))
	corp.register(t, front.URL)
	realm, err := stB.GetRealmByName(t.Context(), "down")
	if err != nil {
		t.Fatal(err)
	}

	// Started at A, finished at B.
	br := newBrowser(t)
	at, page, _ := br.samlStart(a, corp, false)
	action, f := br.samlAnswer(a, at, page, "alice")
	toB.Store(true)
	status, cb, page := br.do(http.MethodPost, action, f)
	if cb == nil || !strings.HasPrefix(cb.String(), appRedirect) {
		t.Fatalf("B finishing A's login: %d %.300s\nA:\n%s\nB:\n%s", status, page, logA.String(), logB.String())
	}
	if !strings.Contains(logB.String(), "brokered user created") || strings.Contains(logA.String(), "brokered user created") {
		t.Errorf("the login was not finished at B:\nA:\n%s\nB:\n%s", logA.String(), logB.String())
	}
	claims := jwtClaims(t, samlTokens(t, bk, cb)["access_token"].(string))
	if claims["preferred_username"] != "alice" || !slices.Contains(realmRoles(claims), "stackstate-admin") {
		t.Errorf("claims %v", claims)
	}

	// The same Response at A: refused.
	toB.Store(false)
	if status, cb, page := br.do(http.MethodPost, action, f); status != http.StatusBadRequest || cb != nil && strings.HasPrefix(cb.String(), appRedirect) ||
		!strings.Contains(page, "This page is no longer valid") {
		t.Errorf("replay at A: %d %.300s", status, page)
	}
	if ss := samlSessions(t, stA, "alice"); len(ss) != 1 {
		t.Errorf("%d sessions", len(ss))
	}

	// The assertion id B consumed is in the store A reads.
	msg := samlMessage(t, f.Get("SAMLResponse"))
	key := samlbroker.ReplayKey(corp.entityID(), samlAttr(t, msg, "Assertion", "ID"))
	if tok, err := stA.GetToken(t.Context(), store.KindReplay, key); err != nil || tok.RealmID != realm.ID || !tok.Expires.After(time.Now()) {
		t.Errorf("replay record of the assertion, read at A: %+v %v", tok, err)
	}
	// BrokerEnv.Replay of each replica, as the server makes it.
	replay := func(st store.Store, key string) error {
		return st.CreateToken(t.Context(), store.Token{Kind: store.KindReplay, Signature: key, RequestID: key, RealmID: realm.ID,
			Active: true, Requested: time.Now(), Expires: time.Now().Add(5 * time.Minute)})
	}
	if err := replay(stA, key); !errors.Is(err, store.ErrConflict) {
		t.Errorf("the assertion B consumed, again at A: %v, want a conflict", err)
	}
	fresh := samlbroker.ReplayKey(corp.entityID(), "_fresh-"+strings.ToLower(rand.Text()))
	if err := replay(stA, fresh); err != nil {
		t.Fatalf("first use at A: %v", err)
	}
	if err := replay(stB, fresh); !errors.Is(err, store.ErrConflict) {
		t.Errorf("second use at B: %v, want a conflict", err)
	}

	// One Response at both replicas at once: one login.
	br2 := newBrowser(t)
	at, page, _ = br2.samlStart(a, corp, false)
	action, f = br2.samlAnswer(a, at, page, "alice")
	var wg sync.WaitGroup
	codes := make([]int, 2)
	locs := make([]string, 2)
	for i, r := range []string{"a", "b"} {
		wg.Go(func() {
			req, _ := http.NewRequest(http.MethodPost, action, strings.NewReader(f.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("X-Replica", r)
			resp, err := br2.c.Do(req)
			if err != nil {
				t.Error(err)
				return
			}
			resp.Body.Close()
			codes[i], locs[i] = resp.StatusCode, resp.Header.Get("Location")
		})
	}
	wg.Wait()
	in := 0
	for i := range codes {
		switch {
		case codes[i]/100 == 3 && strings.HasPrefix(locs[i], appRedirect) && strings.Contains(locs[i], "code="):
			in++
		case codes[i] == http.StatusBadRequest || codes[i] == http.StatusUnauthorized:
		default:
			t.Errorf("replica %d answered %d %s", i, codes[i], locs[i])
		}
	}
	if in != 1 {
		t.Errorf("the same Response at two replicas at once signed in %d times (%v %v)", in, codes, locs)
	}
	if ss := samlSessions(t, stA, "alice"); len(ss) != 2 {
		t.Errorf("%d sessions after two logins", len(ss))
	}

	// The IdP's LogoutRequest, at whichever replica, ends the sessions
	// (wherever they were made) it names.
	for i, s := range samlSessions(t, stB, "alice") {
		_, nameID, idx := samlSessionBroker(t, s)
		_, lr := samlLogoutRequest(t, corp, a, corp.keys, nameID, idx)
		toB.Store(i%2 == 1)
		if st, page := samlPostPlain(t, front.URL+samlCallback, lr); st != 200 || !strings.Contains(page, "SAMLResponse") {
			t.Errorf("LogoutRequest at replica %d: %d %.300s", i, st, page)
		}
		if _, err := stA.GetSession(t.Context(), realm.ID, s.ID); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("session %d after the IdP's LogoutRequest: %v", i, err)
		}
	}
	samlNoMessagesLogged(t, logA.String()+logB.String(), f)
}

// An IdP session that signed in to keygate twice (keygate's SSO cookie is
// a browser-session cookie, the IdP's outlives a browser restart, so the
// IdP answers the next login at once with the same SessionIndex): the
// IdP's LogoutRequest for that SessionIndex must end both keygate
// sessions, and the refresh token of the first must stop working.
func TestBrokerSAMLIdPLogoutEndsEverySessionOfItsIndex(t *testing.T) {
	corp, down := samlSetup(t)
	b := newBrowser(t)
	cb1, _ := b.samlLogin(down, corp, "alice")
	tok1 := samlTokens(t, down, cb1)

	// The browser restarts: keygate's cookies are gone, the IdP's are not.
	restarted := b.samlIdPOnly(corp)
	at, page, _ := restarted.samlStart(down, corp, false)
	if strings.Contains(page, `name="password"`) {
		t.Fatal("the IdP asked for the password again: no shared IdP session to test")
	}
	action, f := restarted.samlAnswer(down, at, page, "alice")
	if _, cb, page := restarted.do(http.MethodPost, action, f); cb == nil {
		t.Fatalf("second login: %.300s", page)
	}
	ss := samlSessions(t, down.st, "alice")
	if len(ss) != 2 {
		t.Fatalf("%d sessions, want 2", len(ss))
	}
	_, n1, i1 := samlSessionBroker(t, ss[0])
	_, n2, i2 := samlSessionBroker(t, ss[1])
	if n1 != n2 || i1 != i2 {
		t.Fatalf("the two sessions came from different IdP sessions (%s %s / %s %s)", n1, i1, n2, i2)
	}

	// The person logs out at the IdP.
	status, at, page := restarted.do(http.MethodGet, corp.URL+"/logout", nil)
	if _, _, page = restarted.samlAutoPost(status, at, page); !strings.Contains(page, "logged out") {
		t.Fatalf("IdP logout: %.300s", page)
	}
	if ss := samlSessions(t, down.st, "alice"); len(ss) != 0 {
		t.Errorf("%d keygate session(s) of the IdP session outlived the IdP's LogoutRequest for it", len(ss))
	}
	if st := samlRefresh(t, down, tok1["refresh_token"].(string)); st == http.StatusOK {
		t.Errorf("the first session's refresh token still works after the IdP's logout")
	}
}
