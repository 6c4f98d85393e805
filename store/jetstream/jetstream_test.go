package jetstream_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/jetstream"
	"github.com/hookd/hookd/store/storetest"
)

// connect connects to the NATS server at url until the test ends.
func connect(t *testing.T, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// openLazy opens a store with LazyJobUpdates, as a node's daemon does,
// on stream with its model in dir.
func openLazy(t *testing.T, nc *nats.Conn, stream, dir string) *jetstream.Store {
	t.Helper()
	s, err := jetstream.Open(context.Background(), jetstream.Options{Conn: nc, Stream: stream, Node: "n1", Dir: filepath.Join(dir, "model"), LazyJobUpdates: true})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// opener opens stores on one stream per folder of the suite.
func opener(url string, replicas int) storetest.Opener {
	return func(t *testing.T, dir string) store.Store {
		t.Helper()
		nc := connect(t, url)
		sum := sha256.Sum256([]byte(dir))
		s, err := jetstream.Open(context.Background(), jetstream.Options{
			Conn:     nc,
			Stream:   "T" + hex.EncodeToString(sum[:8]),
			Replicas: replicas,
			Node:     "n1",
			Dir:      filepath.Join(dir, "model"),
		})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
}

func TestConformanceSingleServer(t *testing.T) {
	storetest.Run(t, opener(natstest.StartCluster(t, 1).URL(), 1))
}

// TestConformanceCluster runs the suite on three clustered servers, the
// log kept by all three.
func TestConformanceCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("a three-node cluster: not in -short")
	}
	storetest.Run(t, opener(natstest.StartCluster(t, 3).URL(), 3))
}

// TestLazyJobUpdates: with LazyJobUpdates (a node's daemon uses it),
// Done, Retry and Dead return once queued, share commands, and Close
// logs what is queued before it returns.
func TestLazyJobUpdates(t *testing.T) {
	url := natstest.StartCluster(t, 1).URL()
	nc := connect(t, url)
	dir := t.TempDir()
	open := func() *jetstream.Store { return openLazy(t, nc, "LAZY", dir) }
	s := open()
	ctx := context.Background()
	var recs []store.Record
	for i := range 50 {
		recs = append(recs, store.Record{Event: store.Event{ID: fmt.Sprint("lazy-", i), Name: "message:in:new", Body: []byte(`{}`)},
			Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}})
	}
	out, err := s.Accept(ctx, recs)
	if err != nil {
		t.Fatal(err)
	}
	for i, o := range out {
		id := o.Jobs[0].ID
		switch i % 3 {
		case 0:
			err = s.Done(ctx, id, 1, "ok")
		case 1:
			err = s.Dead(ctx, id, 1, "invalid", "bad")
		case 2:
			err = s.Retry(ctx, id, 1, time.Now().Add(time.Hour), "server", "503")
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	// Close logs what is queued: a store opened again sees all of it.
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s = open()
	defer s.Close()
	st, err := s.Stats(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := (store.Stats{Events: 50, Pending: 16, Dead: 17}); st != want {
		t.Errorf("after Close and Open: %+v, want %+v (17 done, 17 dead, 16 retried)", st, want)
	}
}

// TestLazyJobUpdatesReadAfterDone: with LazyJobUpdates, a read that
// follows Done does not return the job as pending: delivery's refill
// would run it a second time (a duplicate without a crash).
func TestLazyJobUpdatesReadAfterDone(t *testing.T) {
	url := natstest.StartCluster(t, 1).URL()
	s := openLazy(t, connect(t, url), "LAZYREAD", t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for round := range 20 {
		var recs []store.Record
		for i := range 10 {
			recs = append(recs, store.Record{Event: store.Event{ID: fmt.Sprint("read-", round, "-", i), Name: "message:in:new", Body: []byte(`{}`)},
				Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}})
		}
		out, err := s.Accept(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range out {
			if err := s.Done(ctx, o.Jobs[0].ID, 1, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		pending, err := s.PendingPage(ctx, 100)
		if err != nil {
			t.Fatal(err)
		}
		if len(pending) != 0 {
			t.Fatalf("round %d: PendingPage right after Done returned %d jobs done (first %d), want none", round, len(pending), pending[0].ID)
		}
	}
}

// TestLazyJobUpdatesTakeRequeuedAfterDone: with LazyJobUpdates,
// TakeRequeued does not hand out a requeued job whose Done returned
// before the call. Delivery's refill can read and run a requeued job
// before the dead letters' poll takes it: the poll then queued it again
// and it ran a second time.
func TestLazyJobUpdatesTakeRequeuedAfterDone(t *testing.T) {
	url := natstest.StartCluster(t, 1).URL()
	s := openLazy(t, connect(t, url), "LAZYREQ", t.TempDir())
	defer s.Close()
	ctx := context.Background()
	for round := range 20 {
		var recs []store.Record
		for i := range 10 {
			recs = append(recs, store.Record{Event: store.Event{ID: fmt.Sprint("req-", round, "-", i), Name: "message:in:new", Body: []byte(`{}`)},
				Jobs: []store.Job{{Rule: "r", Type: "log", Params: []byte(`{}`)}}})
		}
		out, err := s.Accept(ctx, recs)
		if err != nil {
			t.Fatal(err)
		}
		var ids []int64
		for _, o := range out {
			ids = append(ids, o.Jobs[0].ID)
			if err := s.Dead(ctx, o.Jobs[0].ID, 1, "invalid", "bad"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Stats(ctx); err != nil { // the dead letters are applied
			t.Fatal(err)
		}
		if _, err := s.Requeue(ctx, ids); err != nil {
			t.Fatal(err)
		}
		for _, id := range ids {
			if err := s.Done(ctx, id, 1, "ok"); err != nil {
				t.Fatal(err)
			}
		}
		taken, err := s.TakeRequeued(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(taken) != 0 {
			t.Fatalf("round %d: TakeRequeued right after Done returned %d jobs done (first %d), want none", round, len(taken), taken[0].ID)
		}
	}
}

// TestStreamCompressed: a stream the store creates is stored compressed
// with S2 on the servers, and holds the log's commands.
func TestStreamCompressed(t *testing.T) {
	url := natstest.StartCluster(t, 1).URL()
	s := opener(url, 1)(t, t.TempDir())
	defer s.Close()
	storetest.FillMessages(t, s, 10, "C", "", time.Now())
	nc := connect(t, url)
	js, err := nc.JetStream()
	if err != nil {
		t.Fatal(err)
	}
	streams := 0
	for info := range js.StreamsInfo() {
		streams++
		if info.Config.Compression != nats.S2Compression {
			t.Errorf("stream %s: compression %v, want S2", info.Config.Name, info.Config.Compression)
		}
		if info.State.Msgs == 0 {
			t.Errorf("stream %s holds no command", info.Config.Name)
		}
	}
	if streams == 0 {
		t.Fatal("no stream")
	}
}
