package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/alexedwards/scs/v2"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"hcidp/storage"
	"hcidp/storage/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var (
	_ storage.Storage = (*DB)(nil)
	_ scs.CtxStore    = (*DB)(nil)
)

// busyTimeout is how long a connection waits for a lock held by another
// connection or process before failing with SQLITE_BUSY.
const busyTimeout = 10 * time.Second

// DB is a storage.Storage backed by one SQLite database.
type DB struct {
	write *sql.DB // exactly one connection; transactions BEGIN IMMEDIATE
	read  *sql.DB // read-only pool; the same as write for ":memory:"
	// ckpt is the connection that checkpoints the WAL in the background.
	ckpt          *sql.DB
	stop, stopped chan struct{}
	stopOnce      sync.Once
	// wake tells the checkpointer that a write committed; walPath is the
	// write-ahead log it watches and walLimit the size that triggers a
	// TRUNCATE checkpoint.
	wake     chan struct{}
	walPath  string
	walLimit int64
	// stmts caches prepared statements by pool and query text: preparing
	// (compiling) an SQLite statement costs about as much as running the
	// small statements of the SSO path.
	stmts sync.Map
}

// Open opens (creating if needed) the SQLite database at path and applies
// pending migrations. path is a file path or ":memory:" (a private
// in-memory database, gone at Close). The directory of a file path must
// exist.
func Open(ctx context.Context, path string) (*DB, error) {
	return open(ctx, path, defaultWALLimit)
}

// defaultWALLimit is the write-ahead log size past which the checkpointer
// runs a TRUNCATE checkpoint. A few MiB keep the log, and the time readers
// spend searching it, small; the checkpoint that resets it pauses writers
// for about as long as copying that much takes.
const defaultWALLimit = 16 << 20

func open(ctx context.Context, path string, walLimit int64) (*DB, error) {
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
	write, err := sql.Open("sqlite", dsn(path, writePragmas, "immediate"))
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

	d := &DB{write: write, read: write}
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
	}
	if err := d.migrate(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("sqlite: migrate %q: %w", path, err)
	}
	if !memory {
		read, err := sql.Open("sqlite", dsn(path, append(common[:len(common):len(common)], "query_only(1)"), "deferred"))
		if err != nil {
			write.Close()
			return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
		}
		read.SetMaxOpenConns(8)
		read.SetMaxIdleConns(8)
		d.read = read
		ckpt, err := sql.Open("sqlite", dsn(path, common, "deferred"))
		if err != nil {
			d.Close()
			return nil, fmt.Errorf("sqlite: open %q: %w", path, err)
		}
		ckpt.SetMaxOpenConns(1)
		d.ckpt, d.stop, d.stopped = ckpt, make(chan struct{}), make(chan struct{})
		d.wake, d.walPath, d.walLimit = make(chan struct{}, 1), path+"-wal", walLimit
		go d.checkpoints()
	}
	return d, nil
}

// checkpointEvery is how often the WAL is copied back into the database.
const checkpointEvery = 2 * time.Second

// checkpoints keeps the write-ahead log bounded under any write rate, on
// its own connection until Close. Every checkpointEvery it runs a PASSIVE
// checkpoint, which never blocks readers or the writer; but while readers
// keep arriving, a PASSIVE checkpoint can never let the log restart from
// its beginning, and the log grows for as long as writes go on. So after
// every commit (wrote) it also looks at the log's size, and past walLimit
// it runs a TRUNCATE checkpoint: that waits for the current readers and
// holds off writers (busy_timeout) until the log is copied back and cut to
// zero bytes. Writers pause for that long, once per walLimit of writes.
func (d *DB) checkpoints() {
	defer close(d.stopped)
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			if !d.truncateIfLarge() {
				d.ckpt.Exec("PRAGMA wal_checkpoint(PASSIVE)")
			}
		case <-d.wake:
			d.truncateIfLarge()
		}
	}
}

