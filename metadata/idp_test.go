package metadata

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"encoding/xml"
	"flag"
	"hcidp/saml"
	"os"
	"path/filepath"
	"strings"
	"testing"

	crewjam "github.com/crewjam/saml"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.xml from the current output")

func loadTestCert(t *testing.T, name string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", name)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// testIdPConfig uses fixed certificates from testdata (certificates only; no
// key is stored in the repository) so that the output is reproducible.
func testIdPConfig(t *testing.T) IdPConfig {
	return IdPConfig{
		EntityID:       "https://idp.partner.example",
		SSOURL:         "https://idp.partner.example/saml/sso",
		SigningCerts:   []*x509.Certificate{loadTestCert(t, "idp-current.crt"), loadTestCert(t, "idp-next.crt")},
		EncryptionCert: loadTestCert(t, "idp-encryption.crt"),
	}
}

func TestIdPMetadataGolden(t *testing.T) {
	got, err := IdPMetadata(testIdPConfig(t))
	if err != nil {
		t.Fatalf("IdPMetadata: %v", err)
	}
	golden := filepath.Join("testdata", "idp-metadata.golden.xml")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run go test ./metadata -run TestIdPMetadataGolden -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("IdPMetadata output differs from %s (run with -update if the change is intended):\n%s", golden, got)
	}

	again, err := IdPMetadata(testIdPConfig(t))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, again) {
		t.Error("IdPMetadata is not deterministic")
	}
}

func TestIdPMetadataContent(t *testing.T) {
	c := testIdPConfig(t)
	out, err := IdPMetadata(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(out, []byte(`<?xml version="1.0" encoding="UTF-8"?>`+"\n")) {
		t.Errorf("output does not start with the XML declaration: %.60q", out)
	}
	if len(out) > MaxMetadataSize {
		t.Errorf("output is %d bytes", len(out))
	}
	for _, forbidden := range []string{"PRIVATE", "validUntil", "cacheDuration", " ID="} {
		if bytes.Contains(out, []byte(forbidden)) {
			t.Errorf("output contains %q", forbidden)
		}
	}
	// It passes hcidp's own strict parser.
	if _, err := parseUntrustedXML(out, "IdP metadata"); err != nil {
		t.Errorf("own parser refuses the output: %v", err)
	}

	// An independent SAML library reads it as intended.
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(out, &ed); err != nil {
		t.Fatalf("crewjam/saml cannot unmarshal the metadata: %v", err)
	}
	if ed.EntityID != c.EntityID {
		t.Errorf("entityID = %q", ed.EntityID)
	}
	if len(ed.IDPSSODescriptors) != 1 || len(ed.SPSSODescriptors) != 0 {
		t.Fatalf("%d IDPSSODescriptors, %d SPSSODescriptors; want 1, 0", len(ed.IDPSSODescriptors), len(ed.SPSSODescriptors))
	}
	idp := ed.IDPSSODescriptors[0]
	if idp.ProtocolSupportEnumeration != saml.ProtocolSupportSAML20 {
		t.Errorf("protocolSupportEnumeration = %q", idp.ProtocolSupportEnumeration)
	}
	if idp.WantAuthnRequestsSigned == nil || !*idp.WantAuthnRequestsSigned {
		t.Error("WantAuthnRequestsSigned is not true")
	}
	sso := map[string]string{}
	for _, e := range idp.SingleSignOnServices {
		sso[e.Binding] = e.Location
	}
	if len(idp.SingleSignOnServices) != 1 || sso[saml.BindingHTTPRedirect] != c.SSOURL {
		t.Errorf("SingleSignOnServices = %+v", idp.SingleSignOnServices)
	}
	if len(idp.NameIDFormats) != 1 || string(idp.NameIDFormats[0]) != saml.NameIDFormatTransient {
		t.Errorf("NameIDFormats = %v", idp.NameIDFormats)
	}
	wantKeys := []struct {
		use  string
		cert *x509.Certificate
	}{{"signing", c.SigningCerts[0]}, {"signing", c.SigningCerts[1]}, {"encryption", c.EncryptionCert}}
	if len(idp.KeyDescriptors) != len(wantKeys) {
		t.Fatalf("%d KeyDescriptors, want %d", len(idp.KeyDescriptors), len(wantKeys))
	}
	for i, w := range wantKeys {
		kd := idp.KeyDescriptors[i]
		if kd.Use != w.use {
			t.Errorf("KeyDescriptor #%d use = %q, want %q", i+1, kd.Use, w.use)
		}
		if len(kd.KeyInfo.X509Data.X509Certificates) != 1 {
			t.Fatalf("KeyDescriptor #%d has %d certificates", i+1, len(kd.KeyInfo.X509Data.X509Certificates))
		}
		der, err := base64.StdEncoding.DecodeString(kd.KeyInfo.X509Data.X509Certificates[0].Data)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(der, w.cert.Raw) {
			t.Errorf("KeyDescriptor #%d carries the wrong certificate", i+1)
		}
	}

	// Without an encryption certificate there is no use="encryption".
	c.EncryptionCert = nil
	c.SigningCerts = c.SigningCerts[:1]
	out, err = IdPMetadata(c)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte(`use="encryption"`)) || bytes.Count(out, []byte(`use="signing"`)) != 1 {
		t.Errorf("unexpected KeyDescriptors:\n%s", out)
	}
}

