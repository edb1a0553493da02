package oidc

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"
)

// CallbackPath is where the provider sends the browser back: the redirect
// URI registered at the provider is exactly base_url + CallbackPath.
const CallbackPath = "/oidc/callback"

// Defaults and bounds of Options.
const (
	DefaultFlowLifetime   = 10 * time.Minute
	DefaultClockSkew      = time.Minute
	MaxClockSkew          = 10 * time.Minute
	DefaultDiscoveryRetry = 5 * time.Second
	// discoveryTimeout bounds one discovery attempt (the document only;
	// the keys are fetched when the first token is verified).
	discoveryTimeout = 10 * time.Second
	// maxCode bounds the code parameter; real codes are well under 1 KiB.
	maxCode = 4096
	// maxResponseBody bounds any body read from the provider.
	maxResponseBody = 1 << 20
)

// AllowedSigningAlgs are the ID token signature algorithms accepted: the
// asymmetric ones of RFC 7518 and EdDSA. Never "none", never HMAC (the
// client secret would then be the signing key).
var AllowedSigningAlgs = []string{
	gooidc.RS256, gooidc.RS384, gooidc.RS512,
	gooidc.PS256, gooidc.PS384, gooidc.PS512,
	gooidc.ES256, gooidc.ES384, gooidc.ES512,
	gooidc.EdDSA,
}

// Options tune New; zero values give the defaults.
type Options struct {
	// HTTPClient talks to the provider. The default has timeouts, refuses
	// redirects and bounds response bodies.
	HTTPClient *http.Client
	// Now is the clock (time.Now by default): flow age and token expiry.
	Now func() time.Time
	// Logger receives discovery failures and successes; never a secret.
	Logger *slog.Logger
	// ClockSkew tolerated on the ID token's exp and iat (default 1m, at
	// most 10m; the caller passes hcidp's clock_skew).
	ClockSkew time.Duration
	// FlowLifetime bounds the time from Begin to Finish (default 10m).
	FlowLifetime time.Duration
	// DiscoveryRetry is the least time between two discovery attempts
	// after a failure (default 5s).
	DiscoveryRetry time.Duration
}

// Provider is the upstream OpenID provider as hcidp's relying party sees
// it. It is created without network access, so hcidp starts while the
// provider is down; discovery happens at the first sign-in and is retried,
// at most once per Options.DiscoveryRetry, until it succeeds. Safe for
// concurrent use.
type Provider struct {
	cfg         Config
	redirectURL string
	client      *http.Client
	now         func() time.Time
	log         *slog.Logger
	skew        time.Duration
	lifetime    time.Duration
	retry       time.Duration

	mu      sync.Mutex
	up      *upstream
	lastTry time.Time
	lastErr *Error
}

// upstream is what discovery found.
type upstream struct {
	provider *gooidc.Provider
	oauth    oauth2.Config
	verifier *gooidc.IDTokenVerifier
	// issParam: the provider promises the iss parameter of RFC 9207.
	issParam bool
	userinfo bool
	algs     []string
}

// New makes a Provider for cfg, which must have been prepared
// (Config.Prepare). baseURL is hcidp's public URL (base_url): the redirect
// URI is baseURL + CallbackPath.
func New(cfg Config, baseURL string, opts Options) (*Provider, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("upstream oidc: base URL %q is not an absolute http(s) URL", baseURL)
	}
	p := &Provider{
		cfg: cfg, redirectURL: u.String() + CallbackPath, client: opts.HTTPClient, now: opts.Now, log: opts.Logger,
		skew: opts.ClockSkew, lifetime: opts.FlowLifetime, retry: opts.DiscoveryRetry,
	}
	if p.client == nil {
		p.client = NewHTTPClient()
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.skew == 0 {
		p.skew = DefaultClockSkew
	}
	if p.skew < 0 || p.skew > MaxClockSkew {
		return nil, fmt.Errorf("upstream oidc: clock skew %s is outside 0..%s", p.skew, MaxClockSkew)
	}
	if p.lifetime <= 0 {
		p.lifetime = DefaultFlowLifetime
	}
	if p.retry <= 0 {
		p.retry = DefaultDiscoveryRetry
	}
	return p, nil
}

