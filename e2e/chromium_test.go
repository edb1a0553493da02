package e2e

// Real-browser tests: Debian's Chromium, headless, driven with chromedp
// through the demo installation (IdP + mock Huawei IAM on loopback). They
// need /usr/bin/chromium (scripts/install-test-deps.sh installs it); without
// it they skip, except in CI (CI set), where they fail.
//
// Screenshots go to $HCIDP_TEST_OUTPUT or test-output/ at the repository
// root (git-ignored). HCIDP_UPDATE_DOCS=1 also refreshes the copies in docs/.
//
//	go test ./e2e -run Chromium -v

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/cdproto/network"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"hcidp/demo"
	"hcidp/mockiam"
	"hcidp/storage"
)

func TestChromiumSSOBindAndConsole(t *testing.T) {
	env := startDemo(t, 2048)
	c := newChromium(t, "en", true)

	// 1. The partner portal.
	c.navigate(env.PortalURL)
	c.waitHTML("portal", `id="open-console"`)
	c.expectPath("portal", env.IdPURL, "/")

	// 2. "Open Huawei Cloud console" -> not signed in -> the IdP login page.
	c.do(chromedp.Click(chromedp.ID("open-console")))
	c.waitHTML("login page", `id="password"`)
	c.expectPath("login page", env.IdPURL, "/login")

	// 3. Sign in; the console link goes to the mock IAM, which sends a signed
	// AuthnRequest back; the auto-POST page submits the Response to the mock
	// ACS by itself; the mock shows its "Create and bind" page.
	c.signIn(env)
	c.waitHTML("mock IAM bind page", "Create and bind")
	c.expectPath("mock IAM bind page", env.IAMURL, "/authui/saml/SAMLAssertionConsumer")

	// 4. Create and bind -> the mock's auto-submitting form POSTs the
	// notification to the IdP (cross-site: 127.0.0.1 is not localhost) ->
	// 303 to the IdP's result page -> 303 to the console asked for.
	c.do(chromedp.Click(chromedp.CSS(`form[action*="/authui/saml/bind"] button[type=submit]`)))
	c.waitHTML("mock console", "Huawei Cloud console (mock")
	c.expectPath("mock console", env.IAMURL, "/console")
	if h := c.html(); !strings.Contains(h, "<code>"+env.Username+"</code>") {
		t.Fatalf("the console page does not show the customer ID %s:\n%s", env.Username, h)
	}
	c.screenshot("console.png")

	// Every step happened in this order, in the browser, over real HTTP.
	c.expectDocuments(
		"GET "+env.IdPURL+"/",
		"GET "+env.IdPURL+"/console",
		"GET "+env.IdPURL+"/login",
		"POST "+env.IdPURL+"/login",
		"GET "+env.IAMURL+"/authui/saml/login",
		"GET "+env.IdPURL+"/saml/sso",
		"POST "+env.IAMURL+"/authui/saml/SAMLAssertionConsumer",
		"POST "+env.IAMURL+"/authui/saml/bind",
		"POST "+env.IdPURL+"/saml/bind",
		"GET "+env.IdPURL+"/saml/bind/result",
		"GET "+env.IAMURL+"/console",
	)
	// The real cookie behaviour: the cross-site POST came without the
	// IdP's SameSite=Lax session cookie; the 303'd GET carried it again.
	if sent, why := c.cookieOn("POST "+env.IdPURL+"/saml/bind", "hcidp_session"); sent ||
		!(slices.Contains(why, network.CookieBlockedReasonSameSiteLax) || slices.Contains(why, network.CookieBlockedReasonSchemefulSameSiteLax)) {
		t.Errorf("the cross-site notification POST: session cookie sent=%v blocked=%v, want blocked by SameSite=Lax", sent, why)
	}
	if sent, why := c.cookieOn("GET "+env.IdPURL+"/saml/bind/result", "hcidp_session"); !sent {
		t.Errorf("the result page GET did not carry the session cookie (blocked: %v)", why)
	}
	ctx := context.Background()
	b, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn")
	if err != nil || b.DomainID == "" || b.DomainID != env.IAM.Bindings()[env.Username] || b.Source != storage.SourceNotification || b.Convention != "value" {
		t.Fatalf("the notification was not recorded: %+v %v", b, err)
	}

	// 5. Unbind on the mock console -> the unbind notification -> the
	// IdP's result page says so; the binding is gone.
	c.do(chromedp.Click(chromedp.CSS(`form#unbind button[type=submit]`)))
	c.waitHTML("unbind result page", "Huawei Cloud account unbound")
	c.expectPath("unbind result page", env.IdPURL, "/saml/bind/result")
	if _, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding after the unbind: %v", err)
	}

	// 6. Open the console again: isFirstLogin=true, Huawei offers to bind
	// again (no password: the IdP session is still there); bind again.
	c.navigate(env.PortalURL)
	c.waitHTML("portal", `id="open-console"`)
	c.do(chromedp.Click(chromedp.ID("open-console")))
	c.waitHTML("mock IAM bind page again", "Create and bind")
	if !strings.Contains(c.html(), "isFirstLogin=true") {
		t.Error("the bind page after the unbind does not say isFirstLogin=true")
	}
	c.do(chromedp.Click(chromedp.CSS(`form[action*="/authui/saml/bind"] button[type=submit]`)))
	c.waitHTML("mock console again", "Huawei Cloud console (mock")
	c.expectPath("mock console again", env.IAMURL, "/console")
	es, err := env.IdP.Store.ListBindEvents(ctx, env.Username, 0)
	if err != nil || len(es) != 3 || es[0].Outcome != storage.BindOutcomeBound || es[1].Outcome != storage.BindOutcomeUnbound || es[2].Outcome != storage.BindOutcomeBound {
		t.Fatalf("bind events (newest first) = %+v, %v; want bound, unbound, bound", es, err)
	}
	if b, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); err != nil || b.EventID != es[0].ID {
		t.Fatalf("binding after binding again: %+v %v", b, err)
	}
}

