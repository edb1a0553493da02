// Package keys creates, stores and loads the IdP's RSA signing key and its
// X.509 certificate.
//
// Huawei Cloud IAM (the SAML SP) verifies the assertions hcidp signs with the
// certificate published in the IdP metadata (docs/profile.md, "Partner Center
// set-up", step 1). The key is RSA, at least 2048 bits (3072 recommended).
// Private keys are written with mode 0600, are never printed or logged, and
// never end up in metadata.
package keys

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// File names used by WriteFiles (and by scripts/gen-certs.sh).
const (
	// KeyFileName is the PKCS#8 PEM private key, mode 0600.
	KeyFileName = "idp.key"
	// CertFileName is the PEM certificate, mode 0644.
	CertFileName = "idp.crt"
)

// MinRSABits is the smallest RSA modulus LoadKeyPair accepts.
const MinRSABits = 2048

// maxPEMFileSize caps how much LoadKeyPair reads from a key or certificate
// file. A certificate chain is a few kilobytes; anything near this size is not
// what the operator meant to point at.
const maxPEMFileSize = 1 << 20

// Generate creates an RSA key of the given size (2048, 3072 or 4096 bits) and
// a self-signed X.509 certificate for it: SHA256WithRSA, a random 128-bit
// serial number, key usage DigitalSignature, subject CN=commonName, valid from
// now-5m (to tolerate clock skew at the relying party) to now+validFor.
func Generate(bits int, commonName string, validFor time.Duration, now time.Time) (*rsa.PrivateKey, *x509.Certificate, error) {
	switch bits {
	case 2048, 3072, 4096:
	default:
		return nil, nil, fmt.Errorf("keys: unsupported RSA key size %d bits: use 2048, 3072 (recommended) or 4096", bits)
	}
	commonName = strings.TrimSpace(commonName)
	if commonName == "" {
		return nil, nil, errors.New("keys: the certificate common name is empty: pass a name such as \"hcidp\" or the IdP host name")
	}
	if validFor <= 0 {
		return nil, nil, fmt.Errorf("keys: certificate validity %s is not positive", validFor)
	}
	if now.IsZero() {
		return nil, nil, errors.New("keys: Generate needs the current time (now is zero)")
	}

	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: generating %d-bit RSA key: %w", bits, err)
	}
	serial, err := randomSerial()
	if err != nil {
		return nil, nil, err
	}
	now = now.UTC()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: commonName},
		NotBefore:             now.Add(-5 * time.Minute),
		NotAfter:              now.Add(validFor),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		SignatureAlgorithm:    x509.SHA256WithRSA,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: creating self-signed certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, fmt.Errorf("keys: parsing the new certificate: %w", err)
	}
	return key, cert, nil
}

// randomSerial returns a uniformly random, non-zero 128-bit serial number
// (RFC 5280 §4.1.2.2: positive, at most 20 octets).
func randomSerial() (*big.Int, error) {
	limit := new(big.Int).Lsh(big.NewInt(1), 128)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return nil, fmt.Errorf("keys: generating certificate serial number: %w", err)
		}
		if n.Sign() > 0 {
			return n, nil
		}
	}
}

