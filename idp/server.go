// Package idp is the SAML identity provider: it verifies Huawei IAM's
// HTTP-Redirect AuthnRequests, signs customers in, builds and signs the
// Response of PROFILE.md §3 and posts it to the SP, builds the "Open console"
// link and records bind-result callbacks.
//
// The request path reads as a sequence (sso.go): parse query -> verify
// signature -> inflate -> pre-scan -> unmarshal -> validate -> replay cache
// -> authenticate -> build and sign -> post.
package idp

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/v2"

	"hcidp/config"
	"hcidp/huawei"
	"hcidp/metadata"
	"hcidp/metrics"
	"hcidp/storage"
	"hcidp/templates"
)

// ServiceProvider is one trusted Huawei Cloud site: its verified SP metadata
// and where its "Open console" link goes.
type ServiceProvider struct {
	Site    string
	Meta    *metadata.SP
	Console huawei.Console
	// AllowExpiredCertificate is the site's allow_expired_certificate
	// override: its signing keys verify requests after their certificates'
	// NotAfter (or before NotBefore), and the replica stays ready.
	AllowExpiredCertificate bool
}

// NewServiceProvider combines verified metadata with the site's URLs;
// authURL and consoleURL override the site table (tests, the demo).
func NewServiceProvider(site string, meta *metadata.SP, authURL, consoleURL string) (*ServiceProvider, error) {
	s, ok := huawei.LookupSite(site)
	if !ok {
		return nil, fmt.Errorf("unknown site %q", site)
	}
	c, err := huawei.NewConsole(s, authURL, consoleURL)
	if err != nil {
		return nil, err
	}
	return &ServiceProvider{Site: site, Meta: meta, Console: c}, nil
}

// Options configure a Server.
type Options struct {
	Config *config.Config
	Store  storage.Storage
	// Key material: the signing certificate is published in the metadata.
	Signer *Signer
	Cert   *x509.Certificate
	// NextCert, when set, is published too (key rollover).
	NextCert *x509.Certificate
	SPs      []*ServiceProvider
	Logger   *slog.Logger
	// Now and Rand are injectable for tests; defaults time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
	// Templates defaults to the embedded pages.
	Templates *templates.Renderer
	// Metrics may be nil (no metrics).
	Metrics *metrics.Metrics
	// SessionStore overrides the database as the scs session store (Redis).
	SessionStore scs.Store
	// CookieKeys are the keys of the signed and encrypted browser cookies
	// (browser.go); nil reads them from Store, creating them on first use.
	CookieKeys []byte
}

// Server is the IdP's HTTP side.
type Server struct {
	cfg     *config.Config
	store   storage.Storage
	trusted atomic.Pointer[trust]
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
	pages   *templates.Renderer
	metrics *metrics.Metrics
	proxies []*net.IPNet
	// passwordSlots bounds concurrent password checks (login.go).
	passwordSlots chan struct{}
	sessions      *scs.SessionManager
	cookies       *browserCookies
	ssoURL        string
	baseURL       *url.URL
	https         bool
}

// New validates the options and prepares the server.
func New(o Options) (*Server, error) {
	if o.Config == nil || o.Store == nil || o.Signer == nil || o.Cert == nil {
		return nil, errors.New("idp: Config, Store, Signer and Cert are required")
	}
	if len(o.SPs) == 0 {
		return nil, errors.New("idp: at least one service provider is required")
	}
	s := &Server{cfg: o.Config, store: o.Store, log: o.Logger, now: o.Now, rand: o.Rand, pages: o.Templates, metrics: o.Metrics}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s.log = slog.New(contextHandler{s.log.Handler()})
	s.passwordSlots = make(chan struct{}, max(2, 2*runtime.GOMAXPROCS(0)))
	for _, p := range o.Config.TrustedProxies {
		n, err := config.ParseNet(p)
		if err != nil {
			return nil, fmt.Errorf("idp: trusted_proxies: %w", err)
		}
		s.proxies = append(s.proxies, n)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.rand == nil {
		s.rand = rand.Reader
	}
	if s.pages == nil {
		p, err := templates.New("")
		if err != nil {
			return nil, err
		}
		s.pages = p
	}
	u, err := url.Parse(o.Config.BaseURL)
	if err != nil {
		return nil, fmt.Errorf("idp: base_url: %w", err)
	}
	s.baseURL = u
	s.https = u.Scheme == "https"
	s.ssoURL = SSOURL(o.Config)
	if err := s.Reload(o.SPs, o.Signer, o.Cert, o.NextCert); err != nil {
		return nil, err
	}
	s.sessions = s.newSessionManager(o.SessionStore)
	keys := o.CookieKeys
	if keys == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if keys, err = cookieKeys(ctx, o.Store); err != nil {
			return nil, fmt.Errorf("idp: %w", err)
		}
	}
	if len(keys) != cookieHashKeyLen+cookieBlockKeyLen {
		return nil, fmt.Errorf("idp: CookieKeys must be %d bytes", cookieHashKeyLen+cookieBlockKeyLen)
	}
	s.cookies = newBrowserCookies(keys, s.https)
	return s, nil
}

