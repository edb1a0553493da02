package server

// SP certificate validity enforced while running (docs/threat-model.md "SP
// metadata loading"): a request verified only by a key past its
// certificate's NotAfter (or before its NotBefore) is refused, and the
// replica is not ready, unless the site's allow_expired_certificate is set.

import (
	"crypto"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"hcidp/idp"
	"hcidp/saml"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

// setAllowExpired reloads the env's trust with the site's override set or cleared.
func (e *hardenEnv) setAllowExpired(allow bool) {
	e.t.Helper()
	var sps []*idp.ServiceProvider
	for _, sp := range e.srv.IdP().SPs() {
		c := *sp
		c.AllowExpiredCertificate = allow
		sps = append(sps, &c)
	}
	if err := e.srv.Reload(idp.Trust{SPs: sps, Signer: e.trust.Signer, Cert: e.trust.Cert}); err != nil {
		e.t.Fatal(err)
	}
}

// untilSPExpiry is how far the env's clock must move to pass the SP certificate's NotAfter.
func untilSPExpiry() time.Duration { return time.Until(hxKeys().spCert.NotAfter) + time.Hour }

func TestSPCertificateValidityEnforcedAtVerification(t *testing.T) {
	bindURL := func(e *hardenEnv) string {
		doc := base64.StdEncoding.EncodeToString([]byte(`{"xAccountId":"alice","domainId":"0a1b2c3d4e5f","domainName":"alice-hw","resultCode":"0"}`))
		octets := "bindRequest=" + url.QueryEscape(doc) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
		return "/saml/bind?" + octets + "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, octets))
	}
	ssoURL := func(e *hardenEnv) string {
		return "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_exp"+fmt.Sprint(time.Now().UnixNano()), e.clock.Now(), e.ssoURL()), "rs")
	}
	for _, c := range []struct {
		name         string
		clock        time.Duration
		allowExpired bool
		url          func(*hardenEnv) string
		status       int
		reason       string
	}{
		{"valid key accepted", 0, false, ssoURL, 200, ""},
		{"expired key refused", untilSPExpiry(), false, ssoURL, 403, "signature.expired_key"},
		{"key not yet valid refused", -time.Hour, false, ssoURL, 403, "signature.key_not_yet_valid"},
		{"expired key accepted with allow_expired_certificate", untilSPExpiry(), true, ssoURL, 200, ""},
		{"expired key refused on the bind callback", untilSPExpiry(), false, bindURL, 403, "signature.expired_key"},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newHardenEnv(t, "", nil)
			e.setAllowExpired(c.allowExpired)
			e.clock.Advance(c.clock)
			cl := e.client()
			cl.mustLogin("alice")
			before := e.snapshot()
			res := cl.get(c.url(e))
			delta := before.delta(e.snapshot())
			if res.StatusCode != c.status {
				t.Fatalf("status %d, want %d\n%s\nlog:\n%s", res.StatusCode, c.status, res.Body, e.logs.String())
			}
			if c.reason == "" {
				if doc, _, _ := postForm(res.Body); doc == nil || !assertionRE.Match(doc) {
					t.Fatalf("no assertion:\n%s", res.Body)
				}
				return
			}
			if !strings.Contains(res.Body, fmt.Sprintf("<code>%d %s</code>", c.status, c.reason)) || !strings.Contains(e.logs.String(), "reason="+c.reason) {
				t.Errorf("reason %s not on the page or in the log:\n%s\nlog:\n%s", c.reason, res.Body, e.logs.String())
			}
			if strings.Contains(res.Body, "SAMLResponse") {
				t.Error("a refusal carries a SAMLResponse")
			}
			delete(delta, "sessions_changed") // the session's last-seen time
			if len(delta) != 0 {
				t.Errorf("a refusal wrote to the database: %v", delta)
			}
		})
	}
}

