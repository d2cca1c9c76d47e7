package templates

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/a-h/templ"
	"golang.org/x/net/html"
)

// --- helpers -------------------------------------------------------------

func render(t *testing.T, c templ.Component) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatalf("render: %v", err)
	}
	return buf.String()
}

// parse parses like a browser with JavaScript off, so <noscript> content
// is markup rather than text.
func parse(t *testing.T, s string) *html.Node {
	t.Helper()
	doc, err := html.ParseWithOptions(strings.NewReader(s), html.ParseOptionEnableScripting(false))
	if err != nil {
		t.Fatalf("parse: %v", err)
	}
	return doc
}

func renderDoc(t *testing.T, c templ.Component) *html.Node {
	t.Helper()
	return parse(t, render(t, c))
}

func findAll(n *html.Node, pred func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && pred(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func tag(name string) func(*html.Node) bool {
	return func(n *html.Node) bool { return n.Data == name }
}

func attr(n *html.Node, key string) (string, bool) {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val, true
		}
	}
	return "", false
}

func attrOf(n *html.Node, key string) string { v, _ := attr(n, key); return v }

func byID(t *testing.T, doc *html.Node, id string) *html.Node {
	t.Helper()
	found := findAll(doc, func(n *html.Node) bool { return attrOf(n, "id") == id })
	if len(found) != 1 {
		t.Fatalf("want exactly one element with id %q, found %d", id, len(found))
	}
	return found[0]
}

func hasID(doc *html.Node, id string) bool {
	return len(findAll(doc, func(n *html.Node) bool { return attrOf(n, "id") == id })) > 0
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.Join(strings.Fields(b.String()), " ")
}

func inputNamed(t *testing.T, scope *html.Node, name string) *html.Node {
	t.Helper()
	found := findAll(scope, func(n *html.Node) bool { return n.Data == "input" && attrOf(n, "name") == name })
	if len(found) != 1 {
		t.Fatalf("want one input named %q, found %d", name, len(found))
	}
	return found[0]
}

func wantAttr(t *testing.T, n *html.Node, key, want string) {
	t.Helper()
	got, ok := attr(n, key)
	if !ok {
		t.Errorf("<%s id=%q>: missing %s, want %q", n.Data, attrOf(n, "id"), key, want)
	} else if got != want {
		t.Errorf("<%s id=%q>: %s = %q, want %q", n.Data, attrOf(n, "id"), key, got, want)
	}
}

func wantNoAttr(t *testing.T, n *html.Node, key string) {
	t.Helper()
	if v, ok := attr(n, key); ok {
		t.Errorf("<%s id=%q>: unexpected %s=%q", n.Data, attrOf(n, "id"), key, v)
	}
}

// before reports whether a precedes b in document order.
func before(doc, a, b *html.Node) bool {
	seenA := false
	for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
		if n == a {
			seenA = true
		}
		if n == b {
			return seenA
		}
	}
	return false
}

// labelsBound checks every <label for> names an existing form control and
// every visible control has a label.
func labelsBound(t *testing.T, doc *html.Node) {
	t.Helper()
	controls := map[string]*html.Node{}
	for _, in := range findAll(doc, tag("input")) {
		if id := attrOf(in, "id"); id != "" {
			controls[id] = in
		}
	}
	labelled := map[string]bool{}
	for _, l := range findAll(doc, tag("label")) {
		f := attrOf(l, "for")
		if _, ok := controls[f]; !ok {
			t.Errorf("label %q: for=%q names no input", text(l), f)
		}
		if text(l) == "" {
			t.Errorf("label for=%q is empty", f)
		}
		labelled[f] = true
	}
	for _, in := range findAll(doc, tag("input")) {
		switch attrOf(in, "type") {
		case "hidden", "submit", "button":
			continue
		}
		if !labelled[attrOf(in, "id")] {
			t.Errorf("input name=%q has no <label>", attrOf(in, "name"))
		}
	}
}

// newCmd runs name with a deadline, so a stuck browser cannot hang the test.
func newCmd(t *testing.T, name string, args ...string) *exec.Cmd {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return exec.CommandContext(ctx, name, args...)
}

func cspHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return "sha256-" + base64.StdEncoding.EncodeToString(sum[:])
}

var testPage = Page{RealmName: "acme", RealmDisplayName: "Acme Corp", Lang: "en", StylesheetURL: "/resources/keygate/style.test.css"}

// --- login ---------------------------------------------------------------

