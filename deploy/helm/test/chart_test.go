// Package test lints and renders the keygate Helm chart through Helm's own
// Go packages (the ones behind helm lint and helm template) over a matrix of
// values files, decodes every manifest strictly into the Kubernetes API
// types, and checks the fields that make the deployment work and safe.
package test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	chartv2 "helm.sh/helm/v4/pkg/chart/v2"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/yaml"
)

const (
	chartDir    = "../keygate"
	releaseName = "sso"
	namespace   = "identity"
)

// rendered is one chart render: typed objects by kind, and NOTES.txt.
type rendered struct {
	deployments     []*appsv1.Deployment
	services        []*corev1.Service
	pvcs            []*corev1.PersistentVolumeClaim
	serviceAccounts []*corev1.ServiceAccount
	pdbs            []*policyv1.PodDisruptionBudget
	ingresses       []*networkingv1.Ingress
	serviceMonitors []*monitoringv1.ServiceMonitor
	notes           string
	text            string // every manifest, concatenated
}

// newObject maps apiVersion/kind to the API type a manifest must decode into.
func newObject(apiVersion, kind string) any {
	switch apiVersion + "/" + kind {
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}
	case "v1/Service":
		return &corev1.Service{}
	case "v1/PersistentVolumeClaim":
		return &corev1.PersistentVolumeClaim{}
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}
	case "networking.k8s.io/v1/Ingress":
		return &networkingv1.Ingress{}
	case "monitoring.coreos.com/v1/ServiceMonitor":
		return &monitoringv1.ServiceMonitor{}
	}
	return nil
}

// TestMain quiets the engine's informational logging (lint mode logs each
// fail call it skips).
func TestMain(m *testing.M) {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})))
	os.Exit(m.Run())
}

func loadChart(t *testing.T) *chartv2.Chart {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("load chart: %v", err)
	}
	return ch
}

// valuesFile reads one of the chart's ci/ values files ("" = none).
func valuesFile(t *testing.T, name string) map[string]any {
	t.Helper()
	if name == "" {
		return map[string]any{}
	}
	f, err := os.Open(filepath.Join(chartDir, "ci", name))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	vals, err := loader.LoadValues(f)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return vals
}

// renderChart renders the chart as helm template does (release "sso" in
// namespace "identity", default capabilities) and returns the rendered
// files by name, or the render error.
func renderChart(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch := loadChart(t)
	top, err := chartutil.ToRenderValuesWithSchemaValidation(ch, vals,
		common.ReleaseOptions{Name: releaseName, Namespace: namespace, IsInstall: true, Revision: 1}, nil, false)
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, top)
}

var docSep = regexp.MustCompile(`(?m)^---[ \t]*$`)

// render renders vals and decodes every manifest strictly: YAML to JSON
// (duplicate keys refused), then JSON into the API type with unknown fields
// refused. Any manifest of a kind the chart should not make fails the test.
func render(t *testing.T, vals map[string]any) *rendered {
	t.Helper()
	files, err := renderChart(t, vals)
	if err != nil {
		t.Fatalf("render: %v", err)
	}
	r := &rendered{}
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		content := files[name]
		switch {
		case strings.HasSuffix(name, "NOTES.txt"):
			r.notes = content
			continue
		case strings.HasPrefix(filepath.Base(name), "_"):
			continue
		}
		for i, doc := range docSep.Split(content, -1) {
			if strings.TrimSpace(stripComments(doc)) == "" {
				continue
			}
			r.text += doc + "\n---\n"
			r.decode(t, fmt.Sprintf("%s#%d", name, i), doc)
		}
	}
	return r
}

func stripComments(doc string) string {
	var b strings.Builder
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(strings.TrimSpace(l), "#") {
			b.WriteString(l + "\n")
		}
	}
	return b.String()
}

