package sqlite

import (
	"context"
	"sync"
	"time"
)

const (
	// probeEvery is how long after a successful write Writable trusts
	// it instead of writing a probe.
	probeEvery = time.Second
	// failureHold is how long after a failed write Writable reports the
	// failure without probing: a small probe can succeed where events do
	// not (SQLite reuses the space of its WAL file on a full disk), so
	// only a successful write of the store's own, or a probe once writes
	// have stopped failing for this long, makes it healthy again. Under
	// traffic the store so stays unhealthy while events fail, instead of
	// flapping at each health check.
	failureHold = 10 * time.Second
)

// health tracks whether writes succeed.
type health struct {
	mu     sync.Mutex
	err    error     // the last failed write's error
	failed time.Time // when it failed
	ok     time.Time // when a write last succeeded
}

// record notes the outcome of a write at at.
func (h *health) record(at time.Time, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if err == nil {
		h.ok = at
		return
	}
	h.err, h.failed = err, at
}

// check returns what Writable can say without writing at now, or probe
// true when only a write can tell.
func (h *health) check(now time.Time) (err error, probe bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.err != nil && !h.failed.Before(h.ok) {
		if now.Sub(h.failed) < failureHold {
			return h.err, false
		}
		return nil, true
	}
	return nil, now.Sub(h.ok) >= probeEvery
}

// Writable reports nil when the store can take writes, or why not: the
// error of a write that failed within the last failureHold with no
// synced write (events, a requeue, the probe) succeeding since. When it cannot tell from recent writes it writes a
// probe (one row, committed and synced), so it reports nil again once
// the disk takes writes again, also when no event comes in.
func (s *Store) Writable(ctx context.Context) error {
	if err := s.readable(); err != nil {
		return err
	}
	err, probe := s.health.check(s.now())
	if !probe {
		return err
	}
	return s.write(ctx, func(w *wtx) error {
		_, err := w.exec(s.st.probe, millis(s.now()))
		return err
	})
}
