package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"hcidp/app"
	"hcidp/config"
)

// cmdServeProfiled is `idp serve` (the same app.New and Instance.Serve, the
// same JSON logs on stderr) with a CPU profile written on SIGTERM. The load
// test uses it instead of the idp binary when --cpuprofile is given.
func cmdServeProfiled(args []string) error {
	fs := flag.NewFlagSet("serve-profiled", flag.ContinueOnError)
	cfgPath := fs.String("config", "", "configuration file")
	out := fs.String("cpuprofile", "", "CPU profile to write")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *cfgPath == "" || *out == "" {
		return errors.New("serve-profiled: --config and --cpuprofile are required")
	}
	cfg, err := config.Load(*cfgPath)
	if err != nil {
		return err
	}
	var lvl slog.Level
	lvl.UnmarshalText([]byte(cfg.LogLevel))
	log := slog.New(slog.NewJSONHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
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
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := pprof.StartCPUProfile(f); err != nil {
		return err
	}
	defer pprof.StopCPUProfile()
	return in.Serve(ctx, ln)
}
