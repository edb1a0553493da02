package e2e

// The bind-result notification over real HTTP (docs/profile.md §4): the
// mock IAM sends it as Huawei documents it (an auto-submitting form POST),
// or by GET, signed over either convention; unbind and bind again; the
// rebind; and every refusal, with nothing written.

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hcidp/demo"
	"hcidp/mockiam"
	"hcidp/storage"
)

// startDemoWith runs the demo with the mock IAM configured by iam.
func startDemoWith(t *testing.T, iam func(*mockiam.Config)) *demo.Env {
	t.Helper()
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: 2048,
		Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), IAM: iam,
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

// toBindPage signs in through the portal's console link and returns the
// mock IAM's "Create and bind" page (an assertion was issued for cn).
func toBindPage(t *testing.T, b *browser, env *demo.Env) *page {
	t.Helper()
	post := signIn(t, b, env, "correct horse battery")
	bindPage := b.submit(post, post.form(t, "/authui/saml/SAMLAssertionConsumer"))
	if !strings.Contains(bindPage.Body, "Create and bind") {
		t.Fatalf("the mock IAM should offer to bind, got %d %s:\n%s", bindPage.Status, bindPage.URL, bindPage.Body)
	}
	return bindPage
}

// lastEvent returns the customer's newest bind event.
func lastEvent(t *testing.T, env *demo.Env, customer string) storage.BindEvent {
	t.Helper()
	es, err := env.IdP.Store.ListBindEvents(context.Background(), customer, 1)
	if err != nil || len(es) != 1 {
		t.Fatalf("ListBindEvents(%s) = %v, %v", customer, es, err)
	}
	return es[0]
}

// firstLoginFlag returns isFirstLogin of the console link for b's customer.
func firstLoginFlag(t *testing.T, b *browser, env *demo.Env) string {
	t.Helper()
	resp := b.noRedirect(env.IdPURL + "/console?site=cn")
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("console link: %d", resp.StatusCode)
	}
	return loc.Query().Get("isFirstLogin")
}

// TestBindNotificationConventionsAndMethods: the documented POST, and GET,
// each signed over convention (a) the bindRequest value and (b) the
// redirect octets; the customer lands on the console and the binding
// records which convention verified.
func TestBindNotificationConventionsAndMethods(t *testing.T) {
	for _, tc := range []struct {
		name       string
		convention string
		get        bool
	}{
		{"POST, signature over the bindRequest value", mockiam.ConventionValue, false},
		{"POST, signature over the redirect octets", mockiam.ConventionQuery, false},
		{"GET, signature over the bindRequest value", mockiam.ConventionValue, true},
		{"GET, signature over the redirect octets", mockiam.ConventionQuery, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := startDemoWith(t, func(c *mockiam.Config) { c.BindConvention, c.BindByGET = tc.convention, tc.get })
			b := newBrowser(t)
			bindPage := toBindPage(t, b, env)
			console := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
			if !tc.get { // the auto-submitting notification page; its button
				if !strings.Contains(console.Body, `<button type="submit">`) {
					t.Errorf("the notification page has no visible button:\n%s", console.Body)
				}
				console = b.submit(console, console.form(t, env.IdPURL+"/saml/bind"))
			}
			if console.Status != 200 || console.URL.Host != mustURL(env.IAMURL).Host || console.URL.Path != "/console" {
				t.Fatalf("the customer should land on the console, got %d %s:\n%s", console.Status, console.URL, console.Body)
			}
			bnd, err := env.IdP.Store.GetBinding(context.Background(), env.Username, "cn")
			if err != nil || bnd.Convention != tc.convention || bnd.Source != storage.SourceNotification || bnd.DomainID != env.IAM.Bindings()[env.Username] {
				t.Fatalf("binding = %+v, %v; want the mock's account, by convention %s", bnd, err, tc.convention)
			}
			if ev := lastEvent(t, env, env.Username); ev.Outcome != storage.BindOutcomeBound || ev.Convention != tc.convention || ev.ID != bnd.EventID {
				t.Errorf("event = %+v", ev)
			}
			if got := firstLoginFlag(t, b, env); got != "false" {
				t.Errorf("isFirstLogin after the bind = %s", got)
			}
		})
	}
}