func TestLoginForm(t *testing.T) {
	doc := renderDoc(t, Login(LoginView{
		Page: testPage, FormAction: "/realms/acme/login-actions/authenticate?session_code=abc&client_id=app",
		CSRFToken: "csrf-123", Username: "alice", LoginWithEmail: true, RememberMe: true, ClientName: "Shop",
	}))

	form := byID(t, doc, "kc-form-login")
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", "/realms/acme/login-actions/authenticate?session_code=abc&client_id=app")
	wantAttr(t, inputNamed(t, form, "csrf_token"), "type", "hidden")
	wantAttr(t, inputNamed(t, form, "csrf_token"), "value", "csrf-123")

	user := byID(t, doc, "username")
	wantAttr(t, user, "name", "username")
	wantAttr(t, user, "value", "alice")
	wantAttr(t, user, "autocomplete", "username")
	wantAttr(t, user, "autofocus", "")
	wantAttr(t, user, "required", "")
	wantNoAttr(t, user, "aria-invalid")
	wantNoAttr(t, user, "aria-describedby")
	if user.Parent == nil || !before(doc, user, byID(t, doc, "password")) {
		t.Error("username must come before password")
	}

	pw := byID(t, doc, "password")
	wantAttr(t, pw, "name", "password")
	wantAttr(t, pw, "type", "password")
	wantAttr(t, pw, "autocomplete", "current-password")
	wantAttr(t, pw, "required", "")
	wantNoAttr(t, pw, "autofocus")
	wantNoAttr(t, pw, "value")

	rm := inputNamed(t, form, "rememberMe")
	wantAttr(t, rm, "type", "checkbox")
	wantNoAttr(t, rm, "checked")

	submit := byID(t, doc, "kc-login")
	wantAttr(t, submit, "type", "submit")
	wantAttr(t, submit, "name", "login")
	wantAttr(t, submit, "value", "Sign In")
	for _, id := range []string{"username", "password", "kc-login"} {
		if !before(doc, form, byID(t, doc, id)) || !isDescendant(byID(t, doc, id), form) {
			t.Errorf("#%s is not inside #kc-form-login", id)
		}
	}

	labelsBound(t, doc)
	labels := map[string]string{}
	for _, l := range findAll(doc, tag("label")) {
		labels[attrOf(l, "for")] = text(l)
	}
	if labels["username"] != "Username or email" || labels["password"] != "Password" || labels["rememberMe"] != "Remember me" {
		t.Errorf("labels = %v", labels)
	}

	if hasID(doc, "input-error") || len(findAll(doc, func(n *html.Node) bool { return attrOf(n, "role") == "alert" })) != 0 {
		t.Error("error alert rendered without an error")
	}
	if got := text(findAll(doc, tag("title"))[0]); got != "Sign in to Acme Corp" {
		t.Errorf("title = %q", got)
	}
	if got := text(byID(t, doc, "kc-header")); got != "A Acme Corp" {
		t.Errorf("header = %q", got)
	}
	if got := text(byID(t, doc, "kc-page-title")); got != "Sign in to your account" {
		t.Errorf("h1 = %q", got)
	}
	if !strings.Contains(text(doc), "to continue to Shop") {
		t.Error("client name missing")
	}
	checkLayout(t, doc, testPage)
}

func isDescendant(n, ancestor *html.Node) bool {
	for p := n.Parent; p != nil; p = p.Parent {
		if p == ancestor {
			return true
		}
	}
	return false
}

// checkLayout checks what every user-facing page shares.
func checkLayout(t *testing.T, doc *html.Node, p Page) {
	t.Helper()
	htmlEl := findAll(doc, tag("html"))[0]
	wantAttr(t, htmlEl, "lang", p.lang())
	if vp := findAll(doc, func(n *html.Node) bool { return n.Data == "meta" && attrOf(n, "name") == "viewport" }); len(vp) != 1 ||
		!strings.Contains(attrOf(vp[0], "content"), "width=device-width") {
		t.Error("viewport meta missing")
	}
	if cs := findAll(doc, func(n *html.Node) bool { return n.Data == "meta" && attrOf(n, "charset") != "" }); len(cs) != 1 {
		t.Error("charset meta missing")
	}
	links := findAll(doc, func(n *html.Node) bool { return n.Data == "link" && attrOf(n, "rel") == "stylesheet" })
	if len(links) != 1 || attrOf(links[0], "href") != p.StylesheetURL {
		t.Errorf("stylesheet links = %d, want one to %q", len(links), p.StylesheetURL)
	}
	if mains := findAll(doc, tag("main")); len(mains) != 1 {
		t.Errorf("want one <main>, got %d", len(mains))
	}
	if h1 := findAll(doc, tag("h1")); len(h1) != 1 {
		t.Errorf("want one <h1>, got %d", len(h1))
	}
	if !strings.Contains(text(findAll(doc, tag("title"))[0]), p.name()) {
		t.Errorf("title %q lacks realm name %q", text(findAll(doc, tag("title"))[0]), p.name())
	}
	if !strings.Contains(text(byID(t, doc, "kc-header")), p.name()) {
		t.Errorf("header lacks realm name %q", p.name())
	}
	for _, s := range findAll(doc, tag("script")) {
		t.Errorf("unexpected script: %q", text(s))
	}
	for _, n := range findAll(doc, func(*html.Node) bool { return true }) {
		for _, a := range n.Attr {
			if strings.HasPrefix(a.Key, "on") || a.Key == "style" {
				t.Errorf("<%s> has %s (blocked by the CSP)", n.Data, a.Key)
			}
		}
	}
}

func TestLoginError(t *testing.T) {
	msg := Message("invalidUserMessage")
	doc := renderDoc(t, Login(LoginView{Page: testPage, FormAction: "/x", CSRFToken: "c", Username: "bob", Error: msg}))

	alert := byID(t, doc, "input-error")
	wantAttr(t, alert, "role", "alert")
	if got := text(alert); got != "Invalid username or password." {
		t.Errorf("alert text = %q", got)
	}
	if !before(doc, alert, byID(t, doc, "kc-form-login")) {
		t.Error("#input-error must precede the form")
	}
	for _, id := range []string{"username", "password"} {
		in := byID(t, doc, id)
		wantAttr(t, in, "aria-invalid", "true")
		wantAttr(t, in, "aria-describedby", "input-error")
	}
	wantNoAttr(t, byID(t, doc, "username"), "autofocus")
	wantAttr(t, byID(t, doc, "password"), "autofocus", "")
	wantAttr(t, byID(t, doc, "username"), "value", "bob")
	if n := len(findAll(doc, func(n *html.Node) bool { _, ok := attr(n, "autofocus"); return ok })); n != 1 {
		t.Errorf("%d autofocus elements, want 1", n)
	}
}

func TestLoginVariants(t *testing.T) {
	doc := renderDoc(t, Login(LoginView{Page: Page{RealmName: "master"}, FormAction: "/x", RememberMe: true, RememberMeChecked: true}))
	if got := text(byID(t, doc, "kc-header")); got != "M master" {
		t.Errorf("header falls back to realm name: %q", got)
	}
	wantAttr(t, findAll(doc, tag("html"))[0], "lang", "en")
	if got := text(findAll(doc, tag("label"))[0]); got != "Username" {
		t.Errorf("username label without email login = %q", got)
	}
	wantAttr(t, byID(t, doc, "rememberMe"), "checked", "")
	if len(findAll(doc, func(n *html.Node) bool { return n.Data == "link" && attrOf(n, "rel") == "stylesheet" })) != 0 {
		t.Error("stylesheet link without StylesheetURL")
	}
	if strings.Contains(text(doc), "to continue to") {
		t.Error("client hint without client name")
	}

	doc = renderDoc(t, Login(LoginView{Page: testPage, FormAction: "/x"}))
	if hasID(doc, "rememberMe") {
		t.Error("remember-me shown although disabled")
	}
}

