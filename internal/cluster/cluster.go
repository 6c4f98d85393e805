// Package cluster runs hookd's store on NATS JetStream for a node of a
// cluster: against NATS servers of the user's (hookd serve --nats), or
// on a nats-server embedded in each hookd node, the nodes forming a
// JetStream cluster of their own (--cluster-peers).
package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/hookd/hookd/internal/natsnode"
	"github.com/hookd/hookd/store"
	jsstore "github.com/hookd/hookd/store/jetstream"
)

// Defaults of Config.
const (
	// DefaultListen is an embedded node's client address.
	DefaultListen = "127.0.0.1:4222"
	// DefaultClusterListen is an embedded node's route address.
	DefaultClusterListen = "0.0.0.0:6222"
	// DefaultReplicas is how many copies of the log a cluster keeps.
	DefaultReplicas = 3
	// nodesBucket is the key-value bucket of the nodes' announcements.
	nodesBucket = "hookd_nodes"
	// nodeTTL is how long an announcement lasts.
	nodeTTL = time.Minute
)

// Config is one node's place in a cluster.
type Config struct {
	// NATS is the URL (or comma-separated URLs) of the NATS servers to
	// use; empty with Peers runs an embedded server.
	NATS string
	// Peers are the route addresses (host:port) of every node of an
	// embedded cluster, this one included.
	Peers []string
	// Listen and ClusterListen are an embedded node's client and route
	// addresses (DefaultListen, DefaultClusterListen).
	Listen, ClusterListen string
	// Node names this node (default: the host name). It must be unique
	// and stay the same across restarts: the node's jobs are its own.
	Node string
	// Command opens the store for a hookd command (dlq, events export,
	// mute): no node name, it delivers nothing and announces nothing.
	Command bool
	// Stream names the log's stream (jetstream.DefaultStream).
	Stream string
	// Replicas is how many servers keep the log: DefaultReplicas, or
	// fewer with fewer peers.
	Replicas int
	// SyncAlways makes an embedded server write every message to the
	// disk before it counts it as stored (see docs/operations.md).
	SyncAlways bool
	// DataDir holds the embedded server's files (DataDir/nats) and the
	// node's read model (DataDir/model).
	DataDir string
	// Timeout bounds each request to the cluster (jetstream.DefaultTimeout).
	Timeout time.Duration
	// StartTimeout bounds the wait for a quorum of peers at start
	// (default 2 minutes).
	StartTimeout time.Duration
	// Logger receives the store's and the server's messages.
	Logger *slog.Logger
}

// Store is the JetStream store of a node, with what it started.
type Store struct {
	*jsstore.Store
	name  string
	nc    *nats.Conn
	node  *natsnode.Node // nil against the user's servers
	nodes jetstream.KeyValue
}

var (
	_ store.Store   = (*Store)(nil)
	_ store.Cluster = (*Store)(nil)
)

// Open starts the embedded server (with Peers), connects and opens the
// store. It waits for a quorum of the peers at most StartTimeout.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Node == "" && !cfg.Command {
		host, err := os.Hostname()
		if err != nil {
			return nil, fmt.Errorf("cluster: name this node with --node: %w", err)
		}
		cfg.Node = host
	}
	if cfg.StartTimeout <= 0 {
		cfg.StartTimeout = 2 * time.Minute
	}
	if cfg.NATS == "" && len(cfg.Peers) == 0 {
		return nil, errors.New("cluster: neither --nats nor --cluster-peers: give the NATS servers' URL, or the route addresses of the hookd nodes")
	}
	if cfg.NATS != "" && len(cfg.Peers) > 0 {
		return nil, errors.New("cluster: both --nats and --cluster-peers: use the NATS servers you run (--nats) or embedded ones (--cluster-peers), not both")
	}
	if cfg.Replicas <= 0 {
		cfg.Replicas = DefaultReplicas
		if n := len(cfg.Peers); n > 0 && n < cfg.Replicas {
			cfg.Replicas = n
		}
	}
	s := &Store{name: cfg.Node}
	url := cfg.NATS
	if url == "" {
		if err := s.startNode(ctx, cfg); err != nil {
			return nil, err
		}
		url = s.node.ClientURL()
	}
	var err error
	s.nc, err = nats.Connect(url, nats.Name("hookd "+cfg.Node), nats.MaxReconnects(-1), nats.ReconnectWait(250*time.Millisecond))
	if err != nil {
		s.closeAll()
		return nil, fmt.Errorf("cluster: connect to %s: %w: check the URL and that the servers run", Redact(url), err)
	}
	sctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	s.Store, err = openRetrying(sctx, jsstore.Options{
		Conn: s.nc, Stream: cfg.Stream, Replicas: cfg.Replicas, Node: cfg.Node,
		Dir: filepath.Join(cfg.DataDir, "model"), Timeout: cfg.Timeout, Logger: cfg.Logger,
		// A node's delivery moves on at once; a command's job outcomes
		// are shared, as they are with the SQLite store.
		LazyJobUpdates: !cfg.Command,
	}, cfg.Logger)
	if err != nil {
		s.closeAll()
		return nil, err
	}
	cfg.Logger.Info("the store's log is open", "stream", s.Store.Stream(), "node", cfg.Node)
	for {
		// One request at a time, each bounded: while a new cluster
		// settles, a request may go unanswered.
		actx, cancel := context.WithTimeout(sctx, 5*time.Second)
		s.nodes, err = s.nodesBucket(actx, cfg.Replicas)
		cancel()
		if err == nil {
			break
		}
		if sctx.Err() != nil {
			s.Close()
			return nil, err
		}
		cfg.Logger.Warn("open the nodes' bucket on NATS; trying again", "err", err)
	}
	return s, nil
}

