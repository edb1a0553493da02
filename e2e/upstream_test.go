package e2e

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"hcidp/demo"
	"hcidp/storage"
)

var upstreamLinkRE = regexp.MustCompile(`id="upstream-login" href="([^"]+)"`)

// upstreamSignIn follows the login page's "Sign in with Demo Portal" link,
// signs in at the demo portal's provider with user/password (action login
// or cancel), and returns the page the browser lands on.
func upstreamSignIn(t *testing.T, b *browser, env *demo.Env, loginPage *page, user, password, action string) *page {
	t.Helper()
	m := upstreamLinkRE.FindStringSubmatch(loginPage.Body)
	if m == nil {
		t.Fatalf("no upstream sign-in link on %s:\n%s", loginPage.URL, loginPage.Body)
	}
	portal := b.get(loginPage.URL.ResolveReference(mustURL(htmlUnescape(m[1]))).String())
	if !strings.HasPrefix(portal.URL.String(), env.PortalOP.Issuer()) {
		t.Fatalf("the link did not lead to the portal's provider but to %s", portal.URL)
	}
	f := portal.form(t, "/login")
	f.Fields.Set("username", user)
	f.Fields.Set("password", password)
	f.Fields.Set("action", action)
	return b.submit(portal, f)
}

func htmlUnescape(s string) string { return strings.ReplaceAll(s, "&amp;", "&") }

// TestUpstreamSignInToTheConsole: a customer of the demo portal reaches
// the console through the portal's own OpenID provider, without any hcidp
// password: Open console -> the IdP's login page -> "Sign in with Demo
// Portal" -> the portal's login -> back to the IdP, signed in with a new
// session -> IAM -> the signed assertion for the customer the claim names.
func TestUpstreamSignInToTheConsole(t *testing.T) {
	env := startDemo(t, 2048)
	b := newBrowser(t)
	login := b.get(env.IdPURL + "/console?site=cn")
	if login.URL.Path != "/login" || !strings.Contains(login.Body, "Sign in with Demo Portal") {
		t.Fatalf("Open console without a session: %s\n%s", login.URL, login.Body)
	}
	post := upstreamSignIn(t, b, env, login, env.PortalUser, env.PortalPassword, "login")
	samlResponse(t, env, post) // the assertion is for env.Username, checked by crewjam, xmlsec1 and check
	events, err := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{XAccountID: env.Username})
	if err != nil || len(events) < 2 {
		t.Fatalf("audit: %v %v", events, err)
	}
	if e := events[0]; e.Kind != "login" || e.Outcome != "success" || !strings.Contains(e.Detail, "method=oidc") ||
		!strings.Contains(e.Detail, "issuer="+env.PortalOP.Issuer()) || !strings.Contains(e.Detail, "subject=portal-user-0001") {
		t.Errorf("login audit row = %+v", e)
	}
	for _, e := range events {
		if strings.Contains(e.Detail, "code=") || strings.Contains(e.Detail, "token") {
			t.Errorf("audit row carries a code or token: %+v", e)
		}
	}
}

