package delivery_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/jetstream"
)

// openNode opens the JetStream store of node on the stream at url, as
// a node's daemon does (LazyJobUpdates).
func openNode(t *testing.T, url, node string) *jetstream.Store {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	s, err := jetstream.Open(context.Background(), jetstream.Options{Conn: nc, Stream: "NODES", Node: node,
		Dir: filepath.Join(t.TempDir(), "model"), LazyJobUpdates: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestCancelOnAnotherNodeDropsTheQueuedJob: a node's admin API cancels
// a job that another node holds queued, and requeues it, so that it
// becomes its own: the job must run once, on the node that requeued it.
// The owner used to learn nothing of the cancel, and ran its queued copy
// too, as though both nodes owned the job.
func TestCancelOnAnotherNodeDropsTheQueuedJob(t *testing.T) {
	t.Parallel()
	url := natstest.StartCluster(t, 1).URL()
	s1, s2 := openNode(t, url, "n1"), openNode(t, url, "n2")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// J is due in a while (a retry's backoff): n1 holds it queued.
	rec := record("J", "slack")
	rec.Jobs[0].NextAt = time.Now().Add(3 * time.Second)
	out, err := s1.Accept(ctx, []store.Record{rec})
	if err != nil {
		t.Fatal(err)
	}
	j := out[0].Jobs[0]
	act := &counter{calls: map[string]int{}}
	d1, d2 := newDeliverer(s1, act, 1, 10), newDeliverer(s2, act, 1, 10)
	d1.Push(j)
	stop1, stop2 := run(t, d1), run(t, d2)
	// n2's admin API cancels J, then retries it: n2 takes it.
	cancelJobs(t, s2, d2, j.ID)
	if _, err := s2.Requeue(ctx, []int64{j.ID}); err != nil {
		t.Fatal(err)
	}
	// n2 runs it; n1's copy, once due, is dropped or runs.
	waitFor(t, 20*time.Second, func() bool {
		got, err := s2.Job(ctx, j.ID)
		return err == nil && got.State == store.StateDone && d1.Depth() == 0 && d2.Depth() == 0
	}, func() string {
		got, _ := s2.Job(ctx, j.ID)
		return "J is " + got.State + "; want done, and no copy queued on either node"
	})
	stop1()
	stop2()
	if n := act.count("hookd:J"); n != 1 {
		t.Errorf("J ran %d times on the two nodes, want once", n)
	}
}
