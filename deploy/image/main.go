// Command image builds keygate's OCI image without a container daemon: per
// platform, one layer holding the static linux binary, the build machine's
// CA bundle, /etc/passwd and /etc/group with the non-root user keygate (uid
// 65532), and the /data and /tmp directories, on nothing (FROM scratch);
// the platforms' images are gathered in one multi-platform image index. It
// writes an OCI image layout as a tar archive whose index.json names that
// index with the tag, and which also carries Docker's manifest.json for
// the first platform's image, so docker load, podman load, skopeo
// (oci-archive:, --all for every platform) and crane all read it.
//
//	go run . -binary ../../dist/keygate_v1.0.0_linux_amd64/keygate -platform linux/amd64 \
//	  -binary ../../dist/keygate_v1.0.0_linux_arm64/keygate -platform linux/arm64 \
//	  -version v1.0.0 -revision $(git rev-parse HEAD) -out ../../dist/keygate_v1.0.0_linux.oci.tar
//
// The same inputs give the same bytes: file times and the config's created
// time come from -created (make image passes the commit's time).
package main

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// options are what one build takes.
type options struct {
	Binary     string    // static linux executable
	Platform   string    // os/arch, e.g. linux/amd64
	CABundle   string    // PEM bundle copied to /etc/ssl/certs/ca-certificates.crt
	RootFS     string    // directory holding etc/passwd and etc/group
	Version    string    // image version label and tag
	Revision   string    // commit
	Repository string    // e.g. ghcr.io/keygate/keygate
	Created    time.Time // file times and config created
}

// stringList is a repeatable flag.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

func main() {
	var o options
	var out, created string
	var binaries, platforms stringList
	flag.Var(&binaries, "binary", "static linux keygate binary, one per -platform and in the same order (required)")
	flag.Var(&platforms, "platform", "image platform os/arch, linux/amd64 or linux/arm64 (repeatable; default linux/amd64)")
	flag.StringVar(&o.CABundle, "ca-bundle", "/etc/ssl/certs/ca-certificates.crt", "PEM CA bundle to ship")
	flag.StringVar(&o.RootFS, "rootfs", "rootfs", "directory with etc/passwd and etc/group")
	flag.StringVar(&o.Version, "version", "dev", "version label and tag")
	flag.StringVar(&o.Revision, "revision", "unknown", "source revision label")
	flag.StringVar(&o.Repository, "repository", "ghcr.io/keygate/keygate", "image repository for the tag")
	flag.StringVar(&created, "created", os.Getenv("SOURCE_DATE_EPOCH"), "creation time, Unix seconds (default $SOURCE_DATE_EPOCH, else 0)")
	flag.StringVar(&out, "out", "", "OCI archive to write (required)")
	flag.Parse()
	if len(platforms) == 0 {
		platforms = stringList{"linux/amd64"}
	}
	if len(binaries) == 0 || out == "" || len(binaries) != len(platforms) {
		fmt.Fprintln(os.Stderr, "image: name -out and one -binary per -platform")
		flag.Usage()
		os.Exit(2)
	}
	if created != "" {
		sec, err := strconv.ParseInt(created, 10, 64)
		if err != nil {
			fatal(fmt.Errorf("-created %q: want Unix seconds", created))
		}
		o.Created = time.Unix(sec, 0).UTC()
	} else {
		o.Created = time.Unix(0, 0).UTC()
	}
	var imgs []v1.Image
	for i, p := range platforms {
		if slices.Contains(platforms[:i], p) {
			fatal(fmt.Errorf("-platform %s given twice", p))
		}
		o.Binary, o.Platform = binaries[i], p
		img, err := build(o)
		if err != nil {
			fatal(err)
		}
		imgs = append(imgs, img)
		d, _ := img.Digest()
		fmt.Printf("%s: %s %s\n", out, p, d)
	}
	idx, err := buildIndex(imgs, o.Version, o.Revision)
	if err != nil {
		fatal(err)
	}
	if err := writeArchive(out, idx, imgs, o.Repository+":"+tagOf(o.Version)); err != nil {
		fatal(err)
	}
	d, _ := idx.Digest()
	fmt.Printf("%s: %s:%s index %s\n", out, o.Repository, tagOf(o.Version), d)
}

// buildIndex gathers the platforms' images in one OCI image index, each
// named by its platform, with the image's annotations.
func buildIndex(imgs []v1.Image, version, revision string) (v1.ImageIndex, error) {
	adds := make([]mutate.IndexAddendum, 0, len(imgs))
	for _, img := range imgs {
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, err
		}
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{MediaType: types.OCIManifestSchema1,
			Platform: &v1.Platform{OS: cf.OS, Architecture: cf.Architecture, Variant: cf.Variant}}})
	}
	idx := mutate.AppendManifests(mutate.IndexMediaType(empty.Index, types.OCIImageIndex), adds...)
	ann, ok := mutate.Annotations(idx, labels(version, revision)).(v1.ImageIndex)
	if !ok {
		return nil, errors.New("annotating the index did not give an index")
	}
	return ann, nil
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "image:", err)
	os.Exit(1)
}

