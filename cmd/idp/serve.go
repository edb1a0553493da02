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

	"hcidp/app"
	"hcidp/config"
	"hcidp/keys"
)

func configFlag(fs interface {
	StringVar(*string, string, string, string)
}) *string {
	var p string
	fs.StringVar(&p, "config", os.Getenv("HCIDP_CONFIG"), "configuration file (or $HCIDP_CONFIG)")
	return &p
}

func loadConfig(path string) (*config.Config, error) {
	if path == "" {
		return nil, errors.New("--config is required")
	}
	return config.Load(path)
}

// configCommand parses the flags of a command whose only flag is --config
// and loads the configuration.
func configCommand(name string, args []string, stderr io.Writer) (*config.Config, error) {
	fs := newFlags(name, stderr)
	cfgPath := configFlag(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if err := noArgs(fs); err != nil {
		return nil, err
	}
	return loadConfig(*cfgPath)
}

func cmdServe(ctx context.Context, args []string, stderr io.Writer) error {
	cfg, err := configCommand("serve", args, stderr)
	if err != nil {
		return err
	}
	log := newLogger(stderr, cfg.LogLevel)
	ctx, stop := signalContext(ctx)
	defer stop()
	in, err := app.New(ctx, cfg, app.Options{Logger: log})
	if err != nil {
		return err
	}
	defer in.Close()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
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

func cmdKeys(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "rotate" {
		return cmdKeysRotate(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "generate" {
		return errors.New("usage: idp keys generate --out DIR [--bits 2048|3072|4096] [--cn NAME] [--days N] [--force] | idp keys rotate --config F")
	}
	fs := newFlags("keys generate", stderr)
	out := fs.String("out", "", "directory for idp.key and idp.crt")
	bits := fs.Int("bits", 3072, "RSA key size: 2048, 3072 or 4096")
	cn := fs.String("cn", "hcidp", "certificate subject common name")
	days := fs.Int("days", 1095, "certificate validity in days")
	force := fs.Bool("force", false, "overwrite existing files")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *out == "" {
		return errors.New("keys generate: --out DIR is required")
	}
	if *days < 1 || *days > 3650 {
		return errors.New("keys generate: --days must be between 1 and 3650")
	}
	key, cert, err := keys.Generate(*bits, *cn, time.Duration(*days)*24*time.Hour, time.Now())
	if err != nil {
		return err
	}
	if err := keys.WriteFiles(*out, key, cert, *force); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote %s/idp.key (mode 0600) and %s/idp.crt (RSA-%d, CN=%s, valid until %s)\n",
		*out, *out, *bits, *cn, cert.NotAfter.Format(time.DateOnly))
	return nil
}

func cmdMetadata(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("metadata", stderr)
	cfgPath := configFlag(fs)
	out := fs.String("out", "", "write to FILE instead of standard output")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
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
	return os.WriteFile(*out, doc, 0o644)
}