// TestUnbindThenBindAgainWithTheSameDocument: the console's Unbind sends
// bindAction "1"; the binding is gone and isFirstLogin is true again; the
// first bind notification, sent again byte for byte, binds again, because
// applying is idempotent by state, not by document.
func TestUnbindThenBindAgainWithTheSameDocument(t *testing.T) {
	env := startDemoWith(t, nil)
	b := newBrowser(t)
	ctx := context.Background()
	bindPage := toBindPage(t, b, env)
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	firstBind := notify.form(t, env.IdPURL+"/saml/bind")
	console := b.submit(notify, firstBind)
	if console.URL.Path != "/console" {
		t.Fatalf("after the bind: %d %s", console.Status, console.URL)
	}
	bound := lastEvent(t, env, env.Username)

	unbindNotify := b.submit(console, console.form(t, "/authui/saml/unbind"))
	result := b.submit(unbindNotify, unbindNotify.form(t, env.IdPURL+"/saml/bind"))
	if result.Status != 200 || result.URL.Path != "/saml/bind/result" || !strings.Contains(result.Body, "<h1>Huawei Cloud account unbound</h1>") {
		t.Fatalf("unbind result page: %d %s\n%s", result.Status, result.URL, result.Body)
	}
	if _, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("binding after the unbind: %v", err)
	}
	unbound := lastEvent(t, env, env.Username)
	if unbound.Action != storage.BindActionUnbind || unbound.Outcome != storage.BindOutcomeUnbound || unbound.DomainID != bound.DomainID {
		t.Errorf("unbind event = %+v", unbound)
	}
	if got := firstLoginFlag(t, b, env); got != "true" {
		t.Errorf("isFirstLogin after the unbind = %s, want true", got)
	}

	// The first notification again, byte for byte (same JSON, same signature).
	again := b.submit(notify, firstBind)
	if again.URL.Path != "/console" {
		t.Fatalf("bind again: %d %s\n%s", again.Status, again.URL, again.Body)
	}
	rebound := lastEvent(t, env, env.Username)
	if rebound.Outcome != storage.BindOutcomeBound || rebound.DocumentHash != bound.DocumentHash || rebound.ID == bound.ID {
		t.Errorf("bind again: event %+v, first %+v", rebound, bound)
	}
	if bnd, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); err != nil || bnd.DomainID != bound.DomainID || bnd.EventID != rebound.ID {
		t.Errorf("binding after binding again = %+v, %v", bnd, err)
	}
	if got := firstLoginFlag(t, b, env); got != "false" {
		t.Errorf("isFirstLogin after binding again = %s", got)
	}
	var kinds []string
	events, _ := env.IdP.Store.ListAudit(ctx, storage.AuditFilter{XAccountID: env.Username})
	for _, e := range events {
		kinds = append(kinds, e.Kind+":"+e.Outcome)
	}
	if got := strings.Join(kinds, ","); got != "login:success,response:issued,bind:bound,bind:unbound,bind:bound" {
		t.Errorf("audit log = %s", got)
	}
}

// TestRebindIsRecordedWithBothAccounts: a customer bound (through the API)
// to one account binds another on Huawei's page: the binding follows, the
// event and the audit row name both accounts.
func TestRebindIsRecordedWithBothAccounts(t *testing.T) {
	env := startDemoWith(t, nil)
	ctx := context.Background()
	if err := env.IdP.Store.PutBinding(ctx, storage.Binding{XAccountID: env.Username, Site: "cn", DomainID: "old0123456789",
		DomainName: "hw_old", Source: storage.SourceAPI, BoundAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	bindPage := toBindPage(t, b, env) // the mock knows no binding: it offers one
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	if console := b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind")); console.URL.Path != "/console" {
		t.Fatalf("after the rebind: %d %s", console.Status, console.URL)
	}
	ev := lastEvent(t, env, env.Username)
	newID := env.IAM.Bindings()[env.Username]
	if ev.Outcome != storage.BindOutcomeRebound || ev.PreviousDomainID != "old0123456789" || ev.DomainID != newID {
		t.Errorf("event = %+v", ev)
	}
	if bnd, _ := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); bnd.DomainID != newID || bnd.Source != storage.SourceNotification {
		t.Errorf("binding = %+v", bnd)
	}
	audit, _ := env.IdP.Store.ListAudit(ctx, storage.AuditFilter{XAccountID: env.Username})
	last := audit[len(audit)-1]
	if last.Kind != "bind" || last.Outcome != storage.BindOutcomeRebound || !strings.Contains(last.Detail, "domain_id="+newID) ||
		!strings.Contains(last.Detail, "old_domain_id=old0123456789 old_domain_name=hw_old") {
		t.Errorf("audit row = %+v", last)
	}
}

