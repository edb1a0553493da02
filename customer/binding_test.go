package customer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/storage"
)

// TestPutBinding: the one write path of the CLI's `bindings add` and the
// API's PUT .../bindings/{site}: Huawei's rules for the site, the account
// ID and name; an audit row naming the writer; nothing written when
// refused.
func TestPutBinding(t *testing.T) {
	st, ctx, now := openStore(t), t.Context(), time.Now()
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "C1"}, "", now); err != nil {
		t.Fatal(err)
	}
	var invalid *customer.InvalidError
	isInvalid := func(err error) bool { return errors.As(err, &invalid) }
	for _, tc := range []struct {
		name  string
		id    string
		b     customer.Binding
		check func(error) bool
		want  string
	}{
		{"unknown site", "C1", customer.Binding{Site: "mars", DomainID: "d1", Source: storage.SourceCLI},
			func(err error) bool { return isInvalid(err) && errors.Is(err, customer.ErrUnknownSite) }, `site "mars": not a Huawei Cloud site: use cn, intl or eu`},
		{"no account ID", "C1", customer.Binding{Site: "cn", Source: storage.SourceAPI}, isInvalid, ""},
		{"account ID with a control character", "C1", customer.Binding{Site: "cn", DomainID: "d\x001", Source: storage.SourceAPI}, isInvalid, ""},
		{"account name breaking the name rule", "C1", customer.Binding{Site: "cn", DomainID: "d1", DomainName: "1x", Source: storage.SourceAPI}, isInvalid, "domain_name"},
		{"unknown customer", "C9", customer.Binding{Site: "cn", DomainID: "d1", Source: storage.SourceCLI},
			func(err error) bool { return errors.Is(err, storage.ErrNotFound) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := customer.PutBinding(ctx, st, tc.id, tc.b, "192.0.2.1", now)
			if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v", err)
			}
			if _, err := st.GetBinding(ctx, "C1", "cn"); !errors.Is(err, storage.ErrNotFound) {
				t.Error("a refused binding was written")
			}
			if es, _ := st.ListAudit(ctx, storage.AuditFilter{}); len(es) != 0 {
				t.Errorf("a refused binding was audited: %+v", es)
			}
		})
	}

	b, err := customer.PutBinding(ctx, st, "C1", customer.Binding{Site: "cn", DomainID: "d1", DomainName: "hw_account", Source: storage.SourceAPI}, "192.0.2.1", now)
	if err != nil {
		t.Fatal(err)
	}
	if got, _ := st.GetBinding(ctx, "C1", "cn"); got.DomainID != "d1" || got.Source != storage.SourceAPI || b.DomainName != "hw_account" {
		t.Errorf("stored binding %+v", got)
	}
	es, _ := st.ListAudit(ctx, storage.AuditFilter{})
	if len(es) != 1 || es[0].Kind != "api" || es[0].ClientAddr != "192.0.2.1" || !strings.Contains(es[0].Detail, "binding.put domain_id=d1 domain_name=hw_account action=bind source=api") {
		t.Errorf("audit: %+v", es)
	}
}
