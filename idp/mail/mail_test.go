package mail

import (
	"io"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"
)

func TestParseSettings(t *testing.T) {
	s, err := Parse(map[string]string{
		"host": "smtp.example.com", "port": "587", "from": "idp@example.com", "fromDisplayName": "Example IdP",
		"replyTo": "help@example.com", "replyToDisplayName": "Help", "envelopeFrom": "bounce@example.com",
		"auth": "true", "user": "idp", "password": "pw", "ssl": "false", "starttls": "true",
	})
	if err != nil {
		t.Fatal(err)
	}
	if s.Host != "smtp.example.com" || s.port() != 587 || !s.Auth || !s.StartTLS || s.SSL || s.User != "idp" || s.EnvelopeFrom != "bounce@example.com" {
		t.Fatalf("parsed %+v", s)
	}
	// JavaMail's default ports.
	if s, _ := Parse(map[string]string{"host": "h", "from": "a@b.c"}); s.port() != 25 || s.Auth {
		t.Fatalf("default port %d auth %v", s.port(), s.Auth)
	}
	if s, _ := Parse(map[string]string{"host": "h", "from": "a@b.c", "ssl": "true"}); s.port() != 465 {
		t.Fatalf("ssl default port %d", s.port())
	}
	for name, m := range map[string]map[string]string{
		"no host":        {"from": "a@b.c"},
		"no from":        {"host": "h"},
		"bad port":       {"host": "h", "from": "a@b.c", "port": "x"},
		"port range":     {"host": "h", "from": "a@b.c", "port": "70000"},
		"bad from":       {"host": "h", "from": "not an address"},
		"header break":   {"host": "h", "from": "a@b.c", "fromDisplayName": "x\r\nBcc: evil@example.com"},
		"ssl + starttls": {"host": "h", "from": "a@b.c", "ssl": "true", "starttls": "true"},
	} {
		if _, err := Parse(m); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestMaskAndMerge(t *testing.T) {
	stored := map[string]string{"host": "h", "from": "a@b.c", "password": "kgsealed:v1:xyz"}
	if m := Masked(stored); m["password"] != Mask || stored["password"] != "kgsealed:v1:xyz" {
		t.Fatalf("Masked = %v (stored %v)", m, stored)
	}
	if m := Masked(map[string]string{"host": "h"}); m["password"] != "" {
		t.Fatalf("no password masked as %q", m["password"])
	}
	seal := func(v string) (string, error) { return "sealed(" + v + ")", nil }
	// The mask keeps the stored password.
	m, err := MergeStored(map[string]string{"host": "h2", "password": Mask}, stored, seal)
	if err != nil || m["password"] != "kgsealed:v1:xyz" || m["host"] != "h2" {
		t.Fatalf("mask: %v %v", m, err)
	}
	// A new password is sealed.
	if m, _ = MergeStored(map[string]string{"password": "new"}, stored, seal); m["password"] != "sealed(new)" {
		t.Fatalf("new: %v", m)
	}
	// The mask without a stored password stores none.
	if m, _ = MergeStored(map[string]string{"password": Mask}, nil, seal); m["password"] != "" {
		t.Fatalf("mask without stored: %v", m)
	}
	if m := WithStoredPassword(map[string]string{"password": Mask}, stored); m["password"] != "kgsealed:v1:xyz" {
		t.Fatalf("WithStoredPassword: %v", m)
	}
}

func TestBuildMultipartAlternative(t *testing.T) {
	s := Settings{From: "idp@example.com", FromDisplayName: "Grüße IdP", ReplyTo: "help@example.com"}
	link := "https://idp.example.com/realms/r/login-actions/action-token?key=" + strings.Repeat("a", 200) + "&client_id=app"
	raw, err := Build(s, Message{To: "alice@example.com", Subject: "Passwort zurücksetzen",
		Text: "Click:\n\n" + link + "\n", HTML: `<p><a href="` + link + `">Link</a></p>`}, time.Unix(1700000000, 0))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\r\n") {
		if len(line) > 998 {
			t.Fatalf("line of %d octets", len(line))
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if subj, _ := dec.DecodeHeader(msg.Header.Get("Subject")); subj != "Passwort zurücksetzen" {
		t.Errorf("subject %q", subj)
	}
	if from, err := msg.Header.AddressList("From"); err != nil || from[0].Name != "Grüße IdP" || from[0].Address != "idp@example.com" {
		t.Errorf("from %v %v", from, err)
	}
	if msg.Header.Get("Reply-To") != "<help@example.com>" {
		t.Errorf("reply-to %q", msg.Header.Get("Reply-To"))
	}
	mt, params, err := mime.ParseMediaType(msg.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/alternative" {
		t.Fatalf("content type %q", msg.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(msg.Body, params["boundary"])
	var types []string
	for {
		p, err := mr.NextRawPart()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		types = append(types, p.Header.Get("Content-Type"))
		body, _ := io.ReadAll(quotedprintable.NewReader(p))
		if !strings.Contains(string(body), link) {
			t.Errorf("%s part lost the link: %q", p.Header.Get("Content-Type"), body)
		}
	}
	if strings.Join(types, ",") != "text/plain; charset=UTF-8,text/html; charset=UTF-8" {
		t.Fatalf("parts %v", types)
	}
	// No header injection through the recipient or the subject.
	if _, err := Build(s, Message{To: "a@b.c\r\nBcc: x@y.z", Subject: "s"}, time.Now()); err == nil {
		t.Error("recipient with a line break accepted")
	}
	if _, err := Build(s, Message{To: "a@b.c", Subject: "s\r\nBcc: x@y.z"}, time.Now()); err == nil {
		t.Error("subject with a line break accepted")
	}
}

// The sender's headers are built from parsed addresses: a display name is
// RFC 2047-encoded when not ASCII, a from value that names itself
// ("Name <addr>") gives only its address, and no header value may carry a
// line break (header injection), whichever setting it comes from.
func TestBuildSenderHeaders(t *testing.T) {
	msgTo := Message{To: "alice@example.com", Subject: "s", Text: "t", HTML: "h"}
	raw, err := Build(Settings{From: "Example IdP <idp@example.com>", FromDisplayName: "Ünïcødé IdP"}, msgTo, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	head, _, _ := strings.Cut(string(raw), "\r\n\r\n")
	for i := 0; i < len(head); i++ {
		if head[i] >= 0x80 {
			t.Fatalf("raw 8-bit octet in the headers:\n%s", head)
		}
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(msg.Header.Get("From"), "=?utf-8?") {
		t.Errorf("display name not encoded: %q", msg.Header.Get("From"))
	}
	if from, err := msg.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Ünïcødé IdP" || from[0].Address != "idp@example.com" {
		t.Errorf("from %q: %v %v", msg.Header.Get("From"), from, err)
	}
	if id := msg.Header.Get("Message-ID"); !strings.HasSuffix(id, "@example.com>") {
		t.Errorf("message id %q", id)
	}
	// A from value with its own name and no fromDisplayName keeps its name.
	raw, err = Build(Settings{From: "Example IdP <idp@example.com>"}, msgTo, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	msg, _ = mail.ReadMessage(strings.NewReader(string(raw)))
	if from, err := msg.Header.AddressList("From"); err != nil || len(from) != 1 || from[0].Name != "Example IdP" || from[0].Address != "idp@example.com" {
		t.Errorf("from %q: %v %v", msg.Header.Get("From"), from, err)
	}

	inject := "\r\nBcc: x@evil.example"
	for name, s := range map[string]Settings{
		"fromDisplayName":    {From: "idp@example.com", FromDisplayName: "IdP" + inject},
		"from":               {From: "idp@example.com" + inject},
		"replyTo":            {From: "idp@example.com", ReplyTo: "help@example.com" + inject},
		"replyToDisplayName": {From: "idp@example.com", ReplyTo: "help@example.com", ReplyToDisplayName: "Help" + inject},
		"envelopeFrom":       {From: "idp@example.com", EnvelopeFrom: "bounce@example.com" + inject},
		"lone LF":            {From: "idp@example.com", FromDisplayName: "IdP\nBcc: x@evil.example"},
	} {
		raw, err := Build(s, msgTo, time.Now())
		if err == nil {
			t.Errorf("%s with a line break accepted:\n%s", name, raw)
		}
	}
	// Parse refuses them too, before anything is stored.
	for _, k := range []string{KeyFrom, KeyFromDisplayName, KeyReplyTo, KeyReplyToDisplayName, KeyEnvelopeFrom} {
		m := map[string]string{KeyHost: "smtp.example.com", KeyFrom: "idp@example.com"}
		m[k] = "x@example.com" + inject
		if _, err := Parse(m); err == nil {
			t.Errorf("Parse: %s with a line break accepted", k)
		}
	}
}
