package storagetest

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// Launch tokens.

func launchToken(name, id string, expires time.Time) storage.LaunchToken {
	h := sha256.Sum256([]byte(name))
	return storage.LaunchToken{
		Hash: hex.EncodeToString(h[:]), XAccountID: id, Site: "cn",
		Service: "https://console.huaweicloud.com/ecs/", Expires: expires, Created: now(),
	}
}

func mustCreateLaunchToken(t *testing.T, s storage.Storage, lt storage.LaunchToken) {
	t.Helper()
	if err := s.CreateLaunchToken(t.Context(), lt); err != nil {
		t.Fatalf("CreateLaunchToken: %v", err)
	}
}

func testLaunchTokenConsume(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustCreate(t, s, customer("acc-1", ""))
	want := launchToken("tok", "acc-1", now().Add(time.Minute))
	mustCreateLaunchToken(t, s, want)
	wantErr(t, "CreateLaunchToken(same hash)", s.CreateLaunchToken(ctx, want), storage.ErrAlreadyExists)

	got, err := s.ConsumeLaunchToken(ctx, want.Hash, time.Now())
	if err != nil {
		t.Fatalf("ConsumeLaunchToken: %v", err)
	}
	if !sameTime(got.Expires, want.Expires) || !sameTime(got.Created, want.Created) {
		t.Errorf("times = %v, %v; want %v, %v", got.Expires, got.Created, want.Expires, want.Created)
	}
	if got.Expires.Location() != time.UTC {
		t.Errorf("Expires location = %v, want UTC", got.Expires.Location())
	}
	got.Expires, got.Created, want.Expires, want.Created = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	if got != want {
		t.Errorf("token = %+v\nwant    %+v", got, want)
	}
	_, err = s.ConsumeLaunchToken(ctx, want.Hash, time.Now())
	wantErr(t, "ConsumeLaunchToken(second use)", err, storage.ErrNotFound)
}

func testLaunchTokenUnknown(t *testing.T, s storage.Storage) {
	_, err := s.ConsumeLaunchToken(t.Context(), launchToken("nobody", "", time.Time{}).Hash, time.Now())
	wantErr(t, "ConsumeLaunchToken(unknown)", err, storage.ErrNotFound)
	_, err = s.ConsumeLaunchToken(t.Context(), "", time.Now())
	wantErr(t, "ConsumeLaunchToken(empty)", err, storage.ErrNotFound)
}

func testLaunchTokenUnknownCustomer(t *testing.T, s storage.Storage) {
	err := s.CreateLaunchToken(t.Context(), launchToken("tok", "nobody", time.Now().Add(time.Minute)))
	wantErr(t, "CreateLaunchToken(unknown customer)", err, storage.ErrNotFound)
}

func testLaunchTokenExpired(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustCreate(t, s, customer("acc-1", ""))
	exp := time.Now().Add(time.Minute)
	lt := launchToken("tok", "acc-1", exp)
	mustCreateLaunchToken(t, s, lt)
	// "now" is the caller's: at or after the expiry the token is refused ...
	for _, at := range []time.Time{exp, exp.Add(time.Second)} {
		_, err := s.ConsumeLaunchToken(ctx, lt.Hash, at)
		wantErr(t, "ConsumeLaunchToken(expired)", err, storage.ErrNotFound)
	}
	// ... and refusing it did not spend it.
	if _, err := s.ConsumeLaunchToken(ctx, lt.Hash, exp.Add(-time.Second)); err != nil {
		t.Fatalf("ConsumeLaunchToken(before expiry): %v", err)
	}
}

// testLaunchTokenConcurrent: of 20 concurrent consumers exactly one wins.
func testLaunchTokenConcurrent(t *testing.T, s storage.Storage) {
	mustCreate(t, s, customer("acc-1", ""))
	lt := launchToken("tok", "acc-1", time.Now().Add(time.Minute))
	mustCreateLaunchToken(t, s, lt)
	const n = 20
	var (
		wg       sync.WaitGroup
		mu       sync.Mutex
		ok, gone int
	)
	start := make(chan struct{})
	for range n {
		wg.Go(func() {
			<-start
			_, err := s.ConsumeLaunchToken(t.Context(), lt.Hash, time.Now())
			mu.Lock()
			defer mu.Unlock()
			switch {
			case err == nil:
				ok++
			case errors.Is(err, storage.ErrNotFound):
				gone++
			default:
				t.Errorf("ConsumeLaunchToken: %v", err)
			}
		})
	}
	close(start)
	wg.Wait()
	if ok != 1 || gone != n-1 {
		t.Errorf("concurrent ConsumeLaunchToken: %d succeeded, %d ErrNotFound; want 1, %d", ok, gone, n-1)
	}
}

func testLaunchTokenGarbageCollect(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustCreate(t, s, customer("acc-1", ""))
	t0 := time.Now()
	past, future := t0.Add(-time.Second), t0.Add(time.Minute)
	for name, exp := range map[string]time.Time{"old1": past, "old2": past, "live": future} {
		mustCreateLaunchToken(t, s, launchToken(name, "acc-1", exp))
	}
	got, err := s.GarbageCollect(ctx, t0)
	if err != nil {
		t.Fatalf("GarbageCollect: %v", err)
	}
	if got.LaunchTokens != 2 {
		t.Errorf("GarbageCollect removed %d launch tokens, want 2", got.LaunchTokens)
	}
	// The expired rows are gone (their hashes can be used again); the live one stays.
	mustCreateLaunchToken(t, s, launchToken("old1", "acc-1", future))
	if _, err := s.ConsumeLaunchToken(ctx, launchToken("live", "", time.Time{}).Hash, t0); err != nil {
		t.Errorf("GarbageCollect removed a live launch token: %v", err)
	}
	got, err = s.GarbageCollect(ctx, future)
	if err != nil || got.LaunchTokens != 1 {
		t.Errorf("GarbageCollect(future) = %+v, %v; want 1 launch token", got, err)
	}
}

// GetLaunchToken reads without spending: the token can still be consumed.
func testLaunchTokenGet(t *testing.T, s storage.Storage) {
	ctx := t.Context()
	mustCreate(t, s, customer("acc-1", ""))
	exp := time.Now().Add(time.Minute)
	lt := launchToken("tok", "acc-1", exp)
	lt.Service = "https://console.huaweicloud.com/ecs/"
	mustCreateLaunchToken(t, s, lt)
	for range 2 {
		got, err := s.GetLaunchToken(ctx, lt.Hash, time.Now())
		if err != nil || got.XAccountID != "acc-1" || got.Site != lt.Site || got.Service != lt.Service || !got.Expires.Equal(lt.Expires.Truncate(time.Microsecond)) {
			t.Fatalf("GetLaunchToken = %+v, %v", got, err)
		}
	}
	_, err := s.GetLaunchToken(ctx, lt.Hash, exp)
	wantErr(t, "GetLaunchToken(expired)", err, storage.ErrNotFound)
	_, err = s.GetLaunchToken(ctx, "unknown", time.Now())
	wantErr(t, "GetLaunchToken(unknown)", err, storage.ErrNotFound)
	if _, err := s.ConsumeLaunchToken(ctx, lt.Hash, time.Now()); err != nil {
		t.Fatalf("ConsumeLaunchToken after GetLaunchToken: %v", err)
	}
	_, err = s.GetLaunchToken(ctx, lt.Hash, time.Now())
	wantErr(t, "GetLaunchToken(consumed)", err, storage.ErrNotFound)
}
