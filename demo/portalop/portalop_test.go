package portalop_test

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"hcidp/demo/portalop"
)

const redirect = "https://hcidp.test/oidc/callback"

func start(t *testing.T) *portalop.Server {
	t.Helper()
	s, err := portalop.Start(t.Context(), portalop.Config{
		ClientID: "hcidp", ClientSecret: "secret-0123456789", RedirectURI: redirect,
		Users: []portalop.User{{Subject: "sub-1", Username: "alice_w", Password: "wonderland-42", Email: "alice@portal.example",
			EmailVerified: true, Name: "Alice", Claims: map[string]any{"xaccount_id": "cust-0001"}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func client() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 5 * time.Second, CheckRedirect: func(r *http.Request, _ []*http.Request) error {
		if strings.HasPrefix(r.URL.String(), "https://") {
			return http.ErrUseLastResponse // the relying party is not served here
		}
		return nil
	}}
}

func challenge(verifier string) string {
	s := sha256.Sum256([]byte(verifier))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func authorizeURL(s *portalop.Server, edit func(url.Values)) string {
	q := url.Values{"client_id": {"hcidp"}, "redirect_uri": {redirect}, "response_type": {"code"}, "scope": {"openid email"},
		"state": {"st"}, "nonce": {"no"}, "code_challenge": {challenge("verifier-verifier-verifier-verifier-verifier")},
		"code_challenge_method": {"S256"}}
	if edit != nil {
		edit(q)
	}
	return s.Issuer() + "/authorize?" + q.Encode()
}

func TestStartRefusesNonLoopbackAddress(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", ":0", "192.0.2.1:0"} {
		if _, err := portalop.Start(t.Context(), portalop.Config{Addr: addr, ClientID: "a", ClientSecret: "b", RedirectURI: redirect}); err == nil {
			t.Errorf("%s accepted", addr)
		}
	}
}

func TestDiscoveryAndKeysServed(t *testing.T) {
	s := start(t)
	resp, err := http.Get(s.Issuer() + "/.well-known/openid-configuration")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var d struct {
		Issuer      string   `json:"issuer"`
		JWKS        string   `json:"jwks_uri"`
		Token       string   `json:"token_endpoint"`
		PKCE        []string `json:"code_challenge_methods_supported"`
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err != nil {
		t.Fatal(err)
	}
	if d.Issuer != s.Issuer() || !strings.Contains(strings.Join(d.PKCE, " "), "S256") || d.Token == "" {
		t.Fatalf("discovery %+v", d)
	}
	kr, err := http.Get(d.JWKS)
	if err != nil {
		t.Fatal(err)
	}
	defer kr.Body.Close()
	var ks struct {
		Keys []struct{ Kty, Alg, Kid, Use string } `json:"keys"`
	}
	if err := json.NewDecoder(kr.Body).Decode(&ks); err != nil || len(ks.Keys) != 1 || ks.Keys[0].Alg != "RS256" || ks.Keys[0].Kty != "RSA" {
		t.Fatalf("keys %+v %v", ks, err)
	}
}

// TestAuthorizeRequiresPKCEAndNonce: a request without S256 PKCE or
// without a nonce never reaches the login page.
func TestAuthorizeRequiresPKCEAndNonce(t *testing.T) {
	s := start(t)
	for _, tc := range []struct {
		name string
		edit func(url.Values)
	}{
		{"no code_challenge", func(q url.Values) { q.Del("code_challenge"); q.Del("code_challenge_method") }},
		{"plain method", func(q url.Values) { q.Set("code_challenge_method", "plain") }},
		{"no nonce", func(q url.Values) { q.Del("nonce") }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := client().Get(authorizeURL(s, tc.edit))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			loc, _ := resp.Location()
			if resp.StatusCode != http.StatusFound || loc == nil || !strings.HasPrefix(loc.String(), redirect) || loc.Query().Get("error") != "invalid_request" {
				t.Fatalf("got %d %v, want a redirect with error=invalid_request", resp.StatusCode, loc)
			}
		})
	}
}

func TestAuthorizeRefusesUnregisteredRedirectURI(t *testing.T) {
	s := start(t)
	for _, uri := range []string{"https://evil.example/cb", redirect + "/", redirect + "?x=1", "https://HCIDP.test/oidc/callback"} {
		resp, err := client().Get(authorizeURL(s, func(q url.Values) { q.Set("redirect_uri", uri) }))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			loc, _ := resp.Location()
			t.Errorf("%s: %d %v, want 400 and no redirect", uri, resp.StatusCode, loc)
		}
	}
}

var hiddenRE = regexp.MustCompile(`<input type="hidden" name="([a-zA-Z]+)" value="([^"]*)">`)

func loginForm(t *testing.T, c *http.Client, s *portalop.Server) url.Values {
	t.Helper()
	resp, err := c.Get(authorizeURL(s, nil))
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	form := url.Values{}
	for _, m := range hiddenRE.FindAllStringSubmatch(string(page), -1) {
		form.Set(m[1], m[2])
	}
	if form.Get("authRequestID") == "" || form.Get("csrf") == "" {
		t.Fatalf("no login form: %s", page)
	}
	return form
}

func post(t *testing.T, c *http.Client, s *portalop.Server, form url.Values, origin string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.Issuer()+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func TestLoginPageEscapesInput(t *testing.T) {
	s := start(t)
	c := client()
	form := loginForm(t, c, s)
	form.Set("username", `"><script>alert(1)</script>`)
	form.Set("password", "wrong")
	resp, body := post(t, c, s, form, s.Issuer())
	if resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "<script>alert") || !strings.Contains(body, "&lt;script&gt;") {
		t.Fatalf("%d: %s", resp.StatusCode, body)
	}
	if !strings.Contains(resp.Header.Get("Content-Security-Policy"), "default-src 'none'") {
		t.Fatal("no CSP on the login page")
	}
}

func TestLoginRefusesForgedForms(t *testing.T) {
	s := start(t)
	c := client()
	form := loginForm(t, c, s)
	form.Set("username", "alice_w")
	form.Set("password", "wonderland-42")

	forged := url.Values{}
	for k, v := range form {
		forged[k] = v
	}
	forged.Set("csrf", "AAAA")
	if resp, _ := post(t, c, s, forged, s.Issuer()); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong CSRF token: %d", resp.StatusCode)
	}
	if resp, _ := post(t, c, s, form, "https://evil.example"); resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin POST: %d", resp.StatusCode)
	}
	// The genuine form still works once, and only once.
	resp, _ := post(t, c, s, form, s.Issuer())
	loc, _ := resp.Location()
	if resp.StatusCode != http.StatusFound || loc == nil || loc.Query().Get("code") == "" || loc.Query().Get("state") != "st" {
		t.Fatalf("genuine login: %d %v", resp.StatusCode, loc)
	}
	if resp, _ := post(t, c, s, form, s.Issuer()); resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("second POST of the same form: %d", resp.StatusCode)
	}
	// op's own callback endpoint does not mint a second code either.
	r2, err := c.Get(s.Issuer() + "/authorize/callback?id=" + url.QueryEscape(form.Get("authRequestID")))
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if l, _ := r2.Location(); l != nil && l.Query().Get("code") != "" {
		t.Fatalf("second code minted: %v", l)
	}
}

