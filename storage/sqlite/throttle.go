package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"hcidp/storage"
)

// Login throttling.

// ReserveLoginAttempt implements storage.Storage. The transaction runs on
// the single write connection and begins IMMEDIATE, so it holds SQLite's
// write lock from its first read: no other connection or process can count
// an attempt between the read and the write.
func (d *DB) ReserveLoginAttempt(ctx context.Context, keys []string, now time.Time, keep time.Duration,
	allow func([]storage.LoginFailures) bool) ([]storage.LoginFailures, bool, error) {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: reserve login attempt: %w", err)
	}
	defer tx.Rollback()
	states := make([]storage.LoginFailures, len(keys))
	for i, k := range keys {
		var last int64
		err := tx.QueryRowContext(ctx, `SELECT failures, last_at FROM login_failures
			WHERE throttle_key = ? AND expires_at > ?`, k, toDB(now)).Scan(&states[i].Count, &last)
		switch {
		case errors.Is(err, sql.ErrNoRows):
		case err != nil:
			return nil, false, fmt.Errorf("sqlite: reserve login attempt: %w", err)
		default:
			states[i].Last = fromDB(last)
		}
	}
	if !allow(states) {
		return states, false, nil
	}
	for _, k := range keys {
		if _, err := tx.ExecContext(ctx, `INSERT INTO login_failures (throttle_key, failures, last_at, expires_at)
			VALUES (?, 1, ?, ?)
			ON CONFLICT (throttle_key) DO UPDATE SET
				failures = CASE WHEN login_failures.expires_at <= excluded.last_at THEN 1
					ELSE login_failures.failures + 1 END,
				last_at = excluded.last_at, expires_at = excluded.expires_at`,
			k, toDB(now), toDB(now.Add(keep))); err != nil {
			return nil, false, fmt.Errorf("sqlite: reserve login attempt: %w", err)
		}
	}
	if err := d.commit(tx); err != nil {
		return nil, false, fmt.Errorf("sqlite: reserve login attempt: commit: %w", err)
	}
	return states, true, nil
}

// RefundLoginAttempt implements storage.Storage.
func (d *DB) RefundLoginAttempt(ctx context.Context, key string, now time.Time) error {
	if _, err := d.exec(ctx, `UPDATE login_failures SET failures = failures - 1
		WHERE throttle_key = ? AND failures > 0 AND expires_at > ?`, key, toDB(now)); err != nil {
		return fmt.Errorf("sqlite: refund login attempt: %w", err)
	}
	return nil
}

// GetLoginFailures implements storage.Storage.
func (d *DB) GetLoginFailures(ctx context.Context, key string, now time.Time) (storage.LoginFailures, error) {
	var (
		f    storage.LoginFailures
		last int64
	)
	err := d.queryRow(ctx, d.read, `SELECT failures, last_at FROM login_failures
		WHERE throttle_key = ? AND expires_at > ?`, key, toDB(now)).Scan(&f.Count, &last)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.LoginFailures{}, nil
	}
	if err != nil {
		return storage.LoginFailures{}, fmt.Errorf("sqlite: get login failures: %w", err)
	}
	f.Last = fromDB(last)
	return f, nil
}

// ResetLoginFailures implements storage.Storage.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := d.exec(ctx, `DELETE FROM login_failures WHERE throttle_key = ?`, key); err != nil {
		return fmt.Errorf("sqlite: reset login failures: %w", err)
	}
	return nil
}

// Secrets.

// Secret implements storage.Storage: INSERT OR IGNORE then SELECT on the
// write connection, so the first writer's value wins for everyone.
func (d *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if _, err := d.exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, fresh, toDB(time.Now())); err != nil {
		return nil, fmt.Errorf("sqlite: secret %s: %w", name, err)
	}
	var v []byte
	if err := d.queryRow(ctx, d.write, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("sqlite: secret %s: %w", name, err)
	}
	return v, nil
}
