package check

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// prescan walks the raw tokens once and refuses DOCTYPE declarations,
// processing instructions other than the XML declaration, excessive depth and
// excessive element counts. It reports whether parsing may continue.
func (c *checker) prescan(doc []byte) bool {
	if !utf8.Valid(doc) {
		c.add("input.encoding", "the document is not valid UTF-8; SAML messages must be UTF-8 encoded")
		return false
	}
	dec := xml.NewDecoder(bytes.NewReader(doc))
	dec.Strict = true
	ok := true
	depth, elements, tokens := 0, 0, 0
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			c.add("input.malformed", "the document is not well-formed XML: %v", err)
			return false
		}
		tokens++
		switch t := tok.(type) {
		case xml.StartElement:
			depth++
			elements++
			if depth > maxDepth {
				c.add("input.too_complex", "elements are nested more than %d deep; a SAML Response needs far fewer", maxDepth)
				return false
			}
			if elements > maxElements {
				c.add("input.too_complex", "the document has more than %d elements; a SAML Response needs far fewer", maxElements)
				return false
			}
		case xml.EndElement:
			depth--
		case xml.Directive:
			d := strings.TrimSpace(string(t))
			if len(d) >= 7 && strings.EqualFold(d[:7], "DOCTYPE") {
				c.add("input.doctype", "the document contains a DOCTYPE declaration (%q); DTDs and entities are refused in SAML messages", abbreviate(d, 60))
			} else {
				c.add("input.directive", "the document contains the XML directive <!%s>; none is allowed in a SAML message", abbreviate(d, 60))
			}
			ok = false
		case xml.ProcInst:
			if t.Target == "xml" && tokens == 1 {
				if enc := declEncoding(t.Inst); enc != "" && !strings.EqualFold(enc, "UTF-8") {
					c.add("input.encoding", "the XML declaration names encoding %q; only UTF-8 is accepted", enc)
					ok = false
				}
				continue
			}
			c.add("input.procinst", "the document contains the processing instruction <?%s?>; only the XML declaration at the very start is allowed", t.Target)
			ok = false
		}
	}
	if elements == 0 {
		c.add("input.malformed", "the document contains no XML element")
		return false
	}
	return ok
}

var encodingRE = regexp.MustCompile(`encoding\s*=\s*["']([^"']*)["']`)

func declEncoding(inst []byte) string {
	m := encodingRE.FindSubmatch(inst)
	if m == nil {
		return ""
	}
	return string(m[1])
}

// isElem reports whether el is the element {ns}local.
func isElem(el *etree.Element, ns, local string) bool {
	return el != nil && el.Tag == local && el.NamespaceURI() == ns
}

// child returns the first child element {ns}local of el, or nil.
func child(el *etree.Element, ns, local string) *etree.Element {
	for _, ch := range el.ChildElements() {
		if isElem(ch, ns, local) {
			return ch
		}
	}
	return nil
}

// children returns all child elements {ns}local of el.
func children(el *etree.Element, ns, local string) []*etree.Element {
	var out []*etree.Element
	for _, ch := range el.ChildElements() {
		if isElem(ch, ns, local) {
			out = append(out, ch)
		}
	}
	return out
}

// attr returns the unqualified attribute key of el, or nil.
func attr(el *etree.Element, key string) *etree.Attr {
	for i := range el.Attr {
		if el.Attr[i].Space == "" && el.Attr[i].Key == key {
			return &el.Attr[i]
		}
	}
	return nil
}

// walk calls fn for el and every descendant element, in document order.
func walk(el *etree.Element, fn func(*etree.Element)) {
	fn(el)
	for _, ch := range el.ChildElements() {
		walk(ch, fn)
	}
}

// lookupNS resolves a namespace prefix in the scope of el ("" = default namespace).
func lookupNS(el *etree.Element, prefix string) (string, bool) {
	if prefix == "xml" {
		return "http://www.w3.org/XML/1998/namespace", true
	}
	for e := el; e != nil; e = e.Parent() {
		for _, a := range e.Attr {
			if prefix == "" && a.Space == "" && a.Key == "xmlns" {
				return a.Value, true
			}
			if prefix != "" && a.Space == "xmlns" && a.Key == prefix {
				return a.Value, true
			}
		}
	}
	return "", false
}

// describe names an element for messages, e.g. "saml2:Subject".
func describe(el *etree.Element) string {
	return fmt.Sprintf("<%s> (namespace %q)", el.FullTag(), el.NamespaceURI())
}

var ncNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9._-]*$`)

const maxIDLen = 256

// checkID checks the ID attribute of el and returns its value.
func (c *checker) checkID(rule, what string, el *etree.Element) string {
	a := attr(el, "ID")
	switch {
	case a == nil || a.Value == "":
		c.add(rule, "%s has no ID attribute; expected a unique xs:ID such as \"_\" followed by 32 hex digits", what)
		return ""
	case len(a.Value) > maxIDLen:
		c.add(rule, "%s ID is %d characters long; at most %d are accepted", what, len(a.Value), maxIDLen)
	case !ncNameRE.MatchString(a.Value):
		c.add(rule, "%s ID %q is not a valid xs:ID: it must start with a letter or \"_\" and contain only letters, digits, \".\", \"-\" and \"_\"", what, abbreviate(a.Value, 80))
	}
	return a.Value
}

// parseInstant parses an xs:dateTime that must be in UTC with a "Z" suffix.
func (c *checker) parseInstant(rule, what string, a *etree.Attr) (time.Time, bool) {
	if a == nil || a.Value == "" {
		c.add(rule, "%s is missing; expected a UTC time such as %q", what, fmtTime(c.exp.Now))
		return time.Time{}, false
	}
	if !strings.HasSuffix(a.Value, "Z") {
		c.add(rule, "%s is %q; expected a UTC time ending in \"Z\", such as %q", what, abbreviate(a.Value, 60), fmtTime(c.exp.Now))
		return time.Time{}, false
	}
	t, err := time.Parse(time.RFC3339Nano, a.Value)
	if err != nil {
		c.add(rule, "%s is %q, which is not an xs:dateTime; expected a UTC time such as %q", what, abbreviate(a.Value, 60), fmtTime(c.exp.Now))
		return time.Time{}, false
	}
	return t.UTC(), true
}

// checkInstant checks an issue instant: present, UTC and within Now±Skew.
func (c *checker) checkInstant(rule, what string, a *etree.Attr) {
	t, ok := c.parseInstant(rule, what, a)
	if !ok {
		return
	}
	now, skew := c.exp.Now, c.exp.Skew
	switch {
	case t.After(now.Add(skew)):
		c.add(rule, "%s is %s, %s in the future (now is %s, allowed clock skew %s); check the IdP's clock", what, fmtTime(t), t.Sub(now).Round(time.Second), fmtTime(now), skew)
	case t.Before(now.Add(-skew)):
		c.add(rule, "%s is %s, %s ago (now is %s); a Response must be sent within %s of being issued", what, fmtTime(t), now.Sub(t).Round(time.Second), fmtTime(now), skew)
	}
}

func fmtTime(t time.Time) string {
	return t.UTC().Format("2006-01-02T15:04:05.000Z")
}

// abbreviate shortens s for inclusion in a message.
func abbreviate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}