func (r *rendered) decode(t *testing.T, where, doc string) {
	t.Helper()
	js, err := yaml.YAMLToJSONStrict([]byte(doc))
	if err != nil {
		t.Fatalf("%s: not valid YAML: %v\n%s", where, err, doc)
	}
	var tm metav1.TypeMeta
	if err := json.Unmarshal(js, &tm); err != nil {
		t.Fatalf("%s: %v", where, err)
	}
	obj := newObject(tm.APIVersion, tm.Kind)
	if obj == nil {
		t.Fatalf("%s: unexpected object %s %s\n%s", where, tm.APIVersion, tm.Kind, doc)
	}
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(obj); err != nil {
		t.Fatalf("%s: %s %s does not decode strictly: %v\n%s", where, tm.APIVersion, tm.Kind, err, doc)
	}
	switch o := obj.(type) {
	case *appsv1.Deployment:
		r.deployments = append(r.deployments, o)
	case *corev1.Service:
		r.services = append(r.services, o)
	case *corev1.PersistentVolumeClaim:
		r.pvcs = append(r.pvcs, o)
	case *corev1.ServiceAccount:
		r.serviceAccounts = append(r.serviceAccounts, o)
	case *policyv1.PodDisruptionBudget:
		r.pdbs = append(r.pdbs, o)
	case *networkingv1.Ingress:
		r.ingresses = append(r.ingresses, o)
	case *monitoringv1.ServiceMonitor:
		r.serviceMonitors = append(r.serviceMonitors, o)
	}
}

func (r *rendered) deployment(t *testing.T) (*appsv1.Deployment, *corev1.Container) {
	t.Helper()
	if len(r.deployments) != 1 {
		t.Fatalf("%d Deployments, want 1", len(r.deployments))
	}
	d := r.deployments[0]
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("%d containers, want 1", n)
	}
	return d, &d.Spec.Template.Spec.Containers[0]
}

func (r *rendered) service(t *testing.T, name string) *corev1.Service {
	t.Helper()
	for _, s := range r.services {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no Service %q", name)
	return nil
}

func envVar(c *corev1.Container, name string) *corev1.EnvVar {
	for i := range c.Env {
		if c.Env[i].Name == name {
			return &c.Env[i]
		}
	}
	return nil
}

// envValue is the literal value of an env var; it fails when the variable
// is missing or comes from elsewhere.
func envValue(t *testing.T, c *corev1.Container, name string) string {
	t.Helper()
	e := envVar(c, name)
	if e == nil {
		t.Fatalf("env %s not set", name)
	}
	if e.ValueFrom != nil {
		t.Fatalf("env %s comes from %v, want a literal", name, e.ValueFrom)
	}
	return e.Value
}

// secretRef checks that an env var comes from the given Secret key.
func secretRef(t *testing.T, c *corev1.Container, name, secret, key string) {
	t.Helper()
	e := envVar(c, name)
	if e == nil {
		t.Errorf("env %s not set", name)
		return
	}
	if e.Value != "" || e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
		t.Errorf("env %s is not from a Secret: %+v", name, e)
		return
	}
	if ref := e.ValueFrom.SecretKeyRef; ref.Name != secret || ref.Key != key {
		t.Errorf("env %s from secret %s key %s, want %s key %s", name, ref.Name, ref.Key, secret, key)
	}
}

