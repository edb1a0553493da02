package keys

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var testNow = time.Date(2026, 11, 23, 12, 0, 0, 0, time.UTC)

var (
	pairOnce sync.Once
	pairKey  *rsa.PrivateKey
	pairCert *x509.Certificate
	pairErr  error
)

// testPair returns one 2048-bit key pair shared by the tests that do not care
// which key they use (RSA key generation is slow under -race).
func testPair(t *testing.T) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	pairOnce.Do(func() {
		pairKey, pairCert, pairErr = Generate(2048, "hcidp-test", 24*time.Hour, testNow)
	})
	if pairErr != nil {
		t.Fatalf("Generate: %v", pairErr)
	}
	return pairKey, pairCert
}

func TestGenerateCertificate(t *testing.T) {
	key, cert := testPair(t)
	if got := key.N.BitLen(); got != 2048 {
		t.Errorf("key size = %d, want 2048", got)
	}
	if cert.SignatureAlgorithm != x509.SHA256WithRSA {
		t.Errorf("SignatureAlgorithm = %v, want SHA256WithRSA", cert.SignatureAlgorithm)
	}
	if cert.Subject.CommonName != "hcidp-test" {
		t.Errorf("CN = %q", cert.Subject.CommonName)
	}
	if !cert.NotBefore.Equal(testNow.Add(-5 * time.Minute)) {
		t.Errorf("NotBefore = %v, want now-5m", cert.NotBefore)
	}
	if !cert.NotAfter.Equal(testNow.Add(24 * time.Hour)) {
		t.Errorf("NotAfter = %v, want now+24h", cert.NotAfter)
	}
	if cert.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("KeyUsage = %v, want DigitalSignature only", cert.KeyUsage)
	}
	if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() > 128 {
		t.Errorf("serial %v is not a positive 128-bit number", cert.SerialNumber)
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		t.Error("certificate public key does not match the key")
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil {
		t.Errorf("certificate is not self-signed: %v", err)
	}
}

func TestGenerateRejectsBadInput(t *testing.T) {
	for _, tc := range []struct {
		name     string
		bits     int
		cn       string
		validFor time.Duration
		want     string
	}{
		{"1024 bits", 1024, "x", time.Hour, "unsupported RSA key size 1024"},
		{"odd size", 2047, "x", time.Hour, "use 2048, 3072"},
		{"empty CN", 2048, " ", time.Hour, "common name is empty"},
		{"no validity", 2048, "x", 0, "not positive"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := Generate(tc.bits, tc.cn, tc.validFor, testNow)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want it to contain %q", err, tc.want)
			}
		})
	}
}

func TestGenerateSerialsDiffer(t *testing.T) {
	a, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	b, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	if a.Cmp(b) == 0 {
		t.Fatal("two random serials are equal")
	}
}

// TestWriteFilesModes runs with a permissive umask: the key must still be
// 0600, the certificate 0644 and a new directory 0700.
func TestWriteFilesModes(t *testing.T) {
	key, cert := testPair(t)
	old := syscall.Umask(0)
	defer syscall.Umask(old)

	dir := filepath.Join(t.TempDir(), "certs", "sub")
	if err := WriteFiles(dir, key, cert, false); err != nil {
		t.Fatalf("WriteFiles: %v", err)
	}
	assertMode(t, dir, 0o700)
	assertMode(t, filepath.Join(dir, KeyFileName), 0o600)
	assertMode(t, filepath.Join(dir, CertFileName), 0o644)

	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 2 {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("directory holds %v, want only %s and %s (temporary files left behind?)", names, KeyFileName, CertFileName)
	}

	keyPEM, err := os.ReadFile(filepath.Join(dir, KeyFileName))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		t.Fatalf("key file is not a PKCS#8 PEM \"PRIVATE KEY\": %q", firstLine(keyPEM))
	}

	gotKey, gotCert, err := LoadKeyPair(filepath.Join(dir, KeyFileName), filepath.Join(dir, CertFileName))
	if err != nil {
		t.Fatalf("LoadKeyPair of written files: %v", err)
	}
	if !gotKey.Equal(key) || !gotCert.Equal(cert) {
		t.Error("LoadKeyPair returned a different key pair than was written")
	}
	open, err := KeyFileTooOpen(filepath.Join(dir, KeyFileName))
	if err != nil || open {
		t.Errorf("KeyFileTooOpen = %v, %v; want false, nil", open, err)
	}
}