// tagOf makes a valid tag of a version: [A-Za-z0-9_.-], at most 128.
func tagOf(v string) string {
	t := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-' {
			return r
		}
		return '-'
	}, v)
	if len(t) > 128 {
		t = t[:128]
	}
	return strings.TrimLeft(t, ".-")
}

var elfMachine = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}

// checkStatic refuses a binary that is not a static ELF executable for arch:
// on scratch there is no loader and no libc.
func checkStatic(path, arch string) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: not an ELF executable: %w", path, err)
	}
	defer f.Close()
	if m, ok := elfMachine[arch]; !ok || f.Machine != m {
		return fmt.Errorf("%s: built for %v, want linux/%s", path, f.Machine, arch)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			return fmt.Errorf("%s is dynamically linked (build it with CGO_ENABLED=0)", path)
		}
	}
	if libs, _ := f.ImportedLibraries(); len(libs) > 0 {
		return fmt.Errorf("%s needs shared libraries %v", path, libs)
	}
	return nil
}

// layerEntry is one file or directory of the image's only layer.
type layerEntry struct {
	name string // without a leading slash
	mode int64
	uid  int
	data []byte // nil for directories
}

// rootfs lists the layer: directories first, then files, in a fixed order.
func rootfs(o options) ([]layerEntry, error) {
	bin, err := os.ReadFile(o.Binary)
	if err != nil {
		return nil, err
	}
	ca, err := os.ReadFile(o.CABundle)
	if err != nil {
		return nil, fmt.Errorf("CA bundle: %w (on Debian: apt-get install ca-certificates)", err)
	}
	if !bytes.Contains(ca, []byte("-----BEGIN CERTIFICATE-----")) {
		return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", o.CABundle)
	}
	passwd, err := os.ReadFile(filepath.Join(o.RootFS, "etc", "passwd"))
	if err != nil {
		return nil, err
	}
	group, err := os.ReadFile(filepath.Join(o.RootFS, "etc", "group"))
	if err != nil {
		return nil, err
	}
	if !bytes.Contains(passwd, []byte(fmt.Sprintf("keygate:x:%d:%d:", uid, uid))) {
		return nil, fmt.Errorf("%s/etc/passwd lacks the keygate user (uid %d)", o.RootFS, uid)
	}
	return []layerEntry{
		{name: "etc/", mode: 0o755},
		{name: "etc/ssl/", mode: 0o755},
		{name: "etc/ssl/certs/", mode: 0o755},
		{name: "usr/", mode: 0o755},
		{name: "usr/local/", mode: 0o755},
		{name: "usr/local/bin/", mode: 0o755},
		{name: strings.TrimPrefix(dataDir, "/") + "/", mode: 0o700, uid: uid},
		{name: "tmp/", mode: 0o1777},
		{name: "etc/passwd", mode: 0o644, data: passwd},
		{name: "etc/group", mode: 0o644, data: group},
		{name: strings.TrimPrefix(caBundle, "/"), mode: 0o644, data: ca},
		{name: strings.TrimPrefix(binaryPath, "/"), mode: 0o755, data: bin},
	}, nil
}

// layerTar writes entries as an uncompressed tar with fixed owners and times.
func layerTar(entries []layerEntry, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := &tar.Header{Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.uid, ModTime: mtime, Format: tar.FormatPAX}
		if e.data == nil {
			h.Typeflag = tar.TypeDir
		} else {
			h.Typeflag, h.Size = tar.TypeReg, int64(len(e.data))
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, err
		}
		if _, err := tw.Write(e.data); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// build assembles the image.
func build(o options) (v1.Image, error) {
	osName, arch, ok := strings.Cut(o.Platform, "/")
	if !ok || osName != "linux" {
		return nil, fmt.Errorf("-platform %q: want linux/amd64 or linux/arm64", o.Platform)
	}
	if err := checkStatic(o.Binary, arch); err != nil {
		return nil, err
	}
	entries, err := rootfs(o)
	if err != nil {
		return nil, err
	}
	tarBytes, err := layerTar(entries, o.Created)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarBytes)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressedCaching)
	if err != nil {
		return nil, err
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   v1.Time{Time: o.Created},
			CreatedBy: "keygate deploy/image: keygate, CA certificates, passwd, /data, /tmp",
			Comment:   "built without a container daemon",
		},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = osName, arch
	if arch == "arm64" {
		cf.Variant = "v8"
	}
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = sourceURL
	cf.Config = v1.Config{
		User:         user,
		Env:          append([]string(nil), env...),
		Entrypoint:   append([]string(nil), entrypoint...),
		Cmd:          append([]string(nil), cmd...),
		WorkingDir:   dataDir,
		ExposedPorts: map[string]struct{}{httpPort: {}},
		Volumes:      map[string]struct{}{dataDir: {}},
		Labels:       labels(o.Version, o.Revision),
		StopSignal:   "SIGTERM",
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	ann, ok := mutate.Annotations(img, labels(o.Version, o.Revision)).(v1.Image)
	if !ok {
		return nil, errors.New("annotating the manifest did not give an image")
	}
	return ann, nil
}