// serveFlags are the flags keygate serve defines (cmd/keygate/serve.go),
// so that every KEYGATE_ variable and flag the chart sets is one it reads.
func serveFlags(t *testing.T) map[string]bool {
	t.Helper()
	src, err := os.ReadFile("../../../cmd/keygate/serve.go")
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

var secretEnv = regexp.MustCompile(`PASSWORD|SECRET|_DB_KEY$|TOKEN`)

// checkCommon holds for every render: hardened pods, probes where keygate
// answers them, a Service that reaches the pods, and no secret in clear.
func checkCommon(t *testing.T, r *rendered) {
	t.Helper()
	d, c := r.deployment(t)
	pod := d.Spec.Template.Spec

	// Selector, pod labels and Service selector agree.
	sel, err := metav1.LabelSelectorAsSelector(d.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	podLabels := labels.Set(d.Spec.Template.Labels)
	if sel.Empty() || !sel.Matches(podLabels) {
		t.Errorf("Deployment selector %v does not select its pods %v", sel, podLabels)
	}
	svc := r.service(t, d.Name)
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(podLabels) || len(svc.Spec.Selector) == 0 {
		t.Errorf("Service selector %v does not select the pods %v", svc.Spec.Selector, podLabels)
	}
	if len(svc.Spec.Ports) != 1 || svc.Spec.Ports[0].TargetPort.StrVal != "http" {
		t.Errorf("Service ports %+v, want one to targetPort http", svc.Spec.Ports)
	}

	// The image's contract: http on 8080, bound on all interfaces.
	var http *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "http" {
			http = &c.Ports[i]
		}
	}
	if http == nil || http.ContainerPort != 8080 {
		t.Errorf("container ports %+v: want http 8080", c.Ports)
	}
	if v := envValue(t, c, "KEYGATE_HTTP_ADDR"); v != ":8080" {
		t.Errorf("KEYGATE_HTTP_ADDR %q", v)
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" {
		t.Errorf("args %q: want serve first", c.Args)
	}
	if !strings.HasPrefix(c.Image, "ghcr.io/keygate/keygate:") {
		t.Errorf("image %q", c.Image)
	}

	// Every KEYGATE_ variable and --flag is one keygate serve reads.
	flags := serveFlags(t)
	for _, e := range c.Env {
		if name, ok := strings.CutPrefix(e.Name, "KEYGATE_"); ok && !flags[strings.ReplaceAll(strings.ToLower(name), "_", "-")] {
			t.Errorf("env %s is no flag of keygate serve", e.Name)
		}
	}
	for _, a := range c.Args[1:] {
		if name, ok := strings.CutPrefix(a, "--"); ok {
			name, _, _ = strings.Cut(name, "=")
			if !flags[name] {
				t.Errorf("arg %s is no flag of keygate serve", a)
			}
		}
	}

	// Probes on keygate's health endpoints, on the http port.
	for _, p := range []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/health/live"},
		{"readiness", c.ReadinessProbe, "/health/ready"},
		{"startup", c.StartupProbe, "/health/ready"},
	} {
		if p.probe == nil || p.probe.HTTPGet == nil {
			t.Errorf("%s probe missing or not httpGet: %+v", p.name, p.probe)
			continue
		}
		if p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.StrVal != "http" {
			t.Errorf("%s probe %s on %v, want %s on http", p.name, p.probe.HTTPGet.Path, p.probe.HTTPGet.Port.String(), p.path)
		}
	}

	// Hardening.
	psc := pod.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.RunAsUser == nil || *psc.RunAsUser != 65532 ||
		psc.FSGroup == nil || *psc.FSGroup != 65532 || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("pod securityContext %+v", psc)
	}
	sc := c.SecurityContext
	switch {
	case sc == nil:
		t.Fatal("no container securityContext")
	case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot:
		t.Error("container runAsNonRoot not true")
	case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
		t.Error("container readOnlyRootFilesystem not true")
	case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
		t.Error("container allowPrivilegeEscalation not false")
	case sc.Capabilities == nil || len(sc.Capabilities.Drop) != 1 || sc.Capabilities.Drop[0] != "ALL" || len(sc.Capabilities.Add) != 0:
		t.Errorf("capabilities %+v, want drop ALL", sc.Capabilities)
	case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
		t.Error("container seccomp not RuntimeDefault")
	}
	if pod.AutomountServiceAccountToken == nil || *pod.AutomountServiceAccountToken {
		t.Error("service account token mounted")
	}
	// A read-only root needs writable /tmp and /data.
	mounts := map[string]string{}
	for _, m := range c.VolumeMounts {
		mounts[m.MountPath] = m.Name
	}
	vols := map[string]corev1.Volume{}
	for _, v := range pod.Volumes {
		vols[v.Name] = v
	}
	if v, ok := vols[mounts["/tmp"]]; !ok || v.EmptyDir == nil {
		t.Errorf("/tmp is not an emptyDir: %+v", v)
	}
	if _, ok := vols[mounts["/data"]]; !ok {
		t.Error("/data has no volume")
	}
	for path, name := range mounts {
		if _, ok := vols[name]; !ok {
			t.Errorf("mount %s names missing volume %s", path, name)
		}
	}

	// Sized from the idle RSS (make bench's login flood prints it): requests above it,
	// a memory limit with headroom for hashing, no CPU limit.
	req, lim := c.Resources.Requests.Memory(), c.Resources.Limits.Memory()
	if req.Cmp(resource.MustParse("32Mi")) < 0 || lim.Cmp(*req) <= 0 || lim.Cmp(resource.MustParse("192Mi")) < 0 {
		t.Errorf("memory request %v limit %v", req, lim)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceCPU]; ok {
		t.Error("CPU limit set by default")
	}

	// Nothing secret in clear: secret-named variables come from Secrets, a
	// postgres DSN never appears, and the chart makes no Secret of its own.
	for _, e := range c.Env {
		if secretEnv.MatchString(e.Name) && e.Value != "" {
			t.Errorf("env %s has a literal value", e.Name)
		}
		if e.Name == "KEYGATE_DB" && e.Value != "" && !strings.HasPrefix(e.Value, "sqlite:") {
			t.Errorf("KEYGATE_DB literal %q", e.Value)
		}
	}
	for _, bad := range []string{"kind: Secret", "postgres://", "admin/admin", "password: "} {
		if strings.Contains(r.text, bad) {
			t.Errorf("manifests contain %q", bad)
		}
	}
}

