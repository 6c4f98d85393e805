package cli_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/store"
)

// TestCommandsOnCluster: dlq, events export and mute work against a
// cluster's store with --nats, from a process that is not a node, and
// what they change reaches the node.
func TestCommandsOnCluster(t *testing.T) {
	nats := natstest.StartCluster(t, 1).URL()
	ctx := context.Background()
	node, err := cluster.Open(ctx, cluster.Config{NATS: nats, Node: "n1", Replicas: 1, DataDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	out, err := node.Accept(ctx, []store.Record{{
		Event: store.Event{ID: "ev-1", Name: "message:in:new", Body: []byte(`{"event":"message:in:new","id":"ev-1"}`)},
		Jobs:  []store.Job{{Rule: "echo", Type: "log", Name: "echo/log[0]", Params: []byte(`{}`)}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	id := out[0].Jobs[0].ID
	if err := node.Dead(ctx, id, 3, "server", "503 from the target"); err != nil {
		t.Fatal(err)
	}

	code, stdout, stderr := run(t, "dlq", "list", "--nats", nats)
	if code != 0 || !strings.Contains(stdout, "echo/log[0]") || !strings.Contains(stdout, "503 from the target") {
		t.Errorf("dlq list --nats: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, stdout, stderr = run(t, "events", "export", "--nats", nats)
	if code != 0 || stdout != `{"event":"message:in:new","id":"ev-1"}`+"\n" {
		t.Errorf("events export --nats: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	code, _, stderr = run(t, "dlq", "retry", "--nats", nats, "999")
	if want := fmt.Sprintf("no job with id 999 on the cluster at %s; nothing was queued (hookd dlq list --nats %s shows the ids)", nats, nats); code != 1 || !strings.Contains(stderr, want) {
		t.Errorf("dlq retry of an unknown id: exit %d, stderr %q; want 1 and %q", code, stderr, want)
	}
	code, stdout, stderr = run(t, "dlq", "retry", "--nats", nats, fmt.Sprint(id))
	if code != 0 || !strings.Contains(stdout, "queued 1 dead letter again") {
		t.Errorf("dlq retry --nats: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	// The node hands the job to its delivery: it is the node's own.
	if _, err := node.Stats(ctx); err != nil { // catches up with the log
		t.Fatal(err)
	}
	taken, err := node.TakeRequeued(ctx)
	if err != nil || len(taken) != 1 || taken[0].ID != id {
		t.Errorf("the node took %v, %v; want job %d", taken, err, id)
	}

	code, stdout, stderr = run(t, "mute", "echo", "--nats", nats, "--for", "2h", "--reason", "maintenance")
	if code != 0 {
		t.Fatalf("mute --nats: exit %d\nstdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	mutes, err := node.Mutes(ctx, time.Now(), false)
	if err != nil || len(mutes) != 1 || mutes[0].Rule != "echo" || mutes[0].Reason != "maintenance" {
		t.Errorf("the node's mutes: %+v, %v; want one of echo for maintenance", mutes, err)
	}
	code, stdout, _ = run(t, "mute", "list", "--nats", nats)
	if code != 0 || !strings.Contains(stdout, "maintenance") {
		t.Errorf("mute list --nats: exit %d, stdout:\n%s", code, stdout)
	}
}

// TestClusterReplicasOnOneServer: three replicas asked of one NATS
// server that is not clustered fail at once, saying to pass --replicas 1,
// instead of retrying for minutes.
func TestClusterReplicasOnOneServer(t *testing.T) {
	nats := natstest.StartCluster(t, 1).URL()
	start := time.Now()
	_, err := cluster.Open(context.Background(), cluster.Config{NATS: nats, Node: "n1", DataDir: t.TempDir()})
	if err == nil || !strings.Contains(err.Error(), "--replicas 1") {
		t.Fatalf("open with 3 replicas on one server: %v; want an error saying --replicas 1", err)
	}
	if d := time.Since(start); d > 30*time.Second { // the retries would last two minutes
		t.Errorf("the error took %v; want it at once", d)
	}
}
