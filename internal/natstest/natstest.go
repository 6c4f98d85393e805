// Package natstest runs NATS JetStream servers in process for tests: one
// node, or a cluster of n on loopback whose nodes can be stopped and
// restarted with their names, folders and ports, to test what a store
// does when a node or the quorum is lost. Import it from tests only.
package natstest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/natsnode"
	"github.com/hookd/hookd/internal/syncbuf"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Timeout bounds each wait of StartCluster and Restart: for the nodes to
// listen, and for JetStream to elect a meta leader and catch up.
const Timeout = 30 * time.Second

// Cluster is n embedded NATS servers with JetStream; clustered when n > 1.
// Node i is named "n<i>" and keeps its folder and its client and route
// ports for the whole test, so a restarted node rejoins and clients find
// it at the same URL. Restart fails the test, so call it from the test's
// goroutine, and not while another call stops or restarts the same
// node; the other methods are safe for concurrent use.
type Cluster struct {
	t    testing.TB
	cfgs []natsnode.Config // node i's config; fixed once started
	urls []string          // node i's client URL
	log  syncbuf.Buffer    // all nodes' log lines, shown when the test fails

	mu    sync.Mutex
	nodes []*natsnode.Node // guarded by mu; nil while node i is stopped
}

// StartCluster starts n nodes on loopback, each with its own t.TempDir()
// folder, and waits until JetStream is ready: alone for n = 1; clustered,
// until a meta leader knows all n nodes (so n >= 3 allows Replicas 3).
// The nodes shut down when the test ends; their log is shown if it
// failed.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	if n < 1 {
		t.Fatalf("natstest: StartCluster with %d nodes: want at least 1", n)
	}
	c := &Cluster{t: t, nodes: make([]*natsnode.Node, n)}
	root := t.TempDir()
	// After TempDir: cleanups run last first, and the folders must
	// outlive the nodes.
	t.Cleanup(c.shutdown)
	// A port found free may be taken before the node binds it: then try
	// again with other ports, and new folders.
	for attempt := 1; ; attempt++ {
		c.configure(filepath.Join(root, strconv.Itoa(attempt)), n, FreePorts(t, 2*n))
		err := c.startAll()
		if err == nil {
			break
		}
		c.stopAll()
		if !errors.Is(err, natsnode.ErrPortInUse) || attempt == 3 {
			t.Fatalf("natstest: start %d nodes: %v", n, err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), Timeout)
	defer cancel()
	if err := c.waitReady(ctx); err != nil {
		t.Fatalf("natstest: %d nodes started: %v", n, err)
	}
	return c
}

// configure sets the configs of n nodes: node i's folder is dir/n<i>, its
// client port ports[i], its route port ports[n+i].
func (c *Cluster) configure(dir string, n int, ports []int) {
	addr := func(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }
	var routes []string
	if n > 1 {
		for i := range n {
			routes = append(routes, addr(ports[n+i]))
		}
	}
	c.cfgs = make([]natsnode.Config, n)
	c.urls = make([]string, n)
	for i := range n {
		name := fmt.Sprintf("n%d", i)
		cfg := natsnode.Config{
			Name:   name,
			Dir:    filepath.Join(dir, name),
			Listen: addr(ports[i]),
			Routes: routes,
			Logger: slog.New(slog.NewTextHandler(&c.log, nil)).With("node", name),
		}
		if n > 1 {
			cfg.ClusterListen = routes[i]
		}
		c.cfgs[i] = cfg
		c.urls[i] = "nats://" + cfg.Listen
	}
}

// startAll starts every node.
func (c *Cluster) startAll() error {
	ctx, cancel := context.WithTimeout(c.t.Context(), Timeout)
	defer cancel()
	for i, cfg := range c.cfgs {
		n, err := natsnode.Start(ctx, cfg)
		if err != nil {
			return err
		}
		c.mu.Lock()
		c.nodes[i] = n
		c.mu.Unlock()
	}
	return nil
}

// running is the nodes that run.
func (c *Cluster) running() []*natsnode.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	var run []*natsnode.Node
	for _, n := range c.nodes {
		if n != nil {
			run = append(run, n)
		}
	}
	return run
}

// waitReady waits until JetStream answers on every running node and, when
// clustered, the meta leader counts every running node as a peer.
func (c *Cluster) waitReady(ctx context.Context) error {
	run := c.running()
	for _, n := range run {
		if err := n.WaitJetStream(ctx); err != nil {
			return err
		}
	}
	if len(c.cfgs) == 1 {
		return nil
	}
	return waitFor(ctx, func() error {
		for _, n := range run {
			if s := n.Server(); s.JetStreamIsLeader() {
				if peers := s.JetStreamClusterPeers(); len(peers) != len(run) {
					return fmt.Errorf("meta leader %s knows peers %v of %d running nodes", s.Name(), peers, len(run))
				}
				return nil
			}
		}
		return errors.New("no meta leader")
	})
}

