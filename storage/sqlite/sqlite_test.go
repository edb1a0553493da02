package sqlite

import (
	"database/sql"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
	"hcidp/storage/internal/migrate"
	"hcidp/storage/storagetest"
)

func openTemp(t *testing.T, path string) *DB {
	t.Helper()
	d, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return d
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return openTemp(t, filepath.Join(t.TempDir(), "hcidp.db"))
	})
}

func TestConformanceMemory(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Storage {
		return openTemp(t, ":memory:")
	})
}

func migrationVersions(t *testing.T, d *DB) []int {
	t.Helper()
	rows, err := d.read.QueryContext(t.Context(), `SELECT version FROM schema_migrations ORDER BY version`)
	if err != nil {
		t.Fatalf("read schema_migrations: %v", err)
	}
	defer rows.Close()
	var vs []int
	for rows.Next() {
		var v int
		if err := rows.Scan(&v); err != nil {
			t.Fatal(err)
		}
		vs = append(vs, v)
	}
	return vs
}

func TestMigrationsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hcidp.db")
	d, err := Open(t.Context(), path)
	if err != nil {
		t.Fatalf("Open: %v", err)
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
		d = openTemp(t, path)
		if got := migrationVersions(t, d); len(got) != len(want) {
			t.Fatalf("migrations after reopen = %v, want %v", got, want)
		}
		if _, err := d.GetCustomer(t.Context(), "acc-1"); err != nil {
			t.Fatalf("GetCustomer after reopen: %v", err)
		}
	}
}

func TestConcurrentOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hcidp.db")
	const n = 5
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() { openTemp(t, path) })
	}
	wg.Wait()
}

func TestTwoHandlesOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hcidp.db")
	a, b := openTemp(t, path), openTemp(t, path)
	ctx := t.Context()
	c := storage.Customer{XAccountID: "acc-1", Email: "a@example.com", CreatedAt: time.Now(), UpdatedAt: time.Now()}
	if err := a.CreateCustomer(ctx, c); err != nil {
		t.Fatalf("a.CreateCustomer: %v", err)
	}
	if _, err := b.GetCustomer(ctx, "acc-1"); err != nil {
		t.Fatalf("b.GetCustomer: %v", err)
	}
	c.XAccountID = "acc-2"
	if err := b.CreateCustomer(ctx, c); !errors.Is(err, storage.ErrAlreadyExists) {
		t.Fatalf("b.CreateCustomer(same email) = %v, want ErrAlreadyExists", err)
	}
	if err := b.CommitCtx(ctx, "tok", []byte("x"), time.Now().Add(time.Hour)); err != nil {
		t.Fatalf("b.CommitCtx: %v", err)
	}
	if _, found, err := a.FindCtx(ctx, "tok"); err != nil || !found {
		t.Fatalf("a.FindCtx = %v, %v; want found", found, err)
	}

	// Both handles write at once: the busy timeout serialises them.
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
}

func TestOpenErrors(t *testing.T) {
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
			d, err := Open(t.Context(), tt.path)
			if err == nil {
				d.Close()
				t.Fatalf("Open(%q) succeeded, want error", tt.path)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open(%q) error = %v, want it to mention %q", tt.path, err, tt.want)
			}
		})
	}
}

// TestMigrationFromGuessedBindSchema upgrades a database written before
// Huawei's documented bind notification: events keyed by document hash with
// a guessed result code, bindings of source "callback".
func TestMigrationFromGuessedBindSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hcidp.db")
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	ms, err := migrate.Load(migrationFS, "migrations")
	if err != nil {
		t.Fatal(err)
	}
	exec := func(q string, args ...any) {
		t.Helper()
		if _, err := raw.Exec(q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	exec(`CREATE TABLE schema_migrations (version INTEGER NOT NULL PRIMARY KEY, applied_at INTEGER NOT NULL) STRICT`)
	for _, m := range ms {
		if m.Version >= 4 {
			break
		}
		exec(m.SQL)
		exec(`INSERT INTO schema_migrations VALUES (?, 0)`, m.Version)
	}
	at := time.Now().UnixMicro()
	exec(`INSERT INTO customers (x_account_id, created_at, updated_at) VALUES ('acc-1', ?, ?)`, at, at)
	exec(`INSERT INTO bindings VALUES ('acc-1', 'cn', 'dom-1', 'hw_one', 'callback', ?)`, at)
	exec(`INSERT INTO bind_events VALUES ('h1', 'cn', CAST('{"xAccountId":"acc-1"}' AS BLOB), 'acc-1', 'dom-1', 'hw_one', '0', 1, ?)`, at)
	exec(`INSERT INTO bind_events VALUES ('h2', 'cn', CAST('{}' AS BLOB), 'acc-1', '', '', 'CBC.1', 0, ?)`, at-1)
	raw.Close()

	d := openTemp(t, path)
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
	if got := migrationVersions(t, d); got[len(got)-1] != ms[len(ms)-1].Version {
		t.Errorf("migrations = %v", got)
	}
}

// TestRecentSSOUsesTheIndex: the bind window check is one probe of the
// partial index on the audit log, not a scan of it.
func TestRecentSSOUsesTheIndex(t *testing.T) {
	d := openTemp(t, filepath.Join(t.TempDir(), "hcidp.db"))
	rows, err := d.read.QueryContext(t.Context(), `EXPLAIN QUERY PLAN SELECT 1 FROM audit_log
		WHERE kind = 'response' AND x_account_id = ? AND site = ? AND time >= ? LIMIT 1`, "acc-1", "cn", 0)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	if p := strings.Join(plan, "; "); !strings.Contains(p, "USING COVERING INDEX audit_log_response_idx") {
		t.Fatalf("query plan = %q, want the partial index audit_log_response_idx", p)
	}
}
