package oidc_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/demo/portalop"
	"hcidp/internal/testkit"
	"hcidp/upstream/oidc"
)

const (
	testBaseURL  = "https://hcidp.test"
	testClientID = "hcidp"
	testSecret   = "s3cret-of-the-hcidp-client-0123456789"
)

var alice = portalop.User{
	Subject: "3f9c2a5e-alice", Username: "alice_w", Password: "wonderland-42",
	Email: "alice@portal.example", EmailVerified: true, Name: "Alice Liddell", Mobile: "+86 138 0000 0000",
	Claims: map[string]any{"xaccount_id": "cust-0001"},
}

// env is a demo portal provider and hcidp's relying party for it.
type env struct {
	op   *portalop.Server
	rp   *oidc.Provider
	cfg  oidc.Config
	logs *testkit.SyncBuffer
	now  *testkit.Clock
}

type portalopConfig = portalop.Config

type envOption func(*portalopConfig, *oidc.Config, *oidc.Options)

// newEnv starts a provider with alice and a relying party configured the
// way docs/upstream-oidc.md shows for Keycloak.
func newEnv(t *testing.T, opts ...envOption) *env {
	t.Helper()
	opCfg := portalop.Config{
		ClientID: testClientID, ClientSecret: testSecret, RedirectURI: testBaseURL + oidc.CallbackPath,
		Users: []portalop.User{alice},
	}
	rpCfg := oidc.Config{
		ClientID: testClientID, ClientSecret: testSecret, ClaimXAccountID: "xaccount_id",
		ClaimEmail: "email", ClaimName: "preferred_username", ClaimMobile: "phone_number", ClaimDisplayName: "name",
		Scopes: []string{"openid", "profile", "email", "phone"},
	}
	e := &env{logs: &testkit.SyncBuffer{}, now: &testkit.Clock{}}
	rpOpts := oidc.Options{Logger: slog.New(slog.NewTextHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Now: e.now.Now}
	for _, o := range opts {
		o(&opCfg, &rpCfg, &rpOpts)
	}
	srv, err := portalop.Start(t.Context(), opCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	if rpCfg.Issuer == "" {
		rpCfg.Issuer = srv.Issuer()
	}
	if err := rpCfg.Prepare(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	rp, err := oidc.New(rpCfg, testBaseURL, rpOpts)
	if err != nil {
		t.Fatal(err)
	}
	e.op, e.rp, e.cfg = srv, rp, rpCfg
	return e
}

// browser is a cookie-keeping HTTP client that stops at hcidp's callback
// (which is not served here) and hands back its URL.
func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(r *http.Request, via []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), testBaseURL+oidc.CallbackPath) {
			return http.ErrUseLastResponse
		}
		if len(via) > 5 {
			return errors.New("too many redirects")
		}
		return nil
	}}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-zA-Z]+)" value="([^"]*)">`)

// signIn follows authURL to the portal's login page, submits the form with
// the given action ("login" or "cancel"), and returns the callback query
// the provider sends the browser back with.
func (e *env) signIn(t *testing.T, authURL, username, password, action string) url.Values {
	t.Helper()
	c := browser()
	resp, err := c.Get(authURL)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("authorization request: %d %s", resp.StatusCode, page)
	}
	form := url.Values{"username": {username}, "password": {password}, "action": {action}}
	for _, m := range hiddenRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], m[2])
	}
	req, _ := http.NewRequest(http.MethodPost, e.op.Issuer()+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", e.op.Issuer())
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	loc, err := resp.Location()
	if resp.StatusCode != http.StatusFound || err != nil || !strings.HasPrefix(loc.String(), testBaseURL+oidc.CallbackPath+"?") {
		t.Fatalf("login: want a redirect to the callback, got %d %v: %s", resp.StatusCode, loc, body)
	}
	return loc.Query()
}

// begin starts a sign-in and returns the pending flow and the callback query
// after alice signed in.
func (e *env) begin(t *testing.T) (oidc.Pending, url.Values) {
	t.Helper()
	p, authURL, err := e.rp.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p, e.signIn(t, authURL, alice.Username, alice.Password, "login")
}

// wantReason fails unless err is an *oidc.Error with reason.
func wantReason(t *testing.T, err error, reason string) *oidc.Error {
	t.Helper()
	var oe *oidc.Error
	if !errors.As(err, &oe) {
		t.Fatalf("want *oidc.Error %s, got %v", reason, err)
	}
	if oe.Reason != reason {
		t.Fatalf("want reason %s, got %s (%s)", reason, oe.Reason, oe.Detail)
	}
	return oe
}

// resignIDToken makes the provider answer with its real ID token edited by
// edit and re-signed with its key; it records every token it sent.
func (e *env) resignIDToken(t *testing.T, edit func(claims map[string]any), sent *[]string) {
	t.Helper()
	e.op.OnTokenResponse(func(body map[string]any) {
		raw, _ := body["id_token"].(string)
		*sent = append(*sent, raw)
		if at, ok := body["access_token"].(string); ok {
			*sent = append(*sent, at)
		}
		claims, err := e.op.IDTokenClaims(raw)
		if err != nil {
			t.Errorf("provider's own token: %v", err)
			return
		}
		edit(claims)
		forged, err := e.op.SignIDToken(claims)
		if err != nil {
			t.Errorf("sign: %v", err)
			return
		}
		*sent = append(*sent, forged)
		body["id_token"] = forged
	})
}
