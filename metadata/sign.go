package metadata

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"hcidp/saml"
	"regexp"

	dsig "github.com/russellhaering/goxmldsig"
)

// xmlID matches the ID values goxmldsig can reference (an NCName subset).
var xmlID = regexp.MustCompile(`^[A-Za-z_][\w.-]*$`)

// SignMetadata signs a metadata document the way Huawei IAM signs its SP
// metadata, for the mock IAM and tests: an enveloped signature
// (xmldsig-core §6.6.4) over the root md:EntityDescriptor, which must carry
// an ID attribute, referenced as URI="#ID"; exclusive canonicalization
// (xml-exc-c14n) for SignedInfo and the reference; rsa-sha256; a SHA-256
// digest; the certificate in ds:KeyInfo. The ds:Signature is placed as the
// first child of the EntityDescriptor, where the metadata schema wants it
// (saml-metadata-2.0-os §2.3.2). Inserting it after computing the digest is
// sound: the enveloped-signature transform removes it before digesting,
// wherever it is.
//
// The input goes through the same safety checks as LoadSP's input and must
// not already be signed. The rest of the document is written back as it was
// parsed, without re-indentation (whitespace is signed content).
func SignMetadata(doc []byte, key *rsa.PrivateKey, cert *x509.Certificate) ([]byte, error) {
	return signMetadata(doc, key, cert, dsig.RSASHA256SignatureMethod)
}

// signMetadata is SignMetadata with a chosen signature method (tests use it
// to produce the rsa-sha1 signatures LoadSP must refuse).
func signMetadata(doc []byte, key *rsa.PrivateKey, cert *x509.Certificate, method string) ([]byte, error) {
	if key == nil || cert == nil {
		return nil, errors.New("metadata: SignMetadata needs a private key and its certificate")
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, errors.New("metadata: SignMetadata: the certificate does not belong to the private key")
	}
	d, err := parseUntrustedXML(bytes.TrimPrefix(doc, utf8BOM), "metadata: the document to sign")
	if err != nil {
		return nil, err
	}
	root := d.Root()
	if !isElem(root, saml.NamespaceMetadata, "EntityDescriptor") {
		return nil, fmt.Errorf("metadata: SignMetadata: the root element is %s, not md:EntityDescriptor", root.FullTag())
	}
	id, ok := attrValue(root, "ID")
	if !ok || !xmlID.MatchString(id) {
		return nil, fmt.Errorf("metadata: SignMetadata: the EntityDescriptor needs an ID attribute that is an XML name (for example ID=\"_a1b2\"), got %q", id)
	}
	if countDescendants(root, saml.NamespaceXMLDSig, "Signature") > 0 {
		return nil, errors.New("metadata: SignMetadata: the document already contains a ds:Signature; sign the unsigned document")
	}

	ctx, err := dsig.NewSigningContext(key, [][]byte{cert.Raw})
	if err != nil {
		return nil, fmt.Errorf("metadata: SignMetadata: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(method); err != nil {
		return nil, fmt.Errorf("metadata: SignMetadata: %w", err)
	}
	// goxmldsig's exclusive canonicalizer rewrites the element it digests
	// in place (moves namespace declarations, drops comments), so digest a
	// copy and leave the caller's document as it was. The root has no
	// ancestors, so the copy canonicalizes exactly as the original does.
	sig, err := ctx.ConstructSignature(root.Copy(), true)
	if err != nil {
		return nil, fmt.Errorf("metadata: SignMetadata: signing: %w", err)
	}
	// goxmldsig's SignEnveloped would append the Signature as the last child;
	// the schema and Huawei put it first.
	root.InsertChildAt(0, sig)

	var buf bytes.Buffer
	if _, err := d.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("metadata: SignMetadata: writing: %w", err)
	}
	return buf.Bytes(), nil
}