// SSOURL is the SingleSignOnService location for cfg.
func SSOURL(cfg *config.Config) string { return cfg.BaseURL + "/saml/sso" }

// BuildMetadata renders the IdP metadata for cfg: what GET /saml/metadata
// serves and `idp metadata` prints. certs are the current signing
// certificate, then the next one during a rollover.
func BuildMetadata(cfg *config.Config, certs ...*x509.Certificate) ([]byte, error) {
	return metadata.IdPMetadata(metadata.IdPConfig{EntityID: cfg.EntityID, SSOURL: SSOURL(cfg), SigningCerts: certs})
}

// Metadata returns the IdP metadata document (the "IDP Metadata.xml").
func (s *Server) Metadata() []byte { return s.trust().metadata }

// SSOURL is the SingleSignOnService location.
func (s *Server) SSOURL() string { return s.ssoURL }

// Handler returns the HTTP handler with every route.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /saml/metadata", s.handleMetadata)
	mux.HandleFunc("GET /saml/sso", s.handleSSO)
	mux.HandleFunc("/saml/bind", s.handleBind) // GET and POST: bind.go
	mux.HandleFunc("/saml/bind/result", s.handleBindResult)
	mux.HandleFunc("GET /login", s.handleLoginForm)
	mux.HandleFunc("POST /login", s.handleLogin)
	mux.HandleFunc("POST /logout", s.handleLogout)
	mux.HandleFunc("GET /console", s.handleConsole)
	mux.HandleFunc("GET /healthz", s.handleHealth)
	mux.HandleFunc("GET /readyz", s.handleReady)
	mux.HandleFunc("GET /{$}", s.handleHome)
	s.mountAPI(mux) // /api/v1/ (portal hand-off API) and GET /launch: api.go
	return s.requestContext(s.securityHeaders(s.sessions.LoadAndSave(mux)))
}

func (s *Server) handleMetadata(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/samlmetadata+xml")
	w.Header().Set("Content-Disposition", `inline; filename="IDP Metadata.xml"`)
	w.Write(s.trust().metadata)
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	if err := s.store.Ping(ctx); err != nil {
		s.log.ErrorContext(ctx, "health check: database unreachable", "err", err)
		w.Header().Set("Retry-After", retryAfterUnavailable)
		http.Error(w, "database unreachable", http.StatusServiceUnavailable)
		return
	}
	io.WriteString(w, "ok\n")
}

// securityHeaders sets the headers every page carries (SECURITY.md
// "Browser-facing pages"); pages with inline style or script add a nonce.
func (s *Server) securityHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("X-Content-Type-Options", "nosniff")
		// same-origin, not no-referrer: with no-referrer browsers send "Origin: null"
		// on same-origin form POSTs, which the login Origin check must refuse.
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'")
		if s.https {
			h.Set("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
		}
		next.ServeHTTP(w, r)
	})
}