// TestChromiumSignInWithDemoPortal: a customer of the demo portal clicks
// "Sign in with Demo Portal" on the IdP's login page, signs in at the
// portal's own OpenID provider, and lands on the Huawei Cloud console
// without any hcidp password.
func TestChromiumSignInWithDemoPortal(t *testing.T) {
	env := startDemo(t, 2048)
	c := newChromium(t, "en", true)
	c.navigate(env.PortalURL)
	c.do(chromedp.Click(chromedp.ID("open-console")))
	c.waitHTML("login page", `id="upstream-login"`)
	if h := c.html(); !strings.Contains(h, "Sign in with Demo Portal") {
		t.Fatalf("no upstream button on the login page:\n%s", h)
	}
	c.do(chromedp.Click(chromedp.ID("upstream-login")))
	c.waitHTML("portal login", "Demo Portal")
	if u := c.url(); !strings.HasPrefix(u, env.PortalOP.Issuer()) {
		t.Fatalf("the button did not lead to the portal's provider: %s", u)
	}
	c.do(
		chromedp.SendKeys(chromedp.ID("username"), env.PortalUser),
		chromedp.SendKeys(chromedp.ID("password"), env.PortalPassword),
		chromedp.Click(chromedp.CSS(`button[name=action][value=login]`)),
	)
	c.waitHTML("mock IAM bind page", "Create and bind")
	c.do(chromedp.Click(chromedp.CSS(`form[action*="/authui/saml/bind"] button[type=submit]`)))
	c.waitHTML("mock console", "Huawei Cloud console (mock")
	if h := c.html(); !strings.Contains(h, "<code>"+env.Username+"</code>") {
		t.Fatalf("the console page does not show the customer %s:\n%s", env.Username, h)
	}
	c.expectDocuments(
		"GET "+env.IdPURL+"/",
		"GET "+env.IdPURL+"/console",
		"GET "+env.IdPURL+"/login",
		"GET "+env.IdPURL+"/oidc/login",
		"POST "+env.PortalOP.Issuer()+"/login",
		"GET "+env.IdPURL+"/oidc/callback",
		"GET "+env.IdPURL+"/console",
		"GET "+env.IAMURL+"/authui/saml/login",
		"GET "+env.IdPURL+"/saml/sso",
		"POST "+env.IAMURL+"/authui/saml/SAMLAssertionConsumer",
	)
	if _, err := env.IdP.Store.GetBinding(context.Background(), env.Username, "cn"); err != nil {
		t.Fatalf("the binding of the upstream-signed-in customer was not recorded: %v", err)
	}
}

