package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"hcidp/storage"
)

// Bindings.

const selectBinding = `SELECT domain_id, domain_name, source, bound_at, event_id, convention FROM bindings
	WHERE x_account_id = ? AND site = ?`

func scanBinding(row scanner, xAccountID, site string) (storage.Binding, error) {
	b := storage.Binding{XAccountID: xAccountID, Site: site}
	err := row.Scan(&b.DomainID, &b.DomainName, &b.Source, at(&b.BoundAt), &b.EventID, &b.Convention)
	return b, err
}

// GetBinding implements storage.Storage.
func (d *DB) GetBinding(ctx context.Context, xAccountID, site string) (storage.Binding, error) {
	b, err := scanBinding(d.queryRow(ctx, d.read, selectBinding, xAccountID, site), xAccountID, site)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Binding{}, fmt.Errorf("%w: binding of %q on site %q", storage.ErrNotFound, xAccountID, site)
	}
	if err != nil {
		return storage.Binding{}, d.errorf(err, "get binding %q/%q", xAccountID, site)
	}
	return b, nil
}

const upsertBinding = `INSERT INTO bindings (x_account_id, site, domain_id, domain_name, source, bound_at, event_id, convention)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (x_account_id, site) DO UPDATE SET
		domain_id = excluded.domain_id, domain_name = excluded.domain_name,
		source = excluded.source, bound_at = excluded.bound_at,
		event_id = excluded.event_id, convention = excluded.convention`

// PutBinding implements storage.Storage.
func (d *DB) PutBinding(ctx context.Context, b storage.Binding) error {
	_, err := d.exec(ctx, upsertBinding,
		b.XAccountID, b.Site, b.DomainID, b.DomainName, b.Source, d.t(b.BoundAt), b.EventID, b.Convention)
	if d.fl.isForeignKey(err) {
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, b.XAccountID)
	}
	if err != nil {
		return d.errorf(err, "put binding %q/%q", b.XAccountID, b.Site)
	}
	return nil
}

// Bind events.

