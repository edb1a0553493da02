// Package customer is the one write path for partner customers and their
// bindings (the CLI, the portal API, an upstream sign-in that creates
// customers): the record rules (Huawei's attribute rules live in package
// huawei, docs/profile.md §3 and "Identifiers and accounts"), and the
// password hashing used at login. Every writer goes through Validate, so a
// malformed value never reaches an assertion.
package customer

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unicode/utf8"

	"hcidp/huawei"
	"hcidp/storage"
)

// Limits of a customer record beyond Huawei's attribute rules.
const (
	MaxIDLength       = huawei.MaxXAccountID
	MaxDisplayName    = 128
	MinPasswordLength = 8
	MaxPasswordLength = 1024
)

// ValidateID checks an xAccountId (huawei.CheckXAccountID).
func ValidateID(id string) error { return huawei.CheckXAccountID(id) }

// CheckAttribute checks one optional attribute (huawei.CheckAttribute).
func CheckAttribute(name, value string) error { return huawei.CheckAttribute(name, value) }

// Validate checks a whole customer record before it is written.
func Validate(c storage.Customer) error {
	var errs []error
	if err := ValidateID(c.XAccountID); err != nil {
		errs = append(errs, err)
	}
	if len(c.DisplayName) > MaxDisplayName || !huawei.Printable(c.DisplayName) {
		errs = append(errs, fmt.Errorf("display name must be at most %d printable characters", MaxDisplayName))
	}
	for _, a := range [][2]string{{"email", c.Email}, {"name", c.Name}, {"mobile", c.Mobile}} {
		if a[1] == "" {
			continue
		}
		if err := CheckAttribute(a[0], a[1]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// CheckPassword applies the password length policy.
func CheckPassword(pw string) error {
	if n := utf8.RuneCountInString(pw); n < MinPasswordLength {
		return fmt.Errorf("the password must be at least %d characters long", MinPasswordLength)
	}
	if len(pw) > MaxPasswordLength {
		return fmt.Errorf("the password must be at most %d bytes long", MaxPasswordLength)
	}
	if !utf8.ValidString(pw) {
		return errors.New("the password is not valid UTF-8")
	}
	return nil
}

// Add validates and creates a customer with a password (may be "" for
// customers who only arrive through the portal hand-off), with the rules of
// Upsert. Errors: *InvalidError for a broken rule; ErrExists when the
// xAccountId is taken, ErrEmailTaken when the e-mail is (both also match
// storage.ErrAlreadyExists).
func Add(ctx context.Context, st storage.Storage, c storage.Customer, password string, now time.Time) error {
	err := Validate(c)
	if password != "" {
		err = errors.Join(err, CheckPassword(password))
	}
	if err != nil {
		return &InvalidError{err}
	}
	if password != "" {
		h, err := HashPassword(password)
		if err != nil {
			return err
		}
		c.PasswordHash = h
	}
	c.CreatedAt, c.UpdatedAt = now.UTC(), now.UTC()
	err = st.CreateCustomer(ctx, c)
	if errors.Is(err, storage.ErrAlreadyExists) {
		return conflict(ctx, st, c.XAccountID, c.Email, err)
	}
	return err
}

// ErrExists and ErrEmailTaken say which unique key a write would have
// duplicated; errors.Is matches them, and storage.ErrAlreadyExists, on the
// errors of Add, Upsert and Update.
var (
	ErrExists     = errors.New("customer already exists")
	ErrEmailTaken = errors.New("e-mail address is used by another customer")
)

// conflictError reads once ("customer C1 already exists"), however the
// storage worded its own error, and matches both its sentinel and
// storage.ErrAlreadyExists.
type conflictError struct {
	msg  string
	kind error
}

func (e *conflictError) Error() string   { return e.msg }
func (e *conflictError) Unwrap() []error { return []error{e.kind, storage.ErrAlreadyExists} }

// conflict turns the storage's ErrAlreadyExists for customer id with email
// into ErrExists or ErrEmailTaken: the ID is taken if a customer has it.
func conflict(ctx context.Context, st storage.Storage, id, email string, err error) error {
	if _, gerr := st.GetCustomer(ctx, id); gerr == nil {
		return &conflictError{fmt.Sprintf("customer %s already exists", id), ErrExists}
	} else if !errors.Is(gerr, storage.ErrNotFound) {
		return errors.Join(err, gerr)
	}
	return emailTaken(email)
}

func emailTaken(email string) error {
	return &conflictError{fmt.Sprintf("e-mail %q is used by another customer", email), ErrEmailTaken}
}

// SetPassword replaces a customer's password.
func SetPassword(ctx context.Context, st storage.Storage, id, password string, now time.Time) error {
	if err := CheckPassword(password); err != nil {
		return err
	}
	h, err := HashPassword(password)
	if err != nil {
		return err
	}
	return st.UpdateCustomer(ctx, id, func(c storage.Customer) (storage.Customer, error) {
		c.PasswordHash, c.UpdatedAt = h, now.UTC()
		return c, nil
	})
}

// SetDisabled disables or re-enables a customer.
func SetDisabled(ctx context.Context, st storage.Storage, id string, disabled bool, now time.Time) error {
	return st.UpdateCustomer(ctx, id, func(c storage.Customer) (storage.Customer, error) {
		c.Disabled, c.UpdatedAt = disabled, now.UTC()
		return c, nil
	})
}
