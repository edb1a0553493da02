package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"hcidp/keys"
)

// TestKeyRollover: with a next key pair configured the metadata lists both
// certificates; `idp keys rotate` makes the next pair current.
func TestKeyRollover(t *testing.T) {
	cfgPath := testConfig(t)
	dir := filepath.Dir(cfgPath)
	if _, _, err := idpCmd(t, "", "keys", "rotate", "--config", cfgPath); err == nil {
		t.Fatal("rotate without a next key pair succeeded")
	}
	if _, _, err := idpCmd(t, "", "keys", "generate", "--out", filepath.Join(dir, "next"), "--bits", "2048", "--cn", "hcidp next"); err != nil {
		t.Fatal(err)
	}
	cfg, _ := os.ReadFile(cfgPath)
	withNext := string(cfg) + "next_key_file: next/idp.key\nnext_cert_file: next/idp.crt\n"
	os.WriteFile(cfgPath, []byte(withNext), 0o600)

	md, _, err := idpCmd(t, "", "metadata", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md, `use="signing"`); n != 2 {
		t.Fatalf("metadata during rollover lists %d signing certificates, want 2", n)
	}
	nextCert, _ := os.ReadFile(filepath.Join(dir, "next", "idp.crt"))
	out, _, err := idpCmd(t, "", "keys", "rotate", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kill -HUP") {
		t.Errorf("rotate output: %s", out)
	}
	cur, _ := os.ReadFile(filepath.Join(dir, "certs", "idp.crt"))
	if !bytes.Equal(cur, nextCert) {
		t.Fatal("cert_file does not hold the former next certificate")
	}
	if _, _, err := keys.LoadKeyPair(filepath.Join(dir, "certs", "idp.key"), filepath.Join(dir, "certs", "idp.crt")); err != nil {
		t.Fatal(err)
	}
	old, _ := filepath.Glob(filepath.Join(dir, "certs", "idp.key.*.old"))
	if len(old) != 1 {
		t.Fatalf("old key not archived: %v", old)
	}
	// The next files are gone: the metadata lists the new current certificate only.
	md, _, err = idpCmd(t, "", "metadata", "--config", cfgPath)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md, `use="signing"`); n != 1 {
		t.Fatalf("metadata after rotation lists %d certificates", n)
	}
}
