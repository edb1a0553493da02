package metadata

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hcidp/huawei"
	"hcidp/saml"
	"math"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// SP is what hcidp uses from one Huawei IAM site's SP metadata
// (saml-metadata-2.0-os §2.4.4, SPSSODescriptor). Every field comes from the
// part of the document the signature covers when the document is signed.
type SP struct {
	// Site is the site name passed to LoadSP ("cn", "intl", "eu", ...).
	Site string
	// EntityID is the SP's entityID (saml-metadata-2.0-os §2.3.2): the
	// expected Issuer of its AuthnRequests and the Audience of assertions.
	EntityID string
	// ACS lists the AssertionConsumerService endpoints with the HTTP-POST
	// binding, in document order. Endpoints with other bindings are checked
	// but not listed: hcidp only answers with HTTP-POST.
	ACS []Endpoint
	// DefaultACS is where a Response goes when the AuthnRequest names no ACS.
	DefaultACS Endpoint
	// SigningCerts are the certificates of KeyDescriptors with use="signing"
	// or no use attribute (saml-metadata-2.0-os §2.4.1.1), in document
	// order, without duplicates. They verify AuthnRequest and bind-callback
	// signatures. An encryption-only key is never among them.
	SigningCerts []*x509.Certificate
	// EncryptionCerts are the certificates of KeyDescriptors with
	// use="encryption" or no use attribute. hcidp never encrypts
	// (docs/threat-model.md); they are kept for display only.
	EncryptionCerts []*x509.Certificate
	// AuthnRequestsSigned and WantAssertionsSigned are the SPSSODescriptor
	// attributes of the same names.
	AuthnRequestsSigned, WantAssertionsSigned bool
	// Signed reports that the document carried an enveloped signature over
	// its EntityDescriptor and that it verified.
	Signed bool
	// NotAfter is the earliest expiry among SigningCerts.
	NotAfter time.Time
}

// Endpoint is an indexed endpoint (saml-metadata-2.0-os §2.2.3).
type Endpoint struct {
	Binding  string
	Location string
	// Index is the endpoint's index attribute, or -1 when it has none.
	Index int
	// IsDefault is true when the element says isDefault="true".
	IsDefault bool
}

// LoadOptions tune LoadSP. The zero value is the production default for
// Huawei's metadata: signatures verified when present, expired certificates
// refused, SHA-1 reference digests accepted (Huawei's own file uses one).
type LoadOptions struct {
	// RequireSignature refuses unsigned metadata.
	RequireSignature bool
	// AllowExpired accepts metadata whose earliest signing certificate (or
	// validUntil) has passed. Meant as a temporary override while Huawei
	// publishes a new certificate.
	AllowExpired bool
	// Now is the time certificates are checked against; zero means
	// time.Now().
	Now time.Time
	// DisallowSHA1Digest refuses signatures whose Reference uses a SHA-1
	// DigestMethod. The SignatureMethod itself must always be rsa-sha256 or
	// stronger; rsa-sha1 is refused regardless.
	DisallowSHA1Digest bool
	// Pins, when not empty, are the site's signing-key pins (KeyPin, in
	// canonical form): every signing key of the metadata must be one of
	// them, else LoadSP fails with an *UnpinnedKeyError. Metadata listing
	// several signing keys (a rollover) needs all of them pinned.
	Pins []string
}

// Limits for SP metadata content.
const (
	maxEntityIDLen   = 1024 // saml-core-2.0-os §8.3.6
	maxLocationLen   = 2048
	maxSigningCerts  = 16
	maxEndpointIndex = math.MaxUint16 // index is xs:unsignedShort
)

// allowedSignatureMethods are the SignatureMethod algorithms accepted on
// metadata signatures.
var allowedSignatureMethods = map[string]bool{
	saml.AlgRSASHA256: true,
	saml.AlgRSASHA384: true,
	saml.AlgRSASHA512: true,
}

// allowedDigestMethods are the Reference DigestMethod algorithms accepted on
// metadata signatures; SHA-1 is handled separately.
var allowedDigestMethods = map[string]bool{
	saml.AlgDigestSHA256: true,
	saml.AlgDigestSHA384: true,
	saml.AlgDigestSHA512: true,
}

