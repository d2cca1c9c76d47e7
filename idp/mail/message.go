package mail

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"mime/quotedprintable"
	"net/mail"
	"net/textproto"
	"strings"
	"time"
)

// Message is one mail to one recipient: a subject and the same content as
// plain text and as HTML.
type Message struct {
	To      string // address, e.g. "alice@example.com"
	Subject string
	Text    string
	HTML    string
}

// Build renders msg as an RFC 5322 message from s's sender: headers, then
// a multipart/alternative body (text/plain, then text/html, both UTF-8
// quoted-printable, so lines stay short and links survive relays).
func Build(s Settings, msg Message, now time.Time) ([]byte, error) {
	to, err := mail.ParseAddress(msg.To)
	if err != nil {
		return nil, errors.New("mail: invalid recipient address")
	}
	// Settings need not come from Parse: every value that reaches a
	// header (or the envelope) is checked here, so none can add a header.
	for _, v := range []string{msg.Subject, s.From, s.FromDisplayName, s.ReplyTo, s.ReplyToDisplayName, s.EnvelopeFrom} {
		if strings.ContainsAny(v, "\r\n") {
			return nil, errors.New("mail: a header value (subject, sender or reply-to) holds a line break")
		}
	}
	from, err := address(s.From, s.FromDisplayName)
	if err != nil {
		return nil, errors.New("mail: invalid sender address")
	}
	var buf bytes.Buffer
	hdr := func(k, v string) { fmt.Fprintf(&buf, "%s: %s\r\n", k, v) }
	// mail.Address.String quotes the name, or RFC 2047-encodes it when it
	// is not printable ASCII.
	hdr("From", from.String())
	hdr("To", (&mail.Address{Address: to.Address}).String())
	if s.ReplyTo != "" {
		rt, err := address(s.ReplyTo, s.ReplyToDisplayName)
		if err != nil {
			return nil, errors.New("mail: invalid reply-to address")
		}
		hdr("Reply-To", rt.String())
	}
	hdr("Subject", mime.QEncoding.Encode("utf-8", msg.Subject))
	hdr("Date", now.Format(time.RFC1123Z))
	hdr("Message-ID", "<"+randomID()+"@"+domainOf(s.From)+">")
	hdr("MIME-Version", "1.0")
	hdr("Auto-Submitted", "auto-generated")

	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	hdr("Content-Type", `multipart/alternative; boundary="`+mw.Boundary()+`"`)
	buf.WriteString("\r\n")
	for _, p := range []struct{ typ, content string }{{"text/plain", msg.Text}, {"text/html", msg.HTML}} {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Type":              {p.typ + "; charset=UTF-8"},
			"Content-Transfer-Encoding": {"quoted-printable"},
		})
		if err != nil {
			return nil, err
		}
		qw := quotedprintable.NewWriter(pw)
		if _, err := qw.Write([]byte(crlf(p.content))); err != nil {
			return nil, err
		}
		if err := qw.Close(); err != nil {
			return nil, err
		}
	}
	if err := mw.Close(); err != nil {
		return nil, err
	}
	buf.Write(body.Bytes())
	return buf.Bytes(), nil
}

// address is the mailbox a setting names: addr parsed (it may be
// "Name <a@b>"), named name when that is set.
func address(addr, name string) (*mail.Address, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return nil, err
	}
	if name != "" {
		a.Name = name
	}
	return a, nil
}

// crlf normalises line ends to CRLF, as SMTP's DATA wants them.
func crlf(s string) string {
	s = strings.ReplaceAll(s, "\r\n", "\n")
	return strings.ReplaceAll(s, "\n", "\r\n")
}

func randomID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func domainOf(addr string) string {
	if a, err := mail.ParseAddress(addr); err == nil {
		addr = a.Address
	}
	if i := strings.LastIndexByte(addr, '@'); i >= 0 && i+1 < len(addr) {
		return addr[i+1:]
	}
	return "localhost"
}
