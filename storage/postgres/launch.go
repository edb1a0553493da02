package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"hcidp/storage"
)

// Launch tokens.

// CreateLaunchToken implements storage.Storage.
func (d *DB) CreateLaunchToken(ctx context.Context, t storage.LaunchToken) error {
	_, err := d.pool.Exec(ctx, `INSERT INTO launch_tokens
		(hash, x_account_id, site, service, expires_at, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		t.Hash, t.XAccountID, t.Site, t.Service, toDB(t.Expires), toDB(t.Created))
	switch {
	case isForeignKey(err):
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, t.XAccountID)
	case isUnique(err):
		return fmt.Errorf("%w: launch token", storage.ErrAlreadyExists)
	case err != nil:
		return fmt.Errorf("postgres: create launch token: %w", err)
	}
	return nil
}

// GetLaunchToken implements storage.Storage.
func (d *DB) GetLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	t := storage.LaunchToken{Hash: hash}
	err := d.pool.QueryRow(ctx, `SELECT x_account_id, site, service, expires_at, created_at
		FROM launch_tokens WHERE hash = $1 AND expires_at > $2`, hash, toDB(now)).
		Scan(&t.XAccountID, &t.Site, &t.Service, &t.Expires, &t.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.LaunchToken{}, fmt.Errorf("%w: launch token (unknown, used or expired)", storage.ErrNotFound)
	}
	if err != nil {
		return storage.LaunchToken{}, fmt.Errorf("postgres: get launch token: %w", err)
	}
	t.Expires, t.Created = t.Expires.UTC(), t.Created.UTC()
	return t, nil
}

// ConsumeLaunchToken implements storage.Storage: one DELETE ... RETURNING.
// A concurrent DELETE of the same row waits for the first to commit, then
// finds the row gone, so a token is handed out at most once.
func (d *DB) ConsumeLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	t := storage.LaunchToken{Hash: hash}
	err := d.pool.QueryRow(ctx, `DELETE FROM launch_tokens WHERE hash = $1 AND expires_at > $2
		RETURNING x_account_id, site, service, expires_at, created_at`, hash, toDB(now)).
		Scan(&t.XAccountID, &t.Site, &t.Service, &t.Expires, &t.Created)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.LaunchToken{}, fmt.Errorf("%w: launch token (unknown, used or expired)", storage.ErrNotFound)
	}
	if err != nil {
		return storage.LaunchToken{}, fmt.Errorf("postgres: consume launch token: %w", err)
	}
	t.Expires, t.Created = t.Expires.UTC(), t.Created.UTC()
	return t, nil
}

// gcLaunchTokens deletes the launch tokens expired at now.
func (d *DB) gcLaunchTokens(ctx context.Context, now time.Time) (int64, error) {
	tag, err := d.pool.Exec(ctx, `DELETE FROM launch_tokens WHERE expires_at <= $1`, toDB(now))
	if err != nil {
		return 0, fmt.Errorf("postgres: garbage collect launch tokens: %w", err)
	}
	return tag.RowsAffected(), nil
}