func TestWriteFilesRefusesOverwrite(t *testing.T) {
	key, cert := testPair(t)
	dir := t.TempDir()
	if err := WriteFiles(dir, key, cert, false); err != nil {
		t.Fatal(err)
	}
	keyPath := filepath.Join(dir, KeyFileName)
	before, _ := os.ReadFile(keyPath)

	err := WriteFiles(dir, key, cert, false)
	if err == nil {
		t.Fatal("second WriteFiles without force succeeded")
	}
	for _, want := range []string{keyPath, "use --force"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	after, _ := os.ReadFile(keyPath)
	if string(before) != string(after) {
		t.Error("the key file changed although overwriting was refused")
	}

	// Only the certificate exists: still refused, and no key is left behind.
	dir2 := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir2, CertFileName), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	err = WriteFiles(dir2, key, cert, false)
	if err == nil || !strings.Contains(err.Error(), filepath.Join(dir2, CertFileName)) {
		t.Fatalf("err = %v, want refusal naming %s", err, CertFileName)
	}
	if _, err := os.Stat(filepath.Join(dir2, KeyFileName)); err == nil {
		t.Error("a key file was written although the certificate could not be")
	}
}

func TestWriteFilesForceReplaces(t *testing.T) {
	key, cert := testPair(t)
	dir := t.TempDir()
	keyPath := filepath.Join(dir, KeyFileName)
	// A pre-existing, too-open key file is replaced by a 0600 one.
	if err := os.WriteFile(keyPath, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, CertFileName), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := WriteFiles(dir, key, cert, true); err != nil {
		t.Fatalf("WriteFiles with force: %v", err)
	}
	assertMode(t, keyPath, 0o600)
	if _, _, err := LoadKeyPair(keyPath, filepath.Join(dir, CertFileName)); err != nil {
		t.Fatalf("LoadKeyPair after forced write: %v", err)
	}
}

func TestWriteFilesRefusesMismatch(t *testing.T) {
	key, _ := testPair(t)
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, otherCert := selfSigned(t, other)
	if err := WriteFiles(t.TempDir(), key, otherCert, false); err == nil {
		t.Fatal("WriteFiles accepted a certificate for another key")
	}
}

func TestLoadKeyPairPKCS1(t *testing.T) {
	key, cert := testPair(t)
	dir := t.TempDir()
	keyPath := writePEM(t, dir, "pkcs1.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(key))
	// The certificate file may carry a chain: the first certificate counts.
	certPath := filepath.Join(dir, "chain.crt")
	data := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})
	data = append(data, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not parsed")})...)
	if err := os.WriteFile(certPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	got, gotCert, err := LoadKeyPair(keyPath, certPath)
	if err != nil {
		t.Fatalf("LoadKeyPair(PKCS#1): %v", err)
	}
	if !got.Equal(key) || !gotCert.Equal(cert) {
		t.Error("loaded pair differs from the original")
	}
}

func TestLoadKeyPairRejects(t *testing.T) {
	key, cert := testPair(t)
	dir := t.TempDir()
	certPath := writePEM(t, dir, "idp.crt", "CERTIFICATE", cert.Raw)
	pkcs8 := func(k any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			t.Fatal(err)
		}
		return der
	}

	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	_, smallCert := selfSigned(t, small)
	smallCertPath := writePEM(t, dir, "small.crt", "CERTIFICATE", smallCert.Raw)

	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}

	for _, tc := range []struct {
		name      string
		keyFile   string
		certFile  string
		wantInErr []string
	}{
		{
			name:      "1024-bit key",
			keyFile:   writePEM(t, dir, "small.key", "RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(small)),
			certFile:  smallCertPath,
			wantInErr: []string{"small.key", "1024 bits", "at least 2048", "key_file", "idp keys generate --bits 3072 --out " + dir},
		},
		{
			name:      "certificate for another key",
			keyFile:   writePEM(t, dir, "other.key", "PRIVATE KEY", pkcs8(other)),
			certFile:  certPath,
			wantInErr: []string{"other.key", "idp.crt", "does not match", "cert_file", "key_file", "idp keys generate --out " + dir},
		},
		{
			name:      "EC key in PKCS#8",
			keyFile:   writePEM(t, dir, "ec.key", "PRIVATE KEY", pkcs8(ec)),
			certFile:  certPath,
			wantInErr: []string{"ec.key", "not an RSA key", "an ECDSA key", "key_file"},
		},
		{
			name:      "encrypted PKCS#8",
			keyFile:   writePEM(t, dir, "enc.key", "ENCRYPTED PRIVATE KEY", []byte{0x30, 0}),
			certFile:  certPath,
			wantInErr: []string{"enc.key", "encrypted"},
		},
		{
			name:      "not PEM",
			keyFile:   writeFile(t, dir, "junk.key", []byte("hello")),
			certFile:  certPath,
			wantInErr: []string{"junk.key", "no PEM", "key_file", "idp keys generate"},
		},
		{
			name:      "paths swapped",
			keyFile:   certPath,
			certFile:  writePEM(t, dir, "good.key", "PRIVATE KEY", pkcs8(key)),
			wantInErr: []string{"idp.crt", "no PEM", "key_file", "looks like a certificate", "swapped"},
		},
		{
			name:      "missing key file",
			keyFile:   filepath.Join(dir, "absent.key"),
			certFile:  certPath,
			wantInErr: []string{"absent.key", "key_file", "does not exist", "idp keys generate --out " + dir},
		},
		{
			name:      "missing certificate file",
			keyFile:   writePEM(t, dir, "good2.key", "PRIVATE KEY", pkcs8(key)),
			certFile:  filepath.Join(dir, "absent.crt"),
			wantInErr: []string{"absent.crt", "cert_file", "does not exist", "idp keys generate --out " + dir},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadKeyPair(tc.keyFile, tc.certFile)
			if err == nil {
				t.Fatal("LoadKeyPair succeeded")
			}
			for _, want := range tc.wantInErr {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(err.Error(), "*") || strings.Contains(err.Error(), "PrivateKey") {
				t.Errorf("error %q names a Go type", err)
			}
			if strings.HasPrefix(tc.name, "missing") && !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("error %q does not wrap fs.ErrNotExist", err)
			}
		})
	}
}

