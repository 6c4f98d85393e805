// Package natsnode runs an embedded NATS server with JetStream inside a
// hookd node: alone, or as one server of a cluster whose other servers
// run in the other hookd nodes. The store (store/jetstream) connects to
// it like to any NATS server, through ClientURL.
//
// A node owns its JetStream folder (Config.Dir): Start locks it, so a
// second node, in this process or another, cannot use it at the same
// time. Clustered, every node lists the others' route addresses in
// Config.Routes; JetStream answers once a majority of the nodes are
// running and one of them is elected meta leader (WaitJetStream), and a
// stream of Replicas 3 takes writes while two of its three servers run.
//
// Durability: by default nats-server flushes JetStream's files to the
// disk every two minutes (its sync_interval); a write acknowledged to a
// client survives the crash of the process, and, in a cluster, of a
// minority of the machines, but a single server's machine losing power
// may lose up to two minutes of acknowledged writes. Config.SyncAlways
// makes every write reach the disk before it is acknowledged, at a cost
// in throughput.
package natsnode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hookd/hookd/internal/dirlock"
	"github.com/nats-io/nats-server/v2/server"
)

// Defaults of Config's empty fields.
const (
	DefaultListen       = "127.0.0.1:-1"
	DefaultClusterName  = "hookd"
	DefaultStartTimeout = 30 * time.Second
)

// ErrPortInUse says another process (or node) listens on an address a
// node was told to listen on.
var ErrPortInUse = errors.New("address already in use")

// Config is one node's NATS server.
type Config struct {
	// Name is the server's name, unique in the cluster; JetStream knows
	// its replicas by it, so a node must keep its name across restarts.
	// Required when clustered.
	Name string
	// Dir is the folder of JetStream's files (e.g. <data folder>/nats),
	// created if missing. Required.
	Dir string
	// Listen is the client address, host:port; port -1 or 0 picks a free
	// port (see ClientURL). Default DefaultListen.
	Listen string
	// ClusterName names the cluster; all its nodes must agree. Default
	// DefaultClusterName.
	ClusterName string
	// ClusterListen is the route address, host:port (port -1 or 0 picks
	// one, see ClusterAddr). Empty runs a single server, no cluster.
	ClusterListen string
	// Routes are the other nodes' route addresses, host:port (or
	// nats-route:// URLs); required when clustered. The node's own
	// address may be among them: every node can be given the same list.
	Routes []string
	// SyncAlways flushes JetStream's files to the disk on every write
	// (sync_interval "always"); off, nats-server flushes them every two
	// minutes (see the package comment).
	SyncAlways bool
	// Logger receives nats-server's log lines: notices at info, warnings,
	// errors, debug lines, and trace lines at slog.LevelDebug-4. Debug and
	// trace are turned on in nats-server only when the logger is enabled
	// for them. Nil discards the log.
	Logger *slog.Logger
	// StartTimeout bounds Start's wait for the server to listen (which
	// includes recovering JetStream's files). Default DefaultStartTimeout.
	StartTimeout time.Duration
}

// Node is a running embedded NATS server. Its methods are safe for
// concurrent use.
type Node struct {
	s           *server.Server
	name        string // for errors
	clientURL   string
	clusterAddr string
	lock        *dirlock.Lock
	started     chan struct{} // closed when server.Start returned
	stopOnce    sync.Once
}

