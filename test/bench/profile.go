package main

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// A server built with -tags pprof (make bench builds one) serves
// net/http/pprof; the bench then profiles each grant scenario in the
// middle of its measured window and reports the share of the server's CPU
// spent inside the crypto primitives. That share is measured on the
// server's own samples, so unlike the ratio to the raw rates (measured
// minutes apart, in a loop with hot caches) a machine that speeds up or
// slows down between the two does not move it.

// cryptoFrame names the primitives an answer's bound is made of, as the
// server runs them: RSA and ECDSA signing and idp/password's PBKDF2 (HS512
// is a few microseconds and left out, as the bound's HMAC term nearly is).
var cryptoFrame = regexp.MustCompile(`^(crypto/internal/fips140/rsa\.SignPKCS1v15|crypto/internal/fips140/ecdsa\.Sign(\[.*\])?|github\.com/keygate/keygate/idp/password\.pbkdf2Key)$`)

// The rest of the server's CPU is split into parts, for the closing
// figures to say where an answer's time beyond its crypto goes. A sample
// counts in the first part, in this order, that any frame of its stack
// belongs to; what none claims (the runtime's own work: GC, scheduler) is
// "runtime and other".
var partFrames = [...]struct {
	name string
	re   *regexp.Regexp
}{
	{"store", regexp.MustCompile(`^(modernc\.org/(sqlite|libc)|database/sql\.|github\.com/jackc/|github\.com/keygate/keygate/store/)`)},
	{"JSON", regexp.MustCompile(`^encoding/json\.`)},
	{"token handling", regexp.MustCompile(`^github\.com/(keygate/keygate/idp/|ory/fosite)`)},
	{"HTTP server", regexp.MustCompile(`^(net/http\.|net\.|bufio\.)`)},
}

// otherPart names the samples no part claims.
const otherPart = "runtime and other"

// freeAddr returns a loopback address nothing listens on (for the server's
// pprof listener).
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// profileShare is what one profile says.
type profileShare struct {
	crypto, total time.Duration // CPU samples under a crypto frame, and all
	// parts splits total - crypto by partFrames (index len(partFrames):
	// otherPart).
	parts [len(partFrames) + 1]time.Duration
	err   error
}

func (p profileShare) share() float64 {
	if p.total <= 0 {
		return 0
	}
	return float64(p.crypto) / float64(p.total)
}

// breakdown says what each part of the samples outside the crypto costs
// per answer, given the server's CPU per answer: "store 0.11 ms, ...".
func (p profileShare) breakdown(perAnswer time.Duration) string {
	if p.total <= 0 {
		return ""
	}
	var b strings.Builder
	for i, d := range p.parts {
		name := otherPart
		if i < len(partFrames) {
			name = partFrames[i].name
		}
		if i > 0 {
			b.WriteString(", ")
		}
		fmt.Fprintf(&b, "%s %.3f ms", name, float64(perAnswer)*float64(d)/float64(p.total)/float64(time.Millisecond))
	}
	return b.String()
}

// captureProfile waits until after, then takes a CPU profile of the server
// at addr for d and measures its crypto share; the profile is also written
// to save when that is not "" (-profiles).
func captureProfile(ctx context.Context, addr string, after, d time.Duration, save string) profileShare {
	if !sleepUntil(ctx, time.Now().Add(after)) {
		return profileShare{err: ctx.Err()}
	}
	secs := max(int(d/time.Second), 1)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", addr, secs), nil)
	if err != nil {
		return profileShare{err: err}
	}
	resp, err := (&http.Client{Timeout: time.Duration(secs+10) * time.Second}).Do(req)
	if err != nil {
		return profileShare{err: fmt.Errorf("no profile (is the server built with -tags pprof?): %w", err)}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		return profileShare{err: fmt.Errorf("profile: %d %v", resp.StatusCode, err)}
	}
	if save != "" {
		if err := os.WriteFile(save, body, 0o644); err != nil {
			return profileShare{err: err}
		}
	}
	return cryptoShare(ctx, body)
}

// cryptoShare sums a profile's samples, and those with a crypto frame
// anywhere in their stack, from `go tool pprof -traces`.
func cryptoShare(ctx context.Context, prof []byte) profileShare {
	f, err := os.CreateTemp("", "keygate-bench-*.pprof")
	if err != nil {
		return profileShare{err: err}
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(prof); err != nil {
		f.Close()
		return profileShare{err: err}
	}
	f.Close()
	// The toolchain that runs the bench (`go run`) reads the profile.
	out, err := exec.CommandContext(ctx, "go", "tool", "pprof", "-traces", f.Name()).Output()
	if err != nil {
		return profileShare{err: fmt.Errorf("go tool pprof: %w", err)}
	}
	return parseTraces(out)
}

// parseTraces reads pprof's -traces text: blocks separated by dashed lines,
// each opening with the sample's value and its leaf frame, one frame per
// line after.
func parseTraces(out []byte) profileShare {
	var p profileShare
	var value time.Duration
	var inCrypto, open bool
	part := len(partFrames)
	flush := func() {
		if open {
			p.total += value
			if inCrypto {
				p.crypto += value
			} else {
				p.parts[part] += value
			}
		}
		open, inCrypto, value, part = false, false, 0, len(partFrames)
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "-----------+") {
			flush()
			continue
		}
		frame := strings.TrimSpace(line)
		if frame == "" {
			continue
		}
		if !open {
			// "<value>   <leaf frame>"; a frame may hold spaces (generic
			// instantiations), the value never does.
			v, rest, _ := strings.Cut(frame, " ")
			d, err := time.ParseDuration(v)
			if err != nil {
				continue // the header (File:, Type:, ...)
			}
			open, value, frame = true, d, strings.TrimSpace(rest)
		}
		if cryptoFrame.MatchString(frame) {
			inCrypto = true
		}
		for i := range part {
			if partFrames[i].re.MatchString(frame) {
				part = i
				break
			}
		}
	}
	flush()
	if p.total == 0 {
		p.err = fmt.Errorf("profile has no samples")
	}
	return p
}
