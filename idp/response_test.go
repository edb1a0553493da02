package idp

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/beevik/etree"
	dsig "github.com/russellhaering/goxmldsig"

	"hcidp/internal/golden"
	"hcidp/internal/xmlsectest"
	"hcidp/saml"
)

var (
	testKeyOnce sync.Once
	testKey     *rsa.PrivateKey
	testCert    *x509.Certificate
)

// testKeyPair returns a fixed RSA-2048 key pair read from testdata (made once
// with `idp keys generate`), so golden output is stable.
func testKeyPair(t testing.TB) (*rsa.PrivateKey, *x509.Certificate) {
	t.Helper()
	testKeyOnce.Do(func() {
		kb, err := os.ReadFile("testdata/idp.key")
		if err != nil {
			panic(err)
		}
		cb, err := os.ReadFile("testdata/idp.crt")
		if err != nil {
			panic(err)
		}
		kblk, _ := pem.Decode(kb)
		k, err := x509.ParsePKCS8PrivateKey(kblk.Bytes)
		if err != nil {
			panic(err)
		}
		cblk, _ := pem.Decode(cb)
		c, err := x509.ParseCertificate(cblk.Bytes)
		if err != nil {
			panic(err)
		}
		testKey, testCert = k.(*rsa.PrivateKey), c
	})
	return testKey, testCert
}

var fixedTime = time.Date(2026, 11, 23, 8, 21, 41, 740_000_000, time.UTC)

func sampleParams() *ResponseParams {
	return &ResponseParams{
		ResponseID:   "_d794dc393ae6724e236003bf0b917cf0",
		AssertionID:  "_2320c40ac7b5e857b2d0d4ea0c8758c3",
		IssueInstant: fixedTime,
		Destination:  "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer",
		InResponseTo: "_dck4mm08qmdhc8k4nuir07hghetdqqg8umg5",
		SPEntityID:   "https://auth.huaweicloud.com/",
		NameID:       "_5f1c0a7e2b9d4c3a8e6f0b1d2c3a4e5f",
		SessionIndex: "_0a1b2c3d4e5f60718293a4b5c6d7e8f9",
		AuthnInstant: fixedTime.Add(-time.Minute),
		NotBefore:    fixedTime.Add(-time.Minute),
		NotOnOrAfter: fixedTime.Add(5 * time.Minute),
		Attributes: []Attribute{
			{"xUserId", "cust-0001"}, {"xAccountId", "cust-0001"}, {"bpId", "bp-4711"},
			{"email", "a&b<c>@example.com"}, {"name", "zhang_san"}, {"mobile", "+86-13800000000"},
		},
	}
}

func TestResponseGolden(t *testing.T) {
	key, cert := testKeyPair(t)
	s, err := NewSigner(key, cert, "https://idp.partner.example/saml/metadata", false)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Response(sampleParams())
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "response.golden.xml", got)
}

