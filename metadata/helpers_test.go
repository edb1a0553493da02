package metadata

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/keys"
	"hcidp/saml"
)

// builtinNow is a date inside the validity of Huawei's certificate.
var builtinNow = time.Date(2026, 11, 23, 0, 0, 0, 0, time.UTC)

func builtinCN(t *testing.T) []byte {
	t.Helper()
	data, ok := BuiltinSPMetadata("cn")
	if !ok {
		t.Fatal("no built-in metadata for cn")
	}
	return data
}

var firstCertRE = regexp.MustCompile(`(?s)<ds:X509Certificate>(.*?)</ds:X509Certificate>`)

// huaweiCertB64 is the base64 of Huawei's certificate, taken from the
// built-in file, for building unsigned test documents.
func huaweiCertB64(t *testing.T) string {
	t.Helper()
	m := firstCertRE.FindSubmatch(builtinCN(t))
	if m == nil {
		t.Fatal("no certificate in the built-in metadata")
	}
	return strings.Join(strings.Fields(string(m[1])), "")
}

var signatureRE = regexp.MustCompile(`(?s)<ds:Signature .*?</ds:Signature>`)

// stripSignature removes the (single) ds:Signature element.
func stripSignature(t *testing.T, doc []byte) []byte {
	t.Helper()
	out := signatureRE.ReplaceAll(doc, nil)
	if len(out) == len(doc) {
		t.Fatal("document has no ds:Signature to strip")
	}
	return out
}

// replaceOnce replaces exactly one occurrence of old, failing the test when
// old is absent or ambiguous, so the mutation under test really happens.
func replaceOnce(t *testing.T, doc []byte, old, new string) []byte {
	t.Helper()
	if n := strings.Count(string(doc), old); n != 1 {
		t.Fatalf("%q occurs %d times in the document; want exactly once", old, n)
	}
	return []byte(strings.Replace(string(doc), old, new, 1))
}

func keyDescriptor(use, certB64 string) string {
	attr := ""
	if use != "" {
		attr = ` use="` + use + `"`
	}
	return `<md:KeyDescriptor` + attr + `><ds:KeyInfo><ds:X509Data><ds:X509Certificate>` + certB64 +
		`</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>`
}

func acs(binding, location, extra string) string {
	return `<md:AssertionConsumerService Binding="` + binding + `" Location="` + location + `"` + extra + `/>`
}

// spXML builds an unsigned SP metadata document with the given
// KeyDescriptors and endpoints inside its SPSSODescriptor.
func spXML(keyDescriptors string, endpoints ...string) []byte {
	return []byte(`<?xml version="1.0" encoding="UTF-8"?>
<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" xmlns:ds="http://www.w3.org/2000/09/xmldsig#" ID="_sp1" entityID="https://sp.test/">
  <md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
    ` + keyDescriptors + `
    <md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat>
    ` + strings.Join(endpoints, "\n    ") + `
  </md:SPSSODescriptor>
</md:EntityDescriptor>
`)
}

// simpleSP is a valid unsigned document using Huawei's certificate.
func simpleSP(t *testing.T, location string) []byte {
	t.Helper()
	return spXML(keyDescriptor("signing", huaweiCertB64(t)), acs(saml.BindingHTTPPost, location, ` index="0" isDefault="true"`))
}

var (
	freshOnce sync.Once
	freshKey  *rsa.PrivateKey
	freshCert *x509.Certificate
	freshErr  error
)

// freshPair is a key pair unrelated to Huawei's, made once per test binary.
func freshPair(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	freshOnce.Do(func() {
		freshKey, freshCert, freshErr = keys.Generate(2048, "mock-iam", 24*time.Hour, time.Now())
	})
	if freshErr != nil {
		t.Fatal(freshErr)
	}
	return freshKey, freshCert
}

func certB64(c *x509.Certificate) string { return base64.StdEncoding.EncodeToString(c.Raw) }

// requireXmlsec1 returns the path of xmlsec1. When it is missing the test is
// skipped on a developer machine and fails in CI (CI set), where the
// project's install step must have provided it.
func requireXmlsec1(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatal("xmlsec1 is not on PATH but CI is set: run the project's install step (apt-get install xmlsec1)")
	}
	t.Skip("xmlsec1 is not on PATH; install it (apt-get install xmlsec1) to cross-check signatures")
	return ""
}

// xmlsec1Verify verifies an enveloped metadata signature with xmlsec1 against
// cert, the way docs/profile.md documents it.
func xmlsec1Verify(t *testing.T, doc []byte, cert *x509.Certificate) (string, error) {
	t.Helper()
	bin := requireXmlsec1(t)
	dir := t.TempDir()
	docPath := filepath.Join(dir, "metadata.xml")
	certPath := filepath.Join(dir, "cert.pem")
	if err := os.WriteFile(docPath, doc, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(bin, "--verify",
		"--id-attr:ID", "urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
		"--pubkey-cert-pem", certPath, docPath).CombinedOutput()
	return string(out), err
}
