package check_test

import (
	"bytes"
	"crypto"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"

	"hcidp/check"
	"hcidp/check/checktest"
)

const (
	testIdP      = "https://idp.partner.example"
	testACS      = "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
	testAudience = "https://auth.huaweicloud.com/"
	testRequest  = "_0123456789abcdef0123456789abcdef"
	testBpID     = "bp-0001"
)

var (
	keysOnce          sync.Once
	idpKey, otherKey  *rsa.PrivateKey
	idpCert, otherCrt *x509.Certificate
	testNow           = time.Now().UTC().Truncate(time.Millisecond)
)

func keys(t *testing.T) {
	t.Helper()
	keysOnce.Do(func() {
		var err error
		if idpKey, idpCert, err = checktest.NewKeyPair(2048, "idp.partner.example", testNow); err != nil {
			panic(err)
		}
		if otherKey, otherCrt, err = checktest.NewKeyPair(2048, "attacker.example", testNow); err != nil {
			panic(err)
		}
	})
}

// baseOptions returns the options of a valid profile Response.
func baseOptions(t *testing.T) checktest.Options {
	keys(t)
	return checktest.Options{
		Key:          idpKey,
		Cert:         idpCert,
		IdPEntityID:  testIdP,
		Destination:  testACS,
		Audience:     testAudience,
		InResponseTo: testRequest,
		Now:          testNow,
		Attributes: []checktest.Attribute{
			{Name: "xUserId", Value: "cust-0001"},
			{Name: "xAccountId", Value: "cust-0001"},
			{Name: "bpId", Value: testBpID},
			{Name: "email", Value: "alice@example.com"},
			{Name: "name", Value: "alice_01"},
			{Name: "mobile", Value: "+86 138-0013-8000"},
		},
	}
}

func baseExpect() check.Expect {
	return check.Expect{
		IdPCerts:     []*x509.Certificate{idpCert},
		IdPEntityID:  testIdP,
		Destination:  testACS,
		Audience:     testAudience,
		InResponseTo: testRequest,
		BpID:         testBpID,
		Now:          testNow,
	}
}

func build(t *testing.T, o checktest.Options) []byte {
	t.Helper()
	doc, err := checktest.Response(o)
	if err != nil {
		t.Fatalf("build response: %v", err)
	}
	return doc
}

// requireXmlsec1 returns the path of xmlsec1, skipping the test when it is
// missing (failing instead when CI is set).
func requireXmlsec1(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("xmlsec1")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("xmlsec1 is required in CI: %v", err)
		}
		t.Skip("xmlsec1 not installed; skipping the independent signature check")
	}
	return p
}

func xmlsecVerify(t *testing.T, bin string, doc []byte, cert *x509.Certificate, idAttrs ...string) error {
	t.Helper()
	dir := t.TempDir()
	certPath := filepath.Join(dir, "cert.pem")
	docPath := filepath.Join(dir, "response.xml")
	if err := os.WriteFile(certPath, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(docPath, doc, 0o600); err != nil {
		t.Fatal(err)
	}
	args := []string{"--verify"}
	for _, id := range idAttrs {
		args = append(args, "--id-attr:ID", id)
	}
	args = append(args, "--pubkey-cert-pem", certPath, docPath)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return &xmlsecError{err: err, out: string(out)}
	}
	return nil
}

type xmlsecError struct {
	err error
	out string
}

func (e *xmlsecError) Error() string { return e.err.Error() + ": " + e.out }

func TestHelperOutputVerifiesWithXmlsec1(t *testing.T) {
	bin := requireXmlsec1(t)
	doc := build(t, baseOptions(t))
	if err := xmlsecVerify(t, bin, doc, idpCert, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"); err != nil {
		t.Fatalf("xmlsec1 rejects the helper's Assertion signature: %v\n%s", err, doc)
	}
	// Sanity: the same check fails on a tampered document.
	tampered := bytes.Replace(doc, []byte("alice@example.com"), []byte("mallory@example.com"), 1)
	if err := xmlsecVerify(t, bin, tampered, idpCert, "urn:oasis:names:tc:SAML:2.0:assertion:Assertion"); err == nil {
		t.Fatal("xmlsec1 accepted a tampered Assertion; the xmlsec1 check proves nothing")
	}

	o := baseOptions(t)
	o.SignResponse = true
	signed := build(t, o)
	if err := xmlsecVerify(t, bin, signed, idpCert,
		"urn:oasis:names:tc:SAML:2.0:protocol:Response",
		"urn:oasis:names:tc:SAML:2.0:assertion:Assertion"); err != nil {
		t.Fatalf("xmlsec1 rejects the helper's Response signature: %v\n%s", err, signed)
	}
}

