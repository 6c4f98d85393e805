package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/internal/standin"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// clusterNode is one hookd process of a three-node cluster on embedded
// NATS servers.
type clusterNode struct {
	w     *world
	rules string
	args  []string
	p     *proc
}

// startCluster starts three hookd nodes with --cluster-peers, each with
// its own data folder, and waits until all listen (a node waits for a
// quorum of its peers before it does).
func startCluster(t *testing.T, w *world) []*clusterNode {
	t.Helper()
	ports := natstest.FreePorts(t, 6)
	var peers []string
	for i := range 3 {
		peers = append(peers, fmt.Sprintf("127.0.0.1:%d", ports[3+i]))
	}
	nodes := make([]*clusterNode, 3)
	for i := range nodes {
		// Each node has its own rules file, as on its own machine.
		rules := filepath.Join(w.dir, fmt.Sprintf("rules-n%d.yaml", i))
		copyFile(t, w.rules, rules)
		nodes[i] = &clusterNode{w: w, rules: rules, args: []string{
			"serve", "--rules", rules, "--data", filepath.Join(w.dir, fmt.Sprintf("data-n%d", i)),
			"--listen", "127.0.0.1:0", "--log-format", "json",
			"--node", fmt.Sprintf("n%d", i), "--cluster-peers", strings.Join(peers, ","),
			"--cluster-listen", peers[i], "--nats-listen", fmt.Sprintf("127.0.0.1:%d", ports[i]),
		}}
		nodes[i].p = run(t, w.dir, w.env(), nodes[i].args...)
	}
	for _, n := range nodes {
		n.p.waitListening()
	}
	return nodes
}

// restart starts the node again, with its name, folder and route port,
// and makes it the node's process; it does not wait for it to listen
// (the test's goroutine does, with waitListening: a wait that fails must
// fail the test from its own goroutine). Its client port is a new one:
// only the node itself connects there, and the old one may have been
// taken while the node was down (by another package's test picking
// free ports), which once failed a run with "address already in use".
func (n *clusterNode) restart(t *testing.T) {
	for i, a := range n.args {
		if a == "--nats-listen" {
			n.args[i+1] = fmt.Sprintf("127.0.0.1:%d", natstest.FreePorts(t, 1)[0])
		}
	}
	n.p = run(n.w.t, n.w.dir, n.w.env(), n.args...)
}

