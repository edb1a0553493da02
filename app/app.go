// Package app wires a configuration into a running IdP: it opens the
// database, loads keys and SP metadata, fills in the web server's Config
// (and the SAML core's) from the configuration file, builds the
// server.Server and serves it
// with TLS (optional), metrics, SIGHUP reloads and a graceful shutdown.
// cmd/idp and the demo both use it.
package app

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hcidp/templates"
	"hcidp/upstream/oidc"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/alexedwards/scs/redisstore"
	"github.com/alexedwards/scs/v2"
	"github.com/gomodule/redigo/redis"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"hcidp/config"
	"hcidp/idp"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/metrics"
	"hcidp/server"
	"hcidp/storage"
	"hcidp/storage/backend"
	"hcidp/web"
)

// expiryWarning is how long before a certificate's expiry hcidp starts warning.
const expiryWarning = 30 * 24 * time.Hour

// readCacheSize bounds the sessions, and the customers, the read cache
// keeps: 10,000 of each, a few megabytes.
const readCacheSize = 10_000

// Instance is a configured, ready IdP.
type Instance struct {
	Config   *config.Config
	Store    storage.Storage
	Server   *server.Server
	Cert     *x509.Certificate
	SPs      []*idp.ServiceProvider
	Log      *slog.Logger
	Registry *prometheus.Registry
	Metrics  *metrics.Metrics

	now      func() time.Time
	tlsCert  atomic.Pointer[tls.Certificate]
	redis    *redis.Pool
	reloadMu sync.Mutex
}

// LoadServiceProviders reads and verifies the SP metadata of every
// configured site (the built-in copy for cn when no file is given). Every
// signing key of a pinned site must be pinned (config.ServiceProvider.KeyPins);
// an unpinned site loads with a warning naming its keys.
func LoadServiceProviders(cfg *config.Config, now time.Time, log *slog.Logger) ([]*idp.ServiceProvider, error) {
	var sps []*idp.ServiceProvider
	for i, c := range cfg.ServiceProviders {
		var data []byte
		source := c.MetadataFile
		if c.MetadataFile == "" {
			b, ok := metadata.BuiltinSPMetadata(c.Site)
			if !ok {
				return nil, fmt.Errorf("service_providers[%d]: no built-in metadata for site %s: set metadata_file", i, c.Site)
			}
			data, source = b, "built-in metadata"
		} else {
			b, err := os.ReadFile(c.MetadataFile)
			if errors.Is(err, os.ErrNotExist) {
				return nil, fmt.Errorf("service_providers[%d].metadata_file: %s does not exist: download the site's metadata there with "+
					"`idp sp fetch --site %s --out %s` (or --config FILE, which also replaces it later)", i, c.MetadataFile, c.Site, c.MetadataFile)
			}
			if err != nil {
				return nil, fmt.Errorf("service_providers[%d].metadata_file: %w", i, err)
			}
			data = b
		}
		pins := c.KeyPins()
		meta, err := metadata.LoadSP(c.Site, data, metadata.LoadOptions{
			RequireSignature: c.RequireSignedMetadata, AllowExpired: c.AllowExpiredCertificate, Now: now, Pins: pins})
		var unpinned *metadata.UnpinnedKeyError
		if errors.As(err, &unpinned) {
			return nil, fmt.Errorf("service_providers[%d] (%s, %s): %w. If Huawei announced this key (compare its fingerprint out of band), "+
				"accept it with `idp sp fetch --site %s --accept-key %s --config FILE`, or add it to service_providers[%d].signing_key_pins",
				i, c.Site, source, err, c.Site, unpinned.Unpinned[0], i)
		}
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d] (%s, %s): %w", i, c.Site, source, err)
		}
		if log != nil {
			if msg, args, ok := meta.ExpiryNotice(now, expiryWarning); ok {
				log.Warn(msg, args...)
			}
			if !meta.Signed {
				log.Warn("SP metadata is not signed", "site", c.Site, "source", source)
			}
			if len(pins) == 0 {
				var keys []string
				for _, cert := range meta.SigningCerts {
					keys = append(keys, metadata.KeyPin(cert))
				}
				log.Warn("SP signing key not pinned: the metadata's signature proves integrity, not origin; "+
					"check the key with Huawei and pin it (`idp sp show` prints the YAML)",
					"site", c.Site, "key", fmt.Sprintf("service_providers[%d].signing_key_pins", i), "keys", keys)
			}
		}
		sp, err := idp.NewServiceProvider(c.Site, meta, c.AuthURL, c.ConsoleURL)
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d]: %w", i, err)
		}
		sp.AllowExpiredCertificate = c.AllowExpiredCertificate
		sps = append(sps, sp)
	}
	return sps, nil
}

