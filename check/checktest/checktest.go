// Package checktest builds SAML Responses that follow the Huawei Cloud
// profile, for tests of the check package, the mock IAM and anything that
// consumes Responses. It signs the Assertion as docs/profile.md §3 requires
// (and as idp/xmlwrite.go does): digest with exc-c14n and the prefix list "xsd", a Transform
// carrying <ec:InclusiveNamespaces PrefixList="xsd"/>, SignedInfo canonicalized
// with exc-c14n, RSA PKCS#1 v1.5, and the Signature placed after the Issuer.
//
// It is test support: it never validates its input.
package checktest

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"
	"github.com/russellhaering/goxmldsig/etreeutils"

	"hcidp/check"
)

// Attribute is one profile attribute, in document order.
type Attribute struct {
	Name, Value string
}

// DefaultAttributes returns xUserId, xAccountId (both account) and bpId.
func DefaultAttributes(account, bpID string) []Attribute {
	return []Attribute{
		{check.AttrXUserID, account},
		{check.AttrXAccountID, account},
		{check.AttrBpID, bpID},
	}
}

// Options describes the Response to build. Zero values get profile defaults.
type Options struct {
	Key  *rsa.PrivateKey
	Cert *x509.Certificate

	IdPEntityID  string // default "https://idp.partner.example"
	Destination  string // ACS URL; default Huawei's cn ACS
	Audience     string // SP entityID; default "https://auth.huaweicloud.com/"
	InResponseTo string // default "_" + 32 hex

	Now          time.Time // default time.Now()
	Lifetime     time.Duration
	ResponseID   string
	AssertionID  string
	NameID       string
	SessionIndex string

	// Attributes default to DefaultAttributes("cust-0001", "bp-0001").
	Attributes []Attribute
	// Status is the top-level status code; default Success. Other values
	// produce a Response without an Assertion.
	Status string

	// Hash is the signature and digest hash; default SHA-256. SHA-1 exists to
	// test that weak signatures are refused.
	Hash crypto.Hash
	// PrefixList is the InclusiveNamespaces PrefixList; default "xsd". "-"
	// means none (no InclusiveNamespaces element, empty list for the digest).
	PrefixList string
	// Unsigned leaves the Assertion unsigned.
	Unsigned bool
	// SignResponse also signs the Response (after the Assertion).
	SignResponse bool
	// Mutate, when set, may change the Assertion before it is signed.
	Mutate func(assertion *etree.Element)
	// MutateResponse, when set, may change the Response after all signing.
	MutateResponse func(response *etree.Element)
}

// Defaults used by Response.
const (
	DefaultIdP      = "https://idp.partner.example"
	DefaultACS      = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
	DefaultAudience = "https://auth.huaweicloud.com/"
)

// NewID returns "_" followed by 32 random hex digits.
func NewID() string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "_" + hex.EncodeToString(b)
}

// Response builds and signs a profile Response and returns its XML.
func Response(o Options) ([]byte, error) {
	d, err := Document(o)
	if err != nil {
		return nil, err
	}
	return d.WriteToBytes()
}

