package storagetest

import (
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// Login throttling counters (storage.Storage.ReserveLoginAttempt and friends).

const loginKeep = 30 * time.Minute

func allowAll([]storage.LoginFailures) bool { return true }

// mustRecordFailure counts one attempt on key at, unconditionally, and
// returns the state after it.
func mustRecordFailure(t *testing.T, s storage.Storage, key string, at time.Time) storage.LoginFailures {
	t.Helper()
	if _, ok, err := s.ReserveLoginAttempt(t.Context(), []string{key}, at, loginKeep, allowAll); err != nil || !ok {
		t.Fatalf("ReserveLoginAttempt(%s) = %v, %v", key, ok, err)
	}
	return mustLoginFailures(t, s, key, at)
}

func mustLoginFailures(t *testing.T, s storage.Storage, key string, at time.Time) storage.LoginFailures {
	t.Helper()
	f, err := s.GetLoginFailures(t.Context(), key, at)
	if err != nil {
		t.Fatalf("GetLoginFailures(%s): %v", key, err)
	}
	return f
}

func testLoginFailuresCount(t *testing.T, s storage.Storage) {
	t0 := now()
	if f := mustLoginFailures(t, s, "acct:a", t0); f != (storage.LoginFailures{}) {
		t.Fatalf("unknown key = %+v, want zero", f)
	}
	for i := 1; i <= 3; i++ {
		at := t0.Add(time.Duration(i) * time.Second)
		f := mustRecordFailure(t, s, "acct:a", at)
		if f.Count != i || !sameTime(f.Last, at) {
			t.Fatalf("failure %d: got %+v, want count %d last %v", i, f, i, at)
		}
	}
	got := mustLoginFailures(t, s, "acct:a", t0.Add(4*time.Second))
	if got.Count != 3 || !sameTime(got.Last, t0.Add(3*time.Second)) {
		t.Errorf("GetLoginFailures = %+v, want 3 at +3s", got)
	}
	// Keys are independent.
	if f := mustRecordFailure(t, s, "addr:192.0.2.1", t0); f.Count != 1 {
		t.Errorf("another key starts at %d, want 1", f.Count)
	}
	if f := mustLoginFailures(t, s, "acct:b", t0); f.Count != 0 {
		t.Errorf("untouched key = %+v", f)
	}
}

// A counter not fed for loginKeep restarts at 1, and reads as zero meanwhile.
func testLoginFailuresExpire(t *testing.T, s storage.Storage) {
	t0 := now()
	mustRecordFailure(t, s, "acct:a", t0)
	mustRecordFailure(t, s, "acct:a", t0.Add(time.Minute))
	later := t0.Add(time.Minute + loginKeep)
	if f := mustLoginFailures(t, s, "acct:a", later); f.Count != 0 {
		t.Errorf("expired counter reads %+v, want zero", f)
	}
	if f := mustRecordFailure(t, s, "acct:a", later); f.Count != 1 {
		t.Errorf("failure after expiry counts %d, want 1", f.Count)
	}
	// Just inside loginKeep, the count goes on.
	if f := mustRecordFailure(t, s, "acct:a", later.Add(loginKeep-time.Second)); f.Count != 2 {
		t.Errorf("failure within loginKeep counts %d, want 2", f.Count)
	}
}

func testLoginFailuresReset(t *testing.T, s storage.Storage) {
	t0 := now()
	mustRecordFailure(t, s, "acct:a", t0)
	mustRecordFailure(t, s, "acct:b", t0)
	if err := s.ResetLoginFailures(t.Context(), "acct:a"); err != nil {
		t.Fatalf("ResetLoginFailures: %v", err)
	}
	if err := s.ResetLoginFailures(t.Context(), "acct:none"); err != nil {
		t.Fatalf("ResetLoginFailures(absent): %v", err)
	}
	if f := mustLoginFailures(t, s, "acct:a", t0); f.Count != 0 {
		t.Errorf("after reset: %+v", f)
	}
	if f := mustLoginFailures(t, s, "acct:b", t0); f.Count != 1 {
		t.Errorf("reset touched another key: %+v", f)
	}
	if f := mustRecordFailure(t, s, "acct:a", t0); f.Count != 1 {
		t.Errorf("first failure after reset counts %d", f.Count)
	}
}

// Attempts reserved at once (several replicas) are all counted.
func testLoginFailuresConcurrent(t *testing.T, s storage.Storage) {
	const n = 16
	t0 := now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, _, err := s.ReserveLoginAttempt(t.Context(), []string{"addr:198.51.100.7"}, t0, loginKeep, allowAll); err != nil {
				t.Errorf("ReserveLoginAttempt: %v", err)
			}
		})
	}
	wg.Wait()
	if f := mustLoginFailures(t, s, "addr:198.51.100.7", t0); f.Count != n {
		t.Errorf("count = %d after %d concurrent attempts", f.Count, n)
	}
}