// LoadSP parses and checks the SP metadata of one Huawei IAM site, following
// docs/threat-model.md ("SP metadata loading"):
//
//  1. at most MaxMetadataSize bytes; a token pre-scan refuses DTDs,
//     entities, processing instructions other than the XML declaration,
//     XInclude, excessive depth or element count and duplicate attributes,
//     and what encoding/xml would not read back unchanged (xmlguard);
//  2. the root is exactly one md:EntityDescriptor (an EntitiesDescriptor
//     aggregate is refused) holding exactly one md:SPSSODescriptor;
//  3. a ds:Signature child of the root must verify (xmldsig-core, enveloped,
//     signature method rsa-sha256 or stronger) against a signing certificate
//     from the document's own KeyDescriptors; the metadata is self-signed by
//     the SP key. Everything after that is read from the element the
//     verifier returns, never from the original tree. Unsigned metadata is
//     refused when opts.RequireSignature is set;
//  4. at least one HTTP-POST AssertionConsumerService; every ACS Location an
//     absolute https URL (http only for loopback hosts), without user
//     information or fragment; a non-empty entityID; at least one signing
//     certificate (RSA, 2048 bits or more);
//  5. with opts.Pins, every signing key is pinned;
//  6. the earliest signing certificate (and validUntil, when present) must
//     not have passed at opts.Now unless opts.AllowExpired.
//
// site only labels the result and the error messages.
func LoadSP(site string, data []byte, opts LoadOptions) (*SP, error) {
	if site == "" {
		return nil, errors.New("metadata: LoadSP needs a site name (for example \"cn\")")
	}
	l := &spLoader{site: site, opts: opts, now: opts.Now}
	if l.now.IsZero() {
		l.now = time.Now()
	}
	sp, err := l.load(bytes.TrimPrefix(data, utf8BOM))
	if err != nil {
		return nil, fmt.Errorf("metadata: SP metadata for site %q: %w", site, err)
	}
	return sp, nil
}

type spLoader struct {
	site string
	opts LoadOptions
	now  time.Time
}

func (l *spLoader) load(data []byte) (*SP, error) {
	doc, err := parseUntrustedXML(data, "the document")
	if err != nil {
		return nil, err
	}
	root := doc.Root()
	if err := checkRoot(root); err != nil {
		return nil, err
	}

	// Where are the signatures? Only one, enveloped, directly under the root
	// is supported; any other is refused rather than silently ignored.
	sigs := childElems(root, saml.NamespaceXMLDSig, "Signature")
	if len(sigs) > 1 {
		return nil, fmt.Errorf("the EntityDescriptor has %d ds:Signature elements; expected at most one", len(sigs))
	}
	if n := countDescendants(root, saml.NamespaceXMLDSig, "Signature") - len(sigs); n > 0 {
		return nil, fmt.Errorf("it has %d ds:Signature element(s) below the EntityDescriptor's children; only a signature of the whole EntityDescriptor is supported (download the metadata again from Huawei)", n)
	}

	signed := len(sigs) == 1
	trusted := root
	if signed {
		trusted, err = l.verify(root, sigs[0])
		if err != nil {
			return nil, err
		}
		// The verifier returns the element it digested, rebuilt from the
		// canonical bytes; re-check its shape before reading it.
		if err := checkRoot(trusted); err != nil {
			return nil, fmt.Errorf("the signed content: %w", err)
		}
	} else if l.opts.RequireSignature {
		return nil, errors.New("it is not signed, but a signature is required: download the signed metadata (the site's metadata URL without ?unsigned=true), or turn off the signature requirement")
	}

	sp, err := l.extract(trusted)
	if err != nil {
		return nil, err
	}
	sp.Signed = signed
	return sp, nil
}

// checkRoot checks that root is one md:EntityDescriptor.
func checkRoot(root *etree.Element) error {
	switch {
	case isElem(root, saml.NamespaceMetadata, "EntityDescriptor"):
		return nil
	case isElem(root, saml.NamespaceMetadata, "EntitiesDescriptor"):
		n := len(childElems(root, saml.NamespaceMetadata, "EntityDescriptor"))
		return fmt.Errorf("the root is an md:EntitiesDescriptor (a federation aggregate with %d entities); hcidp needs the single md:EntityDescriptor of the Huawei IAM site: download that site's own metadata", n)
	default:
		return fmt.Errorf("the root element is {%s}%s, not {%s}EntityDescriptor: this is not SAML 2.0 metadata", root.NamespaceURI(), root.Tag, saml.NamespaceMetadata)
	}
}

