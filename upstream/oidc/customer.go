package oidc

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"hcidp/customer"
	"hcidp/storage"
)

// ResolveCustomer finds the hcidp customer of an upstream identity:
//
//   - an existing, active customer signs in as it is: the claims never
//     update its record (the portal API and the CLI remain its writers;
//     an attribute in the SAML assertion does not change behind their back);
//   - a disabled customer is refused (oidc.customer_disabled);
//   - an unknown one is refused (oidc.unknown_customer) unless
//     create_customers is true: then it is created from the claims, with
//     no password, and created is true. An identity with an ignored
//     attribute (a claim breaking hcidp's rules) or an e-mail address
//     taken by another customer is refused (oidc.claim_invalid): nothing
//     is written.
//
// Errors that are not *Error are faults of the database (answer 503).
func (p *Provider) ResolveCustomer(ctx context.Context, st storage.Storage, id Identity) (c storage.Customer, created bool, err error) {
	c, err = st.GetCustomer(ctx, id.XAccountID)
	switch {
	case err == nil:
		return active(c)
	case !errors.Is(err, storage.ErrNotFound):
		return storage.Customer{}, false, fmt.Errorf("upstream oidc: read customer: %w", err)
	case !p.cfg.CreateCustomers:
		return storage.Customer{}, false, fail(ReasonUnknownCustomer, "no customer "+sanitize(id.XAccountID)+" in hcidp, and create_customers is off")
	}
	if len(id.Ignored) > 0 {
		return storage.Customer{}, false, fail(ReasonClaimInvalid,
			"cannot create the customer: the claim(s) for "+strings.Join(id.Ignored, ", ")+" break hcidp's attribute rules (or the e-mail is not verified)")
	}
	nc := storage.Customer{XAccountID: id.XAccountID, DisplayName: id.DisplayName, Email: id.Email, Name: id.Name, Mobile: id.Mobile}
	if err := customer.Validate(nc); err != nil {
		return storage.Customer{}, false, fail(ReasonClaimInvalid, "cannot create the customer: "+sanitize(err.Error()))
	}
	err = customer.Add(ctx, st, nc, "", p.now())
	if errors.Is(err, storage.ErrAlreadyExists) {
		// Either a concurrent first sign-in created it, or the e-mail
		// belongs to another customer.
		c, gerr := st.GetCustomer(ctx, id.XAccountID)
		switch {
		case gerr == nil:
			return active(c)
		case errors.Is(gerr, storage.ErrNotFound):
			return storage.Customer{}, false, fail(ReasonClaimInvalid, "cannot create the customer: its e-mail address belongs to another customer")
		default:
			return storage.Customer{}, false, fmt.Errorf("upstream oidc: read customer: %w", gerr)
		}
	}
	if err != nil {
		return storage.Customer{}, false, fmt.Errorf("upstream oidc: create customer: %w", err)
	}
	c, err = st.GetCustomer(ctx, id.XAccountID)
	if err != nil {
		return storage.Customer{}, false, fmt.Errorf("upstream oidc: read created customer: %w", err)
	}
	return c, true, nil
}

func active(c storage.Customer) (storage.Customer, bool, error) {
	if c.Disabled {
		return storage.Customer{}, false, fail(ReasonCustomerDisabled, "the customer "+sanitize(c.XAccountID)+" is disabled")
	}
	return c, false, nil
}
