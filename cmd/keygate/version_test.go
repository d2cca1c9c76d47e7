package main

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
)

// requiredVersions reads the module's go.mod require lines: path -> version.
func requiredVersions(t *testing.T) map[string]string {
	t.Helper()
	data, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	req := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(sc.Text()), "require "))
		if len(f) >= 2 && strings.Contains(f[0], ".") && strings.HasPrefix(f[1], "v") {
			req[f[0]] = f[1]
		}
	}
	return req
}

// versionLines runs "keygate version" through run and returns its lines.
func versionLines(t *testing.T, args ...string) []string {
	t.Helper()
	var out, errb bytes.Buffer
	if err := run(context.Background(), args, &out, &errb); err != nil {
		t.Fatalf("%v: %v (stderr %q)", args, err, errb.String())
	}
	if errb.Len() != 0 {
		t.Errorf("stderr: %q", errb.String())
	}
	return strings.Split(strings.TrimRight(out.String(), "\n"), "\n")
}

func TestVersionCommandPrintsLinkedModuleVersions(t *testing.T) {
	req := requiredVersions(t)
	for _, args := range [][]string{{"version"}, {"--version"}} {
		lines := versionLines(t, args...)
		if lines[0] != "keygate "+buildVersion() {
			t.Errorf("%v: first line %q", args, lines[0])
		}
		if want := "go:     " + runtime.Version() + " " + runtime.GOOS + "/" + runtime.GOARCH; lines[2] != want {
			t.Errorf("%v: go line %q, want %q", args, lines[2], want)
		}
		got := map[string]string{}
		for _, l := range lines {
			if f := strings.Fields(l); len(f) == 2 && strings.HasPrefix(l, "  ") {
				got[f[0]] = f[1]
			}
		}
		for _, m := range keyModules {
			want, ok := req[m]
			if !ok {
				t.Fatalf("go.mod does not require %s", m)
			}
			if got[m] != want {
				t.Errorf("%v: %s printed as %q, go.mod has %s", args, m, got[m], want)
			}
		}
	}
}

func TestWriteVersionFromBuildInfo(t *testing.T) {
	oldV, oldC := version, commit
	t.Cleanup(func() { version, commit = oldV, oldC })

	bi := &debug.BuildInfo{
		GoVersion: "go1.99.1",
		Settings: []debug.BuildSetting{
			{Key: "vcs.revision", Value: "0123456789abcdef"},
			{Key: "vcs.modified", Value: "true"},
		},
		Deps: []*debug.Module{
			{Path: "github.com/ory/fosite", Version: "v0.49.0"},
			{Path: "modernc.org/sqlite", Version: "v1.0.0", Replace: &debug.Module{Path: "modernc.org/sqlite", Version: "v1.62.1"}},
		},
	}
	var out bytes.Buffer
	version, commit = "dev", ""
	writeVersion(&out, bi)
	s := out.String()
	for _, want := range []string{
		"commit: 0123456789abcdef (modified)",
		"go:     go1.99.1 " + runtime.GOOS + "/" + runtime.GOARCH,
		moduleLine("github.com/ory/fosite", "v0.49.0"),
		moduleLine("modernc.org/sqlite", "v1.62.1"), // the replacement's version
		moduleLine("github.com/jackc/pgx/v5", "(not linked)"),
	} {
		if !hasLine(s, want) {
			t.Errorf("output lacks the line %q:\n%s", want, s)
		}
	}

	// Versions and commits stamped by the release build win over build info.
	out.Reset()
	version, commit = "v1.2.3", "feedface"
	writeVersion(&out, bi)
	if s := out.String(); !strings.HasPrefix(s, "keygate v1.2.3\ncommit: feedface\n") {
		t.Errorf("stamped build printed:\n%s", s)
	}

	// No build information at all: still a complete answer.
	out.Reset()
	version, commit = "dev", ""
	writeVersion(&out, nil)
	if s := out.String(); !hasLine(s, "commit: unknown") || !hasLine(s, moduleLine("github.com/a-h/templ", "(not linked)")) {
		t.Errorf("without build info:\n%s", s)
	}
}

// moduleLine is how writeVersion prints one module.
func moduleLine(path, version string) string {
	return "  " + path + strings.Repeat(" ", 31-len(path)) + version
}

func hasLine(s, line string) bool {
	for _, l := range strings.Split(s, "\n") {
		if l == line {
			return true
		}
	}
	return false
}
