package main

import (
	"bufio"
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"hcidp/app"
	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/metadata"
	"hcidp/storage"
	"hcidp/storage/backend"
)

func openStore(ctx context.Context, path string) (storage.Storage, error) {
	cfg, err := loadConfig(path)
	if err != nil {
		return nil, err
	}
	return backend.Open(ctx, cfg.Database)
}

func cmdSP(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "fetch" {
		return cmdSPFetch(args[1:], stdout, stderr)
	}
	if len(args) == 0 || args[0] != "show" {
		return errors.New("usage: idp sp show --config F | idp sp fetch --site cn|intl|eu [--url URL] [--out FILE] [--config F] [--accept-key sha256:HEX]")
	}
	cfg, err := configCommand("sp show", args[1:], stderr)
	if err != nil {
		return err
	}
	sps, err := app.LoadServiceProviders(cfg, time.Now(), nil)
	if err != nil {
		return err
	}
	for i, sp := range sps {
		m := sp.Meta
		fmt.Fprintf(stdout, "site %s\n", sp.Site)
		fmt.Fprintf(stdout, "  entityID     %s\n", m.EntityID)
		fmt.Fprintf(stdout, "  ACS          %s (default)\n", m.DefaultACS.Location)
		for _, ep := range m.ACS {
			if ep.Location != m.DefaultACS.Location {
				fmt.Fprintf(stdout, "               %s\n", ep.Location)
			}
		}
		fmt.Fprintf(stdout, "  signed       %v\n", m.Signed)
		fmt.Fprintf(stdout, "  IAM login    %s/authui/saml/login\n", sp.Console.AuthURL)
		fmt.Fprintf(stdout, "  console      %s\n", sp.Console.Home)
		c := cfg.ServiceProviders[i]
		pinned := "pinned (signing_key_pins)"
		if len(c.SigningKeyPins) == 0 {
			pinned = "pinned by default (the key of the built-in metadata)"
			if len(c.KeyPins()) == 0 {
				pinned = "NOT PINNED"
			}
		}
		for _, cert := range m.SigningCerts {
			printCert(stdout, cert)
			fmt.Fprintf(stdout, "    key        %s, %s\n", metadata.KeyPin(cert), pinned)
		}
		if len(c.SigningKeyPins) == 0 {
			fmt.Fprintf(stdout, "  to pin this site's signing key(s), once you have compared them with Huawei's, add to service_providers[%d]:\n", i)
			var pins []string
			for _, cert := range m.SigningCerts {
				pins = append(pins, metadata.KeyPin(cert))
			}
			fmt.Fprint(stdout, pinsYAMLOf(pins, "    "))
		}
	}
	return nil
}

func printCert(w io.Writer, c *x509.Certificate) {
	left := time.Until(c.NotAfter).Hours() / 24
	fmt.Fprintf(w, "  certificate  %s\n", c.Subject.String())
	fmt.Fprintf(w, "    expires    %s (%d days left)\n", c.NotAfter.UTC().Format(time.RFC3339), int(left))
}

