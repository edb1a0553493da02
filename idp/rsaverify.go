package idp

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"errors"
	"math/big"
)

// verifyPKCS1v15 checks an RSASSA-PKCS1-v1_5 signature (RFC 8017 §8.2.2)
// over digest with math/big.
//
// Why by hand: crypto/rsa.VerifyPKCS1v15 rebuilds the modulus' Montgomery
// parameters on every call; at 4096 bits (Huawei's SP key) that makes each
// AuthnRequest verification cost about a third of our own RSA-2048
// signature (BENCHMARKS.md). Verification handles only public values, so it
// needs no constant-time arithmetic, and the encoding check below compares
// the whole encoded message with the one expected, byte for byte, as the RFC
// prescribes (no parsing of the decrypted block). TestVerifyPKCS1v15
// cross-checks it against crypto/rsa on valid, tampered and malformed input.
func verifyPKCS1v15(pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte) error {
	prefix, ok := digestInfoPrefix[h]
	if !ok || len(digest) != h.Size() || pub.E < 3 || pub.N.Sign() <= 0 {
		return errVerification
	}
	k := (pub.N.BitLen() + 7) / 8
	tLen := len(prefix) + len(digest)
	if len(sig) != k || k < tLen+11 {
		return errVerification
	}
	s := new(big.Int).SetBytes(sig)
	if s.Cmp(pub.N) >= 0 {
		return errVerification
	}
	m := new(big.Int).Exp(s, big.NewInt(int64(pub.E)), pub.N)
	em := m.FillBytes(make([]byte, k))
	// EM = 0x00 || 0x01 || PS (0xff, at least 8) || 0x00 || DigestInfo || digest
	want := make([]byte, k)
	want[1] = 0x01
	for i := 2; i < k-tLen-1; i++ {
		want[i] = 0xff
	}
	copy(want[k-tLen:], prefix)
	copy(want[k-len(digest):], digest)
	if !bytes.Equal(em, want) {
		return errVerification
	}
	return nil
}

var errVerification = errors.New("rsa: verification error")

// digestInfoPrefix is the DER encoding of DigestInfo up to the digest (RFC 8017 §9.2, note 1).
var digestInfoPrefix = map[crypto.Hash][]byte{
	crypto.SHA1:   {0x30, 0x21, 0x30, 0x09, 0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a, 0x05, 0x00, 0x04, 0x14},
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}
