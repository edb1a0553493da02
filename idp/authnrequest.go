package idp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"hcidp/internal/xmlguard"
	"hcidp/saml"
)

// AuthnRequest is samlp:AuthnRequest (SAML core §3.4.1), reduced to what the
// profile uses.
type AuthnRequest struct {
	XMLName                        xml.Name      `xml:"urn:oasis:names:tc:SAML:2.0:protocol AuthnRequest"`
	ID                             string        `xml:"ID,attr"`
	Version                        string        `xml:"Version,attr"`
	IssueInstant                   string        `xml:"IssueInstant,attr"`
	Destination                    string        `xml:"Destination,attr"`
	ForceAuthn                     string        `xml:"ForceAuthn,attr"`
	IsPassive                      string        `xml:"IsPassive,attr"`
	ProtocolBinding                string        `xml:"ProtocolBinding,attr"`
	AssertionConsumerServiceURL    string        `xml:"AssertionConsumerServiceURL,attr"`
	AssertionConsumerServiceIndex  string        `xml:"AssertionConsumerServiceIndex,attr"`
	AttributeConsumingServiceIndex string        `xml:"AttributeConsumingServiceIndex,attr"`
	Issuer                         *Issuer       `xml:"urn:oasis:names:tc:SAML:2.0:assertion Issuer"`
	NameIDPolicy                   *NameIDPolicy `xml:"urn:oasis:names:tc:SAML:2.0:protocol NameIDPolicy"`
}

// Issuer is saml:Issuer (SAML core §2.2.5).
type Issuer struct {
	Format string `xml:"Format,attr"`
	Value  string `xml:",chardata"`
}

// NameIDPolicy is samlp:NameIDPolicy (SAML core §3.4.1.1).
type NameIDPolicy struct {
	Format string `xml:"Format,attr"`
}

const (
	maxXMLDepth          = 16
	maxXMLElements       = 256
	maxRequestIDLength   = 256
	maxEncodedSAMLObject = MaxURLBytes
)

// inflaters reuses DEFLATE decompressors (each holds a 32 KiB window).
var inflaters = sync.Pool{New: func() any { return flate.NewReader(bytes.NewReader(nil)) }}

// inflateRequest base64-decodes and raw-inflates a SAMLRequest (SAML bindings
// §3.4.4.1: DEFLATE, RFC 1951, no zlib wrapper), reading at most
// maxInflatedRequest bytes: a deflate bomb costs a few kilobytes.
func inflateRequest(encoded string) ([]byte, *Refusal) {
	if len(encoded) > maxEncodedSAMLObject {
		return nil, refuse(413, "request.too_large", "SAMLRequest is too large")
	}
	compressed, err := base64.StdEncoding.DecodeString(encoded)
	if err != nil {
		return nil, refuse(400, "request.base64", "SAMLRequest is not valid base64")
	}
	zr := inflaters.Get().(io.ReadCloser)
	defer inflaters.Put(zr)
	if err := zr.(flate.Resetter).Reset(bytes.NewReader(compressed), nil); err != nil {
		return nil, refuse(400, "request.inflate", "SAMLRequest is not raw DEFLATE data: "+err.Error())
	}
	out, err := io.ReadAll(io.LimitReader(zr, maxInflatedRequest+1))
	if err != nil {
		return nil, refuse(400, "request.inflate", "SAMLRequest is not raw DEFLATE data: "+err.Error())
	}
	if len(out) > maxInflatedRequest {
		return nil, refuse(413, "request.too_large", fmt.Sprintf("inflated SAMLRequest exceeds %d bytes", maxInflatedRequest))
	}
	return out, nil
}

// requestLimits bound an inflated AuthnRequest: Huawei's has 3 elements
// at depth 2.
var requestLimits = xmlguard.Limits{MaxBytes: maxInflatedRequest, MaxDepth: maxXMLDepth, MaxElements: maxXMLElements,
	UniqueRootChildren: true, UniqueAttributeLocalNames: true}

// parseAuthnRequest reads an inflated AuthnRequest in the same single pass
// that runs the untrusted-XML guard (docs/threat-model.md "Order of checks
// at the SSO endpoint", step 6), then checks what does not depend on
// configuration. The reading is encoding/xml.Unmarshal's into AuthnRequest
// (TestRequestReaderMatchesUnmarshal and FuzzAuthnRequestPipeline compare
// them) without a second tokenization of the document, but for one thing
// Unmarshal gets wrong: a namespace declaration is not an attribute, so
// xmlns:ID="…" does not set the ID.
func parseAuthnRequest(doc []byte) (*AuthnRequest, *Refusal) {
	var rr requestReader
	if err := xmlguard.Walk(doc, requestLimits, rr.visit); err != nil {
		reason := "xml.malformed"
		var ge *xmlguard.Error
		if errors.As(err, &ge) {
			reason = ge.Reason
		}
		return nil, refuse(400, reason, "the AuthnRequest is refused: "+err.Error())
	}
	if rr.err != "" {
		return nil, refuse(400, "request.not_authnrequest", "the message is not a samlp:AuthnRequest: "+rr.err)
	}
	req := &rr.req
	if req.Version != "2.0" {
		return nil, refuse(400, "request.version", fmt.Sprintf("Version is %q, want 2.0", req.Version))
	}
	if !isNCName(req.ID) || len(req.ID) > maxRequestIDLength {
		return nil, refuse(400, "request.id", "ID is missing, too long or not an NCName")
	}
	if req.Issuer == nil || strings.TrimSpace(req.Issuer.Value) == "" {
		return nil, refuse(400, "request.issuer", "Issuer is missing")
	}
	if f := req.Issuer.Format; f != "" && f != saml.NameIDFormatEntity {
		return nil, refuse(400, "request.issuer", "Issuer Format is "+f+", want entity or none")
	}
	if req.AssertionConsumerServiceURL != "" && req.AssertionConsumerServiceIndex != "" {
		return nil, refuse(400, "request.acs", "both AssertionConsumerServiceURL and AssertionConsumerServiceIndex are present")
	}
	if req.ProtocolBinding != "" && req.ProtocolBinding != saml.BindingHTTPPost {
		return nil, refuse(400, "request.binding", "ProtocolBinding "+req.ProtocolBinding+" is not supported; only HTTP-POST")
	}
	for _, b := range []string{req.ForceAuthn, req.IsPassive} {
		if b != "" && b != "true" && b != "false" && b != "1" && b != "0" {
			return nil, refuse(400, "request.boolean", "ForceAuthn/IsPassive is not an xs:boolean")
		}
	}
	return req, nil
}

