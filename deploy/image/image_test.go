package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
)

// The image under test: $KEYGATE_IMAGE (make ship-test passes the archive
// make image wrote, with $KEYGATE_IMAGE_VERSION, $KEYGATE_IMAGE_REVISION and
// $KEYGATE_IMAGE_PLATFORMS), or one this test builds from fresh
// CGO_ENABLED=0 builds of cmd/keygate for linux/amd64 and linux/arm64.
type underTest struct {
	path, version, revision string
	platforms               []string // in the index's order
}

var (
	imageOnce sync.Once
	image     underTest
	imageErr  error
)

func imageUnderTest(t *testing.T) underTest {
	t.Helper()
	imageOnce.Do(func() {
		if p := os.Getenv("KEYGATE_IMAGE"); p != "" {
			image = underTest{p, os.Getenv("KEYGATE_IMAGE_VERSION"), os.Getenv("KEYGATE_IMAGE_REVISION"), strings.Fields(os.Getenv("KEYGATE_IMAGE_PLATFORMS"))}
			if image.version == "" || image.revision == "" || len(image.platforms) == 0 {
				imageErr = fmt.Errorf("KEYGATE_IMAGE is set: set KEYGATE_IMAGE_VERSION, KEYGATE_IMAGE_REVISION and KEYGATE_IMAGE_PLATFORMS too")
			}
			return
		}
		dir, err := os.MkdirTemp("", "keygate-image-test")
		if err != nil {
			imageErr = err
			return
		}
		image = underTest{filepath.Join(dir, "image.tar"), "v0.0.0-imagetest", "0123456789abcdef0123456789abcdef01234567",
			[]string{"linux/amd64", "linux/arm64"}}
		var imgs []v1.Image
		for _, p := range image.platforms {
			arch := strings.TrimPrefix(p, "linux/")
			bin := filepath.Join(dir, arch, "keygate")
			build := exec.Command("go", "build", "-trimpath",
				"-ldflags", "-s -w -X main.version="+image.version+" -X main.commit="+image.revision,
				"-o", bin, "./cmd/keygate")
			build.Dir = "../.."
			build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch)
			if out, err := build.CombinedOutput(); err != nil {
				imageErr = fmt.Errorf("go build: %v\n%s", err, out)
				return
			}
			img, err := build0(bin, p, time.Unix(1700000000, 0).UTC())
			if err != nil {
				imageErr = err
				return
			}
			imgs = append(imgs, img)
		}
		idx, err := buildIndex(imgs, image.version, image.revision)
		if err != nil {
			imageErr = err
			return
		}
		imageErr = writeArchive(image.path, idx, imgs, "ghcr.io/keygate/keygate:"+tagOf(image.version))
	})
	if imageErr != nil {
		t.Fatal(imageErr)
	}
	return image
}

func build0(bin, platform string, created time.Time) (v1.Image, error) {
	return build(options{Binary: bin, Platform: platform, CABundle: "/etc/ssl/certs/ca-certificates.crt",
		RootFS: "rootfs", Version: image.version, Revision: image.revision, Repository: "ghcr.io/keygate/keygate",
		Created: created})
}

// hostImage is the image of imgs this machine can run, else the first.
func hostImage(t *testing.T, imgs []v1.Image) v1.Image {
	t.Helper()
	for _, img := range imgs {
		if cf, err := img.ConfigFile(); err == nil && cf.Architecture == runtime.GOARCH {
			return img
		}
	}
	return imgs[0]
}

// readTar returns the archive's entries by name.
func readTar(t *testing.T, r io.Reader) (map[string]*tar.Header, map[string][]byte) {
	t.Helper()
	hdrs, data := map[string]*tar.Header{}, map[string][]byte{}
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := hdrs[h.Name]; dup {
			t.Errorf("duplicate entry %s", h.Name)
		}
		b, err := io.ReadAll(io.LimitReader(tr, 256<<20))
		if err != nil {
			t.Fatal(err)
		}
		hdrs[h.Name], data[h.Name] = h, b
	}
	return hdrs, data
}

