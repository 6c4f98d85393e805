package jetstream_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"path/filepath"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/jetstream"
	"github.com/hookd/hookd/store/storetest"
)

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
