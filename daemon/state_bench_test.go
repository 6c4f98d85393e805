package daemon

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/engine/eventschema"
	"github.com/hookd/hookd/store/sqlite"
)

// benchRules writes 1,000 rules in the load harness's style: one in five
// listens to other events, the others to group:update, spread over its
// actions with a conjunct that never holds. With stateful, 100 of them
// remember over the key participants[0]: matching of them hold for a
// remove event (windows and throttles in turn), the others are spread
// over the other actions; without, those 100 are like the rest. Nothing
// fires in the measured rounds: the windows need 1,000,000 events and
// the throttles fired once per key in the warm-up round.
func benchRules(stateful bool, matching int) string {
	var b strings.Builder
	b.WriteString("version: 1\nrules:\n")
	actions := slices.DeleteFunc(eventschema.GroupActions(), func(a string) bool { return a == "remove" })
	for i := range 1000 {
		fmt.Fprintf(&b, "  - name: r%04d\n", i)
		switch {
		case stateful && i < 100:
			act := "remove"
			if i >= matching {
				act = actions[i%len(actions)]
			}
			fmt.Fprintf(&b, "    on: group:update\n    if: action == %q\n", act)
			if i%2 == 0 {
				b.WriteString("    window: { key: \"{{ participants[0] }}\", within: 10m, at_least: 1000000 }\n")
			} else {
				b.WriteString("    throttle: { key: \"{{ participants[0] }}\", per: 1h }\n")
			}
		case i%5 == 4:
			fmt.Fprintf(&b, "    on: message:in:new\n    if: data?.body == \"load %d\"\n", i)
		default:
			fmt.Fprintf(&b, "    on: group:update\n    if: action == %q && author == \"+1555%07d\"\n", eventschema.GroupActions()[i%len(eventschema.GroupActions())], i)
		}
		b.WriteString("    do:\n      - log: { message: \"{{ id }}\" }\n")
	}
	return b.String()
}

// benchDaemon runs a daemon on rules in dir until the benchmark ends.
func benchDaemon(b *testing.B, dir, rules, sync string) (*Daemon, string) {
	b.Helper()
	path := filepath.Join(dir, "rules.yaml")
	if err := os.WriteFile(path, []byte(rules), 0o644); err != nil {
		b.Fatal(err)
	}
	d, err := New(Config{RulesPath: path, Listen: "127.0.0.1:0", DataDir: filepath.Join(dir, "data"), Open: true, Sync: sync, Logger: discardLogger()})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, nil) }()
	b.Cleanup(func() {
		cancel()
		<-done
	})
	return d, "http://" + d.Addr() + "/webhooks/wassenger"
}

// idle waits until d has no job left to run.
func idle(b *testing.B, d *Daemon) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		st, err := d.store.Stats(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		if st.Pending == 0 && d.delivery.Depth() == 0 {
			return
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d jobs still pending", st.Pending)
		}
		time.Sleep(50 * time.Millisecond) // a benchmark's set-up, not a test's synchronisation
	}
}

// benchBodies are n group:update remove events (the 3.5 KB recorded
// one) with ids prefix-i, removing one of keys participants.
func benchBodies(b *testing.B, prefix string, n, keys int) [][]byte {
	b.Helper()
	raw, err := os.ReadFile(filepath.Join("..", "testdata", "events", "group-update", "remove.json"))
	if err != nil {
		b.Fatal(err)
	}
	var ev map[string]any
	if err := json.Unmarshal(raw, &ev); err != nil {
		b.Fatal(err)
	}
	out := make([][]byte, n)
	for i := range out {
		ev["id"] = fmt.Sprintf("%s-%d", prefix, i)
		ev["participants"] = []any{fmt.Sprintf("+3460%07d", i%keys)}
		if out[i], err = json.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
	return out
}

// blast posts every body with conns connections at once and returns the
// events per second.
func blast(b *testing.B, client *http.Client, url string, bodies [][]byte, conns int) float64 {
	b.Helper()
	var next atomic.Int64
	var wg sync.WaitGroup
	var failed atomic.Int64
	start := time.Now()
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(bodies) {
					return
				}
				resp, err := client.Post(url, "application/json", bytes.NewReader(bodies[i]))
				if err != nil {
					failed.Add(1)
					continue
				}
				var out accepted
				if json.NewDecoder(resp.Body).Decode(&out) != nil || resp.StatusCode != http.StatusOK || out.Accepted != 1 {
					failed.Add(1)
				}
				resp.Body.Close()
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		b.Fatalf("%d of %d events not accepted", n, len(bodies))
	}
	return float64(len(bodies)) / time.Since(start).Seconds()
}

