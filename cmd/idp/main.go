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
//	idp users add|list|update|disable|enable|set-password --config F
//	idp bindings add|show --config F
//	idp audit list --config F
//	idp check [--config F] FILE|-   validate a SAML Response against the profile
//	idp version                     print the version and the commit it was built from
//	idp help [COMMAND]              print the help of a command
//
// Each command parses its flags, calls the package that does the work
// (keys, metadata, config, customer, app) and prints the result; `idp help
// COMMAND` and `COMMAND -h` print its usage (docs/cli.md has the JSON
// shapes of --json).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	if code := exitCode(err); code != 0 {
		fmt.Fprintln(os.Stderr, "idp:", err)
		var u *usageError
		if errors.As(err, &u) {
			fmt.Fprint(os.Stderr, u.hint())
		}
		os.Exit(code)
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage())
		return usageErrorf("", "no command given")
	}
	cmd, rest := args[0], args[1:]
	switch cmd {
	case "serve":
		return cmdServe(ctx, rest, stdout, stderr)
	case "demo":
		return cmdDemo(ctx, rest, stdout, stderr)
	case "keys":
		return dispatch("keys", rest, stdout, map[string]func([]string) error{
			"generate": func(a []string) error { return cmdKeysGenerate(a, stdout) },
			"rotate":   func(a []string) error { return cmdKeysRotate(a, stdout) },
		})
	case "metadata":
		return cmdMetadata(rest, stdout)
	case "sp":
		return dispatch("sp", rest, stdout, map[string]func([]string) error{
			"show":  func(a []string) error { return cmdSPShow(a, stdout) },
			"fetch": func(a []string) error { return cmdSPFetch(ctx, a, stdout, stderr) },
		})
	case "users":
		return cmdUsers(ctx, rest, stdin, stdout)
	case "bindings":
		return dispatch("bindings", rest, stdout, map[string]func([]string) error{
			"add":  func(a []string) error { return cmdBindingsAdd(ctx, a, stdout) },
			"show": func(a []string) error { return cmdBindingsShow(ctx, a, stdout) },
		})
	case "audit":
		return dispatch("audit", rest, stdout, map[string]func([]string) error{
			"list": func(a []string) error { return cmdAuditList(ctx, a, stdout) },
		})
	case "check":
		return cmdCheck(rest, stdin, stdout)
	case "version", "--version":
		return cmdVersion(rest, stdout)
	case "help", "-h", "--help":
		return cmdHelp(ctx, rest, stdin, stdout, stderr)
	}
	return usageErrorf("", "unknown command %q", cmd)
}

// cmdHelp prints the usage of idp, of a group (`idp help users`) or of a
// command (`idp help users add`, the same as `idp users add -h`).
func cmdHelp(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "help" {
		fmt.Fprint(stdout, usage())
		return nil
	}
	name := args[0]
	if _, ok := groups[name]; ok {
		if len(args) == 1 {
			fmt.Fprint(stdout, groupUsage(name))
			return nil
		}
		name += " " + args[1]
	}
	if _, ok := docOf(name); !ok {
		return usageErrorf("", "help: unknown command %q", name)
	}
	err := run(ctx, append(append([]string{}, args...), "-h"), stdin, stdout, stderr)
	if errors.Is(err, errHelp) {
		return nil
	}
	return err
}

// signalContext is cancelled by SIGINT or SIGTERM.
func signalContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
}
