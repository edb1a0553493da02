package metadata

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
	validator "github.com/mattermost/xml-roundtrip-validator"
)

// Limits of the token pre-scan (SECURITY.md, "SP metadata loading"). Real
// metadata is far inside them: Huawei's file has 20 elements, depth 6.
const (
	maxXMLDepth    = 64
	maxXMLElements = 10000
)

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseUntrustedXML runs every check SECURITY.md asks for before a document
// from outside is trusted to a DOM: the token pre-scan (prescanXML), then the
// xml-roundtrip-validator (encoding/xml must read the same tokens back, the
// class of bugs behind CVE-2020-15216 and CVE-2020-27846), and finally parses
// it with etree. what names the document in error messages.
func parseUntrustedXML(data []byte, what string) (*etree.Document, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty", what)
	}
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d-byte limit; this is not a single entity's metadata", what, len(data), MaxMetadataSize)
	}
	if err := prescanXML(data); err != nil {
		return nil, fmt.Errorf("%s is refused: %w", what, err)
	}
	if err := validator.Validate(bytes.NewReader(data)); err != nil {
		return nil, fmt.Errorf("%s is refused: it does not survive an XML round trip unchanged (%v)", what, err)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil, fmt.Errorf("%s is not well-formed XML: %v", what, err)
	}
	if doc.Root() == nil {
		return nil, fmt.Errorf("%s has no root element", what)
	}
	return doc, nil
}

// prescanXML reads data token by token with a strict decoder and refuses:
//   - any DOCTYPE or other <!...> declaration (no DTDs, hence no entity
//     expansion or external entities);
//   - processing instructions other than the XML declaration at the very
//     start;
//   - a declared encoding other than UTF-8;
//   - XInclude elements (namespace http://www.w3.org/2001/XInclude);
//   - nesting deeper than 64 elements or more than 10000 elements;
//   - element or attribute names that are not QNames (x:="v");
//   - an element carrying the same attribute twice, literally or through two
//     prefixes bound to the same namespace (XML Namespaces §6.3). Parsers
//     disagree about which copy wins, which is the kind of difference
//     signature-wrapping attacks exploit.
//
// data must not start with a byte-order mark; callers strip it.
func prescanXML(data []byte) error {
	d := xml.NewDecoder(bytes.NewReader(data))
	d.Strict = true
	// No CharsetReader: a document declaring anything but UTF-8 fails.
	depth, elements := 0, 0
	first := true
	for {
		offset := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("malformed XML: %v", err)
		}
		isFirst := first
		first = false
		switch t := tok.(type) {
		case xml.Directive:
			kind := "a <!...> declaration"
			if s := strings.TrimSpace(string(t)); len(s) >= 7 && strings.EqualFold(s[:7], "DOCTYPE") {
				kind = "a DOCTYPE"
			} else if strings.HasPrefix(s, "ENTITY") {
				kind = "an ENTITY declaration"
			}
			return fmt.Errorf("it contains %s at byte %d; DTDs and entities are not allowed in SAML metadata (remove the declaration)", kind, offset)
		case xml.ProcInst:
			if t.Target == "xml" && isFirst && offset == 0 {
				continue
			}
			return fmt.Errorf("it contains the processing instruction <?%s?> at byte %d; only the XML declaration at the start is allowed", t.Target, offset)
		case xml.StartElement:
			depth++
			elements++
			if depth > maxXMLDepth {
				return fmt.Errorf("elements are nested deeper than %d levels", maxXMLDepth)
			}
			if elements > maxXMLElements {
				return fmt.Errorf("it has more than %d elements", maxXMLElements)
			}
			if !wellFormedName(t.Name) {
				return fmt.Errorf("element at byte %d has a malformed name %q", offset, t.Name.Local)
			}
			if t.Name.Space == NamespaceXInclude {
				return fmt.Errorf("it contains an XInclude element <%s> at byte %d; XInclude is not allowed", t.Name.Local, offset)
			}
			seen := make(map[xml.Name]struct{}, len(t.Attr))
			for _, a := range t.Attr {
				if !wellFormedName(a.Name) {
					return fmt.Errorf("element <%s> at byte %d has an attribute with a malformed name %q", t.Name.Local, offset, a.Name.Local)
				}
				if _, dup := seen[a.Name]; dup {
					name := a.Name.Local
					if a.Name.Space != "" {
						name = "{" + a.Name.Space + "}" + name
					}
					return fmt.Errorf("element <%s> at byte %d has a duplicate attribute %s", t.Name.Local, offset, name)
				}
				seen[a.Name] = struct{}{}
			}
		case xml.EndElement:
			depth--
		}
	}
	if elements == 0 {
		return errors.New("it contains no XML element")
	}
	return nil
}

// wellFormedName refuses the names Go's decoder lets through although they
// are not XML Namespaces QNames, such as the empty local part of x:="v".
func wellFormedName(n xml.Name) bool {
	return n.Local != "" && !strings.Contains(n.Local, ":")
}

// Helpers for walking an etree tree by namespace rather than by prefix.

// isElem reports whether el is the element {ns}local.
func isElem(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// childElems returns el's child elements named {ns}local, in document order.
func childElems(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, c := range el.ChildElements() {
		if isElem(c, ns, local) {
			out = append(out, c)
		}
	}
	return out
}

// attrValue returns the value of el's attribute with no namespace prefix
// named key. (etree's SelectAttr("key") would also match "foo:key".)
func attrValue(el *etree.Element, key string) (string, bool) {
	for _, a := range el.Attr {
		if a.Space == "" && a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// countDescendants counts the elements named {ns}local below el (not el
// itself).
func countDescendants(el *etree.Element, ns, local string) int {
	n := 0
	for _, c := range el.ChildElements() {
		if isElem(c, ns, local) {
			n++
		}
		n += countDescendants(c, ns, local)
	}
	return n
}
