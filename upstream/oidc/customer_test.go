package oidc_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
	"hcidp/upstream/oidc"
)

func TestResolveCustomer(t *testing.T) {
	now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		create   bool
		existing []storage.Customer
		id       oidc.Identity
		reason   string // "" = signed in
		created  bool
		want     storage.Customer // the stored record afterwards
	}{
		{"existing customer signs in", false,
			[]storage.Customer{{XAccountID: "c1", Email: "old@portal.example", DisplayName: "Old"}},
			oidc.Identity{XAccountID: "c1", Email: "new@portal.example", DisplayName: "New"}, "", false,
			storage.Customer{XAccountID: "c1", Email: "old@portal.example", DisplayName: "Old"}},
		{"existing customer with an ignored claim signs in, record unchanged", true,
			[]storage.Customer{{XAccountID: "c1", Name: "alice_w"}},
			oidc.Identity{XAccountID: "c1", Ignored: []string{"name"}}, "", false,
			storage.Customer{XAccountID: "c1", Name: "alice_w"}},
		{"disabled customer refused", true,
			[]storage.Customer{{XAccountID: "c1", Disabled: true}},
			oidc.Identity{XAccountID: "c1"}, oidc.ReasonCustomerDisabled, false,
			storage.Customer{XAccountID: "c1", Disabled: true}},
		{"unknown customer refused without create_customers", false, nil,
			oidc.Identity{XAccountID: "c9"}, oidc.ReasonUnknownCustomer, false, storage.Customer{}},
		{"unknown customer created", true, nil,
			oidc.Identity{XAccountID: "c9", Email: "c9@portal.example", Name: "carol_9", Mobile: "+1 555 0100", DisplayName: "Carol"}, "", true,
			storage.Customer{XAccountID: "c9", Email: "c9@portal.example", Name: "carol_9", Mobile: "+1 555 0100", DisplayName: "Carol"}},
		{"creation refused for an ignored claim", true, nil,
			oidc.Identity{XAccountID: "c9", Ignored: []string{"email"}}, oidc.ReasonClaimInvalid, false, storage.Customer{}},
		{"creation refused for an e-mail another customer has", true,
			[]storage.Customer{{XAccountID: "c1", Email: "taken@portal.example"}},
			oidc.Identity{XAccountID: "c9", Email: "taken@portal.example"}, oidc.ReasonClaimInvalid, false, storage.Customer{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st, err := sqlstore.OpenSQLite(t.Context(), ":memory:", sqlstore.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { st.Close() })
			for _, c := range tc.existing {
				if err := customer.Add(t.Context(), st, c, "", now); err != nil {
					t.Fatal(err)
				}
			}
			cfg := oidc.Config{Issuer: "https://idp.example", ClientID: "hcidp", ClientSecret: testSecret, CreateCustomers: tc.create}
			if err := cfg.Prepare(func(string) string { return "" }); err != nil {
				t.Fatal(err)
			}
			rp, err := oidc.New(cfg, testBaseURL, oidc.Options{Now: func() time.Time { return now }})
			if err != nil {
				t.Fatal(err)
			}
			c, created, err := rp.ResolveCustomer(context.Background(), st, tc.id)
			if tc.reason != "" {
				wantReason(t, err, tc.reason)
			} else if err != nil {
				t.Fatal(err)
			} else if c.XAccountID != tc.id.XAccountID || created != tc.created {
				t.Fatalf("got %+v created=%t", c, created)
			}
			got, err := st.GetCustomer(t.Context(), tc.id.XAccountID)
			if tc.want.XAccountID == "" {
				if !errors.Is(err, storage.ErrNotFound) {
					t.Fatalf("a customer was written: %+v %v", got, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.Email != tc.want.Email || got.Name != tc.want.Name || got.Mobile != tc.want.Mobile ||
				got.DisplayName != tc.want.DisplayName || got.Disabled != tc.want.Disabled || got.PasswordHash != "" {
				t.Fatalf("stored %+v, want %+v", got, tc.want)
			}
		})
	}
}
