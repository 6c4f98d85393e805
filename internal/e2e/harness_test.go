package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/hookd/hookd/engine"
	"github.com/hookd/hookd/event"
	"github.com/hookd/hookd/internal/cluster"
	"github.com/hookd/hookd/internal/natstest"
	"github.com/hookd/hookd/internal/standin"
	"github.com/hookd/hookd/internal/testbackend"
	"github.com/hookd/hookd/store"
	"github.com/hookd/hookd/store/sqlite"
)

// Sentinel secrets: they must never appear in hookd's output.
const (
	webhookKey = "e2e-webhook-key-SENTINEL-4b1d0e"
	adminKey   = "e2e-admin-key-SENTINEL-71c3a9"
	apiToken   = "e2e-api-token-SENTINEL-9c2e77"
)

// patience bounds every wait on a condition; tests normally meet their
// conditions in milliseconds, so it only matters when one fails.
const patience = 30 * time.Second

// sender is the phone number of every test event.
const sender = "+34600000001"

// httpClient talks to hookd. Keep-alives are off so that no pooled
// connection outlives the process it was made to.
var httpClient = &http.Client{
	Timeout:   45 * time.Second, // above the store's busy timeout
	Transport: &http.Transport{DisableKeepAlives: true},
}

// e2eNode is hookd's node name on the jetstream backend; every restart
// keeps it, so that hookd delivers the jobs it stored before.
const e2eNode = "e2e"

// world is one test's set-up: a folder with a rules file, a data folder,
// a Wassenger stand-in, and on the jetstream backend a NATS server.
// Every hookd process of the test runs in it, on the same store.
type world struct {
	t       *testing.T
	dir     string
	rules   string
	data    string
	ws      *standin.Wassenger
	backend string
	nats    *natstest.Cluster // nil on sqlite
}

// newWorld is newWorldOn the SQLite backend.
func newWorld(t *testing.T, rulesFile string) *world {
	t.Helper()
	return newWorldOn(t, testbackend.SQLite, rulesFile)
}

// newWorldOn copies testdata/rulesFile into a fresh folder and starts a
// Wassenger stand-in and, for testbackend.JetStream, a NATS server in
// the test process, which hookd reaches with --nats: kill -9 of hookd
// leaves it running, as it leaves a cluster of NATS servers of one's
// own. It skips the test when the binary was not built.
func newWorldOn(t *testing.T, backend, rulesFile string) *world {
	t.Helper()
	if hookdBin == "" {
		t.Skip(skipReason)
	}
	dir := t.TempDir()
	ws := standin.NewWassenger(apiToken)
	t.Cleanup(ws.Close)
	w := &world{t: t, dir: dir, rules: filepath.Join(dir, "rules.yaml"), data: filepath.Join(dir, "data"), ws: ws, backend: backend}
	switch backend {
	case testbackend.SQLite:
	case testbackend.JetStream:
		w.nats = natstest.StartCluster(t, 1)
	default:
		t.Fatalf("unknown store backend %q", backend)
	}
	copyFile(t, filepath.Join("testdata", rulesFile), w.rules)
	return w
}

// env is the whole environment of a hookd process of w: nothing of the
// test process's environment leaks in.
func (w *world) env() []string {
	return []string{
		"HOOKD_WEBHOOK_KEY=" + webhookKey,
		"HOOKD_ADMIN_KEY=" + adminKey,
		"WASSENGER_TOKEN=" + apiToken,
		"WASSENGER_BASE_URL=" + w.ws.BaseURL(),
		"TMPDIR=" + w.dir,
	}
}

// start runs `hookd serve` on w's rules and data folder with a free
// loopback port and JSON logs, plus extra flags, and waits until it
// listens.
func (w *world) start(extra ...string) *proc {
	w.t.Helper()
	args := []string{"serve", "--rules", w.rules, "--data", w.data, "--listen", "127.0.0.1:0", "--log-format", "json"}
	if w.backend == testbackend.JetStream {
		args = append(args, "--nats", w.nats.URL(), "--node", e2eNode, "--replicas", "1")
	}
	args = append(args, extra...)
	p := run(w.t, w.dir, w.env(), args...)
	p.waitListening()
	return p
}

