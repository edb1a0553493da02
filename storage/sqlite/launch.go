package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"hcidp/storage"
)

// Launch tokens.

// CreateLaunchToken implements storage.Storage.
func (d *DB) CreateLaunchToken(ctx context.Context, t storage.LaunchToken) error {
	_, err := d.exec(ctx, `INSERT INTO launch_tokens
		(hash, x_account_id, site, service, expires_at, created_at) VALUES (?, ?, ?, ?, ?, ?)`,
		t.Hash, t.XAccountID, t.Site, t.Service, toDB(t.Expires), toDB(t.Created))
	switch {
	case isForeignKey(err):
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, t.XAccountID)
	case isUnique(err):
		return fmt.Errorf("%w: launch token", storage.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("sqlite: create launch token: %w", err)
	}
	return nil
}

// GetLaunchToken implements storage.Storage.
func (d *DB) GetLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	t := storage.LaunchToken{Hash: hash}
	var expires, created int64
	err := d.queryRow(ctx, d.read, `SELECT x_account_id, site, service, expires_at, created_at
		FROM launch_tokens WHERE hash = ? AND expires_at > ?`, hash, toDB(now)).
		Scan(&t.XAccountID, &t.Site, &t.Service, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.LaunchToken{}, fmt.Errorf("%w: launch token (unknown, used or expired)", storage.ErrNotFound)
	}
	if err != nil {
		return storage.LaunchToken{}, fmt.Errorf("sqlite: get launch token: %w", err)
	}
	t.Expires, t.Created = fromDB(expires), fromDB(created)
	return t, nil
}

// ConsumeLaunchToken implements storage.Storage: one DELETE ... RETURNING on
// the single write connection, so a token is handed out at most once.
func (d *DB) ConsumeLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	t := storage.LaunchToken{Hash: hash}
	var expires, created int64
	err := d.queryRow(ctx, d.write, `DELETE FROM launch_tokens WHERE hash = ? AND expires_at > ?
		RETURNING x_account_id, site, service, expires_at, created_at`, hash, toDB(now)).
		Scan(&t.XAccountID, &t.Site, &t.Service, &expires, &created)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.LaunchToken{}, fmt.Errorf("%w: launch token (unknown, used or expired)", storage.ErrNotFound)
	}
	if err != nil {
		return storage.LaunchToken{}, fmt.Errorf("sqlite: consume launch token: %w", err)
	}
	t.Expires, t.Created = fromDB(expires), fromDB(created)
	return t, nil
}

// gcLaunchTokens deletes the launch tokens expired at now, inside tx.
func gcLaunchTokens(ctx context.Context, tx *sql.Tx, now time.Time) (int64, error) {
	res, err := tx.ExecContext(ctx, `DELETE FROM launch_tokens WHERE expires_at <= ?`, toDB(now))
	if err != nil {
		return 0, fmt.Errorf("sqlite: garbage collect launch tokens: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("sqlite: garbage collect launch tokens: %w", err)
	}
	return n, nil
}
