package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/app"
	"hcidp/config"
	"hcidp/idp"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/storage"
	"hcidp/storage/backend"
)

// idpCmd runs the CLI in-process and returns stdout, stderr and the error.
func idpCmd(t *testing.T, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var out, errb bytes.Buffer
	err := run(context.Background(), args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), err
}

// testConfig writes keys and a configuration trusting the built-in China-site
// SP metadata, and returns the configuration path.
func testConfig(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	if _, _, err := idpCmd(t, "", "keys", "generate", "--out", filepath.Join(dir, "certs"), "--bits", "2048"); err != nil {
		t.Fatal(err)
	}
	cfg := `listen: 127.0.0.1:0
base_url: https://idp.partner.example
key_file: certs/idp.key
cert_file: certs/idp.crt
bp_id: bp-0001
x_account_type: ZXT
database: sqlite:idp.db
service_providers:
  - site: cn
`
	p := filepath.Join(dir, "idp.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestKeysGenerate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "certs")
	out, _, err := idpCmd(t, "", "keys", "generate", "--out", dir, "--bits", "2048")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "idp.key") {
		t.Errorf("output: %s", out)
	}
	fi, err := os.Stat(filepath.Join(dir, "idp.key"))
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("idp.key mode: %v %v", fi.Mode(), err)
	}
	if _, _, err := keys.LoadKeyPair(filepath.Join(dir, "idp.key"), filepath.Join(dir, "idp.crt")); err != nil {
		t.Fatal(err)
	}
	before, _ := os.ReadFile(filepath.Join(dir, "idp.key"))
	if _, _, err := idpCmd(t, "", "keys", "generate", "--out", dir, "--bits", "2048"); err == nil || !strings.Contains(err.Error(), "--force") {
		t.Fatalf("overwrite without --force: %v", err)
	}
	if after, _ := os.ReadFile(filepath.Join(dir, "idp.key")); !bytes.Equal(before, after) {
		t.Fatal("the key was overwritten without --force")
	}
	if _, _, err := idpCmd(t, "", "keys", "generate", "--out", dir, "--bits", "2048", "--force"); err != nil {
		t.Fatalf("--force: %v", err)
	}
	if _, _, err := idpCmd(t, "", "keys", "generate", "--out", dir, "--bits", "1024", "--force"); err == nil {
		t.Fatal("1024-bit key accepted")
	}
}

