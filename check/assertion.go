package check

import (
	"fmt"
	"strings"
	"time"

	"github.com/beevik/etree"
)

// checkAssertion verifies the Assertion signature and then checks the content
// of the element returned by verification. If verification fails, the
// original content is still checked so that partners see every problem at
// once, but those findings are marked and nothing is copied into the Result.
func (c *checker) checkAssertion(a *etree.Element) {
	verified := c.checkAssertionSignature(a, a.SelectAttrValue("ID", ""))
	el := verified
	if el == nil {
		el = a
		c.unverified = true
		defer func() { c.unverified = false }()
	}

	if v := el.SelectAttrValue("Version", ""); v != "2.0" {
		c.add("assertion.version", "Assertion Version is %q; expected \"2.0\"", v)
	}
	id := c.checkID("assertion.id", "Assertion", el)
	c.checkInstant("assertion.issue_instant", "Assertion IssueInstant", attr(el, "IssueInstant"))
	c.checkAssertionChildren(el)

	if iss := child(el, NSAssertion, "Issuer"); iss != nil {
		if got := iss.Text(); got != c.exp.IdPEntityID {
			c.add("assertion.issuer", "Assertion Issuer is %q; expected %q (the entityID in the IdP metadata)", got, c.exp.IdPEntityID)
		}
		if f := attr(iss, "Format"); f != nil && f.Value != NameIDEntity {
			c.add("assertion.issuer_format", "Assertion Issuer Format is %q; expected %q or no Format", f.Value, NameIDEntity)
		}
	}
	if s := child(el, NSAssertion, "Subject"); s != nil {
		c.checkSubject(s)
	}
	if cond := child(el, NSAssertion, "Conditions"); cond != nil {
		c.checkConditions(cond)
	}
	if as := child(el, NSAssertion, "AuthnStatement"); as != nil {
		c.checkAuthnStatement(as)
	}
	if st := child(el, NSAssertion, "AttributeStatement"); st != nil {
		c.checkAttributes(st)
	}
	if !c.unverified {
		c.res.AssertionID = id
	}
}

// assertionChildren lists the allowed children of the Assertion with their
// position in the schema order. AttributeStatement and AuthnStatement share a
// rank: both orders are schema-valid (docs/profile.md decision).
var assertionChildren = []struct {
	ns, local string
	rank      int
	required  bool
}{
	{NSAssertion, "Issuer", 0, true},
	{NSDSig, "Signature", 1, false}, // checked by checkAssertionSignature
	{NSAssertion, "Subject", 2, true},
	{NSAssertion, "Conditions", 3, true},
	{NSAssertion, "AttributeStatement", 4, true},
	{NSAssertion, "AuthnStatement", 4, true},
}

const assertionOrder = "saml:Issuer, ds:Signature, saml:Subject, saml:Conditions, saml:AttributeStatement, saml:AuthnStatement"

func (c *checker) checkAssertionChildren(a *etree.Element) {
	counts := map[string]int{}
	lastRank, lastName := -1, ""
	for _, ch := range a.ChildElements() {
		known := false
		for _, spec := range assertionChildren {
			if !isElem(ch, spec.ns, spec.local) {
				continue
			}
			known = true
			counts[spec.local]++
			if counts[spec.local] == 2 {
				c.add("assertion.duplicate_child", "the Assertion contains more than one %s; expected exactly one", ch.FullTag())
			}
			if spec.local == "Signature" {
				break
			}
			if spec.rank < lastRank {
				c.add("assertion.order", "in the Assertion, %s comes after %s; expected the schema order %s", ch.FullTag(), lastName, assertionOrder)
			}
			lastRank, lastName = spec.rank, ch.FullTag()
			break
		}
		if !known {
			c.add("assertion.unexpected_child", "the Assertion contains %s, which the profile does not use; expected only %s", describe(ch), assertionOrder)
		}
	}
	for _, spec := range assertionChildren {
		if spec.required && counts[spec.local] == 0 {
			c.add("assertion.missing_child", "the Assertion has no saml:%s; expected the children %s", spec.local, assertionOrder)
		}
	}
}