// verify checks the enveloped signature sig of root and returns the verified
// element. The candidate keys are the signing certificates of root's own
// KeyDescriptors (Huawei self-signs its metadata with the SP key).
func (l *spLoader) verify(root, sig *etree.Element) (*etree.Element, error) {
	if err := l.checkSignatureAlgorithms(sig); err != nil {
		return nil, err
	}
	sp, err := rolesOf(root)
	if err != nil {
		return nil, err
	}
	keys, err := readKeyDescriptors(sp)
	if err != nil {
		return nil, err
	}
	if len(keys.signing) == 0 {
		return nil, errors.New("it is signed, but its SPSSODescriptor has no signing certificate (KeyDescriptor use=\"signing\" or without use) to verify the signature with")
	}

	var lastErr error
	for _, cert := range keys.signing {
		ctx := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		// goxmldsig also checks the certificate's validity period. Check the
		// signature itself at a time inside it; expiry is reported by
		// extract with a clear message and the AllowExpired override.
		ctx.Clock = dsig.NewFakeClockAt(clampTime(l.now, cert.NotBefore, cert.NotAfter))
		verified, err := ctx.Validate(root)
		if err != nil {
			lastErr = err
			continue
		}
		if l.now.Before(cert.NotBefore) {
			return nil, fmt.Errorf("the signing certificate (%s) is not valid before %s; check this machine's clock", certName(cert), cert.NotBefore.UTC().Format(time.RFC3339))
		}
		return verified, nil
	}
	return nil, fmt.Errorf("its signature does not verify with the signing certificate(s) in its KeyDescriptors (%v): the file was modified or signed by another key; download it again from the site's metadata URL", lastErr)
}

// checkSignatureAlgorithms refuses weak or unexpected algorithms before any
// cryptography runs. The values read here are the ones goxmldsig then
// verifies: SignedInfo is covered by the signature value itself.
func (l *spLoader) checkSignatureAlgorithms(sig *etree.Element) error {
	signedInfos := childElems(sig, saml.NamespaceXMLDSig, "SignedInfo")
	if len(signedInfos) != 1 {
		return fmt.Errorf("its ds:Signature has %d ds:SignedInfo elements; expected one", len(signedInfos))
	}
	si := signedInfos[0]
	methods := childElems(si, saml.NamespaceXMLDSig, "SignatureMethod")
	if len(methods) != 1 {
		return errors.New("its ds:SignedInfo must have exactly one ds:SignatureMethod")
	}
	alg, _ := attrValue(methods[0], "Algorithm")
	if alg == saml.AlgRSASHA1 {
		return fmt.Errorf("it is signed with rsa-sha1 (%s), which is refused; ask the SP for metadata signed with rsa-sha256", alg)
	}
	if !allowedSignatureMethods[alg] {
		return fmt.Errorf("its SignatureMethod %q is not supported; expected rsa-sha256, rsa-sha384 or rsa-sha512", alg)
	}
	refs := childElems(si, saml.NamespaceXMLDSig, "Reference")
	if len(refs) != 1 {
		return fmt.Errorf("its ds:SignedInfo has %d ds:Reference elements; expected exactly one, to the EntityDescriptor", len(refs))
	}
	digests := childElems(refs[0], saml.NamespaceXMLDSig, "DigestMethod")
	if len(digests) != 1 {
		return errors.New("its ds:Reference must have exactly one ds:DigestMethod")
	}
	dalg, _ := attrValue(digests[0], "Algorithm")
	switch {
	case dalg == saml.AlgDigestSHA1:
		if l.opts.DisallowSHA1Digest {
			return errors.New("its signature digests the document with SHA-1, which this installation refuses (DisallowSHA1Digest); Huawei's published metadata uses SHA-1 digests, so clear that option to load it")
		}
	case !allowedDigestMethods[dalg]:
		return fmt.Errorf("its DigestMethod %q is not supported; expected SHA-256, SHA-384, SHA-512 or SHA-1", dalg)
	}
	return nil
}

// rolesOf returns the single md:SPSSODescriptor of an EntityDescriptor.
func rolesOf(root *etree.Element) (*etree.Element, error) {
	sps := childElems(root, saml.NamespaceMetadata, "SPSSODescriptor")
	switch len(sps) {
	case 1:
		return sps[0], nil
	case 0:
		if len(childElems(root, saml.NamespaceMetadata, "IDPSSODescriptor")) > 0 {
			return nil, errors.New("it describes an identity provider (IDPSSODescriptor), not a service provider: use the Huawei IAM site's SP metadata")
		}
		return nil, errors.New("it has no md:SPSSODescriptor: this is not SP metadata")
	default:
		return nil, fmt.Errorf("it has %d md:SPSSODescriptor elements; expected exactly one", len(sps))
	}
}

