package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"sync/atomic"
	"time"

	"golang.org/x/term"

	"github.com/keygate/keygate/idp/oidc"
	"github.com/keygate/keygate/idp/userimport"
	"github.com/keygate/keygate/store"
)

// cmdUsers dispatches `keygate users SUBCOMMAND`.
func cmdUsers(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && args[0] == "import":
		return cmdUsersImport(ctx, args[1:], stdout, stderr)
	case len(args) > 0 && args[0] == "sync":
		return cmdUsersSync(ctx, args[1:], stdout, stderr)
	}
	return usageError{"users: want import or sync"}
}

// cmdUsersImport is `keygate users import`: every FILE in one transaction,
// a summary on stdout, invalid records and progress on stderr. There is no
// password flag on purpose: files carry hashes, never plain passwords on a
// command line.
func cmdUsersImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("users import", flag.ContinueOnError)
	fs.SetOutput(stderr)
	db := storeFlags(fs)
	realm := fs.String("realm", "", "realm to import into (must exist)")
	format := fs.String("format", "auto", "input format: auto, stackstate, keycloak or csv")
	dryRun := fs.Bool("dry-run", false, "check and count everything, write nothing")
	onConflict := fs.String("on-conflict", "skip", "existing username: skip, update or fail")
	skipInvalid := fs.Bool("skip-invalid", false, "import the valid records even when some are invalid")
	dbKey := fs.String("db-key", "", "seal OTP secrets with the server's --db-key (prefer KEYGATE_DB_KEY)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *realm == "":
		return usageError{"users import: --realm is required"}
	case fs.NArg() == 0:
		return usageError{"users import: name at least one FILE"}
	}
	switch f := userimport.Format(*format); f {
	case userimport.FormatAuto, userimport.FormatStackState, userimport.FormatKeycloak, userimport.FormatCSV:
	default:
		return usageError{fmt.Sprintf("users import: --format %q: want auto, stackstate, keycloak or csv", *format)}
	}
	switch userimport.OnConflict(*onConflict) {
	case userimport.ConflictSkip, userimport.ConflictUpdate, userimport.ConflictFail:
	default:
		return usageError{fmt.Sprintf("users import: --on-conflict %q: want skip, update or fail", *onConflict)}
	}

	var read atomic.Int64
	var total int64
	files := make([]userimport.File, 0, fs.NArg())
	for _, name := range fs.Args() {
		r := stdin
		if name != "-" {
			f, err := os.Open(name)
			if err != nil {
				return err
			}
			defer f.Close()
			if fi, err := f.Stat(); err == nil {
				total += fi.Size()
			}
			r = f
		}
		files = append(files, userimport.File{Name: name, Format: userimport.Format(*format), R: countingReader{r, &read}})
	}
	st, err := openStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.GetRealmByName(ctx, *realm); errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("realm %q does not exist (create it first, e.g. with `keygate realm import`)", *realm)
	}

	opts := userimport.Options{Realm: *realm, OnConflict: userimport.OnConflict(*onConflict), DryRun: *dryRun, SkipInvalid: *skipInvalid}
	if *dbKey != "" {
		sealer, err := oidc.NewSecretSealer(*dbKey)
		if err != nil {
			return err
		}
		opts.SealSecret, opts.RevealSecret = sealer.Seal, sealer.Reveal
	}
	bar := newProgressBar(stderr, total, &read)
	opts.Progress = bar.update
	res, err := userimport.Import(ctx, st, files, opts)
	bar.done()
	for _, p := range res.Problems {
		fmt.Fprintln(stderr, "invalid:", p)
	}
	if n := res.Invalid - len(res.Problems); n > 0 {
		fmt.Fprintf(stderr, "invalid: ... and %d more\n", n)
	}
	for _, n := range res.Notes {
		fmt.Fprintln(stderr, "skipped:", n)
	}
	if err != nil {
		// The import is one transaction: a failed one wrote nothing, so
		// it never prints what it would have created.
		if errors.Is(err, userimport.ErrInvalid) {
			return fmt.Errorf("%w (fix them, or pass --skip-invalid to import the rest)", err)
		}
		return fmt.Errorf("users import: nothing imported: %w", err)
	}
	fmt.Fprintln(stdout, usersSummary(res))
	return nil
}

// usersSummary is the closing line: the four counts, then what else was
// created and how fast.
func usersSummary(r userimport.Result) string {
	var b strings.Builder
	if r.DryRun {
		b.WriteString("dry run, nothing written: ")
	}
	fmt.Fprintf(&b, "created %d, updated %d, skipped %d, invalid %d", r.Created, r.Updated, r.Skipped, r.Invalid)
	if r.RolesCreated+r.GroupsCreated > 0 {
		fmt.Fprintf(&b, " (new roles %d, new groups %d)", r.RolesCreated, r.GroupsCreated)
	}
	secs := r.Elapsed.Seconds()
	fmt.Fprintf(&b, "; %d records in %s", r.Read, r.Elapsed.Round(time.Millisecond))
	if secs > 0 && r.Read > 0 {
		fmt.Fprintf(&b, " (%.0f users/s)", float64(r.Read)/secs)
	}
	return b.String()
}

type countingReader struct {
	r io.Reader
	n *atomic.Int64
}

func (c countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n.Add(int64(n))
	return n, err
}

// progressBar redraws one line on a terminal at most ten times a second; on
// anything else it stays quiet so logs and pipes get only the summary.
type progressBar struct {
	w     io.Writer
	on    bool
	total int64
	read  *atomic.Int64
	last  time.Time
	start time.Time
}

func newProgressBar(w io.Writer, total int64, read *atomic.Int64) *progressBar {
	f, ok := w.(*os.File)
	return &progressBar{w: w, on: ok && term.IsTerminal(int(f.Fd())), total: total, read: read, start: time.Now()}
}

func (p *progressBar) update(r userimport.Result) {
	if !p.on || time.Since(p.last) < 100*time.Millisecond {
		return
	}
	p.last = time.Now()
	const width = 30
	frac := 0.0
	if p.total > 0 {
		frac = min(float64(p.read.Load())/float64(p.total), 1)
	}
	filled := int(frac * width)
	rate := float64(r.Read) / max(time.Since(p.start).Seconds(), 1e-3)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %d records  %.0f/s  created %d  invalid %d ",
		strings.Repeat("=", filled), strings.Repeat(" ", width-filled), frac*100, r.Read, rate, r.Created, r.Invalid)
}

func (p *progressBar) done() {
	if p.on && !p.last.IsZero() {
		fmt.Fprint(p.w, "\r\033[K")
	}
}
