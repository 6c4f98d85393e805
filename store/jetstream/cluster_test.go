package jetstream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/jetstream"
)

// openNode opens a store named node on the stream, connected to url.
func openNode(t *testing.T, url, stream, node string, timeout time.Duration) *jetstream.Store {
	t.Helper()
	return openReplicas(t, url, stream, node, timeout, 3)
}

// openReplicas is openNode on a stream of replicas copies.
func openReplicas(t *testing.T, url, stream, node string, timeout time.Duration, replicas int) *jetstream.Store {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := jetstream.Open(t.Context(), jetstream.Options{
		Conn: nc, Stream: stream, Replicas: replicas, Node: node,
		Dir: filepath.Join(t.TempDir(), "model"), Timeout: timeout,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// counter is a step that counts events per key and fires at the
// threshold-th, like a window without its period.
func counter(key string, at time.Time, threshold int) store.Step {
	return store.Step{
		Rule: "count", Scope: "count/window", Key: key, At: at,
		Apply: func(old []byte) ([]byte, bool, time.Time) {
			n := 0
			if old != nil {
				n, _ = strconv.Atoi(string(old))
			}
			n++
			return []byte(strconv.Itoa(n)), n == threshold, time.Time{}
		},
		Jobs: func(state []byte) ([]store.Job, []string) {
			return []store.Job{{Rule: "count", Index: 0, Type: "log", Name: "count/log[0]", Params: []byte(`{"n":` + string(state) + `}`)}}, nil
		},
	}
}

func TestTwoNodes(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster: not in -short")
	}
	c := natstest.StartCluster(t, 3)
	urls := c.URLs()
	a := openNode(t, urls[0], "TWO", "a", 0)
	b := openNode(t, urls[1], "TWO", "b", 0)
	ctx := context.Background()
	at := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)

	t.Run("one event posted to two nodes is stored once", func(t *testing.T) {
		for i := range 20 {
			ev := store.Event{ID: fmt.Sprintf("same-%d", i), Name: "group:update", Body: []byte(`{}`), ReceivedAt: at}
			rec := store.Record{Event: ev, Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}}
			var wg sync.WaitGroup
			outs := make([][]store.Outcome, 2)
			for k, s := range []*jetstream.Store{a, b} {
				wg.Go(func() {
					o, err := s.Accept(ctx, []store.Record{rec})
					if err != nil {
						t.Error(err)
						return
					}
					outs[k] = o
				})
			}
			wg.Wait()
			if t.Failed() {
				return
			}
			if outs[0][0].Duplicate == outs[1][0].Duplicate {
				t.Fatalf("event %s: duplicate on a %v, on b %v; want exactly one stored", ev.ID, outs[0][0].Duplicate, outs[1][0].Duplicate)
			}
		}
		for _, s := range []*jetstream.Store{a, b} {
			st, err := s.Stats(ctx)
			if err != nil || st.Events != 20 || st.Pending != 20 {
				t.Errorf("stats %+v, %v; want 20 events and 20 pending jobs on every node", st, err)
			}
		}
	})

	t.Run("a node hands out its own jobs only", func(t *testing.T) {
		pa, err := a.PendingPage(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		pb, err := b.PendingPage(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(pa)+len(pb) != 20 {
			t.Fatalf("a has %d pending jobs, b %d; want 20 in all", len(pa), len(pb))
		}
		seen := map[int64]bool{}
		for _, j := range append(pa, pb...) {
			if seen[j.ID] {
				t.Errorf("job %d handed out by both nodes", j.ID)
			}
			seen[j.ID] = true
		}
	})

	t.Run("a window counts every event of both nodes once", func(t *testing.T) {
		const n, threshold = 40, 25
		var wg sync.WaitGroup
		fired := make(chan store.Job, n)
		for i := range n {
			s := []*jetstream.Store{a, b}[i%2]
			wg.Go(func() {
				ev := store.Event{ID: fmt.Sprintf("win-%d", i), Name: "group:update", Body: []byte(`{}`), ReceivedAt: at}
				o, err := s.Accept(ctx, []store.Record{{Event: ev, Steps: []store.Step{counter("group-1", at, threshold)}}})
				if err != nil {
					t.Error(err)
					return
				}
				for _, j := range o[0].Jobs {
					fired <- j
				}
			})
		}
		wg.Wait()
		close(fired)
		var jobs []store.Job
		for j := range fired {
			jobs = append(jobs, j)
		}
		if len(jobs) != 1 || string(jobs[0].Params) != fmt.Sprintf(`{"n":%d}`, threshold) {
			t.Errorf("the window fired %d times (%v); want once, at the %dth event", len(jobs), jobs, threshold)
		}
		for name, s := range map[string]*jetstream.Store{"a": a, "b": b} {
			st, ok, err := s.GetState(ctx, "count/window", "group-1", at)
			if err != nil || !ok || string(st.Value) != strconv.Itoa(n) {
				t.Errorf("node %s: count %q (%v, %v); want %d", name, st.Value, ok, err, n)
			}
		}
	})

	t.Run("a swap raced by two nodes swaps once", func(t *testing.T) {
		if _, err := a.Swap(ctx, store.Swap{Scope: "digest", Key: "k", At: at, New: []byte("collected")}); err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		swapped := make([]bool, 2)
		for k, s := range []*jetstream.Store{a, b} {
			wg.Go(func() {
				o, err := s.Swap(ctx, store.Swap{Scope: "digest", Key: "k", At: at, Old: []byte("collected"),
					Jobs: []store.Job{{EventID: "digest:k:1", Rule: "digest", Type: "log", Params: []byte(`{}`)}}})
				if err != nil {
					t.Error(err)
				}
				swapped[k] = o.Swapped
			})
		}
		wg.Wait()
		if swapped[0] == swapped[1] {
			t.Errorf("swapped on a %v, on b %v; want exactly one", swapped[0], swapped[1])
		}
	})

	t.Run("a command's requeue reaches the job's node", func(t *testing.T) {
		pa, err := a.PendingPage(ctx, 1)
		if err != nil || len(pa) != 1 {
			t.Fatalf("a's pending jobs: %v, %v", pa, err)
		}
		id := pa[0].ID
		if err := a.Dead(ctx, id, 1, "invalid", "bad request"); err != nil {
			t.Fatal(err)
		}
		cli := openNode(t, urls[2], "TWO", "", 0)
		if n, err := cli.Requeue(ctx, []int64{id}); err != nil || n != 1 {
			t.Fatalf("Requeue from a command: %d, %v", n, err)
		}
		// A read waits until a applied the log up to its end.
		if _, err := a.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		taken, err := a.TakeRequeued(ctx)
		if err != nil || len(taken) != 1 || taken[0].ID != id {
			t.Fatalf("a took %v, %v; want job %d", ids(taken), err, id)
		}
		if _, err := b.Stats(ctx); err != nil {
			t.Fatal(err)
		}
		if taken, _ := b.TakeRequeued(ctx); len(taken) != 0 {
			t.Errorf("b took %v; the job is a's", taken)
		}
	})
}

func ids(jobs []store.Job) []int64 {
	out := make([]int64, len(jobs))
	for i, j := range jobs {
		out[i] = j.ID
	}
	return out
}

// TestQuorumLoss: without a majority of the servers nothing is accepted
// (an error, never a stored-looking outcome), and once they are back the
// store takes events again with nothing lost.
func TestQuorumLoss(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster: not in -short")
	}
	c := natstest.StartCluster(t, 3)
	s := openNode(t, c.URL(), "QUORUM", "a", 3*time.Second)
	ctx := context.Background()
	accept := func(id string) error {
		_, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: id, Name: "message:in:new", Body: []byte(`{}`)},
			Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}}})
		return err
	}
	if err := accept("before"); err != nil {
		t.Fatal(err)
	}
	c.Stop(1)
	// While the stream elects a new leader (when the stopped server led
	// it: NATS's election takes seconds) an Accept may fail, and the
	// sender retries; then the two servers left store it.
	deadline := time.Now().Add(natstest.Timeout)
	for err := accept("one-down"); err != nil; err = accept("one-down") {
		if time.Now().After(deadline) {
			t.Fatalf("with one of three servers down: %v; want the event stored", err)
		}
	}
	c.Stop(2)
	if err := accept("no-quorum"); err == nil {
		t.Fatal("an event was accepted without a quorum")
	}
	if err := s.Writable(ctx); err == nil {
		t.Error("Writable says nil without a quorum")
	}
	c.Restart(1)
	c.Restart(2)
	deadline = time.Now().Add(natstest.Timeout)
	for s.Writable(ctx) != nil {
		if time.Now().After(deadline) {
			t.Fatalf("not writable again after the servers returned: %v", s.Writable(ctx))
		}
	}
	// The first writes may still meet elections settling: the sender
	// retries, and soon one is stored.
	deadline = time.Now().Add(natstest.Timeout)
	for err := accept("after"); err != nil; err = accept("after") {
		if time.Now().After(deadline) {
			t.Fatalf("after the servers returned: %v", err)
		}
	}
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// "no-quorum" may have been stored after all (its publish could land
	// once the servers returned): the sender was told to retry, and a
	// retry is a duplicate. Nothing acknowledged is missing.
	if st.Events < 3 {
		t.Errorf("%d events after the quorum returned; want before, one-down and after at least", st.Events)
	}
	for _, id := range []string{"before", "one-down", "after"} {
		if _, err := s.Event(ctx, id); err != nil {
			t.Errorf("event %s: %v", id, err)
		}
	}
}

