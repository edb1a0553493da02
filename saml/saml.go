// Package saml holds the SAML 2.0 and XML Signature names hcidp speaks: the
// namespaces, bindings, identifier formats, status codes and algorithm
// identifiers, each with the section of the specification that defines it.
// It is the one place for them: the IdP core, the metadata loader and the
// mock Huawei IAM use these. The independent Response checker (package
// check) keeps its own copy on purpose: it must not trust the code it checks.
package saml

// Version is the only SAML version hcidp speaks (saml-core-2.0-os §4.1).
const Version = "2.0"

// XML namespaces (saml-core-2.0-os §1.2, saml-metadata-2.0-os §1.2,
// xmldsig-core §3, xml-exc-c14n §3, XML Schema).
const (
	NamespaceAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NamespaceProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NamespaceMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"
	NamespaceXMLDSig   = "http://www.w3.org/2000/09/xmldsig#"
	NamespaceExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	NamespaceXSD       = "http://www.w3.org/2001/XMLSchema"
	NamespaceXSI       = "http://www.w3.org/2001/XMLSchema-instance"
)

// ProtocolSupportSAML20 is the protocolSupportEnumeration value of a SAML
// 2.0 role descriptor (saml-metadata-2.0-os §2.4.1): the protocol namespace.
const ProtocolSupportSAML20 = NamespaceProtocol

// Bindings (saml-bindings-2.0-os §3).
const (
	BindingHTTPRedirect = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" // §3.4
	BindingHTTPPost     = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"     // §3.5
	BindingHTTPArtifact = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Artifact" // §3.6
	BindingSOAP         = "urn:oasis:names:tc:SAML:2.0:bindings:SOAP"          // §3.2
)

// Name identifier formats (saml-core-2.0-os §8.3).
const (
	NameIDFormatUnspecified = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified" // §8.3.1
	NameIDFormatTransient   = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"   // §8.3.8
	NameIDFormatEntity      = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"      // §8.3.6
)

// AttrNameFormatURI is the URI attribute name format (saml-core-2.0-os §8.2.2).
const AttrNameFormatURI = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

// ConfirmationMethodBearer is the bearer subject confirmation method
// (saml-profiles-2.0-os §3.3).
const ConfirmationMethodBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"

// ConsentUnspecified is the unspecified consent identifier (saml-core-2.0-os §8.4.1).
const ConsentUnspecified = "urn:oasis:names:tc:SAML:2.0:consent:unspecified"

// AuthnContextUnspecified is the unspecified authentication context class
// (saml-authn-context-2.0-os §3.4.26).
const AuthnContextUnspecified = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"

// Status codes (saml-core-2.0-os §3.2.2.2): top-level, then second-level.
const (
	StatusSuccess   = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder = "urn:oasis:names:tc:SAML:2.0:status:Responder"

	StatusInvalidNameIDPolicy = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusNoPassive           = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
)

// XML Signature algorithm identifiers (xmldsig-core §6, RFC 6931 §2,
// xml-exc-c14n §3).
const (
	AlgExcC14N            = NamespaceExcC14N
	AlgEnvelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	AlgRSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1" // refused unless allow_sha1
	AlgRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

	AlgDigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	AlgDigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgDigestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgDigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)
