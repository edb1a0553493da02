package postgres

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"hcidp/storage"
)

// Login throttling.

// ReserveLoginAttempt implements storage.Storage. The rows of all keys are
// created if absent and locked (SELECT ... FOR UPDATE, in key order so that
// two transactions never wait for each other) before they are read, so
// every replica's attempts on a key are serialised from the read to the
// write.
func (d *DB) ReserveLoginAttempt(ctx context.Context, keys []string, now time.Time, keep time.Duration,
	allow func([]storage.LoginFailures) bool) ([]storage.LoginFailures, bool, error) {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("postgres: reserve login attempt: %w", err)
	}
	defer tx.Rollback(ctx)
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	for _, k := range sorted {
		// A placeholder row that reads as expired (and is collected as such
		// if the attempt is not reserved).
		if _, err := tx.Exec(ctx, `INSERT INTO login_failures (throttle_key, failures, last_at, expires_at)
			VALUES ($1, 0, $2, $2) ON CONFLICT (throttle_key) DO NOTHING`, k, toDB(now)); err != nil {
			return nil, false, fmt.Errorf("postgres: reserve login attempt: %w", err)
		}
	}
	byKey := make(map[string]storage.LoginFailures, len(sorted))
	for _, k := range sorted {
		var (
			f       storage.LoginFailures
			expires time.Time
		)
		if err := tx.QueryRow(ctx, `SELECT failures, last_at, expires_at FROM login_failures
			WHERE throttle_key = $1 FOR UPDATE`, k).Scan(&f.Count, &f.Last, &expires); err != nil {
			return nil, false, fmt.Errorf("postgres: reserve login attempt: %w", err)
		}
		if !expires.After(toDB(now)) || f.Count == 0 {
			f = storage.LoginFailures{}
		}
		f.Last = f.Last.UTC()
		if f.Count == 0 {
			f.Last = time.Time{}
		}
		byKey[k] = f
	}
	states := make([]storage.LoginFailures, len(keys))
	for i, k := range keys {
		states[i] = byKey[k]
	}
	if !allow(states) {
		// Commit, not roll back: a placeholder row is harmless, and
		// committing releases the locks just the same.
		if err := tx.Commit(ctx); err != nil {
			return nil, false, fmt.Errorf("postgres: reserve login attempt: commit: %w", err)
		}
		return states, false, nil
	}
	for _, k := range sorted {
		if _, err := tx.Exec(ctx, `UPDATE login_failures SET
				failures = CASE WHEN expires_at <= $2 THEN 1 ELSE failures + 1 END,
				last_at = $2, expires_at = $3
			WHERE throttle_key = $1`, k, toDB(now), toDB(now.Add(keep))); err != nil {
			return nil, false, fmt.Errorf("postgres: reserve login attempt: %w", err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, false, fmt.Errorf("postgres: reserve login attempt: commit: %w", err)
	}
	return states, true, nil
}

// RefundLoginAttempt implements storage.Storage.
func (d *DB) RefundLoginAttempt(ctx context.Context, key string, now time.Time) error {
	if _, err := d.pool.Exec(ctx, `UPDATE login_failures SET failures = failures - 1
		WHERE throttle_key = $1 AND failures > 0 AND expires_at > $2`, key, toDB(now)); err != nil {
		return fmt.Errorf("postgres: refund login attempt: %w", err)
	}
	return nil
}

// GetLoginFailures implements storage.Storage.
func (d *DB) GetLoginFailures(ctx context.Context, key string, now time.Time) (storage.LoginFailures, error) {
	var f storage.LoginFailures
	err := d.pool.QueryRow(ctx, `SELECT failures, last_at FROM login_failures
		WHERE throttle_key = $1 AND expires_at > $2 AND failures > 0`, key, toDB(now)).Scan(&f.Count, &f.Last)
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

// Secrets.

// Secret implements storage.Storage: INSERT ... ON CONFLICT DO NOTHING,
// then SELECT, so the first writer's value wins for every replica.
func (d *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if _, err := d.pool.Exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (name) DO NOTHING`, name, fresh, toDB(time.Now())); err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	var v []byte
	if err := d.pool.QueryRow(ctx, `SELECT value FROM secrets WHERE name = $1`, name).Scan(&v); err != nil {
		return nil, fmt.Errorf("postgres: secret %s: %w", name, err)
	}
	return v, nil
}