// truncateIfLarge runs a TRUNCATE checkpoint when the log is past walLimit.
func (d *DB) truncateIfLarge() bool {
	fi, err := os.Stat(d.walPath)
	if err != nil || fi.Size() <= d.walLimit {
		return false
	}
	// On the write connection: the writes of this process queue behind the
	// checkpoint instead of starving it of the write lock, so it waits only
	// for the readers of an older snapshot, which are short.
	d.write.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
	return true
}

// wrote tells the checkpointer that a write committed (it never blocks).
func (d *DB) wrote() {
	if d.wake == nil {
		return
	}
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// commit commits tx and tells the checkpointer.
func (d *DB) commit(tx *sql.Tx) error {
	err := tx.Commit()
	d.wrote()
	return err
}

func dsn(path string, pragmas []string, txlock string) string {
	q := url.Values{}
	for _, p := range pragmas {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", txlock)
	return path + "?" + q.Encode()
}

// migrate applies pending migrations in one immediate transaction; a
// concurrent opener of the same file waits for it and then finds nothing to do.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER NOT NULL PRIMARY KEY,
		applied_at INTEGER NOT NULL
	) STRICT`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	applied := make(map[int]bool)
	rows, err := tx.QueryContext(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			rows.Close()
			return fmt.Errorf("read schema_migrations: %w", err)
		}
		applied[v] = true
	}
	if err := rows.Close(); err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	for _, m := range ms {
		if applied[m.Version] {
			continue
		}
		if _, err := tx.ExecContext(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.ExecContext(ctx,
			`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`,
			m.Version, toDB(time.Now())); err != nil {
			return fmt.Errorf("record %s: %w", m.Name, err)
		}
	}
	return d.commit(tx)
}

// toDB and fromDB convert between time.Time and unix microseconds (UTC).
func toDB(t time.Time) int64 { return t.UnixMicro() }

func fromDB(us int64) time.Time { return time.UnixMicro(us).UTC() }

func boolToDB(b bool) int64 {
	if b {
		return 1
	}
	return 0
}

func errCode(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

func isUnique(err error) bool {
	c := errCode(err)
	return c == sqlite3.SQLITE_CONSTRAINT_UNIQUE || c == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

func isForeignKey(err error) bool {
	return errCode(err) == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
}

// customerConflict turns a unique violation on customers into
// storage.ErrAlreadyExists, saying which key was taken.
func customerConflict(err error, c storage.Customer) error {
	if strings.Contains(err.Error(), "customers.email") {
		return fmt.Errorf("%w: email %q is used by another customer", storage.ErrAlreadyExists, c.Email)
	}
	return fmt.Errorf("%w: customer %q", storage.ErrAlreadyExists, c.XAccountID)
}

// Customers.

const customerColumns = `x_account_id, display_name, email, name, mobile, password_hash, disabled, created_at, updated_at`

type scanner interface{ Scan(dest ...any) error }

func scanCustomer(s scanner) (storage.Customer, error) {
	var (
		c                storage.Customer
		disabled         int64
		created, updated int64
	)
	err := s.Scan(&c.XAccountID, &c.DisplayName, &c.Email, &c.Name, &c.Mobile,
		&c.PasswordHash, &disabled, &created, &updated)
	if err != nil {
		return storage.Customer{}, err
	}
	c.Disabled = disabled != 0
	c.CreatedAt = fromDB(created)
	c.UpdatedAt = fromDB(updated)
	return c, nil
}

// CreateCustomer implements storage.Storage.
func (d *DB) CreateCustomer(ctx context.Context, c storage.Customer) error {
	_, err := d.write.ExecContext(ctx,
		`INSERT INTO customers (`+customerColumns+`) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		c.XAccountID, c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
		boolToDB(c.Disabled), toDB(c.CreatedAt), toDB(c.UpdatedAt))
	if isUnique(err) {
		return customerConflict(err, c)
	}
	if err != nil {
		return fmt.Errorf("sqlite: create customer %q: %w", c.XAccountID, err)
	}
	return nil
}

