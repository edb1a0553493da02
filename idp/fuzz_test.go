package idp

// Fuzz targets of the parsers attacker input reaches (docs/threat-model.md
// "Order of checks"). `go test` runs the seeds and the
// committed corpus in testdata/fuzz/<Name>/; scripts/fuzz.sh runs each
// target for a bounded time. Invariants: never panic, and whatever is
// accepted satisfies the documented rules.

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/xml"
	"hcidp/internal/xmlguard"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

var ssoNames = []string{"SAMLRequest", "RelayState", "SigAlg", "Signature"}

func FuzzParseSignedQuery(f *testing.F) {
	f.Add("SAMLRequest=abc&RelayState=r&SigAlg=s&Signature=x")
	f.Add("Signature=x&SigAlg=s&SAMLRequest=abc")
	f.Add("SAMLRequest=a&SAMLRequest=b")
	f.Add("SAMLRequest=a;RelayState=b")
	f.Add("SAML%52equest=a&SAMLRequest=b")
	f.Add("SAMLRequest=%zz")
	f.Add("RelayState&SAMLRequest=x")
	f.Add("SAMLRequest=fZFda8IwFIb%2fSsl92rQ6lWARdIyBY1O3i92FND2zGyKnM%3d&SigAlg=http%3a%2f%2fwww.w3.org")
	f.Fuzz(func(t *testing.T, raw string) {
		q, ref := ParseSignedQuery(raw, ssoNames...)
		if ref != nil {
			if ref.Status < 400 || ref.Status >= 500 || ref.Reason == "" {
				t.Fatalf("refusal %v is not a 4xx with a reason", ref)
			}
			return
		}
		if strings.Contains(raw, ";") {
			t.Fatal("accepted a query with ';'")
		}
		// Each known name at most once, whatever its spelling.
		count := map[string]int{}
		for pair := range strings.SplitSeq(raw, "&") {
			k, _, _ := strings.Cut(pair, "=")
			if name, err := url.QueryUnescape(k); err == nil {
				count[name]++
			}
		}
		for _, n := range ssoNames {
			p := q.Get(n)
			if count[n] > 1 {
				t.Fatalf("accepted %s %d times", n, count[n])
			}
			if p.Set != (count[n] == 1) {
				t.Fatalf("%s: Set=%v but it appears %d times", n, p.Set, count[n])
			}
			if p.Set {
				if v, err := url.QueryUnescape(p.Raw); err != nil || v != p.Value {
					t.Fatalf("%s: Raw %q does not decode to Value %q", n, p.Raw, p.Value)
				}
				if !strings.Contains(raw, n+"="+p.Raw) && !strings.Contains(raw, "="+p.Raw) {
					t.Fatalf("%s: Raw %q is not a substring of the query", n, p.Raw)
				}
			}
		}
		// The signed octets are made of raw received substrings only.
		octets := string(SignedOctets(q, "SAMLRequest", "RelayState", "SigAlg"))
		for part := range strings.SplitSeq(octets, "&") {
			if part != "" && !strings.Contains(raw, strings.SplitN(part, "=", 2)[1]) {
				t.Fatalf("signed octet part %q not from the query", part)
			}
		}
	})
}

// FuzzAuthnRequestPipeline feeds the bytes both as a deflated SAMLRequest
// (inflate, then the guard's pass that reads the request) and as inflated
// XML; what it reads must be what encoding/xml.Unmarshal reads.
func FuzzAuthnRequestPipeline(f *testing.F) {
	f.Add([]byte(goodFuzzRequest))
	f.Add([]byte(`<?xml version="1.0"?><!DOCTYPE r [<!ENTITY e "x">]><r>&e;</r>`))
	f.Add([]byte(strings.Replace(goodFuzzRequest, `Version="2.0"`, `Version="2.0" Version="2.0"`, 1)))
	f.Add([]byte(strings.Replace(goodFuzzRequest, `</samlp:AuthnRequest>`, `</samlp:AuthnRequest><samlp:AuthnRequest/>`, 1)))
	f.Add(fuzzDeflate([]byte(goodFuzzRequest)))
	f.Add(fuzzDeflate(make([]byte, 200<<10)))
	f.Fuzz(func(t *testing.T, data []byte) {
		// As the compressed SAMLRequest.
		enc := base64.StdEncoding.EncodeToString(data)
		if doc, ref := inflateRequest(enc); ref == nil {
			if len(doc) > maxInflatedRequest {
				t.Fatalf("inflated %d bytes, cap %d", len(doc), maxInflatedRequest)
			}
			checkParsed(t, doc)
		} else if len(enc) <= maxEncodedSAMLObject && ref.Reason != "request.inflate" && ref.Reason != "request.too_large" {
			t.Fatalf("unexpected refusal %v", ref)
		}
		// As the inflated document.
		checkParsed(t, data)
	})
}

