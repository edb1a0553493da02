package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"

	"hcidp/config"
	"hcidp/demo"
)

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("demo", stdout)
	data := fs.String("data", "hcidp-demo", "directory for dev keys, the SQLite database and the generated config")
	idpAddr := fs.String("listen", "127.0.0.1:8080", "loopback address of the IdP (and the demo portal)")
	iamAddr := fs.String("iam-listen", "127.0.0.1:8081", "loopback address of the mock Huawei IAM")
	logFormat := fs.String("log-format", "auto", "`format` of the logs on standard error: auto (text on a terminal, JSON otherwise), json or text")
	if err := fs.parse(args); err != nil {
		return err
	}
	switch *logFormat {
	case "auto", "json", "text":
	default:
		return usageErrorf(fs.name, "demo: --log-format %q: use auto, json or text", *logFormat)
	}
	ctx, stop := signalContext(ctx)
	defer stop()
	log := newLogger(stderr, "info", *logFormat)
	env, err := demo.Start(ctx, demo.Options{DataDir: *data, IdPAddr: *idpAddr, IAMAddr: *iamAddr, Logger: log})
	if err != nil {
		return demoListenError(err, *idpAddr, *iamAddr)
	}
	fmt.Fprintf(stdout, `
hcidp demo is running (Ctrl-C stops it). Everything listens on loopback only.

  Partner portal:   %s
  Sign in as:       %s
  Password:         %s
  or "Sign in with Demo Portal": %s / %s  (the portal's own OpenID provider, %s)

  IdP metadata:     %s/saml/metadata
  Mock Huawei IAM:  %s  (plays auth.huaweicloud.com; NOT the real Huawei Cloud)
  Config used:      %s

Open the portal, press "Open Huawei Cloud console", sign in, bind the account
on the mock IAM page, and you land on the mock console. Press it again: no
password, no bind page. "Unbind" on the mock console notifies the IdP; the
next "Open console" asks to bind again. The IdP (127.0.0.1) and the mock IAM
(localhost) are different sites, as in production.
`, env.PortalURL, env.Username, env.Password, env.PortalUser, env.PortalPassword, env.PortalOP.Issuer(),
		env.IdPURL, env.IAMURL, env.ConfigFile)
	err = env.Wait(ctx)
	if cerr := env.Close(); err == nil {
		err = cerr
	}
	return err
}

// demoListenError names the flag whose address could not be listened on
// (--listen or --iam-listen) and the fix; other errors pass unchanged.
func demoListenError(err error, idpAddr, iamAddr string) error {
	var op *net.OpError
	if !errors.As(err, &op) || op.Op != "listen" || op.Addr == nil {
		return err
	}
	for _, f := range []struct{ flag, addr string }{{"--listen", idpAddr}, {"--iam-listen", iamAddr}} {
		if a, rerr := net.ResolveTCPAddr("tcp", f.addr); rerr == nil && a.String() == op.Addr.String() {
			// The suggestion must not be the demo's other address.
			return config.ListenError(f.flag, f.addr, err, idpAddr, iamAddr)
		}
	}
	return err
}
