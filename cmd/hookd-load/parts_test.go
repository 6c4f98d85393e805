package main

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
)

func TestParsePayload(t *testing.T) {
	remove, err := os.ReadFile(removeJSON)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		raw     string
		pad     int
		wantErr string
	}{
		{name: "recorded group:update", raw: string(remove)},
		{name: "padded", raw: string(remove), pad: 1000},
		{name: "nested id first", raw: `{"data":{"id":"X1"},"id":"X1","event":"message:in:new"}`},
		{name: "id as a key first", raw: `{"X1":"y","id":"X1","event":"message:in:new"}`},
		{name: "no id", raw: `{"event":"group:update","action":"add"}`},
		{name: "array", raw: `[{"id":"a","event":"message:out:failed"}]`, wantErr: "not one JSON object"},
		{name: "no event", raw: `{"id":"a"}`, wantErr: `no string "event"`},
		{name: "id not a string", raw: `{"id":7,"event":"e"}`, wantErr: `"id" is not a non-empty string`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p, err := parsePayload([]byte(tc.raw), tc.pad)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("err = %v, want it to say %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			id := eventIDs{prefix: "load0a1b2c"}.id(42)
			got := p.with(id)
			if len(got) != p.Size {
				t.Errorf("size %d, Size says %d", len(got), p.Size)
			}
			var orig, rewritten map[string]any
			if err := json.Unmarshal([]byte(tc.raw), &orig); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got, &rewritten); err != nil {
				t.Fatalf("rewritten payload is not JSON: %v\n%s", err, got)
			}
			if rewritten["id"] != id {
				t.Errorf("id = %v, want %s", rewritten["id"], id)
			}
			if pad, _ := rewritten[padKey].(string); len(pad) != tc.pad {
				t.Errorf("padding of %d bytes, want %d", len(pad), tc.pad)
			}
			delete(orig, "id")
			delete(rewritten, "id")
			delete(rewritten, padKey)
			a, _ := json.Marshal(orig)
			b, _ := json.Marshal(rewritten)
			if !bytes.Equal(a, b) {
				t.Errorf("rewriting changed more than the id:\n%s\n%s", a, b)
			}
			if evs, err := event.Parse(got); err != nil || len(evs) != 1 || evs[0].ID != id {
				t.Errorf("hookd reads the payload as %v, %v; want one event with id %s", evs, err, id)
			}
		})
	}
}

func TestPercentile(t *testing.T) {
	hundred := make([]int64, 100)
	for i := range hundred {
		hundred[i] = int64(i + 1)
	}
	tests := []struct {
		vals []int64
		p    float64
		want int64
	}{
		{nil, 50, 0},
		{[]int64{7}, 99.9, 7},
		{[]int64{1, 2}, 50, 1},
		{[]int64{1, 2}, 51, 2},
		{hundred, 50, 50},
		{hundred, 99, 99},
		{hundred, 99.9, 100},
		{hundred, 100, 100},
	}
	for _, tc := range tests {
		if got := percentile(tc.vals, tc.p); got != tc.want {
			t.Errorf("percentile(%d values, %v) = %d, want %d", len(tc.vals), tc.p, got, tc.want)
		}
	}
}

