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
