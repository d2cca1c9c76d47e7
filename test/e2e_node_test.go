//go:build e2e

package test

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// npmInstall installs test/node's dependencies once per run (npm ci when a
// lock file exists). The e2e suite may install; `make test` never does.
var npmOnce sync.Once
var npmErr error

func npmInstall(t *testing.T) {
	t.Helper()
	npmOnce.Do(func() {
		args := []string{"install", "--no-audit", "--no-fund", "--loglevel=error"}
		if _, err := os.Stat("node/package-lock.json"); err == nil {
			args[0] = "ci"
		}
		cmd := exec.Command("npm", args...)
		cmd.Dir = "node"
		out, err := cmd.CombinedOutput()
		if err != nil {
			npmErr = err
			t.Logf("npm %s:\n%s", strings.Join(args, " "), out)
		}
	})
	if npmErr != nil {
		t.Fatalf("npm install: %v", npmErr)
	}
}

// runNode runs one node:test file against a server; env adds KEYGATE_* values.
func runNode(t *testing.T, file string, env ...string) {
	t.Helper()
	npmInstall(t)
	out := filepath.Join("out", strings.TrimSuffix(filepath.Base(file), ".test.mjs"))
	if err := os.MkdirAll(out, 0o755); err != nil {
		t.Fatal(err)
	}
	abs, _ := filepath.Abs(out)
	cmd := exec.Command("node", "--test", "--test-reporter=spec", file)
	cmd.Dir = "node"
	cmd.Env = append(append(os.Environ(), "KEYGATE_OUT="+abs), env...)
	b, err := cmd.CombinedOutput()
	t.Logf("node %s:\n%s", file, b)
	if err != nil {
		t.Fatalf("node %s failed: %v", file, err)
	}
}