// TestLateAcceptIsVoid: an Accept that failed because the server was
// gone is not stored when its publish, buffered by the client, reaches
// the server after it returns: its sender was told to retry, and nothing
// may be stored of a write that failed.
func TestLateAcceptIsVoid(t *testing.T) {
	c := natstest.StartCluster(t, 1)
	s := openReplicas(t, c.URL(), "LATE", "a", 2*time.Second, 1)
	ctx := context.Background()
	rec := store.Record{Event: store.Event{ID: "late", Name: "message:in:new", Body: []byte(`{}`)},
		Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}}
	c.Stop(0)
	if _, err := s.Accept(ctx, []store.Record{rec}); err == nil {
		t.Fatal("Accept with the server stopped succeeded")
	}
	c.Restart(0)
	// A write after the restart: once it is applied, so is anything the
	// client flushed before it.
	if _, err := s.Accept(ctx, []store.Record{{Event: store.Event{ID: "after", Name: "message:in:new", Body: []byte(`{}`)}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Event(ctx, "late"); err == nil {
		t.Error("the event of the failed Accept was stored after all")
	}
	if st, err := s.Stats(ctx); err != nil || st.Events != 1 || st.Pending != 0 {
		t.Errorf("stats %+v, %v; want only the later event, no job", st, err)
	}
	// The sender's retry stores it, as new.
	out, err := s.Accept(ctx, []store.Record{rec})
	if err != nil || out[0].Duplicate || len(out[0].Jobs) != 1 {
		t.Errorf("the retry: %+v, %v; want it stored with its job", out, err)
	}
}

// TestWritableAfterCallerGaveUp: a command whose caller gave up (a
// client that hung up) says nothing of the cluster, so Writable stays nil;
// one refused for lack of a quorum is reported at once (internal/e2e:
// TestClusterKill9).
func TestWritableAfterCallerGaveUp(t *testing.T) {
	c := natstest.StartCluster(t, 1)
	s := openReplicas(t, c.URL(), "HEALTH", "a", 2*time.Second, 1)
	gone, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.Requeue(gone, nil); err == nil {
		t.Fatal("Requeue with its context cancelled succeeded")
	}
	if err := s.Writable(context.Background()); err != nil {
		t.Errorf("Writable after a write its caller gave up on: %v; want nil", err)
	}
}

// TestTakeCancelled: a job cancelled on any node is handed out by its
// own node's TakeCancelled, once, so that the node's delivery drops its
// queued copy; not when its own node requeued it meanwhile (it runs).
func TestTakeCancelled(t *testing.T) {
	url := natstest.StartCluster(t, 1).URL()
	s1 := openReplicas(t, url, "CANCELS", "n1", 5*time.Second, 1)
	s2 := openReplicas(t, url, "CANCELS", "n2", 5*time.Second, 1)
	ctx := t.Context()
	var recs []store.Record
	for i := range 2 {
		recs = append(recs, store.Record{Event: store.Event{ID: fmt.Sprint("cancel-", i), Name: "message:in:new", Body: []byte(`{}`)},
			Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}})
	}
	out, err := s1.Accept(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	j, k := out[0].Jobs[0].ID, out[1].Jobs[0].ID
	// J cancelled on n2; K cancelled on n2, then requeued on n1.
	if _, err := s2.Cancel(ctx, []int64{j, k}, "cancelled by the test"); err != nil {
		t.Fatal(err)
	}
	if _, err := s1.Requeue(ctx, []int64{k}); err != nil {
		t.Fatal(err)
	}
	if ids, err := s2.TakeCancelled(ctx); err != nil || len(ids) != 0 {
		t.Errorf("n2's TakeCancelled: %v, %v; want none (the jobs are n1's)", ids, err)
	}
	ids, err := s1.TakeCancelled(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(ids) != 1 || ids[0] != j {
		t.Errorf("n1's TakeCancelled: %v; want [%d] (%d was requeued to n1)", ids, j, k)
	}
	if ids, err := s1.TakeCancelled(ctx); err != nil || len(ids) != 0 {
		t.Errorf("n1's second TakeCancelled: %v, %v; want none", ids, err)
	}
}