// Config returns the provider's configuration (the button's display name,
// password_login, create_customers).
func (p *Provider) Config() Config { return p.cfg }

// RedirectURL is the exact redirect URI to register at the provider.
func (p *Provider) RedirectURL() string { return p.redirectURL }

// FlowLifetime is how long a Pending stays valid; the caller's cookie may
// expire with it.
func (p *Provider) FlowLifetime() time.Duration { return p.lifetime }

// NewHTTPClient is the default client for a provider: bounded in time and
// size, and it follows no redirect (a discovery document, a token or a key
// set comes from the URL asked, never from elsewhere).
func NewHTTPClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.TLSHandshakeTimeout = 5 * time.Second
	t.ResponseHeaderTimeout = 10 * time.Second
	t.MaxIdleConnsPerHost = 4
	return &http.Client{
		Timeout:   15 * time.Second,
		Transport: limitedTransport{t},
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse
		},
	}
}

// limitedTransport bounds every response body to maxResponseBody: beyond
// it the read fails instead of filling memory.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	resp.Body = &limitedBody{rc: resp.Body, left: maxResponseBody}
	return resp, nil
}

type limitedBody struct {
	rc   io.ReadCloser
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left <= 0 {
		return 0, errors.New("upstream oidc: response body too large")
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rc.Read(p)
	b.left -= int64(n)
	return n, err
}

func (b *limitedBody) Close() error { return b.rc.Close() }

// discovered returns the discovered provider, running discovery when it
// has not succeeded yet and the last attempt is older than p.retry.
func (p *Provider) discovered(ctx context.Context) (*upstream, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.up != nil {
		return p.up, nil
	}
	now := p.now()
	if p.lastErr != nil && now.Sub(p.lastTry) < p.retry && !now.Before(p.lastTry) {
		e := *p.lastErr // each caller gets its own copy
		return nil, &e
	}
	p.lastTry = now
	up, err := p.discover(ctx)
	if err != nil {
		p.lastErr = fail(ReasonDiscovery, sanitize(err.Error(), p.cfg.Secret()))
		p.log.WarnContext(ctx, "upstream oidc discovery failed", "issuer", p.cfg.Issuer, "err", p.lastErr.Detail)
		e := *p.lastErr
		return nil, &e
	}
	p.up, p.lastErr = up, nil
	p.log.InfoContext(ctx, "upstream oidc provider discovered", "issuer", p.cfg.Issuer,
		"authorization_endpoint", up.oauth.Endpoint.AuthURL, "algorithms", strings.Join(up.algs, " "))
	return up, nil
}

func (p *Provider) discover(ctx context.Context) (*upstream, error) {
	// A client that gives up does not abort discovery for the others
	// waiting on p.mu; the timeout bounds it.
	dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discoveryTimeout)
	defer cancel()
	gp, err := gooidc.NewProvider(gooidc.ClientContext(dctx, p.client), p.cfg.Issuer)
	if err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", p.cfg.Issuer, err)
	}
	var meta struct {
		AuthMethods []string `json:"token_endpoint_auth_methods_supported"`
		ISSParam    bool     `json:"authorization_response_iss_parameter_supported"`
		PKCE        []string `json:"code_challenge_methods_supported"`
		Algs        []string `json:"id_token_signing_alg_values_supported"`
		Userinfo    string   `json:"userinfo_endpoint"`
	}
	if err := gp.Claims(&meta); err != nil {
		return nil, fmt.Errorf("discovery of %s: %w", p.cfg.Issuer, err)
	}
	ep := gp.Endpoint()
	if ep.AuthURL == "" || ep.TokenURL == "" {
		return nil, fmt.Errorf("discovery of %s: the document has no authorization_endpoint or token_endpoint", p.cfg.Issuer)
	}
	// The client authenticates as the provider says it can, never by
	// trial: a first attempt with the wrong method may spend the code.
	// OpenID Connect Discovery 1.0 §3: the default is client_secret_basic.
	switch {
	case len(meta.AuthMethods) == 0 || slices.Contains(meta.AuthMethods, "client_secret_basic"):
		ep.AuthStyle = oauth2.AuthStyleInHeader
	case slices.Contains(meta.AuthMethods, "client_secret_post"):
		ep.AuthStyle = oauth2.AuthStyleInParams
	default:
		return nil, fmt.Errorf("discovery of %s: the token endpoint accepts neither client_secret_basic nor client_secret_post (it lists %s)",
			p.cfg.Issuer, strings.Join(meta.AuthMethods, ", "))
	}
	if len(meta.PKCE) > 0 && !slices.Contains(meta.PKCE, "S256") {
		return nil, fmt.Errorf("discovery of %s: the provider does not support PKCE with S256 (code_challenge_methods_supported lists %s)",
			p.cfg.Issuer, strings.Join(meta.PKCE, ", "))
	}
	algs := AllowedSigningAlgs
	if len(meta.Algs) > 0 {
		algs = nil
		for _, a := range meta.Algs {
			if slices.Contains(AllowedSigningAlgs, a) {
				algs = append(algs, a)
			}
		}
		if len(algs) == 0 {
			return nil, fmt.Errorf("discovery of %s: the provider signs ID tokens only with %s; hcidp accepts %s (configure an RS256 key at the provider)",
				p.cfg.Issuer, strings.Join(meta.Algs, ", "), strings.Join(AllowedSigningAlgs, ", "))
		}
	}
	skew := p.skew
	verifier := gp.Verifier(&gooidc.Config{
		ClientID:             p.cfg.ClientID,
		SupportedSigningAlgs: algs,
		// go-oidc refuses exp < now; the skew lets a token expire that
		// much before it is refused.
		Now: func() time.Time { return p.now().Add(-skew) },
	})
	return &upstream{
		provider: gp,
		oauth: oauth2.Config{
			ClientID: p.cfg.ClientID, ClientSecret: p.cfg.Secret(), Endpoint: ep,
			RedirectURL: p.redirectURL, Scopes: p.cfg.Scopes,
		},
		verifier: verifier,
		issParam: meta.ISSParam,
		userinfo: meta.Userinfo != "",
		algs:     algs,
	}, nil
}

