// Package sqlite is a compatibility shim for the tests of package idp,
// which open an SQLite store with sqlite.Open. New code opens stores with
// storage/backend or storage/sql (package sqlstore); remove this package
// once those tests call sqlstore.OpenSQLite.
package sqlite

import (
	"context"

	sqlstore "hcidp/storage/sql"
)

// DB is the store Open returns.
type DB = sqlstore.DB

// Open opens the SQLite database at path (a file path or ":memory:") with
// the real clock: sqlstore.OpenSQLite(ctx, path, sqlstore.Options{}).
func Open(ctx context.Context, path string) (*DB, error) {
	return sqlstore.OpenSQLite(ctx, path, sqlstore.Options{})
}
