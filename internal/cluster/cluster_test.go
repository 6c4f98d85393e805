package cluster_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"

	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natsnode"
)

// TestPortInUseNamesTheFlag: an embedded node whose client or route
// address is taken says which flag sets it.
func TestPortInUseNamesTheFlag(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	free, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	freeAddr := free.Addr().String()
	free.Close()
	for _, tt := range []struct {
		name, listen, route, want string
	}{
		{"client address", busy.Addr().String(), freeAddr, "client address " + busy.Addr().String()},
		{"route address", "127.0.0.1:0", busy.Addr().String(), "route address " + busy.Addr().String()},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := cluster.Open(context.Background(), cluster.Config{
				Peers: []string{tt.route}, Listen: tt.listen, ClusterListen: tt.route,
				Node: "n0", DataDir: t.TempDir(), Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
			})
			if !errors.Is(err, natsnode.ErrPortInUse) || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "--nats-listen") || !strings.Contains(err.Error(), "--cluster-listen") {
				t.Fatalf("Open: %v; want %s in use, naming --nats-listen and --cluster-listen", err, tt.want)
			}
		})
	}
}
