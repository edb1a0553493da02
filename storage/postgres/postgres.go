package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/alexedwards/scs/v2"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"hcidp/storage"
	"hcidp/storage/internal/migrate"
)

//go:embed migrations/*.sql
var migrationFS embed.FS

var (
	_ storage.Storage = (*DB)(nil)
	_ scs.CtxStore    = (*DB)(nil)
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

// DB is a storage.Storage backed by a PostgreSQL connection pool.
type DB struct {
	pool *pgxpool.Pool
}

// Open connects to the database named by dsn (a postgres:// URL or a
// key=value connection string, as accepted by pgx) and applies pending
// migrations. Runtime parameters such as search_path may be given in the
// DSN.
func Open(ctx context.Context, dsn string) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	d := &DB{pool: pool}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s:%d/%s: %w", cfg.ConnConfig.Host, cfg.ConnConfig.Port, cfg.ConnConfig.Database, err)
	}
	if err := d.migrate(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: migrate: %w", err)
	}
	return d, nil
}

// migrate applies pending migrations in one transaction, holding an advisory
// lock so that processes opening the database at the same moment take turns.
func (d *DB) migrate(ctx context.Context) error {
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		return err
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, migrationLockKey); err != nil {
		return fmt.Errorf("take migration lock: %w", err)
	}
	if _, err := tx.Exec(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		version    INTEGER     NOT NULL PRIMARY KEY,
		applied_at TIMESTAMPTZ NOT NULL DEFAULT now()
	)`); err != nil {
		return fmt.Errorf("create schema_migrations: %w", err)
	}
	rows, err := tx.Query(ctx, `SELECT version FROM schema_migrations`)
	if err != nil {
		return fmt.Errorf("read schema_migrations: %w", err)
	}
	versions, err := pgx.CollectRows(rows, pgx.RowTo[int])
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
		// No arguments: pgx uses the simple protocol, which allows
		// several statements in one Exec.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return fmt.Errorf("apply %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version); err != nil {
			return fmt.Errorf("record %s: %w", m.Name, err)
		}
	}
	return tx.Commit(ctx)
}

// toDB normalises t to what a timestamptz holds: UTC, microseconds
// (truncated, as the SQLite backend does, rather than rounded).
func toDB(t time.Time) time.Time { return t.UTC().Truncate(time.Microsecond) }

func pgCode(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

func isUnique(err error) bool {
	code, _ := pgCode(err)
	return code == uniqueViolation
}

func isForeignKey(err error) bool {
	code, _ := pgCode(err)
	return code == foreignKeyViolation
}

// customerConflict turns a unique violation on customers into
// storage.ErrAlreadyExists, saying which key was taken.
func customerConflict(err error, c storage.Customer) error {
	if _, constraint := pgCode(err); constraint == "customers_email_key" {
		return fmt.Errorf("%w: email %q is used by another customer", storage.ErrAlreadyExists, c.Email)
	}
	return fmt.Errorf("%w: customer %q", storage.ErrAlreadyExists, c.XAccountID)
}

// Customers.

const customerColumns = `x_account_id, display_name, email, name, mobile, password_hash, disabled, created_at, updated_at`

func scanCustomer(row pgx.Row) (storage.Customer, error) {
	var c storage.Customer
	err := row.Scan(&c.XAccountID, &c.DisplayName, &c.Email, &c.Name, &c.Mobile,
		&c.PasswordHash, &c.Disabled, &c.CreatedAt, &c.UpdatedAt)
	if err != nil {
		return storage.Customer{}, err
	}
	c.CreatedAt = c.CreatedAt.UTC()
	c.UpdatedAt = c.UpdatedAt.UTC()
	return c, nil
}

// CreateCustomer implements storage.Storage.
func (d *DB) CreateCustomer(ctx context.Context, c storage.Customer) error {
	_, err := d.pool.Exec(ctx,
		`INSERT INTO customers (`+customerColumns+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		c.XAccountID, c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
		c.Disabled, toDB(c.CreatedAt), toDB(c.UpdatedAt))
	if isUnique(err) {
		return customerConflict(err, c)
	}
	if err != nil {
		return fmt.Errorf("postgres: create customer %q: %w", c.XAccountID, err)
	}
	return nil
}

// GetCustomer implements storage.Storage.
func (d *DB) GetCustomer(ctx context.Context, xAccountID string) (storage.Customer, error) {
	c, err := scanCustomer(d.pool.QueryRow(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE x_account_id = $1`, xAccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Customer{}, fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
	}
	if err != nil {
		return storage.Customer{}, fmt.Errorf("postgres: get customer %q: %w", xAccountID, err)
	}
	return c, nil
}

