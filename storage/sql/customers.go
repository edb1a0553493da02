package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"

	"hcidp/storage"
)

// Customers.

const customerColumns = `x_account_id, display_name, email, name, mobile, password_hash, disabled, created_at, updated_at`

func scanCustomer(s scanner) (storage.Customer, error) {
	var c storage.Customer
	err := s.Scan(&c.XAccountID, &c.DisplayName, &c.Email, &c.Name, &c.Mobile,
		&c.PasswordHash, &c.Disabled, at(&c.CreatedAt), at(&c.UpdatedAt))
	return c, err
}

// customerConflict turns a unique violation on customers into
// storage.ErrAlreadyExists, saying which key was taken.
func (d *DB) customerConflict(err error, c storage.Customer) error {
	if d.fl.violates(err, "customers", "email") {
		return fmt.Errorf("%w: email %q is used by another customer", storage.ErrAlreadyExists, c.Email)
	}
	return fmt.Errorf("%w: customer %q", storage.ErrAlreadyExists, c.XAccountID)
}

// CreateCustomer implements storage.Storage.
func (d *DB) CreateCustomer(ctx context.Context, c storage.Customer) error {
	_, err := d.exec(ctx, `INSERT INTO customers (`+customerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.XAccountID, c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
		c.Disabled, d.t(c.CreatedAt), d.t(c.UpdatedAt))
	if d.fl.isUnique(err) {
		return d.customerConflict(err, c)
	}
	if err != nil {
		return d.errorf(err, "create customer %q", c.XAccountID)
	}
	return nil
}

// GetCustomer implements storage.Storage.
func (d *DB) GetCustomer(ctx context.Context, xAccountID string) (storage.Customer, error) {
	c, err := scanCustomer(d.queryRow(ctx, d.read,
		`SELECT `+customerColumns+` FROM customers WHERE x_account_id = ?`, xAccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Customer{}, fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
	}
	if err != nil {
		return storage.Customer{}, d.errorf(err, "get customer %q", xAccountID)
	}
	return c, nil
}

// UpdateCustomer implements storage.Storage. The customer is locked while
// fn runs (PostgreSQL: its row, FOR UPDATE; SQLite: the database, through
// the only write connection), so fn should be quick and must not call back
// into d.
func (d *DB) UpdateCustomer(ctx context.Context, xAccountID string, fn func(storage.Customer) (storage.Customer, error)) error {
	return d.inTx(ctx, "update customer", func(x *tx) error {
		old, err := scanCustomer(x.queryRow(ctx,
			`SELECT `+customerColumns+` FROM customers WHERE x_account_id = ? FOR UPDATE`, xAccountID))
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
		}
		if err != nil {
			return d.errorf(err, "update customer %q", xAccountID)
		}
		c, err := fn(old)
		if err != nil {
			return err
		}
		if c.XAccountID != old.XAccountID {
			return fmt.Errorf("%s: update customer %q: XAccountID cannot change (got %q)", d.fl.name, xAccountID, c.XAccountID)
		}
		_, err = x.exec(ctx, `UPDATE customers SET
			display_name = ?, email = ?, name = ?, mobile = ?, password_hash = ?,
			disabled = ?, created_at = ?, updated_at = ?
			WHERE x_account_id = ?`,
			c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
			c.Disabled, d.t(c.CreatedAt), d.t(c.UpdatedAt), xAccountID)
		if d.fl.isUnique(err) {
			return d.customerConflict(err, c)
		}
		if err != nil {
			return d.errorf(err, "update customer %q", xAccountID)
		}
		return nil
	})
}

// ListCustomers implements storage.Storage.
func (d *DB) ListCustomers(ctx context.Context) ([]storage.Customer, error) {
	rows, err := d.query(ctx, d.read, `SELECT `+customerColumns+` FROM customers ORDER BY x_account_id`)
	cs, err := collect(rows, err, scanCustomer)
	if err != nil {
		return nil, d.errorf(err, "list customers")
	}
	return cs, nil
}
