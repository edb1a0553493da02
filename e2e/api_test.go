package e2e

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"hcidp/config"
	"hcidp/demo"
	"hcidp/storage"
)

const testAPIKey = "test-api-key-0123456789abcdefghijklmnop"

// startAPIDemo runs the demo with the portal API enabled (key testAPIKey,
// or none when key is "").
func startAPIDemo(t *testing.T, key string) *demo.Env {
	t.Helper()
	env, err := demo.Start(context.Background(), demo.Options{
		DataDir: t.TempDir(), IdPAddr: "127.0.0.1:0", IAMAddr: "127.0.0.1:0", IAMKeyBits: 2048,
		Password: "correct horse battery", Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Config: func(c *config.Config) { c.APIKey = key },
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

// apiResult is one API response.
type apiResult struct {
	Status int
	Header http.Header
	Raw    string
	JSON   map[string]any
}

func (r *apiResult) str(key string) string { s, _ := r.JSON[key].(string); return s }

// apiCall sends body (marshalled unless it is a string) with the API key
// (when key is not "") and decodes the JSON answer.
func apiCall(t *testing.T, env *demo.Env, key, method, path string, body any) *apiResult {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, env.IdPURL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	res := &apiResult{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("%s %s: Content-Type %q, want application/json (status %d):\n%s", method, path, ct, resp.StatusCode, raw)
	}
	if err := json.Unmarshal(raw, &res.JSON); err != nil {
		t.Fatalf("%s %s: answer is not a JSON object: %v\n%s", method, path, err, raw)
	}
	return res
}

// wantAPI fails unless res has the status and, for errors, the error code.
func wantAPI(t *testing.T, what string, res *apiResult, status int, code string) {
	t.Helper()
	if res.Status != status || res.str("error") != code {
		t.Fatalf("%s: %d %q, want %d %q:\n%s", what, res.Status, res.str("error"), status, code, res.Raw)
	}
	if code != "" && res.str("message") == "" {
		t.Errorf("%s: error without a message: %s", what, res.Raw)
	}
}

func auditKinds(t *testing.T, env *demo.Env, id string) []string {
	t.Helper()
	events, err := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{XAccountID: id})
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, e := range events {
		if e.Kind == "login" { // sign-ins are audited too; their tests check them
			continue
		}
		kinds = append(kinds, e.Kind+":"+e.Detail)
	}
	return kinds
}

func TestAPIDisabledWithoutKey(t *testing.T) {
	env := startAPIDemo(t, "")
	for _, key := range []string{"", testAPIKey} {
		res := apiCall(t, env, key, "GET", "/api/v1/customers/"+env.Username, nil)
		wantAPI(t, "API without a configured key", res, 404, "api_disabled")
		res = apiCall(t, env, key, "PUT", "/api/v1/customers/new-1", map[string]any{"display_name": "x"})
		wantAPI(t, "PUT without a configured key", res, 404, "api_disabled")
	}
	if _, err := env.IdP.Store.GetCustomer(context.Background(), "new-1"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a disabled API wrote a customer: %v", err)
	}
}

func TestAPIAuthentication(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	wrongSameLength := strings.Repeat("x", len(testAPIKey))
	headers := map[string]string{
		"missing":           "",
		"wrong key":         "Bearer " + wrongSameLength,
		"wrong length":      "Bearer " + testAPIKey[:len(testAPIKey)-1],
		"key with a suffix": "Bearer " + testAPIKey + "x",
		"basic scheme":      "Basic " + testAPIKey,
		"no scheme":         testAPIKey,
	}
	for name, h := range headers {
		t.Run(name, func(t *testing.T) {
			for _, call := range []struct{ method, path string }{
				{"PUT", "/api/v1/customers/intruder"},
				{"GET", "/api/v1/customers/" + env.Username},
				{"POST", "/api/v1/launch"},
				{"GET", "/api/v1/no-such-endpoint"},
			} {
				req, _ := http.NewRequest(call.method, env.IdPURL+call.path, strings.NewReader(`{"display_name":"x","xaccount_id":"intruder","site":"cn"}`))
				req.Header.Set("Content-Type", "application/json")
				if h != "" {
					req.Header.Set("Authorization", h)
				}
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 401 || !strings.HasPrefix(resp.Header.Get("WWW-Authenticate"), "Bearer") ||
					!strings.Contains(string(body), `"error":"unauthorized"`) {
					t.Errorf("%s %s: %d WWW-Authenticate=%q %s", call.method, call.path, resp.StatusCode, resp.Header.Get("WWW-Authenticate"), body)
				}
				if strings.Contains(string(body), env.Username) {
					t.Errorf("%s %s: unauthenticated answer leaks customer data: %s", call.method, call.path, body)
				}
			}
		})
	}
	if _, err := env.IdP.Store.GetCustomer(context.Background(), "intruder"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("an unauthenticated PUT wrote a customer: %v", err)
	}
	if n := auditCount(t, env); n != 0 {
		t.Fatalf("unauthenticated requests wrote %d audit rows", n)
	}
}

func TestAPICustomerUpsert(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	ctx := context.Background()
	call := func(method, path string, body any) *apiResult {
		t.Helper()
		return apiCall(t, env, testAPIKey, method, path, body)
	}

	res := call("PUT", "/api/v1/customers/portal-42", map[string]any{
		"display_name": "Portal Customer", "email": "p42@example.com", "name": "portal_42",
		"mobile": "+86 138 0000 0000", "password": "a long enough password"})
	wantAPI(t, "create", res, 201, "")
	if res.str("xaccount_id") != "portal-42" || res.str("email") != "p42@example.com" || res.JSON["has_password"] != true ||
		res.JSON["disabled"] != false || res.Header.Get("Location") != "/api/v1/customers/portal-42" {
		t.Errorf("created customer = %s (Location %q)", res.Raw, res.Header.Get("Location"))
	}
	if strings.Contains(res.Raw, "argon2") || strings.Contains(res.Raw, `"password":`) || strings.Contains(res.Raw, "hash") || strings.Contains(res.Raw, "a long enough") {
		t.Errorf("the answer shows the password or its hash: %s", res.Raw)
	}
	if res.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control = %q", res.Header.Get("Cache-Control"))
	}

	// The password set through the API works on the login form.
	passwordLogin(t, newBrowser(t), env.IdPURL, "portal-42", "a long enough password")

	// Update: attributes replaced, password kept, state set.
	res = call("PUT", "/api/v1/customers/portal-42", map[string]any{"display_name": "Renamed", "email": "p42-new@example.com", "disabled": true})
	wantAPI(t, "update", res, 200, "")
	got, err := env.IdP.Store.GetCustomer(ctx, "portal-42")
	if err != nil || got.DisplayName != "Renamed" || got.Email != "p42-new@example.com" || got.Name != "" || !got.Disabled || got.PasswordHash == "" {
		t.Fatalf("after update: %+v %v", got, err)
	}
	if res.Header.Get("Location") != "" {
		t.Error("an update answered with a Location header")
	}

	// Refused writes change nothing.
	for name, tt := range map[string]struct {
		body   any
		status int
		code   string
	}{
		"invalid email":      {map[string]any{"email": "not an address"}, 400, "invalid_customer"},
		"invalid name":       {map[string]any{"name": "1abc"}, 400, "invalid_customer"},
		"short password":     {map[string]any{"password": "short"}, 400, "invalid_customer"},
		"control characters": {map[string]any{"display_name": "a\u0000b"}, 400, "invalid_customer"},
		"email taken":        {map[string]any{"email": "demo.customer@example.com"}, 409, "email_taken"},
		"unknown field":      {`{"display_name":"x","admin":true}`, 400, "invalid_json"},
		"two objects":        {`{"display_name":"x"}{}`, 400, "invalid_json"},
		"not JSON":           {`display_name=x`, 400, "invalid_json"},
		"too large":          {`{"display_name":"` + strings.Repeat("x", 17<<10) + `"}`, 413, "too_large"},
	} {
		for _, id := range []string{"portal-42", "portal-new"} {
			res := call("PUT", "/api/v1/customers/"+id, tt.body)
			wantAPI(t, name+" ("+id+")", res, tt.status, tt.code)
		}
	}
	if _, err := env.IdP.Store.GetCustomer(ctx, "portal-new"); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("a refused PUT created a customer: %v", err)
	}
	if again, _ := env.IdP.Store.GetCustomer(ctx, "portal-42"); again != got {
		t.Fatalf("a refused PUT changed the customer:\n%+v\nwant %+v", again, got)
	}

	// Wrong media type.
	req, _ := http.NewRequest("PUT", env.IdPURL+"/api/v1/customers/portal-42", strings.NewReader(`{}`))
	req.Header.Set("Authorization", "Bearer "+testAPIKey)
	req.Header.Set("Content-Type", "text/plain")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 415 {
		t.Errorf("text/plain body: %d, want 415", resp.StatusCode)
	}

	// An invalid ID in the path.
	wantAPI(t, "ID with spaces around", call("PUT", "/api/v1/customers/%20x%20", map[string]any{}), 400, "invalid_customer")

	// Enable, disable, read.
	wantAPI(t, "enable", call("POST", "/api/v1/customers/portal-42/enable", nil), 200, "")
	res = call("GET", "/api/v1/customers/portal-42", nil)
	wantAPI(t, "get", res, 200, "")
	if res.JSON["disabled"] != false || res.str("display_name") != "Renamed" {
		t.Errorf("get after enable: %s", res.Raw)
	}
	res = call("POST", "/api/v1/customers/portal-42/disable", nil)
	if wantAPI(t, "disable", res, 200, ""); res.JSON["disabled"] != true {
		t.Errorf("disable answered %s", res.Raw)
	}
	wantAPI(t, "get unknown", call("GET", "/api/v1/customers/nobody", nil), 404, "customer_not_found")
	wantAPI(t, "disable unknown", call("POST", "/api/v1/customers/nobody/disable", nil), 404, "customer_not_found")
	wantAPI(t, "unknown endpoint", call("DELETE", "/api/v1/customers/portal-42", nil), 404, "not_found")

	want := "api:customer.put password=changed,api:customer.put disabled=true,api:customer.enable,api:customer.disable"
	if got := strings.Join(auditKinds(t, env, "portal-42"), ","); got != want {
		t.Errorf("audit = %s\nwant    %s", got, want)
	}
}

