package delivery_test

import (
	"context"
	"log/slog"
	"runtime"
	"sync"
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

// seen counts the references called.
func (c *counter) seen() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.calls)
}

// count counts the calls of ref.
func (c *counter) count(ref string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[ref]
}

// held is a counter that holds each call of a reference in hold until
// that reference's gate is closed (saying so on started, when set), and
// makes the calls of a reference in fail fail with a retryable error.
type held struct {
	counter
	hold    map[string]chan struct{}
	started chan string
	fail    map[string]bool
}

func (h *held) Do(ctx context.Context, call actions.Call) actions.Result {
	if ch := h.hold[call.Reference]; ch != nil {
		if h.started != nil {
			h.started <- call.Reference
		}
		<-ch
	}
	res := h.counter.Do(ctx, call)
	if h.fail[call.Reference] {
		return actions.Result{Err: context.DeadlineExceeded, Reason: "timeout", Retryable: true}
	}
	return res
}

// waitFor polls cond until it holds, failing the test with what after
// the deadline.
func waitFor(t *testing.T, within time.Duration, cond func() bool, what func() string) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", within, what())
		}
		time.Sleep(time.Millisecond) // polling a condition with a deadline
	}
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

// accept stores an event with one slack job for each name, and returns
// the jobs by name.
func accept(t *testing.T, st *sqlite.Store, names ...string) map[string]store.Job {
	t.Helper()
	recs := make([]store.Record, len(names))
	for i, n := range names {
		recs[i] = record(n, "slack")
	}
	out, err := st.Accept(context.Background(), recs)
	if err != nil {
		t.Fatal(err)
	}
	jobs := make(map[string]store.Job, len(names))
	for i, n := range names {
		jobs[n] = out[i].Jobs[0]
	}
	return jobs
}

// canceller is the part of a store that the admin API's cancel uses.
type canceller interface {
	Cancel(ctx context.Context, ids []int64, lastErr string) ([]int64, error)
}

// cancelJobs cancels jobs as the admin API does: in the store, then in
// the deliverer's queue.
func cancelJobs(t *testing.T, st canceller, d *delivery.Deliverer, ids ...int64) {
	t.Helper()
	done, err := st.Cancel(context.Background(), ids, "cancelled by the test")
	if err != nil {
		t.Fatal(err)
	}
	d.Cancel(done...)
}

func discardLogger() *slog.Logger { return slog.New(slog.DiscardHandler) }

// newDeliverer returns a Deliverer of st's jobs that runs them with act,
// under the default delivery policy.
func newDeliverer(st delivery.JobStore, act actions.Action, workers, maxQueued int) *delivery.Deliverer {
	return delivery.New(delivery.Config{
		Store:     st,
		Policy:    func() delivery.Policy { return delivery.Policy{Delivery: engine.DefaultDelivery(), Action: act} },
		Workers:   workers,
		MaxQueued: maxQueued,
		Logger:    discardLogger(),
	})
}

// run runs d's refills and reads of requeued jobs until stop, which
// returns once they have ended; the test's cleanup stops them too.
func run(t *testing.T, d *delivery.Deliverer) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan struct{})
	go func() {
		defer close(ran)
		d.Run(ctx)
	}()
	stop = func() {
		cancel()
		<-ran
	}
	t.Cleanup(stop)
	return stop
}