// openImage checks the archive as a whole and returns its images, one per
// platform in the index's order, read through the OCI layout (the Docker
// manifest.json view must agree with the first).
func openImage(t *testing.T, ut underTest) []v1.Image {
	t.Helper()
	f, err := os.Open(ut.path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	hdrs, data := readTar(t, f)

	// Every blob is named by its digest; nothing else is in the archive.
	var blobs int
	for name, h := range hdrs {
		switch {
		case name == "oci-layout" || name == "index.json" || name == "manifest.json" || name == "blobs/" || name == "blobs/sha256/":
		case strings.HasPrefix(name, "blobs/sha256/"):
			blobs++
			sum := sha256.Sum256(data[name])
			if hex.EncodeToString(sum[:]) != strings.TrimPrefix(name, "blobs/sha256/") {
				t.Errorf("%s: content digest %x", name, sum)
			}
		default:
			t.Errorf("unexpected entry %s", name)
		}
		if h.Uid != 0 || h.Gid != 0 {
			t.Errorf("%s owned by %d:%d", name, h.Uid, h.Gid)
		}
	}
	if want := 1 + 3*len(ut.platforms); blobs != want {
		t.Errorf("%d blobs, want %d: the index, and a manifest, config and one layer per platform", blobs, want)
	}
	if got := string(data["oci-layout"]); got != `{"imageLayoutVersion":"1.0.0"}` {
		t.Errorf("oci-layout %q", got)
	}

	// The OCI layout view.
	dir := t.TempDir()
	for name, h := range hdrs {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data[name], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		t.Fatalf("not an OCI image layout: %v", err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 {
		t.Fatalf("index.json has %d manifests, want the one image index", len(im.Manifests))
	}
	desc := im.Manifests[0]
	wantRef := "ghcr.io/keygate/keygate:" + tagOf(ut.version)
	if desc.Annotations["org.opencontainers.image.ref.name"] != tagOf(ut.version) || desc.Annotations["io.containerd.image.name"] != wantRef {
		t.Errorf("index annotations %v, want tag %s", desc.Annotations, wantRef)
	}
	if desc.MediaType != types.OCIImageIndex {
		t.Fatalf("index.json names a %s, want an OCI image index", desc.MediaType)
	}
	multi, err := idx.ImageIndex(desc.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if err := validate.Index(multi); err != nil {
		t.Fatalf("the image index does not validate: %v", err)
	}
	mm, err := multi.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if mm.MediaType != types.OCIImageIndex || mm.Annotations["org.opencontainers.image.revision"] != ut.revision {
		t.Errorf("image index media type %s, annotations %v", mm.MediaType, mm.Annotations)
	}
	var imgs []v1.Image
	var platforms []string
	for _, d := range mm.Manifests {
		if d.Platform == nil || d.Platform.OS != "linux" || d.MediaType != types.OCIManifestSchema1 {
			t.Errorf("index entry %+v", d)
			continue
		}
		platforms = append(platforms, d.Platform.OS+"/"+d.Platform.Architecture)
		img, err := multi.Image(d.Digest)
		if err != nil {
			t.Fatal(err)
		}
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		if cf.OS != d.Platform.OS || cf.Architecture != d.Platform.Architecture || cf.Variant != d.Platform.Variant {
			t.Errorf("index says %+v, the image's config %s/%s %s", d.Platform, cf.OS, cf.Architecture, cf.Variant)
		}
		imgs = append(imgs, img)
	}
	if !equal(platforms, ut.platforms) {
		t.Fatalf("index platforms %v, want %v", platforms, ut.platforms)
	}
	img := imgs[0]

	// The docker load view: manifest.json names the same config and tag.
	dimg, err := tarball.ImageFromPath(ut.path, nil)
	if err != nil {
		t.Fatalf("manifest.json view: %v", err)
	}
	if err := validate.Image(dimg); err != nil {
		t.Fatalf("manifest.json image does not validate: %v", err)
	}
	oc, _ := img.ConfigName()
	dc, _ := dimg.ConfigName()
	if oc != dc {
		t.Errorf("OCI config %s, manifest.json config %s", oc, dc)
	}
	var dm []struct{ RepoTags []string }
	if err := json.Unmarshal(data["manifest.json"], &dm); err != nil || len(dm) != 1 || len(dm[0].RepoTags) != 1 || dm[0].RepoTags[0] != wantRef {
		t.Errorf("manifest.json tags %+v (%v), want %s", dm, err, wantRef)
	}
	return imgs
}

func TestImageTarball(t *testing.T) {
	ut := imageUnderTest(t)
	imgs := openImage(t, ut)
	host := hostImage(t, imgs)
	for i, img := range imgs {
		t.Run(ut.platforms[i], func(t *testing.T) { checkImage(t, ut, img, img == host) })
	}
}

// checkImage checks one platform's image: its config, its files, and its
// binary, which it runs when run is set (the image of this machine).
func checkImage(t *testing.T, ut underTest, img v1.Image, run bool) {
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config

	// The config: literal values, as the issue and the chart expect them.
	if cf.OS != "linux" {
		t.Errorf("os %q", cf.OS)
	}
	if strings.Join(c.Entrypoint, " ") != "/usr/local/bin/keygate" || strings.Join(c.Cmd, " ") != "serve" {
		t.Errorf("entrypoint %q cmd %q", c.Entrypoint, c.Cmd)
	}
	if c.User != "65532:65532" {
		t.Errorf("user %q", c.User)
	}
	if len(c.ExposedPorts) != 1 || c.ExposedPorts["8080/tcp"] != struct{}{} {
		t.Errorf("exposed ports %v", c.ExposedPorts)
	}
	if _, ok := c.Volumes["/data"]; !ok || len(c.Volumes) != 1 {
		t.Errorf("volumes %v", c.Volumes)
	}
	if c.WorkingDir != "/data" {
		t.Errorf("workdir %q", c.WorkingDir)
	}
	envs := map[string]string{}
	for _, e := range c.Env {
		k, v, _ := strings.Cut(e, "=")
		envs[k] = v
	}
	if envs["KEYGATE_HTTP_ADDR"] != ":8080" || envs["KEYGATE_DB"] != "sqlite:/data/keygate.db" || envs["PATH"] != "/usr/local/bin" {
		t.Errorf("env %q", c.Env)
	}
	wantLabels := map[string]string{
		"org.opencontainers.image.source":   "https://github.com/keygate/keygate",
		"org.opencontainers.image.licenses": "Apache-2.0",
		"org.opencontainers.image.title":    "keygate",
		"org.opencontainers.image.version":  ut.version,
		"org.opencontainers.image.revision": ut.revision,
	}
	for k, v := range wantLabels {
		if c.Labels[k] != v {
			t.Errorf("label %s = %q, want %q", k, c.Labels[k], v)
		}
	}
	if !strings.Contains(c.Labels["org.opencontainers.image.description"], "Keycloak-compatible") {
		t.Errorf("description %q", c.Labels["org.opencontainers.image.description"])
	}
	if m, _ := img.Manifest(); m == nil || m.Annotations["org.opencontainers.image.revision"] != ut.revision {
		t.Error("manifest lacks the OCI annotations")
	}

	// The filesystem: exactly these entries, owned and moded so.
	rc := mutate.Extract(img)
	hdrs, files := readTar(t, rc)
	rc.Close()
	want := map[string]struct {
		mode int64
		uid  int
		dir  bool
	}{
		"etc": {0o755, 0, true}, "etc/ssl": {0o755, 0, true}, "etc/ssl/certs": {0o755, 0, true},
		"usr": {0o755, 0, true}, "usr/local": {0o755, 0, true}, "usr/local/bin": {0o755, 0, true},
		"data": {0o700, 65532, true}, "tmp": {0o1777, 0, true},
		"etc/passwd": {0o644, 0, false}, "etc/group": {0o644, 0, false},
		"etc/ssl/certs/ca-certificates.crt": {0o644, 0, false}, "usr/local/bin/keygate": {0o755, 0, false},
	}
	for name, h := range hdrs {
		name = strings.TrimSuffix(name, "/")
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("unexpected file %s", name)
		case h.Mode&0o7777 != w.mode || h.Uid != w.uid || h.Gid != w.uid || (h.Typeflag == tar.TypeDir) != w.dir:
			t.Errorf("%s: mode %o uid %d gid %d type %c, want mode %o owner %d dir %v", name, h.Mode, h.Uid, h.Gid, h.Typeflag, w.mode, w.uid, w.dir)
		}
	}
	for name := range want {
		if _, ok := hdrs[name]; !ok && hdrs[name+"/"] == nil {
			t.Errorf("missing %s", name)
		}
	}
	if !bytes.Contains(files["etc/passwd"], []byte("\nkeygate:x:65532:65532:")) || !bytes.Contains(files["etc/group"], []byte("\nkeygate:x:65532:")) {
		t.Errorf("passwd/group lack keygate 65532:\n%s", files["etc/passwd"])
	}
	if n := countCerts(t, files["etc/ssl/certs/ca-certificates.crt"]); n < 20 {
		t.Errorf("CA bundle has %d certificates", n)
	}

	// The binary: static, for the image's architecture, and it serves.
	dir := t.TempDir()
	bin := filepath.Join(dir, "keygate")
	if err := os.WriteFile(bin, files["usr/local/bin/keygate"], 0o755); err != nil {
		t.Fatal(err)
	}
	if err := checkStatic(bin, cf.Architecture); err != nil {
		t.Fatal(err)
	}
	if !run || cf.Architecture != runtime.GOARCH {
		t.Skipf("image is linux/%s: cannot run its binary on %s", cf.Architecture, runtime.GOARCH)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("keygate version: %v\n%s", err, out)
	}
	if !strings.HasPrefix(string(out), "keygate "+ut.version+"\ncommit: "+ut.revision+"\n") {
		t.Errorf("keygate version printed:\n%s", out)
	}
	runServe(t, bin, c)
}

func countCerts(t *testing.T, bundle []byte) int {
	t.Helper()
	n := 0
	for {
		var b *pem.Block
		b, bundle = pem.Decode(bundle)
		if b == nil {
			return n
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(b.Bytes); err == nil {
			n++
		}
	}
}

// runServe runs the image's command as the container would (its args and
// environment, in a data directory), with --db and --http-addr pointing at a
// temporary directory and a free loopback port, until /health/ready is UP;
// then it serves discovery and stops cleanly on SIGTERM.
func runServe(t *testing.T, bin string, c v1.Config) {
	t.Helper()
	data := t.TempDir()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	args := append(append([]string(nil), c.Cmd...), "--db", "sqlite:"+filepath.Join(data, "keygate.db"), "--http-addr", addr)
	cmd := exec.Command(bin, args...)
	cmd.Dir = data
	cmd.Env = append(append([]string(nil), c.Env...), "HOME="+data)
	var logs bytes.Buffer
	cmd.Stdout, cmd.Stderr = &logs, &logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			_ = cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			t.Logf("server log:\n%s", logs.String())
		}
	})

	base := "http://" + addr
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last string
	for {
		body, code, err := get(ctx, base+"/health/ready")
		if err == nil && code == http.StatusOK && strings.Contains(body, `"status":"UP"`) {
			break
		}
		last = fmt.Sprintf("%d %s %v", code, body, err)
		select {
		case err := <-done:
			t.Fatalf("keygate exited before ready: %v", err)
		case <-ctx.Done():
			t.Fatalf("not ready within 30s: last answer %s", last)
		case <-time.After(50 * time.Millisecond):
		}
	}
	body, code, err := get(ctx, base+"/realms/master/.well-known/openid-configuration")
	if err != nil || code != http.StatusOK || !strings.Contains(body, `"issuer":"`+base+`/realms/master"`) {
		t.Errorf("discovery: %d %v %s", code, err, body)
	}
	if fi, err := os.Stat(filepath.Join(data, "keygate.db")); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("database file: %v %v", fi, err)
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("exit after SIGTERM: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Error("still running 15s after SIGTERM")
	}
}

func get(ctx context.Context, url string) (string, int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return "", 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return string(b), resp.StatusCode, err
}

// The archive is reproducible: the binary taken back out of it, built again
// with the same version, revision and time, gives the same manifest digest;
// another time gives another digest.
func TestBuildIsReproducible(t *testing.T) {
	ut := imageUnderTest(t)
	imgs := openImage(t, ut)
	var o options
	var agains []v1.Image
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		rc := mutate.Extract(img)
		_, files := readTar(t, rc)
		rc.Close()
		bin := filepath.Join(t.TempDir(), "keygate")
		if err := os.WriteFile(bin, files["usr/local/bin/keygate"], 0o755); err != nil {
			t.Fatal(err)
		}
		o = options{Binary: bin, Platform: "linux/" + cf.Architecture, CABundle: "/etc/ssl/certs/ca-certificates.crt",
			RootFS: "rootfs", Version: ut.version, Revision: ut.revision, Repository: "ghcr.io/keygate/keygate",
			Created: cf.Created.Time}
		again, err := build(o)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := img.Digest()
		if got, _ := again.Digest(); got != want {
			t.Errorf("%s: rebuilt digest %s, archive has %s", o.Platform, got, want)
		}
		agains = append(agains, again)
	}
	idx, err := buildIndex(agains, ut.version, ut.revision)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "again.tar")
	if err := writeArchive(path, idx, agains, "ghcr.io/keygate/keygate:"+tagOf(ut.version)); err != nil {
		t.Fatal(err)
	}
	want, _ := agains[len(agains)-1].Digest()
	a, _ := os.ReadFile(ut.path)
	b, _ := os.ReadFile(path)
	if !bytes.Equal(a, b) {
		t.Error("rewritten archive differs byte for byte")
	}
	o.Created = o.Created.Add(time.Second)
	other, err := build(o)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := other.Digest(); got == want {
		t.Error("a different creation time gave the same digest")
	}
}

