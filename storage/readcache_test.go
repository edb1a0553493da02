package storage_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// fakeStore counts reads of sessions and customers.
type fakeStore struct {
	storage.Storage
	mu        sync.Mutex
	sessions  map[string][]byte
	customers map[string]storage.Customer
	reads     int
}

func (f *fakeStore) FindCtx(_ context.Context, token string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	b, ok := f.sessions[token]
	return b, ok, nil
}

func (f *fakeStore) CommitCtx(_ context.Context, token string, b []byte, _ time.Time) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sessions[token] = b
	return nil
}

func (f *fakeStore) DeleteCtx(_ context.Context, token string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.sessions, token)
	return nil
}

func (f *fakeStore) GetCustomer(_ context.Context, id string) (storage.Customer, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.reads++
	c, ok := f.customers[id]
	if !ok {
		return c, storage.ErrNotFound
	}
	return c, nil
}

func (f *fakeStore) UpdateCustomer(_ context.Context, id string, fn func(storage.Customer) (storage.Customer, error)) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, err := fn(f.customers[id])
	if err == nil {
		f.customers[id] = c
	}
	return err
}

// TestReadCache: repeated reads within the TTL read the store once; a
// write through the cache is seen at once; a write behind its back (another
// replica) is seen once the TTL has passed; what the store does not hold is
// never kept, so unknown tokens cannot fill the cache; the size is bounded.
func TestReadCache(t *testing.T) {
	ctx := t.Context()
	f := &fakeStore{sessions: map[string][]byte{"tok": []byte("v1")}, customers: map[string]storage.Customer{"c1": {XAccountID: "c1"}}}
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now }
	r := storage.NewReadCache(f, 2, time.Second, clock)

	read := func(want string) {
		t.Helper()
		b, found, err := r.FindCtx(ctx, "tok")
		if err != nil || string(b) != want || (want == "") == found {
			t.Fatalf("FindCtx = %q %v %v, want %q", b, found, err, want)
		}
	}
	read("v1")
	read("v1")
	if f.reads != 1 {
		t.Fatalf("two reads within the TTL read the store %d times", f.reads)
	}
	// Written through the cache: seen at once.
	if err := r.CommitCtx(ctx, "tok", []byte("v2"), now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	read("v2")
	// Written behind its back (another replica): seen after the TTL.
	f.sessions["tok"] = []byte("v3")
	read("v2")
	now = now.Add(time.Second)
	read("v3")
	// Deleted through the cache: gone at once.
	if err := r.DeleteCtx(ctx, "tok"); err != nil {
		t.Fatal(err)
	}
	read("")

	// Unknown tokens are not kept.
	before := f.reads
	for range 3 {
		if _, found, _ := r.FindCtx(ctx, "unknown"); found {
			t.Fatal("an unknown token was found")
		}
	}
	if f.reads != before+3 {
		t.Errorf("reads of an unknown token were served from the cache")
	}

	// Customers: cached, and a disable through the cache is seen at once.
	get := func() storage.Customer {
		t.Helper()
		c, err := r.GetCustomer(ctx, "c1")
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	get()
	before = f.reads
	get()
	if f.reads != before {
		t.Error("a customer read within the TTL went to the store")
	}
	if err := r.UpdateCustomer(ctx, "c1", func(c storage.Customer) (storage.Customer, error) { c.Disabled = true; return c, nil }); err != nil {
		t.Fatal(err)
	}
	if !get().Disabled {
		t.Error("a customer disabled through the cache is served enabled")
	}
	f.customers["c1"] = storage.Customer{XAccountID: "c1"} // re-enabled by another replica
	if !get().Disabled {
		t.Error("the cache was not used within the TTL")
	}
	now = now.Add(time.Second)
	if get().Disabled {
		t.Error("a change by another replica is not seen after the TTL")
	}
	if _, err := r.GetCustomer(ctx, "nobody"); err != storage.ErrNotFound {
		t.Errorf("unknown customer: %v", err)
	}
}

// A read that raced a write through the cache does not keep what the write
// replaced.
func TestReadCacheReadRacingAWrite(t *testing.T) {
	ctx := t.Context()
	f := &fakeStore{sessions: map[string][]byte{"tok": []byte("old")}}
	// The store returns "old", and a sign-out through the cache lands while
	// it does: the next read must not find "old" in the cache.
	sf := &slowFind{fakeStore: f}
	rc := storage.NewReadCache(sf, 4, time.Hour, nil)
	sf.during = func() { rc.DeleteCtx(ctx, "tok") }
	if _, found, _ := rc.FindCtx(ctx, "tok"); !found {
		t.Fatal("the first read did not find the session")
	}
	sf.during = nil
	if _, found, _ := rc.FindCtx(ctx, "tok"); found {
		t.Fatal("a session signed out during a read is served from the cache")
	}
}

// slowFind runs during while a FindCtx is between reading and returning.
type slowFind struct {
	*fakeStore
	during func()
}

func (s *slowFind) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	b, found, err := s.fakeStore.FindCtx(ctx, token)
	if s.during != nil {
		s.during()
	}
	return b, found, err
}