// proc is one hookd child process.
type proc struct {
	t *testing.T
	// Addr is the address it listens on (set by waitListening).
	Addr string
	// Logs collects its stdout and stderr.
	Logs  *logs
	cmd   *exec.Cmd
	done  chan struct{}
	state *os.ProcessState // set before done is closed
}

// run starts hookd with args in dir and env. A cleanup kills it if it is
// still running, prints its output when the test failed, and checks that
// no secret appears in that output.
func run(t *testing.T, dir string, env []string, args ...string) *proc {
	t.Helper()
	if hookdBin == "" {
		t.Skip(skipReason)
	}
	l := newLogs()
	cmd := exec.Command(hookdBin, args...)
	cmd.Dir, cmd.Env = dir, env
	cmd.Stdout, cmd.Stderr = l, l
	if err := cmd.Start(); err != nil {
		t.Fatalf("start hookd: %v", err)
	}
	p := &proc{t: t, Logs: l, cmd: cmd, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait() // the exit status is read from ProcessState
		p.state = cmd.ProcessState
		close(p.done)
	}()
	t.Cleanup(func() {
		if !p.exited() {
			_ = cmd.Process.Kill()
			<-p.done
		}
		out := l.text()
		if t.Failed() {
			t.Logf("output of hookd %s (pid %d):\n%s", strings.Join(args, " "), cmd.Process.Pid, out)
		}
		for _, s := range []string{webhookKey, adminKey, apiToken} {
			if strings.Contains(out, s) {
				t.Errorf("hookd's output holds a secret (sentinel %q); secrets must never be logged", s)
			}
		}
	})
	return p
}

func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// waitListening waits for the "hookd listening" log line and sets Addr.
func (p *proc) waitListening() {
	p.t.Helper()
	var addr string
	p.waitLog("the log line \"hookd listening\"", func(es []entry) bool {
		for _, e := range es {
			if e.Msg == "hookd listening" {
				addr, _ = e.Fields["addr"].(string)
				return true
			}
		}
		return false
	})
	if addr == "" {
		p.t.Fatal("\"hookd listening\" log line has no addr")
	}
	p.Addr = addr
}

// waitLog waits until cond holds for the log entries so far. It fails
// the test at the deadline, or as soon as the process has exited without
// cond holding.
func (p *proc) waitLog(what string, cond func([]entry) bool) {
	p.t.Helper()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for {
		es, changed := p.Logs.snapshot()
		if cond(es) {
			return
		}
		select {
		case <-changed:
		case <-p.done:
			// Output is complete once the process is waited for.
			if es, _ := p.Logs.snapshot(); cond(es) {
				return
			}
			p.t.Fatalf("hookd exited (%v) before %s", p.state, what)
		case <-deadline.C:
			p.t.Fatalf("no %s within %v", what, patience)
		}
	}
}

// signal sends sig to the process.
func (p *proc) signal(sig os.Signal) {
	p.t.Helper()
	if err := p.cmd.Process.Signal(sig); err != nil {
		p.t.Fatalf("send %v to hookd: %v", sig, err)
	}
}

// Kill9 kills the process with SIGKILL and waits until it is gone.
func (p *proc) Kill9() {
	p.t.Helper()
	p.signal(syscall.SIGKILL)
	p.wait(patience)
	ws, ok := p.state.Sys().(syscall.WaitStatus)
	if !ok || !ws.Signaled() || ws.Signal() != syscall.SIGKILL {
		p.t.Fatalf("hookd ended with %v, want killed by SIGKILL", p.state)
	}
}