// GetCustomer implements storage.Storage.
func (d *DB) GetCustomer(ctx context.Context, xAccountID string) (storage.Customer, error) {
	c, err := scanCustomer(d.queryRow(ctx, d.read,
		`SELECT `+customerColumns+` FROM customers WHERE x_account_id = ?`, xAccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Customer{}, fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
	}
	if err != nil {
		return storage.Customer{}, fmt.Errorf("sqlite: get customer %q: %w", xAccountID, err)
	}
	return c, nil
}

// UpdateCustomer implements storage.Storage. fn runs inside an immediate
// transaction on the only write connection: it must not call back into d.
func (d *DB) UpdateCustomer(ctx context.Context, xAccountID string, fn func(storage.Customer) (storage.Customer, error)) error {
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: update customer %q: %w", xAccountID, err)
	}
	defer tx.Rollback()
	old, err := scanCustomer(tx.QueryRowContext(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE x_account_id = ?`, xAccountID))
	if errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update customer %q: %w", xAccountID, err)
	}
	c, err := fn(old)
	if err != nil {
		return err
	}
	if c.XAccountID != old.XAccountID {
		return fmt.Errorf("sqlite: update customer %q: XAccountID cannot change (got %q)", xAccountID, c.XAccountID)
	}
	_, err = tx.ExecContext(ctx, `UPDATE customers SET
		display_name = ?, email = ?, name = ?, mobile = ?, password_hash = ?,
		disabled = ?, created_at = ?, updated_at = ?
		WHERE x_account_id = ?`,
		c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
		boolToDB(c.Disabled), toDB(c.CreatedAt), toDB(c.UpdatedAt), xAccountID)
	if isUnique(err) {
		return customerConflict(err, c)
	}
	if err != nil {
		return fmt.Errorf("sqlite: update customer %q: %w", xAccountID, err)
	}
	if err := d.commit(tx); err != nil {
		return fmt.Errorf("sqlite: update customer %q: commit: %w", xAccountID, err)
	}
	return nil
}

// ListCustomers implements storage.Storage.
func (d *DB) ListCustomers(ctx context.Context) ([]storage.Customer, error) {
	rows, err := d.read.QueryContext(ctx,
		`SELECT `+customerColumns+` FROM customers ORDER BY x_account_id`)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list customers: %w", err)
	}
	defer rows.Close()
	var cs []storage.Customer
	for rows.Next() {
		c, err := scanCustomer(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list customers: %w", err)
		}
		cs = append(cs, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list customers: %w", err)
	}
	return cs, nil
}

// Bindings.

// GetBinding implements storage.Storage.
func (d *DB) GetBinding(ctx context.Context, xAccountID, site string) (storage.Binding, error) {
	b, err := getBinding(d.queryRow(ctx, d.read, selectBinding, xAccountID, site), xAccountID, site)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.Binding{}, fmt.Errorf("%w: binding of %q on site %q", storage.ErrNotFound, xAccountID, site)
	}
	if err != nil {
		return storage.Binding{}, fmt.Errorf("sqlite: get binding %q/%q: %w", xAccountID, site, err)
	}
	return b, nil
}

const selectBinding = `SELECT domain_id, domain_name, source, bound_at, event_id, convention FROM bindings
	WHERE x_account_id = ? AND site = ?`

func getBinding(row scanner, xAccountID, site string) (storage.Binding, error) {
	b := storage.Binding{XAccountID: xAccountID, Site: site}
	var bound int64
	if err := row.Scan(&b.DomainID, &b.DomainName, &b.Source, &bound, &b.EventID, &b.Convention); err != nil {
		return storage.Binding{}, err
	}
	b.BoundAt = fromDB(bound)
	return b, nil
}

const upsertBinding = `INSERT INTO bindings (x_account_id, site, domain_id, domain_name, source, bound_at, event_id, convention)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?)
	ON CONFLICT (x_account_id, site) DO UPDATE SET
		domain_id = excluded.domain_id, domain_name = excluded.domain_name,
		source = excluded.source, bound_at = excluded.bound_at,
		event_id = excluded.event_id, convention = excluded.convention`

// PutBinding implements storage.Storage.
func (d *DB) PutBinding(ctx context.Context, b storage.Binding) error {
	_, err := d.exec(ctx, upsertBinding,
		b.XAccountID, b.Site, b.DomainID, b.DomainName, b.Source, toDB(b.BoundAt), b.EventID, b.Convention)
	if isForeignKey(err) {
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, b.XAccountID)
	}
	if err != nil {
		return fmt.Errorf("sqlite: put binding %q/%q: %w", b.XAccountID, b.Site, err)
	}
	return nil
}

// Bind events.

// ApplyBindEvent implements storage.Storage, in one immediate transaction
// (SQLite has one writer, so concurrent events for a customer take turns).
func (d *DB) ApplyBindEvent(ctx context.Context, e storage.BindEvent, ssoSince time.Time) (storage.BindEvent, error) {
	fail := func(err error) (storage.BindEvent, error) {
		return storage.BindEvent{}, fmt.Errorf("sqlite: apply bind event %s: %w", e.ID, err)
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback()
	var one int
	err = tx.QueryRowContext(ctx, `SELECT 1 FROM customers WHERE x_account_id = ?`, e.XAccountID).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return storage.BindEvent{}, fmt.Errorf("%w: customer %q", storage.ErrNotFound, e.XAccountID)
	}
	if err != nil {
		return fail(err)
	}
	if e.Action == storage.BindActionBind {
		// kind = 'response' is a literal so that the partial index applies.
		err = tx.QueryRowContext(ctx, `SELECT 1 FROM audit_log
			WHERE kind = 'response' AND x_account_id = ? AND site = ? AND time >= ? LIMIT 1`,
			e.XAccountID, e.Site, toDB(ssoSince)).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return storage.BindEvent{}, fmt.Errorf("%w: customer %q, site %s, since %s", storage.ErrNoRecentSSO, e.XAccountID, e.Site, ssoSince.UTC().Format(time.RFC3339))
		}
		if err != nil {
			return fail(err)
		}
	}
	old, err := getBinding(tx.QueryRowContext(ctx, selectBinding, e.XAccountID, e.Site), e.XAccountID, e.Site)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		old = storage.Binding{}
	case err != nil:
		return fail(err)
	}
	e, write, err := storage.DecideBind(e, old)
	if err != nil {
		return storage.BindEvent{}, err
	}
	switch write {
	case storage.BindWriteUpsert:
		_, err = tx.ExecContext(ctx, upsertBinding, e.XAccountID, e.Site, e.DomainID, e.DomainName,
			storage.SourceNotification, toDB(e.ReceivedAt), e.ID, e.Convention)
	case storage.BindWriteRename:
		_, err = tx.ExecContext(ctx, `UPDATE bindings SET domain_name = ? WHERE x_account_id = ? AND site = ?`,
			e.DomainName, e.XAccountID, e.Site)
	case storage.BindWriteDelete:
		_, err = tx.ExecContext(ctx, `DELETE FROM bindings WHERE x_account_id = ? AND site = ?`, e.XAccountID, e.Site)
	}
	if err != nil {
		return fail(fmt.Errorf("binding: %w", err))
	}
	doc := e.Document
	if doc == nil {
		doc = []byte{}
	}
	_, err = tx.ExecContext(ctx, `INSERT INTO bind_events (`+bindEventColumns+`)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
		e.ID, e.DocumentHash, e.Site, doc, e.XAccountID, e.DomainID, e.DomainName, e.Action, e.Convention,
		e.Outcome, e.PreviousDomainID, e.PreviousDomainName, e.ClientAddr, toDB(e.ReceivedAt))
	if isUnique(err) {
		return storage.BindEvent{}, fmt.Errorf("%w: bind event %s", storage.ErrAlreadyExists, e.ID)
	}
	if err != nil {
		return fail(err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO audit_log
		(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
		VALUES (?, 'bind', ?, ?, '', '', ?, ?, ?)`,
		toDB(e.ReceivedAt), e.XAccountID, e.Site, e.ClientAddr, e.Outcome, e.AuditDetail()); err != nil {
		return fail(fmt.Errorf("audit: %w", err))
	}
	if err := d.commit(tx); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	return e, nil
}

const bindEventColumns = `id, document_hash, site, document, x_account_id, domain_id, domain_name, action, convention,
	outcome, previous_domain_id, previous_domain_name, client_addr, received_at`

func scanBindEvent(s scanner) (storage.BindEvent, error) {
	var (
		e        storage.BindEvent
		received int64
	)
	err := s.Scan(&e.ID, &e.DocumentHash, &e.Site, &e.Document, &e.XAccountID, &e.DomainID, &e.DomainName,
		&e.Action, &e.Convention, &e.Outcome, &e.PreviousDomainID, &e.PreviousDomainName, &e.ClientAddr, &received)
	if err != nil {
		return storage.BindEvent{}, err
	}
	e.ReceivedAt = fromDB(received)
	return e, nil
}

// GetBindEvent implements storage.Storage.
func (d *DB) GetBindEvent(ctx context.Context, id string) (storage.BindEvent, error) {
	e, err := scanBindEvent(d.queryRow(ctx, d.read, `SELECT `+bindEventColumns+` FROM bind_events WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return storage.BindEvent{}, fmt.Errorf("%w: bind event %q", storage.ErrNotFound, id)
	}
	if err != nil {
		return storage.BindEvent{}, fmt.Errorf("sqlite: get bind event %q: %w", id, err)
	}
	return e, nil
}

// ListBindEvents implements storage.Storage.
func (d *DB) ListBindEvents(ctx context.Context, xAccountID string, limit int) ([]storage.BindEvent, error) {
	q := `SELECT ` + bindEventColumns + ` FROM bind_events WHERE x_account_id = ? ORDER BY received_at DESC, id DESC`
	args := []any{xAccountID}
	if limit > 0 {
		q += ` LIMIT ?`
		args = append(args, limit)
	}
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list bind events of %q: %w", xAccountID, err)
	}
	defer rows.Close()
	var es []storage.BindEvent
	for rows.Next() {
		e, err := scanBindEvent(rows)
		if err != nil {
			return nil, fmt.Errorf("sqlite: list bind events of %q: %w", xAccountID, err)
		}
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list bind events of %q: %w", xAccountID, err)
	}
	return es, nil
}

// Replay cache.

// InsertRequestID implements storage.Storage. An entry that expired at or
// before time.Now() is replaced.
func (d *DB) InsertRequestID(ctx context.Context, issuer, id string, expires time.Time) error {
	res, err := d.exec(ctx, insertRequestID, issuer, id, toDB(expires), toDB(time.Now()))
	if err != nil {
		return fmt.Errorf("sqlite: insert request ID %q: %w", id, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("sqlite: insert request ID %q: %w", id, err)
	}
	if n == 0 {
		return fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, id, issuer)
	}
	return nil
}

// insertRequestID is the replay-cache insert: an entry that expired at or
// before the last argument is replaced; a live one is left alone (no row
// affected).
const insertRequestID = `INSERT INTO replay_cache (issuer, request_id, expires_at)
	VALUES (?, ?, ?)
	ON CONFLICT (issuer, request_id) DO UPDATE SET expires_at = excluded.expires_at
	WHERE replay_cache.expires_at <= ?`

const insertAudit = `INSERT INTO audit_log
	(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
	VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`

func auditArgs(e storage.AuditEvent) []any {
	return []any{toDB(e.Time), e.Kind, e.XAccountID, e.Site, e.RequestID, e.AssertionID, e.ClientAddr, e.Outcome, e.Detail}
}

// RecordResponse implements storage.Storage in one transaction on the
// write connection.
func (d *DB) RecordResponse(ctx context.Context, req *storage.RequestID, audit storage.AuditEvent) error {
	sts, err := d.writeStmts(ctx, insertRequestID, insertAudit)
	if err != nil {
		return fmt.Errorf("sqlite: record response: %w", err)
	}
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: record response: %w", err)
	}
	defer tx.Rollback()
	if req != nil {
		res, err := tx.StmtContext(ctx, sts[0]).ExecContext(ctx, req.Issuer, req.ID, toDB(req.Expires), toDB(audit.Time))
		if err != nil {
			return fmt.Errorf("sqlite: record response: request ID %q: %w", req.ID, err)
		}
		if n, err := res.RowsAffected(); err != nil || n == 0 {
			if err != nil {
				return fmt.Errorf("sqlite: record response: request ID %q: %w", req.ID, err)
			}
			return fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, req.ID, req.Issuer)
		}
	}
	if _, err := tx.StmtContext(ctx, sts[1]).ExecContext(ctx, auditArgs(audit)...); err != nil {
		return fmt.Errorf("sqlite: record response: audit: %w", err)
	}
	if err := d.commit(tx); err != nil {
		return fmt.Errorf("sqlite: record response: commit: %w", err)
	}
	return nil
}