func TestLoginEscapesUserInput(t *testing.T) {
	const evil = `"><script>alert(1)</script>`
	p := Page{RealmName: "r", RealmDisplayName: evil, Lang: `en"><script>alert(2)</script>`, StylesheetURL: evil}
	out := render(t, Login(LoginView{
		Page: p, FormAction: evil, CSRFToken: evil, Username: evil, Error: evil, ClientName: evil, RememberMe: true,
	}))
	doc := parse(t, out)
	if s := findAll(doc, tag("script")); len(s) != 0 {
		t.Fatalf("user input produced %d <script> elements:\n%s", len(s), out)
	}
	if strings.Contains(out, "<script") {
		t.Fatalf("raw <script in output:\n%s", out)
	}
	wantAttr(t, byID(t, doc, "username"), "value", evil)
	wantAttr(t, inputNamed(t, doc, "csrf_token"), "value", evil)
	if got := text(byID(t, doc, "input-error")); got != strings.Join(strings.Fields(evil), " ") {
		t.Errorf("error text = %q", got)
	}
	if !strings.Contains(text(byID(t, doc, "kc-header")), evil) {
		t.Error("display name not shown as text")
	}
	if len(findAll(doc, tag("form"))) != 1 || len(findAll(doc, tag("input"))) != 5 {
		t.Errorf("markup injected: %d forms, %d inputs", len(findAll(doc, tag("form"))), len(findAll(doc, tag("input"))))
	}
}

func TestUnsafeURLsAreNeutralised(t *testing.T) {
	doc := renderDoc(t, Login(LoginView{Page: Page{RealmName: "r", StylesheetURL: "javascript:alert(1)"}, FormAction: "javascript:alert(1)"}))
	if a := attrOf(byID(t, doc, "kc-form-login"), "action"); strings.HasPrefix(a, "javascript") {
		t.Errorf("form action = %q", a)
	}
	doc = renderDoc(t, Error(ErrorView{Page: testPage, Title: "t", Message: "m", BackURL: "javascript:alert(1)"}))
	if h := attrOf(byID(t, doc, "backToApplication"), "href"); strings.HasPrefix(h, "javascript") {
		t.Errorf("back link = %q", h)
	}
}

// --- error / info / logout -----------------------------------------------

func TestErrorPage(t *testing.T) {
	doc := renderDoc(t, Error(ErrorView{
		Page: testPage, Title: Message("errorTitle"), Message: Message("invalidRedirectUriMessage"),
		BackURL: "https://app.example.com/", Status: http.StatusBadRequest,
	}))
	checkLayout(t, doc, testPage)
	msg := byID(t, doc, "kc-error-message")
	wantAttr(t, msg, "role", "alert")
	if got := text(msg); got != "Invalid parameter: redirect_uri" {
		t.Errorf("message = %q", got)
	}
	if got := text(byID(t, doc, "kc-page-title")); got != "We are sorry..." {
		t.Errorf("h1 = %q", got)
	}
	if !strings.Contains(text(doc), "400 · Bad Request") {
		t.Error("status text missing")
	}
	if got := text(findAll(doc, tag("title"))[0]); got != "We are sorry... · Acme Corp" {
		t.Errorf("title = %q", got)
	}
	back := byID(t, doc, "backToApplication")
	wantAttr(t, back, "href", "https://app.example.com/")
	if got := text(back); got != "« Back to Application" {
		t.Errorf("back link text = %q", got)
	}

	doc = renderDoc(t, Error(ErrorView{Page: testPage, Title: "t", Message: "m"}))
	if hasID(doc, "backToApplication") {
		t.Error("back link without BackURL")
	}
	if strings.Contains(text(doc), "·") && !strings.Contains(text(findAll(doc, tag("title"))[0]), "·") {
		t.Error("status caption without status")
	}
	if got := statusText(http.StatusServiceUnavailable); got != "503 · Service Unavailable" {
		t.Errorf("statusText(503) = %q", got)
	}
}

func TestInfoPage(t *testing.T) {
	doc := renderDoc(t, Info(InfoView{Page: testPage, Title: Message("successLogout"), BackURL: "https://app.example.com/"}))
	checkLayout(t, doc, testPage)
	if got := text(byID(t, doc, "kc-page-title")); got != "You are logged out" {
		t.Errorf("h1 = %q", got)
	}
	if hasID(doc, "kc-info-message") {
		t.Error("empty message rendered")
	}
	wantAttr(t, byID(t, doc, "backToApplication"), "href", "https://app.example.com/")

	doc = renderDoc(t, Info(InfoView{Page: testPage, Title: Message("pageExpiredTitle"), Message: Message("pageExpiredMessage")}))
	if got := text(byID(t, doc, "kc-info-message")); got != Message("pageExpiredMessage") {
		t.Errorf("message = %q", got)
	}
	if hasID(doc, "backToApplication") {
		t.Error("back link without BackURL")
	}
}

