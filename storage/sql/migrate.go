package sqlstore

import (
	"context"
	"embed"
	"fmt"

	"hcidp/storage/internal/migrate"
)

// migrationFS holds the numbered migrations of each dialect, in
// migrations/<dialect>/. The two sets create the same tables with each
// dialect's types (times: INTEGER unix microseconds or timestamptz).
//
//go:embed migrations/sqlite/*.sql migrations/postgres/*.sql
var migrationFS embed.FS

// migrate applies pending migrations in one transaction. The flavor's lock
// (or, for SQLite, the IMMEDIATE transaction itself) makes processes that
// open the database at the same moment take turns: the later ones find
// nothing to do.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, d.fl.migrations)
	if err != nil {
		return err
	}
	return d.inTx(ctx, "migrate", func(x *tx) error {
		// Migrations run unprepared: each statement runs once, and a
		// migration file holds several (PostgreSQL runs a statement
		// without arguments through the simple protocol, which allows that).
		exec := func(q string, args ...any) error {
			_, err := x.tx.ExecContext(ctx, d.fl.translate(q), args...)
			return err
		}
		if d.fl.lockMigrations != "" {
			if err := exec(d.fl.lockMigrations); err != nil {
				return fmt.Errorf("take migration lock: %w", err)
			}
		}
		if err := exec(d.fl.schemaMigrations); err != nil {
			return fmt.Errorf("create schema_migrations: %w", err)
		}
		rows, err := x.tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
		versions, err := collect(rows, err, func(s scanner) (v int, err error) { return v, s.Scan(&v) })
		if err != nil {
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied := make(map[int]bool, len(versions))
		for _, v := range versions {
			applied[v] = true
		}
		for _, m := range ms {
			if applied[m.Version] {
				continue
			}
			if err := exec(m.SQL); err != nil {
				return fmt.Errorf("apply %s: %w", m.Name, err)
			}
			if err := exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
				m.Version, d.t(d.now())); err != nil {
				return fmt.Errorf("record %s: %w", m.Name, err)
			}
		}
		return nil
	})
}
