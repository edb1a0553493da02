package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
)

// migrationLockKey is the pg_advisory_xact_lock key held while migrating
// ("hcidp-mg" in ASCII). It is database-wide, so instances on different
// schemas of one database merely take turns.
const migrationLockKey int64 = 0x6863696470_2d6d67

// PostgreSQL error codes (SQLSTATE).
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// postgresFlavor: times are timestamptz, truncated to microseconds (as
// PostgreSQL stores them, but truncated like SQLite's rather than rounded).
// pgx prepares and caches statements per connection itself.
var postgresFlavor = &flavor{
	name:      "postgres",
	translate: numberPlaceholders,
	time:      func(t time.Time) any { return t.UTC().Truncate(time.Microsecond) },
	isUnique: func(err error) bool {
		code, _ := pgCode(err)
		return code == uniqueViolation
	},
	isForeignKey: func(err error) bool {
		code, _ := pgCode(err)
		return code == foreignKeyViolation
	},
	violates: func(err error, table, column string) bool {
		code, constraint := pgCode(err)
		return code == uniqueViolation && constraint == table+"_"+column+"_key"
	},
	migrations: "migrations/postgres",
	schemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`,
	lockMigrations: `SELECT pg_advisory_xact_lock(` + strconv.FormatInt(migrationLockKey, 10) + `)`,
}

func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

// OpenPostgres connects to the database named by dsn (a postgres:// URL or
// a key=value connection string, as accepted by pgx) and applies pending
// migrations. Runtime parameters such as search_path may be given in the
// DSN, and so may pgxpool's pool_max_conns, pool_max_conn_lifetime and
// pool_max_conn_idle_time, which size the database/sql pool as they sized
// pgxpool's (default: at least 4 connections, or one per CPU).
func OpenPostgres(ctx context.Context, dsn string, o Options) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool := stdlib.OpenDB(*cfg.ConnConfig)
	pool.SetMaxOpenConns(int(cfg.MaxConns))
	pool.SetMaxIdleConns(int(cfg.MaxConns))
	pool.SetConnMaxLifetime(cfg.MaxConnLifetime)
	pool.SetConnMaxIdleTime(cfg.MaxConnIdleTime)
	d := newDB(postgresFlavor, pool, pool, o)
	if err := pool.PingContext(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return d, nil
}
