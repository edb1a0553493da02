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

	xrv "github.com/mattermost/xml-roundtrip-validator"
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
	bindingHTTPPost      = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"
	nameIDUnspecified    = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified"
	maxXMLDepth          = 16
	maxXMLElements       = 256
	maxRequestIDLength   = 256
	maxEncodedSAMLObject = maxURLBytes
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

// prescanXML walks the tokens before anything is unmarshalled (SECURITY.md
// step 6): no DOCTYPE or other directive, no processing instruction but the
// leading XML declaration, bounded depth and element count, no attribute
// name twice on one element, no direct child of the root twice (the
// AuthnRequest schema allows each child once; encoding/xml would silently
// keep the last). Then the round-trip validator.
func prescanXML(doc []byte) *Refusal {
	if !validXMLText(string(doc)) {
		return refuse(400, "xml.charset", "the XML is not valid UTF-8 or holds forbidden characters")
	}
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	depth, elements, tokens := 0, 0, 0
	rootChildren := map[xml.Name]bool{}
	// RawToken checks neither that end tags match nor that there is one
	// root: keep the open elements to refuse both, and names that are not
	// QNames (":a", "a:"), which namespace-aware parsers read differently.
	var open []xml.Name
	rootClosed := false
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(400, "xml.malformed", "malformed XML: "+err.Error())
		}
		tokens++
		switch t := tok.(type) {
		case xml.Directive:
			return refuse(400, "xml.doctype", "the XML carries a DOCTYPE or other directive")
		case xml.ProcInst:
			if t.Target != "xml" || tokens != 1 {
				return refuse(400, "xml.procinst", "the XML carries a processing instruction")
			}
		case xml.StartElement:
			if rootClosed {
				return refuse(400, "xml.malformed", "the XML has more than one root element")
			}
			if !isQName(t.Name) {
				return refuse(400, "xml.malformed", "element name "+truncate(t.Name.Space+":"+t.Name.Local, 100)+" is not a QName")
			}
			open = append(open, t.Name)
			depth++
			elements++
			if depth > maxXMLDepth || elements > maxXMLElements {
				return refuse(400, "xml.limits", "the XML is nested too deeply or has too many elements")
			}
			seen := make(map[string]bool, len(t.Attr))
			for _, a := range t.Attr {
				if !isQName(a.Name) {
					return refuse(400, "xml.malformed", "attribute name "+truncate(a.Name.Space+":"+a.Name.Local, 100)+" is not a QName")
				}
				k := a.Name.Local
				if a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns") {
					k = "xmlns:" + k
				}
				if seen[k] {
					return refuse(400, "xml.duplicate_attribute", "attribute "+k+" appears twice on <"+t.Name.Local+">")
				}
				seen[k] = true
			}
			if depth == 2 {
				if rootChildren[t.Name] {
					return refuse(400, "xml.duplicate_element", "element <"+t.Name.Local+"> appears twice")
				}
				rootChildren[t.Name] = true
			}
		case xml.EndElement:
			if len(open) == 0 || open[len(open)-1] != t.Name {
				return refuse(400, "xml.malformed", "end tag </"+truncate(t.Name.Local, 100)+"> does not match its start tag")
			}
			open = open[:len(open)-1]
			rootClosed = len(open) == 0
			depth--
		case xml.CharData:
			if (len(open) == 0) && len(bytes.TrimSpace(t)) > 0 {
				return refuse(400, "xml.malformed", "the XML has text outside the root element")
			}
		}
	}
	if elements == 0 || len(open) > 0 {
		return refuse(400, "xml.malformed", "the XML has no element or an unclosed one")
	}
	if err := xrv.Validate(bytes.NewReader(doc)); err != nil {
		return refuse(400, "xml.roundtrip", "the XML does not survive an encoding/xml round trip: "+err.Error())
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
	if f := req.Issuer.Format; f != "" && f != nameIDEntity {
		return nil, refuse(400, "request.issuer", "Issuer Format is "+f+", want entity or none")
	}
	if req.AssertionConsumerServiceURL != "" && req.AssertionConsumerServiceIndex != "" {
		return nil, refuse(400, "request.acs", "both AssertionConsumerServiceURL and AssertionConsumerServiceIndex are present")
	}
	if req.ProtocolBinding != "" && req.ProtocolBinding != bindingHTTPPost {
		return nil, refuse(400, "request.binding", "ProtocolBinding "+req.ProtocolBinding+" is not supported; only HTTP-POST")
	}
	for _, b := range []string{req.ForceAuthn, req.IsPassive} {
		if b != "" && b != "true" && b != "false" && b != "1" && b != "0" {
			return nil, refuse(400, "request.boolean", "ForceAuthn/IsPassive is not an xs:boolean")
		}
	}
	return &req, nil
}

// isQName reports whether a raw token name was written as a QName: a local
// name, optionally after one non-empty prefix (RawToken leaves a name with a
// leading or trailing colon whole in Local).
func isQName(n xml.Name) bool {
	return n.Local != "" && !strings.Contains(n.Local, ":")
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
