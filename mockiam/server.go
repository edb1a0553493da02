package mockiam

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"hcidp/check"
)

// Paths served by the mock, relative to Config.BaseURL.
const (
	PathMetadata = "/authui/saml/metadata.xml"
	PathLogin    = "/authui/saml/login"
	PathACS      = "/authui/saml/SAMLAssertionConsumer"
	PathBind     = "/authui/saml/bind"
	PathUnbind   = "/authui/saml/unbind"
	PathLast     = "/authui/saml/last"
	PathConsole  = "/console"
)

const (
	stateTTL      = 10 * time.Minute
	pendingTTL    = 15 * time.Minute
	sessionTTL    = 8 * time.Hour
	maxFormBytes  = 4 << 20
	maxServiceLen = 2048
)

// Sites the mock can play.
var sites = map[string]bool{"cn": true, "intl": true, "eu": true}

// Config configures a mock IAM.
type Config struct {
	// Site is cn, intl or eu; it only changes the labels.
	Site string
	// BaseURL is the mock's own public base, e.g. http://127.0.0.1:PORT, no trailing slash.
	BaseURL string
	// XAccountType is the partner platform ID that /authui/saml/login accepts.
	XAccountType string
	// BpID is the partner ID the Responses must carry ("" = not checked).
	BpID string
	// Key signs AuthnRequests, the metadata and bind callbacks.
	Key *rsa.PrivateKey
	// Cert is the certificate of Key, published as the signing key.
	Cert *x509.Certificate
	// EncryptionCert is published as the encryption key; nil means Cert.
	EncryptionCert *x509.Certificate
	// IdPEntityID, IdPSSOURL, IdPCerts and BindCallbackURL (the partner's
	// Notification URL, the IdP's /saml/bind) describe the IdP; they may be
	// set later with SetIdP.
	IdPEntityID     string
	IdPSSOURL       string
	IdPCerts        []*x509.Certificate
	BindCallbackURL string
	// BindConvention is what the notification's Signature is made over:
	// ConventionValue (default) or ConventionQuery.
	BindConvention string
	// BindByGET sends the notification as a GET redirect instead of the
	// documented auto-submitting form POST (tests).
	BindByGET bool
	// StateFile, when set, keeps the bindings across restarts: a small JSON
	// file, written atomically (the demo keeps it in its data directory).
	StateFile string
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger receives one line per event, with the site; the caller labels
	// the component (e.g. Logger.With("component", "mock-iam")). Nil
	// discards.
	Logger *slog.Logger
}

// Server is a mock Huawei Cloud IAM. Create it with New.
type Server struct {
	cfg        Config
	log        *slog.Logger
	now        func() time.Time
	entityID   string
	acsURL     string
	cookieName string
	secure     bool

	metadataSigned   []byte
	metadataUnsigned []byte

	mu        sync.Mutex
	idp       idpInfo
	states    map[string]*loginState     // RelayState -> login in progress
	issued    map[string]time.Time       // AuthnRequest ID -> issue time
	seenResp  map[string]bool            // Response IDs accepted
	seenIRT   map[string]bool            // InResponseTo values accepted
	pending   map[string]*pendingBind    // pending id -> "create and bind" page
	sessions  map[string]*consoleSession // cookie value -> console session
	bindings  map[string]binding         // xAccountId -> Huawei account
	last      *Outcome
	lastCheck *check.Result
}

type idpInfo struct {
	entityID, ssoURL, bindURL string
	certs                     []*x509.Certificate
}

type loginState struct {
	requestID  string
	service    string
	firstLogin bool
	expires    time.Time
}

type pendingBind struct {
	csrf       string
	xAccountID string
	xUserID    string
	attributes map[string]string
	service    string
	expires    time.Time
}

type consoleSession struct {
	csrf       string // the console's "Unbind" form token
	xAccountID string
	domainName string
	attributes map[string]string
	service    string
	expires    time.Time
}

