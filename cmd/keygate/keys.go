package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/store"
)

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate" {
		return cmdKeysRotate(ctx, args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "seal" {
		return usageError{"keys: want seal or rotate"}
	}
	fs := flag.NewFlagSet("keys seal", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	dbKey := fs.String("db-key", "", "the secret to seal realm signing keys with, as serve's --db-key (prefer the KEYGATE_DB_KEY variable, a flag shows in ps)")
	if err := parse(fs, args[1:]); err != nil {
		return err
	}
	if *dbKey == "" {
		return usageError{"keys seal: --db-key (or KEYGATE_DB_KEY) is required"}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	n, err := oidc.SealStoredKeys(ctx, st, *dbKey)
	if err != nil {
		return fmt.Errorf("keys seal: %w", err)
	}
	fmt.Fprintf(stdout, "sealed %d keys in %s; start every server on it with this --db-key\n", n, redactDSN(*db))
	return nil
}

// cmdKeysRotate gives a realm a new active signing key, on a database
// servers may be running on: they sign with it at their next token (the
// realm's change counters), and the old key stays passive in the JWKS so
// the tokens it signed keep verifying until they expire.
func cmdKeysRotate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("keys rotate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	realmName := fs.String("realm", "", "the realm whose signing key to rotate (required)")
	alg := fs.String("algorithm", "RS256", "the key to rotate: RS256 or ES256")
	dbKey := fs.String("db-key", "", "the --db-key the servers run with, if any (prefer the KEYGATE_DB_KEY variable, a flag shows in ps)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *realmName == "" {
		return usageError{"keys rotate: --realm is required"}
	}
	if *alg != "RS256" && *alg != "ES256" {
		return usageError{fmt.Sprintf("keys rotate: --algorithm %q: want RS256 or ES256", *alg)}
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	realm, err := realmNamed(ctx, st, "keys rotate", *realmName)
	if err != nil {
		return err
	}
	kr, err := oidc.NewKeyring(st, *dbKey)
	if err != nil {
		return usageError{"keys rotate: " + err.Error()}
	}
	kid, err := kr.Rotate(ctx, realm.ID, *alg)
	if err != nil {
		return fmt.Errorf("keys rotate: %w", err)
	}
	fmt.Fprintf(stdout, "realm %s: new active %s key %s; the previous one is passive (still in the JWKS, verifying the tokens it signed)\n", realm.Name, *alg, kid)
	return nil
}

// realmNamed reads the realm a command names, saying which command found
// no such realm.
func realmNamed(ctx context.Context, st store.RealmStore, cmd, name string) (store.Realm, error) {
	realm, err := st.GetRealmByName(ctx, name)
	if errors.Is(err, store.ErrNotFound) {
		return realm, fmt.Errorf("%s: realm %q does not exist", cmd, name)
	} else if err != nil {
		return realm, fmt.Errorf("%s: realm %q: %w", cmd, name, err)
	}
	return realm, nil
}
