package app

// docs/threat-model.md "SP metadata loading": the site's signing key is
// pinned (the built-in key for cn by default); metadata signed with another
// key is refused at start and on reload until the operator pins it. And an
// SP certificate that expires while running makes the replica not ready.

import (
	"bytes"
	"context"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"hcidp/config"
	"hcidp/internal/testkit"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/mockiam"
)

// spKeyPair is an SP key valid from now for validFor.
func spKeyPair(t *testing.T, validFor time.Duration) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	key, cert, err := keys.Generate(2048, "auth.huaweicloud.com (pin test)", validFor, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

// signedSPMetadata is a site's signed SP metadata made with key.
func signedSPMetadata(t *testing.T, site string, key *rsa.PrivateKey, cert *x509.Certificate) []byte {
	t.Helper()
	iam, err := mockiam.New(mockiam.Config{Site: site, BaseURL: "https://auth.example.test", XAccountType: "HCTEST", Key: key, Cert: cert})
	if err != nil {
		t.Fatal(err)
	}
	return iam.Metadata()
}

// installation writes an IdP key pair, sp.xml and hcidp.yaml (with the given
// service_providers entry body) into a directory and loads the file.
func installation(t *testing.T, spXML []byte, entry string) (*config.Config, string) {
	t.Helper()
	dir := t.TempDir()
	key, cert, err := keys.Generate(2048, "hcidp pin test", 30*24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.WriteFiles(dir, key, cert, true); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "sp.xml"), spXML, 0o644); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "hcidp.yaml")
	y := `# operator's file
base_url: "https://idp.partner.example"
key_file: idp.key
cert_file: idp.crt
bp_id: bp
x_account_type: HCTEST
database: "sqlite::memory:"
service_providers:
  ` + strings.ReplaceAll(strings.TrimSpace(entry), "\n", "\n  ") + "\n"
	if err := os.WriteFile(file, []byte(y), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, file
}

func TestChinaSitePinnedToTheBuiltinKeyByDefault(t *testing.T) {
	key, cert := spKeyPair(t, 365*24*time.Hour)
	cfg, _ := installation(t, signedSPMetadata(t, "cn", key, cert), "- site: cn\n  metadata_file: sp.xml")
	_, err := LoadServiceProviders(cfg, time.Now(), nil)
	if err == nil {
		t.Fatal("cn metadata signed with a key other than Huawei's built-in one was loaded without a pin")
	}
	for _, want := range []string{"site cn", metadata.KeyPin(cert), metadata.BuiltinKeyPins("cn")[0],
		"idp sp fetch --site cn --accept-key " + metadata.KeyPin(cert), "service_providers[0].signing_key_pins"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error lacks %q: %v", want, err)
		}
	}
	// The built-in metadata itself loads under the default pin.
	cfg, _ = installation(t, nil, "- site: cn")
	if _, err := LoadServiceProviders(cfg, time.Now(), nil); err != nil {
		t.Fatalf("built-in metadata: %v", err)
	}
}

func TestUnpinnedSiteLoadsWithAWarning(t *testing.T) {
	key, cert := spKeyPair(t, 365*24*time.Hour)
	cfg, _ := installation(t, signedSPMetadata(t, "intl", key, cert), "- site: intl\n  metadata_file: sp.xml")
	var logs bytes.Buffer
	if _, err := LoadServiceProviders(cfg, time.Now(), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"level=WARN", "not pinned", "site=intl", metadata.KeyPin(cert), "service_providers[0].signing_key_pins"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("warning lacks %q:\n%s", want, logs.String())
		}
	}
	// Pinned: no warning.
	logs.Reset()
	cfg, _ = installation(t, signedSPMetadata(t, "intl", key, cert), fmt.Sprintf("- site: intl\n  metadata_file: sp.xml\n  signing_key_pins: [%q]", metadata.KeyPin(cert)))
	if _, err := LoadServiceProviders(cfg, time.Now(), slog.New(slog.NewTextHandler(&logs, nil))); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(logs.String(), "not pinned") {
		t.Errorf("warned about a pinned site:\n%s", logs.String())
	}
}

