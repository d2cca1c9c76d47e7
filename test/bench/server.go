package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is one running `keygate serve` process.
type server struct {
	URL    string // http://127.0.0.1:PORT
	pprof  string // where a -tags pprof build serves net/http/pprof
	cmd    *exec.Cmd
	logs   *logSink
	exited chan struct{} // closed once the process has been waited for
}

var listenRE = regexp.MustCompile(`msg=listening addr=(\S+) scheme=http\b`)

// startServer runs bin with args and returns once GET /health/ready answers
// 200, with the time from process start to that answer. The server is
// stopped again on any error.
func startServer(ctx context.Context, bin string, args ...string) (*server, time.Duration, error) {
	logs := &logSink{addr: make(chan string, 1)}
	pprofAddr, err := freeAddr()
	if err != nil {
		return nil, 0, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.Env = append(os.Environ(), "KEYGATE_PPROF_ADDR="+pprofAddr)
	s := &server{cmd: cmd, logs: logs, exited: make(chan struct{}), pprof: pprofAddr}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return nil, 0, err
	}
	go func() { _ = cmd.Wait(); close(s.exited) }()

	fail := func(format string, a ...any) (*server, time.Duration, error) {
		s.stop()
		return nil, 0, fmt.Errorf("keygate: %s; log:\n%s", fmt.Sprintf(format, a...), lastLines(logs.String(), 40))
	}
	timeout := time.After(20 * time.Second)
	select {
	case a := <-logs.addr:
		s.URL = "http://" + a
	case <-s.exited:
		return fail("exited before listening (%v)", cmd.ProcessState)
	case <-timeout:
		return fail("no listening line after 20 s")
	case <-ctx.Done():
		return fail("%v", ctx.Err())
	}
	probe := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := probe.Get(s.URL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s, time.Since(start), nil
			}
		}
		select {
		case <-s.exited:
			return fail("exited before ready (%v)", cmd.ProcessState)
		case <-timeout:
			return fail("not ready after 20 s")
		case <-ctx.Done():
			return fail("%v", ctx.Err())
		case <-time.After(time.Millisecond):
		}
	}
}

// stop interrupts the server, waits up to 10 s for a clean exit, then kills
// it. Safe to call more than once.
func (s *server) stop() {
	select {
	case <-s.exited:
		return
	default:
	}
	_ = s.cmd.Process.Signal(os.Interrupt)
	select {
	case <-s.exited:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

// memory reads the process's resident set size and its peak (VmRSS, VmHWM)
// in bytes from /proc.
func (s *server) memory() (rss, peak int64, err error) {
	v, err := s.status("VmRSS", "VmHWM")
	return v[0], v[1], err
}

// residentParts splits the resident set: anonymous memory (heap, stacks,
// written data) and file-backed pages, nearly all the binary's own text
// and read-only data, which the kernel maps in around each page touched
// (fault-around) and can drop again at any time.
func (s *server) residentParts() (anon, file int64, err error) {
	v, err := s.status("RssAnon", "RssFile")
	return v[0], v[1], err
}

// status reads the named kB fields of /proc/PID/status, in bytes.
func (s *server) status(names ...string) ([]int64, error) {
	out := make([]int64, len(names))
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return out, err
	}
	found := 0
	for line := range strings.Lines(string(data)) {
		name, value, ok := strings.Cut(line, ":")
		i := slices.Index(names, name)
		if !ok || i < 0 {
			continue
		}
		f := strings.Fields(value) // "12345 kB"
		if len(f) != 2 || f[1] != "kB" {
			return out, fmt.Errorf("/proc status %s: %q", name, value)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return out, err
		}
		out[i] = kb << 10
		found++
	}
	if found != len(names) {
		return out, fmt.Errorf("/proc status lacks one of %v", names)
	}
	return out, nil
}

// cpu returns the CPU time (user + system) the process has used so far.
// /proc/PID/stat counts it in clock ticks, 100 a second on Linux (USER_HZ).
func (s *server) cpu() (time.Duration, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return 0, err
	}
	// Fields after the parenthesised command name: state is field 3, utime 14, stime 15.
	_, rest, ok := strings.Cut(string(data), ") ")
	f := strings.Fields(rest)
	if !ok || len(f) < 13 {
		return 0, fmt.Errorf("/proc stat: %q", data)
	}
	var ticks int64
	for _, v := range f[11:13] {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return 0, err
		}
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100), nil
}

// startupMS is what the server logged as its own start-up time, or "?".
func (s *server) startupMS() string {
	if m := startupRE.FindStringSubmatch(s.logs.String()); m != nil {
		return m[1] + " ms"
	}
	return "?"
}

var startupRE = regexp.MustCompile(`startup_ms=(\d+)`)

// selfCPU is the CPU time this process (the load generator) has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// machineCPU is the busy time of all CPUs since boot (/proc/stat: every
// state but idle and iowait), in the same 100 Hz ticks as cpu.
func machineCPU() time.Duration {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	f := strings.Fields(line) // cpu user nice system idle iowait irq softirq steal ...
	if len(f) < 9 || f[0] != "cpu" {
		return 0
	}
	var ticks int64
	for i, v := range f[1:9] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		n, _ := strconv.ParseInt(v, 10, 64)
		ticks += n
	}
	return time.Duration(ticks) * (time.Second / 100)
}

// loadAverage is the first three fields of /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// logSink keeps the server's output and reports the address of its plain
// HTTP listener from the "listening" line.
type logSink struct {
	mu      sync.Mutex
	buf     bytes.Buffer
	scanned int // bytes of buf already split into lines
	addr    chan string
}

func (l *logSink) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.buf.Write(p)
	for {
		rest := l.buf.Bytes()[l.scanned:]
		i := bytes.IndexByte(rest, '\n')
		if i < 0 {
			break
		}
		if m := listenRE.FindSubmatch(rest[:i]); m != nil {
			select {
			case l.addr <- string(m[1]):
			default:
			}
		}
		l.scanned += i + 1
	}
	return len(p), nil
}

func (l *logSink) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
