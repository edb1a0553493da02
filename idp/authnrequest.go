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

// prescanXML runs the untrusted-XML guard before anything is unmarshalled
// (docs/threat-model.md "Order of checks at the SSO endpoint", step 6).
func prescanXML(doc []byte) *Refusal {
	if err := xmlguard.Check(doc, requestLimits); err != nil {
		reason := "xml.malformed"
		var ge *xmlguard.Error
		if errors.As(err, &ge) {
			reason = ge.Reason
		}
		return refuse(400, reason, "the AuthnRequest is refused: "+err.Error())
	}
	return nil
}

// parseAuthnRequest pre-scans and unmarshals an inflated AuthnRequest and
// checks what does not depend on configuration.
func parseAuthnRequest(doc []byte) (*AuthnRequest, *Refusal) {
	if r := prescanXML(doc); r != nil {
		return nil, r
	}
	var req AuthnRequest
	if err := xml.Unmarshal(doc, &req); err != nil {
		return nil, refuse(400, "request.not_authnrequest", "the message is not a samlp:AuthnRequest: "+err.Error())
	}
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
	return &req, nil
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
