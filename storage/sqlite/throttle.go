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

// RecordLoginFailure implements storage.Storage in one statement, so
// concurrent failures on the same key are all counted.
func (d *DB) RecordLoginFailure(ctx context.Context, key string, now time.Time, keep time.Duration) (storage.LoginFailures, error) {
	var (
		f    storage.LoginFailures
		last int64
	)
	err := d.queryRow(ctx, d.write, `INSERT INTO login_failures (throttle_key, failures, last_at, expires_at)
		VALUES (?, 1, ?, ?)
		ON CONFLICT (throttle_key) DO UPDATE SET
			failures = CASE WHEN login_failures.expires_at <= excluded.last_at THEN 1
				ELSE login_failures.failures + 1 END,
			last_at = excluded.last_at, expires_at = excluded.expires_at
		RETURNING failures, last_at`,
		key, toDB(now), toDB(now.Add(keep))).Scan(&f.Count, &last)
	if err != nil {
		return storage.LoginFailures{}, fmt.Errorf("sqlite: record login failure: %w", err)
	}
	f.Last = fromDB(last)
	return f, nil
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
