package app

// docs/threat-model.md "SP metadata loading": certificate expiry reported (warning
// ahead of time, refusal once expired unless overridden).

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hcidp/config"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
)

// spMetadataFile writes signed SP metadata whose certificate is valid from
// notBefore for validFor, and returns a configuration that trusts it.
func spMetadataFile(t *testing.T, now time.Time, notBefore time.Time, validFor time.Duration, allowExpired bool) *config.Config {
	t.Helper()
	key, cert, err := keys.Generate(2048, "auth.huaweicloud.com (expiry test)", validFor, notBefore)
	if err != nil {
		t.Fatal(err)
	}
	iam, err := mockiam.New(mockiam.Config{Site: "cn", BaseURL: "https://auth.huaweicloud.com", XAccountType: "HCTEST",
		Key: key, Cert: cert, Now: func() time.Time { return now }})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "sp.xml"), iam.Metadata(), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Parse(fmt.Appendf(nil, `base_url: "https://idp.partner.example"
key_file: idp.key
cert_file: idp.crt
bp_id: bp
x_account_type: HCTEST
database: "sqlite::memory:"
service_providers:
  - site: cn
    metadata_file: sp.xml
    require_signed_metadata: true
    allow_expired_certificate: %t
    signing_key_pins: [%q]
`, allowExpired, metadata.KeyPin(cert)), dir)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

func TestExpiredSPCertificateRefusedUnlessOverridden(t *testing.T) {
	now := time.Now()
	notBefore := now.Add(-48 * time.Hour)
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, nil))

	cfg := spMetadataFile(t, now, notBefore, 24*time.Hour, false)
	if _, err := LoadServiceProviders(cfg, now, log); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("expired SP certificate loaded: %v", err)
	}

	cfg = spMetadataFile(t, now, notBefore, 24*time.Hour, true)
	sps, err := LoadServiceProviders(cfg, now, log)
	if err != nil {
		t.Fatalf("allow_expired_certificate: %v", err)
	}
	if len(sps) != 1 || !now.After(sps[0].Meta.NotAfter) {
		t.Fatalf("loaded %v", sps)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "site=cn") {
		t.Errorf("no warning for a loaded expired certificate:\n%s", logs.String())
	}
}

func TestSPCertificateExpiringSoonWarns(t *testing.T) {
	now := time.Now()
	var logs bytes.Buffer
	cfg := spMetadataFile(t, now, now, 10*24*time.Hour, false)
	if _, err := LoadServiceProviders(cfg, now, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "expires soon") || !strings.Contains(logs.String(), "days_left=9") && !strings.Contains(logs.String(), "days_left=10") {
		t.Errorf("no expiry warning 10 days ahead:\n%s", logs.String())
	}
	logs.Reset()
	cfg = spMetadataFile(t, now, now, 365*24*time.Hour, false)
	if _, err := LoadServiceProviders(cfg, now, slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "expires soon") {
		t.Errorf("warned about a certificate valid for a year:\n%s", logs.String())
	}
}