func TestMeasure(t *testing.T) {
	const ms = int64(1e6)
	samples := []sample{
		{Seq: 0, Start: 0, End: 5 * ms, Status: 200},        // in the warm-up
		{Seq: 1, Start: 10 * ms, End: 12 * ms, Status: 200}, // 2 ms
		{Seq: 2, Start: 20 * ms, End: 24 * ms, Status: 204}, // 4 ms
		{Seq: 3, Start: 30 * ms, End: 31 * ms, Status: 503},
		{Seq: 4, Start: 40 * ms, End: 41 * ms, Status: 0},
		{Seq: 5, Start: 50 * ms, End: 1010 * ms, Status: 200}, // 960 ms
	}
	tests := []struct {
		name                 string
		from, to             int64
		sent, ok, non2xx, tr int
		p50, max             float64
		rate                 float64
	}{
		{"all", 0, 0, 6, 4, 1, 1, 4, 960, 4 / 1.010},
		{"after warm-up", 10 * ms, 0, 5, 3, 1, 1, 4, 960, 3 / 1.0},
		{"window", 10 * ms, 30 * ms, 2, 2, 0, 0, 2, 4, 2 / 0.014},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := measure(samples, tc.from, tc.to)
			if c.Sent != tc.sent || c.OK != tc.ok || c.Non2xx != tc.non2xx || c.Transport != tc.tr {
				t.Errorf("counts %+v, want sent %d ok %d non-2xx %d transport %d", c, tc.sent, tc.ok, tc.non2xx, tc.tr)
			}
			if c.Sent != c.OK+c.Non2xx+c.Transport {
				t.Errorf("counts do not add up: %+v", c)
			}
			if c.Reply.N != tc.ok || c.Reply.P50 != tc.p50 || c.Reply.Max != tc.max {
				t.Errorf("latency %+v, want n %d p50 %v max %v", c.Reply, tc.ok, tc.p50, tc.max)
			}
			if diff := c.Rate - tc.rate; diff > 1e-9 || diff < -1e-9 {
				t.Errorf("rate %v, want %v", c.Rate, tc.rate)
			}
		})
	}
}

// sinkEnv is what the rules file reads, pointing nowhere.
func sinkEnv(name string) (string, bool) {
	v, ok := map[string]string{
		envWassengerToken: "t", envWassengerURL: "http://127.0.0.1:9/v1",
		envSlackURL: "http://127.0.0.1:9/services/T/B/x", envWebhookURL: "http://127.0.0.1:9/hook",
	}[name]
	return v, ok
}

func TestGenerateRules(t *testing.T) {
	tests := []struct {
		payload string
		count   int
		fire    []string
	}{
		{removeJSON, 3, fireTypes},
		{removeJSON, 100, fireTypes},
		{removeJSON, 1000, []string{fireWassenger}},
		{filepath.Join("..", "..", "testdata", "events", "message-in-new.json"), 50, fireTypes},
	}
	for _, tc := range tests {
		t.Run(filepath.Base(tc.payload), func(t *testing.T) {
			p, err := readPayload(tc.payload, 0)
			if err != nil {
				t.Fatal(err)
			}
			src := generateRules(rulesSpec{Count: tc.count, Fire: tc.fire, Event: p.Event, Action: p.Action})
			rs, problems := engine.Load("load.yaml", []byte(src), engine.LoadOptions{LookupEnv: sinkEnv})
			if rs == nil || len(problems) > 0 {
				t.Fatalf("generated rules do not load cleanly: %v", problems)
			}
			if len(rs.Rules) != tc.count {
				t.Errorf("%d rules, want %d", len(rs.Rules), tc.count)
			}
			evs, err := event.Parse(p.with(eventIDs{prefix: "load0a1b2c"}.id(7)))
			if err != nil {
				t.Fatal(err)
			}
			res := rs.Evaluate(evs[0])
			if len(res.Errors) > 0 {
				t.Errorf("errors evaluating the payload: %v", res.Errors)
			}
			var fired, want []string
			for _, f := range res.Fired {
				fired = append(fired, f.Rule.Name)
				for _, a := range f.Actions {
					if b, _ := json.Marshal(a.Params); !bytes.Contains(b, []byte("load0a1b2c-0000000007")) {
						t.Errorf("%s: action params carry no event id: %s", f.Rule.Name, b)
					}
				}
			}
			for _, typ := range tc.fire {
				want = append(want, fireRuleName(typ))
			}
			if !slices.Equal(fired, want) {
				t.Errorf("fired %v, want exactly the firing rules %v", fired, want)
			}
		})
	}
}

