// Package xmlguard checks an XML document that comes from outside before
// any parser builds anything from it (docs/threat-model.md, "Order of
// checks at the SSO endpoint" step 6 and "SP metadata loading"). hcidp reads
// two such documents: Huawei's AuthnRequests (package idp) and SP metadata
// (package metadata); both go through Check, with their own Limits.
//
// Check walks the document once with a strict, namespace-aware
// encoding/xml decoder and refuses what no SAML message or metadata needs
// and what parsers disagree about: DTDs and entities, processing
// instructions, XInclude, a declared encoding other than UTF-8, names that
// are not QNames, an attribute twice on one element (literally or through
// two prefixes bound to one namespace, XML Namespaces §6.3), more than one
// root, text outside the root, namespace declarations XML Namespaces
// forbids, and documents beyond the size, depth and element limits.
//
// One pass, on purpose. github.com/mattermost/xml-roundtrip-validator (the
// class of bugs behind CVE-2020-15216 and CVE-2020-27846: encoding/xml not
// reading its own output back unchanged) used to run as a second pass; it
// cost three quarters of the check (45 µs and 800 allocations per
// AuthnRequest) and, on Go 1.26, refuses nothing this pass accepts:
// FuzzScanImpliesRoundTrip keeps it as the oracle that proves it.
//
// The independent Response checker in package check keeps a pre-scan of its
// own on purpose: it must not trust the code it checks.
package xmlguard

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// NamespaceXInclude is the XInclude namespace; no element of it is allowed.
const NamespaceXInclude = "http://www.w3.org/2001/XInclude"

// Limits bound one kind of document.
type Limits struct {
	// MaxBytes bounds the whole document (0: no bound).
	MaxBytes int
	// MaxDepth bounds element nesting; the root element is depth 1.
	MaxDepth int
	// MaxElements bounds the number of elements.
	MaxElements int
	// UniqueRootChildren refuses a direct child of the root element that
	// appears twice under the same name. For messages whose schema allows
	// each child once (samlp:AuthnRequest): encoding/xml would silently
	// keep the last copy, another parser the first.
	UniqueRootChildren bool
	// UniqueAttributeLocalNames refuses two attributes with the same local
	// name on one element whatever their namespaces (ID and saml:ID). For
	// documents that encoding/xml unmarshals: a struct field tagged
	// `xml:"ID,attr"` matches either.
	UniqueAttributeLocalNames bool
}

// Error is a refusal: Reason is a stable code for logs and metrics (the
// xml.* codes below), Offset the byte offset where it was found, Msg says
// what and how to fix it.
type Error struct {
	Reason string
	Offset int64
	Msg    string
}

func (e *Error) Error() string { return e.Msg }

// Reason codes.
const (
	ReasonSize               = "xml.too_large"
	ReasonCharset            = "xml.charset"
	ReasonMalformed          = "xml.malformed"
	ReasonDoctype            = "xml.doctype"
	ReasonProcInst           = "xml.procinst"
	ReasonXInclude           = "xml.xinclude"
	ReasonLimits             = "xml.limits"
	ReasonDuplicateAttribute = "xml.duplicate_attribute"
	ReasonDuplicateElement   = "xml.duplicate_element"
	ReasonNamespace          = "xml.namespace"
)

func refuse(reason string, offset int64, format string, a ...any) *Error {
	return &Error{Reason: reason, Offset: offset, Msg: fmt.Sprintf(format, a...)}
}

// Check returns nil when doc passes every check, else an *Error. A
// byte-order mark is not accepted: callers that allow one strip it first.
func Check(doc []byte, l Limits) error { return Walk(doc, l, nil) }

// Visit is told, in document order, each element's start (an
// xml.StartElement with its namespace resolved), each run of text (an
// xml.CharData, valid only during the call) and each element's end (an
// xml.EndElement); depth is the element's (the root is 1) or, for text,
// that of the element holding it. It is told only what passed the checks so
// far: whatever it builds must be dropped if Walk then fails.
type Visit func(depth int, tok xml.Token)

// Walk is Check that also hands the tokens to visit (nil: none), so that
// a caller reads the document in the same single pass that checks it.
func Walk(doc []byte, l Limits, visit Visit) error {
	if l.MaxBytes > 0 && len(doc) > l.MaxBytes {
		return refuse(ReasonSize, 0, "it is %d bytes, more than the %d-byte limit", len(doc), l.MaxBytes)
	}
	if !ValidText(doc) {
		return refuse(ReasonCharset, 0, "it is not valid UTF-8 or holds characters XML forbids")
	}
	return scan(doc, l, visit)
}

