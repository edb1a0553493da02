// Package login signs partner customers in to hcidp: the password form
// (GET and POST /login), sign-out, the browser session (scs, in the
// database or Redis, created only at sign-in), the login throttle shared by
// every replica, and what an anonymous browser keeps between requests in
// signed and encrypted cookies: the CSRF token and the flows waiting for a
// sign-in (docs/threat-model.md "Browser-facing pages").
//
// The web server asks it who is signed in (SignedIn, the SAML core's
// Authenticator), hands it a flow to keep while the customer signs in
// (Begin), and is called back to continue a SAML flow afterwards.
package login

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"hcidp/upstream/oidc"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"runtime"
	"time"

	"github.com/alexedwards/scs/v2"

	"hcidp/metrics"
	"hcidp/storage"
	"hcidp/web"
)

// Config is what sign-in needs to know.
type Config struct {
	// BaseURL is the IdP's public URL: forms are accepted only from its
	// origin, and https makes every cookie Secure and __Host- prefixed.
	BaseURL *url.URL
	// SessionLifetime is a session's absolute lifetime; IdleTimeout ends
	// it earlier when unused.
	SessionLifetime time.Duration
	IdleTimeout     time.Duration
	// FormAction returns the CSP form-action of the sign-in page: its POST
	// leads, through redirects, to a site's IAM.
	FormAction func() string
	// PasswordLogin offers hcidp's own password form (upstream_oidc's
	// password_login; true without an upstream provider).
	PasswordLogin bool
}

// Continuation continues a SAML flow once its customer has signed in at
// authnInstant (the web server answers the AuthnRequest).
type Continuation func(w http.ResponseWriter, r *http.Request, f Flow, customerID string, authnInstant time.Time)

// Options are the Service's collaborators.
type Options struct {
	Store storage.Storage
	// SessionStore overrides Store as the scs session store (Redis).
	SessionStore scs.Store
	// CookieKeys are the keys of the signed and encrypted browser cookies;
	// nil reads them from Store, creating them on first use.
	CookieKeys []byte
	Pages      *web.Pages
	Metrics    *metrics.Metrics
	Logger     *slog.Logger
	// ContinueSAML answers a SAML flow after a sign-in.
	ContinueSAML Continuation
	// Upstream is the partner portal's OpenID Connect provider; nil when
	// upstream_oidc is not configured.
	Upstream *oidc.Provider
	// Now and Rand are injectable for tests; defaults time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Service signs customers in. It is safe for concurrent use.
type Service struct {
	cfg          Config
	store        storage.Storage
	sessions     *scs.SessionManager
	cookies      *browserCookies
	pages        *web.Pages
	metrics      *metrics.Metrics
	log          *slog.Logger
	now          func() time.Time
	rand         io.Reader
	continueSAML Continuation
	upstream     *oidc.Provider
	// passwordSlots bounds concurrent password checks (login.go).
	passwordSlots chan struct{}
}

// New prepares sign-in.
func New(cfg Config, o Options) (*Service, error) {
	if cfg.BaseURL == nil || o.Store == nil || o.Pages == nil || o.ContinueSAML == nil {
		return nil, errors.New("login: BaseURL, Store, Pages and ContinueSAML are required")
	}
	s := &Service{cfg: cfg, store: o.Store, pages: o.Pages, metrics: o.Metrics, log: web.Logger(o.Logger),
		now: o.Now, rand: o.Rand, continueSAML: o.ContinueSAML, upstream: o.Upstream,
		passwordSlots: make(chan struct{}, max(2, 2*runtime.GOMAXPROCS(0)))}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.cfg.FormAction == nil {
		s.cfg.FormAction = func() string { return "'self'" }
	}
	https := cfg.BaseURL.Scheme == "https"
	s.sessions = s.newSessionManager(o.SessionStore, https)
	keys := o.CookieKeys
	if keys == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		var err error
		if keys, err = cookieKeys(ctx, o.Store); err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
	}
	if len(keys) != cookieHashKeyLen+cookieBlockKeyLen {
		return nil, fmt.Errorf("login: CookieKeys must be %d bytes", cookieHashKeyLen+cookieBlockKeyLen)
	}
	s.cookies = newBrowserCookies(keys, https)
	if s.upstream != nil {
		s.cookies.oidc = newOIDCCookies(keys[:cookieHashKeyLen], keys[cookieHashKeyLen:], int(s.upstream.FlowLifetime()/time.Second))
	} else {
		s.cfg.PasswordLogin = true
	}
	return s, nil
}

// Middleware loads the browser's session (if it has one) around next and
// saves it after. A request without a session cookie costs no read.
func (s *Service) Middleware(next http.Handler) http.Handler { return s.sessions.LoadAndSave(next) }

// Mount registers the sign-in routes.
func (s *Service) Mount(mux *http.ServeMux) {
	mux.Handle("GET /login", web.Endpoint("login", http.HandlerFunc(s.handleLoginForm)))
	mux.Handle("POST /login", web.Endpoint("login", http.HandlerFunc(s.handleLogin)))
	mux.Handle("POST /logout", web.Endpoint("logout", http.HandlerFunc(s.handleLogout)))
	if s.upstream != nil {
		s.mountUpstream(mux)
	}
}

// SameOrigin reports whether a POST comes from the IdP's own pages.
func (s *Service) SameOrigin(r *http.Request) bool { return web.SameOrigin(s.cfg.BaseURL, r) }

func (s *Service) token(n int) string { return web.Token(s.rand, n) }