func TestChromiumWithoutJavaScript(t *testing.T) {
	env := startDemo(t, 2048)
	c := newChromium(t, "en", false)

	c.navigate(env.PortalURL)
	c.do(chromedp.Click(chromedp.ID("open-console")))
	c.waitHTML("login page", `id="password"`)
	c.signIn(env)

	// The auto-POST page stays: without JavaScript nothing submits it.
	c.waitHTML("auto-POST page", `id="saml-post"`)
	time.Sleep(700 * time.Millisecond)
	if u := c.url(); !strings.HasPrefix(u, env.IdPURL) || !strings.Contains(c.html(), `id="saml-post"`) {
		t.Fatalf("with JavaScript disabled the auto-POST page submitted itself (now at %s)", u)
	}
	// Its visible button does the job.
	c.do(chromedp.Click(chromedp.CSS(`#saml-post button[type=submit]`)))
	c.waitHTML("mock IAM bind page", "Create and bind")
	c.expectPath("mock IAM bind page", env.IAMURL, "/authui/saml/SAMLAssertionConsumer")
	c.do(chromedp.Click(chromedp.CSS(`form[action*="/authui/saml/bind"] button[type=submit]`)))
	// The notification page stays too; its visible button posts it.
	c.waitHTML("notification page", `id="notify"`)
	time.Sleep(700 * time.Millisecond)
	if u := c.url(); !strings.HasPrefix(u, env.IAMURL) || !strings.Contains(c.html(), `id="notify"`) {
		t.Fatalf("with JavaScript disabled the notification page submitted itself (now at %s)", u)
	}
	c.do(chromedp.Click(chromedp.CSS(`#notify button[type=submit]`)))
	c.waitHTML("mock console", "Huawei Cloud console (mock")
	if !strings.Contains(c.html(), env.Username) {
		t.Fatal("the console page does not show the customer ID")
	}
	if _, err := env.IdP.Store.GetBinding(context.Background(), env.Username, "cn"); err != nil {
		t.Fatalf("the notification was not recorded: %v", err)
	}
}

func TestChromiumLanguages(t *testing.T) {
	env := startDemo(t, 2048)
	for _, tc := range []struct {
		lang, login, errTitle, bindTitle string
	}{
		{"en", "Sign in", "This request cannot be completed", "No Huawei Cloud account bound"},
		{"zh-CN", "登录", "无法完成此请求", "未绑定华为云账号"},
	} {
		t.Run(tc.lang, func(t *testing.T) {
			c := newChromium(t, tc.lang, true)

			// Login page.
			c.navigate(env.IdPURL + "/login")
			c.waitHTML("login page", `id="password"`)
			if h1 := c.text("h1"); h1 != tc.login {
				t.Errorf("login page <h1> = %q, want %q", h1, tc.login)
			}
			if lang := c.attr("html", "lang"); lang != tc.lang {
				t.Errorf("login page <html lang> = %q, want %q", lang, tc.lang)
			}
			c.screenshot("login-" + tc.lang + ".png")

			// Error page: a request the SSO endpoint refuses.
			c.navigate(env.IdPURL + "/saml/sso?SAMLRequest=garbage")
			c.waitHTML("error page", "<h1>")
			if h1 := c.text("h1"); h1 != tc.errTitle {
				t.Errorf("error page <h1> = %q, want %q", h1, tc.errTitle)
			}
			c.screenshot("error-" + tc.lang + ".png")

			// Result page: a genuine unbind notification (by GET) for a
			// customer with no binding, outside any console flow.
			doc, _ := json.Marshal(mockiam.BindDocument{DomainName: "hw_demo_" + tc.lang[:2],
				DomainID: "0123456789abcdef0123456789abcde" + tc.lang[:1], XUserID: env.Username, BindAction: mockiam.BindActionUnbind})
			c.navigate(env.IAM.SignedBindURL(doc, nil))
			c.waitHTML("bind result page", "<h1>")
			if h1 := c.text("h1"); h1 != tc.bindTitle {
				t.Errorf("bind result page <h1> = %q, want %q", h1, tc.bindTitle)
			}
			c.screenshot("bind-result-" + tc.lang + ".png")
		})
	}
}

