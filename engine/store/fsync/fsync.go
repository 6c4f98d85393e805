// Package fsync syncs files for the store's syncer. On one processor
// (GOMAXPROCS=1) a Syncer keeps the processor through the fsync while
// syncs are quick, which the Go runtime's own hand-off makes slower.
package fsync

import (
	"os"
	"runtime"
	"time"
)

// A goroutine in a system call keeps its processor (P) until the Go
// runtime's monitor takes it back, which it does for a sync seen twice,
// after 20 µs to 10 ms. On one processor (GOMAXPROCS=1) that hand-off
// costs more than the work it lets run during the sync: another thread is
// woken to run the P, and once the sync returns the syncer waits behind
// the goroutines that thread took up before it can answer the batch; the
// monitor, finding work, wakes every 20 µs on the same core. Measured on
// one core, keeping the P through the fsync (a raw system call, which
// the runtime does not see) took 5-9% more events a second in
// interleaved runs, and the slowest runs were gone (see BENCHMARKS.md, round 6).
//
// The cost is that nothing else in the process runs during such a sync.
// That is what happens already in most syncs, which end before the
// monitor looks; but on a disk that stalls it would stop timers, health
// checks and deliveries for the stall. So syncs hold the P only on one
// processor, only once a sync has been seen to be quick, and not for a
// while after one was slow.
const (
	// holdBelow is how quick the last sync must have been for the next one
	// to hold the P.
	holdBelow = 10 * time.Millisecond
	// slowPause is how long syncs let the P go after a slow one.
	slowPause = time.Minute
)

// Syncer syncs files, holding the P when its policy says so. It is for
// one goroutine at a time; each file synced in turn at a high rate (the
// event log's segment, SQLite's WAL) has its own, since each has its own
// sync times. The zero value is ready to use.
type Syncer struct {
	policy
}

// policy decides whether a sync holds its P.
type policy struct {
	last   time.Duration // the last sync's time; 0 before the first
	slowAt time.Time     // when the last slow sync ended
	held   int           // how many syncs held the P
}

// hold reports whether the next sync should keep its P, with procs
// processors (GOMAXPROCS) at now.
func (p *policy) hold(procs int, now time.Time) bool {
	return procs == 1 && p.last > 0 && p.last < holdBelow &&
		(p.slowAt.IsZero() || now.Sub(p.slowAt) >= slowPause)
}

// done records a sync that took d and ended at now.
func (p *policy) done(d time.Duration, now time.Time) {
	p.last = d
	if d >= holdBelow {
		p.slowAt = now
	}
}

// Sync syncs f (f.Sync), keeping the goroutine's P through the system
// call when the policy says so.
func (s *Syncer) Sync(f *os.File) error {
	start := time.Now()
	var err error
	if s.hold(runtime.GOMAXPROCS(0), start) {
		s.held++
		err = fsyncHolding(f)
	} else {
		err = f.Sync()
	}
	end := time.Now()
	s.done(end.Sub(start), end)
	return err
}
