package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"hcidp/storage"
)

// TestGroupCommitReplayCannotFailOthers: group commit promises that "a
// replayed request ID fails alone ... while the others commit". Two
// replicas on one PostgreSQL database whose batches carry the same
// replayed request IDs in opposite orders (an attacker sending copies of
// a few of their own signed AuthnRequests to both replicas at once)
// deadlock; PostgreSQL aborts one transaction, and with it the innocent
// requests batched with the replays.
func TestGroupCommitReplayCannotFailOthers(t *testing.T) {
	dl := dialects[1]
	target := dl.fresh(t)
	a, b := openTest(t, dl, target, Options{}), openTest(t, dl, target, Options{})
	now := time.Now().UTC()
	exp := now.Add(time.Hour)
	rec := func(issuer, id string) *record {
		return &record{req: &storage.RequestID{Issuer: issuer, ID: id, Expires: exp},
			audit: storage.AuditEvent{Time: now, Kind: "response", RequestID: id, Outcome: "issued"}}
	}
	const replays = 40
	for round := range 20 {
		var batchA, batchB []*record
		batchA = append(batchA, rec("https://sp", fmt.Sprintf("_innocent_a_%d", round)))
		batchB = append(batchB, rec("https://sp", fmt.Sprintf("_innocent_b_%d", round)))
		for i := range replays {
			batchA = append(batchA, rec("https://sp", fmt.Sprintf("_x_%d_%d", round, i)))
			batchB = append(batchB, rec("https://sp", fmt.Sprintf("_x_%d_%d", round, replays-1-i)))
		}
		var errsA, errsB []error
		var wg sync.WaitGroup
		wg.Go(func() { errsA = a.commitRecords(t.Context(), batchA) })
		wg.Go(func() { errsB = b.commitRecords(t.Context(), batchB) })
		wg.Wait()
		if errsA[0] != nil {
			t.Fatalf("round %d: an innocent request failed because of replays batched with it: %v", round, errsA[0])
		}
		if errsB[0] != nil {
			t.Fatalf("round %d: an innocent request failed because of replays batched with it: %v", round, errsB[0])
		}
	}
}

// TestGroupCommitFollowerHonoursItsContext: a RecordResponse queued behind
// a commit that hangs (here: the audit log locked by another session, as
// in a database that stops answering) must return when its own context
// ends, as every other storage call does. The follower waits on its wake
// channel alone, so it returns only when the leader's detached 10-second
// commit gives up, with the leader's error; under load each queued caller
// waits 10 s per 64 callers ahead of it, whatever its client did.
func TestGroupCommitFollowerHonoursItsContext(t *testing.T) {
	dl := dialects[1]
	target := dl.fresh(t)
	a := openTest(t, dl, target, Options{})
	raw, err := sql.Open(dl.driver, target)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	lock, err := raw.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Rollback()
	if _, err := lock.Exec(`LOCK TABLE audit_log IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ev := func(id string) storage.AuditEvent {
		return storage.AuditEvent{Time: now, Kind: "response", RequestID: id, Outcome: "issued"}
	}
	leader := make(chan error, 1)
	go func() {
		leader <- a.RecordResponse(context.Background(), &storage.RequestID{Issuer: "sp", ID: "_lead", Expires: now.Add(time.Hour)}, ev("_lead"))
	}()
	waitFor := func(cond func(g *groupCommit) bool) {
		for {
			a.group.mu.Lock()
			ok := cond(&a.group)
			a.group.mu.Unlock()
			if ok {
				return
			}
			time.Sleep(time.Millisecond)
		}
	}
	waitFor(func(g *groupCommit) bool { return g.busy && len(g.queue) == 0 })
	ctx, cancel := context.WithCancel(context.Background())
	follower := make(chan error, 1)
	go func() {
		follower <- a.RecordResponse(ctx, &storage.RequestID{Issuer: "sp", ID: "_follow", Expires: now.Add(time.Hour)}, ev("_follow"))
	}()
	waitFor(func(g *groupCommit) bool { return len(g.queue) == 1 })
	cancel()
	err = <-follower
	lock.Rollback()
	<-leader
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("a caller whose context was cancelled got %v, want context.Canceled", err)
	}
}