func TestFindSeq(t *testing.T) {
	re := regexp.MustCompile(regexp.QuoteMeta("load0a1b2c") + `-([0-9]{10})`)
	tests := []struct {
		typ    string
		body   string
		want   int64
		wantOK bool
	}{
		{fireWassenger, `{"group":"1@g.us","message":"x","reference":"hookd:load0a1b2c-0000000012:fire-message:0"}`, 12, true},
		{fireWassenger, `{"message":"hookd-load load0a1b2c-0000000013: ..."}`, 13, true},
		{fireSlack, `{"text":"hookd-load load0a1b2c-0000000014: remove"}`, 14, true},
		{fireWebhook, `{"id":"load0a1b2c-0000000015"}`, 15, true},
		{fireWebhook, `{"id":"loadffffff-0000000015"}`, 0, false},
		{fireSlack, `not json`, 0, false},
	}
	for _, tc := range tests {
		got, ok := findSeq(re, tc.typ, []byte(tc.body))
		if got != tc.want || ok != tc.wantOK {
			t.Errorf("findSeq(%s, %s) = %d, %v; want %d, %v", tc.typ, tc.body, got, ok, tc.want, tc.wantOK)
		}
	}
}

// TestEventIDs: scattered ids are distinct, not in order, of the same
// length, and name their sequence number; their last four digits (the
// state scenario's key) take each of the 10,000 values once in 10,000
// events, as sequential ids do.
func TestEventIDs(t *testing.T) {
	for _, scatter := range []bool{false, true} {
		ids := eventIDs{prefix: "load0a1b2c", scatter: scatter}
		seen := map[string]bool{}
		keys := map[string]bool{}
		inOrder := true
		prev := ""
		for seq := int64(5_000_000); seq < 5_010_000; seq++ {
			id := ids.id(seq)
			if len(id) != idLen {
				t.Fatalf("scatter %v: id %q is %d bytes, want %d", scatter, id, len(id), idLen)
			}
			n, err := strconv.ParseInt(id[len("load0a1b2c-"):], 10, 64)
			if err != nil || ids.seq(n) != seq {
				t.Fatalf("scatter %v: id %q names sequence number %d (%v), want %d", scatter, id, ids.seq(n), err, seq)
			}
			seen[id] = true
			keys[id[17:]] = true
			inOrder = inOrder && id > prev
			prev = id
		}
		if len(seen) != 10_000 || len(keys) != 10_000 {
			t.Errorf("scatter %v: %d distinct ids and %d distinct last four digits in 10,000 events, want 10,000 each", scatter, len(seen), len(keys))
		}
		if inOrder == scatter {
			t.Errorf("scatter %v: ids in order: %v", scatter, inOrder)
		}
	}
	// The largest sequence number still round-trips (no overflow).
	ids := eventIDs{prefix: "p", scatter: true}
	if n := mulMod(idSpace-1, scatterMul); ids.seq(n) != idSpace-1 {
		t.Errorf("sequence number %d comes back as %d", int64(idSpace-1), ids.seq(n))
	}
}