// cpuTime is the processor time the process used so far (user and
// system): what a round used is the clearest measure on a shared machine.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// commits is how many commits d's store made since it opened.
func commits(d *Daemon) uint64 {
	if c, ok := d.store.(interface{ Counters() sqlite.Counters }); ok {
		return c.Counters().Commits
	}
	return 0
}

// BenchmarkIntakeState measures intake (HTTP in, durable commit, 200 out)
// with 1,000 rules of which 100 remember (windows and throttles over
// 10,000 distinct keys) against the same rules without state, in the
// same run: rounds alternate between the two daemons, and the reported
// ratio is the median of the rounds' ratios (stateful events/s over
// stateless). Run it with -benchtime 1x; HOOKD_BENCH_ROUNDS (5) and
// HOOKD_BENCH_EVENTS (4,000 per round and daemon) change the size,
// HOOKD_BENCH_MATCHING (10) how many of the 100 count each event, and
// HOOKD_BENCH_SYNC (full) the store's mode.
func BenchmarkIntakeState(b *testing.B) {
	rounds, events, matching, sync := 5, 4000, 10, "full"
	if v := os.Getenv("HOOKD_BENCH_MATCHING"); v != "" {
		fmt.Sscan(v, &matching)
	}
	if v := os.Getenv("HOOKD_BENCH_ROUNDS"); v != "" {
		fmt.Sscan(v, &rounds)
	}
	if v := os.Getenv("HOOKD_BENCH_EVENTS"); v != "" {
		fmt.Sscan(v, &events)
	}
	if v := os.Getenv("HOOKD_BENCH_SYNC"); v != "" {
		sync = v
	}
	const keys, conns = 10_000, 32
	dp, plain := benchDaemon(b, b.TempDir(), benchRules(false, 0), sync)
	ds, state := benchDaemon(b, b.TempDir(), benchRules(true, matching), sync)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: conns, MaxConnsPerHost: conns}}
	// Warm-up: every key's throttles fire once, and both stores and
	// connections are warm.
	blast(b, client, plain, benchBodies(b, "warm", keys, keys), conns)
	blast(b, client, state, benchBodies(b, "warm", keys, keys), conns)
	idle(b, dp)
	idle(b, ds)
	var ratios, plainRates, stateRates []float64
	b.ResetTimer()
	for r := range rounds {
		bodies := benchBodies(b, fmt.Sprintf("round%d", r), events, keys)
		cp0, t0 := commits(dp), cpuTime(b)
		p := blast(b, client, plain, bodies, conns)
		cs0, t1 := commits(ds), cpuTime(b)
		s := blast(b, client, state, bodies, conns)
		t2 := cpuTime(b)
		cp, cs := float64(events)/float64(max(commits(dp)-cp0, 1)), float64(events)/float64(max(commits(ds)-cs0, 1))
		up, us := float64((t1-t0).Microseconds())/float64(events), float64((t2-t1).Microseconds())/float64(events)
		plainRates, stateRates = append(plainRates, p), append(stateRates, s)
		ratios = append(ratios, s/p)
		if st, err := ds.store.Stats(context.Background()); err == nil && st.Pending > 0 {
			b.Logf("round %d: %d jobs pending with state", r, st.Pending)
		}
		b.Logf("round %d: without state %.0f events/s (%.1f a commit, %.0f µs processor time each), with state %.0f events/s (%.1f a commit, %.0f µs), ratio %.2f",
			r, p, cp, up, s, cs, us, s/p)
	}
	b.StopTimer()
	median := func(v []float64) float64 {
		v = slices.Clone(v)
		slices.Sort(v)
		return v[len(v)/2]
	}
	b.ReportMetric(median(plainRates), "stateless-events/s")
	b.ReportMetric(median(stateRates), "stateful-events/s")
	b.ReportMetric(median(ratios), "ratio")
}