func (c *checker) checkSubject(s *etree.Element) {
	now, skew := c.exp.Now, c.exp.Skew
	nameIDs := children(s, NSAssertion, "NameID")
	if len(nameIDs) != 1 {
		c.add("subject.nameid", "saml:Subject has %d saml:NameID elements; expected exactly one transient NameID (EncryptedID and BaseID are not used)", len(nameIDs))
	} else {
		n := nameIDs[0]
		if f := n.SelectAttrValue("Format", ""); f != NameIDTransient {
			c.add("subject.nameid.format", "NameID Format is %q; expected %q", f, NameIDTransient)
		}
		if q := attr(n, "NameQualifier"); q == nil {
			c.add("subject.nameid.qualifier", "NameID has no NameQualifier; expected NameQualifier=%q (the SP entityID)", c.exp.Audience)
		} else if q.Value != c.exp.Audience {
			c.add("subject.nameid.qualifier", "NameID NameQualifier is %q; expected %q (the SP entityID)", q.Value, c.exp.Audience)
		}
		v := n.Text()
		if strings.TrimSpace(v) == "" {
			c.add("subject.nameid.empty", "NameID is empty; expected a fresh opaque transient identifier")
		} else if !c.unverified {
			c.res.NameID = v
		}
	}

	confs := children(s, NSAssertion, "SubjectConfirmation")
	if len(confs) != 1 {
		c.add("subject.confirmation", "saml:Subject has %d saml:SubjectConfirmation elements; expected exactly one with Method=%q", len(confs), MethodBearer)
		if len(confs) == 0 {
			return
		}
	}
	conf := confs[0]
	if m := conf.SelectAttrValue("Method", ""); m != MethodBearer {
		c.add("subject.confirmation.method", "SubjectConfirmation Method is %q; expected %q", m, MethodBearer)
	}
	datas := children(conf, NSAssertion, "SubjectConfirmationData")
	if len(datas) != 1 {
		c.add("subject.confirmation.data", "SubjectConfirmation has %d saml:SubjectConfirmationData elements; expected exactly one with InResponseTo, Recipient and NotOnOrAfter", len(datas))
		return
	}
	d := datas[0]
	irt := attr(d, "InResponseTo")
	switch {
	case irt == nil:
		c.add("subject.confirmation.in_response_to", "SubjectConfirmationData has no InResponseTo; expected the AuthnRequest ID %q", firstNonEmpty(c.exp.InResponseTo, c.res.InResponseTo))
	case c.exp.InResponseTo != "" && irt.Value != c.exp.InResponseTo:
		c.add("subject.confirmation.in_response_to", "SubjectConfirmationData InResponseTo is %q; expected %q (the ID of the AuthnRequest being answered)", irt.Value, c.exp.InResponseTo)
	case irt.Value != c.res.InResponseTo:
		c.add("subject.confirmation.in_response_to", "SubjectConfirmationData InResponseTo is %q, but the Response's InResponseTo is %q; both must be the AuthnRequest ID", irt.Value, c.res.InResponseTo)
	}
	if r := attr(d, "Recipient"); r == nil {
		c.add("subject.confirmation.recipient", "SubjectConfirmationData has no Recipient; expected Recipient=%q (the ACS URL)", c.exp.Destination)
	} else if r.Value != c.exp.Destination {
		c.add("subject.confirmation.recipient", "SubjectConfirmationData Recipient is %q; expected %q (the ACS URL)", r.Value, c.exp.Destination)
	}
	if t, ok := c.parseInstant("subject.confirmation.not_on_or_after", "SubjectConfirmationData NotOnOrAfter", attr(d, "NotOnOrAfter")); ok {
		switch {
		case !t.After(now.Add(-skew)):
			c.add("subject.confirmation.expired", "SubjectConfirmationData NotOnOrAfter is %s, which has passed (now is %s, allowed clock skew %s); the Response was delivered too late or the IdP clock is wrong", fmtTime(t), fmtTime(now), skew)
		case t.After(now.Add(MaxConfirmationLifetime + skew)):
			c.add("subject.confirmation.lifetime", "SubjectConfirmationData NotOnOrAfter is %s, %s from now; at most %s is accepted (the profile uses 5 minutes)", fmtTime(t), t.Sub(now).Round(time.Second), MaxConfirmationLifetime)
		}
	}
	if nb := attr(d, "NotBefore"); nb != nil {
		c.add("subject.confirmation.not_before", "SubjectConfirmationData has NotBefore=%q; the profile uses no NotBefore on bearer confirmation data (SAML profiles §4.1.4.2)", nb.Value)
	}
}

