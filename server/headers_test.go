package server

// docs/threat-model.md "Browser-facing pages": headers on every page, cookie
// attributes, HSTS on https, and the auto-POST page's policy.

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// everyPage fetches one of each page the IdP serves.
func everyPage(t *testing.T, e *hardenEnv) map[string]*hxResp {
	t.Helper()
	cl := e.client()
	pages := map[string]*hxResp{
		"login":    cl.get(e.origin + "/login"),
		"error":    cl.get(e.origin + "/saml/sso?SAMLRequest=x"),
		"metadata": cl.get(e.origin + "/saml/metadata"),
		"healthz":  cl.get(e.origin + "/healthz"),
		"portal":   cl.get(e.origin + "/"),
		"notfound": cl.get(e.origin + "/nope"),
	}
	cl.mustLogin("alice")
	pages["post"] = cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_hdr1", time.Now(), e.ssoURL()), "rs"))
	pages["message"] = cl.post("/logout", nil)
	return pages
}

func TestSecurityHeadersOnEveryPage(t *testing.T) {
	for _, base := range []string{"http://127.0.0.1:8080", "https://idp.partner.example"} {
		e := newHardenEnv(t, base, nil)
		for name, p := range everyPage(t, e) {
			h := p.Header
			if h.Get("X-Content-Type-Options") != "nosniff" {
				t.Errorf("%s %s: X-Content-Type-Options = %q", base, name, h.Get("X-Content-Type-Options"))
			}
			if h.Get("Referrer-Policy") != "same-origin" {
				t.Errorf("%s %s: Referrer-Policy = %q", base, name, h.Get("Referrer-Policy"))
			}
			if csp := h.Get("Content-Security-Policy"); !strings.Contains(csp, "frame-ancestors 'none'") || !strings.Contains(csp, "default-src 'none'") {
				t.Errorf("%s %s: CSP = %q", base, name, csp)
			}
			hsts := h.Get("Strict-Transport-Security")
			if strings.HasPrefix(base, "https") && !strings.Contains(hsts, "max-age=") {
				t.Errorf("%s %s: no HSTS on https", base, name)
			}
			if strings.HasPrefix(base, "http:") && hsts != "" {
				t.Errorf("%s %s: HSTS on plain http: %q", base, name, hsts)
			}
			if p.StatusCode >= 500 {
				t.Errorf("%s %s: status %d", base, name, p.StatusCode)
			}
		}
	}
}

// Every cookie hcidp sets (the CSRF cookie of the login form, a pending
// flow's cookie, the session cookie at login) is HttpOnly, SameSite=Lax,
// Path=/ without Domain, Secure and __Host- prefixed over HTTPS; the CSRF
// and session cookies end with the browser session.
func TestSessionCookieAttributes(t *testing.T) {
	for _, tt := range []struct {
		base, prefix, session string
		secure                bool
	}{
		{"https://idp.partner.example", "__Host-", "__Host-hcidp", true},
		{"http://127.0.0.1:8080", "", "hcidp_session", false},
	} {
		e := newHardenEnv(t, tt.base, nil)
		cl := e.client()
		check := func(step string, r *hxResp, want string, browserSession bool) {
			t.Helper()
			for _, ck := range r.Cookies() {
				if !strings.HasPrefix(ck.Name, want) {
					continue
				}
				if ck.Secure != tt.secure || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.Domain != "" ||
					(browserSession && (ck.MaxAge != 0 || !ck.Expires.IsZero())) {
					t.Errorf("%s %s: cookie %s", tt.base, step, ck)
				}
				return
			}
			t.Errorf("%s %s: no %s cookie in %v", tt.base, step, want, r.Cookies())
		}
		check("/login", cl.get(e.origin+"/login"), tt.prefix+"hcidp_csrf", true)
		check("/saml/sso", cl.get(e.origin+"/saml/sso?"+e.signedSSOQuery(hxAuthnXML("_ck1", time.Now(), e.ssoURL()), "")),
			tt.prefix+"hcidp_flow_", false)
		f := cl.loginForm("")
		f.Set("username", "alice")
		f.Set("password", hxPassword)
		check("POST /login", cl.post("/login", f), tt.session, true)
	}
}

var scriptNonceRE = regexp.MustCompile(`<script nonce="([^"]+)">`)

// The auto-POST page: form-action is exactly the ACS origin, no caching,
// the script runs only by nonce and a button works without JavaScript.
func TestAutoPostPagePolicy(t *testing.T) {
	e := newHardenEnv(t, "https://idp.partner.example", nil)
	cl := e.client()
	cl.mustLogin("alice")
	r := cl.get(e.origin + "/saml/sso?" + e.signedSSOQuery(hxAuthnXML("_post1", time.Now(), e.ssoURL()), "rs-1"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d\n%s", r.StatusCode, r.Body)
	}
	directives := map[string]string{}
	for d := range strings.SplitSeq(r.Header.Get("Content-Security-Policy"), ";") {
		name, value, _ := strings.Cut(strings.TrimSpace(d), " ")
		directives[name] = value
	}
	if got := directives["form-action"]; got != "https://auth.huaweicloud.com" {
		t.Errorf("form-action = %q, want exactly the ACS origin", got)
	}
	m := scriptNonceRE.FindStringSubmatch(r.Body)
	if m == nil || directives["script-src"] != "'nonce-"+m[1]+"'" {
		t.Errorf("script-src = %q, script %v", directives["script-src"], m)
	}
	if directives["default-src"] != "'none'" || directives["frame-ancestors"] != "'none'" {
		t.Errorf("CSP = %v", directives)
	}
	if r.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", r.Header.Get("Cache-Control"))
	}
	if !strings.Contains(r.Body, `<button type="submit">`) || !strings.Contains(r.Body, `action="`+hxACS+`"`) {
		t.Errorf("no visible submit button to the ACS:\n%s", r.Body)
	}
	if _, relay, ok := postForm(r.Body); !ok || relay != "rs-1" {
		t.Errorf("RelayState = %q, %v", relay, ok)
	}
}

// The login form and the portal's console button end, after redirects, on
// the IAM login link: their form-action must allow the IAM origin (browsers
// check form-action on every redirect), and nothing else but 'self'.
func TestLoginAndPortalFormActionAllowsIAM(t *testing.T) {
	e := newHardenEnv(t, "", nil)
	cl := e.client()
	for name, r := range map[string]*hxResp{"login": cl.get(e.origin + "/login"), "portal": cl.get(e.origin + "/")} {
		csp := r.Header.Get("Content-Security-Policy")
		if !strings.Contains(csp, "form-action 'self' https://auth.huaweicloud.com;") {
			t.Errorf("%s: CSP %q", name, csp)
		}
	}
}
