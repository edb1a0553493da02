package login

import (
	"context"
	"encoding/base64"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/demo/portalop"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
	"hcidp/templates"
	"hcidp/upstream/oidc"
	"hcidp/web"
)

const testOrigin = "http://127.0.0.1:8080"

// newUpstreamService returns sign-in with the demo portal's provider as its
// upstream OpenID provider (portal user alice_w is customer alice), and its
// handler.
func newUpstreamService(t *testing.T) (*portalop.Server, http.Handler) {
	t.Helper()
	const clientID, secret = "hcidp", "s3cret-of-the-hcidp-client-0123456789"
	op, err := portalop.Start(t.Context(), portalop.Config{ClientID: clientID, ClientSecret: secret,
		RedirectURI: testOrigin + oidc.CallbackPath, Logger: slog.New(slog.DiscardHandler),
		Users: []portalop.User{{Subject: "sub-alice", Username: "alice_w", Password: "wonderland-42", Claims: map[string]any{"xaccount_id": "alice"}}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { op.Close() })
	cfg := oidc.Config{Issuer: op.Issuer(), ClientID: clientID, ClientSecret: secret, ClaimXAccountID: "xaccount_id"}
	if err := cfg.Prepare(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	rp, err := oidc.New(cfg, testOrigin, oidc.Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlstore.OpenSQLite(context.Background(), filepath.Join(t.TempDir(), "login.db"), sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	now := time.Now()
	if err := st.CreateCustomer(context.Background(), storage.Customer{XAccountID: "alice", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	tmpl, err := templates.New("")
	if err != nil {
		t.Fatal(err)
	}
	base, _ := url.Parse(testOrigin)
	s, err := New(Config{BaseURL: base, SessionLifetime: time.Hour, IdleTimeout: time.Hour, PasswordLogin: true},
		Options{Store: st, Pages: web.NewPages(tmpl, slog.New(slog.DiscardHandler), nil, nil), Upstream: rp,
			ContinueSAML: func(w http.ResponseWriter, r *http.Request, f Flow, id string, at time.Time) {}})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	s.Mount(mux)
	return op, s.Middleware(mux)
}

var portalHiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-zA-Z]+)" value="([^"]*)">`)

// portalSignIn signs alice in at the provider's page of authURL and returns
// the callback URL the provider sends the browser back to.
func portalSignIn(t *testing.T, op *portalop.Server, authURL string) *url.URL {
	t.Helper()
	c := &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	for resp.StatusCode/100 == 3 { // the provider's own redirects, up to its login page
		loc, _ := resp.Location()
		resp.Body.Close()
		if resp, err = c.Get(loc.String()); err != nil {
			t.Fatal(err)
		}
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{"username": {"alice_w"}, "password": {"wonderland-42"}, "action": {"login"}}
	for _, m := range portalHiddenRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], m[2])
	}
	req, _ := http.NewRequest(http.MethodPost, op.Issuer()+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", op.Issuer())
	for {
		if resp, err = c.Do(req); err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		loc, err := resp.Location()
		if err != nil {
			t.Fatalf("the provider's login: %d, no redirect", resp.StatusCode)
		}
		if strings.HasPrefix(loc.String(), testOrigin+oidc.CallbackPath+"?") {
			return loc
		}
		req, _ = http.NewRequest(http.MethodGet, loc.String(), nil)
	}
}

// TestUpstreamPendingSignInIsAPerStateEncryptedCookie: GET /oidc/login keeps
// the pending sign-in in an encrypted cookie of its own, named after its
// state, so two tabs signing in at once do not overwrite each other; the
// callback is accepted only with the cookie of its own state, untampered,
// and removes it (docs/threat-model.md "Upstream OpenID Connect sign-in").
func TestUpstreamPendingSignInIsAPerStateEncryptedCookie(t *testing.T) {
	op, h := newUpstreamService(t)
	serve := func(target string, cookies ...*http.Cookie) *http.Response {
		req := httptest.NewRequest(http.MethodGet, target, nil)
		for _, c := range cookies {
			req.AddCookie(c)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Result()
	}
	type tab struct {
		cookie  *http.Cookie
		authURL *url.URL
	}
	begin := func(have ...*http.Cookie) tab {
		t.Helper()
		r := serve(testOrigin+"/oidc/login", have...)
		loc, err := r.Location()
		if r.StatusCode != http.StatusFound || err != nil {
			t.Fatalf("GET /oidc/login: %d", r.StatusCode)
		}
		var ck *http.Cookie
		for _, c := range r.Cookies() {
			if strings.HasPrefix(c.Name, "hcidp_oidc_") {
				ck = c
			}
		}
		if ck == nil || !ck.HttpOnly || ck.SameSite != http.SameSiteLaxMode || ck.Path != "/" || ck.MaxAge <= 0 {
			t.Fatalf("pending sign-in cookie %v", ck)
		}
		return tab{ck, loc}
	}
	a := begin()
	b := begin(a.cookie)
	if a.cookie.Name == b.cookie.Name {
		t.Fatalf("two sign-ins share the cookie %s", a.cookie.Name)
	}
	for _, tb := range []tab{a, b} {
		q := tb.authURL.Query()
		// securecookie's value is base64(date|base64(payload)|mac); the
		// payload must be ciphertext, not the JSON of the pending sign-in.
		// The MAC is raw bytes and may hold a '|': split off two fields only.
		outer, _ := base64.URLEncoding.DecodeString(tb.cookie.Value)
		var payload []byte
		if parts := strings.SplitN(string(outer), "|", 3); len(parts) == 3 {
			payload, _ = base64.URLEncoding.DecodeString(parts[1])
		}
		if len(payload) == 0 {
			t.Fatalf("cookie value %q is not securecookie's", tb.cookie.Value)
		}
		for _, secret := range []string{q.Get("state"), q.Get("nonce")} {
			if secret == "" || strings.Contains(tb.cookie.Value, secret) || strings.Contains(string(payload), secret) {
				t.Errorf("the cookie shows the state or nonce %q in clear", secret)
			}
		}
	}

	callbackA, callbackB := portalSignIn(t, op, a.authURL.String()), portalSignIn(t, op, b.authURL.String())
	tampered := *a.cookie
	v := []byte(tampered.Value)
	v[len(v)/2] ^= 1
	tampered.Value = string(v)
	for name, cookies := range map[string][]*http.Cookie{
		"no cookie":                {},
		"the other tab's cookie":   {b.cookie},
		"its cookie, tampered":     {&tampered, b.cookie},
		"its value under B's name": {{Name: b.cookie.Name, Value: a.cookie.Value}},
	} {
		r := serve(callbackA.String(), cookies...)
		body, _ := io.ReadAll(r.Body)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(string(body), "oidc.no_flow") {
			t.Errorf("callback of tab A with %s: %d, want 400 oidc.no_flow", name, r.StatusCode)
		}
		for _, c := range r.Cookies() {
			if strings.HasSuffix(c.Name, "hcidp_session") {
				t.Errorf("callback of tab A with %s set a session cookie", name)
			}
		}
	}

	// Each tab finishes with its own cookie, which the callback removes.
	for name, tc := range map[string]struct {
		callback *url.URL
		own      *http.Cookie
	}{"tab A": {callbackA, a.cookie}, "tab B": {callbackB, b.cookie}} {
		r := serve(tc.callback.String(), a.cookie, b.cookie)
		if r.StatusCode != http.StatusSeeOther {
			body, _ := io.ReadAll(r.Body)
			t.Fatalf("callback of %s: %d\n%s", name, r.StatusCode, body)
		}
		removed, session := false, false
		for _, c := range r.Cookies() {
			switch {
			case c.Name == tc.own.Name:
				removed = c.MaxAge < 0
			case strings.HasPrefix(c.Name, "hcidp_oidc_"):
				t.Errorf("callback of %s touched the other tab's cookie %s", name, c.Name)
			case c.Name == "hcidp_session" && c.Value != "":
				session = true
			}
		}
		if !removed || !session {
			t.Errorf("callback of %s: own cookie removed %v, session started %v", name, removed, session)
		}
	}
}