// Term sends SIGTERM; Wait then gives the exit code.
func (p *proc) Term() { p.t.Helper(); p.signal(syscall.SIGTERM) }

// Hup sends SIGHUP.
func (p *proc) Hup() { p.t.Helper(); p.signal(syscall.SIGHUP) }

// Wait waits up to within for the process to exit and returns its exit
// code (-1 when a signal ended it).
func (p *proc) Wait(within time.Duration) int {
	p.t.Helper()
	p.wait(within)
	return p.state.ExitCode()
}

func (p *proc) wait(within time.Duration) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(within):
		p.t.Fatalf("hookd still running %v after being asked to stop", within)
	}
}

// stop sends SIGTERM and requires a clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.Term()
	if code := p.Wait(patience); code != 0 {
		p.t.Fatalf("hookd exited with %d after SIGTERM, want 0", code)
	}
}

// health is the part of GET /healthz the tests read.
type health struct {
	Status      string `json:"status"`
	PendingJobs int64  `json:"pending_jobs"`
	DeadLetters int64  `json:"dead_letters"`
	Queued      int    `json:"queued"`
}

// health reads GET /healthz.
func (p *proc) health() health {
	p.t.Helper()
	var h health
	a := p.get("/healthz")
	if a.Status != http.StatusOK {
		p.t.Fatalf("GET /healthz: %d %s", a.Status, a.Body)
	}
	a.decode(p.t, &h)
	return h
}

// waitIdle waits until no job is pending in the store or queued in
// memory: every action has been delivered (or dead-lettered), so what the
// stand-ins received is final.
func (p *proc) waitIdle() health {
	p.t.Helper()
	var h health
	poll(p.t, "no pending or queued jobs (GET /healthz)", func() bool {
		h = p.health()
		return h.PendingJobs == 0 && h.Queued == 0
	})
	return h
}

// get sends GET path with the admin key (the admin API does not take
// the webhook key).
func (p *proc) get(path string) answer {
	p.t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+p.Addr+path, nil)
	if err != nil {
		p.t.Fatal(err)
	}
	req.Header.Set("X-Hookd-Admin-Key", adminKey)
	a, err := do(req)
	if err != nil {
		p.t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

// rulesStatus is the part of GET /api/rules the tests read.
type rulesStatus struct {
	Version   string   `json:"version"`
	Names     []string `json:"names"`
	LastError string   `json:"last_error"`
}

func (p *proc) rulesStatus() rulesStatus {
	p.t.Helper()
	a := p.get("/api/rules")
	if a.Status != http.StatusOK {
		p.t.Fatalf("GET /api/rules: %d %s", a.Status, a.Body)
	}
	var rs rulesStatus
	a.decode(p.t, &rs)
	return rs
}

// eventIDs lists the ids of the stored events, newest first (GET
// /api/events).
func (p *proc) eventIDs() []string {
	p.t.Helper()
	a := p.get("/api/events?limit=1000")
	if a.Status != http.StatusOK {
		p.t.Fatalf("GET /api/events: %d %s", a.Status, a.Body)
	}
	var out struct {
		Events []struct {
			ID string `json:"id"`
		} `json:"events"`
	}
	a.decode(p.t, &out)
	ids := make([]string, len(out.Events))
	for i, e := range out.Events {
		ids[i] = e.ID
	}
	return ids
}

// answer is an HTTP reply.
type answer struct {
	Status int
	Header http.Header
	Body   []byte
}

func (a answer) decode(t *testing.T, v any) {
	t.Helper()
	if err := json.Unmarshal(a.Body, v); err != nil {
		t.Fatalf("reply %d is not the JSON expected: %v: %s", a.Status, err, a.Body)
	}
}

// accepted is the body of a 200 from the webhook endpoint.
type accepted struct {
	Accepted   int `json:"accepted"`
	Duplicates int `json:"duplicates"`
}

func do(req *http.Request) (answer, error) {
	resp, err := httpClient.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return answer{}, err
	}
	return answer{Status: resp.StatusCode, Header: resp.Header, Body: body}, nil
}

