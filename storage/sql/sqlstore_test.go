package sqlstore

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/internal/testkit"
	"hcidp/storage"
	"hcidp/storage/internal/migrate"
	"hcidp/storage/storagetest"
)

// dialect makes fresh databases of one dialect for the tests.
type dialect struct {
	name   string
	fl     *flavor
	driver string // the database/sql driver of raw connections
	// fresh returns the target (file path or DSN) of a new, empty database,
	// or skips the test.
	fresh func(t testing.TB) string
	open  func(ctx context.Context, target string, o Options) (*DB, error)
}

var dialects = []dialect{
	{"sqlite", sqliteFlavor, "sqlite", func(t testing.TB) string { return filepath.Join(t.TempDir(), "hcidp.db") }, OpenSQLite},
	{"postgres", postgresFlavor, "pgx", freshSchema, OpenPostgres},
}

// eachDialect runs test once per dialect, as subtests named after them.
func eachDialect(t *testing.T, test func(t *testing.T, dl dialect)) {
	for _, dl := range dialects {
		t.Run(dl.name, func(t *testing.T) { test(t, dl) })
	}
}

// testDSN returns the DSN of the PostgreSQL test server, skipping the test
// when none is configured.
func testDSN(t testing.TB) string {
	t.Helper()
	dsn := os.Getenv("HCIDP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("HCIDP_TEST_POSTGRES_DSN not set: PostgreSQL tests skipped")
	}
	return dsn
}

// freshSchema creates an empty PostgreSQL schema, dropped when the test
// ends, and returns a DSN whose search_path names it.
func freshSchema(t testing.TB) string {
	t.Helper()
	dsn := testDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hcidp_test_" + hex.EncodeToString(b)
	exec := func(ctx context.Context, q string) error {
		db, err := sql.Open("pgx", dsn)
		if err != nil {
			return err
		}
		defer db.Close()
		_, err = db.ExecContext(ctx, q)
		return err
	}
	if err := exec(t.Context(), "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if err := exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		u, err := url.Parse(dsn)
		if err != nil {
			t.Fatalf("parse HCIDP_TEST_POSTGRES_DSN: %v", err)
		}
		q := u.Query()
		q.Set("search_path", schema)
		u.RawQuery = q.Encode()
		return u.String()
	}
	return dsn + " search_path=" + schema
}

// openTest opens target, closing it when the test ends.
func openTest(t testing.TB, dl dialect, target string, o Options) *DB {
	t.Helper()
	d, err := dl.open(t.Context(), target, o)
	if err != nil {
		t.Fatalf("open %s: %v", dl.name, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestConformance(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		testDSNIf(t, dl)
		storagetest.Run(t, func(t *testing.T) storage.Storage {
			return openTest(t, dl, dl.fresh(t), Options{})
		})
	})
}

// testDSNIf skips a PostgreSQL test early when there is no server.
func testDSNIf(t *testing.T, dl dialect) {
	if dl.fl == postgresFlavor {
		testDSN(t)
	}
}

func TestConformanceSQLiteMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return openTest(t, dialects[0], ":memory:", Options{})
	})
}

func migrationVersions(t *testing.T, d *DB) []int {
	t.Helper()
	rows, err := d.read.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	vs, err := collect(rows, err, func(s scanner) (v int, err error) { return v, s.Scan(&v) })
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	return vs
}

func TestMigrationsIdempotent(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		target := dl.fresh(t)
		d, err := dl.open(t.Context(), target, Options{})
		if err != nil {
			t.Fatalf("open: %v", err)
		}
		want := migrationVersions(t, d)
		if len(want) == 0 {
			t.Fatal("no migrations recorded")
		}
		c := storage.Customer{XAccountID: "acc-1", CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := d.CreateCustomer(t.Context(), c); err != nil {
			t.Fatalf("CreateCustomer: %v", err)
		}
		if err := d.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		for range 2 {
			d = openTest(t, dl, target, Options{})
			if got := migrationVersions(t, d); len(got) != len(want) {
				t.Fatalf("migrations after reopen = %v, want %v", got, want)
			}
			if _, err := d.GetCustomer(t.Context(), "acc-1"); err != nil {
				t.Fatalf("GetCustomer after reopen: %v", err)
			}
		}
	})
}

