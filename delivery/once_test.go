package delivery_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hookd/hookd/actions"
	"github.com/hookd/hookd/delivery"
	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// counter is an action that counts the calls of each reference.
type counter struct {
	mu    sync.Mutex
	calls map[string]int
}

func (c *counter) Do(_ context.Context, call actions.Call) actions.Result {
	runtime.Gosched() // let the refill and the other workers run in between
	c.mu.Lock()
	c.calls[call.Reference]++
	c.mu.Unlock()
	return actions.Result{Response: "200 OK"}
}

func (c *counter) seen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// openStore opens a SQLite store in a temporary folder, with job
// updates queued as the daemon queues them.
func openStore(t *testing.T) *sqlite.Store {
	t.Helper()
	st, err := sqlite.Open(t.TempDir(), sqlite.Options{LazyJobUpdates: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	return st
}

// record is an event with one job of type typ.
func record(name, typ string) store.Record {
	return store.Record{
		Event: store.Event{ID: "group:update/" + name, Name: "group:update", Body: []byte(`{}`)},
		Jobs:  []store.Job{{Rule: "r", Type: typ, Name: "r/" + typ + "[0]", Params: []byte(`{}`), Reference: "hookd:" + name}},
	}
}

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
	d := delivery.New(delivery.Config{
		Store:     st,
		Policy:    func() delivery.Policy { return delivery.Policy{Delivery: engine.DefaultDelivery(), Action: act} },
		Workers:   64,
		MaxQueued: maxQueued,
		Logger:    discardLogger(),
	})
	if _, err := d.Load(ctx); err != nil {
		t.Fatal(err)
	}
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		d.Run(ctx)
	}()
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
	deadline := time.Now().Add(60 * time.Second)
	for {
		stats, err := st.Stats(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if act.seen() == total && stats.Pending == 0 && d.Depth() == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 60s: %d of %d jobs ran, %d pending in the store, %d in memory", act.seen(), total, stats.Pending, d.Depth())
		}
		time.Sleep(10 * time.Millisecond) // polling a condition with a deadline
	}
	cancel()
	<-ran
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

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// gates is an action that holds each call whose reference has a gate
// until the gate is closed, and counts the calls of each reference.
type gates struct {
	counter
	hold map[string]chan struct{}
}

func (g *gates) Do(ctx context.Context, call actions.Call) actions.Result {
	if ch := g.hold[call.Reference]; ch != nil {
		<-ch
	}
	return g.counter.Do(ctx, call)
}

func (g *gates) count(ref string) int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.calls[ref]
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
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	names := []string{"J", "K1", "K2", "K3", "K4"}
	var recs []store.Record
	for _, n := range names {
		recs = append(recs, record(n, "slack"))
	}
	out, err := st.Accept(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	job := map[string]store.Job{}
	for i, n := range names {
		job[n] = out[i].Jobs[0]
	}
	act := &gates{counter: counter{calls: map[string]int{}}, hold: map[string]chan struct{}{
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
	d := delivery.New(delivery.Config{
		Store:     paged,
		Policy:    func() delivery.Policy { return delivery.Policy{Delivery: engine.DefaultDelivery(), Action: act} },
		Workers:   4,
		MaxQueued: 4,
		Logger:    discardLogger(),
	})
	// J and K1-K3 fill the queue (held); K4 finds it full and stays in
	// the store. Once K1-K3 are done, a refill reads.
	d.Push(job["J"], job["K1"], job["K2"], job["K3"], job["K4"])
	close(act.hold["hookd:K1"])
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		d.Run(ctx)
	}()
	<-read
	deadline := time.Now().Add(30 * time.Second)
	for act.count("hookd:K4") == 0 || d.Depth() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("after 30s: K4 ran %d times, %d jobs in memory", act.count("hookd:K4"), d.Depth())
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
	cancel()
	<-ran
	if n := act.count("hookd:J"); n != 1 {
		t.Errorf("J ran %d times, want once", n)
	}
}