// tryPost posts body to hookd's webhook endpoint at addr with key; it is
// safe to call from any goroutine.
func tryPost(addr, key string, body []byte) (answer, error) {
	req, err := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/wassenger", bytes.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hookd-Key", key)
	return do(req)
}

// post posts body to hookd's webhook endpoint at addr with key.
func post(t *testing.T, addr, key string, body []byte) answer {
	t.Helper()
	a, err := tryPost(addr, key, body)
	if err != nil {
		t.Fatalf("POST /webhooks/wassenger: %v", err)
	}
	return a
}

// mustAccept posts the event id and requires it to be accepted as new
// (dup false) or as a duplicate (dup true).
func mustAccept(t *testing.T, addr, id string, dup bool) {
	t.Helper()
	a := post(t, addr, webhookKey, message(id))
	if a.Status != http.StatusOK {
		t.Fatalf("POST event %s: %d %s, want 200", id, a.Status, a.Body)
	}
	var got accepted
	a.decode(t, &got)
	want := accepted{Accepted: 1}
	if dup {
		want = accepted{Duplicates: 1}
	}
	if got != want {
		t.Fatalf("POST event %s: answer %+v, want %+v", id, got, want)
	}
}

// postAll posts one event per id, a few at a time, and requires each to
// be accepted as new.
func postAll(t *testing.T, addr string, ids []string) {
	t.Helper()
	const senders = 8
	work := make(chan string)
	errs := make(chan error, len(ids))
	var wg sync.WaitGroup
	for range senders {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range work {
				a, err := tryPost(addr, webhookKey, message(id))
				switch {
				case err != nil:
					errs <- fmt.Errorf("event %s: %w", id, err)
				case a.Status != http.StatusOK || !bytes.Contains(a.Body, []byte(`"accepted":1`)):
					errs <- fmt.Errorf("event %s: %d %s, want 200 with accepted 1", id, a.Status, a.Body)
				}
			}
		}()
	}
	for _, id := range ids {
		work <- id
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if t.Failed() {
		t.FailNow()
	}
}

// message is a message:in:new event with id; the echo rule answers it.
func message(id string) []byte {
	b, err := json.Marshal(map[string]any{
		"id": id, "object": "message", "event": "message:in:new", "created": 1721661487,
		"device": map[string]any{"id": "61b37a069cba0c15d6c89757", "phone": "+4412345678"},
		"data": map[string]any{
			"id": id, "type": "text", "flow": "inbound", "fromNumber": sender,
			"from": "34600000001@c.us", "body": "hello " + id,
		},
	})
	if err != nil {
		panic(err) // a literal map of strings always encodes
	}
	return b
}

// ref is the reference (idempotency key) of rule's first action on the
// message:in:new event id (see message).
func ref(id, rule string) string { return refOf(message(id), rule) }

// refOf is the reference of rule's first action on the event body, from
// the event's identity key.
func refOf(body []byte, rule string) string {
	evs, err := event.Parse(body)
	if err != nil || len(evs) != 1 {
		panic(fmt.Sprintf("refOf: not one event: %v", err)) // the tests' own events
	}
	return engine.Reference(evs[0].Key, rule, 0)
}

// reference returns the reference field of a request's JSON body.
func reference(r standin.Request) string {
	var body struct {
		Reference string `json:"reference"`
	}
	_ = json.Unmarshal(r.Body, &body)
	return body.Reference
}

// sentRefs counts requests per reference, answered or not.
func sentRefs(reqs []standin.Request) map[string]int {
	out := map[string]int{}
	for _, r := range reqs {
		out[reference(r)]++
	}
	return out
}

