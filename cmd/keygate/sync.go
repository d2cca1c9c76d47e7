package main

import (
	"context"
	"crypto/x509"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"golang.org/x/term"

	"github.com/keygate/keygate/federation"
	"github.com/keygate/keygate/federation/ldap"
	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/rep"
)

// cmdUsersSync is `keygate users sync`: the sync of one or every user
// storage provider of a realm, as the admin API's triggerFullSync /
// triggerChangedUsersSync run it, with progress on a terminal and the
// SynchronizationResult on stdout. It works while servers run on the same
// store: on PostgreSQL a sync already running anywhere is reported as
// ignored.
func cmdUsersSync(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users sync", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	realmName := fs.String("realm", "", "realm whose providers to sync (must exist)")
	provider := fs.String("provider", "", "the provider's name or id (default: every provider of the realm)")
	full := fs.Bool("full", false, "a full sync (default: users changed since the last sync)")
	dbKey := fs.String("db-key", "", "the server's --db-key, to read sealed bind credentials (prefer KEYGATE_DB_KEY)")
	truststore := fs.String("truststore-paths", "", "comma-separated PEM files or directories of CA certificates for the directories")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *realmName == "" {
		return usageError{"users sync: --realm is required"}
	}
	var roots *x509.CertPool
	if *truststore != "" {
		var err error
		if roots, err = federation.LoadTruststore(strings.Split(*truststore, ",")); err != nil {
			return usageError{"--truststore-paths: " + err.Error()}
		}
	}
	sealer, err := oidc.NewSecretSealer(*dbKey)
	if err != nil {
		return err
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	realm, err := realmNamed(ctx, st, "users sync", *realmName)
	if err != nil {
		return err
	}
	_, rs, err := rep.DecodeRealm(realm)
	if err != nil {
		return err
	}
	log, err := newLogger(stderr, "text", "warn")
	if err != nil {
		return err
	}
	reg := federation.NewRegistry(st, federation.Env{Logger: log, RootCAs: roots, Reveal: sealer.Reveal},
		map[string]federation.Factory{"ldap": ldap.Open})
	defer reg.Close()
	svc := federation.NewService(reg, federation.NewLinker(st), log)
	providers, err := reg.Providers(ctx, realm.ID)
	if err != nil {
		return err
	}
	d := rs.FederationDefaults()
	ran := 0
	for _, p := range providers {
		if *provider != "" && p.Name != *provider && p.Component.ID != *provider {
			continue
		}
		ran++
		bar := newSyncProgress(stderr, p.Name)
		res, err := svc.Sync(ctx, realm.ID, d, p.Component.ID, *full, func(_ string, sofar federation.SyncResult) { bar.update(sofar) })
		bar.done()
		if err != nil {
			return fmt.Errorf("provider %s: %w", p.Name, err)
		}
		out, _ := json.Marshal(res)
		fmt.Fprintf(stdout, "%s: %s\n", p.Name, out)
	}
	if ran == 0 {
		return usageError{fmt.Sprintf("realm %q has no user storage provider %q", *realmName, *provider)}
	}
	return nil
}

// syncProgress redraws one line on a terminal, at most ten times a second.
type syncProgress struct {
	w     io.Writer
	name  string
	on    bool
	last  time.Time
	start time.Time
}

func newSyncProgress(w io.Writer, name string) *syncProgress {
	f, ok := w.(*os.File)
	return &syncProgress{w: w, name: name, on: ok && term.IsTerminal(int(f.Fd())), start: time.Now()}
}

func (p *syncProgress) update(r federation.SyncResult) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	n := r.Added + r.Updated + r.Failed
	fmt.Fprintf(p.w, "\r%s: %d users  %.0f/s  added %d  updated %d  failed %d ", p.name, n,
		float64(n)/max(time.Since(p.start).Seconds(), 1e-3), r.Added, r.Updated, r.Failed)
}

func (p *syncProgress) done() {
	if p.on && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
