package idp

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"hcidp/internal/xmlguard"
	"hcidp/saml"
	"io"
	"sync"
	"time"
)

// Attribute is one saml:Attribute with a single xsd:string value.
type Attribute struct {
	Name  string
	Value string
}

// ResponseParams is everything that varies between two Responses
// (docs/profile.md §3). Times are written in UTC with millisecond precision.
type ResponseParams struct {
	ResponseID   string
	AssertionID  string
	IssueInstant time.Time
	// Destination is the ACS URL (Response Destination and bearer Recipient).
	Destination  string
	InResponseTo string
	// SPEntityID is the Audience, the NameQualifier and the SubjectLocality Address.
	SPEntityID   string
	NameID       string
	SessionIndex string
	AuthnInstant time.Time
	// NotOnOrAfter ends the bearer confirmation and the Conditions;
	// NotBefore starts the Conditions.
	NotBefore    time.Time
	NotOnOrAfter time.Time
	Attributes   []Attribute
}

// ErrorParams describe a signed SAML error Response (no Assertion).
type ErrorParams struct {
	ResponseID   string
	IssueInstant time.Time
	Destination  string
	InResponseTo string
	// StatusCode is the top-level code (Requester or Responder);
	// SubStatus is the second-level code, e.g. saml.StatusNoPassive.
	StatusCode string
	SubStatus  string
	Message    string
}

// Signer builds and signs Responses with one key. Everything that depends
// only on the key, the certificate and the IdP entity ID is computed once.
type Signer struct {
	key      *rsa.PrivateKey
	entityID string
	// signResponse also signs the Response element.
	signResponse bool
	// keyInfo is the pre-rendered <ds:KeyInfo> element.
	keyInfo []byte
	// issuerAssertion is `<saml2:Issuer>entityID</saml2:Issuer>` (Assertion form);
	// issuerResponse is the Response form with its namespace and Format.
	issuerAssertion []byte
	issuerResponse  []byte
}

// NewSigner prepares a Signer. The key must match cert.
func NewSigner(key *rsa.PrivateKey, cert *x509.Certificate, entityID string, signResponse bool) (*Signer, error) {
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok || !pub.Equal(&key.PublicKey) {
		return nil, errors.New("signer: the certificate does not belong to the private key")
	}
	if !xmlguard.ValidString(entityID) || entityID == "" {
		return nil, errors.New("signer: invalid entity ID")
	}
	key.Precompute()
	s := &Signer{key: key, entityID: entityID, signResponse: signResponse}
	var b bytes.Buffer
	b.WriteString(`<ds:KeyInfo><ds:X509Data><ds:X509Certificate>`)
	b.WriteString(base64.StdEncoding.EncodeToString(cert.Raw))
	b.WriteString(`</ds:X509Certificate></ds:X509Data></ds:KeyInfo>`)
	s.keyInfo = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(`<saml2:Issuer>`)
	writeText(&b, entityID)
	b.WriteString(`</saml2:Issuer>`)
	s.issuerAssertion = bytes.Clone(b.Bytes())

	b.Reset()
	b.WriteString(`<saml2:Issuer xmlns:saml2="` + saml.NamespaceAssertion + `" Format="` + saml.NameIDFormatEntity + `">`)
	writeText(&b, entityID)
	b.WriteString(`</saml2:Issuer>`)
	s.issuerResponse = bytes.Clone(b.Bytes())
	return s, nil
}

var bufPool = sync.Pool{New: func() any { return new(bytes.Buffer) }}

func getBuf() *bytes.Buffer { b := bufPool.Get().(*bytes.Buffer); b.Reset(); return b }

func putBuf(b *bytes.Buffer) {
	if b.Cap() <= 128<<10 {
		bufPool.Put(b)
	}
}

// Response returns the complete, signed Response document (docs/profile.md §3),
// XML declaration included.
func (s *Signer) Response(p *ResponseParams) ([]byte, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	// The Assertion in canonical form, split around the point where the
	// Signature goes (right after its Issuer, as the schema orders it).
	head := getBuf()
	defer putBuf(head)
	head.WriteString(`<saml2:Assertion xmlns:saml2="` + saml.NamespaceAssertion + `" xmlns:xsd="` + saml.NamespaceXSD + `"`)
	writeAttr(head, "ID", p.AssertionID)
	writeAttr(head, "IssueInstant", samlTime(p.IssueInstant))
	head.WriteString(` Version="2.0">`)
	head.Write(s.issuerAssertion)

	tail := getBuf()
	defer putBuf(tail)
	writeAssertionBody(tail, p)

	sig := getBuf()
	defer putBuf(sig)
	if err := s.signature(sig, p.AssertionID, head.Bytes(), tail.Bytes()); err != nil {
		return nil, err
	}

	// The Response: its own head, then the Assertion with the Signature spliced in.
	resp := getBuf()
	defer putBuf(resp)
	writeResponseStart(resp, p.ResponseID, p.IssueInstant, p.Destination, p.InResponseTo)
	resp.Write(s.issuerResponse)
	rest := getBuf()
	defer putBuf(rest)
	writeStatus(rest, saml.StatusSuccess, "", "")
	rest.Write(head.Bytes())
	rest.Write(sig.Bytes())
	rest.Write(tail.Bytes())
	rest.WriteString(`</saml2p:Response>`)
	return s.finish(resp, rest, p.ResponseID)
}

