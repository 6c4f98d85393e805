package jetstream_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/jetstream"
	"github.com/hookd/hookd/store/storetest"
)

// startServer runs one JetStream server for the test.
func startServer(t *testing.T) string {
	t.Helper()
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: t.TempDir(), NoSigs: true})
	if err != nil {
		t.Fatal(err)
	}
	go srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		t.Fatal("nats-server not ready")
	}
	t.Cleanup(srv.Shutdown)
	return srv.ClientURL()
}

// opener opens stores on one stream per folder of the suite.
func opener(url string, replicas int) storetest.Opener {
	return func(t *testing.T, dir string) store.Store {
		t.Helper()
		nc, err := nats.Connect(url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(nc.Close)
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
	storetest.Run(t, opener(startServer(t), 1))
}