// Pending is a sign-in waiting for the provider's answer. The caller keeps
// it bound to the browser that began it (hcidp: an encrypted, per-flow
// cookie) and hands it to Finish. It is small (about 200 bytes of JSON).
type Pending struct {
	// State (RFC 6749 §10.12) and Nonce (OpenID Connect Core §15.5.2):
	// 256 random bits each, base64url.
	State string `json:"s"`
	Nonce string `json:"n"`
	// Verifier is the PKCE code verifier (RFC 7636 §4.1).
	Verifier string `json:"v"`
	// Created is when Begin ran; Finish refuses a Pending older than the
	// flow lifetime.
	Created time.Time `json:"t"`
	// Flow is the caller's continuation (hcidp: the ID of the pending SSO
	// or console flow). This package never reads or sets it, and nothing
	// in the callback's query can change it.
	Flow string `json:"f,omitempty"`
}

// randomToken returns 32 random bytes, base64url without padding.
func randomToken() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}

// Begin starts a sign-in: fresh state, nonce and PKCE verifier, and the
// provider's authorization URL to send the browser to (response_type=code,
// code_challenge_method=S256, the exact redirect URI). It fails with
// oidc.discovery while the provider cannot be discovered.
func (p *Provider) Begin(ctx context.Context) (Pending, string, error) {
	up, err := p.discovered(ctx)
	if err != nil {
		return Pending{}, "", err
	}
	pend := Pending{State: randomToken(), Nonce: randomToken(), Verifier: oauth2.GenerateVerifier(), Created: p.now().UTC()}
	authURL := up.oauth.AuthCodeURL(pend.State, gooidc.Nonce(pend.Nonce), oauth2.S256ChallengeOption(pend.Verifier))
	return pend, authURL, nil
}

