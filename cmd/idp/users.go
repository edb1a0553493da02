package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"hcidp/customer"
	"hcidp/storage"
)

func cmdUsers(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) error {
	sub := func(name string) func([]string) error {
		return func(a []string) error { return cmdUser(ctx, name, a, stdin, stdout) }
	}
	subs := map[string]func([]string) error{}
	for _, name := range groups["users"] {
		subs[name] = sub(name)
	}
	return dispatch("users", args, stdout, subs)
}

// cmdUser runs `idp users SUB`: its flags, then the customer package's
// write (the API's rules), then what it prints.
func cmdUser(ctx context.Context, sub string, args []string, stdin io.Reader, stdout io.Writer) error {
	fs := newFlags("users "+sub, stdout)
	cfgPath := configFlag(fs)
	var id, password, email, name, mobile, display string
	var passwordStdin, asJSON bool
	if sub != "list" {
		fs.StringVar(&id, "xaccount-id", "", "the customer's xAccountId (also its login name)")
	}
	if sub == "add" || sub == "set-password" {
		fs.StringVar(&password, "password", "", "password (prefer --password-stdin or $HCIDP_PASSWORD: command lines are visible to other users)")
		fs.BoolVar(&passwordStdin, "password-stdin", false, "read the password from the first line of standard input")
	}
	if sub == "add" || sub == "update" {
		fs.StringVar(&email, "email", "", "e-mail address (optional; unique; at most 64 characters)")
		fs.StringVar(&name, "name", "", "Huawei Cloud account name (optional; 5-32 letters, digits, - and _)")
		fs.StringVar(&mobile, "mobile", "", "mobile number (optional)")
		fs.StringVar(&display, "display-name", "", "name shown on pages (optional)")
	}
	if sub == "list" {
		fs.BoolVar(&asJSON, "json", false, "print JSON (docs/cli.md)")
	}
	if err := fs.parse(args); err != nil {
		return err
	}
	if sub != "list" && id == "" {
		return usageErrorf(fs.name, "users %s: --xaccount-id is required", sub)
	}
	var changes customer.Changes
	if sub == "update" {
		set := func(flag string, v string, field **string) {
			if fs.given(flag) {
				*field = &v
			}
		}
		set("email", email, &changes.Email)
		set("name", name, &changes.Name)
		set("mobile", mobile, &changes.Mobile)
		set("display-name", display, &changes.DisplayName)
		if changes == (customer.Changes{}) {
			return usageErrorf(fs.name, "users update: nothing to change: give --email, --name, --mobile or --display-name (an empty value clears it)")
		}
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
		err := customer.Add(ctx, st, c, password, now)
		if errors.Is(err, customer.ErrExists) {
			return fmt.Errorf("%w (change it with `idp users update`)", err)
		}
		if err != nil {
			return err
		}
		if err := cliAudit(ctx, st, id, "created", "customer.add", now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "added customer %s\n", id)
	case "update":
		c, err := customer.Update(ctx, st, id, changes, now)
		if err != nil {
			return notFound(err, id)
		}
		if err := cliAudit(ctx, st, id, "updated", "customer.update", now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "updated customer %s: display name %s, e-mail %s, name %s, mobile %s\n",
			id, cell(c.DisplayName), cell(c.Email), cell(c.Name), cell(c.Mobile))
	case "set-password":
		if err := customer.SetPassword(ctx, st, id, password, now); err != nil {
			return notFound(err, id)
		}
		if err := cliAudit(ctx, st, id, "updated", "customer.set_password", now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "password of %s changed\n", id)
	case "disable", "enable":
		if err := customer.SetDisabled(ctx, st, id, sub == "disable", now); err != nil {
			return notFound(err, id)
		}
		if err := cliAudit(ctx, st, id, sub+"d", "customer."+sub, now); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "customer %s %sd\n", id, sub)
	case "list":
		cs, err := st.ListCustomers(ctx)
		if err != nil {
			return err
		}
		if asJSON {
			list := make([]customer.View, 0, len(cs))
			for _, c := range cs {
				list = append(list, customer.ViewOf(c))
			}
			return writeJSON(stdout, list)
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "XACCOUNT_ID\tSTATE\tEMAIL\tNAME\tMOBILE\tCREATED")
		for _, c := range cs {
			state := "active"
			if c.Disabled {
				state = "disabled"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", cell(c.XAccountID), state, cell(c.Email), cell(c.Name), cell(c.Mobile), c.CreatedAt.UTC().Format(time.RFC3339))
		}
		return tw.Flush()
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
		return fmt.Errorf("no customer %q (`idp users list` lists them)", id)
	}
	return err
}

// cliAudit records a customer write of the CLI in the audit log (kind
// "cli"), as the portal API records its own (kind "api").
func cliAudit(ctx context.Context, st storage.Storage, id, outcome, detail string, now time.Time) error {
	if err := st.AppendAudit(ctx, storage.AuditEvent{Time: now.UTC(), Kind: storage.SourceCLI, XAccountID: id,
		Outcome: outcome, Detail: detail}); err != nil {
		return fmt.Errorf("the change is made, but not its audit row: %w", err)
	}
	return nil
}