// writeArchive writes an OCI image layout in a tar: oci-layout, the blobs
// of every image and of idx (blobs/sha256/...), and index.json naming idx
// with ref as the tag; plus Docker's manifest.json naming the first
// image (docker load without the containerd image store reads one image
// per tag). Written to a temporary file, then renamed.
func writeArchive(path string, idx v1.ImageIndex, imgs []v1.Image, ref string) error {
	if len(imgs) == 0 {
		return errors.New("no image to write")
	}
	cf, err := imgs[0].ConfigFile()
	if err != nil {
		return err
	}
	mtime := cf.Created.Time
	blobPath := func(h v1.Hash) string { return "blobs/" + h.Algorithm + "/" + h.Hex }
	_, tag, _ := strings.Cut(ref[strings.LastIndex(ref, "/")+1:], ":")

	tmp, err := os.CreateTemp(filepath.Dir(path), ".image-*.tar")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	tw := tar.NewWriter(tmp)
	put := func(name string, data []byte) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: int64(len(data)), ModTime: mtime, Typeflag: tar.TypeReg, Format: tar.FormatPAX}); err != nil {
			return err
		}
		_, err := tw.Write(data)
		return err
	}
	for _, d := range []string{"blobs/", "blobs/sha256/"} {
		if err := tw.WriteHeader(&tar.Header{Name: d, Mode: 0o755, ModTime: mtime, Typeflag: tar.TypeDir, Format: tar.FormatPAX}); err != nil {
			return err
		}
	}
	if err := put("oci-layout", []byte(`{"imageLayoutVersion":"1.0.0"}`)); err != nil {
		return err
	}
	written := map[v1.Hash]bool{}
	blob := func(h v1.Hash, data []byte) error {
		if written[h] {
			return nil
		}
		written[h] = true
		return put(blobPath(h), data)
	}
	docker := []struct {
		Config   string
		RepoTags []string
		Layers   []string
	}{{RepoTags: []string{ref}}}
	for i, img := range imgs {
		config, err := img.RawConfigFile()
		if err != nil {
			return err
		}
		cfgHash, err := img.ConfigName()
		if err != nil {
			return err
		}
		if err := blob(cfgHash, config); err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			h, err := l.Digest()
			if err != nil {
				return err
			}
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			data, err := io.ReadAll(rc)
			rc.Close()
			if err != nil {
				return err
			}
			if err := blob(h, data); err != nil {
				return err
			}
			if i == 0 {
				docker[0].Layers = append(docker[0].Layers, blobPath(h))
			}
		}
		manifest, err := img.RawManifest()
		if err != nil {
			return err
		}
		mh, err := img.Digest()
		if err != nil {
			return err
		}
		if err := blob(mh, manifest); err != nil {
			return err
		}
		if i == 0 {
			docker[0].Config = blobPath(cfgHash)
		}
	}
	idxJSON, err := idx.RawManifest()
	if err != nil {
		return err
	}
	idxHash, err := idx.Digest()
	if err != nil {
		return err
	}
	if err := blob(idxHash, idxJSON); err != nil {
		return err
	}
	layoutIndex, err := json.Marshal(v1.IndexManifest{
		SchemaVersion: 2,
		MediaType:     types.OCIImageIndex,
		Manifests: []v1.Descriptor{{
			MediaType: types.OCIImageIndex,
			Size:      int64(len(idxJSON)),
			Digest:    idxHash,
			Annotations: map[string]string{
				"org.opencontainers.image.ref.name": tag,
				"io.containerd.image.name":          ref,
			},
		}},
	})
	if err != nil {
		return err
	}
	if err := put("index.json", layoutIndex); err != nil {
		return err
	}
	dockerJSON, err := json.Marshal(docker)
	if err != nil {
		return err
	}
	if err := put("manifest.json", dockerJSON); err != nil {
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}