// requestReader builds an AuthnRequest from the tokens xmlguard.Walk hands
// it: the root's attributes, and of its children the saml:Issuer (Format
// and its own text) and the samlp:NameIDPolicy (Format). Other elements
// are skipped, as Unmarshal skips what AuthnRequest has no field for.
type requestReader struct {
	req      AuthnRequest
	inIssuer bool
	issuer   []byte // the Issuer's text runs so far (a comment splits one)
	err      string // the root is not a samlp:AuthnRequest
}

func (rr *requestReader) visit(depth int, tok xml.Token) {
	switch t := tok.(type) {
	case xml.StartElement:
		switch {
		case depth == 1:
			rr.root(t)
		case depth == 2 && t.Name == xml.Name{Space: saml.NamespaceAssertion, Local: "Issuer"}:
			rr.req.Issuer = &Issuer{Format: attr(t, "Format")}
			rr.inIssuer = true
		case depth == 2 && t.Name == xml.Name{Space: saml.NamespaceProtocol, Local: "NameIDPolicy"}:
			rr.req.NameIDPolicy = &NameIDPolicy{Format: attr(t, "Format")}
		}
	case xml.CharData:
		if depth == 2 && rr.inIssuer {
			rr.issuer = append(rr.issuer, t...) // one buffer: += would copy the text at every run
		}
	case xml.EndElement:
		if depth == 2 && rr.inIssuer {
			rr.req.Issuer.Value = string(rr.issuer)
			rr.inIssuer = false
		}
	}
}

func (rr *requestReader) root(t xml.StartElement) {
	if t.Name.Local != "AuthnRequest" {
		rr.err = "expected element type <AuthnRequest> but have <" + t.Name.Local + ">"
		return
	}
	if t.Name.Space != saml.NamespaceProtocol {
		space := t.Name.Space
		if space == "" {
			space = "no name space"
		}
		rr.err = "expected element <AuthnRequest> in name space " + saml.NamespaceProtocol + " but have " + space
		return
	}
	r := &rr.req
	r.XMLName = t.Name
	for _, a := range t.Attr {
		if isNamespaceDeclaration(a) {
			continue
		}
		switch a.Name.Local {
		case "ID":
			r.ID = a.Value
		case "Version":
			r.Version = a.Value
		case "IssueInstant":
			r.IssueInstant = a.Value
		case "Destination":
			r.Destination = a.Value
		case "ForceAuthn":
			r.ForceAuthn = a.Value
		case "IsPassive":
			r.IsPassive = a.Value
		case "ProtocolBinding":
			r.ProtocolBinding = a.Value
		case "AssertionConsumerServiceURL":
			r.AssertionConsumerServiceURL = a.Value
		case "AssertionConsumerServiceIndex":
			r.AssertionConsumerServiceIndex = a.Value
		case "AttributeConsumingServiceIndex":
			r.AttributeConsumingServiceIndex = a.Value
		}
	}
}

// attr is the value of e's attribute with this local name, in any
// namespace, as Unmarshal matches an untagged attr field (the guard has
// refused two attributes of one local name).
func attr(e xml.StartElement, local string) string {
	for _, a := range e.Attr {
		if a.Name.Local == local && !isNamespaceDeclaration(a) {
			return a.Value
		}
	}
	return ""
}

func isNamespaceDeclaration(a xml.Attr) bool {
	return a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")
}

func xsBool(s string) bool { return s == "true" || s == "1" }

// parseInstant parses an xs:dateTime that SAML core §1.3.3 requires in UTC
// with a "Z" suffix.
func parseInstant(s string) (time.Time, error) {
	if !strings.HasSuffix(s, "Z") {
		return time.Time{}, errors.New("IssueInstant is not UTC (no Z suffix)")
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, fmt.Errorf("IssueInstant %q is not an xs:dateTime", s)
	}
	return t, nil
}

// isNCName reports whether s is an ASCII NCName (XML namespaces §3): a letter
// or '_' then letters, digits, '.', '-', '_'.
func isNCName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '-'):
		default:
			return false
		}
	}
	return true
}
