package metadata

// SAML 2.0 XML namespaces (saml-core-2.0-os §1.2, saml-metadata-2.0-os §1.2).
const (
	NamespaceAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NamespaceProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NamespaceMetadata  = "urn:oasis:names:tc:SAML:2.0:metadata"

	// Other namespaces that appear in SAML messages and metadata.
	NamespaceXMLDSig   = "http://www.w3.org/2000/09/xmldsig#"
	NamespaceXMLEnc    = "http://www.w3.org/2001/04/xmlenc#"
	NamespaceXSI       = "http://www.w3.org/2001/XMLSchema-instance"
	NamespaceXSD       = "http://www.w3.org/2001/XMLSchema"
	NamespaceXInclude  = "http://www.w3.org/2001/XInclude"
	NamespaceExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	NamespaceXMLNS     = "http://www.w3.org/2000/xmlns/"
	NamespaceXMLPrefix = "http://www.w3.org/XML/1998/namespace"
)

// Version is the only SAML version hcidp speaks (saml-core-2.0-os §4.1).
const Version = "2.0"

// ProtocolSupportSAML20 is the protocolSupportEnumeration value of a SAML 2.0
// role descriptor (saml-metadata-2.0-os §2.4.1). It equals NamespaceProtocol.
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
	NameIDFormatUnspecified  = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	NameIDFormatEmailAddress = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress"
	NameIDFormatPersistent   = "urn:oasis:names:tc:SAML:2.0:nameid-format:persistent"
	NameIDFormatTransient    = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDFormatEntity       = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
)

// Attribute name formats (saml-core-2.0-os §8.2).
const (
	AttrNameFormatUnspecified = "urn:oasis:names:tc:SAML:2.0:attrname-format:unspecified"
	AttrNameFormatURI         = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"
	AttrNameFormatBasic       = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"
)

// Subject confirmation methods (saml-profiles-2.0-os §3).
const (
	ConfirmationMethodBearer = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
)

// Consent identifiers (saml-core-2.0-os §8.4).
const (
	ConsentUnspecified = "urn:oasis:names:tc:SAML:2.0:consent:unspecified"
)

// Authentication context classes (saml-authn-context-2.0-os §3.4).
const (
	AuthnContextUnspecified                = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	AuthnContextPassword                   = "urn:oasis:names:tc:SAML:2.0:ac:classes:Password"
	AuthnContextPasswordProtectedTransport = "urn:oasis:names:tc:SAML:2.0:ac:classes:PasswordProtectedTransport"
)

// Status codes (saml-core-2.0-os §3.2.2.2). The first four are top-level
// codes; the rest are second-level codes.
const (
	StatusSuccess         = "urn:oasis:names:tc:SAML:2.0:status:Success"
	StatusRequester       = "urn:oasis:names:tc:SAML:2.0:status:Requester"
	StatusResponder       = "urn:oasis:names:tc:SAML:2.0:status:Responder"
	StatusVersionMismatch = "urn:oasis:names:tc:SAML:2.0:status:VersionMismatch"

	StatusAuthnFailed              = "urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"
	StatusInvalidAttrNameOrValue   = "urn:oasis:names:tc:SAML:2.0:status:InvalidAttrNameOrValue"
	StatusInvalidNameIDPolicy      = "urn:oasis:names:tc:SAML:2.0:status:InvalidNameIDPolicy"
	StatusNoAuthnContext           = "urn:oasis:names:tc:SAML:2.0:status:NoAuthnContext"
	StatusNoPassive                = "urn:oasis:names:tc:SAML:2.0:status:NoPassive"
	StatusRequestDenied            = "urn:oasis:names:tc:SAML:2.0:status:RequestDenied"
	StatusRequestUnsupported       = "urn:oasis:names:tc:SAML:2.0:status:RequestUnsupported"
	StatusRequestVersionTooHigh    = "urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooHigh"
	StatusRequestVersionTooLow     = "urn:oasis:names:tc:SAML:2.0:status:RequestVersionTooLow"
	StatusUnknownPrincipal         = "urn:oasis:names:tc:SAML:2.0:status:UnknownPrincipal"
	StatusUnsupportedBinding       = "urn:oasis:names:tc:SAML:2.0:status:UnsupportedBinding"
	StatusNoAvailableIDP           = "urn:oasis:names:tc:SAML:2.0:status:NoAvailableIDP"
	StatusPartialLogout            = "urn:oasis:names:tc:SAML:2.0:status:PartialLogout"
	StatusProxyCountExceeded       = "urn:oasis:names:tc:SAML:2.0:status:ProxyCountExceeded"
	StatusResourceNotRecognized    = "urn:oasis:names:tc:SAML:2.0:status:ResourceNotRecognized"
	StatusTooManyResponses         = "urn:oasis:names:tc:SAML:2.0:status:TooManyResponses"
	StatusUnknownAttrProfile       = "urn:oasis:names:tc:SAML:2.0:status:UnknownAttrProfile"
	StatusRequestVersionDeprecated = "urn:oasis:names:tc:SAML:2.0:status:RequestVersionDeprecated"
)

// XML Signature algorithm identifiers (xmldsig-core §6, RFC 6931, xml-exc-c14n).
const (
	AlgExcC14N            = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnvelopedSignature = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"

	AlgRSASHA1   = "http://www.w3.org/2000/09/xmldsig#rsa-sha1" // refused everywhere
	AlgRSASHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgRSASHA384 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384"
	AlgRSASHA512 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512"

	AlgDigestSHA1   = "http://www.w3.org/2000/09/xmldsig#sha1"
	AlgDigestSHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgDigestSHA384 = "http://www.w3.org/2001/04/xmldsig-more#sha384"
	AlgDigestSHA512 = "http://www.w3.org/2001/04/xmlenc#sha512"
)

// MaxMetadataSize is the largest metadata document hcidp reads or writes:
// Huawei Partner Center accepts IdP metadata files of at most 2 MB
// (PROFILE.md), and the same cap applies to SP metadata.
const MaxMetadataSize = 2 << 20