// TestCanonicalFormMatchesGoxmldsig proves that what the Signer writes is
// already the exc-c14n form goxmldsig computes, for the Assertion (with the
// "xsd" prefix list, Signature removed) and for SignedInfo, and that
// goxmldsig validates the signature.
func TestCanonicalFormMatchesGoxmldsig(t *testing.T) {
	key, cert := testKeyPair(t)
	for _, signResponse := range []bool{false, true} {
		s, err := NewSigner(key, cert, "https://idp.partner.example/saml/metadata?a=1&b=\"2\"", signResponse)
		if err != nil {
			t.Fatal(err)
		}
		p := sampleParams()
		p.Attributes = append(p.Attributes, Attribute{"note", "tab\there\r\nline > & < \" ' 中文"})
		out, err := s.Response(p)
		if err != nil {
			t.Fatal(err)
		}
		doc := etree.NewDocument()
		if err := doc.ReadFromBytes(out); err != nil {
			t.Fatal(err)
		}
		assertion := doc.FindElement("/Response/Assertion")
		sig := assertion.FindElement("Signature")
		signedInfo := sig.FindElement("SignedInfo")

		// Assertion: remove the Signature, canonicalize, compare with our bytes.
		raw := string(out)
		start := strings.Index(raw, "<saml2:Assertion")
		end := strings.Index(raw, "</saml2:Assertion>") + len("</saml2:Assertion>")
		sigStart := strings.Index(raw[start:], "<ds:Signature") + start
		sigEnd := strings.Index(raw[start:], "</ds:Signature>") + start + len("</ds:Signature>")
		ours := raw[start:sigStart] + raw[sigEnd:end]

		a := assertion.Copy()
		a.RemoveChild(a.FindElement("Signature"))
		// Carry the in-scope namespace declarations of the Response, as a
		// verifier's canonicalizer sees them.
		a.CreateAttr("xmlns:saml2p", saml.NamespaceProtocol)
		c14n, err := dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("xsd").Canonicalize(a)
		if err != nil {
			t.Fatal(err)
		}
		if string(c14n) != ours {
			t.Errorf("Assertion is not canonical:\n ours: %s\nc14n: %s", ours, c14n)
		}

		si := signedInfo.Copy()
		si.CreateAttr("xmlns:ds", saml.NamespaceXMLDSig)
		c14n, err = dsig.MakeC14N10ExclusiveCanonicalizerWithPrefixList("").Canonicalize(si)
		if err != nil {
			t.Fatal(err)
		}
		siStart := strings.Index(raw[sigStart:], "<ds:SignedInfo>") + sigStart
		siEnd := strings.Index(raw[sigStart:], "</ds:SignedInfo>") + sigStart + len("</ds:SignedInfo>")
		oursSI := signedInfoOpenC14N + raw[siStart+len(signedInfoOpenDoc):siEnd]
		if string(c14n) != oursSI {
			t.Errorf("SignedInfo is not canonical:\n ours: %s\nc14n: %s", oursSI, c14n)
		}

		vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
		vc.Clock = dsig.NewFakeClockAt(fixedTime)
		target := doc.Root()
		if !signResponse {
			target = assertion
		}
		if _, err := vc.Validate(target); err != nil {
			t.Errorf("signResponse=%v: goxmldsig rejects the signature: %v", signResponse, err)
		}
		if signResponse {
			if _, err := vc.Validate(assertion); err != nil {
				t.Errorf("goxmldsig rejects the Assertion signature: %v", err)
			}
		}
		// xmlsec1 verifies the first Signature it meets: the Response's when
		// the Response is signed, else the Assertion's.
		xmlsectest.Verify(t, out, cert)
	}
}

func TestErrorResponseVerifies(t *testing.T) {
	key, cert := testKeyPair(t)
	s, err := NewSigner(key, cert, "https://idp.partner.example/saml/metadata", false)
	if err != nil {
		t.Fatal(err)
	}
	out, err := s.ErrorResponse(&ErrorParams{ResponseID: "_e1", IssueInstant: fixedTime,
		Destination: "https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer", InResponseTo: "_r1",
		StatusCode: saml.StatusResponder, SubStatus: saml.StatusNoPassive, Message: "no session & passive"})
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("<saml2:Assertion")) {
		t.Fatal("error response carries an assertion")
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(out); err != nil {
		t.Fatal(err)
	}
	vc := dsig.NewDefaultValidationContext(&dsig.MemoryX509CertificateStore{Roots: []*x509.Certificate{cert}})
	vc.Clock = dsig.NewFakeClockAt(fixedTime)
	if _, err := vc.Validate(doc.Root()); err != nil {
		t.Fatalf("goxmldsig rejects the error Response: %v", err)
	}
	xmlsectest.Verify(t, out, cert)
}

func TestResponseRefusesInvalidCharacters(t *testing.T) {
	key, cert := testKeyPair(t)
	s, _ := NewSigner(key, cert, "https://idp.partner.example/saml/metadata", false)
	p := sampleParams()
	p.Attributes[3].Value = "bad\x01value"
	if _, err := s.Response(p); err == nil {
		t.Fatal("a control character was accepted")
	}
}

func TestSignerRefusesForeignCertificate(t *testing.T) {
	key, _ := testKeyPair(t)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "x"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &other.PublicKey, other)
	cert, _ := x509.ParseCertificate(der)
	if _, err := NewSigner(key, cert, "https://idp.example", false); err == nil {
		t.Fatal("a certificate of another key was accepted")
	}
}