// Document is Response returning the etree document.
func Document(o Options) (*etree.Document, error) {
	if o.Key == nil || o.Cert == nil {
		return nil, errors.New("checktest: Key and Cert are required")
	}
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&o.IdPEntityID, DefaultIdP)
	def(&o.Destination, DefaultACS)
	def(&o.Audience, DefaultAudience)
	def(&o.InResponseTo, NewID())
	def(&o.ResponseID, NewID())
	def(&o.AssertionID, NewID())
	def(&o.NameID, NewID())
	def(&o.SessionIndex, NewID())
	def(&o.Status, check.StatusSuccess)
	def(&o.PrefixList, "xsd")
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Lifetime == 0 {
		o.Lifetime = 5 * time.Minute
	}
	if o.Attributes == nil {
		o.Attributes = DefaultAttributes("cust-0001", "bp-0001")
	}
	if o.Hash == 0 {
		o.Hash = crypto.SHA256
	}
	now := o.Now.UTC()
	ts := func(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }

	doc := etree.NewDocument()
	doc.CreateProcInst("xml", `version="1.0" encoding="UTF-8"`)
	resp := doc.CreateElement("saml2p:Response")
	resp.CreateAttr("xmlns:saml2p", check.NSProtocol)
	resp.CreateAttr("Consent", "urn:oasis:names:tc:SAML:2.0:consent:unspecified")
	resp.CreateAttr("Destination", o.Destination)
	resp.CreateAttr("ID", o.ResponseID)
	resp.CreateAttr("InResponseTo", o.InResponseTo)
	resp.CreateAttr("IssueInstant", ts(now))
	resp.CreateAttr("Version", "2.0")
	iss := resp.CreateElement("saml2:Issuer")
	iss.CreateAttr("xmlns:saml2", check.NSAssertion)
	iss.CreateAttr("Format", check.NameIDEntity)
	iss.SetText(o.IdPEntityID)
	st := resp.CreateElement("saml2p:Status")
	st.CreateElement("saml2p:StatusCode").CreateAttr("Value", o.Status)
	if o.Status != check.StatusSuccess {
		if err := signResponseIfAsked(resp, o); err != nil {
			return nil, err
		}
		finish(resp, o)
		return doc, nil
	}

	a := resp.CreateElement("saml2:Assertion")
	a.CreateAttr("xmlns:saml2", check.NSAssertion)
	a.CreateAttr("xmlns:xsd", check.NSXSD)
	a.CreateAttr("ID", o.AssertionID)
	a.CreateAttr("IssueInstant", ts(now))
	a.CreateAttr("Version", "2.0")
	a.CreateElement("saml2:Issuer").SetText(o.IdPEntityID)

	subj := a.CreateElement("saml2:Subject")
	nid := subj.CreateElement("saml2:NameID")
	nid.CreateAttr("Format", check.NameIDTransient)
	nid.CreateAttr("NameQualifier", o.Audience)
	nid.SetText(o.NameID)
	sc := subj.CreateElement("saml2:SubjectConfirmation")
	sc.CreateAttr("Method", check.MethodBearer)
	scd := sc.CreateElement("saml2:SubjectConfirmationData")
	scd.CreateAttr("InResponseTo", o.InResponseTo)
	scd.CreateAttr("NotOnOrAfter", ts(now.Add(o.Lifetime)))
	scd.CreateAttr("Recipient", o.Destination)

	cond := a.CreateElement("saml2:Conditions")
	cond.CreateAttr("NotBefore", ts(now))
	cond.CreateAttr("NotOnOrAfter", ts(now.Add(o.Lifetime)))
	cond.CreateElement("saml2:AudienceRestriction").CreateElement("saml2:Audience").SetText(o.Audience)

	as := a.CreateElement("saml2:AttributeStatement")
	for _, at := range o.Attributes {
		el := as.CreateElement("saml2:Attribute")
		el.CreateAttr("FriendlyName", at.Name)
		el.CreateAttr("Name", at.Name)
		el.CreateAttr("NameFormat", check.AttrNameFormatURI)
		v := el.CreateElement("saml2:AttributeValue")
		v.CreateAttr("xmlns:xsi", check.NSXSI)
		v.CreateAttr("xsi:type", "xsd:string")
		v.SetText(at.Value)
	}

	an := a.CreateElement("saml2:AuthnStatement")
	an.CreateAttr("AuthnInstant", ts(now.Add(-time.Minute)))
	an.CreateAttr("SessionIndex", o.SessionIndex)
	an.CreateElement("saml2:SubjectLocality").CreateAttr("Address", o.Audience)
	an.CreateElement("saml2:AuthnContext").CreateElement("saml2:AuthnContextClassRef").SetText(check.AuthnContextUnspec)

	if o.Mutate != nil {
		o.Mutate(a)
	}
	if !o.Unsigned {
		pl := o.PrefixList
		if pl == "-" {
			pl = ""
		}
		if err := SignEnveloped(a, o.Key, o.Cert, o.Hash, pl); err != nil {
			return nil, err
		}
	}
	if err := signResponseIfAsked(resp, o); err != nil {
		return nil, err
	}
	finish(resp, o)
	return doc, nil
}

func signResponseIfAsked(resp *etree.Element, o Options) error {
	if !o.SignResponse {
		return nil
	}
	return SignEnveloped(resp, o.Key, o.Cert, o.Hash, "")
}

