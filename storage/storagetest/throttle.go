package storagetest

import (
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// Login throttling counters (storage.Storage.RecordLoginFailure and friends).

const loginKeep = 30 * time.Minute

func mustRecordFailure(t *testing.T, s storage.Storage, key string, at time.Time) storage.LoginFailures {
	t.Helper()
	f, err := s.RecordLoginFailure(t.Context(), key, at, loginKeep)
	if err != nil {
		t.Fatalf("RecordLoginFailure(%s): %v", key, err)
	}
	return f
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

// Failures recorded at once (several replicas) are all counted.
func testLoginFailuresConcurrent(t *testing.T, s storage.Storage) {
	const n = 16
	t0 := now()
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			if _, err := s.RecordLoginFailure(t.Context(), "addr:198.51.100.7", t0, loginKeep); err != nil {
				t.Errorf("RecordLoginFailure: %v", err)
			}
		})
	}
	wg.Wait()
	if f := mustLoginFailures(t, s, "addr:198.51.100.7", t0); f.Count != n {
		t.Errorf("count = %d after %d concurrent failures", f.Count, n)
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