func TestLogoutConfirm(t *testing.T) {
	doc := renderDoc(t, LogoutConfirm(LogoutConfirmView{
		Page: testPage, FormAction: "/realms/acme/protocol/openid-connect/logout/logout-confirm", CSRFToken: "tok",
		Hidden: map[string]string{
			"client_id": "app", "post_logout_redirect_uri": `https://app.example.com/?a=1&b="2"`, "state": "st",
			"id_token_hint": "", "csrf_token": "spoofed",
		},
	}))
	checkLayout(t, doc, testPage)
	form := byID(t, doc, "kc-logout-confirm")
	wantAttr(t, form, "method", "post")
	wantAttr(t, form, "action", "/realms/acme/protocol/openid-connect/logout/logout-confirm")
	wantAttr(t, inputNamed(t, form, "csrf_token"), "value", "tok")
	wantAttr(t, inputNamed(t, form, "client_id"), "value", "app")
	wantAttr(t, inputNamed(t, form, "post_logout_redirect_uri"), "value", `https://app.example.com/?a=1&b="2"`)
	wantAttr(t, inputNamed(t, form, "state"), "value", "st")
	if len(findAll(form, func(n *html.Node) bool { return attrOf(n, "name") == "id_token_hint" })) != 0 {
		t.Error("empty hidden field rendered")
	}
	var names []string
	for _, in := range findAll(form, func(n *html.Node) bool { return attrOf(n, "type") == "hidden" }) {
		names = append(names, attrOf(in, "name"))
	}
	if got := strings.Join(names, ","); got != "csrf_token,client_id,post_logout_redirect_uri,state" {
		t.Errorf("hidden fields = %s", got)
	}
	btn := byID(t, doc, "kc-logout")
	wantAttr(t, btn, "type", "submit")
	wantAttr(t, btn, "name", "confirmLogout")
	wantAttr(t, btn, "value", "Logout")
	if !isDescendant(btn, form) {
		t.Error("#kc-logout outside the form")
	}
	if got := text(byID(t, doc, "kc-page-title")); got != "Do you want to log out?" {
		t.Errorf("h1 = %q", got)
	}
	if got := text(findAll(doc, tag("title"))[0]); got != "Logging out · Acme Corp" {
		t.Errorf("title = %q", got)
	}
}

// --- form_post -----------------------------------------------------------

func TestFormPost(t *testing.T) {
	const evil = `"><script>alert(1)</script>`
	params := [][2]string{{"code", "c0de"}, {"state", evil}, {"session_state", "s s"}, {"iss", "https://id.example.com/realms/acme"}}
	out := render(t, FormPost(FormPostView{RedirectURI: "https://app.example.com/cb?x=1&y=2", Params: params}))
	doc := parse(t, out)

	forms := findAll(doc, tag("form"))
	if len(forms) != 1 {
		t.Fatalf("%d forms", len(forms))
	}
	wantAttr(t, forms[0], "method", "post")
	wantAttr(t, forms[0], "action", "https://app.example.com/cb?x=1&y=2")
	hidden := findAll(forms[0], func(n *html.Node) bool { return n.Data == "input" && attrOf(n, "type") == "hidden" })
	if len(hidden) != len(params) {
		t.Fatalf("%d hidden inputs, want %d", len(hidden), len(params))
	}
	for i, p := range params {
		if attrOf(hidden[i], "name") != p[0] || attrOf(hidden[i], "value") != p[1] {
			t.Errorf("hidden[%d] = %q=%q, want %q=%q", i, attrOf(hidden[i], "name"), attrOf(hidden[i], "value"), p[0], p[1])
		}
	}
	ns := findAll(doc, tag("noscript"))
	if len(ns) != 1 || !isDescendant(ns[0], forms[0]) {
		t.Fatal("want one <noscript> inside the form")
	}
	btns := findAll(ns[0], func(n *html.Node) bool { return n.Data == "button" && attrOf(n, "type") == "submit" })
	if len(btns) != 1 || attrOf(btns[0], "name") != "" {
		t.Error("<noscript> needs one unnamed submit button (a named one would shadow form.submit)")
	}

	scripts := findAll(doc, tag("script"))
	if len(scripts) != 1 {
		t.Fatalf("%d scripts, want 1 (user input must not add any):\n%s", len(scripts), out)
	}
	if got := scripts[0].FirstChild.Data; got != formPostScript {
		t.Errorf("script = %q, want %q", got, formPostScript)
	}
	if got := cspHash(scripts[0].FirstChild.Data); got != FormPostScriptHash {
		t.Errorf("FormPostScriptHash drifted: rendered script hashes to %s, constant is %s", got, FormPostScriptHash)
	}
	if !before(doc, forms[0], scripts[0]) {
		t.Error("script must follow the form")
	}
	wantAttr(t, findAll(doc, tag("html"))[0], "lang", "en")
}

func TestFormPostTargets(t *testing.T) {
	for target, ok := range map[string]bool{
		"https://app.example.com/cb": true,
		"http://localhost:8080/cb":   true,
		"com.example.app:/oauth2cb":  true, // native app custom scheme
		"/relative/cb":               true,
		"javascript:alert(1)":        false,
		"JavaScript:alert(1)":        false,
		" javascript:alert(1)":       false,
		"java\tscript:alert(1)":      false,
		"data:text/html,<b>x</b>":    false,
		"vbscript:msgbox(1)":         false,
	} {
		doc := renderDoc(t, FormPost(FormPostView{RedirectURI: target}))
		got := attrOf(findAll(doc, tag("form"))[0], "action")
		if ok && got != target {
			t.Errorf("%q: action = %q, want it kept", target, got)
		}
		if !ok && got != string(templ.FailedSanitizationURL) {
			t.Errorf("%q: action = %q, want it neutralised", target, got)
		}
	}
}

// --- keycloak-js iframe pages --------------------------------------------

