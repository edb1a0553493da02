package check

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// MaxSize is the largest Response document (decoded XML) that is inspected.
const MaxSize = 1 << 20

// DefaultSkew is the clock skew allowed when Expect.Skew is zero.
const DefaultSkew = 3 * time.Minute

// MaxConfirmationLifetime is how far in the future the bearer
// SubjectConfirmationData NotOnOrAfter may lie.
const MaxConfirmationLifetime = 10 * time.Minute

// Identifiers of the profile (SAML core, SAML bindings, XML-DSig, exc-c14n).
const (
	NSProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	NSAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
	NSDSig      = "http://www.w3.org/2000/09/xmldsig#"
	NSExcC14N   = "http://www.w3.org/2001/10/xml-exc-c14n#"
	NSXSD       = "http://www.w3.org/2001/XMLSchema"
	NSXSI       = "http://www.w3.org/2001/XMLSchema-instance"

	StatusSuccess      = "urn:oasis:names:tc:SAML:2.0:status:Success"
	NameIDTransient    = "urn:oasis:names:tc:SAML:2.0:nameid-format:transient"
	NameIDEntity       = "urn:oasis:names:tc:SAML:2.0:nameid-format:entity"
	MethodBearer       = "urn:oasis:names:tc:SAML:2.0:cm:bearer"
	AuthnContextUnspec = "urn:oasis:names:tc:SAML:2.0:ac:classes:unspecified"
	AttrNameFormatURI  = "urn:oasis:names:tc:SAML:2.0:attrname-format:uri"

	AlgExcC14N    = "http://www.w3.org/2001/10/xml-exc-c14n#"
	AlgEnveloped  = "http://www.w3.org/2000/09/xmldsig#enveloped-signature"
	AlgRSASHA256  = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
	AlgDigestSHA2 = "http://www.w3.org/2001/04/xmlenc#sha256"
	AlgRSASHA1    = "http://www.w3.org/2000/09/xmldsig#rsa-sha1"
	AlgDigestSHA1 = "http://www.w3.org/2000/09/xmldsig#sha1"
)

// Limits of the token-level pre-scan.
const (
	maxDepth    = 32
	maxElements = 5000
)

// Expect holds what the relying party knows before it looks at a Response.
type Expect struct {
	// IdPCerts are the signing certificates from the IdP metadata.
	IdPCerts []*x509.Certificate
	// IdPEntityID is the IdP's entityID.
	IdPEntityID string
	// Destination is the SP's AssertionConsumerService URL.
	Destination string
	// Audience is the SP's entityID.
	Audience string
	// InResponseTo is the ID of the AuthnRequest; "" means don't check.
	InResponseTo string
	// BpID is the partner ID expected in the bpId attribute; "" means don't check.
	BpID string
	// Now is the time of the check; zero means time.Now().
	Now time.Time
	// Skew is the allowed clock skew; zero means DefaultSkew.
	Skew time.Duration
}

// Finding is one way in which a Response breaks the profile.
type Finding struct {
	// Rule is a short stable code, e.g. "signature.invalid" or "attr.xUserId.mismatch".
	Rule string `json:"rule"`
	// Message explains the problem in plain English, with the expected and the found value.
	Message string `json:"message"`
}

func (f Finding) String() string { return f.Rule + ": " + f.Message }

// Result is the outcome of checking one Response.
//
// The fields taken from the Assertion (AssertionID, NameID, Attributes,
// SessionIndex, AuthnInstant) are filled in only from the element returned by
// signature verification; they stay empty when the signature does not verify.
type Result struct {
	OK           bool              `json:"ok"`
	Findings     []Finding         `json:"findings"`
	ResponseID   string            `json:"responseId,omitempty"`
	AssertionID  string            `json:"assertionId,omitempty"`
	InResponseTo string            `json:"inResponseTo,omitempty"`
	NameID       string            `json:"nameId,omitempty"`
	Issuer       string            `json:"issuer,omitempty"`
	Attributes   map[string]string `json:"attributes"`
	SessionIndex string            `json:"sessionIndex,omitempty"`
	AuthnInstant time.Time         `json:"authnInstant,omitzero"`
	StatusCode   string            `json:"statusCode,omitempty"`
}

// Has reports whether the result contains a finding with the given rule.
func (r *Result) Has(rule string) bool {
	for _, f := range r.Findings {
		if f.Rule == rule {
			return true
		}
	}
	return false
}