// UpdateCustomer implements storage.Storage. The row is locked (SELECT ...
// FOR UPDATE) while fn runs, so fn should be quick and must not update the
// same customer through d.
func (d *DB) UpdateCustomer(ctx context.Context, xAccountID string, fn func(storage.Customer) (storage.Customer, error)) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: update customer %q: %w", xAccountID, err)
	}
	defer tx.Rollback(ctx)
	old, err := scanCustomer(tx.QueryRow(ctx,
		`SELECT `+customerColumns+` FROM customers WHERE x_account_id = $1 FOR UPDATE`, xAccountID))
	if errors.Is(err, pgx.ErrNoRows) {
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, xAccountID)
	}
	if err != nil {
		return fmt.Errorf("postgres: update customer %q: %w", xAccountID, err)
	}
	c, err := fn(old)
	if err != nil {
		return err
	}
	if c.XAccountID != old.XAccountID {
		return fmt.Errorf("postgres: update customer %q: XAccountID cannot change (got %q)", xAccountID, c.XAccountID)
	}
	_, err = tx.Exec(ctx, `UPDATE customers SET
		display_name = $1, email = $2, name = $3, mobile = $4, password_hash = $5,
		disabled = $6, created_at = $7, updated_at = $8
		WHERE x_account_id = $9`,
		c.DisplayName, c.Email, c.Name, c.Mobile, c.PasswordHash,
		c.Disabled, toDB(c.CreatedAt), toDB(c.UpdatedAt), xAccountID)
	if isUnique(err) {
		return customerConflict(err, c)
	}
	if err != nil {
		return fmt.Errorf("postgres: update customer %q: %w", xAccountID, err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: update customer %q: commit: %w", xAccountID, err)
	}
	return nil
}

// ListCustomers implements storage.Storage.
func (d *DB) ListCustomers(ctx context.Context) ([]storage.Customer, error) {
	rows, err := d.pool.Query(ctx,
		`SELECT `+customerColumns+` FROM customers ORDER BY x_account_id`)
	if err != nil {
		return nil, fmt.Errorf("postgres: list customers: %w", err)
	}
	cs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.Customer, error) {
		return scanCustomer(row)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list customers: %w", err)
	}
	return cs, nil
}

// Bindings.

// GetBinding implements storage.Storage.
func (d *DB) GetBinding(ctx context.Context, xAccountID, site string) (storage.Binding, error) {
	b, err := getBinding(d.pool.QueryRow(ctx, selectBinding, xAccountID, site), xAccountID, site)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.Binding{}, fmt.Errorf("%w: binding of %q on site %q", storage.ErrNotFound, xAccountID, site)
	}
	if err != nil {
		return storage.Binding{}, fmt.Errorf("postgres: get binding %q/%q: %w", xAccountID, site, err)
	}
	return b, nil
}

const selectBinding = `SELECT domain_id, domain_name, source, bound_at, event_id, convention FROM bindings
	WHERE x_account_id = $1 AND site = $2`

func getBinding(row pgx.Row, xAccountID, site string) (storage.Binding, error) {
	b := storage.Binding{XAccountID: xAccountID, Site: site}
	if err := row.Scan(&b.DomainID, &b.DomainName, &b.Source, &b.BoundAt, &b.EventID, &b.Convention); err != nil {
		return storage.Binding{}, err
	}
	b.BoundAt = b.BoundAt.UTC()
	return b, nil
}

const upsertBinding = `INSERT INTO bindings (x_account_id, site, domain_id, domain_name, source, bound_at, event_id, convention)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
	ON CONFLICT (x_account_id, site) DO UPDATE SET
		domain_id = excluded.domain_id, domain_name = excluded.domain_name,
		source = excluded.source, bound_at = excluded.bound_at,
		event_id = excluded.event_id, convention = excluded.convention`