func TestIdPMetadataEscapes(t *testing.T) {
	c := testIdPConfig(t)
	c.SSOURL = "https://idp.partner.example/sso?a=1&b=<2>"
	out, err := IdPMetadata(c)
	if err != nil {
		t.Fatal(err)
	}
	var ed crewjam.EntityDescriptor
	if err := xml.Unmarshal(out, &ed); err != nil {
		t.Fatal(err)
	}
	if got := ed.IDPSSODescriptors[0].SingleSignOnServices[0].Location; got != c.SSOURL {
		t.Errorf("SSO location round-trips as %q", got)
	}
}

func TestIdPMetadataValidation(t *testing.T) {
	good := testIdPConfig(t)
	for _, tc := range []struct {
		name   string
		mutate func(*IdPConfig)
		want   string
	}{
		{"empty entityID", func(c *IdPConfig) { c.EntityID = "" }, "entityID"},
		{"relative entityID", func(c *IdPConfig) { c.EntityID = "idp.partner.example" }, "absolute URI"},
		{"entityID without host", func(c *IdPConfig) { c.EntityID = "https:///x" }, "no host"},
		{"entityID with space", func(c *IdPConfig) { c.EntityID = "https://idp .example" }, "spaces"},
		{"long entityID", func(c *IdPConfig) { c.EntityID = "https://x.example/" + strings.Repeat("a", 1024) }, "1024"},
		{"empty SSO URL", func(c *IdPConfig) { c.SSOURL = "" }, "SSO URL"},
		{"relative SSO URL", func(c *IdPConfig) { c.SSOURL = "/saml/sso" }, "absolute URL"},
		{"http SSO URL", func(c *IdPConfig) { c.SSOURL = "http://idp.partner.example/sso" }, "only https"},
		{"SSO URL with fragment", func(c *IdPConfig) { c.SSOURL = "https://idp.partner.example/sso#x" }, "fragment"},
		{"SSO URL with user", func(c *IdPConfig) { c.SSOURL = "https://u@idp.partner.example/sso" }, "user information"},
		{"no certificate", func(c *IdPConfig) { c.SigningCerts = nil }, "at least one signing certificate"},
		{"nil certificate", func(c *IdPConfig) { c.SigningCerts = []*x509.Certificate{nil} }, "missing"},
		{"duplicate certificate", func(c *IdPConfig) { c.SigningCerts = []*x509.Certificate{c.SigningCerts[0], c.SigningCerts[0]} }, "twice"},
		{"empty encryption certificate", func(c *IdPConfig) { c.EncryptionCert = &x509.Certificate{} }, "encryption certificate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := good
			c.SigningCerts = append([]*x509.Certificate(nil), good.SigningCerts...)
			tc.mutate(&c)
			out, err := IdPMetadata(c)
			if err == nil {
				t.Fatalf("accepted:\n%s", out)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %q", err, tc.want)
			}
		})
	}

	// Loopback http is fine for the demo, and URN entity IDs are URIs.
	c := good
	c.EntityID = "urn:example:idp"
	c.SSOURL = "http://127.0.0.1:8080/saml/sso"
	if _, err := IdPMetadata(c); err != nil {
		t.Errorf("loopback demo configuration refused: %v", err)
	}
}
