package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"hcidp/storage"
)

// Login throttling.

// RecordLoginFailure implements storage.Storage in one statement: the
// primary key serialises concurrent failures on the same key, so every
// replica's failures are counted.
func (d *DB) RecordLoginFailure(ctx context.Context, key string, now time.Time, keep time.Duration) (storage.LoginFailures, error) {
	var f storage.LoginFailures
	err := d.pool.QueryRow(ctx, `INSERT INTO login_failures (throttle_key, failures, last_at, expires_at)
		VALUES ($1, 1, $2, $3)
		ON CONFLICT (throttle_key) DO UPDATE SET
			failures = CASE WHEN login_failures.expires_at <= excluded.last_at THEN 1
				ELSE login_failures.failures + 1 END,
			last_at = excluded.last_at, expires_at = excluded.expires_at
		RETURNING failures, last_at`,
		key, toDB(now), toDB(now.Add(keep))).Scan(&f.Count, &f.Last)
	if err != nil {
		return storage.LoginFailures{}, fmt.Errorf("postgres: record login failure: %w", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// GetLoginFailures implements storage.Storage.
func (d *DB) GetLoginFailures(ctx context.Context, key string, now time.Time) (storage.LoginFailures, error) {
	var f storage.LoginFailures
	err := d.pool.QueryRow(ctx, `SELECT failures, last_at FROM login_failures
		WHERE throttle_key = $1 AND expires_at > $2`, key, toDB(now)).Scan(&f.Count, &f.Last)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.LoginFailures{}, nil
	}
	if err != nil {
		return storage.LoginFailures{}, fmt.Errorf("postgres: get login failures: %w", err)
	}
	f.Last = f.Last.UTC()
	return f, nil
}

// ResetLoginFailures implements storage.Storage.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM login_failures WHERE throttle_key = $1`, key); err != nil {
		return fmt.Errorf("postgres: reset login failures: %w", err)
	}
	return nil
}
