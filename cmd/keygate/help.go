package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/keygate/keygate/store"
)

// commandHelp is what `keygate COMMAND --help` says besides the flags.
type commandHelp struct {
	usage string   // the synopsis after "Usage: "
	about string   // one paragraph
	env   []envDoc // variables read besides KEYGATE_<FLAG>
}

type envDoc struct{ names, about string }

// helps are the commands' help texts, by FlagSet name.
var helps = map[string]commandHelp{
	"serve": {usage: "keygate serve [flags]",
		about: "Run the server: OIDC on Keycloak's URL layout, the admin API, health on /health/*, metrics on --metrics-addr.",
		env: []envDoc{
			{"KC_BOOTSTRAP_ADMIN_USERNAME, KC_BOOTSTRAP_ADMIN_PASSWORD", "create this admin in the master realm when it has no users (also KEYGATE_BOOTSTRAP_ADMIN_USERNAME, KEYGATE_BOOTSTRAP_ADMIN_PASSWORD)"},
			{"HTTPS_PROXY, HTTP_PROXY, NO_PROXY", "proxy for calls to identity providers (metadata, JWKS, token, userinfo)"},
		}},
	"migrate": {usage: "keygate migrate [flags]",
		about: "Apply pending schema migrations to the store and exit (serve and every other command apply them too)."},
	"realm import": {usage: "keygate realm import [flags] FILE...   (FILE - reads stdin)",
		about: "Import Keycloak realm exports (JSON), each in one transaction; a realm that exists fails the import unless --skip-existing."},
	"realm export": {usage: "keygate realm export [flags] REALM",
		about: "Print a Keycloak-format export of REALM on stdout."},
	"backup": {usage: "keygate backup --out FILE|- [flags]",
		about: "Write a consistent online backup of the store (SQLite) while servers run on it; --out - writes it to stdout and nothing else there."},
	"keys seal": {usage: "keygate keys seal --db-key KEY [flags]",
		about: "Encrypt the realm signing keys stored in the clear with --db-key (stop servers started without it first: they cannot read sealed keys)."},
	"keys rotate": {usage: "keygate keys rotate --realm REALM [--algorithm RS256|ES256] [flags]",
		about: "Give REALM a new active signing key while servers run (they sign with it at their next token); the previous key stays passive in the JWKS so the tokens it signed keep verifying."},
	"users import": {usage: "keygate users import --realm REALM [flags] FILE...   (FILE - reads stdin)",
		about: "Import users (StackState logins, Keycloak JSON, CSV) in one transaction: an import that fails writes nothing."},
	"users sync": {usage: "keygate users sync --realm REALM [--provider NAME] [--full] [flags]",
		about: "Sync users from the realm's LDAP providers, as the admin API's triggerFullSync and triggerChangedUsersSync do."},
}

// groups are the commands that take a subcommand, with their subcommands.
var groups = map[string][]string{
	"realm": {"import", "export"},
	"users": {"import", "sync"},
	"keys":  {"seal", "rotate"},
}

// commands are the top-level commands, for suggestions.
var commands = []string{"serve", "migrate", "realm", "users", "backup", "keys", "version", "help"}

