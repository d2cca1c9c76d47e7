package rep

import (
	"fmt"
	"maps"
	"strings"
)

// The realm's smtpServer password is a secret like a component's: sealed
// at rest (--db-key), SecretMask in the admin API and in exports without
// secrets; a mask in an imported file means "unset".

// smtpSecretKeys are the smtpServer keys holding secrets (mail.SecretKeys):
// the password and Keycloak 26's XOAUTH2 authTokenClientSecret.
var smtpSecretKeys = []string{"password", "authTokenClientSecret"}

// prepareSMTP drops a masked SMTP secret from an imported realm (with a
// warning) and seals a real one with seal (nil: stored as it is).
func prepareSMTP(r *Realm, path string, seal func(string) (string, error)) (warning string, err error) {
	var masked []string
	for _, k := range smtpSecretKeys {
		pw, ok := r.SMTPServer[k]
		if !ok || pw == "" {
			continue
		}
		r.SMTPServer = maps.Clone(r.SMTPServer)
		if pw == SecretMask {
			delete(r.SMTPServer, k)
			masked = append(masked, fmt.Sprintf("%s: smtpServer.%s is masked in the file and left unset: set it before sending mail", path, k))
			continue
		}
		if seal != nil {
			if r.SMTPServer[k], err = seal(pw); err != nil {
				return "", fmt.Errorf("%s.smtpServer.%s: %w", path, k, err)
			}
		}
	}
	return strings.Join(masked, "; "), nil
}

// exportSMTP masks the realm's SMTP secrets, or reveals them when the
// export includes secrets.
func exportSMTP(r *Realm, opts ExportOptions) error {
	for _, k := range smtpSecretKeys {
		pw := r.SMTPServer[k]
		if pw == "" {
			continue
		}
		r.SMTPServer = maps.Clone(r.SMTPServer)
		if !opts.Secrets {
			r.SMTPServer[k] = SecretMask
			continue
		}
		if opts.Reveal != nil {
			plain, err := opts.Reveal(pw)
			if err != nil {
				return fmt.Errorf("realm %q smtpServer.%s: %w", r.Realm, k, err)
			}
			r.SMTPServer[k] = plain
		}
	}
	return nil
}
