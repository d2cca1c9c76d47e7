// Package systemd tests keygate.service and keygate.env.example: the
// hardening the unit promises, with systemd-analyze's own verdict where it
// runs, and environment variables that keygate serve actually reads.
package systemd

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// unit is a parsed unit file: section -> key -> values in order.
type unit map[string]map[string][]string

func parseUnit(t *testing.T, data []byte) unit {
	t.Helper()
	u := unit{}
	section := ""
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = line[1 : len(line)-1]
			if u[section] != nil {
				t.Errorf("line %d: section [%s] twice", n, section)
			}
			u[section] = map[string][]string{}
		case strings.HasSuffix(line, "\\"):
			t.Errorf("line %d: continuation lines are not used here", n)
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok || section == "" {
				t.Fatalf("line %d: %q is not key=value in a section", n, line)
			}
			u[section][k] = append(u[section][k], v)
		}
	}
	return u
}

func readUnit(t *testing.T) ([]byte, unit) {
	t.Helper()
	data, err := os.ReadFile("keygate.service")
	if err != nil {
		t.Fatal(err)
	}
	return data, parseUnit(t, data)
}

// Keys that may appear more than once (they accumulate).
var repeatable = map[string]bool{"Environment": true, "SystemCallFilter": true, "ReadWritePaths": true}

func TestUnitHardening(t *testing.T) {
	_, u := readUnit(t)
	svc := u["Service"]
	if svc == nil || u["Unit"] == nil || u["Install"] == nil {
		t.Fatalf("sections %v: want Unit, Service, Install", u)
	}
	for k, vs := range svc {
		if len(vs) > 1 && !repeatable[k] {
			t.Errorf("%s set %d times", k, len(vs))
		}
	}
	one := func(k string) string {
		if vs := svc[k]; len(vs) > 0 {
			return vs[len(vs)-1]
		}
		return "<unset>"
	}
	for k, want := range map[string]string{
		"DynamicUser":             "yes",
		"StateDirectory":          "keygate",
		"StateDirectoryMode":      "0700",
		"UMask":                   "0077",
		"WorkingDirectory":        "/var/lib/keygate",
		"ProtectSystem":           "strict",
		"ProtectHome":             "yes",
		"PrivateTmp":              "yes",
		"PrivateDevices":          "yes",
		"NoNewPrivileges":         "yes",
		"CapabilityBoundingSet":   "",
		"AmbientCapabilities":     "",
		"RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
		"MemoryDenyWriteExecute":  "yes",
		"LockPersonality":         "yes",
		"RestrictNamespaces":      "yes",
		"RestrictRealtime":        "yes",
		"RestrictSUIDSGID":        "yes",
		"ProtectKernelTunables":   "yes",
		"ProtectKernelModules":    "yes",
		"ProtectKernelLogs":       "yes",
		"ProtectControlGroups":    "yes",
		"ProtectClock":            "yes",
		"ProtectHostname":         "yes",
		"SystemCallArchitectures": "native",
		"EnvironmentFile":         "/etc/keygate/keygate.env",
		"Type":                    "exec",
		"Restart":                 "on-failure",
	} {
		if got := one(k); got != want {
			t.Errorf("%s=%s, want %s=%s", k, got, k, want)
		}
	}
	if f := svc["SystemCallFilter"]; len(f) == 0 || f[0] != "@system-service" {
		t.Errorf("SystemCallFilter %q: want @system-service first", f)
	}
	if exec := one("ExecStart"); exec != "/usr/local/bin/keygate serve" {
		t.Errorf("ExecStart=%s", exec)
	}
	// The SQLite default lives in the state directory, the only writable place.
	env := map[string]string{}
	for _, e := range svc["Environment"] {
		k, v, _ := strings.Cut(strings.Trim(e, `"`), "=")
		env[k] = v
	}
	if env["KEYGATE_DB"] != "sqlite:/var/lib/keygate/keygate.db" {
		t.Errorf("KEYGATE_DB default %q", env["KEYGATE_DB"])
	}
	if env["KEYGATE_HTTP_ADDR"] == "" {
		t.Error("no KEYGATE_HTTP_ADDR default")
	}
	if got := strings.Join(u["Install"]["WantedBy"], " "); got != "multi-user.target" {
		t.Errorf("WantedBy=%s", got)
	}
}

// serveFlags are the flags cmd/keygate's serve command defines.
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../../cmd/keygate/serve.go")
	if err != nil {
		t.Fatal(err)
	}
	flags := map[string]bool{}
	re := regexp.MustCompile(`fs\.(?:String|Bool|Int|Duration|Var)\((?:&\w+, )?"([a-z0-9-]+)"`)
	for _, m := range re.FindAllSubmatch(src, -1) {
		flags[string(m[1])] = true
	}
	if len(flags) < 10 || !flags["db"] || !flags["hostname"] {
		t.Fatalf("found serve flags %v: the pattern no longer matches serve.go", flags)
	}
	return flags
}