// TestUpstreamCallbackRefusals: callbacks that do not belong to this
// browser's pending sign-in are refused with a clear page and a reason
// code, and nothing is written: no session, no audit row.
func TestUpstreamCallbackRefusals(t *testing.T) {
	env := startDemo(t, 2048)
	before, _ := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{})

	// Cancel at the portal: access_denied.
	b := newBrowser(t)
	denied := upstreamSignIn(t, b, env, b.get(env.IdPURL+"/login"), env.PortalUser, env.PortalPassword, "cancel")
	if denied.Status != http.StatusForbidden || !strings.Contains(denied.Body, "oidc.denied") {
		t.Errorf("cancel at the portal: %d\n%s", denied.Status, denied.Body)
	}
	// A callback with no pending sign-in in this browser (another browser's
	// state and code, a forged state): oidc.no_flow.
	victim := newBrowser(t)
	for _, q := range []string{"?state=forged&code=x", "?code=x", "?state=&code=x&error=access_denied"} {
		p := victim.get(env.IdPURL + "/oidc/callback" + q)
		if p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "oidc.no_flow") {
			t.Errorf("callback%s: %d\n%s", q, p.Status, p.Body)
		}
	}
	// The attacker's own code and state, replayed into a victim's browser
	// (login CSRF): the victim has no pending sign-in with that state.
	attacker := newBrowser(t)
	login := attacker.get(env.IdPURL + "/login")
	m := upstreamLinkRE.FindStringSubmatch(login.Body)
	nc := *attacker.client
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Get(env.IdPURL + htmlUnescape(m[1]))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	authURL, _ := url.Parse(resp.Header.Get("Location"))
	portal := attacker.get(authURL.String())
	f := portal.form(t, "/login")
	f.Fields.Set("username", env.PortalUser)
	f.Fields.Set("password", env.PortalPassword)
	f.Fields.Set("action", "login")
	resp, err = func() (*http.Response, error) {
		req, _ := http.NewRequest("POST", portal.URL.ResolveReference(mustURL(f.Action)).String(), strings.NewReader(f.Fields.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", portal.URL.Scheme+"://"+portal.URL.Host)
		return nc.Do(req)
	}()
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	// Follow the provider's redirects up to, not into, the IdP's callback.
	callback := resp.Header.Get("Location")
	for i := 0; i < 5 && !strings.Contains(callback, "/oidc/callback"); i++ {
		next, err := nc.Get(portal.URL.ResolveReference(mustURL(callback)).String())
		if err != nil {
			t.Fatal(err)
		}
		next.Body.Close()
		callback = next.Header.Get("Location")
	}
	if !strings.Contains(callback, "/oidc/callback") {
		t.Fatalf("the provider did not send the browser back to the callback: %q", callback)
	}
	if p := victim.get(callback); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "oidc.no_flow") {
		t.Errorf("the attacker's callback in the victim's browser: %d\n%s", p.Status, p.Body)
	}
	if sessionCookie(t, victim, env) != "" {
		t.Error("a refused callback left a session cookie")
	}
	// The attacker's own browser can use it once; a replay of the same
	// callback (the cookie is gone, the code spent) is refused.
	if p := attacker.get(callback); p.Status != 200 || p.URL.Path != "/" {
		t.Fatalf("the attacker's own callback: %d %s", p.Status, p.URL)
	}
	if p := attacker.get(callback); p.Status != http.StatusBadRequest || !strings.Contains(p.Body, "oidc.no_flow") {
		t.Errorf("replayed callback: %d", p.Status)
	}
	after, _ := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{})
	if len(after) != len(before)+1 || after[len(after)-1].Outcome != "success" {
		t.Errorf("refusals wrote audit rows: %d before, %d after", len(before), len(after))
	}
}

// TestUpstreamOnlyHidesThePasswordForm: with password_login: false the
// login page offers only the portal's provider, and POST /login is refused.
func TestUpstreamOnlyHidesThePasswordForm(t *testing.T) {
	off := false
	env, err := demo.Start(context.Background(), demo.Options{DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0",
		IAMKeyBits: 2048, Password: "correct horse battery", Logger: slog.New(slog.DiscardHandler), PortalPasswordLogin: &off})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Close() })
	b := newBrowser(t)
	login := b.get(env.IdPURL + "/login")
	if strings.Contains(login.Body, `name="password"`) || !strings.Contains(login.Body, `id="upstream-login"`) {
		t.Fatalf("login page with password_login false:\n%s", login.Body)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]*)"`).FindStringSubmatch(login.Body)
	token := ""
	if csrf != nil {
		token = csrf[1]
	}
	req, _ := http.NewRequest("POST", env.IdPURL+"/login", strings.NewReader(url.Values{"csrf_token": {token},
		"username": {env.Username}, "password": {env.Password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", env.IdPURL)
	if p := b.do(req); p.Status != http.StatusForbidden || !strings.Contains(p.Body, "login.") {
		t.Errorf("POST /login with password_login false: %d\n%s", p.Status, p.Body)
	}
	post := upstreamSignIn(t, b, env, b.get(env.IdPURL+"/console?site=cn"), env.PortalUser, env.PortalPassword, "login")
	samlResponse(t, env, post)
}