// An xAccountId with a slash and non-ASCII characters travels escaped in the path.
func TestAPIEscapedCustomerID(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	id := "tenant/42 Zoë"
	res := apiCall(t, env, testAPIKey, "PUT", "/api/v1/customers/"+url.PathEscape(id), map[string]any{"display_name": "x"})
	wantAPI(t, "create", res, 201, "")
	if res.str("xaccount_id") != id {
		t.Fatalf("xaccount_id = %q, want %q", res.str("xaccount_id"), id)
	}
	wantAPI(t, "get", apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+url.PathEscape(id), nil), 200, "")
}

func TestAPIBindingMakesConsoleLinkNotFirstLogin(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	b := signedInBrowser(t, env)
	firstLogin := func() string {
		resp := b.noRedirect(env.IdPURL + "/console?site=cn")
		loc, _ := url.Parse(resp.Header.Get("Location"))
		return loc.Query().Get("isFirstLogin")
	}
	if got := firstLogin(); got != "true" {
		t.Fatalf("before the binding, isFirstLogin = %q", got)
	}
	path := "/api/v1/customers/" + env.Username + "/bindings/cn"
	for name, tt := range map[string]struct {
		path   string
		body   any
		status int
		code   string
	}{
		"no domain_id":        {path, map[string]any{"domain_name": "hw_name"}, 400, "invalid_binding"},
		"long domain_id":      {path, map[string]any{"domain_id": strings.Repeat("a", 129)}, 400, "invalid_binding"},
		"control in id":       {path, map[string]any{"domain_id": "a\nb"}, 400, "invalid_binding"},
		"invalid domain_name": {path, map[string]any{"domain_id": "d1", "domain_name": "1bad"}, 400, "invalid_binding"},
		"unknown site":        {"/api/v1/customers/" + env.Username + "/bindings/mars", map[string]any{"domain_id": "d1"}, 400, "invalid_site"},
		"unknown customer":    {"/api/v1/customers/nobody/bindings/cn", map[string]any{"domain_id": "d1"}, 404, "customer_not_found"},
	} {
		wantAPI(t, name, apiCall(t, env, testAPIKey, "PUT", tt.path, tt.body), tt.status, tt.code)
	}
	if got := firstLogin(); got != "true" {
		t.Fatalf("refused bindings changed the link: isFirstLogin = %q", got)
	}

	res := apiCall(t, env, testAPIKey, "PUT", path, map[string]any{"domain_id": "0a1b2c3d4e5f", "domain_name": "hw_portal"})
	wantAPI(t, "record binding", res, 200, "")
	if res.str("source") != "api" || res.str("domain_id") != "0a1b2c3d4e5f" || res.str("site") != "cn" {
		t.Errorf("binding = %s", res.Raw)
	}
	if got := firstLogin(); got != "false" {
		t.Fatalf("after the binding, isFirstLogin = %q, want false", got)
	}
	res = apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+env.Username, nil)
	bs, _ := res.JSON["bindings"].([]any)
	if len(bs) != 1 || bs[0].(map[string]any)["domain_name"] != "hw_portal" {
		t.Errorf("customer bindings = %s", res.Raw)
	}
	if got := auditKinds(t, env, env.Username); len(got) != 1 || !strings.HasPrefix(got[0], "api:binding.put domain_id=0a1b2c3d4e5f") {
		t.Errorf("audit = %v", got)
	}
}

