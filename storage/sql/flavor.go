package sqlstore

import (
	"regexp"
	"strconv"
	"strings"
	"time"
)

// flavor is what one SQL dialect does differently. The statements of this
// package are written once, with ? placeholders, and "FOR UPDATE" where a
// PostgreSQL row lock serialises a read-modify-write; translate turns them
// into the dialect.
type flavor struct {
	// name prefixes error messages ("sqlite", "postgres").
	name string
	// translate rewrites a statement for the dialect.
	translate func(q string) string
	// time converts a time argument to the type of a time column.
	time func(time.Time) any
	// cacheStatements: prepare every statement once per pool and keep it
	// (database/sql statements), because the driver does not.
	cacheStatements bool

	// isUnique and isForeignKey classify constraint violations.
	isUnique, isForeignKey func(err error) bool
	// violates reports whether err is a unique violation of the index on
	// table(column) (named table_column_key).
	violates func(err error, table, column string) bool

	// migrations is the directory of the dialect's numbered migrations in
	// migrationFS.
	migrations string
	// schemaMigrations creates the table that records applied migrations.
	schemaMigrations string
	// lockMigrations, when not empty, is run first in the migration
	// transaction so that concurrent openers take turns.
	lockMigrations string
}

// dropForUpdate removes the row-lock clause: SQLite has no row locks, and
// its transactions, which begin IMMEDIATE, hold the database's write lock
// from their first statement, which serialises more strongly.
func dropForUpdate(q string) string {
	if !strings.Contains(q, "FOR UPDATE") {
		return q
	}
	return forUpdate.ReplaceAllString(q, "")
}

var forUpdate = regexp.MustCompile(`\s+FOR\s+UPDATE\b`)

// numberPlaceholders rewrites ? placeholders as $1, $2, ... The statements
// of this package hold no ? in literals or identifiers.
func numberPlaceholders(q string) string {
	n := strings.Count(q, "?")
	if n == 0 {
		return q
	}
	var b strings.Builder
	b.Grow(len(q) + 2*n)
	i := 0
	for {
		j := strings.IndexByte(q, '?')
		if j < 0 {
			break
		}
		i++
		b.WriteString(q[:j])
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(i))
		q = q[j+1:]
	}
	b.WriteString(q)
	return b.String()
}
