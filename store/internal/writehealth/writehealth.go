// Package writehealth remembers whether a store's writes succeed, so that
// its Writable (and so /healthz and hookd_store_writable) reports a write
// that just failed (a full disk, a cluster without a quorum) at once,
// instead of only what a probe of its own finds.
package writehealth

import (
	"sync"
	"time"
)

const (
	// ProbeEvery is how long after a successful write Check trusts it
	// instead of asking for a probe.
	ProbeEvery = time.Second
	// FailureHold is how long after a failed write Check reports the
	// failure without a probe: a small probe can succeed where events do
	// not (SQLite reuses the space of its WAL file on a full disk; a
	// stream's leader answers for a while after losing its quorum), so
	// only a successful write of the store's own, or a probe once writes
	// have stopped failing for this long, makes it healthy again. Under
	// traffic the store so stays unhealthy while events fail, instead of
	// flapping at each health check.
	FailureHold = 10 * time.Second
)

// Tracker tracks whether writes succeed. The zero value is ready.
type Tracker struct {
	mu     sync.Mutex
	err    error     // the last failed write's error
	failed time.Time // when it failed
	ok     time.Time // when a write last succeeded
}

// Record notes the outcome of a write at at.
func (h *Tracker) Record(at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.ok = at
		return
	}
	h.err, h.failed = err, at
}

// Check returns what can be said without writing at now: the error of a
// write that failed within FailureHold with none succeeding since, or
// probe true when only a write can tell.
func (h *Tracker) Check(now time.Time) (err error, probe bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil && !h.failed.Before(h.ok) {
		if now.Sub(h.failed) < FailureHold {
			return h.err, false
		}
		return nil, true
	}
	return nil, now.Sub(h.ok) >= ProbeEvery
}
