package metadata

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"hcidp/huawei"
	"slices"
	"strings"
	"sync"
)

// Signing-key pins (docs/threat-model.md "SP metadata loading"). Huawei
// self-signs its SP metadata with the SP key listed inside it, so a valid
// signature proves only that the file is intact, not who made it: anyone can
// sign metadata with a key of their own. Pinning the key per site makes the
// signature prove origin too: metadata whose signing keys are not all pinned
// is refused until the operator accepts the new key explicitly.
//
// A pin is the SHA-256 of the certificate's DER SubjectPublicKeyInfo (the
// public key, as RFC 7469 pins it), not of the whole certificate: Huawei may
// renew its certificate (new validity, serial or issuer signature) keeping
// the key, and that must not look like a key change.

// KeyPinPrefix starts every pin: "sha256:" and 64 lowercase hex digits.
const KeyPinPrefix = "sha256:"

// ErrKeyNotPinned is matched (errors.Is) by an *UnpinnedKeyError.
var ErrKeyNotPinned = errors.New("signing key not pinned")

// UnpinnedKeyError says that metadata has signing keys outside the site's pins.
type UnpinnedKeyError struct {
	Site string
	// Unpinned are the pins of the metadata's signing keys that are not
	// pinned, in document order; Pinned the site's pins.
	Unpinned, Pinned []string
}

func (e *UnpinnedKeyError) Error() string {
	return fmt.Sprintf("its signing key %s is not pinned for site %s (pinned: %s): the site's key changed, or the file is not Huawei's",
		strings.Join(e.Unpinned, ", "), e.Site, strings.Join(e.Pinned, ", "))
}

// Is makes errors.Is(err, ErrKeyNotPinned) true.
func (e *UnpinnedKeyError) Is(target error) bool { return target == ErrKeyNotPinned }

// KeyPin returns the pin of c's public key: "sha256:" and the lowercase hex
// SHA-256 of its DER SubjectPublicKeyInfo.
func KeyPin(c *x509.Certificate) string {
	sum := sha256.Sum256(c.RawSubjectPublicKeyInfo)
	return KeyPinPrefix + hex.EncodeToString(sum[:])
}

// ParseKeyPin checks a pin written by an operator and returns it in
// canonical form (hex in lower case, surrounding spaces removed).
func ParseKeyPin(s string) (string, error) {
	p := strings.ToLower(strings.TrimSpace(s))
	hexPart, ok := strings.CutPrefix(p, KeyPinPrefix)
	if !ok || len(hexPart) != 2*sha256.Size {
		return "", fmt.Errorf("%q is not a key pin: write %q and the 64 hex digits of the SHA-256 of the key (`idp sp show` prints them)", s, KeyPinPrefix)
	}
	if _, err := hex.DecodeString(hexPart); err != nil {
		return "", fmt.Errorf("%q is not a key pin: after %q come 64 hex digits (0-9, a-f)", s, KeyPinPrefix)
	}
	return p, nil
}

// checkPins refuses signing certificates whose key is not among pins. No
// pins means the site is not pinned: everything passes.
func checkPins(site string, certs []*x509.Certificate, pins []string) error {
	if len(pins) == 0 {
		return nil
	}
	var unpinned []string
	for _, c := range certs {
		if p := KeyPin(c); !slices.Contains(pins, p) && !slices.Contains(unpinned, p) {
			unpinned = append(unpinned, p)
		}
	}
	if len(unpinned) > 0 {
		return &UnpinnedKeyError{Site: site, Unpinned: unpinned, Pinned: slices.Clone(pins)}
	}
	return nil
}

// builtinPins are the pins of the built-in metadata's signing keys, by site.
var builtinPins = sync.OnceValue(func() map[string][]string {
	pins := map[string][]string{}
	for _, s := range huawei.Sites() {
		data, ok := BuiltinSPMetadata(s.Name)
		if !ok {
			continue
		}
		doc, err := parseUntrustedXML(data, "the built-in metadata")
		if err != nil {
			panic("metadata: built-in metadata: " + err.Error())
		}
		role, err := rolesOf(doc.Root())
		if err != nil {
			panic("metadata: built-in metadata: " + err.Error())
		}
		kd, err := readKeyDescriptors(role)
		if err != nil || len(kd.signing) == 0 {
			panic(fmt.Sprintf("metadata: built-in metadata has no signing key (%v)", err))
		}
		for _, c := range kd.signing {
			pins[s.Name] = append(pins[s.Name], KeyPin(c))
		}
	}
	return pins
})

// BuiltinKeyPins returns the pins of the signing keys of the metadata built
// into hcidp for site (Huawei's China-site key for "cn"), or nil when the
// site has no built-in copy. They are the site's pins when the operator
// configures none.
func BuiltinKeyPins(site string) []string {
	return slices.Clone(builtinPins()[site])
}
