package keys

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestGenCertsScript runs scripts/gen-certs.sh and checks that its output is
// what hcidp loads: a usable key pair, private keys 0600, no CSR left behind
// and an IdP certificate that chains to the CA certificate.
func TestGenCertsScript(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl is not on PATH; install it (apt-get install openssl) to test scripts/gen-certs.sh")
	}
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH; scripts/gen-certs.sh needs it")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "gen-certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "certs")
	run := func(args ...string) (string, error) {
		cmd := exec.Command(bash, append([]string{script, "--out", out, "--bits", "2048", "--cn", "hcidp test", "--days", "30"}, args...)...)
		var buf bytes.Buffer
		cmd.Stdout = &buf
		cmd.Stderr = &buf
		err := cmd.Run()
		return buf.String(), err
	}

	if output, err := run(); err != nil {
		t.Fatalf("gen-certs.sh failed: %v\n%s", err, output)
	}

	keyPath := filepath.Join(out, "idp.key")
	certPath := filepath.Join(out, "idp.crt")
	key, cert, err := LoadKeyPair(keyPath, certPath)
	if err != nil {
		t.Fatalf("LoadKeyPair rejects the script's output: %v", err)
	}
	if key.N.BitLen() != 2048 {
		t.Errorf("key size %d, want 2048", key.N.BitLen())
	}
	if cert.Subject.CommonName != "hcidp test" {
		t.Errorf("certificate CN = %q", cert.Subject.CommonName)
	}
	if d := cert.NotAfter.Sub(cert.NotBefore); d < 29*24*time.Hour || d > 31*24*time.Hour {
		t.Errorf("certificate validity %v, want about 30 days", d)
	}
	for _, name := range []string{"idp.key", "ca.key"} {
		assertMode(t, filepath.Join(out, name), 0o600)
		open, err := KeyFileTooOpen(filepath.Join(out, name))
		if err != nil || open {
			t.Errorf("KeyFileTooOpen(%s) = %v, %v", name, open, err)
		}
	}
	assertMode(t, certPath, 0o644)

	entries, err := os.ReadDir(out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if got := strings.Join(names, " "); got != "ca.crt ca.key idp.crt idp.key" {
		t.Errorf("output directory holds %q, want exactly ca.crt ca.key idp.crt idp.key (CSR or temporary files left?)", got)
	}

	caPEM, err := os.ReadFile(filepath.Join(out, "ca.crt"))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(caPEM)
	if block == nil {
		t.Fatal("ca.crt holds no PEM block")
	}
	ca, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if !ca.IsCA {
		t.Error("ca.crt is not marked as a CA")
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{
		Roots:       pool,
		CurrentTime: cert.NotBefore.Add(time.Hour),
		KeyUsages:   []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	}); err != nil {
		t.Errorf("idp.crt does not verify against ca.crt: %v", err)
	}

	// A second run must not replace the key without --force.
	before, _ := os.ReadFile(keyPath)
	output, err := run()
	if err == nil {
		t.Fatal("second run without --force succeeded")
	}
	if !strings.Contains(output, "idp.key") || !strings.Contains(output, "--force") {
		t.Errorf("refusal does not name idp.key and --force:\n%s", output)
	}
	after, _ := os.ReadFile(keyPath)
	if !bytes.Equal(before, after) {
		t.Fatal("idp.key changed although the run was refused")
	}

	if output, err := run("--force"); err != nil {
		t.Fatalf("run with --force failed: %v\n%s", err, output)
	}
	newKey, _, err := LoadKeyPair(keyPath, certPath)
	if err != nil {
		t.Fatalf("LoadKeyPair after --force: %v", err)
	}
	if newKey.Equal(key) {
		t.Error("--force did not generate a new key")
	}
	if strings.Contains(output, "PRIVATE KEY") {
		t.Error("the script printed private key material")
	}
}

func TestGenCertsScriptRejectsBadArguments(t *testing.T) {
	bash, err := exec.LookPath("bash")
	if err != nil {
		t.Skip("bash is not on PATH")
	}
	script, err := filepath.Abs(filepath.Join("..", "scripts", "gen-certs.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"--bits", "1024"},
		{"--days", "0"},
		{"--cn", "a/CN=evil"},
		{"--bogus"},
	} {
		out := filepath.Join(t.TempDir(), "certs")
		cmd := exec.Command(bash, append([]string{script, "--out", out}, args...)...)
		output, err := cmd.CombinedOutput()
		if err == nil {
			t.Errorf("gen-certs.sh %v succeeded", args)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("gen-certs.sh %v created %s although its arguments were refused:\n%s", args, out, output)
		}
	}
}