// The check and the count are one atomic step: a parallel burst against a
// limit of 3 gets exactly 3 attempts, however the reservations interleave.
func testLoginReserveBurst(t *testing.T, s storage.Storage) {
	const n, limit = 16, 3
	t0 := now()
	keys := []string{"acct:burst", "addr:198.51.100.8"}
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		reserved int
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, ok, err := s.ReserveLoginAttempt(t.Context(), keys, t0, loginKeep, func(st []storage.LoginFailures) bool {
				return st[0].Count < limit
			})
			if err != nil {
				t.Errorf("ReserveLoginAttempt: %v", err)
				return
			}
			if ok {
				mu.Lock()
				reserved++
				mu.Unlock()
			}
		})
	}
	close(start)
	wg.Wait()
	if reserved != limit {
		t.Errorf("%d of %d parallel attempts reserved, want exactly %d", reserved, n, limit)
	}
	for _, k := range keys {
		if f := mustLoginFailures(t, s, k, t0); f.Count != limit {
			t.Errorf("%s counts %d, want %d", k, f.Count, limit)
		}
	}
}

// A refused reservation changes nothing, and allow sees every key's state
// in the order given.
func testLoginReserveRefused(t *testing.T, s storage.Storage) {
	t0 := now()
	mustRecordFailure(t, s, "acct:a", t0)
	mustRecordFailure(t, s, "acct:a", t0.Add(time.Second))
	var seen []storage.LoginFailures
	states, ok, err := s.ReserveLoginAttempt(t.Context(), []string{"addr:x", "acct:a"}, t0.Add(2*time.Second), loginKeep,
		func(st []storage.LoginFailures) bool { seen = st; return false })
	if err != nil || ok {
		t.Fatalf("ReserveLoginAttempt = %v, %v; want refused", ok, err)
	}
	if len(seen) != 2 || seen[0].Count != 0 || seen[1].Count != 2 || !sameTime(seen[1].Last, t0.Add(time.Second)) {
		t.Errorf("allow saw %+v, want [zero, 2 at +1s]", seen)
	}
	if len(states) != 2 || states[1] != seen[1] {
		t.Errorf("returned states %+v, want what allow saw", states)
	}
	if f := mustLoginFailures(t, s, "acct:a", t0.Add(2*time.Second)); f.Count != 2 {
		t.Errorf("a refused reservation changed the count to %d", f.Count)
	}
	if f := mustLoginFailures(t, s, "addr:x", t0.Add(2*time.Second)); f.Count != 0 {
		t.Errorf("a refused reservation created a counter: %+v", f)
	}
}

// RefundLoginAttempt takes back one attempt, never below zero.
func testLoginRefund(t *testing.T, s storage.Storage) {
	t0 := now()
	mustRecordFailure(t, s, "addr:r", t0)
	mustRecordFailure(t, s, "addr:r", t0)
	for i, want := range []int{1, 0, 0} {
		if err := s.RefundLoginAttempt(t.Context(), "addr:r", t0); err != nil {
			t.Fatalf("RefundLoginAttempt: %v", err)
		}
		if f := mustLoginFailures(t, s, "addr:r", t0); f.Count != want {
			t.Errorf("after refund %d: count %d, want %d", i+1, f.Count, want)
		}
	}
	if err := s.RefundLoginAttempt(t.Context(), "addr:none", t0); err != nil {
		t.Errorf("RefundLoginAttempt(absent): %v", err)
	}
}

// Secret: the first value stored under a name wins, for every caller.
func testSecret(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	first, err := s.Secret(ctx, "cookie", []byte("first value"))
	if err != nil || string(first) != "first value" {
		t.Fatalf("Secret(new) = %q, %v", first, err)
	}
	again, err := s.Secret(ctx, "cookie", []byte("second value"))
	if err != nil || string(again) != "first value" {
		t.Errorf("Secret(existing) = %q, %v; want the first value", again, err)
	}
	other, err := s.Secret(ctx, "other", []byte{0, 1, 2, 255})
	if err != nil || string(other) != string([]byte{0, 1, 2, 255}) {
		t.Errorf("Secret(other) = %v, %v", other, err)
	}
	// Concurrent first callers all get one value.
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		vals = map[string]bool{}
	)
	for i := range 8 {
		wg.Go(func() {
			v, err := s.Secret(ctx, "race", []byte{byte(i)})
			if err != nil {
				t.Errorf("Secret(race): %v", err)
				return
			}
			mu.Lock()
			vals[string(v)] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	if len(vals) != 1 {
		t.Errorf("concurrent Secret calls got %d different values", len(vals))
	}
}

func testLoginFailuresGarbageCollect(t *testing.T, s storage.Storage) {
	t0 := now()
	mustRecordFailure(t, s, "acct:old", t0.Add(-loginKeep-time.Minute))
	mustRecordFailure(t, s, "acct:live", t0)
	got, err := s.GarbageCollect(t.Context(), t0)
	if err != nil {
		t.Fatalf("GarbageCollect: %v", err)
	}
	if got.LoginFailures != 1 {
		t.Errorf("GarbageCollect removed %d login counters, want 1", got.LoginFailures)
	}
	if f := mustLoginFailures(t, s, "acct:live", t0); f.Count != 1 {
		t.Errorf("GarbageCollect removed a live counter: %+v", f)
	}
}
