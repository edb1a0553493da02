package mockiam_test

import (
	"log/slog"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"hcidp/internal/testkit"
	"hcidp/mockiam"
)

// TestLogLinesHaveNoDuplicateKeys: every JSON log line of a login, a bind
// and an unbind, with the logger the demo gives (component already set),
// decodes with a decoder that refuses duplicate keys, names the component
// once, and calls the SAML request ID saml_request_id (request_id is the
// HTTP request's).
func TestLogLinesHaveNoDuplicateKeys(t *testing.T) {
	var out testkit.SyncBuffer
	logger := slog.New(slog.NewJSONHandler(&out, nil)).With("component", "mock-iam")
	f := newFixtureWith(t, func(c *mockiam.Config) { c.Logger = logger })
	resp, page := f.post(t, mockiam.PathBind, f.bindPage(t))
	notification(t, resp, page)
	_, console := f.get(t, mockiam.PathConsole)
	m := regexp.MustCompile(`name="csrf" value="([0-9a-f]+)"`).FindStringSubmatch(console)
	if m == nil {
		t.Fatalf("no unbind form:\n%s", console)
	}
	f.post(t, mockiam.PathUnbind, url.Values{"csrf": {m[1]}})

	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) < 5 {
		t.Fatalf("only %d log lines:\n%s", len(lines), strings.Join(lines, "\n"))
	}
	var sawSAMLID bool
	for _, line := range lines {
		var fields map[string]any
		// jsontext refuses a name twice in one object unless told otherwise.
		if err := json.Unmarshal([]byte(line), &fields, jsontext.AllowDuplicateNames(false)); err != nil {
			t.Errorf("log line does not decode strictly: %v\n%s", err, line)
			continue
		}
		if fields["component"] != "mock-iam" || fields["site"] != "cn" {
			t.Errorf("log line without component mock-iam and site cn: %s", line)
		}
		if _, ok := fields["request_id"]; ok {
			t.Errorf("log line names the SAML request ID request_id: %s", line)
		}
		_, ok := fields["saml_request_id"]
		sawSAMLID = sawSAMLID || ok
	}
	if !sawSAMLID {
		t.Error("no log line carries saml_request_id")
	}
}
