package oidc_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"hcidp/demo/portalop"
	"hcidp/internal/testkit"
	"hcidp/upstream/oidc"
)

// The attack cases of issue 13, each against the real provider over HTTP,
// each refused with its reason code.

func TestAttackWrongStateRefused(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	// Another state: the first character changed (never to itself).
	other := map[bool]string{true: "y", false: "x"}[p.State[0] == 'x'] + p.State[1:]
	for name, state := range map[string]string{
		"other flow's state": other,
		"empty":              "",
	} {
		bad := url.Values{"code": q["code"], "state": {state}}
		_, err := e.rp.Finish(context.Background(), bad, p)
		if state == "" {
			wantReason(t, err, oidc.ReasonRequest)
		} else {
			wantReason(t, err, oidc.ReasonState)
		}
		_ = name
	}
	// A callback with a browser that has no pending sign-in (a login CSRF:
	// the attacker's code in the victim's browser) is refused too.
	_, err := e.rp.Finish(context.Background(), q, oidc.Pending{})
	wantReason(t, err, oidc.ReasonNoFlow)
	// The refusals spent nothing: the code was never sent to the provider.
	if _, err := e.rp.Finish(context.Background(), q, p); err != nil {
		t.Fatalf("the genuine callback after the refused ones: %v", err)
	}
}

func TestAttackReplayedCodeRefused(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	if _, err := e.rp.Finish(context.Background(), q, p); err != nil {
		t.Fatal(err)
	}
	// The same callback again (a replayed URL from a log or history): the
	// provider refuses the second exchange of the code.
	_, err := e.rp.Finish(context.Background(), q, p)
	oe := wantReason(t, err, oidc.ReasonExchange)
	if !strings.Contains(oe.Detail, "invalid_grant") {
		t.Errorf("detail %q does not name invalid_grant", oe.Detail)
	}
}

func TestAttackTokenForAnotherAudienceRefused(t *testing.T) {
	for _, tc := range []struct {
		name string
		edit func(map[string]any)
	}{
		{"audience is another client", func(c map[string]any) { c["aud"] = []string{"portal-shop"}; delete(c, "azp") }},
		{"audience and azp are another client", func(c map[string]any) { c["aud"] = []string{"portal-shop"}; c["azp"] = "portal-shop" }},
		{"audience includes us, issued to another party", func(c map[string]any) {
			c["aud"] = []string{"portal-shop", testClientID}
			c["azp"] = "portal-shop"
		}},
		{"several audiences, no azp", func(c map[string]any) { c["aud"] = []string{testClientID, "portal-shop"}; delete(c, "azp") }},
		{"another issuer", func(c map[string]any) { c["iss"] = "https://evil.example" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var sent []string
			e.resignIDToken(t, tc.edit, &sent)
			p, q := e.begin(t)
			_, err := e.rp.Finish(context.Background(), q, p)
			wantReason(t, err, oidc.ReasonToken)
		})
	}
}

