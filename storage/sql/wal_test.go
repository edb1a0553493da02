package sqlstore

import (
	"bytes"
	"fmt"
	"hcidp/storage"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// The write-ahead log stays bounded under sustained writes while readers
// never stop (docs/threat-model.md "Browser-facing pages": the database
// and its log stay bounded under any request rate). With PASSIVE
// checkpoints alone the log never restarts while a reader holds a snapshot
// in it, and grows for as long as the writes go on.
func TestWALStaysBoundedUnderSustainedWrites(t *testing.T) {
	const limit = 1 << 20
	path := filepath.Join(t.TempDir(), "hcidp.db")
	d, err := openSQLite(t.Context(), path, Options{}, limit)
	if err != nil {
		t.Fatal(err)
	}
	defer d.Close()

	const writes = 2000
	payload := bytes.Repeat([]byte("x"), 2048)
	var (
		stop    atomic.Bool
		maxWAL  atomic.Int64
		readers sync.WaitGroup
		reads   atomic.Int64
	)
	for range 2 { // readers that never pause
		readers.Go(func() {
			for i := 0; !stop.Load(); i++ {
				if _, _, err := d.FindCtx(t.Context(), fmt.Sprintf("tok-%d", i%writes)); err != nil {
					t.Errorf("FindCtx: %v", err)
					return
				}
				reads.Add(1)
			}
		})
	}
	var writers sync.WaitGroup
	next := atomic.Int64{}
	for range 2 {
		writers.Go(func() {
			for {
				i := next.Add(1)
				if i > writes {
					return
				}
				if err := d.CommitCtx(t.Context(), fmt.Sprintf("tok-%d", i), payload, time.Now().Add(time.Hour)); err != nil {
					t.Errorf("CommitCtx: %v", err)
					return
				}
				if fi, err := os.Stat(path + "-wal"); err == nil && fi.Size() > maxWAL.Load() {
					maxWAL.Store(fi.Size())
				}
			}
		})
	}
	writers.Wait()
	stop.Store(true)
	readers.Wait()
	// Each write adds about 20 KiB to the log (the row, the index pages):
	// unbounded, the log would reach about 40 MiB. The checkpointer looks
	// after every commit, but the log overshoots the limit by what the
	// writes add until it is scheduled and has the write connection, and
	// the checkpoint waits for the readers of older snapshots.
	if got := maxWAL.Load(); got > 6*limit {
		t.Errorf("the WAL reached %d bytes over %d writes with %d concurrent reads, want at most %d", got, writes, reads.Load(), 6*limit)
	}
	t.Logf("largest WAL: %d bytes (limit %d) over %d writes and %d reads", maxWAL.Load(), limit, writes, reads.Load())
}

// TestNewSQLiteDatabaseIsPrivate: a new database file, and the write-ahead
// log beside it, are readable by their owner only (they hold password
// hashes and sessions).
func TestNewSQLiteDatabaseIsPrivate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hcidp.db")
	d := openTest(t, dialects[0], path, Options{})
	if err := d.AppendAudit(t.Context(), storage.AuditEvent{Time: time.Now(), Kind: "test"}); err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{path, path + "-wal"} {
		fi, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode&0o077 != 0 {
			t.Errorf("%s has mode %v, want 0600", filepath.Base(p), mode)
		}
	}
}