// TestConcurrentOpen opens a fresh database from several goroutines at
// once: the migration lock (PostgreSQL's advisory lock, SQLite's immediate
// transaction) makes exactly one of them migrate.
func TestConcurrentOpen(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		target := dl.fresh(t)
		const n = 4
		var wg sync.WaitGroup
		dbs := make([]*DB, n)
		for i := range n {
			wg.Go(func() {
				d, err := dl.open(t.Context(), target, Options{})
				if err != nil {
					t.Errorf("open: %v", err)
					return
				}
				dbs[i] = d
			})
		}
		wg.Wait()
		for _, d := range dbs {
			if d != nil {
				defer d.Close()
			}
		}
		if t.Failed() {
			return
		}
		if err := dbs[0].CreateCustomer(t.Context(), storage.Customer{XAccountID: "acc-1"}); err != nil {
			t.Fatalf("CreateCustomer: %v", err)
		}
		if _, err := dbs[n-1].GetCustomer(t.Context(), "acc-1"); err != nil {
			t.Fatalf("GetCustomer through another handle: %v", err)
		}
		ms, err := migrate.Load(migrationFS, dl.fl.migrations)
		if err != nil {
			t.Fatal(err)
		}
		if got := migrationVersions(t, dbs[0]); len(got) != len(ms) {
			t.Errorf("migrations recorded %v, want %d (each applied once)", got, len(ms))
		}
	})
}

// TestTwoHandlesOneDatabase: two handles on one database (two processes,
// or two replicas) see each other's writes, and their concurrent
// read-modify-writes are serialised (SQLite: by the busy timeout;
// PostgreSQL: by the row lock).
func TestTwoHandlesOneDatabase(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		target := dl.fresh(t)
		a, b := openTest(t, dl, target, Options{}), openTest(t, dl, target, Options{})
		ctx := t.Context()
		c := storage.Customer{XAccountID: "acc-1", Email: "a@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
		if err := a.CreateCustomer(ctx, c); err != nil {
			t.Fatalf("a.CreateCustomer: %v", err)
		}
		if _, err := b.GetCustomer(ctx, "acc-1"); err != nil {
			t.Fatalf("b.GetCustomer: %v", err)
		}
		c.XAccountID = "acc-2"
		if err := b.CreateCustomer(ctx, c); !errors.Is(err, storage.ErrAlreadyExists) || !strings.Contains(err.Error(), "email") {
			t.Fatalf("b.CreateCustomer(same email) = %v, want ErrAlreadyExists naming the email", err)
		}
		if err := b.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("b.CommitCtx: %v", err)
		}
		if _, found, err := a.FindCtx(ctx, "tok"); err != nil || !found {
			t.Fatalf("a.FindCtx = %v, %v; want found", found, err)
		}

		const n = 20
		var wg sync.WaitGroup
		for i := range n {
			d := a
			if i%2 == 1 {
				d = b
			}
			wg.Go(func() {
				err := d.UpdateCustomer(ctx, "acc-1", func(c storage.Customer) (storage.Customer, error) {
					c.DisplayName += "x"
					return c, nil
				})
				if err != nil {
					t.Errorf("UpdateCustomer: %v", err)
				}
			})
		}
		wg.Wait()
		got, err := b.GetCustomer(ctx, "acc-1")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.DisplayName) != n {
			t.Errorf("DisplayName has %d updates, want %d", len(got.DisplayName), n)
		}
	})
}