func (c *checker) checkConditions(cond *etree.Element) {
	now, skew := c.exp.Now, c.exp.Skew
	if t, ok := c.parseInstant("conditions.not_before", "Conditions NotBefore", attr(cond, "NotBefore")); ok && t.After(now.Add(skew)) {
		c.add("conditions.not_yet_valid", "Conditions NotBefore is %s, %s in the future (now is %s, allowed clock skew %s); check the IdP's clock", fmtTime(t), t.Sub(now).Round(time.Second), fmtTime(now), skew)
	}
	if t, ok := c.parseInstant("conditions.not_on_or_after", "Conditions NotOnOrAfter", attr(cond, "NotOnOrAfter")); ok && !t.After(now.Add(-skew)) {
		c.add("conditions.expired", "Conditions NotOnOrAfter is %s, which has passed (now is %s, allowed clock skew %s); the Assertion has expired", fmtTime(t), fmtTime(now), skew)
	}
	ars := children(cond, NSAssertion, "AudienceRestriction")
	if len(ars) == 0 {
		c.add("conditions.audience", "Conditions has no saml:AudienceRestriction; expected <saml:AudienceRestriction><saml:Audience>%s</saml:Audience></saml:AudienceRestriction>", c.exp.Audience)
	}
	for _, ar := range ars {
		var got []string
		match := false
		for _, au := range children(ar, NSAssertion, "Audience") {
			got = append(got, fmt.Sprintf("%q", au.Text()))
			if au.Text() == c.exp.Audience {
				match = true
			}
		}
		if !match {
			c.add("conditions.audience", "AudienceRestriction lists the audience(s) [%s]; expected %q (the SP entityID, with its trailing slash)", strings.Join(got, ", "), c.exp.Audience)
		}
	}
}

func (c *checker) checkAuthnStatement(as *etree.Element) {
	now, skew := c.exp.Now, c.exp.Skew
	if t, ok := c.parseInstant("authn.instant", "AuthnStatement AuthnInstant", attr(as, "AuthnInstant")); ok {
		if t.After(now.Add(skew)) {
			c.add("authn.instant", "AuthnStatement AuthnInstant is %s, %s in the future (now is %s); it must be the time the customer logged in", fmtTime(t), t.Sub(now).Round(time.Second), fmtTime(now))
		} else if !c.unverified {
			c.res.AuthnInstant = t
		}
	}
	if si := attr(as, "SessionIndex"); si == nil || si.Value == "" {
		c.add("authn.session_index", "AuthnStatement has no SessionIndex; expected an opaque session identifier")
	} else if !c.unverified {
		c.res.SessionIndex = si.Value
	}
	if loc := child(as, NSAssertion, "SubjectLocality"); loc == nil {
		c.add("authn.subject_locality", "AuthnStatement has no saml:SubjectLocality; expected <saml:SubjectLocality Address=%q/> as in Huawei's example", c.exp.Audience)
	} else if addr := loc.SelectAttrValue("Address", ""); addr != c.exp.Audience {
		c.add("authn.subject_locality", "SubjectLocality Address is %q; expected %q (the SP entityID, as in Huawei's example)", addr, c.exp.Audience)
	}
	var ref string
	if ctx := child(as, NSAssertion, "AuthnContext"); ctx != nil {
		if cr := child(ctx, NSAssertion, "AuthnContextClassRef"); cr != nil {
			ref = strings.TrimSpace(cr.Text())
		}
	}
	if ref != AuthnContextUnspec {
		c.add("authn.context_class", "AuthnContext/AuthnContextClassRef is %q; expected %q", ref, AuthnContextUnspec)
	}
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