// WriteFiles writes key to dir/idp.key (PKCS#8 PEM "PRIVATE KEY", mode 0600)
// and cert to dir/idp.crt (PEM "CERTIFICATE", mode 0644). dir is created with
// mode 0700 when missing. Each file is written to a temporary file in dir and
// then moved into place, so a reader never sees a partial file. Existing files
// are never replaced unless force is set; the refusal names the file.
func WriteFiles(dir string, key *rsa.PrivateKey, cert *x509.Certificate, force bool) error {
	if key == nil || cert == nil {
		return errors.New("keys: WriteFiles needs both a private key and a certificate")
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return errors.New("keys: the certificate does not belong to the private key; refusing to write a mismatched pair")
	}
	if dir == "" {
		return errors.New("keys: the output directory is empty")
	}

	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return fmt.Errorf("keys: encoding private key: %w", err)
	}
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	clear(pkcs8)
	defer clear(keyPEM)
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw})

	if err := ensureDir(dir); err != nil {
		return err
	}
	keyPath := filepath.Join(dir, KeyFileName)
	certPath := filepath.Join(dir, CertFileName)
	if !force {
		for _, p := range []string{keyPath, certPath} {
			if _, err := os.Lstat(p); err == nil {
				return existsError(p)
			} else if !errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("keys: checking %s: %w", p, err)
			}
		}
	}

	keyTmp, err := writeTemp(dir, KeyFileName, keyPEM, 0o600)
	if err != nil {
		return err
	}
	defer os.Remove(keyTmp) // no-op once installed by rename; cleans up otherwise
	certTmp, err := writeTemp(dir, CertFileName, certPEM, 0o644)
	if err != nil {
		return err
	}
	defer os.Remove(certTmp)

	if err := install(keyTmp, keyPath, force); err != nil {
		return err
	}
	if err := install(certTmp, certPath, force); err != nil {
		if !force {
			// The key was created by this call: do not leave a key
			// without its certificate behind.
			os.Remove(keyPath)
		}
		return err
	}
	return syncDir(dir)
}

func existsError(path string) error {
	return fmt.Errorf("keys: %s already exists; refusing to overwrite it (use --force to replace it)", path)
}

// ensureDir creates dir with mode 0700 if it does not exist. The mode of an
// existing directory is left alone.
func ensureDir(dir string) error {
	fi, err := os.Stat(dir)
	switch {
	case err == nil:
		if !fi.IsDir() {
			return fmt.Errorf("keys: %s exists and is not a directory", dir)
		}
		return nil
	case !errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("keys: checking output directory %s: %w", dir, err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("keys: creating output directory %s: %w", dir, err)
	}
	// MkdirAll is subject to the umask; make the final directory exactly 0700.
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("keys: setting mode 0700 on %s: %w", dir, err)
	}
	return nil
}

// writeTemp writes data to a new temporary file in dir, sets its mode with
// fchmod (so a permissive umask cannot widen it), syncs and closes it, and
// returns its path.
func writeTemp(dir, name string, data []byte, mode os.FileMode) (path string, err error) {
	// os.CreateTemp creates the file with mode 0600 before anything is written.
	f, err := os.CreateTemp(dir, "."+name+".tmp-*")
	if err != nil {
		return "", fmt.Errorf("keys: creating temporary file for %s in %s: %w", name, dir, err)
	}
	path = f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(path)
		}
	}()
	if err := f.Chmod(mode); err != nil {
		return "", fmt.Errorf("keys: setting mode %04o on %s: %w", mode, path, err)
	}
	if _, err := f.Write(data); err != nil {
		return "", fmt.Errorf("keys: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return "", fmt.Errorf("keys: syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("keys: closing %s: %w", path, err)
	}
	return path, nil
}

// install moves tmp to dst. Without force it uses link(2), which fails if dst
// appeared since the pre-check, so an existing file is never replaced; file
// systems without hard links fall back to check-then-rename.
func install(tmp, dst string, force bool) error {
	if !force {
		err := os.Link(tmp, dst)
		if err == nil {
			return os.Remove(tmp)
		}
		if errors.Is(err, fs.ErrExist) {
			return existsError(dst)
		}
		if _, serr := os.Lstat(dst); serr == nil {
			return existsError(dst)
		}
	}
	if err := os.Rename(tmp, dst); err != nil {
		return fmt.Errorf("keys: moving new file into place as %s: %w", dst, err)
	}
	return nil
}

// syncDir makes the renames durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("keys: opening %s to sync it: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("keys: syncing directory %s: %w", dir, err)
	}
	return nil
}

// Pair names the two files of a key pair and the configuration keys that
// hold them, so that every message about a file names the key an operator
// edits and how to fix it.
type Pair struct {
	KeyFile, CertFile string
	// KeyName and CertName are the configuration keys (CurrentNames or
	// NextNames); empty means the current pair's.
	KeyName, CertName string
}

// The configuration keys of the current and of the next signing key pair.
const (
	KeyFileKey      = "key_file"
	CertFileKey     = "cert_file"
	NextKeyFileKey  = "next_key_file"
	NextCertFileKey = "next_cert_file"
)