// mintLaunch asks for a launch URL and returns it.
func mintLaunch(t *testing.T, env *demo.Env, body map[string]any) string {
	t.Helper()
	res := apiCall(t, env, testAPIKey, "POST", "/api/v1/launch", body)
	wantAPI(t, "mint launch URL", res, 201, "")
	u := res.str("url")
	if !strings.HasPrefix(u, env.IdPURL+"/launch?token=") {
		t.Fatalf("launch URL = %q", u)
	}
	exp, err := time.Parse(time.RFC3339Nano, res.str("expires_at"))
	if left := time.Until(exp); err != nil || left < 50*time.Second || left > 61*time.Second {
		t.Fatalf("expires_at = %q (%v), want about 60 s from now", res.str("expires_at"), err)
	}
	return u
}

func TestLaunchURLSignsInOnce(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	ctx := context.Background()
	launch := mintLaunch(t, env, map[string]any{"xaccount_id": env.Username, "site": "cn"})
	tok, _ := url.Parse(launch)
	hash := sha256.Sum256([]byte(tok.Query().Get("token")))
	if _, err := env.IdP.Store.ConsumeLaunchToken(ctx, "not-"+hex.EncodeToString(hash[:]), time.Now()); !errors.Is(err, storage.ErrNotFound) {
		t.Fatal("sanity: a made-up hash was found")
	}

	// A fresh browser follows the URL: a page names the account; its
	// Continue button (POST /launch) -> /console -> mock IAM login -> IdP
	// SSO -> the auto-POST page, without any password.
	b := newBrowser(t)
	confirm := b.get(launch)
	if confirm.Status != 200 || !strings.Contains(confirm.Body, `id="launch-account"`) || !strings.Contains(confirm.Body, env.Username) ||
		strings.Contains(confirm.Body, `name="password"`) {
		t.Fatalf("launch confirmation page: %d\n%s", confirm.Status, confirm.Body)
	}
	post := b.submit(confirm, confirm.form(t, "/launch"))
	if strings.Contains(post.Body, `name="password"`) {
		t.Fatal("the launch URL led to the password form")
	}
	samlResponse(t, env, post) // xAccountId is the launched customer
	console := b.submit(post, post.form(t, "/authui/saml/SAMLAssertionConsumer"))
	if console.Status != 200 {
		t.Fatalf("mock IAM after the Response: %d", console.Status)
	}

	// The token works once: the page is refused, and so is a second POST of
	// the confirmation form.
	again := newBrowser(t).get(launch)
	if again.Status != 400 || !strings.Contains(again.Body, "launch.invalid") || strings.Contains(again.Body, "SAMLResponse") {
		t.Fatalf("second use: %d\n%s", again.Status, again.Body)
	}
	if p := b.submit(confirm, confirm.form(t, "/launch")); p.Status != 400 || !strings.Contains(p.Body, "launch.invalid") {
		t.Fatalf("second POST of the confirmation: %d", p.Status)
	}
	if got := strings.Join(auditKinds(t, env, env.Username), ","); got != "api:launch.mint,launch:,response:" {
		t.Errorf("audit = %s", got)
	}

	// Malformed and unknown tokens.
	for _, q := range []string{"", "?token=", "?token=abc", "?token=" + tok.Query().Get("token") + "&token=x",
		"?token=" + strings.Repeat("A", 43)} {
		p := newBrowser(t).get(env.IdPURL + "/launch" + q)
		if p.Status != 400 || !strings.Contains(p.Body, "launch.invalid") {
			t.Errorf("/launch%s: %d", q, p.Status)
		}
	}
	// HEAD (a link preview) does not spend a token.
	launch2 := mintLaunch(t, env, map[string]any{"xaccount_id": env.Username, "site": "cn"})
	resp, err := http.Head(launch2)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Errorf("HEAD /launch: %d, want 405", resp.StatusCode)
	}
	if p := newBrowser(t).get(launch2); p.Status != 200 || !strings.Contains(p.Body, `id="launch-continue"`) {
		t.Errorf("launch after HEAD: %d, want the confirmation page", p.Status)
	}
}