// PutBinding implements storage.Storage.
func (d *DB) PutBinding(ctx context.Context, b storage.Binding) error {
	_, err := d.pool.Exec(ctx, upsertBinding,
		b.XAccountID, b.Site, b.DomainID, b.DomainName, b.Source, toDB(b.BoundAt), b.EventID, b.Convention)
	if isForeignKey(err) {
		return fmt.Errorf("%w: customer %q", storage.ErrNotFound, b.XAccountID)
	}
	if err != nil {
		return fmt.Errorf("postgres: put binding %q/%q: %w", b.XAccountID, b.Site, err)
	}
	return nil
}

// Bind events.

// ApplyBindEvent implements storage.Storage. The customer's row is locked
// FOR UPDATE first, so that concurrent events for one customer (on any
// replica) are applied one after the other, each seeing the binding the
// previous one left.
func (d *DB) ApplyBindEvent(ctx context.Context, e storage.BindEvent, ssoSince time.Time) (storage.BindEvent, error) {
	fail := func(err error) (storage.BindEvent, error) {
		return storage.BindEvent{}, fmt.Errorf("postgres: apply bind event %s: %w", e.ID, err)
	}
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fail(err)
	}
	defer tx.Rollback(ctx)
	var one int
	err = tx.QueryRow(ctx, `SELECT 1 FROM customers WHERE x_account_id = $1 FOR UPDATE`, e.XAccountID).Scan(&one)
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.BindEvent{}, fmt.Errorf("%w: customer %q", storage.ErrNotFound, e.XAccountID)
	}
	if err != nil {
		return fail(err)
	}
	if e.Action == storage.BindActionBind {
		// kind = 'response' is a literal so that the partial index applies.
		err = tx.QueryRow(ctx, `SELECT 1 FROM audit_log
			WHERE kind = 'response' AND x_account_id = $1 AND site = $2 AND time >= $3 LIMIT 1`,
			e.XAccountID, e.Site, toDB(ssoSince)).Scan(&one)
		if errors.Is(err, pgx.ErrNoRows) {
			return storage.BindEvent{}, fmt.Errorf("%w: customer %q, site %s, since %s", storage.ErrNoRecentSSO, e.XAccountID, e.Site, ssoSince.UTC().Format(time.RFC3339))
		}
		if err != nil {
			return fail(err)
		}
	}
	old, err := getBinding(tx.QueryRow(ctx, selectBinding, e.XAccountID, e.Site), e.XAccountID, e.Site)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
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
		_, err = tx.Exec(ctx, upsertBinding, e.XAccountID, e.Site, e.DomainID, e.DomainName,
			storage.SourceNotification, toDB(e.ReceivedAt), e.ID, e.Convention)
	case storage.BindWriteRename:
		_, err = tx.Exec(ctx, `UPDATE bindings SET domain_name = $1 WHERE x_account_id = $2 AND site = $3`,
			e.DomainName, e.XAccountID, e.Site)
	case storage.BindWriteDelete:
		_, err = tx.Exec(ctx, `DELETE FROM bindings WHERE x_account_id = $1 AND site = $2`, e.XAccountID, e.Site)
	}
	if err != nil {
		return fail(fmt.Errorf("binding: %w", err))
	}
	doc := e.Document
	if doc == nil {
		doc = []byte{}
	}
	_, err = tx.Exec(ctx, `INSERT INTO bind_events (`+bindEventColumns+`)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`,
		e.ID, e.DocumentHash, e.Site, doc, e.XAccountID, e.DomainID, e.DomainName, e.Action, e.Convention,
		e.Outcome, e.PreviousDomainID, e.PreviousDomainName, e.ClientAddr, toDB(e.ReceivedAt))
	if isUnique(err) {
		return storage.BindEvent{}, fmt.Errorf("%w: bind event %s", storage.ErrAlreadyExists, e.ID)
	}
	if err != nil {
		return fail(err)
	}
	if _, err := tx.Exec(ctx, `INSERT INTO audit_log
		(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
		VALUES ($1, 'bind', $2, $3, '', '', $4, $5, $6)`,
		toDB(e.ReceivedAt), e.XAccountID, e.Site, e.ClientAddr, e.Outcome, e.AuditDetail()); err != nil {
		return fail(fmt.Errorf("audit: %w", err))
	}
	if err := tx.Commit(ctx); err != nil {
		return fail(fmt.Errorf("commit: %w", err))
	}
	e.ReceivedAt = toDB(e.ReceivedAt)
	return e, nil
}