func TestValidResponse(t *testing.T) {
	o := baseOptions(t)
	o.NameID = "_nameid0001"
	o.SessionIndex = "_session0001"
	o.ResponseID = "_resp0001"
	o.AssertionID = "_assert0001"
	res := check.Response(build(t, o), baseExpect())
	if !res.OK || len(res.Findings) != 0 {
		t.Fatalf("valid Response refused: %v", res.Findings)
	}
	want := map[string]string{
		"xUserId": "cust-0001", "xAccountId": "cust-0001", "bpId": testBpID,
		"email": "alice@example.com", "name": "alice_01", "mobile": "+86 138-0013-8000",
	}
	for k, v := range want {
		if res.Attributes[k] != v {
			t.Errorf("attribute %s = %q, want %q", k, res.Attributes[k], v)
		}
	}
	if res.ResponseID != "_resp0001" || res.AssertionID != "_assert0001" || res.NameID != "_nameid0001" ||
		res.SessionIndex != "_session0001" || res.InResponseTo != testRequest || res.Issuer != testIdP ||
		res.StatusCode != check.StatusSuccess || res.AuthnInstant.IsZero() {
		t.Errorf("result fields not filled as expected: %+v", res)
	}
}

// mutate returns a function that edits the assertion found in the Response.
func findAssertion(resp *etree.Element) *etree.Element {
	for _, ch := range resp.ChildElements() {
		if ch.Tag == "Assertion" {
			return ch
		}
	}
	return nil
}