// Options tune New beyond the configuration.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Portal serves the demo portal page at "/" (idp demo only).
	Portal bool
}

// Signing is the loaded signing material.
type Signing struct {
	Signer *idp.Signer
	Cert   *x509.Certificate
	// Next is the next certificate during a key rollover, else nil.
	Next *x509.Certificate
}

// Trust is what the SAML core trusts and signs with: sps and this key pair.
func (s *Signing) Trust(sps []*idp.ServiceProvider) idp.Trust {
	return idp.Trust{SPs: sps, Signer: s.Signer, Cert: s.Cert, Next: s.Next}
}

// Certs returns the certificates to publish: current, then next.
func (s *Signing) Certs() []*x509.Certificate {
	if s.Next == nil {
		return []*x509.Certificate{s.Cert}
	}
	return []*x509.Certificate{s.Cert, s.Next}
}

// LoadSigning loads the current key pair and, during a rollover, the next one.
func LoadSigning(cfg *config.Config, now time.Time, log *slog.Logger) (*Signing, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	key, cert, err := keys.LoadKeyPair(cfg.KeyFile, cfg.CertFile)
	if err != nil {
		return nil, err
	}
	if open, err := keys.KeyFileTooOpen(cfg.KeyFile); err == nil && open {
		log.Warn("private key file is readable by others: chmod 600 it", "file", cfg.KeyFile)
	}
	if now.After(cert.NotAfter) {
		return nil, fmt.Errorf("cert_file %s expired on %s: roll over to a new key pair (next_key_file, then idp keys rotate)",
			cfg.CertFile, cert.NotAfter.Format(time.DateOnly))
	}
	if left := cert.NotAfter.Sub(now); left < expiryWarning {
		log.Warn("IdP signing certificate expires soon: configure next_key_file/next_cert_file and upload the new metadata",
			"not_after", cert.NotAfter, "days_left", int(left.Hours()/24))
	}
	signer, err := idp.NewSigner(key, cert, cfg.EntityID, cfg.SignResponse)
	if err != nil {
		return nil, err
	}
	s := &Signing{Signer: signer, Cert: cert}
	if cfg.NextKeyFile != "" {
		_, next, err := keys.LoadNextKeyPair(cfg.NextKeyFile, cfg.NextCertFile)
		switch {
		case errors.Is(err, os.ErrNotExist):
			log.Warn("next_key_file is configured but missing (already rotated?): publishing only the current certificate", "file", cfg.NextKeyFile)
		case err != nil:
			return nil, fmt.Errorf("next key pair: %w", err)
		case next.Equal(cert):
			log.Warn("next_cert_file is the current certificate: nothing to roll over")
		default:
			s.Next = next
		}
	}
	return s, nil
}

// New opens everything the configuration names. Close the Instance when done.
func New(ctx context.Context, cfg *config.Config, o Options) (*Instance, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	in := &Instance{Config: cfg, Log: log, now: time.Now}
	if o.Now != nil {
		in.now = o.Now
	}
	sg, err := LoadSigning(cfg, in.now(), log)
	if err != nil {
		return nil, err
	}
	sps, err := LoadServiceProviders(cfg, in.now(), log)
	if err != nil {
		return nil, err
	}
	if err := in.loadTLS(); err != nil {
		return nil, err
	}
	in.Registry = prometheus.NewRegistry()
	in.Registry.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	in.Metrics = metrics.New(in.Registry)

	if err := cfg.CheckDatabase(); err != nil {
		return nil, err
	}
	st, err := backend.OpenWith(ctx, cfg.Database, backend.Options{Now: in.now})
	if err != nil {
		return nil, err
	}
	// The session and the customer every signed-in request reads are kept
	// for at most a second: what another replica changes is seen here that
	// much later at most (storage.ReadCache).
	in.Store = storage.NewReadCache(st, readCacheSize, storage.ReadCacheTTL, in.now)
	metrics.RegisterDatabaseUp(in.Registry, st.Ping)
	var sessionStore scs.Store
	if cfg.SessionStore != "database" {
		in.redis = &redis.Pool{
			MaxIdle: 16, IdleTimeout: 5 * time.Minute,
			Dial: func() (redis.Conn, error) {
				return redis.DialURL(cfg.SessionStore, redis.DialConnectTimeout(5*time.Second),
					redis.DialReadTimeout(5*time.Second), redis.DialWriteTimeout(5*time.Second))
			},
		}
		conn := in.redis.Get()
		_, err := conn.Do("PING")
		conn.Close()
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("session_store: cannot reach Redis: %w", err)
		}
		sessionStore = redisstore.NewWithPrefix(in.redis, "hcidp:session:")
	}
	sc, err := ServerConfig(cfg)
	if err != nil {
		in.Close()
		return nil, err
	}
	sc.Portal = o.Portal
	var upstream *oidc.Provider
	if cfg.UpstreamOIDC != nil {
		// No network access here: the provider is discovered at the first
		// sign-in, so hcidp starts while the portal's provider is down.
		upstream, err = oidc.New(*cfg.UpstreamOIDC, cfg.BaseURL, oidc.Options{Logger: log, Now: in.now,
			ClockSkew: min(cfg.ClockSkew.D(), oidc.MaxClockSkew)})
		if err != nil {
			in.Close()
			return nil, fmt.Errorf("upstream_oidc: %w", err)
		}
	}
	pages, err := templates.New(cfg.TemplatesDir)
	if err != nil {
		in.Close()
		return nil, err
	}
	srv, err := server.New(sc, server.Options{Store: in.Store, Trust: sg.Trust(sps), Logger: log, Metrics: in.Metrics,
		Templates: pages, SessionStore: sessionStore, Upstream: upstream, Now: in.now})
	if err != nil {
		in.Close()
		return nil, err
	}
	in.Server, in.Cert, in.SPs = srv, sg.Cert, sps
	in.recordCertificates(sg, sps)
	return in, nil
}