// Start starts a node and waits until it listens for clients and, when
// clustered, for routes. It does not wait for JetStream's cluster to
// elect a leader: see WaitJetStream. It fails when ctx ends, when
// Config.StartTimeout passes, or when nats-server reports a fatal error
// (a port in use, a JetStream folder it cannot use); the error says which.
func Start(ctx context.Context, cfg Config) (*Node, error) {
	name := "natsnode"
	if cfg.Name != "" {
		name = fmt.Sprintf("natsnode %q", cfg.Name)
	}
	if err := context.Cause(ctx); err != nil {
		return nil, fmt.Errorf("%s: not started: %w", name, err)
	}
	opts, err := cfg.options()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	lock, err := dirlock.Take(cfg.Dir)
	if errors.Is(err, dirlock.ErrLocked) {
		return nil, fmt.Errorf("%s: JetStream folder %s: %w (or another node in this one): give each node a folder of its own", name, cfg.Dir, dirlock.ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: JetStream folder %s: %w: make it a folder the user running hookd can write to", name, cfg.Dir, err)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		lock.Release()
		return nil, fmt.Errorf("%s: configure nats-server: %w", name, err)
	}
	log := newLogAdapter(cfg.Logger)
	bg := context.Background()
	s.SetLoggerV2(log, log.l.Enabled(bg, slog.LevelDebug), log.l.Enabled(bg, levelTrace), false)

	n := &Node{s: s, name: name, lock: lock, started: make(chan struct{})}
	go func() {
		defer close(n.started)
		s.Start()
	}()

	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = DefaultStartTimeout
	}
	ctx, cancel := context.WithTimeoutCause(ctx, timeout,
		fmt.Errorf("%w: StartTimeout %v passed", context.DeadlineExceeded, timeout))
	defer cancel()
	if err := n.waitListening(ctx, log.fatal, opts); err != nil {
		n.abort()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return n, nil
}

// options turns cfg into nats-server's options.
func (cfg Config) options() (*server.Options, error) {
	if cfg.Dir == "" {
		return nil, errors.New("no JetStream folder: set Dir")
	}
	listen := cfg.Listen
	if listen == "" {
		listen = DefaultListen
	}
	host, port, err := hostPort(listen)
	if err != nil {
		return nil, fmt.Errorf("client address (Listen): %w", err)
	}
	opts := &server.Options{
		ServerName: cfg.Name,
		Host:       host,
		Port:       port,
		JetStream:  true,
		StoreDir:   cfg.Dir,
		SyncAlways: cfg.SyncAlways,
		// The process's signals belong to hookd, not to nats-server.
		NoSigs: true,
	}
	if cfg.ClusterListen == "" {
		if len(cfg.Routes) > 0 {
			return nil, errors.New("routes without a route address: set ClusterListen to cluster, or drop Routes")
		}
		return opts, nil
	}
	if cfg.Name == "" {
		return nil, errors.New("clustered without a name: set Name, unique in the cluster and kept across restarts")
	}
	if len(cfg.Routes) == 0 {
		return nil, errors.New("clustered without routes: set Routes to the cluster's route addresses (this node's own may be among them)")
	}
	opts.Cluster.Name = cfg.ClusterName
	if opts.Cluster.Name == "" {
		opts.Cluster.Name = DefaultClusterName
	}
	if opts.Cluster.Host, opts.Cluster.Port, err = hostPort(cfg.ClusterListen); err != nil {
		return nil, fmt.Errorf("route address (ClusterListen): %w", err)
	}
	for _, r := range cfg.Routes {
		u, err := routeURL(r)
		if err != nil {
			return nil, fmt.Errorf("route %q: %w", r, err)
		}
		opts.Routes = append(opts.Routes, u)
	}
	return opts, nil
}

// hostPort splits host:port, port -1 or 0 meaning any free port.
func hostPort(addr string) (string, int, error) {
	host, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, err
	}
	port, err := strconv.Atoi(p)
	if err != nil || port < -1 || port > 65535 {
		return "", 0, fmt.Errorf("%s: port %q is not a number from 1 to 65535 (or -1 for any free port)", addr, p)
	}
	if port == 0 {
		port = server.RANDOM_PORT
	}
	return host, port, nil
}

// routeURL makes a route URL of host:port or checks a nats-route URL.
// CheckRoute reports whether r is a route address Config.Routes takes:
// host:port, or nats-route://host:port.
func CheckRoute(r string) error {
	_, err := routeURL(r)
	return err
}

func routeURL(r string) (*url.URL, error) {
	if !strings.Contains(r, "://") {
		if _, _, err := net.SplitHostPort(r); err != nil {
			return nil, err
		}
		return &url.URL{Scheme: "nats-route", Host: r}, nil
	}
	u, err := url.Parse(r)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "nats-route" || u.Port() == "" {
		return nil, errors.New("want host:port or nats-route://host:port")
	}
	return u, nil
}

