package sqlite

import (
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
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