// The chart's values as a Keycloak or Dex chart user looks for them.
func TestValuesNamedAsKeycloakAndDexCharts(t *testing.T) {
	vals := loadChart(t).Values
	for _, path := range []string{
		"image.repository", "image.tag", "image.pullPolicy", "imagePullSecrets", "nameOverride", "fullnameOverride",
		"replicaCount", "ingress.enabled", "ingress.className", "ingress.annotations", "ingress.hosts", "ingress.tls",
		"service.type", "service.port", "resources", "podSecurityContext", "securityContext", "serviceMonitor.enabled",
		"serviceAccount.create", "serviceAccount.name", "podAnnotations", "podLabels", "nodeSelector", "tolerations",
		"affinity", "extraEnv", "extraEnvFrom", "extraVolumes", "extraVolumeMounts", "extraArgs", "livenessProbe",
		"readinessProbe", "startupProbe", "podDisruptionBudget.enabled", "persistence.enabled", "persistence.size",
		"persistence.storageClass", "persistence.existingClaim", "metrics.enabled", "hostname",
		"bootstrapAdmin.existingSecret", "dbKey.existingSecret", "database.postgres.existingSecret", "importRealm",
	} {
		if _, err := common.Values(vals).PathValue(path); err != nil {
			// PathValue only answers for leaves; look the table up too.
			if _, terr := common.Values(vals).Table(path); terr != nil {
				t.Errorf("values.yaml has no %s", path)
			}
		}
	}
	// No credentials ship in the chart's values.
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`(?mi)^\s*[a-z]*(password|secret|dsn)\s*:\s*[^"\s#]`).Find(raw); m != nil {
		t.Errorf("values.yaml sets a credential: %q", m)
	}
}

// helm lint, strict (warnings fail), over the defaults and every values file.
func TestLint(t *testing.T) {
	for _, vf := range valuesFiles(t) {
		t.Run(name(vf), func(t *testing.T) {
			l := lint.RunAll(chartDir, valuesFile(t, vf), namespace)
			for _, m := range l.Messages {
				if m.Severity >= support.WarningSev {
					t.Errorf("lint: %s", m)
				} else {
					t.Logf("lint: %s", m)
				}
			}
		})
	}
}

func valuesFiles(t *testing.T) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(chartDir, "ci", "*-values.yaml"))
	if err != nil || len(files) < 5 {
		t.Fatalf("values files: %v %v", files, err)
	}
	out := []string{""}
	for _, f := range files {
		out = append(out, filepath.Base(f))
	}
	return out
}

