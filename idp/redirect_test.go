package idp

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"strings"
	"testing"
)

func TestParseSignedQuery(t *testing.T) {
	names := []string{"SAMLRequest", "RelayState", "SigAlg", "Signature"}
	tests := []struct {
		name, query, reason string
	}{
		{"plain", "SAMLRequest=abc&RelayState=r&SigAlg=s&Signature=x", ""},
		{"reordered", "Signature=x&SigAlg=s&SAMLRequest=abc", ""},
		{"unknown parameters ignored", "SAMLRequest=abc&foo=1&foo=2", ""},
		{"duplicate", "SAMLRequest=abc&SAMLRequest=def", "query.duplicate"},
		{"duplicate signature", "SAMLRequest=a&Signature=x&Signature=y", "query.duplicate"},
		{"semicolon", "SAMLRequest=abc;RelayState=x", "query.semicolon"},
		{"bad escape", "SAMLRequest=%zz", "query.malformed"},
		{"no value", "SAMLRequest", "query.malformed"},
		{"encoded name", "SAML%52equest=abc", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			q, ref := ParseSignedQuery(tt.query, names...)
			switch {
			case tt.reason == "" && ref != nil:
				t.Fatalf("refused: %v", ref)
			case tt.reason != "" && (ref == nil || ref.Reason != tt.reason):
				t.Fatalf("got %v, want %s", ref, tt.reason)
			case tt.reason == "" && q.Get("SAMLRequest").Value != "abc":
				t.Fatalf("SAMLRequest = %q", q.Get("SAMLRequest").Value)
			}
		})
	}
}

// The signed octets use the raw received values in the canonical order,
// whatever the arrival order, and keep their original (even lower-case) escapes.
func TestSignedOctetsUseRawValuesInCanonicalOrder(t *testing.T) {
	q, ref := ParseSignedQuery("SigAlg=http%3a%2f%2fx&RelayState=a%2bb&SAMLRequest=Zm9v%2B&Signature=s", "SAMLRequest", "RelayState", "SigAlg", "Signature")
	if ref != nil {
		t.Fatal(ref)
	}
	got := string(SignedOctets(q, "SAMLRequest", "RelayState", "SigAlg"))
	if want := "SAMLRequest=Zm9v%2B&RelayState=a%2bb&SigAlg=http%3a%2f%2fx"; got != want {
		t.Fatalf("octets = %s, want %s", got, want)
	}
	q, _ = ParseSignedQuery("SAMLRequest=x&SigAlg=y", "SAMLRequest", "RelayState", "SigAlg")
	if got := string(SignedOctets(q, "SAMLRequest", "RelayState", "SigAlg")); got != "SAMLRequest=x&SigAlg=y" {
		t.Fatalf("without RelayState: %s", got)
	}
}

func TestSigAlgAllowList(t *testing.T) {
	for alg, ok := range map[string]bool{
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha256": true,
		"HTTP://WWW.W3.ORG/2001/04/XMLDSIG-MORE#RSA-SHA256": true, // as Huawei's guide prints it
		"http://www.w3.org/2001/04/xmldsig-more#rsa-sha512": true,
		"http://www.w3.org/2000/09/xmldsig#rsa-sha1":        false,
		"none": false, "": false,
		"http://www.w3.org/2001/04/xmldsig-more#hmac-sha256": false,
	} {
		if _, got := sigHash(alg, false); got != ok {
			t.Errorf("%q: allowed=%v, want %v", alg, got, ok)
		}
	}
	if _, ok := sigHash("http://www.w3.org/2000/09/xmldsig#rsa-sha1", true); !ok {
		t.Error("rsa-sha1 refused although allowed by configuration")
	}
}

func deflate(t testing.TB, b []byte) string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

const goodRequest = `<?xml version="1.0" encoding="UTF-8"?><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc123" Version="2.0" IssueInstant="2026-11-23T08:00:00.000Z" Destination="https://idp.example/saml/sso" AssertionConsumerServiceURL="https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`

