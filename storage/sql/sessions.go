package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// Sessions (scs.CtxStore).

// FindCtx implements scs.CtxStore: a session expired at the store's now is
// not found.
func (d *DB) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := d.queryRow(ctx, d.read, `SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, d.t(d.now())).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, d.errorf(err, "find session")
	}
	if b == nil {
		b = []byte{}
	}
	return b, true, nil
}

// CommitCtx implements scs.CtxStore.
func (d *DB) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	if b == nil {
		b = []byte{}
	}
	_, err := d.exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES (?, ?, ?)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		token, b, d.t(expiry))
	if err != nil {
		return d.errorf(err, "commit session")
	}
	return nil
}

// DeleteCtx implements scs.CtxStore.
func (d *DB) DeleteCtx(ctx context.Context, token string) error {
	if _, err := d.exec(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return d.errorf(err, "delete session")
	}
	return nil
}

// Find implements scs.Store.
func (d *DB) Find(token string) ([]byte, bool, error) {
	return d.FindCtx(context.Background(), token)
}

// Commit implements scs.Store.
func (d *DB) Commit(token string, b []byte, expiry time.Time) error {
	return d.CommitCtx(context.Background(), token, b, expiry)
}

// Delete implements scs.Store.
func (d *DB) Delete(token string) error {
	return d.DeleteCtx(context.Background(), token)
}
