package natsnode_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/dirlock"
	"github.com/hookd/hookd/internal/natsnode"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/internal/syncbuf"
	"github.com/nats-io/nats.go/jetstream"
)

// start starts a node and shuts it down when the test ends.
func start(t *testing.T, cfg natsnode.Config) *natsnode.Node {
	t.Helper()
	n, err := natsnode.Start(t.Context(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(n.Shutdown)
	return n
}

// ctxTimeout is t.Context with a deadline.
func ctxTimeout(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestSingleNodeKeepsMessagesAcrossRestart(t *testing.T) {
	dir := t.TempDir()
	cfg := natsnode.Config{Name: "solo", Dir: dir}
	n := start(t, cfg)
	if !strings.HasPrefix(n.ClientURL(), "nats://127.0.0.1:") || n.ClusterAddr() != "" {
		t.Fatalf("ClientURL %q, ClusterAddr %q: want nats://127.0.0.1:<port> and none", n.ClientURL(), n.ClusterAddr())
	}
	ctx := ctxTimeout(t, 20*time.Second)
	if err := n.WaitJetStream(ctx); err != nil {
		t.Fatal(err)
	}
	js := natstest.Connect(t, n.ClientURL())
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events.>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := js.Publish(ctx, "events.x", fmt.Appendf(nil, "m%d", i)); err != nil {
			t.Fatal(err)
		}
	}
	n.Shutdown()
	n.Shutdown() // a second call does nothing

	n2 := start(t, cfg)
	if err := n2.WaitJetStream(ctx); err != nil {
		t.Fatal(err)
	}
	if err := n2.Health(); err != nil {
		t.Fatal(err)
	}
	js2 := natstest.Connect(t, n2.ClientURL())
	s, err := js2.Stream(ctx, "EVENTS")
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		m, err := s.GetMsg(ctx, uint64(i+1))
		if err != nil {
			t.Fatal(err)
		}
		if got, want := string(m.Data), fmt.Sprintf("m%d", i); got != want {
			t.Errorf("message %d: %q, want %q", i+1, got, want)
		}
	}
}

func TestThreeNodesFormACluster(t *testing.T) {
	ports := natstest.FreePorts(t, 3)
	var routes []string
	for _, p := range ports {
		routes = append(routes, net.JoinHostPort("127.0.0.1", strconv.Itoa(p)))
	}
	var nodes []*natsnode.Node
	for i, name := range []string{"a", "b", "c"} {
		// Every node gets the same routes, its own among them.
		n := start(t, natsnode.Config{Name: name, Dir: t.TempDir(), ClusterListen: routes[i], Routes: routes})
		if n.ClusterAddr() != routes[i] {
			t.Errorf("node %s: ClusterAddr %s, want %s", name, n.ClusterAddr(), routes[i])
		}
		nodes = append(nodes, n)
	}
	ctx := ctxTimeout(t, 20*time.Second)
	for _, n := range nodes {
		if err := n.WaitJetStream(ctx); err != nil {
			t.Fatal(err)
		}
		if !n.Server().JetStreamIsClustered() {
			t.Errorf("%s is not clustered", n.Server().Name())
		}
	}
	js := natstest.Connect(t, nodes[2].ClientURL())
	// An R3 stream needs the meta leader to know all three servers, which
	// may take a moment after it is elected.
	for {
		_, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "R3", Subjects: []string{"r3"}, Replicas: 3})
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("create R3 stream: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
	}
	if _, err := js.Publish(ctx, "r3", []byte("x")); err != nil {
		t.Fatal(err)
	}
}

func TestWaitJetStreamSaysWhatIsMissing(t *testing.T) {
	ports := natstest.FreePorts(t, 2)
	addr := func(i int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(ports[i])) }
	// One node of two: no majority, no meta leader.
	n := start(t, natsnode.Config{Name: "a", Dir: t.TempDir(), ClusterListen: addr(0), Routes: []string{addr(0), addr(1)}})
	err := n.WaitJetStream(ctxTimeout(t, 300*time.Millisecond))
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "JetStream not ready") || !strings.Contains(err.Error(), "majority") {
		t.Fatalf("WaitJetStream alone of two: %v", err)
	}
	if err := n.Health(); err == nil {
		t.Error("healthy without a meta leader")
	}
}