// readyz returns the status and decoded body of the public GET /readyz and of
// the detail handler.
func readyz(t *testing.T, e *hardenEnv) (int, map[string]any, int, *readiness, string) {
	t.Helper()
	pub := httptest.NewRecorder()
	e.handler.ServeHTTP(pub, httptest.NewRequest("GET", "/readyz", nil))
	var p map[string]any
	if err := json.Unmarshal(pub.Body.Bytes(), &p); err != nil {
		t.Fatalf("public /readyz: %v\n%s", err, pub.Body)
	}
	det := httptest.NewRecorder()
	e.srv.ReadinessDetail().ServeHTTP(det, httptest.NewRequest("GET", "/readyz", nil))
	var d readiness
	if err := json.Unmarshal(det.Body.Bytes(), &d); err != nil {
		t.Fatalf("detail: %v\n%s", err, det.Body)
	}
	return pub.Code, p, det.Code, &d, pub.Body.String()
}

func TestReadinessFollowsSPCertificateValidity(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	code, pub, dcode, det, _ := readyz(t, e)
	if code != 200 || pub["ready"] != true || dcode != 200 || !det.Ready || det.Check["sp_metadata"] != "ok" {
		t.Fatalf("fresh replica: %d %v / %d %+v", code, pub, dcode, det)
	}

	e.clock.Advance(untilSPExpiry())
	code, pub, dcode, det, _ = readyz(t, e)
	if code != http.StatusServiceUnavailable || pub["ready"] != false || fmt.Sprint(pub["failing"]) != "[sp_metadata]" {
		t.Errorf("public /readyz with the only SP key expired: %d %v", code, pub)
	}
	if dcode != http.StatusServiceUnavailable || det.Ready || !strings.Contains(det.Check["sp_metadata"], "site cn has no valid signing certificate") ||
		strings.Contains(det.Check["sp_metadata"], "override") {
		t.Errorf("detail with the only SP key expired: %d %+v", dcode, det.Check)
	}

	e.setAllowExpired(true)
	code, pub, dcode, det, _ = readyz(t, e)
	if code != 200 || pub["ready"] != true || dcode != 200 || det.Check["sp_metadata"] != "certificate of site cn expired or not yet valid (loaded by override)" {
		t.Errorf("with allow_expired_certificate: %d %v / %d %+v", code, pub, dcode, det.Check)
	}
}

// TestPublicReadinessHidesCertificates: the public /readyz says ready or not
// and which checks fail, never a certificate's subject, serial or the SP's
// entity ID; the detail handler (metrics listener) has them.
func TestPublicReadinessHidesCertificates(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	for _, clock := range []time.Duration{0, untilSPExpiry()} {
		e.clock.Advance(clock)
		_, pub, _, det, raw := readyz(t, e)
		for _, secret := range []string{hxKeys().spCert.Subject.CommonName, hxKeys().spCert.SerialNumber.Text(16), hxSPEntityID,
			e.trust.Cert.Subject.CommonName, "subject", "serial", "certificate"} {
			if strings.Contains(raw, secret) {
				t.Errorf("public /readyz reveals %q: %s", secret, raw)
			}
		}
		for k := range pub {
			if k != "ready" && k != "failing" {
				t.Errorf("public /readyz has field %q: %s", k, raw)
			}
		}
		if len(det.SPCertificates) != 1 || det.SPCertificates[0].Subject != hxKeys().spCert.Subject.String() ||
			det.SPCertificates[0].EntityID != hxSPEntityID || len(det.IdPCertificates) != 1 {
			t.Errorf("detail lacks the certificates: %+v", det)
		}
	}
}

// BenchmarkVerifySignedQuery is step 4 as the server runs it, with the
// validity check of the key that verified: compare with
// BenchmarkVerifyQuerySignature/RSA2048, the bare RSA verification.
func BenchmarkVerifySignedQuery(b *testing.B) {
	e := newHardenEnv(b, "", nil)
	q, ref := idp.ParseSignedQuery(e.signedSSOQuery(hxAuthnXML("_bench", time.Now(), e.ssoURL()), "rs"), "SAMLRequest", "RelayState", "SigAlg", "Signature")
	if ref != nil {
		b.Fatal(ref)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, ref := e.srv.IdP().VerifySignedQuery(q, "the request", "SAMLRequest", "RelayState", "SigAlg"); ref != nil {
			b.Fatal(ref)
		}
	}
}