// TestReloadRefusesAChangedKeyUntilPinned: SIGHUP with metadata signed by a
// new key keeps the running trust; once the pin is in the configuration file
// (what `idp sp fetch --accept-key` writes), the next reload takes it.
func TestReloadRefusesAChangedKeyUntilPinned(t *testing.T) {
	oldKey, oldCert := spKeyPair(t, 365*24*time.Hour)
	cfg, file := installation(t, signedSPMetadata(t, "cn", oldKey, oldCert),
		fmt.Sprintf("- site: cn\n  metadata_file: sp.xml\n  signing_key_pins:\n    - %q", metadata.KeyPin(oldCert)))
	in, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()

	newKey, newCert := spKeyPair(t, 365*24*time.Hour)
	if err := os.WriteFile(filepath.Join(filepath.Dir(file), "sp.xml"), signedSPMetadata(t, "cn", newKey, newCert), 0o644); err != nil {
		t.Fatal(err)
	}
	err = in.Reload()
	if err == nil || !strings.Contains(err.Error(), metadata.KeyPin(newCert)) || !strings.Contains(err.Error(), "--accept-key") {
		t.Fatalf("reload with an unpinned key: %v", err)
	}
	if !in.SPs[0].Meta.SigningCerts[0].Equal(oldCert) {
		t.Fatal("a refused reload changed the trusted key")
	}

	src, _ := os.ReadFile(file)
	edited, err := config.AddSigningKeyPins(src, "cn", []string{metadata.KeyPin(newCert)})
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(file, edited, 0o600)
	if err := in.Reload(); err != nil {
		t.Fatalf("reload after pinning the new key: %v", err)
	}
	if !in.SPs[0].Meta.SigningCerts[0].Equal(newCert) || len(in.Config.ServiceProviders[0].SigningKeyPins) != 2 {
		t.Fatalf("the new key is not trusted after the reload: %v", in.Config.ServiceProviders[0].SigningKeyPins)
	}
}

// TestReadinessWhenTheSPCertificateExpiresWhileRunning: the public /readyz
// goes 503 naming only the failing check; the metrics listener's /readyz has
// the detail, and says "(loaded by override)" only with the override.
func TestReadinessWhenTheSPCertificateExpiresWhileRunning(t *testing.T) {
	for _, allow := range []bool{false, true} {
		t.Run(fmt.Sprintf("allow_expired_certificate=%v", allow), func(t *testing.T) {
			key, cert := spKeyPair(t, 24*time.Hour)
			cfg, _ := installation(t, signedSPMetadata(t, "cn", key, cert), fmt.Sprintf(
				"- site: cn\n  metadata_file: sp.xml\n  allow_expired_certificate: %v\n  signing_key_pins: [%q]", allow, metadata.KeyPin(cert)))
			cfg.MetricsListen = "127.0.0.1:0"
			clock := testkit.At(time.Now())
			in, err := New(context.Background(), cfg, Options{Logger: slog.New(slog.DiscardHandler), Now: clock.Now})
			if err != nil {
				t.Fatal(err)
			}
			defer in.Close()
			get := func(h http.Handler) (int, map[string]any, string) {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/readyz", nil))
				var m map[string]any
				json.Unmarshal(rec.Body.Bytes(), &m)
				return rec.Code, m, rec.Body.String()
			}
			if code, m, body := get(in.Handler()); code != 200 || m["ready"] != true || strings.Contains(body, "CN=") {
				t.Fatalf("public /readyz: %d %s", code, body)
			}
			if code, _, body := get(in.opsHandler()); code != 200 || !strings.Contains(body, `"sp_certificates"`) || !strings.Contains(body, cert.Subject.String()) {
				t.Fatalf("metrics listener /readyz: %d %s", code, body)
			}

			clock.Set(cert.NotAfter.Add(time.Hour))
			code, m, body := get(in.Handler())
			ops, _, detail := get(in.opsHandler())
			if allow {
				if code != 200 || ops != 200 || !strings.Contains(detail, "(loaded by override)") {
					t.Errorf("expired with the override: public %d %s, detail %d %s", code, body, ops, detail)
				}
				return
			}
			if code != 503 || fmt.Sprint(m["failing"]) != "[sp_metadata]" || strings.Contains(body, "CN=") || strings.Contains(body, "cn") {
				t.Errorf("public /readyz after expiry: %d %s", code, body)
			}
			if ops != 503 || !strings.Contains(detail, "site cn has no valid signing certificate") || strings.Contains(detail, "override") {
				t.Errorf("metrics listener /readyz after expiry: %d %s", ops, detail)
			}
		})
	}
}
