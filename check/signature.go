package check

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/beevik/etree"
	"github.com/jonboulle/clockwork"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"
)

// weakAlgorithms are the SHA-1 based signature and digest methods, refused.
var weakAlgorithms = map[string]bool{
	AlgRSASHA1:    true,
	AlgDigestSHA1: true,
	"http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha1": true,
	"http://www.w3.org/2000/09/xmldsig#dsa-sha1":        true,
	"http://www.w3.org/2000/09/xmldsig#hmac-sha1":       true,
}

// verify runs goxmldsig over a detached copy of el (carrying the namespace
// declarations in scope) and returns the verified, canonical element.
func (c *checker) verify(el *etree.Element) (*etree.Element, error) {
	if len(c.exp.IdPCerts) == 0 {
		return nil, fmt.Errorf("no IdP certificate is configured to verify against")
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return nil, err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return nil, err
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: c.exp.IdPCerts})
	vc.Clock = dsig.NewFakeClock(clockwork.NewFakeClockAt(c.exp.Now))
	return vc.Validate(detached)
}

// sigShape is what checkSignatureShape learnt about a signature.
type sigShape struct {
	weak bool // a SHA-1 signature or digest method
}

// checkAssertionSignature checks the shape of the Assertion's enveloped
// signature against the profile and verifies it. It returns the verified
// element, or nil when the signature is missing, invalid or weak.
func (c *checker) checkAssertionSignature(a *etree.Element, id string) *etree.Element {
	var sigs []*etree.Element
	walk(a, func(el *etree.Element) {
		if isElem(el, NSDSig, "Signature") {
			sigs = append(sigs, el)
		}
	})
	direct := children(a, NSDSig, "Signature")
	switch {
	case len(direct) == 0 && len(sigs) == 0:
		c.add("signature.missing", "the Assertion is not signed; expected an enveloped ds:Signature right after the Assertion's saml:Issuer (WantAssertionsSigned=\"true\" in the SP metadata)")
		return nil
	case len(direct) == 0:
		c.add("signature.position", "the Assertion's ds:Signature is nested inside %s; expected it as a direct child of the Assertion, right after saml:Issuer", describe(sigs[0].Parent()))
		return nil
	case len(sigs) > 1:
		c.add("signature.multiple", "the Assertion contains %d ds:Signature elements; expected exactly one", len(sigs))
		return nil
	}
	sig := direct[0]
	elems := a.ChildElements()
	if len(elems) < 2 || !isElem(elems[0], NSAssertion, "Issuer") || elems[1] != sig {
		pos := 0
		for i, el := range elems {
			if el == sig {
				pos = i + 1
			}
		}
		c.add("signature.position", "the Assertion's ds:Signature is child element #%d; the schema requires it right after saml:Issuer (child #2)", pos)
	}
	shape := c.checkSignedInfo("signature", "Assertion", sig, id, true)
	c.checkKeyInfo(sig)

	verified, err := c.verify(a)
	if err != nil {
		c.add("signature.invalid", "the Assertion signature does not verify with the IdP certificate(s) %s: %v. Typical causes: the Assertion was changed after signing, it was signed with another key, or the InclusiveNamespaces PrefixList used for the digest differs from the one written", fingerprints(c.exp.IdPCerts), err)
		return nil
	}
	if shape.weak {
		return nil
	}
	return verified
}

