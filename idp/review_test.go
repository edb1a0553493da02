package idp

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
	q := e.signedSSOQuery(hxAuthnXML("_head1", e.clock.now(), e.cfg.BaseURL+"/saml/sso"), "")
	before := e.snapshot()
	for _, path := range []string{"/saml/sso?" + q, "/saml/bind?bindRequest=e30&SigAlg=x&Signature=y"} {
		r := c.do(httptest.NewRequest(http.MethodHead, path, nil))
		if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET" {
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

// TestPasswordChecksAreBounded: with every password-check slot taken, a
// login is answered 429 (no argon2 run, no throttle race) instead of queueing
// without limit.
func TestPasswordChecksAreBounded(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	for i := 0; i < cap(e.srv.passwordSlots); i++ {
		e.srv.passwordSlots <- struct{}{}
	}
	c := e.client()
	r := c.login("alice", "whatever password")
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("login with all slots taken: %d, Retry-After %q", r.StatusCode, r.Header.Get("Retry-After"))
	}
	for i := 0; i < cap(e.srv.passwordSlots); i++ {
		<-e.srv.passwordSlots
	}
	c2 := e.client()
	c2.mustLogin("alice")
}
