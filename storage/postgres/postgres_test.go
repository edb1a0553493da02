package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"hcidp/storage"
	"hcidp/storage/internal/migrate"
	"hcidp/storage/storagetest"
)

// testDSN returns the DSN of the test server, skipping the test when none
// is configured.
func testDSN(t *testing.T) string {
	t.Helper()
	dsn := os.Getenv("HCIDP_TEST_POSTGRES_DSN")
	if dsn == "" {
		t.Skip("HCIDP_TEST_POSTGRES_DSN not set: PostgreSQL tests skipped")
	}
	return dsn
}

// withSearchPath returns dsn with its search_path runtime parameter set.
func withSearchPath(t *testing.T, dsn, schema string) string {
	t.Helper()
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

// freshSchema creates an empty schema, dropped when the test ends, and
// returns a DSN that uses it.
func freshSchema(t *testing.T) string {
	t.Helper()
	dsn := testDSN(t)
	b := make([]byte, 6)
	rand.Read(b)
	schema := "hcidp_test_" + hex.EncodeToString(b)

	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatalf("connect to HCIDP_TEST_POSTGRES_DSN: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("create schema: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, dsn)
		if err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("drop schema %s: %v", schema, err)
		}
	})
	return withSearchPath(t, dsn, schema)
}

func open(t *testing.T, dsn string) *DB {
	t.Helper()
	d, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { d.Close() })
	return d
}

func TestConformance(t *testing.T) {
	testDSN(t)
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return open(t, freshSchema(t))
	})
}

func migrationCount(t *testing.T, d *DB) int {
	t.Helper()
	var n int
	if err := d.pool.QueryRow(t.Context(), `SELECT count(*) FROM schema_migrations`).Scan(&n); err != nil {
		t.Fatalf("count schema_migrations: %v", err)
	}
	return n
}

func TestMigrationsIdempotent(t *testing.T) {
	dsn := freshSchema(t)
	d, err := Open(t.Context(), dsn)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	want := migrationCount(t, d)
	if want == 0 {
		t.Fatal("no migrations recorded")
	}
	c := storage.Customer{XAccountID: "acc-1", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := d.CreateCustomer(t.Context(), c); err != nil {
		t.Fatalf("CreateCustomer: %v", err)
	}
	d.Close()

	for range 2 {
		d := open(t, dsn)
		if got := migrationCount(t, d); got != want {
			t.Fatalf("%d migrations recorded after reopen, want %d", got, want)
		}
		if _, err := d.GetCustomer(t.Context(), "acc-1"); err != nil {
			t.Fatalf("GetCustomer after reopen: %v", err)
		}
	}
}

// TestConcurrentOpen opens a fresh schema from several goroutines at once:
// the advisory lock makes exactly one of them migrate.
func TestConcurrentOpen(t *testing.T) {
	dsn := freshSchema(t)
	const n = 4
	var wg sync.WaitGroup
	dbs := make([]*DB, n)
	for i := range n {
		wg.Go(func() {
			d, err := Open(t.Context(), dsn)
			if err != nil {
				t.Errorf("Open: %v", err)
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
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	if got := migrationCount(t, dbs[0]); got != len(ms) {
		t.Errorf("%d migrations recorded, want %d (each applied once)", got, len(ms))
	}
}

func TestOpenBadDSN(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, "postgres://nobody@127.0.0.1:1/none?sslmode=disable&connect_timeout=2"); err == nil {
		t.Fatal("Open of an unreachable server succeeded")
	}
	if _, err := Open(ctx, "postgres://%zz"); err == nil {
		t.Fatal("Open of a malformed DSN succeeded")
	}
}

// TestMigrationFromGuessedBindSchema upgrades a database written before
// Huawei's documented bind notification: events keyed by document hash with
// a guessed result code, bindings of source "callback".
func TestMigrationFromGuessedBindSchema(t *testing.T) {
	dsn := freshSchema(t)
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.Exec(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())`)
	for _, m := range ms {
		if m.Version >= 4 {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations (version) VALUES ($1)`, m.Version)
	}
	at := time.Now()
	exec(`INSERT INTO customers (x_account_id, created_at, updated_at) VALUES ('acc-1', $1, $1)`, at)
	exec(`INSERT INTO bindings VALUES ('acc-1', 'cn', 'dom-1', 'hw_one', 'callback', $1)`, at)
	exec(`INSERT INTO bind_events VALUES ('h1', 'cn', '{"xAccountId":"acc-1"}', 'acc-1', 'dom-1', 'hw_one', '0', true, $1)`, at)
	exec(`INSERT INTO bind_events VALUES ('h2', 'cn', '{}', 'acc-1', '', '', 'CBC.1', false, $1)`, at.Add(-time.Second))
	conn.Close(ctx)

	d := open(t, dsn)
	b, err := d.GetBinding(ctx, "acc-1", "cn")
	if err != nil || b.Source != storage.SourceNotification || b.DomainID != "dom-1" {
		t.Fatalf("binding after migration = %+v, %v", b, err)
	}
	es, err := d.ListBindEvents(ctx, "acc-1", 0)
	if err != nil || len(es) != 2 {
		t.Fatalf("events after migration = %v, %v", es, err)
	}
	if es[0].DocumentHash != "h1" || es[0].Outcome != "bound" || es[0].Action != storage.BindActionBind ||
		string(es[0].Document) != `{"xAccountId":"acc-1"}` || len(es[0].ID) != 32 || es[1].Outcome != "failed" || es[0].ID == es[1].ID {
		t.Errorf("migrated events = %+v", es)
	}
	if got := migrationCount(t, d); got != len(ms) {
		t.Errorf("%d migrations recorded, want %d", got, len(ms))
	}
}

// TestRecentSSOUsesTheIndex: the bind window check can be answered from the
// partial index on the audit log (sequential scans are turned off so that
// the planner shows whether the index applies at all on a small table).
func TestRecentSSOUsesTheIndex(t *testing.T) {
	d := open(t, freshSchema(t))
	ctx := t.Context()
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback(ctx)
	if _, err := tx.Exec(ctx, `SET LOCAL enable_seqscan = off`); err != nil {
		t.Fatal(err)
	}
	rows, err := tx.Query(ctx, `EXPLAIN SELECT 1 FROM audit_log
		WHERE kind = 'response' AND x_account_id = $1 AND site = $2 AND time >= $3 LIMIT 1`, "acc-1", "cn", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	if p := strings.Join(plan, "\n"); !strings.Contains(p, "audit_log_response_idx") {
		t.Fatalf("query plan:\n%s\nwant the partial index audit_log_response_idx", p)
	}
}