func name(vf string) string {
	if vf == "" {
		return "defaults"
	}
	return strings.TrimSuffix(vf, "-values.yaml")
}

// Every values file renders, decodes strictly, and passes checkCommon and
// its own checks; a values file without checks fails the test.
func TestRenderMatrix(t *testing.T) {
	checks := map[string]func(t *testing.T, r *rendered){
		"":                        checkDefaults,
		"sqlite-values.yaml":      checkSQLite,
		"postgres-values.yaml":    checkPostgres,
		"ingress-tls-values.yaml": checkIngressTLS,
		"metrics-values.yaml":     checkMetrics,
		"imports-values.yaml":     checkImports,
	}
	for _, vf := range valuesFiles(t) {
		t.Run(name(vf), func(t *testing.T) {
			check, ok := checks[vf]
			if !ok {
				t.Fatalf("no checks for %s", vf)
			}
			r := render(t, valuesFile(t, vf))
			checkCommon(t, r)
			check(t, r)
		})
	}
}

// SQLite store on a kept PVC, exactly one replica, Recreate.
func checkSQLiteStore(t *testing.T, r *rendered) {
	t.Helper()
	d, c := r.deployment(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 1 {
		t.Errorf("replicas %v, want 1", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
		t.Errorf("strategy %q, want Recreate", d.Spec.Strategy.Type)
	}
	if v := envValue(t, c, "KEYGATE_DB"); v != "sqlite:/data/keygate.db" {
		t.Errorf("KEYGATE_DB %q", v)
	}
	if len(r.pvcs) != 1 {
		t.Fatalf("%d PVCs, want 1", len(r.pvcs))
	}
	pvc := r.pvcs[0]
	if pvc.Annotations["helm.sh/resource-policy"] != "keep" {
		t.Error("PVC is not kept on uninstall")
	}
	if len(pvc.Spec.AccessModes) != 1 || pvc.Spec.AccessModes[0] != corev1.ReadWriteOnce {
		t.Errorf("PVC access modes %v", pvc.Spec.AccessModes)
	}
	var claim string
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.Name == "data" && v.PersistentVolumeClaim != nil {
			claim = v.PersistentVolumeClaim.ClaimName
		}
	}
	if claim != pvc.Name {
		t.Errorf("data volume claims %q, PVC is %q", claim, pvc.Name)
	}
	if len(r.pdbs) != 0 {
		t.Error("PodDisruptionBudget with one replica would block node drains")
	}
	if !strings.Contains(r.notes, "SQLite means ONE replica") {
		t.Errorf("NOTES lack the one-replica note:\n%s", r.notes)
	}
}

func checkDefaults(t *testing.T, r *rendered) {
	checkSQLiteStore(t, r)
	_, c := r.deployment(t)
	// No admin, no db key, no hostname unless asked for: and NOTES say so.
	for _, n := range []string{"KC_BOOTSTRAP_ADMIN_USERNAME", "KC_BOOTSTRAP_ADMIN_PASSWORD", "KEYGATE_DB_KEY", "KEYGATE_HOSTNAME", "KEYGATE_PROXY_HEADERS", "KEYGATE_METRICS_ADDR"} {
		if envVar(c, n) != nil {
			t.Errorf("defaults set %s", n)
		}
	}
	// Without a hostname keygate refuses to start on :8080 unless told.
	if v := envValue(t, c, "KEYGATE_HOSTNAME_STRICT"); v != "false" {
		t.Errorf("defaults: KEYGATE_HOSTNAME_STRICT %q, want false (keygate would not start)", v)
	}
	for _, want := range []string{"No bootstrap admin", "hostname is not set", "stored unencrypted"} {
		if !strings.Contains(r.notes, want) {
			t.Errorf("NOTES lack %q", want)
		}
	}
	if len(r.ingresses)+len(r.serviceMonitors) != 0 || len(r.services) != 1 {
		t.Errorf("defaults render %d ingresses, %d service monitors, %d services", len(r.ingresses), len(r.serviceMonitors), len(r.services))
	}
	if len(r.serviceAccounts) != 1 || r.serviceAccounts[0].Name != d0(r).Spec.Template.Spec.ServiceAccountName {
		t.Error("service account not rendered or not used")
	}
}

func d0(r *rendered) *appsv1.Deployment { return r.deployments[0] }

func checkSQLite(t *testing.T, r *rendered) {
	checkSQLiteStore(t, r)
	_, c := r.deployment(t)
	secretRef(t, c, "KC_BOOTSTRAP_ADMIN_USERNAME", "keygate-admin", "username")
	secretRef(t, c, "KC_BOOTSTRAP_ADMIN_PASSWORD", "keygate-admin", "password")
	secretRef(t, c, "KEYGATE_DB_KEY", "keygate-db-key", "db-key")
	if envVar(c, "KEYGATE_HOSTNAME_STRICT") != nil {
		t.Error("KEYGATE_HOSTNAME_STRICT set beside a hostname")
	}
	if v := envValue(t, c, "KEYGATE_HOSTNAME"); v != "https://sso.example.com" {
		t.Errorf("KEYGATE_HOSTNAME %q", v)
	}
	if strings.Contains(r.notes, "No bootstrap admin") || strings.Contains(r.notes, "hostname is not set") {
		t.Errorf("NOTES warn about what is set:\n%s", r.notes)
	}
}

func checkPostgres(t *testing.T, r *rendered) {
	d, c := r.deployment(t)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 3 {
		t.Errorf("replicas %v, want 3", d.Spec.Replicas)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType {
		t.Errorf("strategy %q", d.Spec.Strategy.Type)
	}
	secretRef(t, c, "KEYGATE_DB", "keygate-postgres", "dsn")
	secretRef(t, c, "KC_BOOTSTRAP_ADMIN_USERNAME", "keygate-admin", "user")
	secretRef(t, c, "KC_BOOTSTRAP_ADMIN_PASSWORD", "keygate-admin", "pass")
	secretRef(t, c, "KEYGATE_DB_KEY", "keygate-db-key", "db-key")
	if len(r.pvcs) != 0 {
		t.Error("PVC rendered for postgres")
	}
	for _, v := range d.Spec.Template.Spec.Volumes {
		if v.PersistentVolumeClaim != nil {
			t.Errorf("volume %s claims a PVC", v.Name)
		}
	}
	if len(r.pdbs) != 1 {
		t.Fatalf("%d PodDisruptionBudgets, want 1", len(r.pdbs))
	}
	pdb := r.pdbs[0]
	if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() != 1 || pdb.Spec.MinAvailable != nil {
		t.Errorf("PDB %+v, want maxUnavailable 1", pdb.Spec)
	}
	sel, _ := metav1.LabelSelectorAsSelector(pdb.Spec.Selector)
	if !sel.Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("PDB does not select the pods")
	}
	if len(d.Spec.Template.Spec.TopologySpreadConstraints) != 1 {
		t.Error("topologySpreadConstraints not passed through")
	}
	if !strings.Contains(r.notes, "PostgreSQL") || strings.Contains(r.notes, "ONE replica") {
		t.Errorf("NOTES:\n%s", r.notes)
	}
}

func checkIngressTLS(t *testing.T, r *rendered) {
	checkSQLiteStore(t, r)
	_, c := r.deployment(t)
	if len(r.ingresses) != 1 {
		t.Fatalf("%d Ingresses", len(r.ingresses))
	}
	ing := r.ingresses[0]
	if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
		t.Errorf("ingressClassName %v", ing.Spec.IngressClassName)
	}
	if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "sso-example-com-tls" || len(ing.Spec.TLS[0].Hosts) != 1 || ing.Spec.TLS[0].Hosts[0] != "sso.example.com" {
		t.Errorf("tls %+v", ing.Spec.TLS)
	}
	if len(ing.Spec.Rules) != 1 || ing.Spec.Rules[0].Host != "sso.example.com" || ing.Spec.Rules[0].HTTP == nil || len(ing.Spec.Rules[0].HTTP.Paths) != 1 {
		t.Fatalf("rules %+v", ing.Spec.Rules)
	}
	p := ing.Spec.Rules[0].HTTP.Paths[0]
	svc := r.service(t, p.Backend.Service.Name)
	if p.Backend.Service.Port.Name != svc.Spec.Ports[0].Name || p.PathType == nil || *p.PathType != networkingv1.PathTypePrefix {
		t.Errorf("backend %+v does not reach Service port %+v", p.Backend, svc.Spec.Ports)
	}
	if v := envValue(t, c, "KEYGATE_HOSTNAME"); v != "https://sso.example.com" {
		t.Errorf("hostname from the TLS ingress host: %q", v)
	}
	if v := envValue(t, c, "KEYGATE_PROXY_HEADERS"); v != "xforwarded" {
		t.Errorf("KEYGATE_PROXY_HEADERS %q", v)
	}
	if v := envValue(t, c, "KEYGATE_PROXY_TRUSTED_ADDRESSES"); v != "10.0.0.0/8" {
		t.Errorf("KEYGATE_PROXY_TRUSTED_ADDRESSES %q", v)
	}
	if strings.Contains(r.notes, "WARNING: behind the Ingress") {
		t.Error("NOTES warn about trusted addresses that are set")
	}
}

