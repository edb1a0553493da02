package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"hcidp/storage"
	"hcidp/storage/backend"
)

// keysOf returns the sorted keys of a JSON object.
func keysOf(t *testing.T, v any) string {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%v is not a JSON object", v)
	}
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return strings.Join(ks, " ")
}

// TestJSONListings: users list, bindings show, sp show and audit list
// print, with --json, one JSON document of the shape docs/cli.md
// documents: these keys, lists as [] when empty, times in RFC 3339.
func TestJSONListings(t *testing.T) {
	cfg := testConfig(t)
	idpCmd(t, "", "users", "add", "--config", cfg, "--xaccount-id", "cust-1", "--password", "s3cret-pass", "--email", "a@example.com")
	idpCmd(t, "", "users", "add", "--config", cfg, "--xaccount-id", "cust-2", "--password", "s3cret-pass")
	idpCmd(t, "", "bindings", "add", "--config", cfg, "--xaccount-id", "cust-1", "--site", "cn", "--domain-id", "d1", "--domain-name", "hw_account")
	ctx := context.Background()
	st, err := backend.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfg), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	st.AppendAudit(ctx, storage.AuditEvent{Time: time.Now().UTC(), Kind: "login", XAccountID: "cust-1", ClientAddr: "192.0.2.7", Outcome: "failure", Detail: "method=password"})
	st.Close()

	jsonOf := func(args ...string) any {
		t.Helper()
		out, _, err := idpCmd(t, "", append(args, "--config", cfg, "--json")...)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		dec := json.NewDecoder(strings.NewReader(out))
		if err := dec.Decode(&v); err != nil {
			t.Fatalf("%v: not JSON: %v\n%s", args, err, out)
		}
		if dec.More() {
			t.Fatalf("%v: more than one JSON document", args)
		}
		return v
	}
	users := jsonOf("users", "list").([]any)
	if len(users) != 2 {
		t.Fatalf("users list: %v", users)
	}
	if got, want := keysOf(t, users[0]), "created_at disabled display_name email has_password mobile name updated_at xaccount_id"; got != want {
		t.Errorf("users list keys: %s, want %s", got, want)
	}
	if _, err := time.Parse(time.RFC3339, users[0].(map[string]any)["created_at"].(string)); err != nil {
		t.Errorf("created_at: %v", err)
	}

	b := jsonOf("bindings", "show", "--xaccount-id", "cust-1")
	if got, want := keysOf(t, b), "bind_events bindings xaccount_id"; got != want {
		t.Errorf("bindings show keys: %s, want %s", got, want)
	}
	bs := b.(map[string]any)["bindings"].([]any)
	if len(bs) != 1 || keysOf(t, bs[0]) != "bound_at convention domain_id domain_name event_id site source" || bs[0].(map[string]any)["source"] != "cli" {
		t.Errorf("bindings: %v", bs)
	}
	if ev, ok := b.(map[string]any)["bind_events"].([]any); !ok || len(ev) != 0 {
		t.Errorf("bind_events is %v, want []", b.(map[string]any)["bind_events"])
	}
	if empty := jsonOf("bindings", "show", "--xaccount-id", "cust-2"); empty.(map[string]any)["bindings"] == nil {
		t.Error("bindings of a customer without any is null, want []")
	}

	sites := jsonOf("sp", "show").([]any)
	if len(sites) != 1 {
		t.Fatalf("sp show: %v", sites)
	}
	if got, want := keysOf(t, sites[0]), "acs allow_expired_certificate console encryption_certificates entity_id iam_login metadata pinning signed signing_keys site"; got != want {
		t.Errorf("sp show keys: %s, want %s", got, want)
	}
	cn := sites[0].(map[string]any)
	if cn["metadata"] != "built-in" || cn["pinning"] != "built-in" || cn["signed"] != true {
		t.Errorf("sp show: %v", cn)
	}
	key := cn["signing_keys"].([]any)[0]
	if got, want := keysOf(t, key), "days_left not_after not_before pin pinned serial subject"; got != want || key.(map[string]any)["pinned"] != true {
		t.Errorf("signing key: %v (keys %s, want %s)", key, got, want)
	}

	events := jsonOf("audit", "list", "--kind", "login").([]any)
	if len(events) != 1 {
		t.Fatalf("audit list --kind login: %v", events)
	}
	if got, want := keysOf(t, events[0]), "assertion_id client detail id kind outcome saml_request_id site time xaccount_id"; got != want {
		t.Errorf("audit list keys: %s, want %s", got, want)
	}
	if e := events[0].(map[string]any); e["outcome"] != "failure" || e["client"] != "192.0.2.7" || e["xaccount_id"] != "cust-1" {
		t.Errorf("login event: %v", e)
	}
	if none := jsonOf("audit", "list", "--kind", "nothing"); none == nil {
		t.Error("an empty audit listing is null, want []")
	}
}