// Sessions (scs.CtxStore).

// FindCtx implements scs.CtxStore.
func (d *DB) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := d.queryRow(ctx, d.read,
		`SELECT data FROM sessions WHERE token = ? AND expiry > ?`, token, toDB(time.Now())).Scan(&b)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("sqlite: find session: %w", err)
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
		token, b, toDB(expiry))
	if err != nil {
		return fmt.Errorf("sqlite: commit session: %w", err)
	}
	return nil
}

// DeleteCtx implements scs.CtxStore.
func (d *DB) DeleteCtx(ctx context.Context, token string) error {
	if _, err := d.exec(ctx, `DELETE FROM sessions WHERE token = ?`, token); err != nil {
		return fmt.Errorf("sqlite: delete session: %w", err)
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

// Audit log.

// AppendAudit implements storage.Storage.
func (d *DB) AppendAudit(ctx context.Context, e storage.AuditEvent) error {
	_, err := d.exec(ctx, insertAudit, auditArgs(e)...)
	if err != nil {
		return fmt.Errorf("sqlite: append audit event: %w", err)
	}
	return nil
}

// ListAudit implements storage.Storage.
func (d *DB) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	q := `SELECT id, time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail
		FROM audit_log WHERE 1 = 1`
	var args []any
	if !f.Since.IsZero() {
		q += ` AND time >= ?`
		args = append(args, toDB(f.Since))
	}
	if f.XAccountID != "" {
		q += ` AND x_account_id = ?`
		args = append(args, f.XAccountID)
	}
	q += ` ORDER BY time, id`
	if f.Limit > 0 {
		q += ` LIMIT ?`
		args = append(args, f.Limit)
	}
	rows, err := d.read.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	defer rows.Close()
	var es []storage.AuditEvent
	for rows.Next() {
		var (
			e storage.AuditEvent
			t int64
		)
		if err := rows.Scan(&e.ID, &t, &e.Kind, &e.XAccountID, &e.Site, &e.RequestID,
			&e.AssertionID, &e.ClientAddr, &e.Outcome, &e.Detail); err != nil {
			return nil, fmt.Errorf("sqlite: list audit events: %w", err)
		}
		e.Time = fromDB(t)
		es = append(es, e)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("sqlite: list audit events: %w", err)
	}
	return es, nil
}

// Maintenance.

// GarbageCollect implements storage.Storage.
func (d *DB) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	var r storage.GCResult
	tx, err := d.write.BeginTx(ctx, nil)
	if err != nil {
		return r, fmt.Errorf("sqlite: garbage collect: %w", err)
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE expiry <= ?`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("sqlite: garbage collect sessions: %w", err)
	}
	if r.Sessions, err = res.RowsAffected(); err != nil {
		return r, fmt.Errorf("sqlite: garbage collect sessions: %w", err)
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM replay_cache WHERE expires_at <= ?`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("sqlite: garbage collect replay cache: %w", err)
	}
	if r.RequestIDs, err = res.RowsAffected(); err != nil {
		return r, fmt.Errorf("sqlite: garbage collect replay cache: %w", err)
	}
	res, err = tx.ExecContext(ctx, `DELETE FROM login_failures WHERE expires_at <= ?`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("sqlite: garbage collect login failures: %w", err)
	}
	if r.LoginFailures, err = res.RowsAffected(); err != nil {
		return r, fmt.Errorf("sqlite: garbage collect login failures: %w", err)
	}
	if r.LaunchTokens, err = gcLaunchTokens(ctx, tx, now); err != nil {
		return r, err
	}
	if err := d.commit(tx); err != nil {
		return storage.GCResult{}, fmt.Errorf("sqlite: garbage collect: commit: %w", err)
	}
	return r, nil
}