func TestAttackWrongNonceRefused(t *testing.T) {
	t.Run("token carries another nonce", func(t *testing.T) {
		e := newEnv(t)
		var sent []string
		e.resignIDToken(t, func(c map[string]any) { c["nonce"] = "nonce-of-another-flow" }, &sent)
		p, q := e.begin(t)
		_, err := e.rp.Finish(context.Background(), q, p)
		wantReason(t, err, oidc.ReasonNonce)
	})
	t.Run("token has no nonce", func(t *testing.T) {
		e := newEnv(t)
		var sent []string
		e.resignIDToken(t, func(c map[string]any) { delete(c, "nonce") }, &sent)
		p, q := e.begin(t)
		_, err := e.rp.Finish(context.Background(), q, p)
		wantReason(t, err, oidc.ReasonNonce)
	})
	t.Run("pending flow has another nonce", func(t *testing.T) {
		// A code injected into a browser whose pending flow matches the
		// state but was begun with another nonce.
		e := newEnv(t)
		p, q := e.begin(t)
		other, _, err := e.rp.Begin(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		p.Nonce = other.Nonce
		_, err = e.rp.Finish(context.Background(), q, p)
		wantReason(t, err, oidc.ReasonNonce)
	})
}

func TestAttackExpiredTokenRefused(t *testing.T) {
	for _, tc := range []struct {
		name   string
		exp    time.Duration // relative to now
		iat    time.Duration
		reason string // "" = accepted
	}{
		{"expired ten minutes ago", -10 * time.Minute, -20 * time.Minute, oidc.ReasonToken},
		{"expired two minutes ago, beyond the one-minute skew", -2 * time.Minute, -7 * time.Minute, oidc.ReasonToken},
		{"expired thirty seconds ago, within the skew", -30 * time.Second, -5 * time.Minute, ""},
		{"issued five minutes in the future", 10 * time.Minute, 5 * time.Minute, oidc.ReasonToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			var sent []string
			e.resignIDToken(t, func(c map[string]any) {
				c["exp"] = time.Now().Add(tc.exp).Unix()
				c["iat"] = time.Now().Add(tc.iat).Unix()
			}, &sent)
			p, q := e.begin(t)
			_, err := e.rp.Finish(context.Background(), q, p)
			if tc.reason == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			wantReason(t, err, tc.reason)
		})
	}
	t.Run("real token, relying party's clock past its expiry", func(t *testing.T) {
		e := newEnv(t)
		p, q := e.begin(t)
		// The provider's tokens live 5 minutes; 7 minutes later (the flow
		// itself is still within its 10) the token is refused.
		e.now.Advance(7 * time.Minute)
		_, err := e.rp.Finish(context.Background(), q, p)
		wantReason(t, err, oidc.ReasonToken)
	})
}

// unsigned makes a JWT with header {"alg":"none"} and the given claims.
func unsigned(t *testing.T, claims map[string]any) string {
	t.Helper()
	h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
}

func TestAttackAlgNoneRefused(t *testing.T) {
	e := newEnv(t)
	e.op.OnTokenResponse(func(body map[string]any) {
		claims, err := e.op.IDTokenClaims(body["id_token"].(string))
		if err != nil {
			t.Error(err)
			return
		}
		// The provider's own claims, unsigned; at_hash goes too, since its
		// hash would follow the (absent) algorithm.
		delete(claims, "at_hash")
		body["id_token"] = unsigned(t, claims)
	})
	p, q := e.begin(t)
	_, err := e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonToken)
}

func TestAttackTokenSignedByAnotherKeyRefused(t *testing.T) {
	e := newEnv(t)
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	e.op.OnTokenResponse(func(body map[string]any) {
		raw := body["id_token"].(string)
		claims, err := e.op.IDTokenClaims(raw)
		if err != nil {
			t.Error(err)
			return
		}
		// Same kid as the provider's key, another key.
		h, _ := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
		signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: jose.JSONWebKey{Key: key, KeyID: h.Signatures[0].Header.KeyID}}, nil)
		payload, _ := json.Marshal(claims)
		jws, _ := signer.Sign(payload)
		body["id_token"], _ = jws.CompactSerialize()
	})
	p, q := e.begin(t)
	_, err = e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonToken)
}

func TestAttackOpenRedirectThroughCallbackIgnored(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	p.Flow = "flow-id-the-caller-stored"
	stored := p
	// An attacker appends redirect targets to the callback URL.
	q.Set("redirect_uri", "https://evil.example/steal")
	q.Set("next", "https://evil.example/next")
	q.Set("return_to", "//evil.example")
	q.Set("RelayState", "https://evil.example/relay")
	id, err := e.rp.Finish(context.Background(), q, p)
	if err != nil {
		t.Fatalf("extra parameters changed the outcome: %v", err)
	}
	// The exchange used the configured redirect URI (the provider checks
	// it), the identity holds no URL, and the caller's continuation is what
	// it stored.
	if id.XAccountID != "cust-0001" || p != stored || p.Flow != "flow-id-the-caller-stored" {
		t.Fatalf("identity %+v, pending %+v", id, p)
	}
	if got := e.rp.RedirectURL(); got != testBaseURL+oidc.CallbackPath {
		t.Fatalf("redirect URL %s", got)
	}
	// A repeated parameter is refused outright: which copy counts would
	// depend on the parser.
	p2, q2 := e.begin(t)
	q2.Add("state", "https://evil.example")
	_, err = e.rp.Finish(context.Background(), q2, p2)
	wantReason(t, err, oidc.ReasonRequest)
	q2.Set("state", p2.State)
	q2.Add("code", "another-code")
	_, err = e.rp.Finish(context.Background(), q2, p2)
	wantReason(t, err, oidc.ReasonRequest)
}