func TestBuildRefusesUnfitInputs(t *testing.T) {
	ut := imageUnderTest(t)
	img := hostImage(t, openImage(t, ut))
	cf, _ := img.ConfigFile()
	rc := mutate.Extract(img)
	_, files := readTar(t, rc)
	rc.Close()
	dir := t.TempDir()
	static := filepath.Join(dir, "keygate")
	if err := os.WriteFile(static, files["usr/local/bin/keygate"], 0o755); err != nil {
		t.Fatal(err)
	}
	other := map[string]string{"amd64": "arm64", "arm64": "amd64"}[cf.Architecture]
	noUser := filepath.Join(dir, "rootfs")
	if err := os.MkdirAll(filepath.Join(noUser, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	_ = os.WriteFile(filepath.Join(noUser, "etc", "passwd"), []byte("root:x:0:0:root:/root:/sbin/nologin\n"), 0o644)
	_ = os.WriteFile(filepath.Join(noUser, "etc", "group"), []byte("root:x:0:\n"), 0o644)
	notPEM := filepath.Join(dir, "ca.crt")
	_ = os.WriteFile(notPEM, []byte("nothing"), 0o644)
	base := options{Binary: static, Platform: "linux/" + cf.Architecture, CABundle: "/etc/ssl/certs/ca-certificates.crt", RootFS: "rootfs"}
	for _, tc := range []struct {
		name string
		mod  func(o *options)
		want string
	}{
		{"dynamic binary", func(o *options) { o.Binary = dynamicBinary(t) }, ""},
		{"wrong architecture", func(o *options) { o.Platform = "linux/" + other }, "want linux/" + other},
		{"not linux", func(o *options) { o.Platform = "darwin/arm64" }, "want linux/amd64 or linux/arm64"},
		{"not ELF", func(o *options) { o.Binary = notPEM }, "not an ELF executable"},
		{"no keygate user", func(o *options) { o.RootFS = noUser }, "lacks the keygate user"},
		{"no CA bundle", func(o *options) { o.CABundle = filepath.Join(dir, "missing.crt") }, "CA bundle"},
		{"CA bundle without certificates", func(o *options) { o.CABundle = notPEM }, "holds no PEM certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := base
			tc.mod(&o)
			_, err := build(o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("build: %v, want an error with %q", err, tc.want)
			}
		})
	}
	if _, err := build(base); err != nil {
		t.Errorf("the unmodified inputs: %v", err)
	}
}

// dynamicBinary is a dynamically linked executable of this machine, or skips.
func dynamicBinary(t *testing.T) string {
	for _, p := range []string{"/bin/ls", "/usr/bin/env", "/bin/sh"} {
		if err := checkStatic(p, runtime.GOARCH); err != nil && strings.Contains(err.Error(), "dynamically linked") {
			return p
		}
	}
	t.Skip("no dynamically linked executable found on this machine")
	return ""
}

// dockerfile is the final stage of the Dockerfile, parsed.
type dockerfile struct {
	from                      string
	user, workdir, stopsignal string
	expose                    []string
	volume, entrypoint, cmd   []string
	env, labels               map[string]string
	copies                    map[string]string // destination -> source and flags
	buildStage                string            // the build stage's text, joined
	goVersion                 string            // ARG GO_VERSION default
	args                      map[string]string // final stage ARG defaults
	contextSources            []string          // COPY sources from the build context
	copiesAndRuns             []string          // this stage's instructions
}

// parseDockerfile reads instructions (with line continuations and
// comments) and keeps the final stage's settings.
func parseDockerfile(t *testing.T, path string) dockerfile {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var instrs []string
	var cur strings.Builder
	sc := bufio.NewScanner(bytes.NewReader(raw))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if strings.HasSuffix(line, "\\") {
			cur.WriteString(strings.TrimSuffix(line, "\\") + " ")
			continue
		}
		cur.WriteString(line)
		instrs = append(instrs, cur.String())
		cur.Reset()
	}
	d := dockerfile{env: map[string]string{}, labels: map[string]string{}, copies: map[string]string{}, args: map[string]string{}}
	stages := 0
	for _, in := range instrs {
		word, rest, _ := strings.Cut(in, " ")
		rest = strings.TrimSpace(rest)
		word = strings.ToUpper(word)
		if word == "FROM" {
			stages++
			d = dockerfile{from: rest, env: map[string]string{}, labels: map[string]string{}, copies: map[string]string{},
				args: map[string]string{}, buildStage: d.buildStage + d.stageText(), goVersion: d.goVersion}
			continue
		}
		if stages == 0 {
			if word == "ARG" {
				if k, v, ok := strings.Cut(rest, "="); ok && k == "GO_VERSION" {
					d.goVersion = v
				}
			}
			continue
		}
		d.record(t, word, rest)
	}
	if stages < 2 {
		t.Fatalf("%d stages, want a build stage and the final one", stages)
	}
	return d
}

