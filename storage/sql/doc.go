// Package sqlstore is the SQL storage of hcidp: one implementation of
// storage.Storage over database/sql, with a flavor per dialect for what the
// dialects do differently.
//
// # Flavors
//
// The statements are written once, with ? placeholders. A flavor says, for
// its dialect, how a statement is translated (PostgreSQL numbers its
// placeholders; SQLite has no row locks, so "FOR UPDATE" is dropped), how a
// time is stored (SQLite: INTEGER unix microseconds, UTC; PostgreSQL:
// timestamptz, truncated to microseconds as well), how a unique or
// foreign-key violation is recognised, how migrations are serialised and
// whether statements are prepared once and cached. Scanning needs no
// flavor: a time column reads from either form (scanTime).
//
// SQLite (OpenSQLite, modernc.org/sqlite): WAL mode, a busy timeout and
// foreign keys on. All writes go through one connection whose transactions
// begin IMMEDIATE, so a transaction holds the database's write lock from
// its first statement and read-modify-write sequences never fail with
// SQLITE_BUSY inside one process; other processes sharing the file wait on
// the busy timeout. Reads use a separate pool of read-only connections. A
// background connection checkpoints the write-ahead log and keeps it
// bounded (checkpointer). Preparing an SQLite statement costs about as much
// as running the small statements of the SSO path, so every statement is
// prepared once per pool and kept (DB.prepared).
//
// PostgreSQL (OpenPostgres, github.com/jackc/pgx/v5 through its
// database/sql driver): several replicas may share one database. Atomic
// operations take row locks (SELECT ... FOR UPDATE) or are single-statement
// upserts, and migrations run under a transaction-scoped advisory lock so
// that concurrent start-ups apply them once. Tables live in the first
// schema of the connection's search_path. pgx prepares and caches every
// statement per connection by itself, so the flavor does not cache
// database/sql statements on top of it.
//
// database/sql rather than pgxpool, so that one code path serves both
// dialects: measured on a 2-core machine shared with other work, PostgreSQL
// on loopback, alternating this store and the previous pgxpool store (and
// plain database/sql) in rounds of 100 so that the load falls on all
// alike, the SSO write transaction (RecordResponse: BEGIN, the
// replay-cache upsert, the audit insert, COMMIT) took a median 630-930 µs
// against 570-720 µs through pgxpool, 10-30% more, of which about 35 µs is
// CPU (database/sql's transaction goroutine and conversions: 62 against 46
// allocations); plain database/sql took the same as this store. The
// session read (FindCtx) took the same through both, 65-80 µs. The round
// trips and the commit's flush dominate both. BenchmarkRecordResponse,
// BenchmarkFindCtx and BenchmarkPostgresPgxpool repeat the comparison.
//
// # Clock
//
// The store reads the time only through Options.Now: the expiry of
// replay-cache entries (InsertRequestID) and sessions (FindCtx), the
// creation time of secrets and the time a migration was applied. Methods
// that take a now use it instead.
package sqlstore
