package sqlstore

import (
	"context"
	"fmt"
	"time"

	"hcidp/storage"
)

// Replay cache and audit log.

// insertRequestID is the replay-cache insert: an entry that expired at or
// before the last argument is replaced; a live one is left alone (no row
// affected). One statement, so concurrent inserts of the same ID are
// serialised by the primary key.
const insertRequestID = `INSERT INTO replay_cache (issuer, request_id, expires_at)
	VALUES (?, ?, ?)
	ON CONFLICT (issuer, request_id) DO UPDATE SET expires_at = excluded.expires_at
	WHERE replay_cache.expires_at <= ?`

// InsertRequestID implements storage.Storage. An entry that expired at or
// before the store's now is replaced.
func (d *DB) InsertRequestID(ctx context.Context, issuer, id string, expires time.Time) error {
	n, err := rowsAffected(d.exec(ctx, insertRequestID, issuer, id, d.t(expires), d.t(d.now())))
	if err != nil {
		return d.errorf(err, "insert request ID %q", id)
	}
	if n == 0 {
		return fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, id, issuer)
	}
	return nil
}

const insertAudit = `INSERT INTO audit_log
	(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func (d *DB) auditArgs(e storage.AuditEvent) []any {
	return []any{d.t(e.Time), e.Kind, e.XAccountID, e.Site, e.RequestID, e.AssertionID, e.ClientAddr, e.Outcome, e.Detail}
}

// Audit log.

// AppendAudit implements storage.Storage.
func (d *DB) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	if _, err := d.exec(ctx, insertAudit, d.auditArgs(e)...); err != nil {
		return d.errorf(err, "append audit event")
	}
	return nil
}

// ListAudit implements storage.Storage.
func (d *DB) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	q := `SELECT id, time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail
		FROM audit_log WHERE 1 = 1`
	var args []any
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, d.t(f.Since))
	}
	if f.XAccountID != "" {
		q += ` AND x_account_id = ?`
		args = append(args, f.XAccountID)
	}
	q += ` ORDER BY time, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := d.query(ctx, d.read, q, args...)
	es, err := collect(rows, err, func(s scanner) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := s.Scan(&e.ID, at(&e.Time), &e.Kind, &e.XAccountID, &e.Site, &e.RequestID,
			&e.AssertionID, &e.ClientAddr, &e.Outcome, &e.Detail)
		return e, err
	})
	if err != nil {
		return nil, d.errorf(err, "list audit events")
	}
	return es, nil
}
