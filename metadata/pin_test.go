package metadata

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"hcidp/saml"
	"math/big"
	"slices"
	"strings"
	"testing"
	"time"
)

func huaweiCert(t *testing.T) *x509.Certificate {
	t.Helper()
	c, err := parseCertText(huaweiCertB64(t))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestKeyPinIsOfThePublicKey: a pin names the key, so a certificate renewed
// for the same key keeps its pin and another key gets another pin.
func TestKeyPinIsOfThePublicKey(t *testing.T) {
	hw := huaweiCert(t)
	sum := sha256.Sum256(hw.RawSubjectPublicKeyInfo)
	if got, want := KeyPin(hw), "sha256:"+hex.EncodeToString(sum[:]); got != want {
		t.Fatalf("KeyPin = %s, want %s", got, want)
	}
	if got := BuiltinKeyPins("cn"); !slices.Equal(got, []string{KeyPin(hw)}) {
		t.Errorf("BuiltinKeyPins(cn) = %v, want Huawei's key", got)
	}
	if got := BuiltinKeyPins("intl"); got != nil {
		t.Errorf("BuiltinKeyPins(intl) = %v, want none", got)
	}

	key, cert := freshPair(t)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(4711), Subject: cert.Subject, NotBefore: time.Now(), NotAfter: time.Now().Add(1000 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	renewed, _ := x509.ParseCertificate(der)
	if KeyPin(renewed) != KeyPin(cert) {
		t.Error("a renewed certificate of the same key has another pin")
	}
	if KeyPin(cert) == KeyPin(hw) {
		t.Error("two keys share a pin")
	}
}

func TestParseKeyPin(t *testing.T) {
	hex64 := strings.Repeat("0a", 32)
	for _, c := range []struct {
		in, want string
	}{
		{"sha256:" + hex64, "sha256:" + hex64},
		{"  SHA256:" + strings.ToUpper(hex64) + " ", "sha256:" + hex64},
		{"sha256:" + hex64[:62], ""},
		{"sha256:" + hex64 + "00", ""},
		{"sha1:" + hex64, ""},
		{hex64, ""},
		{"sha256:" + strings.Repeat("zz", 32), ""},
	} {
		got, err := ParseKeyPin(c.in)
		if got != c.want || (err == nil) != (c.want != "") {
			t.Errorf("ParseKeyPin(%q) = %q, %v; want %q", c.in, got, err, c.want)
		}
	}
}

// TestLoadSPPins: pinned metadata loads only when every signing key is
// pinned; the refusal names the site, the new key and the pinned ones.
func TestLoadSPPins(t *testing.T) {
	_, fresh := freshPair(t)
	hw := huaweiCert(t)
	rollover := spXML(keyDescriptor("signing", huaweiCertB64(t))+keyDescriptor("signing", certB64(fresh)),
		acs(saml.BindingHTTPPost, "https://sp.test/acs", ` index="0"`))
	for _, c := range []struct {
		name     string
		doc      []byte
		pins     []string
		unpinned []string
	}{
		{"built-in metadata with its key pinned", builtinCN(t), BuiltinKeyPins("cn"), nil},
		{"built-in metadata with another key pinned", builtinCN(t), []string{KeyPin(fresh)}, []string{KeyPin(hw)}},
		{"not pinned", builtinCN(t), nil, nil},
		{"rollover with one of two keys pinned", rollover, []string{KeyPin(hw)}, []string{KeyPin(fresh)}},
		{"rollover with both keys pinned", rollover, []string{KeyPin(fresh), KeyPin(hw)}, nil},
		{"encryption keys need no pin", spXML(keyDescriptor("signing", huaweiCertB64(t))+keyDescriptor("encryption", certB64(fresh)),
			acs(saml.BindingHTTPPost, "https://sp.test/acs", "")), []string{KeyPin(hw)}, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			sp, err := LoadSP("cn", c.doc, LoadOptions{Now: builtinNow, Pins: c.pins})
			if c.unpinned == nil {
				if err != nil || sp == nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var u *UnpinnedKeyError
			if !errors.Is(err, ErrKeyNotPinned) || !errors.As(err, &u) || sp != nil {
				t.Fatalf("err = %v, want ErrKeyNotPinned", err)
			}
			if u.Site != "cn" || !slices.Equal(u.Unpinned, c.unpinned) || !slices.Equal(u.Pinned, c.pins) {
				t.Errorf("error = %+v", u)
			}
			for _, want := range append([]string{`site "cn"`, "not pinned"}, append(c.unpinned, c.pins...)...) {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error lacks %q: %v", want, err)
				}
			}
		})
	}
}