func checkMetrics(t *testing.T, r *rendered) {
	d, c := r.deployment(t)
	if v := envValue(t, c, "KEYGATE_METRICS_ADDR"); v != ":9000" {
		t.Errorf("KEYGATE_METRICS_ADDR %q", v)
	}
	var port *corev1.ContainerPort
	for i := range c.Ports {
		if c.Ports[i].Name == "metrics" {
			port = &c.Ports[i]
		}
	}
	if port == nil || port.ContainerPort != 9000 {
		t.Fatalf("container ports %+v", c.Ports)
	}
	ms := r.service(t, d.Name+"-metrics")
	if len(ms.Spec.Ports) != 1 || ms.Spec.Ports[0].Port != 9000 || ms.Spec.Ports[0].TargetPort.StrVal != "metrics" || ms.Spec.Type != corev1.ServiceTypeClusterIP {
		t.Errorf("metrics Service %+v", ms.Spec)
	}
	if !labels.SelectorFromSet(ms.Spec.Selector).Matches(labels.Set(d.Spec.Template.Labels)) {
		t.Error("metrics Service does not select the pods")
	}
	for _, p := range r.service(t, d.Name).Spec.Ports {
		if p.TargetPort.StrVal == "metrics" || p.Port == 9000 {
			t.Error("metrics on the public Service")
		}
	}
	if len(r.serviceMonitors) != 1 {
		t.Fatalf("%d ServiceMonitors", len(r.serviceMonitors))
	}
	sm := r.serviceMonitors[0]
	if sm.Labels["release"] != "kube-prometheus-stack" || sm.Namespace != namespace {
		t.Errorf("ServiceMonitor labels %v namespace %q", sm.Labels, sm.Namespace)
	}
	smSel, err := metav1.LabelSelectorAsSelector(&sm.Spec.Selector)
	if err != nil {
		t.Fatal(err)
	}
	if !smSel.Matches(labels.Set(ms.Labels)) {
		t.Errorf("ServiceMonitor selector %v misses the metrics Service %v", smSel, ms.Labels)
	}
	if smSel.Matches(labels.Set(r.service(t, d.Name).Labels)) {
		t.Error("ServiceMonitor also selects the public Service")
	}
	if len(sm.Spec.Endpoints) != 1 || sm.Spec.Endpoints[0].Port != "metrics" || sm.Spec.Endpoints[0].Path != "/metrics" ||
		sm.Spec.Endpoints[0].Interval != "15s" {
		t.Errorf("endpoints %+v", sm.Spec.Endpoints)
	}
}

