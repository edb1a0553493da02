package main

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"hcidp/keys"
)

// rawResult is what `loadtest raw-rsa` prints (one JSON line).
type rawResult struct {
	Bits       int     `json:"bits"`
	Signatures int     `json:"signatures"`
	Seconds    float64 `json:"seconds"`
	Rate       float64 `json:"rate"`
	Boring     bool    `json:"boring"`
	GoVersion  string  `json:"go"`
	GOMAXPROCS int     `json:"gomaxprocs"`
}

// cmdRawRSA signs a SHA-256 digest with rsa.SignPKCS1v15 in a loop on one
// goroutine (run it under taskset) and prints the rate.
func cmdRawRSA(args []string) error {
	fs := flag.NewFlagSet("raw-rsa", flag.ContinueOnError)
	bits := fs.Int("bits", 2048, "RSA key size (ignored with --key)")
	keyFile := fs.String("key", "", "PEM private key to use (default: a fresh key)")
	certFile := fs.String("cert", "", "certificate of --key")
	d := fs.Duration("duration", 3*time.Second, "how long to sign")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var key *rsa.PrivateKey
	if *keyFile != "" {
		k, _, err := keys.LoadKeyPair(*keyFile, *certFile)
		if err != nil {
			return err
		}
		key = k
	} else {
		k, err := rsa.GenerateKey(rand.Reader, *bits)
		if err != nil {
			return err
		}
		key = k
	}
	key.Precompute()
	digest := sha256.Sum256([]byte("hcidp raw RSA"))
	// Warm up, then count whole signatures until the deadline.
	for i := 0; i < 20; i++ {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			return err
		}
	}
	n, start := 0, time.Now()
	deadline := start.Add(*d)
	for time.Now().Before(deadline) && n < 10_000_000 {
		if _, err := rsa.SignPKCS1v15(rand.Reader, key, crypto.SHA256, digest[:]); err != nil {
			return err
		}
		n++
	}
	el := time.Since(start).Seconds()
	return json.NewEncoder(os.Stdout).Encode(rawResult{Bits: key.N.BitLen(), Signatures: n, Seconds: el,
		Rate: float64(n) / el, Boring: boringEnabled(), GoVersion: runtime.Version(), GOMAXPROCS: runtime.GOMAXPROCS(0)})
}

// rawRSA runs `BIN raw-rsa` pinned to core 0, with the key in keyFile or
// else a fresh key of bits, and decodes its result.
func rawRSA(bin, keyFile, certFile string, bits int, d time.Duration) (rawResult, error) {
	args := []string{"raw-rsa", "--duration", d.String()}
	if keyFile != "" {
		args = append(args, "--key", keyFile, "--cert", certFile)
	} else {
		args = append(args, "--bits", strconv.Itoa(bits))
	}
	cmd := pinned(0, bin, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return rawResult{}, fmt.Errorf("%s raw-rsa: %v\n%s", bin, err, stderr.String())
	}
	var r rawResult
	if err := json.Unmarshal(out, &r); err != nil {
		return rawResult{}, fmt.Errorf("%s raw-rsa: %v: %q", bin, err, out)
	}
	return r, nil
}