// TestLoadNextKeyPairNamesItsKeys: the next pair's messages name
// next_key_file and next_cert_file, never the current pair's keys.
func TestLoadNextKeyPairNamesItsKeys(t *testing.T) {
	key, cert := testPair(t)
	dir := t.TempDir()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(other)
	goodDER, _ := x509.MarshalPKCS8PrivateKey(key)
	certPath := writePEM(t, dir, "next.crt", "CERTIFICATE", cert.Raw)
	for _, tc := range []struct {
		name              string
		keyFile, certFile string
		want              []string
	}{
		{"missing key", filepath.Join(dir, "absent.key"), certPath, []string{"next_key_file " + filepath.Join(dir, "absent.key") + " does not exist", "idp keys generate --out " + dir}},
		{"missing certificate", writePEM(t, dir, "good.key", "PRIVATE KEY", goodDER), filepath.Join(dir, "absent.crt"), []string{"next_cert_file " + filepath.Join(dir, "absent.crt") + " does not exist"}},
		{"mismatch", writePEM(t, dir, "other.key", "PRIVATE KEY", der), certPath, []string{"next_cert_file", "does not match next_key_file", "set next_cert_file"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := LoadNextKeyPair(tc.keyFile, tc.certFile)
			if err == nil {
				t.Fatal("LoadNextKeyPair succeeded")
			}
			for _, want := range tc.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not mention %q", err, want)
				}
			}
			if strings.Contains(strings.ReplaceAll(strings.ReplaceAll(err.Error(), "next_key_file", ""), "next_cert_file", ""), "key_file") ||
				strings.Contains(strings.ReplaceAll(err.Error(), "next_cert_file", ""), "cert_file") {
				t.Errorf("error %q names a key of the current pair", err)
			}
		})
	}
}

func TestKeyFileTooOpen(t *testing.T) {
	dir := t.TempDir()
	for _, tc := range []struct {
		mode os.FileMode
		want bool
	}{
		{0o600, false},
		{0o400, false},
		{0o640, true},
		{0o604, true},
		{0o620, true},
	} {
		p := filepath.Join(dir, "k")
		if err := os.WriteFile(p, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, tc.mode); err != nil {
			t.Fatal(err)
		}
		got, err := KeyFileTooOpen(p)
		if err != nil || got != tc.want {
			t.Errorf("mode %04o: KeyFileTooOpen = %v, %v; want %v", tc.mode, got, err, tc.want)
		}
		os.Remove(p)
	}
	if _, err := KeyFileTooOpen(filepath.Join(dir, "missing")); err == nil {
		t.Error("KeyFileTooOpen of a missing file returned no error")
	}
}

func assertMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s: mode %04o, want %04o", path, got, want)
	}
}

func selfSigned(t *testing.T, key *rsa.PrivateKey) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	serial, err := randomSerial()
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: serial, NotBefore: testNow, NotAfter: testNow.Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert
}

func writePEM(t *testing.T, dir, name, typ string, der []byte) string {
	t.Helper()
	return writeFile(t, dir, name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
}

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func firstLine(b []byte) string {
	s, _, _ := strings.Cut(string(b), "\n")
	return s
}
