package validate

import (
	"fmt"
	"net"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/kustomize/api/krusty"
	kustypes "sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"hcidp/config"
	"hcidp/keys"
)

const manifestDir = "../kubernetes"

// typeMeta reads only apiVersion and kind, to choose the Go type.
type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// newObject returns an empty API object for apiVersion and kind: every
// manifest must be one of these.
func newObject(tm typeMeta) (any, error) {
	switch tm.APIVersion + "/" + tm.Kind {
	case "v1/Namespace":
		return &corev1.Namespace{}, nil
	case "v1/ServiceAccount":
		return &corev1.ServiceAccount{}, nil
	case "v1/Service":
		return &corev1.Service{}, nil
	case "v1/ConfigMap":
		return &corev1.ConfigMap{}, nil
	case "v1/Secret":
		return &corev1.Secret{}, nil
	case "apps/v1/Deployment":
		return &appsv1.Deployment{}, nil
	case "policy/v1/PodDisruptionBudget":
		return &policyv1.PodDisruptionBudget{}, nil
	case "networking.k8s.io/v1/NetworkPolicy":
		return &networkingv1.NetworkPolicy{}, nil
	}
	return nil, fmt.Errorf("unexpected apiVersion %q kind %q", tm.APIVersion, tm.Kind)
}

// decodeStrict decodes one YAML document into its API type, refusing unknown
// fields, duplicate keys and wrong value types.
func decodeStrict(doc []byte) (any, error) {
	var tm typeMeta
	if err := yaml.Unmarshal(doc, &tm); err != nil {
		return nil, err
	}
	obj, err := newObject(tm)
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(doc, obj); err != nil {
		return nil, fmt.Errorf("%s: %w", tm.Kind, err)
	}
	return obj, nil
}