func TestParseVmHWM(t *testing.T) {
	tests := []struct {
		status  string
		want    int64
		wantErr bool
	}{
		{"Name:\thookd\nVmPeak:\t  900000 kB\nVmHWM:\t   51234 kB\nVmRSS:\t 40000 kB\n", 51234 * 1024, false},
		{"Name:\thookd\n", 0, true},
		{"VmHWM:\t 12 MB\n", 0, true},
		{"VmHWM:\t x kB\n", 0, true},
	}
	for _, tc := range tests {
		got, err := parseVmHWM([]byte(tc.status))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parseVmHWM(%q) = %d, %v; want %d, error %v", tc.status, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestLineWriter(t *testing.T) {
	var lines []string
	w := &lineWriter{fn: func(s string) { lines = append(lines, s) }}
	for _, chunk := range []string{"one\ntw", "o\n", "", "three\nfour"} {
		if _, err := io.WriteString(w, chunk); err != nil {
			t.Fatal(err)
		}
	}
	if want := []string{"one", "two", "three"}; !slices.Equal(lines, want) {
		t.Errorf("lines %q, want %q (an unfinished line waits)", lines, want)
	}
}

func TestParseOptions(t *testing.T) {
	tests := []struct {
		args    []string
		wantErr string
		check   func(*options) bool
	}{
		{args: nil, check: func(o *options) bool {
			return slices.Equal(o.Scenarios, []string{scFloor, scDecode, scFull, scHalf, scFixed}) && o.RulesCount == 1000 && o.Count == 0
		}},
		{args: []string{"--smoke"}, check: func(o *options) bool { return o.Count == 200 && o.RulesCount == 100 && o.Warmup == 0 }},
		{args: []string{"--smoke", "--count", "50"}, check: func(o *options) bool { return o.Count == 50 }},
		{args: []string{"--reload-rules", "10000"}, check: func(o *options) bool { return slices.Contains(o.Scenarios, scReload) }},
		{args: []string{"--scenarios", "full,cluster,fixed,cluster-fixed"}, check: func(o *options) bool {
			return slices.Equal(o.Scenarios, []string{scFull, scCluster, scFixed, scClusterFixed})
		}},
		{args: []string{"--fire", "slack, webhook"}, check: func(o *options) bool { return slices.Equal(o.Fire, []string{fireSlack, fireWebhook}) }},
		{args: []string{"--scenarios", "half,full"}, wantErr: "full must come before it"},
		{args: []string{"--scenarios", "fast"}, wantErr: `unknown scenario "fast"`},
		{args: []string{"--scenarios", "reload"}, wantErr: "needs --reload-rules"},
		{args: []string{"--fire", "email"}, wantErr: `--fire "email"`},
		{args: []string{"--rules-count", "2"}, wantErr: "less than the 3 firing rules"},
		{args: []string{"--scenarios", "full,state"}, check: func(o *options) bool { return o.StateRules == 100 }},
		{args: []string{"--rules-count", "300", "--state-rules", "20"}, check: func(o *options) bool { return o.StateRules == 20 }},
		{args: []string{"--rules-count", "100", "--state-rules", "98"}, wantErr: "--state-rules 98: give 0 to 97"},
		{args: []string{"--sync", "off"}, wantErr: "use full or normal"},
		{args: nil, check: func(o *options) bool { return o.IDs == idsSequential }},
		{args: []string{"--ids", "scattered"}, check: func(o *options) bool { return o.IDs == idsScattered }},
		{args: []string{"--ids", "random"}, wantErr: `--ids "random": use sequential or scattered`},
		{args: []string{"extra"}, wantErr: `unexpected argument "extra"`},
		{args: nil, check: func(o *options) bool { return o.Rounds == 1 }},
		{args: []string{"--rounds", "5"}, check: func(o *options) bool { return o.Rounds == 5 }},
		{args: []string{"--rounds", "0"}, wantErr: "--rounds must be at least 1"},
		{args: []string{"--rounds", "2", "--cpuprofile", "cpu.prof"}, wantErr: "profile or trace one round only"},
		{args: []string{"--rounds", "2", "--scenarios", "state", "--state-cpuprofile", "cpu.prof"}, wantErr: "profile or trace one round only"},
		{args: []string{"--scenarios", "state", "--cpuprofile", "cpu.prof"}, wantErr: "--cpuprofile profiles the full scenario, which --scenarios leaves out: add full"},
		{args: []string{"--scenarios", "full", "--trace", "t.out"}, check: func(o *options) bool { return o.Trace == "t.out" }},
		{args: []string{"--scenarios", "full", "--state-cpuprofile", "cpu.prof"}, wantErr: "--state-cpuprofile profiles the state scenario"},
		{args: []string{"--scenarios", "floor,state", "--state-cpuprofile", "cpu.prof"}, check: func(o *options) bool { return o.StateProf == "cpu.prof" }},
		{args: []string{"--scenarios", "full", "--cluster-cpuprofile", "cpu.prof"}, wantErr: "--cluster-cpuprofile profiles the cluster scenario"},
	}
	for _, tc := range tests {
		o, err := parseOptions(tc.args, io.Discard)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%q: err = %v, want it to say %q", tc.args, err, tc.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("%q: %v", tc.args, err)
			continue
		}
		if !tc.check(o) {
			t.Errorf("%q: options %+v", tc.args, *o)
		}
	}
}

