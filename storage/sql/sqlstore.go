package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"

	"hcidp/storage"
)

var (
	_ storage.Storage = (*DB)(nil)
	_ scs.CtxStore    = (*DB)(nil)
)

// Options are the settings of a store common to every dialect.
type Options struct {
	// Now is the store's clock (default time.Now).
	Now func() time.Time
}

// DB is a storage.Storage backed by one SQL database.
type DB struct {
	fl *flavor
	// write runs writes and transactions: for SQLite exactly one connection
	// whose transactions begin IMMEDIATE; for PostgreSQL the pool.
	write *sql.DB
	// read runs reads outside transactions: for SQLite a pool of read-only
	// connections (write itself for ":memory:"); for PostgreSQL the pool.
	read *sql.DB
	now  func() time.Time
	// stmts caches prepared statements by pool and query text when the
	// flavor says so.
	stmts sync.Map
	// ckpt keeps SQLite's write-ahead log bounded (nil otherwise).
	ckpt *checkpointer
	// group shares commits between concurrent RecordResponse calls.
	group groupCommit
}

func newDB(fl *flavor, write, read *sql.DB, o Options) *DB {
	d := &DB{fl: fl, write: write, read: read, now: o.Now}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// errorf wraps err, naming the dialect and what failed.
func (d *DB) errorf(err error, format string, args ...any) error {
	return fmt.Errorf("%s: %s: %w", d.fl.name, fmt.Sprintf(format, args...), err)
}

// t converts a time argument to the dialect's column type.
func (d *DB) t(t time.Time) any { return d.fl.time(t) }

// scanTime is a destination for a time column of either dialect: INTEGER
// unix microseconds (SQLite) or timestamptz (PostgreSQL). Times read back
// are in UTC.
type scanTime struct{ t *time.Time }

func at(t *time.Time) scanTime { return scanTime{t} }

// Scan implements sql.Scanner.
func (s scanTime) Scan(src any) error {
	switch v := src.(type) {
	case int64:
		*s.t = time.UnixMicro(v).UTC()
	case time.Time:
		*s.t = v.UTC()
	default:
		return fmt.Errorf("cannot read a time from %T", src)
	}
	return nil
}

// normal returns t as a time column gives it back.
func (d *DB) normal(t time.Time) time.Time {
	var n time.Time
	scanTime{&n}.Scan(d.t(t))
	return n
}

type scanner interface{ Scan(dest ...any) error }

// stmtKey names a cached statement: its pool and its query text (before
// translation).
type stmtKey struct {
	db *sql.DB
	q  string
}

// prepared returns the cached prepared statement for q on db, preparing it
// first if needed.
func (d *DB) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	k := stmtKey{db, q}
	if st, ok := d.stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, d.fl.translate(q))
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// cached returns the statement for q on db if it is already prepared.
func (d *DB) cached(db *sql.DB, q string) *sql.Stmt {
	if st, ok := d.stmts.Load(stmtKey{db, q}); ok {
		return st.(*sql.Stmt)
	}
	return nil
}

// exec runs a write statement outside a transaction.
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	defer d.wrote()
	if !d.fl.cacheStatements {
		return d.write.ExecContext(ctx, d.fl.translate(q), args...)
	}
	st, err := d.prepared(ctx, d.write, q)
	if err != nil {
		return nil, err
	}
	return st.ExecContext(ctx, args...)
}

// queryRow runs a single-row query on db outside a transaction.
func (d *DB) queryRow(ctx context.Context, db *sql.DB, q string, args ...any) *sql.Row {
	if d.fl.cacheStatements {
		if st, err := d.prepared(ctx, db, q); err == nil {
			return st.QueryRowContext(ctx, args...)
		}
		// Run it unprepared: the Row reports the same error.
	}
	return db.QueryRowContext(ctx, d.fl.translate(q), args...)
}

// query runs a query on db outside a transaction.
func (d *DB) query(ctx context.Context, db *sql.DB, q string, args ...any) (*sql.Rows, error) {
	if !d.fl.cacheStatements {
		return db.QueryContext(ctx, d.fl.translate(q), args...)
	}
	st, err := d.prepared(ctx, db, q)
	if err != nil {
		return nil, err
	}
	return st.QueryContext(ctx, args...)
}

