package customer_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/storage"
)

// TestAddConflictsReadOnce: a duplicate xAccountId or e-mail is said once,
// in plain words, and still matches storage.ErrAlreadyExists (the API and
// the OIDC sign-in test for it).
func TestAddConflictsReadOnce(t *testing.T) {
	st, ctx, now := openStore(t), t.Context(), time.Now()
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "C1", Email: "a@example.com"}, "", now); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		c    storage.Customer
		is   error
		want string
	}{
		{"same ID", storage.Customer{XAccountID: "C1"}, customer.ErrExists, "customer C1 already exists"},
		{"same ID and e-mail", storage.Customer{XAccountID: "C1", Email: "a@example.com"}, customer.ErrExists, "customer C1 already exists"},
		{"same e-mail", storage.Customer{XAccountID: "C2", Email: "a@example.com"}, customer.ErrEmailTaken, `e-mail "a@example.com" is used by another customer`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := customer.Add(ctx, st, tc.c, "", now)
			if err == nil || err.Error() != tc.want {
				t.Fatalf("error %q, want exactly %q", err, tc.want)
			}
			if !errors.Is(err, tc.is) || !errors.Is(err, storage.ErrAlreadyExists) {
				t.Errorf("error %v does not match %v and storage.ErrAlreadyExists", err, tc.is)
			}
		})
	}
	// A broken rule is an *InvalidError, as from Upsert.
	var invalid *customer.InvalidError
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "C3", Email: "nope"}, "short", now); !errors.As(err, &invalid) ||
		!strings.Contains(err.Error(), "email") || !strings.Contains(err.Error(), "password") {
		t.Errorf("invalid record: %v, want one *InvalidError naming the e-mail and the password", err)
	}
}

// TestUpdateChangesOnlyTheGivenFields: Update sets the given attributes
// (an empty one clears it), keeps the rest and the password, applies the
// same rules as Add and Upsert, and writes nothing when refused.
func TestUpdateChangesOnlyTheGivenFields(t *testing.T) {
	st, ctx, now := openStore(t), t.Context(), time.Now()
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "C1", DisplayName: "One", Email: "a@example.com", Name: "acme_one", Mobile: "+86 138 0000 0000"},
		"password 123", now); err != nil {
		t.Fatal(err)
	}
	if err := customer.Add(ctx, st, storage.Customer{XAccountID: "C2", Email: "b@example.com"}, "", now); err != nil {
		t.Fatal(err)
	}
	before, _ := st.GetCustomer(ctx, "C1")

	c, err := customer.Update(ctx, st, "C1", customer.Changes{Email: ptr("new@example.com"), Mobile: ptr("")}, now.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	got, _ := st.GetCustomer(ctx, "C1")
	if got.Email != "new@example.com" || got.Mobile != "" || got.DisplayName != "One" || got.Name != "acme_one" ||
		got.PasswordHash != before.PasswordHash || got.Disabled || !got.UpdatedAt.After(before.UpdatedAt) || c.Email != got.Email {
		t.Fatalf("after update: %+v", got)
	}

	var invalid *customer.InvalidError
	for _, tc := range []struct {
		name  string
		id    string
		ch    customer.Changes
		check func(error) bool
		want  string
	}{
		{"bad e-mail", "C1", customer.Changes{Email: ptr("not an address")}, func(err error) bool { return errors.As(err, &invalid) }, "is not an address"},
		{"bad name", "C1", customer.Changes{Name: ptr("1abcdef")}, func(err error) bool { return errors.As(err, &invalid) }, "must not start with a digit"},
		{"nothing to change", "C1", customer.Changes{}, func(err error) bool { return errors.Is(err, customer.ErrNoChanges) }, "nothing to change"},
		{"e-mail of another customer", "C1", customer.Changes{Email: ptr("b@example.com")}, func(err error) bool { return errors.Is(err, customer.ErrEmailTaken) },
			`e-mail "b@example.com" is used by another customer`},
		{"unknown customer", "C9", customer.Changes{Name: ptr("acme_nine")}, func(err error) bool { return errors.Is(err, storage.ErrNotFound) }, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := customer.Update(ctx, st, tc.id, tc.ch, now.Add(time.Hour))
			if err == nil || !tc.check(err) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v", err)
			}
			if after, _ := st.GetCustomer(ctx, "C1"); after != got {
				t.Errorf("a refused update wrote: %+v", after)
			}
		})
	}
}