// waitStandin waits until cond holds for the requests the stand-in got.
func waitStandin(t *testing.T, s *standin.Wassenger, what string, cond func([]standin.Request) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), patience)
	defer cancel()
	if err := s.WaitFor(ctx, cond); err != nil {
		t.Fatalf("Wassenger stand-in: waiting for %s: %v", what, err)
	}
}

// poll checks cond every few milliseconds until it holds, failing the
// test at the deadline.
func poll(t *testing.T, what string, cond func() bool) {
	t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	deadline := time.NewTimer(patience)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			t.Fatalf("gave up waiting for %s after %v", what, patience)
		}
	}
}

// openStore opens w's store as a hookd command does: the SQLite file of
// the data folder, or the cluster's stream with no node name (its read
// model in a folder of its own). The caller closes it.
func (w *world) openStore(t *testing.T) store.Store {
	t.Helper()
	var (
		st  store.Store
		err error
	)
	quiet := slog.New(slog.DiscardHandler)
	if w.backend == testbackend.JetStream {
		st, err = cluster.Open(context.Background(), cluster.Config{NATS: w.nats.URL(), Command: true, DataDir: t.TempDir(), Logger: quiet})
	} else {
		st, err = sqlite.Open(w.data, sqlite.Options{Logger: quiet})
	}
	if err != nil {
		t.Fatalf("open the store: %v", err)
	}
	return st
}

// storeStats opens w's store, as any hookd command does, and counts what
// it holds. Call it only while no hookd runs on w.
func (w *world) storeStats(t *testing.T) store.Stats {
	t.Helper()
	st := w.openStore(t)
	defer func() {
		if err := st.Close(); err != nil {
			t.Errorf("close the store: %v", err)
		}
	}()
	stats, err := st.Stats(context.Background())
	if err != nil {
		t.Fatalf("store stats: %v", err)
	}
	return stats
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// entry is one line of hookd's output: a JSON log record, or plain text
// (Fields nil) such as the final error of a failed start.
type entry struct {
	Raw    string
	Msg    string
	Fields map[string]any
}

// logs collects a process's output line by line; it is an io.Writer for
// exec.Cmd and lets tests wait for lines.
type logs struct {
	mu      sync.Mutex
	all     []byte
	partial []byte
	entries []entry
	changed chan struct{} // closed and replaced on every new line
}

func newLogs() *logs { return &logs{changed: make(chan struct{})} }

func (l *logs) Write(b []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, b...)
	l.partial = append(l.partial, b...)
	added := false
	for {
		i := bytes.IndexByte(l.partial, '\n')
		if i < 0 {
			break
		}
		l.entries = append(l.entries, parseEntry(string(l.partial[:i])))
		l.partial = l.partial[i+1:]
		added = true
	}
	if added {
		close(l.changed)
		l.changed = make(chan struct{})
	}
	return len(b), nil
}

func parseEntry(line string) entry {
	e := entry{Raw: line}
	var fields map[string]any
	if err := json.Unmarshal([]byte(line), &fields); err == nil {
		e.Fields = fields
		e.Msg, _ = fields["msg"].(string)
	}
	return e
}

// snapshot returns the complete lines so far and a channel closed at the
// next one.
func (l *logs) snapshot() ([]entry, <-chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]entry(nil), l.entries...), l.changed
}

// text is everything written so far.
func (l *logs) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return string(l.all)
}

// withMsg returns the JSON log records whose message is msg.
func (l *logs) withMsg(msg string) []entry {
	es, _ := l.snapshot()
	var out []entry
	for _, e := range es {
		if e.Msg == msg {
			out = append(out, e)
		}
	}
	return out
}

// count returns how many log records have the message msg.
func (l *logs) count(msg string) int { return len(l.withMsg(msg)) }

// countMsg is a waitLog condition: at least n records with message msg.
func countMsg(msg string, n int) func([]entry) bool {
	return func(es []entry) bool {
		c := 0
		for _, e := range es {
			if strings.HasPrefix(e.Msg, msg) {
				c++
			}
		}
		return c >= n
	}
}
