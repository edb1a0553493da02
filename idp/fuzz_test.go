package idp

// Fuzz targets of the parsers attacker input reaches (SECURITY.md "Order of
// checks" and "Bind-result callback"). `go test` runs the seeds and the
// committed corpus in testdata/fuzz/<Name>/; scripts/fuzz.sh runs each
// target for a bounded time. Invariants: never panic, and whatever is
// accepted satisfies the documented rules.

import (
	"bytes"
	"compress/flate"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http/httptest"
	"net/url"
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
		q, ref := parseSignedQuery(raw, ssoNames...)
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
			p := q.get(n)
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
		octets := string(signedOctets(q, "SAMLRequest", "RelayState", "SigAlg"))
		for part := range strings.SplitSeq(octets, "&") {
			if part != "" && !strings.Contains(raw, strings.SplitN(part, "=", 2)[1]) {
				t.Fatalf("signed octet part %q not from the query", part)
			}
		}
	})
}

// FuzzAuthnRequestPipeline feeds the bytes both as a deflated SAMLRequest
// (inflate, pre-scan, round-trip check, unmarshal) and as inflated XML.
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

func fuzzDeflate(b []byte) []byte {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

const goodFuzzRequest = `<?xml version="1.0" encoding="UTF-8"?><samlp:AuthnRequest xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_abc123" Version="2.0" IssueInstant="2026-11-23T08:00:00.000Z" Destination="https://idp.example/saml/sso" AssertionConsumerServiceURL="https://auth.huaweicloud.com/authui/saml/SAMLAssertionConsumer" ProtocolBinding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"><saml:Issuer>https://auth.huaweicloud.com/</saml:Issuer><samlp:NameIDPolicy Format="urn:oasis:names:tc:SAML:2.0:nameid-format:transient" AllowCreate="true"/></samlp:AuthnRequest>`

// FuzzBindCallback fuzzes the decoder alone and the whole verification: the
// document is signed with the trusted SP key so that inputs get past the
// signature, and a second, unsigned query is made of the raw bytes.
func FuzzBindCallback(f *testing.F) {
	f.Add([]byte(`{"xAccountId":"alice","domainId":"d1","domainName":"n","resultCode":"0"}`), "bindRequest=e30%3D&SigAlg=x&Signature=AA%3D%3D")
	f.Add([]byte(`{"xaccount_id":"alice","domain_id":12345}`), "")
	f.Add([]byte(`{"xAccountId":"alice","xUserId":"bob"}`), "bindRequest=a&bindRequest=b")
	f.Add([]byte(`[1,2,3]`), "bindRequest=a;SigAlg=b")
	f.Add([]byte(`{"xAccountId":"a"} {}`), "bindRequest=%zz")
	f.Add([]byte(`{"xAccountId":"\u0007"}`), "SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1")
	e := newHardenEnv(f, "", nil) // one server for every iteration of this process
	f.Fuzz(func(t *testing.T, doc []byte, rawQuery string) {
		ev, err := parseBindDocument(doc)
		if err == nil {
			if ev.XAccountID == "" || hasControl(ev.XAccountID) || hasControl(ev.DomainID) || len(ev.XAccountID) > 256 {
				t.Fatalf("accepted fields %+v", ev)
			}
			sum := sha256.Sum256(doc)
			if ev.DocumentHash != hex.EncodeToString(sum[:]) || !bytes.Equal(ev.Document, doc) {
				t.Fatal("document hash or copy wrong")
			}
		}
		// A random query: refused with a 4xx unless it happens to be signed.
		r := httptest.NewRequest("GET", "/saml/bind", nil)
		r.URL.RawQuery = rawQuery
		if _, ref := e.srv.verifyBind(r); ref == nil {
			t.Fatalf("an unsigned random query passed: %q", rawQuery)
		} else if ref.Status < 400 || ref.Status >= 500 {
			t.Fatalf("refusal %v", ref)
		}
		// The same document, correctly signed: accepted exactly when the
		// decoder accepts it (and the size cap allows it).
		q := "bindRequest=" + url.QueryEscape(base64.StdEncoding.EncodeToString(doc)) + "&SigAlg=" + url.QueryEscape(sigAlgRSASHA256)
		q += "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, q))
		r = httptest.NewRequest("GET", "/saml/bind", nil)
		r.URL.RawQuery = q
		got, ref := e.srv.verifyBind(r)
		switch {
		case len(q) > maxURLBytes || len(url.QueryEscape(base64.StdEncoding.EncodeToString(doc))) > maxBindRequest || len(doc) > maxBindDocument:
			if ref == nil {
				t.Fatal("accepted an oversized callback")
			}
		case (err == nil) != (ref == nil):
			t.Fatalf("decoder err=%v but verifyBind refusal=%v", err, ref)
		case ref == nil && (got.XAccountID != ev.XAccountID || got.Site != "cn"):
			t.Fatalf("verifyBind %+v, decoder %+v", got, ev)
		}
	})
}
