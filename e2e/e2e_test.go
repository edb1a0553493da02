// Package e2e drives the whole product over real HTTP: the demo
// installation (IdP on SQLite, mock Huawei IAM on loopback) walked through
// by a cookie-keeping client, every Response checked by the mock IAM, by
// xmlsec1 and by crewjam/saml's service provider.
package e2e

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/url"
	"strings"
	"testing"

	"github.com/crewjam/saml"
	"github.com/crewjam/saml/samlsp"

	"hcidp/check"
	"hcidp/demo"
	"hcidp/internal/xmlsectest"
	"hcidp/mockiam"
	"hcidp/storage"
)

// startDemo runs the demo installation on free loopback ports.
func startDemo(t *testing.T, iamBits int) *demo.Env {
	t.Helper()
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: iamBits,
		Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := env.Close(); err != nil {
			t.Errorf("close demo: %v", err)
		}
	})
	return env
}

// signIn opens the console link as a customer who is not signed in and
// completes the login form; it returns the page that follows.
func signIn(t *testing.T, b *browser, env *demo.Env, password string) *page {
	t.Helper()
	portal := b.get(env.PortalURL)
	login := b.submit(portal, portal.form(t, "/console"))
	if login.URL.Path != "/login" || login.Status != 200 {
		t.Fatalf("console link without a session should show the login page, got %d %s", login.Status, login.URL)
	}
	f := login.form(t, "/login")
	f.Fields.Set("username", env.Username)
	f.Fields.Set("password", password)
	return b.submit(login, f)
}

// samlResponse extracts and verifies the Response on an auto-POST page with
// every independent verifier: the profile checker, xmlsec1 and crewjam/saml.
func samlResponse(t *testing.T, env *demo.Env, p *page) (xml []byte, res *check.Result) {
	t.Helper()
	if p.Status != 200 {
		t.Fatalf("expected the auto-POST page, got %d at %s:\n%s", p.Status, p.URL, p.Body)
	}
	f := p.form(t, "/authui/saml/SAMLAssertionConsumer")
	csp := p.Header.Get("Content-Security-Policy")
	if !strings.Contains(csp, "form-action "+env.IAMURL) || !strings.Contains(csp, "script-src 'nonce-") {
		t.Errorf("auto-POST page CSP = %q", csp)
	}
	if p.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("auto-POST page Cache-Control = %q", p.Header.Get("Cache-Control"))
	}
	if !strings.Contains(p.Body, `<button type="submit">`) {
		t.Error("auto-POST page has no visible submit button for browsers without JavaScript")
	}
	xml, err := base64.StdEncoding.DecodeString(f.Fields.Get("SAMLResponse"))
	if err != nil {
		t.Fatal(err)
	}
	cert := env.IdP.Cert
	res = check.Response(xml, check.Expect{IdPCerts: []*x509.Certificate{cert}, IdPEntityID: env.IdP.Config.EntityID,
		Destination: env.IAM.ACSURL(), Audience: env.IAM.EntityID(), BpID: env.IdP.Config.BpID})
	if !res.OK {
		t.Fatalf("profile check failed: %v\n%s", res.Findings, xml)
	}
	xmlsectest.Verify(t, xml, cert)

	// crewjam/saml as an independent SP library.
	idpMeta, err := samlsp.ParseMetadata(env.IdP.Server.IdP().Metadata())
	if err != nil {
		t.Fatal(err)
	}
	acs, _ := url.Parse(env.IAM.ACSURL())
	sp := saml.ServiceProvider{EntityID: env.IAM.EntityID(), AcsURL: *acs, IDPMetadata: idpMeta}
	assertion, err := sp.ParseXMLResponse(xml, []string{res.InResponseTo}, *acs)
	if err != nil {
		var ire *saml.InvalidResponseError
		if errors.As(err, &ire) {
			err = ire.PrivateErr
		}
		t.Fatalf("crewjam/saml refuses the Response: %v", err)
	}
	got := map[string]string{}
	for _, st := range assertion.AttributeStatements {
		for _, a := range st.Attributes {
			got[a.Name] = a.Values[0].Value
		}
	}
	if got["xAccountId"] != env.Username || got["xUserId"] != env.Username || got["bpId"] != env.IdP.Config.BpID {
		t.Errorf("crewjam/saml read attributes %v", got)
	}
	return xml, res
}

