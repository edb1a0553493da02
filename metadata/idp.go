package metadata

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hcidp/saml"
	"net/url"

	"github.com/beevik/etree"
)

// IdPConfig is what goes into hcidp's own metadata, the "IDP Metadata.xml"
// uploaded to Huawei Partner Center (docs/profile.md, "Partner Center set-up").
type IdPConfig struct {
	// EntityID is the IdP's entityID, an absolute URI such as
	// "https://idp.partner.example" (at most 1024 characters,
	// saml-core-2.0-os §8.3.6).
	EntityID string
	// SSOURL is the public URL of the SingleSignOnService (HTTP-Redirect binding).
	SSOURL string
	// SigningCerts are the assertion-signing certificates: the current one
	// first, then the next one during a key rollover.
	SigningCerts []*x509.Certificate
	// EncryptionCert is listed with use="encryption" when set; nil means no
	// encryption key is published.
	EncryptionCert *x509.Certificate
}

// IdPMetadata renders the IdP's metadata (saml-metadata-2.0-os §2.3.2
// EntityDescriptor, §2.4.3 IDPSSODescriptor):
//
//	<md:EntityDescriptor entityID=...>
//	  <md:IDPSSODescriptor WantAuthnRequestsSigned="true" protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol">
//	    <md:KeyDescriptor use="signing"> (one per signing certificate)
//	    <md:KeyDescriptor use="encryption"> (only with EncryptionCert)
//	    <md:NameIDFormat>transient</md:NameIDFormat>
//	    <md:SingleSignOnService Binding=HTTP-Redirect Location=SSOURL/>
//
// The output is UTF-8 with an XML declaration, indented, and deterministic:
// the same configuration always gives the same bytes (no IDs, timestamps or
// validUntil). It contains certificates only, never private keys.
func IdPMetadata(c IdPConfig) ([]byte, error) {
	if err := c.validate(); err != nil {
		return nil, err
	}

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	ed := doc.CreateElement("md:EntityDescriptor")
	ed.CreateAttr("xmlns:md", saml.NamespaceMetadata)
	ed.CreateAttr("xmlns:ds", saml.NamespaceXMLDSig)
	ed.CreateAttr("entityID", c.EntityID)

	idp := ed.CreateElement("md:IDPSSODescriptor")
	idp.CreateAttr("WantAuthnRequestsSigned", "true")
	idp.CreateAttr("protocolSupportEnumeration", saml.ProtocolSupportSAML20)
	for _, cert := range c.SigningCerts {
		addKeyDescriptor(idp, "signing", cert)
	}
	if c.EncryptionCert != nil {
		addKeyDescriptor(idp, "encryption", c.EncryptionCert)
	}
	idp.CreateElement("md:NameIDFormat").SetText(saml.NameIDFormatTransient)
	// Only HTTP-Redirect: hcidp does not accept AuthnRequests by HTTP-POST
	// (Huawei IAM uses the redirect binding), and metadata must not offer
	// what the server refuses.
	for _, binding := range []string{saml.BindingHTTPRedirect} {
		sso := idp.CreateElement("md:SingleSignOnService")
		sso.CreateAttr("Binding", binding)
		sso.CreateAttr("Location", c.SSOURL)
	}

	doc.Indent(2)
	var buf bytes.Buffer
	if _, err := doc.WriteTo(&buf); err != nil {
		return nil, fmt.Errorf("metadata: writing IdP metadata: %w", err)
	}
	out := buf.Bytes()
	if !bytes.HasSuffix(out, []byte("\n")) {
		out = append(out, '\n')
	}
	if len(out) > MaxMetadataSize {
		return nil, fmt.Errorf("metadata: the IdP metadata is %d bytes; Huawei Partner Center accepts at most %d", len(out), MaxMetadataSize)
	}
	return out, nil
}

func addKeyDescriptor(parent *etree.Element, use string, cert *x509.Certificate) {
	kd := parent.CreateElement("md:KeyDescriptor")
	kd.CreateAttr("use", use)
	kd.CreateElement("ds:KeyInfo").
		CreateElement("ds:X509Data").
		CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(cert.Raw))
}

func (c IdPConfig) validate() error {
	if err := checkEntityID(c.EntityID); err != nil {
		return fmt.Errorf("metadata: IdP entityID: %w", err)
	}
	if err := checkEndpointURL(c.SSOURL); err != nil {
		return fmt.Errorf("metadata: IdP SSO URL: %w", err)
	}
	if len(c.SigningCerts) == 0 {
		return errors.New("metadata: the IdP metadata needs at least one signing certificate")
	}
	for i, cert := range c.SigningCerts {
		if err := checkIdPCert(cert); err != nil {
			return fmt.Errorf("metadata: signing certificate #%d: %w", i+1, err)
		}
		for _, prev := range c.SigningCerts[:i] {
			if prev.Equal(cert) {
				return fmt.Errorf("metadata: signing certificate #%d is listed twice", i+1)
			}
		}
	}
	if c.EncryptionCert != nil {
		if err := checkIdPCert(c.EncryptionCert); err != nil {
			return fmt.Errorf("metadata: encryption certificate: %w", err)
		}
	}
	return nil
}

func checkIdPCert(cert *x509.Certificate) error {
	if cert == nil || len(cert.Raw) == 0 {
		return errors.New("it is missing")
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return fmt.Errorf("it has a %s key; Huawei IAM expects RSA", cert.PublicKeyAlgorithm)
	}
	if pub.N.BitLen() < 2048 {
		return fmt.Errorf("its RSA key has %d bits; at least 2048 are required", pub.N.BitLen())
	}
	return nil
}

// checkEntityID accepts an absolute URI of at most 1024 characters without
// spaces or control characters (saml-core-2.0-os §8.3.6).
func checkEntityID(id string) error {
	if id == "" {
		return errors.New("it is empty")
	}
	if len(id) > maxEntityIDLen {
		return fmt.Errorf("it is %d characters long; at most %d are allowed", len(id), maxEntityIDLen)
	}
	for _, r := range id {
		if r <= ' ' || r == 0x7f {
			return fmt.Errorf("%q contains spaces or control characters", id)
		}
	}
	u, err := url.Parse(id)
	if err != nil || !u.IsAbs() {
		return fmt.Errorf("%q is not an absolute URI such as https://idp.partner.example", id)
	}
	if (u.Scheme == "https" || u.Scheme == "http") && u.Host == "" {
		return fmt.Errorf("%q has no host", id)
	}
	return nil
}