func checkImports(t *testing.T, r *rendered) {
	d, c := r.deployment(t)
	want := []string{
		"serve",
		"--import-realm=/etc/keygate/import/0/acme-realm.json",
		"--import-realm=/etc/keygate/import/1/stackstate.json",
		"--import-realm=/etc/keygate/import/1/stackstate-users-0.json",
	}
	if strings.Join(c.Args, " ") != strings.Join(want, " ") {
		t.Errorf("args %q, want %q", c.Args, want)
	}
	// Every imported path is a file of the volume mounted above it.
	vols := map[string]corev1.Volume{}
	for _, v := range d.Spec.Template.Spec.Volumes {
		vols[v.Name] = v
	}
	for _, a := range c.Args[1:] {
		path := strings.TrimPrefix(a, "--import-realm=")
		dir, file := filepath.Split(path)
		var found bool
		for _, m := range c.VolumeMounts {
			if m.MountPath+"/" != dir {
				continue
			}
			if !m.ReadOnly {
				t.Errorf("%s mounted writable", m.MountPath)
			}
			v := vols[m.Name]
			var items []corev1.KeyToPath
			switch {
			case v.ConfigMap != nil && v.ConfigMap.Name == "acme-realm":
				items = v.ConfigMap.Items
			case v.Secret != nil && v.Secret.SecretName == "stackstate-realm":
				items = v.Secret.Items
			}
			for _, it := range items {
				found = found || (it.Key == file && it.Path == file)
			}
		}
		if !found {
			t.Errorf("%s is not provided by a mounted ConfigMap or Secret", path)
		}
	}
	if v := envValue(t, c, "KEYGATE_TRUSTSTORE_PATHS"); v != "/etc/keygate/ca" {
		t.Errorf("extraEnv: %q", v)
	}
	if _, ok := vols["ldap-ca"]; !ok {
		t.Error("extraVolumes not rendered")
	}
}

