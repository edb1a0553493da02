package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/renameio/v2"

	"hcidp/app"
	"hcidp/config"
	"hcidp/storage"
	"hcidp/storage/backend"
)

func configFlag(fs *flags) *string {
	var p string
	fs.StringVar(&p, "config", os.Getenv("HCIDP_CONFIG"), "configuration `file` (or $HCIDP_CONFIG)")
	return &p
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, errors.New("--config is required: the hcidp.yaml file (or set $HCIDP_CONFIG)")
	}
	return config.Load(path)
}

// configCommand parses the flags of a command whose only flag is --config
// and loads the configuration.
func configCommand(name string, args []string, stdout io.Writer) (*config.Config, error) {
	fs := newFlags(name, stdout)
	cfgPath := configFlag(fs)
	if err := fs.parse(args); err != nil {
		return nil, err
	}
	return loadConfig(*cfgPath)
}

// openStore loads the configuration at path and opens its database.
func openStore(ctx context.Context, path string) (storage.Storage, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	if err := cfg.CheckDatabase(); err != nil {
		return nil, err
	}
	return backend.Open(ctx, cfg.Database)
}

func cmdServe(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := configCommand("serve", args, stdout)
	if err != nil {
		return err
	}
	if err := cfg.CheckDatabase(); err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel, cfg.LogFormat)
	ctx, stop := signalContext(ctx)
	defer stop()
	in, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer in.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return listenError(cfg, err)
	}
	// SIGHUP re-reads SP metadata, keys (rollover) and the TLS certificate.
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-hup:
				if err := in.Reload(); err != nil {
					log.Error("reload failed: keeping the running configuration", "err", err)
				}
			}
		}
	}()
	return in.Serve(ctx, ln)
}

// listenError names the key that set the address (listen, or HCIDP_LISTEN),
// the file it is in and the fix.
func listenError(cfg *config.Config, err error) error {
	err = config.ListenError(cfg.ListenKey(), cfg.Listen, err)
	if cfg.ListenKey() == "listen" && cfg.File() != "" {
		return fmt.Errorf("%w (listen is set in %s; $HCIDP_LISTEN overrides it)", err, cfg.File())
	}
	return err
}

func cmdMetadata(args []string, stdout io.Writer) error {
	fs := newFlags("metadata", stdout)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "write to `FILE` instead of standard output")
	if err := fs.parse(args); err != nil {
		return err
	}
	cfg, err := loadConfig(*cfgPath)
	if err != nil {
		return err
	}
	sg, err := app.LoadSigning(cfg, time.Now(), nil)
	if err != nil {
		return err
	}
	doc, err := app.BuildMetadata(cfg, sg.Certs()...)
	if err != nil {
		return err
	}
	if *out == "" {
		_, err = stdout.Write(doc)
		return err
	}
	return renameio.WriteFile(*out, doc, 0o644, renameio.WithStaticPermissions(0o644))
}