// Current is the signing pair of the files keyFile and certFile, named
// key_file and cert_file in messages.
func Current(keyFile, certFile string) Pair {
	return Pair{KeyFile: keyFile, CertFile: certFile, KeyName: KeyFileKey, CertName: CertFileKey}
}

// Next is the next signing pair of a key rollover, named next_key_file and
// next_cert_file in messages.
func Next(keyFile, certFile string) Pair {
	return Pair{KeyFile: keyFile, CertFile: certFile, KeyName: NextKeyFileKey, CertName: NextCertFileKey}
}

func (p Pair) names() (key, cert string) {
	key, cert = p.KeyName, p.CertName
	if key == "" {
		key = KeyFileKey
	}
	if cert == "" {
		cert = CertFileKey
	}
	return key, cert
}

// generateHint is the command that makes a new pair in the directory of
// keyFile.
func generateHint(keyFile string) string {
	return fmt.Sprintf("`idp keys generate --out %s`", filepath.Dir(keyFile))
}

// LoadKeyPair reads an RSA private key (PEM, PKCS#1 "RSA PRIVATE KEY" or
// PKCS#8 "PRIVATE KEY") and a PEM certificate file (the first CERTIFICATE
// block is the IdP's certificate; any further blocks, such as a CA, are
// ignored). It refuses encrypted keys, non-RSA keys, keys smaller than 2048
// bits and a certificate whose public key is not the private key's. Errors
// name the configuration key (key_file, cert_file), the file and the fix; a
// missing file wraps fs.ErrNotExist.
//
// LoadKeyPair does not look at the key file's permissions; call
// KeyFileTooOpen to warn about a group- or world-accessible key.
func LoadKeyPair(keyFile, certFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	return Current(keyFile, certFile).Load()
}

// LoadNextKeyPair is LoadKeyPair for the next pair of a key rollover: its
// messages name next_key_file and next_cert_file.
func LoadNextKeyPair(keyFile, certFile string) (*rsa.PrivateKey, *x509.Certificate, error) {
	return Next(keyFile, certFile).Load()
}

// Load reads and checks the pair as LoadKeyPair does.
func (p Pair) Load() (*rsa.PrivateKey, *x509.Certificate, error) {
	keyName, certName := p.names()
	keyData, err := readLimited(keyName, p.KeyFile, p.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	defer clear(keyData)
	key, err := parsePrivateKey(keyData, filepath.Dir(p.KeyFile))
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w", keyName, p.KeyFile, err)
	}

	certData, err := readLimited(certName, p.CertFile, p.KeyFile)
	if err != nil {
		return nil, nil, err
	}
	cert, err := parseCertificate(certData)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %s: %w; %s must be the PEM certificate of %s (the idp.crt that %s wrote with it)",
			certName, p.CertFile, err, certName, keyName, generateHint(p.KeyFile))
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("%s %s: the certificate's public key is %s, not RSA; create an RSA pair with %s",
			certName, p.CertFile, cert.PublicKeyAlgorithm, generateHint(p.KeyFile))
	}
	if !key.PublicKey.Equal(pub) {
		return nil, nil, fmt.Errorf("%s %s does not match %s %s: the certificate was issued for a different key; "+
			"set %s to the certificate generated with this key, or create a new pair with %s",
			certName, p.CertFile, keyName, p.KeyFile, certName, generateHint(p.KeyFile))
	}
	return key, cert, nil
}

// fileError is a message that says all an operator needs, wrapping the
// system's error (errors.Is(err, fs.ErrNotExist) holds) without repeating it.
type fileError struct {
	msg string
	err error
}

func (e *fileError) Error() string { return e.msg }
func (e *fileError) Unwrap() error { return e.err }