// envName is the variable a flag also reads (envFlags).
func envName(flagName string) string {
	return "KEYGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// helpRequest is parse's answer to -h, -help or --help: run prints the
// command's help on stdout and exits 0.
type helpRequest struct{ fs *flag.FlagSet }

func (helpRequest) Error() string { return "help requested" }

// writeHelp prints fs's command help: usage, what it does, every flag with
// its variable and default, and the other variables it reads.
func writeHelp(w io.Writer, fs *flag.FlagSet) {
	h := helps[fs.Name()]
	if h.usage == "" {
		h.usage = "keygate " + fs.Name() + " [flags]"
	}
	fmt.Fprintf(w, "Usage: %s\n\n", h.usage)
	if h.about != "" {
		fmt.Fprintf(w, "%s\n\n", h.about)
	}
	fmt.Fprintln(w, "Flags (each also read from the variable named after it; a flag on the command line wins):")
	fs.VisitAll(func(f *flag.Flag) {
		typ, usage := flag.UnquoteUsage(f)
		line := "  --" + f.Name
		if typ != "" {
			line += " " + typ
		}
		fmt.Fprintf(w, "%-36s $%s\n", line, envName(f.Name))
		switch {
		case f.DefValue == "" || f.DefValue == "false" || f.DefValue == "0" && typ != "string":
		case typ == "string":
			usage += fmt.Sprintf(" (default %q)", f.DefValue)
		default:
			usage += fmt.Sprintf(" (default %s)", f.DefValue)
		}
		fmt.Fprintf(w, "      %s\n", usage)
	})
	if len(h.env) > 0 {
		fmt.Fprintln(w, "\nEnvironment:")
		for _, e := range h.env {
			fmt.Fprintf(w, "  %s\n      %s\n", e.names, e.about)
		}
	}
}

// writeGroupHelp prints the subcommands of group.
func writeGroupHelp(w io.Writer, group string) {
	fmt.Fprintf(w, "Usage: keygate %s COMMAND [flags]\n\nCommands:\n", group)
	for _, sub := range groups[group] {
		fmt.Fprintf(w, "  %s\n      %s\n", helps[group+" "+sub].usage, helps[group+" "+sub].about)
	}
	fmt.Fprintf(w, "\nRun \"keygate %s COMMAND --help\" for a command's flags and variables.\n", group)
}

func isHelpArg(a string) bool {
	return a == "-h" || a == "-help" || a == "--help" || a == "help"
}

// parseArgs parses args into fs without printing: -h, -help and --help
// are a helpRequest, an unknown flag is a usage error naming the nearest
// flag, any other flag error a usage error pointing at --help.
func parseArgs(fs *flag.FlagSet, args []string) error {
	fs.Usage = func() {}
	fs.SetOutput(io.Discard)
	err := fs.Parse(args)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, flag.ErrHelp):
		return helpRequest{fs}
	}
	msg := err.Error()
	if name, ok := strings.CutPrefix(msg, "flag provided but not defined: "); ok {
		name = strings.TrimLeft(name, "-")
		var names []string
		fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
		msg = fmt.Sprintf("%s: unknown flag --%s", fs.Name(), name)
		if near := nearest(name, names); near != "" {
			msg += fmt.Sprintf("; did you mean --%s?", near)
		}
	} else {
		msg = fs.Name() + ": " + dashFlags.ReplaceAllString(msg, "$1--$2")
	}
	return usageError{fmt.Sprintf("%s (see \"keygate %s --help\")", msg, fs.Name())}
}

// dashFlags finds the flag package's "-name" spellings, to show "--name".
var dashFlags = regexp.MustCompile(`(^|[\s:])-([a-z][a-z0-9-]*)`)

// nearest is the candidate closest to s: within a small edit distance, or
// starting s or started by it (--metrics for --metrics-addr), which counts
// as a distance between one and two edits; "" when none is close.
func nearest(s string, candidates []string) string {
	best, bestScore := "", -1
	for _, c := range candidates {
		score := -1 // twice the distance, so that a prefix can score 3
		if d := editDistance(s, c); d <= max(2, len(c)/3) {
			score = 2 * d
		}
		if len(s) >= 2 && len(c) >= 2 && (strings.HasPrefix(c, s) || strings.HasPrefix(s, c)) && (score < 0 || score > 3) {
			score = 3
		}
		if score >= 0 && (bestScore < 0 || score < bestScore) {
			best, bestScore = c, score
		}
	}
	return best
}

// editDistance is the Levenshtein distance between a and b.
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// unknownCommand is the usage error for an unknown (sub)command, naming
// the nearest.
func unknownCommand(prefix, got string, known []string) error {
	msg := fmt.Sprintf("unknown command %q", strings.TrimSpace(prefix+" "+got))
	if near := nearest(got, known); near != "" {
		msg += fmt.Sprintf("; did you mean %q?", strings.TrimSpace(prefix+" "+near))
	}
	return usageError{msg + ` (see "keygate --help")`}
}

// internalPrefix matches the package prefixes that wrap errors inside
// keygate ("sqlstore: ", "store: ", ...): words for developers, not for
// the person at the terminal.
var internalPrefix = regexp.MustCompile(`(^|: |\()(sqlstore|store|sqlite|postgres|rep|userimport|oidc|federation|password|events|ldap): `)

// describe is err as the command line shows it: without internal package
// prefixes, and saying in words when the database could not answer.
func describe(err error) string {
	msg := err.Error()
	for {
		next := internalPrefix.ReplaceAllString(msg, "$1")
		if next == msg {
			break
		}
		msg = next
	}
	// `realm "a" already exists: conflict` says it twice.
	msg = strings.NewReplacer("already exists: conflict", "already exists", "does not exist: not found", "does not exist").Replace(msg)
	if errors.Is(err, store.ErrUnavailable) && !strings.Contains(msg, "database") {
		msg = "the database cannot answer now (is it running, reachable and not out of disk space?): " + msg
	}
	return msg
}
