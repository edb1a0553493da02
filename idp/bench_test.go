package idp

// Benchmarks of the unexported steps of the SSO request path (sso.go):
// query parse, query-signature verify, inflate, pre-scan, unmarshal and
// validate, and the Response builder without its RSA signature. The whole
// path through the HTTP handler, the raw RSA rate and crewjam/saml's IdP are
// benchmarked in ../bench. Run:
//
//	go test ./idp -run '^$' -bench . -benchmem

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"hcidp/internal/xmlguard"
	"hcidp/saml"
	"math/big"
	"net/url"
	"sync"
	"testing"
	"time"

	xrv "github.com/mattermost/xml-roundtrip-validator"
)

// benchSP is a signing key of a mock SP and its certificate.
type benchSP struct {
	key  *rsa.PrivateKey
	cert *x509.Certificate
}

var (
	benchSPMu   sync.Mutex
	benchSPKeys = map[int]*benchSP{}
)

// spKey returns an SP key pair of the given size, made once per process.
func spKey(b testing.TB, bits int) *benchSP {
	b.Helper()
	benchSPMu.Lock()
	defer benchSPMu.Unlock()
	if sp := benchSPKeys[bits]; sp != nil {
		return sp
	}
	key, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		b.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "bench SP"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		b.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		b.Fatal(err)
	}
	sp := &benchSP{key: key, cert: cert}
	benchSPKeys[bits] = sp
	return sp
}

// benchAuthnRequestXML is shaped like the mock IAM's (and Huawei's) request.
func benchAuthnRequestXML(id string) []byte {
	return []byte(fmt.Sprintf(`<samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" `+
		`xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID=%q Version="2.0" IssueInstant=%q `+
		`Destination="https://idp.partner.example/saml/sso" `+
		`AssertionConsumerServiceURL="https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer" `+
		`ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST">`+
		`<saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer>`+
		`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/>`+
		`</samlp:AuthnRequest>`, id, time.Now().UTC().Format("2006-01-02T15:04:05.000Z")))
}

// benchSignedQuery returns a signed HTTP-Redirect query string (SAML
// bindings §3.4.4.1) carrying a deflated AuthnRequest.
func benchSignedQuery(b testing.TB, sp *benchSP) (rawQuery string, doc []byte) {
	b.Helper()
	doc = benchAuthnRequestXML("_b0e8a7c5f1d24c3e9a6b7c8d9e0f1a2b")
	var z bytes.Buffer
	fw, _ := flate.NewWriter(&z, flate.BestCompression)
	fw.Write(doc)
	fw.Close()
	q := "SAMLRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(z.Bytes())) +
		"&RelayState=" + url.QueryEscape("rs_0123456789abcdef0123456789abcdef") +
		"&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
	d := sha256.Sum256([]byte(q))
	sig, err := rsa.SignPKCS1v15(rand.Reader, sp.key, crypto.SHA256, d[:])
	if err != nil {
		b.Fatal(err)
	}
	return q + "&Signature=" + url.QueryEscape(base64.StdEncoding.EncodeToString(sig)), doc
}

func BenchmarkParseSignedQuery(b *testing.B) {
	q, _ := benchSignedQuery(b, spKey(b, 2048))
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := ParseSignedQuery(q, "SAMLRequest", "RelayState", "SigAlg", "Signature"); ref != nil {
			b.Fatal(ref)
		}
	}
}

// BenchmarkVerifyQuerySignature is step 4: rebuild the signed octets and
// verify them with the SP's key (Huawei's SP key is RSA-4096).
func BenchmarkVerifyQuerySignature(b *testing.B) {
	for _, bits := range []int{2048, 4096} {
		b.Run(fmt.Sprintf("RSA%d", bits), func(b *testing.B) {
			sp := spKey(b, bits)
			rq, _ := benchSignedQuery(b, sp)
			q, ref := ParseSignedQuery(rq, "SAMLRequest", "RelayState", "SigAlg", "Signature")
			if ref != nil {
				b.Fatal(ref)
			}
			certs := []*x509.Certificate{sp.cert}
			b.ReportAllocs()
			for b.Loop() {
				sig, ok := decodeSignature(q.Get("Signature").Value)
				if !ok {
					b.Fatal("signature encoding")
				}
				octets := SignedOctets(q, "SAMLRequest", "RelayState", "SigAlg")
				if verifyQuerySignature(octets, sig, crypto.SHA256, certs) != 0 {
					b.Fatal("signature does not verify")
				}
			}
		})
	}
}