// GET /launch never signs in and never spends the token (docs/threat-model.md
// "Browser-facing pages": no silent identity switch): a launch URL that an
// attacker minted for their own account and makes a victim's browser open
// shows a page naming the attacker's account, and the victim stays who they
// were until they press Continue, which a cross-site page cannot do for them.
func TestLaunchURLNeverSignsInWithoutConfirmation(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	wantAPI(t, "create attacker", apiCall(t, env, testAPIKey, "PUT", "/api/v1/customers/attacker-1",
		map[string]any{"display_name": "Mallory Ltd"}), 201, "")
	launch := mintLaunch(t, env, map[string]any{"xaccount_id": "attacker-1", "site": "cn"})

	// The victim is signed in as themselves.
	victim := newBrowser(t)
	passwordLogin(t, victim, env.IdPURL, env.Username, env.Password)
	victimSession := sessionCookie(t, victim, env)

	page := victim.get(launch)
	if page.Status != 200 || !strings.Contains(page.Body, "Mallory Ltd") || !strings.Contains(page.Body, "attacker-1") ||
		!strings.Contains(page.Body, `id="launch-other"`) || !strings.Contains(page.Body, env.Username) {
		t.Fatalf("the page must name the launched account and the one signed in: %d\n%s", page.Status, page.Body)
	}
	if page.Header.Get("Referrer-Policy") != "no-referrer" || page.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("confirmation headers: Referrer-Policy %q, Cache-Control %q", page.Header.Get("Referrer-Policy"), page.Header.Get("Cache-Control"))
	}
	if got := sessionCookie(t, victim, env); got != victimSession {
		t.Error("GET /launch changed the session")
	}
	// Still the victim: the console link is built for them, and the token is unspent.
	if resp := victim.noRedirect(env.IdPURL + "/console?site=cn"); resp.StatusCode != 302 {
		t.Fatalf("console after GET /launch: %d", resp.StatusCode)
	}
	if kinds := auditKinds(t, env, "attacker-1"); strings.Contains(strings.Join(kinds, ","), "launch:") {
		t.Errorf("GET /launch wrote %v", kinds)
	}

	// A cross-site page cannot press Continue: without the CSRF cookie's
	// token, or from another origin, the POST is refused and spends nothing.
	token := mustURL(launch).Query().Get("token")
	for name, tt := range map[string]struct {
		form   url.Values
		origin string
		reason string
	}{
		"no CSRF token":    {url.Values{"token": {token}}, env.IdPURL, "launch.csrf"},
		"wrong CSRF token": {url.Values{"token": {token}, "csrf_token": {"forged"}}, env.IdPURL, "launch.csrf"},
		"other origin":     {url.Values{"token": {token}, "csrf_token": {page.form(t, "/launch").Fields.Get("csrf_token")}}, "https://evil.example", "launch.origin"},
	} {
		req, _ := http.NewRequest("POST", env.IdPURL+"/launch", strings.NewReader(tt.form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", tt.origin)
		p := victim.do(req)
		if p.Status != 403 || !strings.Contains(p.Body, tt.reason) {
			t.Errorf("%s: %d, want 403 %s", name, p.Status, tt.reason)
		}
	}
	if got := sessionCookie(t, victim, env); got != victimSession {
		t.Error("a refused POST /launch changed the session")
	}
	// The person presses Continue: now, and only now, the browser switches.
	post := victim.submit(page, page.form(t, "/launch"))
	if after := sessionCookie(t, victim, env); after == "" || after == victimSession {
		t.Errorf("Continue kept the session ID %q", after)
	}
	f2 := post.form(t, "/authui/saml/SAMLAssertionConsumer")
	xml, _ := base64.StdEncoding.DecodeString(f2.Fields.Get("SAMLResponse"))
	if !strings.Contains(string(xml), ">attacker-1<") {
		t.Errorf("after Continue the assertion is not for the launched account:\n%s", xml)
	}
}

// A browser already signed in as the launched customer skips the page.
func TestLaunchURLSkipsPageForSameCustomer(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	b := newBrowser(t)
	passwordLogin(t, b, env.IdPURL, env.Username, env.Password)
	before := sessionCookie(t, b, env)
	resp := b.noRedirect(mintLaunch(t, env, map[string]any{"xaccount_id": env.Username, "site": "cn"}))
	if resp.StatusCode != 303 || !strings.HasPrefix(resp.Header.Get("Location"), "/console?") {
		t.Fatalf("launch for the signed-in customer: %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
	if sessionCookie(t, b, env) != before {
		t.Error("the session changed although the customer did not")
	}
	events, err := env.IdP.Store.ListAudit(context.Background(), storage.AuditFilter{XAccountID: env.Username})
	if err != nil {
		t.Fatal(err)
	}
	if last := events[len(events)-1]; last.Kind != "launch" || last.Outcome != "continued" {
		t.Errorf("last audit row = %s/%s, want launch/continued", last.Kind, last.Outcome)
	}
}

func TestLaunchURLRedirectAndService(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	service := env.IAMURL + "/console/ecs"
	launch := mintLaunch(t, env, map[string]any{"xaccount_id": env.Username, "site": "cn", "service": service})
	b := newBrowser(t)
	confirm := b.get(launch)
	before := sessionCookie(t, b, env)
	cf := confirm.form(t, "/launch")
	req, _ := http.NewRequest("POST", env.IdPURL+"/launch", strings.NewReader(cf.Fields.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", env.IdPURL)
	nc := *b.client
	nc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := nc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if after := sessionCookie(t, b, env); after == "" || after == before {
		t.Errorf("the launch kept the session ID %q: session fixation", before)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 303 || loc.Path != "/console" || loc.Query().Get("site") != "cn" || loc.Query().Get("service") != service {
		t.Fatalf("/launch = %d %s", resp.StatusCode, loc)
	}
	if resp.Header.Get("Cache-Control") != "no-store" || resp.Header.Get("Referrer-Policy") != "no-referrer" {
		t.Errorf("/launch headers: Cache-Control %q, Referrer-Policy %q", resp.Header.Get("Cache-Control"), resp.Header.Get("Referrer-Policy"))
	}
	resp = b.noRedirect(env.IdPURL + loc.String())
	iam, _ := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != 302 || iam.Path != "/authui/saml/login" || iam.Query().Get("service") != service ||
		iam.Query().Get("isFirstLogin") != "true" {
		t.Fatalf("console link after launch = %d %s", resp.StatusCode, iam)
	}
}

func sessionCookie(t *testing.T, b *browser, env *demo.Env) string {
	t.Helper()
	u, _ := url.Parse(env.IdPURL)
	for _, c := range b.client.Jar.Cookies(u) {
		if c.Name == "hcidp_session" {
			return c.Value
		}
	}
	return ""
}

// A browser signed in as another customer is switched to the launched one.
func TestLaunchURLReplacesAnotherCustomersSession(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	wantAPI(t, "create", apiCall(t, env, testAPIKey, "PUT", "/api/v1/customers/other-1",
		map[string]any{"password": "other password 123"}), 201, "")
	b := newBrowser(t)
	passwordLogin(t, b, env.IdPURL, "other-1", "other password 123")

	confirm := b.get(mintLaunch(t, env, map[string]any{"xaccount_id": env.Username, "site": "cn"}))
	if !strings.Contains(confirm.Body, `id="launch-other"`) || !strings.Contains(confirm.Body, "other-1") {
		t.Fatalf("the confirmation page does not say who is signed in:\n%s", confirm.Body)
	}
	post := b.submit(confirm, confirm.form(t, "/launch"))
	samlResponse(t, env, post) // checks xAccountId is the launched customer, not other-1
}

// TestLaunchRefusals: a launch URL is not minted for a disabled or unknown
// customer, an unconfigured site or a foreign service, and a minted one
// stops working once its customer is disabled.
func TestLaunchRefusals(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	ctx := context.Background()
	mint := func(body map[string]any) *apiResult {
		return apiCall(t, env, testAPIKey, "POST", "/api/v1/launch", body)
	}
	wantAPI(t, "create", apiCall(t, env, testAPIKey, "PUT", "/api/v1/customers/c-1", map[string]any{}), 201, "")
	pending := mintLaunch(t, env, map[string]any{"xaccount_id": "c-1", "site": "cn"})
	wantAPI(t, "disable", apiCall(t, env, testAPIKey, "POST", "/api/v1/customers/c-1/disable", nil), 200, "")

	for name, tt := range map[string]struct {
		body   map[string]any
		status int
		code   string
	}{
		"disabled customer":     {map[string]any{"xaccount_id": "c-1", "site": "cn"}, 409, "customer_disabled"},
		"unknown customer":      {map[string]any{"xaccount_id": "nobody", "site": "cn"}, 404, "customer_not_found"},
		"no customer":           {map[string]any{"site": "cn"}, 400, "invalid_customer"},
		"site not configured":   {map[string]any{"xaccount_id": env.Username, "site": "intl"}, 400, "invalid_site"},
		"no site":               {map[string]any{"xaccount_id": env.Username}, 400, "invalid_site"},
		"foreign service":       {map[string]any{"xaccount_id": env.Username, "site": "cn", "service": "https://evil.example/"}, 400, "invalid_service"},
		"service with userinfo": {map[string]any{"xaccount_id": env.Username, "site": "cn", "service": strings.Replace(env.IAMURL, "://", "://u:p@", 1) + "/console/"}, 400, "invalid_service"},
		"unknown field":         {map[string]any{"xaccount_id": env.Username, "site": "cn", "ttl": 3600}, 400, "invalid_json"},
	} {
		wantAPI(t, name, mint(tt.body), tt.status, tt.code)
	}
	if got := auditKinds(t, env, env.Username); len(got) != 0 {
		t.Errorf("refused mints wrote audit rows: %v", got)
	}

	// A URL minted before the customer was disabled no longer signs in.
	if p := newBrowser(t).get(pending); p.Status != 400 || !strings.Contains(p.Body, "launch.invalid") {
		t.Errorf("launch of a disabled customer: %d", p.Status)
	}

	// An expired token (inserted with a past expiry) is refused and signs no one in.
	token := strings.Repeat("B", 43)
	hash := sha256.Sum256([]byte(token))
	past := time.Now().Add(-time.Second)
	if err := env.IdP.Store.CreateLaunchToken(ctx, storage.LaunchToken{Hash: hex.EncodeToString(hash[:]),
		XAccountID: env.Username, Site: "cn", Expires: past, Created: past.Add(-time.Minute)}); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	if p := b.get(env.IdPURL + "/launch?token=" + token); p.Status != 400 || !strings.Contains(p.Body, "launch.invalid") {
		t.Fatalf("expired token: %d", p.Status)
	}
	if p := b.get(env.IdPURL + "/console?site=cn"); p.URL.Path != "/login" {
		t.Errorf("after an expired launch the browser is signed in (landed on %s)", p.URL)
	}
	for _, k := range auditKinds(t, env, env.Username) {
		if strings.HasPrefix(k, "launch:") {
			t.Errorf("a refused launch wrote an audit row %q", k)
		}
	}
}

// TestAPIShowsNotificationBindingsAndEvents: after Huawei's notification,
// GET customer shows the binding with its source and convention, and the
// bind events listing shows each notification: action, convention, source,
// outcome and the document verbatim.
func TestAPIShowsNotificationBindingsAndEvents(t *testing.T) {
	env := startAPIDemo(t, testAPIKey)
	b := newBrowser(t)
	bindPage := toBindPage(t, b, env)
	notify := b.submit(bindPage, bindPage.form(t, "/authui/saml/bind"))
	console := b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind"))
	unbind := b.submit(console, console.form(t, "/authui/saml/unbind"))
	b.submit(unbind, unbind.form(t, env.IdPURL+"/saml/bind"))
	// Bound again, so the customer has a binding to show.
	b.submit(notify, notify.form(t, env.IdPURL+"/saml/bind"))

	res := apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+env.Username, nil)
	wantAPI(t, "get customer", res, 200, "")
	bs, _ := res.JSON["bindings"].([]any)
	if len(bs) != 1 {
		t.Fatalf("bindings = %s", res.Raw)
	}
	bnd := bs[0].(map[string]any)
	if bnd["source"] != "notification" || bnd["convention"] != "value" || bnd["event_id"] == "" || bnd["domain_id"] == "" {
		t.Errorf("binding = %v", bnd)
	}

	res = apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+env.Username+"/bind-events", nil)
	wantAPI(t, "bind events", res, 200, "")
	evs, _ := res.JSON["events"].([]any)
	if len(evs) != 3 {
		t.Fatalf("events = %s", res.Raw)
	}
	var got []string
	for _, e := range evs {
		m := e.(map[string]any)
		doc, _ := m["document"].(map[string]any)
		got = append(got, m["action"].(string)+"/"+m["outcome"].(string)+"/"+m["convention"].(string)+"/"+m["source"].(string)+"/"+doc["bindAction"].(string))
	}
	if want := "bind/bound/value/notification/0 unbind/unbound/value/notification/1 bind/bound/value/notification/0"; strings.Join(got, " ") != want {
		t.Errorf("events = %v, want %s", got, want)
	}
	if evs[0].(map[string]any)["id"] != bnd["event_id"] || evs[0].(map[string]any)["domain_id"] != bnd["domain_id"] {
		t.Errorf("the newest event %v is not the binding's %v", evs[0].(map[string]any)["id"], bnd["event_id"])
	}
	res = apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+env.Username+"/bind-events?limit=1", nil)
	if evs, _ := res.JSON["events"].([]any); len(evs) != 1 {
		t.Errorf("limit=1: %s", res.Raw)
	}
	wantAPI(t, "bad limit", apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/"+env.Username+"/bind-events?limit=0", nil), 400, "invalid_limit")
	wantAPI(t, "unknown customer", apiCall(t, env, testAPIKey, "GET", "/api/v1/customers/nobody/bind-events", nil), 404, "customer_not_found")
	wantAPI(t, "no key", apiCall(t, env, "", "GET", "/api/v1/customers/"+env.Username+"/bind-events", nil), 401, "unauthorized")
}