// chromium is one headless browser with one tab.
type chromium struct {
	t   *testing.T
	ctx context.Context

	mu   sync.Mutex
	docs []string // "METHOD URL-without-query" of every document request
	// hops and cookies pair, per request ID (shared by the hops of a
	// redirect chain), each document hop with the cookies Chromium
	// considered for it: name -> the reasons it was blocked (none: sent).
	hops    map[network.RequestID][]string
	cookies map[network.RequestID][]map[string][]network.CookieBlockedReason
}

// chromiumPath finds the browser: $HCIDP_CHROMIUM, /usr/bin/chromium, or PATH.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("HCIDP_CHROMIUM"); p != "" {
		return p
	}
	for _, p := range []string{"/usr/bin/chromium", "/usr/bin/chromium-browser"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	msg := "Chromium is not installed (/usr/bin/chromium): run scripts/install-test-deps.sh (apt-get install chromium)"
	if os.Getenv("CI") != "" {
		t.Fatal(msg)
	}
	t.Skip(msg)
	return ""
}

// newChromium starts a fresh headless Chromium (own user-data directory)
// sending Accept-Language: lang, with JavaScript on or off.
func newChromium(t *testing.T, lang string, javascript bool) *chromium {
	t.Helper()
	exe := chromiumPath(t)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(),
		chromedp.ExecPath(exe),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.NoFirstRun,
		chromedp.Flag("no-default-browser-check", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.Flag("lang", lang),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(900, 700),
	)
	ctx, cancelCtx := chromedp.NewContext(alloc)
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	c := &chromium{t: t, ctx: ctx, hops: map[network.RequestID][]string{},
		cookies: map[network.RequestID][]map[string][]network.CookieBlockedReason{}}

	// The first Run starts the browser (no timeout on this context: it would
	// stop the browser).
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(900, 700)); err != nil {
		t.Fatalf("start %s: %v", exe, err)
	}
	if err := chromedp.Listen(ctx, func(ev any) {
		switch e := ev.(type) {
		case *network.EventRequestWillBeSent:
			if e.Type == network.ResourceTypeDocument && e.Request != nil {
				u, _, _ := strings.Cut(e.Request.URL, "?")
				c.mu.Lock()
				c.docs = append(c.docs, e.Request.Method+" "+u)
				c.hops[e.RequestID] = append(c.hops[e.RequestID], e.Request.Method+" "+u)
				c.mu.Unlock()
			}
		case *network.EventRequestWillBeSentExtraInfo:
			m := map[string][]network.CookieBlockedReason{}
			for _, ac := range e.AssociatedCookies {
				if ac.Cookie != nil {
					m[ac.Cookie.Name] = append([]network.CookieBlockedReason{}, ac.BlockedReasons...)
				}
			}
			c.mu.Lock()
			c.cookies[e.RequestID] = append(c.cookies[e.RequestID], m)
			c.mu.Unlock()
		}
	}); err != nil {
		t.Fatal(err)
	}
	c.call(func(ctx context.Context) error {
		if _, err := chromedp.Call(ctx, network.Enable, network.EnableParams{}); err != nil {
			return err
		}
		_, err := chromedp.Call(ctx, network.SetExtraHTTPHeaders,
			network.SetExtraHTTPHeadersParams{Headers: network.Headers{"Accept-Language": lang}})
		return err
	})
	if !javascript {
		c.call(func(ctx context.Context) error {
			_, err := chromedp.Call(ctx, emulation.SetScriptExecutionDisabled, emulation.SetScriptExecutionDisabledParams{Value: true})
			return err
		})
	}
	return c
}

