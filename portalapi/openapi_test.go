package portalapi

import (
	"os"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

// TestOpenAPIDocumentsEveryRoute: api/openapi.yaml documents exactly the
// routes registered under /api/v1/ (and the browser's GET /launch), and
// every $ref in it resolves.
func TestOpenAPIDocumentsEveryRoute(t *testing.T) {
	b, err := os.ReadFile("openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("api/openapi.yaml: %v", err)
	}
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.") {
		t.Fatalf("openapi = %q, want 3.x", v)
	}
	paths, _ := doc["paths"].(map[string]any)
	methods := map[string]bool{"get": true, "put": true, "post": true, "delete": true, "patch": true, "head": true, "options": true}
	var documented []string
	for p, item := range paths {
		ops, _ := item.(map[string]any)
		for m := range ops {
			if methods[m] && strings.HasPrefix(p, "/api/v1/") {
				documented = append(documented, strings.ToUpper(m)+" "+p)
			}
		}
	}
	var registered []string
	for _, rt := range apiRoutes {
		if !strings.HasPrefix(rt.Pattern, "/api/v1/") {
			t.Errorf("route %s %s is not under /api/v1/", rt.Method, rt.Pattern)
		}
		registered = append(registered, rt.Method+" "+rt.Pattern)
	}
	sort.Strings(documented)
	sort.Strings(registered)
	if strings.Join(documented, "\n") != strings.Join(registered, "\n") {
		t.Errorf("api/openapi.yaml documents\n  %s\nbut the server registers\n  %s",
			strings.Join(documented, "\n  "), strings.Join(registered, "\n  "))
	}
	if launch, _ := paths["/launch"].(map[string]any); launch["get"] == nil {
		t.Error("api/openapi.yaml does not document GET /launch")
	}
	if bearer, _ := lookup(doc, "components/securitySchemes/apiKey/scheme").(string); bearer != "bearer" {
		t.Errorf("security scheme apiKey is %q, want bearer", bearer)
	}
	walkRefs(doc, func(ref string) {
		if !strings.HasPrefix(ref, "#/") || lookup(doc, strings.TrimPrefix(ref, "#/")) == nil {
			t.Errorf("unresolved $ref %q", ref)
		}
	})
}

func lookup(doc map[string]any, path string) any {
	var cur any = doc
	for _, part := range strings.Split(path, "/") {
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[part]
	}
	return cur
}

func walkRefs(v any, fn func(string)) {
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			if s, ok := x.(string); ok && k == "$ref" {
				fn(s)
			}
			walkRefs(x, fn)
		}
	case []any:
		for _, x := range v {
			walkRefs(x, fn)
		}
	}
}
