package check

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/beevik/etree"
)

// Attribute names of the profile (docs/profile.md §3).
const (
	AttrXUserID    = "xUserId"
	AttrXAccountID = "xAccountId"
	AttrBpID       = "bpId"
	AttrEmail      = "email"
	AttrName       = "name"
	AttrMobile     = "mobile"
)

// Value rules of the profile.
var (
	// EmailRE is the expression from Huawei's guide (Table 11-1).
	EmailRE = regexp.MustCompile("^[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*$")
	// NameRE is the account-name rule: letters, digits, "-" and "_", not starting with a digit.
	NameRE = regexp.MustCompile(`^[a-zA-Z_-][0-9a-zA-Z_-]*$`)
	// mobileRE is deliberately lenient: an optional leading "+", then digits
	// and common separators.
	mobileRE = regexp.MustCompile(`^\+?[0-9 ()./-]+$`)
)

// Length limits of the profile.
const (
	MaxAccountIDLen = 128
	MaxEmailLen     = 64
	MinNameLen      = 5
	MaxNameLen      = 32
	maxMobileLen    = 32
	maxValueLen     = 1024
)

type attrRule struct {
	required bool
	// validate returns a problem ("" if none) and its rule suffix.
	validate func(v string) (suffix, problem string)
}

var attrRules = map[string]attrRule{
	AttrXUserID:    {required: true, validate: validateAccountID},
	AttrXAccountID: {required: true, validate: validateAccountID},
	AttrBpID:       {required: true},
	AttrEmail:      {validate: validateEmail},
	AttrName:       {validate: validateName},
	AttrMobile:     {validate: validateMobile},
}

// attrOrder lists the profile attributes in the order of Huawei's example.
var attrOrder = []string{AttrXUserID, AttrXAccountID, AttrBpID, AttrEmail, AttrName, AttrMobile}

func validateAccountID(v string) (string, string) {
	if n := utf8.RuneCountInString(v); n > MaxAccountIDLen {
		return "too_long", fmt.Sprintf("is %d characters long; at most %d are allowed", n, MaxAccountIDLen)
	}
	return "", ""
}

func validateEmail(v string) (string, string) {
	if n := utf8.RuneCountInString(v); n > MaxEmailLen {
		return "too_long", fmt.Sprintf("is %d characters long; at most %d are allowed", n, MaxEmailLen)
	}
	if !EmailRE.MatchString(v) {
		return "invalid", fmt.Sprintf("value %q is not an e-mail address accepted by Huawei Cloud (local part of letters, digits and .!#$%%&'*+/=?^_`{|}~-, then @ and a domain of letters, digits and hyphens)", v)
	}
	return "", ""
}

func validateName(v string) (string, string) {
	if n := utf8.RuneCountInString(v); n < MinNameLen || n > MaxNameLen {
		return "invalid", fmt.Sprintf("value %q is %d characters long; a Huawei Cloud account name has %d to %d characters", v, n, MinNameLen, MaxNameLen)
	}
	if !NameRE.MatchString(v) {
		return "invalid", fmt.Sprintf("value %q is not a valid Huawei Cloud account name: only letters, digits, \"-\" and \"_\" are allowed, and it must not start with a digit", v)
	}
	return "", ""
}

func validateMobile(v string) (string, string) {
	if len(v) > maxMobileLen || !mobileRE.MatchString(v) || !strings.ContainsAny(v, "0123456789") {
		return "invalid", fmt.Sprintf("value %q is not a phone number: expected digits with an optional leading \"+\" and spaces, dots, dashes, slashes or parentheses as separators (at most %d characters)", v, maxMobileLen)
	}
	return "", ""
}