// ErrorResponse returns a signed Response carrying only a non-success Status
// (docs/threat-model.md: well-formed but unsupported requests get one, never an assertion).
func (s *Signer) ErrorResponse(p *ErrorParams) ([]byte, error) {
	for _, v := range []string{p.ResponseID, p.Destination, p.InResponseTo, p.StatusCode, p.SubStatus, p.Message} {
		if !xmlguard.ValidString(v) {
			return nil, errInvalidXMLChar
		}
	}
	if p.ResponseID == "" || p.Destination == "" || p.StatusCode == "" {
		return nil, errors.New("error response: ID, Destination and StatusCode are required")
	}
	resp := getBuf()
	defer putBuf(resp)
	writeResponseStart(resp, p.ResponseID, p.IssueInstant, p.Destination, p.InResponseTo)
	resp.Write(s.issuerResponse)
	rest := getBuf()
	defer putBuf(rest)
	writeStatus(rest, p.StatusCode, p.SubStatus, p.Message)
	rest.WriteString(`</saml2p:Response>`)
	// An error Response has no Assertion to carry the signature, so the
	// Response itself is always signed.
	return s.finishSigned(resp, rest, p.ResponseID)
}

// finish assembles XML declaration + head + rest, signing the Response when configured.
func (s *Signer) finish(head, rest *bytes.Buffer, id string) ([]byte, error) {
	if s.signResponse {
		return s.finishSigned(head, rest, id)
	}
	out := make([]byte, 0, len(xmlDecl)+head.Len()+rest.Len())
	out = append(out, xmlDecl...)
	out = append(out, head.Bytes()...)
	return append(out, rest.Bytes()...), nil
}

// finishSigned signs the Response element, the Signature going right after its Issuer.
func (s *Signer) finishSigned(head, rest *bytes.Buffer, id string) ([]byte, error) {
	sig := getBuf()
	defer putBuf(sig)
	if err := s.signature(sig, id, head.Bytes(), rest.Bytes()); err != nil {
		return nil, err
	}
	out := make([]byte, 0, len(xmlDecl)+head.Len()+sig.Len()+rest.Len())
	out = append(out, xmlDecl...)
	out = append(out, head.Bytes()...)
	out = append(out, sig.Bytes()...)
	return append(out, rest.Bytes()...), nil
}

const xmlDecl = `<?xml version="1.0" encoding="UTF-8"?>` + "\n"

// writeResponseStart writes the start tag of samlp:Response (SAML core
// §3.2.2, §3.3.3): ID, the ACS as Destination, the request answered.
func writeResponseStart(b *bytes.Buffer, id string, instant time.Time, dest, inResponseTo string) {
	b.WriteString(`<saml2p:Response xmlns:saml2p="` + saml.NamespaceProtocol + `" Consent="` + saml.ConsentUnspecified + `"`)
	writeAttr(b, "Destination", dest)
	writeAttr(b, "ID", id)
	if inResponseTo != "" {
		writeAttr(b, "InResponseTo", inResponseTo)
	}
	writeAttr(b, "IssueInstant", samlTime(instant))
	b.WriteString(` Version="2.0">`)
}

// writeAssertionBody writes the Assertion's children after the Signature and
// its end tag, in schema order (SAML core §2.3.3; docs/profile.md §3 keeps
// Huawei's sample order: Subject, Conditions, AttributeStatement,
// AuthnStatement).
func writeAssertionBody(b *bytes.Buffer, p *ResponseParams) {
	writeSubject(b, p)
	writeConditions(b, p)
	writeAttributeStatement(b, p.Attributes)
	writeAuthnStatement(b, p)
	b.WriteString(`</saml2:Assertion>`)
}

