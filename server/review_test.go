package server

import (
	"context"
	"crypto"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"hcidp/idp"
	"hcidp/saml"
	"hcidp/storage"
)

// TestHEADDoesNotSpendRequests: GET patterns also match HEAD; a HEAD of a
// valid SSO or bind URL must not use the request ID, sign, or write anything.
func TestHEADDoesNotSpendRequests(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	c := e.client()
	c.mustLogin("alice")
	q := e.signedSSOQuery(hxAuthnXML("_head1", e.clock.now(), e.cfg.BaseURL+"/saml/sso"), "")
	before := e.snapshot()
	for path, allow := range map[string]string{"/saml/sso?" + q: "GET", "/saml/bind?bindRequest=e30&SigAlg=x&Signature=y": "GET, POST"} {
		r := c.do(httptest.NewRequest(http.MethodHead, path, nil))
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != allow {
			t.Errorf("HEAD %s: %d, Allow %q", path[:10], r.StatusCode, r.Header.Get("Allow"))
		}
	}
	if d := before.delta(e.snapshot()); len(d) != 0 {
		t.Fatalf("HEAD wrote rows: %v", d)
	}
	if r := c.get("/saml/sso?" + q); r.StatusCode != 200 || !strings.Contains(r.Body, "SAMLResponse") {
		t.Fatalf("the same request by GET afterwards: %d", r.StatusCode)
	}
}

// TestBindSiteWhenOneKeySignsForSeveralSites: the bind document names no
// site. When the same Huawei key verifies for two configured sites, the site
// the customer was heading for (its console link) decides; without one, the
// first configured site.
func TestBindSiteWhenOneKeySignsForSeveralSites(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cn := e.trust.SPs[0]
	intlMeta := *cn.Meta
	intlMeta.Site, intlMeta.EntityID = "intl", "https://auth-intl.huaweicloud.com/"
	intl, err := idp.NewServiceProvider("intl", &intlMeta, "", "")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.srv.Reload(idp.Trust{SPs: []*idp.ServiceProvider{cn, intl}, Signer: e.trust.Signer, Cert: e.trust.Cert}); err != nil {
		t.Fatal(err)
	}
	bindURL := func(customer string) string {
		doc := base64.StdEncoding.EncodeToString([]byte(`{"xUserId":"` + customer + `","domainId":"d-` + customer + `","bindAction":"0"}`))
		octets := "bindRequest=" + url.QueryEscape(doc) + "&SigAlg=" + url.QueryEscape(saml.AlgRSASHA256)
		return "/saml/bind?" + octets + "&Signature=" + url.QueryEscape(signQuery(t, hxKeys().sp, crypto.SHA256, octets))
	}
	site := func(customer string) string {
		for _, s := range []string{"cn", "intl"} {
			if _, err := e.store.GetBinding(context.Background(), customer, s); err == nil {
				return s
			}
		}
		return "none"
	}

	// Each customer was just issued an assertion for both sites.
	for _, c := range []string{"alice", "bob"} {
		for _, site := range []string{"cn", "intl"} {
			if err := e.store.AppendAudit(context.Background(), storage.AuditEvent{Time: e.clock.now(), Kind: "response", XAccountID: c, Site: site}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// No session: the first configured site.
	e.client().get(bindURL("alice"))
	if got := site("alice"); got != "cn" {
		t.Fatalf("bind without a session recorded on %s, want cn", got)
	}
	// A customer who opened the intl console link: intl.
	c := e.client()
	c.mustLogin("bob")
	if r := c.get("/console?site=intl"); r.StatusCode != http.StatusFound {
		t.Fatalf("console link: %d", r.StatusCode)
	}
	c.get(bindURL("bob"))
	if got := site("bob"); got != "intl" {
		t.Fatalf("bind after the intl console link recorded on %s, want intl", got)
	}
}