type binding struct {
	DomainID   string `json:"domainId"`
	DomainName string `json:"domainName"`
}

// Outcome is what the ACS decided about the last Response it received.
type Outcome struct {
	Accepted    bool              `json:"accepted"`
	Reason      string            `json:"reason,omitempty"`
	Findings    []check.Finding   `json:"findings"`
	Attributes  map[string]string `json:"attributes"`
	ResponseID  string            `json:"responseId,omitempty"`
	ResponseXML string            `json:"responseXml,omitempty"`
	Bound       bool              `json:"bound"`
	At          time.Time         `json:"at"`
}

// New validates cfg and returns a mock IAM. The metadata is built and signed here.
func New(cfg Config) (*Server, error) {
	if !sites[cfg.Site] {
		return nil, fmt.Errorf("mockiam: site %q: expected cn, intl or eu", cfg.Site)
	}
	u, err := url.Parse(cfg.BaseURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("mockiam: BaseURL %q: expected an absolute http(s) URL", cfg.BaseURL)
	}
	if strings.HasSuffix(cfg.BaseURL, "/") {
		return nil, fmt.Errorf("mockiam: BaseURL %q must not end with a slash", cfg.BaseURL)
	}
	if cfg.XAccountType == "" {
		return nil, errors.New("mockiam: XAccountType is required")
	}
	if cfg.Key == nil || cfg.Cert == nil {
		return nil, errors.New("mockiam: Key and Cert are required")
	}
	if pub, ok := cfg.Cert.PublicKey.(*rsa.PublicKey); !ok || !pub.Equal(&cfg.Key.PublicKey) {
		return nil, errors.New("mockiam: Cert does not belong to Key")
	}
	if cfg.EncryptionCert == nil {
		cfg.EncryptionCert = cfg.Cert
	}
	if cfg.BindCallbackURL != "" {
		if _, err := callbackOrigin(cfg.BindCallbackURL); err != nil {
			return nil, err
		}
	}
	switch cfg.BindConvention {
	case "":
		cfg.BindConvention = ConventionValue
	case ConventionValue, ConventionQuery:
	default:
		return nil, fmt.Errorf("mockiam: BindConvention %q: expected %q or %q", cfg.BindConvention, ConventionValue, ConventionQuery)
	}
	s := &Server{
		cfg:        cfg,
		log:        cfg.Logger,
		now:        cfg.Now,
		entityID:   cfg.BaseURL + "/",
		acsURL:     cfg.BaseURL + PathACS,
		cookieName: "mockiam_console_" + cfg.Site,
		secure:     u.Scheme == "https",
		idp: idpInfo{
			entityID: cfg.IdPEntityID,
			ssoURL:   cfg.IdPSSOURL,
			bindURL:  cfg.BindCallbackURL,
			certs:    cfg.IdPCerts,
		},
		states:   map[string]*loginState{},
		issued:   map[string]time.Time{},
		seenResp: map[string]bool{},
		seenIRT:  map[string]bool{},
		pending:  map[string]*pendingBind{},
		sessions: map[string]*consoleSession{},
		bindings: map[string]binding{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	// The caller names the component (the demo says "mock-iam"): adding it
	// here too wrote the key twice in one JSON line.
	s.log = s.log.With("site", cfg.Site)
	if s.now == nil {
		s.now = time.Now
	}
	if err := s.buildMetadata(); err != nil {
		return nil, err
	}
	if err := s.loadState(); err != nil {
		return nil, err
	}
	return s, nil
}

// SetIdP wires the IdP after both listeners exist. bindURL is the IdP's
// Notification URL ({base_url}/saml/bind).
func (s *Server) SetIdP(entityID, ssoURL, bindURL string, certs []*x509.Certificate) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.idp = idpInfo{entityID: entityID, ssoURL: ssoURL, bindURL: bindURL, certs: append([]*x509.Certificate(nil), certs...)}
}

func (s *Server) idpSnapshot() idpInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.idp
}

