package main

import (
	"context"
	"path/filepath"
	"regexp"
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

// TestAuditListShowsSignIns: login rows (the account tried, the client,
// success, failure or throttled) read as one row each; --kind and
// --outcome select them; an account name from the login form is quoted, so
// it can neither shift the columns nor write escape sequences to the
// terminal.
func TestAuditListShowsSignIns(t *testing.T) {
	cfg := testConfig(t)
	ctx := context.Background()
	st, err := backend.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfg), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().Add(-time.Minute).UTC()
	for i, e := range []storage.AuditEvent{
		{Kind: "login", XAccountID: "alice", ClientAddr: "192.0.2.7", Outcome: "success", Detail: "method=password"},
		{Kind: "login", XAccountID: "mallory \x1b[31mroot", ClientAddr: "198.51.100.9", Outcome: "failure", Detail: "method=password"},
		{Kind: "login", XAccountID: "alice", ClientAddr: "198.51.100.9", Outcome: "throttled", Detail: "method=password"},
		{Kind: "response", XAccountID: "alice", Site: "cn", RequestID: "_req-1", AssertionID: "_as-1", ClientAddr: "192.0.2.7", Outcome: "issued"},
	} {
		e.Time = now.Add(time.Duration(i) * time.Second)
		if err := st.AppendAudit(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	list := func(args ...string) []string {
		t.Helper()
		out, _, err := idpCmd(t, "", append([]string{"audit", "list", "--config", cfg}, args...)...)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out, "\x1b") {
			t.Errorf("the listing writes an escape character:\n%q", out)
		}
		lines := strings.Split(strings.TrimSpace(out), "\n")
		if !regexp.MustCompile(`^TIME +KIND +OUTCOME +CUSTOMER +SITE +CLIENT +SAML_REQUEST_ID +ASSERTION_ID +DETAIL$`).MatchString(lines[0]) {
			t.Errorf("header: %q", lines[0])
		}
		return lines[1:]
	}
	rows := list("--kind", "login")
	want := []string{
		`^\S+ +login +success +alice +- +192\.0\.2\.7 +- +- +method=password$`,
		`^\S+ +login +failure +"mallory \\x1b\[31mroot" +- +198\.51\.100\.9 +- +- +method=password$`,
		`^\S+ +login +throttled +alice +- +198\.51\.100\.9 +- +- +method=password$`,
	}
	if len(rows) != len(want) {
		t.Fatalf("--kind login: %d rows, want %d:\n%s", len(rows), len(want), strings.Join(rows, "\n"))
	}
	for i, re := range want {
		if !regexp.MustCompile(re).MatchString(rows[i]) {
			t.Errorf("row %d %q does not match %s", i, rows[i], re)
		}
	}
	if rows := list("--kind", "login", "--outcome", "failure,throttled"); len(rows) != 2 || strings.Contains(strings.Join(rows, "\n"), "success") {
		t.Errorf("--outcome failure,throttled:\n%s", strings.Join(rows, "\n"))
	}
	if rows := list("--kind", "login", "--customer", "alice", "--limit", "1"); len(rows) != 1 || !strings.Contains(rows[0], "success") {
		t.Errorf("--kind login --customer alice --limit 1:\n%s", strings.Join(rows, "\n"))
	}
	if rows := list(); len(rows) != 4 || !strings.Contains(rows[3], "_req-1") {
		t.Errorf("all events:\n%s", strings.Join(rows, "\n"))
	}
}