func TestInlineScriptHashes(t *testing.T) {
	for _, c := range []struct {
		name, page, script, hash string
	}{
		{"login-status-iframe.html", LoginStatusIframe(), loginStatusIframeScript, LoginStatusIframeScriptHash},
		{"3p-cookies/step1.html", ThirdPartyCookiesStep1(), thirdPartyCookiesStep1Script, ThirdPartyCookiesStep1ScriptHash},
		{"3p-cookies/step2.html", ThirdPartyCookiesStep2(), thirdPartyCookiesStep2Script, ThirdPartyCookiesStep2ScriptHash},
	} {
		doc := parse(t, c.page)
		scripts := findAll(doc, tag("script"))
		if len(scripts) != 1 || scripts[0].FirstChild == nil {
			t.Fatalf("%s: want one inline script", c.name)
		}
		if scripts[0].FirstChild.Data != c.script {
			t.Errorf("%s: page script differs from its source constant", c.name)
		}
		if got := cspHash(scripts[0].FirstChild.Data); got != c.hash {
			t.Errorf("%s: script hash drifted: is %s, constant says %s", c.name, got, c.hash)
		}
		if strings.Contains(c.script, "</") {
			t.Errorf("%s: script must not contain \"</\"", c.name)
		}
	}
}

// TestKeycloakJSPagesBehave runs the iframe scripts under Node with a fake
// DOM (document.cookie, Storage Access API, fetch, postMessage) and checks
// the answers keycloak-js 26 expects. Skipped without node.
func TestKeycloakJSPagesBehave(t *testing.T) {
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node not installed")
	}
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	sidHash := func(sid string) string {
		sum := sha256.Sum256([]byte(sid))
		return base64.RawURLEncoding.EncodeToString(sum[:])
	}
	longSid := strings.Repeat("0123456789abcdef-é", 11) // multi-block, non-ASCII
	harness := write("harness.js", nodeHarness)
	cmd := newCmd(t, node, harness,
		write("status.js", loginStatusIframeScript),
		write("step1.js", thirdPartyCookiesStep1Script),
		write("step2.js", thirdPartyCookiesStep2Script),
	)
	cmd.Env = append(os.Environ(),
		"HASH_SID1="+sidHash("sid-1"), "HASH_EMPTY="+sidHash(""),
		"LONG_SID="+longSid, "HASH_LONG="+sidHash(longSid),
	)
	out, err := cmd.CombinedOutput()
	t.Logf("node harness:\n%s", out)
	if err != nil {
		t.Fatalf("node harness failed: %v", err)
	}
}

