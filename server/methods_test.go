package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// TestHEADDoesNotSpendRequests: GET patterns also match HEAD; a HEAD of a
// valid SSO or bind URL must not use the request ID, sign, or write anything.
func TestHEADDoesNotSpendRequests(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	c := e.client()
	c.mustLogin("alice")
	q := e.signedSSOQuery(hxAuthnXML("_head1", e.clock.Now(), e.cfg.BaseURL+"/saml/sso"), "")
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