// writeSubject writes saml:Subject (SAML core §2.4.1): a transient NameID
// qualified by the SP (§2.2.3, §8.3.8) and a bearer SubjectConfirmation
// (§2.4.1.1, SAML profiles §4.1.4.2) whose data names the request answered,
// the ACS as Recipient, and no NotBefore.
func writeSubject(b *bytes.Buffer, p *ResponseParams) {
	b.WriteString(`<saml2:Subject><saml2:NameID Format="` + saml.NameIDFormatTransient + `"`)
	writeAttr(b, "NameQualifier", p.SPEntityID)
	b.WriteByte('>')
	writeText(b, p.NameID)
	b.WriteString(`</saml2:NameID><saml2:SubjectConfirmation Method="` + saml.ConfirmationMethodBearer + `"><saml2:SubjectConfirmationData`)
	writeAttr(b, "InResponseTo", p.InResponseTo)
	writeAttr(b, "NotOnOrAfter", samlTime(p.NotOnOrAfter))
	writeAttr(b, "Recipient", p.Destination)
	b.WriteString(`></saml2:SubjectConfirmationData></saml2:SubjectConfirmation></saml2:Subject>`)
}

// writeConditions writes saml:Conditions (SAML core §2.5.1) with the
// validity window and an AudienceRestriction to the SP (§2.5.1.4).
func writeConditions(b *bytes.Buffer, p *ResponseParams) {
	b.WriteString(`<saml2:Conditions`)
	writeAttr(b, "NotBefore", samlTime(p.NotBefore))
	writeAttr(b, "NotOnOrAfter", samlTime(p.NotOnOrAfter))
	b.WriteString(`><saml2:AudienceRestriction><saml2:Audience>`)
	writeText(b, p.SPEntityID)
	b.WriteString(`</saml2:Audience></saml2:AudienceRestriction></saml2:Conditions>`)
}

// writeAttributeStatement writes saml:AttributeStatement (SAML core §2.7.3):
// each attribute with the URI name format (§8.2.2) and one xsd:string value
// (docs/profile.md §3, the attribute table).
func writeAttributeStatement(b *bytes.Buffer, attrs []Attribute) {
	b.WriteString(`<saml2:AttributeStatement>`)
	for _, a := range attrs {
		b.WriteString(`<saml2:Attribute`)
		writeAttr(b, "FriendlyName", a.Name)
		writeAttr(b, "Name", a.Name)
		b.WriteString(` NameFormat="` + saml.AttrNameFormatURI + `"><saml2:AttributeValue xmlns:xsi="` + saml.NamespaceXSI + `" xsi:type="xsd:string">`)
		writeText(b, a.Value)
		b.WriteString(`</saml2:AttributeValue></saml2:Attribute>`)
	}
	b.WriteString(`</saml2:AttributeStatement>`)
}

// writeAuthnStatement writes saml:AuthnStatement (SAML core §2.7.2): when
// the customer signed in, the session index, a SubjectLocality (§2.7.2.1)
// with the SP's entity ID as Huawei's sample has it, and the unspecified
// authentication context class.
func writeAuthnStatement(b *bytes.Buffer, p *ResponseParams) {
	b.WriteString(`<saml2:AuthnStatement`)
	writeAttr(b, "AuthnInstant", samlTime(p.AuthnInstant))
	writeAttr(b, "SessionIndex", p.SessionIndex)
	b.WriteString(`><saml2:SubjectLocality`)
	writeAttr(b, "Address", p.SPEntityID)
	b.WriteString(`></saml2:SubjectLocality><saml2:AuthnContext><saml2:AuthnContextClassRef>` + saml.AuthnContextUnspecified +
		`</saml2:AuthnContextClassRef></saml2:AuthnContext></saml2:AuthnStatement>`)
}

// writeStatus writes samlp:Status (SAML core §3.2.2.1): the top-level code,
// an optional second-level code and an optional message.
func writeStatus(b *bytes.Buffer, code, sub, msg string) {
	b.WriteString(`<saml2p:Status><saml2p:StatusCode`)
	writeAttr(b, "Value", code)
	b.WriteString(`>`)
	if sub != "" {
		b.WriteString(`<saml2p:StatusCode`)
		writeAttr(b, "Value", sub)
		b.WriteString(`></saml2p:StatusCode>`)
	}
	b.WriteString(`</saml2p:StatusCode>`)
	if msg != "" {
		b.WriteString(`<saml2p:StatusMessage>`)
		writeText(b, msg)
		b.WriteString(`</saml2p:StatusMessage>`)
	}
	b.WriteString(`</saml2p:Status>`)
}

