package main

import (
	"context"
	"flag"
	"fmt"
	"io"

	"github.com/keygate/keygate/idp/oidc"
)

func cmdKeys(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "seal" {
		return usageError{"keys: want seal"}
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
