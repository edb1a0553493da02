package sqlstore

import (
	"context"
	"fmt"
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
	// Set under groupCommit.mu before wake is closed.
	err       error
	committed bool
	wake      chan struct{} // closed when committed or made the leader
}

// RecordResponse implements storage.Storage: in one transaction, shared
// with the RecordResponse calls running at the same time. The replay-cache
// entry is compared with the audit event's time.
func (d *DB) RecordResponse(ctx context.Context, req *storage.RequestID, audit storage.AuditEvent) error {
	r := &record{req: req, audit: audit, wake: make(chan struct{})}
	g := &d.group
	g.mu.Lock()
	g.queue = append(g.queue, r)
	if g.busy {
		g.mu.Unlock()
		<-r.wake
		g.mu.Lock()
		if r.committed {
			g.mu.Unlock()
			return r.err
		}
		// Made the leader: busy stays set.
	}
	g.busy = true
	for {
		n := min(len(g.queue), maxGroup)
		batch := g.queue[:n:n]
		g.queue = g.queue[n:]
		g.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), groupTimeout)
		errs := d.commitRecords(ctx, batch)
		cancel()

		g.mu.Lock()
		for i, b := range batch {
			b.err, b.committed = errs[i], true
			if b != r {
				close(b.wake)
			}
		}
		if !r.committed {
			continue // more than maxGroup were queued before r: lead on
		}
		if len(g.queue) > 0 {
			close(g.queue[0].wake) // the next leader
		} else {
			g.busy = false
			g.queue = nil
		}
		g.mu.Unlock()
		return r.err
	}
}

// commitRecords writes the batch in one transaction and returns each
// record's outcome. A record whose request ID is taken gets
// ErrAlreadyExists and writes nothing; any other failure fails them all.
func (d *DB) commitRecords(ctx context.Context, batch []*record) []error {
	errs := make([]error, len(batch))
	err := d.inTx(ctx, "record response", func(x *tx) error {
		for i, r := range batch {
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