func TestFindings(t *testing.T) {
	keys(t)
	cases := []struct {
		name   string
		opts   func(o *checktest.Options)
		expect func(e *check.Expect)
		doc    func(doc []byte) []byte
		want   []string // rules that must be reported
		only   bool     // no other rule may be reported
	}{
		{
			name: "statements in reverse order are accepted",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) {
					st := a.SelectElement("AttributeStatement")
					a.RemoveChild(st)
					a.AddChild(st)
				}
			},
			want: nil, only: true,
		},
		{
			name: "also signed Response is accepted",
			opts: func(o *checktest.Options) { o.SignResponse = true },
			want: nil, only: true,
		},
		{
			name: "attribute tampered after signing",
			doc: func(doc []byte) []byte {
				return bytes.ReplaceAll(doc, []byte(">cust-0001<"), []byte(">cust-9999<"))
			},
			want: []string{"signature.invalid"},
		},
		{
			name: "wrong audience",
			opts: func(o *checktest.Options) { o.Audience = "https://auth-intl.huaweicloud.com/" },
			want: []string{"conditions.audience", "subject.nameid.qualifier", "authn.subject_locality"},
			only: true,
		},
		{
			name: "wrong recipient",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) {
					scd := a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData")
					scd.CreateAttr("Recipient", "https://evil.example/acs")
				}
			},
			want: []string{"subject.confirmation.recipient"}, only: true,
		},
		{
			name:   "expired",
			expect: func(e *check.Expect) { e.Now = testNow.Add(20 * time.Minute) },
			want:   []string{"conditions.expired", "subject.confirmation.expired", "response.issue_instant"},
		},
		{
			name:   "not yet valid",
			expect: func(e *check.Expect) { e.Now = testNow.Add(-10 * time.Minute) },
			want:   []string{"conditions.not_yet_valid", "response.issue_instant", "authn.instant"},
		},
		{
			name: "confirmation lifetime too long",
			opts: func(o *checktest.Options) { o.Lifetime = 30 * time.Minute },
			want: []string{"subject.confirmation.lifetime"}, only: true,
		},
		{
			name: "NotBefore on bearer confirmation data",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) {
					a.FindElement("./Subject/SubjectConfirmation/SubjectConfirmationData").CreateAttr("NotBefore", "2018-10-28T08:21:41.740Z")
				}
			},
			want: []string{"subject.confirmation.not_before"}, only: true,
		},
		{
			name: "missing xUserId",
			opts: func(o *checktest.Options) { o.Attributes = o.Attributes[1:] },
			want: []string{"attr.xUserId.missing"}, only: true,
		},
		{
			name: "xUserId differs from xAccountId",
			opts: func(o *checktest.Options) { o.Attributes[0].Value = "cust-0002" },
			want: []string{"attr.xUserId.mismatch"}, only: true,
		},
		{
			name: "xAccountId too long",
			opts: func(o *checktest.Options) {
				long := strings.Repeat("a", 129)
				o.Attributes[0].Value, o.Attributes[1].Value = long, long
			},
			want: []string{"attr.xAccountId.too_long", "attr.xUserId.too_long"}, only: true,
		},
		{
			name: "bad email",
			opts: func(o *checktest.Options) { o.Attributes[3].Value = "alice at example.com" },
			want: []string{"attr.email.invalid"}, only: true,
		},
		{
			name: "email too long",
			opts: func(o *checktest.Options) { o.Attributes[3].Value = strings.Repeat("a", 60) + "@example.com" },
			want: []string{"attr.email.too_long"}, only: true,
		},
		{
			name: "bad name starting with a digit",
			opts: func(o *checktest.Options) { o.Attributes[4].Value = "1alice" },
			want: []string{"attr.name.invalid"}, only: true,
		},
		{
			name: "name too short",
			opts: func(o *checktest.Options) { o.Attributes[4].Value = "abc" },
			want: []string{"attr.name.invalid"}, only: true,
		},
		{
			name: "mobile with control character",
			opts: func(o *checktest.Options) { o.Attributes[5].Value = "+86 138\t0013" },
			want: []string{"attr.mobile.control_char"}, only: true,
		},
		{
			name: "optional attribute present but empty",
			opts: func(o *checktest.Options) { o.Attributes[3].Value = "" },
			want: []string{"attr.email.empty"}, only: true,
		},
		{
			name: "bpId mismatch",
			opts: func(o *checktest.Options) { o.Attributes[2].Value = "bp-other" },
			want: []string{"attr.bpId.mismatch"}, only: true,
		},
		{
			name: "bpld spelling from the OCR'd guide",
			opts: func(o *checktest.Options) { o.Attributes[2].Name = "bpld" },
			want: []string{"attr.unknown", "attr.bpId.missing"}, only: true,
		},
		{
			name: "duplicate attribute",
			opts: func(o *checktest.Options) { o.Attributes = append(o.Attributes, o.Attributes[1]) },
			want: []string{"attr.duplicate"}, only: true,
		},
		{
			name: "SHA-1 signature",
			opts: func(o *checktest.Options) { o.Hash = crypto.SHA1 },
			want: []string{"signature.sha1"},
		},
		{
			name: "signed by another key with its own certificate",
			opts: func(o *checktest.Options) { o.Key, o.Cert = otherKey, otherCrt },
			want: []string{"signature.certificate", "signature.invalid"},
		},
		{
			name: "signed by another key with the IdP certificate in KeyInfo",
			opts: func(o *checktest.Options) { o.Key = otherKey },
			want: []string{"signature.invalid"},
		},
		{
			name: "unsigned assertion",
			opts: func(o *checktest.Options) { o.Unsigned = true },
			want: []string{"signature.missing"}, only: true,
		},
		{
			name: "no InclusiveNamespaces prefix list",
			opts: func(o *checktest.Options) { o.PrefixList = "-" },
			want: []string{"signature.prefix_list", "attr.xUserId.value_type"},
		},
		{
			name: "signature after Subject",
			opts: func(o *checktest.Options) {
				o.MutateResponse = func(r *etree.Element) {
					a := findAssertion(r)
					sig := a.SelectElement("Signature")
					a.RemoveChild(sig)
					a.InsertChildAt(a.SelectElement("Subject").Index()+1, sig)
				}
			},
			want: []string{"signature.position"}, only: true,
		},
		{
			name: "wrapping attack: second unsigned assertion",
			opts: func(o *checktest.Options) {
				o.MutateResponse = func(r *etree.Element) {
					evil := findAssertion(r).Copy()
					evil.CreateAttr("ID", "_evil")
					evil.RemoveChild(evil.SelectElement("Signature"))
					for _, v := range evil.FindElements(".//AttributeValue") {
						if v.Text() == "cust-0001" {
							v.SetText("victim-0042")
						}
					}
					r.InsertChildAt(findAssertion(r).Index(), evil)
				}
			},
			want: []string{"assertion.multiple"}, only: true,
		},
		{
			name: "wrapping attack: assertion hidden in Extensions",
			opts: func(o *checktest.Options) {
				o.MutateResponse = func(r *etree.Element) {
					a := findAssertion(r)
					r.RemoveChild(a)
					ext := etree.NewElement("saml2p:Extensions")
					ext.AddChild(a)
					r.InsertChildAt(r.SelectElement("Status").Index(), ext)
				}
			},
			want: []string{"assertion.position"}, only: true,
		},
		{
			name: "encrypted assertion",
			opts: func(o *checktest.Options) {
				o.MutateResponse = func(r *etree.Element) {
					a := findAssertion(r)
					r.RemoveChild(a)
					enc := r.CreateElement("saml2:EncryptedAssertion")
					enc.CreateAttr("xmlns:saml2", check.NSAssertion)
					enc.CreateElement("xenc:EncryptedData").CreateAttr("xmlns:xenc", "http://www.w3.org/2001/04/xmlenc#")
				}
			},
			want: []string{"assertion.encrypted"}, only: true,
		},
		{
			name: "DOCTYPE",
			doc: func(doc []byte) []byte {
				return bytes.Replace(doc, []byte("?>"), []byte("?><!DOCTYPE r [<!ENTITY x \"y\">]>"), 1)
			},
			want: []string{"input.doctype"}, only: true,
		},
		{
			name: "processing instruction",
			doc: func(doc []byte) []byte {
				return bytes.Replace(doc, []byte("?>"), []byte("?><?xml-stylesheet href=\"x\"?>"), 1)
			},
			want: []string{"input.procinst"}, only: true,
		},
		{
			name: "status not success",
			opts: func(o *checktest.Options) { o.Status = "urn:oasis:names:tc:SAML:2.0:status:Requester" },
			want: []string{"status.not_success"}, only: true,
		},
		{
			name:   "InResponseTo mismatch",
			expect: func(e *check.Expect) { e.InResponseTo = "_ffffffffffffffffffffffffffffffff" },
			want:   []string{"response.in_response_to", "subject.confirmation.in_response_to"}, only: true,
		},
		{
			name: "wrong destination",
			expect: func(e *check.Expect) {
				e.Destination = "https://auth.eu.huaweicloud.com/authui/saml/SAMLAssertionConsumer"
			},
			want: []string{"response.destination", "subject.confirmation.recipient"}, only: true,
		},
		{
			name: "wrong issuer",
			opts: func(o *checktest.Options) { o.IdPEntityID = "https://other-idp.example" },
			want: []string{"response.issuer", "assertion.issuer"}, only: true,
		},
		{
			name: "Response signature broken",
			opts: func(o *checktest.Options) {
				o.SignResponse = true
				o.MutateResponse = func(r *etree.Element) { r.CreateAttr("Consent", "urn:oasis:names:tc:SAML:2.0:consent:obtained") }
			},
			want: []string{"response.signature.invalid"}, only: true,
		},
		{
			name: "unknown assertion child",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) { a.CreateElement("saml2:AuthzDecisionStatement") }
			},
			want: []string{"assertion.unexpected_child"}, only: true,
		},
		{
			name: "missing AuthnStatement",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) { a.RemoveChild(a.SelectElement("AuthnStatement")) }
			},
			want: []string{"assertion.missing_child"}, only: true,
		},
		{
			name: "attribute value typed xs:string without declaration",
			opts: func(o *checktest.Options) {
				o.Mutate = func(a *etree.Element) {
					a.FindElement(".//AttributeValue").CreateAttr("xsi:type", "xs:string")
				}
			},
			want: []string{"attr.xUserId.value_type"}, only: true,
		},
		{
			name: "too large",
			doc:  func([]byte) []byte { return bytes.Repeat([]byte(" "), check.MaxSize+1) },
			want: []string{"input.too_large"}, only: true,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			o := baseOptions(t)
			if tc.opts != nil {
				tc.opts(&o)
			}
			doc := build(t, o)
			if tc.doc != nil {
				doc = tc.doc(doc)
			}
			e := baseExpect()
			if tc.expect != nil {
				tc.expect(&e)
			}
			res := check.Response(doc, e)
			for _, f := range res.Findings {
				t.Logf("%s", f)
			}
			got := res.Rules()
			for _, w := range tc.want {
				if !res.Has(w) {
					t.Errorf("missing finding %q; got %v", w, res.Findings)
				}
			}
			if tc.only {
				for _, g := range got {
					if !slices.Contains(tc.want, g) {
						t.Errorf("unexpected finding %q: %v", g, res.Findings)
					}
				}
			}
			if len(tc.want) > 0 && res.OK {
				t.Errorf("Result.OK is true with findings %v", got)
			}
			for _, f := range res.Findings {
				if f.Message == "" || f.Rule == "" {
					t.Errorf("finding without rule or message: %+v", f)
				}
			}
			if len(tc.want) > 0 && (res.Has("signature.invalid") || res.Has("signature.missing") || res.Has("signature.sha1")) {
				if len(res.Attributes) != 0 || res.NameID != "" || res.AssertionID != "" {
					t.Errorf("unverified content leaked into the result: %+v", res)
				}
			}
		})
	}
}