// checkSignedInfo checks the algorithms and the reference of sig. rulePrefix is
// "signature" or "response.signature"; strict requires the exact profile
// transforms (the Assertion signature), otherwise only weak algorithms and the
// reference are checked.
func (c *checker) checkSignedInfo(rulePrefix, what string, sig *etree.Element, id string, strict bool) sigShape {
	var shape sigShape
	infos := children(sig, NSDSig, "SignedInfo")
	if len(infos) != 1 {
		c.add(rulePrefix+".malformed", "the %s ds:Signature has %d ds:SignedInfo elements; expected exactly one", what, len(infos))
		return shape
	}
	si := infos[0]

	c14n := algorithmOf(child(si, NSDSig, "CanonicalizationMethod"))
	if c14n != AlgExcC14N && (strict || c14n != "http://www.w3.org/2001/10/xml-exc-c14n#WithComments") {
		c.add(rulePrefix+".c14n", "the %s signature's CanonicalizationMethod is %q; expected exclusive canonicalization %q", what, c14n, AlgExcC14N)
	}
	method := algorithmOf(child(si, NSDSig, "SignatureMethod"))
	switch {
	case weakAlgorithms[method]:
		shape.weak = true
		c.add(rulePrefix+".sha1", "the %s signature uses SignatureMethod %q; SHA-1 is refused, expected %q", what, method, AlgRSASHA256)
	case strict && method != AlgRSASHA256:
		c.add(rulePrefix+".method", "the %s signature uses SignatureMethod %q; expected %q", what, method, AlgRSASHA256)
	}

	refs := children(si, NSDSig, "Reference")
	if len(refs) != 1 {
		c.add(rulePrefix+".reference", "the %s signature has %d ds:Reference elements; expected exactly one, with URI=\"#%s\"", what, len(refs), id)
		if len(refs) == 0 {
			return shape
		}
	}
	ref := refs[0]
	if uri := ref.SelectAttrValue("URI", ""); uri != "#"+id {
		c.add(rulePrefix+".reference", "the %s signature's Reference URI is %q; expected \"#%s\" (the ID of the signed %s)", what, uri, id, what)
	}
	digest := algorithmOf(child(ref, NSDSig, "DigestMethod"))
	switch {
	case weakAlgorithms[digest]:
		shape.weak = true
		c.add(rulePrefix+".sha1", "the %s signature uses DigestMethod %q; SHA-1 is refused, expected %q", what, digest, AlgDigestSHA2)
	case strict && digest != AlgDigestSHA2:
		c.add(rulePrefix+".digest", "the %s signature uses DigestMethod %q; expected %q", what, digest, AlgDigestSHA2)
	}

	var transforms []*etree.Element
	if ts := child(ref, NSDSig, "Transforms"); ts != nil {
		transforms = children(ts, NSDSig, "Transform")
	}
	algs := make([]string, len(transforms))
	for i, t := range transforms {
		algs[i] = algorithmOf(t)
	}
	if len(algs) == 0 || algs[0] != AlgEnveloped {
		c.add(rulePrefix+".transforms", "the %s signature's transforms are [%s]; expected an enveloped signature: %q first, then %q", what, strings.Join(algs, ", "), AlgEnveloped, AlgExcC14N)
		return shape
	}
	if !strict {
		return shape
	}
	if len(algs) != 2 || algs[1] != AlgExcC14N {
		c.add(rulePrefix+".transforms", "the %s signature's transforms are [%s]; expected exactly [%s, %s]", what, strings.Join(algs, ", "), AlgEnveloped, AlgExcC14N)
		return shape
	}
	inc := child(transforms[1], NSExcC14N, "InclusiveNamespaces")
	if inc == nil {
		c.add(rulePrefix+".prefix_list", "the %s signature's exc-c14n Transform has no <ec:InclusiveNamespaces PrefixList=\"xsd\"/>; without it the xmlns:xsd declaration used by xsi:type=\"xsd:string\" is not covered by the signature", what)
		return shape
	}
	list := strings.Fields(inc.SelectAttrValue("PrefixList", ""))
	found := false
	for _, p := range list {
		if p == "xsd" {
			found = true
		}
	}
	if !found {
		c.add(rulePrefix+".prefix_list", "the %s signature's InclusiveNamespaces PrefixList is %q; expected it to contain \"xsd\" (the prefix used in xsi:type=\"xsd:string\")", what, strings.Join(list, " "))
	}
	return shape
}

// checkKeyInfo checks that the signature carries exactly the IdP certificate.
func (c *checker) checkKeyInfo(sig *etree.Element) {
	var certEl *etree.Element
	if ki := child(sig, NSDSig, "KeyInfo"); ki != nil {
		if xd := child(ki, NSDSig, "X509Data"); xd != nil {
			certEl = child(xd, NSDSig, "X509Certificate")
		}
	}
	if certEl == nil {
		c.add("signature.keyinfo", "the Assertion signature has no ds:KeyInfo/ds:X509Data/ds:X509Certificate; expected the signing certificate from the IdP metadata %s", fingerprints(c.exp.IdPCerts))
		return
	}
	der, err := base64.StdEncoding.DecodeString(strings.Join(strings.Fields(certEl.Text()), ""))
	if err != nil {
		c.add("signature.certificate", "the ds:X509Certificate is not valid base64: %v", err)
		return
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		c.add("signature.certificate", "the ds:X509Certificate cannot be parsed: %v", err)
		return
	}
	for _, want := range c.exp.IdPCerts {
		if want.Equal(cert) {
			now := c.exp.Now
			if now.Before(cert.NotBefore) || now.After(cert.NotAfter) {
				c.add("signature.certificate_expired", "the IdP certificate %s is valid from %s to %s, which does not include now (%s)", fingerprint(cert), fmtTime(cert.NotBefore), fmtTime(cert.NotAfter), fmtTime(now))
			}
			return
		}
	}
	c.add("signature.certificate", "the Assertion was signed with certificate %s (subject %q), which is not in the IdP metadata; expected one of %s", fingerprint(cert), cert.Subject.String(), fingerprints(c.exp.IdPCerts))
}

// checkResponseSignature checks the optional Response-level signature.
func (c *checker) checkResponseSignature(root *etree.Element, sigs []*etree.Element, issuer *etree.Element) {
	if len(sigs) > 1 {
		c.add("response.signature.multiple", "the Response has %d ds:Signature children; at most one is allowed", len(sigs))
		return
	}
	sig := sigs[0]
	if prev := sig.PrevSibling(); issuer == nil || prev != issuer {
		c.add("response.signature.position", "the Response's ds:Signature must come right after the Response's saml:Issuer (schema order)")
	}
	id := root.SelectAttrValue("ID", "")
	c.checkSignedInfo("response.signature", "Response", sig, id, false)
	if _, err := c.verify(root); err != nil {
		c.add("response.signature.invalid", "the Response carries a ds:Signature, but it does not verify with the IdP certificate(s) %s: %v", fingerprints(c.exp.IdPCerts), err)
	}
}

func algorithmOf(el *etree.Element) string {
	if el == nil {
		return ""
	}
	return el.SelectAttrValue("Algorithm", "")
}

// fingerprint names a certificate by the SHA-256 of its DER encoding.
func fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	return "SHA256:" + hex.EncodeToString(sum[:])
}

func fingerprints(certs []*x509.Certificate) string {
	if len(certs) == 0 {
		return "[none configured]"
	}
	parts := make([]string, len(certs))
	for i, cert := range certs {
		parts[i] = fingerprint(cert)
	}
	return "[" + strings.Join(parts, ", ") + "]"
}