const stepTimeout = 30 * time.Second

// call runs f with a per-step timeout derived from the browser context.
func (c *chromium) call(f func(ctx context.Context) error) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(c.ctx, stepTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		c.t.Fatalf("chromium: %v (at %s)", err, c.urlNoFail())
	}
}

func (c *chromium) do(actions ...chromedp.Action[chromedp.Void]) {
	c.t.Helper()
	c.call(func(ctx context.Context) error { return chromedp.Do(ctx, actions...) })
}

func (c *chromium) navigate(u string) { c.t.Helper(); c.do(chromedp.Navigate(u)) }

// url is the address of the current page, read without JavaScript.
func (c *chromium) url() string {
	c.t.Helper()
	u, err := c.currentURL()
	if err != nil {
		c.t.Fatal(err)
	}
	return u
}

func (c *chromium) urlNoFail() string { u, _ := c.currentURL(); return u }

func (c *chromium) currentURL() (string, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	h, err := chromedp.Call(ctx, cdppage.GetNavigationHistory, cdp.Empty{})
	if err != nil {
		return "", err
	}
	if h.CurrentIndex < 0 || int(h.CurrentIndex) >= len(h.Entries) {
		return "", fmt.Errorf("no current history entry")
	}
	return h.Entries[h.CurrentIndex].URL, nil
}

// html is the current document's markup (DOM.getOuterHTML: works with
// JavaScript disabled).
func (c *chromium) html() string {
	c.t.Helper()
	var h string
	c.call(func(ctx context.Context) error {
		var err error
		h, err = chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
		return err
	})
	return h
}

// tryHTML is html without failing: during a navigation the query may miss.
func (c *chromium) tryHTML() (string, error) {
	ctx, cancel := context.WithTimeout(c.ctx, 5*time.Second)
	defer cancel()
	return chromedp.Run(ctx, chromedp.OuterHTML(chromedp.CSS("html")))
}