// TestWrappingAttackNeverReportsForgedAccount makes sure the values of an
// unsigned Assertion never reach the Result.
func TestWrappingAttackNeverReportsForgedAccount(t *testing.T) {
	o := baseOptions(t)
	o.MutateResponse = func(r *etree.Element) {
		a := findAssertion(r)
		// Move the signed Assertion into a wrapper and put a forged one where
		// the signed one was, reusing its ID.
		evil := a.Copy()
		evil.RemoveChild(evil.SelectElement("Signature"))
		for _, v := range evil.FindElements(".//AttributeValue") {
			if v.Text() == "cust-0001" {
				v.SetText("victim-0042")
			}
		}
		r.RemoveChild(a)
		ext := etree.NewElement("saml2p:Extensions")
		ext.AddChild(a)
		r.InsertChildAt(r.SelectElement("Status").Index(), ext)
		r.AddChild(evil)
	}
	res := check.Response(build(t, o), baseExpect())
	if res.OK {
		t.Fatal("wrapped Response accepted")
	}
	if res.Attributes["xAccountId"] == "victim-0042" {
		t.Fatal("forged xAccountId reported")
	}
	if !res.Has("assertion.multiple") {
		t.Errorf("expected assertion.multiple, got %v", res.Rules())
	}
}

func TestMessagesNameExpectedAndGot(t *testing.T) {
	o := baseOptions(t)
	o.Audience = "https://auth-intl.huaweicloud.com/"
	res := check.Response(build(t, o), baseExpect())
	for _, f := range res.Findings {
		if f.Rule == "conditions.audience" {
			if !strings.Contains(f.Message, "https://auth-intl.huaweicloud.com/") || !strings.Contains(f.Message, testAudience) {
				t.Errorf("message lacks expected/got values: %s", f.Message)
			}
			return
		}
	}
	t.Fatalf("no conditions.audience finding: %v", res.Findings)
}

