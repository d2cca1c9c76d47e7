// Command keygate is a Keycloak-compatible identity gateway: one binary that
// serves OIDC on Keycloak's URL layout from an embedded SQLite file or a
// shared PostgreSQL database.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

const usage = `keygate — a Keycloak-compatible identity gateway

Usage:
  keygate serve                      run the server
  keygate users import FILE...       import users: StackState logins, Keycloak JSON, CSV
  keygate users sync --realm REALM [--provider NAME] [--full]
                                     sync users from the realm's LDAP providers
  keygate realm import FILE...       import Keycloak realm exports (JSON)
  keygate realm export REALM [--users] [--include-secrets]
                                     print a Keycloak-format realm export
  keygate backup --out FILE          consistent online backup of the store
  keygate keys seal --db-key KEY     encrypt realm signing keys stored in the clear
                                     (before a first start with --db-key; stop
                                     servers without it first: they cannot read
                                     sealed keys)
  keygate migrate                    apply schema migrations and exit
  keygate version

Every flag also reads from KEYGATE_<FLAG_IN_UPPER_SNAKE>; flags win.
Run "keygate COMMAND -h" for a command's flags.
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "keygate:", err)
		}
		os.Exit(exitCode(err))
	}
}

// exitCode is 2 for usage errors and 1 for everything else.
func exitCode(err error) int {
	var ue usageError
	if errors.As(err, &ue) || errors.Is(err, flag.ErrHelp) {
		return 2
	}
	return 1
}

type usageError struct{ msg string }

func (e usageError) Error() string { return e.msg }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return usageError{"no command given"}
	}
	switch cmd, rest := args[0], args[1:]; cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "migrate":
		return cmdMigrate(ctx, rest, stdout, stderr)
	case "realm":
		if len(rest) == 0 {
			return usageError{"realm: want import or export"}
		}
		switch rest[0] {
		case "import":
			return cmdRealmImport(ctx, rest[1:], stdout, stderr)
		case "export":
			return cmdRealmExport(ctx, rest[1:], stdout, stderr)
		}
		return usageError{fmt.Sprintf("realm %s: unknown subcommand", rest[0])}
	case "users":
		return cmdUsers(ctx, rest, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, rest, stdout, stderr)
	case "keys":
		return cmdKeys(ctx, rest, stdout, stderr)
	case "version", "--version", "-version":
		fmt.Fprintln(stdout, "keygate", buildVersion())
		return nil
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return usageError{fmt.Sprintf("unknown command %q", args[0])}
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