// SSOURL is the SingleSignOnService location for cfg.
func SSOURL(cfg *config.Config) string { return cfg.BaseURL + "/saml/sso" }

// ServerConfig fills in the web server's configuration (and the SAML
// core's) from the configuration file: the packages that serve never see
// the file's types.
func ServerConfig(cfg *config.Config) (server.Config, error) {
	var proxies web.Proxies
	for _, p := range cfg.TrustedProxies {
		n, err := config.ParseNet(p)
		if err != nil {
			return server.Config{}, fmt.Errorf("trusted_proxies: %w", err)
		}
		proxies = append(proxies, n)
	}
	return server.Config{
		IdP: idp.Config{EntityID: cfg.EntityID, SSOURL: SSOURL(cfg), BpID: cfg.BpID, ClockSkew: cfg.ClockSkew.D(),
			RequestLifetime: cfg.RequestLifetime.D(), AssertionLifetime: cfg.AssertionLifetime.D(), AllowSHA1: cfg.AllowSHA1},
		BaseURL: cfg.BaseURL, XAccountType: cfg.XAccountType, SessionLifetime: cfg.SessionLifetime.D(),
		SessionIdleTimeout: cfg.SessionIdleTimeout.D(), BindWindow: cfg.BindWindow.D(), TrustedProxies: proxies,
		APIKey: cfg.APIKey, PasswordLogin: cfg.UpstreamOIDC == nil || cfg.UpstreamOIDC.PasswordLoginEnabled(),
	}, nil
}

// BuildMetadata renders the IdP metadata for cfg with certs (current, then
// the next one during a rollover): what GET /saml/metadata serves.
func BuildMetadata(cfg *config.Config, certs ...*x509.Certificate) ([]byte, error) {
	return idp.BuildMetadata(cfg.EntityID, SSOURL(cfg), certs...)
}

func (in *Instance) recordCertificates(sg *Signing, sps []*idp.ServiceProvider) {
	in.Metrics.ResetCertificates()
	in.Metrics.Certificate("idp", "", sg.Cert)
	if sg.Next != nil {
		in.Metrics.Certificate("idp-next", "", sg.Next)
	}
	for _, sp := range sps {
		for _, c := range sp.Meta.SigningCerts {
			in.Metrics.Certificate("sp", sp.Site, c)
		}
	}
}

// loadTLS (re)reads the TLS certificate when native TLS is configured.
func (in *Instance) loadTLS() error {
	if in.Config.TLSCertFile == "" {
		return nil
	}
	c, err := tls.LoadX509KeyPair(in.Config.TLSCertFile, in.Config.TLSKeyFile)
	if err != nil {
		return fmt.Errorf("tls_cert_file/tls_key_file: %w", err)
	}
	in.tlsCert.Store(&c)
	return nil
}