type keyDescriptors struct {
	signing, encryption []*x509.Certificate
}

// readKeyDescriptors reads the certificates of the KeyDescriptors directly
// under role (saml-metadata-2.0-os §2.4.1.1). A KeyDescriptor without use
// is both a signing and an encryption key.
func readKeyDescriptors(role *etree.Element) (keyDescriptors, error) {
	var kd keyDescriptors
	for i, k := range childElems(role, saml.NamespaceMetadata, "KeyDescriptor") {
		use, _ := attrValue(k, "use")
		if use != "" && use != "signing" && use != "encryption" {
			return kd, fmt.Errorf("KeyDescriptor #%d has use=%q; expected \"signing\", \"encryption\" or no use attribute", i+1, use)
		}
		var certs []*x509.Certificate
		for _, ki := range childElems(k, saml.NamespaceXMLDSig, "KeyInfo") {
			for _, xd := range childElems(ki, saml.NamespaceXMLDSig, "X509Data") {
				for _, xc := range childElems(xd, saml.NamespaceXMLDSig, "X509Certificate") {
					cert, err := parseCertText(xc.Text())
					if err != nil {
						return kd, fmt.Errorf("KeyDescriptor #%d: %w", i+1, err)
					}
					certs = append(certs, cert)
				}
			}
		}
		if len(certs) == 0 {
			return kd, fmt.Errorf("KeyDescriptor #%d has no ds:KeyInfo/ds:X509Data/ds:X509Certificate; hcidp needs the certificate itself", i+1)
		}
		if use != "encryption" {
			kd.signing = appendCerts(kd.signing, certs)
		}
		if use != "signing" {
			kd.encryption = appendCerts(kd.encryption, certs)
		}
	}
	if len(kd.signing) > maxSigningCerts {
		return kd, fmt.Errorf("it lists %d signing certificates; at most %d are supported", len(kd.signing), maxSigningCerts)
	}
	return kd, nil
}

// parseCertText decodes the base64 DER content of a ds:X509Certificate.
func parseCertText(s string) (*x509.Certificate, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\r', '\n':
			return -1
		}
		return r
	}, s)
	der, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("its X509Certificate is not valid base64: %v", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("its X509Certificate is not a valid X.509 certificate: %v", err)
	}
	return cert, nil
}

// appendCerts appends the certificates of add not already in list.
func appendCerts(list, add []*x509.Certificate) []*x509.Certificate {
next:
	for _, c := range add {
		for _, have := range list {
			if have.Equal(c) {
				continue next
			}
		}
		list = append(list, c)
	}
	return list
}

// extract reads the SP from the trusted EntityDescriptor.
func (l *spLoader) extract(root *etree.Element) (*SP, error) {
	sp := &SP{Site: l.site}

	entityID, _ := attrValue(root, "entityID")
	switch {
	case entityID == "":
		return nil, errors.New("its EntityDescriptor has no entityID")
	case strings.TrimSpace(entityID) != entityID:
		return nil, fmt.Errorf("its entityID %q has leading or trailing spaces", entityID)
	case len(entityID) > maxEntityIDLen:
		return nil, fmt.Errorf("its entityID is %d characters long; SAML allows at most %d", len(entityID), maxEntityIDLen)
	}
	sp.EntityID = entityID

	role, err := rolesOf(root)
	if err != nil {
		return nil, err
	}
	for _, el := range []*etree.Element{root, role} {
		if err := l.checkValidUntil(el); err != nil {
			return nil, err
		}
	}
	pse, _ := attrValue(role, "protocolSupportEnumeration")
	if !containsField(pse, saml.ProtocolSupportSAML20) {
		return nil, fmt.Errorf("its SPSSODescriptor protocolSupportEnumeration %q does not include SAML 2.0 (%s)", pse, saml.ProtocolSupportSAML20)
	}
	if sp.AuthnRequestsSigned, err = boolAttr(role, "AuthnRequestsSigned"); err != nil {
		return nil, err
	}
	if sp.WantAssertionsSigned, err = boolAttr(role, "WantAssertionsSigned"); err != nil {
		return nil, err
	}

	keys, err := readKeyDescriptors(role)
	if err != nil {
		return nil, err
	}
	if len(keys.signing) == 0 {
		return nil, errors.New("its SPSSODescriptor has no signing certificate (KeyDescriptor use=\"signing\" or without use); hcidp needs it to verify AuthnRequest signatures")
	}
	for _, c := range keys.signing {
		pub, ok := c.PublicKey.(*rsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("its signing certificate %s has a %s key; Huawei IAM signs with RSA and hcidp verifies only RSA signatures", certName(c), c.PublicKeyAlgorithm)
		}
		if pub.N.BitLen() < 2048 {
			return nil, fmt.Errorf("its signing certificate %s has a %d-bit RSA key; at least 2048 bits are required", certName(c), pub.N.BitLen())
		}
		if sp.NotAfter.IsZero() || c.NotAfter.Before(sp.NotAfter) {
			sp.NotAfter = c.NotAfter
		}
	}
	sp.SigningCerts = keys.signing
	sp.EncryptionCerts = keys.encryption
	if err := checkPins(l.site, sp.SigningCerts, l.opts.Pins); err != nil {
		return nil, err
	}

	if l.now.After(sp.NotAfter) && !l.opts.AllowExpired {
		var expired *x509.Certificate
		for _, c := range sp.SigningCerts {
			if c.NotAfter.Equal(sp.NotAfter) {
				expired = c
				break
			}
		}
		return nil, fmt.Errorf("its signing certificate %s expired on %s (now %s): %s", certName(expired),
			sp.NotAfter.UTC().Format(time.RFC3339), l.now.UTC().Format(time.RFC3339), expiredFix(l.site))
	}

	if err := l.readACS(role, sp); err != nil {
		return nil, err
	}
	return sp, nil
}