// TestClusterKill9 runs three hookd processes on one JetStream cluster
// of their embedded servers (docs/operations.md, "A cluster of nodes"):
// events posted round-robin while one node is killed (-9) and restarted
// all run their actions, each once unless it was in flight at the kill;
// one event posted to two nodes runs once; a window and a throttle hold
// across nodes; without a quorum intake answers 503, and recovers.
func TestClusterKill9(t *testing.T) {
	t.Parallel()
	w := newWorld(t, "cluster.yaml")
	nodes := startCluster(t, w)

	// Round-robin, as a load balancer would; a node that does not answer
	// 200 is skipped for the next one, as the balancer and Wassenger's
	// retries would.
	const n = 150
	want := map[string]int{}
	for i := range n {
		id := fmt.Sprintf("rr-%03d", i)
		switch i {
		case n / 3:
			nodes[0].p.Kill9()
		case 2 * n / 3:
			nodes[0].restart(t) // posting goes on while it starts
		}
		for k := 0; ; k++ {
			p := nodes[(i+k)%3].p
			if k == 30 {
				t.Fatalf("event %s: no node accepted it in 30 tries", id)
			}
			if p.exited() || p.Addr == "" { // killed, or not yet listening
				continue
			}
			a, err := tryPost(p.Addr, webhookKey, message(id))
			if err == nil && a.Status == http.StatusOK {
				break
			}
		}
		want[ref(id, "echo")] = 1
	}
	nodes[0].p.waitListening()
	waitStandin(t, w.ws, fmt.Sprintf("the %d echoes", n), func([]standin.Request) bool {
		got := w.ws.References()
		for r := range want {
			if got[r] == 0 {
				return false
			}
		}
		return true
	})
	// An action in flight on the killed node runs again after its
	// restart (docs/reliability.md, at least once): at most as many as
	// its integration runs at once.
	again := 0
	for r, c := range w.ws.References() {
		if want[r] == 0 {
			t.Errorf("the stand-in got reference %s, of no event posted", r)
		}
		if c > 1 {
			again += c - 1
		}
	}
	if again > concurrency {
		t.Errorf("%d echoes ran more than once; want at most %d (those in flight at the kill)", again, concurrency)
	}

	t.Run("every node shows the rules of every node", func(t *testing.T) {
		same := func(p *proc, want int) bool {
			var rs struct {
				Version string `json:"version"`
				Nodes   []struct {
					Name         string `json:"name"`
					RulesVersion string `json:"rules_version"`
				} `json:"nodes"`
			}
			rs2 := p.get("/api/rules")
			rs2.decode(t, &rs)
			other := 0
			for _, n := range rs.Nodes {
				if n.RulesVersion != rs.Version {
					other++
				}
			}
			return len(rs.Nodes) == 3 && other == want &&
				strings.Contains(string(p.get("/metrics").Body), fmt.Sprintf("hookd_cluster_nodes_other_rules %d\n", want))
		}
		poll(t, "three nodes on the same rules", func() bool { return same(nodes[0].p, 0) })
		// Node 2 gets other rules: the others see it within seconds.
		original := string(readFile(t, nodes[2].rules))
		writeFile(t, nodes[2].rules, original+"\n  - name: extra\n    on: message:in:new\n    if: data.body == \"never\"\n    do:\n      - log: { message: extra }\n")
		poll(t, "node 0 seeing node 2's other rules", func() bool { return same(nodes[0].p, 1) })
		writeFile(t, nodes[2].rules, original)
		poll(t, "the nodes agreeing again", func() bool { return same(nodes[0].p, 0) && same(nodes[2].p, 0) })
	})

	t.Run("one event posted to two nodes runs once", func(t *testing.T) {
		body := message("two-nodes")
		var wg sync.WaitGroup
		answers := make([]string, 2)
		for k, node := range nodes[1:] {
			wg.Go(func() {
				a, err := tryPost(node.p.Addr, webhookKey, body)
				if err != nil {
					t.Error(err)
					return
				}
				answers[k] = fmt.Sprintf("%d %s", a.Status, strings.TrimSpace(string(a.Body)))
			})
		}
		wg.Wait()
		joined := strings.Join(answers, " | ")
		if strings.Count(joined, `"accepted":1`) != 1 || strings.Count(joined, `"duplicates":1`) != 1 {
			t.Fatalf("answers %s; want one accepted and one duplicate", joined)
		}
		r := ref("two-nodes", "echo")
		waitStandin(t, w.ws, "the echo of the event posted twice", func([]standin.Request) bool { return w.ws.References()[r] >= 1 })
		nodes[0].p.waitIdle()
		if c := w.ws.References()[r]; c != 1 {
			t.Errorf("the event posted to two nodes ran %d times; want once", c)
		}
	})

	t.Run("a window, a throttle and a digest hold across nodes", func(t *testing.T) {
		now := time.Now().Unix()
		// The digest's events are 10 s ahead: it is due after all three
		// are posted, and every node's scheduler then tries to send it.
		digestAt := now + 10
		for i, node := range nodes {
			acceptBody(t, node.p.Addr, textAt(fmt.Sprintf("burst-%d", i), "burst", now), false)
			acceptBody(t, node.p.Addr, textAt(fmt.Sprintf("alert-%d", i), "alert", now), false)
			acceptBody(t, node.p.Addr, textAt(fmt.Sprintf("digest-%d", i), fmt.Sprintf("digest %d", i), digestAt), false)
		}
		if time.Now().Unix() >= digestAt {
			t.Skip("the machine is too slow: the digest came due before its last events were posted")
		}
		waitStandin(t, w.ws, "the window's, the throttle's and the digest's messages", func([]standin.Request) bool {
			return len(sentTexts(t, w.ws, "burst")) >= 1 && len(sentTexts(t, w.ws, "alert")) >= 1 && len(sentTexts(t, w.ws, "digest")) >= 1
		})
		nodes[0].p.waitIdle()
		if got := sentTexts(t, w.ws, "burst"); len(got) != 1 || got[0] != "burst 3" {
			t.Errorf("window sent %q; want one \"burst 3\" for three events on three nodes", got)
		}
		if got := sentTexts(t, w.ws, "alert"); len(got) != 1 {
			t.Errorf("throttle sent %q; want one message for three events on three nodes", got)
		}
		want := "digest 3: digest 0,digest 1,digest 2"
		if got := sentTexts(t, w.ws, "digest"); len(got) != 1 || got[0] != want {
			t.Errorf("digest sent %q; want one %q though three nodes' schedulers saw it due", got, want)
		}
	})

	t.Run("every node knows a group change hookd asked for as its own", func(t *testing.T) {
		const group = "120363000000000099@g.us" // kick's group
		acceptBody(t, nodes[0].p.Addr, textAt("kick-0", "kick", time.Now().Unix()), false)
		waitStandin(t, w.ws, "kick's removal of the sender", func(reqs []standin.Request) bool {
			return slices.ContainsFunc(reqs, func(r standin.Request) bool {
				return r.Method == http.MethodDelete && strings.HasSuffix(r.Path, "/groups/"+group+"/participants")
			})
		})
		// Wassenger's group:update of the removal, made by the number
		// itself, reaching each node (as three numbers' webhooks, or
		// redeliveries, would); then an admin's removal, which is not
		// hookd's.
		removal := func(id, author string) []byte {
			b, err := json.Marshal(map[string]any{
				"id": id, "object": "message", "event": "group:update", "action": "remove", "created": time.Now().Unix(),
				"author": author, "participants": []string{sender},
				"device": map[string]any{"id": "61b37a069cba0c15d6c89757", "phone": "+4412345678"},
				"data":   map[string]any{"id": id, "chat": map[string]any{"id": group, "name": "Ops"}},
			})
			if err != nil {
				t.Fatal(err)
			}
			return b
		}
		for i, node := range nodes {
			acceptBody(t, node.p.Addr, removal(fmt.Sprintf("own-%d", i), "+4412345678"), false)
		}
		acceptBody(t, nodes[1].p.Addr, removal("by-admin", "+34600000005"), false)
		waitStandin(t, w.ws, "the admin's removal announced", func([]standin.Request) bool {
			return len(sentTexts(t, w.ws, "removal by-admin")) == 1
		})
		for _, n := range nodes {
			n.p.waitIdle()
		}
		if got := sentTexts(t, w.ws, "removal "); len(got) != 1 {
			t.Errorf("removal-alert sent %q; want only the admin's removal: the loop guard knows kick's on every node", got)
		}
	})

	t.Run("without a quorum intake answers 503, then recovers", func(t *testing.T) {
		// The node left is the stream's leader, which goes on answering
		// for seconds after it lost its quorum.
		lead := streamLeader(t, nodes)
		var down []*clusterNode
		for i, node := range nodes {
			if i != lead {
				node.p.Kill9()
				down = append(down, node)
			}
		}
		left := nodes[lead].p
		a, err := tryPost(left.Addr, webhookKey, message("no-quorum"))
		if err != nil {
			t.Fatal(err)
		}
		if a.Status != http.StatusServiceUnavailable {
			t.Fatalf("without a quorum: %d %s; want 503", a.Status, a.Body)
		}
		// What a load balancer and an alert see (operations.md, "When a
		// node or the quorum is lost"), at once: the node just refused an
		// event.
		if h := left.get("/healthz"); h.Status != http.StatusServiceUnavailable {
			t.Errorf("GET /healthz without a quorum, after a 503 to a webhook: %d %s; want 503", h.Status, h.Body)
		}
		if m := left.get("/metrics"); !strings.Contains(string(m.Body), "\nhookd_store_writable 0\n") {
			t.Errorf("/metrics without a quorum, after a 503 to a webhook: no hookd_store_writable 0")
		}
		for _, node := range down {
			node.restart(t)
		}
		for _, node := range down {
			node.p.waitListening()
		}
		poll(t, "the event accepted once the quorum is back", func() bool {
			a, err := tryPost(left.Addr, webhookKey, message("no-quorum"))
			return err == nil && a.Status == http.StatusOK
		})
		poll(t, "GET /healthz 200 once the quorum is back", func() bool {
			return left.get("/healthz").Status == http.StatusOK
		})
		r := ref("no-quorum", "echo")
		waitStandin(t, w.ws, "the echo after the quorum returned", func([]standin.Request) bool { return w.ws.References()[r] >= 1 })
		left.waitIdle()
		if c := w.ws.References()[r]; c != 1 {
			t.Errorf("the event posted during and after the quorum loss ran %d times; want once", c)
		}
	})
	for _, node := range nodes {
		node.p.stop()
	}
}

// streamLeader returns the index of the node whose embedded NATS server
// leads the store's stream (a node's server is named after the node).
func streamLeader(t *testing.T, nodes []*clusterNode) int {
	t.Helper()
	url := "nats://" + nodes[0].args[slices.Index(nodes[0].args, "--nats-listen")+1]
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatalf("connect to %s: %v", url, err)
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	poll(t, "the stream's leader", func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		s, err := js.Stream(ctx, "HOOKD")
		if err != nil {
			return false
		}
		info, err := s.Info(ctx)
		if err != nil || info.Cluster == nil {
			return false
		}
		leader = info.Cluster.Leader
		return leader != ""
	})
	for i := range nodes {
		if fmt.Sprintf("n%d", i) == leader {
			return i
		}
	}
	t.Fatalf("the stream's leader %q is none of the nodes", leader)
	return -1
}
