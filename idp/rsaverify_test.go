package idp

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"math/big"
	"testing"
)

// TestVerifyPKCS1v15 cross-checks the math/big verifier with crypto/rsa.
func TestVerifyPKCS1v15(t *testing.T) {
	for _, bits := range []int{2048, 4096} {
		key, err := rsa.GenerateKey(rand.Reader, bits)
		if err != nil {
			t.Fatal(err)
		}
		other, _ := rsa.GenerateKey(rand.Reader, bits)
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512, crypto.SHA1} {
			hh := h.New()
			hh.Write([]byte("SAMLRequest=x&SigAlg=y"))
			digest := hh.Sum(nil)
			sig, err := rsa.SignPKCS1v15(nil, key, h, digest)
			if err != nil {
				t.Fatal(err)
			}
			if err := verifyPKCS1v15(&key.PublicKey, h, digest, sig); err != nil {
				t.Fatalf("%d %v: valid signature refused: %v", bits, h, err)
			}
			bad := map[string]func() (crypto.Hash, []byte, []byte, *rsa.PublicKey){
				"flipped bit": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					s := append([]byte(nil), sig...)
					s[len(s)/2] ^= 1
					return h, digest, s, &key.PublicKey
				},
				"other digest": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					d := append([]byte(nil), digest...)
					d[0] ^= 0x80
					return h, d, sig, &key.PublicKey
				},
				"other key": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) { return h, digest, sig, &other.PublicKey },
				"short":     func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) { return h, digest, sig[1:], &key.PublicKey },
				"long": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					return h, digest, append([]byte{0}, sig...), &key.PublicKey
				},
				"s = n": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					return h, digest, key.N.FillBytes(make([]byte, len(sig))), &key.PublicKey
				},
				"zero": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					return h, digest, make([]byte, len(sig)), &key.PublicKey
				},
				"one": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					return h, digest, big.NewInt(1).FillBytes(make([]byte, len(sig))), &key.PublicKey
				},
				"hash mismatch": func() (crypto.Hash, []byte, []byte, *rsa.PublicKey) {
					other := crypto.SHA512
					if h == crypto.SHA512 {
						other = crypto.SHA384
					}
					return other, digest, sig, &key.PublicKey
				},
			}
			for name, mk := range bad {
				hh, d, s, pub := mk()
				ours := verifyPKCS1v15(pub, hh, d, s) == nil
				theirs := rsa.VerifyPKCS1v15(pub, hh, d, s) == nil
				if ours || theirs {
					t.Errorf("%d %v %s: accepted (ours %v, crypto/rsa %v)", bits, h, name, ours, theirs)
				}
			}
		}
	}
}

func BenchmarkVerifyPKCS1v15Ours4096(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 4096)
	d := sha256.Sum256([]byte("x"))
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	for b.Loop() {
		if verifyPKCS1v15(&key.PublicKey, crypto.SHA256, d[:], sig) != nil {
			b.Fatal("refused")
		}
	}
}

func BenchmarkVerifyPKCS1v15Std4096(b *testing.B) {
	key, _ := rsa.GenerateKey(rand.Reader, 4096)
	d := sha256.Sum256([]byte("x"))
	sig, _ := rsa.SignPKCS1v15(nil, key, crypto.SHA256, d[:])
	for b.Loop() {
		if rsa.VerifyPKCS1v15(&key.PublicKey, crypto.SHA256, d[:], sig) != nil {
			b.Fatal("refused")
		}
	}
}
