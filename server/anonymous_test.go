package server

import (
	"hcidp/storage"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"
)

// Nothing durable is written for an anonymous browser (docs/threat-model.md
// "Browser-facing pages"): the login page, the console link and an SSO that
// needs a sign-in cost no session row; the CSRF token and the pending flow
// travel in cookies. The database grows only by what a signed-in customer
// or a Huawei-signed request brings.
func TestAnonymousBrowserWritesNothing(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	fi := func() int64 {
		var total int64
		for _, suffix := range []string{"", "-wal"} {
			if st, err := os.Stat(e.dbFile + suffix); err == nil {
				total += st.Size()
			}
		}
		return total
	}
	before, sizeBefore := e.snapshot(), fi()
	const n = 300
	for i := range n {
		cl := e.client() // a new, cookie-less browser every time
		if r := cl.get(e.origin + "/login"); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /login: %d", r.StatusCode)
		}
		if r := cl.get(e.origin + "/console?site=cn"); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("GET /console: %d", r.StatusCode)
		}
		if r := cl.get(e.origin + "/login?flow=" + url.QueryEscape(strings.Repeat("x", i%40))); r.StatusCode != http.StatusOK {
			t.Fatalf("GET /login?flow: %d", r.StatusCode)
		}
	}
	if d := before.delta(e.snapshot()); len(d) != 0 {
		t.Errorf("%d anonymous browsers wrote rows: %v", n, d)
	}
	// An SSO that needs a sign-in writes its replay-cache entry (bounded by
	// Huawei's signatures) and nothing else.
	before = e.snapshot()
	cl := e.client()
	r := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_anon1", time.Now(), e.ssoURL()), "rs"))
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("SSO: %d", r.StatusCode)
	}
	if d := before.delta(e.snapshot()); len(d) != 1 || d["replay_cache"] != 1 {
		t.Errorf("an SSO waiting for a sign-in wrote %v, want only its replay-cache entry", d)
	}
	t.Logf("database files grew by %d bytes over %d anonymous browsers", fi()-sizeBefore, n)
}

// A flow cookie is bound to its name and signed: a tampered, renamed or
// foreign cookie is ignored, and the sign-in then ends at the home page
// instead of answering a request the browser never made.
func TestPendingFlowCookieTamperedIsIgnored(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	r := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_tamper1", time.Now(), e.ssoURL()), "rs"))
	loc, _ := url.Parse(r.Header.Get("Location"))
	flow := loc.Query().Get("flow")
	name := "hcidp_flow_" + flow
	ck := cl.cookies[name]
	if r.StatusCode != http.StatusSeeOther || ck == nil {
		t.Fatalf("SSO: %d, cookies %v", r.StatusCode, cl.cookies)
	}
	for label, edit := range map[string]func(){
		"flipped byte": func() { v := []byte(ck.Value); v[len(v)/2] ^= 1; ck.Value = string(v) },
		"renamed": func() {
			delete(cl.cookies, name)
			other := "hcidp_flow_" + strings.Repeat("A", 22)
			cl.cookies[other] = &http.Cookie{Name: other, Value: ck.Value}
		},
	} {
		saved := ck.Value
		edit()
		f := cl.loginForm(flow)
		f.Set("username", "alice")
		f.Set("password", hxPassword)
		res := cl.post("/login", f)
		if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" || strings.Contains(res.Body, "SAMLResponse") {
			t.Errorf("%s: login answered %d Location %q", label, res.StatusCode, res.Header.Get("Location"))
		}
		cl.cookies = map[string]*http.Cookie{name: {Name: name, Value: saved}}
		ck = cl.cookies[name]
	}
}

// A pending flow is answered once, even when its cookie comes back (a
// double submit of the login form, a copied cookie).
func TestPendingFlowAnsweredOnce(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	r := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_once1", time.Now(), e.ssoURL()), "rs"))
	loc, _ := url.Parse(r.Header.Get("Location"))
	flow := loc.Query().Get("flow")
	saved := cl.cookies["hcidp_flow_"+flow]
	f := cl.loginForm(flow)
	f.Set("username", "alice")
	f.Set("password", hxPassword)
	if res := cl.post("/login", f); res.StatusCode != http.StatusOK || !strings.Contains(res.Body, "SAMLResponse") {
		t.Fatalf("first login: %d", res.StatusCode)
	}
	if _, ok := cl.cookies["hcidp_flow_"+flow]; ok {
		t.Error("the flow cookie was not removed when the flow was answered")
	}
	// The same browser sends the old flow cookie again after signing in anew.
	cl.cookies[saved.Name] = saved
	before := e.snapshot()
	again := cl.post("/login", f)
	if again.StatusCode != http.StatusBadRequest || !strings.Contains(again.Body, "request.replayed") || strings.Contains(again.Body, "SAMLResponse") {
		t.Errorf("second answer of the flow: %d\n%s", again.StatusCode, again.Body)
	}
	// The sign-in itself is audited (kind login); the refused answer is not.
	if d := before.delta(e.snapshot()); d["audit_log"] != 1 || d["replay_cache"] != 0 {
		t.Errorf("the refused second answer wrote %v", d)
	}
	if rows, _ := e.store.ListAudit(t.Context(), storage.AuditFilter{XAccountID: "alice"}); rows[len(rows)-1].Kind != "login" {
		t.Errorf("last audit row %+v, want the login", rows[len(rows)-1])
	}
}
