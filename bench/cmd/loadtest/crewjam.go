package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/crewjam/saml"

	"hcidp/bench"
	"hcidp/keys"
)

// cmdCrewjamServer serves crewjam/saml v0.5.1's IdentityProvider.ServeSSO
// at /saml/sso (and /healthz) until SIGTERM. The parent runs it under
// taskset -c 0, like idp serve.
func cmdCrewjamServer(args []string) error {
	fs := flag.NewFlagSet("crewjam-server", flag.ContinueOnError)
	listen := fs.String("listen", "127.0.0.1:0", "loopback address")
	keyFile := fs.String("key", "", "IdP private key (PEM)")
	certFile := fs.String("cert", "", "IdP certificate (PEM)")
	spFile := fs.String("sp-metadata", "", "SP metadata (its encryption key is ignored)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	host, _, err := net.SplitHostPort(*listen)
	if err != nil || net.ParseIP(host) == nil || !net.ParseIP(host).IsLoopback() {
		return errors.New("crewjam-server: --listen must be a loopback address")
	}
	key, cert, err := keys.LoadKeyPair(*keyFile, *certFile)
	if err != nil {
		return err
	}
	md, err := os.ReadFile(*spFile)
	if err != nil {
		return err
	}
	// Pre-signed requests wait longer than crewjam's default 90 s.
	saml.MaxIssueDelay = 10 * time.Minute
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		return err
	}
	idp, err := bench.CrewjamIdP(key, cert, "http://"+ln.Addr().String()+"/saml/sso", md)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /saml/sso", idp.ServeSSO)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprintln(w, "ok") })
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	fmt.Println(ln.Addr().String())
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
