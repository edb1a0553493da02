package backend

import (
	"context"
	"fmt"
	"strings"

	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
)

// Forms lists the accepted database strings, for error and help messages.
const Forms = `"sqlite:PATH", "sqlite::memory:", "postgres://..." or "postgresql://..."`

// Options are the settings of the store (its clock).
type Options = sqlstore.Options

// Open opens the storage named by database with the default Options:
//
//	sqlite:PATH                 SQLite file at PATH (its directory must exist)
//	sqlite::memory:             private in-memory SQLite database (tests)
//	postgres://... postgresql://...  PostgreSQL, any DSN pgx accepts in URL form
func Open(ctx context.Context, database string) (storage.Storage, error) {
	return OpenWith(ctx, database, Options{})
}

// OpenWith is Open with Options.
func OpenWith(ctx context.Context, database string, o Options) (storage.Storage, error) {
	kind, target, err := parse(database)
	if err != nil {
		return nil, err
	}
	var d *sqlstore.DB
	switch kind {
	case kindSQLite:
		d, err = sqlstore.OpenSQLite(ctx, target, o)
	default:
		d, err = sqlstore.OpenPostgres(ctx, target, o)
	}
	if err != nil {
		return nil, err
	}
	return d, nil
}

type kind int

const (
	kindSQLite kind = iota + 1
	kindPostgres
)

// parse splits database into its backend and the string that backend opens.
func parse(database string) (kind, string, error) {
	switch {
	case strings.HasPrefix(database, "sqlite:"):
		path := strings.TrimPrefix(database, "sqlite:")
		if strings.HasPrefix(path, "//") {
			return 0, "", fmt.Errorf("storage: database %q: write sqlite:PATH (e.g. sqlite:/var/lib/hcidp/hcidp.db), not a URL", database)
		}
		if path == "" {
			return 0, "", fmt.Errorf("storage: database %q: missing path after \"sqlite:\"", database)
		}
		return kindSQLite, path, nil
	case strings.HasPrefix(database, "postgres://"), strings.HasPrefix(database, "postgresql://"):
		return kindPostgres, database, nil
	case database == "":
		return 0, "", fmt.Errorf("storage: no database given; want %s", Forms)
	case strings.Contains(database, "://"):
		scheme, _, _ := strings.Cut(database, "://")
		return 0, "", fmt.Errorf("storage: unsupported database scheme %q; want %s", scheme, Forms)
	case strings.Contains(database, "="):
		// Probably a key=value DSN, which may hold a password: do not echo it.
		return 0, "", fmt.Errorf("storage: key=value database strings are not accepted; want %s", Forms)
	default:
		return 0, "", fmt.Errorf("storage: database %q: want %s (for a SQLite file, write \"sqlite:%s\")", database, Forms, database)
	}
}
