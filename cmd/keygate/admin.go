package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/term"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
	"github.com/keygate/keygate/store"
)

func storeFlags(fs *flag.FlagSet) *string {
	return fs.String("db", defaultDB, "store: sqlite:PATH or postgres://...")
}

func cmdMigrate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("migrate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	if err := parse(fs, args); err != nil {
		return err
	}
	st, err := openStore(ctx, *db) // Open applies pending migrations
	if err != nil {
		return err
	}
	defer st.Close()
	fmt.Fprintln(stdout, "migrations applied to", redactDSN(*db))
	return nil
}

func cmdRealmImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("realm import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	skip := fs.Bool("skip-existing", false, "leave realms that already exist untouched instead of failing")
	dbKey := fs.String("db-key", "", "seal LDAP bind credentials and OTP secrets with the server's --db-key (prefer KEYGATE_DB_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	opts := importOpts(*skip)
	if *dbKey != "" {
		sealer, err := oidc.NewSecretSealer(*dbKey)
		if err != nil {
			return err
		}
		opts.SealSecret = sealer.Seal
	}
	if fs.NArg() == 0 {
		return usageError{"realm import: name at least one FILE"}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, f := range fs.Args() {
		var data []byte
		if f == "-" {
			f = "stdin"
			data, err = io.ReadAll(stdin)
		} else {
			data, err = os.ReadFile(f)
		}
		if err != nil {
			return err
		}
		res, err := rep.ImportRealm(ctx, st, data, opts)
		if errors.Is(err, store.ErrConflict) && !*skip {
			return fmt.Errorf("%s: nothing imported: %w (pass --skip-existing to leave existing realms untouched)", f, err)
		}
		if err != nil {
			return fmt.Errorf("%s: nothing imported: %w", f, err)
		}
		fmt.Fprintf(stdout, "%s: %s\n", f, summary(res))
	}
	return nil
}

func cmdRealmExport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("realm export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	users := fs.Bool("users", false, "include users and their credentials (hashes included, as Keycloak exports them)")
	secrets := fs.Bool("include-secrets", false, "include component secrets (an LDAP provider's bindCredential) instead of **********")
	dbKey := fs.String("db-key", "", "with --include-secrets or --users: the --db-key the server seals secrets with (prefer KEYGATE_DB_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	realm := fs.Arg(0)
	if fs.NArg() > 1 { // flags after REALM: `realm export REALM --users`
		if err := parseArgs(fs, fs.Args()[1:]); err != nil {
			return err
		}
		if fs.NArg() != 0 {
			realm = ""
		}
	}
	if realm == "" {
		return usageError{"realm export: name exactly one REALM"}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	opts := rep.ExportOptions{Users: *users, Secrets: *secrets}
	// Users' OTP secrets are sealed with the same key and exported in
	// the clear, as Keycloak exports them.
	if *secrets || (*users && *dbKey != "") {
		sealer, err := oidc.NewSecretSealer(*dbKey)
		if err != nil {
			return err
		}
		opts.Reveal = sealer.Reveal
	}
	r, err := rep.Export(ctx, st, realm, opts)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("realm %q does not exist", realm)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

func cmdBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	out := fs.String("out", "", `file to write the backup to (must not exist); "-" writes it to stdout`)
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *out == "":
		return usageError{"backup: --out FILE is required (or --out - for stdout)"}
	case *out == "-" && isTerminal(stdout):
		return usageError{"backup: --out - would write the database to the terminal; redirect stdout to a file or a pipe"}
	case *out != "-":
		if _, err := os.Lstat(*out); err == nil {
			return fmt.Errorf("backup: %s already exists; name a new file", *out)
		}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if *out == "-" {
		n, err := backupTo(ctx, st, stdout)
		if err != nil {
			return err
		}
		fmt.Fprintf(stderr, "backup of %d bytes written to stdout in %s\n", n, time.Since(start).Round(time.Millisecond))
		return nil
	}
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s in %s\n", *out, time.Since(start).Round(time.Millisecond))
	return nil
}

// backupTo writes a backup of st to w: the store backs up to a file (a
// consistent snapshot), made in a private temporary directory, copied to w
// and removed.
func backupTo(ctx context.Context, st interface {
	Backup(ctx context.Context, path string) error
}, w io.Writer) (int64, error) {
	dir, err := os.MkdirTemp("", "keygate-backup-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "keygate.db")
	if err := st.Backup(ctx, path); err != nil {
		return 0, err
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	n, err := io.Copy(w, f)
	if err != nil {
		return n, fmt.Errorf("backup: writing to stdout: %w", err)
	}
	return n, nil
}

// stdin is what "-" reads (tests replace it).
var stdin io.Reader = os.Stdin

// isTerminal says whether w is a terminal.
func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

func importOpts(skipExisting bool) rep.ImportOptions {
	if skipExisting {
		return rep.ImportOptions{IfExists: rep.IfExistsSkip}
	}
	return rep.ImportOptions{IfExists: rep.IfExistsFail}
}

// summary is one line of what an import did.
func summary(r rep.ImportResult) string {
	s := fmt.Sprintf("created %d realm(s), %d user(s), %d client(s), %d role(s), %d group(s)", r.Realms, r.Users, r.Clients, r.Roles, r.Groups)
	if len(r.SkippedRealms) > 0 {
		s += fmt.Sprintf("; left existing realm(s) %v untouched", r.SkippedRealms)
	}
	if r.SkippedUsers > 0 {
		s += fmt.Sprintf("; skipped %d existing user(s)", r.SkippedUsers)
	}
	for _, w := range r.Warnings {
		s += "; warning: " + w
	}
	return s
}