func TestInflateBounded(t *testing.T) {
	if _, ref := inflateRequest(deflate(t, []byte(goodRequest))); ref != nil {
		t.Fatal(ref)
	}
	bomb := deflate(t, bytes.Repeat([]byte("A"), 50<<20)) // 50 MiB of 'A' deflates to ~50 KiB
	if len(bomb) > maxEncodedSAMLObject {
		bomb = deflate(t, bytes.Repeat([]byte("A"), 8<<20))
	}
	if _, ref := inflateRequest(bomb); ref == nil || ref.Status != 413 {
		t.Fatalf("deflate bomb: %v", ref)
	}
	// A zlib wrapper (RFC 1950) is not the binding's raw DEFLATE.
	var zbuf bytes.Buffer
	zbuf.Write([]byte{0x78, 0x9c})
	w, _ := flate.NewWriter(&zbuf, 9)
	w.Write([]byte(goodRequest))
	w.Close()
	if _, ref := inflateRequest(base64.StdEncoding.EncodeToString(zbuf.Bytes())); ref == nil {
		t.Fatal("zlib-wrapped input accepted")
	}
	if _, ref := inflateRequest("not base64!"); ref == nil || ref.Reason != "request.base64" {
		t.Fatalf("bad base64: %v", ref)
	}
}

func TestParseAuthnRequest(t *testing.T) {
	tests := []struct {
		name, doc, reason string
	}{
		{"good", goodRequest, ""},
		{"doctype", strings.Replace(goodRequest, "<samlp:AuthnRequest", `<!DOCTYPE x [<!ENTITY e "x">]><samlp:AuthnRequest`, 1), "xml.doctype"},
		{"processing instruction", strings.Replace(goodRequest, "<samlp:AuthnRequest", `<?evil x?><samlp:AuthnRequest`, 1), "xml.procinst"},
		{"duplicate attribute", strings.Replace(goodRequest, `ID="_abc123"`, `ID="_abc123" ID="_other"`, 1), "xml.duplicate_attribute"},
		{"duplicate attribute by local name", strings.Replace(goodRequest, `ID="_abc123"`, `ID="_abc123" saml:ID="_other"`, 1), "xml.duplicate_attribute"},
		{"duplicate Issuer", strings.Replace(goodRequest, `<saml:Issuer>`, `<saml:Issuer>https://evil.example/</saml:Issuer><saml:Issuer>`, 1), "xml.duplicate_element"},
		{"wrong root", strings.ReplaceAll(goodRequest, "samlp:AuthnRequest", "samlp:LogoutRequest"), "request.not_authnrequest"},
		{"wrong namespace", strings.Replace(goodRequest, `xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol"`, `xmlns:samlp="urn:evil"`, 1), "request.not_authnrequest"},
		{"version", strings.Replace(goodRequest, `Version="2.0"`, `Version="1.1"`, 1), "request.version"},
		{"ID not NCName", strings.Replace(goodRequest, `ID="_abc123"`, `ID="1abc"`, 1), "request.id"},
		{"no issuer", strings.Replace(goodRequest, `<saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer>`, ``, 1), "request.issuer"},
		{"issuer format", strings.Replace(goodRequest, `<saml:Issuer>`, `<saml:Issuer Format="urn:oasis:names:tc:SAML:2.0:nameid-format:persistent">`, 1), "request.issuer"},
		{"both ACS url and index", strings.Replace(goodRequest, `ProtocolBinding=`, `AssertionConsumerServiceIndex="0" ProtocolBinding=`, 1), "request.acs"},
		{"artifact binding", strings.Replace(goodRequest, "bindings:HTTP-POST", "bindings:HTTP-Artifact", 1), "request.binding"},
		{"too deep", strings.Replace(goodRequest, `<samlp:NameIDPolicy`, strings.Repeat("<samlp:Extensions>", 20)+strings.Repeat("</samlp:Extensions>", 20)+`<samlp:NameIDPolicy`, 1), "xml.limits"},
		{"not UTF-8", strings.Replace(goodRequest, "_abc123", "_abc\xff", 1), "xml.charset"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, ref := parseAuthnRequest([]byte(tt.doc))
			switch {
			case tt.reason == "" && ref != nil:
				t.Fatalf("refused: %v", ref)
			case tt.reason != "" && (ref == nil || ref.Reason != tt.reason):
				t.Fatalf("got %v, want %s", ref, tt.reason)
			}
		})
	}
}
