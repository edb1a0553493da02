package mockiam

import (
	"encoding/base64"
	"fmt"
	"hcidp/saml"
	"net/http"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
)

// Metadata returns the signed SP metadata, shaped like Huawei's real file:
// the ds:Signature is the first child of the EntityDescriptor (enveloped,
// exc-c14n, rsa-sha256; Huawei's own file uses a SHA-1 digest, the mock uses
// SHA-256).
func (s *Server) Metadata() []byte {
	return append([]byte(nil), s.metadataSigned...)
}

// UnsignedMetadata returns the metadata without its signature.
func (s *Server) UnsignedMetadata() []byte {
	return append([]byte(nil), s.metadataUnsigned...)
}

func (s *Server) buildMetadata() error {
	id := "M" + randomHex(16)
	unsigned := s.metadataElement(id)
	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(unsigned.Copy())
	var err error
	if s.metadataUnsigned, err = doc.WriteToBytes(); err != nil {
		return fmt.Errorf("mockiam: metadata: %w", err)
	}

	ctx, err := dsig.NewSigningContext(s.cfg.Key, [][]byte{s.cfg.Cert.Raw})
	if err != nil {
		return fmt.Errorf("mockiam: metadata signing: %w", err)
	}
	ctx.Canonicalizer = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("")
	if err := ctx.SetSignatureMethod(dsig.RSASHA256SignatureMethod); err != nil {
		return fmt.Errorf("mockiam: metadata signing: %w", err)
	}
	// ConstructSignature digests the element without a Signature; placing
	// the Signature first (as Huawei and the schema do) is fine because the
	// enveloped-signature transform removes it wherever it is. SignEnveloped
	// would append it last, without setting its parent.
	sig, err := ctx.ConstructSignature(unsigned, true)
	if err != nil {
		return fmt.Errorf("mockiam: metadata signing: %w", err)
	}
	signed := unsigned
	signed.InsertChildAt(0, sig)

	doc = etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	doc.SetRoot(signed)
	if s.metadataSigned, err = doc.WriteToBytes(); err != nil {
		return fmt.Errorf("mockiam: metadata: %w", err)
	}
	return nil
}

func (s *Server) metadataElement(id string) *etree.Element {
	base := s.cfg.BaseURL
	ed := etree.NewElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", saml.NamespaceMetadata)
	ed.CreateAttr("ID", id)
	ed.CreateAttr("entityID", s.entityID)

	sp := ed.CreateElement("md:SPSSODescriptor")
	sp.CreateAttr("AuthnRequestsSigned", "true")
	sp.CreateAttr("WantAssertionsSigned", "true")
	sp.CreateAttr("protocolSupportEnumeration", saml.NamespaceProtocol)
	keyDescriptor(sp, "signing", s.cfg.Cert.Raw)
	keyDescriptor(sp, "encryption", s.cfg.EncryptionCert.Raw)

	endpoint := func(tag, binding, location, response string) *etree.Element {
		e := sp.CreateElement(tag)
		e.CreateAttr("Binding", binding)
		e.CreateAttr("Location", location)
		if response != "" {
			e.CreateAttr("ResponseLocation", response)
		}
		return e
	}
	// The real file lists an Artifact endpoint whose Location is the ACS URL:
	// metadata consumers must pick the AssertionConsumerService, not the
	// first Location they see.
	ars := endpoint("md:ArtifactResolutionService", saml.BindingHTTPArtifact, s.acsURL, "")
	ars.CreateAttr("index", "0")
	ars.CreateAttr("isDefault", "true")
	p := base + "/authui/saml/"
	endpoint("md:SingleLogoutService", saml.BindingHTTPRedirect, p+"LogoutServiceHTTPRedirect", p+"LogoutServiceHTTPRedirectResponse")
	endpoint("md:SingleLogoutService", saml.BindingHTTPPost, p+"LogoutServiceHTTPPost", p+"LogoutServiceHTTPPostResponse")
	endpoint("md:ManageNameIDService", saml.BindingHTTPPost, p+"ManageNameIDServiceHTTPPost", p+"ManageNameIDServiceHTTPPostResponse")
	endpoint("md:ManageNameIDService", saml.BindingHTTPRedirect, p+"ManageNameIDServiceHTTPRedirect", p+"ManageNameIDServiceHTTPRedirectResponse")
	endpoint("md:ManageNameIDService", saml.BindingSOAP, p+"ManageNameIDServiceSOAP", "")
	sp.CreateElement("md:NameIDFormat").SetText(saml.NameIDFormatTransient)
	acs := endpoint("md:AssertionConsumerService", saml.BindingHTTPPost, s.acsURL, "")
	acs.CreateAttr("index", "0")
	acs.CreateAttr("isDefault", "true")
	return ed
}

func keyDescriptor(parent *etree.Element, use string, der []byte) {
	kd := parent.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", use)
	ki := kd.CreateElement("ds:KeyInfo")
	ki.CreateAttr("xmlns:ds", dsig.Namespace)
	ki.CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").SetText(base64.StdEncoding.EncodeToString(der))
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	body := s.metadataSigned
	if r.URL.Query().Get("unsigned") == "true" {
		body = s.metadataUnsigned
	}
	w.Header().Set("Content-Type", "application/samlmetadata+xml; charset=utf-8")
	_, _ = w.Write(body)
}
