package natstest_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go/jetstream"
)

// ctxTimeout is t.Context with a deadline.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

// stream is a test stream: message i is "m<i>" with the message id
// "id-<i>", so a publish retried after an unknown outcome is stored once.
type stream struct {
	t    *testing.T
	js   jetstream.JetStream
	name string
	sent int // messages acknowledged so far
}

// newStream creates a file stream of the given replicas.
func newStream(ctx context.Context, t *testing.T, js jetstream.JetStream, replicas int) *stream {
	t.Helper()
	name := fmt.Sprintf("R%d", replicas)
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{
		Name: name, Subjects: []string{name}, Replicas: replicas, Storage: jetstream.FileStorage,
	}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	return &stream{t: t, js: js, name: name}
}

// publish publishes message s.sent once.
func (s *stream) publish(ctx context.Context) error {
	i := s.sent
	_, err := s.js.Publish(ctx, s.name, fmt.Appendf(nil, "m%d", i), jetstream.WithMsgID(fmt.Sprintf("id-%d", i)))
	if err == nil {
		s.sent++
	}
	return err
}

// publishEventually publishes count messages, retrying each until it is
// acknowledged or ctx ends (a stream may be electing a leader). Each
// attempt has a deadline of its own: a request sent to a node that then
// stops is never answered, and would wait for all of ctx.
func (s *stream) publishEventually(ctx context.Context, count int) {
	s.t.Helper()
	for range count {
		var errs []error
		for {
			actx, cancel := context.WithTimeout(ctx, 2*time.Second)
			err := s.publish(actx)
			cancel()
			if err == nil {
				break
			}
			if len(errs) == 0 || errs[len(errs)-1].Error() != err.Error() {
				errs = append(errs, err)
			}
			select {
			case <-ctx.Done():
				s.t.Fatalf("publish message %d: %v", s.sent, errors.Join(errs...))
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// info is the stream and what its leader says of it.
func (s *stream) info(ctx context.Context) (jetstream.Stream, *jetstream.StreamInfo) {
	s.t.Helper()
	st, err := s.js.Stream(ctx, s.name)
	if err != nil {
		s.t.Fatal(err)
	}
	info, err := st.Info(ctx)
	if err != nil {
		s.t.Fatal(err)
	}
	return st, info
}

// check reads the stream and fails unless it holds exactly the messages
// acknowledged so far, in order.
func (s *stream) check(ctx context.Context) {
	s.t.Helper()
	st, info := s.info(ctx)
	if info.State.Msgs != uint64(s.sent) {
		s.t.Fatalf("stream %s holds %d messages, want %d", s.name, info.State.Msgs, s.sent)
	}
	for i := range s.sent {
		m, err := st.GetMsg(ctx, uint64(i+1))
		if err != nil {
			s.t.Fatalf("message %d: %v", i+1, err)
		}
		if got, want := string(m.Data), fmt.Sprintf("m%d", i); got != want {
			s.t.Fatalf("message %d is %q, want %q", i+1, got, want)
		}
	}
}

func TestClusterLosesANodeThenTheQuorum(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	ctx := ctxTimeout(t, 25*time.Second)
	js := natstest.Connect(t, c.URL())
	s := newStream(ctx, t, js, 3)
	s.publishEventually(ctx, 5)

	// The stream's leader stops: another replica takes over.
	stopped := s.leader(ctx, c)
	began := time.Now()
	c.Stop(stopped)
	s.publishEventually(ctx, 5)
	t.Logf("stream leader n%d stopped: five publishes took %v", stopped, time.Since(began).Round(time.Millisecond))

	// The other follower stops: the leader alone cannot commit. It keeps
	// its leadership for some 20 s (then publishes fail at once with
	// jetstream.ErrNoStreamResponse): a publish fails at its deadline.
	leader := s.leader(ctx, c)
	c.Stop(3 - stopped - leader)
	pctx, cancel := context.WithTimeout(ctx, time.Second)
	began = time.Now()
	err := s.publish(pctx)
	cancel()
	took := time.Since(began)
	if !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, jetstream.ErrNoStreamResponse) {
		t.Fatalf("publish to a leader without a quorum: %v, want the context's deadline", err)
	}
	if took > 2*time.Second {
		t.Errorf("publish without a quorum took %v to fail", took)
	}
	// The leader holds the message, uncommitted: a retry under the same
	// message id is refused at once as in process.
	err = s.publish(ctx)
	var apiErr *jetstream.APIError
	if !errors.As(err, &apiErr) || apiErr.ErrorCode != jetstream.ErrorCode(server.JSStreamDuplicateMessageConflict) {
		if !errors.Is(err, jetstream.ErrNoStreamResponse) {
			t.Fatalf("retry without a quorum: %v, want duplicate message id in process", err)
		}
	}

	// Back to three: the failed message is published again under its id
	// (committed or not meanwhile, it is stored once), and nothing is lost.
	for i := range 3 {
		if c.Node(i) == nil {
			began = time.Now()
			c.Restart(i)
			t.Logf("restart of n%d took %v", i, time.Since(began).Round(time.Millisecond))
		}
	}
	began = time.Now()
	s.publishEventually(ctx, 5)
	t.Logf("five publishes after the restarts took %v", time.Since(began).Round(time.Millisecond))
	s.check(ctx)
	for i, url := range c.URLs() {
		if got := c.Node(i).ClientURL(); got != url {
			t.Errorf("node %d listens at %s after restarts, want %s", i, got, url)
		}
	}
}

// leader is the index in c of the stream's leader.
func (s *stream) leader(ctx context.Context, c *natstest.Cluster) int {
	s.t.Helper()
	_, info := s.info(ctx)
	for i := range c.URLs() {
		if n := c.Node(i); n != nil && info.Cluster != nil && n.Server().Name() == info.Cluster.Leader {
			return i
		}
	}
	s.t.Fatalf("stream %s has no leader among the running nodes: %+v", s.name, info.Cluster)
	return -1
}

func TestRestartedNodeKeepsItsReplica(t *testing.T) {
	t.Parallel()
	c := natstest.StartCluster(t, 3)
	ctx := ctxTimeout(t, 25*time.Second)
	s := newStream(ctx, t, natstest.Connect(t, c.URL()), 3)
	s.publishEventually(ctx, 10)
	// An acknowledged message is on a majority of the replicas: node 0's
	// may lag behind a moment.
	want := uint64(s.sent)
	waitFor(ctx, t, func() error { return localMsgs(c.Node(0).Server(), s.name, want) })

	for i := range 3 {
		c.Stop(i)
	}
	// Alone, node 0 cannot answer for the stream, but has its replica.
	c.Restart(0)
	if err := localMsgs(c.Node(0).Server(), s.name, want); err != nil {
		t.Fatalf("after a restart: %v", err)
	}
	c.Restart(1)
	s.publishEventually(ctx, 1)
	s.check(ctx)
}

// localMsgs checks that the replica of stream that srv holds has want
// messages, per its own store.
func localMsgs(srv *server.Server, stream string, want uint64) error {
	info, err := srv.Jsz(&server.JSzOptions{Accounts: true, Streams: true})
	if err != nil {
		return err
	}
	for _, acc := range info.AccountDetails {
		for _, st := range acc.Streams {
			if st.Name != stream {
				continue
			}
			if st.State.Msgs != want {
				return fmt.Errorf("server %s: stream %s holds %d messages, want %d", srv.Name(), stream, st.State.Msgs, want)
			}
			return nil
		}
	}
	return fmt.Errorf("server %s holds no stream %s", srv.Name(), stream)
}

// waitFor calls cond until it returns nil, and fails the test with its
// last error if ctx ends first.
func waitFor(ctx context.Context, t *testing.T, cond func() error) {
	t.Helper()
	for {
		err := cond()
		if err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatal(err)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestSingleNodeRestartKeepsMessages(t *testing.T) {
	c := natstest.StartCluster(t, 1)
	if c.Node(0).ClusterAddr() != "" || c.Node(0).Server().JetStreamIsClustered() {
		t.Fatal("a single node is clustered")
	}
	ctx := ctxTimeout(t, 20*time.Second)
	js := natstest.Connect(t, c.URL())
	s := newStream(ctx, t, js, 1)
	s.publishEventually(ctx, 10)
	url := c.URL()

	c.Restart(0)
	if c.URL() != url || c.Node(0).ClientURL() != url {
		t.Fatalf("restarted at %s, was %s", c.Node(0).ClientURL(), url)
	}
	s.publishEventually(ctx, 1)
	s.check(ctx)
}

func TestFreePorts(t *testing.T) {
	ports := natstest.FreePorts(t, 20)
	if len(ports) != 20 {
		t.Fatalf("%d ports", len(ports))
	}
	sorted := slices.Sorted(slices.Values(ports))
	if len(slices.Compact(sorted)) != 20 {
		t.Errorf("ports repeat: %v", ports)
	}
	for _, p := range ports {
		if p < 1024 || p >= 32768 {
			t.Errorf("port %d: want one below the ephemeral ranges", p)
		}
	}
}