func finish(resp *etree.Element, o Options) {
	if o.MutateResponse != nil {
		o.MutateResponse(resp)
	}
}

var sigMethods = map[crypto.Hash]string{
	crypto.SHA1:   check.AlgRSASHA1,
	crypto.SHA256: check.AlgRSASHA256,
	crypto.SHA384: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384",
	crypto.SHA512: "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512",
}

var digestMethods = map[crypto.Hash]string{
	crypto.SHA1:   check.AlgDigestSHA1,
	crypto.SHA256: check.AlgDigestSHA2,
	crypto.SHA384: "http://www.w3.org/2001/04/xmldsig-more#sha384",
	crypto.SHA512: "http://www.w3.org/2001/04/xmlenc#sha512",
}

// SignEnveloped signs el (which must have an ID attribute and a first child
// Issuer) with an enveloped XML signature inserted right after the Issuer.
// prefixList is the exc-c14n InclusiveNamespaces PrefixList ("" for none).
func SignEnveloped(el *etree.Element, key *rsa.PrivateKey, cert *x509.Certificate, h crypto.Hash, prefixList string) error {
	sigMethod, ok := sigMethods[h]
	if !ok {
		return fmt.Errorf("checktest: unsupported hash %v", h)
	}
	id := el.SelectAttrValue("ID", "")
	if id == "" {
		return errors.New("checktest: element has no ID")
	}
	ctx, err := etreeutils.NSBuildParentContext(el)
	if err != nil {
		return err
	}
	detached, err := etreeutils.NSDetatch(ctx, el)
	if err != nil {
		return err
	}
	canon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList(prefixList).Canonicalize(detached)
	if err != nil {
		return err
	}
	hh := h.New()
	hh.Write(canon)

	sig := etree.NewElement("ds:Signature")
	sig.CreateAttr("xmlns:ds", check.NSDSig)
	si := sig.CreateElement("ds:SignedInfo")
	si.CreateElement("ds:CanonicalizationMethod").CreateAttr("Algorithm", check.AlgExcC14N)
	si.CreateElement("ds:SignatureMethod").CreateAttr("Algorithm", sigMethod)
	ref := si.CreateElement("ds:Reference")
	ref.CreateAttr("URI", "#"+id)
	trs := ref.CreateElement("ds:Transforms")
	trs.CreateElement("ds:Transform").CreateAttr("Algorithm", check.AlgEnveloped)
	exc := trs.CreateElement("ds:Transform")
	exc.CreateAttr("Algorithm", check.AlgExcC14N)
	if prefixList != "" {
		inc := exc.CreateElement("ec:InclusiveNamespaces")
		inc.CreateAttr("xmlns:ec", check.NSExcC14N)
		inc.CreateAttr("PrefixList", prefixList)
	}
	ref.CreateElement("ds:DigestMethod").CreateAttr("Algorithm", digestMethods[h])
	ref.CreateElement("ds:DigestValue").SetText(base64.StdEncoding.EncodeToString(hh.Sum(nil)))

	siCopy := si.Copy()
	siCopy.CreateAttr("xmlns:ds", check.NSDSig)
	siCanon, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(siCopy)
	if err != nil {
		return err
	}
	sh := h.New()
	sh.Write(siCanon)
	sv, err := rsa.SignPKCS1v15(rand.Reader, key, h, sh.Sum(nil))
	if err != nil {
		return err
	}
	sig.CreateElement("ds:SignatureValue").SetText(base64.StdEncoding.EncodeToString(sv))
	sig.CreateElement("ds:KeyInfo").CreateElement("ds:X509Data").CreateElement("ds:X509Certificate").
		SetText(base64.StdEncoding.EncodeToString(cert.Raw))

	pos := 0
	for i, t := range el.Child {
		if ch, ok := t.(*etree.Element); ok && ch.Tag == "Issuer" {
			pos = i + 1
			break
		}
	}
	el.InsertChildAt(pos, sig)
	return nil
}

// NewKeyPair returns an RSA key of the given size and a self-signed
// certificate for it, valid from an hour before now for a year.
func NewKeyPair(bits int, cn string, now time.Time) (*rsa.PrivateKey, *x509.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}