func TestDecode(t *testing.T) {
	doc := build(t, baseOptions(t))
	b64 := base64.StdEncoding.EncodeToString(doc)
	var wrapped strings.Builder
	for i := 0; i < len(b64); i += 76 {
		wrapped.WriteString(b64[i:min(i+76, len(b64))])
		wrapped.WriteString("\r\n")
	}
	cases := map[string]string{
		"raw XML":                 "\n  " + string(doc),
		"base64":                  b64,
		"base64 with line breaks": wrapped.String(),
		"base64 without padding":  strings.TrimRight(b64, "="),
		"form body":               "SAMLResponse=" + url.QueryEscape(b64) + "&RelayState=abc",
		"form body, raw plus":     "RelayState=abc&SAMLResponse=" + b64,
		"URL-encoded base64":      url.QueryEscape(b64),
	}
	for name, in := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := check.Decode([]byte(in))
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(doc)) {
				t.Fatalf("Decode returned a different document")
			}
		})
	}
	for name, in := range map[string]string{
		"empty":       "   ",
		"not base64":  "!!!not base64!!!",
		"not XML":     base64.StdEncoding.EncodeToString([]byte("hello")),
		"twice":       "SAMLResponse=a&SAMLResponse=b",
		"way too big": strings.Repeat("A", 4<<20),
	} {
		t.Run("refuses "+name, func(t *testing.T) {
			if _, err := check.Decode([]byte(in)); err == nil {
				t.Fatal("Decode accepted bad input")
			}
		})
	}
}

func TestExpectDefaults(t *testing.T) {
	keys(t)
	o := baseOptions(t)
	o.Now = time.Now()
	e := baseExpect()
	e.Now = time.Time{} // defaults to time.Now()
	e.Skew = 0          // defaults to 3 minutes
	if res := check.Response(build(t, o), e); !res.OK {
		t.Fatalf("refused with default Now/Skew: %v", res.Findings)
	}
}