func scan(doc []byte, l Limits, visit Visit) error {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	// No CharsetReader: a document declaring anything but UTF-8 fails.
	var (
		depth, elements int
		first           = true
		rootClosed      bool
		rootChildren    map[xml.Name]bool
		textBefore      = int64(-1) // offset of text before the root element
	)
	if l.UniqueRootChildren {
		rootChildren = map[xml.Name]bool{}
	}
	for {
		offset := d.InputOffset()
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return refuse(ReasonMalformed, offset, "malformed XML: %v", err)
		}
		isFirst := first
		first = false
		switch t := tok.(type) {
		case xml.Directive:
			s := strings.TrimSpace(string(t))
			if len(s) >= 7 && strings.EqualFold(s[:7], "DOCTYPE") {
				return refuse(ReasonDoctype, offset, "it contains a DOCTYPE at byte %d; DTDs and entities are not allowed (remove the declaration)", offset)
			}
			return refuse(ReasonDoctype, offset, "it contains a <!...> declaration at byte %d; DTDs and entities are not allowed (remove the declaration)", offset)
		case xml.ProcInst:
			if t.Target == "xml" && isFirst && offset == 0 {
				continue
			}
			return refuse(ReasonProcInst, offset, "it contains the processing instruction <?%s?> at byte %d; only the XML declaration at the very start is allowed",
				truncate(t.Target, 40), offset)
		case xml.StartElement:
			if rootClosed {
				return refuse(ReasonMalformed, offset, "malformed XML: a second root element at byte %d", offset)
			}
			if textBefore >= 0 {
				return refuse(ReasonMalformed, textBefore, "malformed XML: text outside the root element at byte %d", textBefore)
			}
			depth++
			elements++
			if l.MaxDepth > 0 && depth > l.MaxDepth {
				return refuse(ReasonLimits, offset, "elements are nested deeper than %d levels", l.MaxDepth)
			}
			if l.MaxElements > 0 && elements > l.MaxElements {
				return refuse(ReasonLimits, offset, "it has more than %d elements", l.MaxElements)
			}
			if !isQName(t.Name) {
				return refuse(ReasonMalformed, offset, "malformed XML: the element at byte %d has a malformed name %q", offset, truncate(t.Name.Local, 100))
			}
			if t.Name.Space == NamespaceXInclude {
				return refuse(ReasonXInclude, offset, "it contains an XInclude element <%s> at byte %d; XInclude is not allowed", truncate(t.Name.Local, 40), offset)
			}
			var seen nameSet
			for _, a := range t.Attr {
				if why := badNamespaceDeclaration(a); why != "" {
					return refuse(ReasonNamespace, offset, "element <%s> at byte %d has a namespace declaration XML Namespaces forbids: %s",
						truncate(t.Name.Local, 40), offset, why)
				}
				if !isQName(a.Name) {
					return refuse(ReasonMalformed, offset, "malformed XML: element <%s> at byte %d has an attribute with a malformed name %q",
						truncate(t.Name.Local, 40), offset, truncate(a.Name.Local, 100))
				}
				key := a.Name
				if l.UniqueAttributeLocalNames && a.Name.Space != "xmlns" {
					key.Space = ""
				}
				if !seen.add(key) {
					name := a.Name.Local
					if a.Name.Space != "" {
						name = "{" + a.Name.Space + "}" + name
					}
					return refuse(ReasonDuplicateAttribute, offset, "element <%s> at byte %d has a duplicate attribute %s",
						truncate(t.Name.Local, 40), offset, truncate(name, 100))
				}
			}
			if depth == 2 && rootChildren != nil {
				if rootChildren[t.Name] {
					return refuse(ReasonDuplicateElement, offset, "element <%s> appears twice under the root element", truncate(t.Name.Local, 40))
				}
				rootChildren[t.Name] = true
			}
			if visit != nil {
				visit(depth, t)
			}
		case xml.EndElement:
			if visit != nil {
				visit(depth, t)
			}
			depth--
			rootClosed = depth == 0
		case xml.CharData:
			if depth == 0 && len(bytes.TrimSpace(t)) > 0 {
				if !rootClosed {
					// Reported when the root starts: a document of text
					// only is better told it has no element.
					textBefore = offset
					continue
				}
				return refuse(ReasonMalformed, offset, "malformed XML: text outside the root element at byte %d", offset)
			}
			if visit != nil && depth > 0 {
				visit(depth, t)
			}
		}
	}
	if elements == 0 {
		return refuse(ReasonMalformed, 0, "it contains no XML element")
	}
	if depth != 0 {
		return refuse(ReasonMalformed, int64(len(doc)), "malformed XML: an element is not closed")
	}
	return nil
}

