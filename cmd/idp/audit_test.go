package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hcidp/storage"
	"hcidp/storage/backend"
)

// `idp audit list` filters by time and customer and prints what the audit
// log holds (docs/threat-model.md "Operations": every issued assertion and bind
// event, with customer, site and request ID).
func TestAuditList(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	st, err := backend.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfg), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-48 * time.Hour).UTC()
	recent := time.Now().Add(-time.Hour).UTC()
	for _, e := range []storage.AuditEvent{
		{Time: old, Kind: "response", XAccountID: "alice", Site: "cn", RequestID: "_req-old", AssertionID: "_as-old", ClientAddr: "192.0.2.1", Outcome: "issued"},
		{Time: recent, Kind: "bind", XAccountID: "alice", Site: "cn", ClientAddr: "192.0.2.1", Outcome: "bound", Detail: "sha256=abc domain_id=d1"},
		{Time: recent, Kind: "response", XAccountID: "bob", Site: "cn", RequestID: "_req-bob", AssertionID: "_as-bob", ClientAddr: "192.0.2.2", Outcome: "issued"},
	} {
		if err := st.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	lines := func(args ...string) []string {
		t.Helper()
		out, _, err := idpCmd(t, "", append([]string{"audit", "list", "--config", cfg}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Split(strings.TrimSpace(out), "\n")[1:] // without the header
	}
	if got := lines(); len(got) != 3 || !strings.Contains(got[0], "_req-old") || !strings.Contains(got[0], "_as-old") || !strings.Contains(got[0], "192.0.2.1") {
		t.Errorf("all events:\n%s", strings.Join(got, "\n"))
	}
	if got := lines("--since", "24h"); len(got) != 2 || strings.Contains(strings.Join(got, "\n"), "_req-old") {
		t.Errorf("--since 24h:\n%s", strings.Join(got, "\n"))
	}
	if got := lines("--since", recent.Add(-time.Minute).Format(time.RFC3339), "--customer", "alice"); len(got) != 1 || !strings.Contains(got[0], "sha256=abc") {
		t.Errorf("--since T --customer alice:\n%s", strings.Join(got, "\n"))
	}
	if _, _, err := idpCmd(t, "", "audit", "list", "--config", cfg, "--since", "yesterday"); err == nil {
		t.Error("--since yesterday accepted")
	}
}
