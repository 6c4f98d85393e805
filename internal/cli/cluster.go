package cli

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natsnode"
	"github.com/hookd/hookd/store"
	jsstore "github.com/hookd/hookd/store/jetstream"
)

// clusterFlags are the flags that put a node (or a command) on a
// cluster's store instead of the SQLite file of the data folder.
type clusterFlags struct {
	nats, stream                       string
	peers, listen, clusterListen, node string
	replicas                           int
}

// addClusterFlags adds --nats and --stream, and with serve the flags of
// an embedded cluster.
func addClusterFlags(fs *flag.FlagSet, serve bool) *clusterFlags {
	c := &clusterFlags{}
	fs.StringVar(&c.nats, "nats", "", "URL(s) of the NATS servers (JetStream) holding the cluster's store, e.g. nats://10.0.0.1:4222,nats://10.0.0.2:4222; on a node of an embedded cluster: nats://127.0.0.1:4222")
	fs.StringVar(&c.stream, "stream", jsstore.DefaultStream, "JetStream stream of the cluster's store (with --nats or --cluster-peers)")
	if !serve {
		return c
	}
	fs.StringVar(&c.peers, "cluster-peers", "", "run an embedded NATS server and form a JetStream cluster with these nodes: comma-separated route addresses host:port of every node, this one included")
	fs.StringVar(&c.clusterListen, "cluster-listen", cluster.DefaultClusterListen, "route address of this node's embedded NATS server (with --cluster-peers)")
	fs.StringVar(&c.listen, "nats-listen", cluster.DefaultListen, "client address of this node's embedded NATS server (with --cluster-peers)")
	fs.StringVar(&c.node, "node", "", "this node's name, unique in the cluster and the same across restarts (default: the host name)")
	fs.IntVar(&c.replicas, "replicas", cluster.DefaultReplicas, "servers keeping a copy of the store (with fewer --cluster-peers, as many as there are)")
	return c
}

// enabled reports whether the flags ask for a cluster.
func (c *clusterFlags) enabled() bool { return c.nats != "" || c.peers != "" }

// where names the store the flags point at, for messages: "in DIR" or
// "on the cluster at URL", and the flag that selects it.
func (c *clusterFlags) where(dir string) (in, flag string) {
	if c.enabled() {
		url := cluster.Redact(c.nats)
		return "on the cluster at " + url, "--nats " + url
	}
	return "in " + dir, "--data " + dir
}

// config is the cluster configuration of a node with data folder dir.
// An embedded server writes each message to the disk before it counts
// as stored with --sync full (the default), as the SQLite store does;
// with --sync normal it uses NATS's default (every two minutes).
func (c *clusterFlags) config(dir, sync string, log *slog.Logger) cluster.Config {
	cfg := cluster.Config{
		NATS: c.nats, Listen: c.listen, ClusterListen: c.clusterListen, Node: c.node,
		Stream: c.stream, Replicas: c.replicas, SyncAlways: sync != "normal", DataDir: dir, Logger: log,
	}
	if c.peers != "" {
		cfg.Peers = strings.Split(c.peers, ",")
	}
	return cfg
}

// openClusterStore opens the cluster's store for a hookd command: it
// delivers nothing, and its read model lives in a temporary folder.
func openClusterStore(c *clusterFlags) (store.Store, func(), error) {
	tmp, err := os.MkdirTemp("", "hookd-model-")
	if err != nil {
		return nil, nil, err
	}
	quiet := slog.New(slog.DiscardHandler)
	st, err := cluster.Open(context.Background(), cluster.Config{NATS: c.nats, Stream: c.stream, Command: true, DataDir: tmp, Logger: quiet})
	if err != nil {
		os.RemoveAll(tmp)
		return nil, nil, err
	}
	return st, func() { st.Close(); os.RemoveAll(tmp) }, nil
}

// checkPeers reports a --cluster-peers entry that is no route address,
// before anything is started.
func (c *clusterFlags) checkPeers() error {
	if c.peers == "" {
		return nil
	}
	for _, p := range strings.Split(c.peers, ",") {
		if err := natsnode.CheckRoute(p); err != nil {
			return fmt.Errorf("--cluster-peers: %q is not a route address (%v): list the --cluster-listen address (host:port) of every node, this one included, separated by commas, e.g. 10.0.0.1:6222,10.0.0.2:6222,10.0.0.3:6222", p, err)
		}
	}
	return nil
}
