// Package xmlsectest verifies XML signatures with the xmlsec1 command line
// tool, the reference implementation, from tests. In CI (CI set) a missing
// xmlsec1 fails the test: scripts/test.sh installs it.
package xmlsectest

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// SAML ID attributes xmlsec1 must know to resolve Reference URIs.
var idAttrs = []string{
	"urn:oasis:names:tc:SAML:2.0:assertion:Assertion",
	"urn:oasis:names:tc:SAML:2.0:protocol:Response",
	"urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor",
}

// Verify runs `xmlsec1 --verify` on doc with cert's public key. xmlsec1
// checks the first ds:Signature in document order.
func Verify(t testing.TB, doc []byte, cert *x509.Certificate) {
	t.Helper()
	if out, err := Run(t, doc, cert); err != nil {
		t.Fatalf("xmlsec1 --verify failed: %v\n%s", err, out)
	}
}

// Run runs xmlsec1 and returns its output and error, for tests that expect
// a failure.
func Run(t testing.TB, doc []byte, cert *x509.Certificate) ([]byte, error) {
	t.Helper()
	bin, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("xmlsec1 is not installed; scripts/test.sh installs it (apt-get install xmlsec1)")
		}
		t.Skip("xmlsec1 is not installed: run scripts/test.sh, which installs it")
	}
	dir := t.TempDir()
	certFile := filepath.Join(dir, "cert.pem")
	docFile := filepath.Join(dir, "doc.xml")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docFile, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify"}
	for _, a := range idAttrs {
		args = append(args, "--id-attr:ID", a)
	}
	args = append(args, "--pubkey-cert-pem", certFile, docFile)
	return exec.Command(bin, args...).CombinedOutput()
}