// signedInfoOpen is the canonical start tag of SignedInfo when it is
// canonicalized on its own (exc-c14n renders the ds namespace there); inside
// the document the namespace is declared on ds:Signature instead.
const (
	signedInfoOpenC14N = `<ds:SignedInfo xmlns:ds="` + saml.NamespaceXMLDSig + `">`
	signedInfoOpenDoc  = `<ds:SignedInfo>`
	signedInfoPrefix   = `<ds:CanonicalizationMethod Algorithm="` + saml.NamespaceExcC14N + `"></ds:CanonicalizationMethod>` +
		`<ds:SignatureMethod Algorithm="` + saml.AlgRSASHA256 + `"></ds:SignatureMethod><ds:Reference URI="#`
	signedInfoMiddle = `"><ds:Transforms><ds:Transform Algorithm="` + saml.AlgEnvelopedSignature + `"></ds:Transform>` +
		`<ds:Transform Algorithm="` + saml.NamespaceExcC14N + `"><ec:InclusiveNamespaces xmlns:ec="` + saml.NamespaceExcC14N +
		`" PrefixList="xsd"></ec:InclusiveNamespaces></ds:Transform></ds:Transforms>` +
		`<ds:DigestMethod Algorithm="` + saml.AlgDigestSHA256 + `"></ds:DigestMethod><ds:DigestValue>`
	signedInfoEnd = `</ds:DigestValue></ds:Reference></ds:SignedInfo>`
)

var sha256Pool = sync.Pool{New: func() any { return sha256.New() }}

// signature writes an enveloped <ds:Signature> over the element whose
// canonical bytes are before+after (the Signature itself excluded, which is
// what the enveloped-signature transform does) and whose ID is id.
func (s *Signer) signature(w *bytes.Buffer, id string, before, after []byte) error {
	h := sha256Pool.Get().(hash.Hash)
	defer sha256Pool.Put(h)
	h.Reset()
	h.Write(before)
	h.Write(after)
	var sum [sha256.Size]byte
	var digest [44]byte
	base64.StdEncoding.Encode(digest[:], h.Sum(sum[:0]))

	// SignedInfo, canonical form, for signing.
	h.Reset()
	io.WriteString(h, signedInfoOpenC14N)
	io.WriteString(h, signedInfoPrefix)
	writeHashedAttrValue(h, id)
	io.WriteString(h, signedInfoMiddle)
	h.Write(digest[:])
	io.WriteString(h, signedInfoEnd)
	sigValue, err := rsa.SignPKCS1v15(nil, s.key, crypto.SHA256, h.Sum(sum[:0]))
	if err != nil {
		return fmt.Errorf("sign: %w", err)
	}

	w.WriteString(`<ds:Signature xmlns:ds="` + saml.NamespaceXMLDSig + `">` + signedInfoOpenDoc + signedInfoPrefix)
	writeAttrValue(w, id)
	w.WriteString(signedInfoMiddle)
	w.Write(digest[:])
	w.WriteString(signedInfoEnd + `<ds:SignatureValue>`)
	enc := base64.StdEncoding
	n := w.Len()
	w.Grow(enc.EncodedLen(len(sigValue)))
	w.Write(make([]byte, enc.EncodedLen(len(sigValue))))
	enc.Encode(w.Bytes()[n:], sigValue)
	w.WriteString(`</ds:SignatureValue>`)
	w.Write(s.keyInfo)
	w.WriteString(`</ds:Signature>`)
	return nil
}

func writeHashedAttrValue(h hash.Hash, s string) {
	b := getBuf()
	writeAttrValue(b, s)
	h.Write(b.Bytes())
	putBuf(b)
}

func (p *ResponseParams) validate() error {
	for _, v := range []string{p.ResponseID, p.AssertionID, p.Destination, p.InResponseTo, p.SPEntityID, p.NameID, p.SessionIndex} {
		if v == "" {
			return errors.New("response: ID, AssertionID, Destination, InResponseTo, SPEntityID, NameID and SessionIndex are required")
		}
		if !xmlguard.ValidString(v) {
			return errInvalidXMLChar
		}
	}
	for _, a := range p.Attributes {
		if !xmlguard.ValidString(a.Name) || !xmlguard.ValidString(a.Value) || a.Name == "" {
			return fmt.Errorf("response: attribute %q: %w", a.Name, errInvalidXMLChar)
		}
	}
	return nil
}

// randomID returns "_" followed by 32 hex digits (128 bits) from r: a valid
// NCName as SAML core §1.3.4 requires of IDs.
func randomID(r io.Reader) (string, error) {
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return "", err
	}
	const hexd = "0123456789abcdef"
	out := make([]byte, 33)
	out[0] = '_'
	for i, c := range b {
		out[1+2*i] = hexd[c>>4]
		out[2+2*i] = hexd[c&15]
	}
	return string(out), nil
}