// startNode starts the embedded server and waits for JetStream.
func (s *Store) startNode(ctx context.Context, cfg Config) error {
	listen, routeListen := cfg.Listen, cfg.ClusterListen
	if listen == "" {
		listen = DefaultListen
	}
	if routeListen == "" {
		routeListen = DefaultClusterListen
	}
	var err error
	s.node, err = natsnode.Start(ctx, natsnode.Config{
		Name: cfg.Node, Dir: filepath.Join(cfg.DataDir, "nats"), Listen: listen,
		ClusterListen: routeListen, Routes: cfg.Peers, SyncAlways: cfg.SyncAlways,
		Logger: cfg.Logger.With("component", "nats"),
	})
	if errors.Is(err, natsnode.ErrPortInUse) {
		return fmt.Errorf("cluster: %w (the client address is --nats-listen, the route address --cluster-listen)", err)
	}
	if err != nil {
		return fmt.Errorf("cluster: %w", err)
	}
	wctx, cancel := context.WithTimeout(ctx, cfg.StartTimeout)
	defer cancel()
	cfg.Logger.Info("waiting for a quorum of the cluster's nodes", "node", cfg.Node, "peers", strings.Join(cfg.Peers, ","))
	for {
		actx, acancel := context.WithTimeout(wctx, 10*time.Second)
		err = s.node.WaitJetStream(actx)
		acancel()
		if err == nil {
			break
		}
		if wctx.Err() != nil {
			s.node.Shutdown()
			return fmt.Errorf("cluster: %w", err)
		}
		cfg.Logger.Warn("still waiting for a quorum of the cluster's nodes", "node", cfg.Node, "err", err)
	}
	cfg.Logger.Info("JetStream is ready", "node", cfg.Node)
	return nil
}

// errReplicasNotClustered is JetStream's error code for a stream of more
// than one replica on a server that is not clustered.
const errReplicasNotClustered jetstream.ErrorCode = 10074

// openRetrying opens the store, trying again while the cluster elects
// its leaders after a start.
func openRetrying(ctx context.Context, opts jsstore.Options, log *slog.Logger) (*jsstore.Store, error) {
	for {
		st, err := jsstore.Open(ctx, opts)
		if err == nil || ctx.Err() != nil {
			return st, err
		}
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && apiErr.ErrorCode == errReplicasNotClustered {
			// Trying again cannot help: the servers are one, not a cluster.
			return nil, fmt.Errorf("cluster: %w: the NATS server is not clustered; pass --replicas 1 to keep one copy of the log on it", err)
		}
		log.Warn("open the store on NATS; trying again", "err", err)
		t := time.NewTimer(time.Second)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, err
		case <-t.C:
		}
	}
}

// nodesBucket opens (or creates) the bucket of the nodes' announcements.
func (s *Store) nodesBucket(ctx context.Context, replicas int) (jetstream.KeyValue, error) {
	js, err := jetstream.New(s.nc)
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	if kv, err := js.KeyValue(ctx, nodesBucket); err == nil {
		return kv, nil
	}
	kv, err := js.CreateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket: nodesBucket, Description: "hookd nodes and the rules they run", TTL: nodeTTL, Replicas: replicas, Storage: jetstream.FileStorage,
	})
	if errors.Is(err, jetstream.ErrBucketExists) {
		return js.KeyValue(ctx, nodesBucket)
	}
	if err != nil {
		return nil, fmt.Errorf("cluster: create the bucket %s: %w", nodesBucket, err)
	}
	return kv, nil
}

// Node is this node's name.
func (s *Store) Node() string { return s.name }

// Announce records this node's info for the other nodes.
func (s *Store) Announce(ctx context.Context, info store.NodeInfo) error {
	info.Name = s.name
	data, err := json.Marshal(info)
	if err != nil {
		return err
	}
	if _, err := s.nodes.Put(ctx, nodeKey(s.name), data); err != nil {
		return fmt.Errorf("cluster: announce node %s: %w", s.name, err)
	}
	return nil
}

// Nodes lists the nodes that announced themselves lately, by name.
func (s *Store) Nodes(ctx context.Context) ([]store.NodeInfo, error) {
	lister, err := s.nodes.ListKeys(ctx)
	if err != nil {
		return nil, fmt.Errorf("cluster: list nodes: %w", err)
	}
	var out []store.NodeInfo
	for k := range lister.Keys() {
		e, err := s.nodes.Get(ctx, k)
		if err != nil {
			continue // expired meanwhile
		}
		var info store.NodeInfo
		if json.Unmarshal(e.Value(), &info) == nil {
			out = append(out, info)
		}
	}
	slices.SortFunc(out, func(a, b store.NodeInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// nodeKey encodes a node name as a key (keys allow [-_=.a-zA-Z0-9/]).
func nodeKey(name string) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '-', r == '_':
			b.WriteRune(r)
		default:
			fmt.Fprintf(&b, "=%x", r)
		}
	}
	return b.String()
}

// Close closes the store, the connection and the embedded server.
func (s *Store) Close() error {
	var err error
	if s.Store != nil {
		err = s.Store.Close()
	}
	s.closeAll()
	return err
}

// closeAll closes the connection and stops the embedded server.
func (s *Store) closeAll() {
	if s.nc != nil {
		s.nc.Close()
	}
	if s.node != nil {
		s.node.Shutdown()
	}
}

// Redact drops user and password from URLs.
func Redact(urls string) string {
	parts := strings.Split(urls, ",")
	for i, p := range parts {
		if at := strings.LastIndex(p, "@"); at >= 0 {
			if scheme := strings.Index(p, "://"); scheme >= 0 && scheme < at {
				parts[i] = p[:scheme+3] + "***" + p[at:]
			}
		}
	}
	return strings.Join(parts, ",")
}