// TestMetadataCommandMatchesEndpoint: `idp metadata` and GET /saml/metadata
// give the same document.
func TestMetadataCommandMatchesEndpoint(t *testing.T) {
	cfgPath := testConfig(t)
	out, _, err := idpCmd(t, "", "metadata", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "IDP Metadata.xml")
	if _, _, err := idpCmd(t, "", "metadata", "--config", cfgPath, "--out", file); err != nil {
		t.Fatal(err)
	}
	fromFile, _ := os.ReadFile(file)
	cfg, err := config.Load(cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	in, err := app.New(context.Background(), cfg, app.Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	rec := httptest.NewRecorder()
	in.Server.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/saml/metadata", nil))
	if rec.Code != 200 || rec.Body.String() != out || string(fromFile) != out {
		t.Fatalf("metadata differs: status %d\nendpoint:\n%s\ncommand:\n%s", rec.Code, rec.Body, out)
	}
	for _, want := range []string{`entityID="https://idp.partner.example/saml/metadata"`, `Location="https://idp.partner.example/saml/sso"`, `use="signing"`, "nameid-format:transient"} {
		if !strings.Contains(out, want) {
			t.Errorf("metadata lacks %s", want)
		}
	}
	if strings.Contains(out, "PRIVATE") {
		t.Fatal("metadata contains private key material")
	}
}

func TestUsersCommands(t *testing.T) {
	cfgPath := testConfig(t)
	ctx := context.Background()
	if _, _, err := idpCmd(t, "", "users", "add", "--config", cfgPath, "--xaccount-id", "cust-1", "--password", "s3cret-pass",
		"--email", "a@example.com", "--name", "zhang_san", "--mobile", "+86 138 0000 0000"); err != nil {
		t.Fatal(err)
	}
	bad := [][]string{
		{"--xaccount-id", "cust-2", "--password", "s3cret-pass", "--email", "not-an-email"},
		{"--xaccount-id", "cust-3", "--password", "s3cret-pass", "--name", "1starts-with-digit"},
		{"--xaccount-id", "cust-4", "--password", "s3cret-pass", "--name", "abc"},
		{"--xaccount-id", "cust-5", "--password", "s3cret-pass", "--email", strings.Repeat("a", 60) + "@example.com"},
		{"--xaccount-id", "cust-6", "--password", "short"},
		{"--xaccount-id", "cust-1", "--password", "s3cret-pass"},                             // duplicate ID
		{"--xaccount-id", "cust-7", "--password", "s3cret-pass", "--email", "a@example.com"}, // duplicate email
		{"--xaccount-id", "bad\x01id", "--password", "s3cret-pass"},
		{"--xaccount-id", strings.Repeat("x", 129), "--password", "s3cret-pass"},
	}
	for _, args := range bad {
		if _, _, err := idpCmd(t, "", append([]string{"users", "add", "--config", cfgPath}, args...)...); err == nil {
			t.Errorf("users add %q: accepted", args)
		}
	}
	// Password from standard input.
	if _, _, err := idpCmd(t, "stdin-password\n", "users", "add", "--config", cfgPath, "--xaccount-id", "cust-8", "--password-stdin"); err != nil {
		t.Fatal(err)
	}
	out, _, err := idpCmd(t, "", "users", "list", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "cust-1") || !strings.Contains(out, "cust-8") || strings.Count(out, "\n") != 3 {
		t.Fatalf("users list:\n%s", out)
	}
	if _, _, err := idpCmd(t, "", "users", "disable", "--config", cfgPath, "--xaccount-id", "cust-1"); err != nil {
		t.Fatal(err)
	}
	if _, _, err := idpCmd(t, "", "users", "set-password", "--config", cfgPath, "--xaccount-id", "nobody", "--password", "whatever-pass"); err == nil {
		t.Fatal("set-password of an unknown customer succeeded")
	}
	cfg, _ := config.Load(cfgPath)
	st, err := backend.Open(ctx, cfg.Database)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	cs, _ := st.ListCustomers(ctx)
	if len(cs) != 2 || !cs[0].Disabled || cs[0].PasswordHash == "" || strings.Contains(cs[0].PasswordHash, "s3cret") {
		t.Fatalf("customers: %+v", cs)
	}
}

func TestBindingsAdd(t *testing.T) {
	cfgPath := testConfig(t)
	if _, _, err := idpCmd(t, "", "bindings", "add", "--config", cfgPath, "--xaccount-id", "nobody", "--domain-id", "d1"); err == nil {
		t.Fatal("binding for an unknown customer accepted")
	}
	idpCmd(t, "", "users", "add", "--config", cfgPath, "--xaccount-id", "cust-1", "--password", "s3cret-pass")
	if _, _, err := idpCmd(t, "", "bindings", "add", "--config", cfgPath, "--xaccount-id", "cust-1", "--site", "cn", "--domain-id", "d1", "--domain-name", "hw_account"); err != nil {
		t.Fatal(err)
	}
	out, _, _ := idpCmd(t, "", "bindings", "show", "--config", cfgPath, "--xaccount-id", "cust-1")
	if !regexp.MustCompile(`(?m)^cn +d1 +hw_account +cli +- +- `).MatchString(out) {
		t.Fatalf("bindings show: %s", out)
	}
	// The CLI's binding is audited with its source.
	audit, _, _ := idpCmd(t, "", "audit", "list", "--config", cfgPath, "--customer", "cust-1")
	if !strings.Contains(audit, "binding.put domain_id=d1 domain_name=hw_account action=bind source=cli") {
		t.Errorf("audit list: %s", audit)
	}
}

// TestBindingsShowNotificationEvents: `idp bindings show` lists the
// bindings with their source and convention, and the bind events with
// their action, convention, source and outcome; `idp audit list` shows the
// same for each event.
func TestBindingsShowNotificationEvents(t *testing.T) {
	cfgPath := testConfig(t)
	idpCmd(t, "", "users", "add", "--config", cfgPath, "--xaccount-id", "cust-1", "--password", "s3cret-pass")
	ctx := context.Background()
	st, err := backend.Open(ctx, "sqlite:"+filepath.Join(filepath.Dir(cfgPath), "idp.db"))
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	if err := st.AppendAudit(ctx, storage.AuditEvent{Time: now.Add(-time.Minute), Kind: "response", XAccountID: "cust-1", Site: "cn", Outcome: "issued"}); err != nil {
		t.Fatal(err)
	}
	for i, e := range []storage.BindEvent{
		{ID: "ev-bind-0000000000000001", Action: storage.BindActionBind, Convention: "value", DomainID: "dom-1", DomainName: "hw_one"},
		{ID: "ev-unbind-000000000000002", Action: storage.BindActionUnbind, Convention: "query", DomainID: "dom-1"},
		{ID: "ev-bind-0000000000000003", Action: storage.BindActionBind, Convention: "query", DomainID: "dom-2", DomainName: "hw_two"},
	} {
		e.Site, e.XAccountID, e.Document, e.DocumentHash, e.ReceivedAt = "cn", "cust-1", []byte(`{}`), "hash", now.Add(time.Duration(i)*time.Second)
		if _, err := st.ApplyBindEvent(ctx, e, now.Add(-time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	st.Close()

	out, _, err := idpCmd(t, "", "bindings", "show", "--config", cfgPath, "--xaccount-id", "cust-1")
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{
		`(?m)^cn +dom-2 +hw_two +notification +query +ev-bind-0000000000000003 `,
		`(?m)^\S+ +cn +bind +query +notification +bound +dom-2 +hw_two +- +ev-bind-0000000000000003$`,
		`(?m)^\S+ +cn +unbind +query +notification +unbound +dom-1 +- +dom-1 +ev-unbind-000000000000002$`,
		`(?m)^\S+ +cn +bind +value +notification +bound +dom-1 +hw_one +- +ev-bind-0000000000000001$`,
	} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("bindings show lacks %s:\n%s", re, out)
		}
	}
	if out, _, _ := idpCmd(t, "", "bindings", "show", "--config", cfgPath, "--xaccount-id", "cust-1", "--events", "1"); strings.Contains(out, "ev-bind-0000000000000001") {
		t.Errorf("--events 1 shows more:\n%s", out)
	}
	if _, _, err := idpCmd(t, "", "bindings", "show", "--config", cfgPath, "--xaccount-id", "nobody"); err == nil {
		t.Error("bindings show of an unknown customer succeeded")
	}
	audit, _, _ := idpCmd(t, "", "audit", "list", "--config", cfgPath, "--customer", "cust-1")
	if !strings.Contains(audit, "unbound") || !strings.Contains(audit, "event=ev-unbind-000000000000002 action=unbind convention=query source=notification domain_id=dom-1") {
		t.Errorf("audit list: %s", audit)
	}
}

func TestSPShowBuiltinChina(t *testing.T) {
	out, _, err := idpCmd(t, "", "sp", "show", "--config", testConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	pin := metadata.BuiltinKeyPins("cn")[0]
	for _, want := range []string{"site cn", "https://auth.huaweicloud.com/", "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer",
		"CN=auth.huaweicloud.com", "2028-06-18", "signed       true", "key        " + pin + ", pinned by default",
		"signing_key_pins:\n      - \"" + pin + "\"\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("sp show lacks %q:\n%s", want, out)
		}
	}
}

func TestCheckCommand(t *testing.T) {
	cfgPath := testConfig(t)
	cfg, _ := config.Load(cfgPath)
	key, cert, err := keys.LoadKeyPair(cfg.KeyFile, cfg.CertFile)
	if err != nil {
		t.Fatal(err)
	}
	signer, _ := idp.NewSigner(key, cert, cfg.EntityID, false)
	now := time.Now().UTC()
	doc, err := signer.Response(&idp.ResponseParams{ResponseID: "_r1", AssertionID: "_a1", IssueInstant: now,
		Destination: "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer", InResponseTo: "_q1",
		SPEntityID: "https://auth.huaweicloud.com/", NameID: "_n1", SessionIndex: "_s1", AuthnInstant: now,
		NotBefore: now.Add(-time.Minute), NotOnOrAfter: now.Add(5 * time.Minute),
		Attributes: []idp.Attribute{{Name: "xUserId", Value: "c1"}, {Name: "xAccountId", Value: "c1"}, {Name: "bpId", Value: "bp-0001"}}})
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := idpCmd(t, string(doc), "check", "--config", cfgPath, "-")
	if err != nil || !strings.HasPrefix(out, "OK") {
		t.Fatalf("check of a good Response: %v\n%s", err, out)
	}
	tampered := bytes.Replace(doc, []byte(">c1<"), []byte(">c2<"), 1)
	out, _, err = idpCmd(t, string(tampered), "check", "--config", cfgPath, "-")
	if err == nil || !strings.Contains(out, "FAILED") || !strings.Contains(out, "signature") {
		t.Fatalf("check of a tampered Response: %v\n%s", err, out)
	}
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "bad.yaml")
	os.WriteFile(p, []byte("base_url: http://idp.example.com\nservice_providers:\n  - site: moon\n"), 0o600)
	_, _, err := idpCmd(t, "", "metadata", "--config", p)
	if err == nil {
		t.Fatal("bad config accepted")
	}
	for _, want := range []string{"base_url", "plain http", "key_file", "bp_id", "x_account_type", "service_providers[0].site"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
}
