package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"hcidp/customer"
	"hcidp/huawei"
	"hcidp/storage"
)

// bindingsJSON is `idp bindings show --json` (docs/cli.md), with the field
// names of the portal API.
type bindingsJSON struct {
	XAccountID string                   `json:"xaccount_id"`
	Bindings   []customer.BindingView   `json:"bindings"`
	BindEvents []customer.BindEventView `json:"bind_events"`
}

// cmdBindingsAdd records a binding through customer.PutBinding, the one
// write path the portal API uses too (its rules and its audit row).
func cmdBindingsAdd(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bindings add", stdout)
	cfgPath := configFlag(fs)
	id := fs.String("xaccount-id", "", "the customer's xAccountId")
	site := fs.String("site", "cn", "`site`: cn, intl or eu")
	domainID := fs.String("domain-id", "", "Huawei Cloud account `ID` (domain_id from the create-customer API)")
	domainName := fs.String("domain-name", "", "Huawei Cloud account `name` (domain_name)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *id == "" {
		return usageErrorf(fs.name, "bindings add: --xaccount-id is required")
	}
	st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := customer.PutBinding(ctx, st, *id, customer.Binding{Site: *site, DomainID: *domainID, DomainName: *domainName,
		Source: storage.SourceCLI}, "", time.Now()); err != nil {
		return notFound(err, *id)
	}
	fmt.Fprintf(stdout, "bound %s on %s to Huawei Cloud account %s\n", *id, *site, *domainID)
	return nil
}

// cmdBindingsShow prints the customer's bindings (with their source and,
// for a notification, its convention and event), then its bind events.
func cmdBindingsShow(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("bindings show", stdout)
	cfgPath := configFlag(fs)
	id := fs.String("xaccount-id", "", "the customer's xAccountId")
	site := fs.String("site", "", "only this `site` (cn, intl or eu; default: every site)")
	limit := fs.Int("events", 20, "at most `N` bind events, newest first (0 = all)")
	asJSON := fs.Bool("json", false, "print JSON (docs/cli.md)")
	if err := fs.parse(args); err != nil {
		return err
	}
	if *id == "" {
		return usageErrorf(fs.name, "bindings show: --xaccount-id is required")
	}
	st, err := openStore(ctx, *cfgPath)
	if err != nil {
		return err
	}
	defer st.Close()
	if _, err := st.GetCustomer(ctx, *id); err != nil {
		return notFound(err, *id)
	}
	if _, ok := huawei.LookupSite(*site); *site != "" && !ok {
		return usageErrorf(fs.name, "bindings show: --site %q: use %s", *site, orList(huawei.SiteNames()))
	}
	bs, err := customer.Bindings(ctx, st, *id, *site)
	if err != nil {
		return err
	}
	out := bindingsJSON{XAccountID: *id, Bindings: bs, BindEvents: []customer.BindEventView{}}
	es, err := st.ListBindEvents(ctx, *id, *limit)
	if err != nil {
		return err
	}
	for _, e := range es {
		if *site != "" && e.Site != *site {
			continue
		}
		out.BindEvents = append(out.BindEvents, customer.BindEventViewOf(e))
	}
	if *asJSON {
		return writeJSON(stdout, out)
	}

	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "SITE\tDOMAIN_ID\tDOMAIN_NAME\tSOURCE\tCONVENTION\tEVENT\tBOUND")
	for _, b := range out.Bindings {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b.Site, cell(b.DomainID), cell(b.DomainName), b.Source, cell(b.Convention),
			cell(b.EventID), b.BoundAt.Format(time.RFC3339))
	}
	if len(out.Bindings) == 0 {
		fmt.Fprintf(tw, "(no binding: the console link says isFirstLogin=true)\n")
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\nbind events of %s (newest first):\n", *id)
	tw = tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RECEIVED\tSITE\tACTION\tCONVENTION\tSOURCE\tOUTCOME\tDOMAIN_ID\tDOMAIN_NAME\tPREVIOUS\tEVENT")
	for _, e := range out.BindEvents {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.ReceivedAt.Format(time.RFC3339), e.Site, e.Action,
			cell(e.Convention), e.Source, e.Outcome, cell(e.DomainID), cell(e.DomainName), cell(e.PreviousDomainID), e.ID)
	}
	if len(out.BindEvents) == 0 {
		fmt.Fprintln(tw, "(none)")
	}
	return tw.Flush()
}
