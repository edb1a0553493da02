package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"hcidp/storage"
)

// auditJSON is one event of `idp audit list --json` (docs/cli.md).
type auditJSON struct {
	ID            int64     `json:"id"`
	Time          time.Time `json:"time"`
	Kind          string    `json:"kind"`
	Outcome       string    `json:"outcome"`
	XAccountID    string    `json:"xaccount_id"`
	Site          string    `json:"site"`
	Client        string    `json:"client"`
	SAMLRequestID string    `json:"saml_request_id"`
	AssertionID   string    `json:"assertion_id"`
	Detail        string    `json:"detail"`
}

// listFlag is a repeatable flag whose values may also be comma-separated.
type listFlag []string

func (l *listFlag) String() string { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error {
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			*l = append(*l, s)
		}
	}
	return nil
}

func cmdAuditList(ctx context.Context, args []string, stdout io.Writer) error {
	fs := newFlags("audit list", stdout)
	cfgPath := configFlag(fs)
	since := fs.String("since", "", "only events at or after this `time` (RFC 3339) or this long ago (e.g. 24h)")
	cust := fs.String("customer", "", "only events of this `xAccountId` (for a login, the account tried)")
	var kinds, outcomes listFlag
	fs.Var(&kinds, "kind", "only events of this `kind` (repeatable or comma-separated): response, error_response, login, bind, launch, console, api, cli, ...")
	fs.Var(&outcomes, "outcome", "only events with this `outcome` (repeatable or comma-separated), e.g. failure,throttled for refused sign-ins")
	limit := fs.Int("limit", 0, "at most `N` events, oldest first (0 = all)")
	asJSON := fs.Bool("json", false, "print JSON (docs/cli.md)")
	if err := fs.parse(args); err != nil {
		return err
	}
	f := storage.AuditFilter{XAccountID: *cust, Limit: *limit}
	if *since != "" {
		if d, err := time.ParseDuration(*since); err == nil {
			f.Since = time.Now().Add(-d)
		} else if t, err := time.Parse(time.RFC3339, *since); err == nil {
			f.Since = t
		} else {
			return usageErrorf(fs.name, "--since %q: give an RFC 3339 time or a duration like 24h", *since)
		}
	}
	if len(kinds) > 0 || len(outcomes) > 0 {
		// The storage filters by time and customer; kind and outcome are
		// filtered here, and the limit applied after them.
		f.Limit = 0
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
	list := make([]auditJSON, 0, len(events))
	for _, e := range events {
		if (len(kinds) > 0 && !slices.Contains(kinds, e.Kind)) || (len(outcomes) > 0 && !slices.Contains(outcomes, e.Outcome)) {
			continue
		}
		if *limit > 0 && len(list) == *limit {
			break
		}
		list = append(list, auditJSON{ID: e.ID, Time: e.Time.UTC(), Kind: e.Kind, Outcome: e.Outcome, XAccountID: e.XAccountID, Site: e.Site,
			Client: e.ClientAddr, SAMLRequestID: e.RequestID, AssertionID: e.AssertionID, Detail: e.Detail})
	}
	if *asJSON {
		return writeJSON(stdout, list)
	}
	// One row per event; the columns a kind does not use (a sign-in has no
	// site or SAML IDs) show "-". Values from outside, such as the account
	// name tried at the login page, are quoted when they hold spaces or
	// control characters.
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "TIME\tKIND\tOUTCOME\tCUSTOMER\tSITE\tCLIENT\tSAML_REQUEST_ID\tASSERTION_ID\tDETAIL")
	for _, e := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.RFC3339), cell(e.Kind), cell(e.Outcome), cell(e.XAccountID),
			cell(e.Site), cell(e.Client), cell(e.SAMLRequestID), cell(e.AssertionID), text(e.Detail))
	}
	return tw.Flush()
}
