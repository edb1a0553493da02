package metadata

import (
	"fmt"

	"github.com/beevik/etree"

	"hcidp/internal/xmlguard"
)

// metadataLimits bound SP metadata (docs/threat-model.md "SP metadata
// loading"). Real metadata is far inside them: Huawei's file has 20
// elements, depth 6.
var metadataLimits = xmlguard.Limits{MaxBytes: MaxMetadataSize, MaxDepth: 64, MaxElements: 10000}

var utf8BOM = []byte{0xEF, 0xBB, 0xBF}

// parseUntrustedXML runs the untrusted-XML guard (package xmlguard) on a
// document from outside, then parses it with etree. what names the
// document in error messages.
func parseUntrustedXML(data []byte, what string) (*etree.Document, error) {
	if len(data) == 0 {
		return nil, fmt.Errorf("%s is empty", what)
	}
	if len(data) > MaxMetadataSize {
		return nil, fmt.Errorf("%s is %d bytes, more than the %d-byte limit; this is not a single entity's metadata", what, len(data), MaxMetadataSize)
	}
	if err := xmlguard.Check(data, metadataLimits); err != nil {
		return nil, fmt.Errorf("%s is refused: %w", what, err)
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
