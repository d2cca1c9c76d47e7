// Package mail sends a realm's email: Keycloak's smtpServer settings, a
// multipart/alternative message (plain text and HTML) and one SMTP session
// per message over net/smtp, with timeouts and verified TLS. It never logs
// or returns a message's body (which holds links that act for the user) or
// the SMTP password.
package mail

import (
	"errors"
	"fmt"
	"maps"
	"net/mail"
	"strconv"
	"strings"
)

// The smtpServer keys Keycloak's realm representation uses.
const (
	KeyHost               = "host"
	KeyPort               = "port"
	KeyFrom               = "from"
	KeyFromDisplayName    = "fromDisplayName"
	KeyReplyTo            = "replyTo"
	KeyReplyToDisplayName = "replyToDisplayName"
	KeyEnvelopeFrom       = "envelopeFrom"
	KeyAuth               = "auth"
	KeyUser               = "user"
	KeyPassword           = "password"
	KeySSL                = "ssl"
	KeyStartTLS           = "starttls"
	// KeyAuthTokenClientSecret is the client secret of Keycloak 26's
	// XOAUTH2 (authType "token") settings: keygate does not use it, but
	// keeps, masks and seals it as Keycloak treats it, a secret like the
	// password.
	KeyAuthTokenClientSecret = "authTokenClientSecret"
)

// SecretKeys are the smtpServer keys whose values are secrets.
var SecretKeys = []string{KeyPassword, KeyAuthTokenClientSecret}

// Mask is what the admin API shows instead of the stored SMTP password
// (Keycloak's ComponentRepresentation.SECRET_VALUE); sent back, it means
// "keep the stored one".
const Mask = "**********"

// Settings are a realm's smtpServer map, parsed.
type Settings struct {
	Host               string
	Port               int // 0: 465 with SSL, else 25 (JavaMail's defaults, as Keycloak)
	From               string
	FromDisplayName    string
	ReplyTo            string
	ReplyToDisplayName string
	EnvelopeFrom       string // MAIL FROM; "" = From
	Auth               bool
	User               string
	Password           string // as stored: possibly sealed (Sender reveals it)
	SSL                bool   // implicit TLS from the first byte (smtps)
	StartTLS           bool   // upgrade with STARTTLS; refused if the server does not offer it
}

// ErrNotConfigured: the realm has no SMTP host or sender address.
var ErrNotConfigured = errors.New("mail: the realm has no SMTP server configured (smtpServer host and from)")

// Configured reports whether the realm's smtpServer map names a host and a
// sender, without which no mail can be sent.
func Configured(m map[string]string) bool {
	return strings.TrimSpace(m[KeyHost]) != "" && strings.TrimSpace(m[KeyFrom]) != ""
}

// Parse reads Keycloak's smtpServer map. Booleans are Keycloak's strings
// "true"/"false" (anything else is false, as Boolean.parseBoolean).
func Parse(m map[string]string) (Settings, error) {
	if !Configured(m) {
		return Settings{}, ErrNotConfigured
	}
	s := Settings{
		Host:               strings.TrimSpace(m[KeyHost]),
		From:               strings.TrimSpace(m[KeyFrom]),
		FromDisplayName:    m[KeyFromDisplayName],
		ReplyTo:            strings.TrimSpace(m[KeyReplyTo]),
		ReplyToDisplayName: m[KeyReplyToDisplayName],
		EnvelopeFrom:       strings.TrimSpace(m[KeyEnvelopeFrom]),
		Auth:               parseBool(m[KeyAuth]),
		User:               m[KeyUser],
		Password:           m[KeyPassword],
		SSL:                parseBool(m[KeySSL]),
		StartTLS:           parseBool(m[KeyStartTLS]),
	}
	if p := strings.TrimSpace(m[KeyPort]); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n <= 0 || n > 65535 {
			return Settings{}, fmt.Errorf("mail: invalid SMTP port %q", p)
		}
		s.Port = n
	}
	if strings.ContainsAny(s.Host, " /\r\n") {
		return Settings{}, fmt.Errorf("mail: invalid SMTP host %q", s.Host)
	}
	for _, a := range []struct{ name, v string }{{"from", s.From}, {"replyTo", s.ReplyTo}, {"envelopeFrom", s.EnvelopeFrom}} {
		if a.v == "" {
			continue
		}
		if _, err := mail.ParseAddress(a.v); err != nil {
			return Settings{}, fmt.Errorf("mail: invalid %s address", a.name)
		}
	}
	for _, v := range []string{s.FromDisplayName, s.ReplyToDisplayName, s.User} {
		if strings.ContainsAny(v, "\r\n") {
			return Settings{}, errors.New("mail: a display name or user holds a line break")
		}
	}
	if s.SSL && s.StartTLS {
		// JavaMail would use implicit TLS and ignore STARTTLS; say so
		// instead of guessing.
		return Settings{}, errors.New("mail: ssl and starttls are exclusive: ssl is TLS from the start (port 465), starttls upgrades a plain connection (port 587)")
	}
	return s, nil
}

func parseBool(v string) bool { return strings.EqualFold(strings.TrimSpace(v), "true") }

// port is the port to dial.
func (s Settings) port() int {
	switch {
	case s.Port > 0:
		return s.Port
	case s.SSL:
		return 465
	default:
		return 25
	}
}

// Masked returns m with a set password (or other SecretKeys value)
// replaced by Mask, as the admin API
// shows a realm (m itself is not changed).
func Masked(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := maps.Clone(m)
	for _, k := range SecretKeys {
		if out[k] != "" {
			out[k] = Mask
		}
	}
	return out
}

// MergeStored prepares an smtpServer map an administrator sent for
// storage, as Keycloak's realm update does: a password (or other
// SecretKeys value) equal to Mask keeps the stored one (old's, already
// sealed); any other is sealed with seal.
// A nil seal stores it as it is.
func MergeStored(in, old map[string]string, seal func(string) (string, error)) (map[string]string, error) {
	if in == nil {
		return nil, nil
	}
	out := maps.Clone(in)
	for _, k := range SecretKeys {
		switch pw := out[k]; {
		case pw == Mask:
			if v, ok := old[k]; ok && v != "" {
				out[k] = v
			} else {
				delete(out, k)
			}
		case pw != "" && seal != nil:
			sealed, err := seal(pw)
			if err != nil {
				return nil, err
			}
			out[k] = sealed
		}
	}
	return out, nil
}

// WithStoredPassword returns in (settings an administrator sent to test)
// with a masked password replaced by the stored one, as Keycloak's
// testSMTPConnection does.
func WithStoredPassword(in, stored map[string]string) map[string]string {
	out := maps.Clone(in)
	if out == nil {
		out = map[string]string{}
	}
	if out[KeyPassword] == Mask {
		out[KeyPassword] = stored[KeyPassword]
	}
	return out
}
