package customer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"hcidp/storage"
)

// Profile is what a writer sets on a customer record as a whole (the portal
// API's PUT): the attributes replace the stored ones; Password and Disabled
// are changed only when given.
type Profile struct {
	DisplayName string
	Email       string
	Name        string
	Mobile      string
	// Password, when non-nil, becomes the customer's password.
	Password *string
	// Disabled, when non-nil, sets the state; a new customer is active
	// unless told otherwise.
	Disabled *bool
}

// InvalidError is a customer record or password that breaks a rule: the
// caller's fault, to be reported as given.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }
func (e *InvalidError) Unwrap() error { return e.Err }

// Check applies Validate and CheckPassword to the record p would write for id.
// The error, if any, is an *InvalidError.
func (p Profile) Check(id string) error {
	err := Validate(p.apply(storage.Customer{XAccountID: id}))
	if p.Password != nil {
		err = errors.Join(err, CheckPassword(*p.Password))
	}
	if err != nil {
		return &InvalidError{err}
	}
	return nil
}

func (p Profile) apply(c storage.Customer) storage.Customer {
	c.DisplayName, c.Email, c.Name, c.Mobile = p.DisplayName, p.Email, p.Name, p.Mobile
	if p.Disabled != nil {
		c.Disabled = *p.Disabled
	}
	return c
}

// Upsert creates customer id with p, or updates it when it exists, with the
// same rules as Add. It returns the stored record and whether it was
// created. Errors: *InvalidError for a broken rule; storage.ErrAlreadyExists
// (wrapped) when the e-mail belongs to another customer.
func Upsert(ctx context.Context, st storage.Storage, id string, p Profile, now time.Time) (c storage.Customer, created bool, err error) {
	if err := p.Check(id); err != nil {
		return storage.Customer{}, false, err
	}
	var hash string
	if p.Password != nil {
		if hash, err = HashPassword(*p.Password); err != nil {
			return storage.Customer{}, false, err
		}
	}
	now = now.UTC()
	// Two rounds: a customer created by someone else between our update
	// (not found) and our create (already exists) is then updated.
	for range 2 {
		err = st.UpdateCustomer(ctx, id, func(old storage.Customer) (storage.Customer, error) {
			c = p.apply(old)
			if hash != "" {
				c.PasswordHash = hash
			}
			c.UpdatedAt = now
			return c, nil
		})
		if !errors.Is(err, storage.ErrNotFound) {
			if errors.Is(err, storage.ErrAlreadyExists) {
				return storage.Customer{}, false, fmt.Errorf("e-mail %q is used by another customer: %w", p.Email, err)
			}
			return c, false, err
		}
		c = p.apply(storage.Customer{XAccountID: id, PasswordHash: hash, CreatedAt: now, UpdatedAt: now})
		err = st.CreateCustomer(ctx, c)
		if err == nil {
			return c, true, nil
		}
		if !errors.Is(err, storage.ErrAlreadyExists) {
			return storage.Customer{}, false, err
		}
		if _, gerr := st.GetCustomer(ctx, id); errors.Is(gerr, storage.ErrNotFound) {
			// The ID is free, so the e-mail is taken.
			return storage.Customer{}, false, fmt.Errorf("e-mail %q is used by another customer: %w", p.Email, err)
		} else if gerr != nil {
			return storage.Customer{}, false, gerr
		}
	}
	return storage.Customer{}, false, err
}