func TestAttackMixUpIssuerParameterRefused(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	q.Set("iss", "https://evil.example")
	_, err := e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonIssuer)
	q.Set("iss", e.op.Issuer())
	if _, err := e.rp.Finish(context.Background(), q, p); err != nil {
		t.Fatalf("iss naming the provider: %v", err)
	}
}

func TestExpiredFlowRefused(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	e.now.Advance(oidc.DefaultFlowLifetime + time.Second)
	_, err := e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonExpiredFlow)
}

func TestProviderDeniedAccess(t *testing.T) {
	e := newEnv(t)
	p, authURL, err := e.rp.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	q := e.signIn(t, authURL, "", "", "cancel") // the customer clicks Cancel
	if q.Get("error") != "access_denied" || q.Get("state") != p.State {
		t.Fatalf("callback %v", q)
	}
	_, err = e.rp.Finish(context.Background(), q, p)
	oe := wantReason(t, err, oidc.ReasonDenied)
	if oe.ProviderCode != "access_denied" || oe.Status() != http.StatusForbidden {
		t.Fatalf("%+v status %d", oe, oe.Status())
	}

	// Another error code, with a hostile description.
	q = url.Values{"state": {p.State}, "error": {"temporarily_unavailable"},
		"error_description": {"<script>alert(1)</script>\r\nSet-Cookie: x=1 " + strings.Repeat("A", 500)}}
	_, err = e.rp.Finish(context.Background(), q, p)
	oe = wantReason(t, err, oidc.ReasonProviderError)
	if oe.ProviderCode != "temporarily_unavailable" || strings.ContainsAny(oe.Detail, "\r\n\"") || len(oe.Detail) > 300 {
		t.Fatalf("detail not sanitised: %q", oe.Detail)
	}
}

// countingTransport counts requests.
type countingTransport struct{ n atomic.Int32 }

func (c *countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	c.n.Add(1)
	return http.DefaultTransport.RoundTrip(r)
}

func TestProviderUnreachableDiscovery(t *testing.T) {
	// A port nothing listens on.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	ct := &countingTransport{}
	clk := &testkit.Clock{}
	cfg := oidc.Config{Issuer: "http://" + addr, ClientID: testClientID, ClientSecret: testSecret}
	if err := cfg.Prepare(func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	// New makes no request: hcidp starts while the provider is down.
	rp, err := oidc.New(cfg, testBaseURL, oidc.Options{HTTPClient: &http.Client{Transport: ct, Timeout: 5 * time.Second}, Now: clk.Now})
	if err != nil {
		t.Fatal(err)
	}
	if ct.n.Load() != 0 {
		t.Fatal("New contacted the provider")
	}
	_, _, err = rp.Begin(context.Background())
	wantReason(t, err, oidc.ReasonDiscovery)
	// Within the retry interval no new attempt is made.
	for range 5 {
		_, _, err = rp.Begin(context.Background())
		wantReason(t, err, oidc.ReasonDiscovery)
	}
	if n := ct.n.Load(); n != 1 {
		t.Fatalf("%d discovery attempts within the retry interval, want 1", n)
	}
	// The provider comes up on that port; after the interval it is found.
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	ln.Close()
	srv, err := portalop.Start(t.Context(), portalop.Config{Addr: addr, ClientID: testClientID, ClientSecret: testSecret,
		RedirectURI: testBaseURL + oidc.CallbackPath, Users: []portalop.User{alice}})
	if err != nil {
		t.Skipf("port %s taken meanwhile: %v", addr, err)
	}
	defer srv.Close()
	clk.Advance(oidc.DefaultDiscoveryRetry + time.Second)
	if _, _, err := rp.Begin(context.Background()); err != nil {
		t.Fatalf("after the provider came up: %v", err)
	}
	if n := ct.n.Load(); n != 2 {
		t.Fatalf("%d discovery attempts, want 2", n)
	}
}

func TestProviderTokenEndpointUnreachable(t *testing.T) {
	e := newEnv(t)
	p, q := e.begin(t)
	e.op.Close()
	_, err := e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonExchange)
}

