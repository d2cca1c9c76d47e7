package rep

import (
	"fmt"
	"maps"
)

// The realm's smtpServer password is a secret like a component's: sealed
// at rest (--db-key), SecretMask in the admin API and in exports without
// secrets; a mask in an imported file means "unset".

// prepareSMTP drops a masked SMTP password from an imported realm (with a
// warning) and seals a real one with seal (nil: stored as it is).
func prepareSMTP(r *Realm, path string, seal func(string) (string, error)) (warning string, err error) {
	pw, ok := r.SMTPServer["password"]
	if !ok || pw == "" {
		return "", nil
	}
	r.SMTPServer = maps.Clone(r.SMTPServer)
	if pw == SecretMask {
		delete(r.SMTPServer, "password")
		return fmt.Sprintf("%s: smtpServer.password is masked in the file and left unset: set it before sending mail", path), nil
	}
	if seal != nil {
		if r.SMTPServer["password"], err = seal(pw); err != nil {
			return "", fmt.Errorf("%s.smtpServer.password: %w", path, err)
		}
	}
	return "", nil
}

// exportSMTP masks the realm's SMTP password, or reveals it when the
// export includes secrets.
func exportSMTP(r *Realm, opts ExportOptions) error {
	pw := r.SMTPServer["password"]
	if pw == "" {
		return nil
	}
	r.SMTPServer = maps.Clone(r.SMTPServer)
	if !opts.Secrets {
		r.SMTPServer["password"] = SecretMask
		return nil
	}
	if opts.Reveal != nil {
		plain, err := opts.Reveal(pw)
		if err != nil {
			return fmt.Errorf("realm %q smtpServer.password: %w", r.Realm, err)
		}
		r.SMTPServer["password"] = plain
	}
	return nil
}