// readLimited reads the file of the configuration key name; hintFor is
// the key file whose directory the fix suggests.
func readLimited(name, path, hintFor string) ([]byte, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, &fileError{fmt.Sprintf("%s %s does not exist: create a key pair with %s (it writes idp.key and idp.crt), or set %s to the right file",
			name, path, generateHint(hintFor), name), err}
	case errors.Is(err, fs.ErrPermission):
		return nil, &fileError{fmt.Sprintf("%s %s cannot be read by this user: run idp as the user that owns it (the key stays mode 0600)",
			name, path), err}
	case err != nil:
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("%s %s is a directory: set %s to the PEM file in it (idp.key or idp.crt)", name, path, name)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxPEMFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading %s: %w", name, path, err)
	}
	if len(data) > maxPEMFileSize {
		return nil, fmt.Errorf("%s %s is larger than %d bytes; it is not a PEM key or certificate", name, path, maxPEMFileSize)
	}
	return data, nil
}

// parsePrivateKey reads the first private key of data; dir is where the
// fix suggests writing a new pair.
func parsePrivateKey(data []byte, dir string) (*rsa.PrivateKey, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if bytes.Contains(data, []byte("CERTIFICATE")) {
				return nil, errors.New("no PEM \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" block found: this looks like a certificate; check that the key and certificate paths are not swapped")
			}
			return nil, errors.New("no PEM \"PRIVATE KEY\" or \"RSA PRIVATE KEY\" block found: it must be the PEM private key (the idp.key that `idp keys generate` writes)")
		}
		var (
			parsed any
			err    error
		)
		switch block.Type {
		case "RSA PRIVATE KEY":
			if _, enc := block.Headers["Proc-Type"]; enc {
				return nil, errors.New("the private key is encrypted; decrypt it first (openssl rsa -in KEY -out KEY.plain) and protect the file with mode 0600")
			}
			parsed, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		case "PRIVATE KEY":
			parsed, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "ENCRYPTED PRIVATE KEY":
			return nil, errors.New("the private key is encrypted; decrypt it first (openssl pkey -in KEY -out KEY.plain) and protect the file with mode 0600")
		case "EC PRIVATE KEY", "OPENSSH PRIVATE KEY", "DSA PRIVATE KEY":
			return nil, fmt.Errorf("found a %q block: hcidp needs an RSA key (SAML signatures use rsa-sha256); create one with `idp keys generate --out %s`", block.Type, dir)
		default:
			continue // e.g. a certificate in the same file
		}
		clear(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", block.Type, err)
		}
		key, ok := parsed.(*rsa.PrivateKey)
		if !ok {
			return nil, fmt.Errorf("the private key is %s, not an RSA key: hcidp needs an RSA key (SAML signatures use rsa-sha256); create one with `idp keys generate --out %s`", keyKind(parsed), dir)
		}
		if bits := key.N.BitLen(); bits < MinRSABits {
			return nil, fmt.Errorf("the RSA key has %d bits; at least %d are required (3072 recommended): create a new pair with `idp keys generate --bits 3072 --out %s` and roll over to it (next_key_file, then `idp keys rotate`)", bits, MinRSABits, dir)
		}
		if err := key.Validate(); err != nil {
			return nil, fmt.Errorf("invalid RSA key: %w", err)
		}
		return key, nil
	}
}

// keyKind names a parsed private key's algorithm for a message.
func keyKind(k any) string {
	switch k.(type) {
	case *ecdsa.PrivateKey:
		return "an ECDSA key"
	case ed25519.PrivateKey:
		return "an Ed25519 key"
	case *ecdh.PrivateKey:
		return "an X25519 key"
	}
	return "of another algorithm"
}

func parseCertificate(data []byte) (*x509.Certificate, error) {
	rest := data
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			if bytes.Contains(data, []byte("PRIVATE KEY")) {
				return nil, errors.New("no PEM CERTIFICATE block found (this looks like a private key file; check the key and certificate paths are not swapped)")
			}
			return nil, errors.New("no PEM CERTIFICATE block found")
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parsing certificate: %w", err)
		}
		return cert, nil
	}
}

// KeyFileTooOpen reports whether the private key file at path grants any
// permission to its group or to others (mode & 0077 != 0). A key should be
// 0600 (or 0400); the server warns, rather than refuses, when it is not.
func KeyFileTooOpen(path string) (bool, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return false, fmt.Errorf("keys: %w", err)
	}
	return fi.Mode().Perm()&0o077 != 0, nil
}
