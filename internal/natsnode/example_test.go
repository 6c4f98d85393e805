package natsnode_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/hookd/hookd/internal/natsnode"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// A single node: start it, wait for JetStream, and store a message
// through a client.
func ExampleStart() {
	dir, err := os.MkdirTemp("", "natsnode")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	node, err := natsnode.Start(ctx, natsnode.Config{Name: "hookd-1", Dir: dir})
	if err != nil {
		log.Fatal(err)
	}
	defer node.Shutdown()
	if err := node.WaitJetStream(ctx); err != nil {
		log.Fatal(err)
	}

	nc, err := nats.Connect(node.ClientURL())
	if err != nil {
		log.Fatal(err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: "EVENTS", Subjects: []string{"events"}}); err != nil {
		log.Fatal(err)
	}
	ack, err := js.Publish(ctx, "events", []byte("hello"))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(ack.Stream, ack.Sequence)
	// Output: EVENTS 1
}
