// Package server is hcidp's web server: the routes and middleware, and the
// handlers of the SAML endpoints (SingleSignOnService, the bind-result
// notification, the metadata), the "Open console" link, health and
// readiness. It wires the SAML core (package idp) to sign-in (package
// login), the portal API (package portalapi) and storage. Its Config is
// filled in by package app from the configuration file.
package server

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
	"time"

	"github.com/alexedwards/scs/v2"

	"hcidp/idp"
	"hcidp/login"
	"hcidp/metrics"
	"hcidp/portalapi"
	"hcidp/storage"
	"hcidp/templates"
	"hcidp/web"
)

// Config is what the web server needs to know.
type Config struct {
	// IdP is the SAML core's configuration.
	IdP idp.Config
	// BaseURL is the public URL of this IdP, without a trailing slash.
	BaseURL string
	// XAccountType is the partner platform ID from Partner Center.
	XAccountType string
	// SessionLifetime and SessionIdleTimeout bound a browser session.
	SessionLifetime    time.Duration
	SessionIdleTimeout time.Duration
	// BindWindow is how long after an assertion for a site a bind of that
	// customer on that site is accepted (docs/profile.md §4).
	BindWindow time.Duration
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed.
	TrustedProxies web.Proxies
	// APIKey enables the portal API when not empty.
	APIKey string
	// Portal serves the demo portal page at "/" (idp demo only); otherwise
	// "/" is a plain page naming the IdP.
	Portal bool
	// PasswordLogin offers the password form (upstream_oidc.password_login;
	// always on without an upstream provider).
	PasswordLogin bool
}

// Options are the server's collaborators.
type Options struct {
	Store storage.Storage
	// Trust is what the SAML core trusts and signs with at start.
	Trust   idp.Trust
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Templates defaults to the embedded pages.
	Templates *templates.Renderer
	// SessionStore overrides the database as the session store (Redis).
	SessionStore scs.Store
	// CookieKeys are the browser cookies' keys (login.Options.CookieKeys).
	CookieKeys []byte
	// Upstream is the partner portal's OpenID Connect provider, or nil.
	Upstream *oidc.Provider
	// Now and Rand are injectable for tests; defaults time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// Server is the IdP's HTTP side.
type Server struct {
	cfg     Config
	idp     *idp.IdP
	login   *login.Service
	api     *portalapi.API
	store   storage.Storage
	pages   *web.Pages
	metrics *metrics.Metrics
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	https   bool
}

// New wires the server.
func New(cfg Config, o Options) (*Server, error) {
	if o.Store == nil {
		return nil, errors.New("server: a Store is required")
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || base.Host == "" {
		return nil, fmt.Errorf("server: base_url %q is not an absolute URL", cfg.BaseURL)
	}
	s := &Server{cfg: cfg, store: o.Store, metrics: o.Metrics, log: web.Logger(o.Logger), now: o.Now, rand: o.Rand,
		https: base.Scheme == "https"}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	tmpl := o.Templates
	if tmpl == nil {
		if tmpl, err = templates.New(""); err != nil {
			return nil, err
		}
	}
	s.pages = web.NewPages(tmpl, s.log, s.rand, o.Metrics.Refused)
	s.login, err = login.New(login.Config{BaseURL: base, SessionLifetime: cfg.SessionLifetime, IdleTimeout: cfg.SessionIdleTimeout,
		FormAction: s.navFormAction, PasswordLogin: cfg.PasswordLogin},
		login.Options{Store: o.Store, SessionStore: o.SessionStore, CookieKeys: o.CookieKeys, Pages: s.pages, Metrics: o.Metrics,
			Logger: s.log, ContinueSAML: s.continueSAML, Upstream: o.Upstream, Now: s.now, Rand: s.rand})
	if err != nil {
		return nil, err
	}
	s.idp, err = idp.New(cfg.IdP, o.Trust, idp.Options{Auth: s.login, Ledger: ledger{o.Store}, Directory: directory{o.Store},
		ClientAddr: web.ClientAddr, Logger: s.log, Now: s.now, Rand: s.rand})
	if err != nil {
		return nil, err
	}
	s.api = portalapi.New(portalapi.Config{BaseURL: cfg.BaseURL, APIKey: cfg.APIKey},
		portalapi.Options{Store: o.Store, Sites: s.idp, Login: s.login, Pages: s.pages, Metrics: o.Metrics, Logger: s.log,
			FormAction: s.navFormAction, Now: s.now, Rand: s.rand})
	return s, nil
}

// IdP returns the SAML core.
func (s *Server) IdP() *idp.IdP { return s.idp }

// Reload replaces what the SAML core trusts and signs with (SIGHUP).
func (s *Server) Reload(t idp.Trust) error { return s.idp.Reload(t) }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /saml/metadata", s.handleMetadata)
	mux.Handle("GET /saml/sso", web.Endpoint("sso", http.HandlerFunc(s.handleSSO)))
	mux.Handle("/saml/bind", web.Endpoint("bind", http.HandlerFunc(s.handleBind))) // GET and POST: bind.go
	mux.Handle("/saml/bind/result", web.Endpoint("bind_result", http.HandlerFunc(s.handleBindResult)))
	mux.Handle("GET /console", web.Endpoint("console", http.HandlerFunc(s.handleConsole)))
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /{$}", s.handleHome)
	s.login.Mount(mux)
	s.api.Mount(mux) // /api/v1/ (portal hand-off API) and /launch
	return web.RequestContext(s.cfg.TrustedProxies, s.rand, web.SecurityHeaders(s.https, s.login.Middleware(mux)))
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `inline; filename="IDP Metadata.xml"`)
	w.Write(s.idp.Metadata())
}

// handleHealth answers 200 while the process is alive and the database
// answers.
func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ping(ctx); err != nil {
		s.log.ErrorContext(ctx, "health check: database unreachable", "err", err)
		w.Header().Set("Retry-After", web.RetryAfterUnavailable)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// handleHome is "/": with Portal set (idp demo) the demo portal's "Open
// Huawei Cloud console" button; otherwise a plain page naming the IdP and
// where a customer starts (their partner portal).
func (s *Server) handleHome(w http.ResponseWriter, r *http.Request) {
	id, _ := s.login.SignedIn(r)
	p := s.pages.Page(w, r, s.navFormAction())
	if !s.cfg.Portal {
		s.pages.T.Home(w, templates.HomeData{Page: p, Customer: id})
		return
	}
	names := make([]string, 0, len(s.idp.SPs()))
	for _, sp := range s.idp.SPs() {
		names = append(names, sp.Site)
	}
	s.pages.T.Portal(w, templates.PortalData{Page: p, Customer: id, Sites: names, ConsoleTo: "/console"})
}

// refuse answers a refusal of the SAML core.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, ref *idp.Refusal) {
	s.pages.Refuse(w, r, ref.Status, ref.Reason, ref.Detail)
}

// getOnly refuses methods other than GET with 405. Go's GET patterns also
// match HEAD, and a prefetcher's HEAD must not spend a request ID, mint an
// assertion nobody receives, or record a bind event.
func (s *Server) getOnly(w http.ResponseWriter, r *http.Request, reason string) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	s.pages.Refuse(w, r, http.StatusMethodNotAllowed, reason, r.Method+" is not allowed")
	return false
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