// nameSet is a set of attribute names: a linear search while small (an
// element has a handful; no allocation), a map beyond (an element with
// thousands would make the search quadratic).
type nameSet struct {
	small [16]xml.Name
	n     int
	large map[xml.Name]struct{}
}

// add adds k and reports whether it was new.
func (s *nameSet) add(k xml.Name) bool {
	if s.large != nil {
		if _, dup := s.large[k]; dup {
			return false
		}
		s.large[k] = struct{}{}
		return true
	}
	for _, n := range s.small[:s.n] {
		if n == k {
			return false
		}
	}
	if s.n < len(s.small) {
		s.small[s.n] = k
		s.n++
		return true
	}
	s.large = make(map[xml.Name]struct{}, 2*len(s.small))
	for _, n := range s.small {
		s.large[n] = struct{}{}
	}
	s.large[k] = struct{}{}
	return true
}

// The two namespaces XML Namespaces §3 reserves.
const (
	namespaceXML   = "http://www.w3.org/XML/1998/namespace"
	namespaceXMLNS = "http://www.w3.org/2000/xmlns/"
)

// badNamespaceDeclaration says what is wrong with a, a namespace
// declaration that XML Namespaces 1.0 §3 forbids, or "" if a is not one or
// is allowed: declaring the prefix xmlns, binding xml to another namespace
// or another prefix to xml's, binding anything to the xmlns namespace, and
// a prefix bound to "" (only XML Namespaces 1.1 may unbind one). Parsers
// disagree about such documents, which is reason enough to refuse them.
func badNamespaceDeclaration(a xml.Attr) string {
	switch {
	case a.Name.Space == "" && a.Name.Local == "xmlns": // the default namespace
		if a.Value == namespaceXML || a.Value == namespaceXMLNS {
			return "the default namespace bound to a reserved namespace"
		}
	case a.Name.Space == "xmlns":
		switch {
		case a.Name.Local == "xmlns":
			return "the prefix xmlns declared"
		case a.Name.Local == "xml" && a.Value != namespaceXML:
			return "the prefix xml bound to another namespace"
		case a.Name.Local != "xml" && a.Value == namespaceXML:
			return "the xml namespace bound to another prefix"
		case a.Value == namespaceXMLNS:
			return "a prefix bound to the xmlns namespace"
		case a.Value == "":
			return "the prefix " + truncate(a.Name.Local, 40) + " bound to no namespace"
		}
	}
	return ""
}

// isQName refuses the names Go's decoder lets through although they are not
// XML Namespaces QNames: the empty local part of x:="v", the empty prefix
// of <:a/>, and a local part that is not an NCName, such as the 0 of
// <x:0/> (a Name, since XML 1.0 lets a Name hold a colon, but encoding/xml
// writes it back as the element <0>, which no parser reads).
func isQName(n xml.Name) bool {
	if n.Local == "" || strings.Contains(n.Local, ":") {
		return false
	}
	r, _ := utf8.DecodeRuneInString(n.Local)
	return nameStartChar(r)
}

// nameStartChar is XML 1.0 (fifth edition) §2.3 NameStartChar without the
// colon, that is, the first character of an NCName. The characters after
// it are the decoder's to check.
func nameStartChar(r rune) bool {
	switch {
	case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r == '_':
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF:
	case r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D:
	case r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF:
	case r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
	default:
		return false
	}
	return true
}

// ValidText reports whether b is UTF-8 made only of characters XML 1.0
// allows (§2.2: tab, newline, carriage return, and U+0020 upwards but for
// the surrogates, U+FFFE and U+FFFF).
func ValidText(b []byte) bool {
	for i := 0; i < len(b); {
		r, n := utf8.DecodeRune(b[i:])
		if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

// ValidString is ValidText for a string.
func ValidString(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if (r == utf8.RuneError && n == 1) || !xmlChar(r) {
			return false
		}
		i += n
	}
	return true
}

func xmlChar(r rune) bool {
	switch {
	case r == 0x9 || r == 0xA || r == 0xD:
	case r >= 0x20 && r <= 0xD7FF:
	case r >= 0xE000 && r <= 0xFFFD:
	case r >= 0x10000 && r <= 0x10FFFF:
	default:
		return false
	}
	return true
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
