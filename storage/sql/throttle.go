package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"time"

	"hcidp/storage"
)

// Login throttling.

// ReserveLoginAttempt implements storage.Storage. The rows of all keys are
// created if absent (as placeholders that read as expired) and locked
// before they are read, in key order so that two transactions never wait
// for each other: PostgreSQL locks them FOR UPDATE; SQLite's transaction
// holds the database's write lock from its first statement. So every
// replica's attempts on a key are serialised from the read to the write. A
// refused attempt rolls back, placeholders with it.
func (d *DB) ReserveLoginAttempt(ctx context.Context, keys []string, now time.Time, keep time.Duration,
	allow func([]storage.LoginFailures) bool) ([]storage.LoginFailures, bool, error) {
	sorted := slices.Clone(keys)
	slices.Sort(sorted)
	sorted = slices.Compact(sorted)
	var states []storage.LoginFailures
	reserved := false
	err := d.inTx(ctx, "reserve login attempt", func(x *tx) error {
		for _, k := range sorted {
			if _, err := x.exec(ctx, `INSERT INTO login_failures (throttle_key, failures, last_at, expires_at)
				VALUES (?, 0, ?, ?) ON CONFLICT (throttle_key) DO NOTHING`, k, d.t(now), d.t(now)); err != nil {
				return d.errorf(err, "reserve login attempt")
			}
		}
		byKey := make(map[string]storage.LoginFailures, len(sorted))
		for _, k := range sorted {
			var (
				f       storage.LoginFailures
				expires time.Time
			)
			if err := x.queryRow(ctx, `SELECT failures, last_at, expires_at FROM login_failures
				WHERE throttle_key = ? FOR UPDATE`, k).Scan(&f.Count, at(&f.Last), at(&expires)); err != nil {
				return d.errorf(err, "reserve login attempt")
			}
			if !expires.After(d.normal(now)) || f.Count == 0 {
				f = storage.LoginFailures{}
			}
			byKey[k] = f
		}
		states = make([]storage.LoginFailures, len(keys))
		for i, k := range keys {
			states[i] = byKey[k]
		}
		if !allow(states) {
			return errRollback
		}
		for _, k := range sorted {
			if _, err := x.exec(ctx, `UPDATE login_failures SET
					failures = CASE WHEN expires_at <= ? THEN 1 ELSE failures + 1 END,
					last_at = ?, expires_at = ?
				WHERE throttle_key = ?`, d.t(now), d.t(now), d.t(now.Add(keep)), k); err != nil {
				return d.errorf(err, "reserve login attempt")
			}
		}
		reserved = true
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	return states, reserved, nil
}

// RefundLoginAttempt implements storage.Storage.
func (d *DB) RefundLoginAttempt(ctx context.Context, key string, now time.Time) error {
	if _, err := d.exec(ctx, `UPDATE login_failures SET failures = failures - 1
		WHERE throttle_key = ? AND failures > 0 AND expires_at > ?`, key, d.t(now)); err != nil {
		return d.errorf(err, "refund login attempt")
	}
	return nil
}

// GetLoginFailures implements storage.Storage.
func (d *DB) GetLoginFailures(ctx context.Context, key string, now time.Time) (storage.LoginFailures, error) {
	var f storage.LoginFailures
	err := d.queryRow(ctx, d.read, `SELECT failures, last_at FROM login_failures
		WHERE throttle_key = ? AND expires_at > ? AND failures > 0`, key, d.t(now)).Scan(&f.Count, at(&f.Last))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.LoginFailures{}, nil
	}
	if err != nil {
		return storage.LoginFailures{}, d.errorf(err, "get login failures")
	}
	return f, nil
}

// ResetLoginFailures implements storage.Storage.
func (d *DB) ResetLoginFailures(ctx context.Context, key string) error {
	if _, err := d.exec(ctx, `DELETE FROM login_failures WHERE throttle_key = ?`, key); err != nil {
		return d.errorf(err, "reset login failures")
	}
	return nil
}

// Secrets.

// Secret implements storage.Storage: INSERT ... ON CONFLICT DO NOTHING,
// then SELECT on the write pool, so the first writer's value wins for
// every replica.
func (d *DB) Secret(ctx context.Context, name string, fresh []byte) ([]byte, error) {
	if _, err := d.exec(ctx, `INSERT INTO secrets (name, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO NOTHING`, name, fresh, d.t(d.now())); err != nil {
		return nil, d.errorf(err, "secret %s", name)
	}
	var v []byte
	if err := d.queryRow(ctx, d.write, `SELECT value FROM secrets WHERE name = ?`, name).Scan(&v); err != nil {
		return nil, d.errorf(err, "secret %s", name)
	}
	return v, nil
}