// URLs are the nodes' client URLs, node i's at i; they stay the same when
// a node restarts.
func (c *Cluster) URLs() []string { return append([]string(nil), c.urls...) }

// URL is all nodes' client URLs joined with commas, for nats.Connect: a
// client reconnects to another node when its node stops.
func (c *Cluster) URL() string { return strings.Join(c.urls, ",") }

// Node is node i, nil while it is stopped.
func (c *Cluster) Node(i int) *natsnode.Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.nodes[i]
}

// Stop shuts node i down gracefully and waits until it stopped; its
// folder keeps what it stored. Stopping a stopped node does nothing.
func (c *Cluster) Stop(i int) {
	c.mu.Lock()
	n := c.nodes[i]
	c.nodes[i] = nil
	c.mu.Unlock()
	if n != nil {
		n.Shutdown()
	}
}

// Restart starts node i again, stopping it first if it runs, with its
// name, folder and ports. It waits until the node listens and, when a
// majority of the cluster's nodes then run (or it runs alone), until it
// rejoined: JetStream answers on it and every stream and consumer
// replica it holds has caught up (natsnode.Node.Health). Without a
// majority it only waits until the node listens: JetStream cannot answer
// before more nodes run.
func (c *Cluster) Restart(i int) {
	c.t.Helper()
	c.Stop(i)
	ctx, cancel := context.WithTimeout(c.t.Context(), Timeout)
	defer cancel()
	n, err := natsnode.Start(ctx, c.cfgs[i])
	if err != nil {
		c.t.Fatalf("natstest: restart node %d: %v", i, err)
	}
	c.mu.Lock()
	c.nodes[i] = n
	c.mu.Unlock()
	if len(c.running()) <= len(c.cfgs)/2 {
		return
	}
	if err := n.WaitJetStream(ctx); err != nil {
		c.t.Fatalf("natstest: restart node %d: %v", i, err)
	}
	if err := waitFor(ctx, n.Health); err != nil {
		c.t.Fatalf("natstest: restart node %d: not caught up: %v", i, err)
	}
}

// Connect connects a JetStream client to url (a node's, or URL) and
// closes it when the test ends; js.Conn() is its connection. It
// reconnects at once, and for ever, when its node stops.
func Connect(t testing.TB, url string) jetstream.JetStream {
	t.Helper()
	nc, err := nats.Connect(url, nats.MaxReconnects(-1), nats.ReconnectWait(50*time.Millisecond))
	if err != nil {
		t.Fatalf("natstest: connect to %s: %v", url, err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatalf("natstest: JetStream client: %v", err)
	}
	return js
}

// stopAll stops every node, all at once.
func (c *Cluster) stopAll() {
	var wg sync.WaitGroup
	for i := range c.nodes {
		wg.Go(func() { c.Stop(i) })
	}
	wg.Wait()
}

// shutdown stops the nodes at the end of the test and shows their log
// if it failed.
func (c *Cluster) shutdown() {
	c.stopAll()
	if c.t.Failed() {
		c.t.Logf("natstest: the nodes' log:\n%s", c.log.String())
	}
}

// waitFor calls cond until it returns nil, failing with its last error
// when ctx ends.
func waitFor(ctx context.Context, cond func() error) error {
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		err := cond()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: %w", err, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// Free ports are looked for in [portMin, portMax]: below the ephemeral
// ranges of Linux (from 32768), macOS, the BSDs and Windows (from 49152),
// so that a port reserved for a stopped node is not handed to some
// outgoing connection meanwhile.
const (
	portMin = 20000
	portMax = 32767
)

// FreePorts returns n distinct TCP ports that were free on 127.0.0.1 a
// moment ago, for servers that must keep their ports across restarts.
// Another process may still take one before it is bound: a server that
// fails with natsnode.ErrPortInUse can be started again on other ports.
func FreePorts(t testing.TB, n int) []int {
	t.Helper()
	seen := make(map[int]bool, n)
	ports := make([]int, 0, n)
	for tries := 0; len(ports) < n; tries++ {
		if tries == 100*n {
			t.Fatalf("natstest: found %d of %d free ports in %d-%d", len(ports), n, portMin, portMax)
		}
		p := portMin + rand.IntN(portMax-portMin+1)
		if seen[p] {
			continue
		}
		seen[p] = true
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
		if err != nil {
			continue
		}
		l.Close()
		ports = append(ports, p)
	}
	return ports
}
