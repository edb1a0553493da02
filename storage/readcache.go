package storage

import (
	"bytes"
	"context"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
)

// ReadCache keeps what every signed-in request reads, the session and the
// customer, for at most TTL, so that a customer's requests close together
// (the console link, then Huawei's AuthnRequest a moment later; a burst of
// SSOs) read the database once (docs/architecture.md "Performance").
//
// What it may cost: a session ended or a customer disabled on another
// replica (or by the CLI) is seen here at most TTL later; on this replica at
// once, since its writes go through the cache. A session that reaches the
// end of its lifetime likewise lasts at most TTL more (the idle timeout is
// checked on every request, from the session's data). What it never does: keep
// what a bad input names. Only sessions and customers the database holds
// are kept, at most Size of each, the least recently used dropped first.
type ReadCache struct {
	Storage
	ttl       time.Duration
	now       func() time.Time
	sessions  *lru.Cache[string, cachedSession]
	customers *lru.Cache[string, cachedCustomer]

	// writes counts invalidations; a read that raced one is not kept (it
	// may hold what the write replaced).
	mu     sync.Mutex
	writes uint64
}

// ReadCacheTTL is how long ReadCache keeps an entry: the bound, on every
// replica, on how late a sign-out or a disabled customer takes effect.
const ReadCacheTTL = time.Second

type cachedSession struct {
	data    []byte
	fetched time.Time
}

type cachedCustomer struct {
	c       Customer
	fetched time.Time
}

// NewReadCache wraps st with a cache of size sessions and size customers,
// each kept at most ttl by the clock now (nil: time.Now).
func NewReadCache(st Storage, size int, ttl time.Duration, now func() time.Time) *ReadCache {
	if now == nil {
		now = time.Now
	}
	s, _ := lru.New[string, cachedSession](size)
	c, _ := lru.New[string, cachedCustomer](size)
	return &ReadCache{Storage: st, ttl: ttl, now: now, sessions: s, customers: c}
}

func (r *ReadCache) fresh(fetched, now time.Time) bool {
	return now.Sub(fetched) < r.ttl && !now.Before(fetched)
}

// generation returns the current count of invalidations.
func (r *ReadCache) generation() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.writes
}

// keep runs add unless an invalidation happened since gen.
func (r *ReadCache) keep(gen uint64, add func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.writes == gen {
		add()
	}
}

func (r *ReadCache) invalidate(drop func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.writes++
	drop()
}

// FindCtx implements scs.CtxStore.
func (r *ReadCache) FindCtx(ctx context.Context, token string) ([]byte, bool, error) {
	now := r.now()
	if e, ok := r.sessions.Get(token); ok && r.fresh(e.fetched, now) {
		return bytes.Clone(e.data), true, nil
	}
	gen := r.generation()
	data, found, err := r.Storage.FindCtx(ctx, token)
	if err == nil && found {
		r.keep(gen, func() { r.sessions.Add(token, cachedSession{data: bytes.Clone(data), fetched: now}) })
	}
	return data, found, err
}

// CommitCtx implements scs.CtxStore.
func (r *ReadCache) CommitCtx(ctx context.Context, token string, b []byte, expiry time.Time) error {
	defer r.invalidate(func() { r.sessions.Remove(token) })
	return r.Storage.CommitCtx(ctx, token, b, expiry)
}

// DeleteCtx implements scs.CtxStore.
func (r *ReadCache) DeleteCtx(ctx context.Context, token string) error {
	defer r.invalidate(func() { r.sessions.Remove(token) })
	return r.Storage.DeleteCtx(ctx, token)
}

// GetCustomer implements Storage.
func (r *ReadCache) GetCustomer(ctx context.Context, xAccountID string) (Customer, error) {
	now := r.now()
	if e, ok := r.customers.Get(xAccountID); ok && r.fresh(e.fetched, now) {
		return e.c, nil
	}
	gen := r.generation()
	c, err := r.Storage.GetCustomer(ctx, xAccountID)
	if err == nil {
		r.keep(gen, func() { r.customers.Add(xAccountID, cachedCustomer{c: c, fetched: now}) })
	}
	return c, err
}

// CreateCustomer implements Storage.
func (r *ReadCache) CreateCustomer(ctx context.Context, c Customer) error {
	defer r.invalidate(func() { r.customers.Remove(c.XAccountID) })
	return r.Storage.CreateCustomer(ctx, c)
}

// UpdateCustomer implements Storage.
func (r *ReadCache) UpdateCustomer(ctx context.Context, xAccountID string, fn func(Customer) (Customer, error)) error {
	defer r.invalidate(func() { r.customers.Remove(xAccountID) })
	return r.Storage.UpdateCustomer(ctx, xAccountID, fn)
}

// Find, Commit and Delete are scs.Store's forms without a context: through
// the cache too.
func (r *ReadCache) Find(token string) ([]byte, bool, error) {
	return r.FindCtx(context.Background(), token)
}

func (r *ReadCache) Commit(token string, b []byte, expiry time.Time) error {
	return r.CommitCtx(context.Background(), token, b, expiry)
}

func (r *ReadCache) Delete(token string) error { return r.DeleteCtx(context.Background(), token) }