const bindEventColumns = `id, document_hash, site, document, x_account_id, domain_id, domain_name, action, convention,
	outcome, previous_domain_id, previous_domain_name, client_addr, received_at`

func scanBindEvent(row pgx.Row) (storage.BindEvent, error) {
	var e storage.BindEvent
	err := row.Scan(&e.ID, &e.DocumentHash, &e.Site, &e.Document, &e.XAccountID, &e.DomainID, &e.DomainName,
		&e.Action, &e.Convention, &e.Outcome, &e.PreviousDomainID, &e.PreviousDomainName, &e.ClientAddr, &e.ReceivedAt)
	if err != nil {
		return storage.BindEvent{}, err
	}
	e.ReceivedAt = e.ReceivedAt.UTC()
	return e, nil
}

// GetBindEvent implements storage.Storage.
func (d *DB) GetBindEvent(ctx context.Context, id string) (storage.BindEvent, error) {
	e, err := scanBindEvent(d.pool.QueryRow(ctx, `SELECT `+bindEventColumns+` FROM bind_events WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return storage.BindEvent{}, fmt.Errorf("%w: bind event %q", storage.ErrNotFound, id)
	}
	if err != nil {
		return storage.BindEvent{}, fmt.Errorf("postgres: get bind event %q: %w", id, err)
	}
	return e, nil
}

// ListBindEvents implements storage.Storage.
func (d *DB) ListBindEvents(ctx context.Context, xAccountID string, limit int) ([]storage.BindEvent, error) {
	q := `SELECT ` + bindEventColumns + ` FROM bind_events WHERE x_account_id = $1 ORDER BY received_at DESC, id DESC`
	args := []any{xAccountID}
	if limit > 0 {
		q += ` LIMIT $2`
		args = append(args, limit)
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list bind events of %q: %w", xAccountID, err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.BindEvent, error) {
		return scanBindEvent(row)
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list bind events of %q: %w", xAccountID, err)
	}
	return es, nil
}

// Replay cache.

// InsertRequestID implements storage.Storage. An entry that expired at or
// before time.Now() is replaced; one statement, so concurrent inserts of the
// same ID are serialised by the primary key.
func (d *DB) InsertRequestID(ctx context.Context, issuer, id string, expires time.Time) error {
	tag, err := d.pool.Exec(ctx, insertRequestID, issuer, id, toDB(expires), toDB(time.Now()))
	if err != nil {
		return fmt.Errorf("postgres: insert request ID %q: %w", id, err)
	}
	if tag.RowsAffected() == 0 {
		return fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, id, issuer)
	}
	return nil
}

// insertRequestID is the replay-cache insert: an entry that expired at or
// before $4 is replaced; a live one is left alone (no row affected).
const insertRequestID = `INSERT INTO replay_cache (issuer, request_id, expires_at)
	VALUES ($1, $2, $3)
	ON CONFLICT (issuer, request_id) DO UPDATE SET expires_at = excluded.expires_at
	WHERE replay_cache.expires_at <= $4`

const insertAudit = `INSERT INTO audit_log
	(time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`

func auditArgs(e storage.AuditEvent) []any {
	return []any{toDB(e.Time), e.Kind, e.XAccountID, e.Site, e.RequestID, e.AssertionID, e.ClientAddr, e.Outcome, e.Detail}
}

// RecordResponse implements storage.Storage in one transaction.
func (d *DB) RecordResponse(ctx context.Context, req *storage.RequestID, audit storage.AuditEvent) error {
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("postgres: record response: %w", err)
	}
	defer tx.Rollback(ctx)
	if req != nil {
		tag, err := tx.Exec(ctx, insertRequestID, req.Issuer, req.ID, toDB(req.Expires), toDB(audit.Time))
		if err != nil {
			return fmt.Errorf("postgres: record response: request ID %q: %w", req.ID, err)
		}
		if tag.RowsAffected() == 0 {
			return fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, req.ID, req.Issuer)
		}
	}
	if _, err := tx.Exec(ctx, insertAudit, auditArgs(audit)...); err != nil {
		return fmt.Errorf("postgres: record response: audit: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return fmt.Errorf("postgres: record response: commit: %w", err)
	}
	return nil
}

// Sessions (scs.CtxStore).

// FindCtx implements scs.CtxStore.
func (d *DB) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	var b []byte
	err := d.pool.QueryRow(ctx,
		`SELECT data FROM sessions WHERE token = $1 AND expiry > $2`, token, toDB(time.Now())).Scan(&b)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, fmt.Errorf("postgres: find session: %w", err)
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
	_, err := d.pool.Exec(ctx, `INSERT INTO sessions (token, data, expiry) VALUES ($1, $2, $3)
		ON CONFLICT (token) DO UPDATE SET data = excluded.data, expiry = excluded.expiry`,
		token, b, toDB(expiry))
	if err != nil {
		return fmt.Errorf("postgres: commit session: %w", err)
	}
	return nil
}

// DeleteCtx implements scs.CtxStore.
func (d *DB) DeleteCtx(ctx context.Context, token string) error {
	if _, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE token = $1`, token); err != nil {
		return fmt.Errorf("postgres: delete session: %w", err)
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
	_, err := d.pool.Exec(ctx, insertAudit, auditArgs(e)...)
	if err != nil {
		return fmt.Errorf("postgres: append audit event: %w", err)
	}
	return nil
}

// ListAudit implements storage.Storage.
func (d *DB) ListAudit(ctx context.Context, f storage.AuditFilter) ([]storage.AuditEvent, error) {
	q := `SELECT id, time, kind, x_account_id, site, request_id, assertion_id, client_addr, outcome, detail
		FROM audit_log WHERE TRUE`
	var args []any
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if !f.Since.IsZero() {
		q += ` AND time >= ` + arg(toDB(f.Since))
	}
	if f.XAccountID != "" {
		q += ` AND x_account_id = ` + arg(f.XAccountID)
	}
	q += ` ORDER BY time, id`
	if f.Limit > 0 {
		q += ` LIMIT ` + arg(f.Limit)
	}
	rows, err := d.pool.Query(ctx, q, args...)
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit events: %w", err)
	}
	es, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (storage.AuditEvent, error) {
		var e storage.AuditEvent
		err := row.Scan(&e.ID, &e.Time, &e.Kind, &e.XAccountID, &e.Site, &e.RequestID,
			&e.AssertionID, &e.ClientAddr, &e.Outcome, &e.Detail)
		e.Time = e.Time.UTC()
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("postgres: list audit events: %w", err)
	}
	return es, nil
}

// Maintenance.

// GarbageCollect implements storage.Storage.
func (d *DB) GarbageCollect(ctx context.Context, now time.Time) (storage.GCResult, error) {
	var r storage.GCResult
	tag, err := d.pool.Exec(ctx, `DELETE FROM sessions WHERE expiry <= $1`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("postgres: garbage collect sessions: %w", err)
	}
	r.Sessions = tag.RowsAffected()
	tag, err = d.pool.Exec(ctx, `DELETE FROM replay_cache WHERE expires_at <= $1`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("postgres: garbage collect replay cache: %w", err)
	}
	r.RequestIDs = tag.RowsAffected()
	tag, err = d.pool.Exec(ctx, `DELETE FROM login_failures WHERE expires_at <= $1`, toDB(now))
	if err != nil {
		return r, fmt.Errorf("postgres: garbage collect login failures: %w", err)
	}
	r.LoginFailures = tag.RowsAffected()
	if r.LaunchTokens, err = d.gcLaunchTokens(ctx, now); err != nil {
		return r, err
	}
	return r, nil
}

// Ping implements storage.Storage.
func (d *DB) Ping(ctx context.Context) error {
	if err := d.pool.Ping(ctx); err != nil {
		return fmt.Errorf("postgres: ping: %w", err)
	}
	return nil
}

// Close closes the connection pool. It always returns nil.
func (d *DB) Close() error {
	d.pool.Close()
	return nil
}