// TestClusterArgs checks that every node of a cluster gets its own
// folder, name and ports, and the same list of peers, its own included.
func TestClusterArgs(t *testing.T) {
	serve := []string{"serve", "--rules", "r.yaml"}
	argvs, err := clusterArgs(serve, "dir", clusterNodes)
	if err != nil {
		t.Fatal(err)
	}
	if len(argvs) != clusterNodes {
		t.Fatalf("%d nodes, want %d", len(argvs), clusterNodes)
	}
	flag := func(argv []string, name string) string {
		i := slices.Index(argv, name)
		if i < 0 || i+1 >= len(argv) {
			t.Fatalf("%q has no %s", argv, name)
		}
		return argv[i+1]
	}
	seen := map[string]bool{}
	peers := flag(argvs[0], "--cluster-peers")
	for i, argv := range argvs {
		if !slices.Equal(argv[:len(serve)], serve) {
			t.Errorf("node %d: %q does not start with serve's arguments", i, argv)
		}
		if got := flag(argv, "--cluster-peers"); got != peers {
			t.Errorf("node %d: peers %s, node 0's %s", i, got, peers)
		}
		if route := flag(argv, "--cluster-listen"); !slices.Contains(strings.Split(peers, ","), route) {
			t.Errorf("node %d: route address %s is not among the peers %s", i, route, peers)
		}
		for _, name := range []string{"--data", "--node", "--cluster-listen", "--nats-listen"} {
			v := flag(argv, name)
			if seen[v] {
				t.Errorf("node %d: %s %s is another node's too", i, name, v)
			}
			seen[v] = true
		}
	}
}

func TestFloorServer(t *testing.T) {
	remove, err := os.ReadFile(removeJSON)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		decode bool
		body   string
		want   int
	}{
		{false, string(remove), http.StatusOK},
		{false, "not json", http.StatusOK},
		{true, string(remove), http.StatusOK},
		{true, "not json", http.StatusBadRequest},
		{true, strings.Repeat(" ", floorMaxBody+1), http.StatusBadRequest},
	}
	for _, tc := range tests {
		srv := httptest.NewServer(newFloorServer(tc.decode, io.Discard).Handler)
		resp, err := http.Post(srv.URL+"/webhooks/wassenger", "application/json", strings.NewReader(tc.body))
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		srv.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("decode=%v, %d-byte body: status %d, want %d", tc.decode, len(tc.body), resp.StatusCode, tc.want)
		}
		if tc.want == http.StatusOK && !bytes.Equal(body, floorReply) {
			t.Errorf("decode=%v: answer %q, want hookd's shape %q", tc.decode, body, floorReply)
		}
	}
}

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		stat    string
		want    time.Duration
		wantErr bool
	}{
		{"4242 (hookd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 250 50 0 0 20 0 9 0 100 0 0", 3 * time.Second, false},
		{"4242 (a) b (c) R 1 4242 4242 0 -1 4194560 1234 0 0 0 7 3 0 0 20 0 9 0 100 0 0", 100 * time.Millisecond, false},
		{"4242 hookd S 1", 0, true},
		{"4242 (hookd) S 1 2 3", 0, true},
		{"4242 (hookd) S 1 4242 4242 0 -1 4194560 1234 0 0 0 x 50 0", 0, true},
	}
	for _, tc := range tests {
		got, err := parseStatCPU([]byte(tc.stat))
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parseStatCPU(%q) = %v, %v; want %v, error %v", tc.stat, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestParseMetric(t *testing.T) {
	text := []byte("# HELP hookd_store_commits_total Store transactions.\n# TYPE hookd_store_commits_total counter\nhookd_store_commits_total_x 9\nhookd_store_commits_total 1234\nhookd_events_total{event=\"group:update\"} 7\n")
	tests := []struct {
		name    string
		want    float64
		wantErr bool
	}{
		{"hookd_store_commits_total", 1234, false},
		{"hookd_events_total", 0, true},
		{"hookd_queue_depth", 0, true},
	}
	for _, tc := range tests {
		got, err := parseMetric(text, tc.name)
		if got != tc.want || (err != nil) != tc.wantErr {
			t.Errorf("parseMetric(%s) = %v, %v; want %v, error %v", tc.name, got, err, tc.want, tc.wantErr)
		}
	}
}