func TestOpenSQLiteErrors(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, path, want string
	}{
		{"empty", "", "empty database path"},
		{"missing directory", filepath.Join(dir, "missing", "hcidp.db"), "no such file or directory"},
		{"query", filepath.Join(dir, "x.db?mode=ro"), "must not contain"},
		{"uri", "file:" + filepath.Join(dir, "x.db"), "plain file path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := OpenSQLite(t.Context(), tt.path, Options{})
			if err == nil {
				d.Close()
				t.Fatalf("OpenSQLite(%q) succeeded, want error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("OpenSQLite(%q) error = %v, want it to mention %q", tt.path, err, tt.want)
			}
		})
	}
}

func TestOpenPostgresBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for _, dsn := range []string{
		"postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2",
		"postgres://%zz",
		"postgres://u@127.0.0.1/db?pool_max_conns=zero",
	} {
		if d, err := OpenPostgres(ctx, dsn, Options{}); err == nil {
			d.Close()
			t.Errorf("OpenPostgres(%q) succeeded", dsn)
		}
	}
}

// migratedBefore makes a fresh database of dl with the migrations before
// version applied, as an older hcidp left it, and returns its target, a
// raw connection to it, a statement runner and every migration.
func migratedBefore(t *testing.T, dl dialect, version int) (string, *sql.DB, func(q string, args ...any), []migrate.Migration) {
	t.Helper()
	target := dl.fresh(t)
	raw, err := sql.Open(dl.driver, target)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { raw.Close() })
	ms, err := migrate.Load(migrationFS, dl.fl.migrations)
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(dl.fl.translate(q), args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(dl.fl.schemaMigrations)
	for _, m := range ms {
		if m.Version >= version {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)`, m.Version, dl.fl.time(time.Now()))
	}
	return target, raw, exec, ms
}

// TestMigrationFromGuessedBindSchema upgrades a database written before
// Huawei's documented bind notification: events keyed by document hash with
// a guessed result code, bindings of source "callback".
func TestMigrationFromGuessedBindSchema(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		target, raw, exec, ms := migratedBefore(t, dl, 4)
		now := time.Now()
		at := dl.fl.time(now)
		exec(`INSERT INTO customers (x_account_id, created_at, updated_at) VALUES ('acc-1', ?, ?)`, at, at)
		exec(`INSERT INTO bindings VALUES ('acc-1', 'cn', 'dom-1', 'hw_one', 'callback', ?)`, at)
		exec(`INSERT INTO bind_events VALUES ('h1', 'cn', ?, 'acc-1', 'dom-1', 'hw_one', '0', ?, ?)`,
			[]byte(`{"xAccountId":"acc-1"}`), true, at)
		exec(`INSERT INTO bind_events VALUES ('h2', 'cn', ?, 'acc-1', '', '', 'CBC.1', ?, ?)`,
			[]byte(`{}`), false, dl.fl.time(now.Add(-time.Second)))
		raw.Close()

		d := openTest(t, dl, target, Options{})
		b, err := d.GetBinding(t.Context(), "acc-1", "cn")
		if err != nil || b.Source != storage.SourceNotification || b.DomainID != "dom-1" {
			t.Fatalf("binding after migration = %+v, %v", b, err)
		}
		es, err := d.ListBindEvents(t.Context(), "acc-1", 0)
		if err != nil || len(es) != 2 {
			t.Fatalf("events after migration = %v, %v", es, err)
		}
		if es[0].DocumentHash != "h1" || es[0].Outcome != "bound" || es[0].Action != storage.BindActionBind ||
			string(es[0].Document) != `{"xAccountId":"acc-1"}` || len(es[0].ID) != 32 || es[1].Outcome != "failed" || es[0].ID == es[1].ID {
			t.Errorf("migrated events = %+v", es)
		}
		if got := migrationVersions(t, d); len(got) != len(ms) || got[len(got)-1] != ms[len(ms)-1].Version {
			t.Errorf("migrations = %v", got)
		}
	})
}

// TestMigrationKeepsReplayEntriesAndAudit: migration 6 rebuilds the
// replay cache (SQLite) and the audit log's indexes; a database at version
// 5 keeps every live replay entry in force and every audit row.
func TestMigrationKeepsReplayEntriesAndAudit(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		target, raw, exec, ms := migratedBefore(t, dl, 6)
		now := time.Now()
		exec(`INSERT INTO replay_cache (issuer, request_id, expires_at) VALUES ('sp1', 'id-live', ?)`, dl.fl.time(now.Add(time.Hour)))
		exec(`INSERT INTO audit_log (time, kind, x_account_id, site, request_id, outcome) VALUES (?, 'response', 'acc-1', 'cn', 'id-live', 'issued')`,
			dl.fl.time(now))
		raw.Close()

		d := openTest(t, dl, target, Options{})
		if err := d.InsertRequestID(t.Context(), "sp1", "id-live", now.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Fatalf("a replay entry from before the migration is not in force: %v", err)
		}
		got, err := d.ListAudit(t.Context(), storage.AuditFilter{XAccountID: "acc-1"})
		if err != nil || len(got) != 1 || got[0].RequestID != "id-live" {
			t.Fatalf("audit after migration = %+v, %v", got, err)
		}
		if got := migrationVersions(t, d); got[len(got)-1] != ms[len(ms)-1].Version {
			t.Errorf("migrations = %v", got)
		}
	})
}

// TestRecentSSOUsesTheIndex: the bind window check is a probe of the audit
// log's index by customer and time, not a scan of the log.
func TestRecentSSOUsesTheIndex(t *testing.T) {
	const q = `SELECT 1 FROM audit_log WHERE kind = 'response' AND x_account_id = ? AND site = ? AND time >= ? LIMIT 1`
	plans := map[string]struct {
		// explain returns the plan of q in one transaction, after setup.
		setup, explain string
		want           string
	}{
		"sqlite": {explain: `EXPLAIN QUERY PLAN ` + q, want: "USING INDEX audit_log_x_account_id_time_idx (x_account_id=? AND time>?)"},
		// Sequential scans are turned off so that the planner shows whether
		// the index applies at all on a small table.
		"postgres": {setup: `SET LOCAL enable_seqscan = off`, explain: `EXPLAIN ` + q, want: "audit_log_x_account_id_time_idx"},
	}
	eachDialect(t, func(t *testing.T, dl dialect) {
		d := openTest(t, dl, dl.fresh(t), Options{})
		p := plans[dl.name]
		var plan []string
		err := d.inTx(t.Context(), "explain", func(x *tx) error {
			if p.setup != "" {
				if _, err := x.tx.Exec(p.setup); err != nil {
					return err
				}
			}
			rows, err := x.tx.Query(dl.fl.translate(p.explain), "acc-1", "cn", d.t(time.Now()))
			if err != nil {
				return err
			}
			defer rows.Close()
			cols, _ := rows.Columns()
			for rows.Next() {
				// The detail is the last column (SQLite: id, parent,
				// notused, detail; PostgreSQL: the line of the plan).
				dest := make([]any, len(cols))
				var detail string
				for i := range dest {
					dest[i] = new(any)
				}
				dest[len(dest)-1] = &detail
				if err := rows.Scan(dest...); err != nil {
					return err
				}
				plan = append(plan, detail)
			}
			if err := rows.Err(); err != nil {
				return err
			}
			return errRollback
		})
		if err != nil {
			t.Fatal(err)
		}
		if p := strings.Join(plan, "; "); !strings.Contains(p, plans[dl.name].want) {
			t.Fatalf("query plan = %q, want %q", p, plans[dl.name].want)
		}
	})
}

// TestClockIsInjected: every time the store reads itself comes from
// Options.Now. The clock runs years away from the real one, so a read of
// time.Now anywhere would show.
func TestClockIsInjected(t *testing.T) {
	eachDialect(t, func(t *testing.T, dl dialect) {
		start := time.Date(2041, 3, 4, 5, 6, 7, 891011000, time.UTC)
		clock := testkit.At(start)
		d := openTest(t, dl, dl.fresh(t), Options{Now: clock.Now})
		ctx := t.Context()
		readTime := func(q string, args ...any) time.Time {
			t.Helper()
			var v time.Time
			if err := d.queryRow(ctx, d.write, q, args...).Scan(at(&v)); err != nil {
				t.Fatalf("%s: %v", q, err)
			}
			return v
		}

		t.Run("migrations", func(t *testing.T) {
			if got := readTime(`SELECT max(applied_at) FROM schema_migrations`); !got.Equal(start.Truncate(time.Microsecond)) {
				t.Errorf("applied_at = %v, want the clock's %v", got, start)
			}
		})
		t.Run("secrets", func(t *testing.T) {
			if _, err := d.Secret(ctx, "k", []byte("v")); err != nil {
				t.Fatal(err)
			}
			if got := readTime(`SELECT created_at FROM secrets WHERE name = ?`, "k"); !got.Equal(start.Truncate(time.Microsecond)) {
				t.Errorf("created_at = %v, want the clock's %v", got, start)
			}
		})
		t.Run("replay cache", func(t *testing.T) {
			clock.Set(start)
			if err := d.InsertRequestID(ctx, "sp", "id-1", start.Add(time.Minute)); err != nil {
				t.Fatal(err)
			}
			if err := d.InsertRequestID(ctx, "sp", "id-1", start.Add(time.Hour)); !errors.Is(err, storage.ErrAlreadyExists) {
				t.Fatalf("InsertRequestID(live entry) = %v, want ErrAlreadyExists", err)
			}
			// Expired by the clock (and long before by the real time).
			clock.Set(start.Add(time.Minute))
			if err := d.InsertRequestID(ctx, "sp", "id-1", start.Add(time.Hour)); err != nil {
				t.Errorf("InsertRequestID(entry expired at the clock's now) = %v, want it replaced", err)
			}
		})
		t.Run("sessions", func(t *testing.T) {
			clock.Set(start)
			if err := d.CommitCtx(ctx, "tok", []byte("x"), start.Add(time.Hour)); err != nil {
				t.Fatal(err)
			}
			if _, found, err := d.FindCtx(ctx, "tok"); err != nil || !found {
				t.Fatalf("FindCtx before expiry = %v, %v; want found", found, err)
			}
			clock.Set(start.Add(time.Hour))
			if _, found, err := d.FindCtx(ctx, "tok"); err != nil || found {
				t.Errorf("FindCtx at expiry by the clock = %v, %v; want not found", found, err)
			}
		})
	})
}

func TestTranslate(t *testing.T) {
	tests := []struct {
		name, q          string
		sqlite, postgres string
	}{
		{"no placeholders", `SELECT 1`, `SELECT 1`, `SELECT 1`},
		{"numbered", `INSERT INTO t (a, b) VALUES (?, ?)`, `INSERT INTO t (a, b) VALUES (?, ?)`, `INSERT INTO t (a, b) VALUES ($1, $2)`},
		{"ten and more", `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, `VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			`VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`},
		{"row lock", "SELECT 1 FROM t WHERE k = ?\n\tFOR UPDATE", "SELECT 1 FROM t WHERE k = ?",
			"SELECT 1 FROM t WHERE k = $1\n\tFOR UPDATE"},
		{"row lock on one line", `SELECT 1 FROM t WHERE k = ? FOR UPDATE`, `SELECT 1 FROM t WHERE k = ?`,
			`SELECT 1 FROM t WHERE k = $1 FOR UPDATE`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sqliteFlavor.translate(tt.q); got != tt.sqlite {
				t.Errorf("sqlite: %q -> %q, want %q", tt.q, got, tt.sqlite)
			}
			if got := postgresFlavor.translate(tt.q); got != tt.postgres {
				t.Errorf("postgres: %q -> %q, want %q", tt.q, got, tt.postgres)
			}
		})
	}
}
