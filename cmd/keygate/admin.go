package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
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
		data, err := os.ReadFile(f)
		if err != nil {
			return err
		}
		res, err := rep.ImportRealm(ctx, st, data, opts)
		if err != nil {
			return fmt.Errorf("%s: %w", f, err)
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
	dbKey := fs.String("db-key", "", "with --include-secrets: the --db-key the server seals them with (prefer KEYGATE_DB_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	realm := fs.Arg(0)
	if fs.NArg() > 1 { // flags after REALM: `realm export REALM --users`
		if err := fs.Parse(fs.Args()[1:]); err != nil {
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
	out := fs.String("out", "", "file to write the backup to (must not exist)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *out == "" {
		return usageError{"backup: --out FILE is required"}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	start := time.Now()
	if err := st.Backup(ctx, *out); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "backup written to %s in %s\n", *out, time.Since(start).Round(time.Millisecond))
	return nil
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
