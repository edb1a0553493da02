// Package app wires a configuration into a running IdP: it opens the
// database, loads keys and SP metadata, builds the idp.Server and serves it
// with a graceful shutdown. cmd/idp and the demo both use it.
package app

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"hcidp/config"
	"hcidp/idp"
	"hcidp/keys"
	"hcidp/metadata"
	"hcidp/storage"
	"hcidp/storage/backend"
)

// Instance is a configured, ready IdP.
type Instance struct {
	Config *config.Config
	Store  storage.Storage
	IdP    *idp.Server
	Cert   *x509.Certificate
	SPs    []*idp.ServiceProvider
	Log    *slog.Logger
}

// LoadServiceProviders reads and verifies the SP metadata of every
// configured site (the built-in copy for cn when no file is given).
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
			if err != nil {
				return nil, fmt.Errorf("service_providers[%d].metadata_file: %w", i, err)
			}
			data = b
		}
		meta, err := metadata.LoadSP(c.Site, data, metadata.LoadOptions{
			RequireSignature: c.RequireSignedMetadata, AllowExpired: c.AllowExpiredCertificate, Now: now})
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d] (%s, %s): %w", i, c.Site, source, err)
		}
		if left := meta.NotAfter.Sub(now); left < 30*24*time.Hour && log != nil {
			log.Warn("SP certificate expires soon", "site", c.Site, "not_after", meta.NotAfter, "days_left", int(left.Hours()/24))
		}
		if !meta.Signed && log != nil {
			log.Warn("SP metadata is not signed", "site", c.Site, "source", source)
		}
		sp, err := idp.NewServiceProvider(c.Site, meta, c.AuthURL, c.ConsoleURL)
		if err != nil {
			return nil, fmt.Errorf("service_providers[%d]: %w", i, err)
		}
		sps = append(sps, sp)
	}
	return sps, nil
}

// Options tune New beyond the configuration.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
}

// New opens everything the configuration names. Close the Instance when done.
func New(ctx context.Context, cfg *config.Config, o Options) (*Instance, error) {
	log := o.Logger
	if log == nil {
		log = slog.Default()
	}
	now := time.Now
	if o.Now != nil {
		now = o.Now
	}
	key, cert, err := keys.LoadKeyPair(cfg.KeyFile, cfg.CertFile)
	if err != nil {
		return nil, err
	}
	if open, err := keys.KeyFileTooOpen(cfg.KeyFile); err == nil && open {
		log.Warn("private key file is readable by others: chmod 600 it", "file", cfg.KeyFile)
	}
	if now().After(cert.NotAfter) {
		return nil, fmt.Errorf("cert_file %s expired on %s: create a new key pair", cfg.CertFile, cert.NotAfter.Format(time.DateOnly))
	}
	sps, err := LoadServiceProviders(cfg, now(), log)
	if err != nil {
		return nil, err
	}
	signer, err := idp.NewSigner(key, cert, cfg.EntityID, cfg.SignResponse)
	if err != nil {
		return nil, err
	}
	st, err := backend.Open(ctx, cfg.Database)
	if err != nil {
		return nil, err
	}
	srv, err := idp.New(idp.Options{Config: cfg, Store: st, Signer: signer, Cert: cert, SPs: sps, Logger: log, Now: now})
	if err != nil {
		st.Close()
		return nil, err
	}
	return &Instance{Config: cfg, Store: st, IdP: srv, Cert: cert, SPs: sps, Log: log}, nil
}

// Close releases the database.
func (in *Instance) Close() error { return in.Store.Close() }

// Serve serves on ln until ctx is done, then stops accepting, lets in-flight
// requests finish (up to 15 s) and returns.
func (in *Instance) Serve(ctx context.Context, ln net.Listener) error {
	srv := &http.Server{
		Handler:           in.IdP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(in.Log.Handler(), slog.LevelWarn),
	}
	go in.collectGarbage(ctx)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	in.Log.Info("serving", "addr", ln.Addr().String(), "base_url", in.Config.BaseURL, "entity_id", in.Config.EntityID)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := srv.Shutdown(shutdownCtx)
	if e := <-errc; !errors.Is(e, http.ErrServerClosed) && err == nil {
		err = e
	}
	return err
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