// testSecrets are what a partner puts in deploy/kubernetes/secrets/ (git-ignored):
// a key pair from the real key generator, a DSN and an API key.
func testSecrets(t *testing.T) map[string][]byte {
	t.Helper()
	key, cert, err := keys.Generate(2048, "hcidp", 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := keys.WriteFiles(dir, key, cert, false); err != nil {
		t.Fatal(err)
	}
	s := map[string][]byte{
		"database-url": []byte("postgres://hcidp:secret@db.internal:5432/hcidp?sslmode=verify-full"),
		"api-key":      []byte("k8s-validate-0123456789abcdefghijklmnopqrstuv"),
	}
	for _, f := range []string{"idp.key", "idp.crt"} {
		if s[f], err = os.ReadFile(filepath.Join(dir, f)); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

// built is the output of `kubectl apply -k deploy/kubernetes`, decoded.
type built struct {
	deployment  *appsv1.Deployment
	service     *corev1.Service
	pdb         *policyv1.PodDisruptionBudget
	netpol      *networkingv1.NetworkPolicy
	configMaps  map[string]*corev1.ConfigMap
	secrets     map[string]*corev1.Secret
	namespaces  []string
	namespaced  map[string]string // kind/name -> namespace
	secretFiles map[string][]byte
}

// build runs kustomize (the library kubectl -k embeds) on a copy of the
// manifests in memory, with test secrets in secrets/, and decodes every
// resulting object strictly.
func build(t *testing.T) *built {
	t.Helper()
	fs := filesys.MakeFsInMemory()
	entries, err := os.ReadDir(manifestDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue // secrets/ on a partner's machine: the test brings its own
		}
		b, err := os.ReadFile(filepath.Join(manifestDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if err := fs.WriteFile(path.Join("/k", e.Name()), b); err != nil {
			t.Fatal(err)
		}
	}
	secrets := testSecrets(t)
	for name, b := range secrets {
		if err := fs.WriteFile(path.Join("/k/secrets", name), b); err != nil {
			t.Fatal(err)
		}
	}
	m, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(fs, "/k")
	if err != nil {
		t.Fatalf("kustomize build: %v", err)
	}
	out := &built{configMaps: map[string]*corev1.ConfigMap{}, secrets: map[string]*corev1.Secret{},
		namespaced: map[string]string{}, secretFiles: secrets}
	for _, r := range m.Resources() {
		doc, err := r.AsYAML()
		if err != nil {
			t.Fatal(err)
		}
		obj, err := decodeStrict(doc)
		if err != nil {
			t.Fatalf("kustomize output does not decode strictly: %v\n%s", err, doc)
		}
		switch o := obj.(type) {
		case *corev1.Namespace:
			out.namespaces = append(out.namespaces, o.Name)
		case *appsv1.Deployment:
			out.deployment = o
			out.namespaced["Deployment/"+o.Name] = o.Namespace
		case *corev1.Service:
			out.service = o
			out.namespaced["Service/"+o.Name] = o.Namespace
		case *policyv1.PodDisruptionBudget:
			out.pdb = o
			out.namespaced["PodDisruptionBudget/"+o.Name] = o.Namespace
		case *networkingv1.NetworkPolicy:
			out.netpol = o
			out.namespaced["NetworkPolicy/"+o.Name] = o.Namespace
		case *corev1.ConfigMap:
			out.configMaps[o.Name] = o
			out.namespaced["ConfigMap/"+o.Name] = o.Namespace
		case *corev1.Secret:
			out.secrets[o.Name] = o
			out.namespaced["Secret/"+o.Name] = o.Namespace
		case *corev1.ServiceAccount:
			out.namespaced["ServiceAccount/"+o.Name] = o.Namespace
		}
	}
	for what, got := range map[string]bool{"Deployment": out.deployment != nil, "Service": out.service != nil,
		"PodDisruptionBudget": out.pdb != nil, "NetworkPolicy": out.netpol != nil} {
		if !got {
			t.Fatalf("the build has no %s", what)
		}
	}
	return out
}

// TestKubernetesManifestsDecodeStrictly decodes each file of
// deploy/kubernetes on its own, as written: every manifest into its API type
// and kustomization.yaml into kustomize's, refusing any unknown field.
func TestKubernetesManifestsDecodeStrictly(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(manifestDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var k kustypes.Kustomization
	if err := yaml.UnmarshalStrict(b, &k); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	if len(k.Resources) == 0 {
		t.Fatal("kustomization.yaml lists no resources")
	}
	for _, r := range k.Resources {
		doc, err := os.ReadFile(filepath.Join(manifestDir, r))
		if err != nil {
			t.Fatalf("kustomization.yaml resource %s: %v", r, err)
		}
		if _, err := decodeStrict(doc); err != nil {
			t.Errorf("%s: %v", r, err)
		}
	}
	// Every YAML file in the directory is used: a manifest left out of
	// kustomization.yaml would never be applied.
	used := map[string]bool{"kustomization.yaml": true}
	for _, r := range k.Resources {
		used[r] = true
	}
	for _, g := range k.ConfigMapGenerator {
		for _, f := range g.FileSources {
			if _, file, ok := strings.Cut(f, "="); ok { // KEY=FILE or FILE
				f = file
			}
			if !strings.Contains(f, "/") {
				used[f] = true
			}
		}
	}
	entries, _ := os.ReadDir(manifestDir)
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".yaml") && !used[e.Name()] {
			t.Errorf("%s is neither a resource nor a generator input in kustomization.yaml", e.Name())
		}
	}
	t.Run("a strict decoder refuses an unknown field", func(t *testing.T) {
		if _, err := decodeStrict([]byte("apiVersion: apps/v1\nkind: Deployment\nspec:\n  replica: 2\n")); err == nil {
			t.Fatal("a misspelt field was accepted")
		}
	})
}

// podSelects reports whether sel selects pods labelled l.
func podSelects(t *testing.T, sel *metav1.LabelSelector, l map[string]string) bool {
	t.Helper()
	s, err := metav1.LabelSelectorAsSelector(sel)
	if err != nil {
		t.Fatal(err)
	}
	return !s.Empty() && s.Matches(labels.Set(l))
}

// containerPort resolves a probe's or Service's port (a number or a name)
// to the container's port number.
func containerPort(t *testing.T, c corev1.Container, p intstr.IntOrString) int32 {
	t.Helper()
	if p.Type == intstr.Int {
		return p.IntVal
	}
	for _, cp := range c.Ports {
		if cp.Name == p.StrVal {
			return cp.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q", c.Name, p.StrVal)
	return 0
}

func portOf(t *testing.T, addr string) int32 {
	t.Helper()
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("address %q: %v", addr, err)
	}
	return int32(n)
}

// TestKubernetesDeploymentIsProductionReady checks what `kubectl apply -k
// deploy/kubernetes` would create: two or more replicas that survive a node
// drain, probes on the right paths and port, every Secret and ConfigMap
// reference resolving, an hcidp configuration that hcidp's own config
// package accepts and that points at PostgreSQL, and a locked-down pod.
func TestKubernetesDeploymentIsProductionReady(t *testing.T) {
	b := build(t)
	d := b.deployment
	pod := d.Spec.Template
	if len(pod.Spec.Containers) != 1 {
		t.Fatalf("%d containers, want the one hcidp container", len(pod.Spec.Containers))
	}
	c := pod.Spec.Containers[0]

	t.Run("replicas", func(t *testing.T) {
		if d.Spec.Replicas == nil || *d.Spec.Replicas < 2 {
			t.Errorf("replicas %d, want at least 2", ptrOr(d.Spec.Replicas, 1))
		}
		if !podSelects(t, d.Spec.Selector, pod.Labels) {
			t.Errorf("the Deployment's selector %v does not select its own pods %v", d.Spec.Selector, pod.Labels)
		}
		ru := d.Spec.Strategy.RollingUpdate
		if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil || ru.MaxUnavailable == nil || ru.MaxUnavailable.IntValue() != 0 {
			t.Errorf("strategy %+v: a rollout must not take a replica away before its successor is ready (maxUnavailable: 0)", d.Spec.Strategy)
		}
	})

	t.Run("disruption budget", func(t *testing.T) {
		p := b.pdb
		if !podSelects(t, p.Spec.Selector, pod.Labels) {
			t.Errorf("the PodDisruptionBudget's selector %v does not select the Deployment's pods %v", p.Spec.Selector, pod.Labels)
		}
		if p.Spec.MinAvailable == nil || p.Spec.MinAvailable.Type != intstr.Int ||
			p.Spec.MinAvailable.IntVal < 1 || p.Spec.MinAvailable.IntVal >= *d.Spec.Replicas {
			t.Errorf("minAvailable %v: want at least 1 and fewer than the %d replicas (else no node can be drained)", p.Spec.MinAvailable, *d.Spec.Replicas)
		}
	})

	// The configuration as the pod sees it: the ConfigMap's file, with the
	// environment the Deployment sets from the Secrets.
	var cfgText []byte
	var cfgPath string
	mounts := map[string]corev1.Volume{} // mount path -> volume
	for _, m := range c.VolumeMounts {
		for _, v := range pod.Spec.Volumes {
			if v.Name == m.Name {
				mounts[m.MountPath] = v
				if !m.ReadOnly {
					t.Errorf("volume %s is mounted writable", m.Name)
				}
			}
		}
		if _, ok := mounts[m.MountPath]; !ok {
			t.Errorf("volumeMount %s names no volume", m.Name)
		}
	}
	// fileAt returns the content the pod sees at an absolute path that lies in
	// a ConfigMap or Secret volume, resolving items and the references.
	fileAt := func(t *testing.T, p string) []byte {
		t.Helper()
		for mp, v := range mounts {
			rel, ok := strings.CutPrefix(p, mp+"/")
			if !ok {
				continue
			}
			var data map[string][]byte
			var items []corev1.KeyToPath
			switch {
			case v.ConfigMap != nil:
				cm, ok := b.configMaps[v.ConfigMap.Name]
				if !ok {
					t.Fatalf("volume %s: no ConfigMap %q in the build", v.Name, v.ConfigMap.Name)
				}
				data = map[string][]byte{}
				for k, s := range cm.Data {
					data[k] = []byte(s)
				}
				items = v.ConfigMap.Items
			case v.Secret != nil:
				s, ok := b.secrets[v.Secret.SecretName]
				if !ok {
					t.Fatalf("volume %s: no Secret %q in the build", v.Name, v.Secret.SecretName)
				}
				data, items = s.Data, v.Secret.Items
			default:
				t.Fatalf("volume %s is neither a ConfigMap nor a Secret", v.Name)
			}
			key := rel
			if len(items) > 0 {
				key = ""
				for _, it := range items {
					if _, ok := data[it.Key]; !ok {
						t.Errorf("volume %s: item key %q is not in its source", v.Name, it.Key)
					}
					if it.Path == rel {
						key = it.Key
					}
				}
			}
			content, ok := data[key]
			if !ok {
				t.Fatalf("%s: volume %s mounted at %s has no file %s", p, v.Name, mp, rel)
			}
			return content
		}
		t.Fatalf("%s lies in no ConfigMap or Secret volume of the pod (mounts: %v)", p, slices.Sorted(func(yield func(string) bool) {
			for k := range mounts {
				if !yield(k) {
					return
				}
			}
		}))
		return nil
	}
	for i, a := range c.Args {
		if a == "--config" && i+1 < len(c.Args) {
			cfgPath = c.Args[i+1]
		}
	}
	if len(c.Args) == 0 || c.Args[0] != "serve" || cfgPath == "" {
		t.Fatalf("container args %v: want serve --config FILE", c.Args)
	}
	cfgText = fileAt(t, cfgPath)

	env := map[string]string{}
	t.Run("secrets in the environment", func(t *testing.T) {
		for _, e := range c.Env {
			if e.ValueFrom == nil || e.ValueFrom.SecretKeyRef == nil {
				if strings.Contains(e.Name, "DATABASE") || strings.Contains(e.Name, "API_KEY") {
					t.Errorf("%s is a plain value: secrets come from a Secret", e.Name)
				}
				env[e.Name] = e.Value
				continue
			}
			ref := e.ValueFrom.SecretKeyRef
			s, ok := b.secrets[ref.Name]
			if !ok {
				t.Errorf("%s: no Secret %q in the build", e.Name, ref.Name)
				continue
			}
			v, ok := s.Data[ref.Key]
			if !ok {
				t.Errorf("%s: Secret %s has no key %q", e.Name, ref.Name, ref.Key)
			}
			env[e.Name] = string(v)
		}
		for _, name := range []string{"HCIDP_DATABASE", "HCIDP_API_KEY"} {
			if _, ok := env[name]; !ok {
				t.Errorf("the container does not set %s from a Secret", name)
			}
		}
	})

	// hcidp's config package, as `idp serve` runs it, with that environment.
	for _, name := range []string{"HCIDP_DATABASE", "HCIDP_API_KEY", "HCIDP_LISTEN"} {
		t.Setenv(name, env[name])
	}
	cfg, err := config.Parse(cfgText, path.Dir(cfgPath))
	if err != nil {
		t.Fatalf("the ConfigMap's hcidp.yaml is not a valid hcidp configuration:\n%v", err)
	}

	t.Run("configuration", func(t *testing.T) {
		if !strings.HasPrefix(cfg.Database, "postgres://") && !strings.HasPrefix(cfg.Database, "postgresql://") {
			t.Errorf("database %q: replicas must share a PostgreSQL database", cfg.Database)
		}
		if !cfg.APIEnabled() {
			t.Error("the portal API key is not set")
		}
		// key_file and cert_file are the Secret's files, and load as a key pair.
		dir := t.TempDir()
		kf, cf := filepath.Join(dir, "idp.key"), filepath.Join(dir, "idp.crt")
		os.WriteFile(kf, fileAt(t, cfg.KeyFile), 0o600)
		os.WriteFile(cf, fileAt(t, cfg.CertFile), 0o600)
		if _, _, err := keys.LoadKeyPair(kf, cf); err != nil {
			t.Errorf("key_file %s and cert_file %s, as mounted, do not load: %v", cfg.KeyFile, cfg.CertFile, err)
		}
		for _, sp := range cfg.ServiceProviders {
			if sp.MetadataFile != "" {
				fileAt(t, sp.MetadataFile)
			}
		}
		if host, _, _ := net.SplitHostPort(cfg.Listen); host == "127.0.0.1" || host == "localhost" {
			t.Errorf("listen %s: loopback is unreachable from the Service and the kubelet", cfg.Listen)
		}
	})

	httpPort := portOf(t, cfg.Listen)
	t.Run("probes", func(t *testing.T) {
		for _, p := range []struct {
			name  string
			probe *corev1.Probe
			path  string
		}{{"readinessProbe", c.ReadinessProbe, "/readyz"}, {"livenessProbe", c.LivenessProbe, "/healthz"}} {
			if p.probe == nil || p.probe.HTTPGet == nil {
				t.Errorf("%s: want an httpGet probe on %s", p.name, p.path)
				continue
			}
			if p.probe.HTTPGet.Path != p.path {
				t.Errorf("%s path %s, want %s", p.name, p.probe.HTTPGet.Path, p.path)
			}
			if got := containerPort(t, c, p.probe.HTTPGet.Port); got != httpPort {
				t.Errorf("%s port %d, but hcidp listens on %d (listen: %s)", p.name, got, httpPort, cfg.Listen)
			}
			if p.probe.HTTPGet.Scheme == corev1.URISchemeHTTPS && cfg.TLSCertFile == "" {
				t.Errorf("%s uses HTTPS but hcidp serves plain HTTP", p.name)
			}
		}
		if lp := c.LivenessProbe; lp != nil && lp.PeriodSeconds*lp.FailureThreshold < 30 {
			t.Errorf("livenessProbe gives up after %ds: /healthz pings the database, so a short database fail-over would restart every replica",
				lp.PeriodSeconds*lp.FailureThreshold)
		}
	})

	t.Run("service", func(t *testing.T) {
		s := b.service
		if !podSelects(t, &metav1.LabelSelector{MatchLabels: s.Spec.Selector}, pod.Labels) {
			t.Errorf("the Service's selector %v does not select the pods %v", s.Spec.Selector, pod.Labels)
		}
		if len(s.Spec.Ports) == 0 {
			t.Fatal("the Service has no port")
		}
		for _, p := range s.Spec.Ports {
			if got := containerPort(t, c, p.TargetPort); got != httpPort {
				t.Errorf("Service port %s targets %d, but hcidp listens on %d", p.Name, got, httpPort)
			}
		}
	})

	t.Run("metrics", func(t *testing.T) {
		if cfg.MetricsListen == "" {
			t.Skip("metrics on the main port")
		}
		mp := portOf(t, cfg.MetricsListen)
		if containerPort(t, c, intstr.FromString("metrics")) != mp {
			t.Errorf("container port \"metrics\" is not metrics_listen %s", cfg.MetricsListen)
		}
		if a := pod.Annotations["prometheus.io/port"]; a != strconv.Itoa(int(mp)) {
			t.Errorf("prometheus.io/port %q, want %d", a, mp)
		}
	})

	t.Run("network policy", func(t *testing.T) {
		np := b.netpol
		if !podSelects(t, &np.Spec.PodSelector, pod.Labels) {
			t.Fatalf("the NetworkPolicy does not select the pods")
		}
		if !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) || !slices.Contains(np.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) {
			t.Errorf("policyTypes %v: want Ingress and Egress", np.Spec.PolicyTypes)
		}
		allowsIn := func(port int32) bool {
			for _, r := range np.Spec.Ingress {
				for _, p := range r.Ports {
					if p.Port != nil && containerPort(t, c, *p.Port) == port {
						return true
					}
				}
			}
			return false
		}
		if !allowsIn(httpPort) {
			t.Errorf("ingress to the IdP port %d is not allowed", httpPort)
		}
		allowsOut := func(port int32, proto corev1.Protocol) bool {
			for _, r := range np.Spec.Egress {
				for _, p := range r.Ports {
					if p.Port != nil && p.Port.IntValue() == int(port) && (p.Protocol == nil || *p.Protocol == proto) {
						return true
					}
				}
			}
			return false
		}
		if !allowsOut(53, corev1.ProtocolUDP) {
			t.Error("egress to DNS is not allowed")
		}
		if !allowsOut(5432, corev1.ProtocolTCP) {
			t.Error("egress to PostgreSQL (5432) is not allowed")
		}
	})

	t.Run("locked-down pod", func(t *testing.T) {
		ps, cs := pod.Spec.SecurityContext, c.SecurityContext
		if ps == nil || cs == nil {
			t.Fatal("no pod or container securityContext")
		}
		if ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser == 0 {
			t.Errorf("the pod may run as root: %+v", ps)
		}
		if cs.ReadOnlyRootFilesystem == nil || !*cs.ReadOnlyRootFilesystem {
			t.Error("the root filesystem is writable")
		}
		if cs.AllowPrivilegeEscalation == nil || *cs.AllowPrivilegeEscalation {
			t.Error("privilege escalation is allowed")
		}
		if cs.Capabilities == nil || !slices.Contains(cs.Capabilities.Drop, "ALL") || len(cs.Capabilities.Add) > 0 {
			t.Errorf("capabilities %+v: drop ALL, add none", cs.Capabilities)
		}
		if ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
			t.Error("no RuntimeDefault seccomp profile")
		}
		if pod.Spec.AutomountServiceAccountToken == nil || *pod.Spec.AutomountServiceAccountToken {
			t.Error("a service account token is mounted")
		}
		for _, r := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			req, lim := c.Resources.Requests[r], c.Resources.Limits[r]
			if req.IsZero() || lim.IsZero() {
				t.Errorf("%s: want a request and a limit", r)
			} else if req.Cmp(lim) > 0 {
				t.Errorf("%s: request %s above limit %s", r, req.String(), lim.String())
			}
		}
		if lim := c.Resources.Limits[corev1.ResourceMemory]; lim.Cmp(resource.MustParse("128Mi")) < 0 {
			t.Errorf("memory limit %s is too small for argon2id (19 MiB per login) under load", lim.String())
		}
		if strings.HasSuffix(c.Image, ":latest") || !strings.Contains(c.Image, ":") {
			t.Errorf("image %q: pin a tag (kustomization.yaml images:)", c.Image)
		}
	})

	t.Run("namespace", func(t *testing.T) {
		if len(b.namespaces) != 1 {
			t.Fatalf("namespaces %v, want one", b.namespaces)
		}
		for obj, ns := range b.namespaced {
			if ns != b.namespaces[0] {
				t.Errorf("%s is in namespace %q, not %q", obj, ns, b.namespaces[0])
			}
		}
	})

	t.Run("generated objects roll the pods", func(t *testing.T) {
		// kustomize names generated objects after a hash of their content and
		// rewrites the references, so a new key or configuration is a rollout.
		for name := range b.configMaps {
			if name == "hcidp-config" {
				t.Error("the ConfigMap name has no content hash")
			}
		}
		if !reflect.DeepEqual(b.secrets[c.Env[0].ValueFrom.SecretKeyRef.Name].Data["database-url"], b.secretFiles["database-url"]) {
			t.Error("the database Secret does not carry secrets/database-url")
		}
	})
}

func ptrOr[T any](p *T, def T) T {
	if p == nil {
		return def
	}
	return *p
}
