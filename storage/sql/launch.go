package sqlstore

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
		t.Hash, t.XAccountID, t.Site, t.Service, d.t(t.Expires), d.t(t.Created))
	switch {
	case d.fl.isForeignKey(err):
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, t.XAccountID)
	case d.fl.isUnique(err):
		return fmt.Errorf("%w: launch token", storage.ErrAlreadyExists)
	case err != nil:
		return d.errorf(err, "create launch token")
	}
	return nil
}

// GetLaunchToken implements storage.Storage.
func (d *DB) GetLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	return d.launchToken(d.queryRow(ctx, d.read, `SELECT x_account_id, site, service, expires_at, created_at
		FROM launch_tokens WHERE hash = ? AND expires_at > ?`, hash, d.t(now)), hash, "get")
}

// ConsumeLaunchToken implements storage.Storage: one DELETE ... RETURNING,
// so a token is handed out at most once (SQLite runs it on the only write
// connection; in PostgreSQL a concurrent DELETE of the same row waits for
// the first to commit, then finds the row gone).
func (d *DB) ConsumeLaunchToken(ctx context.Context, hash string, now time.Time) (storage.LaunchToken, error) {
	defer d.wrote()
	return d.launchToken(d.queryRow(ctx, d.write, `DELETE FROM launch_tokens WHERE hash = ? AND expires_at > ?
		RETURNING x_account_id, site, service, expires_at, created_at`, hash, d.t(now)), hash, "consume")
}

func (d *DB) launchToken(row *sql.Row, hash, verb string) (storage.LaunchToken, error) {
	t := storage.LaunchToken{Hash: hash}
	err := row.Scan(&t.XAccountID, &t.Site, &t.Service, at(&t.Expires), at(&t.Created))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.LaunchToken{}, fmt.Errorf("%w: launch token (unknown, used or expired)", storage.ErrNotFound)
	}
	if err != nil {
		return storage.LaunchToken{}, d.errorf(err, "%s launch token", verb)
	}
	return t, nil
}