// stageText is kept so that the build stage's RUN lines can be checked.
func (d dockerfile) stageText() string {
	return strings.Join(d.copiesAndRuns, "\n")
}

func (d *dockerfile) record(t *testing.T, word, rest string) {
	t.Helper()
	d.copiesAndRuns = append(d.copiesAndRuns, word+" "+rest)
	jsonList := func() []string {
		var l []string
		if err := json.Unmarshal([]byte(rest), &l); err != nil {
			t.Errorf("%s %s: want the JSON (exec) form: %v", word, rest, err)
		}
		return l
	}
	switch word {
	case "USER":
		d.user = rest
	case "WORKDIR":
		d.workdir = rest
	case "STOPSIGNAL":
		d.stopsignal = rest
	case "EXPOSE":
		for _, p := range strings.Fields(rest) {
			if !strings.Contains(p, "/") {
				p += "/tcp"
			}
			d.expose = append(d.expose, p)
		}
	case "VOLUME":
		d.volume = jsonList()
	case "ENTRYPOINT":
		d.entrypoint = jsonList()
	case "CMD":
		d.cmd = jsonList()
	case "ENV":
		for k, v := range keyValues(t, rest) {
			d.env[k] = v
		}
	case "LABEL":
		for k, v := range keyValues(t, rest) {
			d.labels[k] = v
		}
	case "ARG":
		k, v, _ := strings.Cut(rest, "=")
		d.args[k] = v
	case "COPY":
		f := strings.Fields(rest)
		var flags, srcs []string
		for _, w := range f[:len(f)-1] {
			if strings.HasPrefix(w, "--") {
				flags = append(flags, w)
			} else {
				srcs = append(srcs, w)
			}
		}
		dst := f[len(f)-1]
		d.copies[dst] = strings.Join(append(flags, srcs...), " ")
		fromContext := true
		for _, fl := range flags {
			fromContext = fromContext && !strings.HasPrefix(fl, "--from=")
		}
		if fromContext {
			d.contextSources = append(d.contextSources, srcs...)
		}
	}
}