// Every variable in the example (set or commented out) is one that keygate
// reads, and nothing secret is set in it.
func TestEnvExample(t *testing.T) {
	data, err := os.ReadFile("keygate.env.example")
	if err != nil {
		t.Fatal(err)
	}
	flags := serveFlags(t)
	assign := regexp.MustCompile(`^#?([A-Z][A-Z0-9_]*)=(.*)$`)
	seen := map[string]bool{}
	for n, line := range strings.Split(string(data), "\n") {
		m := assign.FindStringSubmatch(strings.TrimSpace(line))
		if m == nil {
			continue
		}
		name, value, active := m[1], m[2], !strings.HasPrefix(strings.TrimSpace(line), "#")
		seen[name] = true
		switch {
		case strings.HasPrefix(name, "KEYGATE_BOOTSTRAP_ADMIN_"), strings.HasPrefix(name, "KC_BOOTSTRAP_ADMIN_"):
		case strings.HasPrefix(name, "KEYGATE_"):
			flag := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(name, "KEYGATE_")), "_", "-")
			if !flags[flag] {
				t.Errorf("line %d: %s is no flag of keygate serve (--%s)", n+1, name, flag)
			}
		default:
			t.Errorf("line %d: %s is not read by keygate", n+1, name)
		}
		if active && regexp.MustCompile(`PASSWORD|_DB_KEY$`).MatchString(name) && value != "" {
			t.Errorf("line %d: %s is set in the example", n+1, name)
		}
		if active && strings.Contains(value, "PASSWORD") {
			t.Errorf("line %d: a placeholder password is active", n+1)
		}
	}
	for _, want := range []string{"KEYGATE_HOSTNAME", "KEYGATE_DB", "KEYGATE_DB_KEY", "KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYGATE_PROXY_HEADERS", "KEYGATE_PROXY_TRUSTED_ADDRESSES", "KEYGATE_METRICS_ADDR"} {
		if !seen[want] {
			t.Errorf("the example does not mention %s", want)
		}
	}
}

// systemdAnalyze runs systemd-analyze on a copy of the unit whose
// ExecStart names an executable that exists here (verify checks it), and
// returns everything it printed.
func systemdAnalyze(t *testing.T, unitText []byte, args ...string) (string, error) {
	t.Helper()
	sa, err := exec.LookPath("systemd-analyze")
	if err != nil {
		msg := "systemd-analyze not installed (Debian: apt-get install systemd): checked the unit's keys only"
		if os.Getenv("KEYGATE_REQUIRE_SYSTEMD_ANALYZE") == "1" {
			t.Fatal(msg + ", and KEYGATE_REQUIRE_SYSTEMD_ANALYZE=1")
		}
		t.Skip(msg)
	}
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "keygate.service")
	text := bytes.ReplaceAll(unitText, []byte("ExecStart=/usr/local/bin/keygate "), []byte("ExecStart="+self+" "))
	if err := os.WriteFile(path, text, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(sa, append(args, path)...)
	cmd.Env = append(os.Environ(), "SYSTEMD_LOG_COLOR=0", "SYSTEMD_COLORS=0", "SYSTEMD_PAGER=")
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// systemd-analyze verify prints nothing for a unit it fully understands;
// any warning (unknown key, bad value) fails the test.
func TestSystemdAnalyzeVerify(t *testing.T) {
	data, _ := readUnit(t)
	out, err := systemdAnalyze(t, data, "verify")
	if err != nil || strings.TrimSpace(out) != "" {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
	// The same check sees a mistake.
	bad := bytes.Replace(data, []byte("ProtectSystem=strict"), []byte("ProtectSystem=strict\nProtectSytem=strict"), 1)
	out, _ = systemdAnalyze(t, bad, "verify")
	if !strings.Contains(out, "ProtectSytem") {
		t.Errorf("verify did not report a misspelt key: %q", out)
	}
}

// systemd-analyze security rates the sandbox; the unit must stay "OK"
// (exposure at most 2.0 of 10).
func TestSystemdAnalyzeSecurity(t *testing.T) {
	data, _ := readUnit(t)
	out, err := systemdAnalyze(t, data, "security", "--offline=true", "--no-pager")
	if err != nil && strings.Contains(out, "offline") {
		t.Skipf("this systemd-analyze has no --offline: %s", out)
	}
	m := regexp.MustCompile(`Overall exposure level for keygate\.service: ([0-9.]+) (\w+)`).FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no exposure level: %v\n%s", err, out)
	}
	level, perr := strconv.ParseFloat(m[1], 64)
	if perr != nil || level > 2.0 {
		t.Errorf("exposure %s %s, want at most 2.0:\n%s", m[1], m[2], out)
	}
	t.Logf("systemd-analyze security: exposure %s %s", m[1], m[2])
}
