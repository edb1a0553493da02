package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// sqliteFlavor: times are INTEGER unix microseconds (UTC), matching
// PostgreSQL's timestamp precision.
var sqliteFlavor = &flavor{
	name:            "sqlite",
	translate:       dropForUpdate,
	time:            func(t time.Time) any { return t.UnixMicro() },
	cacheStatements: true,
	isUnique: func(err error) bool {
		c := sqliteCode(err)
		return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	},
	isForeignKey: func(err error) bool { return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY },
	// SQLite names the columns of the violated index, not the index:
	// "UNIQUE constraint failed: customers.email".
	violates: func(err error, table, column string) bool {
		return sqliteCode(err) == sqlite3.SQLITE_CONSTRAINT_UNIQUE && strings.Contains(err.Error(), table+"."+column)
	},
	migrations: "migrations/sqlite",
	schemaMigrations: `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`,
}

func sqliteCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// busyTimeout is how long a connection waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// defaultWALLimit is the write-ahead log size past which the checkpointer
// runs a TRUNCATE checkpoint. A few MiB keep the log, and the time readers
// spend searching it, small; the checkpoint that resets it pauses writers
// for about as long as copying that much takes.
const defaultWALLimit = 16 << 20

// OpenSQLite opens (creating if needed) the SQLite database at path and
// applies pending migrations. path is a file path or ":memory:" (a private
// in-memory database, gone at Close). The directory of a file path must
// exist.
func OpenSQLite(ctx context.Context, path string, o Options) (*DB, error) {
	return openSQLite(ctx, path, o, defaultWALLimit)
}

func openSQLite(ctx context.Context, path string, o Options, walLimit int64) (*DB, error) {
	if path == "" {
		return nil, errors.New("sqlite: empty database path")
	}
	if strings.ContainsAny(path, "?#") {
		return nil, fmt.Errorf("sqlite: database path %q must not contain '?' or '#'", path)
	}
	memory := path == ":memory:"
	if !memory {
		if strings.HasPrefix(path, "file:") {
			return nil, fmt.Errorf("sqlite: database path %q: give a plain file path, not a URI", path)
		}
		dir := filepath.Dir(path)
		fi, err := os.Stat(dir)
		if err != nil {
			return nil, fmt.Errorf("sqlite: directory of database %q: %w", path, err)
		}
		if !fi.IsDir() {
			return nil, fmt.Errorf("sqlite: directory of database %q: %s is not a directory", path, dir)
		}
		// The database holds password hashes and sessions: a new one is
		// readable by its owner only (SQLite gives its -wal and -shm files
		// the database's permissions). An existing file keeps its own.
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("sqlite: creating database %q: %w", path, err)
		}
	}

	// busy_timeout comes first so that the other pragmas wait for locks too.
	common := []string{
		fmt.Sprintf("busy_timeout(%d)", busyTimeout.Milliseconds()),
		"foreign_keys(1)",
	}
	writePragmas := common
	if !memory {
		// No automatic checkpoints on commit: a checkpoint fsyncs, and on the
		// writer's connection it would stall the SSO that happened to cross
		// the threshold. A background connection checkpoints instead.
		// journal_size_limit also truncates the log whenever a writer
		// restarts it after a complete PASSIVE checkpoint.
		writePragmas = append(writePragmas[:len(common):len(common)], "journal_mode(WAL)", "synchronous(NORMAL)", "wal_autocheckpoint(0)",
			fmt.Sprintf("journal_size_limit(%d)", walLimit))
	}
	write, err := sql.Open("sqlite", sqliteDSN(path, writePragmas, "immediate"))
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	// One writer: SQLite allows a single writer anyway, and serialising in
	// the pool avoids lock upgrades that would fail with SQLITE_BUSY.
	// For ":memory:" the single connection is also the whole database, so
	// it must never be closed while idle.
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	write.SetConnMaxIdleTime(0)

	d := newDB(sqliteFlavor, write, write, o)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := d.migrate(ctx); err != nil {
		d.Close()
		return nil, fmt.Errorf("sqlite: migrate %q: %w", path, err)
	}
	if memory {
		return d, nil
	}
	read, err := sql.Open("sqlite", sqliteDSN(path, append(common[:len(common):len(common)], "query_only(1)"), "deferred"))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	read.SetMaxOpenConns(8)
	read.SetMaxIdleConns(8)
	d.read = read
	ckpt, err := sql.Open("sqlite", sqliteDSN(path, common, "deferred"))
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	ckpt.SetMaxOpenConns(1)
	d.ckpt = startCheckpointer(ckpt, write, path+"-wal", walLimit)
	return d, nil
}

func sqliteDSN(path string, pragmas []string, txlock string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return path + "?" + q.Encode()
}

// checkpointEvery is how often the WAL is copied back into the database.
const checkpointEvery = 2 * time.Second

// checkpointer keeps the write-ahead log of an SQLite file bounded under
// any write rate, on its own connection until close. Every checkpointEvery
// it runs a PASSIVE checkpoint, which never blocks readers or the writer;
// but while readers keep arriving, a PASSIVE checkpoint can never let the
// log restart from its beginning, and the log grows for as long as writes
// go on. So after every commit (wrote) it also looks at the log's size,
// and past walLimit it runs a TRUNCATE checkpoint: that waits for the
// current readers and holds off writers (busy_timeout) until the log is
// copied back and cut to zero bytes. Writers pause for that long, once per
// walLimit of writes.
type checkpointer struct {
	db, write     *sql.DB
	stop, stopped chan struct{}
	stopOnce      sync.Once
	// wake tells the checkpointer that a write committed; walPath is the
	// write-ahead log it watches and walLimit the size that triggers a
	// TRUNCATE checkpoint.
	wake     chan struct{}
	walPath  string
	walLimit int64
}

func startCheckpointer(db, write *sql.DB, walPath string, walLimit int64) *checkpointer {
	c := &checkpointer{db: db, write: write, stop: make(chan struct{}), stopped: make(chan struct{}),
		wake: make(chan struct{}, 1), walPath: walPath, walLimit: walLimit}
	go c.run()
	return c
}

func (c *checkpointer) run() {
	defer close(c.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-c.stop:
			return
		case <-t.C:
			if !c.truncateIfLarge() {
				c.db.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		case <-c.wake:
			c.truncateIfLarge()
		}
	}
}

// truncateIfLarge runs a TRUNCATE checkpoint when the log is past walLimit.
func (c *checkpointer) truncateIfLarge() bool {
	fi, err := os.Stat(c.walPath)
	if err != nil || fi.Size() <= c.walLimit {
		return false
	}
	// On the write connection: the writes of this process queue behind the
	// checkpoint instead of starving it of the write lock, so it waits only
	// for the readers of an older snapshot, which are short.
	c.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return true
}

// wrote tells the checkpointer that a write committed (it never blocks).
func (c *checkpointer) wrote() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// close stops the checkpointer, checkpoints the whole log and closes the
// checkpointer's connection.
func (c *checkpointer) close() error {
	var err error
	c.stopOnce.Do(func() {
		close(c.stop)
		<-c.stopped
		c.db.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
		err = c.db.Close()
	})
	return err
}