// checkAttributes checks the AttributeStatement.
func (c *checker) checkAttributes(st *etree.Element) {
	values := map[string]string{}
	for _, a := range st.ChildElements() {
		if !isElem(a, NSAssertion, "Attribute") {
			c.add("attr.unexpected_element", "the AttributeStatement contains %s; expected only saml:Attribute elements (EncryptedAttribute is not used)", describe(a))
			continue
		}
		name := a.SelectAttrValue("Name", "")
		if name == "" {
			c.add("attr.name_missing", "a saml:Attribute has no Name; expected one of %s", strings.Join(attrOrder, ", "))
			continue
		}
		rule, known := attrRules[name]
		if !known {
			c.add("attr.unknown", "unknown attribute %q%s; the profile defines only %s", abbreviate(name, 64), suggest(name), strings.Join(attrOrder, ", "))
			continue
		}
		if _, dup := values[name]; dup {
			c.add("attr.duplicate", "attribute %q appears more than once; each attribute must appear exactly once", name)
			continue
		}
		p := "attr." + name + "."
		if fn := a.SelectAttrValue("FriendlyName", ""); fn != name {
			c.add(p+"friendly_name", "attribute %q has FriendlyName %q; expected FriendlyName=%q (the same as Name)", name, fn, name)
		}
		if nf := a.SelectAttrValue("NameFormat", ""); nf != AttrNameFormatURI {
			c.add(p+"name_format", "attribute %q has NameFormat %q; expected %q", name, nf, AttrNameFormatURI)
		}
		avs := children(a, NSAssertion, "AttributeValue")
		if len(avs) != 1 {
			c.add(p+"value_count", "attribute %q has %d AttributeValue elements; expected exactly one", name, len(avs))
			if len(avs) == 0 {
				values[name] = ""
				continue
			}
		}
		av := avs[0]
		c.checkValueType(p, name, av)
		if len(av.ChildElements()) > 0 {
			c.add(p+"value_type", "attribute %q AttributeValue contains child elements; expected plain text", name)
		}
		v := av.Text()
		values[name] = v
		c.checkValue(p, name, v, rule)
	}

	for _, name := range attrOrder {
		if _, ok := values[name]; !ok && attrRules[name].required {
			c.add("attr."+name+".missing", "the required attribute %q is missing; expected <saml:Attribute Name=%q FriendlyName=%q NameFormat=%q> with one xsd:string value", name, name, name, AttrNameFormatURI)
		}
	}
	uid, hasUID := values[AttrXUserID]
	acc, hasAcc := values[AttrXAccountID]
	if hasUID && hasAcc && uid != acc {
		c.add("attr.xUserId.mismatch", "xUserId is %q but xAccountId is %q; Huawei Cloud requires both to be the same customer account ID", uid, acc)
	}
	if bp, ok := values[AttrBpID]; ok && c.exp.BpID != "" && bp != c.exp.BpID {
		c.add("attr.bpId.mismatch", "bpId is %q; expected %q (the partner ID shown in Partner Center)", bp, c.exp.BpID)
	}
	if !c.unverified {
		for k, v := range values {
			c.res.Attributes[k] = v
		}
	}
}

// checkValue checks one attribute value against the general and the
// attribute-specific rules.
func (c *checker) checkValue(p, name, v string, rule attrRule) {
	if v == "" {
		if rule.required {
			c.add(p+"empty", "the required attribute %q has an empty value", name)
		} else {
			c.add(p+"empty", "the optional attribute %q is present with an empty value; omit it instead", name)
		}
		return
	}
	if len(v) > maxValueLen {
		c.add(p+"too_long", "attribute %q is %d bytes long; at most %d are accepted", name, len(v), maxValueLen)
		return
	}
	for _, r := range v {
		if unicode.IsControl(r) || r == utf8.RuneError {
			c.add(p+"control_char", "attribute %q value %q contains the control character %U; control characters are refused", name, v, r)
			return
		}
	}
	if strings.TrimSpace(v) != v {
		c.add(p+"whitespace", "attribute %q value %q has leading or trailing white space; Huawei Cloud would treat it as a different value", name, v)
	}
	if rule.validate != nil {
		if suffix, problem := rule.validate(v); problem != "" {
			c.add(p+suffix, "attribute %q %s", name, problem)
		}
	}
}

// checkValueType checks xsi:type="xsd:string" with both prefixes bound to the
// XML Schema namespaces in the (signed) element's scope.
func (c *checker) checkValueType(p, name string, av *etree.Element) {
	var typ *etree.Attr
	for i := range av.Attr {
		a := &av.Attr[i]
		if a.Key != "type" || a.Space == "" || a.Space == "xmlns" {
			continue
		}
		if ns, ok := lookupNS(av, a.Space); ok && ns == NSXSI {
			typ = a
			break
		}
		c.add(p+"value_type", "attribute %q AttributeValue has %s:type, but the prefix %q is not bound to %s; declare xmlns:%s=%q", name, a.Space, a.Space, NSXSI, a.Space, NSXSI)
		return
	}
	if typ == nil {
		c.add(p+"value_type", "attribute %q AttributeValue has no xsi:type; expected xsi:type=\"xsd:string\" with xmlns:xsi=%q", name, NSXSI)
		return
	}
	prefix, local, ok := strings.Cut(typ.Value, ":")
	if !ok || local != "string" {
		c.add(p+"value_type", "attribute %q AttributeValue has xsi:type=%q; expected \"xsd:string\"", name, typ.Value)
		return
	}
	if ns, ok := lookupNS(av, prefix); !ok || ns != NSXSD {
		got := "not declared"
		if ok {
			got = fmt.Sprintf("bound to %q", ns)
		}
		c.add(p+"value_type", "attribute %q AttributeValue has xsi:type=%q, but the prefix %q is %s in the signed Assertion; expected it bound to %s. Declare xmlns:%s=%q on the Assertion and list %q in the signature's InclusiveNamespaces PrefixList", name, typ.Value, prefix, got, NSXSD, prefix, NSXSD, prefix)
	}
}

// suggest returns a hint for a misspelt attribute name.
func suggest(name string) string {
	if name == "bpld" {
		return " (Huawei's guide prints bpId as \"bpld\" because of an OCR error; the attribute is \"bpId\")"
	}
	known := make([]string, 0, len(attrRules))
	for k := range attrRules {
		known = append(known, k)
	}
	sort.Strings(known)
	for _, k := range known {
		if strings.EqualFold(k, name) {
			return fmt.Sprintf(" (names are case-sensitive: did you mean %q?)", k)
		}
	}
	return ""
}