func TestFirstLoginBindThenConsoleThenSecondSSOWithoutPassword(t *testing.T) {
	env := startDemo(t, 4096) // Huawei's SP key size
	b := newBrowser(t)
	ctx := context.Background()

	// First login: no binding yet, so the link says isFirstLogin=true.
	post := signIn(t, b, env, "correct horse battery")
	_, res := samlResponse(t, env, post)
	if res.Attributes["email"] != "demo.customer@example.com" || res.Attributes["name"] != "demo_customer" {
		t.Errorf("optional attributes: %v", res.Attributes)
	}
	bindPage := b.submit(post, post.form(t, "/authui/saml/SAMLAssertionConsumer"))
	if bindPage.Status != 200 || !strings.Contains(bindPage.Body, "Create and bind") {
		t.Fatalf("the mock IAM should show the create-and-bind page, got %d:\n%s", bindPage.Status, bindPage.Body)
	}
	// "Create and bind": the mock posts the notification to the IdP (a
	// form the browser submits), the IdP answers 303 to its result page,
	// which continues to the console the portal's link asked for.
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	console := b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind"))
	if console.Status != 200 || console.URL.Path != "/console" || !strings.Contains(console.Body, env.Username) {
		t.Fatalf("after binding, the customer should land on the console, got %d %s:\n%s", console.Status, console.URL, console.Body)
	}
	bnd, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn")
	if err != nil || bnd.DomainID == "" || bnd.Source != storage.SourceNotification || bnd.Convention != "value" {
		t.Fatalf("binding not recorded: %+v %v", bnd, err)
	}

	// Second time: bound, so isFirstLogin=false, and no password asked.
	resp := b.noRedirect(env.IdPURL + "/console?site=cn")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || loc.Query().Get("isFirstLogin") != "false" || loc.Query().Get("xAccountType") != env.XAccountType {
		t.Fatalf("console link = %d %s", resp.StatusCode, loc)
	}
	portal := b.get(env.PortalURL)
	post2 := b.submit(portal, portal.form(t, "/console"))
	if strings.Contains(post2.Body, `name="password"`) {
		t.Fatal("second SSO asked for the password again")
	}
	samlResponse(t, env, post2)
	console2 := b.submit(post2, post2.form(t, "/authui/saml/SAMLAssertionConsumer"))
	if console2.URL.Path != "/console" || !strings.Contains(console2.Body, env.Username) {
		t.Fatalf("second SSO should land directly on the console, got %s:\n%s", console2.URL, console2.Body)
	}

	events, err := env.IdP.Store.ListAudit(ctx, storage.AuditFilter{XAccountID: env.Username})
	if err != nil {
		t.Fatal(err)
	}
	kinds := []string{}
	for _, e := range events {
		kinds = append(kinds, e.Kind)
	}
	if strings.Join(kinds, ",") != "login,response,bind,response" {
		t.Errorf("audit log = %v, want login,response,bind,response", kinds)
	}
}

