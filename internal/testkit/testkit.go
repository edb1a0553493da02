// Package testkit holds the small test doubles several packages' tests
// share: a clock tests move and a log buffer they read while servers write.
package testkit

import (
	"bytes"
	"sync"
	"time"
)

// Clock is the time tests control. The zero Clock is the real time; Advance
// moves it forward, Set pins it to an instant. Safe for concurrent use, so a
// server under test may read it while the test moves it.
type Clock struct {
	mu     sync.Mutex
	at     time.Time // zero: the real time
	offset time.Duration
}

// At returns a Clock that stands at t until moved.
func At(t time.Time) *Clock { return &Clock{at: t} }

// Now is the clock's time: the real or pinned instant plus what was advanced.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	base := c.at
	if base.IsZero() {
		base = time.Now()
	}
	return base.Add(c.offset)
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.offset += d
}

// Set pins the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at, c.offset = t, 0
}

// SyncBuffer is a bytes.Buffer a logger may write while a test reads it.
type SyncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *SyncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *SyncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}
