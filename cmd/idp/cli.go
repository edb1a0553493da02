package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
)

// A commandDoc is the help of one command: `idp help NAME` and `NAME -h`
// print it with the command's flags.
type commandDoc struct {
	name     string // "users add"
	synopsis string // the arguments after the name
	summary  string // one line, for the command list
	details  string // more, when there is more to say
}

// commands lists every command in the order `idp help` shows them.
var commands = []commandDoc{
	{"serve", "--config F", "run the identity provider",
		"Listens on listen (HCIDP_LISTEN overrides it). SIGHUP reloads SP metadata, keys and the TLS certificate;\nSIGTERM drains in-flight requests and exits."},
	{"demo", "[--data DIR] [--listen ADDR] [--iam-listen ADDR] [--log-format F]", "run the IdP, a mock Huawei IAM and a demo portal on loopback", ""},
	{"keys generate", "--out DIR [--bits N] [--cn NAME] [--days N] [--force]", "create idp.key (mode 0600) and a self-signed idp.crt", ""},
	{"keys rotate", "--config F", "make next_key_file/next_cert_file the signing pair (the old pair is kept as *.old)",
		"The last step of a key rollover: run it once Huawei has the metadata that lists both certificates.\nThe files named by key_file and cert_file then hold the former next pair; reload the servers,\nremove next_key_file and next_cert_file, and upload the metadata again."},
	{"metadata", "--config F [--out FILE]", "write the IDP Metadata.xml to upload in Partner Center", ""},
	{"sp show", "--config F [--json]", "show each trusted site: entityID, ACS, certificate, signing-key pins", ""},
	{"sp fetch", "--site S [--config F] [--url URL] [--out FILE] [--accept-key sha256:HEX]...", "download, verify and install a site's SP metadata",
		"The metadata must be signed, and every signing key pinned (signing_key_pins; for cn by default the\nbuilt-in key). With --config it replaces the site's metadata_file; a site on the built-in metadata\n(cn without metadata_file) needs --out FILE, and then metadata_file: FILE in its entry."},
	{"users add", "--config F --xaccount-id ID [--password-stdin | --password P] [--email E] [--name N] [--mobile M] [--display-name D]",
		"create a customer", "The xAccountId is the portal's customer ID and the login name. Values that break Huawei's\nattribute rules are refused, and nothing is written."},
	{"users list", "--config F [--json]", "list the customers", ""},
	{"users update", "--config F --xaccount-id ID [--email E] [--name N] [--mobile M] [--display-name D]",
		"change only the given attributes of a customer (an empty value clears one)", ""},
	{"users disable", "--config F --xaccount-id ID", "disable a customer (no sign-in, no assertion)", ""},
	{"users enable", "--config F --xaccount-id ID", "enable a disabled customer again", ""},
	{"users set-password", "--config F --xaccount-id ID [--password-stdin | --password P]", "set a customer's password", ""},
	{"bindings add", "--config F --xaccount-id ID --site S --domain-id ID [--domain-name N]",
		"record a binding known from Huawei's create-customer API", ""},
	{"bindings show", "--config F --xaccount-id ID [--site S] [--events N] [--json]", "show a customer's bindings and bind events", ""},
	{"audit list", "--config F [--since T] [--customer ID] [--kind K] [--outcome O] [--limit N] [--json]",
		"list audit events: assertions, sign-ins, bind events, API and CLI writes", ""},
	{"check", "[--config F] [flags] FILE|-", "validate a SAML Response (XML or base64) against the Huawei profile", ""},
	{"version", "", "print the version and the commit it was built from (also --version)", ""},
	{"help", "[COMMAND]", "print the help of a command", ""},
}

// groups are the commands that take a subcommand, and their subcommands.
var groups = map[string][]string{
	"keys":     {"generate", "rotate"},
	"sp":       {"show", "fetch"},
	"users":    {"add", "list", "update", "disable", "enable", "set-password"},
	"bindings": {"add", "show"},
	"audit":    {"list"},
}

func docOf(name string) (commandDoc, bool) {
	for _, c := range commands {
		if c.name == name {
			return c, true
		}
	}
	return commandDoc{}, false
}

// usage is what `idp help` prints.
func usage() string {
	var b strings.Builder
	b.WriteString("usage: idp COMMAND [flags]\n\ncommands:\n")
	for _, c := range commands {
		fmt.Fprintf(&b, "  %-20s %s\n", c.name, c.summary)
	}
	b.WriteString("\nRun \"idp help COMMAND\" (or \"idp COMMAND -h\") for the flags of a command.\n")
	b.WriteString("Exit status: 0 on success and for help, 1 when the command failed, 2 for a usage error.\n")
	return b.String()
}