func TestTokenEndpointRequiresVerifierAndSecret(t *testing.T) {
	s := start(t)
	code := func() string {
		c := client()
		form := loginForm(t, c, s)
		form.Set("username", "alice_w")
		form.Set("password", "wonderland-42")
		resp, _ := post(t, c, s, form, s.Issuer())
		loc, _ := resp.Location()
		return loc.Query().Get("code")
	}
	exchange := func(code, verifier, secret string) int {
		form := url.Values{"grant_type": {"authorization_code"}, "code": {code}, "redirect_uri": {redirect}, "code_verifier": {verifier}}
		req, _ := http.NewRequest(http.MethodPost, s.Issuer()+"/oauth/token", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth("hcidp", secret)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	good := "verifier-verifier-verifier-verifier-verifier"
	spent := code()
	if st := exchange(spent, "another-verifier-another-verifier-another", "secret-0123456789"); st != http.StatusBadRequest {
		t.Fatalf("wrong verifier: %d", st)
	}
	// A code is used once: its failed exchange spent it.
	if st := exchange(spent, good, "secret-0123456789"); st != http.StatusBadRequest {
		t.Fatalf("code after a failed exchange: %d", st)
	}
	if st := exchange(code(), good, "wrong-secret"); st < 400 {
		t.Fatalf("wrong secret: %d", st)
	}
	c := code()
	if st := exchange(c, good, "secret-0123456789"); st != http.StatusOK {
		t.Fatalf("genuine exchange: %d", st)
	}
	if st := exchange(c, good, "secret-0123456789"); st != http.StatusBadRequest {
		t.Fatalf("replayed code: %d", st)
	}
}