// EntityID returns the SP entityID: BaseURL + "/".
func (s *Server) EntityID() string { return s.entityID }

// ACSURL returns the AssertionConsumerService URL.
func (s *Server) ACSURL() string { return s.acsURL }

// Handler returns the HTTP handler of the mock.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET "+PathMetadata, s.handleMetadata)
	mux.HandleFunc("GET "+PathLogin, s.handleLogin)
	mux.HandleFunc("POST "+PathACS, s.handleACS)
	mux.HandleFunc("POST "+PathBind, s.handleBind)
	mux.HandleFunc("POST "+PathUnbind, s.handleUnbind)
	mux.HandleFunc("GET "+PathConsole, s.handleConsole)
	mux.HandleFunc("GET "+PathConsole+"/", s.handleConsole) // a service under the console (/console/ecs)
	mux.HandleFunc("GET "+PathLast, s.handleLast)
	return s.secureHeaders(mux)
}

func (s *Server) secureHeaders(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action "+s.formAction()+"; frame-ancestors 'none'; base-uri 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("Cache-Control", "no-store")
		next.ServeHTTP(w, r)
	})
}

// formAction is the CSP form-action of the mock's pages: its own forms and
// the IdP's Notification URL.
func (s *Server) formAction() string {
	fa := "'self'"
	if origin, err := callbackOrigin(s.idpSnapshot().bindURL); err == nil && origin != "" {
		fa += " " + origin
	}
	return fa
}

// callbackOrigin returns scheme://host of an absolute URL ("" for "").
func callbackOrigin(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("mockiam: bind callback URL %q: expected an absolute http(s) URL", raw)
	}
	return u.Scheme + "://" + u.Host, nil
}

// Bindings returns a copy of the bindings: xAccountId -> Huawei domainId.
func (s *Server) Bindings() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.bindings))
	for k, b := range s.bindings {
		out[k] = b.DomainID
	}
	return out
}

// MarkBound records that xAccountID is bound to a Huawei account, so that the
// next login goes straight to the console (kept in StateFile when set).
func (s *Server) MarkBound(xAccountID, domainID, domainName string) error {
	return s.setBinding(xAccountID, &binding{DomainID: domainID, DomainName: domainName})
}

// LastResult returns the check result of the last Response the ACS validated
// (nil if none). It is not updated for POSTs refused before validation.
func (s *Server) LastResult() *check.Result {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.lastCheck
}

// LastOutcome returns a copy of the last ACS outcome (nil if none).
func (s *Server) LastOutcome() *Outcome {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return nil
	}
	o := *s.last
	return &o
}

// randomHex returns n random bytes as hex.
func randomHex(n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic("mockiam: crypto/rand failed: " + err.Error()) // crypto/rand never fails on supported platforms
	}
	return hex.EncodeToString(b)
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

// randomAlnum returns n random lower-case letters and digits (uniform:
// bytes >= 252 are rejected to avoid modulo bias).
func randomAlnum(n int) string {
	out := make([]byte, 0, n)
	buf := make([]byte, 2*n)
	for len(out) < n {
		if _, err := rand.Read(buf); err != nil {
			panic("mockiam: crypto/rand failed: " + err.Error())
		}
		for _, c := range buf {
			if c < 252 && len(out) < n {
				out = append(out, alnum[int(c)%len(alnum)])
			}
		}
	}
	return string(out)
}

// pruneLocked drops expired entries. s.mu must be held.
func (s *Server) pruneLocked(now time.Time) {
	for k, st := range s.states {
		if now.After(st.expires) {
			delete(s.states, k)
		}
	}
	for k, p := range s.pending {
		if now.After(p.expires) {
			delete(s.pending, k)
		}
	}
	for k, c := range s.sessions {
		if now.After(c.expires) {
			delete(s.sessions, k)
		}
	}
	for k, t := range s.issued {
		if now.Sub(t) > stateTTL {
			delete(s.issued, k)
		}
	}
}