func TestRawConn(t *testing.T) {
	remove, err := os.ReadFile(removeJSON)
	if err != nil {
		t.Fatal(err)
	}
	pl, err := parsePayload(remove, 0)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var ids []string
	conns := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ev struct {
			ID string `json:"id"`
		}
		if r.URL.Query().Get("key") != "k" || r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&ev) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		mu.Lock()
		ids = append(ids, ev.ID)
		n := len(ids)
		mu.Unlock()
		if n == 2 {
			w.Header().Set("Connection", "close") // the next post must connect again
		}
		w.WriteHeader(http.StatusAccepted)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			conns++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()

	rc, err := newRawConn(t.Context(), srv.URL+"/webhooks/wassenger?key=k", pl)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.close()
	var want []string
	for seq := range int64(4) {
		id := eventIDs{prefix: "load0a1b2c"}.id(seq)
		want = append(want, id)
		if status := rc.post(id); status != http.StatusAccepted {
			t.Fatalf("post %d: status %d, want 202", seq, status)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(ids, want) {
		t.Errorf("server got ids %q, want %q", ids, want)
	}
	if conns != 2 {
		t.Errorf("%d connections for 4 posts with one Connection: close, want 2 (keep-alive, then a reconnect)", conns)
	}

	if _, err := newRawConn(t.Context(), "https://127.0.0.1:1/x", pl); err == nil {
		t.Error("an https target was accepted; the generator speaks plain HTTP on loopback")
	}
	dead, err := newRawConn(t.Context(), "http://127.0.0.1:1/x", pl)
	if err != nil {
		t.Fatal(err)
	}
	if status := dead.post(eventIDs{prefix: "load0a1b2c"}.id(9)); status != 0 {
		t.Errorf("post to a closed port: status %d, want 0 (transport error)", status)
	}
}

// TestGenerateRulesState: with State, that many rules remember, the
// rules file loads cleanly, and the recorded remove event makes exactly
// a window and a throttle step, keyed by the last four digits of its id.
func TestGenerateRulesState(t *testing.T) {
	p, err := readPayload(removeJSON, 0)
	if err != nil {
		t.Fatal(err)
	}
	src := generateRules(rulesSpec{Count: 1000, Fire: fireTypes, Event: p.Event, Action: p.Action, State: 100})
	rs, problems := engine.Load("load.yaml", []byte(src), engine.LoadOptions{LookupEnv: sinkEnv})
	if rs == nil || len(problems) > 0 {
		t.Fatalf("generated rules do not load cleanly: %v", problems)
	}
	remembering := 0
	for _, r := range rs.Rules {
		if r.Window != nil || r.Throttle != nil {
			remembering++
		}
	}
	if remembering != 100 {
		t.Errorf("%d rules remember, want 100", remembering)
	}
	evs, err := event.Parse(p.with(eventIDs{prefix: "load0a1b2c"}.id(12345)))
	if err != nil {
		t.Fatal(err)
	}
	res := rs.EvaluateAt(evs[0], time.Now())
	var kinds []string
	for _, st := range res.Steps {
		if st.Key != "2345" {
			t.Errorf("%s: key %q, want the id's last four digits 2345", st.Rule.Name, st.Key)
		}
		switch {
		case st.Rule.Window != nil:
			kinds = append(kinds, "window")
		case st.Rule.Throttle != nil:
			kinds = append(kinds, "throttle")
		}
	}
	if !slices.Equal(kinds, []string{"window", "throttle"}) {
		t.Errorf("steps of the remove event: %v, want a window and a throttle", kinds)
	}
}

// TestRoundRatios: within a round each result's ratio is to the floor,
// and the state scenario's rate is over the hookd scenario's whichever
// ran first; without a floor or a hookd scenario, there is no ratio.
func TestRoundRatios(t *testing.T) {
	res := func(kind string, rate float64) Result { return Result{kind: kind, Scenario: kind, EventsPerSec: rate} }
	for _, tc := range []struct {
		name      string
		in        []Result
		floor     float64
		ratios    []float64
		overHookd float64
	}{
		{"hookd first", []Result{res(scFloor, 200), res(scFull, 60), res(scState, 48)}, 200, []float64{1, 0.3, 0.24}, 0.8},
		{"state first", []Result{res(scFloor, 200), res(scState, 48), res(scFull, 60)}, 200, []float64{1, 0.24, 0.3}, 0.8},
		{"no hookd", []Result{res(scFloor, 200), res(scState, 48)}, 200, []float64{1, 0.24}, 0},
		{"no floor", []Result{res(scFull, 60), res(scState, 48)}, 0, []float64{0, 0}, 0.8},
	} {
		floor := roundRatios(tc.in)
		var ratios []float64
		over := 0.0
		for _, r := range tc.in {
			ratios = append(ratios, r.Ratio)
			if r.kind == scState {
				over = r.OverHookd
			}
		}
		if floor != tc.floor || !slices.Equal(ratios, tc.ratios) || over != tc.overHookd {
			t.Errorf("%s: floor %v, ratios %v, state over hookd %v; want %v, %v, %v", tc.name, floor, ratios, over, tc.floor, tc.ratios, tc.overHookd)
		}
	}
}

func TestMedians(t *testing.T) {
	res := func(round int, scenario string, rate, ratio, over float64) Result {
		r := Result{Scenario: scenario, Round: round, EventsPerSec: rate, Ratio: ratio, OverHookd: over}
		r.Reply.P99 = float64(round)
		r.CPU.ServerPerEvent = 10 * float64(round)
		return r
	}
	results := []Result{
		res(1, "floor", 100, 1, 0), res(1, "hookd", 30, 0.30, 0), res(1, "state", 24, 0.24, 0.80),
		res(2, "floor", 200, 1, 0), res(2, "hookd", 70, 0.35, 0), res(2, "state", 63, 0.315, 0.90),
		res(3, "floor", 150, 1, 0), res(3, "hookd", 48, 0.32, 0), res(3, "state", 36, 0.24, 0.75),
	}
	want := []Median{
		{Scenario: "floor", Rounds: 3, EventsPerSec: 150, Ratio: 1, RatioMin: 1, RatioMax: 1, ReplyP99: 2, CPUPerEvent: 20},
		{Scenario: "hookd", Rounds: 3, EventsPerSec: 48, Ratio: 0.32, RatioMin: 0.30, RatioMax: 0.35, ReplyP99: 2, CPUPerEvent: 20},
		{Scenario: "state", Rounds: 3, EventsPerSec: 36, Ratio: 0.24, RatioMin: 0.24, RatioMax: 0.315, OverHookd: 0.80, ReplyP99: 2, CPUPerEvent: 20},
	}
	if got := medians(results); !slices.Equal(got, want) {
		t.Errorf("medians:\n got %+v\nwant %+v", got, want)
	}
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