func TestFirstLoginLinkSaysFirstLogin(t *testing.T) {
	env := startDemo(t, 2048)
	b := newBrowser(t)
	signIn(t, b, env, "correct horse battery")
	resp := b.noRedirect(env.IdPURL + "/console?site=cn&service=" + url.QueryEscape(env.IAMURL+"/console/ecs"))
	loc, _ := url.Parse(resp.Header.Get("Location"))
	q := loc.Query()
	if resp.StatusCode != 302 || loc.Path != "/authui/saml/login" || q.Get("isFirstLogin") != "true" ||
		q.Get("service") != env.IAMURL+"/console/ecs" {
		t.Fatalf("console link = %d %s", resp.StatusCode, loc)
	}
	// A service URL outside the site's console is refused.
	resp = b.noRedirect(env.IdPURL + "/console?site=cn&service=" + url.QueryEscape("https://evil.example/"))
	if resp.StatusCode != 400 {
		t.Fatalf("foreign service URL: status %d, want 400", resp.StatusCode)
	}
}

func TestWrongPasswordIssuesNothing(t *testing.T) {
	env := startDemo(t, 2048)
	b := newBrowser(t)
	p := signIn(t, b, env, "wrong password!")
	if p.Status != 401 || !strings.Contains(p.Body, "incorrect") || strings.Contains(p.Body, "SAMLResponse") {
		t.Fatalf("wrong password: %d\n%s", p.Status, p.Body)
	}
	// Nothing but the failed attempt itself: the account tried, the
	// client, the outcome; no Response, no binding.
	events, _ := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{})
	if len(events) != 1 || events[0].Kind != "login" || events[0].Outcome != "failure" || events[0].XAccountID != env.Username ||
		events[0].ClientAddr == "" || !strings.Contains(events[0].Detail, "method=password") {
		t.Fatalf("audit rows written for a failed login: %v", events)
	}
}

// signedInBrowser returns a browser with an IdP session for the demo customer.
func signedInBrowser(t *testing.T, env *demo.Env) *browser {
	b := newBrowser(t)
	passwordLogin(t, b, env.IdPURL, env.Username, "correct horse battery")
	return b
}

// passwordLogin signs user in on the login form of the IdP at base with
// browser b, and fails the test unless the login is accepted.
func passwordLogin(t *testing.T, b *browser, base, user, password string) {
	t.Helper()
	p := b.get(base + "/login")
	f := p.form(t, "/login")
	f.Fields.Set("username", user)
	f.Fields.Set("password", password)
	if got := b.submit(p, f); got.Status != 200 {
		t.Fatalf("login of %s on %s: %d\n%s", user, base, got.Status, got.Body)
	}
}

func auditCount(t *testing.T, env *demo.Env) int {
	events, err := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return len(events)
}

func TestReplayedRequestRefused(t *testing.T) {
	env := startDemo(t, 2048)
	b := signedInBrowser(t, env)
	u, _, err := env.IAM.NewAuthnRequestURL(mockiam.RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	samlResponse(t, env, b.get(u))
	before := auditCount(t, env)
	again := b.get(u)
	if again.Status != 400 || !strings.Contains(again.Body, "request.replayed") || strings.Contains(again.Body, "SAMLResponse") {
		t.Fatalf("replayed request: %d\n%s", again.Status, again.Body)
	}
	if auditCount(t, env) != before {
		t.Fatal("a replayed request wrote an audit row")
	}
}

func TestForgedSignatureRefused(t *testing.T) {
	env := startDemo(t, 2048)
	b := signedInBrowser(t, env)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	for name, opts := range map[string]mockiam.RequestOptions{
		"another key": {ID: "_forged1", SignWith: other},
		"unsigned":    {ID: "_forged2", Unsigned: true},
	} {
		u, _, err := env.IAM.NewAuthnRequestURL(opts)
		if err != nil {
			t.Fatal(err)
		}
		p := b.get(u)
		if p.Status != 403 || strings.Contains(p.Body, "SAMLResponse") {
			t.Errorf("%s: status %d, want 403 and no Response", name, p.Status)
		}
	}
	// Nothing was written: the same IDs, properly signed, are still fresh.
	u, _, err := env.IAM.NewAuthnRequestURL(mockiam.RequestOptions{ID: "_forged1"})
	if err != nil {
		t.Fatal(err)
	}
	samlResponse(t, env, b.get(u))
}
