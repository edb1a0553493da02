package customer_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"hcidp/customer"
	"hcidp/storage"
	sqlstore "hcidp/storage/sql"
)

func openStore(t *testing.T) storage.Storage {
	t.Helper()
	st, err := sqlstore.OpenSQLite(t.Context(), ":memory:", sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

func ptr[T any](v T) *T { return &v }

func TestUpsert(t *testing.T) {
	st, ctx, now := openStore(t), t.Context(), time.Now()
	c, created, err := customer.Upsert(ctx, st, "acc-1", customer.Profile{Email: "a@example.com", Password: ptr("password 123")}, now)
	if err != nil || !created || c.PasswordHash == "" || c.Disabled {
		t.Fatalf("create: %+v %v %v", c, created, err)
	}
	// Attributes replaced; password kept when absent; state set when given.
	c, created, err = customer.Upsert(ctx, st, "acc-1", customer.Profile{DisplayName: "A", Disabled: ptr(true)}, now.Add(time.Second))
	if err != nil || created || c.Email != "" || c.DisplayName != "A" || !c.Disabled || !customer.VerifyPassword(c.PasswordHash, "password 123") {
		t.Fatalf("update: %+v %v %v", c, created, err)
	}
	if got, _ := st.GetCustomer(ctx, "acc-1"); got.PasswordHash != c.PasswordHash || !got.Disabled {
		t.Fatalf("stored: %+v", got)
	}

	_, _, err = customer.Upsert(ctx, st, "acc-2", customer.Profile{Email: "b@example.com"}, now)
	if err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]customer.Profile{
		"bad email":      {Email: "nope"},
		"short password": {Password: ptr("short")},
	} {
		_, _, err := customer.Upsert(ctx, st, "acc-2", p, now)
		var invalid *customer.InvalidError
		if !errors.As(err, &invalid) {
			t.Errorf("%s: error %v, want *InvalidError", name, err)
		}
	}
	if _, _, err := customer.Upsert(ctx, st, "", customer.Profile{}, now); err == nil {
		t.Error("empty ID accepted")
	}
	// E-mail of another customer, on update and on create.
	for _, id := range []string{"acc-1", "acc-3"} {
		if _, _, err := customer.Upsert(ctx, st, id, customer.Profile{Email: "b@example.com"}, now); !errors.Is(err, storage.ErrAlreadyExists) {
			t.Errorf("%s with a taken e-mail: %v, want ErrAlreadyExists", id, err)
		}
	}
	if _, err := st.GetCustomer(ctx, "acc-3"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("a refused upsert created acc-3: %v", err)
	}
}

// Concurrent upserts of a new ID: one creates, the others update.
func TestUpsertConcurrentCreate(t *testing.T) {
	st, ctx := openStore(t), t.Context()
	const n = 8
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		creates int
	)
	for range n {
		wg.Go(func() {
			_, created, err := customer.Upsert(ctx, st, "acc-1", customer.Profile{Email: "a@example.com"}, time.Now())
			if err != nil {
				t.Errorf("Upsert: %v", err)
			}
			mu.Lock()
			defer mu.Unlock()
			if created {
				creates++
			}
		})
	}
	wg.Wait()
	if creates != 1 {
		t.Errorf("%d upserts created the customer, want 1", creates)
	}
}

// Passwords are hashed with argon2id at OWASP's parameters (m=19 MiB, t=2,
// p=1), a fresh 16-byte salt each time (docs/threat-model.md "Browser-facing
// pages": a memory-hard KDF).
func TestPasswordHashIsArgon2id(t *testing.T) {
	a, err := customer.HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := customer.HashPassword("correct horse battery")
	parts := strings.Split(a, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" {
		t.Fatalf("hash %q is not argon2id v=19 m=19456,t=2,p=1", a)
	}
	if salt, err := base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(salt) != 16 {
		t.Errorf("salt %q: %v", parts[4], err)
	}
	if a == b {
		t.Error("two hashes of one password are equal: the salt is not fresh")
	}
	if !customer.VerifyPassword(a, "correct horse battery") || customer.VerifyPassword(a, "correct horse batterz") {
		t.Error("VerifyPassword does not tell the right password from a wrong one")
	}
}