// readACS reads the AssertionConsumerService endpoints and picks the
// default one.
//
// Default: the first HTTP-POST endpoint with isDefault="true"; else the one
// with the lowest index; else the first. (saml-metadata-2.0-os §2.2.3 would
// next prefer an endpoint without isDefault="false"; hcidp uses the lowest
// index instead, which is what Huawei's single-endpoint metadata implies.)
func (l *spLoader) readACS(role *etree.Element, sp *SP) error {
	indexes := map[int]int{} // index -> 1-based position
	for i, el := range childElems(role, saml.NamespaceMetadata, "AssertionConsumerService") {
		pos := i + 1
		binding, _ := attrValue(el, "Binding")
		location, _ := attrValue(el, "Location")
		if binding == "" {
			return fmt.Errorf("AssertionConsumerService #%d has no Binding", pos)
		}
		if err := checkEndpointURL(location); err != nil {
			return fmt.Errorf("AssertionConsumerService #%d Location: %w", pos, err)
		}
		ep := Endpoint{Binding: binding, Location: location, Index: -1}
		if v, ok := attrValue(el, "index"); ok {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > maxEndpointIndex {
				return fmt.Errorf("AssertionConsumerService #%d has index=%q; expected a number from 0 to %d", pos, v, maxEndpointIndex)
			}
			if prev, dup := indexes[n]; dup {
				return fmt.Errorf("AssertionConsumerService #%d and #%d both have index=\"%d\"; indexes must be unique", prev, pos, n)
			}
			indexes[n] = pos
			ep.Index = n
		}
		var err error
		if ep.IsDefault, err = boolAttr(el, "isDefault"); err != nil {
			return fmt.Errorf("AssertionConsumerService #%d: %w", pos, err)
		}
		if binding == saml.BindingHTTPPost {
			sp.ACS = append(sp.ACS, ep)
		}
	}
	if len(sp.ACS) == 0 {
		return fmt.Errorf("it has no AssertionConsumerService with the HTTP-POST binding (%s); hcidp can only deliver assertions by HTTP-POST", saml.BindingHTTPPost)
	}
	sp.DefaultACS = defaultEndpoint(sp.ACS)
	return nil
}

func defaultEndpoint(eps []Endpoint) Endpoint {
	for _, e := range eps {
		if e.IsDefault {
			return e
		}
	}
	best := -1
	for i, e := range eps {
		if e.Index >= 0 && (best < 0 || e.Index < eps[best].Index) {
			best = i
		}
	}
	if best >= 0 {
		return eps[best]
	}
	return eps[0]
}

// checkValidUntil applies the optional validUntil attribute
// (saml-metadata-2.0-os §2.3.1, §2.3.2) like a certificate expiry.
func (l *spLoader) checkValidUntil(el *etree.Element) error {
	v, ok := attrValue(el, "validUntil")
	if !ok {
		return nil
	}
	t, err := time.Parse(time.RFC3339Nano, strings.TrimSpace(v))
	if err != nil {
		return fmt.Errorf("its %s validUntil=%q is not an xs:dateTime", el.Tag, v)
	}
	if l.now.After(t) && !l.opts.AllowExpired {
		return fmt.Errorf("its %s validUntil %s has passed (now %s): %s", el.Tag, t.UTC().Format(time.RFC3339),
			l.now.UTC().Format(time.RFC3339), expiredFix(l.site))
	}
	return nil
}