// Values that would deploy something broken or unsafe are refused by
// helm template and helm install, with the reason. (helm lint renders with
// fail turned into a log line, so it cannot refuse them.)
func TestRefusedValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals string
		want string
	}{
		{"sqlite with 2 replicas", "replicaCount: 2", "SQLite is one file that one process owns, so it means exactly one replica"},
		{"sqlite with 3 replicas explicitly", "replicaCount: 3\ndatabase: {type: sqlite}", "exactly one replica"},
		{"postgres without a DSN secret", "database: {type: postgres}", "needs database.postgres.existingSecret"},
		{"unknown database", "database: {type: mysql}", `database.type "mysql"`},
		{"proxy headers", "proxy: {headers: forwarded}", `proxy.headers "forwarded"`},
		{"trusted addresses without proxy headers", "proxy: {trustedAddresses: 10.0.0.0/8}", "needs proxy.headers"},
		{"hostname without scheme", "hostname: sso.example.com", "want a URL"},
		{"import from both", "importRealm: [{configMap: a, secret: b, files: [a.json]}]", "exactly one of configMap or secret"},
		{"import from neither", "importRealm: [{files: [a.json]}]", "exactly one of configMap or secret"},
		{"import without files", "importRealm: [{configMap: a}]", "files lists the keys"},
		{"admin password in values", "extraEnv: [{name: KC_BOOTSTRAP_ADMIN_PASSWORD, value: admin}]", "a secret in plain values"},
		{"db key in values", "extraEnv: [{name: KEYGATE_DB_KEY, value: 0123456789abcdef}]", "a secret in plain values"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			vals, err := loader.LoadValues(strings.NewReader(tc.vals))
			if err != nil {
				t.Fatal(err)
			}
			_, err = renderChart(t, vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("render: %v, want an error with %q", err, tc.want)
			}
		})
	}
	// Postgres mode scales; the same replicas render there.
	vals, _ := loader.LoadValues(strings.NewReader("replicaCount: 2\ndatabase: {type: postgres, postgres: {existingSecret: pg}}"))
	if _, err := renderChart(t, vals); err != nil {
		t.Errorf("postgres with 2 replicas: %v", err)
	}
}
