// Command idp is the hcidp identity provider: a SAML 2.0 IdP that signs a
// Huawei Cloud reseller partner's customers in to the Huawei Cloud console.
//
//	idp serve --config F            run the IdP
//	idp demo                        run the IdP and a mock Huawei IAM locally
//	idp keys generate --out DIR     create a signing key and certificate
//	idp keys rotate --config F      switch signing to the next key pair
//	idp metadata --config F         print the IDP Metadata.xml for Partner Center
//	idp sp show --config F          show the trusted Huawei Cloud sites
//	idp sp fetch --site cn          download and verify a site's SP metadata
//	idp users add|list|disable|enable|set-password --config F
//	idp bindings add|show --config F
//	idp audit list --config F
//	idp check [--config F] FILE|-   validate a SAML Response against the profile
//	idp version                     print the version and the commit it was built from
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "idp:", err)
		}
		os.Exit(2)
	}
}

const usage = `usage: idp COMMAND [flags]

commands:
  serve --config F                    run the identity provider
  demo [--data DIR]                   run the IdP, a mock Huawei IAM and a demo portal on loopback
  keys generate --out DIR [--bits N]  create idp.key (0600) and idp.crt (self-signed)
  keys rotate --config F              make next_key_file/next_cert_file the signing pair
  metadata --config F [--out FILE]    write the IDP Metadata.xml to upload in Partner Center
  sp show --config F                  show each trusted site: entityID, ACS, certificate, key pins
  sp fetch --site S [--config F] [--out FILE] [--accept-key sha256:HEX]
                                      download and verify a site's SP metadata (its signing key pinned)
  users add|list|disable|enable|set-password --config F ...
  bindings add|show --config F ...    record a Huawei Cloud binding; show bindings and bind events
  audit list --config F [--since T] [--customer ID]
  check [--config F] FILE|-           validate a SAML Response (XML or base64) against the profile
  version                             print the version and the commit it was built from (also --version)

Run "idp COMMAND -h" for the flags of a command.
`

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errors.New("no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "keys":
		return cmdKeys(rest, stdout, stderr)
	case "metadata":
		return cmdMetadata(ctx, rest, stdout, stderr)
	case "sp":
		return cmdSP(rest, stdout, stderr)
	case "users":
		return cmdUsers(ctx, rest, stdin, stdout, stderr)
	case "bindings":
		return cmdBindings(ctx, rest, stdout, stderr)
	case "audit":
		return cmdAudit(ctx, rest, stdout, stderr)
	case "check":
		return cmdCheck(rest, stdin, stdout, stderr)
	case "version", "--version":
		return cmdVersion(rest, stdout, stderr)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q", cmd)
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}

func newLogger(w io.Writer, level string) *slog.Logger {
	var l slog.Level
	l.UnmarshalText([]byte(level))
	return slog.New(slog.NewJSONHandler(w, &slog.HandlerOptions{Level: l}))
}

// newFlags returns a FlagSet that reports errors instead of exiting.
func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// noArgs rejects stray positional arguments.
func noArgs(fs *flag.FlagSet) error {
	if fs.NArg() > 0 {
		return fmt.Errorf("%s: unexpected argument %q", fs.Name(), fs.Arg(0))
	}
	return nil
}