// callbackParams are the parameters of an authorization response (RFC 6749
// §4.1.2 and §4.1.2.1, RFC 9207); each may appear at most once. Others are
// ignored: nothing in the callback's query chooses where the browser goes
// next.
var callbackParams = []string{"state", "code", "error", "error_description", "error_uri", "iss", "session_state"}

// Finish completes a sign-in from the callback's query and the Pending the
// browser kept: the state must match, the code is exchanged with the PKCE
// verifier, the ID token verified (signature with the provider's keys,
// issuer, audience, expiry, algorithm), its nonce compared, and the claims
// mapped. Every refusal is an *Error. query is the callback URL's query
// (GET /oidc/callback; response_mode=query).
func (p *Provider) Finish(ctx context.Context, query url.Values, pend Pending) (Identity, error) {
	for _, k := range callbackParams {
		if len(query[k]) > 1 {
			return Identity{}, fail(ReasonRequest, "the callback repeats the "+k+" parameter")
		}
	}
	if pend.State == "" || pend.Nonce == "" || pend.Verifier == "" {
		return Identity{}, fail(ReasonNoFlow, "no sign-in with the provider is pending in this browser")
	}
	state := query.Get("state")
	if state == "" {
		return Identity{}, fail(ReasonRequest, "the callback has no state parameter")
	}
	if subtle.ConstantTimeCompare([]byte(state), []byte(pend.State)) != 1 {
		return Identity{}, fail(ReasonState, "the callback's state is not the one of the sign-in pending in this browser")
	}
	now := p.now()
	if now.Sub(pend.Created) > p.lifetime || pend.Created.After(now.Add(p.skew)) {
		return Identity{}, fail(ReasonExpiredFlow, fmt.Sprintf("the sign-in began more than %s ago; start again", p.lifetime))
	}
	iss := query.Get("iss")
	if iss != "" && iss != p.cfg.Issuer {
		return Identity{}, fail(ReasonIssuer, "the callback's iss parameter names another issuer: "+sanitize(iss))
	}
	if e := query.Get("error"); e != "" {
		code := errorCode(e)
		reason := ReasonProviderError
		if code == "access_denied" {
			reason = ReasonDenied
		}
		detail := "the provider answered " + code
		if d := sanitize(query.Get("error_description"), p.cfg.Secret()); d != "" {
			detail += ": " + d
		}
		return Identity{}, &Error{Reason: reason, Detail: detail, ProviderCode: code}
	}
	code := query.Get("code")
	if code == "" {
		return Identity{}, fail(ReasonRequest, "the callback has neither code nor error")
	}
	if len(code) > maxCode {
		return Identity{}, fail(ReasonRequest, "the callback's code is too long")
	}
	up, err := p.discovered(ctx)
	if err != nil {
		return Identity{}, err
	}
	if iss == "" && up.issParam {
		return Identity{}, fail(ReasonIssuer, "the provider announces the iss parameter (RFC 9207) but the callback has none")
	}
	secrets := []string{code, pend.Verifier, p.cfg.Secret()}

	ctx = context.WithValue(ctx, oauth2.HTTPClient, p.client)
	tok, err := up.oauth.Exchange(ctx, code, oauth2.VerifierOption(pend.Verifier))
	if err != nil {
		var re *oauth2.RetrieveError
		if errors.As(err, &re) {
			status := 0
			if re.Response != nil {
				status = re.Response.StatusCode
			}
			d := fmt.Sprintf("the token endpoint refused the code (HTTP %d", status)
			if re.ErrorCode != "" {
				d += ", " + errorCode(re.ErrorCode)
			}
			return Identity{}, fail(ReasonExchange, d+")")
		}
		return Identity{}, fail(ReasonExchange, "the token endpoint cannot be reached: "+sanitize(err.Error(), secrets...))
	}
	secrets = append(secrets, tok.AccessToken, tok.RefreshToken)
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return Identity{}, fail(ReasonToken, "the token response has no id_token (is openid among the scopes?)")
	}
	secrets = append(secrets, raw)

	idt, err := up.verifier.Verify(gooidc.ClientContext(ctx, p.client), raw)
	if err != nil {
		var exp *gooidc.TokenExpiredError
		if errors.As(err, &exp) {
			return Identity{}, fail(ReasonToken, fmt.Sprintf("the ID token expired at %s (clock skew allowed: %s)", exp.Expiry.UTC().Format(time.RFC3339), p.skew))
		}
		return Identity{}, fail(ReasonToken, "the ID token is not valid: "+sanitize(err.Error(), secrets...))
	}
	if err := p.checkToken(idt, now); err != nil {
		return Identity{}, err
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(pend.Nonce)) != 1 {
		return Identity{}, fail(ReasonNonce, "the ID token's nonce is not the one of the sign-in pending in this browser")
	}
	if idt.AccessTokenHash != "" && tok.AccessToken != "" {
		if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
			return Identity{}, fail(ReasonToken, "the ID token's at_hash does not match the access token")
		}
	}
	var cs claimSet
	if err := idt.Claims(&cs); err != nil {
		return Identity{}, fail(ReasonToken, "the ID token's claims are not a JSON object")
	}
	if cs.missing(&p.cfg) && up.userinfo && tok.AccessToken != "" {
		if err := p.addUserinfo(ctx, up, tok, idt.Subject, cs, secrets); err != nil {
			return Identity{}, err
		}
	}
	return mapClaims(&p.cfg, idt.Issuer, idt.Subject, cs)
}

