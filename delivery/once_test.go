package delivery_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// TestEachJobRunsOnceWhileRefilling runs jobs through a queue much
// smaller than the store's backlog while events keep arriving, so that
// refills read jobs that are queued, running or just done, and events
// are accepted while a refill reads. Every job must run exactly once:
// a refill used to queue again a job that finished while it was adding
// the jobs it read, and could run a new event's job before the event's
// own push queued it again.
func TestEachJobRunsOnceWhileRefilling(t *testing.T) {
	t.Parallel()
	const backlog, senders, maxQueued = 6000, 4, 1000
	st := openStore(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	types := []string{"slack", "webhook", "wassenger.message"}
	var recs []store.Record
	for i := range backlog {
		recs = append(recs, record(fmt.Sprintf("B%05d", i), types[i%len(types)]))
	}
	if _, err := st.Accept(ctx, recs); err != nil {
		t.Fatal(err)
	}
	act := &counter{calls: map[string]int{}}
	d := newDeliverer(st, act, 64, maxQueued)
	if _, err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	stop := run(t, d)
	// Events arrive as the intake stores and pushes them, until the
	// backlog has run.
	var wg sync.WaitGroup
	var arrived atomic.Int64
	for s := range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; act.seen() < backlog; i++ {
				arrived.Add(1)
				d.Adding()
				out, err := st.Accept(ctx, []store.Record{record(fmt.Sprintf("A%d-%04d", s, i), types[i%len(types)])})
				if err == nil {
					d.Push(out[0].Jobs...)
				}
				d.Added()
				if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	total := backlog + int(arrived.Load())
	pending := func() int64 {
		stats, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return stats.Pending
	}
	waitFor(t, 60*time.Second, func() bool { return act.seen() == total && pending() == 0 && d.Depth() == 0 },
		func() string {
			return fmt.Sprintf("%d of %d jobs ran, %d pending in the store, %d in memory", act.seen(), total, pending(), d.Depth())
		})
	stop()
	act.mu.Lock()
	defer act.mu.Unlock()
	twice := 0
	for ref, n := range act.calls {
		if n != 1 {
			twice++
			if twice <= 5 {
				t.Errorf("%s ran %d times, want once", ref, n)
			}
		}
	}
	if twice > 0 {
		t.Errorf("%d of %d jobs ran more than once", twice, total)
	}
}

// pagedStore is a store whose PendingPage is page.
type pagedStore struct {
	*sqlite.Store
	page func(ctx context.Context, limit int) ([]store.Job, error)
}

func (s *pagedStore) PendingPage(ctx context.Context, limit int) ([]store.Job, error) {
	return s.page(ctx, limit)
}

// TestRefillSkipsJobsThatLeftWhileAdding reads, in a refill, a job that
// is running and finishes while the refill adds what it read: the
// refill must not queue it again. The read returns the job many times
// over, so that adding it takes long enough for the job to finish
// midway; the refill used to check only the jobs that left the queue
// during the read itself.
func TestRefillSkipsJobsThatLeftWhileAdding(t *testing.T) {
	t.Parallel()
	st := openStore(t)
	job := accept(t, st, "J", "K1", "K2", "K3", "K4")
	act := &held{counter: counter{calls: map[string]int{}}, hold: map[string]chan struct{}{
		"hookd:J": make(chan struct{}), "hookd:K1": make(chan struct{}),
	}}
	act.hold["hookd:K2"], act.hold["hookd:K3"] = act.hold["hookd:K1"], act.hold["hookd:K1"]
	read := make(chan struct{})
	paged := &pagedStore{Store: st, page: func(context.Context, int) ([]store.Job, error) {
		// J, running, many times over, then K4, which waits in the store.
		jobs := make([]store.Job, 0, 100_001)
		for range 100_000 {
			jobs = append(jobs, job["J"])
		}
		jobs = append(jobs, job["K4"])
		close(read)
		close(act.hold["hookd:J"]) // J finishes while the refill adds these
		return jobs, nil
	}}
	d := newDeliverer(paged, act, 4, 4)
	// J and K1-K3 fill the queue (held); K4 finds it full and stays in
	// the store. Once K1-K3 are done, a refill reads.
	d.Push(job["J"], job["K1"], job["K2"], job["K3"], job["K4"])
	close(act.hold["hookd:K1"])
	stop := run(t, d)
	<-read
	waitFor(t, 30*time.Second, func() bool { return act.count("hookd:K4") > 0 && d.Depth() == 0 },
		func() string {
			return fmt.Sprintf("K4 ran %d times, %d jobs in memory", act.count("hookd:K4"), d.Depth())
		})
	stop()
	if n := act.count("hookd:J"); n != 1 {
		t.Errorf("J ran %d times, want once", n)
	}
}