// waitHTML waits until the current document contains want.
func (c *chromium) waitHTML(step, want string) {
	c.t.Helper()
	deadline := time.Now().Add(stepTimeout)
	last := ""
	for time.Now().Before(deadline) {
		h, err := c.tryHTML()
		if err == nil && strings.Contains(h, want) {
			return
		}
		if err == nil {
			last = h
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.mu.Lock()
	docs := strings.Join(c.docs, "\n  ")
	c.mu.Unlock()
	c.t.Fatalf("%s: %q did not appear within %s (at %s)\nnavigation so far:\n  %s\npage:\n%s", step, want, stepTimeout, c.urlNoFail(), docs, last)
}

func (c *chromium) expectPath(step, origin, path string) {
	c.t.Helper()
	u, err := url.Parse(c.url())
	if err != nil || u.Scheme+"://"+u.Host != origin || u.Path != path {
		c.t.Fatalf("%s: at %s, want %s%s", step, c.url(), origin, path)
	}
}

func (c *chromium) text(css string) string {
	c.t.Helper()
	var s string
	c.call(func(ctx context.Context) error {
		var err error
		s, err = chromedp.Run(ctx, chromedp.Text(chromedp.CSS(css)))
		return err
	})
	return strings.TrimSpace(s)
}

func (c *chromium) attr(css, name string) string {
	c.t.Helper()
	var v string
	c.call(func(ctx context.Context) error {
		var err error
		r, err := chromedp.Run(ctx, chromedp.AttributeValue(chromedp.CSS(css), name))
		v = r.Value
		return err
	})
	return v
}

// signIn fills and submits the login form on the current page, and fails
// at once, explaining why, if the IdP refuses the POST's origin.
func (c *chromium) signIn(env *demo.Env) {
	c.t.Helper()
	c.do(
		chromedp.SendKeys(chromedp.ID("username"), env.Username),
		chromedp.SendKeys(chromedp.ID("password"), "correct horse battery"),
		chromedp.Click(chromedp.CSS(`form[action="/login"] button[type=submit]`)),
	)
	deadline := time.Now().Add(stepTimeout)
	for time.Now().Before(deadline) {
		u, err := url.Parse(c.urlNoFail())
		if err == nil && (u.Host != strings.TrimPrefix(env.IdPURL, "http://") || u.Path != "/login") {
			return // left the login page
		}
		h, err := c.tryHTML()
		if err != nil {
			time.Sleep(100 * time.Millisecond)
			continue // navigating
		}
		if strings.Contains(h, "login.origin") {
			c.t.Fatal("the IdP refused Chromium's login POST (403 login.origin): a real browser sends " +
				"\"Origin: null\" on a form POST from a page served with \"Referrer-Policy: no-referrer\" " +
				"(Fetch standard, serializing a request origin), and idp.sameOrigin accepts only the IdP's " +
				"own origin. Serve the pages with \"Referrer-Policy: same-origin\" (still no Referer to other sites).")
		}
		if !strings.Contains(h, `id="password"`) || strings.Contains(h, `name="SAMLResponse"`) {
			return // the POST answered with another page (auto-POST, error)
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.mu.Lock()
	last := ""
	if len(c.docs) > 0 {
		last = c.docs[len(c.docs)-1]
	}
	c.mu.Unlock()
	if last == "GET "+env.IdPURL+"/console" {
		c.t.Fatal("after the login POST the browser stayed on the login page: POST /login -> 303 /console -> 302 " +
			"to the IAM was blocked by the login page's Content-Security-Policy \"form-action 'self'\" (browsers " +
			"apply form-action to every redirect of a form submission). The login page's form-action must also " +
			"allow each trusted site's IAM origin (ServiceProvider.AuthURL).")
	}
}

// cookieOn reports what became of the cookie name on the document request
// doc ("METHOD URL-without-query"): sent, or blocked with reasons.
func (c *chromium) cookieOn(doc, name string) (sent bool, blocked []network.CookieBlockedReason) {
	c.t.Helper()
	deadline := time.Now().Add(5 * time.Second) // extra info may trail the request
	for {
		c.mu.Lock()
		for id, hops := range c.hops {
			for i, h := range hops {
				if h != doc || i >= len(c.cookies[id]) {
					continue
				}
				reasons, ok := c.cookies[id][i][name]
				c.mu.Unlock()
				if !ok {
					c.t.Fatalf("%s: Chromium did not consider a cookie %s at all", doc, name)
				}
				return len(reasons) == 0, reasons
			}
		}
		c.mu.Unlock()
		if time.Now().After(deadline) {
			c.t.Fatalf("no cookie information for %s", doc)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// expectDocuments checks that want occurs, in order, among the document
// requests the browser made.
func (c *chromium) expectDocuments(want ...string) {
	c.t.Helper()
	c.mu.Lock()
	got := append([]string(nil), c.docs...)
	c.mu.Unlock()
	i := 0
	for _, g := range got {
		if i < len(want) && g == want[i] {
			i++
		}
	}
	if i < len(want) {
		c.t.Fatalf("browser navigation: missing %q (in order) among:\n  %s", want[i], strings.Join(got, "\n  "))
	}
}

// screenshot writes a full-page PNG to the test-output directory, and to
// docs/ when HCIDP_UPDATE_DOCS=1.
func (c *chromium) screenshot(name string) {
	c.t.Helper()
	var png []byte
	c.call(func(ctx context.Context) error {
		var err error
		png, err = chromedp.Run(ctx, chromedp.FullScreenshot(100))
		return err
	})
	dir := os.Getenv("HCIDP_TEST_OUTPUT")
	if dir == "" {
		dir = filepath.Join("..", "test-output")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		c.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		c.t.Fatal(err)
	}
	c.t.Logf("screenshot %s", filepath.Join(dir, name))
	if os.Getenv("HCIDP_UPDATE_DOCS") == "1" && (strings.HasPrefix(name, "login-") || name == "console.png") {
		if err := os.WriteFile(filepath.Join("..", "docs", name), png, 0o644); err != nil {
			c.t.Fatal(err)
		}
	}
}