// checkToken adds the checks go-oidc leaves to the caller: the authorized
// party (OpenID Connect Core §3.1.3.7 items 4 and 5) and an issue time not
// in the future.
func (p *Provider) checkToken(idt *gooidc.IDToken, now time.Time) error {
	var extra struct {
		AZP string `json:"azp"`
	}
	if err := idt.Claims(&extra); err != nil {
		return fail(ReasonToken, "the ID token's azp claim is not a string")
	}
	if (len(idt.Audience) > 1 || extra.AZP != "") && extra.AZP != p.cfg.ClientID {
		return fail(ReasonToken, "the ID token was issued to another party (azp is not this client)")
	}
	if idt.IssuedAt.After(now.Add(p.skew)) {
		return fail(ReasonToken, "the ID token is issued in the future: "+idt.IssuedAt.UTC().Format(time.RFC3339))
	}
	return nil
}

// addUserinfo fills the mapped claims that the ID token lacks from the
// userinfo endpoint (OpenID Connect Core §5.3), whose sub must be the ID
// token's (§5.3.4). Claims the ID token has are never replaced.
func (p *Provider) addUserinfo(ctx context.Context, up *upstream, tok *oauth2.Token, sub string, cs claimSet, secrets []string) error {
	ui, err := up.provider.UserInfo(gooidc.ClientContext(ctx, p.client), oauth2.StaticTokenSource(tok))
	if err != nil {
		return fail(ReasonUserinfo, "the userinfo endpoint failed: "+sanitize(err.Error(), secrets...))
	}
	if ui.Subject != sub {
		return fail(ReasonUserinfo, "the userinfo endpoint answered for another subject")
	}
	var more claimSet
	if err := ui.Claims(&more); err != nil {
		return fail(ReasonUserinfo, "the userinfo response is not a JSON object")
	}
	for k, v := range more {
		if _, ok := cs[k]; !ok {
			cs[k] = v
		}
	}
	return nil
}