// waitListening waits until the server listens for clients (and routes,
// clustered), a fatal error, or the end of ctx. Server.Start returns once
// JetStream is enabled and the client listener is open; the route
// listener opens in a goroutine of its own.
func (n *Node) waitListening(ctx context.Context, fatal <-chan error, opts *server.Options) error {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-fatal:
			return startError(err, opts)
		case <-ctx.Done():
			return fmt.Errorf("nats-server did not start in the time given (recovering a large JetStream folder?): %w", context.Cause(ctx))
		case <-tick.C:
		}
		select {
		case <-n.started:
		default:
			continue
		}
		addr, _ := n.s.Addr().(*net.TCPAddr)
		route := n.s.ClusterAddr()
		if addr == nil || (opts.Cluster.Port != 0 && route == nil) {
			continue
		}
		n.clientURL = (&url.URL{Scheme: "nats", Host: net.JoinHostPort(dialHost(addr.IP), strconv.Itoa(addr.Port))}).String()
		if route != nil {
			n.clusterAddr = net.JoinHostPort(dialHost(route.IP), strconv.Itoa(route.Port))
		}
		return nil
	}
}

// dialHost is the host to dial for a listener bound to ip: loopback for
// an unspecified address (all interfaces).
func dialHost(ip net.IP) string {
	switch {
	case ip == nil || ip.Equal(net.IPv4zero):
		return "127.0.0.1"
	case ip.Equal(net.IPv6unspecified):
		return "::1"
	}
	return ip.String()
}

// startError says what a fatal error at start means and what to do.
func startError(err error, opts *server.Options) error {
	var op *net.OpError
	if errors.Is(err, syscall.EADDRINUSE) && errors.As(err, &op) {
		what, hp := "client", net.JoinHostPort(opts.Host, strconv.Itoa(opts.Port))
		if a, ok := op.Addr.(*net.TCPAddr); ok && opts.Cluster.Port != 0 && a.Port == opts.Cluster.Port {
			what, hp = "route", net.JoinHostPort(opts.Cluster.Host, strconv.Itoa(opts.Cluster.Port))
		}
		return fmt.Errorf("%s address %s: %w: stop the process that listens there or choose another port", what, hp, ErrPortInUse)
	}
	return fmt.Errorf("nats-server failed to start: %w", err)
}

// abort stops a server that failed to start.
func (n *Node) abort() {
	n.s.Shutdown()
	n.s.WaitForShutdown()
	// Start may still be recovering JetStream's files: the folder stays
	// locked until it returns.
	go func() {
		<-n.started
		n.lock.Release()
	}()
}

// ClientURL is the URL clients connect to, nats://host:port with the port
// actually bound (loopback when listening on all interfaces).
func (n *Node) ClientURL() string { return n.clientURL }

// ClusterAddr is the route address actually bound, host:port (loopback
// when listening on all interfaces); empty when not clustered.
func (n *Node) ClusterAddr() string { return n.clusterAddr }

// Server is the embedded nats-server, for inspection (Jsz, Healthz,
// JetStreamIsLeader). Stop it with Shutdown, not through it.
func (n *Node) Server() *server.Server { return n.s }

// WaitJetStream waits until JetStream answers on this node: alone, at
// once; clustered, once a meta leader is elected and this node has caught
// up with it, which needs a majority of the cluster's nodes running and
// routed to each other. It fails when ctx ends first, saying what was
// missing.
func (n *Node) WaitJetStream(ctx context.Context) error {
	opts := &server.HealthzOptions{JSMetaOnly: true}
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		hs := n.s.Healthz(opts)
		if hs.Error == "" && len(hs.Errors) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s: JetStream not ready: %s (are a majority of the cluster's nodes running, with each other in Routes?): %w", n.name, hs.Error, context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// Health is nil when the node is healthy: JetStream enabled, clustered
// in touch with a meta leader, and every stream and consumer replica on
// this node current with its leader (nats-server's /healthz). Otherwise
// it says the first problem found.
func (n *Node) Health() error {
	hs := n.s.Healthz(nil)
	if hs.Error == "" && len(hs.Errors) == 0 {
		return nil
	}
	return fmt.Errorf("%s: %s", n.name, hs.Error)
}

// Shutdown stops the node gracefully and waits until it stopped: it
// hands the leadership of its replicated groups to other nodes, closes
// its connections, flushes JetStream's files and unlocks the folder.
// Later calls do nothing.
func (n *Node) Shutdown() {
	n.stopOnce.Do(func() {
		n.s.Shutdown()
		n.s.WaitForShutdown()
		<-n.started
		n.lock.Release()
	})
}
