package idp

import (
	"bytes"
	"errors"
	"time"
)

// This file writes XML directly in its Exclusive XML Canonicalization form
// (https://www.w3.org/TR/xml-exc-c14n/, which inherits the escaping and
// attribute ordering of https://www.w3.org/TR/xml-c14n §2.3).
//
// Why by hand: the signed Assertion must carry InclusiveNamespaces
// PrefixList="xsd", which neither crewjam/saml nor goxmldsig's SignEnveloped
// can emit (docs/threat-model.md "Libraries and advisories to stay clear
// of"). Writing the canonical bytes once
// means the digest is taken over exactly the bytes we send, nothing is parsed
// or re-serialized on the hot path, and "sign the final tree, never
// re-serialize after" holds by construction. TestCanonicalFormMatchesGoxmldsig
// proves the output equals goxmldsig's canonicalizer byte for byte, and the
// end-to-end tests verify every Response with xmlsec1.

// samlTime formats t as xs:dateTime in UTC with millisecond precision.
func samlTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

var errInvalidXMLChar = errors.New("value contains a character not allowed in XML")

// writeText appends s escaped as canonical character data.
func writeText(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '>':
			esc = "&gt;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}

// writeAttr appends ` name="value"` with value escaped as a canonical attribute value.
func writeAttr(b *bytes.Buffer, name, s string) {
	b.WriteByte(' ')
	b.WriteString(name)
	b.WriteString(`="`)
	writeAttrValue(b, s)
	b.WriteByte('"')
}

// writeAttrValue appends s escaped as a canonical attribute value (no quotes).
func writeAttrValue(b *bytes.Buffer, s string) {
	last := 0
	for i := 0; i < len(s); i++ {
		var esc string
		switch s[i] {
		case '&':
			esc = "&amp;"
		case '<':
			esc = "&lt;"
		case '"':
			esc = "&quot;"
		case '\t':
			esc = "&#x9;"
		case '\n':
			esc = "&#xA;"
		case '\r':
			esc = "&#xD;"
		default:
			continue
		}
		b.WriteString(s[last:i])
		b.WriteString(esc)
		last = i + 1
	}
	b.WriteString(s[last:])
}