func TestStartFails(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	busyAddr := busy.Addr().String()

	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	locked := t.TempDir()
	lock, err := dirlock.Take(locked)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release()

	tests := []struct {
		name string
		cfg  natsnode.Config
		want string  // in the error
		is   []error // errors.Is
	}{
		{"no folder", natsnode.Config{}, "set Dir", nil},
		{"bad listen", natsnode.Config{Dir: t.TempDir(), Listen: "localhost"}, "client address (Listen)", nil},
		{"bad port", natsnode.Config{Dir: t.TempDir(), Listen: "127.0.0.1:http"}, `port "http" is not a number`, nil},
		{"clustered without a name", natsnode.Config{Dir: t.TempDir(), ClusterListen: "127.0.0.1:-1"}, "set Name", nil},
		{"routes without cluster", natsnode.Config{Dir: t.TempDir(), Routes: []string{"127.0.0.1:1"}}, "set ClusterListen", nil},
		{"bad route", natsnode.Config{Name: "a", Dir: t.TempDir(), ClusterListen: "127.0.0.1:-1", Routes: []string{"nats://127.0.0.1:1"}}, `route "nats://127.0.0.1:1"`, nil},
		{"folder under a file", natsnode.Config{Dir: filepath.Join(file, "nats")}, "JetStream folder", []error{syscall.ENOTDIR}},
		{"folder in use", natsnode.Config{Dir: locked}, "JetStream folder", []error{dirlock.ErrLocked}},
		{"client port in use", natsnode.Config{Name: "a", Dir: t.TempDir(), Listen: busyAddr}, "client address " + busyAddr, []error{natsnode.ErrPortInUse}},
		{"clustered without routes", natsnode.Config{Name: "a", Dir: t.TempDir(), ClusterListen: "127.0.0.1:-1"}, "set Routes", nil},
		{"route port in use", natsnode.Config{Name: "a", Dir: t.TempDir(), ClusterListen: busyAddr, Routes: []string{busyAddr}}, "route address " + busyAddr, []error{natsnode.ErrPortInUse}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			n, err := natsnode.Start(ctxTimeout(t, 10*time.Second), tt.cfg)
			if err == nil {
				n.Shutdown()
				t.Fatal("started")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not say %q", err, tt.want)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("error %q is not %v", err, target)
				}
			}
		})
	}
}

func TestSyncAlways(t *testing.T) {
	for _, always := range []bool{false, true} {
		n := start(t, natsnode.Config{Dir: t.TempDir(), SyncAlways: always})
		js := n.Server().JetStreamConfig()
		if js.SyncAlways != always || js.SyncInterval != 2*time.Minute {
			t.Errorf("SyncAlways %v: JetStream syncs always %v, every %v (want every 2m0s)", always, js.SyncAlways, js.SyncInterval)
		}
	}
}

func TestStartEndsWithItsContext(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := natsnode.Start(ctx, natsnode.Config{Dir: t.TempDir()}); !errors.Is(err, context.Canceled) {
		t.Fatalf("start with a canceled context: %v", err)
	}
}

func TestStartTimeout(t *testing.T) {
	cfg := natsnode.Config{Dir: t.TempDir(), StartTimeout: time.Nanosecond}
	_, err := natsnode.Start(t.Context(), cfg)
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "StartTimeout 1ns passed") {
		t.Fatalf("start with no time: %v", err)
	}
	cfg.StartTimeout = 0
	startOnceFreed(t, cfg)
}

func TestStartFailureFreesTheFolder(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := natsnode.Config{Dir: t.TempDir(), Listen: busy.Addr().String()}
	if _, err := natsnode.Start(t.Context(), cfg); !errors.Is(err, natsnode.ErrPortInUse) {
		t.Fatalf("error %v, want ErrPortInUse", err)
	}
	busy.Close()
	startOnceFreed(t, cfg)
}

// startOnceFreed starts a node on a folder that a node which failed to
// start holds until its start returned, then stops it.
func startOnceFreed(t *testing.T, cfg natsnode.Config) {
	t.Helper()
	ctx := ctxTimeout(t, 10*time.Second)
	for {
		n, err := natsnode.Start(ctx, cfg)
		if err == nil {
			n.Shutdown()
			return
		}
		if !errors.Is(err, dirlock.ErrLocked) || ctx.Err() != nil {
			t.Fatal(err)
		}
	}
}

func TestLogLevels(t *testing.T) {
	for _, level := range []slog.Level{slog.LevelInfo, slog.LevelDebug} {
		t.Run(level.String(), func(t *testing.T) {
			var buf syncbuf.Buffer
			log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: level}))
			n := start(t, natsnode.Config{Dir: t.TempDir(), Logger: log})
			n.Shutdown()
			out := buf.String()
			if !strings.Contains(out, "level=INFO msg=\"Starting nats-server\"") {
				t.Errorf("no notice at info level in:\n%s", out)
			}
			if debug := strings.Contains(out, "level=DEBUG"); debug != (level == slog.LevelDebug) {
				t.Errorf("logger at %v: debug lines %v", level, debug)
			}
		})
	}
}
