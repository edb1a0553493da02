package metrics

import (
	"context"
	"encoding/json"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"gopkg.in/yaml.v3"
)

// exportRecorder is a prometheus.Registerer that records every metric name
// the registered collectors can export, from their descriptors: a CounterVec
// that has seen no observation exports nothing in a scrape, yet its name is
// part of the contract the alerts and the dashboard rely on.
type exportRecorder struct {
	t     *testing.T
	names map[string]bool
	// bases are the metrics' own names, without the series suffixes.
	bases map[string]bool
}

// descName matches the fully-qualified name in prometheus.Desc.String();
// client_golang exposes no accessor for it.
var descName = regexp.MustCompile(`^Desc\{fqName: "([^"]+)"`)

func (r *exportRecorder) Register(c prometheus.Collector) error {
	ch := make(chan *prometheus.Desc)
	go func() { c.Describe(ch); close(ch) }()
	var names []string
	for d := range ch {
		m := descName.FindStringSubmatch(d.String())
		if m == nil {
			r.t.Fatalf("cannot read the metric name of %s", d)
		}
		names = append(names, m[1])
	}
	// A histogram is scraped as NAME_bucket, NAME_sum and NAME_count, a
	// summary as NAME, NAME_sum and NAME_count. A vector's kind shows in its
	// type; a single metric's in what it writes.
	var suffixes []string
	switch c := c.(type) {
	case *prometheus.HistogramVec:
		suffixes = []string{"_bucket", "_sum", "_count"}
	case *prometheus.SummaryVec:
		suffixes = []string{"", "_sum", "_count"}
	case prometheus.Metric:
		var m dto.Metric
		if err := c.Write(&m); err != nil {
			r.t.Fatal(err)
		}
		switch {
		case m.Histogram != nil:
			suffixes = []string{"_bucket", "_sum", "_count"}
		case m.Summary != nil:
			suffixes = []string{"", "_sum", "_count"}
		}
	}
	if suffixes == nil {
		suffixes = []string{""}
	}
	for _, n := range names {
		r.bases[n] = true
		for _, s := range suffixes {
			r.names[n+s] = true
		}
	}
	return nil
}

func (r *exportRecorder) MustRegister(cs ...prometheus.Collector) {
	for _, c := range cs {
		if err := r.Register(c); err != nil {
			r.t.Fatal(err)
		}
	}
}

func (r *exportRecorder) Unregister(prometheus.Collector) bool { return false }

// exported returns every hcidp_ series name /metrics can carry: what New and
// RegisterDatabaseUp register, as the app wires them.
func exported(t *testing.T) map[string]bool {
	return registered(t).names
}

// registered records what New and RegisterDatabaseUp register.
func registered(t *testing.T) *exportRecorder {
	r := &exportRecorder{t: t, names: map[string]bool{}, bases: map[string]bool{}}
	New(r)
	RegisterDatabaseUp(r, func(context.Context) error { return nil })
	return r
}

// metricName finds hcidp's metric names in a PromQL expression.
var metricName = regexp.MustCompile(`\bhcidp_[a-zA-Z0-9_]+`)

func usedNames(exprs []string) []string {
	seen := map[string]bool{}
	for _, e := range exprs {
		for _, n := range metricName.FindAllString(e, -1) {
			seen[n] = true
		}
	}
	var names []string
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// alertExprs returns the expr of every rule in a Prometheus rules file.
func alertExprs(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var f struct {
		Groups []struct {
			Rules []struct {
				Expr string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	for _, g := range f.Groups {
		for _, r := range g.Rules {
			exprs = append(exprs, r.Expr)
		}
	}
	return exprs
}

// dashboardExprs returns every "expr" (panel targets) and every templating
// "query"/"definition" string of a Grafana dashboard, wherever it nests.
func dashboardExprs(t *testing.T, path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var d any
	if err := json.Unmarshal(b, &d); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	var exprs []string
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, x := range v {
				if s, ok := x.(string); ok && (k == "expr" || k == "query" || k == "definition") {
					exprs = append(exprs, s)
				}
				walk(x)
			}
		case []any:
			for _, x := range v {
				walk(x)
			}
		}
	}
	walk(d)
	return exprs
}

// TestDeployFilesUseExportedMetrics proves that every hcidp_ metric the
// Prometheus alerts and the Grafana dashboard query is one /metrics exports,
// so a renamed or removed metric cannot silently blind them. Names only:
// labels may grow.
func TestDeployFilesUseExportedMetrics(t *testing.T) {
	have := exported(t)
	for _, must := range []string{"hcidp_sso_requests_total", "hcidp_response_signing_seconds_bucket",
		"hcidp_response_signing_seconds_count", "hcidp_database_up"} {
		if !have[must] {
			t.Fatalf("the recorder misses %s (found %v)", must, have)
		}
	}
	if have["hcidp_sso_requests_total_bucket"] {
		t.Fatal("the recorder gives a counter histogram suffixes")
	}
	for _, tc := range []struct {
		name  string
		exprs []string
	}{
		{"deploy/prometheus/alerts.yaml", alertExprs(t, "../deploy/prometheus/alerts.yaml")},
		{"deploy/grafana/hcidp.json", dashboardExprs(t, "../deploy/grafana/hcidp.json")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			used := usedNames(tc.exprs)
			if len(used) < 3 {
				t.Fatalf("found only %v in %d expressions: is the file read right?", used, len(tc.exprs))
			}
			for _, n := range used {
				if !have[n] {
					t.Errorf("%s queries %s, which /metrics does not export", tc.name, n)
				}
			}
			t.Logf("%s uses %v", tc.name, used)
		})
	}
}

// TestREADMEListsEveryMetric: the README's Observability paragraph names
// every metric hcidp registers, and no hcidp_ metric that /metrics does not
// export, so an operator reading it sees the whole contract.
func TestREADMEListsEveryMetric(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "- **Observability.**")
	if !ok {
		t.Fatal("README.md has no \"- **Observability.**\" paragraph")
	}
	para, _, _ := strings.Cut(rest, "\n- **")
	listed := map[string]bool{}
	for _, n := range metricName.FindAllString(para, -1) {
		listed[n] = true
	}
	r := registered(t)
	for n := range r.bases {
		if !listed[n] {
			t.Errorf("README.md's Observability paragraph does not list %s", n)
		}
	}
	for n := range listed {
		if !r.bases[n] && !r.names[n] {
			t.Errorf("README.md lists %s, which /metrics does not export", n)
		}
	}
}
