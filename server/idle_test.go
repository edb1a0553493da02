package server

import (
	"strings"
	"testing"
	"time"
)

// TestSessionIdleTimeout: a session unused for longer than
// session_idle_timeout no longer signs the customer in, and a request within
// a minute of the last one does not rewrite the session (no database write
// on the SSO path just to move the idle deadline).
func TestSessionIdleTimeout(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	c := e.client()
	c.mustLogin("alice")
	sso := func() *hxResp {
		doc := hxAuthnXML(newTestID(), e.clock.Now(), e.cfg.BaseURL+"/saml/sso")
		return c.get("/saml/sso?" + e.signedSSOQuery(doc, ""))
	}
	if r := sso(); r.StatusCode != 200 || !strings.Contains(r.Body, "SAMLResponse") {
		t.Fatalf("SSO right after login: %d", r.StatusCode)
	}
	before := e.snapshot()
	e.clock.Advance(30 * time.Second)
	if r := sso(); r.StatusCode != 200 {
		t.Fatalf("SSO after 30 s: %d", r.StatusCode)
	}
	if d := before.delta(e.snapshot()); d["sessions"] != 0 {
		t.Fatalf("an SSO within a minute rewrote the session: %v", d)
	}
	// Activity keeps the session alive past the idle timeout...
	for i := 0; i < 3; i++ {
		e.clock.Advance(e.cfg.SessionIdleTimeout - time.Minute)
		if r := sso(); r.StatusCode != 200 || !strings.Contains(r.Body, "SAMLResponse") {
			t.Fatalf("active session ended after %d idle periods: %d", i+1, r.StatusCode)
		}
	}
	// ...inactivity ends it.
	e.clock.Advance(e.cfg.SessionIdleTimeout + time.Minute)
	if r := sso(); r.StatusCode != 303 || !strings.Contains(r.Header.Get("Location"), "/login") {
		t.Fatalf("idle session still signed in: %d %s", r.StatusCode, r.Header.Get("Location"))
	}
}