const nodeHarness = `
"use strict";
const fs = require("fs");
const assert = require("assert");
const [statusJS, step1JS, step2JS] = process.argv.slice(2).map((p) => fs.readFileSync(p, "utf8"));
const env = process.env;
const realCrypto = globalThis.crypto;

// Fresh fake browser globals, then run the page script.
function load(script, opts) {
  const state = { posts: [], fetches: [], cookieWrites: [], href: null, handler: null };
  globalThis.window = globalThis;
  globalThis.addEventListener = (type, fn) => { if (type === "message") state.handler = fn; };
  const doc = {};
  Object.defineProperty(doc, "cookie", {
    get: () => opts.cookie || "",
    set: (v) => state.cookieWrites.push(v),
    configurable: true,
  });
  if (opts.storageAccess !== undefined) {
    doc.hasStorageAccess = async () => opts.storageAccess === "granted";
    doc.requestStorageAccess = async () => { if (opts.storageAccess !== "grantable") throw new Error("denied"); };
  }
  globalThis.document = doc;
  globalThis.location = {
    origin: "https://id.example.com",
    pathname: "/realms/acme/protocol/openid-connect/login-status-iframe.html",
    set href(v) { state.href = v; },
  };
  globalThis.parent = { postMessage: (msg, target) => state.posts.push([msg, target]) };
  globalThis.fetch = async (url, init) => {
    state.fetches.push(String(url));
    if (opts.fetchThrows) throw new TypeError("network");
    const status = opts.initStatus || 204;
    return { ok: status >= 200 && status < 300, status };
  };
  Object.defineProperty(globalThis, "crypto", { value: opts.noWebCrypto ? undefined : realCrypto, configurable: true, writable: true });
  (0, eval)(script);
  return state;
}

function ask(state, data, origin = "https://app.example.com") {
  return new Promise((resolve) => {
    const source = { postMessage: (msg, target) => resolve([msg, target]) };
    state.handler({ data, origin, source });
    setTimeout(() => resolve(null), 200);
  });
}

const tick = () => new Promise((r) => setTimeout(r, 20));
let failures = 0;
async function check(name, fn) {
  try {
    await fn();
    console.log("ok   " + name);
  } catch (e) {
    failures++;
    console.log("FAIL " + name + ": " + e.message);
  }
}

(async () => {
  const S = "KEYCLOAK_SESSION=";

  await check("status: no cookie, sid set -> changed; /init asked once with client_id and origin", async () => {
    const st = load(statusJS, {});
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["changed", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["changed", "https://app.example.com"]);
    assert.deepStrictEqual(st.fetches, ["/realms/acme/protocol/openid-connect/login-status-iframe.html/init?client_id=app&origin=https%3A%2F%2Fapp.example.com"]);
  });
  await check("status: no cookie, empty sid -> unchanged", async () => {
    assert.deepStrictEqual(await ask(load(statusJS, {}), "app "), ["unchanged", "https://app.example.com"]);
  });
  await check("status: hashed cookie matches -> unchanged, else changed", async () => {
    const st = load(statusJS, { cookie: "other=1; " + S + env.HASH_SID1 + "; x=y" });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app sid-2"), ["changed", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app "), ["changed", "https://app.example.com"]);
  });
  await check("status: quoted cookie value", async () => {
    const st = load(statusJS, { cookie: S + '"' + env.HASH_SID1 + '"' });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
  });
  await check("status: legacy realm/user/sid cookie", async () => {
    const st = load(statusJS, { cookie: S + "acme/user-1/sid-1" });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app sid-9"), ["changed", "https://app.example.com"]);
  });
  await check("status: pure-JS SHA-256 without Web Crypto (plain http)", async () => {
    let st = load(statusJS, { cookie: S + env.HASH_LONG, noWebCrypto: true });
    assert.deepStrictEqual(await ask(st, "app " + env.LONG_SID), ["unchanged", "https://app.example.com"]);
    st = load(statusJS, { cookie: S + env.HASH_SID1, noWebCrypto: true });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    for (let n = 0; n < 140; n++) { // every padding boundary
      const sid = "x".repeat(n);
      st = load(statusJS, { cookie: S + "dummy", noWebCrypto: false });
      const want = await (async () => {
        const d = new Uint8Array(await realCrypto.subtle.digest("SHA-256", new TextEncoder().encode(sid)));
        return Buffer.from(d).toString("base64url");
      })();
      st = load(statusJS, { cookie: S + want, noWebCrypto: true });
      assert.deepStrictEqual(await ask(st, "app " + sid), ["unchanged", "https://app.example.com"], "length " + n);
    }
  });
  await check("status: init refused -> error, never asked again", async () => {
    const st = load(statusJS, { cookie: S + env.HASH_SID1, initStatus: 403 });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["error", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["error", "https://app.example.com"]);
    assert.strictEqual(st.fetches.length, 1);
  });
  await check("status: init network failure -> error", async () => {
    const st = load(statusJS, { cookie: S + env.HASH_SID1, fetchThrows: true });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["error", "https://app.example.com"]);
  });
  await check("status: other client or origin than the verified one -> error", async () => {
    const st = load(statusJS, { cookie: S + env.HASH_SID1 });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "other sid-1"), ["error", "https://app.example.com"]);
    assert.deepStrictEqual(await ask(st, "app sid-1", "https://evil.example"), ["error", "https://evil.example"]);
    assert.strictEqual(st.fetches.length, 1);
  });
  await check("status: concurrent first messages share one /init", async () => {
    const st = load(statusJS, { cookie: S + env.HASH_SID1 });
    const [a, b] = await Promise.all([ask(st, "app sid-1"), ask(st, "app sid-1")]);
    assert.deepStrictEqual([a[0], b[0]], ["unchanged", "unchanged"]);
    assert.strictEqual(st.fetches.length, 1);
  });
  await check("status: storage access API", async () => {
    let st = load(statusJS, { cookie: S + env.HASH_SID1, storageAccess: "granted" });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    st = load(statusJS, { cookie: S + env.HASH_SID1, storageAccess: "grantable" });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["unchanged", "https://app.example.com"]);
    st = load(statusJS, { cookie: S + env.HASH_SID1, storageAccess: "denied" });
    assert.deepStrictEqual(await ask(st, "app sid-1"), ["error", "https://app.example.com"]);
  });
  await check("status: malformed messages are ignored", async () => {
    const st = load(statusJS, {});
    assert.strictEqual(await ask(st, "app"), null);
    assert.strictEqual(await ask(st, "a b c"), null);
    assert.strictEqual(await ask(st, { x: 1 }), null);
    assert.strictEqual(st.fetches.length, 0);
  });

  await check("step1: sets both test cookies and goes to step2.html", async () => {
    for (const sa of [undefined, "granted", "grantable"]) {
      const st = load(step1JS, { storageAccess: sa });
      await tick();
      assert.deepStrictEqual(st.cookieWrites, [
        "KEYCLOAK_3P_COOKIE_SAMESITE=supported; Max-Age=60; SameSite=None; Secure",
        "KEYCLOAK_3P_COOKIE=supported; Max-Age=60",
      ]);
      assert.strictEqual(st.href, "step2.html");
      assert.deepStrictEqual(st.posts, []);
    }
  });
  await check("step1: storage access denied -> unsupported", async () => {
    const st = load(step1JS, { storageAccess: "denied" });
    await tick();
    assert.deepStrictEqual(st.posts, [["unsupported", "*"]]);
    assert.strictEqual(st.href, null);
    assert.deepStrictEqual(st.cookieWrites, []);
  });

  await check("step2: cookie visible -> supported, both cleared", async () => {
    for (const cookie of ["KEYCLOAK_3P_COOKIE=supported", "a=b; KEYCLOAK_3P_COOKIE_SAMESITE=supported", "KEYCLOAK_3P_COOKIE_SAMESITE=supported; KEYCLOAK_3P_COOKIE=supported"]) {
      const st = load(step2JS, { cookie });
      assert.deepStrictEqual(st.posts, [["supported", "*"]], cookie);
      assert.strictEqual(st.cookieWrites.length, 2);
      assert.ok(st.cookieWrites.every((c) => /Max-Age=0/.test(c)));
    }
  });
  await check("step2: no cookie -> unsupported", async () => {
    for (const cookie of ["", "KEYCLOAK_SESSION=x", "XKEYCLOAK_3P_COOKIE=1"]) {
      const st = load(step2JS, { cookie });
      assert.deepStrictEqual(st.posts, [["unsupported", "*"]], cookie);
      assert.deepStrictEqual(st.cookieWrites, []);
    }
  });

  process.exit(failures ? 1 : 0);
})();
`

// --- static ----------------------------------------------------------------

