package sqlstore

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"hcidp/storage"
)

// Group commit of RecordResponse (docs/architecture.md "Performance").
//
// Every SSO commits its replay-cache entry and its audit row before the
// Response is signed. A commit costs far more than the two inserts in it
// (in SQLite, one write system call per page of the write-ahead log and the
// locks of its shared index; in PostgreSQL, a round trip and a WAL flush),
// so concurrent callers share one: the first caller leads, commits every
// record queued by then in one transaction, and hands the lead to the
// first caller that queued meanwhile. A record is still durable before its
// caller returns, and each record keeps its own outcome: a replayed
// request ID fails alone and writes nothing, while the others commit. No
// caller waits for a batch to fill: alone, a caller commits at once, as
// before.

// maxGroup bounds one transaction.
const maxGroup = 64

// groupTimeout bounds a shared commit. It does not follow the leader's
// context: a leader whose client went away must not fail the others.
const groupTimeout = 10 * time.Second

type groupCommit struct {
	mu    sync.Mutex
	queue []*record
	busy  bool // a leader is committing
}

// record is one RecordResponse call waiting for its commit.
type record struct {
	req   *storage.RequestID
	audit storage.AuditEvent
	// Set under groupCommit.mu; err and committed before wake is closed.
	err       error
	committed bool
	taken     bool          // in a batch a leader is committing
	promoted  bool          // made the next leader
	wake      chan struct{} // closed when committed or promoted
}

// RecordResponse implements storage.Storage: in one transaction, shared
// with the RecordResponse calls running at the same time. The replay-cache
// entry is compared with the audit event's time.
//
// A caller whose context ends while it waits in the queue leaves it with
// the context's error; one whose record a leader is already committing
// waits for that commit (at most groupTimeout), so that what it returns is
// what was written.
func (d *DB) RecordResponse(ctx context.Context, req *storage.RequestID, audit storage.AuditEvent) error {
	r := &record{req: req, audit: audit, wake: make(chan struct{})}
	g := &d.group
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.busy {
		g.mu.Unlock()
		select {
		case <-r.wake:
		case <-ctx.Done():
		}
		g.mu.Lock()
		switch {
		case r.committed:
			g.mu.Unlock()
			return r.err
		case r.taken:
			g.mu.Unlock()
			<-r.wake
			return r.err
		case !r.promoted:
			g.queue = slices.DeleteFunc(g.queue, func(q *record) bool { return q == r })
			g.mu.Unlock()
			return ctx.Err()
		}
		// Made the leader (busy stays set); it leads even if its own
		// context has ended, since the others wait for it.
	}
	g.busy = true
	for {
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		for _, b := range batch {
			b.taken = true
		}
		g.mu.Unlock()

		d.commitBatch(ctx, batch, r)

		g.mu.Lock()
		if r.committed {
			g.mu.Unlock()
			return r.err
		}
		// More than maxGroup were queued before r: lead on.
	}
}

// commitBatch commits batch, hands each record its outcome and the lead to
// the next caller queued (or clears busy), also when the commit panics.
// It returns with r's outcome set if r was in batch.
func (d *DB) commitBatch(ctx context.Context, batch []*record, r *record) (errs []error) {
	g := &d.group
	defer func() {
		p := recover()
		if p != nil {
			errs = make([]error, len(batch))
			for i := range errs {
				errs[i] = fmt.Errorf("record response: %v", p)
			}
		}
		g.mu.Lock()
		for i, b := range batch {
			b.err, b.committed = errs[i], true
			if b != r {
				close(b.wake)
			}
		}
		if !r.committed && p == nil {
			// r leads on; it still holds busy.
		} else if len(g.queue) > 0 {
			g.queue[0].promoted = true
			close(g.queue[0].wake)
		} else {
			g.busy = false
			g.queue = nil
		}
		g.mu.Unlock()
		if p != nil {
			panic(p)
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
	defer cancel()
	return d.commitRecords(ctx, batch)
}

// commitRecords writes the batch in one transaction and returns each
// record's outcome. A record whose request ID is taken gets
// ErrAlreadyExists and writes nothing; any other failure fails them all.
func (d *DB) commitRecords(ctx context.Context, batch []*record) []error {
	errs := make([]error, len(batch))
	// Rows are written in key order: two replicas' batches holding the
	// same request IDs (copies of requests sent to both) then lock them in
	// the same order and cannot deadlock, which would fail every request
	// batched with the copies.
	order := make([]int, len(batch))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		ra, rb := batch[a].req, batch[b].req
		switch {
		case ra == nil || rb == nil:
			return cmp.Compare(boolInt(ra != nil), boolInt(rb != nil))
		case ra.Issuer != rb.Issuer:
			return strings.Compare(ra.Issuer, rb.Issuer)
		}
		return strings.Compare(ra.ID, rb.ID)
	})
	err := d.inTx(ctx, "record response", func(x *tx) error {
		for _, i := range order {
			r := batch[i]
			if r.req != nil {
				n, err := rowsAffected(x.exec(ctx, insertRequestID, r.req.Issuer, r.req.ID, d.t(r.req.Expires), d.t(r.audit.Time)))
				if err != nil {
					return d.errorf(err, "record response: request ID %q", r.req.ID)
				}
				if n == 0 {
					errs[i] = fmt.Errorf("%w: request ID %q from %q", storage.ErrAlreadyExists, r.req.ID, r.req.Issuer)
					continue
				}
			}
			if _, err := x.exec(ctx, insertAudit, d.auditArgs(r.audit)...); err != nil {
				return d.errorf(err, "record response: audit")
			}
		}
		return nil
	})
	if err != nil {
		for i := range errs {
			errs[i] = err
		}
	}
	return errs
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