// groupUsage is what `idp help users` prints.
func groupUsage(group string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "usage: idp %s COMMAND [flags]\n\ncommands:\n", group)
	for _, sub := range groups[group] {
		d, _ := docOf(group + " " + sub)
		fmt.Fprintf(&b, "  idp %s %s\n        %s\n", d.name, d.synopsis, d.summary)
	}
	fmt.Fprintf(&b, "\nRun \"idp help %s COMMAND\" for the flags of a command.\n", group)
	return b.String()
}

// errHelp says that help was asked for and printed: exit status 0.
var errHelp = errors.New("help printed")

// usageError is a command line that does not parse: exit status 2, with
// the command's synopsis and where to read more.
type usageError struct {
	cmd string // "" for idp itself
	err error
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// hint is printed after the error: the synopsis and the help command.
func (e *usageError) hint() string {
	if d, ok := docOf(e.cmd); ok {
		return fmt.Sprintf("usage: idp %s %s\nRun \"idp help %s\" for details.\n", d.name, d.synopsis, d.name)
	}
	if _, ok := groups[e.cmd]; ok {
		return fmt.Sprintf("Run \"idp help %s\" for its commands.\n", e.cmd)
	}
	return "Run \"idp help\" for the commands.\n"
}

func usageErrorf(cmd, format string, a ...any) error {
	return &usageError{cmd: cmd, err: fmt.Errorf(format, a...)}
}

// exitCode maps run's error to the exit status.
func exitCode(err error) int {
	var u *usageError
	switch {
	case err == nil, errors.Is(err, errHelp):
		return 0
	case errors.As(err, &u):
		return 2
	}
	return 1
}

// flags is the flag set of one command. parse prints the command's help on
// -h/--help (to standard output, returning errHelp) and turns a bad flag
// into a *usageError.
type flags struct {
	*flag.FlagSet
	name   string
	stdout io.Writer
	// args names the positional arguments the command takes ("" for none).
	args string
}

func newFlags(name string, stdout io.Writer) *flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // parse reports errors and help itself
	fs.Usage = func() {}
	return &flags{FlagSet: fs, name: name, stdout: stdout}
}

func (f *flags) parse(args []string) error {
	err := f.FlagSet.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		f.printHelp(f.stdout)
		return errHelp
	case err != nil:
		return usageErrorf(f.name, "%s: %v", f.name, err)
	case f.args == "" && f.NArg() > 0:
		return usageErrorf(f.name, "%s: unexpected argument %q", f.name, f.Arg(0))
	}
	return nil
}

// printHelp writes the command's synopsis, description and flags.
func (f *flags) printHelp(w io.Writer) {
	d, _ := docOf(f.name)
	fmt.Fprintf(w, "usage: idp %s %s\n\n%s.\n", f.name, d.synopsis, upperFirst(d.summary))
	if d.details != "" {
		fmt.Fprintf(w, "\n%s\n", d.details)
	}
	n := 0
	f.VisitAll(func(*flag.Flag) { n++ })
	if n > 0 {
		fmt.Fprintf(w, "\nflags:\n")
		f.SetOutput(w)
		f.PrintDefaults()
		f.SetOutput(io.Discard)
	}
}

func upperFirst(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// given reports whether the flag name was set on the command line.
func (f *flags) given(name string) bool {
	set := false
	f.Visit(func(fl *flag.Flag) { set = set || fl.Name == name })
	return set
}

// dispatch runs the subcommand of group named by args[0].
func dispatch(group string, args []string, stdout io.Writer, subs map[string]func([]string) error) error {
	names := groups[group]
	if len(args) == 0 {
		return usageErrorf(group, "%s: which one? use %s", group, orList(names))
	}
	switch args[0] {
	case "-h", "--help":
		io.WriteString(stdout, groupUsage(group))
		return errHelp
	case "help":
		if len(args) > 1 {
			return dispatch(group, []string{args[1], "-h"}, stdout, subs)
		}
		io.WriteString(stdout, groupUsage(group))
		return errHelp
	}
	run, ok := subs[args[0]]
	if !ok {
		return usageErrorf(group, "unknown %s command %q; use %s", group, args[0], orList(names))
	}
	return run(args[1:])
}

// orList writes a, b or c.
func orList(s []string) string {
	if len(s) < 2 {
		return strings.Join(s, "")
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
