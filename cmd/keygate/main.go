// Command keygate is a Keycloak-compatible identity gateway: one binary that
// serves OIDC on Keycloak's URL layout from an embedded SQLite file or a
// shared PostgreSQL database.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"slices"
	"strings"
	"syscall"
)

// version and commit are set at build time with
// -ldflags "-X main.version=... -X main.commit=..." (make build, make release).
var (
	version = "dev"
	commit  = ""
)

// keyModules are the modules whose versions "keygate version" prints: the
// protocol, directory and storage libraries a bug report needs to name.
var keyModules = []string{
	"github.com/ory/fosite",
	"github.com/crewjam/saml",
	"github.com/go-ldap/ldap/v3",
	"github.com/coreos/go-oidc/v3",
	"modernc.org/sqlite",
	"github.com/jackc/pgx/v5",
	"github.com/a-h/templ",
}

const usage = `keygate — a Keycloak-compatible identity gateway

Usage:
  keygate serve                      run the server
  keygate users import FILE...       import users: StackState logins, Keycloak JSON, CSV
  keygate users sync --realm REALM [--provider NAME] [--full]
                                     sync users from the realm's LDAP providers
  keygate realm import FILE...       import Keycloak realm exports (JSON; - = stdin)
  keygate realm export REALM [--users] [--include-secrets]
                                     print a Keycloak-format realm export
  keygate backup --out FILE|-        consistent online backup of the store (- = stdout)
  keygate keys seal --db-key KEY     encrypt realm signing keys stored in the clear
                                     (before a first start with --db-key; stop
                                     servers without it first: they cannot read
                                     sealed keys)
  keygate migrate                    apply schema migrations and exit
  keygate version

Every flag also reads from KEYGATE_<FLAG_IN_UPPER_SNAKE>; flags win.
Run "keygate COMMAND --help" for a command's flags and environment variables.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "keygate:", describe(err))
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors and 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) {
		return 2
	}
	return 1
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

// run runs the command args names. A command's --help is printed on
// stdout and is no error.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	err := dispatch(ctx, args, stdout, stderr)
	var hr helpRequest
	if errors.As(err, &hr) {
		writeHelp(stdout, hr.fs)
		return nil
	}
	return err
}

func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	cmd, rest := args[0], args[1:]
	if sub, ok := groups[cmd]; ok {
		switch {
		case len(rest) == 0:
			writeGroupHelp(stderr, cmd)
			return usageError{fmt.Sprintf("%s: want %s", cmd, strings.Join(sub, " or "))}
		case isHelpArg(rest[0]):
			writeGroupHelp(stdout, cmd)
			return nil
		case !slices.Contains(sub, rest[0]):
			return unknownCommand(cmd, rest[0], sub)
		}
	}
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "realm":
		if rest[0] == "import" {
			return cmdRealmImport(ctx, rest[1:], stdout, stderr)
		}
		return cmdRealmExport(ctx, rest[1:], stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		if len(rest) > 0 && isHelpArg(rest[0]) {
			fmt.Fprintln(stdout, "Usage: keygate version\n\nPrint the version, the commit, the Go toolchain and the versions of the key modules linked in. It reads no environment variables.")
			return nil
		}
		if len(rest) > 0 {
			return usageError{fmt.Sprintf("version takes no arguments, got %q", rest[0])}
		}
		bi, _ := debug.ReadBuildInfo()
		writeVersion(stdout, bi)
		return nil
	case "help", "-h", "-help", "--help":
		if len(rest) > 0 && rest[0] != cmd { // keygate help COMMAND [SUB]
			return dispatch(ctx, append(slices.Clone(rest), "--help"), stdout, stderr)
		}
		fmt.Fprint(stdout, usage)
		return nil
	}
	return unknownCommand("", cmd, commands)
}

func buildVersion() string {
	if version != "dev" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return version
}

// writeVersion prints the version, the commit, the Go toolchain and
// platform, and the versions of keyModules as linked into this binary (from
// bi, which may be nil when the binary carries no build information).
func writeVersion(w io.Writer, bi *debug.BuildInfo) {
	fmt.Fprintln(w, "keygate", buildVersion())
	rev, modified, goVersion := commit, false, runtime.Version()
	deps := map[string]string{}
	if bi != nil {
		for _, s := range bi.Settings {
			switch {
			case s.Key == "vcs.revision" && rev == "":
				rev = s.Value
			case s.Key == "vcs.modified" && s.Value == "true" && commit == "":
				modified = true
			}
		}
		if bi.GoVersion != "" {
			goVersion = bi.GoVersion
		}
		for _, d := range bi.Deps {
			if d.Replace != nil {
				d = d.Replace
			}
			deps[d.Path] = d.Version
		}
	}
	switch {
	case rev == "":
		rev = "unknown"
	case modified:
		rev += " (modified)"
	}
	fmt.Fprintf(w, "commit: %s\n", rev)
	fmt.Fprintf(w, "go:     %s %s/%s\n", goVersion, runtime.GOOS, runtime.GOARCH)
	fmt.Fprintln(w, "modules:")
	for _, m := range keyModules {
		v, ok := deps[m]
		if !ok {
			v = "(not linked)"
		}
		fmt.Fprintf(w, "  %-30s %s\n", m, v)
	}
}

// newLogger builds the process logger. Handlers never log secrets; see
// idp.Server's middleware for what requests log.
func newLogger(w io.Writer, format, level string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, usageError{fmt.Sprintf("--log-level %q: want debug, info, warn or error", level)}
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, usageError{fmt.Sprintf("--log-format %q: want text or json", format)}
}
