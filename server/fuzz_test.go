package server

// FuzzBindCallback: the bind-result notification's parsers and verification
// (docs/threat-model.md "Bind-result notification").

import (
	"bytes"
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
	"hcidp/idp"
	"hcidp/saml"
	"hcidp/storage"
)

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
			{"GET", conventionQuery, get, len(q) > idp.MaxURLBytes},
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
