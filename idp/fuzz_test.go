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
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/saml"
	"hcidp/storage"
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

// FuzzBindCallback fuzzes the decoder alone and the whole verification of
// the bind-result notification, by GET and by POST: the document is signed
// with the trusted SP key so that inputs get past the signature (convention
// "query" by GET and in a multipart body, "value" in an urlencoded body),
// and raw is sent unsigned as a query, an urlencoded body and a multipart
// body.
func FuzzBindCallback(f *testing.F) {
	f.Add([]byte(`{"domainName":"yongzhi","domainId":"yongzhiid","xUserId":"yongzhix","bindAction":1}`), "bindRequest=e30%3D&SigAlg=x&Signature=AA%3D%3D")
	f.Add([]byte(`{"domainName":"n","domainId":"d1","xUserId":"alice","bindAction":"0"}`), "bindRequest=a&SigAlg=b&Signature=c&bindRequest=d")
	f.Add([]byte(`{"xUserId":"alice","xAccountId":"alice","domainId":"d1","bindAction":"1","extra":{"kept":[1,{"a":null}]}}`), "")
	f.Add([]byte(`{"xUserId":"alice","xUserId":"bob","domainId":"d1"}`), "bindRequest=a&bindRequest=b")
	f.Add([]byte(`{"xUserId":"alice","domainId":"d1","x":{"k":1,"k":2}}`), "--fuzzb\r\nContent-Disposition: form-data; name=\"bindRequest\"\r\n\r\ne30=\r\n--fuzzb--\r\n")
	f.Add([]byte(`{"xUserId":"alice","domainId":"d1","bindAction":2}`), "--fuzzb\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n1\r\n--fuzzb\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\n2\r\n--fuzzb--\r\n")
	f.Add([]byte(`[1,2,3]`), "bindRequest=a;SigAlg=b")
	f.Add([]byte(`{"xUserId":"a"} {}`), "bindRequest=%zz")
	f.Add([]byte(`{"xUserId":"\u0007","domainId":"d"}`), "SigAlg=http%3A%2F%2Fwww.w3.org%2F2000%2F09%2Fxmldsig%23rsa-sha1")
	f.Add([]byte(`{"xUserId":"alice","domainId":"d\u202e"}`), "bindRequest=e30%3D&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256&Signature=AA%3D%3D")
	e := newHardenEnv(f, "", nil) // one server for every iteration of this process
	const boundary = "fuzzb"
	post := func(body, contentType string) *http.Request {
		r := httptest.NewRequest("POST", "/saml/bind", strings.NewReader(body))
		r.Header.Set("Content-Type", contentType)
		return r
	}
	f.Fuzz(func(t *testing.T, doc []byte, raw string) {
		ev, dref := parseBindDocument(doc)
		if dref != nil {
			if dref.Status != 400 || !strings.HasPrefix(dref.Reason, "bind.") {
				t.Fatalf("decoder refusal %v is not a 400 with a bind reason", dref)
			}
		} else {
			if customer.ValidateID(ev.XAccountID) != nil || huawei.CheckDomainID(ev.DomainID) != nil ||
				len(ev.DomainName) > 64 || (ev.Action != storage.BindActionBind && ev.Action != storage.BindActionUnbind) {
				t.Fatalf("accepted fields %+v", ev)
			}
			sum := sha256.Sum256(doc)
			if ev.DocumentHash != hex.EncodeToString(sum[:]) || !bytes.Equal(ev.Document, doc) {
				t.Fatal("document hash or copy wrong")
			}
		}
		// Random input, unsigned, by GET and by POST in both encodings:
		// refused with a 4xx unless it happens to be signed.
		get := httptest.NewRequest("GET", "/saml/bind", nil)
		get.URL.RawQuery = raw
		for name, r := range map[string]*http.Request{"query": get, "urlencoded": post(raw, "application/x-www-form-urlencoded"),
			"multipart": post(raw, "multipart/form-data; boundary="+boundary)} {
			if _, ref := e.srv.verifyBind(httptest.NewRecorder(), r); ref == nil {
				t.Fatalf("an unsigned random %s passed: %q", name, raw)
			} else if ref.Status < 400 || ref.Status >= 500 {
				t.Fatalf("refusal %v", ref)
			}
		}
		// The same document, correctly signed: accepted exactly when the
		// decoder accepts it (and the size caps allow it).
		b64 := base64.StdEncoding.EncodeToString(doc)
		octets := "bindRequest=" + url.QueryEscape(b64) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
		q := octets + "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, octets))
		get = httptest.NewRequest("GET", "/saml/bind", nil)
		get.URL.RawQuery = q
		form := "bindRequest=" + url.QueryEscape(b64) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256) +
			"&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, b64))
		var mp bytes.Buffer
		mw := multipart.NewWriter(&mp)
		mw.SetBoundary(boundary)
		mw.WriteField("bindRequest", b64)
		mw.WriteField("SigAlg", saml.AlgRSASHA256)
		mw.WriteField("Signature", signQuery(t, hxKeys().sp, crypto.SHA256, "bindRequest="+b64+"&SigAlg="+saml.AlgRSASHA256))
		mw.Close()
		for _, tc := range []struct {
			name, convention string
			r                *http.Request
			tooLarge         bool
		}{
			{"GET", conventionQuery, get, len(q) > maxURLBytes},
			{"POST urlencoded", conventionValue, post(form, "application/x-www-form-urlencoded"), len(form) > maxBindBody},
			{"POST multipart", conventionQuery, post(mp.String(), mw.FormDataContentType()), mp.Len() > maxBindBody},
		} {
			got, ref := e.srv.verifyBind(httptest.NewRecorder(), tc.r)
			switch {
			case tc.tooLarge || len(url.QueryEscape(b64)) > maxBindRequest || len(doc) > huawei.MaxBindDocument:
				if ref == nil {
					t.Fatalf("%s: accepted an oversized notification", tc.name)
				}
			case (dref == nil) != (ref == nil):
				t.Fatalf("%s: decoder refusal=%v but verifyBind refusal=%v", tc.name, dref, ref)
			case ref != nil && (ref.Status < 400 || ref.Status >= 500):
				t.Fatalf("%s: refusal %v", tc.name, ref)
			case ref == nil && (got.XAccountID != ev.XAccountID || got.Site != "cn" || got.Convention != tc.convention || got.ID == ""):
				t.Fatalf("%s: verifyBind %+v, decoder %+v", tc.name, got, ev)
			}
		}
	})
}