// Ping implements storage.Storage.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.write.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	if err := d.read.PingContext(ctx); err != nil {
		return fmt.Errorf("sqlite: ping: %w", err)
	}
	return nil
}

// Close closes the database handles.
func (d *DB) Close() error {
	var err error
	if d.ckpt != nil {
		d.stopOnce.Do(func() {
			close(d.stop)
			<-d.stopped
			d.ckpt.Exec("PRAGMA wal_checkpoint(TRUNCATE)")
			err = d.ckpt.Close()
		})
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

// prepared returns the cached prepared statement for q on db.
func (d *DB) prepared(ctx context.Context, db *sql.DB, q string) (*sql.Stmt, error) {
	type key struct {
		db *sql.DB
		q  string
	}
	k := key{db, q}
	if st, ok := d.stmts.Load(k); ok {
		return st.(*sql.Stmt), nil
	}
	st, err := db.PrepareContext(ctx, q)
	if err != nil {
		return nil, err
	}
	if prev, loaded := d.stmts.LoadOrStore(k, st); loaded {
		st.Close()
		return prev.(*sql.Stmt), nil
	}
	return st, nil
}

// writeStmts returns the cached statements for qs on the write connection,
// for use inside a transaction with tx.StmtContext. Call it before BeginTx:
// the write pool has one connection, which the transaction then holds, so
// preparing inside it would wait for itself.
func (d *DB) writeStmts(ctx context.Context, qs ...string) ([]*sql.Stmt, error) {
	sts := make([]*sql.Stmt, len(qs))
	for i, q := range qs {
		st, err := d.prepared(ctx, d.write, q)
		if err != nil {
			return nil, err
		}
		sts[i] = st
	}
	return sts, nil
}

// exec runs a write statement through the statement cache.
func (d *DB) exec(ctx context.Context, q string, args ...any) (sql.Result, error) {
	st, err := d.prepared(ctx, d.write, q)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, args...)
	d.wrote()
	return res, err
}

// queryRow runs a single-row query on db through the statement cache.
func (d *DB) queryRow(ctx context.Context, db *sql.DB, q string, args ...any) *sql.Row {
	st, err := d.prepared(ctx, db, q)
	if err != nil {
		return db.QueryRowContext(ctx, q, args...) // reports the same error
	}
	return st.QueryRowContext(ctx, args...)
}