// idpRows is what a notification may write, for "nothing written".
type idpRows struct {
	audit, events int
	binding       storage.Binding
}

func rowsOf(t *testing.T, env *demo.Env, customers ...string) idpRows {
	t.Helper()
	ctx := context.Background()
	all, err := env.IdP.Store.ListAudit(ctx, storage.AuditFilter{})
	if err != nil {
		t.Fatal(err)
	}
	r := idpRows{audit: len(all)}
	for _, c := range customers {
		es, err := env.IdP.Store.ListBindEvents(ctx, c, 0)
		if err != nil {
			t.Fatal(err)
		}
		r.events += len(es)
	}
	r.binding, _ = env.IdP.Store.GetBinding(ctx, customers[0], "cn")
	return r
}

// TestBindRefusalsWriteNothing: every kind of bad notification, sent over
// real HTTP as a browser would carry it, gets a 4xx and a clear page with
// its reason, never a 5xx, and writes nothing: no event, no audit row, no
// change to the binding.
func TestBindRefusalsWriteNothing(t *testing.T) {
	env := startDemoWith(t, nil)
	ctx := context.Background()
	if err := env.IdP.Store.CreateCustomer(ctx, storage.Customer{XAccountID: "other-customer", CreatedAt: time.Now(), UpdatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	bindPage := toBindPage(t, b, env)
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind")) // bound: refusals must not change it
	bound, err := env.IdP.Store.GetBinding(ctx, env.Username, "cn")
	if err != nil {
		t.Fatal(err)
	}

	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	doc := func(fields map[string]any) []byte {
		d := map[string]any{"domainName": "hw_new", "domainId": "new0123456789", "xUserId": env.Username, "bindAction": "0"}
		for k, v := range fields {
			if v == nil {
				delete(d, k)
			} else {
				d[k] = v
			}
		}
		raw, _ := json.Marshal(d)
		return raw
	}
	sign := func(raw []byte, key *rsa.PrivateKey) mockiam.Notification {
		n, err := env.IAM.SignNotification(raw, key, "")
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	genuine := sign(doc(nil), nil)
	swapped := sign(doc(map[string]any{"domainId": "attacker-account"}), nil)
	swapped.BindRequest = genuine.BindRequest
	oversized := genuine.Values()
	oversized.Set("padding", strings.Repeat("p", 17<<10))
	unsigned := url.Values{"bindRequest": {genuine.BindRequest}}

	signedIn := b // the demo customer's session
	anonymous := newBrowser(t)
	for _, tc := range []struct {
		name   string
		b      *browser
		method string
		form   url.Values
		status int
		reason string
	}{
		{"forged with another key", anonymous, "POST", sign(doc(nil), other).Values(), 403, "signature.invalid"},
		{"swapped: a genuine signature of another document", anonymous, "POST", swapped.Values(), 403, "signature.invalid"},
		{"unsigned", anonymous, "POST", unsigned, 403, "signature.missing"},
		{"oversized", anonymous, "POST", oversized, 413, "bind.body_too_large"},
		{"malformed JSON", anonymous, "POST", sign([]byte(`{"xUserId":"`+env.Username+`",`), nil).Values(), 400, "bind.json"},
		{"duplicate key", anonymous, "POST", sign([]byte(`{"domainId":"new0123456789","xUserId":"`+env.Username+`","xUserId":"other-customer"}`), nil).Values(), 400, "bind.duplicate_key"},
		{"unknown customer", anonymous, "POST", sign(doc(map[string]any{"xUserId": "nobody"}), nil).Values(), 400, "bind.unknown_customer"},
		{"out of context: no recent SSO", anonymous, "POST", sign(doc(map[string]any{"xUserId": "other-customer"}), nil).Values(), 403, "bind.no_recent_sso"},
		{"unbind of another account", anonymous, "POST", sign(doc(map[string]any{"domainId": "someone-else", "bindAction": "1"}), nil).Values(), 409, "bind.other_account"},
		{"bad bindAction", anonymous, "POST", sign(doc(map[string]any{"bindAction": "7"}), nil).Values(), 400, "bind.action"},
		{"replayed into another customer's session", signedIn, "GET", sign(doc(map[string]any{"xUserId": "other-customer"}), nil).Values(), 403, "bind.session_mismatch"},
		{"wrong method", anonymous, "PUT", genuine.Values(), 405, "bind.method"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := rowsOf(t, env, env.Username, "other-customer")
			var req *http.Request
			if tc.method == "GET" {
				req, _ = http.NewRequest("GET", env.IdPURL+"/saml/bind?"+tc.form.Encode(), nil)
			} else {
				req, _ = http.NewRequest(tc.method, env.IdPURL+"/saml/bind", strings.NewReader(tc.form.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.Header.Set("Origin", env.IAMURL)
			}
			p := tc.b.do(req)
			if p.Status != tc.status || !strings.Contains(p.Body, tc.reason) ||
				!strings.Contains(p.Body, "notification about your account binding was refused, and nothing was changed") {
				t.Fatalf("status %d, want %d %s and the clear page:\n%s", p.Status, tc.status, tc.reason, p.Body)
			}
			if after := rowsOf(t, env, env.Username, "other-customer"); after != before {
				t.Fatalf("a refused notification wrote: before %+v, after %+v", before, after)
			}
		})
	}
	if bnd, _ := env.IdP.Store.GetBinding(ctx, env.Username, "cn"); bnd != bound {
		t.Errorf("the binding changed: %+v, was %+v", bnd, bound)
	}

	// The page is in the customer's language.
	req, _ := http.NewRequest("POST", env.IdPURL+"/saml/bind", strings.NewReader(unsigned.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept-Language", "zh-CN,zh;q=0.9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(body), "华为云关于账号绑定的通知被拒绝") {
		t.Errorf("Chinese refusal page: %d\n%s", resp.StatusCode, body)
	}
}

// TestDemoRestartKeepsBindings: the demo restarted on its data directory
// agrees with itself: the mock IAM remembers the binding (its state file)
// as the IdP's database does, so the second "Open console" goes straight
// to the console.
func TestDemoRestartKeepsBindings(t *testing.T) {
	dir := t.TempDir()
	start := func() *demo.Env {
		env, err := demo.Start(context.Background(), demo.Options{DataDir: dir, IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0",
			IAMKeyBits: 2048, Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
		if err != nil {
			t.Fatal(err)
		}
		return env
	}
	env := start()
	b := newBrowser(t)
	bindPage := toBindPage(t, b, env)
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	if console := b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind")); console.URL.Path != "/console" {
		t.Fatalf("bind: %d %s", console.Status, console.URL)
	}
	bound := env.IAM.Bindings()
	if err := env.Close(); err != nil {
		t.Fatal(err)
	}

	env = start()
	t.Cleanup(func() { env.Close() })
	if got := env.IAM.Bindings(); len(got) != 1 || got[env.Username] != bound[env.Username] {
		t.Fatalf("the mock IAM after a restart knows %v, want %v", got, bound)
	}
	b = newBrowser(t)
	post := signIn(t, b, env, "correct horse battery")
	console := b.submit(post, post.form(t, "/authui/saml/SAMLAssertionConsumer"))
	if console.URL.Path != "/console" || strings.Contains(console.Body, "Create and bind") {
		t.Fatalf("after a restart the bound customer should go straight to the console, got %d %s:\n%s", console.Status, console.URL, console.Body)
	}
	if got := firstLoginFlag(t, b, env); got != "false" {
		t.Errorf("isFirstLogin after a restart = %s", got)
	}
}