// Rules returns the rule codes of all findings, in order.
func (r *Result) Rules() []string {
	out := make([]string, len(r.Findings))
	for i, f := range r.Findings {
		out[i] = f.Rule
	}
	return out
}

// Response checks the Response XML document doc against the profile.
// It never panics and never returns nil.
func Response(doc []byte, exp Expect) *Result {
	if exp.Skew <= 0 {
		exp.Skew = DefaultSkew
	}
	if exp.Now.IsZero() {
		exp.Now = time.Now()
	}
	exp.Now = exp.Now.UTC()
	c := &checker{exp: exp, res: &Result{Attributes: map[string]string{}}}
	c.run(doc)
	c.res.OK = len(c.res.Findings) == 0
	return c.res
}

// checker carries the state of one Response check.
type checker struct {
	exp Expect
	res *Result
	// unverified is set while the Assertion content is inspected for
	// diagnosis only, because its signature did not verify.
	unverified bool
}

func (c *checker) add(rule, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if c.unverified {
		msg = "[checked on unsigned content, for diagnosis only] " + msg
	}
	c.res.Findings = append(c.res.Findings, Finding{Rule: rule, Message: msg})
}

func (c *checker) run(doc []byte) {
	if len(doc) == 0 {
		c.add("input.empty", "the document is empty; expected a samlp:Response XML document")
		return
	}
	if len(doc) > MaxSize {
		c.add("input.too_large", "the document is %d bytes; at most %d bytes (1 MiB) are accepted", len(doc), MaxSize)
		return
	}
	if !c.prescan(doc) {
		return
	}
	if err := xrv.Validate(bytes.NewReader(doc)); err != nil {
		c.add("input.roundtrip", "the XML does not survive a parse/serialize round trip unchanged (%v); this is how XML signature bypasses are built and such documents are refused", err)
		return
	}
	d := etree.NewDocument()
	if err := d.ReadFromBytes(doc); err != nil {
		c.add("input.malformed", "the document is not well-formed XML: %v", err)
		return
	}
	root := d.Root()
	if root == nil {
		c.add("input.malformed", "the document has no root element")
		return
	}
	c.checkResponse(root)
}

func (c *checker) checkResponse(root *etree.Element) {
	if !isElem(root, NSProtocol, "Response") {
		c.add("response.root", "the root element is {%s}%s; expected samlp:Response in namespace %s", root.NamespaceURI(), root.Tag, NSProtocol)
		return
	}
	if v := root.SelectAttrValue("Version", ""); v != "2.0" {
		c.add("response.version", "Response Version is %q; expected \"2.0\"", v)
	}
	c.res.ResponseID = c.checkID("response.id", "Response", root)
	c.checkInstant("response.issue_instant", "Response IssueInstant", attr(root, "IssueInstant"))
	if d := attr(root, "Destination"); d == nil {
		c.add("response.destination", "Response has no Destination attribute; expected Destination=%q (the ACS URL from the SP metadata)", c.exp.Destination)
	} else if d.Value != c.exp.Destination {
		c.add("response.destination", "Response Destination is %q; expected %q (the ACS URL from the SP metadata)", d.Value, c.exp.Destination)
	}
	irt := root.SelectAttrValue("InResponseTo", "")
	c.res.InResponseTo = irt
	switch {
	case irt == "":
		c.add("response.in_response_to", "Response has no InResponseTo; Huawei Cloud only starts logins itself, so it must carry the ID of the AuthnRequest%s", expectedSuffix(c.exp.InResponseTo))
	case c.exp.InResponseTo != "" && irt != c.exp.InResponseTo:
		c.add("response.in_response_to", "Response InResponseTo is %q; expected %q (the ID of the AuthnRequest being answered)", irt, c.exp.InResponseTo)
	}

	children := root.ChildElements()
	// Issuer must be the first child element (SAML core §3.2.2).
	var issuer *etree.Element
	for _, ch := range children {
		if isElem(ch, NSAssertion, "Issuer") {
			issuer = ch
			break
		}
	}
	switch {
	case issuer == nil:
		c.add("response.issuer", "Response has no saml:Issuer; expected %q (the IdP entityID)", c.exp.IdPEntityID)
	default:
		if children[0] != issuer {
			c.add("response.issuer", "Response saml:Issuer is not the first child element, as the schema requires")
		}
		c.res.Issuer = issuer.Text()
		if got := issuer.Text(); got != c.exp.IdPEntityID {
			c.add("response.issuer", "Response Issuer is %q; expected %q (the entityID in the IdP metadata)", got, c.exp.IdPEntityID)
		}
		if f := attr(issuer, "Format"); f != nil && f.Value != NameIDEntity {
			c.add("response.issuer_format", "Response Issuer Format is %q; expected %q or no Format", f.Value, NameIDEntity)
		}
	}

	c.checkDuplicateIDs(root)

	// The optional Response-level signature.
	var respSigs []*etree.Element
	for _, ch := range children {
		if isElem(ch, NSDSig, "Signature") {
			respSigs = append(respSigs, ch)
		}
	}
	if len(respSigs) > 0 {
		c.checkResponseSignature(root, respSigs, issuer)
	}

	if !c.checkStatus(root) {
		return
	}

	var assertions, encrypted []*etree.Element
	walk(root, func(el *etree.Element) {
		switch {
		case isElem(el, NSAssertion, "Assertion"):
			assertions = append(assertions, el)
		case isElem(el, NSAssertion, "EncryptedAssertion"):
			encrypted = append(encrypted, el)
		}
	})
	if len(encrypted) > 0 {
		c.add("assertion.encrypted", "the Response contains %d saml:EncryptedAssertion element(s); the profile uses a plain signed Assertion (Huawei's metadata carries an encryption key, but the IdP must not encrypt)", len(encrypted))
	}
	switch {
	case len(assertions) == 0:
		if len(encrypted) == 0 {
			c.add("assertion.missing", "the Response contains no saml:Assertion; expected exactly one signed Assertion")
		}
		return
	case len(assertions) > 1:
		c.add("assertion.multiple", "the Response contains %d saml:Assertion elements (IDs %s); expected exactly one. Several Assertions are how signature-wrapping attacks work, so the Response is refused", len(assertions), assertionIDs(assertions))
		return
	}
	a := assertions[0]
	if a.Parent() != root {
		c.add("assertion.position", "the saml:Assertion is nested inside %s; expected it as a direct child of samlp:Response", a.Parent().FullTag())
		return
	}
	c.checkAssertion(a)
}