func cmdUsers(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: idp users add|list|disable|enable|set-password --config F ...")
	}
	sub, args := args[0], args[1:]
	fs := newFlags("users "+sub, stderr)
	cfgPath := configFlag(fs)
	var id, password, email, name, mobile, display string
	var passwordStdin bool
	if sub != "list" {
		fs.StringVar(&id, "xaccount-id", "", "the customer's xAccountId (also its login name)")
	}
	if sub == "add" || sub == "set-password" {
		fs.StringVar(&password, "password", "", "password (prefer --password-stdin or $HCIDP_PASSWORD: command lines are visible to other users)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if sub == "add" {
		fs.StringVar(&email, "email", "", "e-mail address (optional; unique; at most 64 characters)")
		fs.StringVar(&name, "name", "", "Huawei Cloud account name (optional; 5-32 letters, digits, - and _)")
		fs.StringVar(&mobile, "mobile", "", "mobile number (optional)")
		fs.StringVar(&display, "display-name", "", "name shown on pages (optional)")
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if sub != "list" && id == "" {
		return fmt.Errorf("users %s: --xaccount-id is required", sub)
	}
	if sub == "add" || sub == "set-password" {
		pw, err := readPassword(password, passwordStdin, stdin)
		if err != nil {
			return err
		}
		password = pw
	}
	st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	now := time.Now()
	switch sub {
	case "add":
		c := storage.Customer{XAccountID: id, DisplayName: display, Email: email, Name: name, Mobile: mobile}
		if err := customer.Add(ctx, st, c, password, now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added customer %s\n", id)
	case "set-password":
		if err := customer.SetPassword(ctx, st, id, password, now); err != nil {
			return notFound(err, id)
		}
		fmt.Fprintf(stdout, "password of %s changed\n", id)
	case "disable", "enable":
		if err := customer.SetDisabled(ctx, st, id, sub == "disable", now); err != nil {
			return notFound(err, id)
		}
		fmt.Fprintf(stdout, "customer %s %sd\n", id, sub)
	case "list":
		cs, err := st.ListCustomers(ctx)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "XACCOUNT_ID\tSTATE\tEMAIL\tNAME\tMOBILE\tCREATED")
		for _, c := range cs {
			state := "active"
			if c.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", c.XAccountID, state, dash(c.Email), dash(c.Name), dash(c.Mobile), c.CreatedAt.Format(time.RFC3339))
		}
		return tw.Flush()
	default:
		return fmt.Errorf("unknown users command %q: use add, list, disable, enable or set-password", sub)
	}
	return nil
}

// readPassword takes the password from the flag, standard input or $HCIDP_PASSWORD.
func readPassword(flagValue string, fromStdin bool, stdin io.Reader) (string, error) {
	switch {
	case fromStdin:
		line, err := bufio.NewReader(stdin).ReadString('\n')
		if err != nil && !errors.Is(err, io.EOF) {
			return "", err
		}
		return strings.TrimRight(line, "\r\n"), nil
	case flagValue != "":
		return flagValue, nil
	case os.Getenv("HCIDP_PASSWORD") != "":
		return os.Getenv("HCIDP_PASSWORD"), nil
	}
	return "", errors.New("a password is required: --password-stdin, --password or $HCIDP_PASSWORD")
}

func notFound(err error, id string) error {
	if errors.Is(err, storage.ErrNotFound) {
		return fmt.Errorf("no customer %q", id)
	}
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func cmdBindings(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "add" && args[0] != "show") {
		return errors.New("usage: idp bindings add --config F --xaccount-id ID --site cn --domain-id ID [--domain-name N] | show --config F --xaccount-id ID [--events N]")
	}
	sub := args[0]
	fs := newFlags("bindings "+sub, stderr)
	cfgPath := configFlag(fs)
	id := fs.String("xaccount-id", "", "the customer's xAccountId")
	site := fs.String("site", "cn", "site: cn, intl or eu")
	domainID := fs.String("domain-id", "", "Huawei Cloud account ID (domain_id from the create-customer API)")
	domainName := fs.String("domain-name", "", "Huawei Cloud account name (domain_name)")
	events := fs.Int("events", 20, "show: at most N bind events, newest first (0 = all)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	if *id == "" {
		return errors.New("--xaccount-id is required")
	}
	st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if sub == "show" {
		return showBindings(ctx, st, *id, *events, stdout)
	}
	if _, err := customer.PutBinding(ctx, st, *id, customer.Binding{Site: *site, DomainID: *domainID, DomainName: *domainName,
		Source: storage.SourceCLI}, "", time.Now()); err != nil {
		return notFound(err, *id)
	}
	fmt.Fprintf(stdout, "bound %s on %s to Huawei Cloud account %s\n", *id, *site, *domainID)
	return nil
}

// showBindings prints the customer's bindings (with their source and, for
// a notification, its convention and event), then its bind events.
func showBindings(ctx context.Context, st storage.Storage, id string, limit int, stdout io.Writer) error {
	if _, err := st.GetCustomer(ctx, id); err != nil {
		return notFound(err, id)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tDOMAIN_ID\tDOMAIN_NAME\tSOURCE\tCONVENTION\tEVENT\tBOUND")
	n := 0
	for _, s := range huawei.SiteNames() {
		b, err := st.GetBinding(ctx, id, s)
		if errors.Is(err, storage.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		n++
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Site, b.DomainID, dash(b.DomainName), b.Source, dash(b.Convention),
			dash(b.EventID), b.BoundAt.UTC().Format(time.RFC3339))
	}
	if n == 0 {
		fmt.Fprintf(tw, "(no binding: the console link says isFirstLogin=true)\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	es, err := st.ListBindEvents(ctx, id, limit)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nbind events of %s (newest first):\n", id)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tSITE\tACTION\tCONVENTION\tSOURCE\tOUTCOME\tDOMAIN_ID\tDOMAIN_NAME\tPREVIOUS\tEVENT")
	for _, e := range es {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ReceivedAt.UTC().Format(time.RFC3339), e.Site, e.Action,
			dash(e.Convention), storage.SourceNotification, e.Outcome, dash(e.DomainID), dash(e.DomainName), dash(e.PreviousDomainID), e.ID)
	}
	if len(es) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}

func cmdAudit(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "list" {
		return errors.New("usage: idp audit list --config F [--since RFC3339|DURATION] [--customer ID] [--limit N]")
	}
	fs := newFlags("audit list", stderr)
	cfgPath := configFlag(fs)
	since := fs.String("since", "", "only events at or after this time (RFC 3339) or this long ago (e.g. 24h)")
	cust := fs.String("customer", "", "only events of this xAccountId")
	limit := fs.Int("limit", 0, "at most N events")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if err := noArgs(fs); err != nil {
		return err
	}
	f := storage.AuditFilter{XAccountID: *cust, Limit: *limit}
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			f.Since = t
		} else {
			return fmt.Errorf("--since %q: give an RFC 3339 time or a duration like 24h", *since)
		}
	}
	st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	events, err := st.ListAudit(ctx, f)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tCUSTOMER\tSITE\tOUTCOME\tREQUEST_ID\tASSERTION_ID\tCLIENT\tDETAIL")
	for _, e := range events {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.UTC().Format(time.RFC3339Nano), e.Kind, dash(e.XAccountID), dash(e.Site),
			dash(e.Outcome), dash(e.RequestID), dash(e.AssertionID), dash(e.ClientAddr), e.Detail)
	}
	return tw.Flush()
}
