package portalop

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"hcidp/huawei"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/zitadel/oidc/v3/pkg/op"
)

// User is a demo portal account. The ID token and userinfo carry: sub
// (Subject), preferred_username (Username), name (Name, the full name),
// email and email_verified (Email, EmailVerified), phone_number (Mobile),
// and every entry of Claims (e.g. "xaccount_id": the portal's customer ID).
type User struct {
	Subject       string
	Username      string
	Password      string
	Email         string
	EmailVerified bool
	Name          string
	Mobile        string
	Claims        map[string]any
}

// Client is a registered relying party: a confidential web client that
// authenticates with client_secret_basic and has exactly one redirect URI.
type Client struct {
	ID          string
	Secret      string
	RedirectURI string
}

// Config of a demo provider.
type Config struct {
	// Addr is the loopback listen address (default 127.0.0.1:0).
	Addr string
	// ClientID, ClientSecret and RedirectURI register hcidp as a client.
	ClientID     string
	ClientSecret string
	RedirectURI  string
	// Clients registers more clients (tests: a second relying party).
	Clients []Client
	// Users of the portal.
	Users []User
	// Title names the portal on the login page (default "Demo Portal").
	Title string
	// IDTokenLifetime (default 5m).
	IDTokenLifetime time.Duration
	// ClaimsInUserinfoOnly leaves profile, email, phone and the extra
	// Claims out of the ID token, to be read from userinfo (as OpenID
	// Connect Core §5.4 allows when an access token is issued).
	ClaimsInUserinfoOnly bool
	// Logger, for the login page's events (op itself logs through
	// slog.Default).
	Logger *slog.Logger
	// Now is the clock of authorization requests and access tokens
	// (default time.Now). op stamps ID tokens with the real time.
	Now func() time.Time
}

// Server is a running demo provider.
type Server struct {
	issuer   string
	srv      *http.Server
	ln       net.Listener
	provider *op.Provider
	store    *store
	log      *slog.Logger
	title    string
	csrfKey  []byte
	done     chan struct{}

	hookMu    sync.Mutex
	tokenHook func(body map[string]any)
}

// Start listens on cfg.Addr and serves the provider until ctx ends or
// Close is called.
func Start(ctx context.Context, cfg Config) (*Server, error) {
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(cfg.Addr)
	if err != nil || !huawei.IsLoopbackHost(host) {
		return nil, fmt.Errorf("portalop: %q is not a loopback address (the demo provider binds 127.0.0.1, ::1 or localhost only)", cfg.Addr)
	}
	if cfg.Title == "" {
		cfg.Title = "Demo Portal"
	}
	if cfg.IDTokenLifetime <= 0 {
		cfg.IDTokenLifetime = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	clients := append([]Client{{ID: cfg.ClientID, Secret: cfg.ClientSecret, RedirectURI: cfg.RedirectURI}}, cfg.Clients...)
	st, err := newStore(cfg, clients)
	if err != nil {
		return nil, err
	}

	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("portalop: %w", err)
	}
	s := &Server{
		issuer: "http://" + ln.Addr().String(),
		ln:     ln, store: st, log: cfg.Logger, title: cfg.Title,
		csrfKey: make([]byte, 32), done: make(chan struct{}),
	}
	_, _ = rand.Read(s.csrfKey)
	st.loginURL = func(id string) string { return "/login?authRequestID=" + url.QueryEscape(id) }

	var cryptoKey [32]byte
	_, _ = rand.Read(cryptoKey[:])
	opCfg := &op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		// client_secret_basic only: the relying party must pick it from
		// discovery, not by trial.
		AuthMethodPost:        false,
		GrantTypeRefreshToken: false,
		SupportedScopes:       []string{"openid", "profile", "email", "phone"},
	}
	s.provider, err = op.NewProvider(opCfg, st, op.StaticIssuer(s.issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("portalop: %w", err)
	}

	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", s.handleLoginPage)
	mux.HandleFunc("POST /login", s.handleLogin)
	tokenPath := s.provider.TokenEndpoint().Relative()
	mux.Handle("/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == tokenPath {
			s.serveToken(w, r)
			return
		}
		s.provider.ServeHTTP(w, r)
	}))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("portalop: serve", "err", err)
		}
	}()
	go func() {
		select {
		case <-ctx.Done():
			s.Close()
		case <-s.done:
		}
	}()
	return s, nil
}

// Issuer is the provider's issuer URL (http://127.0.0.1:PORT).
func (s *Server) Issuer() string { return s.issuer }

// Close stops the server.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// randomID returns n random bytes, base64url.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// newSigningKey makes the provider's RSA key.
func newSigningKey() (*rsa.PrivateKey, error) { return rsa.GenerateKey(rand.Reader, 2048) }