// checkStatus checks samlp:Status and reports whether it is Success.
func (c *checker) checkStatus(root *etree.Element) bool {
	status := child(root, NSProtocol, "Status")
	if status == nil {
		c.add("status.missing", "the Response has no samlp:Status; expected StatusCode %q", StatusSuccess)
		return false
	}
	code := child(status, NSProtocol, "StatusCode")
	if code == nil {
		c.add("status.missing", "samlp:Status has no samlp:StatusCode; expected %q", StatusSuccess)
		return false
	}
	v := code.SelectAttrValue("Value", "")
	c.res.StatusCode = v
	if v == StatusSuccess {
		return true
	}
	detail := ""
	if sub := child(code, NSProtocol, "StatusCode"); sub != nil {
		detail += fmt.Sprintf(" (second-level code %q)", sub.SelectAttrValue("Value", ""))
	}
	if msg := child(status, NSProtocol, "StatusMessage"); msg != nil && strings.TrimSpace(msg.Text()) != "" {
		detail += fmt.Sprintf(", message %q", abbreviate(strings.TrimSpace(msg.Text()), 200))
	}
	c.add("status.not_success", "the IdP answered with status %q%s instead of %q; no login takes place", v, detail, StatusSuccess)
	return false
}

// checkDuplicateIDs refuses documents in which two elements carry the same ID
// attribute, which makes "#ID" references ambiguous.
func (c *checker) checkDuplicateIDs(root *etree.Element) {
	seen := map[string]bool{}
	reported := map[string]bool{}
	walk(root, func(el *etree.Element) {
		id := el.SelectAttrValue("ID", "")
		if id == "" {
			return
		}
		if seen[id] && !reported[id] {
			reported[id] = true
			c.add("document.duplicate_id", "the ID %q is used by more than one element; IDs must be unique so that signature references are unambiguous", id)
		}
		seen[id] = true
	})
}

func assertionIDs(as []*etree.Element) string {
	ids := make([]string, len(as))
	for i, a := range as {
		ids[i] = fmt.Sprintf("%q", a.SelectAttrValue("ID", ""))
	}
	return strings.Join(ids, ", ")
}

func expectedSuffix(v string) string {
	if v == "" {
		return ""
	}
	return fmt.Sprintf(" (expected %q)", v)
}
