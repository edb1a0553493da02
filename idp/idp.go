// Package idp is the SAML 2.0 core of hcidp: it verifies Huawei IAM's
// HTTP-Redirect AuthnRequests, answers them with the Response of
// docs/profile.md §3 (an enveloped-signed Assertion written directly in
// canonical form), and verifies the redirect-binding signatures of the
// bind-result notification. It knows nothing of HTTP routes, pages,
// sessions or the configuration file: the web server (package server) fills
// in its Config and gives it three narrow seams:
//
//   - an Authenticator, which says who is signed in and since when (the
//     core never builds login URLs: when nobody is, ServeSSO says so and
//     the web layer signs the customer in, then calls Answer);
//   - a Ledger, the replay cache and audit log shared by every replica;
//   - a Directory, which turns a customer ID into the assertion's subject.
//
// The request path reads as a sequence (ServeSSO): parse the query ->
// verify the signature -> inflate -> untrusted-XML guard -> unmarshal ->
// semantic checks -> replay cache -> authenticate -> build and sign.
package idp

import (
	"context"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync/atomic"
	"time"

	"hcidp/huawei"
	"hcidp/metadata"
)

// Config is what the core needs to know; the web server fills it in from
// the configuration file.
type Config struct {
	// EntityID is the IdP's entityID; SSOURL its SingleSignOnService
	// location, which an AuthnRequest's Destination must equal exactly.
	EntityID string
	SSOURL   string
	// BpID is the partner ID sent as the bpId attribute.
	BpID string
	// ClockSkew bounds clock differences both ways; RequestLifetime how old
	// an AuthnRequest's IssueInstant may be; AssertionLifetime the
	// assertion's validity.
	ClockSkew         time.Duration
	RequestLifetime   time.Duration
	AssertionLifetime time.Duration
	// AllowSHA1 accepts rsa-sha1 request signatures.
	AllowSHA1 bool
}

// Subject is whom an assertion is about: the customer's IDs and the
// optional attributes of docs/profile.md §3.
type Subject struct {
	XAccountID string
	Email      string
	Name       string
	Mobile     string
}

// ErrNoSubject is returned by a Directory for a customer that does not
// exist or is disabled: no assertion is issued for them.
var ErrNoSubject = errors.New("idp: no such active customer")

// ErrReplayed is returned by a Ledger when a request ID is already in the
// replay cache and unexpired.
var ErrReplayed = errors.New("idp: request ID already used")

// Authenticator says who is signed in for r, and when they signed in
// ("" when nobody is).
type Authenticator interface {
	SignedIn(r *http.Request) (customerID string, authnInstant time.Time)
}

// ReplayEntry is one replay-cache entry: the ID of an AuthnRequest from
// Issuer, refused again until Expires.
type ReplayEntry struct {
	Issuer  string
	ID      string
	Expires time.Time
}

// Record is the audit record of one answer (an assertion or a SAML error
// Response), never the assertion itself.
type Record struct {
	Time        time.Time
	Kind        string // "response" or "error_response"
	XAccountID  string
	Site        string
	RequestID   string
	AssertionID string
	ClientAddr  string
	Outcome     string
}

// Ledger is the replay cache shared by every replica and the audit log
// (docs/threat-model.md "Order of checks" step 8 and "Operations").
type Ledger interface {
	// Remember enters e into the replay cache: ErrReplayed when it is
	// there already (a request that starts waiting for a sign-in).
	Remember(ctx context.Context, e ReplayEntry) error
	// Record commits the audit record of an answer together with the
	// request's replay entry (nil when remembered before), atomically and
	// before the Response leaves: ErrReplayed, and nothing written, when
	// the entry is taken.
	Record(ctx context.Context, e *ReplayEntry, rec Record) error
}

// Directory finds the subject of an assertion: ErrNoSubject for a customer
// that does not exist or is disabled; any other error is a fault of the
// store.
type Directory interface {
	Subject(ctx context.Context, customerID string) (Subject, error)
}

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

// Options are the core's collaborators.
type Options struct {
	Auth      Authenticator
	Ledger    Ledger
	Directory Directory
	// ClientAddr returns the client address of a request for the audit
	// log (default: the peer address).
	ClientAddr func(*http.Request) string
	Logger     *slog.Logger
	// Now and Rand are injectable for tests; defaults time.Now and crypto/rand.
	Now  func() time.Time
	Rand io.Reader
}

// IdP is the SAML core. It is safe for concurrent use; Reload swaps what it
// trusts and signs with atomically.
type IdP struct {
	cfg     Config
	trusted atomic.Pointer[trust]
	auth    Authenticator
	ledger  Ledger
	dir     Directory
	client  func(*http.Request) string
	log     *slog.Logger
	now     func() time.Time
	rand    io.Reader
}

// Trust is what the core trusts and signs with: the SPs, the signer and
// the certificates it publishes (current, then the next one during a key
// rollover).
type Trust struct {
	SPs    []*ServiceProvider
	Signer *Signer
	Cert   *x509.Certificate
	Next   *x509.Certificate
}

// New returns the core for cfg, trusting t.
func New(cfg Config, t Trust, o Options) (*IdP, error) {
	if o.Auth == nil || o.Ledger == nil || o.Directory == nil {
		return nil, errors.New("idp: an Authenticator, a Ledger and a Directory are required")
	}
	p := &IdP{cfg: cfg, auth: o.Auth, ledger: o.Ledger, dir: o.Directory, client: o.ClientAddr, log: o.Logger, now: o.Now, rand: o.Rand}
	if p.client == nil {
		p.client = func(r *http.Request) string { return r.RemoteAddr }
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.now == nil {
		p.now = time.Now
	}
	if p.rand == nil {
		p.rand = rand.Reader
	}
	if err := p.Reload(t); err != nil {
		return nil, err
	}
	return p, nil
}

// Config returns the core's configuration.
func (p *IdP) Config() Config { return p.cfg }

// Metadata returns the IdP metadata document (the "IDP Metadata.xml").
func (p *IdP) Metadata() []byte { return p.trust().metadata }

// SPs returns the trusted service providers, in configuration order.
func (p *IdP) SPs() []*ServiceProvider { return p.trust().sps }

// SPBySite returns the trusted SP of site, or nil.
func (p *IdP) SPBySite(site string) *ServiceProvider { return p.trust().bySite[site] }

// Certificates returns the published signing certificates: current, then next.
func (p *IdP) Certificates() []*x509.Certificate { return p.trust().certs }

// BuildMetadata renders the IdP metadata: what GET /saml/metadata serves
// and `idp metadata` prints. certs are the current signing certificate,
// then the next one during a rollover.
func BuildMetadata(entityID, ssoURL string, certs ...*x509.Certificate) ([]byte, error) {
	return metadata.IdPMetadata(metadata.IdPConfig{EntityID: entityID, SSOURL: ssoURL, SigningCerts: certs})
}

func (p *IdP) newID() string {
	id, err := randomID(p.rand)
	if err != nil {
		panic(fmt.Sprintf("idp: random source failed: %v", err))
	}
	return id
}