func TestStaticHandler(t *testing.T) {
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(css)
	if want := "/resources/keygate/style." + hex.EncodeToString(sum[:])[:8] + ".css"; StylesheetPath != want {
		t.Fatalf("StylesheetPath = %q, want %q", StylesheetPath, want)
	}
	h := StaticHandler()
	do := func(method, path string, hdr ...string) *httptest.ResponseRecorder {
		r := httptest.NewRequest(method, path, nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			r.Header.Set(hdr[i], hdr[i+1])
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w
	}

	w := do("GET", StylesheetPath)
	if w.Code != 200 || !bytes.Equal(w.Body.Bytes(), css) {
		t.Fatalf("GET %s = %d, %d bytes", StylesheetPath, w.Code, w.Body.Len())
	}
	for k, v := range map[string]string{
		"Content-Type": "text/css; charset=utf-8", "Cache-Control": "public, max-age=31536000, immutable",
		"Content-Length": strconv.Itoa(len(css)), "X-Content-Type-Options": "nosniff",
	} {
		if got := w.Header().Get(k); got != v {
			t.Errorf("%s = %q, want %q", k, got, v)
		}
	}
	etag := w.Header().Get("ETag")

	if w := do("HEAD", StylesheetPath); w.Code != 200 || w.Body.Len() != 0 || w.Header().Get("Content-Length") != strconv.Itoa(len(css)) {
		t.Errorf("HEAD = %d, %d bytes", w.Code, w.Body.Len())
	}
	if w := do("GET", StylesheetPath, "If-None-Match", etag); w.Code != http.StatusNotModified || w.Body.Len() != 0 {
		t.Errorf("conditional GET = %d", w.Code)
	}
	if w := do("GET", "/resources/keygate/style.deadbeef.css"); w.Code != 200 || w.Header().Get("Cache-Control") != "no-cache" || !bytes.Equal(w.Body.Bytes(), css) {
		t.Errorf("other build's stylesheet = %d, %q", w.Code, w.Header().Get("Cache-Control"))
	}
	for _, p := range []string{"/resources/keygate/app.js", "/resources/other/style.css", "/resources/keygate/x/style.a.css", "/resources/keygate/"} {
		if w := do("GET", p); w.Code != http.StatusNotFound {
			t.Errorf("GET %s = %d, want 404", p, w.Code)
		}
	}
	if w := do("POST", StylesheetPath); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST = %d", w.Code)
	}

	mux := http.NewServeMux()
	mux.Handle("GET /resources/", StaticHandler())
	mux.Handle("GET /auth/resources/", http.StripPrefix("/auth/resources", StaticHandler()))
	for _, p := range []string{StylesheetPath, "/auth" + StylesheetPath} {
		r := httptest.NewRequest("GET", p, nil)
		w := httptest.NewRecorder()
		mux.ServeHTTP(w, r)
		if w.Code != 200 || w.Header().Get("Cache-Control") != "public, max-age=31536000, immutable" {
			t.Errorf("mounted GET %s = %d", p, w.Code)
		}
	}
}

// TestStylesheetContrast checks the palettes in style.css against WCAG AA:
// 4.5:1 for text, 3:1 for control borders and focus rings.
func TestStylesheetContrast(t *testing.T) {
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	s := string(css)
	dark := strings.Index(s, "@media (prefers-color-scheme: dark)")
	if dark < 0 {
		t.Fatal("no dark palette")
	}
	re := regexp.MustCompile(`(--kg-[a-z-]+):\s*(#[0-9a-fA-F]{6})\s*;`)
	vars := func(block string) map[string]string {
		m := map[string]string{}
		for _, g := range re.FindAllStringSubmatch(block, -1) {
			m[g[1]] = g[2]
		}
		return m
	}
	light := vars(s[:dark])
	darkVars := vars(s[dark:])
	for k, v := range light { // dark inherits what it does not override
		if _, ok := darkVars[k]; !ok {
			darkVars[k] = v
		}
	}
	pairs := []struct {
		fg, bg string
		min    float64
	}{
		{"--kg-text", "--kg-surface", 4.5},
		{"--kg-text", "--kg-bg", 4.5},
		{"--kg-text", "--kg-input-bg", 4.5},
		{"--kg-text-secondary", "--kg-surface", 4.5},
		{"--kg-muted", "--kg-surface", 4.5},
		{"--kg-on-accent", "--kg-accent", 4.5},
		{"--kg-on-accent", "--kg-accent-hover", 4.5},
		{"--kg-on-accent", "--kg-accent-active", 4.5},
		{"--kg-link", "--kg-surface", 4.5},
		{"--kg-danger-text", "--kg-danger-bg", 4.5},
		{"--kg-badge-text", "--kg-badge-bg", 3},
		{"--kg-logo-text", "--kg-logo-bg", 4.5},
		{"--kg-input-border", "--kg-input-bg", 3},
		{"--kg-input-border", "--kg-surface", 3},
		{"--kg-danger", "--kg-input-bg", 3},
		{"--kg-focus", "--kg-surface", 3},
		{"--kg-focus", "--kg-bg", 3},
	}
	for name, m := range map[string]map[string]string{"light": light, "dark": darkVars} {
		for _, p := range pairs {
			fg, bg := m[p.fg], m[p.bg]
			if fg == "" || bg == "" {
				t.Errorf("%s: %s or %s undefined", name, p.fg, p.bg)
				continue
			}
			if r := contrast(fg, bg); r < p.min {
				t.Errorf("%s: %s %s on %s %s = %.2f:1, want >= %.1f:1", name, p.fg, fg, p.bg, bg, r, p.min)
			}
		}
	}
}

func contrast(a, b string) float64 {
	lum := func(h string) float64 {
		v, _ := strconv.ParseUint(h[1:], 16, 32)
		ch := func(c uint64) float64 {
			f := float64(c) / 255
			if f <= 0.03928 {
				return f / 12.92
			}
			return math.Pow((f+0.055)/1.055, 2.4)
		}
		return 0.2126*ch(v>>16&0xff) + 0.7152*ch(v>>8&0xff) + 0.0722*ch(v&0xff)
	}
	la, lb := lum(a), lum(b)
	if la < lb {
		la, lb = lb, la
	}
	return (la + 0.05) / (lb + 0.05)
}

func TestStylesheetSelfContained(t *testing.T) {
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{"@import", "url(", "http:", "https:", "@font-face"} {
		if bytes.Contains(css, []byte(bad)) {
			t.Errorf("style.css contains %q: pages must work air-gapped", bad)
		}
	}
}

// --- messages ---------------------------------------------------------------