// collect reads every row of rows with scan.
func collect[T any](rows *sql.Rows, err error, scan func(scanner) (T, error)) ([]T, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		v, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

// tx is a transaction on the write pool.
type tx struct {
	d  *DB
	tx *sql.Tx
	// unprepared lists the statements run without a cached statement, to
	// be prepared once the transaction has given its connection back.
	unprepared []string
}

// errRollback, returned by the function given to inTx, rolls the
// transaction back without an error.
var errRollback = errors.New("roll back")

// inTx runs fn in a transaction on the write pool and commits it if fn
// returns nil; otherwise it rolls back and returns fn's error as it is (nil
// for errRollback), so fn wraps its own. what names the operation in the
// errors of beginning and committing. For SQLite the transaction begins
// IMMEDIATE.
func (d *DB) inTx(ctx context.Context, what string, fn func(tx *tx) error) error {
	t, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return d.errorf(err, "%s: begin", what)
	}
	x := &tx{d: d, tx: t}
	err = fn(x)
	if err == nil {
		if err = t.Commit(); err != nil {
			err = d.errorf(err, "%s: commit", what)
		}
		d.wrote()
	} else {
		t.Rollback()
		if errors.Is(err, errRollback) {
			err = nil
		}
	}
	// SQLite's write pool has one connection, which the transaction held:
	// only now can statements be prepared on it for the next time.
	for _, q := range x.unprepared {
		d.prepared(ctx, d.write, q)
	}
	return err
}

// stmt returns the cached statement for q within the transaction, or nil
// (then q runs unprepared this time).
func (x *tx) stmt(ctx context.Context, q string) *sql.Stmt {
	if !x.d.fl.cacheStatements {
		return nil
	}
	if st := x.d.cached(x.d.write, q); st != nil {
		return x.tx.StmtContext(ctx, st)
	}
	x.unprepared = append(x.unprepared, q)
	return nil
}

func (x *tx) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	if st := x.stmt(ctx, q); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return x.tx.ExecContext(ctx, x.d.fl.translate(q), args...)
}

func (x *tx) queryRow(ctx context.Context, q string, args ...any) *sql.Row {
	if st := x.stmt(ctx, q); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return x.tx.QueryRowContext(ctx, x.d.fl.translate(q), args...)
}

// rowsAffected returns the number of rows a statement changed.
func rowsAffected(res sql.Result, err error) (int64, error) {
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// Maintenance.

// GarbageCollect implements storage.Storage, in one transaction.
func (d *DB) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	var r storage.GCResult
	err := d.inTx(ctx, "garbage collect", func(x *tx) error {
		for _, c := range []struct {
			what, q string
			n       *int64
		}{
			{"sessions", `DELETE FROM sessions WHERE expiry <= ?`, &r.Sessions},
			{"replay cache", `DELETE FROM replay_cache WHERE expires_at <= ?`, &r.RequestIDs},
			{"login failures", `DELETE FROM login_failures WHERE expires_at <= ?`, &r.LoginFailures},
			{"launch tokens", `DELETE FROM launch_tokens WHERE expires_at <= ?`, &r.LaunchTokens},
		} {
			n, err := rowsAffected(x.exec(ctx, c.q, d.t(now)))
			if err != nil {
				return d.errorf(err, "garbage collect %s", c.what)
			}
			*c.n = n
		}
		return nil
	})
	if err != nil {
		return storage.GCResult{}, err
	}
	return r, nil
}

// Ping implements storage.Storage.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.write.PingContext(ctx); err != nil {
		return d.errorf(err, "ping")
	}
	if d.read != d.write {
		if err := d.read.PingContext(ctx); err != nil {
			return d.errorf(err, "ping")
		}
	}
	return nil
}

// Close stops the checkpointer and closes the statements and pools.
func (d *DB) Close() error {
	var err error
	if d.ckpt != nil {
		err = d.ckpt.close()
	}
	d.stmts.Range(func(k, v any) bool {
		err = errors.Join(err, v.(*sql.Stmt).Close())
		return true
	})
	err = errors.Join(err, d.write.Close())
	if d.read != d.write {
		err = errors.Join(err, d.read.Close())
	}
	return err
}

// wrote tells the checkpointer that a write committed (it never blocks).
func (d *DB) wrote() {
	if d.ckpt != nil {
		d.ckpt.wrote()
	}
}