// keyValues splits `k1=v1 k2="v 2"` as the Dockerfile's ENV and LABEL do.
func keyValues(t *testing.T, s string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		k, rest, ok := strings.Cut(s, "=")
		if !ok || strings.ContainsAny(k, " \"") {
			t.Fatalf("not key=value: %q", s)
		}
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`)
			if end < 0 {
				t.Fatalf("unterminated quote: %q", rest)
			}
			v, s = rest[1:1+end], rest[2+end:]
		} else {
			v, s, _ = strings.Cut(rest, " ")
		}
		out[k] = v
	}
	return out
}

// The Dockerfile builds the image the Go builder builds: same user, ports,
// volume, working directory, command, environment, labels and files.
func TestDockerfileMatchesBuilder(t *testing.T) {
	d := parseDockerfile(t, "../../Dockerfile")
	if d.from != "scratch" {
		t.Errorf("final stage FROM %q, want scratch", d.from)
	}
	if d.user != user {
		t.Errorf("USER %q, builder %q", d.user, user)
	}
	if d.workdir != dataDir {
		t.Errorf("WORKDIR %q, builder %q", d.workdir, dataDir)
	}
	if d.stopsignal != "SIGTERM" {
		t.Errorf("STOPSIGNAL %q", d.stopsignal)
	}
	if strings.Join(d.expose, ",") != httpPort {
		t.Errorf("EXPOSE %q, builder %q", d.expose, httpPort)
	}
	if strings.Join(d.volume, ",") != dataDir {
		t.Errorf("VOLUME %q, builder %q", d.volume, dataDir)
	}
	if !equal(d.entrypoint, entrypoint) || !equal(d.cmd, cmd) {
		t.Errorf("ENTRYPOINT %q CMD %q, builder %q %q", d.entrypoint, d.cmd, entrypoint, cmd)
	}
	wantEnv := map[string]string{}
	for _, e := range env {
		k, v, _ := strings.Cut(e, "=")
		wantEnv[k] = v
	}
	if !equalMaps(d.env, wantEnv) {
		t.Errorf("ENV %v, builder %v", d.env, wantEnv)
	}
	// Labels: the same keys and values, version and revision from the ARGs.
	if !equalMaps(d.labels, labels("${VERSION}", "${REVISION}")) {
		t.Errorf("LABEL %v\nbuilder %v", d.labels, labels("${VERSION}", "${REVISION}"))
	}
	for _, a := range []string{"VERSION", "REVISION"} {
		if _, ok := d.args[a]; !ok {
			t.Errorf("final stage lacks ARG %s", a)
		}
	}

	// Files: the same destinations as the builder's layer.
	img := hostImage(t, openImage(t, imageUnderTest(t)))
	rc := mutate.Extract(img)
	hdrs, _ := readTar(t, rc)
	rc.Close()
	// Regular files, and the two directories the image makes itself; parent
	// directories come with the files in Docker.
	var layerPaths []string
	for name, h := range hdrs {
		if name = strings.TrimSuffix(name, "/"); h.Typeflag == tar.TypeReg || name == "data" || name == "tmp" {
			layerPaths = append(layerPaths, "/"+name)
		}
	}
	var copied []string
	for dst := range d.copies {
		copied = append(copied, dst)
	}
	sort.Strings(layerPaths)
	sort.Strings(copied)
	if !equal(layerPaths, copied) {
		t.Errorf("Dockerfile copies to %q, builder's layer has %q", copied, layerPaths)
	}
	if !strings.Contains(d.copies[dataDir], "--chown="+user) {
		t.Errorf("COPY to %s: %q, want --chown=%s", dataDir, d.copies[dataDir], user)
	}
	for _, src := range d.contextSources {
		if _, err := os.Stat(filepath.Join("../..", src)); err != nil {
			t.Errorf("COPY source %s: %v", src, err)
		} else if !strings.HasPrefix(src, "deploy/image/rootfs/") {
			t.Errorf("COPY %s from the context: the builder takes files from deploy/image/rootfs only", src)
		}
	}

	// The build stage builds as make release does, on the module's Go.
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=${VERSION}", "-X main.commit=${REVISION}", "./cmd/keygate", "chmod 0700 /rootfs/data", "chmod 1777 /rootfs/tmp"} {
		if !strings.Contains(d.buildStage, want) {
			t.Errorf("build stage lacks %q", want)
		}
	}
	gomod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(gomod, []byte("\ngo "+d.goVersion+"\n")) {
		t.Errorf("ARG GO_VERSION=%s is not go.mod's go version", d.goVersion)
	}
}

func equal(a, b []string) bool {
	return strings.Join(a, "\x00") == strings.Join(b, "\x00") && len(a) == len(b)
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