func TestMessages(t *testing.T) {
	want := map[string]string{
		"invalidUserMessage":        "Invalid username or password.",
		"doLogIn":                   "Sign In",
		"usernameOrEmail":           "Username or email",
		"logoutConfirmHeader":       "Do you want to log out?",
		"successLogout":             "You are logged out",
		"invalidRedirectUriMessage": "Invalid parameter: redirect_uri",
	}
	for k, v := range want {
		if got := Message(k); got != v {
			t.Errorf("Message(%q) = %q, want %q", k, got, v)
		}
	}
	for _, k := range []string{
		"loginTitle", "password", "expiredCodeMessage", "logoutConfirmTitle", "doLogout", "errorTitle",
		"pageExpiredTitle", "pageExpiredMessage", "cookieNotFoundMessage", "invalidRequestMessage",
		"clientNotFoundMessage", "backToApplication", "temporarilyUnavailable", "accountDisabledMessage",
		"unexpectedErrorMessage",
	} {
		if Messages[k] == "" {
			t.Errorf("message %q missing", k)
		}
	}
	if got := Message("loginTitle", "Acme"); got != "Sign in to Acme" {
		t.Errorf("placeholder: %q", got)
	}
	if got := Message("invalidPasswordMinLengthMessage", 8); got != "Invalid password: minimum length 8." {
		t.Errorf("int placeholder: %q", got)
	}
	if got := Message("noSuchKey"); got != "noSuchKey" {
		t.Errorf("unknown key: %q", got)
	}

	// Every literal key the templates use exists.
	files, _ := filepath.Glob("*.templ")
	files = append(files, "views.go")
	used := regexp.MustCompile(`Message\("([A-Za-z0-9]+)"`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range used.FindAllStringSubmatch(string(b), -1) {
			if _, ok := Messages[m[1]]; !ok {
				t.Errorf("%s uses unknown message key %q", f, m[1])
			}
		}
	}
}

// --- screenshots ------------------------------------------------------------

// TestScreenshots writes every page as HTML (plus style.css) into
// $KEYGATE_SCREENSHOTS and, when /usr/bin/chromium exists, PNGs of them at
// desktop and phone widths, in light and dark mode.
func TestScreenshots(t *testing.T) {
	dir := os.Getenv("KEYGATE_SCREENSHOTS")
	if dir == "" {
		t.Skip("set KEYGATE_SCREENSHOTS=dir to write page previews")
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	css, err := os.ReadFile("static/style.css")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "style.css"), css, 0o644); err != nil {
		t.Fatal(err)
	}
	p := Page{RealmName: "acme", RealmDisplayName: "Acme Corp", Lang: "en", StylesheetURL: "style.css"}
	pages := map[string]templ.Component{
		"login": Login(LoginView{Page: p, FormAction: "#", CSRFToken: "x", LoginWithEmail: true, RememberMe: true, ClientName: "StackState"}),
		"login-error": Login(LoginView{Page: p, FormAction: "#", CSRFToken: "x", Username: "alice@acme.example", LoginWithEmail: true,
			Error: Message("invalidUserMessage"), RememberMe: true, ClientName: "StackState"}),
		"error": Error(ErrorView{Page: p, Title: Message("errorTitle"), Message: Message("invalidRedirectUriMessage"),
			Status: http.StatusBadRequest, BackURL: "https://app.example.com/"}),
		"logout": LogoutConfirm(LogoutConfirmView{Page: p, FormAction: "#", CSRFToken: "x",
			Hidden: map[string]string{"client_id": "app"}, BackURL: "https://app.example.com/"}),
		"logged-out": Info(InfoView{Page: p, Title: Message("successLogout"), BackURL: "https://app.example.com/"}),
		"expired": Info(InfoView{Page: p, Title: Message("pageExpiredTitle"), Message: Message("pageExpiredMessage"),
			BackURL: "https://app.example.com/"}),
		// What a browser without JavaScript shows (headless Chromium cannot
		// screenshot with scripts off, so the preview drops the script and
		// unwraps <noscript> below).
		"formpost-noscript": FormPost(FormPostView{RedirectURI: "https://app.example.com/cb",
			Params: [][2]string{{"code", "x"}, {"state", "y"}}, StylesheetURL: "style.css"}),
	}
	for name, c := range pages {
		out := render(t, c)
		if strings.HasSuffix(name, "-noscript") {
			out = strings.NewReplacer("<script>"+formPostScript+"</script>", "", "<noscript>", "", "</noscript>", "").Replace(out)
		}
		if err := os.WriteFile(filepath.Join(dir, name+".html"), []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	const chromium = "/usr/bin/chromium"
	if _, err := os.Stat(chromium); err != nil {
		t.Logf("wrote HTML to %s; %s missing, no PNGs", dir, chromium)
		return
	}
	shots := []struct {
		suffix, size, scale string
		dark                bool
	}{
		{"", "1200,900", "1", false},
		{"-mobile", "390,844", "2", false},
		{"-dark", "1200,900", "1", true},
		{"-mobile-dark", "390,844", "2", true},
	}
	for name := range pages {
		for _, s := range shots {
			png := filepath.Join(dir, name+s.suffix+".png")
			t.Run(name+s.suffix, func(t *testing.T) {
				t.Parallel()
				screenshot(t, chromium, png, filepath.Join(dir, name+".html"), s.size, s.scale, s.dark)
			})
		}
	}
}

// screenshot has headless Chromium render page into png.
func screenshot(t *testing.T, chromium, png, page, size, scale string, dark bool) {
	args := []string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--hide-scrollbars", "--user-data-dir=" + t.TempDir(), "--force-device-scale-factor=" + scale,
		"--screenshot=" + png, "--window-size=" + size,
	}
	if dark {
		args = append(args, "--force-dark-mode", "--blink-settings=preferredColorScheme=0")
	}
	args = append(args, "file://"+page)
	if out, err := newCmd(t, chromium, args...).CombinedOutput(); err != nil {
		t.Fatalf("chromium %s: %v\n%s", png, err, out)
	}
	if fi, err := os.Stat(png); err != nil || fi.Size() == 0 {
		t.Fatalf("chromium wrote no %s", png)
	}
	t.Logf("wrote %s", png)
}