// ApplyBindEvent implements storage.Storage, in one transaction that first
// locks the customer, so that concurrent events for one customer (on any
// replica) are applied one after the other, each seeing the binding the
// previous one left: PostgreSQL locks the customer's row FOR UPDATE;
// SQLite's transaction holds the database's write lock from its start.
func (d *DB) ApplyBindEvent(ctx context.Context, e storage.BindEvent, ssoSince time.Time) (storage.BindEvent, error) {
	fail := func(err error) error { return d.errorf(err, "apply bind event %s", e.ID) }
	err := d.inTx(ctx, "apply bind event", func(x *tx) error {
		var one int
		err := x.queryRow(ctx, `SELECT 1 FROM customers WHERE x_account_id = ? FOR UPDATE`, e.XAccountID).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return fmt.Errorf("%w: customer %q", storage.ErrNotFound, e.XAccountID)
		}
		if err != nil {
			return fail(err)
		}
		if e.Action == storage.BindActionBind {
			// kind = 'response' is a literal so that the partial index applies.
			err = x.queryRow(ctx, `SELECT 1 FROM audit_log
				WHERE kind = 'response' AND x_account_id = ? AND site = ? AND time >= ? LIMIT 1`,
				e.XAccountID, e.Site, d.t(ssoSince)).Scan(&one)
			if errors.Is(err, sql.ErrNoRows) {
				return fmt.Errorf("%w: customer %q, site %s, since %s", storage.ErrNoRecentSSO, e.XAccountID, e.Site, ssoSince.UTC().Format(time.RFC3339))
			}
			if err != nil {
				return fail(err)
			}
		}
		old, err := scanBinding(x.queryRow(ctx, selectBinding, e.XAccountID, e.Site), e.XAccountID, e.Site)
		switch {
		case errors.Is(err, sql.ErrNoRows):
			old = storage.Binding{}
		case err != nil:
			return fail(err)
		}
		var write storage.BindWrite
		e, write, err = storage.DecideBind(e, old)
		if err != nil {
			return err
		}
		switch write {
		case storage.BindWriteUpsert:
			_, err = x.exec(ctx, upsertBinding, e.XAccountID, e.Site, e.DomainID, e.DomainName,
				storage.SourceNotification, d.t(e.ReceivedAt), e.ID, e.Convention)
		case storage.BindWriteRename:
			_, err = x.exec(ctx, `UPDATE bindings SET domain_name = ? WHERE x_account_id = ? AND site = ?`,
				e.DomainName, e.XAccountID, e.Site)
		case storage.BindWriteDelete:
			_, err = x.exec(ctx, `DELETE FROM bindings WHERE x_account_id = ? AND site = ?`, e.XAccountID, e.Site)
		}
		if err != nil {
			return fail(fmt.Errorf("binding: %w", err))
		}
		doc := e.Document
		if doc == nil {
			doc = []byte{}
		}
		_, err = x.exec(ctx, `INSERT INTO bind_events (`+bindEventColumns+`)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			e.ID, e.DocumentHash, e.Site, doc, e.XAccountID, e.DomainID, e.DomainName, e.Action, e.Convention,
			e.Outcome, e.PreviousDomainID, e.PreviousDomainName, e.ClientAddr, d.t(e.ReceivedAt))
		if d.fl.isUnique(err) {
			return fmt.Errorf("%w: bind event %s", storage.ErrAlreadyExists, e.ID)
		}
		if err != nil {
			return fail(err)
		}
		if _, err := x.exec(ctx, `INSERT INTO audit_log
			(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
			VALUES (?, 'bind', ?, ?, '', '', ?, ?, ?)`,
			d.t(e.ReceivedAt), e.XAccountID, e.Site, e.ClientAddr, e.Outcome, e.AuditDetail()); err != nil {
			return fail(fmt.Errorf("audit: %w", err))
		}
		return nil
	})
	if err != nil {
		return storage.BindEvent{}, err
	}
	e.ReceivedAt = d.normal(e.ReceivedAt)
	return e, nil
}

const bindEventColumns = `id, document_hash, site, document, x_account_id, domain_id, domain_name, action, convention,
	outcome, previous_domain_id, previous_domain_name, client_addr, received_at`

func scanBindEvent(s scanner) (storage.BindEvent, error) {
	var e storage.BindEvent
	err := s.Scan(&e.ID, &e.DocumentHash, &e.Site, &e.Document, &e.XAccountID, &e.DomainID, &e.DomainName,
		&e.Action, &e.Convention, &e.Outcome, &e.PreviousDomainID, &e.PreviousDomainName, &e.ClientAddr, at(&e.ReceivedAt))
	return e, err
}

// GetBindEvent implements storage.Storage.
func (d *DB) GetBindEvent(ctx context.Context, id string) (storage.BindEvent, error) {
	e, err := scanBindEvent(d.queryRow(ctx, d.read, `SELECT `+bindEventColumns+` FROM bind_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.BindEvent{}, fmt.Errorf("%w: bind event %q", storage.ErrNotFound, id)
	}
	if err != nil {
		return storage.BindEvent{}, d.errorf(err, "get bind event %q", id)
	}
	return e, nil
}

// ListBindEvents implements storage.Storage.
func (d *DB) ListBindEvents(ctx context.Context, xAccountID string, limit int) ([]storage.BindEvent, error) {
	q := `SELECT ` + bindEventColumns + ` FROM bind_events WHERE x_account_id = ? ORDER BY received_at DESC, id DESC`
	args := []any{xAccountID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := d.query(ctx, d.read, q, args...)
	es, err := collect(rows, err, scanBindEvent)
	if err != nil {
		return nil, d.errorf(err, "list bind events of %q", xAccountID)
	}
	return es, nil
}