// TestNoSecretInErrorsOrLogs runs refusals at every step and scans every
// error string and log line for the code, the verifier, the client secret
// and the tokens.
func TestNoSecretInErrorsOrLogs(t *testing.T) {
	e := newEnv(t)
	var secrets []string
	var errs []error
	record := func(p oidc.Pending, q url.Values) {
		secrets = append(secrets, p.Verifier, q.Get("code"))
	}
	// state, nonce, audience, replay, alg none, expired flow.
	p, q := e.begin(t)
	record(p, q)
	_, err := e.rp.Finish(context.Background(), url.Values{"state": {"wrong"}, "code": q["code"]}, p)
	errs = append(errs, err)
	_, err = e.rp.Finish(context.Background(), q, p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.rp.Finish(context.Background(), q, p) // replay
	errs = append(errs, err)

	var sent []string
	e.resignIDToken(t, func(c map[string]any) { c["aud"] = "portal-shop" }, &sent)
	p, q = e.begin(t)
	record(p, q)
	_, err = e.rp.Finish(context.Background(), q, p)
	errs = append(errs, err)

	e.resignIDToken(t, func(c map[string]any) { c["nonce"] = "x" }, &sent)
	p, q = e.begin(t)
	record(p, q)
	_, err = e.rp.Finish(context.Background(), q, p)
	errs = append(errs, err)

	e.op.OnTokenResponse(func(body map[string]any) {
		raw := body["id_token"].(string)
		sent = append(sent, raw, body["access_token"].(string))
		claims, _ := e.op.IDTokenClaims(raw)
		body["id_token"] = unsigned(t, claims)
		sent = append(sent, body["id_token"].(string))
	})
	p, q = e.begin(t)
	record(p, q)
	_, err = e.rp.Finish(context.Background(), q, p)
	errs = append(errs, err)

	// A provider that echoes the code in its error description.
	p, q = e.begin(t)
	record(p, q)
	_, err = e.rp.Finish(context.Background(), url.Values{"state": {p.State}, "error": {"server_error"},
		"error_description": {"bad code " + q.Get("code") + " for secret " + testSecret}}, p)
	errs = append(errs, err)

	p, q = e.begin(t)
	record(p, q)
	e.op.Close() // token endpoint unreachable
	_, err = e.rp.Finish(context.Background(), q, p)
	errs = append(errs, err)

	secrets = append(secrets, sent...)
	secrets = append(secrets, testSecret)
	logs := e.logs.String()
	for i, err := range errs {
		if err == nil {
			t.Fatalf("case %d was not refused", i)
		}
		var oe *oidc.Error
		if !errors.As(err, &oe) {
			t.Fatalf("case %d: %v is not an *oidc.Error", i, err)
		}
		for _, s := range secrets {
			if s == "" {
				continue
			}
			if strings.Contains(err.Error(), s) || strings.Contains(oe.Detail, s) {
				t.Errorf("case %d: error %q reveals a secret", i, err)
			}
			if strings.Contains(logs, s) {
				t.Errorf("the log reveals a secret: %q", logs)
			}
		}
	}
	// The configuration's printed forms hide the secret too.
	if strings.Contains(e.cfg.String(), testSecret) {
		t.Error("Config.String reveals the client secret")
	}
}

func TestAttackSwappedAccessTokenRefused(t *testing.T) {
	e := newEnv(t)
	e.op.OnTokenResponse(func(body map[string]any) {
		body["access_token"] = "an-access-token-of-another-grant" // the ID token's at_hash is for the real one
	})
	p, q := e.begin(t)
	_, err := e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonToken)
}