// page prepares the common page data with a fresh CSP nonce and sets the CSP.
func (s *Server) page(w http.ResponseWriter, r *http.Request, formAction string) templates.Page {
	var b [16]byte
	io.ReadFull(s.rand, b[:])
	nonce := base64.RawStdEncoding.EncodeToString(b[:])
	if formAction == "" {
		formAction = "'self'"
	}
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'nonce-"+nonce+"'; script-src 'nonce-"+nonce+
		"'; form-action "+formAction+"; frame-ancestors 'none'; base-uri 'none'")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	lang := templates.Lang(r.Header.Get("Accept-Language"))
	return templates.Page{Lang: lang, L: templates.Messages(lang), Nonce: nonce}
}

// getOnly refuses methods other than GET with 405. Go's GET patterns also
// match HEAD, and a prefetcher's HEAD must not spend a request ID, mint an
// assertion nobody receives, or record a bind event.
func (s *Server) getOnly(w http.ResponseWriter, r *http.Request, reason string) bool {
	if r.Method == http.MethodGet {
		return true
	}
	w.Header().Set("Allow", http.MethodGet)
	s.refuse(w, r, refuse(http.StatusMethodNotAllowed, reason, r.Method+" is not allowed"))
	return false
}

// refuse answers a Refusal: the status, a generic page, the reason in the log.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, ref *Refusal) {
	s.logRefusal(r, ref)
	s.countRefusal(r, ref.Reason)
	s.refusalPage(w, r, ref, "")
}

// logRefusal logs a refused request with its reason code, plus attrs.
func (s *Server) logRefusal(r *http.Request, ref *Refusal, attrs ...any) {
	s.log.WarnContext(r.Context(), "request refused", append([]any{"status", ref.Status, "reason", ref.Reason, "detail", ref.Detail,
		"path", r.URL.Path, "client", clientAddr(r)}, attrs...)...)
}

// refusalPage writes the refusal page; body is the message key of its
// explanation ("" = the generic one).
func (s *Server) refusalPage(w http.ResponseWriter, r *http.Request, ref *Refusal, body string) {
	p := s.page(w, r, "")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(ref.Status)
	s.pages.Error(w, templates.ErrorData{Page: p, Status: ref.Status, Reason: ref.Reason, Body: body})
}

// retryAfterUnavailable is the Retry-After of a 503: a database restart or
// fail-over takes seconds.
const retryAfterUnavailable = "5"

// unavailable answers a fault of ours that is not a bug (the database or the
// session store does not answer): 503 with Retry-After and a clear page,
// logged with the reason code "<what>.unavailable". Nothing of the request
// was acted on, so the client may simply retry.
func (s *Server) unavailable(w http.ResponseWriter, r *http.Request, what string, err error) {
	reason := what + ".unavailable"
	s.log.ErrorContext(r.Context(), "service unavailable", "reason", reason, "err", err, "path", r.URL.Path)
	s.countRefusal(r, reason)
	p := s.page(w, r, "")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("Retry-After", retryAfterUnavailable)
	w.WriteHeader(http.StatusServiceUnavailable)
	s.pages.Error(w, templates.ErrorData{Page: p, Status: http.StatusServiceUnavailable, Reason: reason})
}

// internalError is for bugs only (a Response that cannot be built); a fault
// of a dependency is unavailable, bad input is refuse.
func (s *Server) internalError(w http.ResponseWriter, r *http.Request, msg string, err error) {
	s.log.ErrorContext(r.Context(), msg, "err", err, "path", r.URL.Path)
	p := s.page(w, r, "")
	w.WriteHeader(http.StatusInternalServerError)
	s.pages.Error(w, templates.ErrorData{Page: p, Status: 500, Reason: "internal"})
}

// countRefusal counts a refused or failed request in the metric of its endpoint.
func (s *Server) countRefusal(r *http.Request, reason string) {
	switch r.URL.Path {
	case "/saml/sso":
		s.metrics.SSO("refused", reason)
	case "/saml/bind":
		s.metrics.Bind("refused", reason, "")
	case "/login":
		s.metrics.Login("refused")
	case "/launch":
		s.metrics.Launch("refused")
	}
}

func (s *Server) newID() string {
	id, err := randomID(s.rand)
	if err != nil {
		panic(fmt.Sprintf("idp: random source failed: %v", err))
	}
	return id
}
