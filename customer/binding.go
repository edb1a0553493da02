package customer

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"hcidp/huawei"
	"hcidp/storage"
)

// Binding is a binding known from Huawei's CBC create-customer API
// (xaccount_id + domain_id), recorded by an operator (`idp bindings add`)
// or the portal API: the one write path for both.
type Binding struct {
	Site       string
	DomainID   string
	DomainName string
	// Source is storage.SourceCLI or storage.SourceAPI.
	Source string
}

// ErrUnknownSite is matched (errors.Is) by the *InvalidError of a binding
// whose site is not a Huawei Cloud site, so that a caller can say which
// input was wrong (the API's invalid_site).
var ErrUnknownSite = errors.New("not a Huawei Cloud site")

// Check applies the rules: a Huawei Cloud site, Huawei's account ID rule,
// and the account-name rule for a domain_name (docs/profile.md §3, `name`).
// The error, if any, is an *InvalidError.
func (b Binding) Check() error {
	if _, ok := huawei.LookupSite(b.Site); !ok {
		names := huawei.SiteNames()
		return &InvalidError{fmt.Errorf("site %q: %w: use %s or %s", b.Site, ErrUnknownSite,
			strings.Join(names[:len(names)-1], ", "), names[len(names)-1])}
	}
	if err := huawei.CheckDomainID(b.DomainID); err != nil {
		return &InvalidError{err}
	}
	if b.DomainName != "" {
		if err := CheckAttribute("name", b.DomainName); err != nil {
			return &InvalidError{fmt.Errorf("domain_name: %w", err)}
		}
	}
	return nil
}

// PutBinding checks b and records it for the customer id, replacing the
// binding on that site, with its audit row. storage.ErrNotFound when the
// customer does not exist; an *InvalidError when b breaks a rule. Nothing
// is written on error.
func PutBinding(ctx context.Context, st storage.Storage, id string, b Binding, clientAddr string, now time.Time) (storage.Binding, error) {
	if err := b.Check(); err != nil {
		return storage.Binding{}, err
	}
	rec := storage.Binding{XAccountID: id, Site: b.Site, DomainID: b.DomainID, DomainName: b.DomainName,
		Source: b.Source, BoundAt: now.UTC()}
	if err := st.PutBinding(ctx, rec); err != nil {
		return storage.Binding{}, err
	}
	// The audit kind is the writer ("api", "cli"), as for every other
	// write of theirs.
	if err := st.AppendAudit(ctx, storage.AuditEvent{Time: now.UTC(), Kind: b.Source, XAccountID: id, Site: b.Site,
		ClientAddr: clientAddr, Outcome: "recorded",
		Detail: "binding.put domain_id=" + b.DomainID + " domain_name=" + b.DomainName + " action=bind source=" + b.Source}); err != nil {
		return rec, fmt.Errorf("the binding is recorded, but not its audit row: %w", err)
	}
	return rec, nil
}