func BenchmarkInflateRequest(b *testing.B) {
	rq, doc := benchSignedQuery(b, spKey(b, 2048))
	q, _ := ParseSignedQuery(rq, "SAMLRequest")
	enc := q.Get("SAMLRequest").Value
	b.ReportAllocs()
	for b.Loop() {
		out, ref := inflateRequest(enc)
		if ref != nil || len(out) != len(doc) {
			b.Fatal(ref)
		}
	}
}

// BenchmarkGuardXML is the untrusted-XML guard alone (xmlguard.Check).
func BenchmarkGuardXML(b *testing.B) {
	doc := benchAuthnRequestXML("_b0e8a7c5f1d24c3e9a6b7c8d9e0f1a2b")
	b.ReportAllocs()
	for b.Loop() {
		if err := xmlguard.Check(doc, requestLimits); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRoundTripValidator is github.com/mattermost/xml-roundtrip-validator
// alone: what the guard's second pass cost before it was dropped.
func BenchmarkRoundTripValidator(b *testing.B) {
	doc := benchAuthnRequestXML("_b0e8a7c5f1d24c3e9a6b7c8d9e0f1a2b")
	b.ReportAllocs()
	for b.Loop() {
		if err := xrv.Validate(bytes.NewReader(doc)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkUnmarshalAuthnRequest is encoding/xml's Unmarshal alone: the
// second tokenization parseAuthnRequest no longer does.
func BenchmarkUnmarshalAuthnRequest(b *testing.B) {
	doc := benchAuthnRequestXML("_b0e8a7c5f1d24c3e9a6b7c8d9e0f1a2b")
	b.ReportAllocs()
	for b.Loop() {
		var req AuthnRequest
		if err := xml.Unmarshal(doc, &req); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParseAuthnRequest is step 6 whole: the guard's pass that also
// reads the request, then the checks.
func BenchmarkParseAuthnRequest(b *testing.B) {
	doc := benchAuthnRequestXML("_b0e8a7c5f1d24c3e9a6b7c8d9e0f1a2b")
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := parseAuthnRequest(doc); ref != nil {
			b.Fatal(ref)
		}
	}
}

// BenchmarkRequestSteps chains steps 2-6 (no replay cache, no session):
// everything before the Response is built, as verifyAuthnRequest runs it.
func BenchmarkRequestSteps(b *testing.B) {
	for _, bits := range []int{2048, 4096} {
		b.Run(fmt.Sprintf("SP-RSA%d", bits), func(b *testing.B) {
			sp := spKey(b, bits)
			rq, _ := benchSignedQuery(b, sp)
			certs := []*x509.Certificate{sp.cert}
			b.ReportAllocs()
			for b.Loop() {
				q, ref := ParseSignedQuery(rq, "SAMLRequest", "RelayState", "SigAlg", "Signature")
				if ref != nil {
					b.Fatal(ref)
				}
				h, _ := sigHash(q.Get("SigAlg").Value, false)
				sig, _ := decodeSignature(q.Get("Signature").Value)
				if verifyQuerySignature(SignedOctets(q, "SAMLRequest", "RelayState", "SigAlg"), sig, h, certs) != 0 {
					b.Fatal("signature")
				}
				doc, ref := inflateRequest(q.Get("SAMLRequest").Value)
				if ref != nil {
					b.Fatal(ref)
				}
				if _, ref := parseAuthnRequest(doc); ref != nil {
					b.Fatal(ref)
				}
			}
		})
	}
}

// BenchmarkBuildAssertionNoSign writes the canonical Assertion head and body
// and their digest: the Response work apart from the RSA signature.
func BenchmarkBuildAssertionNoSign(b *testing.B) {
	p := sampleParams()
	b.ReportAllocs()
	for b.Loop() {
		if err := p.validate(); err != nil {
			b.Fatal(err)
		}
		head, tail := getBuf(), getBuf()
		head.WriteString(`<saml2:Assertion xmlns:saml2="` + saml.NamespaceAssertion + `" xmlns:xsd="` + saml.NamespaceXSD + `"`)
		writeAttr(head, "ID", p.AssertionID)
		writeAttr(head, "IssueInstant", samlTime(p.IssueInstant))
		head.WriteString(` Version="2.0">`)
		writeAssertionBody(tail, p)
		h := sha256.New()
		h.Write(head.Bytes())
		h.Write(tail.Bytes())
		h.Sum(nil)
		putBuf(head)
		putBuf(tail)
	}
}

// BenchmarkNewID is one of the four random IDs each Response takes.
func BenchmarkNewID(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := randomID(rand.Reader); err != nil {
			b.Fatal(err)
		}
	}
}