// Reload re-reads the SP metadata, the signing keys (a rollover) and the TLS
// certificate (SIGHUP), and the service_providers section of the
// configuration file (metadata files, key pins, overrides: what `idp sp
// fetch --accept-key` writes); other keys take effect at a restart. On any
// error the running configuration is kept.
func (in *Instance) Reload() error {
	in.reloadMu.Lock()
	defer in.reloadMu.Unlock()
	now := in.now()
	sg, err := LoadSigning(in.Config, now, in.Log)
	if err != nil {
		return err
	}
	spCfg := in.Config
	if f := in.Config.File(); f != "" {
		if spCfg, err = config.Load(f); err != nil {
			return err
		}
	}
	sps, err := LoadServiceProviders(spCfg, now, in.Log)
	if err != nil {
		return err
	}
	if err := in.loadTLS(); err != nil {
		return err
	}
	if err := in.Server.Reload(sg.Trust(sps)); err != nil {
		return err
	}
	in.Cert, in.SPs = sg.Cert, sps
	in.Config.ServiceProviders = spCfg.ServiceProviders
	in.recordCertificates(sg, sps)
	in.Log.Info("reloaded SP metadata, keys and TLS certificate", "sites", len(sps), "next_certificate", sg.Next != nil)
	return nil
}

// Close releases the database and the Redis pool.
func (in *Instance) Close() error {
	var err error
	if in.redis != nil {
		err = in.redis.Close()
	}
	if in.Store != nil {
		err = errors.Join(err, in.Store.Close())
	}
	return err
}

// Handler is the complete HTTP handler: the IdP, and /metrics unless
// metrics_listen moves it to its own listener.
func (in *Instance) Handler() http.Handler {
	h := in.Server.Handler()
	if in.Config.MetricsListen != "" {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.Handle("GET /metrics", in.metricsHandler())
	return mux
}

func (in *Instance) metricsHandler() http.Handler {
	return promhttp.HandlerFor(in.Registry, promhttp.HandlerOpts{Registry: in.Registry})
}

// opsHandler serves, on metrics_listen, /metrics, the readiness with its
// certificate detail (GET /readyz: the same 200/503 as the public one, which
// gives the status only) and, when enabled, pprof.
func (in *Instance) opsHandler() http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", in.metricsHandler())
	mux.Handle("GET /readyz", in.Server.ReadinessDetail())
	if in.Config.Pprof {
		mux.HandleFunc("/debug/pprof/", pprof.Index)
		mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
		mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
		mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
		mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	}
	return mux
}

// Serve serves on ln until ctx is done. Shutdown closes the listener first,
// then lets in-flight requests finish (up to 15 s). With native TLS the
// connection is TLS 1.2+ with Go's default (modern) cipher suites.
func (in *Instance) Serve(ctx context.Context, ln net.Listener) error {
	if in.Config.TLSCertFile != "" {
		ln = tls.NewListener(ln, &tls.Config{
			MinVersion: tls.VersionTLS12,
			GetCertificate: func(*tls.ClientHelloInfo) (*tls.Certificate, error) {
				return in.tlsCert.Load(), nil
			},
		})
	}
	srvs := []*http.Server{in.newHTTPServer(in.Handler())}
	lns := []net.Listener{ln}
	if in.Config.MetricsListen != "" {
		mln, err := net.Listen("tcp", in.Config.MetricsListen)
		if err != nil {
			ln.Close()
			return config.ListenError("metrics_listen", in.Config.MetricsListen, err)
		}
		srvs, lns = append(srvs, in.newHTTPServer(in.opsHandler())), append(lns, mln)
	}
	go in.collectGarbage(ctx)
	errc := make(chan error, len(srvs))
	for i := range srvs {
		go func() { errc <- srvs[i].Serve(lns[i]) }()
	}
	in.Log.Info("serving", "addr", ln.Addr().String(), "base_url", in.Config.BaseURL, "entity_id", in.Config.EntityID,
		"tls", in.Config.TLSCertFile != "")
	var err error
	select {
	case err = <-errc:
	case <-ctx.Done():
		in.Log.Info("shutting down: draining in-flight requests")
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	for _, s := range srvs {
		if e := s.Shutdown(shutdownCtx); e != nil && err == nil {
			err = e
		}
	}
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

func (in *Instance) newHTTPServer(h http.Handler) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(in.Log.Handler(), slog.LevelWarn),
	}
}

// collectGarbage removes expired sessions and replay entries every minute.
func (in *Instance) collectGarbage(ctx context.Context) {
	t := time.NewTicker(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if _, err := in.Store.GarbageCollect(ctx, now); err != nil && ctx.Err() == nil {
				in.Log.Warn("garbage collection", "err", err)
			}
		}
	}
}