func checkParsed(t *testing.T, doc []byte) {
	t.Helper()
	checkReading(t, doc)
	req, ref := parseAuthnRequest(doc)
	if ref != nil {
		if ref.Status != 400 || ref.Reason == "" {
			t.Fatalf("refusal %v", ref)
		}
		return
	}
	if !isNCName(req.ID) || len(req.ID) > maxRequestIDLength {
		t.Fatalf("accepted ID %q", req.ID)
	}
	if req.Version != "2.0" || req.Issuer == nil || strings.TrimSpace(req.Issuer.Value) == "" {
		t.Fatalf("accepted %+v", req)
	}
	if bytes.Contains(doc, []byte("<!DOCTYPE")) || bytes.Contains(doc, []byte("<!ENTITY")) {
		t.Fatal("accepted a document with a DOCTYPE")
	}
	if req.AssertionConsumerServiceURL != "" && req.AssertionConsumerServiceIndex != "" {
		t.Fatal("accepted both ACS URL and index")
	}
}

// checkReading: of a document the guard passes, the single pass reads what
// Unmarshal reads, and refuses as not an AuthnRequest what Unmarshal
// refuses.
func checkReading(t *testing.T, doc []byte) {
	t.Helper()
	var rr requestReader
	if xmlguard.Walk(doc, requestLimits, rr.visit) != nil {
		return
	}
	want, err := unmarshalRequest(doc)
	switch {
	case rr.err != "" && err == nil:
		t.Fatalf("refused (%s) what Unmarshal reads: %+v", rr.err, want)
	case rr.err == "" && err != nil:
		t.Fatalf("read what Unmarshal refuses (%v): %+v", err, rr.req)
	case err == nil && !reflect.DeepEqual(&rr.req, want) && !declaresFieldPrefix(doc):
		t.Fatalf("read %+v, Unmarshal reads %+v", rr.req, want)
	}
}

// unmarshalRequest is how AuthnRequests were read before the single pass:
// the oracle parseAuthnRequest's reading is compared with.
func unmarshalRequest(doc []byte) (*AuthnRequest, error) {
	var req AuthnRequest
	if err := xml.Unmarshal(doc, &req); err != nil {
		return nil, err
	}
	return &req, nil
}

// declaresFieldPrefix: doc declares a namespace prefix named like an
// attribute AuthnRequest reads (xmlns:ID="…"), which Unmarshal takes for
// the attribute and parseAuthnRequest, rightly, does not.
func declaresFieldPrefix(doc []byte) bool {
	for _, f := range []string{"ID", "Version", "IssueInstant", "Destination", "ForceAuthn", "IsPassive", "ProtocolBinding",
		"AssertionConsumerServiceURL", "AssertionConsumerServiceIndex", "AttributeConsumingServiceIndex", "Format"} {
		if bytes.Contains(doc, []byte("xmlns:"+f)) {
			return true
		}
	}
	return false
}

func fuzzDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

const goodFuzzRequest = `<?xml version="1.0" encoding="UTF-8"?><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc123" Version="2.0" IssueInstant="2026-11-23T08:00:00.000Z" Destination="https://idp.example/saml/sso" AssertionConsumerServiceURL="https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`

// TestRequestReaderMatchesUnmarshal: the single pass reads what
// encoding/xml.Unmarshal read, case by case (FuzzAuthnRequestPipeline
// explores beyond), and a namespace declaration is not taken for an
// attribute.
func TestRequestReaderMatchesUnmarshal(t *testing.T) {
	r := func(old, new string) string { return strings.Replace(goodFuzzRequest, old, new, 1) }
	for name, doc := range map[string]string{
		"good":                         goodFuzzRequest,
		"comment splitting the Issuer": r(`>https://auth.huaweicloud.com/<`, `>https://auth.huaweicloud.com/<!-- -->.evil.example<`),
		"Issuer with a child":          r(`https://auth.huaweicloud.com/</saml:Issuer>`, `https://auth<x>.evil</x>.huaweicloud.com/</saml:Issuer>`),
		"Issuer with CDATA":            r(`>https://auth.huaweicloud.com/<`, `><![CDATA[https://auth.huaweicloud.com/]]><`),
		"Issuer with Format":           r(`<saml:Issuer>`, `<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:entity">`),
		"Issuer in the protocol namespace": r(`<saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer>`,
			`<samlp:Issuer>https://auth.huaweicloud.com/</samlp:Issuer>`),
		"Issuer nested deeper": r(`<saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer>`,
			`<samlp:Extensions><saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer></samlp:Extensions>`),
		"no NameIDPolicy":              r(`<samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/>`, ``),
		"attribute in a namespace":     r(`ID="_abc123"`, `saml:ID="_abc123"`),
		"foreign root":                 strings.ReplaceAll(goodFuzzRequest, "samlp:AuthnRequest", "samlp:LogoutRequest"),
		"root in no namespace":         strings.ReplaceAll(goodFuzzRequest, "samlp:AuthnRequest", "AuthnRequest"),
		"root in another namespace":    r(`xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`, `xmlns:samlp="urn:evil"`),
		"whitespace around the Issuer": r(`>https://auth.huaweicloud.com/<`, ">\n  https://auth.huaweicloud.com/\n<"),
	} {
		t.Run(name, func(t *testing.T) { checkReading(t, []byte(doc)) })
	}

	doc := r(`ID="_abc123"`, `ID="_abc123" xmlns:ID="urn:not-the-id"`)
	req, ref := parseAuthnRequest([]byte(doc))
	if ref != nil || req.ID != "_abc123" {
		t.Fatalf("xmlns:ID taken for the ID: %+v %v", req, ref)
	}
}
