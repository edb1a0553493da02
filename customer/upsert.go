package customer

import (
	"context"
	"errors"
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
// (ErrEmailTaken) when the e-mail belongs to another customer.
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
				return storage.Customer{}, false, emailTaken(p.Email)
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
			return storage.Customer{}, false, emailTaken(p.Email)
		} else if gerr != nil {
			return storage.Customer{}, false, gerr
		}
	}
	return storage.Customer{}, false, err
}

// Changes are the attributes a partial update sets (`idp users update`):
// a nil field keeps the stored value, an empty string clears it.
type Changes struct {
	DisplayName, Email, Name, Mobile *string
}

// ErrNoChanges is returned by Update when Changes sets nothing.
var ErrNoChanges = errors.New("nothing to change")

// Update changes only the given attributes of customer id, with the rules
// of Upsert applied to the resulting record, and returns it. Errors:
// storage.ErrNotFound for an unknown customer; *InvalidError for a broken
// rule or no change (wrapping ErrNoChanges); ErrEmailTaken when the e-mail
// belongs to another customer. Nothing is written on error.
func Update(ctx context.Context, st storage.Storage, id string, ch Changes, now time.Time) (storage.Customer, error) {
	if ch == (Changes{}) {
		return storage.Customer{}, &InvalidError{ErrNoChanges}
	}
	if err := ValidateID(id); err != nil {
		return storage.Customer{}, &InvalidError{err}
	}
	var out storage.Customer
	err := st.UpdateCustomer(ctx, id, func(c storage.Customer) (storage.Customer, error) {
		for _, f := range []struct {
			dst *string
			v   *string
		}{{&c.DisplayName, ch.DisplayName}, {&c.Email, ch.Email}, {&c.Name, ch.Name}, {&c.Mobile, ch.Mobile}} {
			if f.v != nil {
				*f.dst = *f.v
			}
		}
		if err := Validate(c); err != nil {
			return c, &InvalidError{err}
		}
		c.UpdatedAt = now.UTC()
		out = c
		return c, nil
	})
	if errors.Is(err, storage.ErrAlreadyExists) && ch.Email != nil {
		return storage.Customer{}, emailTaken(*ch.Email)
	}
	if err != nil {
		return storage.Customer{}, err
	}
	return out, nil
}