// expiredFix tells the operator what to do about expired metadata of site:
// fetch the current one, or set the configuration's override
// (LoadOptions.AllowExpired is service_providers[].allow_expired_certificate).
func expiredFix(site string) string {
	return fmt.Sprintf("download the site's current metadata (`idp sp fetch --site %s --config FILE`), or, as a temporary override, "+
		"set `allow_expired_certificate: true` in the service_providers entry of site %s", site, site)
}

// checkEndpointURL enforces docs/threat-model.md's rule for SP endpoint locations: an
// absolute https URL, or http when the host is a loopback address
// (127.0.0.0/8, ::1) or localhost; no user information, no fragment, no
// spaces or control characters. Location values are later compared byte for
// byte and written into the auto-POST form's action (CVE-2023-45683 was an
// XSS through a javascript: ACS URL).
func checkEndpointURL(loc string) error {
	if loc == "" {
		return errors.New("it is empty")
	}
	if len(loc) > maxLocationLen {
		return fmt.Errorf("it is %d characters long; at most %d are allowed", len(loc), maxLocationLen)
	}
	for _, r := range loc {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q contains spaces or control characters", loc)
		}
	}
	if strings.Contains(loc, "#") {
		return fmt.Errorf("%q has a fragment (#...); endpoint URLs must not", loc)
	}
	u, err := url.Parse(loc)
	if err != nil {
		return fmt.Errorf("%q is not a valid URL: %v", loc, err)
	}
	if u.Opaque != "" || u.Host == "" || !u.IsAbs() {
		return fmt.Errorf("%q is not an absolute URL with a host", loc)
	}
	if u.User != nil {
		return fmt.Errorf("%q contains user information (user@host); endpoint URLs must not", loc)
	}
	switch u.Scheme {
	case "https":
	case "http":
		if !huawei.IsLoopbackHost(u.Hostname()) {
			return fmt.Errorf("%q uses plain http; only https is allowed (http is accepted for loopback hosts only: 127.0.0.0/8, ::1, localhost)", loc)
		}
	default:
		return fmt.Errorf("%q has scheme %q; only https is allowed", loc, u.Scheme)
	}
	return nil
}

// boolAttr parses an optional xs:boolean attribute (absent means false).
func boolAttr(el *etree.Element, key string) (bool, error) {
	v, ok := attrValue(el, key)
	if !ok {
		return false, nil
	}
	switch strings.TrimSpace(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, fmt.Errorf("its %s attribute %s=%q is not a boolean (true, false, 1 or 0)", el.Tag, key, v)
}

func containsField(list, want string) bool {
	for _, f := range strings.Fields(list) {
		if f == want {
			return true
		}
	}
	return false
}

func clampTime(t, lo, hi time.Time) time.Time {
	if t.Before(lo) {
		return lo
	}
	if t.After(hi) {
		return hi
	}
	return t
}

// certName describes a certificate for error messages.
func certName(c *x509.Certificate) string {
	if c == nil {
		return "(unknown)"
	}
	name := c.Subject.CommonName
	if name == "" {
		name = c.Subject.String()
	}
	return fmt.Sprintf("%q (serial %s)", name, c.SerialNumber.Text(16))
}

// ACSByURL returns the HTTP-POST AssertionConsumerService whose Location is
// exactly url, byte for byte (no normalisation, prefix or case folding:
// docs/threat-model.md "Order of checks at the SSO endpoint" 7).
func (sp *SP) ACSByURL(url string) (Endpoint, bool) {
	if sp == nil {
		return Endpoint{}, false
	}
	for _, e := range sp.ACS {
		if e.Binding == saml.BindingHTTPPost && e.Location == url {
			return e, true
		}
	}
	return Endpoint{}, false
}

// ACSByIndex returns the HTTP-POST AssertionConsumerService with the given
// index attribute.
func (sp *SP) ACSByIndex(i int) (Endpoint, bool) {
	if sp == nil || i < 0 {
		return Endpoint{}, false
	}
	for _, e := range sp.ACS {
		if e.Binding == saml.BindingHTTPPost && e.Index == i {
			return e, true
		}
	}
	return Endpoint{}, false
}
