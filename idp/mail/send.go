package mail

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/mail"
	"net/smtp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// DefaultTimeout bounds a whole SMTP session (connect, TLS, every command),
// as Keycloak's mail.smtp.connectiontimeout and mail.smtp.timeout do.
const DefaultTimeout = 10 * time.Second

// Sender sends mail with a realm's settings.
type Sender struct {
	// Reveal opens a sealed SMTP password (oidc.SecretSealer.Reveal); nil
	// takes the stored value as it is.
	Reveal func(string) (string, error)
	// RootCAs verify the server's certificate (--truststore-paths); nil =
	// the system roots. Verification is never turned off.
	RootCAs *x509.CertPool
	// Timeout bounds one message's whole session; 0 = DefaultTimeout.
	Timeout time.Duration
	// HelloName is sent in EHLO; "" = "localhost".
	HelloName string
	// Now is the clock for the Date header; nil = time.Now.
	Now func() time.Time
}

// Error is a failed send: what step failed, and the server's or network's
// reason. It never holds the message or the password.
type Error struct {
	Step string // "connect", "tls", "starttls", "auth", "mail", "rcpt", "data", "settings"
	Err  error
}

func (e *Error) Error() string { return "mail: " + e.Step + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// Send delivers msg through the server s names, in one SMTP session.
func (sn *Sender) Send(ctx context.Context, s Settings, msg Message) error {
	now := time.Now
	if sn.Now != nil {
		now = sn.Now
	}
	data, err := Build(s, msg, now())
	if err != nil {
		return &Error{Step: "settings", Err: err}
	}
	envelope := s.EnvelopeFrom
	if envelope == "" {
		envelope = s.From
	}
	from, err := envelopePath(envelope)
	if err != nil {
		return &Error{Step: "settings", Err: errors.New("invalid sender address")}
	}
	to, err := envelopePath(msg.To)
	if err != nil {
		return &Error{Step: "settings", Err: errors.New("invalid recipient address")}
	}
	return sn.session(ctx, s, func(c *smtp.Client) error {
		if err := c.Mail(from); err != nil {
			return &Error{Step: "mail", Err: err}
		}
		if err := c.Rcpt(to); err != nil {
			return &Error{Step: "rcpt", Err: err}
		}
		w, err := c.Data()
		if err != nil {
			return &Error{Step: "data", Err: err}
		}
		if _, err := w.Write(data); err != nil {
			return &Error{Step: "data", Err: err}
		}
		if err := w.Close(); err != nil {
			return &Error{Step: "data", Err: err}
		}
		return nil
	})
}

// envelopePath is addr as MAIL FROM and RCPT TO carry it (RFC 5321
// Path, without its angle brackets): a local part that is no dot-atom
// stays a quoted string. net/mail hands the local part back unquoted, and
// `"x@evil.example> NOTIFY=NEVER"@corp.example` written as it is would
// name another mailbox (and add parameters) on the command line. A
// character SMTP cannot carry in a quoted string (a control character,
// tab included) is refused.
func envelopePath(addr string) (string, error) {
	a, err := mail.ParseAddress(addr)
	if err != nil {
		return "", err
	}
	if strings.ContainsFunc(a.Address, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return "", errors.New("control character in address")
	}
	p := (&mail.Address{Address: a.Address}).String() // "<" local "@" domain ">", local quoted as needed
	return strings.TrimSuffix(strings.TrimPrefix(p, "<"), ">"), nil
}

// Probe opens a session as Send does (connection, TLS, authentication)
// and ends it without a message.
func (sn *Sender) Probe(ctx context.Context, s Settings) error {
	return sn.session(ctx, s, func(c *smtp.Client) error {
		if err := c.Reset(); err != nil {
			return &Error{Step: "mail", Err: err}
		}
		return nil
	})
}

// session runs fn in one SMTP session with s: connect (implicit TLS with
// ssl), EHLO, STARTTLS when asked, AUTH when asked, fn, QUIT; all within
// the timeout.
func (sn *Sender) session(ctx context.Context, s Settings, fn func(c *smtp.Client) error) error {
	password := s.Password
	if s.Auth && sn.Reveal != nil {
		var err error
		if password, err = sn.Reveal(s.Password); err != nil {
			return &Error{Step: "auth", Err: errors.New("the stored SMTP password cannot be opened (KEYGATE_DB_KEY)")}
		}
	}
	timeout := sn.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()

	addr := net.JoinHostPort(s.Host, strconv.Itoa(s.port()))
	d := net.Dialer{Timeout: timeout}
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return &Error{Step: "connect", Err: err}
	}
	defer conn.Close()
	_ = conn.SetDeadline(deadline)
	// A cancelled request (the browser went away) ends the session too.
	stop := context.AfterFunc(ctx, func() { _ = conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()

	tlsConf := &tls.Config{ServerName: s.Host, RootCAs: sn.RootCAs, MinVersion: tls.VersionTLS12}
	if s.SSL {
		tc := tls.Client(conn, tlsConf)
		if err := tc.HandshakeContext(ctx); err != nil {
			return &Error{Step: "tls", Err: err}
		}
		conn = tc
	}
	c, err := smtp.NewClient(conn, s.Host)
	if err != nil {
		return &Error{Step: "connect", Err: err}
	}
	defer c.Close()
	hello := sn.HelloName
	if hello == "" {
		hello = "localhost"
	}
	if err := c.Hello(hello); err != nil {
		return &Error{Step: "connect", Err: err}
	}
	if s.StartTLS {
		// Refused rather than silently sent in the clear: the settings ask
		// for an encrypted connection.
		if ok, _ := c.Extension("STARTTLS"); !ok {
			return &Error{Step: "starttls", Err: errors.New("the server does not offer STARTTLS")}
		}
		if err := c.StartTLS(tlsConf); err != nil {
			return &Error{Step: "starttls", Err: err}
		}
	}
	if s.Auth {
		if err := c.Auth(auth(c, s.User, password, s.Host)); err != nil {
			return &Error{Step: "auth", Err: err}
		}
	}
	if err := fn(c); err != nil {
		return err
	}
	_ = c.Quit()
	return nil
}

// auth picks PLAIN, or LOGIN where the server offers only that (Exchange
// and Office 365 relays). Both refuse to send the password over a
// connection that is neither TLS nor to localhost (net/smtp's rule).
func auth(c *smtp.Client, user, password, host string) smtp.Auth {
	if ok, mechs := c.Extension("AUTH"); ok && !containsWord(mechs, "PLAIN") && containsWord(mechs, "LOGIN") {
		return &loginAuth{user: user, password: password, host: host}
	}
	return smtp.PlainAuth("", user, password, host)
}

func containsWord(list, w string) bool { return slices.Contains(strings.Fields(list), w) }

// loginAuth is the LOGIN mechanism (draft-murchison-sasl-login).
type loginAuth struct{ user, password, host string }

func (a *loginAuth) Start(server *smtp.ServerInfo) (string, []byte, error) {
	if !server.TLS && !isLocalhost(server.Name) {
		return "", nil, errors.New("unencrypted connection")
	}
	if server.Name != a.host {
		return "", nil, errors.New("wrong host name")
	}
	return "LOGIN", nil, nil
}

func (a *loginAuth) Next(fromServer []byte, more bool) ([]byte, error) {
	if !more {
		return nil, nil
	}
	switch string(fromServer) {
	case "Username:", "User Name\x00":
		return []byte(a.user), nil
	case "Password:", "Password\x00":
		return []byte(a.password), nil
	}
	return nil, fmt.Errorf("unexpected LOGIN challenge")
}

func isLocalhost(name string) bool {
	return name == "localhost" || name == "127.0.0.1" || name == "::1"
}