func TestUserinfoForAnotherSubjectRefused(t *testing.T) {
	bob := portalop.User{Subject: "bob-sub", Username: "bob_b", Password: "builder-42", Claims: map[string]any{"xaccount_id": "cust-0002"}}
	e := newEnv(t, func(op *portalopConfig, _ *oidc.Config, _ *oidc.Options) {
		op.ClaimsInUserinfoOnly = true
		op.Users = append(op.Users, bob)
	})
	// Bob signs in; his access token is kept.
	var bobToken string
	e.op.OnTokenResponse(func(body map[string]any) { bobToken, _ = body["access_token"].(string) })
	p, authURL, err := e.rp.Begin(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rp.Finish(context.Background(), e.signIn(t, authURL, bob.Username, bob.Password, "login"), p); err != nil {
		t.Fatal(err)
	}
	// Alice's token response carries Bob's access token (and an ID token
	// re-signed without at_hash): userinfo then speaks of Bob.
	e.op.OnTokenResponse(func(body map[string]any) {
		claims, err := e.op.IDTokenClaims(body["id_token"].(string))
		if err != nil {
			t.Error(err)
			return
		}
		delete(claims, "at_hash")
		body["id_token"], _ = e.op.SignIDToken(claims)
		body["access_token"] = bobToken
	})
	p, q := e.begin(t)
	_, err = e.rp.Finish(context.Background(), q, p)
	wantReason(t, err, oidc.ReasonUserinfo)
}

// TestConcurrentFirstSignIns: many sign-ins at once on a fresh provider
// share one discovery.
func TestConcurrentFirstSignIns(t *testing.T) {
	e := newEnv(t)
	ct := &countingTransport{}
	rp, err := oidc.New(e.cfg, testBaseURL, oidc.Options{HTTPClient: &http.Client{Transport: ct, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			_, _, err := rp.Begin(context.Background())
			errs <- err
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if n := ct.n.Load(); n != 1 {
		t.Fatalf("%d discovery requests, want 1", n)
	}
}

// TestAttackHMACSignedTokenRefused: HMAC is never an ID token's algorithm.
// A provider that announces only HS256 is refused at discovery (an HS256
// token's key is the client secret, which the provider and hcidp share, so
// it proves nothing about who signed), and an ID token signed with HS256
// under the client secret is refused even when the provider also announces
// RS256.
func TestAttackHMACSignedTokenRefused(t *testing.T) {
	t.Run("provider announcing only HS256", func(t *testing.T) {
		var issuer string
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/.well-known/openid-configuration" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"issuer": issuer, "authorization_endpoint": issuer + "/authorize", "token_endpoint": issuer + "/token",
				"jwks_uri": issuer + "/keys", "response_types_supported": []string{"code"},
				"id_token_signing_alg_values_supported": []string{"HS256"}, "code_challenge_methods_supported": []string{"S256"},
			})
		}))
		defer srv.Close()
		issuer = srv.URL
		cfg := oidc.Config{Issuer: issuer, ClientID: testClientID, ClientSecret: testSecret}
		if err := cfg.Prepare(func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		rp, err := oidc.New(cfg, testBaseURL, oidc.Options{})
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = rp.Begin(context.Background())
		if oe := wantReason(t, err, oidc.ReasonDiscovery); !strings.Contains(oe.Detail, "only with HS256") {
			t.Errorf("detail %q does not name the algorithm", oe.Detail)
		}
	})
	t.Run("ID token signed with HS256 under the client secret", func(t *testing.T) {
		e := newEnv(t)
		e.op.OnTokenResponse(func(body map[string]any) {
			raw := body["id_token"].(string)
			claims, err := e.op.IDTokenClaims(raw)
			if err != nil {
				t.Error(err)
				return
			}
			h, _ := jose.ParseSigned(raw, []jose.SignatureAlgorithm{jose.RS256})
			signer, _ := jose.NewSigner(jose.SigningKey{Algorithm: jose.HS256, Key: jose.JSONWebKey{Key: []byte(testSecret), KeyID: h.Signatures[0].Header.KeyID}}, nil)
			payload, _ := json.Marshal(claims)
			jws, _ := signer.Sign(payload)
			body["id_token"], _ = jws.CompactSerialize()
		})
		p, q := e.begin(t)
		_, err := e.rp.Finish(context.Background(), q, p)
		wantReason(t, err, oidc.ReasonToken)
	})
}
